//! The country configuration document (docs/configuration.md): its shape,
//! the rules an office's file must keep, and the office's signature.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::canonical::to_canonical_bytes;
use crate::model::forms::{is_snake_case, AdminArea, AdminAreas, FormRegistry, Labels, OptionDef, ValueList};

/// `format` of the document.
pub const CONFIG_FORMAT: &str = "fieldcase-country-config";
/// Signature domain of the document.
pub const CONFIG_DOMAIN: &[u8] = b"fieldcase-config-v1\n";
/// The value list the service directory becomes.
pub use crate::model::forms::SERVICE_PROVIDER_LIST;
/// The referral form's list of services, which providers offer.
pub const SERVICE_TYPE_LIST: &str = "service_type";

/// An office of the operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Office {
    /// Stable code (snake_case, unique).
    pub code: String,
    /// Its name.
    pub name: String,
    /// The administrative area it sits in.
    pub area: String,
    /// Kept for old records (docs/configuration.md §0).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retired: bool,
}

/// A service provider of the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// Stable id stored in referrals (snake_case, unique).
    pub provider_id: String,
    /// Organisation name.
    pub name: String,
    /// Values of the `service_type` list it offers.
    pub services: Vec<String>,
    /// The area it serves (and every area inside it).
    pub area: String,
    /// How to reach it.
    #[serde(default)]
    pub contact: String,
    /// Kept for old records (docs/configuration.md §0).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retired: bool,
}

/// One visit of the follow-up schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledVisit {
    /// 1, 2, … in order.
    pub number: u32,
    /// Days after the reference date (or `months`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
    /// Months after the reference date (or `days`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub months: Option<u32>,
    /// Days the visit may be late before it is overdue.
    pub grace_days: u32,
}

/// An option added to a value list by the office.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddedOption {
    /// Stored value (snake_case).
    pub value: String,
    /// Labels in the interface languages.
    pub labels: Labels,
    /// Kept for old records (docs/configuration.md §0).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retired: bool,
}

/// The country configuration (docs/configuration.md §0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountryConfig {
    /// Always [`CONFIG_FORMAT`].
    pub format: String,
    /// 1.
    pub version: u32,
    /// The office whose key signs it (nil for the built-in sample).
    pub office_id: Uuid,
    /// Grows with every change.
    pub serial: u64,
    /// Administrative areas.
    pub areas: Vec<AdminArea>,
    /// Offices.
    #[serde(default)]
    pub offices: Vec<Office>,
    /// Service directory.
    #[serde(default)]
    pub services: Vec<Provider>,
    /// Follow-up visits.
    pub follow_up_schedule: Vec<ScheduledVisit>,
    /// Options added to value lists, by list name.
    #[serde(default)]
    pub value_list_additions: BTreeMap<String, Vec<AddedOption>>,
}

/// Why a configuration was refused; the message names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not JSON, or not the shape of docs/configuration.md.
    #[error("the country configuration is malformed: {0}")]
    Malformed(String),
    /// A rule of docs/configuration.md is broken.
    #[error("the country configuration is refused: {0}")]
    Invalid(String),
    /// Its signature does not verify with the office key, or it names another office.
    #[error("the country configuration is not signed by this vault's office: {0}")]
    BadSignature(String),
    /// Older than the one held.
    #[error("the country configuration has serial {found}, older than the held {held}")]
    Older {
        /// Its serial.
        found: u64,
        /// The held serial.
        held: u64,
    },
}

// Each refusal's stable code for the interfaces (crate::codes).
crate::error_codes! { ConfigError {
    ConfigError::Malformed(_) => "config_malformed";
    ConfigError::Invalid(reason) => "config_invalid" { reason };
    ConfigError::BadSignature(_) => "config_bad_signature";
    ConfigError::Older { found, held } => "config_older" { found, held };
} }

fn invalid(s: String) -> ConfigError {
    ConfigError::Invalid(s)
}

impl CountryConfig {
    /// Parse a configuration's JSON (the `config` object).
    pub fn parse(text: &[u8]) -> Result<CountryConfig, ConfigError> {
        serde_json::from_slice(text).map_err(|e| ConfigError::Malformed(e.to_string()))
    }

    /// The areas as the forms use them.
    pub fn admin_areas(&self) -> AdminAreas {
        AdminAreas { version: 1, areas: self.areas.clone() }
    }

