//! [`CaseStore`]: the typed case API the CLI and the desktop app call.
//!
//! It wraps the encrypted [`Vault`] with the model's [`ModelApplier`]: every
//! change becomes one or more signed [`Event`]s, checked (form definition,
//! role, lifecycle rules) before they are created, and committed as one vault
//! journal frame. Foreign events come in through [`CaseStore::import_events`],
//! which verifies signatures and device sequence numbers and checks the same
//! rules before committing them all-or-nothing.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use ed25519_dalek::VerifyingKey;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::model::audit::{self, AuditEntry};
use crate::model::case_person::CasePerson;
use crate::model::erasure;
use crate::model::event::{new_v7, parse_verifying_key, Event, EventKind, Hlc, Role};
use crate::model::forms;
use crate::model::hlc::HlcClock;
use crate::model::lifecycle::{self, CaseFacts, RuleViolation, Stage};
use crate::model::projection::{self, CaseState, FieldStatus};
use crate::model::refusal::Refusal;
use crate::model::roles;
use crate::model::tasks::{self, Task};
use crate::model::visibility::{self, count_hidden, CaseAccess, HiddenCount, HiddenReason, Reader, Team, Teams};
use crate::vault::{Applier, ApplyError, InitOptions, SecretString, Vault, VaultOptions};

pub use crate::model::error::StoreError;

/// Whether (form, field) is a protected field in the form definitions
/// (unknown forms and fields count as protected: nothing unknown is merged
/// silently).
pub fn is_protected(form: &str, field: &str) -> bool {
    forms::is_protected(form, field)
}

/// The case model's [`Applier`]: journal entries are signed events (and
/// device registrations); applying them inserts new events and rebuilds the
/// projection of the cases they touch. Signatures are verified before
/// commit by [`CaseStore`], not here: the journal is authenticated by the
/// vault's own encryption, and re-verifying every event at each unlock would
/// make unlock time grow with the number of events.
#[derive(Debug, Default, Clone, Copy)]
pub struct ModelApplier;

impl Applier for ModelApplier {
    fn migrate(&self, conn: &rusqlite::Connection) -> rusqlite::Result<()> {
        projection::migrate(conn)
    }

    fn upgrade(&self, conn: &rusqlite::Connection) -> rusqlite::Result<()> {
        projection::upgrade(conn)
    }

    fn apply(&self, tx: &rusqlite::Transaction<'_>, entries: &[Value]) -> Result<(), ApplyError> {
        // Nothing prepared: `apply_prepared` parses the entries itself.
        self.apply_prepared(tx, entries, Box::new(()))
    }

    fn prepare(&self, entries: &[Value]) -> crate::vault::Prepared {
        Box::new(projection::prepare_entries(entries))
    }

    fn apply_prepared(
        &self,
        tx: &rusqlite::Transaction<'_>,
        entries: &[Value],
        prepared: crate::vault::Prepared,
    ) -> Result<(), ApplyError> {
        // A commit uses a few dozen distinct statements (projection, audit,
        // search index); rusqlite's default cache of 16 made them evict each
        // other, so most `prepare_cached` calls compiled their SQL again.
        // Set here because the vault opens the connection (also at replay).
        tx.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        match prepared.downcast::<projection::PreparedEntries>() {
            Ok(prepared) => projection::apply_prepared_entries(tx, entries, *prepared, is_protected),
            // A single commit or the journal replay: nothing was prepared.
            Err(_) => projection::apply_entries(tx, entries, is_protected),
        }
        .map(|_| ())
        .map_err(|e| ApplyError(e.to_string()))
    }
}

/// Prepared statements kept per connection (see [`ModelApplier`]'s `apply_prepared`).
const STATEMENT_CACHE: usize = 256;

/// One row of the case list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseSummary {
    /// Case id.
    pub id: Uuid,
    /// Human case number.
    pub case_number: String,
    /// Case type.
    pub case_type: String,
    /// Office.
    pub office: String,
    /// Current stage (wire name).
    pub stage: String,
    /// Stage to return to from a side state.
    pub stage_before: Option<String>,
    /// Assigned caseworker.
    pub caseworker: Option<String>,
    /// Risk level (None when unset or under review).
    pub risk_level: Option<String>,
    /// Given names.
    pub given_names: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Sex.
    pub sex: Option<String>,
    /// Age in years.
    pub age_years: Option<f64>,
    /// Date of birth.
    pub date_of_birth: Option<String>,
    /// A protected field has a conflict that needs a person.
    pub needs_review: bool,
    /// Number of fields with several heads.
    pub conflicts: u32,
    /// Newest event.
    pub updated: Hlc,
    /// Why the person columns (names, date of birth, sex, age, risk level;
    /// for a viewer also the caseworker) are empty, when they are withheld
    /// from the reader (docs/visibility.md).
    #[serde(default)]
    pub hidden: Option<HiddenReason>,
}

/// The case list as the reader may see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseList {
    /// The cases the reader may see, by case number.
    pub cases: Vec<CaseSummary>,
    /// Cases left out, counted by reason.
    pub hidden: Vec<HiddenCount>,
}

/// A case's audit trail as the reader may see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseHistory {
    /// Entries, oldest first.
    pub entries: Vec<AuditEntry>,
    /// Entries left out (those of restricted notes), counted by reason.
    pub hidden: Vec<HiddenCount>,
}

/// Tasks as the reader may see them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskList {
    /// Tasks of the cases the reader may see.
    pub tasks: Vec<Task>,
    /// Tasks of other cases, counted by reason.
    pub hidden: Vec<HiddenCount>,
}

/// One head of a field register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadView {
    /// The event that wrote it.
    pub event: Uuid,
    /// The value.
    pub value: Value,
    /// When.
    pub hlc: Hlc,
    /// Device.
    pub device_id: Uuid,
    /// Who.
    pub author: String,
}

/// A field's shown value with its status and heads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldView {
    /// Form.
    pub form: String,
    /// List item, for repeating forms.
    pub item: Option<Uuid>,
    /// Field name.
    pub field: String,
    /// Shown value (None for a protected field that needs review).
    pub value: Option<Value>,
    /// ok / merged_automatically / needs_review.
    pub status: FieldStatus,
    /// All heads, oldest first (one unless in conflict); empty when the
    /// value is hidden.
    pub heads: Vec<HeadView>,
    /// Why the value (and its heads) are withheld from the reader.
    #[serde(default)]
    pub hidden: Option<HiddenReason>,
}

/// A list item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemView {
    /// Form.
    pub form: String,
    /// Item id.
    pub item: Uuid,
    /// Kind of the creating event.
    pub kind: String,
    /// When it was created.
    pub created: Hlc,
    /// By whom.
    pub author: String,
}

/// A stage change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageView {
    /// From.
    pub from: Option<String>,
    /// To.
    pub to: String,
    /// Reason.
    pub reason: String,
    /// When.
    pub hlc: Hlc,
    /// Who.
    pub author: String,
    /// Role.
    pub role: String,
}

/// Everything about one case.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseDetail {
    /// Summary row.
    pub summary: CaseSummary,
    /// Every field, by (form, item, field).
    pub fields: Vec<FieldView>,
    /// List items.
    pub items: Vec<ItemView>,
    /// Stage history.
    pub stage_history: Vec<StageView>,
    /// Tasks due for this case.
    pub tasks: Vec<Task>,
    /// List items left out with their fields (restricted notes), counted
    /// by reason.
    #[serde(default)]
    pub hidden: Vec<HiddenCount>,
}

/// One of the concurrent stage changes of a stage conflict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageHeadView {
    /// The stage change (pass it to [`CaseStore::resolve_stage_conflict`]).
    pub event: Uuid,
    /// The stage its author moved from.
    pub from: Option<String>,
    /// The stage it moved to.
    pub to: String,
    /// Reason given.
    pub reason: String,
    /// When.
    pub hlc: Hlc,
    /// Device.
    pub device_id: Uuid,
    /// Who.
    pub author: String,
    /// Role.
    pub role: String,
}

/// A case whose stage has concurrent changes no one has chosen between.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageConflict {
    /// The stage the case is in meanwhile: the last one every concurrent
    /// change was made from (none of them is applied).
    pub stage: String,
    /// The concurrent changes, oldest first.
    pub heads: Vec<StageHeadView>,
    /// The roles that may choose ([`roles::may_resolve`]).
    pub resolvers: Vec<Role>,
}

/// One entry of [`CaseStore::conflict_queue`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedConflict {
    /// The case.
    pub case: CaseSummary,
    /// Form (`case` for the stage).
    pub form: String,
    /// List item, for repeating forms.
    pub item: Option<Uuid>,
    /// Field (`stage` for the stage).
    pub field: String,
    /// Needs a person (a protected field or the stage); otherwise merged
    /// automatically, the newest value shown.
    pub protected: bool,
    /// The value shown now; none while it needs a person.
    pub shown: Option<Value>,
    /// The values in conflict, oldest first (for the stage: the stage each
    /// concurrent change leads to).
    pub heads: Vec<HeadView>,
    /// The roles that may settle it: whom a data manager routes it to.
    pub resolvers: Vec<Role>,
    /// Whether the acting user's role is one of them.
    pub actor_may_resolve: bool,
}

/// Result of [`CaseStore::import_events`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSummary {
    /// Events offered.
    pub received: usize,
    /// Events new to this vault (committed).
    pub new: usize,
    /// Events already known (skipped).
    pub duplicates: usize,
    /// Events of cases erased here: acknowledged, only their bookkeeping kept.
    pub erased: usize,
    /// Cases that changed.
    pub cases: Vec<Uuid>,
}

/// The case store: an unlocked vault plus the acting user, the clock and the
/// device's sequence counter.
pub struct CaseStore {
    vault: Vault,
    clock: HlcClock,
    next_seq: u64,
    user: String,
    role: Role,
    /// The further person recording (docs/vault-format.md §2.2): their
    /// signer id and key. `None`: the vault's first person, who signs with
    /// the vault's own key under the vault's device id.
    signer: Option<(Uuid, ed25519_dalek::SigningKey)>,
    /// The team of the person recording, when they are a supervisor the
    /// roster puts in one (docs/visibility.md §2); refreshed whenever the
    /// person or the roster changes ([`CaseStore::refresh_team`]).
    team: Option<Team>,
    /// The forms with the lists of the effective country configuration
    /// (docs/configuration.md): what saves are validated against.
    forms: std::sync::Arc<forms::FormRegistry>,
    /// Its follow-up schedule (`None`: the tasks' default).
    follow_up: Option<Vec<tasks::VisitOffset>>,
    rng: StdRng,
}

impl CaseStore {
    /// Create a vault in `dir` and register this device's signing key in it.
    pub fn init(dir: &Path, passphrase: &SecretString, opts: InitOptions) -> Result<CaseStore, StoreError> {
        let vault = Vault::init(dir, passphrase, opts, Box::new(ModelApplier))?;
        CaseStore::from_vault(vault)
    }

    /// Unlock an existing vault.
    pub fn open(dir: &Path, passphrase: &SecretString) -> Result<CaseStore, StoreError> {
        let vault = Vault::open(dir, passphrase, Box::new(ModelApplier))?;
        CaseStore::from_vault(vault)
    }

    /// Unlock as a given person: `user` is the user name whose passphrase
    /// this is (the vault's first person or a further one, docs/vault-format.md
    /// §2.2). [`CaseStore::open`] accepts any person's passphrase.
    pub fn open_as(dir: &Path, passphrase: &SecretString, user: Option<&str>) -> Result<CaseStore, StoreError> {
        CaseStore::open_as_with(dir, passphrase, user, &VaultOptions::default())
    }

    /// [`CaseStore::open_as`] with explicit vault settings.
    pub fn open_as_with(
        dir: &Path,
        passphrase: &SecretString,
        user: Option<&str>,
        options: &VaultOptions,
    ) -> Result<CaseStore, StoreError> {
        let vault = Vault::open_as_with(dir, passphrase, user, Box::new(ModelApplier), options)?;
        CaseStore::from_vault(vault)
    }

    /// [`CaseStore::init`] with explicit vault settings (tests use a low
    /// scrypt work factor).
    pub fn init_with(
        dir: &Path,
        passphrase: &SecretString,
        opts: InitOptions,
        options: &VaultOptions,
    ) -> Result<CaseStore, StoreError> {
        let vault = Vault::init_with(dir, passphrase, opts, Box::new(ModelApplier), options)?;
        CaseStore::from_vault(vault)
    }

    /// [`CaseStore::open`] with explicit vault settings.
    pub fn open_with(dir: &Path, passphrase: &SecretString, options: &VaultOptions) -> Result<CaseStore, StoreError> {
        let vault = Vault::open_with(dir, passphrase, Box::new(ModelApplier), options)?;
        CaseStore::from_vault(vault)
    }

    /// Wrap an unlocked vault that was opened with [`ModelApplier`]. Its
    /// first reads may need a segment not loaded yet: a damaged one is
    /// reported as such, not as SQLite's bare "disk I/O error".
    pub fn from_vault(mut vault: Vault) -> Result<CaseStore, StoreError> {
        let (clock, next_seq, role) = match Self::setup(&mut vault) {
            Ok(s) => s,
            Err(e) => return Err(vault.damage_behind(&e).map_or(e, StoreError::Vault)),
        };
        let user = vault.device().user_name.clone();
        let forms = crate::country::registry_in(vault.conn())?;
        let follow_up = crate::country::follow_up_in(vault.conn())?;
        let mut store = CaseStore {
            clock,
            next_seq,
            user,
            role,
            signer: None,
            team: None,
            forms,
            follow_up,
            rng: StdRng::from_entropy(),
            vault,
        };
        store.load_people()?;
        store.refresh_team()?;
        // An erasure interrupted between its commit and its checkpoint.
        store.finish_erasures()?;
        Ok(store)
    }

    /// Tell the vault who its further people are (rewriting their keys
    /// files if the vault keys changed at this unlock), and if one of them
    /// unlocked, make them the person recording.
    fn load_people(&mut self) -> Result<(), StoreError> {
        let people = crate::model::people::load(self.vault.conn())?;
        let recipients: Vec<(Uuid, String)> = people.iter().map(|p| (p.id, p.recipient.clone())).collect();
        if self.vault.set_people(&recipients)? {
            self.vault.write_people_keys()?;
        }
        let Some(p) = self.vault.person() else { return Ok(()) };
        let (id, key) = (p.id, p.signing.clone());
        let record = people.iter().find(|r| r.id == id).cloned();
        let record = self.check_person(record, p.verifying_key_hex(), &p.user, &p.role)?;
        let recipient = p.recipient();
        if record.recipient != recipient {
            // A passphrase change of this person was interrupted after
            // their new file was written: their file is theirs, the record
            // follows it (so the next rotation reaches them).
            let fixed = crate::model::people::PersonRecord { recipient, ..record.clone() };
            self.vault.commit(vec![crate::model::people::entry(&fixed)])?;
            self.vault.set_people(
                &crate::model::people::load(self.vault.conn())?
                    .iter()
                    .map(|p| (p.id, p.recipient.clone()))
                    .collect::<Vec<_>>(),
            )?;
        }
        self.become_person(record, key)
    }

    /// The vault's record of a person whose file says `key_hex`, `user`,
    /// `role`: they must agree, or the file was replaced.
    fn check_person(
        &self,
        record: Option<crate::model::people::PersonRecord>,
        key_hex: String,
        user: &str,
        role: &str,
    ) -> Result<crate::model::people::PersonRecord, StoreError> {
        match record {
            Some(r) if r.signing_key == key_hex && r.user == user && r.role.as_str() == role => Ok(r),
            _ => Err(StoreError::PersonMismatch { user: user.to_owned() }),
        }
    }

