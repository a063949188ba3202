//! Forms as data: the eleven Best Interests Procedure forms F1–F11
//! and the records of the whole case (protection concerns, …; listed in
//! `assets/forms/README.md`), loaded from the JSON definitions in `assets/forms/` (embedded at compile
//! time), and the validation of saved values against them.
//!
//! The JSON files are the single source of truth, shared with the desktop UI,
//! which loads the same files to draw the forms. `assets/forms/schema.json`
//! describes their format; this module re-checks at load time what the rest of
//! the core relies on (known value lists, unique names, conditions that point
//! at real fields) so a bad definition is a [`FormError`], never a panic.

pub mod admin_areas;
mod condition;
mod validate;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

pub use admin_areas::{AdminArea, AdminAreas, AdminAreasError, AreaLevel, ADMIN_AREA_LIST};
pub use condition::{Condition, ConditionTest};
pub use validate::{validate_complete, validate_complete_in_case, validate_values, FieldError, FieldErrorCode};

/// Ids of every form, in form-number order (F1..F11), then the case-record forms (F12..).
pub const FORM_IDS: [&str; 22] = [
    "registration_bia",
    "family_tracing",
    "verification",
    "bid",
    "temporary_care",
    "reintegration_uasc",
    "reintegration_family",
    "follow_up_visit",
    "referral",
    "case_note",
    "closure_transfer",
    "protection_concern",
    "reunification",
    "case_plan",
    "partner_request",
    "caregiver",
    "placement",
    "age_assessment",
    "incident",
    "education",
    "case_conference",
    "inquiry",
];

/// The definitions compiled into the binary: (file name, contents).
const EMBEDDED_FORMS: [(&str, &str); 22] = [
    ("registration_bia.json", include_str!("../../../assets/forms/registration_bia.json")),
    ("family_tracing.json", include_str!("../../../assets/forms/family_tracing.json")),
    ("verification.json", include_str!("../../../assets/forms/verification.json")),
    ("bid.json", include_str!("../../../assets/forms/bid.json")),
    ("temporary_care.json", include_str!("../../../assets/forms/temporary_care.json")),
    ("reintegration_uasc.json", include_str!("../../../assets/forms/reintegration_uasc.json")),
    ("reintegration_family.json", include_str!("../../../assets/forms/reintegration_family.json")),
    ("follow_up_visit.json", include_str!("../../../assets/forms/follow_up_visit.json")),
    ("referral.json", include_str!("../../../assets/forms/referral.json")),
    ("case_note.json", include_str!("../../../assets/forms/case_note.json")),
    ("closure_transfer.json", include_str!("../../../assets/forms/closure_transfer.json")),
    ("protection_concern.json", include_str!("../../../assets/forms/protection_concern.json")),
    ("reunification.json", include_str!("../../../assets/forms/reunification.json")),
    ("case_plan.json", include_str!("../../../assets/forms/case_plan.json")),
    ("partner_request.json", include_str!("../../../assets/forms/partner_request.json")),
    ("caregiver.json", include_str!("../../../assets/forms/caregiver.json")),
    ("placement.json", include_str!("../../../assets/forms/placement.json")),
    ("age_assessment.json", include_str!("../../../assets/forms/age_assessment.json")),
    ("incident.json", include_str!("../../../assets/forms/incident.json")),
    ("education.json", include_str!("../../../assets/forms/education.json")),
    ("case_conference.json", include_str!("../../../assets/forms/case_conference.json")),
    ("inquiry.json", include_str!("../../../assets/forms/inquiry.json")),
];
const EMBEDDED_VALUE_LISTS: &str = include_str!("../../../assets/forms/value_lists.json");
/// The sample country configuration's administrative areas (the three demo
/// corridors), the areas of a vault that received no configuration
/// (src/country/).
const EMBEDDED_ADMIN_AREAS: &str = include_str!("../../../assets/config/admin_areas.json");
/// The sample configuration's offices and service directory.
const EMBEDDED_DIRECTORY: &str = include_str!("../../../assets/config/directory.json");
/// The value list of the service directory's providers.
pub const SERVICE_PROVIDER_LIST: &str = "service_provider";

