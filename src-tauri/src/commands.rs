//! The commands the UI may invoke (granted one by one in
//! capabilities/default.json and listed in build.rs). Each calls [`Session`]
//! or the library's [`CaseStore`](fieldcase::model::store::CaseStore) and
//! converts the result to a [`crate::dto`] record; no case rule lives here.

use std::collections::HashMap;

use base64::Engine;
use fieldcase::model::forms::{self, validate_complete_in_case, validate_values};
use fieldcase::model::lifecycle::Stage;
use fieldcase::model::store::{stage_name, CaseStore};
use fieldcase::vault::SecretString;
use serde_json::{Map, Value};
use tauri::State;
use uuid::Uuid;

use crate::dto::{
    ActorDto, AttachmentData, AuditDto, CaseDetailDto, CaseRow, FieldErrorDto, FormDefDto, NewVault, NextStepDto,
    PassphraseCheck, TaskDto, ViolationDto,
};
use crate::session::{Session, UiError, UnlockedInfo, VaultInfo};

/// Where the vault is and whether it exists; the demo passphrase in demo mode.
#[tauri::command]
pub fn vault_info(session: State<'_, Session>) -> VaultInfo {
    session.info()
}

/// Unlock the vault with a passphrase. Async so the key derivation (scrypt,
/// about a second) runs off the window's main thread. The `String` is moved
/// (not copied) into the zeroizing `SecretString`.
#[tauri::command]
pub async fn unlock(session: State<'_, Session>, passphrase: String) -> Result<UnlockedInfo, UiError> {
    session.unlock(SecretString::from(passphrase))
}

/// The passphrase policy's verdict on a passphrase being chosen, for the
/// first-run screen's meter (`create_vault` applies the same rule). The
/// passphrase is zeroized when the check returns.
#[tauri::command]
pub fn check_passphrase(passphrase: String, user_name: String) -> PassphraseCheck {
    let passphrase = zeroize::Zeroizing::new(passphrase);
    fieldcase::passphrase_policy::check(&passphrase, &[user_name.trim()]).into()
}

/// First run: create the vault and open it.
#[tauri::command]
pub async fn create_vault(session: State<'_, Session>, new: NewVault) -> Result<UnlockedInfo, UiError> {
    session.create(new)
}

/// Lock the vault.
#[tauri::command]
pub async fn lock(session: State<'_, Session>) -> Result<(), UiError> {
    session.lock()
}

/// Who changes are recorded as.
#[tauri::command]
pub fn get_actor(session: State<'_, Session>) -> Result<ActorDto, UiError> {
    session.actor()
}

/// Switch the person recording on a shared machine, with their passphrase.
#[tauri::command]
pub async fn switch_person(session: State<'_, Session>, user: String, passphrase: String) -> Result<ActorDto, UiError> {
    // Moved, not copied, into the zeroizing secret.
    session.switch_person(&user, SecretString::from(passphrase))
}

/// Add a person with their own passphrase and role to this vault.
#[tauri::command]
pub async fn add_person(
    session: State<'_, Session>,
    user: String,
    role: String,
    passphrase: String,
) -> Result<(), UiError> {
    session.add_person(&user, &role, SecretString::from(passphrase))
}

/// The form definitions, with value lists resolved: those of the open
/// vault's country configuration (its areas, service providers and added
/// options), else the built-in ones.
#[tauri::command]
pub async fn form_definitions(session: State<'_, Session>) -> Result<Vec<FormDefDto>, UiError> {
    Ok(session.with_store(|s| Ok(definitions_of(s.forms()))).unwrap_or_else(|_| definitions_of(forms::registry())))
}

fn definitions_of(registry: &forms::FormRegistry) -> Vec<FormDefDto> {
    registry.all().map(|f| FormDefDto::new(f, registry)).collect()
}

/// Every case, for the case list (filtered and sorted in the window).
#[tauri::command]
pub async fn list_cases(session: State<'_, Session>) -> Result<Vec<CaseRow>, UiError> {
    session.with_store(|s| {
        let overdue = overdue_by_case(s)?;
        Ok(s.list_cases()?
            .cases
            .iter()
            .map(|c| CaseRow::from_summary(c, overdue.get(&c.id).copied().unwrap_or(0)))
            .collect())
    })
}

