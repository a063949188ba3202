//! The data the case commands send to the UI, as plain serialisable records.
//!
//! Each type derives `ts_rs::TS`; `cargo test -p fieldcase-desktop` writes
//! their TypeScript declarations to ui/src/lib/bindings/ and `make
//! desktop-test` fails when the checked-in files differ, so the UI can never
//! drift from what the commands really return. The library's own types are
//! converted here rather than annotated there, because the core package must
//! not depend on UI tooling (ARCHITECTURE.md, `src-tauri/` and `ui/`).
//!
//! Timestamps cross as Unix milliseconds (`number`): 2^53 ms is far beyond any
//! real date, so nothing is lost, and the UI formats them with `Intl`.

use fieldcase::model::audit::AuditEntry;
use fieldcase::model::forms::{
    Condition, ConditionTest, FieldDef, FieldError, FormDef, FormRegistry, Labels, OptionDef,
};
use fieldcase::model::lifecycle::RuleViolation;
use fieldcase::model::store::{CaseDetail, CaseSummary, FieldView, ItemView, StageView};
use fieldcase::model::tasks::Task;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

/// Where generated bindings go, relative to ts-rs's export base
/// (src-tauri/bindings): ui/src/lib/bindings/.
macro_rules! dto {
    ($item:item) => {
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
        #[ts(export, export_to = "../../ui/src/lib/bindings/")]
        $item
    };
}

dto! {
/// A rule of the case lifecycle that an action breaks.
pub struct ViolationDto {
    /// Rule code, e.g. `R1b` or `role`.
    pub rule: String,
    /// What failed, a code of `model::violation::ViolationCode` (the window
    /// shows `violation.<code>`; the list is in
    /// bindings/violation-codes.json). Empty for a refusal kept before
    /// violations had codes.
    pub code: String,
    /// The values the code's message uses, by name.
    pub params: BTreeMap<String, String>,
    /// What is missing or wrong, in English (the fallback).
    pub message: String,
}
}

impl From<&RuleViolation> for ViolationDto {
    fn from(v: &RuleViolation) -> Self {
        ViolationDto {
            rule: v.rule.clone(),
            code: v.code.clone(),
            params: v.params.clone(),
            message: v.message.clone(),
        }
    }
}

dto! {
/// One problem with one field value.
pub struct FieldErrorDto {
    /// Field path, e.g. `family_members[1].relationship`.
    pub field: String,
    /// Machine code (`required`, `not_in_list`, ...).
    pub code: String,
    /// English sentence naming the field and the problem.
    pub message: String,
}
}

impl From<&FieldError> for FieldErrorDto {
    fn from(e: &FieldError) -> Self {
        let code = serde_json::to_value(e.code).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        FieldErrorDto { field: e.field.clone(), code, message: e.message.clone() }
    }
}

dto! {
/// Every command error: a stable `code` the UI translates, the library's own
/// `message` (English, says what to do) as a fallback, and, when the cause is
/// a form or the case rules, the details to show next to the right field.
pub struct UiError {
    /// Stable machine code, e.g. `wrong_passphrase`, `invalid`, `rule_violated`.
    pub code: String,
    /// Human message from the library.
    pub message: String,
    /// Field problems (code `invalid`).
    pub fields: Vec<FieldErrorDto>,
    /// Broken lifecycle rules (code `rule_violated`).
    pub violations: Vec<ViolationDto>,
    /// What a translated message of `code` needs, by name (the library's
    /// `StoreError::params`: e.g. `reason` of `hidden`, `role` of
    /// `forbidden`).
    pub params: BTreeMap<String, String>,
}
}

impl UiError {
    /// An error the shell finds itself, with no field or rule details
    /// (a library error goes through [`UiError::coded`]).
    pub fn new(code: crate::errors::ShellCode, message: impl Into<String>) -> UiError {
        use fieldcase::codes::Coded as _;
        UiError {
            code: code.code().to_string(),
            message: message.into(),
            fields: Vec::new(),
            violations: Vec::new(),
            params: BTreeMap::new(),
        }
    }
}

dto! {
/// What the unlock screen needs before anything is decrypted.
pub struct VaultInfo {
    /// The vault directory.
    pub path: String,
    /// Whether a vault exists there (its identity file is present).
    pub exists: bool,
    /// Whether the vault is unlocked in this window now.
    pub unlocked: bool,
    /// The demo passphrase, only when the app was started in demo mode.
    pub demo_passphrase: Option<String>,
}
}