/// Who may see a field and how concurrent edits of it are merged (assets/forms/README.md, Conventions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// Ordinary data, shown in lists.
    Normal,
    /// Identifying or harmful if disclosed: need-to-know, masked in lists and exports.
    Sensitive,
    /// Sensitive and never silently overwritten by a merge: concurrent edits wait
    /// for a human with the right role.
    Protected,
}

/// The kind of value a field holds; fixes its JSON encoding (see the value
/// encoding in assets/forms/README.md, checked by [`validate_values`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// One-line string.
    Text,
    /// Free text.
    Longtext,
    /// `"YYYY-MM-DD"`.
    Date,
    /// RFC 3339 string.
    Datetime,
    /// One value of the field's list.
    Enum,
    /// Array of distinct values of the field's list.
    MultiEnum,
    /// `true` / `false`.
    Bool,
    /// JSON number within `min`..`max`.
    Number,
    /// `{"name", "role"?, "organisation"?}`.
    PersonRef,
    /// Signature or consent: `{"by", "method", "date", "supersedes"?}`.
    Consent,
    /// `{"blob", "name", "mime"}`.
    Attachment,
    /// Array of strings.
    ListText,
    /// Array of objects whose keys are the sub-fields in `fields`.
    GroupList,
}

/// A text in the three interface languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labels {
    /// English.
    pub en: String,
    /// French.
    pub fr: String,
    /// Arabic.
    pub ar: String,
}

/// One allowed value of an enum or multi-enum field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionDef {
    /// Machine value stored in events.
    pub value: String,
    /// What the person sees.
    pub labels: Labels,
}

/// A shared value list of `value_lists.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueList {
    /// Name of the list in the interface languages.
    pub labels: Labels,
    /// Its values, in display order.
    pub options: Vec<OptionDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ValueListsFile {
    #[allow(dead_code)]
    // read to reject files without it; the lists carry no per-version logic yet
    version: u32,
    lists: BTreeMap<String, ValueList>,
}

/// One field of a form, or one sub-field of a `group_list` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
    /// Machine name (snake_case), as in assets/forms/README.md.
    pub name: String,
    /// Kind of value.
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// Needed for a complete form.
    pub required: bool,
    /// Needed for a complete form when this condition holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_if: Option<Condition>,
    /// Only shown (and only allowed in a complete form) when this condition holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shown_if: Option<Condition>,
    /// Sensitivity.
    pub sensitivity: Sensitivity,
    /// Field label.
    pub labels: Labels,
    /// Help text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<Labels>,
    /// Allowed values of an enum or multi-enum; after loading this also holds the
    /// values of the list named by `options_ref`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<OptionDef>,
    /// Name of the shared value list the options come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options_ref: Option<String>,
    /// Smallest allowed number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest allowed number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Fewest items a complete `group_list` holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_items: Option<usize>,
    /// Temporary-care checklist item that blocks the placement when false (F5, R6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mandatory: Option<bool>,
    /// Temporary-care checklist: `facility`, `foster` or `both`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applies: Option<String>,
    /// Hard rules (docs/domain.md, Hard rules) this field serves (e.g. "R3").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    /// Sub-fields of a `group_list`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldDef>,
}

impl FieldDef {
    /// The option with this machine value, if the field lists it.
    pub fn option(&self, value: &str) -> Option<&OptionDef> {
        self.options.iter().find(|o| o.value == value)
    }
    /// Sub-field of a `group_list` by name.
    pub fn sub_field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }
    /// True when a complete form may still leave this field empty whatever the
    /// other values are.
    pub fn is_optional(&self) -> bool {
        !self.required && self.required_if.is_none()
    }
}