    fn become_person(
        &mut self,
        record: crate::model::people::PersonRecord,
        key: ed25519_dalek::SigningKey,
    ) -> Result<(), StoreError> {
        self.next_seq = next_seq_of(self.vault.conn(), record.id)?;
        self.user = record.user;
        self.role = record.role;
        self.signer = Some((record.id, key));
        self.refresh_team()
    }

    /// Read the recording person's team from the roster this vault holds
    /// (a supervisor's only: a team decides nothing for other roles).
    /// Called whenever the person or the roster may have changed, so the
    /// views read it without parsing the roster each time.
    pub(crate) fn refresh_team(&mut self) -> Result<(), StoreError> {
        self.team = match self.role {
            Role::Supervisor => crate::sync::exchange::roster(self)?.and_then(|r| r.roster.team_of(&self.user)),
            _ => None,
        };
        Ok(())
    }

    /// The team of the person recording, if they are a supervisor with one.
    pub fn team(&self) -> Option<&Team> {
        self.team.as_ref()
    }

    /// The further people of this vault (not its first person, who is
    /// [`Vault::device`]), as the database records them.
    pub fn people(&self) -> Result<Vec<crate::model::people::PersonRecord>, StoreError> {
        Ok(crate::model::people::load(self.vault.conn())?)
    }

    /// The signer id of the person recording: what their events carry as
    /// `device_id` (the vault's device id for its first person).
    pub fn signer_id(&self) -> Uuid {
        self.signer.as_ref().map_or(self.vault.device().device_id, |(id, _)| *id)
    }

    /// The key the person recording signs with.
    pub fn signer_key(&self) -> &ed25519_dalek::SigningKey {
        match &self.signer {
            Some((_, k)) => k,
            // `signer` is `None` only while the first person records: they
            // unlocked, or were switched to with their passphrase, and
            // either loads their key.
            None => self.vault.first_person_key().expect("the first person recording has their key loaded"),
        }
    }

    /// Add a further person to this vault (docs/vault-format.md §2.2): their
    /// own passphrase (which the passphrase policy must accept), signing
    /// key and role. On an office vault the person is enrolled in the
    /// office's roster in the same commit, which needs a data manager
    /// recording and a user name not enrolled to anyone else; on a device
    /// they record nothing until the office has enrolled them
    /// (`sync::enrollment_request` after switching to them).
    pub fn add_person(
        &mut self,
        user: &str,
        role: Role,
        passphrase: &SecretString,
    ) -> Result<crate::model::people::PersonRecord, StoreError> {
        use secrecy::ExposeSecret as _;
        let user = user.trim();
        if user.is_empty() {
            return Err(StoreError::UnknownPerson { user: String::new() });
        }
        let taken = user == self.vault.device().user_name || self.people()?.iter().any(|p| p.user == user);
        if taken {
            return Err(StoreError::PersonExists { user: user.to_owned() });
        }
        crate::passphrase_policy::check(passphrase.expose_secret(), &[user]).into_result()?;
        let office_entry = crate::sync::people::office_enrollment_check(self, user)?;
        let person = self.vault.add_person(user, role.as_str(), passphrase)?;
        let record = crate::model::people::PersonRecord {
            id: person.id,
            user: user.to_owned(),
            role,
            signing_key: person.verifying_key_hex(),
            recipient: person.recipient(),
            created: person.created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            removed_at: None,
        };
        let mut entries =
            vec![crate::model::people::entry(&record), projection::device_entry(record.id, &record.signing_key, user)];
        if office_entry {
            entries.push(crate::sync::people::office_roster_entry(self, &record)?);
        }
        if let Err(e) = self.vault.commit(entries) {
            self.vault.remove_person_files(record.id);
            return Err(e.into());
        }
        let people: Vec<(Uuid, String)> = self.people()?.iter().map(|p| (p.id, p.recipient.clone())).collect();
        self.vault.set_people(&people)?;
        Ok(record)
    }

    /// Remove further person `user` from this vault, as its first person
    /// (whose passphrase `first_person_passphrase` is checked): their
    /// record is marked removed, their files deleted, and then the vault's
    /// own keys are changed as at a passphrase change (the passphrase
    /// stays), so a copy of their old files with their passphrase opens
    /// nothing written from now on. Their events stay, signed. On an
    /// office vault [`crate::sync::people::remove_person`] also revokes
    /// them in the roster; on a device the office revokes them.
    pub fn remove_person(
        &mut self,
        user: &str,
        first_person_passphrase: &SecretString,
    ) -> Result<crate::model::people::PersonRecord, StoreError> {
        if self.signer.is_some() {
            return Err(StoreError::NotFirstPerson { user: self.vault.device().user_name.clone() });
        }
        let record = self
            .people()?
            .into_iter()
            .find(|p| p.user == user)
            .ok_or_else(|| StoreError::UnknownPerson { user: user.to_owned() })?;
        self.vault.check_first_person(first_person_passphrase)?;
        let removed = crate::model::people::PersonRecord {
            removed_at: Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            ..record.clone()
        };
        // The record first: from this commit the person cannot unlock the
        // store (their file no longer matches a record), even if what
        // follows is interrupted; the next removal or passphrase change
        // finishes the rest.
        self.vault.commit(vec![crate::model::people::entry(&removed)])?;
        let people: Vec<(Uuid, String)> = self.people()?.iter().map(|p| (p.id, p.recipient.clone())).collect();
        self.vault.set_people(&people)?;
        self.vault.remove_person_files(record.id);
        let scrypt = self.vault.scrypt_log_n();
        self.vault.change_passphrase(first_person_passphrase, first_person_passphrase, scrypt)?;
        Ok(removed)
    }

    /// Switch the person recording to `user`, checked with their
    /// passphrase: from now on changes are signed with their key, under
    /// their signer id and sequence, with their name and role, and the
    /// views show what they may see. A wrong passphrase changes nothing.
    pub fn switch_person(&mut self, user: &str, passphrase: &SecretString) -> Result<(), StoreError> {
        if user == self.vault.device().user_name {
            self.vault.check_first_person(passphrase)?;
            let device = self.vault.device().clone();
            self.next_seq = next_seq_of(self.vault.conn(), device.device_id)?;
            self.role = device.role.parse()?;
            self.user = device.user_name;
            self.signer = None;
            return self.refresh_team();
        }
        let record = self
            .people()?
            .into_iter()
            .find(|p| p.user == user)
            .ok_or_else(|| StoreError::UnknownPerson { user: user.to_owned() })?;
        let p = self.vault.read_person(record.id, passphrase)?;
        let record = self.check_person(Some(record), p.verifying_key_hex(), &p.user, &p.role)?;
        self.become_person(record, p.signing.clone())
    }

    /// Refuse a change signed by a further person the roster this vault
    /// holds does not list with their key and role (not enrolled yet, or
    /// revoked): the office would refuse it, and with it every bundle
    /// that carries it. A vault of no office has no roster to ask.
    fn check_may_record(&self) -> Result<(), StoreError> {
        let Some((id, key)) = &self.signer else { return Ok(()) };
        let Some(roster) = crate::sync::exchange::roster(self)? else { return Ok(()) };
        let refuse = |reason: &str| StoreError::PersonNotEnrolled { user: self.user.clone(), reason: reason.into() };
        let Some(entry) = roster.roster.device(*id) else {
            return Err(refuse(
                "the office has not enrolled them; send it their enrollment request (`fieldcase --as USER enroll request`) and import the enrollment bundle it answers with",
            ));
        };
        if entry.revoked_at.is_some() {
            return Err(refuse("the office has revoked their enrollment"));
        }
        if entry.signing_key != hex::encode(key.verifying_key().as_bytes()) || entry.role != self.role {
            return Err(refuse("the office's roster lists them with another key or role"));
        }
        Ok(())
    }

