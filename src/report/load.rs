//! Read-only loading of the projection rows the indicators need: one query per
//! table, only the fields the indicators read, so a 50,000-case office report
//! stays in memory-friendly bounds and in one pass.
//!
//! Case notes, the most numerous list items, are read only for the cases
//! rated high risk: their one indicator (5) reads no other case's notes.
//!
//! Every per-case table is read in primary-key order (`case_id` first), so
//! rows are matched to cases by walking the id-sorted case list alongside
//! ([`CaseCursor`]) instead of hashing an allocated id string per row; a
//! value is parsed from its JSON text only when an indicator reads its
//! field, into the report's compact [`Val`].

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension};

use super::value::Val;

/// The (form, field) pairs of non-repeating forms the indicators read.
const CASE_FIELDS: &[(&str, &str)] = &[
    ("registration_bia", "registration_date"),
    ("registration_bia", "child_status"),
    ("registration_bia", "nationality"),
    ("registration_bia", "legal_status"),
    ("registration_bia", "protection_concerns"),
    ("registration_bia", "cfm_responses"),
    ("registration_bia", "care_arrangement"),
    ("registration_bia", "bia_completed_on"),
    ("registration_bia", "consent"),
    ("registration_bia", "consent_scopes"),
    ("registration_bia", "views_not_obtained_reason"),
    ("registration_bia", "trafficking_indicators"),
    ("registration_bia", "age_basis"),
    ("age_assessment", "declared_age"),
    ("age_assessment", "declared_date_of_birth"),
    ("age_assessment", "disputed"),
    ("age_assessment", "benefit_of_doubt"),
    ("registration_bia", "current_admin_area"),
    ("bid", "panel_decision"),
    ("bid", "panel_date"),
    ("bid", "decided_solution"),
    ("bid", "pre_return_checklist"),
    ("bid", "child_interview"),
    ("bid", "child_heard_alone"),
    ("closure_transfer", "closure_reason"),
    ("closure_transfer", "transition_plan"),
    ("closure_transfer", "transfer_consent"),
    ("closure_transfer", "transfer_to"),
];

/// The (form, field) pairs of repeating forms (list items) the indicators read.
const ITEM_FIELDS: &[(&str, &str)] = &[
    ("family_tracing", "tracing_status"),
    ("family_tracing", "date_family_located"),
    ("verification", "relationship_verified"),
    ("temporary_care", "provider_type"),
    ("temporary_care", "date"),
    ("temporary_care", "result"),
    ("follow_up_visit", "visit_date"),
    ("follow_up_visit", "visit_due"),
    ("follow_up_visit", "child_seen"),
    ("follow_up_visit", "method"),
    ("follow_up_visit", "remigration_intention"),
    ("follow_up_visit", "not_seen_reason"),
    ("follow_up_visit", "new_concerns"),
    ("referral", "referral_date"),
    ("referral", "status"),
    ("referral", "implemented_date"),
    ("referral", "consent_for_referral"),
    ("referral", "disposition"),
    ("referral", "disposition_date"),
    ("referral", "service_type"),
    ("case_note", "note_type"),
    ("case_note", "note_datetime"),
    ("incident", "incident_date"),
    ("incident", "violence_type"),
    ("incident", "reported"),
    ("education", "checked_date"),
    ("education", "attending"),
    ("case_conference", "conference_date"),
    ("case_conference", "conference_type"),
    // Requests to partners abroad (10: a tracing request opens tracing;
    // 18: a follow-up report past due is an overdue follow-up).
    ("partner_request", "request_kind"),
    ("partner_request", "sent_date"),
    ("partner_request", "due_date"),
    ("partner_request", "answered_date"),
    ("partner_request", "withdrawn_date"),
];

// An item keeps its form's first position in ITEM_FIELDS as a byte.
const _: () = assert!(ITEM_FIELDS.len() <= u8::MAX as usize);

/// The form of case notes: the most numerous list items of a register, read
/// by one indicator only (5, the response to a high-risk rating), and only
/// for cases rated high. [`load`] leaves out every other case's notes.
const NOTES: &str = "case_note";

/// One list item: when it was created and the values the indicators read.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub created_millis: i64,
    /// Position in its list (creation order).
    seq: i64,
    /// The item id, to match its field values while loading.
    id: ItemId,
    /// Where its form's fields start in [`ITEM_FIELDS`].
    base: u8,
    /// The values of its form's fields in [`ITEM_FIELDS`], by position.
    values: Box<[Option<Val>]>,
}

/// An item id's text. The projection writes UUIDs, held inline: one
/// allocation per item was a visible share of a large report's time. Any
/// other id (older or synthetic rows) is kept too, in its own allocation.
#[derive(Debug, Clone)]
enum ItemId {
    Uuid([u8; 36]),
    Other(Box<[u8]>),
}

impl ItemId {
    fn new(bytes: &[u8]) -> ItemId {
        match <[u8; 36]>::try_from(bytes) {
            Ok(uuid) => ItemId::Uuid(uuid),
            Err(_) => ItemId::Other(bytes.into()),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            ItemId::Uuid(b) => b,
            ItemId::Other(b) => b,
        }
    }
}

