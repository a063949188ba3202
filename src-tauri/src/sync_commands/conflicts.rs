//! The office's conflict queue (fields with several values, stage
//! conflicts) with labels, and settling one by choosing a head.

use super::*;

pub(super) fn json_text(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The library's conflict queue (fields with several values and stage
/// conflicts; protected ones, waiting for a person, first), with the
/// labels the screen shows.
pub fn conflicts(store: &CaseStore) -> Result<Vec<ConflictEntry>, UiError> {
    let names: HashMap<Uuid, String> = sync::exchange::roster(store)?
        .map(|r| r.roster.devices.iter().map(|d| (d.device_id, d.name.clone())).collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for q in store.conflict_queue()? {
        let def = forms::registry().get(&q.form);
        let field_def = def.and_then(|d| d.field_path(&q.field));
        let heads = q
            .heads
            .iter()
            .map(|h| ConflictHead {
                event: h.event.to_string(),
                value_json: json_text(&h.value),
                value_labels: h.value.as_str().and_then(|v| field_def?.option(v)).map(|o| LabelsDto::from(&o.labels)),
                when_millis: h.hlc.millis,
                author: h.author.clone(),
                device_id: h.device_id.to_string(),
                device_name: names.get(&h.device_id).cloned(),
            })
            .collect();
        out.push(ConflictEntry {
            case_id: q.case.id.to_string(),
            case_number: q.case.case_number.clone(),
            child_name: child_name(&q.case),
            form_title: def.map(|d| LabelsDto::from(&d.title)),
            field_label: field_def.map(|fd| LabelsDto::from(&fd.labels)),
            form: q.form,
            item: q.item.map(|i| i.to_string()),
            field: q.field,
            protected: q.protected,
            shown_json: q.shown.as_ref().map(json_text),
            heads,
        });
    }
    Ok(out)
}

/// Settle a conflict (a field's, or the stage's: form `case`, field
/// `stage`) with the value of one of its heads (`event`). The library takes
/// the value from the head and refuses an event that is no current head.
pub fn resolve(
    store: &mut CaseStore,
    case: Uuid,
    form: &str,
    item: Option<Uuid>,
    field: &str,
    event: Uuid,
) -> Result<(), UiError> {
    store.resolve_conflict_head(case, form, item, field, event).map_err(UiError::from)
}

/// Fields with several values.
#[tauri::command]
pub async fn office_conflicts(session: State<'_, Session>) -> Result<Vec<ConflictEntry>, UiError> {
    session.with_store(|s| conflicts(s))
}

/// Settle a conflict with the value of head `event`.
#[tauri::command]
pub async fn office_resolve_conflict(
    session: State<'_, Session>,
    case: String,
    form: String,
    item: Option<String>,
    field: String,
    event: String,
) -> Result<(), UiError> {
    let case = parse_uuid(&case, "case")?;
    let item = item.as_deref().map(|i| parse_uuid(i, "item")).transpose()?;
    let event = parse_uuid(&event, "value")?;
    session.with_store(|s| resolve(s, case, &form, item, &field, event))
}