/// A named group of fields for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectionDef {
    /// Machine id.
    pub id: String,
    /// Title.
    pub labels: Labels,
    /// Field names in the section.
    pub fields: Vec<String>,
}

/// One versioned form definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormDef {
    /// Machine id, also the file name (`assets/forms/<id>.json`).
    pub id: String,
    /// Form number, "F1".."F11" (then "F12".. for the case-record forms).
    pub code: String,
    /// Definition version; a change of fields means a new version.
    pub version: u32,
    /// The day this version took effect. Events are not stamped with the
    /// version they were made under, so a rule that reads a field this
    /// version added judges only events made on or after this day: a
    /// record made under the earlier version keeps its meaning, on this
    /// device and on every device that imports it later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_date: Option<chrono::NaiveDate>,
    /// Title.
    pub title: Labels,
    /// What the form is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Labels>,
    /// Case types that use it.
    pub applies_to: Vec<String>,
    /// Lifecycle stages where it is usually filled (a UI hint; empty = any).
    pub stages: Vec<String>,
    /// Display sections.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<SectionDef>,
    /// A list form: every saved record is an item with its own id.
    pub repeating: bool,
    /// Hard rules (docs/domain.md, Hard rules) the form serves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    /// Fields in display order.
    pub fields: Vec<FieldDef>,
}

impl FormDef {
    /// Whether an event made on `day` was made under this version: on or
    /// after [`FormDef::version_date`] (always, for a version with no date).
    pub fn version_applies_on(&self, day: chrono::NaiveDate) -> bool {
        self.version_date.is_none_or(|from| day >= from)
    }
    /// Top-level field by machine name.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }
    /// Field by path: `name` or `group.sub_field` for a sub-field of a list.
    pub fn field_path(&self, path: &str) -> Option<&FieldDef> {
        match path.split_once('.') {
            None => self.field(path),
            Some((group, sub)) => self.field(group)?.sub_field(sub),
        }
    }
    /// Temporary-care checklist (F5, R6): the mandatory yes/no items that apply
    /// to this provider type and are answered `false`. A placement with any of
    /// them is blocked. Unanswered items are not listed (completeness is
    /// [`validate_complete`]'s job).
    pub fn failed_mandatory_items(&self, values: &serde_json::Map<String, serde_json::Value>) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|f| f.mandatory == Some(true) && f.field_type == FieldType::Bool)
            .filter(|f| match &f.shown_if {
                None => true,
                Some(c) => c.eval(values, None).unwrap_or(true),
            })
            .filter(|f| values.get(&f.name) == Some(&serde_json::Value::Bool(false)))
            .map(|f| f.name.as_str())
            .collect()
    }

    /// Names of the protected top-level fields.
    pub fn protected_fields(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().filter(|f| f.sensitivity == Sensitivity::Protected).map(|f| f.name.as_str())
    }
}