    /// Check every rule of docs/configuration.md against the forms of
    /// `forms` (the value lists additions go to, the service list).
    pub fn check(&self, forms: &FormRegistry) -> Result<(), ConfigError> {
        if self.format != CONFIG_FORMAT || self.version != 1 {
            return Err(invalid(format!("format must be {CONFIG_FORMAT:?} version 1")));
        }
        let areas = self.admin_areas();
        areas.check().map_err(|e| invalid(e.to_string()))?;
        let known_area = |code: &str| areas.get(code).is_some();
        let mut codes = BTreeSet::new();
        for o in &self.offices {
            let bad = |why: &str| invalid(format!("office {:?}: {why}", o.code));
            if !is_snake_case(&o.code) {
                return Err(bad("the code must be lower-case snake_case"));
            }
            if !codes.insert(o.code.as_str()) {
                return Err(bad("the code is used twice"));
            }
            if o.name.trim().is_empty() {
                return Err(bad("the name is empty"));
            }
            if !known_area(&o.area) {
                return Err(bad(&format!("area {:?} is not in the list", o.area)));
            }
        }
        for (list, added) in &self.value_list_additions {
            if list == crate::model::forms::ADMIN_AREA_LIST || list == SERVICE_PROVIDER_LIST {
                return Err(invalid(format!("value list {list:?} is built from the configuration, not added to")));
            }
            let base = forms.value_list(list).ok_or_else(|| invalid(format!("value list {list:?} does not exist")))?;
            let mut seen: BTreeSet<&str> = base.options.iter().map(|o| o.value.as_str()).collect();
            for o in added {
                let bad = |why: &str| invalid(format!("value list {list:?}, option {:?}: {why}", o.value));
                if !is_snake_case(&o.value) {
                    return Err(bad("the value must be lower-case snake_case"));
                }
                if !seen.insert(&o.value) {
                    return Err(bad("the value is already in the list"));
                }
                if [&o.labels.en, &o.labels.fr, &o.labels.ar].iter().any(|l| l.trim().is_empty()) {
                    return Err(bad("a label is empty"));
                }
            }
        }
        let services: BTreeSet<String> =
            self.list_options(forms, SERVICE_TYPE_LIST).into_iter().map(|o| o.value).collect();
        let mut ids = BTreeSet::new();
        for p in &self.services {
            let bad = |why: &str| invalid(format!("provider {:?}: {why}", p.provider_id));
            if !is_snake_case(&p.provider_id) {
                return Err(bad("the id must be lower-case snake_case"));
            }
            if !ids.insert(p.provider_id.as_str()) {
                return Err(bad("the id is used twice"));
            }
            if p.name.trim().is_empty() {
                return Err(bad("the name is empty"));
            }
            if p.services.is_empty() {
                return Err(bad("it offers no service"));
            }
            let mut offered = BTreeSet::new();
            for s in &p.services {
                if !services.contains(s) || !offered.insert(s) {
                    return Err(bad(&format!("service {s:?} is not in the service_type list, or given twice")));
                }
            }
            if !known_area(&p.area) {
                return Err(bad(&format!("area {:?} is not in the list", p.area)));
            }
        }
        if self.follow_up_schedule.is_empty() {
            return Err(invalid("the follow-up schedule has no visit".into()));
        }
        let mut last = 0u64;
        for (i, v) in self.follow_up_schedule.iter().enumerate() {
            let bad = |why: &str| invalid(format!("follow-up visit {}: {why}", v.number));
            if v.number as usize != i + 1 {
                return Err(bad("visits are numbered 1, 2, … in order"));
            }
            // Months compared as 30 days: only the order is checked.
            let at = match (v.days, v.months) {
                (Some(d), None) => u64::from(d),
                (None, Some(m)) => u64::from(m) * 30,
                _ => return Err(bad("give exactly one of days or months")),
            };
            if at <= last && i > 0 {
                return Err(bad("it is not after the visit before it"));
            }
            last = at;
        }
        Ok(())
    }

    /// Codes of `self` (areas, offices, providers, added options) that
    /// `newer` does not have: what a newer configuration may not drop.
    pub fn dropped_by(&self, newer: &CountryConfig) -> Vec<String> {
        let keys = |c: &CountryConfig| -> BTreeSet<String> {
            let mut k = BTreeSet::new();
            k.extend(c.areas.iter().map(|a| format!("area {}", a.code)));
            k.extend(c.offices.iter().map(|o| format!("office {}", o.code)));
            k.extend(c.services.iter().map(|p| format!("provider {}", p.provider_id)));
            for (list, opts) in &c.value_list_additions {
                k.extend(opts.iter().map(|o| format!("{list} option {}", o.value)));
            }
            k
        };
        keys(self).difference(&keys(newer)).cloned().collect()
    }