    /// Read what the store needs from the vault: its clock, next device
    /// sequence number and role (registering the device key if missing).
    fn setup(vault: &mut Vault) -> Result<(HlcClock, u64, Role), StoreError> {
        vault.conn().set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let device = vault.device().clone();
        let role: Role = device.role.parse()?;
        let key_hex = hex::encode(vault.first_person_verifying_key().as_bytes());
        match projection::device_key(vault.conn(), device.device_id)? {
            Some(k) if k == key_hex => {}
            Some(_) => return Err(StoreError::DeviceKeyMismatch { device: device.device_id }),
            None => vault.commit(vec![projection::device_entry(device.device_id, &key_hex, &device.device_name)])?,
        }
        let conn = vault.conn();
        let last: Option<(i64, i64)> = conn
            .query_row(
                "SELECT hlc_millis, hlc_counter FROM events UNION ALL SELECT hlc_millis, hlc_counter FROM erased_events
                 ORDER BY hlc_millis DESC, hlc_counter DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let last = last.map_or(Hlc::default(), |(m, c)| Hlc { millis: m as u64, counter: c as u32 });
        Ok((HlcClock::new(last), next_seq_of(conn, device.device_id)?, role))
    }

    /// The vault underneath (read-only use).
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// Wait until the whole database is in memory; the first damaged
    /// segment, if any ([`Vault::wait_loaded`]).
    pub fn wait_loaded(&mut self) -> Result<(), crate::vault::VaultError> {
        self.vault.wait_loaded()
    }

    /// Change the passphrase, and with it the vault's own keys: every file
    /// is re-encrypted and re-tagged, so the old identity file with the
    /// old passphrase opens nothing written from now on
    /// ([`Vault::change_passphrase`]). `old` must be the current passphrase.
    ///
    /// When a further person is recording (docs/vault-format.md §2.2), it
    /// is their passphrase that changes: they get a new person key, so
    /// their new file opens with the new passphrase only. (The vault's own
    /// keys change only with its first person's passphrase.)
    pub fn change_passphrase(&mut self, old: &SecretString, new: &SecretString) -> Result<(), StoreError> {
        let scrypt = self.vault.scrypt_log_n();
        let Some((id, _)) = &self.signer else {
            return Ok(self.vault.change_passphrase(old, new, scrypt)?);
        };
        let id = *id;
        let record = self.people()?.into_iter().find(|p| p.id == id);
        let record = record.ok_or_else(|| StoreError::UnknownPerson { user: self.user.clone() })?;
        let person = self.vault.change_person_passphrase(id, old, new)?;
        let fixed = crate::model::people::PersonRecord { recipient: person.recipient(), ..record };
        self.vault.commit(vec![crate::model::people::entry(&fixed)])?;
        Ok(())
    }

    /// Lock: checkpoint, drop the database, zeroize keys.
    pub fn lock(self) -> Result<(), StoreError> {
        Ok(self.vault.lock()?)
    }

    /// Write a checkpoint (fresh encrypted snapshot, new journal).
    pub fn checkpoint(&mut self) -> Result<(), StoreError> {
        Ok(self.vault.checkpoint()?)
    }

    /// Store an attachment encrypted in the vault; returns its blob id (for
    /// an `attachment.added` event).
    pub fn put_blob(&mut self, bytes: &[u8]) -> Result<String, StoreError> {
        Ok(self.vault.put_blob(bytes)?)
    }

    /// Attach a photo or document to `case`: the bytes go into the encrypted
    /// blob store and an `attachment.added` event records the blob with its
    /// SHA-256 and size, so the author's own signature vouches for the bytes
    /// a sync bundle later carries (docs/bundle-format.md §3.1). If the event
    /// is refused (a closed case, a role that may not record case data) the
    /// blob is removed again: no orphan ciphertext is left behind. Returns
    /// the new attachment item's id.
    pub fn add_attachment(&mut self, case: Uuid, name: &str, mime: &str, bytes: &[u8]) -> Result<Uuid, StoreError> {
        use sha2::Digest as _;
        if bytes.is_empty() {
            return Err(StoreError::EmptyAttachment);
        }
        if bytes.len() as u64 > MAX_ATTACHMENT_BYTES {
            return Err(StoreError::AttachmentTooLarge { size: bytes.len() as u64, limit: MAX_ATTACHMENT_BYTES });
        }
        let blob = self.vault.put_blob(bytes)?;
        let item = Uuid::now_v7();
        let payload = serde_json::json!({
            "item": item, "blob": blob, "name": name, "mime": mime,
            "sha256": hex::encode(sha2::Sha256::digest(bytes)), "size": bytes.len(),
        });
        let mut b = self.batch();
        let recorded = b.record(case, EventKind::AttachmentAdded, Some("attachment"), payload, Vec::new());
        let result = recorded.and_then(|_| b.commit());
        if let Err(e) = result {
            // Best effort: the refusal is what the caller needs to see.
            let _ = self.vault.remove_blob(&blob);
            return Err(e);
        }
        Ok(item)
    }

    /// Read an attachment back.
    pub fn get_blob(&self, id: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, StoreError> {
        Ok(self.vault.get_blob(id)?)
    }

    /// Act as another user and role without a passphrase: only on a vault
    /// that belongs to no office (demo data, rule tests), where nothing is
    /// enforced because there is no authority yet to say who is who. On an
    /// office vault or an enrolled device this is refused
    /// ([`StoreError::ActorFixed`]): there a person is switched to with
    /// their passphrase ([`CaseStore::switch_person`]).
    pub fn set_actor(&mut self, user: &str, role: Role) -> Result<(), StoreError> {
        if crate::sync::exchange::roster(self)?.is_some() {
            return Err(StoreError::ActorFixed);
        }
        self.user = user.to_string();
        self.role = role;
        Ok(())
    }

    /// The acting user and role.
    pub fn actor(&self) -> (&str, Role) {
        (&self.user, self.role)
    }

    /// For deterministic demo data: the physical time (Unix ms) the HLC
    /// reads; `None` = system time.
    pub fn set_clock(&mut self, millis: Option<u64>) {
        self.clock.set_clock(millis);
    }

    /// [`Vault::set_checkpoint_bytes`] of the store's vault.
    pub fn set_checkpoint_bytes(&mut self, bytes: u64) -> u64 {
        self.vault.set_checkpoint_bytes(bytes)
    }

    /// For deterministic demo data: seed the generator of event, case and
    /// item ids.
    pub fn set_rng_seed(&mut self, seed: u64) {
        self.rng = StdRng::seed_from_u64(seed);
    }

    /// Today's date as the store's clock reads it (UTC).
    pub fn today(&self) -> chrono::NaiveDate {
        date_of(self.clock.physical_millis())
    }

    /// Trust another device's signing key, so its events can be imported.
    /// (Sync will replace this with the office's trust roster.)
    pub fn trust_device(&mut self, device_id: Uuid, key: &VerifyingKey, name: &str) -> Result<(), StoreError> {
        let key_hex = hex::encode(key.as_bytes());
        match projection::device_key(self.vault.conn(), device_id)? {
            Some(k) if k == key_hex => Ok(()),
            Some(_) => Err(StoreError::DeviceKeyMismatch { device: device_id }),
            None => Ok(self.vault.commit(vec![projection::device_entry(device_id, &key_hex, name)])?),
        }
    }

    /// Number of registered cases.
    pub fn case_count(&self) -> Result<usize, StoreError> {
        let n: i64 = self.vault.conn().query_row("SELECT COUNT(*) FROM cases", [], |r| r.get(0))?;
        Ok(n as usize)
    }

    /// Group several changes into one vault commit.
    pub fn batch(&mut self) -> Batch<'_> {
        Batch {
            clock: self.clock.clone(),
            next_seq: self.next_seq,
            store: self,
            events: Vec::new(),
            states: HashMap::new(),
            numbers: HashMap::new(),
            may_record: false,
        }
    }

    /// Register a new case (stage `identified`); returns its id.
    pub fn create_case(&mut self, case_type: &str, office: &str) -> Result<Uuid, StoreError> {
        let mut b = self.batch();
        let id = b.create_case(case_type, office)?;
        b.commit()?;
        Ok(id)
    }

    /// Register a new case and, with `values`, save its registration/BIA
    /// values in the same commit (refused values register nothing).
    /// Returns its id and case number.
    pub fn register_case(
        &mut self,
        case_type: &str,
        office: &str,
        values: Option<Map<String, Value>>,
    ) -> Result<(Uuid, String), StoreError> {
        let mut b = self.batch();
        let id = b.create_case(case_type, office)?;
        if let Some(values) = values {
            b.save_form(id, "registration_bia", None, values)?;
        }
        b.commit()?;
        let number = self.case_detail(id)?.summary.case_number;
        Ok((id, number))
    }

    /// Save values of a form (or of one list item of a repeating form).
    pub fn save_form(
        &mut self,
        case: Uuid,
        form: &str,
        item: Option<Uuid>,
        values: Map<String, Value>,
    ) -> Result<(), StoreError> {
        let mut b = self.batch();
        b.save_form(case, form, item, values)?;
        b.commit()
    }

    /// Move the case to another stage.
    pub fn change_stage(&mut self, case: Uuid, to: Stage, reason: &str) -> Result<(), StoreError> {
        let mut b = self.batch();
        b.change_stage(case, to, reason)?;
        b.commit()
    }

    /// Add a case note; returns the new item id.
    pub fn add_note(&mut self, case: Uuid, values: Map<String, Value>) -> Result<Uuid, StoreError> {
        let mut b = self.batch();
        let id = b.add_note(case, values)?;
        b.commit()?;
        Ok(id)
    }

    /// Record a follow-up visit; returns the new item id.
    pub fn record_visit(&mut self, case: Uuid, values: Map<String, Value>) -> Result<Uuid, StoreError> {
        let mut b = self.batch();
        let id = b.record_visit(case, values)?;
        b.commit()?;
        Ok(id)
    }

    /// Make a referral; returns the new item id.
    pub fn make_referral(&mut self, case: Uuid, values: Map<String, Value>) -> Result<Uuid, StoreError> {
        let mut b = self.batch();
        let id = b.make_referral(case, values)?;
        b.commit()?;
        Ok(id)
    }

    /// Assign the case to a caseworker.
    pub fn assign(&mut self, case: Uuid, caseworker: &str) -> Result<(), StoreError> {
        let mut b = self.batch();
        b.assign(case, caseworker)?;
        b.commit()
    }

    /// Assign `cases` to caseworker `to`, in one commit (all or none): the
    /// rules check each assignment (a supervisor or the office's data
    /// manager assigns; a caseworker only takes an unassigned case they
    /// registered). Where this vault holds an office's roster, `to` must be
    /// an enrolled caseworker who is not revoked, so no case is handed to
    /// a name nobody signs as. Returns how many changed (a case already
    /// assigned to `to` is left as it is).
    pub fn assign_cases(&mut self, cases: &[Uuid], to: &str) -> Result<usize, StoreError> {
        self.check_assignee(to)?;
        let mut b = self.batch();
        let mut changed = 0;
        for &case in cases {
            if b.state(case)?.caseworker.as_deref() == Some(to) {
                continue;
            }
            b.assign(case, to)?;
            changed += 1;
        }
        b.commit()?;
        Ok(changed)
    }

    /// Reassign every case assigned to `from` that the person recording
    /// may see to `to`, in one commit ([`CaseStore::assign_cases`]): a
    /// caseworker who leaves or is away. Returns the cases moved.
    pub fn reassign_all(&mut self, from: &str, to: &str) -> Result<Vec<Uuid>, StoreError> {
        let cases: Vec<Uuid> = self
            .list_cases()?
            .cases
            .into_iter()
            .filter(|c| c.caseworker.as_deref() == Some(from))
            .map(|c| c.id)
            .collect();
        self.assign_cases(&cases, to)?;
        Ok(cases)
    }

    /// `to` may be given cases: an enrolled caseworker, not revoked, where
    /// an office's roster is held.
    fn check_assignee(&self, to: &str) -> Result<(), StoreError> {
        let Some(roster) = crate::sync::exchange::roster(self)? else { return Ok(()) };
        let enrolled =
            roster.roster.devices.iter().any(|d| d.user == to && d.revoked_at.is_none() && d.role == Role::Caseworker);
        if enrolled {
            Ok(())
        } else {
            Err(StoreError::NotACaseworker { user: to.to_owned() })
        }
    }

    /// Resolve a conflict by choosing (or typing) the value; the new write
    /// replaces all current heads.
    pub fn resolve_conflict(
        &mut self,
        case: Uuid,
        form: &str,
        item: Option<Uuid>,
        field: &str,
        value: Value,
    ) -> Result<(), StoreError> {
        let mut b = self.batch();
        b.resolve_conflict(case, form, item, field, value)?;
        b.commit()
    }

    /// Settle a conflict by keeping one of its heads: `head` is the event
    /// that wrote the value kept (a [`HeadView::event`]). This is how a
    /// protected field or the stage (form [`projection::STAGE_FORM`],
    /// field [`projection::STAGE_FIELD`]) is settled: the value is taken
    /// from the head, so it can only be one of the values really in
    /// conflict ([`StoreError::NotAHead`] otherwise, e.g. when another
    /// device settled it meanwhile).
    pub fn resolve_conflict_head(
        &mut self,
        case: Uuid,
        form: &str,
        item: Option<Uuid>,
        field: &str,
        head: Uuid,
    ) -> Result<(), StoreError> {
        let mut b = self.batch();
        b.resolve_conflict_head(case, form, item, field, head)?;
        b.commit()
    }

    /// Settle a stage conflict by keeping the concurrent stage change
    /// `head` (a [`StageConflict`] head): the case takes that head's stage;
    /// the other change stays in the event history, set aside.
    pub fn resolve_stage_conflict(&mut self, case: Uuid, head: Uuid, reason: &str) -> Result<(), StoreError> {
        let mut b = self.batch();
        b.resolve_stage_conflict(case, head, reason)?;
        b.commit()
    }

    /// The case's stage conflict, if concurrent stage changes met and no
    /// one has chosen yet.
    pub fn stage_conflict(&self, case: Uuid) -> Result<Option<StageConflict>, StoreError> {
        let state = self.case_state(case)?;
        let view = state.stage_view();
        if !view.in_conflict {
            return Ok(None);
        }
        let facts = to_facts(&state)?;
        Ok(Some(StageConflict {
            stage: view.stage().unwrap_or("identified").to_string(),
            heads: view
                .heads
                .iter()
                .map(|h| StageHeadView {
                    event: h.event,
                    from: h.from.clone(),
                    to: h.to.clone(),
                    reason: h.reason.clone(),
                    hlc: h.hlc,
                    device_id: h.device,
                    author: h.author.clone(),
                    role: h.role.as_str().to_string(),
                })
                .collect(),
            resolvers: lifecycle::stage_resolvers(&facts),
        }))
    }

    /// The office's conflict queue: every field with several heads and
    /// every stage conflict, in the cases this store lists. Entries that
    /// need a person (protected fields, the stage) come first, then by case
    /// number and field. Each entry says which roles may settle it
    /// ([`roles::may_resolve`]) and whether the acting user may: a data
    /// manager sees the whole queue and routes each entry to those roles.
    pub fn conflict_queue(&self) -> Result<Vec<QueuedConflict>, StoreError> {
        let mut out = Vec::new();
        for case in self.list_cases()?.cases.into_iter().filter(|c| c.conflicts > 0 || c.needs_review) {
            let detail = self.case_detail(case.id)?;
            for f in detail.fields.into_iter().filter(|f| f.heads.len() > 1) {
                let protected = f.status == FieldStatus::NeedsReview;
                let resolvers = roles::resolvers(roles::ConflictSubject::Field { form: &f.form, protected });
                out.push(QueuedConflict {
                    case: case.clone(),
                    actor_may_resolve: resolvers.contains(&self.role),
                    resolvers,
                    form: f.form,
                    item: f.item,
                    field: f.field,
                    protected,
                    shown: f.value,
                    heads: f.heads,
                });
            }
            if let Some(stage) = self.stage_conflict(case.id)? {
                out.push(QueuedConflict {
                    case: case.clone(),
                    form: projection::STAGE_FORM.into(),
                    item: None,
                    field: projection::STAGE_FIELD.into(),
                    protected: true,
                    shown: None,
                    heads: stage
                        .heads
                        .iter()
                        .map(|h| HeadView {
                            event: h.event,
                            value: Value::String(h.to.clone()),
                            hlc: h.hlc,
                            device_id: h.device_id,
                            author: h.author.clone(),
                        })
                        .collect(),
                    actor_may_resolve: stage.resolvers.contains(&self.role),
                    resolvers: stage.resolvers,
                });
            }
        }
        out.sort_by(|a, b| {
            b.protected.cmp(&a.protected).then(a.case.case_number.cmp(&b.case.case_number)).then(a.field.cmp(&b.field))
        });
        Ok(out)
    }

    /// Find a case by UUID or case number.
    pub fn find_case(&self, id_or_number: &str) -> Result<Uuid, StoreError> {
        let by_number: Option<String> = self
            .vault
            .conn()
            .query_row(
                "SELECT id FROM cases WHERE case_number = ?1 OR id = ?1 ORDER BY id LIMIT 1",
                [id_or_number.trim()],
                |r| r.get(0),
            )
            .optional()?;
        match by_number.and_then(|s| Uuid::parse_str(&s).ok()) {
            Some(id) => Ok(id),
            None => match Uuid::parse_str(id_or_number.trim()) {
                Ok(id) => Err(self.missing(id)?),
                Err(_) => Err(StoreError::NotFound { case: id_or_number.to_string() }),
            },
        }
    }

    /// The error for a case id with no case row: [`StoreError::Erased`]
    /// when only its tombstone is left, else [`StoreError::NotFound`].
    fn missing(&self, case: Uuid) -> Result<StoreError, StoreError> {
        Ok(match erasure::tombstone(self.vault.conn(), case)? {
            Some(t) => StoreError::Erased { case: case.to_string(), on: t.erased_on(), reason: t.reason },
            None => StoreError::NotFound { case: case.to_string() },
        })
    }

    /// The tombstone of an erased case (`None`: not erased here). It holds
    /// no personal data, so every reader may see it.
    pub fn tombstone(&self, case: Uuid) -> Result<Option<erasure::Tombstone>, StoreError> {
        Ok(erasure::tombstone(self.vault.conn(), case)?)
    }

    /// Every tombstone of this vault (the erased cases are in no other view).
    pub fn tombstones(&self) -> Result<Vec<erasure::Tombstone>, StoreError> {
        Ok(erasure::tombstones(self.vault.conn())?)
    }

    /// Request the erasure of `case` for `reason` (one of
    /// [`erasure::REASONS`]), as the acting person (a supervisor or a data
    /// manager). Nothing is removed until another person in the other role
    /// approves ([`CaseStore::approve_erasure`]). Returns the request's id.
    pub fn request_erasure(&mut self, case: Uuid, reason: &str) -> Result<Uuid, StoreError> {
        self.require_visible(case)?;
        let mut b = self.batch();
        let id = b.push_now(case, EventKind::CaseErasureRequested, None, json!({"reason": reason}), Vec::new())?;
        b.commit()?;
        Ok(id)
    }

    /// The pending erasure request of `case`, if any.
    pub fn erasure_request(&self, case: Uuid) -> Result<Option<erasure::Request>, StoreError> {
        self.require_visible(case)?;
        Ok(self.case_state(case)?.erasure_request)
    }

    /// Approve the pending erasure request of `case` as the acting person:
    /// the case's data, attachments and search entries are removed, the
    /// blobs deleted and a checkpoint written at once, so no file of the
    /// vault holds the case any longer (docs/vault-format.md §10).
    pub fn approve_erasure(&mut self, case: Uuid) -> Result<erasure::Tombstone, StoreError> {
        self.require_visible(case)?;
        let request = self.case_state(case)?.erasure_request.ok_or_else(|| StoreError::RuleViolated {
            violations: vec![RuleViolation::new(
                "erasure",
                crate::model::violation::ViolationCode::NoErasureRequest,
                &[],
            )],
        })?;
        let mut b = self.batch();
        b.push_now(
            case,
            EventKind::CaseErasureApproved,
            None,
            json!({"request": request.event, "reason": request.reason}),
            Vec::new(),
        )?;
        b.commit()?;
        self.tombstone(case)?.ok_or_else(|| StoreError::NotFound { case: case.to_string() })
    }

    /// Finish the erasures the database says are due: delete their blob
    /// files, checkpoint (the new snapshot has none of the case's bytes and
    /// the journal that held its events is deleted), then record them done.
    /// Runs after every commit that erased a case and at unlock (after a
    /// crash in between). Idempotent.
    pub fn finish_erasures(&mut self) -> Result<(), StoreError> {
        let (blobs, cases) = erasure::due(self.vault.conn())?;
        if cases.is_empty() {
            return Ok(());
        }
        for blob in &blobs {
            self.vault.delete_blob(blob)?;
        }
        self.vault.checkpoint()?;
        self.vault.commit(vec![json!({"type": erasure::ERASURE_DONE, "cases": cases})])?;
        Ok(())
    }

    /// The person who unlocked the vault, as the visibility rules see them
    /// (docs/visibility.md).
    pub fn reader(&self) -> Reader<'_> {
        Reader { user: &self.user, role: self.role, team: self.team.as_ref() }
    }

    /// The registered cases the reader may see, by case number, with the
    /// person columns withheld where the reader may not see them, and a
    /// count of the cases left out.
    pub fn list_cases(&self) -> Result<CaseList, StoreError> {
        let reader = self.reader();
        let conn = self.vault.conn();
        let mut stmt =
            conn.prepare_cached(&format!("{SUMMARY_SELECT} WHERE {NOT_INQUIRY} ORDER BY case_number, id"))?;
        let rows = stmt.query_map([], |r| Ok((summary_row(r)?, access_row(r)?)))?;
        let mut cases = Vec::new();
        let mut hidden = Vec::new();
        for row in rows {
            let (summary, access) = row?;
            match reader.case(&access) {
                Ok(()) => cases.push(mask_summary(summary, reader)),
                Err(reason) => hidden.push(reason),
            }
        }
        Ok(CaseList { cases, hidden: count_hidden(hidden) })
    }

    /// Refuse a case the reader may not see ([`StoreError::Hidden`], which
    /// names only the id asked for), or one that does not exist.
    pub fn require_visible(&self, case: Uuid) -> Result<(), StoreError> {
        let Some(access) = self.case_access(case)? else { return Err(self.missing(case)?) };
        self.reader().case(&access).map_err(|reason| StoreError::Hidden { case: case.to_string(), reason })
    }

    /// Whether the reader may see a case: `Ok(Err(reason))` when not.
    pub fn sees(&self, case: Uuid) -> Result<Result<(), HiddenReason>, StoreError> {
        let Some(access) = self.case_access(case)? else { return Err(self.missing(case)?) };
        Ok(self.reader().case(&access))
    }

    /// [`CaseStore::require_visible`], and the reader may open case records
    /// (not a reporting viewer).
    pub fn require_record(&self, case: Uuid) -> Result<(), StoreError> {
        self.require_visible(case)?;
        self.reader().records().map_err(|reason| StoreError::Hidden { case: case.to_string(), reason })
    }

