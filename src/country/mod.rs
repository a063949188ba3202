//! The country configuration (docs/configuration.md): data that belongs to
//! a country operation — administrative areas, offices, the service
//! directory, the follow-up schedule, added value-list options — edited by
//! the office's data manager, signed with the office key and sent to its
//! devices in office bundles (docs/bundle-format.md §7.1).
//!
//! Every vault has an **effective configuration**: the one it holds, or the
//! sample compiled into the binary. The forms' lists (`admin_area`,
//! `service_provider`, lists with added options) come from it, so what a
//! save accepts follows the office's configuration.

mod document;

use std::sync::{Arc, OnceLock};

use rusqlite::Connection;
use serde_json::json;
use uuid::Uuid;

pub use document::{
    AddedOption, ConfigError, CountryConfig, Office, Provider, ScheduledVisit, SignedConfig, CONFIG_DOMAIN,
    CONFIG_FORMAT, SERVICE_PROVIDER_LIST, SERVICE_TYPE_LIST,
};

use crate::model::error::StoreError;
use crate::model::event::Role;
use crate::model::forms::{self, AdminAreas, FormRegistry};
use crate::model::projection;
use crate::model::store::CaseStore;

/// `sync_state` key of the held configuration.
pub(crate) const K_CONFIG: &str = "country_config";

const SAMPLE_AREAS: &str = include_str!("../../assets/config/admin_areas.json");
const SAMPLE_DIRECTORY: &str = include_str!("../../assets/config/directory.json");

/// The sample configuration compiled into the binary (the three demo
/// corridors): serial 0, no office.
pub fn sample() -> &'static CountryConfig {
    static SAMPLE: OnceLock<CountryConfig> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        // Compiled in and checked by this module's tests.
        let areas = AdminAreas::parse(SAMPLE_AREAS).expect("sample areas load (tested)");
        let mut doc: serde_json::Value = serde_json::from_str(SAMPLE_DIRECTORY).expect("sample directory is JSON");
        doc["format"] = json!(CONFIG_FORMAT);
        doc["version"] = json!(1);
        doc["office_id"] = json!(Uuid::nil());
        doc["serial"] = json!(0);
        doc["areas"] = serde_json::to_value(&areas.areas).expect("areas serialise");
        serde_json::from_value(doc).expect("sample directory loads (tested)")
    })
}

/// The form registry of a configuration: the embedded forms with the
/// configuration's lists.
pub fn registry_for(config: &CountryConfig) -> FormRegistry {
    let base = forms::registry();
    let offers = config.services.iter().map(|p| (p.provider_id.clone(), p.services.clone())).collect();
    base.with_country_lists(config.value_lists(base), config.admin_areas()).with_provider_services(offers)
}

fn sample_registry() -> Arc<FormRegistry> {
    static REG: OnceLock<Arc<FormRegistry>> = OnceLock::new();
    REG.get_or_init(|| Arc::new(registry_for(sample()))).clone()
}

/// The configuration held in a vault's database, if any.
pub(crate) fn held_in(conn: &Connection) -> Result<Option<SignedConfig>, StoreError> {
    let Some((_, v)) = projection::sync_state(conn, K_CONFIG)?.into_iter().find(|(k, _)| k == K_CONFIG) else {
        return Ok(None);
    };
    serde_json::from_value(v)
        .map(Some)
        // Written only after the checks of this module: a vault that holds
        // one that does not parse is damaged, as any unreadable column.
        .map_err(|e| {
            StoreError::Database(rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
        })
}

/// The registry of the configuration held in `conn` (the sample's when none).
pub(crate) fn registry_in(conn: &Connection) -> Result<Arc<FormRegistry>, StoreError> {
    Ok(match held_in(conn)? {
        Some(s) => Arc::new(registry_for(&s.config)),
        None => sample_registry(),
    })
}

/// The follow-up schedule of the configuration held in `conn`; `None`
/// when none is held (the sample's is the tasks' default).
pub(crate) fn follow_up_in(conn: &Connection) -> Result<Option<Vec<crate::model::tasks::VisitOffset>>, StoreError> {
    Ok(held_in(conn)?.map(|s| s.config.follow_up_offsets()))
}

/// The configuration this vault holds (signed by its office), if any.
pub fn held(store: &CaseStore) -> Result<Option<SignedConfig>, StoreError> {
    held_in(store.vault().conn())
}

/// The effective configuration: the held one, else the sample.
pub fn effective(store: &CaseStore) -> Result<CountryConfig, StoreError> {
    Ok(held(store)?.map_or_else(|| sample().clone(), |s| s.config))
}

/// Providers of the effective configuration that offer `service` in
/// `area` (a provider of an area serves every area inside it), retired
/// ones left out: what a referral offers to pick from.
pub fn providers_for<'a>(config: &'a CountryConfig, service: &str, area: Option<&str>) -> Vec<&'a Provider> {
    let areas = config.admin_areas();
    config
        .services
        .iter()
        .filter(|p| !p.retired && p.services.iter().any(|s| s == service))
        .filter(|p| area.is_none_or(|a| areas.is_within(a, &p.area)))
        .collect()
}