dto! {
/// What the UI shows once the vault is open.
pub struct UnlockedInfo {
    /// Number of registered cases.
    pub case_count: u32,
    /// The device (vault) name given at init.
    pub device_name: String,
    /// Whether data is also encrypted to the office's escrow key.
    pub escrow_on: bool,
    /// The person the vault was made for.
    pub user_name: String,
    /// Their role (`caseworker`, `supervisor`, `bid_panel`, ...).
    #[ts(as = "crate::domain_ts::RoleName")]
    pub role: String,
    /// Files found modified outside Fieldcase at this unlock or set aside
    /// at an earlier one: one sentence each, shown until resolved
    /// (`RecoveryReport::tamper_warnings`). Empty when all is well.
    pub tamper_warnings: Vec<String>,
}
}

dto! {
/// Who the next changes are recorded as (every event carries it).
pub struct ActorDto {
    /// User name.
    pub user: String,
    /// Role wire name.
    #[ts(as = "crate::domain_ts::RoleName")]
    pub role: String,
    /// The vault owner's own name and role, to switch back to.
    pub owner_user: String,
    /// The vault owner's role.
    pub owner_role: String,
}
}

/// What a new vault is made with. Not `Debug`, `Clone` or `Serialize`: it
/// holds the passphrase, which is zeroized when it is dropped.
#[derive(Deserialize, TS)]
#[ts(export, export_to = "../../ui/src/lib/bindings/")]
pub struct NewVault {
    /// The user of this device (also the device's name for the office).
    pub user_name: String,
    /// Their role wire name.
    pub role: String,
    /// Passphrase (must pass `fieldcase::passphrase_policy`).
    pub passphrase: String,
    /// Optional office escrow recipient (`age1...`).
    pub escrow: Option<String>,
}

impl Drop for NewVault {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.passphrase);
    }
}

dto! {
/// The passphrase policy's verdict on a passphrase being chosen
/// (`fieldcase::passphrase_policy`), for the first-run screen's meter.
pub struct PassphraseCheck {
    /// `too_short`, `weak`, `fair` or `strong`.
    pub strength: String,
    /// Whether a vault may be made with it (fair or strong).
    pub acceptable: bool,
    /// The fewest characters accepted.
    pub min_chars: u32,
    /// What is wrong, in English, when known.
    pub warning: Option<String>,
    /// How to make it stronger, in English.
    pub suggestions: Vec<String>,
}
}

impl From<fieldcase::passphrase_policy::Verdict> for PassphraseCheck {
    fn from(v: fieldcase::passphrase_policy::Verdict) -> Self {
        PassphraseCheck {
            strength: v.strength.as_str().to_string(),
            acceptable: v.is_acceptable(),
            min_chars: fieldcase::passphrase_policy::MIN_CHARS as u32,
            warning: v.warning,
            suggestions: v.suggestions,
        }
    }
}

dto! {
/// One row of the case list.
pub struct CaseRow {
    /// Case id.
    pub id: String,
    /// Human case number.
    pub case_number: String,
    /// Case type.
    pub case_type: String,
    /// Office.
    pub office: String,
    /// Current stage (wire name).
    #[ts(as = "crate::domain_ts::StageName")]
    pub stage: String,
    /// Assigned caseworker.
    pub caseworker: Option<String>,
    /// Risk level.
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
    /// A protected field conflict waits for a person.
    pub needs_review: bool,
    /// Fields with several values.
    pub conflicts: u32,
    /// Newest change, Unix ms.
    pub updated: f64,
    /// Days the most overdue task of the case is late (0: none overdue).
    pub overdue_days: f64,
}
}

impl CaseRow {
    /// The list row of `s`, with the overdue days computed from its tasks.
    pub fn from_summary(s: &CaseSummary, overdue_days: i64) -> CaseRow {
        CaseRow {
            id: s.id.to_string(),
            case_number: s.case_number.clone(),
            case_type: s.case_type.clone(),
            office: s.office.clone(),
            stage: s.stage.clone(),
            caseworker: s.caseworker.clone(),
            risk_level: s.risk_level.clone(),
            given_names: s.given_names.clone(),
            family_name: s.family_name.clone(),
            sex: s.sex.clone(),
            age_years: s.age_years,
            date_of_birth: s.date_of_birth.clone(),
            needs_review: s.needs_review,
            conflicts: s.conflicts,
            updated: s.updated.millis as f64,
            overdue_days: overdue_days as f64,
        }
    }
}