    /// The cases `reader` (not necessarily the person who unlocked: the
    /// office asks it for each enrolled device) may hold on their device
    /// ([`Reader::receives`]): what the office sends that device.
    pub fn cases_received_by(&self, reader: Reader<'_>) -> Result<BTreeSet<Uuid>, StoreError> {
        let mut stmt = self.vault.conn().prepare_cached(SUMMARY_SELECT)?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, access_row(r)?)))?;
        let mut out = BTreeSet::new();
        for row in rows {
            let (id, access) = row?;
            if reader.receives(&access).is_ok() {
                out.insert(uuid_col(id)?);
            }
        }
        Ok(out)
    }

    /// The facts that decide who sees a case; `None` if there is no such case.
    pub fn case_access(&self, case: Uuid) -> Result<Option<CaseAccess>, StoreError> {
        let conn = self.vault.conn();
        let mut stmt = conn.prepare_cached(&format!("{SUMMARY_SELECT} WHERE id = ?1"))?;
        Ok(stmt.query_row([case.to_string()], access_row).optional()?)
    }

    /// Restricted notes of a case the reader may not see (their item ids).
    fn hidden_notes(&self, case: Uuid) -> Result<BTreeSet<Uuid>, StoreError> {
        let reader = self.reader();
        let mut stmt = self.vault.conn().prepare_cached(
            "SELECT i.item, i.author FROM items i WHERE i.case_id = ?1 AND i.form = ?2 AND EXISTS (
                SELECT 1 FROM field_heads h WHERE h.case_id = i.case_id AND h.form = i.form
                AND h.item = i.item AND h.field = ?3 AND h.value = 'true')",
        )?;
        let rows = stmt
            .query_map(params![case.to_string(), visibility::NOTE_FORM, visibility::RESTRICTED_FIELD], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?;
        let mut out = BTreeSet::new();
        for row in rows {
            let (item, author) = row?;
            if reader.restricted_note(&author).is_err() {
                out.insert(uuid_col(item)?);
            }
        }
        Ok(out)
    }

    /// Everything about one case the reader may see: refused
    /// ([`StoreError::Hidden`]) for a case they may not see; restricted
    /// notes of others are left out (and counted), values the reader may
    /// not see are withheld with the reason.
    pub fn case_detail(&self, case: Uuid) -> Result<CaseDetail, StoreError> {
        self.require_record(case)?;
        let reader = self.reader();
        let hidden_notes = self.hidden_notes(case)?;
        let conn = self.vault.conn();
        let summary = conn
            .query_row(&format!("{SUMMARY_SELECT} WHERE id = ?1"), [case.to_string()], summary_row)
            .optional()?
            .ok_or_else(|| StoreError::NotFound { case: case.to_string() })?;
        let summary = mask_summary(summary, reader);
        let mut heads: BTreeMap<(String, String, String), Vec<HeadView>> = BTreeMap::new();
        {
            let mut stmt = conn.prepare_cached(
                "SELECT form, item, field, event_id, value, hlc_millis, hlc_counter, device_id, author
                 FROM field_heads WHERE case_id = ?1 ORDER BY form, item, field, hlc_millis, hlc_counter, device_id, event_id",
            )?;
            let mut rows = stmt.query([case.to_string()])?;
            while let Some(r) = rows.next()? {
                let key = (r.get(0)?, r.get(1)?, r.get(2)?);
                heads.entry(key).or_default().push(HeadView {
                    event: uuid_col(r.get(3)?)?,
                    value: json_col(&r.get::<_, String>(4)?)?,
                    hlc: Hlc { millis: r.get::<_, i64>(5)? as u64, counter: r.get(6)? },
                    device_id: uuid_col(r.get(7)?)?,
                    author: r.get(8)?,
                });
            }
        }
        let mut fields = Vec::new();
        {
            let mut stmt = conn.prepare_cached(
                "SELECT form, item, field, value, status FROM field_values WHERE case_id = ?1
                 ORDER BY item != '', form, item, field",
            )?;
            let mut rows = stmt.query([case.to_string()])?;
            while let Some(r) = rows.next()? {
                let (form, item, field): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
                let value: Option<String> = r.get(3)?;
                let status: String = r.get(4)?;
                let field_heads = heads.remove(&(form.clone(), item.clone(), field.clone())).unwrap_or_default();
                let item = if item.is_empty() { None } else { Some(uuid_col(item)?) };
                if item.is_some_and(|i| hidden_notes.contains(&i)) && form == visibility::NOTE_FORM {
                    continue;
                }
                let status = FieldStatus::parse(&status).unwrap_or(FieldStatus::NeedsReview);
                fields.push(match reader.field(&form, &field, field_heads.len() > 1) {
                    Ok(()) => FieldView {
                        heads: field_heads,
                        item,
                        form,
                        field,
                        value: value.as_deref().map(json_col).transpose()?,
                        status,
                        hidden: None,
                    },
                    Err(reason) => {
                        FieldView { heads: Vec::new(), item, form, field, value: None, status, hidden: Some(reason) }
                    }
                });
            }
        }
        let mut items = Vec::new();
        {
            let mut stmt = conn.prepare_cached(
                "SELECT form, item, kind, created_millis, created_counter, author FROM items WHERE case_id = ?1 ORDER BY form, seq",
            )?;
            let mut rows = stmt.query([case.to_string()])?;
            while let Some(r) = rows.next()? {
                let item = ItemView {
                    form: r.get(0)?,
                    item: uuid_col(r.get(1)?)?,
                    kind: r.get(2)?,
                    created: Hlc { millis: r.get::<_, i64>(3)? as u64, counter: r.get(4)? },
                    author: r.get(5)?,
                };
                if !(item.form == visibility::NOTE_FORM && hidden_notes.contains(&item.item)) {
                    items.push(item);
                }
            }
        }
        let mut stage_history = Vec::new();
        {
            let mut stmt = conn.prepare_cached(
                "SELECT from_stage, to_stage, reason, hlc_millis, hlc_counter, author, role FROM stage_history WHERE case_id = ?1 ORDER BY seq",
            )?;
            let mut rows = stmt.query([case.to_string()])?;
            while let Some(r) = rows.next()? {
                stage_history.push(StageView {
                    from: r.get(0)?,
                    to: r.get(1)?,
                    reason: r.get(2)?,
                    hlc: Hlc { millis: r.get::<_, i64>(3)? as u64, counter: r.get(4)? },
                    author: r.get(5)?,
                    role: r.get(6)?,
                });
            }
        }
        let tasks = tasks::tasks_for_with(&self.facts(case)?, self.today(), self.follow_up.as_deref());
        let hidden = count_hidden(hidden_notes.iter().map(|_| HiddenReason::RestrictedNote));
        Ok(CaseDetail { summary, fields, items, stage_history, tasks, hidden })
    }

    /// The audit trail of a case the reader may see, without the entries of
    /// restricted notes they may not see (counted instead).
    pub fn history(&self, case: Uuid) -> Result<CaseHistory, StoreError> {
        self.require_record(case)?;
        let hidden_notes = self.hidden_notes(case)?;
        let mut entries = audit::read(self.vault.conn(), case)?;
        let before = entries.len();
        entries.retain(|a| {
            !(a.form.as_deref() == Some(visibility::NOTE_FORM) && a.item.is_some_and(|i| hidden_notes.contains(&i)))
        });
        let hidden = count_hidden(std::iter::repeat_n(HiddenReason::RestrictedNote, before - entries.len()));
        Ok(CaseHistory { entries, hidden })
    }

    /// Recompute and check a case's audit chain and its events' signatures;
    /// returns the number of entries verified. Only for a case the reader
    /// may open (the check reads every entry).
    pub fn verify_history(&self, case: Uuid) -> Result<usize, StoreError> {
        self.require_record(case)?;
        Ok(audit::verify(self.vault.conn(), case)?)
    }

    /// Tasks due on `today` in the cases the reader may see; the others
    /// counted by reason (a viewer sees none: no case records).
    pub fn tasks(&self, today: chrono::NaiveDate) -> Result<TaskList, StoreError> {
        let reader = self.reader();
        let cases: Vec<(String, CaseAccess)> = {
            let mut stmt = self
                .vault
                .conn()
                .prepare_cached(&format!("{SUMMARY_SELECT} WHERE {NOT_INQUIRY} ORDER BY case_number, id"))?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, access_row(r)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut out = Vec::new();
        let mut hidden = Vec::new();
        for (id, access) in cases {
            let tasks = tasks::tasks_for_with(&self.facts(uuid_col(id)?)?, today, self.follow_up.as_deref());
            match reader.case(&access).and_then(|()| reader.records()) {
                Ok(()) => out.extend(tasks),
                Err(reason) => hidden.extend(tasks.iter().map(|_| reason)),
            }
        }
        Ok(TaskList { tasks: out, hidden: count_hidden(hidden) })
    }

    /// The stages the lifecycle table allows from the case's current stage,
    /// each with the roles that make the move and what would refuse it to
    /// the reader now (empty: allowed), for a screen's buttons. The check is
    /// the gate itself ([`lifecycle::check`]) on an unsigned probe event
    /// that is never committed, so a screen and the store cannot disagree.
    /// Refused for a case the reader may not open.
    pub fn next_steps(&self, case: Uuid) -> Result<Vec<NextStep>, StoreError> {
        self.require_record(case)?;
        let facts = self.facts(case)?;
        let mut out = Vec::new();
        for to in lifecycle::next_stages(&facts) {
            let Some(transition) = lifecycle::transition_for(&facts, to) else {
                continue;
            };
            let probe = Event {
                id: Uuid::nil(),
                case_id: case,
                device_id: self.vault.device().device_id,
                device_seq: 0,
                hlc: Hlc { millis: self.clock.physical_millis(), counter: 0 },
                author: self.user.clone(),
                role: self.role,
                kind: EventKind::StatusChanged,
                form: None,
                payload: json!({"to": stage_name(to), "reason": ""}),
                base: Vec::new(),
                sig: String::new(),
            };
            out.push(NextStep {
                to,
                roles: transition.roles.to_vec(),
                blocked_by: lifecycle::check(&facts, &probe).err().unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// What the lifecycle rules know about a case.
    pub fn facts(&self, case: Uuid) -> Result<CaseFacts, StoreError> {
        let state = self.case_state(case)?;
        to_facts(&state)
    }

    /// The folded projection state of a case (all its events).
    pub fn case_state(&self, case: Uuid) -> Result<CaseState, StoreError> {
        let events = projection::case_events(self.vault.conn(), case)?;
        let state = CaseState::from_events(case, &events);
        if state.registration.is_none() {
            return Err(StoreError::NotFound { case: case.to_string() });
        }
        Ok(state)
    }

    /// Event ids of the current heads of a field: the `base` a new write to
    /// it must carry (used to build foreign events for demo concurrent edits).
    pub fn heads(&self, case: Uuid, form: &str, item: Option<Uuid>, field: &str) -> Result<Vec<Uuid>, StoreError> {
        Ok(self.case_state(case)?.heads_of(form, item, field))
    }

    /// The signed events of one case in canonical order (for export/sync).
    pub fn case_events(&self, case: Uuid) -> Result<Vec<Event>, StoreError> {
        Ok(projection::case_events(self.vault.conn(), case)?)
    }

    /// Every stored event in canonical order (for export/sync and tests).
    pub fn all_events(&self) -> Result<Vec<Event>, StoreError> {
        let mut stmt = self.vault.conn().prepare("SELECT DISTINCT case_id FROM events ORDER BY case_id")?;
        let ids: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        let mut all = Vec::new();
        for id in ids {
            all.extend(projection::case_events(self.vault.conn(), uuid_col(id)?)?);
        }
        all.sort_by_key(Event::order_key);
        Ok(all)
    }

    /// Import foreign signed events: skip known ones, verify the rest (device
    /// known, signature, no equivocation, shape, form values, role, lifecycle
    /// rules in canonical order) and commit them all in one vault commit, or
    /// none of them.
    pub fn import_events(&mut self, events: Vec<Event>) -> Result<ImportSummary, StoreError> {
        let (prepared, signatures) = self.prepare_import_overlapped(events, &HashMap::new())?;
        self.commit_import_checked(prepared, signatures, Vec::new(), Vec::new())
    }

    /// The checking half of [`CaseStore::import_events`], changing nothing:
    /// the result can be shown as a preview (dry run) and then committed with
    /// [`CaseStore::commit_import`]. `extra_keys` are device keys to trust for
    /// this import in addition to the registered ones (devices a sync bundle's
    /// roster introduces; the caller registers them in the same commit).
    pub fn prepare_import(
        &self,
        events: Vec<Event>,
        extra_keys: &HashMap<Uuid, VerifyingKey>,
    ) -> Result<PreparedImport, StoreError> {
        let (prepared, signatures) = self.prepare_import_overlapped(events, extra_keys)?;
        signatures.wait()?;
        Ok(prepared)
    }

    /// [`CaseStore::prepare_import`] whose signature check is still running
    /// on another thread when it returns: pass both to
    /// [`CaseStore::commit_import_checked`], which applies the events while
    /// the check runs and journals nothing until it has passed (or call
    /// [`PendingSignatures::wait`]). Any error this returns already takes
    /// the check into account: a bad signature is reported before any rule
    /// the event breaks, as by `prepare_import`.
    pub fn prepare_import_overlapped(
        &self,
        events: Vec<Event>,
        extra_keys: &HashMap<Uuid, VerifyingKey>,
    ) -> Result<(PreparedImport, PendingSignatures), StoreError> {
        self.prepare_import_with(events, extra_keys, None, None, true)
    }

    /// [`CaseStore::prepare_import_overlapped`] that sets aside, instead of
    /// refusing the whole import, each event the *rules* refuse (shape,
    /// signature, origin and sequence checks still refuse everything): it
    /// is in [`PreparedImport::quarantined`] with its [`Refusal`], not
    /// applied, and so is every later event of its case whose `base` names
    /// a refused event or one in `held` (the events already in quarantine).
    /// A quarantined event's signature is checked like the others': only
    /// an event its origin really signed is ever quarantined.
    pub fn prepare_import_quarantining(
        &self,
        events: Vec<Event>,
        extra_keys: &HashMap<Uuid, VerifyingKey>,
        held: &BTreeSet<Uuid>,
    ) -> Result<(PreparedImport, PendingSignatures), StoreError> {
        self.prepare_import_with(events, extra_keys, Some(held), None, true)
    }

    /// [`CaseStore::prepare_import_quarantining`] that also holds a
    /// supervisor's event on a case outside the team `teams` gives its
    /// signer (docs/visibility.md §7): what an office's import of a
    /// device bundle judges, by the roster it holds.
    pub fn prepare_import_judged(
        &self,
        events: Vec<Event>,
        extra_keys: &HashMap<Uuid, VerifyingKey>,
        held: &BTreeSet<Uuid>,
        teams: Option<&Teams>,
    ) -> Result<(PreparedImport, PendingSignatures), StoreError> {
        self.prepare_import_with(events, extra_keys, Some(held), teams, true)
    }

    /// [`CaseStore::prepare_import_quarantining`] of events whose signatures
    /// were already verified, on an earlier read of the very same bytes
    /// (the second pass of a case-grouped sync import, which compares each
    /// chunk's line digests with the first pass before calling this): every
    /// other check runs again, on the vault as it is now.
    pub(crate) fn prepare_import_verified(
        &self,
        events: Vec<Event>,
        extra_keys: &HashMap<Uuid, VerifyingKey>,
        held: &BTreeSet<Uuid>,
        teams: Option<&Teams>,
    ) -> Result<PreparedImport, StoreError> {
        let (prepared, signatures) = self.prepare_import_with(events, extra_keys, Some(held), teams, false)?;
        signatures.wait()?;
        Ok(prepared)
    }

    fn prepare_import_with(
        &self,
        events: Vec<Event>,
        extra_keys: &HashMap<Uuid, VerifyingKey>,
        held: Option<&BTreeSet<Uuid>>,
        teams: Option<&Teams>,
        verify_signatures: bool,
    ) -> Result<(PreparedImport, PendingSignatures), StoreError> {
        let conn = self.vault.conn();
        let mut summary = ImportSummary { received: events.len(), ..ImportSummary::default() };
        let mut keys: HashMap<Uuid, VerifyingKey> = HashMap::new();
        // An event stamped far ahead of real time would drag every HLC that
        // sees it into the future for good: refuse it (a device clock set to
        // the wrong year is the usual cause).
        let system_now = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
        let horizon = system_now.max(self.clock.physical_millis()).saturating_add(MAX_CLOCK_AHEAD_MS);
        // Pass 1: known and repeated events, shape, device key. Canonical
        // JSON is computed only to compare an id seen twice.
        let mut candidates: Vec<(Event, VerifyingKey)> = Vec::with_capacity(events.len());
        let mut seen_ids: HashMap<Uuid, usize> = HashMap::new();
        for e in events {
            if erasure::is_erased_event(conn, e.id)? {
                // Already received, and its case erased: acknowledged, not kept.
                summary.duplicates += 1;
                continue;
            }
            if let Some(known) = projection::stored_event_json(conn, e.id)? {
                if known != e.canonical_json() {
                    return Err(StoreError::ConflictingEvent { event: e.id });
                }
                summary.duplicates += 1;
                continue;
            }
            if let Some(&i) = seen_ids.get(&e.id) {
                if candidates[i].0.canonical_json() != e.canonical_json() {
                    return Err(StoreError::ConflictingEvent { event: e.id });
                }
                summary.duplicates += 1;
                continue;
            }
            e.check_shape().map_err(|reason| StoreError::Malformed { event: e.id, reason })?;
            // Parsed keys are cached: decoding a key costs about as much as
            // checking a signature, and a bundle holds many events per device.
            let key = match extra_keys.get(&e.device_id).or_else(|| keys.get(&e.device_id)) {
                Some(k) => *k,
                None => {
                    let key_hex = projection::device_key(conn, e.device_id)?
                        .ok_or(StoreError::UnknownDevice { device: e.device_id, event: e.id })?;
                    let k = parse_verifying_key(&key_hex)
                        .map_err(|err| StoreError::Malformed { event: e.id, reason: err.to_string() })?;
                    keys.insert(e.device_id, k);
                    k
                }
            };
            seen_ids.insert(e.id, candidates.len());
            candidates.push((e, key));
        }
        // Pass 2: every signature, in parallel batches, on other threads
        // while the rest is checked here and, with commit_import_checked,
        // while the events are applied.
        let signatures =
            if verify_signatures { PendingSignatures::start(&candidates) } else { PendingSignatures::none() };
        match self.check_rules(candidates, horizon, summary, held, teams) {
            Ok(prepared) => Ok((prepared, signatures)),
            // A bad signature comes first, as when it was checked first.
            Err(e) => Err(signatures.wait().err().unwrap_or(e)),
        }
    }

    /// Pass 3 and the rules of [`CaseStore::prepare_import_overlapped`].
    fn check_rules(
        &self,
        candidates: Vec<(Event, VerifyingKey)>,
        horizon: u64,
        mut summary: ImportSummary,
        held: Option<&BTreeSet<Uuid>>,
        teams: Option<&Teams>,
    ) -> Result<PreparedImport, StoreError> {
        let conn = self.vault.conn();
        let mut fresh: BTreeMap<Uuid, Event> = BTreeMap::new();
        let mut seqs: HashMap<(Uuid, u64), Uuid> = HashMap::new();
        // Pass 3: sequence numbers and clocks.
        for (e, _) in candidates {
            if let Some(existing) = projection::event_at_seq(conn, e.device_id, e.device_seq)? {
                return Err(StoreError::Equivocation { device: e.device_id, seq: e.device_seq, existing, new: e.id });
            }
            if let Some(existing) = seqs.insert((e.device_id, e.device_seq), e.id) {
                return Err(StoreError::Equivocation { device: e.device_id, seq: e.device_seq, existing, new: e.id });
            }
            if e.hlc.millis > horizon {
                return Err(StoreError::FromTheFuture { event: e.id, device: e.device_id, millis: e.hlc.millis });
            }
            if e.device_seq == 0 || i64::try_from(e.device_seq).is_err() || i64::try_from(e.hlc.millis).is_err() {
                return Err(StoreError::Malformed { event: e.id, reason: "device_seq or hlc out of range".into() });
            }
            fresh.insert(e.id, e);
        }
        // Rules, per case, in canonical order over old and new events
        // together. Each case's old events are read here (SQLite stays on
        // this thread); the folds and checks, pure work, run on all cores a
        // chunk of cases at a time (bounding the old events held at once).
        // Results are taken in case order, so the error reported is the one
        // a sequential loop would meet first.
        // Events of a case erased here (from a device that had not heard
        // yet): signature and sequence checked above, no rule, and only
        // their bookkeeping is kept, so the sender's sequence stays whole
        // and it is acknowledged (docs/bundle-format.md §8).
        let mut erased_cases: HashMap<Uuid, bool> = HashMap::new();
        let mut dropped = Vec::new();
        let mut dropped_blobs = Vec::new();
        for e in fresh.values() {
            let erased = match erased_cases.get(&e.case_id) {
                Some(x) => *x,
                None => *erased_cases.entry(e.case_id).or_insert(erasure::is_erased(conn, e.case_id)?),
            };
            if erased {
                dropped.push(erasure::erased_event_entry(e));
                // Its attachment, received with the bundle, goes too.
                if e.kind == EventKind::AttachmentAdded {
                    dropped_blobs.extend(e.payload.get("blob").and_then(Value::as_str).map(str::to_string));
                }
            }
        }
        fresh.retain(|_, e| !erased_cases.get(&e.case_id).copied().unwrap_or(false));
        summary.erased = dropped.len();
        let mut preview = ImportPreview::default();
        let mut new_case_people: BTreeMap<Uuid, CasePerson> = BTreeMap::new();
        let mut refusals: Vec<(Uuid, Refusal)> = Vec::new();
        let mut by_case: BTreeMap<Uuid, Vec<&Event>> = BTreeMap::new();
        for e in fresh.values() {
            by_case.entry(e.case_id).or_default().push(e);
        }
        let cases: Vec<(&Uuid, &Vec<&Event>)> = by_case.iter().collect();
        for chunk in cases.chunks(CHECK_CASES_PER_CHUNK) {
            let mut loaded: Vec<(Uuid, &[&Event], Vec<Event>)> = Vec::with_capacity(chunk.len());
            let mut read_error = None;
            for (case, new_events) in chunk {
                match projection::case_events(conn, **case) {
                    Ok(old) => loaded.push((**case, new_events.as_slice(), old)),
                    Err(e) => {
                        read_error = Some(StoreError::from(e));
                        break;
                    }
                }
            }
            let events: usize = loaded.iter().map(|(_, new, old)| new.len() + old.len()).sum();
            let threads = crate::parallel::threads_for(events, CHECK_EVENTS_PER_THREAD).min(loaded.len());
            // Of a folded case only what the duplicate check needs is kept
            // (and only for new cases): keeping every new case's state held
            // a second copy of the bundle's values until the commit.
            let reg: &forms::FormRegistry = &self.forms;
            let checked = crate::parallel::map_ordered(&loaded, threads, |(case, new, old)| {
                check_case(*case, new, old, held, teams, reg).map(|(state, conflicts, refused)| {
                    (old.is_empty().then(|| CasePerson::from_state(&state)).flatten(), conflicts, refused)
                })
            });
            for ((case, _, old), result) in loaded.iter().zip(checked) {
                let (person, conflicts, refused) = result?;
                preview.conflicts.extend(conflicts);
                refusals.extend(refused);
                if old.is_empty() {
                    preview.new_cases.push(*case);
                    new_case_people.extend(person.map(|p| (*case, p)));
                } else {
                    preview.updated_cases.push(*case);
                }
            }
            if let Some(e) = read_error {
                return Err(e);
            }
        }
        drop(by_case);
        // Set aside what the rules refused (only when quarantining): a case
        // whose every new event was refused gets nothing.
        let mut quarantined = Vec::with_capacity(refusals.len());
        for (id, refusal) in refusals {
            if let Some(e) = fresh.remove(&id) {
                quarantined.push(QuarantinedEvent { event: e, refusal });
            }
        }
        let by_case_ids: Vec<Uuid> = fresh.values().map(|e| e.case_id).collect::<BTreeSet<_>>().into_iter().collect();
        preview.new_cases.retain(|c| by_case_ids.binary_search(c).is_ok());
        preview.updated_cases.retain(|c| by_case_ids.binary_search(c).is_ok());
        new_case_people.retain(|c, _| by_case_ids.binary_search(c).is_ok());
        // Case by case, each case's events in canonical order. A large
        // import is committed in several journal frames cut from this order:
        // in time order instead, every frame held a slice of nearly every
        // case, and each frame re-read, re-folded and re-wrote each case's
        // whole history (an office merging a register ran at about 4,000
        // events/s). The projection of a case depends on its own events
        // only, so the cases' order between them changes no row.
        let mut ordered: Vec<Event> = fresh.into_values().collect();
        ordered.sort_by_key(|e| (e.case_id, e.order_key()));
        summary.new = ordered.len();
        summary.cases = by_case_ids;
        preview.new_events = summary.new;
        preview.known_events = summary.duplicates;
        preview.quarantined = quarantined.len();
        Ok(PreparedImport { events: ordered, dropped, dropped_blobs, summary, preview, new_case_people, quarantined })
    }

    /// Commit a [`PreparedImport`]: `before` (device registrations the
    /// events need), the new events, then `after` (sync bookkeeping). When
    /// everything fits, that is ONE vault commit. A larger import (a journal
    /// frame holds at most 16 MiB) is committed in several frames of at most
    /// [`IMPORT_FRAME_BYTES`] of events, `after` in the last one: every event
    /// was checked before the first frame, so an interrupted import leaves
    /// only verified events, and importing again completes it. Nothing is
    /// committed when there is nothing to commit.
    pub fn commit_import(
        &mut self,
        prepared: PreparedImport,
        before: Vec<Value>,
        after: Vec<Value>,
    ) -> Result<ImportSummary, StoreError> {
        self.commit_import_checked(prepared, PendingSignatures::none(), before, after)
    }

    /// [`CaseStore::commit_import`] of an import prepared by
    /// [`CaseStore::prepare_import_overlapped`] while its signature check
    /// may still run: a multi-frame import is applied meanwhile
    /// ([`Vault::commit_frames_gated`]) and nothing reaches the journal
    /// before the check has passed; if it fails, nothing is committed and
    /// the bad signature is the error. A one-frame import waits for the
    /// check first.
    pub fn commit_import_checked(
        &mut self,
        prepared: PreparedImport,
        signatures: PendingSignatures,
        before: Vec<Value>,
        after: Vec<Value>,
    ) -> Result<ImportSummary, StoreError> {
        let PreparedImport { events, dropped, dropped_blobs, summary, .. } = prepared;
        // The events come case by case: the newest is anywhere.
        let max_hlc = events.iter().map(|e| e.hlc).max();
        let erases = events.iter().any(|e| e.kind == EventKind::CaseErasureApproved);
        let mut before = before;
        before.extend(dropped);
        let mut frames: Vec<Vec<Value>> = vec![before];
        let mut size = 0usize;
        for (v, n) in journal_entries(events) {
            if size + n > IMPORT_FRAME_BYTES && !frames.last().is_some_and(Vec::is_empty) {
                frames.push(Vec::new());
                size = 0;
            }
            size += n;
            frames.last_mut().expect("never empty").push(v);
        }
        frames.last_mut().expect("never empty").extend(after);
        // One automatic checkpoint at most, after the last frame (each frame
        // is still its own fsynced commit).
        let frames: Vec<Vec<Value>> = frames.into_iter().filter(|f| !f.is_empty()).collect();
        // A single frame has nothing to overlap the check with.
        let pending = if frames.len() >= 2 {
            signatures.running()?
        } else {
            signatures.wait()?;
            None
        };
        match pending {
            Some(check) => self.vault.commit_frames_gated(frames, Some(check)).map_err(|e| match e {
                crate::vault::GatedCommitError::Refused(e) => e,
                crate::vault::GatedCommitError::GateStopped => StoreError::CheckStopped("signature"),
                crate::vault::GatedCommitError::Vault(e) => e.into(),
            })?,
            None => self.vault.commit_frames(frames)?,
        }
        if let Some(h) = max_hlc {
            self.clock.observe(h);
        }
        // Blob ids are random per attachment: these belong to the erased
        // case only. A crash before this leaves an unreferenced blob file.
        for blob in &dropped_blobs {
            self.vault.delete_blob(blob)?;
        }
        if erases {
            self.finish_erasures()?;
        }
        // An office bundle brings its roster in the same commit.
        self.refresh_team()?;
        Ok(summary)
    }

    /// Commit sync bookkeeping entries ([`projection::sync_put_entry`],
    /// [`projection::device_entry`]) in one vault commit.
    pub(crate) fn commit_sync_entries(&mut self, entries: Vec<Value>) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        self.vault.commit(entries)?;
        // The entries may hold a new roster.
        self.refresh_team()
    }

    /// Commit a checked country configuration and validate from now on
    /// against its lists.
    pub(crate) fn commit_config(&mut self, entry: Value) -> Result<(), StoreError> {
        self.vault.commit(vec![entry])?;
        self.reload_forms()
    }

    /// Validate from now on against the configuration the vault holds.
    pub(crate) fn reload_forms(&mut self) -> Result<(), StoreError> {
        self.forms = crate::country::registry_in(self.vault.conn())?;
        self.follow_up = crate::country::follow_up_in(self.vault.conn())?;
        Ok(())
    }

    /// The forms with the lists of the effective country configuration.
    pub fn forms(&self) -> &forms::FormRegistry {
        &self.forms
    }

    /// Check the next events against these forms (an import whose bundle
    /// carries a newer configuration, before it is committed); returns the
    /// forms used until now.
    pub(crate) fn swap_forms(
        &mut self,
        forms: std::sync::Arc<forms::FormRegistry>,
    ) -> std::sync::Arc<forms::FormRegistry> {
        std::mem::replace(&mut self.forms, forms)
    }
}

/// Each event as a journal entry with the length of its JSON text. Pure
/// work on large imports, so it is split across the cores; the order is the
/// events' order.
fn journal_entries(events: Vec<Event>) -> Vec<(Value, usize)> {
    fn one(e: Event) -> (Value, usize) {
        let v = event_value(e);
        let n = json_len(&v);
        (v, n)
    }
    let threads = crate::parallel::threads_for(events.len(), 1024);
    crate::parallel::map_owned_ordered(events, threads, one)
}

/// [`Event::to_json`] of an event given up: its payload, author, form and
/// signature move into the value instead of being copied (the same value;
/// a test compares them). An office import turns every event into a
/// journal entry, and the copy was a large part of that.
fn event_value(e: Event) -> Value {
    let Event { id, case_id, device_id, device_seq, hlc, author, role, kind, form, payload, base, sig } = e;
    let mut m = Map::new();
    m.insert("id".into(), Value::String(id.to_string()));
    m.insert("case_id".into(), Value::String(case_id.to_string()));
    m.insert("device_id".into(), Value::String(device_id.to_string()));
    m.insert("device_seq".into(), Value::from(device_seq));
    let mut h = Map::new();
    h.insert("millis".into(), Value::from(hlc.millis));
    h.insert("counter".into(), Value::from(hlc.counter));
    m.insert("hlc".into(), Value::Object(h));
    m.insert("author".into(), Value::String(author));
    m.insert("role".into(), Value::String(role.as_str().to_owned()));
    m.insert("kind".into(), Value::String(kind.as_str().to_owned()));
    m.insert("form".into(), form.map_or(Value::Null, Value::String));
    m.insert("payload".into(), payload);
    m.insert("base".into(), Value::Array(base.iter().map(|b| Value::String(b.to_string())).collect()));
    m.insert("sig".into(), Value::String(sig));
    Value::Object(m)
}

/// Length of a value's JSON text, without building the text.
fn json_len(v: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    // Writing a Value to a sink that never fails cannot fail.
    let _ = serde_json::to_writer(&mut c, v);
    c.0
}

/// A conflict (field with several heads) a preview reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictPreview {
    /// Case.
    pub case: Uuid,
    /// Form.
    pub form: String,
    /// List item.
    pub item: Option<Uuid>,
    /// Field.
    pub field: String,
    /// Number of heads.
    pub heads: usize,
    /// Protected field: needs a person, never picked automatically.
    pub protected: bool,
}

/// What an import would change (see [`CaseStore::prepare_import`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportPreview {
    /// Cases this vault did not have.
    pub new_cases: Vec<Uuid>,
    /// Cases that get new events.
    pub updated_cases: Vec<Uuid>,
    /// Events new to this vault.
    pub new_events: usize,
    /// Events already known (skipped).
    pub known_events: usize,
    /// Fields with several heads in the affected cases after the import.
    pub conflicts: Vec<ConflictPreview>,
    /// Events the rules refused, set aside in quarantine instead of
    /// applied (only an import that quarantines; see
    /// [`CaseStore::prepare_import_quarantining`]).
    #[serde(default)]
    pub quarantined: usize,
}

/// Cases whose old events [`CaseStore::prepare_import`] holds at once.
const CHECK_CASES_PER_CHUNK: usize = 4096;

/// Below this many events per thread the rule check stays on one thread.
const CHECK_EVENTS_PER_THREAD: usize = 512;

/// Fold one case's old and new events in canonical order, checking each new
/// event against the state before it (the rule check of
/// [`CaseStore::prepare_import`]). Returns the folded state and the
/// conflicts it has.
///
/// With `held` (the events already in quarantine), a new event the rules
/// refuse is returned with its [`Refusal`] instead of failing the case, and
/// is not applied; a new event whose base names a refused or held event is
/// refused too (it was made on top of a change this vault does not apply).
/// Without it, the first refusal is the error.
#[allow(clippy::type_complexity)]
fn check_case(
    case: Uuid,
    new_events: &[&Event],
    old: &[Event],
    held: Option<&BTreeSet<Uuid>>,
    teams: Option<&Teams>,
    reg: &forms::FormRegistry,
) -> Result<(CaseState, Vec<ConflictPreview>, Vec<(Uuid, Refusal)>), StoreError> {
    let check = |state: &CaseState, e: &Event, live: &mut LiveFacts| {
        check_team(state, e, teams)?;
        check_event_with(reg, state, e, live)
    };
    let new_ids: BTreeSet<Uuid> = new_events.iter().map(|e| e.id).collect();
    let mut all: Vec<&Event> = old.iter().chain(new_events.iter().copied()).collect();
    all.sort_by_key(|e| e.order_key());
    let mut state = CaseState::new(case);
    let mut live = LiveFacts::default();
    let mut refused: Vec<(Uuid, Refusal)> = Vec::new();
    let mut refused_ids: BTreeSet<Uuid> = BTreeSet::new();
    for e in all {
        if new_ids.contains(&e.id) {
            let Some(held) = held else {
                check(&state, e, &mut live)?;
                state.apply(e);
                live.applied(&state, e);
                continue;
            };
            let on_refused = e.base.iter().find(|b| refused_ids.contains(b) || held.contains(b));
            let refusal = match on_refused {
                Some(b) => Some(Refusal::depends_on(*b)),
                None => match check(&state, e, &mut live) {
                    Ok(()) => None,
                    Err(err) => Some(Refusal::from_rule_error(&err).ok_or(err)?),
                },
            };
            if let Some(r) = refusal {
                refused_ids.insert(e.id);
                refused.push((e.id, r));
                continue;
            }
        }
        state.apply(e);
        live.applied(&state, e);
    }
    let mut conflicts = Vec::new();
    for (key, register) in &state.registers {
        let heads = register.heads().len();
        if heads > 1 {
            conflicts.push(ConflictPreview {
                case,
                form: key.form.clone(),
                item: key.item,
                field: key.field.clone(),
                heads,
                protected: is_protected(&key.form, &key.field),
            });
        }
    }
    let stage = state.stage_view();
    if stage.in_conflict {
        conflicts.push(ConflictPreview {
            case,
            form: projection::STAGE_FORM.into(),
            item: None,
            field: projection::STAGE_FIELD.into(),
            heads: stage.heads.len(),
            protected: true,
        });
    }
    Ok((state, conflicts, refused))
}

/// Authority follows visibility (docs/visibility.md §7): a supervisor
/// whose signer id `teams` puts in a team acts only on that team's cases,
/// judged on the case as it stands before the event. A registration, and
/// an event of a case not registered here (an erasure the office sends to
/// every device), has no team yet to judge by.
fn check_team(state: &CaseState, e: &Event, teams: Option<&Teams>) -> Result<(), StoreError> {
    let Some(team) = teams.and_then(|t| t.by_signer.get(&e.device_id)) else { return Ok(()) };
    if e.role != Role::Supervisor || e.kind == EventKind::CaseRegistered || state.registration.is_none() {
        return Ok(());
    }
    if team.covers(&CaseAccess::of_state(state)) {
        Ok(())
    } else {
        Err(StoreError::Hidden { case: e.case_id.to_string(), reason: HiddenReason::NotInTeam })
    }
}

/// An imported event the receiver's rules refused, held in quarantine.
#[derive(Debug, Clone)]
pub struct QuarantinedEvent {
    /// The event, as signed by its origin (signature checked).
    pub event: Event,
    /// Why.
    pub refusal: Refusal,
}

/// Checked events ready to commit.
#[derive(Debug, Clone)]
pub struct PreparedImport {
    events: Vec<Event>,
    /// `event.erased` entries for the events of erased cases.
    dropped: Vec<Value>,
    /// Blobs of the dropped events' attachments (deleted after the commit).
    dropped_blobs: Vec<String>,
    summary: ImportSummary,
    /// What committing would change.
    pub preview: ImportPreview,
    /// Who each new case is about, for the duplicate check (taken from
    /// the state the rule check folds anyway).
    new_case_people: BTreeMap<Uuid, CasePerson>,
    /// The events the rules refused, not applied (only from
    /// [`CaseStore::prepare_import_quarantining`]; the caller keeps them).
    pub quarantined: Vec<QuarantinedEvent>,
}

impl PreparedImport {
    /// The person of each case new to this vault that has one (a
    /// registration, not erased): [`CasePerson::from_state`] of the case
    /// folded from its imported events.
    pub fn new_case_people(&self) -> &BTreeMap<Uuid, CasePerson> {
        &self.new_case_people
    }

    /// What the import would commit, summed up.
    pub fn summary(&self) -> &ImportSummary {
        &self.summary
    }

    /// The ids of the events committing would apply.
    pub(crate) fn event_ids(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.events.iter().map(|e| e.id)
    }

    /// Add the outcome of another part of the same import, checked after
    /// this one: an import read case by case sums its parts' previews,
    /// quarantine and new people, and keeps no events (the parts' events
    /// are committed part by part). Cases are disjoint between parts.
    pub(crate) fn absorb_outcome(&mut self, part: PreparedImport) {
        let PreparedImport { events: _, dropped, dropped_blobs, summary, preview, new_case_people, quarantined } = part;
        self.dropped.extend(dropped);
        self.dropped_blobs.extend(dropped_blobs);
        self.summary.absorb(summary);
        self.preview.new_cases.extend(preview.new_cases);
        self.preview.updated_cases.extend(preview.updated_cases);
        self.preview.new_events += preview.new_events;
        self.preview.known_events += preview.known_events;
        self.preview.conflicts.extend(preview.conflicts);
        self.preview.quarantined += preview.quarantined;
        self.new_case_people.extend(new_case_people);
        self.quarantined.extend(quarantined);
    }

    /// An empty outcome, to sum parts into.
    pub(crate) fn empty() -> PreparedImport {
        PreparedImport {
            events: Vec::new(),
            dropped: Vec::new(),
            dropped_blobs: Vec::new(),
            summary: ImportSummary::default(),
            preview: ImportPreview::default(),
            new_case_people: BTreeMap::new(),
            quarantined: Vec::new(),
        }
    }
}

impl ImportSummary {
    /// Add the summary of another part of the same import (its cases are
    /// not among these).
    pub(crate) fn absorb(&mut self, part: ImportSummary) {
        self.received += part.received;
        self.new += part.new;
        self.duplicates += part.duplicates;
        self.erased += part.erased;
        self.cases.extend(part.cases);
    }
}

/// The signature check of an import running on another thread (see
/// [`CaseStore::prepare_import_overlapped`]).
#[must_use = "an import is checked only once its signatures are: wait for them or commit with them"]
#[derive(Debug)]
pub struct PendingSignatures {
    state: SignatureState,
}

#[derive(Debug)]
enum SignatureState {
    /// Checked already (or nothing to check), with this outcome.
    Done(Result<(), StoreError>),
    /// Running on its own thread.
    Running(std::thread::JoinHandle<Result<(), StoreError>>),
}

impl PendingSignatures {
    /// No check pending (it was done, or there was nothing to check).
    pub(crate) fn none() -> PendingSignatures {
        PendingSignatures { state: SignatureState::Done(Ok(())) }
    }

    /// Start checking every candidate's signature. The signing bytes are
    /// taken out of the events here (on all cores), so the events can move
    /// on while the check runs. If no thread can be started, the check is
    /// done here and now.
    fn start(candidates: &[(Event, VerifyingKey)]) -> PendingSignatures {
        use crate::model::signatures::{checks_of, verify_checks, SignatureCheck};
        if candidates.is_empty() {
            return PendingSignatures::none();
        }
        let checks = std::sync::Arc::new(checks_of(candidates));
        let check = |checks: &[SignatureCheck]| {
            verify_checks(checks).map_err(|(event, reason)| StoreError::BadSignature { event, reason })
        };
        let theirs = std::sync::Arc::clone(&checks);
        let state = match std::thread::Builder::new().name("import-signatures".into()).spawn(move || check(&theirs)) {
            Ok(handle) => SignatureState::Running(handle),
            Err(_) => SignatureState::Done(check(&checks)),
        };
        PendingSignatures { state }
    }

    /// The thread still checking, if any; `Err` if the check is done and
    /// failed.
    fn running(self) -> Result<Option<std::thread::JoinHandle<Result<(), StoreError>>>, StoreError> {
        match self.state {
            SignatureState::Done(result) => result.map(|()| None),
            SignatureState::Running(handle) => Ok(Some(handle)),
        }
    }

    /// Wait for the check: `Err(BadSignature)` names the first event (in
    /// the order given) whose signature does not verify.
    pub fn wait(self) -> Result<(), StoreError> {
        match self.running()? {
            None => Ok(()),
            Some(h) => h.join().unwrap_or(Err(StoreError::CheckStopped("signature"))),
        }
    }
}

/// One stage a case may move to next ([`CaseStore::next_steps`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NextStep {
    /// The stage.
    pub to: Stage,
    /// The roles the lifecycle table lets make the move.
    pub roles: Vec<Role>,
    /// Why the reader cannot make it now (empty: allowed).
    pub blocked_by: Vec<lifecycle::RuleViolation>,
}