impl Item {
    /// The item id.
    #[cfg(test)]
    fn id(&self) -> &str {
        std::str::from_utf8(self.id.as_bytes()).unwrap_or_default()
    }
    /// The fields of its form the indicators read, with their values.
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, &Val)> {
        let names = ITEM_FIELDS[usize::from(self.base)..].iter().map(|(_, f)| *f);
        names.zip(self.values.iter()).filter_map(|(f, v)| Some((f, v.as_ref()?)))
    }
    pub fn get(&self, field: &str) -> Option<&Val> {
        self.fields().find(|(f, _)| *f == field).map(|(_, v)| v)
    }
    pub fn str(&self, field: &str) -> Option<&str> {
        self.get(field).and_then(Val::as_str)
    }
    pub fn date(&self, field: &str) -> Option<NaiveDate> {
        self.get(field).and_then(parse_date)
    }
    pub fn bool(&self, field: &str) -> Option<bool> {
        self.get(field).and_then(Val::as_bool)
    }
}

/// One case as the indicators see it.
#[derive(Debug, Clone, Default)]
pub(crate) struct CaseData {
    pub id: String,
    pub case_type: String,
    pub office: String,
    pub stage: String,
    pub caseworker: Option<String>,
    pub risk_level: Option<String>,
    pub sex: Option<String>,
    pub age_years: Option<f64>,
    pub date_of_birth: Option<NaiveDate>,
    pub merged: bool,
    pub erased: bool,
    pub created: NaiveDate,
    /// Non-repeating form values, by position in [`CASE_FIELDS`].
    pub values: Vec<Option<Val>>,
    /// List items by form, in creation order (a few forms: a list).
    pub items: Vec<(&'static str, Vec<Item>)>,
    /// Stage changes (to, date) in order; the registration first.
    pub stages: Vec<(String, NaiveDate)>,
    /// When the case was first rated high risk (any form), if ever.
    pub first_high: Option<i64>,
    /// Oldest write among the heads of the case's unresolved conflicts.
    pub oldest_conflict: Option<i64>,
    /// When the transition plan was last written (its heads' oldest write).
    pub transition_plan_written: Option<i64>,
}

/// The reports read the child's age by the same rule as the tasks (R13).
impl crate::model::age::AgeSource for CaseData {
    fn age_value(&self, form: &str, field: &str) -> Option<serde_json::Value> {
        match (form, field) {
            ("registration_bia", "age_years") => {
                self.age_years.and_then(serde_json::Number::from_f64).map(serde_json::Value::Number)
            }
            ("registration_bia", "date_of_birth") => {
                self.date_of_birth.map(|d| serde_json::Value::String(d.to_string()))
            }
            _ => self.value(form, field).map(Val::to_json),
        }
    }
}

impl CaseData {
    pub fn value<'a>(&'a self, form: &'a str, field: &'a str) -> Option<&'a Val> {
        let slot = case_field_slot(form, field)?;
        self.values.get(slot)?.as_ref().filter(|v| !v.is_null())
    }
    pub fn str<'a>(&'a self, form: &'a str, field: &'a str) -> Option<&'a str> {
        self.value(form, field).and_then(Val::as_str)
    }
    pub fn date(&self, form: &str, field: &str) -> Option<NaiveDate> {
        self.value(form, field).and_then(parse_date)
    }
    pub fn items(&self, form: &str) -> &[Item] {
        self.items.iter().find(|(f, _)| *f == form).map_or(&[], |(_, l)| l.as_slice())
    }
    /// Whether a multi-enum field holds `option`.
    pub fn has_option(&self, form: &str, field: &str, option: &str) -> bool {
        self.value(form, field).is_some_and(|v| match v.as_list() {
            Some(a) => a.iter().any(|v| v.as_str() == Some(option)),
            None => v.as_str() == Some(option),
        })
    }
}

/// Position of a non-repeating (form, field) in [`CASE_FIELDS`].
fn case_field_slot(form: &str, field: &str) -> Option<usize> {
    CASE_FIELDS.iter().position(|(f, n)| *n == field && *f == form)
}

/// Matches rows read in `case_id` order to the cases (sorted by id): a walk
/// forward, with a binary search when a row's id is behind the walk. Ids
/// are compared as bytes: a row's id is never checked as UTF-8 (a row that
/// matches no case is skipped either way).
struct CaseCursor<'a> {
    ids: Vec<&'a [u8]>,
    at: usize,
}

impl<'a> CaseCursor<'a> {
    fn new(ids: &'a [String]) -> CaseCursor<'a> {
        CaseCursor { ids: ids.iter().map(String::as_bytes).collect(), at: 0 }
    }

    /// The index of case `id`, if it is loaded.
    fn find(&mut self, id: impl AsRef<[u8]>) -> Option<usize> {
        let id = id.as_ref();
        match self.ids.get(self.at) {
            Some(cur) if *cur == id => return Some(self.at),
            Some(cur) if *cur < id => {
                // Usually the next case or the one after.
                while self.at < self.ids.len() && self.ids[self.at] < id {
                    self.at += 1;
                    if self.at + 8 < self.ids.len() && self.ids[self.at + 8] < id {
                        // Far behind (an office report skips other offices).
                        self.at += self.ids[self.at..].partition_point(|c| *c < id);
                        break;
                    }
                }
            }
            _ => self.at = self.ids.partition_point(|c| *c < id),
        }
        (self.ids.get(self.at) == Some(&id)).then_some(self.at)
    }
}

/// The bytes of a text column, unchecked (for ids and names compared as
/// bytes: no UTF-8 check, no allocation).
fn bytes<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<&'r [u8]>> {
    Ok(match r.get_ref(i)? {
        rusqlite::types::ValueRef::Text(t) => Some(t),
        _ => None,
    })
}

