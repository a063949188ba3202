//! The country configuration (docs/configuration.md, docs/bundle-format.md
//! §7.1): the office's data manager imports it, signs it with the office
//! key, its devices receive it in office bundles and validate against it;
//! an older, forged or broken configuration is refused with the vault
//! unchanged, and a code a later configuration leaves out keeps its label.
#[path = "sync_common.rs"]
mod common;
#[path = "common/people.rs"]
mod people;

use common::*;
use fieldcase::country::{self, ConfigImportError, CountryConfig};
use fieldcase::model::error::StoreError;
use fieldcase::model::forms::{AdminArea, AreaLevel, Labels, ADMIN_AREA_LIST};
use fieldcase::model::store::CaseStore;
use fieldcase::sync::format::{self, BundleParts};
use fieldcase::sync::{self, ImportError};
use serde_json::json;
use uuid::Uuid;

const NEW_DISTRICT: &str = "ner_agadez_tchirozerine";

fn labels(name: &str) -> Labels {
    Labels { en: name.into(), fr: name.into(), ar: "تشيروزيرين".into() }
}

/// The sample with one more district of Agadez and one more legal status.
fn with_new_district() -> CountryConfig {
    let mut c = country::sample().clone();
    c.value_list_additions.insert(
        "legal_status".into(),
        vec![country::AddedOption {
            value: "humanitarian_visa".into(),
            labels: labels("Humanitarian visa"),
            retired: false,
        }],
    );
    c.areas.push(AdminArea {
        code: NEW_DISTRICT.into(),
        parent: Some("ner_agadez".into()),
        level: AreaLevel::District,
        labels: labels("Tchirozerine"),
        corridors: Vec::new(),
        retired: false,
    });
    c
}

fn file(c: &CountryConfig) -> Vec<u8> {
    serde_json::to_vec(c).unwrap()
}

fn save_area(s: &mut CaseStore, case: Uuid, area: &str) -> Result<(), StoreError> {
    s.save_form(case, "registration_bia", None, values(json!({"current_admin_area": area}))).map(|_| ())
}

fn is_invalid(e: &StoreError) -> bool {
    matches!(e, StoreError::Invalid { .. })
}

#[test]
fn a_configuration_signed_by_the_office_reaches_an_enrolled_device_and_changes_what_it_accepts() {
    let t = tempfile::tempdir().unwrap();
    let mut office = office(&t.path().join("o"));
    let mut amina = device(&t.path().join("a"), "amina", "caseworker");
    enroll(&mut office, &mut amina);
    let case = new_case(&mut amina, "Mariama");
    // The sample does not know the new district, nor the added option.
    assert!(is_invalid(&save_area(&mut amina, case, NEW_DISTRICT).unwrap_err()));
    let visa = || values(json!({"legal_status": "humanitarian_visa"}));
    assert!(is_invalid(&amina.save_form(case, "registration_bia", None, visa()).unwrap_err()));
    assert!(country::held(&amina).unwrap().is_none());

    let done = country::import_office(&mut office, &file(&with_new_district())).expect("office import");
    assert_eq!(done.serial, 1);
    assert!(done.retired.is_empty());
    let report = down(&mut office, &mut amina);
    assert_eq!(report.config_serial, Some(1));
    let held = country::held(&amina).unwrap().expect("the device holds it");
    assert_eq!(held.config.office_id, office.vault().device().device_id);
    assert_eq!(held.config.serial, 1);

    save_area(&mut amina, case, NEW_DISTRICT).expect("the new district is accepted");
    amina.save_form(case, "registration_bia", None, visa()).expect("the added option is accepted");
    // The office, which made the configuration, accepts the event.
    let up_report = up(&mut amina, &mut office);
    assert!(up_report.quarantined.is_empty());
    let label = country::label_of(&country::effective(&amina).unwrap(), ADMIN_AREA_LIST, NEW_DISTRICT).unwrap();
    assert_eq!(label.en, "Niger / Agadez region / Tchirozerine");

    // A device opened again validates with what it holds.
    drop(amina);
    let mut amina = reopen(&t.path().join("a"));
    save_area(&mut amina, case, NEW_DISTRICT).expect("still accepted after reopening");
    // The next office bundle carries the same serial: nothing changes.
    assert_eq!(down(&mut office, &mut amina).config_serial, None);
}