fn overdue_by_case(s: &CaseStore) -> Result<HashMap<Uuid, i64>, UiError> {
    let mut out: HashMap<Uuid, i64> = HashMap::new();
    for t in s.tasks(s.today())?.tasks {
        let e = out.entry(t.case_id).or_insert(0);
        *e = (*e).max(t.overdue_days);
    }
    Ok(out)
}

fn parse_case(s: &CaseStore, case: &str) -> Result<Uuid, UiError> {
    Ok(s.find_case(case)?)
}

/// Everything the case workspace shows, with the next steps the lifecycle
/// allows and what blocks each for the acting user.
#[tauri::command]
pub async fn case_detail(session: State<'_, Session>, case: String) -> Result<CaseDetailDto, UiError> {
    session.with_store(|s| {
        let id = parse_case(s, &case)?;
        let detail = s.case_detail(id)?;
        Ok(CaseDetailDto::new(&detail, next_steps(s, id)?))
    })
}

/// The library's next steps of a case (its own gate run on a probe), as
/// the screen shows them.
fn next_steps(s: &CaseStore, case: Uuid) -> Result<Vec<NextStepDto>, UiError> {
    Ok(s.next_steps(case)?
        .into_iter()
        .map(|n| NextStepDto {
            to: stage_name(n.to),
            roles: n.roles.iter().map(|r| r.as_str().to_string()).collect(),
            blocked_by: n.blocked_by.iter().map(ViolationDto::from).collect(),
        })
        .collect())
}

/// Register a new case; returns its id.
#[tauri::command]
pub async fn create_case(session: State<'_, Session>, case_type: String, office: String) -> Result<String, UiError> {
    session.with_store(|s| Ok(s.create_case(&case_type, &office)?.to_string()))
}

fn item_id(item: Option<String>) -> Result<Option<Uuid>, UiError> {
    item.filter(|i| !i.is_empty())
        .map(|i| {
            Uuid::parse_str(&i)
                .map_err(|_| UiError::new(crate::errors::ShellCode::BadId, format!("{i:?} is not an item id")))
        })
        .transpose()
}

/// Save values of a form (or of one item of a repeating form). A new item
/// of a repeating form gets a fresh id here when `item` is empty.
#[tauri::command]
pub async fn save_form(
    session: State<'_, Session>,
    case: String,
    form: String,
    item: Option<String>,
    values: Map<String, Value>,
) -> Result<Option<String>, UiError> {
    session.with_store(|s| {
        let id = parse_case(s, &case)?;
        let repeating = forms::registry().get(&form).is_some_and(|f| f.repeating);
        let item = match item_id(item)? {
            Some(i) => Some(i),
            None if repeating => Some(Uuid::now_v7()),
            None => None,
        };
        s.save_form(id, &form, item, values)?;
        Ok(item.map(|i| i.to_string()))
    })
}

/// Check values without saving: type errors always, and with `complete`
/// also what a finished form needs (required fields, conditions on other
/// forms of the case).
#[tauri::command]
pub async fn validate_form(
    session: State<'_, Session>,
    case: String,
    form: String,
    values: Map<String, Value>,
    complete: bool,
) -> Result<Vec<FieldErrorDto>, UiError> {
    // The lists of the vault's country configuration, as a save checks them.
    let result = session.with_store(|s| {
        let def = s
            .forms()
            .get(&form)
            .ok_or_else(|| UiError::from(fieldcase::model::store::StoreError::UnknownForm { form: form.clone() }))?;
        if complete {
            let id = parse_case(s, &case)?;
            Ok(validate_complete_in_case(def, &values, &s.facts(id)?.values))
        } else {
            Ok(validate_values(def, &values))
        }
    })?;
    Ok(result.err().unwrap_or_default().iter().map(FieldErrorDto::from).collect())
}

/// Move the case to another stage (refused with the broken rules).
#[tauri::command]
pub async fn change_stage(
    session: State<'_, Session>,
    case: String,
    to: String,
    reason: String,
) -> Result<(), UiError> {
    let stage = Stage::parse(&to)
        .ok_or_else(|| UiError::new(crate::errors::ShellCode::UnknownStage, format!("unknown stage {to:?}")))?;
    session.with_store(|s| {
        let id = parse_case(s, &case)?;
        Ok(s.change_stage(id, stage, &reason)?)
    })
}

/// Add a case note.
#[tauri::command]
pub async fn add_note(
    session: State<'_, Session>,
    case: String,
    values: Map<String, Value>,
) -> Result<String, UiError> {
    session.with_store(|s| {
        let id = parse_case(s, &case)?;
        Ok(s.add_note(id, values)?.to_string())
    })
}