/// Whether any indicator reads a field of this name (on any form). Checked
/// first on every `field_values` row: in a demo register three rows in four
/// are fields no indicator reads (free text, wellbeing ratings, …), and
/// this test is the whole cost of skipping one (no other column is read).
fn field_wanted(field: &[u8]) -> bool {
    CASE_FIELDS.iter().chain(ITEM_FIELDS).any(|(_, f)| f.len() == field.len() && f.as_bytes() == field)
}

/// `(field = 'a' OR field = 'b' OR ...)` over every field name an indicator
/// reads, in one fixed order: the WHERE clause of [`report_index_sql`]'s
/// partial index and of the report's scan, which must be identical for
/// SQLite to use it.
///
/// Not `field IN (...)`: SQLite evaluates an IN list of more than two
/// constants by building a temporary B-tree of the list, and a partial
/// index evaluates its WHERE clause on every insert. That was a temporary
/// B-tree of forty names built for every field value written, about a
/// third of an import's projection time. A chain of comparisons costs a few
/// string compares.
fn wanted_fields_clause() -> String {
    let mut names: Vec<&str> = CASE_FIELDS.iter().chain(ITEM_FIELDS).map(|(_, f)| *f).collect();
    names.sort_unstable();
    names.dedup();
    any_equal("field", &names)
}

/// `(column = 'a' OR column = 'b' ...)`: the IN test of a partial index's
/// WHERE clause without a temporary B-tree (see [`wanted_fields_clause`]).
/// The names are SQL literals written in this module, never input.
fn any_equal(column: &str, names: &[&str]) -> String {
    let terms: Vec<String> = names.iter().map(|n| format!("{column} = '{n}'")).collect();
    format!("({})", terms.join(" OR "))
}

/// Two partial indexes for the report, derived data created at unlock if
/// missing (`projection::upgrade`; building them reads the whole database
/// once, and the next checkpoint keeps them):
/// - the field values it reads (about a quarter of them at 50,000 demo
///   cases), covering and in the scan's order, instead of the whole table;
/// - the events that may rate a case high (a few percent), instead of
///   every event's JSON.
///
/// Their names carry a version: changing a WHERE clause needs a new name
/// (and dropping the old index). Version 1 tested `IN (...)` lists, which
/// cost every insert a temporary B-tree (see [`wanted_fields_clause`]);
/// version 3 reads the current administrative area too, version 5 the
/// incident, schooling and case-conference fields and the dates of requests
/// to partners abroad (two branches each called theirs 4: 4 is dropped).
fn report_index_sql() -> String {
    format!(
        "DROP INDEX IF EXISTS field_values_for_report_1;
         DROP INDEX IF EXISTS field_values_for_report_2;
         DROP INDEX IF EXISTS field_values_for_report_3;
         DROP INDEX IF EXISTS field_values_for_report_4;
         DROP INDEX IF EXISTS events_rating_high_1;
         CREATE INDEX IF NOT EXISTS field_values_for_report_5 ON field_values (case_id, form, item, field, value) WHERE {};
         CREATE INDEX IF NOT EXISTS events_rating_high_2 ON events (case_id) WHERE {};",
        wanted_fields_clause(),
        may_rate_high()
    )
}

/// The report's partial indexes as the model's derived index
/// (`model::derived::DerivedIndex`): created at unlock
/// ([`report_index_sql`]); SQLite keeps their rows, so a commit has nothing
/// to add.
pub struct ReportIndex;

impl crate::model::derived::DerivedIndex for ReportIndex {
    fn name(&self) -> &'static str {
        "report"
    }

    fn migrate(&self, _conn: &Connection) -> rusqlite::Result<()> {
        // Created by `upgrade`, which the vault runs at every open, a new
        // vault's first included.
        Ok(())
    }

    fn upgrade(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute_batch(&report_index_sql())
    }

    fn update_cases(
        &self,
        _conn: &Connection,
        _cases: &std::collections::BTreeSet<uuid::Uuid>,
    ) -> rusqlite::Result<()> {
        Ok(())
    }
}

/// The events that may rate a case high (a cheap test on the JSON text;
/// each is parsed and checked): the WHERE clause of the partial index in
/// [`report_index_sql`] and of the report's query, identical so that SQLite
/// reads the index instead of every event.
fn may_rate_high() -> String {
    format!(
        "{} AND instr(json, '\"risk_level\"') > 0 AND instr(json, '\"high\"') > 0",
        any_equal("kind", &["form.saved", "visit.recorded", "conflict.resolved"])
    )
}

/// The text of column `i` of a row, borrowed (no allocation).
fn text<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<&'r str>> {
    Ok(match r.get_ref(i)? {
        rusqlite::types::ValueRef::Text(t) => std::str::from_utf8(t).ok(),
        _ => None,
    })
}

/// Parse a stored date or datetime value to its date.
pub(crate) fn parse_date(v: &Val) -> Option<NaiveDate> {
    ymd(v.as_str()?)
}

/// The date of a `YYYY-MM-DD…` text. By hand: chrono's format parser was a
/// visible share of a report's time (it re-reads the format every call).
pub(crate) fn ymd(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, d| d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0')))
    };
    NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)
}

/// The UTC date of an HLC timestamp.
pub(crate) fn date_of_millis(millis: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(millis).map(|d| d.date_naive()).unwrap_or_default()
}

