//! Field registers: a field's writes, which of them are heads, and what
//! the field shows (merged, needs review).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::*;

/// Key of a field register.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegisterKey {
    /// Form id.
    pub form: String,
    /// List item, for repeating forms.
    pub item: Option<Uuid>,
    /// Field machine name.
    pub field: String,
}

/// One write to a register.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    /// The event that wrote it.
    pub event: Uuid,
    /// Canonical order key of that event.
    pub key: OrderKey,
    /// The value written.
    pub value: Value,
    /// Who wrote it.
    pub author: String,
}

/// A multi-value register: all writes and the ids named in their bases.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Register {
    /// Every write, by event id.
    pub writes: Writes,
    /// Every event id named in the base of a write to this register.
    pub superseded: Superseded,
}

/// The writes of one register by event id: a map with the read API of a
/// `BTreeMap<Uuid, Write>`, kept as one vector sorted by id. Almost every
/// register has one write, and a folded office import holds hundreds of
/// thousands of registers: a B-tree allocates a node of eleven slots for
/// its first entry (about 1.5 KB here), which made the fold of a large
/// import spend most of its time faulting in fresh memory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Writes(Vec<Write>);

impl Writes {
    /// Insert or replace the write of `event` (returns the one replaced).
    pub fn insert(&mut self, event: Uuid, write: Write) -> Option<Write> {
        debug_assert_eq!(event, write.event, "a write is keyed by its own event");
        match self.0.binary_search_by(|w| w.event.cmp(&event)) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i], write)),
            Err(i) => {
                // Most registers keep their one write: no spare slots for
                // the first (later ones grow the vector as usual).
                if self.0.is_empty() {
                    self.0.reserve_exact(1);
                }
                self.0.insert(i, write);
                None
            }
        }
    }

    /// The write of `event`.
    pub fn get(&self, event: &Uuid) -> Option<&Write> {
        self.0.binary_search_by(|w| w.event.cmp(event)).ok().map(|i| &self.0[i])
    }

    /// Whether `event` wrote to this register.
    pub fn contains_key(&self, event: &Uuid) -> bool {
        self.get(event).is_some()
    }

    /// Event ids, ascending.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Uuid> + ExactSizeIterator + '_ {
        self.0.iter().map(|w| &w.event)
    }

    /// Writes, by ascending event id.
    pub fn values(&self) -> std::slice::Iter<'_, Write> {
        self.0.iter()
    }

    /// (event id, write) pairs, by ascending event id.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Uuid, &Write)> + ExactSizeIterator + '_ {
        self.0.iter().map(|w| (&w.event, w))
    }

    /// Number of writes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No write yet.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The event ids named in the bases of a register's writes: a set with the
/// read API of a `BTreeSet<Uuid>`, kept as one sorted vector (for the same
/// reason as [`Writes`]: most registers have one or two such ids).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Superseded(Vec<Uuid>);

impl Superseded {
    /// Add `id`; false when it was there already.
    pub fn insert(&mut self, id: Uuid) -> bool {
        match self.0.binary_search(&id) {
            Ok(_) => false,
            Err(i) => {
                if self.0.is_empty() {
                    self.0.reserve_exact(1);
                }
                self.0.insert(i, id);
                true
            }
        }
    }

    /// Whether `id` is in the set.
    pub fn contains(&self, id: &Uuid) -> bool {
        self.0.binary_search(id).is_ok()
    }

    /// The ids, ascending.
    pub fn iter(&self) -> std::slice::Iter<'_, Uuid> {
        self.0.iter()
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No id.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Extend<Uuid> for Superseded {
    fn extend<I: IntoIterator<Item = Uuid>>(&mut self, ids: I) {
        for id in ids {
            self.insert(id);
        }
    }
}

/// How a field's shown value was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldStatus {
    /// One head: no conflict.
    Ok,
    /// Several heads of a normal/sensitive field: the newest is shown.
    MergedAutomatically,
    /// Several heads of a protected field: nothing is shown until resolved.
    NeedsReview,
}

impl FieldStatus {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldStatus::Ok => "ok",
            FieldStatus::MergedAutomatically => "merged_automatically",
            FieldStatus::NeedsReview => "needs_review",
        }
    }
    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<FieldStatus> {
        Some(match s {
            "ok" => FieldStatus::Ok,
            "merged_automatically" => FieldStatus::MergedAutomatically,
            "needs_review" => FieldStatus::NeedsReview,
            _ => return None,
        })
    }
}

impl Register {
    /// The heads, oldest first. If a (forged) cycle of bases left no head,
    /// every write counts as a head so nothing is silently lost.
    pub fn heads(&self) -> Vec<&Write> {
        let mut heads: Vec<&Write> = self.writes.values().filter(|w| !self.superseded.contains(&w.event)).collect();
        if heads.is_empty() {
            heads = self.writes.values().collect();
        }
        heads.sort_by_key(|w| w.key);
        heads
    }

    /// The newest head (the value rules and lists use, conflict or not).
    pub fn newest(&self) -> Option<&Write> {
        self.heads().into_iter().last()
    }

    /// The shown value and its status. Protected fields with several heads
    /// show nothing.
    pub fn resolve(&self, protected: bool) -> (Option<&Write>, FieldStatus) {
        let heads = self.heads();
        match heads.len() {
            0 | 1 => (heads.first().copied(), FieldStatus::Ok),
            _ if protected => (None, FieldStatus::NeedsReview),
            _ => (heads.last().copied(), FieldStatus::MergedAutomatically),
        }
    }
}