/// The largest attachment a case takes: what a bundle carries
/// (`sync::format::MAX_ATTACHMENT_BYTES` is this limit), so an attachment
/// never stays on the device that added it.
pub const MAX_ATTACHMENT_BYTES: u64 = 20 * 1024 * 1024;

/// Most bytes of event JSON [`CaseStore::commit_import`] puts in one journal
/// frame (the frame limit is 16 MiB of ciphertext; this leaves room).
pub const IMPORT_FRAME_BYTES: usize = 4 * 1024 * 1024;

/// How far ahead of this machine's clock an imported event may be stamped.
pub const MAX_CLOCK_AHEAD_MS: u64 = 24 * 60 * 60 * 1000;

/// The summary columns (0–16) and, after them, the facts that decide who
/// sees the case ([`access_row`]: 17–18). The registration is the first
/// stage change; a case is on the panel's agenda once it entered
/// [`visibility::PANEL_STAGE`].
const SUMMARY_SELECT: &str = "SELECT id, case_number, case_type, office, stage, stage_before, caseworker, risk_level,
    given_names, family_name, sex, age_years, date_of_birth, needs_review, conflicts, updated_millis, updated_counter,
    (SELECT s.author FROM stage_history s WHERE s.case_id = cases.id ORDER BY s.seq LIMIT 1),
    EXISTS (SELECT 1 FROM stage_history s WHERE s.case_id = cases.id AND s.to_stage = 'bid_pending')
    FROM cases";