/// SQLite's page cache while a report reads, in KiB (the vault's own is
/// larger, for commits).
const REPORT_CACHE_KIB: i64 = 8 * 1024;

/// A smaller page cache for the duration of a report; the connection's
/// own size comes back when it is dropped. The database is in memory, so
/// a page the cache misses costs a copy from the VFS, while growing the
/// cache to the vault's 64 MiB on a first report cost fresh memory: page
/// faults and pages zeroed by the kernel, about a tenth of the report at
/// 50,000 cases (measured side by side).
pub(crate) struct ReportCache<'c> {
    conn: &'c Connection,
    before: i64,
}

impl<'c> ReportCache<'c> {
    pub fn new(conn: &'c Connection) -> rusqlite::Result<ReportCache<'c>> {
        let before: i64 = conn.query_row("PRAGMA cache_size", [], |r| r.get(0))?;
        conn.execute_batch(&format!("PRAGMA cache_size = -{REPORT_CACHE_KIB}"))?;
        Ok(ReportCache { conn, before })
    }
}

impl Drop for ReportCache<'_> {
    fn drop(&mut self) {
        // Only a size: failing to set it back changes speed, never data.
        let _ = self.conn.execute_batch(&format!("PRAGMA cache_size = {}", self.before));
    }
}

/// Load every case of `office` (all offices when `None`), merged and erased
/// ones included (the indicators decide what to leave out). The cases come
/// back sorted by id.
pub(crate) fn load(conn: &Connection, office: Option<&str>) -> rusqlite::Result<Vec<CaseData>> {
    // Room for every case at once: growing a vector of 50,000 cases by
    // doubling wrote each of them up to twice more, in fresh memory.
    let all: i64 = conn.query_row("SELECT count(*) FROM cases", [], |r| r.get(0))?;
    let mut cases = Vec::with_capacity(usize::try_from(all).unwrap_or(0));
    {
        let mut stmt = conn.prepare(
            "SELECT id, case_type, office, stage, caseworker, risk_level, sex, age_years, date_of_birth,
                    merged_into, erased, created_millis
             FROM cases WHERE case_type <> 'inquiry' AND (?1 IS NULL OR office = ?1)",
        )?;
        let mut rows = stmt.query(params![office])?;
        while let Some(r) = rows.next()? {
            let age = text(r, 7)?;
            let dob = text(r, 8)?;
            cases.push(CaseData {
                id: r.get(0)?,
                case_type: r.get(1)?,
                office: r.get(2)?,
                stage: r.get(3)?,
                caseworker: r.get(4)?,
                risk_level: r.get(5)?,
                sex: r.get(6)?,
                age_years: age.and_then(|a| a.parse::<f64>().ok()),
                date_of_birth: dob.and_then(ymd),
                merged: r.get_ref(9)?.as_str_or_null()?.is_some(),
                erased: r.get::<_, i64>(10)? != 0,
                created: date_of_millis(r.get(11)?),
                values: vec![None; CASE_FIELDS.len()],
                ..CaseData::default()
            });
        }
    }
    if cases.is_empty() {
        return Ok(cases);
    }
    cases.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    // The ids apart, so rows can be matched while the cases are written.
    let ids: Vec<String> = cases.iter().map(|c| c.id.clone()).collect();
    // First high-risk ratings before the lists: they decide whose notes
    // are read ([`NOTES`]).
    for (i, millis) in first_high_ratings(conn, &ids)? {
        let c = &mut cases[i];
        c.first_high = Some(c.first_high.map_or(millis, |m| m.min(millis)));
    }
    let wants_notes: Vec<bool> = cases.iter().map(|c| c.first_high.is_some()).collect();
    // List items, in key order (case, form, item); put in creation order
    // once their values are read.
    {
        let mut cur = CaseCursor::new(&ids);
        // Rows come grouped by (case, form): each group becomes one list of
        // its exact length (no growing, no spare capacity).
        let mut group: Option<(usize, &'static str)> = None;
        let mut scratch: Vec<Item> = Vec::new();
        fn flush(cases: &mut [CaseData], group: Option<(usize, &'static str)>, scratch: &mut Vec<Item>) {
            if let Some((i, form)) = group {
                // A copy of exactly its length; `mem::take` would keep the
                // scratch's spare capacity and give it up for every group.
                #[allow(clippy::drain_collect)]
                cases[i].items.push((form, scratch.drain(..).collect()));
            }
        }
        // No IN filter in SQL: checking each row's form against an IN list
        // cost more than skipping the rows here.
        let mut stmt =
            conn.prepare("SELECT case_id, form, item, seq, created_millis FROM items ORDER BY case_id, form, item")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let Some(i) = bytes(r, 0)?.and_then(|c| cur.find(c)) else { continue };
            let Some(base) = text(r, 1)?.and_then(|f| ITEM_FIELDS.iter().position(|(x, _)| *x == f)) else {
                continue;
            };
            let form = ITEM_FIELDS[base].0;
            if form == NOTES && !wants_notes[i] {
                continue;
            }
            let Some(id) = bytes(r, 2)?.map(ItemId::new) else { continue };
            if group.as_ref().is_some_and(|g| *g != (i, form)) {
                flush(&mut cases, group.take(), &mut scratch);
            }
            group = Some((i, form));
            let fields = ITEM_FIELDS[base..].iter().take_while(|(f, _)| *f == form).count();
            let values = vec![None; fields].into_boxed_slice();
            scratch.push(Item { created_millis: r.get(4)?, seq: r.get(3)?, id, base: base as u8, values });
        }
        flush(&mut cases, group, &mut scratch);
    }
    // The field values are the bulk of a report: this thread steps through
    // the SQL (one connection, so one statement at a time) while a second
    // thread parses the values it hands over into the cases, in batches.
    // The other tables are read meanwhile and applied once both are done.
    std::thread::scope(|scope| -> rusqlite::Result<Vec<CaseData>> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<ValueBatch>(BATCHES_IN_FLIGHT);
        let parser = scope.spawn(move || {
            let mut cases = cases;
            for batch in rx {
                batch.apply(&mut cases);
            }
            for c in &mut cases {
                for (_, list) in &mut c.items {
                    list.sort_by_key(|it| it.seq);
                }
            }
            cases
        });
        // On an error `tx` is dropped on the way out, which ends the parser.
        let rest = read_rest(conn, &ids, &wants_notes, tx);
        let mut cases = parser.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        let rest = rest?;
        for (i, stage, day) in rest.stages {
            cases[i].stages.push((stage, day));
        }
        for (i, oldest) in rest.conflicts {
            cases[i].oldest_conflict = oldest;
        }
        for (i, millis) in rest.plans {
            let c = &mut cases[i];
            c.transition_plan_written = Some(c.transition_plan_written.map_or(millis, |m| m.min(millis)));
        }
        Ok(cases)
    })
}