dto! {
/// One value of a field register (several when edited concurrently).
pub struct HeadDto {
    /// The value.
    #[ts(type = "unknown")]
    pub value: Value,
    /// When, Unix ms.
    pub at: f64,
    /// Who.
    pub author: String,
    /// Which device.
    pub device_id: String,
}
}

dto! {
/// A field's shown value.
pub struct FieldValueDto {
    /// Form id.
    pub form: String,
    /// List item, for repeating forms.
    pub item: Option<String>,
    /// Field name.
    pub field: String,
    /// Shown value (null for a protected field that needs review).
    #[ts(type = "unknown")]
    pub value: Option<Value>,
    /// `ok`, `merged_automatically` or `needs_review`.
    pub status: String,
    /// Every value in conflict, oldest first.
    pub heads: Vec<HeadDto>,
}
}

impl From<&FieldView> for FieldValueDto {
    fn from(f: &FieldView) -> Self {
        FieldValueDto {
            form: f.form.clone(),
            item: f.item.map(|i| i.to_string()),
            field: f.field.clone(),
            value: f.value.clone(),
            status: f.status.as_str().to_string(),
            heads: f
                .heads
                .iter()
                .map(|h| HeadDto {
                    value: h.value.clone(),
                    at: h.hlc.millis as f64,
                    author: h.author.clone(),
                    device_id: h.device_id.to_string(),
                })
                .collect(),
        }
    }
}

dto! {
/// A list item (note, visit, referral, attachment, tracing action...).
pub struct ItemDto {
    /// Form id.
    pub form: String,
    /// Item id.
    pub item: String,
    /// Event kind that created it.
    pub kind: String,
    /// When, Unix ms.
    pub created: f64,
    /// By whom.
    pub author: String,
}
}

impl From<&ItemView> for ItemDto {
    fn from(i: &ItemView) -> Self {
        ItemDto {
            form: i.form.clone(),
            item: i.item.to_string(),
            kind: i.kind.clone(),
            created: i.created.millis as f64,
            author: i.author.clone(),
        }
    }
}

dto! {
/// A stage change.
pub struct StageChangeDto {
    /// From (none for the registration).
    pub from: Option<String>,
    /// To.
    pub to: String,
    /// Reason given.
    pub reason: String,
    /// When, Unix ms.
    pub at: f64,
    /// Who.
    pub author: String,
    /// In which role.
    pub role: String,
}
}

impl From<&StageView> for StageChangeDto {
    fn from(s: &StageView) -> Self {
        StageChangeDto {
            from: s.from.clone(),
            to: s.to.clone(),
            reason: s.reason.clone(),
            at: s.hlc.millis as f64,
            author: s.author.clone(),
            role: s.role.clone(),
        }
    }
}

dto! {
/// One thing to do on a case.
pub struct TaskDto {
    /// The case.
    pub case_id: String,
    /// Case number, for lists across cases.
    pub case_number: String,
    /// Child's name as recorded (may be empty).
    pub child_name: String,
    /// Assigned caseworker.
    pub caseworker: Option<String>,
    /// Task kind (`follow_up_due`, `follow_up_overdue`, `bia_due`, ...).
    pub kind: String,
    /// Due date, `YYYY-MM-DD`.
    pub due: String,
    /// Days past due (0 when not overdue).
    pub overdue_days: f64,
    /// One line, English.
    pub title: String,
}
}