/// The condition that keeps tracing inquiries (`model::inquiry`) out of the
/// views of the cases of children.
const NOT_INQUIRY: &str = "case_type <> 'inquiry'";

fn access_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CaseAccess> {
    Ok(CaseAccess { caseworker: r.get(6)?, registered_by: r.get(17)?, submitted_to_panel: r.get::<_, i64>(18)? != 0 })
}

/// A summary with the person columns withheld when the reader may not see
/// them.
fn mask_summary(mut s: CaseSummary, reader: Reader<'_>) -> CaseSummary {
    if let Some(reason) = reader.identity() {
        s.given_names = None;
        s.family_name = None;
        s.date_of_birth = None;
        s.sex = None;
        s.age_years = None;
        s.risk_level = None;
        if reason == HiddenReason::AggregatesOnly {
            s.caseworker = None;
        }
        s.hidden = Some(reason);
    }
    s
}

fn summary_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CaseSummary> {
    let age: Option<String> = r.get(11)?;
    Ok(CaseSummary {
        id: uuid_col(r.get(0)?)?,
        case_number: r.get(1)?,
        case_type: r.get(2)?,
        office: r.get(3)?,
        stage: r.get(4)?,
        stage_before: r.get(5)?,
        caseworker: r.get(6)?,
        risk_level: r.get(7)?,
        given_names: r.get(8)?,
        family_name: r.get(9)?,
        sex: r.get(10)?,
        age_years: age.and_then(|a| a.parse::<f64>().ok()),
        date_of_birth: r.get(12)?,
        needs_review: r.get::<_, i64>(13)? != 0,
        conflicts: r.get::<_, i64>(14)? as u32,
        updated: Hlc { millis: r.get::<_, i64>(15)? as u64, counter: r.get(16)? },
        hidden: None,
    })
}