/// The areas a location picker offers: every area of the configuration
/// but the retired ones, labelled with its path, in configuration order.
pub fn picker_areas(config: &CountryConfig) -> Vec<forms::OptionDef> {
    let list = config.admin_areas().value_list();
    list.options.into_iter().filter(|o| config.areas.iter().any(|a| a.code == o.value && !a.retired)).collect()
}

/// The label of `value` in list `list` of a configuration (retired values
/// included): how a record that holds it is shown.
pub fn label_of(config: &CountryConfig, list: &str, value: &str) -> Option<forms::Labels> {
    config.value_lists(forms::registry()).get(list)?.options.iter().find(|o| o.value == value).map(|o| o.labels.clone())
}

/// Why the office could not take a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigImportError {
    /// Only an office vault holds the configuration it signs.
    #[error("this vault is not an office vault; the country configuration is edited at the office")]
    NotOffice,
    /// Only a data manager changes it.
    #[error("only a data manager may change the country configuration (this person is a {0})")]
    Forbidden(Role),
    /// The file breaks a rule.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Reading or writing the vault failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an office import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The new serial.
    pub serial: u64,
    /// Codes the file left out, kept as retired.
    pub retired: Vec<String>,
}

/// Office: take a configuration file (the `config` object; its
/// `office_id`, `serial`, `format` and `version` may be left out and are
/// set here), check it fully, keep what it drops as retired, raise the
/// serial, sign it with the office key and store it. Its devices get it
/// with their next office bundle. Nothing is written when it is refused.
pub fn import_office(store: &mut CaseStore, file: &[u8]) -> Result<Imported, ConfigImportError> {
    if !crate::sync::is_office(store)? {
        return Err(ConfigImportError::NotOffice);
    }
    let (_, role) = store.actor();
    if role != Role::DataManager {
        return Err(ConfigImportError::Forbidden(role));
    }
    let office_id =
        crate::sync::exchange::roster(store)?.map(|r| r.roster.office_id).ok_or(ConfigImportError::NotOffice)?;
    let mut doc: serde_json::Value = serde_json::from_slice(file).map_err(|e| ConfigError::Malformed(e.to_string()))?;
    let held = held(store)?;
    let serial = held.as_ref().map_or(0, |h| h.config.serial) + 1;
    let serde_json::Value::Object(m) = &mut doc else {
        return Err(ConfigError::Malformed("the file is not a JSON object".into()).into());
    };
    m.insert("format".into(), json!(CONFIG_FORMAT));
    m.entry("version").or_insert(json!(1));
    m.insert("office_id".into(), json!(office_id));
    m.insert("serial".into(), json!(serial));
    let mut config: CountryConfig = serde_json::from_value(doc).map_err(|e| ConfigError::Malformed(e.to_string()))?;
    // What the office's devices use until now: the held one, or the sample.
    let before = held.as_ref().map_or_else(|| sample().clone(), |h| h.config.clone());
    let retired = config.keep_retired_from(&before);
    config.check(forms::registry())?;
    let signed = config.sign(store.vault().device_key());
    store.commit_config(entry(&signed))?;
    Ok(Imported { serial, retired })
}

/// Device: check a `config.json` member of an office bundle against the
/// office key and the held configuration (docs/bundle-format.md §7.1).
/// `Ok(None)`: the same serial as the held one, nothing to apply.
pub(crate) fn check_incoming(
    conn: &Connection,
    bytes: &[u8],
    office_key: &ed25519_dalek::VerifyingKey,
    office_id: Uuid,
) -> Result<Option<SignedConfig>, ConfigError> {
    let incoming = SignedConfig::parse(bytes)?;
    incoming.verify(office_key)?;
    if incoming.config.office_id != office_id {
        return Err(ConfigError::BadSignature("it names another office".into()));
    }
    let held = held_in(conn).map_err(|e| ConfigError::Malformed(e.to_string()))?;
    if let Some(h) = &held {
        if incoming.config.serial < h.config.serial {
            return Err(ConfigError::Older { found: incoming.config.serial, held: h.config.serial });
        }
        if incoming.config.serial == h.config.serial {
            return Ok(None);
        }
        let dropped = h.config.dropped_by(&incoming.config);
        if !dropped.is_empty() {
            return Err(ConfigError::Invalid(format!("it drops {} (retire them instead)", dropped.join(", "))));
        }
    }
    incoming.config.check(forms::registry())?;
    Ok(Some(incoming))
}

