//! Writing a folded case into the projection's tables.

use std::collections::BTreeSet;

use rusqlite::{params, Transaction};
use serde_json::Value;
use uuid::Uuid;

use crate::model::batch_insert::BatchInsert;
use crate::model::canonical::to_canonical_string;

use super::*;

pub(super) fn opt_str(v: Option<&Value>) -> Option<String> {
    v.and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(to_canonical_string(other)),
    })
}

pub(super) fn item_col(item: Option<Uuid>) -> String {
    item.map(|i| i.to_string()).unwrap_or_default()
}

pub(super) fn millis(h: Hlc) -> i64 {
    // Inserted events were range-checked; saturate rather than wrap for folds
    // of in-memory events.
    i64::try_from(h.millis).unwrap_or(i64::MAX)
}

/// One `field_values` row of a case, as [`write_case`] collects them.
pub(super) struct FieldRow<'a> {
    pub(super) form: &'a str,
    pub(super) item: String,
    pub(super) field: &'a str,
    pub(super) value: Option<String>,
    pub(super) heads: i64,
    pub(super) status: &'static str,
    pub(super) winner: Option<String>,
}

/// The `field_values` inserts ([`write_case`]).
pub(super) static FIELD_VALUES: BatchInsert =
    BatchInsert::new("INSERT INTO field_values (case_id, form, item, field, value, heads, status, winner)", 8);

/// The `items` inserts ([`write_case`]): one per case note, visit, ….
pub(super) static ITEMS: BatchInsert = BatchInsert::new(
    "INSERT INTO items (case_id, form, item, kind, seq, created_event, created_millis, created_counter, author)",
    9,
);

/// Insert a case's field rows, in order, several to a statement
/// ([`BatchInsert`]): five per case note, most of an import's rows.
pub(super) fn insert_field_rows(tx: &Transaction<'_>, case: &str, rows: &[FieldRow<'_>]) -> rusqlite::Result<()> {
    FIELD_VALUES.insert(tx, rows, |stmt, at, row| {
        stmt.raw_bind_parameter(at + 1, case)?;
        stmt.raw_bind_parameter(at + 2, row.form)?;
        stmt.raw_bind_parameter(at + 3, &row.item)?;
        stmt.raw_bind_parameter(at + 4, row.field)?;
        stmt.raw_bind_parameter(at + 5, &row.value)?;
        stmt.raw_bind_parameter(at + 6, row.heads)?;
        stmt.raw_bind_parameter(at + 7, row.status)?;
        stmt.raw_bind_parameter(at + 8, &row.winner)
    })
}