fn uuid_col(s: String) -> rusqlite::Result<Uuid> {
    Uuid::parse_str(&s)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

fn json_col(s: &str) -> rusqlite::Result<Value> {
    serde_json::from_str(s)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

fn date_of(millis: u64) -> chrono::NaiveDate {
    chrono::DateTime::from_timestamp_millis(i64::try_from(millis).unwrap_or(i64::MAX))
        .map(|d| d.date_naive())
        .unwrap_or_default()
}

fn stage_of(name: &str) -> Option<Stage> {
    serde_json::from_value(Value::String(name.to_string())).ok()
}

/// The wire name of a stage (`"bid_pending"`, …).
pub fn stage_name(stage: Stage) -> String {
    match serde_json::to_value(stage) {
        Ok(Value::String(s)) => s,
        _ => format!("{stage:?}"),
    }
}

/// Build the lifecycle rules' view of a case from its folded state.
pub fn to_facts(state: &CaseState) -> Result<CaseFacts, StoreError> {
    let reg = state.registration.as_ref().ok_or_else(|| StoreError::NotFound { case: state.case_id.to_string() })?;
    let stage = stage_facts(&state.stage_view()).ok_or_else(|| StoreError::Malformed {
        event: state.stage_history.last().map_or(Uuid::nil(), |c| c.event),
        reason: format!("unknown stage {:?}", state.stage.as_deref().unwrap_or("identified")),
    })?;
    let mut values = BTreeMap::new();
    for (key, register) in &state.registers {
        if key.item.is_some() {
            continue;
        }
        if let Some(w) = register.newest() {
            if !w.value.is_null() {
                values.insert(format!("{}.{}", key.form, key.field), w.value.clone());
            }
        }
    }
    let mut items: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (form, item) in state.items.keys() {
        items.entry(form.clone()).or_default().push(Value::Null);
        let _ = item;
    }
    for (form, list) in items.iter_mut() {
        *list = state
            .items_of(form)
            .into_iter()
            .map(|(id, _)| {
                let mut values = state.item_values(form, id);
                // The rules merge an item edit with the item's earlier values by this id.
                values.insert("_item".into(), Value::String(id.to_string()));
                Value::Object(values)
            })
            .collect();
    }
    let StageFacts { stage, stage_before, stage_dates, stage_conflict } = stage;
    Ok(CaseFacts {
        case_id: state.case_id,
        case_type: reg.case_type.clone(),
        stage,
        stage_before,
        values,
        items,
        stage_dates,
        stage_conflict,
        access: CaseAccess::of_state(state),
    })
}

/// The stage part of [`CaseFacts`].
#[derive(Debug, PartialEq)]
struct StageFacts {
    stage: Stage,
    stage_before: Option<Stage>,
    stage_dates: Vec<(Stage, chrono::NaiveDate)>,
    stage_conflict: Vec<lifecycle::StageHead>,
}

impl StageFacts {
    fn differs_from(&self, f: &CaseFacts) -> bool {
        self.stage != f.stage
            || self.stage_before != f.stage_before
            || self.stage_dates != f.stage_dates
            || self.stage_conflict != f.stage_conflict
    }

    fn put_into(self, f: &mut CaseFacts) {
        f.stage = self.stage;
        f.stage_before = self.stage_before;
        f.stage_dates = self.stage_dates;
        f.stage_conflict = self.stage_conflict;
    }
}

/// The rules' view of a stage view: the effective stage (None when it is
/// not a known stage), the dates of the changes that apply, and the heads
/// when they conflict.
fn stage_facts(view: &projection::StageView<'_>) -> Option<StageFacts> {
    let stage = stage_of(view.stage().unwrap_or("identified"))?;
    let stage_conflict = if view.in_conflict {
        view.heads
            .iter()
            .filter_map(|h| Some(lifecycle::StageHead { event: h.event, stage: stage_of(&h.to)?, role: h.role }))
            .collect()
    } else {
        Vec::new()
    };
    Some(StageFacts {
        stage,
        stage_before: view.stage_before().and_then(stage_of),
        stage_dates: view.path.iter().filter_map(|c| stage_of(&c.to).map(|s| (s, date_of(c.hlc.millis)))).collect(),
        stage_conflict,
    })
}

/// Role and form checks that do not depend on the lifecycle rules, then the
/// lifecycle rules. `state` is the case before `e`.
fn check_event(reg: &forms::FormRegistry, state: &CaseState, e: &Event) -> Result<(), StoreError> {
    check_event_with(reg, state, e, &mut LiveFacts::default())
}

/// [`check_event`] with the case's facts kept by the caller across the
/// events of a fold (an import checks every event of a case in turn).
fn check_event_with(
    reg: &forms::FormRegistry,
    state: &CaseState,
    e: &Event,
    live: &mut LiveFacts,
) -> Result<(), StoreError> {
    if e.role == Role::Viewer {
        return Err(StoreError::Forbidden { role: e.role, action: format!("record {}", e.kind) });
    }
    if e.kind == EventKind::CaseRegistered {
        // Registering a child is recording case data (a caseworker or a
        // supervisor); the panel, the data manager and the viewer open no case.
        if !roles::may(e.role, roles::Action::RecordCaseData) {
            return Err(StoreError::Forbidden { role: e.role, action: "register a case".into() });
        }
        return if state.registration.is_none() && state.event_count == 0 {
            Ok(())
        } else {
            Err(StoreError::Malformed { event: e.id, reason: "case is already registered".into() })
        };
    }
    if erasure::is_erasure_kind(e.kind) {
        // Checked against the request the author saw; a device may receive
        // the erasure of a case it never held (the office sends erasures to
        // every device), so no registration is needed.
        return erasure::check(state.erasure_request.as_ref(), state.erased, e)
            .map_err(|violations| StoreError::RuleViolated { violations });
    }
    if state.registration.is_none() {
        return Err(StoreError::NotFound { case: e.case_id.to_string() });
    }
    match e.kind {
        EventKind::FormSaved | EventKind::NoteAdded | EventKind::VisitRecorded | EventKind::ReferralMade => {
            let form = e.form.as_deref().unwrap_or_default();
            let values = e.payload.get("values").and_then(Value::as_object).cloned().unwrap_or_default();
            validate(reg, form, &values)?;
        }
        EventKind::ConflictResolved if projection::is_stage_resolution(e) => {}
        EventKind::ConflictResolved => {
            let s = |k: &str| e.payload.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            let (form, field) = (s("form"), s("field"));
            let mut one = Map::new();
            one.insert(field.clone(), e.payload.get("value").cloned().unwrap_or(Value::Null));
            validate(reg, &form, &one)?;
            let protected = is_protected(&form, &field);
            if !roles::may_resolve(e.role, roles::ConflictSubject::Field { form: &form, protected }) {
                return Err(StoreError::Forbidden {
                    role: e.role,
                    action: format!(
                        "resolve a conflict on {}field {form}.{field}",
                        if protected { "protected " } else { "" }
                    ),
                });
            }
            check_field_resolution(state, e, &form, &field, protected)?;
        }
        _ => {}
    }
    let facts = seen_by(Cow::Borrowed(live.get(state)?), state, e);
    if projection::is_stage_resolution(e)
        && !facts.stage_conflict.is_empty()
        && !lifecycle::stage_resolvers(&facts).contains(&e.role)
    {
        return Err(StoreError::Forbidden { role: e.role, action: "resolve a stage conflict".into() });
    }
    lifecycle::check(&facts, e).map_err(|violations| StoreError::RuleViolated { violations })
}

/// The rule the conflict screens used to keep to themselves, here so that
/// every interface and every import keeps it: a `conflict.resolved` of a
/// field settles a conflict its author saw (its base names at least two
/// writes of the field) and, when it names the value it keeps
/// (`payload.chosen`), that value is one of those writes with exactly its
/// value. A protected field is only ever settled by choosing one of the
/// values in conflict; a normal field may also be given a typed value.
fn check_field_resolution(
    state: &CaseState,
    e: &Event,
    form: &str,
    field: &str,
    protected: bool,
) -> Result<(), StoreError> {
    let item = e.payload.get("item").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok());
    let named: Vec<&projection::Write> = state
        .register(form, item, field)
        .map(|r| r.writes.values().filter(|w| e.base.contains(&w.event)).collect())
        .unwrap_or_default();
    if named.len() < 2 {
        return Err(StoreError::NoConflict { form: form.to_string(), field: field.to_string() });
    }
    let violation = |code| StoreError::RuleViolated {
        violations: vec![lifecycle::RuleViolation::new("conflict", code, &[("form", &form), ("field", &field)])],
    };
    match projection::chosen_head(e) {
        Some(chosen) => match named.iter().find(|w| w.event == chosen) {
            None => Err(StoreError::NotAHead { form: form.to_string(), field: field.to_string(), event: chosen }),
            Some(w) if Some(&w.value) != e.payload.get("value") => {
                Err(violation(crate::model::violation::ViolationCode::ResolutionValueNotHead))
            }
            Some(_) => Ok(()),
        },
        None if protected => Err(violation(crate::model::violation::ViolationCode::ProtectedFieldNeedsChoice)),
        None => Ok(()),
    }
}

/// The facts of a case ([`to_facts`]) kept current through a fold, so that
/// checking each event of an import does not rebuild them from the whole
/// state: after each event only the fields it wrote, the items it created
/// or changed and, when the stage changed, the stage facts are updated.
/// Debug builds compare the result with [`to_facts`] after every event.
#[derive(Default)]
struct LiveFacts {
    /// `to_facts(state)`, once built (None until the first check needs it,
    /// or after a stage that [`to_facts`] refuses: it is then rebuilt, and
    /// fails, where a fresh build would).
    facts: Option<CaseFacts>,
    /// Stage changes folded into `facts`.
    stage_len: usize,
}

impl LiveFacts {
    fn get(&mut self, state: &CaseState) -> Result<&CaseFacts, StoreError> {
        if self.facts.is_none() {
            self.facts = Some(to_facts(state)?);
            self.stage_len = state.stage_history.len();
        }
        Ok(self.facts.as_ref().expect("built above"))
    }

    /// Bring the facts up to date after `state.apply(e)`.
    fn applied(&mut self, state: &CaseState, e: &Event) {
        let Some(facts) = self.facts.as_mut() else { return };
        if self.stage_len != state.stage_history.len() {
            // A stage write can shorten or switch the path (a fork, a
            // resolution): the stage facts are recomputed, which is cheap.
            let Some(stage) = stage_facts(&state.stage_view()) else {
                self.facts = None;
                return;
            };
            stage.put_into(facts);
            self.stage_len = state.stage_history.len();
            facts.access = CaseAccess::of_state(state);
        } else if e.kind == EventKind::CaseAssigned {
            facts.access = CaseAccess::of_state(state);
        }
        // Only registers `e` wrote can have a new newest head.
        let mut touched: BTreeSet<(&str, Uuid)> = BTreeSet::new();
        for (key, register) in &state.registers {
            if !register.writes.contains_key(&e.id) {
                continue;
            }
            match key.item {
                None => {
                    let name = format!("{}.{}", key.form, key.field);
                    match register.newest().filter(|w| !w.value.is_null()) {
                        Some(w) => {
                            facts.values.insert(name, w.value.clone());
                        }
                        None => {
                            facts.values.remove(&name);
                        }
                    }
                }
                Some(item) => {
                    touched.insert((&key.form, item));
                }
            }
        }
        // Items `e` created, also those it wrote no field of.
        for ((form, item), info) in &state.items {
            if info.created_event == e.id {
                touched.insert((form, *item));
            }
        }
        for (form, item) in touched {
            refresh_item(facts, state, form, item);
        }
        debug_assert_eq!(Some(&*facts), to_facts(state).ok().as_ref(), "live facts drifted from to_facts");
    }
}

/// Put the current values of one item into `facts.items` (as [`to_facts`]
/// lists them: items of a form in creation order, each with `_item`).
fn refresh_item(facts: &mut CaseFacts, state: &CaseState, form: &str, item: Uuid) {
    // Registers of an item that was never created (a conflict.resolved
    // naming an unknown item) are not listed, as in `to_facts`.
    if !state.items.contains_key(&(form.to_string(), item)) {
        return;
    }
    let id = Value::String(item.to_string());
    let mut values = state.item_values(form, item);
    values.insert("_item".into(), id.clone());
    let list = facts.items.entry(form.to_string()).or_default();
    if let Some(slot) = list.iter_mut().find(|v| v.get("_item") == Some(&id)) {
        *slot = Value::Object(values);
        return;
    }
    // A new item: the fold is in canonical order, so it was created after
    // the form's other items and goes last. Anything else (not expected)
    // rebuilds the form's list as `to_facts` orders it.
    let created = |v: &Value| {
        let id = v.get("_item").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok())?;
        state.items.get(&(form.to_string(), id)).map(|info| info.created)
    };
    let after_last = match (list.last(), state.items.get(&(form.to_string(), item))) {
        (None, _) => true,
        (Some(last), Some(info)) => created(last).is_some_and(|c| c < info.created),
        (Some(_), None) => false,
    };
    list.push(Value::Object(values));
    if !after_last || list.len() != state.items.keys().filter(|(f, _)| f == form).count() {
        let order: Vec<Uuid> = state.items_of(form).into_iter().map(|(id, _)| id).collect();
        *list = order
            .into_iter()
            .map(|id| {
                let mut values = state.item_values(form, id);
                values.insert("_item".into(), Value::String(id.to_string()));
                Value::Object(values)
            })
            .collect();
    }
}

/// The facts a rule check of `e` uses: the case before `e`, except that each
/// field `e` writes has the value its author replaced (the newest write named
/// in `e.base`, or no value), not whatever a concurrent device wrote. Rules
/// about a value's change ("lowering the risk level from high needs a
/// supervisor") then judge what the author actually changed, so two devices
/// that wrote concurrently are each judged on their own edit, whatever order
/// their events arrive in. For a locally created event the base is the
/// current heads, so this is the current case.
///
/// Likewise the stage: every event names in its base the stage event its
/// author saw ([`CaseState::stage_head`]); the rules judge it against that
/// stage, so an edit made offline before another device closed (or merged,
/// or moved) the case is not refused when the two meet, and two devices
/// making the same move concurrently are both accepted. Events that name no
/// stage event are judged against the current stage.
///
/// `facts` are the current case's facts; they are copied only when what
/// `e`'s author saw differs from them.
fn seen_by<'a>(mut facts: Cow<'a, CaseFacts>, state: &CaseState, e: &Event) -> Cow<'a, CaseFacts> {
    if !state.saw_current_stage(&e.base) {
        if let Some(seen) = state.stage_seen_by(&e.base).as_ref().and_then(stage_facts) {
            if seen.differs_from(&facts) {
                seen.put_into(facts.to_mut());
            }
        }
    }
    if e.kind != EventKind::FormSaved || e.item().is_some() {
        return facts;
    }
    let (Some(form), Some(values)) = (e.form.as_deref(), e.payload.get("values").and_then(Value::as_object)) else {
        return facts;
    };
    for field in values.keys() {
        let key = format!("{form}.{field}");
        let seen = state
            .register(form, None, field)
            .and_then(|r| r.writes.values().filter(|w| e.base.contains(&w.event)).max_by_key(|w| w.key));
        match seen {
            Some(w) if !w.value.is_null() => {
                if facts.values.get(&key) != Some(&w.value) {
                    facts.to_mut().values.insert(key, w.value.clone());
                }
            }
            _ => {
                if facts.values.contains_key(&key) {
                    facts.to_mut().values.remove(&key);
                }
            }
        }
    }
    facts
}

/// Who may settle a conflict on a protected field of `form`: a supervisor;
/// for the BID form, the BID panel. Never a data manager (see
/// [`roles::may_resolve`]).
pub fn may_resolve_protected(role: Role, form: &str) -> bool {
    roles::may_resolve(role, roles::ConflictSubject::Field { form, protected: true })
}

/// The next `device_seq` of signer `id`: one past the highest it has signed.
/// The next `device_seq` of signer `id`: above every sequence it ever used,
/// including erased events (an erased event keeps its sequence number:
/// never signed again) and withdrawn ones (the office holds that event,
/// docs/bundle-format.md §6.1).
fn next_seq_of(conn: &rusqlite::Connection, id: Uuid) -> Result<u64, StoreError> {
    let max_seq: Option<i64> = conn.query_row(
        "SELECT MAX(s) FROM (SELECT MAX(device_seq) AS s FROM events WHERE device_id = ?1
           UNION ALL SELECT MAX(device_seq) FROM erased_events WHERE device_id = ?1)",
        [id.to_string()],
        |r| r.get(0),
    )?;
    let withdrawn = projection::max_withdrawn_seq(conn, id)?;
    let max_seq = max_seq.map(|s| s.max(0) as u64).max(withdrawn);
    Ok(max_seq.map_or(1, |s| s + 1))
}

fn validate(reg: &forms::FormRegistry, form: &str, values: &Map<String, Value>) -> Result<(), StoreError> {
    let def = reg.get(form).ok_or_else(|| StoreError::UnknownForm { form: form.to_string() })?;
    forms::validate_values(def, values).map_err(|errors| StoreError::Invalid { errors })
}

/// Several local changes committed as one vault commit. Changes are checked
/// as they are added, against the case as it will be after the earlier
/// changes of the batch. Dropping a batch without [`Batch::commit`] discards
/// it.
pub struct Batch<'a> {
    store: &'a mut CaseStore,
    clock: HlcClock,
    next_seq: u64,
    events: Vec<Event>,
    states: HashMap<Uuid, CaseState>,
    numbers: HashMap<String, u32>,
    /// The person recording has been found allowed to record
    /// ([`CaseStore::check_may_record`], asked once per batch).
    may_record: bool,
}