impl TaskDto {
    /// `t` with the case's list row for number, name and caseworker.
    pub fn new(t: &Task, case: Option<&CaseSummary>) -> TaskDto {
        let name = case
            .map(|c| {
                [c.given_names.as_deref(), c.family_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ")
            })
            .unwrap_or_default();
        TaskDto {
            case_id: t.case_id.to_string(),
            case_number: case.map(|c| c.case_number.clone()).unwrap_or_default(),
            child_name: name,
            caseworker: case.and_then(|c| c.caseworker.clone()),
            kind: serde_json::to_value(t.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
            due: t.due.format("%Y-%m-%d").to_string(),
            overdue_days: t.overdue_days as f64,
            title: t.title.clone(),
        }
    }
}

dto! {
/// A stage the case may move to next, and what stops it now.
pub struct NextStepDto {
    /// Target stage wire name.
    #[ts(as = "crate::domain_ts::StageName")]
    pub to: String,
    /// Roles allowed to make the move.
    #[ts(as = "Vec<crate::domain_ts::RoleName>")]
    pub roles: Vec<String>,
    /// Why the acting user cannot make it now (empty: allowed).
    pub blocked_by: Vec<ViolationDto>,
}
}

dto! {
/// Everything the case workspace shows.
pub struct CaseDetailDto {
    /// The list row.
    pub summary: CaseRow,
    /// Stage to return to from a side state.
    #[ts(as = "Option<crate::domain_ts::StageName>")]
    pub stage_before: Option<String>,
    /// Every field value.
    pub fields: Vec<FieldValueDto>,
    /// List items.
    pub items: Vec<ItemDto>,
    /// Stage history, oldest first.
    pub stage_history: Vec<StageChangeDto>,
    /// Tasks due on this case.
    pub tasks: Vec<TaskDto>,
    /// The moves the lifecycle table allows from here, with blockers.
    pub next_steps: Vec<NextStepDto>,
}
}

impl CaseDetailDto {
    /// The workspace view of `d`.
    pub fn new(d: &CaseDetail, next_steps: Vec<NextStepDto>) -> CaseDetailDto {
        let overdue = d.tasks.iter().map(|t| t.overdue_days).max().unwrap_or(0);
        CaseDetailDto {
            summary: CaseRow::from_summary(&d.summary, overdue),
            stage_before: d.summary.stage_before.clone(),
            fields: d.fields.iter().map(FieldValueDto::from).collect(),
            items: d.items.iter().map(ItemDto::from).collect(),
            stage_history: d.stage_history.iter().map(StageChangeDto::from).collect(),
            tasks: d.tasks.iter().map(|t| TaskDto::new(t, Some(&d.summary))).collect(),
            next_steps,
        }
    }
}

dto! {
/// One entry of a case's audit trail.
pub struct AuditDto {
    /// Position in the case's chain.
    pub seq: f64,
    /// When, Unix ms.
    pub at: f64,
    /// Who.
    pub author: String,
    /// In which role.
    #[ts(as = "crate::domain_ts::RoleName")]
    pub role: String,
    /// Event kind wire name (`form.saved`, `status.changed`, ...).
    pub kind: String,
    /// Form, if any.
    pub form: Option<String>,
    /// Fields written.
    pub fields: Vec<String>,
    /// One line.
    pub summary: String,
}
}

impl From<&AuditEntry> for AuditDto {
    fn from(a: &AuditEntry) -> Self {
        AuditDto {
            seq: a.seq as f64,
            at: a.hlc.millis as f64,
            author: a.author.clone(),
            role: a.role.as_str().to_string(),
            kind: a.kind.as_str().to_string(),
            form: a.form.clone(),
            fields: a.fields.clone(),
            summary: a.summary.clone(),
        }
    }
}

dto! {
/// A text in the three interface languages.
pub struct LabelsDto {
    /// English.
    pub en: String,
    /// French.
    pub fr: String,
    /// Arabic.
    pub ar: String,
}
}

impl From<&Labels> for LabelsDto {
    fn from(l: &Labels) -> Self {
        LabelsDto { en: l.en.clone(), fr: l.fr.clone(), ar: l.ar.clone() }
    }
}

dto! {
/// One choice of an enum field.
pub struct OptionDto {
    /// Stored value.
    pub value: String,
    /// Shown label.
    pub labels: LabelsDto,
}
}

impl From<&OptionDef> for OptionDto {
    fn from(o: &OptionDef) -> Self {
        OptionDto { value: o.value.clone(), labels: (&o.labels).into() }
    }
}

dto! {
/// A condition on another field's value (`shown_if`, `required_if`); a field
/// path with a dot (`form.field`) names another form of the case.
pub struct ConditionDto {
    /// The field tested.
    pub field: String,
    /// `equals`, `not_equals`, `in`, `not_in`, `not_empty`, `empty`, `gte`, `lte`
    /// (the names `From<&Condition>` below gives; the UI's evaluator switches
    /// over this union exhaustively).
    #[ts(type = r#""equals" | "not_equals" | "in" | "not_in" | "not_empty" | "empty" | "gte" | "lte""#)]
    pub test: String,
    /// The operand (a value, a list or a number; null for the emptiness tests).
    #[ts(type = "unknown")]
    pub operand: Value,
}
}

impl From<&Condition> for ConditionDto {
    fn from(c: &Condition) -> Self {
        let (test, operand) = match &c.test {
            ConditionTest::Equals(v) => ("equals", v.clone()),
            ConditionTest::NotEquals(v) => ("not_equals", v.clone()),
            ConditionTest::In(v) => ("in", Value::Array(v.clone())),
            ConditionTest::NotIn(v) => ("not_in", Value::Array(v.clone())),
            ConditionTest::NotEmpty => ("not_empty", Value::Null),
            ConditionTest::Empty => ("empty", Value::Null),
            ConditionTest::Gte(n) => ("gte", serde_json::json!(n)),
            ConditionTest::Lte(n) => ("lte", serde_json::json!(n)),
        };
        ConditionDto { field: c.field.clone(), test: test.to_string(), operand }
    }
}

dto! {
/// A field of a form definition, with its value list resolved.
pub struct FieldDefDto {
    /// Field name.
    pub name: String,
    /// Field type wire name (`text`, `enum`, `group_list`, ...).
    #[serde(rename = "type")]
    pub field_type: String,
    /// Required in a complete form.
    pub required: bool,
    /// Required when this holds.
    pub required_if: Option<ConditionDto>,
    /// Shown (and allowed) only when this holds.
    pub shown_if: Option<ConditionDto>,
    /// `normal`, `sensitive` or `protected`.
    pub sensitivity: String,
    /// Label.
    pub labels: LabelsDto,
    /// Help text.
    pub help: Option<LabelsDto>,
    /// Choices (own or from the referenced value list).
    pub options: Vec<OptionDto>,
    /// Minimum number.
    pub min: Option<f64>,
    /// Maximum number.
    pub max: Option<f64>,
    /// Minimum list length in a complete form.
    pub min_items: Option<f64>,
    /// Sub-fields of a `group_list`.
    pub fields: Vec<FieldDefDto>,
}
}

impl FieldDefDto {
    fn new(f: &FieldDef, registry: &FormRegistry) -> FieldDefDto {
        let options = if f.options.is_empty() {
            f.options_ref
                .as_deref()
                .and_then(|r| registry.value_list(r))
                .map(|l| l.options.iter().map(OptionDto::from).collect())
                .unwrap_or_default()
        } else {
            f.options.iter().map(OptionDto::from).collect()
        };
        FieldDefDto {
            name: f.name.clone(),
            field_type: wire(&f.field_type),
            required: f.required,
            required_if: f.required_if.as_ref().map(ConditionDto::from),
            shown_if: f.shown_if.as_ref().map(ConditionDto::from),
            sensitivity: wire(&f.sensitivity),
            labels: (&f.labels).into(),
            help: f.help.as_ref().map(LabelsDto::from),
            options,
            min: f.min,
            max: f.max,
            min_items: f.min_items.map(|n| n as f64),
            fields: f.fields.iter().map(|s| FieldDefDto::new(s, registry)).collect(),
        }
    }
}

dto! {
/// A titled group of fields of a form.
pub struct SectionDto {
    /// Section id.
    pub id: String,
    /// Title.
    pub labels: LabelsDto,
    /// Field names, in order.
    pub fields: Vec<String>,
}
}

dto! {
/// A form definition from assets/forms, ready to render.
pub struct FormDefDto {
    /// Form id (`registration_bia`, `bid`, ...).
    pub id: String,
    /// Short code (F1, F7...).
    pub code: String,
    /// Title.
    pub title: LabelsDto,
    /// Case types it applies to.
    pub applies_to: Vec<String>,
    /// Stages in which it is worked on.
    pub stages: Vec<String>,
    /// Sections (empty: one section of all fields).
    pub sections: Vec<SectionDto>,
    /// One record per item (notes, visits...) rather than one per case.
    pub repeating: bool,
    /// Fields.
    pub fields: Vec<FieldDefDto>,
}
}

impl FormDefDto {
    /// The renderable view of `f`.
    pub fn new(f: &FormDef, registry: &FormRegistry) -> FormDefDto {
        FormDefDto {
            id: f.id.clone(),
            code: f.code.clone(),
            title: (&f.title).into(),
            applies_to: f.applies_to.clone(),
            stages: f.stages.clone(),
            sections: f
                .sections
                .iter()
                .map(|s| SectionDto { id: s.id.clone(), labels: (&s.labels).into(), fields: s.fields.clone() })
                .collect(),
            repeating: f.repeating,
            fields: f.fields.iter().map(|x| FieldDefDto::new(x, registry)).collect(),
        }
    }
}

dto! {
/// An attachment's bytes and type, for showing a photo or saving a document.
pub struct AttachmentData {
    /// MIME type as recorded.
    pub mime: String,
    /// The decrypted bytes, base64 (kept in memory only).
    pub base64: String,
}
}

/// The serde wire name of a unit enum variant (`FieldType::MultiEnum` ->
/// `multi_enum`).
fn wire<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}