/// The journal entry that stores a checked configuration.
pub(crate) fn entry(signed: &SignedConfig) -> serde_json::Value {
    json!({"type": "sync.put", "key": K_CONFIG, "value": signed})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_configuration_passes_its_own_rules() {
        sample().check(forms::registry()).expect("sample is valid");
        assert!(sample().offices.len() >= 8 && sample().services.len() >= 3);
        let reg = registry_for(sample());
        let providers = reg.value_list(SERVICE_PROVIDER_LIST).expect("provider list");
        assert_eq!(providers.options.len(), sample().services.len());
        // The built-in registry has the same values, so a form may refer to the list.
        let builtin = forms::registry().value_list(SERVICE_PROVIDER_LIST).expect("built-in provider list");
        let values = |l: &forms::ValueList| l.options.iter().map(|o| o.value.clone()).collect::<Vec<_>>();
        assert_eq!(values(builtin), values(providers));
    }

    #[test]
    fn the_sample_schedule_is_the_tasks_default() {
        let t0 = chrono::NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
        let from_config = crate::model::tasks::schedule_from(t0, &sample().follow_up_offsets());
        assert_eq!(from_config, crate::model::tasks::follow_up_schedule(t0));
    }

    #[test]
    fn an_office_schedule_changes_the_follow_up_tasks() {
        use crate::model::lifecycle::{CaseFacts, Stage};
        use crate::model::tasks::{tasks_for, tasks_for_with, TaskKind};
        let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let mut f = CaseFacts::new(Uuid::from_u128(1), "uasc", Stage::FollowUp);
        f.stage_dates = vec![(Stage::Reintegration, day("2026-03-01")), (Stage::FollowUp, day("2026-03-01"))];
        let mut c = sample().clone();
        // A first visit after 7 days (grace 3) instead of 14 (grace 7).
        c.follow_up_schedule[0] = ScheduledVisit { number: 1, days: Some(7), months: None, grace_days: 3 };
        c.check(forms::registry()).unwrap();
        let overdue = |tasks: Vec<crate::model::tasks::Task>| {
            tasks.into_iter().filter(|t| t.kind == TaskKind::FollowUpOverdue).map(|t| t.due).collect::<Vec<_>>()
        };
        let offsets = c.follow_up_offsets();
        assert_eq!(overdue(tasks_for_with(&f, day("2026-03-12"), Some(&offsets))), [day("2026-03-08")]);
        assert!(overdue(tasks_for(&f, day("2026-03-12"))).is_empty());
    }

    #[test]
    fn providers_are_found_by_service_and_by_the_area_they_serve() {
        let s = sample();
        let ids = |v: Vec<&Provider>| v.into_iter().map(|p| p.provider_id.clone()).collect::<Vec<_>>();
        // A region's provider serves its districts; Tunisia's do not serve Niger.
        let in_arlit = ids(providers_for(s, "medical", Some("ner_agadez_arlit")));
        assert_eq!(in_arlit, ["ner_agadez_health_centre"]);
        assert!(providers_for(s, "medical", Some("tun_sfax_ville")).is_empty());
        let tracing = ids(providers_for(s, "family_tracing_reunification", Some("ner_niamey_4")));
        assert_eq!(tracing, ["ner_tracing_network"]);
    }

    #[test]
    fn a_file_that_drops_a_code_keeps_it_retired_with_its_labels() {
        let mut newer = sample().clone();
        newer.areas.retain(|a| a.code != "ner_agadez_arlit");
        newer.services.retain(|p| p.provider_id != "tun_sfax_school");
        let carried = newer.keep_retired_from(sample());
        assert_eq!(carried, ["area ner_agadez_arlit", "provider tun_sfax_school"]);
        newer.check(forms::registry()).unwrap();
        assert!(sample().dropped_by(&newer).is_empty());
        let label = label_of(&newer, forms::ADMIN_AREA_LIST, "ner_agadez_arlit").unwrap();
        assert_eq!(label.en, "Niger / Agadez region / Arlit");
    }

    #[test]
    fn broken_directories_are_refused_naming_what_to_fix() {
        let reg = forms::registry();
        let check = |f: &dyn Fn(&mut CountryConfig)| {
            let mut c = sample().clone();
            f(&mut c);
            c.check(reg).unwrap_err().to_string()
        };
        assert!(check(&|c| c.services[1].provider_id = c.services[0].provider_id.clone()).contains("used twice"));
        assert!(check(&|c| c.services[0].services = vec!["teleportation".into()]).contains("teleportation"));
        assert!(check(&|c| c.offices[0].area = "atlantis".into()).contains("atlantis"));
        assert!(check(&|c| c.follow_up_schedule.swap(0, 1)).contains("follow-up visit"));
        assert!(check(&|c| {
            c.value_list_additions.insert(
                "service_type".into(),
                vec![AddedOption { value: "medical".into(), labels: c.areas[0].labels.clone(), retired: false }],
            );
        })
        .contains("already in the list"));
    }
}