#[test]
fn only_the_offices_data_manager_imports_and_a_broken_file_changes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let mut office = office(&t.path().join("o"));
    let mut amina = device(&t.path().join("a"), "amina", "caseworker");
    enroll(&mut office, &mut amina);
    assert!(matches!(
        country::import_office(&mut amina, &file(&with_new_district())),
        Err(ConfigImportError::NotOffice)
    ));

    let before = full_dump(&office);
    let mut cycle = country::sample().clone();
    let n = cycle.areas.len();
    cycle.areas[1].parent = Some(cycle.areas[2].code.clone());
    cycle.areas[2].parent = Some(cycle.areas[1].code.clone());
    let err = country::import_office(&mut office, &file(&cycle)).unwrap_err().to_string();
    assert!(err.contains("cycle"), "{err}");
    let mut duplicate = country::sample().clone();
    duplicate.areas.push(duplicate.areas[n - 1].clone());
    let err = country::import_office(&mut office, &file(&duplicate)).unwrap_err().to_string();
    assert!(err.contains("used twice"), "{err}");
    let mut orphan = country::sample().clone();
    orphan.areas[1].parent = Some("atlantis".into());
    let err = country::import_office(&mut office, &file(&orphan)).unwrap_err().to_string();
    assert!(err.contains("atlantis"), "{err}");
    assert!(country::import_office(&mut office, b"{not json").is_err());
    assert_eq!(full_dump(&office), before, "a refused file leaves the office vault unchanged");
    assert!(country::held(&office).unwrap().is_none());
}

#[test]
fn an_older_serial_is_refused_with_the_vault_unchanged() {
    let t = tempfile::tempdir().unwrap();
    let mut office = office(&t.path().join("o"));
    let mut amina = device(&t.path().join("a"), "amina", "caseworker");
    enroll(&mut office, &mut amina);
    let id = amina.vault().device().device_id;
    country::import_office(&mut office, &file(&country::sample().clone())).unwrap();
    let old_bundle = sync::export_for_device(&mut office, id, &mut |_| {}).unwrap();
    assert_eq!(country::import_office(&mut office, &file(&with_new_district())).unwrap().serial, 2);
    assert_eq!(down(&mut office, &mut amina).config_serial, Some(2));

    let before = full_dump(&amina);
    let err = sync::import_bundle(&mut amina, &old_bundle, false, &mut |_| {}).unwrap_err();
    assert!(matches!(err, ImportError::BadConfig(country::ConfigError::Older { found: 1, held: 2 })), "{err}");
    assert_eq!(full_dump(&amina), before);
    let case = new_case(&mut amina, "Awa");
    save_area(&mut amina, case, NEW_DISTRICT).expect("serial 2 still applies");
}

/// An office bundle made from scratch, signed by the office key, carrying
/// the office's roster and `config`.
fn office_bundle_with(office: &CaseStore, to: &CaseStore, config: &[u8]) -> Vec<u8> {
    let dev = office.vault().device();
    let manifest = format::Manifest {
        format: format::FORMAT.into(),
        version: format::VERSION_CONFIG,
        bundle_id: Uuid::now_v7(),
        kind: format::BundleKind::OfficeToDevice,
        sender: format::Sender {
            device_id: dev.device_id,
            name: dev.device_name.clone(),
            signing_key: hex::encode(office.vault().device_verifying_key().as_bytes()),
            recipient: sync::recipient(office),
        },
        recipients: vec![sync::recipient(to)],
        office_id: dev.device_id,
        created_hlc: Default::default(),
        sender_seq: 1000,
        prev_bundle_sha256: None,
        version_vector: Default::default(),
        acks: Default::default(),
        received: Default::default(),
        members: Vec::new(),
        counts: Default::default(),
        refused: Vec::new(),
    };
    let roster = serde_json::to_vec(&sync::exchange::roster(office).unwrap().unwrap()).unwrap();
    let r: age::x25519::Recipient = sync::recipient(to).parse().unwrap();
    let parts = BundleParts { manifest, events: &[], roster: Some(&roster), receipt: None, config: Some(config) };
    format::write_bundle(parts, office.vault().device_key(), &[r], &mut |_| {}).unwrap().0
}