/// Field-value batches queued between the SQL thread and the parser: enough
/// to keep both busy, few enough to bound memory.
const BATCHES_IN_FLIGHT: usize = 8;
/// Rows per batch.
const BATCH_ROWS: usize = 4096;

/// Where a field value goes: a slot of [`CASE_FIELDS`] or a field of
/// [`ITEM_FIELDS`] on one list item.
#[derive(Clone, Copy)]
enum Slot {
    Case(usize),
    Item(usize),
}

/// A wanted `field_values` row, its texts copied out of SQLite (a row's
/// borrowed texts do not outlive the next step).
struct RawValue {
    case: usize,
    slot: Slot,
    /// Byte ranges in [`ValueBatch::bytes`].
    value: std::ops::Range<usize>,
    item: std::ops::Range<usize>,
}

/// Rows handed from the SQL thread to the parser.
#[derive(Default)]
struct ValueBatch {
    bytes: Vec<u8>,
    rows: Vec<RawValue>,
}

impl ValueBatch {
    fn push(&mut self, case: usize, slot: Slot, item: &[u8], value: &[u8]) {
        let at = self.bytes.len();
        self.bytes.extend_from_slice(item);
        self.bytes.extend_from_slice(value);
        let mid = at + item.len();
        self.rows.push(RawValue { case, slot, item: at..mid, value: mid..self.bytes.len() });
    }

    /// Parse the values into the cases (the list items already loaded).
    fn apply(&self, cases: &mut [CaseData]) {
        for row in &self.rows {
            // A value the projection wrote is UTF-8 JSON; skip anything else.
            let Some(v) = std::str::from_utf8(&self.bytes[row.value.clone()]).ok().and_then(Val::parse) else {
                continue;
            };
            let Some(case) = cases.get_mut(row.case) else { continue };
            match row.slot {
                Slot::Case(slot) => case.values[slot] = Some(v),
                Slot::Item(k) => {
                    let form = ITEM_FIELDS[k].0;
                    let item = &self.bytes[row.item.clone()];
                    // The case's items of this form are in item-id order here.
                    let Some((_, list)) = case.items.iter_mut().find(|(f, _)| *f == form) else { continue };
                    if let Ok(pos) = list.binary_search_by(|it| it.id.as_bytes().cmp(item)) {
                        let it = &mut list[pos];
                        if let Some(slot) = k.checked_sub(usize::from(it.base)).and_then(|p| it.values.get_mut(p)) {
                            *slot = Some(v);
                        }
                    }
                }
            }
        }
    }
}

/// The rows of the tables other than `cases` and `items`, by case index,
/// applied once the parser is done with the cases.
struct Rest {
    /// Stage changes (case, to, date), in key order.
    stages: Vec<(usize, String, NaiveDate)>,
    conflicts: Vec<(usize, Option<i64>)>,
    plans: Vec<(usize, i64)>,
}

/// A cheap first test of a field name against [`field_wanted`]: a 256-bit
/// set over (length, first and last byte). Most unwanted names miss it.
struct FieldFilter([u64; 4]);

impl FieldFilter {
    fn bucket(f: &[u8]) -> usize {
        let (first, last) = (f.first().copied().unwrap_or(0), f.last().copied().unwrap_or(0));
        (f.len().wrapping_mul(31) ^ usize::from(first).wrapping_mul(7) ^ usize::from(last)) & 255
    }

    fn new() -> FieldFilter {
        let mut bits = [0u64; 4];
        for (_, f) in CASE_FIELDS.iter().chain(ITEM_FIELDS) {
            let b = Self::bucket(f.as_bytes());
            bits[b / 64] |= 1 << (b % 64);
        }
        FieldFilter(bits)
    }

    fn wanted(&self, f: &[u8]) -> bool {
        let b = Self::bucket(f);
        self.0[b / 64] & (1 << (b % 64)) != 0 && field_wanted(f)
    }
}