    /// Carry into `self` (a newer file) every code of `held` it leaves
    /// out, as retired; returns what was carried.
    pub fn keep_retired_from(&mut self, held: &CountryConfig) -> Vec<String> {
        let carried = held.dropped_by(self);
        for a in &held.areas {
            if !self.areas.iter().any(|x| x.code == a.code) {
                self.areas.push(AdminArea { retired: true, ..a.clone() });
            }
        }
        for o in &held.offices {
            if !self.offices.iter().any(|x| x.code == o.code) {
                self.offices.push(Office { retired: true, ..o.clone() });
            }
        }
        for p in &held.services {
            if !self.services.iter().any(|x| x.provider_id == p.provider_id) {
                self.services.push(Provider { retired: true, ..p.clone() });
            }
        }
        for (list, opts) in &held.value_list_additions {
            let mine = self.value_list_additions.entry(list.clone()).or_default();
            for o in opts {
                if !mine.iter().any(|x| x.value == o.value) {
                    mine.push(AddedOption { retired: true, ..o.clone() });
                }
            }
        }
        carried
    }

    /// The options of a value list with this configuration's additions,
    /// retired ones included (they are known values).
    pub fn list_options(&self, forms: &FormRegistry, list: &str) -> Vec<OptionDef> {
        let mut out = forms.value_list(list).map(|l| l.options.clone()).unwrap_or_default();
        if let Some(added) = self.value_list_additions.get(list) {
            out.extend(added.iter().map(|o| OptionDef { value: o.value.clone(), labels: o.labels.clone() }));
        }
        out
    }

    /// The value lists this configuration gives the forms: `admin_area`,
    /// `service_provider` and every list with additions.
    pub fn value_lists(&self, forms: &FormRegistry) -> BTreeMap<String, ValueList> {
        let areas = self.admin_areas();
        let mut lists = BTreeMap::new();
        lists.insert(crate::model::forms::ADMIN_AREA_LIST.to_string(), areas.value_list());
        for list in self.value_list_additions.keys() {
            if let Some(base) = forms.value_list(list) {
                lists.insert(
                    list.clone(),
                    ValueList { labels: base.labels.clone(), options: self.list_options(forms, list) },
                );
            }
        }
        let providers = self
            .services
            .iter()
            .map(|p| {
                let place = areas.get(&p.area).map(|a| a.labels.clone());
                let with = |name: &str, area: Option<&String>| match area {
                    Some(a) => format!("{name} ({a})"),
                    None => name.to_string(),
                };
                OptionDef {
                    value: p.provider_id.clone(),
                    labels: Labels {
                        en: with(&p.name, place.as_ref().map(|l| &l.en)),
                        fr: with(&p.name, place.as_ref().map(|l| &l.fr)),
                        ar: with(&p.name, place.as_ref().map(|l| &l.ar)),
                    },
                }
            })
            .collect();
        lists.insert(
            SERVICE_PROVIDER_LIST.to_string(),
            ValueList {
                labels: Labels {
                    en: "Service provider".into(),
                    fr: "Prestataire de services".into(),
                    ar: "مقدم الخدمة".into(),
                },
                options: providers,
            },
        );
        lists
    }

    /// The follow-up schedule as the tasks read it.
    pub fn follow_up_offsets(&self) -> Vec<crate::model::tasks::VisitOffset> {
        self.follow_up_schedule
            .iter()
            .map(|v| crate::model::tasks::VisitOffset {
                days: v.days.unwrap_or(0),
                months: v.months.unwrap_or(0),
                grace_days: v.grace_days,
            })
            .collect()
    }

    /// Sign with the office key.
    pub fn sign(&self, key: &SigningKey) -> SignedConfig {
        let sig = key.sign(&signed_bytes(self));
        SignedConfig { config: self.clone(), sig: base64::engine::general_purpose::STANDARD.encode(sig.to_bytes()) }
    }
}

/// `config.json`: a configuration and the office's signature over it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedConfig {
    /// The configuration.
    pub config: CountryConfig,
    /// Base64 Ed25519 signature by the office key.
    pub sig: String,
}

impl SignedConfig {
    /// Parse `config.json`.
    pub fn parse(bytes: &[u8]) -> Result<SignedConfig, ConfigError> {
        serde_json::from_slice(bytes).map_err(|e| ConfigError::Malformed(e.to_string()))
    }

    /// Check the signature with the office key.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), ConfigError> {
        let bad = || ConfigError::BadSignature("the signature does not match the office key".into());
        let bytes = base64::engine::general_purpose::STANDARD.decode(&self.sig).map_err(|_| bad())?;
        let bytes: [u8; 64] = bytes.try_into().map_err(|_| bad())?;
        key.verify(&signed_bytes(&self.config), &Signature::from_bytes(&bytes)).map_err(|_| bad())
    }
}

fn signed_bytes(config: &CountryConfig) -> Vec<u8> {
    let value = serde_json::to_value(config).expect("a configuration serialises to JSON");
    let mut out = CONFIG_DOMAIN.to_vec();
    out.extend_from_slice(&to_canonical_bytes(&value));
    out
}