#[test]
fn a_configuration_not_signed_by_the_office_key_is_refused_with_the_vault_unchanged() {
    let t = tempfile::tempdir().unwrap();
    let mut office = office(&t.path().join("o"));
    let mut amina = device(&t.path().join("a"), "amina", "caseworker");
    enroll(&mut office, &mut amina);
    let mut forged = with_new_district();
    forged.office_id = office.vault().device().device_id;
    forged.serial = 7;
    let other = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let bytes = serde_json::to_vec(&forged.sign(&other)).unwrap();
    let before = full_dump(&amina);
    let bundle = office_bundle_with(&office, &amina, &bytes);
    let err = sync::import_bundle(&mut amina, &bundle, false, &mut |_| {}).unwrap_err();
    assert!(matches!(err, ImportError::BadConfig(country::ConfigError::BadSignature(_))), "{err}");
    assert_eq!(full_dump(&amina), before);
    let case = new_case(&mut amina, "Awa");
    assert!(is_invalid(&save_area(&mut amina, case, NEW_DISTRICT).unwrap_err()));

    // The same document signed by the office key is taken.
    let genuine = serde_json::to_vec(&forged.sign(office.vault().device_key())).unwrap();
    let bundle = office_bundle_with(&office, &amina, &genuine);
    let report = sync::import_bundle(&mut amina, &bundle, false, &mut |_| {}).unwrap();
    assert_eq!(report.config_serial, Some(7));
    save_area(&mut amina, case, NEW_DISTRICT).unwrap();
}

#[test]
fn a_configuration_that_drops_a_held_code_is_refused_by_the_device() {
    let t = tempfile::tempdir().unwrap();
    let mut office = office(&t.path().join("o"));
    let mut amina = device(&t.path().join("a"), "amina", "caseworker");
    enroll(&mut office, &mut amina);
    country::import_office(&mut office, &file(&with_new_district())).unwrap();
    down(&mut office, &mut amina);
    let mut dropping = country::sample().clone();
    dropping.office_id = office.vault().device().device_id;
    dropping.serial = 5;
    let bytes = serde_json::to_vec(&dropping.sign(office.vault().device_key())).unwrap();
    let before = full_dump(&amina);
    let bundle = office_bundle_with(&office, &amina, &bytes);
    let err = sync::import_bundle(&mut amina, &bundle, false, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains(NEW_DISTRICT), "{err}");
    assert_eq!(full_dump(&amina), before);
}