/// Read field values (sent to the parser through `tx`; notes only where
/// `wants_notes`), stage history, conflicts and transition plan times.
fn read_rest(
    conn: &Connection,
    ids: &[String],
    wants_notes: &[bool],
    tx: std::sync::mpsc::SyncSender<ValueBatch>,
) -> rusqlite::Result<Rest> {
    // Field values: one pass over the table, in key order, for both the
    // non-repeating fields and the list items' fields. The transition
    // plan's write time comes from its winning event (24), looked up once
    // the scan is done (a handful of cases: its two columns cost more on
    // every row of the scan).
    let mut plan_cases: Vec<usize> = Vec::new();
    let plan_slot = case_field_slot("closure_transfer", "transition_plan");
    {
        let filter = FieldFilter::new();
        let mut cur = CaseCursor::new(ids);
        // In key order, through the partial index of the wanted fields
        // (`report_index_sql`) when the database has it; the filter below
        // still checks each name (the index is not required).
        let mut stmt = conn.prepare(&format!(
            "SELECT case_id, form, item, field, value FROM field_values WHERE {} ORDER BY case_id, form, item, field",
            wanted_fields_clause()
        ))?;
        let mut rows = stmt.query([])?;
        let mut batch = ValueBatch::default();
        while let Some(r) = rows.next()? {
            // The field name first: most rows of a real register stop here.
            let Some(field) = bytes(r, 3)?.filter(|f| filter.wanted(f)) else { continue };
            let Some(i) = bytes(r, 0)?.and_then(|c| cur.find(c)) else { continue };
            let (Some(form), Some(item)) = (bytes(r, 1)?, bytes(r, 2)?) else { continue };
            let same = |(f, n): &(&str, &str)| n.as_bytes() == field && f.as_bytes() == form;
            let slot = if item.is_empty() {
                let Some(slot) = CASE_FIELDS.iter().position(same) else { continue };
                if Some(slot) == plan_slot {
                    plan_cases.push(i);
                }
                Slot::Case(slot)
            } else {
                let Some(k) = ITEM_FIELDS.iter().position(same) else { continue };
                if ITEM_FIELDS[k].0 == NOTES && !wants_notes[i] {
                    continue;
                }
                Slot::Item(k)
            };
            let Some(value) = bytes(r, 4)? else { continue };
            batch.push(i, slot, item, value);
            if batch.rows.len() >= BATCH_ROWS {
                // The parser only stops early by panicking, which the
                // caller's join reports.
                let _ = tx.send(std::mem::take(&mut batch));
            }
        }
        let _ = tx.send(batch);
        drop(tx);
    }
    // Stage history (key order is case, seq: no sort).
    let mut stages = Vec::new();
    {
        let mut cur = CaseCursor::new(ids);
        let mut stmt = conn.prepare("SELECT case_id, to_stage, hlc_millis FROM stage_history ORDER BY case_id, seq")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let Some(i) = bytes(r, 0)?.and_then(|c| cur.find(c)) else { continue };
            stages.push((i, r.get(1)?, date_of_millis(r.get(2)?)));
        }
    }
    // Unresolved conflicts: their age is the oldest competing write. A
    // field in `conflicts` has several heads, all in `conflict_heads`.
    let mut conflicts: Vec<(usize, Option<i64>)> = Vec::new();
    {
        let mut stmt = conn.prepare(
            "SELECT c.case_id, min(h.hlc_millis) FROM conflicts c
             JOIN conflict_heads h ON h.case_id = c.case_id AND h.form = c.form AND h.item = c.item AND h.field = c.field
             GROUP BY c.case_id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let Some(i) = text(r, 0)?.and_then(|case| case_index(ids, case)) else { continue };
            conflicts.push((i, r.get(1)?));
        }
    }
    // When the transition plan was written: its heads' oldest write — the
    // winning event of an uncontested value, the competing heads otherwise.
    let mut plans: Vec<(usize, i64)> = Vec::new();
    {
        let mut stmt = conn.prepare(
            "SELECT e.hlc_millis FROM field_values f JOIN events e ON e.id = f.winner
             WHERE f.case_id = ?1 AND f.form = 'closure_transfer' AND f.item = '' AND f.field = 'transition_plan'
               AND f.heads = 1",
        )?;
        for &i in &plan_cases {
            if let Some(m) = stmt.query_row([&ids[i]], |r| r.get::<_, i64>(0)).optional()? {
                plans.push((i, m));
            }
        }
        let mut stmt = conn.prepare(
            "SELECT case_id, min(hlc_millis) FROM conflict_heads
             WHERE form = 'closure_transfer' AND item = '' AND field = 'transition_plan' GROUP BY case_id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let Some(i) = text(r, 0)?.and_then(|case| case_index(ids, case)) else { continue };
            plans.push((i, r.get(1)?));
        }
    }
    Ok(Rest { stages, conflicts, plans })
}

/// The index of case `id` in the sorted `ids`, for rows not read in case
/// order (where [`CaseCursor`]'s walk does not apply).
fn case_index(ids: &[String], id: &str) -> Option<usize> {
    ids.binary_search_by(|c| c.as_str().cmp(id)).ok()
}