/// Record a follow-up visit.
#[tauri::command]
pub async fn record_visit(
    session: State<'_, Session>,
    case: String,
    values: Map<String, Value>,
) -> Result<String, UiError> {
    session.with_store(|s| {
        let id = parse_case(s, &case)?;
        Ok(s.record_visit(id, values)?.to_string())
    })
}

/// Make a referral.
#[tauri::command]
pub async fn make_referral(
    session: State<'_, Session>,
    case: String,
    values: Map<String, Value>,
) -> Result<String, UiError> {
    session.with_store(|s| {
        let id = parse_case(s, &case)?;
        Ok(s.make_referral(id, values)?.to_string())
    })
}

/// Assign the case to a caseworker.
#[tauri::command]
pub async fn assign_case(session: State<'_, Session>, case: String, caseworker: String) -> Result<(), UiError> {
    session.with_store(|s| {
        let id = parse_case(s, &case)?;
        Ok(s.assign(id, caseworker.trim())?)
    })
}

/// Move `cases` (ids or numbers) to caseworker `to`, in one commit: all or
/// none. The library decides who may (a supervisor or the office) and to
/// whom (an enrolled caseworker where the vault holds a roster). Returns
/// how many changed.
#[tauri::command]
pub async fn assign_cases(session: State<'_, Session>, cases: Vec<String>, to: String) -> Result<usize, UiError> {
    session.with_store(|s| {
        let ids = cases.iter().map(|c| parse_case(s, c)).collect::<Result<Vec<_>, _>>()?;
        Ok(s.assign_cases(&ids, to.trim())?)
    })
}

/// Move every case assigned to `from` to `to`, in one commit. Returns how
/// many moved.
#[tauri::command]
pub async fn reassign_all(session: State<'_, Session>, from: String, to: String) -> Result<usize, UiError> {
    session.with_store(|s| Ok(s.reassign_all(from.trim(), to.trim())?.len()))
}

/// Request the erasure of a case (a supervisor or a data manager); another
/// person in the other role approves it on their own device.
#[tauri::command]
pub async fn request_erasure(session: State<'_, Session>, case: String, reason: String) -> Result<(), UiError> {
    session.with_store(|s| {
        let id = parse_case(s, &case)?;
        s.request_erasure(id, reason.trim())?;
        Ok(())
    })
}

/// Approve the pending erasure request of a case: its data and attachments
/// are removed from the vault at once and only a tombstone is left.
#[tauri::command]
pub async fn approve_erasure(session: State<'_, Session>, case: String) -> Result<(), UiError> {
    session.with_store(|s| {
        let id = parse_case(s, &case)?;
        s.approve_erasure(id)?;
        Ok(())
    })
}

/// The audit trail of a case, oldest first.
#[tauri::command]
pub async fn case_history(session: State<'_, Session>, case: String) -> Result<Vec<AuditDto>, UiError> {
    session.with_store(|s| {
        let id = parse_case(s, &case)?;
        Ok(s.history(id)?.entries.iter().map(AuditDto::from).collect())
    })
}

/// Tasks across all cases as of today, for the follow-up calendar.
#[tauri::command]
pub async fn all_tasks(session: State<'_, Session>) -> Result<Vec<TaskDto>, UiError> {
    session.with_store(|s| {
        let cases: HashMap<Uuid, _> = s.list_cases()?.cases.into_iter().map(|c| (c.id, c)).collect();
        Ok(s.tasks(s.today())?.tasks.iter().map(|t| TaskDto::new(t, cases.get(&t.case_id))).collect())
    })
}

/// Add a photo or scanned document: the bytes go into the encrypted blob
/// store and an `attachment.added` event records it on the case.
#[tauri::command]
pub async fn add_attachment(
    session: State<'_, Session>,
    case: String,
    name: String,
    mime: String,
    base64: String,
) -> Result<String, UiError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(base64.as_bytes())
        .map_err(|_| UiError::new(crate::errors::ShellCode::BadAttachment, "the file could not be read"))?;
    session.with_store(|s| {
        let id = parse_case(s, &case)?;
        Ok(s.add_attachment(id, &name, &mime, &bytes)?.to_string())
    })
}