#[test]
fn a_record_whose_area_a_later_configuration_removed_keeps_its_label() {
    let t = tempfile::tempdir().unwrap();
    let mut office = office(&t.path().join("o"));
    let mut amina = device(&t.path().join("a"), "amina", "caseworker");
    enroll(&mut office, &mut amina);
    country::import_office(&mut office, &file(&with_new_district())).unwrap();
    down(&mut office, &mut amina);
    let case = new_case(&mut amina, "Mariama");
    save_area(&mut amina, case, NEW_DISTRICT).unwrap();
    up(&mut amina, &mut office);

    // The office's next file leaves the district out: it is kept, retired.
    let done = country::import_office(&mut office, &file(&country::sample().clone())).unwrap();
    assert_eq!(done.retired, [format!("area {NEW_DISTRICT}"), "legal_status option humanitarian_visa".to_string()]);
    assert_eq!(down(&mut office, &mut amina).config_serial, Some(2));
    let effective = country::effective(&amina).unwrap();
    let kept = effective.areas.iter().find(|a| a.code == NEW_DISTRICT).expect("kept");
    assert!(kept.retired);
    let label = country::label_of(&effective, ADMIN_AREA_LIST, NEW_DISTRICT).unwrap();
    assert_eq!(label.en, "Niger / Agadez region / Tchirozerine");
    assert_eq!(country::label_of(&effective, "legal_status", "humanitarian_visa").unwrap().en, "Humanitarian visa");
    // Not offered any more, but the record (and an edit of it) stays valid.
    assert!(!country::picker_areas(&effective).iter().any(|a| a.value == NEW_DISTRICT));
    assert!(country::picker_areas(&effective).iter().any(|a| a.value == "ner_agadez_arlit"));
    let facts = amina.facts(case).unwrap();
    assert_eq!(facts.values.get("registration_bia.current_admin_area"), Some(&json!(NEW_DISTRICT)));
    save_area(&mut amina, case, NEW_DISTRICT).expect("a known code stays valid");
}

/// A category's count of indicator 1 (new registrations), `None` when
/// withheld.
fn registrations(r: &fieldcase::report::Report, dimension: &str, category: &str) -> Option<u64> {
    let b = r.indicator("1").unwrap().breakdown(dimension).unwrap_or_else(|| panic!("no breakdown {dimension}"));
    let c = b.cell(category).unwrap_or_else(|| panic!("no category {category} in {dimension}"));
    c.value.map(|v| v as u64)
}

#[test]
fn a_report_is_disaggregated_by_area_at_a_chosen_level_and_by_corridor_with_small_cells_withheld() {
    use fieldcase::model::forms::AreaLevel;
    use fieldcase::report::{self, Geography, ReportOptions, Suppression};
    let t = tempfile::tempdir().unwrap();
    let mut s = device(&t.path().join("a"), "amina", "caseworker");
    let places: [(Option<&str>, usize); 5] = [
        (Some("ner_agadez_arlit"), 6),
        (Some("tun_sfax_ville"), 5),
        (Some("mex_chiapas_tapachula"), 2),
        // Known only to the country: no region, but a corridor.
        (Some("ner"), 1),
        (None, 1),
    ];
    for (area, n) in places {
        for _ in 0..n {
            let case = new_case(&mut s, "Awa");
            if let Some(area) = area {
                save_area(&mut s, case, area).unwrap();
            }
        }
    }
    let today = s.today();
    let options = ReportOptions { from: today, to: today, office: None, suppress: false };
    let conn = s.vault().conn();
    let by_region = report::compute_with(conn, &options, &Geography::of_store(&s, AreaLevel::Region).unwrap()).unwrap();
    assert_eq!(by_region.indicator("1").unwrap().total.value, Some(15.0));
    let region = report::admin_area_dimension(AreaLevel::Region);
    assert_eq!(region, "admin_area_region");
    let got: Vec<Option<u64>> = ["ner_agadez", "ner_niamey", "tun_sfax", "mex_chiapas", "unknown"]
        .iter()
        .map(|c| registrations(&by_region, &region, c))
        .collect();
    assert_eq!(got, [Some(6), Some(0), Some(5), Some(2), Some(2)]);
    let corridors: Vec<Option<u64>> =
        ["A", "B", "C", "unknown"].iter().map(|c| registrations(&by_region, report::CORRIDOR, c)).collect();
    assert_eq!(corridors, [Some(12), Some(2), Some(0), Some(1)]);

    let by_district =
        report::compute_with(conn, &options, &Geography::of_store(&s, AreaLevel::District).unwrap()).unwrap();
    let district = report::admin_area_dimension(AreaLevel::District);
    assert_eq!(registrations(&by_district, &district, "ner_agadez_arlit"), Some(6));
    assert_eq!(registrations(&by_district, &district, "ner_agadez_agadez"), Some(0));
    assert!(by_district.indicator("1").unwrap().breakdown(&region).is_none());

    // Suppressed: the cells of 1 to 4 children are withheld.
    let safe = ReportOptions { suppress: true, ..options };
    let r = report::compute_with(conn, &safe, &Geography::of_store(&s, AreaLevel::Region).unwrap()).unwrap();
    let b = r.indicator("1").unwrap().breakdown(&region).unwrap();
    assert_eq!(b.cell("mex_chiapas").unwrap().suppressed, Some(Suppression::SmallCell));
    assert_eq!(b.cell("mex_chiapas").unwrap().value, None);
    assert_eq!(b.cell("ner_agadez").unwrap().value, Some(6.0));
    let corridor = r.indicator("1").unwrap().breakdown(report::CORRIDOR).unwrap();
    assert_eq!(corridor.cell("B").unwrap().suppressed, Some(Suppression::SmallCell));
}