/// Each case's high-risk ratings (case index, time). The projection keeps
/// only the current value, so a rating's time comes from the events that
/// wrote it. Both strings are in any event that rates a case high (as a
/// form value or a resolved conflict): the partial index of such events
/// (`report_index_sql`) lists them, so only those are read; each is parsed
/// and checked.
fn first_high_ratings(conn: &Connection, ids: &[String]) -> rusqlite::Result<Vec<(usize, i64)>> {
    let mut highs = Vec::new();
    let mut stmt = conn.prepare(&format!("SELECT case_id, hlc_millis, json FROM events WHERE {}", may_rate_high()))?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let Some(json) = text(r, 2)? else { continue };
        let Some(i) = text(r, 0)?.and_then(|case| case_index(ids, case)) else { continue };
        let millis: i64 = r.get(1)?;
        let Ok(e) = serde_json::from_str::<serde_json::Value>(json) else {
            continue;
        };
        let payload = &e["payload"];
        let rated_high = payload["values"]["risk_level"].as_str() == Some("high")
            || (payload["field"].as_str() == Some("risk_level") && payload["value"].as_str() == Some("high"));
        if rated_high {
            highs.push((i, millis));
        }
    }
    Ok(highs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The report's two big reads go through the partial indexes the
    /// projection creates at unlock, not through every row.
    #[test]
    fn the_report_reads_its_partial_indexes() {
        let conn = Connection::open_in_memory().unwrap();
        crate::model::projection::migrate(&conn).unwrap();
        crate::model::projection::upgrade(&conn).unwrap();
        let plan = |sql: &str| -> String {
            let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let rows: Vec<String> = st.query_map([], |r| r.get(3)).unwrap().map(|r| r.unwrap()).collect();
            rows.join("; ")
        };
        let values = plan(&format!(
            "SELECT case_id, form, item, field, value FROM field_values WHERE {} ORDER BY case_id, form, item, field",
            wanted_fields_clause()
        ));
        assert!(
            values.contains("COVERING INDEX field_values_for_report_5") && !values.contains("TEMP B-TREE"),
            "{values}"
        );
        let highs = plan(&format!("SELECT case_id, hlc_millis, json FROM events WHERE {}", may_rate_high()));
        assert!(highs.contains("INDEX events_rating_high_2"), "{highs}");
    }

    /// The partial indexes' WHERE clauses are evaluated on every insert:
    /// writing an event or a field value must not build a temporary B-tree
    /// (an `IN (...)` list of more than two constants does, and it was a
    /// third of an import's projection time).
    #[test]
    fn writing_rows_builds_no_temporary_btree() {
        let conn = Connection::open_in_memory().unwrap();
        crate::model::projection::migrate(&conn).unwrap();
        crate::model::projection::upgrade(&conn).unwrap();
        let opcodes = |sql: &str| -> Vec<String> {
            let mut st = conn.prepare(&format!("EXPLAIN {sql}")).unwrap();
            st.query_map([], |r| r.get(1)).unwrap().map(|r| r.unwrap()).collect()
        };
        for sql in [
            "INSERT INTO field_values VALUES ('c', 'registration_bia', '', 'risk_level', '\"high\"', 1, 'ok', 'e')",
            "INSERT INTO events VALUES ('e', 'c', 'd', 1, 0, 0, 'form.saved', '{\"risk_level\":\"high\"}')",
        ] {
            let ops = opcodes(sql);
            assert!(ops.iter().any(|o| o == "IdxInsert"), "the partial indexes are written: {ops:?}");
            assert!(!ops.iter().any(|o| o == "OpenEphemeral"), "{sql}: {ops:?}");
        }
        // The test can fail: the old clause did build one.
        conn.execute_batch("CREATE INDEX in_list ON field_values (case_id) WHERE field IN ('a', 'b', 'c')").unwrap();
        let ops = opcodes("INSERT INTO field_values VALUES ('c', 'f', '', 'a', NULL, 1, 'ok', NULL)");
        assert!(ops.iter().any(|o| o == "OpenEphemeral"), "{ops:?}");
    }

    #[test]
    fn dates_parse_by_hand_as_chrono_does() {
        for s in ["2026-03-31", "2024-02-29", "2026-03-02T15:00:00Z", "1999-12-31 extra"] {
            assert_eq!(ymd(s), NaiveDate::parse_from_str(&s[..10], "%Y-%m-%d").ok(), "{s}");
        }
        for s in ["2025-02-29", "2026-13-01", "2026-3-01", "26-03-01", "", "2026-03-0x", "2026/03/01"] {
            assert_eq!(ymd(s), None, "{s}");
        }
    }

    /// A report reads with the small page cache and gives the
    /// connection's own back, also when it stops early.
    #[test]
    fn the_report_cache_is_set_back() {
        let conn = Connection::open_in_memory().unwrap();
        let size = |conn: &Connection| -> i64 { conn.query_row("PRAGMA cache_size", [], |r| r.get(0)).unwrap() };
        conn.execute_batch("PRAGMA cache_size = -65536").unwrap();
        {
            let _cache = ReportCache::new(&conn).unwrap();
            assert_eq!(size(&conn), -REPORT_CACHE_KIB);
        }
        assert_eq!(size(&conn), -65536);
        // No projection tables: the report fails, and the size still comes back.
        let options = crate::report::ReportOptions {
            from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 3, 31).unwrap(),
            office: None,
            suppress: true,
        };
        assert!(crate::report::compute(&conn, &options).is_err());
        assert_eq!(size(&conn), -65536);
    }

    #[test]
    fn the_field_filter_keeps_every_wanted_name() {
        let f = FieldFilter::new();
        for (_, name) in CASE_FIELDS.iter().chain(ITEM_FIELDS) {
            assert!(f.wanted(name.as_bytes()), "{name}");
        }
        for name in ["", "text", "author", "wellbeing_safety", "child_views", "visit_dat", "visit_datex", "statuS"] {
            assert!(!f.wanted(name.as_bytes()), "{name}");
        }
    }

    /// The fast load (field names tested first, values parsed on a second
    /// thread, the high-risk ratings searched in Rust) against the plain
    /// reading: every wanted value by its key, the first high rating of each
    /// case by SQL over its events, on a demo register.
    #[test]
    #[cfg(feature = "demo")]
    fn the_fast_load_equals_reading_each_value_by_its_key() {
        use crate::model::store::CaseStore;
        use crate::vault::{InitOptions, SecretString, VaultOptions};
        let dir = tempfile::tempdir().unwrap();
        let mut store = CaseStore::init_with(
            dir.path(),
            &SecretString::from("correct horse battery staple".to_owned()),
            InitOptions { name: "amina".into(), role: "caseworker".into(), escrow: None },
            &VaultOptions { scrypt_log_n: Some(10), ..VaultOptions::default() },
        )
        .unwrap();
        crate::model::demo::generate(&mut store, 60, 5).unwrap();
        let conn = store.vault().conn();
        let cases = load(conn, None).unwrap();
        assert_eq!(cases.len(), 60);
        let value = |case: &str, form: &str, item: &str, field: &str| -> Option<Val> {
            conn.query_row(
                "SELECT value FROM field_values WHERE case_id = ?1 AND form = ?2 AND item = ?3 AND field = ?4",
                params![case, form, item, field],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
            .unwrap()
            .flatten()
            .and_then(|t| Val::parse(&t))
        };
        let (mut values, mut highs, mut notes) = (0, 0, 0);
        for c in &cases {
            let first_high: Option<i64> = conn
                .query_row(
                    "SELECT min(hlc_millis) FROM events WHERE case_id = ?1
                       AND (json_extract(json, '$.payload.values.risk_level') = 'high'
                         OR (kind = 'conflict.resolved' AND json_extract(json, '$.payload.field') = 'risk_level'
                             AND json_extract(json, '$.payload.value') = 'high'))
                       AND kind IN ('form.saved', 'visit.recorded', 'conflict.resolved')",
                    [&c.id],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(c.first_high, first_high, "{} first high rating", c.id);
            highs += usize::from(first_high.is_some());
            for (slot, (form, field)) in CASE_FIELDS.iter().enumerate() {
                assert_eq!(c.values[slot], value(&c.id, form, "", field), "{} {form}.{field}", c.id);
                values += usize::from(c.values[slot].is_some());
            }
            for (form, fields) in ITEM_FIELDS.chunk_by(|a, b| a.0 == b.0).map(|g| (g[0].0, g)) {
                let mut ids: Vec<String> = conn
                    .prepare("SELECT item FROM items WHERE case_id = ?1 AND form = ?2 ORDER BY seq")
                    .unwrap()
                    .query_map(params![c.id, form], |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                // Notes only of the cases rated high (the one indicator
                // that reads them needs no other).
                if form == NOTES && c.first_high.is_none() {
                    ids.clear();
                }
                if form == NOTES {
                    notes += ids.len();
                }
                let loaded: Vec<&str> = c.items(form).iter().map(|i| i.id()).collect();
                assert_eq!(loaded, ids, "{} {form} items", c.id);
                for item in c.items(form) {
                    for (_, field) in fields {
                        assert_eq!(item.get(field).cloned(), value(&c.id, form, item.id(), field), "{form}.{field}");
                        values += usize::from(item.get(field).is_some());
                    }
                }
            }
        }
        assert!(
            values > 1000 && highs > 3 && notes > 3,
            "{values} values, {highs} high ratings, {notes} notes: too few to compare"
        );
    }

    /// Ids the projection writes (UUIDs) are held inline; any other id is
    /// kept too, so items of older or synthetic rows still match their values.
    #[test]
    fn item_ids_of_any_length_are_kept() {
        let uuid = "0190a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d";
        assert!(matches!(ItemId::new(uuid.as_bytes()), ItemId::Uuid(_)));
        assert_eq!(ItemId::new(uuid.as_bytes()).as_bytes(), uuid.as_bytes());
        assert!(matches!(ItemId::new(b"case-1-v0"), ItemId::Other(_)));
        assert_eq!(ItemId::new(b"case-1-v0").as_bytes(), b"case-1-v0");
        assert_eq!(ItemId::new(b"").as_bytes(), b"");
    }

    #[test]
    fn the_cursor_finds_cases_forward_backward_and_far() {
        let ids: Vec<String> = (0..100).map(|i| format!("case-{i:03}")).collect();
        let mut cur = CaseCursor::new(&ids);
        assert_eq!(cur.find("case-000"), Some(0));
        assert_eq!(cur.find("case-000"), Some(0));
        assert_eq!(cur.find("case-001"), Some(1));
        assert_eq!(cur.find("case-0015"), None, "between two cases");
        assert_eq!(cur.find("case-090"), Some(90), "far ahead");
        assert_eq!(cur.find("case-005"), Some(5), "behind");
        assert_eq!(cur.find("case-999"), None, "after the last");
        assert_eq!(cur.find("a"), None, "before the first");
        assert_eq!(cur.find("case-099"), Some(99));
    }
}