/// Why the form definitions could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    /// A file is not valid JSON or does not have the definition format.
    #[error("form definition {file} is malformed: {source}")]
    Malformed {
        /// File name.
        file: String,
        /// Parser error, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// The `id` inside a file differs from its file name.
    #[error("form definition {file} declares id {id:?}; the file must be named <id>.json")]
    IdMismatch {
        /// File name.
        file: String,
        /// Declared id.
        id: String,
    },
    /// Two files declare the same form id.
    #[error("form id {0:?} is defined twice")]
    DuplicateForm(String),
    /// A field or sub-field name is not snake_case or is used twice at the same level.
    #[error("form {form}: field name {field:?} is {problem}")]
    BadFieldName {
        /// Form id.
        form: String,
        /// Field path.
        field: String,
        /// "not snake_case" or "used twice".
        problem: &'static str,
    },
    /// `options_ref` names a list that `value_lists.json` does not have.
    #[error("form {form}: field {field} refers to unknown value list {list:?}")]
    UnknownValueList {
        /// Form id.
        form: String,
        /// Field path.
        field: String,
        /// List name.
        list: String,
    },
    /// An enum has no values, or a non-enum field has values.
    #[error("form {form}: field {field}: {problem}")]
    BadOptions {
        /// Form id.
        form: String,
        /// Field path.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// A condition names a field that does not exist, or tests it with a value it cannot take.
    #[error("form {form}: condition on field {field}: {problem}")]
    BadCondition {
        /// Form id.
        form: String,
        /// Field path holding the condition.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// A display section names a field the form does not have, or a field twice.
    #[error("form {form}: section {section}: {problem}")]
    BadSection {
        /// Form id.
        form: String,
        /// Section id.
        section: String,
        /// What is wrong.
        problem: String,
    },
    /// The administrative areas file is malformed or breaks the hierarchy.
    #[error(transparent)]
    AdminAreas(#[from] AdminAreasError),
    /// A shared value list is empty or repeats a value.
    #[error("value list {list:?}: {problem}")]
    BadValueList {
        /// List name.
        list: String,
        /// What is wrong.
        problem: String,
    },
}

/// Every form definition, with shared value lists resolved.
#[derive(Debug, Clone)]
pub struct FormRegistry {
    forms: Vec<FormDef>,
    value_lists: BTreeMap<String, ValueList>,
    admin_areas: Option<AdminAreas>,
    /// The service directory's providers (`provider_id`) and the services
    /// (`service_type` values) each offers, retired ones included.
    provider_services: BTreeMap<String, Vec<String>>,
}

impl FormRegistry {
    /// Parse and check definitions: `value_lists` is the contents of
    /// `value_lists.json`, `forms` pairs of (file name, contents).
    pub fn from_sources(value_lists: &str, forms: &[(&str, &str)]) -> Result<Self, FormError> {
        Self::from_sources_with_areas(value_lists, None, forms)
    }

    /// As [`FormRegistry::from_sources`], with the administrative areas file
    /// (`admin_areas.json`) whose areas become the value list `admin_area`.
    pub fn from_sources_with_areas(
        value_lists: &str,
        admin_areas: Option<&str>,
        forms: &[(&str, &str)],
    ) -> Result<Self, FormError> {
        let mut lists: ValueListsFile = serde_json::from_str(value_lists)
            .map_err(|source| FormError::Malformed { file: "value_lists.json".into(), source })?;
        let admin_areas = admin_areas.map(AdminAreas::parse).transpose()?;
        if let Some(areas) = &admin_areas {
            if lists.lists.insert(ADMIN_AREA_LIST.to_string(), areas.value_list()).is_some() {
                return Err(FormError::BadValueList {
                    list: ADMIN_AREA_LIST.into(),
                    problem: "is built from the administrative areas; value_lists.json must not define it".into(),
                });
            }
        }
        for (name, list) in &lists.lists {
            check_options(&list.options).map_err(|problem| FormError::BadValueList { list: name.clone(), problem })?;
        }
        let mut defs: Vec<FormDef> = Vec::with_capacity(forms.len());
        for (file, text) in forms {
            let mut def: FormDef = serde_json::from_str(text)
                .map_err(|source| FormError::Malformed { file: (*file).to_string(), source })?;
            if file.strip_suffix(".json") != Some(def.id.as_str()) {
                return Err(FormError::IdMismatch { file: (*file).to_string(), id: def.id });
            }
            if defs.iter().any(|d| d.id == def.id) {
                return Err(FormError::DuplicateForm(def.id));
            }
            let form_id = def.id.clone();
            resolve_fields(&form_id, "", &mut def.fields, &lists.lists)?;
            check_sections(&def)?;
            defs.push(def);
        }
        let registry =
            FormRegistry { forms: defs, value_lists: lists.lists, admin_areas, provider_services: BTreeMap::new() };
        for def in &registry.forms {
            condition::check_form_conditions(def, &registry)?;
        }
        Ok(registry)
    }

    /// The definitions embedded in this binary, with the sample
    /// configuration's service directory as the list `service_provider`
    /// (so a field may refer to it; a vault's own configuration replaces
    /// it: src/country/).
    pub fn load_embedded() -> Result<Self, FormError> {
        let mut lists: serde_json::Value = serde_json::from_str(EMBEDDED_VALUE_LISTS)
            .map_err(|source| FormError::Malformed { file: "value_lists.json".into(), source })?;
        let directory: serde_json::Value = serde_json::from_str(EMBEDDED_DIRECTORY)
            .map_err(|source| FormError::Malformed { file: "directory.json".into(), source })?;
        let providers: Vec<serde_json::Value> = directory["services"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|p| {
                let name = &p["name"];
                serde_json::json!({"value": p["provider_id"], "labels": {"en": name, "fr": name, "ar": name}})
            })
            .collect();
        lists["lists"][SERVICE_PROVIDER_LIST] = serde_json::json!({
            "labels": {"en": "Service provider", "fr": "Prestataire de services", "ar": "مقدم الخدمة"},
            "options": providers,
        });
        let offers = directory["services"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .filter_map(|p| {
                let services = p["services"].as_array()?.iter().filter_map(|s| s.as_str().map(str::to_string));
                Some((p["provider_id"].as_str()?.to_string(), services.collect()))
            })
            .collect();
        Ok(Self::from_sources_with_areas(&lists.to_string(), Some(EMBEDDED_ADMIN_AREAS), &EMBEDDED_FORMS)?
            .with_provider_services(offers))
    }

    /// A copy whose service directory is `offers` (provider id → the
    /// services it offers): what [`FormRegistry::provider_offers`] reads.
    pub fn with_provider_services(mut self, offers: BTreeMap<String, Vec<String>>) -> FormRegistry {
        self.provider_services = offers;
        self
    }

    /// Whether the directory's provider `provider` offers `service`;
    /// `None` when the directory does not know the provider.
    pub fn provider_offers(&self, provider: &str, service: &str) -> Option<bool> {
        self.provider_services.get(provider).map(|s| s.iter().any(|x| x == service))
    }

    /// A copy whose value lists `lists` replace (or add to) its own, with
    /// the options of every field that refers to one of them refilled, and
    /// whose areas are `areas`: the registry of an effective country
    /// configuration (docs/configuration.md §0). The lists are taken as
    /// checked by the configuration.
    pub fn with_country_lists(&self, lists: BTreeMap<String, ValueList>, areas: AdminAreas) -> FormRegistry {
        fn refill(fields: &mut [FieldDef], lists: &BTreeMap<String, ValueList>) {
            for f in fields {
                if let Some(l) = f.options_ref.as_ref().and_then(|name| lists.get(name)) {
                    f.options = l.options.clone();
                }
                refill(&mut f.fields, lists);
            }
        }
        let mut out = self.clone();
        for def in &mut out.forms {
            refill(&mut def.fields, &lists);
        }
        out.value_lists.extend(lists);
        out.admin_areas = Some(areas);
        out
    }

    /// The administrative areas the `admin_area` list was built from.
    pub fn admin_areas(&self) -> Option<&AdminAreas> {
        self.admin_areas.as_ref()
    }

    /// Form by id.
    pub fn get(&self, id: &str) -> Option<&FormDef> {
        self.forms.iter().find(|f| f.id == id)
    }

    /// Every form, in form-number order.
    pub fn all(&self) -> impl Iterator<Item = &FormDef> {
        self.forms.iter()
    }

    /// Shared value list by name.
    pub fn value_list(&self, name: &str) -> Option<&ValueList> {
        self.value_lists.get(name)
    }

    /// Names of the shared value lists.
    pub fn value_list_names(&self) -> impl Iterator<Item = &str> {
        self.value_lists.keys().map(String::as_str)
    }

    /// Sensitivity of `field` (a name or `group.sub_field`) of form `form`.
    pub fn sensitivity(&self, form: &str, field: &str) -> Option<Sensitivity> {
        Some(self.get(form)?.field_path(field)?.sensitivity)
    }
}

/// The embedded form definitions, parsed once.
pub fn registry() -> &'static FormRegistry {
    static REGISTRY: OnceLock<FormRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        // The definitions are compiled in and `tests/forms_definitions.rs` loads
        // them, so a failure here is a build that skipped its tests.
        FormRegistry::load_embedded().expect("embedded form definitions must load (tested)")
    })
}

/// Whether `field` (a name or `group.sub_field`) of `form` is protected:
/// concurrent edits wait for a human decision. Unknown forms and fields are
/// treated as protected, so nothing unknown is ever merged silently.
pub fn is_protected(form: &str, field: &str) -> bool {
    match registry().sensitivity(form, field) {
        Some(s) => s == Sensitivity::Protected,
        None => true,
    }
}

/// Sensitivity of a field of a form, `None` if either is unknown.
pub fn sensitivity(form: &str, field: &str) -> Option<Sensitivity> {
    registry().sensitivity(form, field)
}

/// True for a lower-case snake_case machine name.
pub fn is_snake_case(name: &str) -> bool {
    let mut parts = name.split('_');
    let first_ok = parts.next().and_then(|p| p.chars().next()).is_some_and(|c| c.is_ascii_lowercase());
    first_ok
        && name.split('_').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
}

/// Sections only name top-level fields of the form, each at most once.
fn check_sections(def: &FormDef) -> Result<(), FormError> {
    let mut placed = BTreeSet::new();
    for section in &def.sections {
        let bad =
            |problem: String| FormError::BadSection { form: def.id.clone(), section: section.id.clone(), problem };
        for name in &section.fields {
            if def.field(name).is_none() {
                return Err(bad(format!("field {name:?} does not exist")));
            }
            if !placed.insert(name.as_str()) {
                return Err(bad(format!("field {name:?} is already in a section")));
            }
        }
    }
    Ok(())
}

fn check_options(options: &[OptionDef]) -> Result<(), String> {
    if options.is_empty() {
        return Err("has no values".into());
    }
    let mut seen = BTreeSet::new();
    for o in options {
        if !seen.insert(o.value.as_str()) {
            return Err(format!("value {:?} appears twice", o.value));
        }
    }
    Ok(())
}

/// Check names and fill `options` from `options_ref`, recursively.
fn resolve_fields(
    form: &str,
    prefix: &str,
    fields: &mut [FieldDef],
    lists: &BTreeMap<String, ValueList>,
) -> Result<(), FormError> {
    let mut names = BTreeSet::new();
    for field in fields.iter_mut() {
        let path = format!("{prefix}{}", field.name);
        if !is_snake_case(&field.name) {
            return Err(FormError::BadFieldName { form: form.into(), field: path, problem: "not snake_case" });
        }
        if !names.insert(field.name.clone()) {
            return Err(FormError::BadFieldName { form: form.into(), field: path, problem: "used twice" });
        }
        let bad = |problem: String| FormError::BadOptions { form: form.into(), field: path.clone(), problem };
        let is_enum = matches!(field.field_type, FieldType::Enum | FieldType::MultiEnum);
        match (&field.options_ref, is_enum) {
            (Some(_), true) if !field.options.is_empty() => return Err(bad("has both options and options_ref".into())),
            (Some(list), true) => match lists.get(list) {
                Some(l) => field.options = l.options.clone(),
                None => return Err(FormError::UnknownValueList { form: form.into(), field: path, list: list.clone() }),
            },
            (None, true) => check_options(&field.options).map_err(bad)?,
            (Some(_), false) => return Err(bad("only enum fields take options_ref".into())),
            (None, false) if !field.options.is_empty() => return Err(bad("only enum fields take options".into())),
            (None, false) => {}
        }
        let is_group = field.field_type == FieldType::GroupList;
        if is_group == field.fields.is_empty() {
            return Err(bad("a group_list needs sub-fields and only a group_list has them".into()));
        }
        if is_group {
            let sub_prefix = format!("{path}.");
            resolve_fields(form, &sub_prefix, &mut field.fields, lists)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_definitions_load_in_domain_order() {
        let reg = FormRegistry::load_embedded().expect("load");
        let ids: Vec<&str> = reg.all().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, FORM_IDS);
    }

    #[test]
    fn options_ref_is_resolved() {
        let f = registry().get("registration_bia").unwrap().field("risk_level").unwrap();
        assert_eq!(f.options_ref.as_deref(), Some("risk_level"));
        assert!(f.option("high").is_some());
    }

    #[test]
    fn snake_case_names() {
        assert!(is_snake_case("wellbeing_safety_notes"));
        assert!(is_snake_case("a1"));
        for bad in ["Case", "_a", "a_", "a__b", "1a", "a-b", ""] {
            assert!(!is_snake_case(bad), "{bad}");
        }
    }

    #[test]
    fn unknown_value_list_is_an_error() {
        let form = r#"{"id":"x","code":"F1","version":1,"title":{"en":"a","fr":"b","ar":"c"},
          "applies_to":["uasc"],"stages":[],"repeating":false,
          "fields":[{"name":"f","type":"enum","required":true,"sensitivity":"normal",
          "labels":{"en":"a","fr":"b","ar":"c"},"options_ref":"nope"}]}"#;
        let err = FormRegistry::from_sources(r#"{"version":1,"lists":{}}"#, &[("x.json", form)]).unwrap_err();
        assert!(matches!(err, FormError::UnknownValueList { .. }), "{err}");
    }

    #[test]
    fn condition_on_missing_field_is_an_error() {
        let form = r#"{"id":"x","code":"F1","version":1,"title":{"en":"a","fr":"b","ar":"c"},
          "applies_to":["uasc"],"stages":[],"repeating":false,
          "fields":[{"name":"f","type":"text","required":false,"required_if":{"field":"ghost","not_empty":true},
          "sensitivity":"normal","labels":{"en":"a","fr":"b","ar":"c"}}]}"#;
        let err = FormRegistry::from_sources(r#"{"version":1,"lists":{}}"#, &[("x.json", form)]).unwrap_err();
        assert!(matches!(err, FormError::BadCondition { .. }), "{err}");
    }

    #[test]
    fn malformed_json_is_an_error_not_a_panic() {
        let err = FormRegistry::from_sources(r#"{"version":1,"lists":{}}"#, &[("x.json", "{")]).unwrap_err();
        assert!(matches!(err, FormError::Malformed { .. }));
        let err = FormRegistry::from_sources("[]", &[]).unwrap_err();
        assert!(matches!(err, FormError::Malformed { .. }));
    }

    #[test]
    fn failed_mandatory_items_follow_provider_type() {
        let def = registry().get("temporary_care").unwrap();
        let values = serde_json::json!({
            "provider_type": "foster_family",
            "not_detention": false,
            "recreation": false,
            "sex_age_separation": false,
            "carer_matching": false,
            "staff_vetting": true
        });
        let values = values.as_object().unwrap();
        // recreation is not mandatory; sex_age_separation is facility-only.
        assert_eq!(def.failed_mandatory_items(values), vec!["not_detention", "carer_matching"]);
    }

    #[test]
    fn unknown_fields_are_protected() {
        assert!(is_protected("bid", "panel_decision"));
        assert!(!is_protected("bid", "panel_date"));
        assert!(is_protected("bid", "no_such_field"));
        assert!(is_protected("no_such_form", "x"));
        assert_eq!(sensitivity("bid", "dissent.reasons"), Some(Sensitivity::Protected));
    }
}