/// Write the projection rows of one case. With `since` = None every row is
/// written (the case has no rows). With `since`, the rows of events up to
/// `since.key` are kept: rows that only those events determine are left as
/// they are, and the rows the later events change are replaced. That is
/// exact because the later events sort after every kept one: a register
/// changes only when a later event writes to it, items and stage changes
/// they create come after the kept ones, and the case row is always
/// rewritten.
pub(super) fn write_case(
    tx: &Transaction<'_>,
    st: &CaseState,
    protected: ProtectedLookup,
    since: Option<&Since>,
) -> rusqlite::Result<()> {
    let case = st.case_id.to_string();
    let mut needs_review = false;
    let mut conflicts = 0i64;
    let is_new = |key: OrderKey| since.is_none_or(|s| key > s.key);
    {
        let mut del_fv = tx
            .prepare_cached("DELETE FROM field_values WHERE case_id = ?1 AND form = ?2 AND item = ?3 AND field = ?4")?;
        let mut del_fh = tx.prepare_cached(
            "DELETE FROM conflict_heads WHERE case_id = ?1 AND form = ?2 AND item = ?3 AND field = ?4",
        )?;
        let mut del_cf =
            tx.prepare_cached("DELETE FROM conflicts WHERE case_id = ?1 AND form = ?2 AND item = ?3 AND field = ?4")?;
        let mut field_rows: Vec<FieldRow<'_>> = Vec::new();
        let mut fh = tx.prepare_cached(
            "INSERT INTO conflict_heads (case_id, form, item, field, event_id, value, hlc_millis, hlc_counter, device_id, author)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        let mut cf = tx.prepare_cached(
            "INSERT INTO conflicts (case_id, form, item, field, protected, heads) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for (key, reg) in &st.registers {
            let is_protected = protected(&key.form, &key.field);
            let heads = reg.heads();
            let (shown, status) = reg.resolve(is_protected);
            needs_review |= status == FieldStatus::NeedsReview;
            if heads.len() > 1 {
                conflicts += 1;
            }
            let touched = reg.writes.values().any(|w| is_new(w.key));
            if !touched {
                continue;
            }
            // The one head of an uncontested field is its field_values row
            // (the view joins its event); only contested fields get
            // conflict_heads rows.
            let item = item_col(key.item);
            // Rows exist only for a register the kept events wrote to
            // (registers are never removed), and conflict rows only if
            // they wrote to it twice or more (one write is one head). A
            // register new since then (every field of a new note) has no
            // row to delete: three B-tree seeks per field saved.
            let kept_writes = reg.writes.values().filter(|w| !is_new(w.key)).count();
            if kept_writes > 0 {
                del_fv.execute(params![case, key.form, item, key.field])?;
            }
            if kept_writes > 1 {
                del_fh.execute(params![case, key.form, item, key.field])?;
                del_cf.execute(params![case, key.form, item, key.field])?;
            }
            field_rows.push(FieldRow {
                form: &key.form,
                item: item.clone(),
                field: &key.field,
                value: shown.map(|w| to_canonical_string(&w.value)),
                heads: heads.len() as i64,
                status: status.as_str(),
                winner: shown.map(|w| w.event.to_string()),
            });
            if heads.len() == 1 {
                continue;
            }
            for h in &heads {
                fh.execute(params![
                    case,
                    key.form,
                    item,
                    key.field,
                    h.event.to_string(),
                    to_canonical_string(&h.value),
                    millis(h.key.0),
                    h.key.0.counter,
                    h.key.1.to_string(),
                    h.author
                ])?;
            }
            if heads.len() > 1 {
                let ids: Vec<String> = heads.iter().map(|h| h.event.to_string()).collect();
                cf.execute(params![
                    case,
                    key.form,
                    item,
                    key.field,
                    is_protected as i64,
                    serde_json::to_string(&ids).expect("a list of strings serialises")
                ])?;
            }
        }
        insert_field_rows(tx, &case, &field_rows)?;
    }
    {
        let forms: BTreeSet<&String> = st.items.keys().map(|(f, _)| f).collect();
        let mut rows: Vec<(&String, usize, Uuid, &ItemInfo)> = Vec::new();
        for form in forms {
            for (seq, (item, info)) in st.items_of(form).into_iter().enumerate() {
                if is_new(info.created) {
                    rows.push((form, seq, item, info));
                }
            }
        }
        ITEMS.insert(tx, &rows, |stmt, at, (form, seq, item, info)| {
            stmt.raw_bind_parameter(at + 1, &case)?;
            stmt.raw_bind_parameter(at + 2, form)?;
            stmt.raw_bind_parameter(at + 3, item.to_string())?;
            stmt.raw_bind_parameter(at + 4, info.kind.as_str())?;
            stmt.raw_bind_parameter(at + 5, *seq as i64)?;
            stmt.raw_bind_parameter(at + 6, info.created_event.to_string())?;
            stmt.raw_bind_parameter(at + 7, millis(info.created.0))?;
            stmt.raw_bind_parameter(at + 8, info.created.0.counter)?;
            stmt.raw_bind_parameter(at + 9, &info.author)
        })?;
    }
    let stage = st.stage_view();
    if stage.in_conflict {
        needs_review = true;
        conflicts += 1;
    }
    {
        // `stage_history` holds the path (the changes that apply). New
        // stage writes usually extend it; a fork shortens it to the last
        // agreed stage and a resolution may switch branches: then the
        // case's rows are rewritten.
        let path = &stage.path;
        let kept = match since {
            None => 0,
            Some(s)
                if s.stage_path.len() <= path.len() && s.stage_path.iter().zip(path).all(|(id, c)| *id == c.event) =>
            {
                s.stage_path.len()
            }
            Some(_) => {
                tx.prepare_cached("DELETE FROM stage_history WHERE case_id = ?1")?.execute([&case])?;
                0
            }
        };
        // The stage's conflict row, like a protected field's: rewritten
        // when a stage write is new.
        if since.is_none_or(|s| st.stage_history.len() > s.stage_len) {
            if since.is_some() {
                tx.prepare_cached(
                    "DELETE FROM conflicts WHERE case_id = ?1 AND form = ?2 AND item = '' AND field = ?3",
                )?
                .execute(params![case, STAGE_FORM, STAGE_FIELD])?;
            }
            if stage.in_conflict {
                let ids: Vec<String> = stage.heads.iter().map(|h| h.event.to_string()).collect();
                // OR REPLACE: only a forged form "case" could hold a field
                // row with this key; the stage's row is the one kept.
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO conflicts (case_id, form, item, field, protected, heads) VALUES (?1, ?2, '', ?3, 1, ?4)",
                )?
                .execute(params![
                    case,
                    STAGE_FORM,
                    STAGE_FIELD,
                    serde_json::to_string(&ids).expect("a list of strings serialises")
                ])?;
            }
        }
        let mut sh = tx.prepare_cached(
            "INSERT INTO stage_history (case_id, seq, event_id, from_stage, to_stage, reason, hlc_millis, hlc_counter, author, role)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for (seq, c) in path.iter().enumerate().skip(kept) {
            sh.execute(params![
                case,
                seq as i64,
                c.event.to_string(),
                c.from,
                c.to,
                c.reason,
                millis(c.hlc),
                c.hlc.counter,
                c.author,
                c.role.as_str()
            ])?;
        }
    }
    let Some(reg) = &st.registration else { return Ok(()) };
    let f1 = |field: &str| st.register("registration_bia", None, field);
    let shown =
        |field: &str| f1(field).and_then(|r| r.resolve(protected("registration_bia", field)).0).map(|w| &w.value);
    let updated = st.updated.unwrap_or_default();
    if since.is_some() {
        tx.prepare_cached("DELETE FROM cases WHERE id = ?1")?.execute([&case])?;
    }
    tx.prepare_cached(
        "INSERT INTO cases (id, case_number, case_type, office, stage, stage_before, caseworker, risk_level,
            given_names, family_name, sex, age_years, date_of_birth, needs_review, conflicts,
            created_millis, updated_millis, updated_counter, merged_into, transferred_to, erased, event_count)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
    )?
    .execute(params![
        case,
        reg.case_number,
        reg.case_type,
        reg.office,
        st.stage.clone().unwrap_or_else(|| "identified".into()),
        st.stage_before,
        st.caseworker,
        opt_str(shown("risk_level")),
        opt_str(shown("given_names")),
        opt_str(shown("family_name")),
        opt_str(shown("sex")),
        shown("age_years").filter(|v| !v.is_null()).map(to_canonical_string),
        opt_str(shown("date_of_birth")),
        needs_review as i64,
        conflicts,
        millis(st.created.unwrap_or_default()),
        millis(updated),
        updated.counter,
        st.merged_into.map(|m| m.to_string()),
        st.transferred_to,
        st.erased as i64,
        st.event_count as i64
    ])?;
    Ok(())
}