/// The bytes of an attachment, decrypted, for showing it in the window.
#[tauri::command]
pub async fn get_attachment(
    session: State<'_, Session>,
    blob: String,
    mime: String,
) -> Result<AttachmentData, UiError> {
    session.with_store(|s| {
        let bytes = s.get_blob(&blob)?;
        Ok(AttachmentData { mime, base64: base64::engine::general_purpose::STANDARD.encode(&bytes[..]) })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldcase::vault::{InitOptions, VaultOptions};
    use serde_json::json;

    fn store() -> (tempfile::TempDir, CaseStore, Uuid) {
        let tmp = tempfile::tempdir().expect("temp dir");
        let options = VaultOptions { scrypt_log_n: Some(10), ..VaultOptions::default() };
        let opts = InitOptions { name: "Awa".into(), role: "supervisor".into(), escrow: None };
        let mut s = CaseStore::init_with(tmp.path(), &SecretString::from("a passphrase".to_string()), opts, &options)
            .expect("init");
        let id = s.create_case("uasc", "Agadez").expect("case");
        (tmp, s, id)
    }

    #[test]
    fn next_steps_say_why_registration_is_blocked_and_clear_once_the_rules_hold() {
        let (_tmp, mut s, id) = store();
        let steps = next_steps(&s, id).expect("steps");
        let reg = steps.iter().find(|n| n.to == "registered").expect("registered is a next step");
        assert!(reg.blocked_by.iter().any(|v| v.rule == "R4"), "{:?}", reg.blocked_by);
        // The probe did not record anything.
        assert_eq!(s.case_detail(id).expect("detail").summary.stage, "identified");

        let values: Map<String, Value> = serde_json::from_value(json!({
            "given_names": "Amadou", "family_name": "Diallo", "sex": "male", "age_years": 16,
            "legitimate_basis": "vital_interests"
        }))
        .expect("values");
        s.save_form(id, "registration_bia", None, values).expect("save");
        let steps = next_steps(&s, id).expect("steps");
        let reg = steps.iter().find(|n| n.to == "registered").expect("registered");
        assert!(reg.blocked_by.is_empty(), "{:?}", reg.blocked_by);
        s.change_stage(id, Stage::Registered, "registration saved").expect("the store agrees");
    }

    #[test]
    fn an_erasure_approved_by_its_requester_comes_back_as_the_erasure_rule() {
        let (_tmp, mut s, id) = store();
        s.request_erasure(id, "opened_in_error").expect("a supervisor may request");
        s.set_actor("Dora", fieldcase::model::event::Role::DataManager).expect("a vault of no office takes any actor");
        // Another name, but this device's key signed the request too.
        let e = UiError::from(s.approve_erasure(id).expect_err("one key cannot erase"));
        assert_eq!(e.code, "rule_violated");
        assert!(e.violations.iter().any(|v| v.rule == "erasure"), "{:?}", e.violations);
        assert!(s.case_detail(id).is_ok(), "nothing was erased");
    }

    #[test]
    fn invalid_values_come_back_per_field() {
        let (_tmp, mut s, id) = store();
        let values: Map<String, Value> =
            serde_json::from_value(json!({"sex": "lion", "age_years": "old"})).expect("values");
        let e = UiError::from(s.save_form(id, "registration_bia", None, values).expect_err("invalid"));
        assert_eq!(e.code, "invalid");
        let mut fields: Vec<_> = e.fields.iter().map(|f| (f.field.as_str(), f.code.as_str())).collect();
        fields.sort();
        assert_eq!(fields, vec![("age_years", "wrong_type"), ("sex", "not_in_list")]);
    }

    #[test]
    fn form_definitions_resolve_value_lists_and_conditions() {
        let forms = definitions_of(forms::registry());
        let reg = forms.iter().find(|f| f.id == "registration_bia").expect("registration form");
        let risk = reg.fields.iter().find(|f| f.name == "risk_level").expect("risk_level");
        assert_eq!(risk.options.iter().map(|o| o.value.as_str()).collect::<Vec<_>>(), ["high", "medium", "low"]);
        let visit = forms.iter().find(|f| f.id == "follow_up_visit").expect("visit form");
        let seen_alone = visit.fields.iter().find(|f| f.name == "seen_alone").expect("seen_alone");
        let cond = seen_alone.shown_if.as_ref().expect("conditional");
        assert_eq!((cond.field.as_str(), cond.test.as_str(), &cond.operand), ("child_seen", "equals", &json!(true)));
        let json = serde_json::to_value(risk).expect("serialise");
        assert_eq!(json["type"], "enum", "the field type crosses as `type`");
    }
}