#[test]
fn a_person_of_the_office_vault_who_is_not_a_data_manager_cannot_import() {
    let t = tempfile::tempdir().unwrap();
    let mut office = office(&t.path().join("o"));
    people::act_on_office_as(&mut office, "sara", fieldcase::model::event::Role::Supervisor);
    let before = full_dump(&office);
    let err = country::import_office(&mut office, &file(&with_new_district())).unwrap_err();
    assert!(matches!(err, ConfigImportError::Forbidden(fieldcase::model::event::Role::Supervisor)), "{err}");
    assert_eq!(full_dump(&office), before);
}

#[test]
fn a_device_enrolled_after_the_office_made_its_configuration_gets_it_with_its_enrollment() {
    let t = tempfile::tempdir().unwrap();
    let mut office = office(&t.path().join("o"));
    country::import_office(&mut office, &file(&with_new_district())).unwrap();
    let mut amina = device(&t.path().join("a"), "amina", "caseworker");
    enroll(&mut office, &mut amina);
    assert_eq!(country::held(&amina).unwrap().map(|h| h.config.serial), Some(1));
    let case = new_case(&mut amina, "Mariama");
    save_area(&mut amina, case, NEW_DISTRICT).expect("accepted from the enrollment on");
}

/// A configuration received while the vault is open is used at once: the
/// service directory it carries decides, without locking and reopening,
/// which provider a referral may name for which service (the provider's
/// services: `provider_service`), and the office accepts what the device
/// then records.
#[test]
fn a_directory_received_mid_session_decides_at_once_which_provider_offers_what() {
    let t = tempfile::tempdir().unwrap();
    let mut office = office(&t.path().join("o"));
    let mut amina = device(&t.path().join("a"), "amina", "caseworker");
    enroll(&mut office, &mut amina);
    let case = new_case(&mut amina, "Mariama");
    amina.save_form(case, "registration_bia", None, values(json!({"legitimate_basis": "vital_interests"}))).unwrap();
    let legal_aid = || {
        values(json!({"referral_date": "2026-11-02", "service_type": "legal_aid_asylum", "status": "pending",
            "provider_id": "ner_agadez_health_centre",
            "consent_for_referral": {"by": "child", "method": "witnessed_verbal", "date": "2026-11-02"}}))
    };
    // The sample's health centre gives no legal aid.
    match amina.make_referral(case, legal_aid()).unwrap_err() {
        StoreError::RuleViolated { violations } => assert_eq!(violations[0].rule, "provider_service"),
        other => panic!("expected provider_service, got {other}"),
    }
    // The office's directory: the health centre opens a legal desk.
    let mut c = country::sample().clone();
    c.services
        .iter_mut()
        .find(|p| p.provider_id == "ner_agadez_health_centre")
        .unwrap()
        .services
        .push("legal_aid_asylum".into());
    country::import_office(&mut office, &file(&c)).expect("office import");
    assert_eq!(down(&mut office, &mut amina).config_serial, Some(1));
    amina.make_referral(case, legal_aid()).expect("accepted by the open store");
    assert!(up(&mut amina, &mut office).quarantined.is_empty());
}