impl Batch<'_> {
    /// Number of events waiting to be committed.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Set the clock (see [`CaseStore::set_clock`]) for the following changes.
    pub fn set_clock(&mut self, millis: Option<u64>) {
        self.clock.set_clock(millis);
        self.store.clock.set_clock(millis);
    }

    /// Act as another user (see [`CaseStore::set_actor`]).
    pub fn set_actor(&mut self, user: &str, role: Role) -> Result<(), StoreError> {
        self.store.set_actor(user, role)
    }

    /// Commit every change in one vault commit.
    pub fn commit(self) -> Result<(), StoreError> {
        if self.events.is_empty() {
            return Ok(());
        }
        let entries = self.events.iter().map(Event::to_json).collect();
        let erases = self.events.iter().any(|e| e.kind == EventKind::CaseErasureApproved);
        self.store.vault.commit(entries)?;
        self.store.clock = self.clock;
        self.store.next_seq = self.next_seq;
        if erases {
            self.store.finish_erasures()?;
        }
        Ok(())
    }

    /// Commit every change together with sync bookkeeping entries (from
    /// `sync`), in one vault commit: a request to a partner and its record,
    /// or an imported answer and the mark that it was imported, are both
    /// written or neither.
    pub(crate) fn commit_with(self, sync: Vec<Value>) -> Result<(), StoreError> {
        if self.events.iter().any(|e| e.kind == EventKind::CaseErasureApproved) {
            return Err(StoreError::Malformed {
                event: Uuid::nil(),
                reason: "an erasure is committed on its own".into(),
            });
        }
        let mut entries: Vec<Value> = self.events.iter().map(Event::to_json).collect();
        entries.extend(sync);
        if entries.is_empty() {
            return Ok(());
        }
        self.store.vault.commit(entries)?;
        self.store.clock = self.clock;
        self.store.next_seq = self.next_seq;
        Ok(())
    }

    fn state(&mut self, case: Uuid) -> Result<&CaseState, StoreError> {
        if !self.states.contains_key(&case) {
            let state = self.store.case_state(case)?;
            self.states.insert(case, state);
        }
        Ok(&self.states[&case])
    }

    /// Refuse a change to a case the acting person may not see, or to a
    /// restricted note of someone else (docs/visibility.md): the error
    /// names the case id only. Checked before any other rule, so a refusal
    /// says nothing about the case.
    fn check_visible(&mut self, case: Uuid, form: Option<&str>, payload: &Value) -> Result<(), StoreError> {
        let (user, role, team) = (self.store.user.clone(), self.store.role, self.store.team.clone());
        let reader = Reader { user: &user, role, team: team.as_ref() };
        let state = self.state(case)?;
        let hidden = |reason| StoreError::Hidden { case: case.to_string(), reason };
        reader.case(&CaseAccess::of_state(state)).map_err(hidden)?;
        let item = payload.get("item").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok());
        if let (Some(visibility::NOTE_FORM), Some(item)) = (form, item) {
            if visibility::is_restricted_note(state, item) {
                let author = state.items.get(&(visibility::NOTE_FORM.to_string(), item)).map(|i| i.author.as_str());
                reader.restricted_note(author.unwrap_or_default()).map_err(hidden)?;
            }
        }
        Ok(())
    }

    /// Build, check and queue one event. On error nothing changes.
    fn push(
        &mut self,
        case_id: Uuid,
        hlc: Hlc,
        kind: EventKind,
        form: Option<&str>,
        payload: Value,
        mut base: Vec<Uuid>,
    ) -> Result<Uuid, StoreError> {
        if !self.may_record {
            self.store.check_may_record()?;
            self.may_record = true;
        }
        if kind != EventKind::CaseRegistered {
            self.check_visible(case_id, form, &payload)?;
            // Record which stage the author saw (see `seen_by`): every head
            // of the stage register (several while the stage is in conflict).
            for head in self.state(case_id)?.stage_heads() {
                if !base.contains(&head) {
                    base.push(head);
                }
            }
        }
        let mut e = Event {
            id: new_v7(hlc.millis, &mut self.store.rng),
            case_id,
            device_id: self.store.signer_id(),
            device_seq: self.next_seq,
            hlc,
            author: self.store.user.clone(),
            role: self.store.role,
            kind,
            form: form.map(str::to_string),
            payload,
            base,
            sig: String::new(),
        };
        e.check_shape().map_err(|reason| StoreError::Malformed { event: e.id, reason })?;
        if kind == EventKind::CaseRegistered {
            check_event(&self.store.forms, &CaseState::new(case_id), &e)?;
            self.states.insert(case_id, CaseState::new(case_id));
        } else {
            check_event(&self.store.forms.clone(), self.state(case_id)?, &e)?;
            if e.form.as_deref() == Some("referral") {
                // Checked where the event is made only (see the rule).
                let facts = to_facts(self.state(case_id)?)?;
                let reg = &self.store.forms;
                if let Some(v) = lifecycle::referral_provider_service(&facts, &e, |p, s| reg.provider_offers(p, s)) {
                    return Err(StoreError::RuleViolated { violations: vec![v] });
                }
            }
        }
        e.sign(self.store.signer_key());
        self.states.get_mut(&case_id).expect("state loaded above").apply(&e);
        self.next_seq += 1;
        let id = e.id;
        self.events.push(e);
        Ok(id)
    }

    /// A timestamp for the next event; only kept if the event is accepted.
    fn tick(&self) -> (HlcClock, Hlc) {
        let mut clock = self.clock.clone();
        let hlc = clock.now();
        (clock, hlc)
    }

    fn push_now(
        &mut self,
        case: Uuid,
        kind: EventKind,
        form: Option<&str>,
        payload: Value,
        base: Vec<Uuid>,
    ) -> Result<Uuid, StoreError> {
        let (clock, hlc) = self.tick();
        let id = self.push(case, hlc, kind, form, payload, base)?;
        self.clock = clock;
        Ok(id)
    }

    /// See [`CaseStore::create_case`].
    pub fn create_case(&mut self, case_type: &str, office: &str) -> Result<Uuid, StoreError> {
        self.create_numbered(case_type, office, "")
    }

    /// Register a tracing inquiry (`model::inquiry`), numbered apart from
    /// the cases of children (`ABC-INQ-2026-00001`).
    pub fn create_inquiry(&mut self, office: &str) -> Result<Uuid, StoreError> {
        self.create_numbered(crate::model::inquiry::CASE_TYPE, office, "INQ-")
    }

    fn create_numbered(&mut self, case_type: &str, office: &str, infix: &str) -> Result<Uuid, StoreError> {
        let (clock, hlc) = self.tick();
        let case_id = new_v7(hlc.millis, &mut self.store.rng);
        let case_number = self.next_case_number(office, infix, hlc)?;
        let payload = json!({"case_type": case_type, "case_number": case_number, "office": office});
        self.push(case_id, hlc, EventKind::CaseRegistered, None, payload, Vec::new())?;
        self.clock = clock;
        Ok(case_id)
    }

    /// Office prefix (three letters) - year - sequence within this vault.
    fn next_case_number(&mut self, office: &str, infix: &str, hlc: Hlc) -> Result<String, StoreError> {
        let letters: String =
            office.chars().filter(char::is_ascii_alphabetic).take(3).collect::<String>().to_ascii_uppercase();
        let prefix = format!(
            "{}-{infix}{}-",
            if letters.len() == 3 { letters } else { "CAS".to_string() },
            chrono::Datelike::year(&date_of(hlc.millis))
        );
        let next = match self.numbers.get(&prefix) {
            Some(n) => n + 1,
            None => {
                let max: Option<String> = self.store.vault.conn().query_row(
                    "SELECT MAX(case_number) FROM cases WHERE substr(case_number, 1, ?2) = ?1",
                    params![prefix, prefix.len() as i64],
                    |r| r.get(0),
                )?;
                max.and_then(|m| m[prefix.len()..].parse::<u32>().ok()).unwrap_or(0) + 1
            }
        };
        self.numbers.insert(prefix.clone(), next);
        Ok(format!("{prefix}{next:05}"))
    }

    /// See [`CaseStore::save_form`].
    pub fn save_form(
        &mut self,
        case: Uuid,
        form: &str,
        item: Option<Uuid>,
        values: Map<String, Value>,
    ) -> Result<(), StoreError> {
        let state = self.state(case)?;
        let mut base: Vec<Uuid> = values.keys().flat_map(|f| state.heads_of(form, item, f)).collect();
        base.sort();
        base.dedup();
        let mut payload = json!({ "values": values });
        if let Some(item) = item {
            payload["item"] = json!(item);
        }
        self.push_now(case, EventKind::FormSaved, Some(form), payload, base)?;
        Ok(())
    }

    /// See [`CaseStore::change_stage`].
    pub fn change_stage(&mut self, case: Uuid, to: Stage, reason: &str) -> Result<(), StoreError> {
        let payload = json!({"to": stage_name(to), "reason": reason});
        self.push_now(case, EventKind::StatusChanged, None, payload, Vec::new())?;
        Ok(())
    }

    fn add_item(&mut self, case: Uuid, kind: EventKind, values: Map<String, Value>) -> Result<Uuid, StoreError> {
        let (clock, hlc) = self.tick();
        let item = new_v7(hlc.millis, &mut self.store.rng);
        let form = kind.item_form().expect("only item-creating kinds come here");
        self.push(case, hlc, kind, Some(form), json!({"item": item, "values": values}), Vec::new())?;
        self.clock = clock;
        Ok(item)
    }

    /// See [`CaseStore::add_note`].
    pub fn add_note(&mut self, case: Uuid, values: Map<String, Value>) -> Result<Uuid, StoreError> {
        self.add_item(case, EventKind::NoteAdded, values)
    }

    /// See [`CaseStore::record_visit`].
    pub fn record_visit(&mut self, case: Uuid, values: Map<String, Value>) -> Result<Uuid, StoreError> {
        self.add_item(case, EventKind::VisitRecorded, values)
    }

    /// See [`CaseStore::make_referral`].
    pub fn make_referral(&mut self, case: Uuid, values: Map<String, Value>) -> Result<Uuid, StoreError> {
        self.add_item(case, EventKind::ReferralMade, values)
    }

    /// See [`CaseStore::assign`].
    pub fn assign(&mut self, case: Uuid, caseworker: &str) -> Result<(), StoreError> {
        self.push_now(case, EventKind::CaseAssigned, None, json!({"caseworker": caseworker}), Vec::new())?;
        Ok(())
    }

    /// See [`CaseStore::resolve_conflict`].
    pub fn resolve_conflict(
        &mut self,
        case: Uuid,
        form: &str,
        item: Option<Uuid>,
        field: &str,
        value: Value,
    ) -> Result<(), StoreError> {
        let state = self.state(case)?;
        let heads = state.heads_of(form, item, field);
        if heads.len() < 2 {
            return Err(StoreError::NoConflict { form: form.to_string(), field: field.to_string() });
        }
        // A value that is one of the heads' is that head chosen (the newest
        // such head); any other value names no head, which only a normal
        // field accepts.
        let chosen = state
            .register(form, item, field)
            .and_then(|r| r.heads().into_iter().rev().find(|w| w.value == value).map(|w| w.event));
        self.push_field_resolution(case, form, item, field, value, chosen, heads)
    }

    /// See [`CaseStore::resolve_conflict_head`].
    pub fn resolve_conflict_head(
        &mut self,
        case: Uuid,
        form: &str,
        item: Option<Uuid>,
        field: &str,
        head: Uuid,
    ) -> Result<(), StoreError> {
        if form == projection::STAGE_FORM && field == projection::STAGE_FIELD && item.is_none() {
            return self.resolve_stage_conflict(case, head, "");
        }
        let state = self.state(case)?;
        let heads: Vec<(Uuid, Value)> = state
            .register(form, item, field)
            .map(|r| r.heads().into_iter().map(|w| (w.event, w.value.clone())).collect())
            .unwrap_or_default();
        if heads.len() < 2 {
            return Err(StoreError::NoConflict { form: form.to_string(), field: field.to_string() });
        }
        let Some((_, value)) = heads.iter().find(|(id, _)| *id == head) else {
            return Err(StoreError::NotAHead { form: form.to_string(), field: field.to_string(), event: head });
        };
        let value = value.clone();
        let base = heads.into_iter().map(|(id, _)| id).collect();
        self.push_field_resolution(case, form, item, field, value, Some(head), base)
    }

    #[allow(clippy::too_many_arguments)]
    fn push_field_resolution(
        &mut self,
        case: Uuid,
        form: &str,
        item: Option<Uuid>,
        field: &str,
        value: Value,
        chosen: Option<Uuid>,
        heads: Vec<Uuid>,
    ) -> Result<(), StoreError> {
        let mut payload = json!({"form": form, "field": field, "value": value});
        if let Some(item) = item {
            payload["item"] = json!(item);
        }
        if let Some(chosen) = chosen {
            payload["chosen"] = json!(chosen);
        }
        self.push_now(case, EventKind::ConflictResolved, Some(form), payload, heads)?;
        Ok(())
    }

    /// See [`CaseStore::resolve_stage_conflict`].
    pub fn resolve_stage_conflict(&mut self, case: Uuid, head: Uuid, reason: &str) -> Result<(), StoreError> {
        let state = self.state(case)?;
        let view = state.stage_view();
        let no_conflict =
            || StoreError::NoConflict { form: projection::STAGE_FORM.into(), field: projection::STAGE_FIELD.into() };
        if !view.in_conflict {
            return Err(no_conflict());
        }
        let Some(kept) = view.heads.iter().find(|h| h.event == head) else {
            return Err(StoreError::NotAHead {
                form: projection::STAGE_FORM.into(),
                field: projection::STAGE_FIELD.into(),
                event: head,
            });
        };
        let payload = json!({
            "form": projection::STAGE_FORM,
            "field": projection::STAGE_FIELD,
            "value": kept.to,
            "chosen": head,
            "reason": reason,
        });
        let base = view.heads.iter().map(|h| h.event).collect();
        self.push_now(case, EventKind::ConflictResolved, None, payload, base)?;
        Ok(())
    }

    /// Queue an already-built event of another kind (attachment, merge,
    /// transfer…) after the same checks; `hlc`, ids, device, sequence, author
    /// and signature are filled in here.
    pub fn record(
        &mut self,
        case: Uuid,
        kind: EventKind,
        form: Option<&str>,
        payload: Value,
        base: Vec<Uuid>,
    ) -> Result<Uuid, StoreError> {
        self.push_now(case, kind, form, payload, base)
    }
}

impl CaseStore {
    /// Record an event of any kind other than those with their own method
    /// (attachment.added, case.merged, case.transferred, case.erased); see
    /// [`Batch::record`].
    pub fn record(
        &mut self,
        case: Uuid,
        kind: EventKind,
        form: Option<&str>,
        payload: Value,
        base: Vec<Uuid>,
    ) -> Result<Uuid, StoreError> {
        let mut b = self.batch();
        let id = b.record(case, kind, form, payload, base)?;
        b.commit()?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The journal entry built by moving an event's parts is exactly the
    /// reference `Event::to_json` (replay and the projection parse it).
    #[test]
    fn moved_event_value_equals_to_json() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let kinds =
            [EventKind::CaseRegistered, EventKind::FormSaved, EventKind::NoteAdded, EventKind::ConflictResolved];
        let roles = [Role::Caseworker, Role::Supervisor, Role::BidPanel, Role::DataManager, Role::Viewer];
        let mut n = 0u128;
        for kind in kinds {
            for role in roles {
                n += 1;
                let payload =
                    json!({"values": {"z": 1, "a": [1.5, null, true], "m": {"y": "x"}}, "item": n.to_string()});
                let mut e = crate::model::event::awkward_test_event(n, kind, role, payload);
                e.sign(&key);
                assert_eq!(event_value(e.clone()), e.to_json(), "{e:?}");
                assert_eq!(journal_entries(vec![e.clone()])[0].1, serde_json::to_vec(&e.to_json()).unwrap().len());
            }
        }
    }
}
