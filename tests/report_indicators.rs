//! Indicators on a small hand-built set of cases made through the real
//! CaseStore, each expected value worked out by hand in the comments; plus
//! the invariants of every report (breakdowns add up, suppression) and the
//! exports (CSV parses back, DHIS2 holds no personal data).

use chrono::NaiveDate;
use fieldcase::model::event::{EventKind, Role};
use fieldcase::model::lifecycle::Stage;
use fieldcase::model::store::CaseStore;
use fieldcase::report::export::{
    dhis2_data_value_set, dhis2_period, indicator_csv, Dhis2Mapping, DEFAULT_DHIS2_MAPPING,
};
use fieldcase::report::{compute, Measure, Report, ReportOptions, Suppression};
use fieldcase::vault::{InitOptions, SecretString, VaultOptions};
use serde_json::{json, Map, Value};
use uuid::Uuid;

fn store(dir: &std::path::Path) -> CaseStore {
    let opts = InitOptions {
        name: "amina".into(),
        role: "caseworker".into(),
        escrow: None,
    };
    let options = VaultOptions {
        scrypt_log_n: Some(10),
        ..VaultOptions::default()
    };
    CaseStore::init_with(
        dir,
        &SecretString::from("pass phrase".to_owned()),
        opts,
        &options,
    )
    .expect("init")
}

fn map(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

/// Milliseconds of `YYYY-MM-DD` at `hour`:00 UTC.
fn at(day: &str, hour: u32) -> u64 {
    let d = NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap();
    d.and_hms_opt(hour, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis() as u64
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn march(suppress: bool) -> ReportOptions {
    ReportOptions {
        from: date("2026-03-01"),
        to: date("2026-03-31"),
        office: None,
        suppress,
    }
}

/// Names and dates of birth of the test children: no export may contain them.
const PERSONAL: &[&str] = &[
    "Zainab",
    "Okonkwo",
    "Ibrahim",
    "Traore",
    "Aicha",
    "Moussa",
    "Diallo",
    "2014-05-06",
    "secret note text",
];

/// Register a child: F1 identity, registration date, consent basis, stage
/// `registered` — all on `day`.
fn register(s: &mut CaseStore, case_type: &str, day: &str, extra: Value) -> Uuid {
    s.set_clock(Some(at(day, 9)));
    s.set_actor("amina", Role::Caseworker);
    let case = s.create_case(case_type, "Agadez").unwrap();
    let mut values = map(json!({
        "given_names": "Zainab", "family_name": "Okonkwo", "sex": "female", "age_years": 12,
        "registration_date": day, "legitimate_basis": "vital_interests", "nationality": ["NGA"],
    }));
    values.extend(map(extra));
    s.save_form(case, "registration_bia", None, values).unwrap();
    s.change_stage(case, Stage::Registered, "registered")
        .unwrap();
    case
}

/// A supervisor assigns the case (caseworkers may only take cases themselves).
fn assign(s: &mut CaseStore, case: Uuid, caseworker: &str) {
    s.set_actor("sup", Role::Supervisor);
    s.assign(case, caseworker).unwrap();
    s.set_actor("amina", Role::Caseworker);
}

/// The March 2026 caseload:
/// - A uasc, reg 03-02, female 12, rated high 03-02 09:00, contact note
///   03-02 20:00 (within 24 h), BIA completed 03-10 (8 days), foster care,
///   detained, caseworker cw1.
/// - B uasc, reg 03-05, male 16, rated high 03-05 09:00, contact note 03-07
///   (late), BIA completed 03-25 (20 days), in a facility, caseworker cw1.
/// - C accompanied child, reg 02-10 (before the period), male 4, low risk,
///   caseworker cw2.
/// - D uasc, reg 03-20, female 17, medium risk, caseworker cw2; referral
///   03-21 with consent the same day, implemented 03-28; referral 03-22
///   with consent dated a day after the sharing, pending.
/// - E uasc, reg 04-02 (after the period).
/// - F uasc, reg 03-03, merged into A on 03-04 (a duplicate).
fn caseload(s: &mut CaseStore) -> Vec<Uuid> {
    let a = register(
        s,
        "uasc",
        "2026-03-02",
        json!({"risk_level": "high", "bia_completed_on": "2026-03-10",
        "care_arrangement": "foster_care", "protection_concerns": ["deprived_of_liberty"]}),
    );
    assign(s, a, "cw1");
    s.set_clock(Some(at("2026-03-02", 20)));
    s.add_note(a, map(json!({"note_type": "contact", "note_datetime": "2026-03-02T20:00:00Z", "text": "secret note text"}))).unwrap();

    let b = register(
        s,
        "uasc",
        "2026-03-05",
        json!({"given_names": "Ibrahim", "family_name": "Traore", "sex": "male",
        "age_years": 16, "risk_level": "high", "bia_completed_on": "2026-03-25", "care_arrangement": "temporary_care_facility"}),
    );
    assign(s, b, "cw1");
    s.set_clock(Some(at("2026-03-07", 10)));
    s.add_note(
        b,
        map(json!({"note_type": "contact", "note_datetime": "2026-03-07T10:00:00Z"})),
    )
    .unwrap();

    let c = register(
        s,
        "accompanied_child_at_risk",
        "2026-02-10",
        json!({"given_names": "Moussa", "family_name": "Diallo",
        "sex": "male", "age_years": 4, "risk_level": "low", "nationality": ["MLI"]}),
    );
    assign(s, c, "cw2");

    let d = register(
        s,
        "uasc",
        "2026-03-20",
        json!({"given_names": "Aicha", "age_years": 17, "risk_level": "medium",
        "date_of_birth": "2014-05-06"}),
    );
    assign(s, d, "cw2");
    s.set_clock(Some(at("2026-03-21", 10)));
    let r1 = s
        .make_referral(d, map(json!({"referral_date": "2026-03-21", "service_type": "food", "status": "pending",
            "consent_for_referral": {"by": "child", "method": "witnessed_verbal", "date": "2026-03-21"}})))
        .unwrap();
    s.set_clock(Some(at("2026-03-22", 10)));
    s.make_referral(d, map(json!({"referral_date": "2026-03-22", "service_type": "food", "status": "pending",
        "consent_for_referral": {"by": "child", "method": "witnessed_verbal", "date": "2026-03-23"}}))).unwrap();
    s.set_clock(Some(at("2026-03-28", 10)));
    s.save_form(
        d,
        "referral",
        Some(r1),
        map(json!({"status": "implemented", "implemented_date": "2026-03-28"})),
    )
    .unwrap();

    let e = register(s, "uasc", "2026-04-02", json!({}));

    let f = register(s, "uasc", "2026-03-03", json!({}));
    s.set_clock(Some(at("2026-03-04", 9)));
    s.set_actor("dm", Role::DataManager);
    let mut batch = s.batch();
    batch
        .record(
            f,
            EventKind::CaseMerged,
            None,
            json!({"duplicate_of": a}),
            Vec::new(),
        )
        .unwrap();
    batch.change_stage(f, Stage::Duplicate, "merged").unwrap();
    batch.commit().unwrap();
    s.set_actor("amina", Role::Caseworker);
    vec![a, b, c, d, e, f]
}

fn total(r: &Report, id: &str) -> (Option<f64>, Option<u64>, Option<u64>) {
    let t = &r
        .indicator(id)
        .unwrap_or_else(|| panic!("indicator {id}"))
        .total;
    (t.value, t.numerator, t.denominator)
}

#[test]
fn indicators_match_hand_computed_values() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    caseload(&mut s);
    let r = compute(s.vault().conn(), &march(false)).unwrap();

    // Merged F is left out of everything but 25c.
    assert_eq!(r.exclusions.merged_or_duplicate, 1);
    // 1: A, B, D registered in March (C before, E after, F merged) = 3; all uasc.
    assert_eq!(total(&r, "1").0, Some(3.0));
    let i1 = r.indicator("1").unwrap();
    assert_eq!(
        i1.breakdown("case_type").unwrap().cell("uasc").unwrap().n,
        Some(3)
    );
    assert_eq!(
        i1.breakdown("sex").unwrap().cell("female").unwrap().n,
        Some(2)
    );
    assert_eq!(
        i1.breakdown("sex").unwrap().cell("male").unwrap().n,
        Some(1)
    );
    // A is 12 at registration, B 16; D's recorded date of birth wins over
    // her declared age: 2014-05-06 makes her 11 on 2026-03-20.
    let ages = i1.breakdown("age_band_registration").unwrap();
    assert_eq!(ages.cell("10-14").unwrap().n, Some(2));
    assert_eq!(ages.cell("15-17").unwrap().n, Some(1));
    // 2: open on 03-31: A, B, C, D = 4, all in `registered`.
    assert_eq!(total(&r, "2").0, Some(4.0));
    assert_eq!(
        r.indicator("2")
            .unwrap()
            .breakdown("stage")
            .unwrap()
            .cell("registered")
            .unwrap()
            .n,
        Some(4)
    );
    // 3a: 4 cases / 2 caseworkers = 2; 3b: (3 + 3 + 1 + 2) / 2 = 4.5.
    assert_eq!(total(&r, "3a"), (Some(2.0), None, Some(2)));
    assert_eq!(total(&r, "3b").0, Some(4.5));
    // 4: uasc registered in March: A (8 days, on time), B (20 days), D (none) = 1/3.
    assert_eq!(total(&r, "4"), (Some(33.3), Some(1), Some(3)));
    // 5: first rated high in March: A (contact after 11 h), B (after 49 h) = 1/2.
    assert_eq!(total(&r, "5"), (Some(50.0), Some(1), Some(2)));
    // 13: uasc open with a care arrangement: A foster (family-based), B facility = 1/2.
    assert_eq!(total(&r, "13"), (Some(50.0), Some(1), Some(2)));
    // 14: A is deprived of liberty = 1.
    assert_eq!(total(&r, "14").0, Some(1.0));
    // 20: D's referrals: consent the same day, consent a day late = 1/2.
    assert_eq!(total(&r, "20"), (Some(50.0), Some(1), Some(2)));
    // 21: the first implemented after 7 days, the second pending = 1/2.
    assert_eq!(total(&r, "21"), (Some(50.0), Some(1), Some(2)));
    // 25c: registered in March with merged ones: A, B, D, F; F merged = 1/4.
    assert_eq!(total(&r, "25c"), (Some(25.0), Some(1), Some(4)));
    // Nothing reached BID, reintegration or closure: empty denominators.
    for id in [
        "6", "7", "10", "11", "16a", "16b", "17", "18b", "19", "22", "23b", "24",
    ] {
        assert_eq!(total(&r, id).2, Some(0), "indicator {id}");
    }
    for id in ["8", "9"] {
        assert_eq!(r.indicator(id).unwrap().total.n, Some(0));
    }
    assert_eq!(total(&r, "23a").0, Some(0.0));
    // April: E registered, A..D still open.
    let april = ReportOptions {
        from: date("2026-04-01"),
        to: date("2026-04-30"),
        office: None,
        suppress: false,
    };
    let r = compute(s.vault().conn(), &april).unwrap();
    assert_eq!(total(&r, "1").0, Some(1.0));
    assert_eq!(total(&r, "2").0, Some(5.0));
    // Another office: nothing.
    let other = ReportOptions {
        office: Some("Niamey".into()),
        ..march(false)
    };
    assert_eq!(
        total(&compute(s.vault().conn(), &other).unwrap(), "2").0,
        Some(0.0)
    );
}

fn check_breakdowns_add_up(r: &Report) {
    for ind in &r.indicators {
        for b in &ind.breakdowns {
            let n: u64 = b.cells.iter().map(|c| c.n.unwrap()).sum();
            assert_eq!(Some(n), ind.total.n, "{} by {}", ind.id, b.dimension);
            if ind.measure == Measure::Percent {
                let num: u64 = b.cells.iter().map(|c| c.numerator.unwrap()).sum();
                assert_eq!(
                    Some(num),
                    ind.total.numerator,
                    "{} by {}",
                    ind.id,
                    b.dimension
                );
            }
            if ind.measure == Measure::Count {
                let v: f64 = b.cells.iter().map(|c| c.value.unwrap()).sum();
                assert_eq!(Some(v), ind.total.value, "{} by {}", ind.id, b.dimension);
            }
        }
    }
}

#[test]
fn breakdowns_add_up_to_the_total() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    caseload(&mut s);
    check_breakdowns_add_up(&compute(s.vault().conn(), &march(false)).unwrap());
    // Also on the synthetic demo caseload, which reaches every stage.
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    fieldcase::model::demo::generate(&mut s, 60, 7).unwrap();
    let year = ReportOptions {
        from: date("2025-01-01"),
        to: date("2026-12-31"),
        office: None,
        suppress: false,
    };
    let r = compute(s.vault().conn(), &year).unwrap();
    check_breakdowns_add_up(&r);
    assert!(
        r.indicator("2").unwrap().total.n.unwrap() > 0,
        "the demo has open cases"
    );
}

#[test]
fn small_cells_are_suppressed_with_a_complement() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    // 6 girls and 1 boy registered in March.
    for i in 0..7 {
        let sex = if i == 0 { "male" } else { "female" };
        register(
            &mut s,
            "uasc",
            &format!("2026-03-{:02}", i + 2),
            json!({"sex": sex}),
        );
    }
    let open = compute(s.vault().conn(), &march(false)).unwrap();
    let sexes = open
        .indicator("1")
        .unwrap()
        .breakdown("sex")
        .unwrap()
        .clone();
    assert_eq!(sexes.cell("male").unwrap().n, Some(1));
    assert!(!open.suppressed);

    let r = compute(s.vault().conn(), &march(true)).unwrap();
    assert!(r.suppressed);
    let i1 = r.indicator("1").unwrap();
    // The total (7) is shown; the boy's cell (1) is withheld, and so is the
    // girls' (6), or the boy could be worked out as 7 − 6.
    assert_eq!(i1.total.value, Some(7.0));
    let sex = i1.breakdown("sex").unwrap();
    assert_eq!(
        sex.cell("male").unwrap().suppressed,
        Some(Suppression::SmallCell)
    );
    assert_eq!(sex.cell("male").unwrap().value, None);
    assert_eq!(
        sex.cell("female").unwrap().suppressed,
        Some(Suppression::Complementary)
    );
    assert_eq!(sex.cell("female").unwrap().n, None);
    // Zero identifies no child and is shown.
    assert_eq!(sex.cell("other_unknown").unwrap().value, Some(0.0));
    // Every shown cell of every indicator has no count between 1 and 4, and
    // no breakdown with a shown total has exactly one withheld cell.
    for ind in &r.indicators {
        for c in std::iter::once(&ind.total).chain(ind.breakdowns.iter().flat_map(|b| &b.cells)) {
            for n in [c.n, c.numerator].into_iter().flatten() {
                assert!(n == 0 || n >= 5, "{} {}: {n}", ind.id, c.category);
            }
        }
        if ind.total.suppressed.is_none() {
            for b in &ind.breakdowns {
                assert_ne!(
                    b.cells.iter().filter(|c| c.suppressed.is_some()).count(),
                    1,
                    "{} by {}",
                    ind.id,
                    b.dimension
                );
            }
        }
    }
    // 4 children registered in the period is itself a small total.
    let few = ReportOptions {
        to: date("2026-03-05"),
        ..march(true)
    };
    let r = compute(s.vault().conn(), &few).unwrap();
    assert_eq!(
        r.indicator("1").unwrap().total.suppressed,
        Some(Suppression::SmallCell)
    );
}

#[test]
fn csv_parses_back_and_exports_hold_no_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    let ids = caseload(&mut s);
    let r = compute(s.vault().conn(), &march(false)).unwrap();

    let out = tempfile::tempdir().unwrap();
    let files = fieldcase::report::export::write_csv(&r, out.path()).unwrap();
    assert_eq!(files.len(), r.indicators.len());
    let text = indicator_csv(&r, r.indicator("4").unwrap()).unwrap();
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let header = rd.headers().unwrap().clone();
    assert_eq!(&header[0], "indicator");
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    let total = rows.iter().find(|r| &r[6] == "total").unwrap();
    assert_eq!((&total[8], &total[9], &total[10]), ("33.3", "1", "3"));
    // The definition, with its commas, survives the round trip.
    assert!(total[13].contains("≤ 14 days after registration"));
    // One row per cell: total + every breakdown cell.
    let cells: usize = r
        .indicator("4")
        .unwrap()
        .breakdowns
        .iter()
        .map(|b| b.cells.len())
        .sum();
    assert_eq!(rows.len(), cells + 1);

    // DHIS2: a monthly period, values present, nothing personal.
    let mapping = Dhis2Mapping::parse(DEFAULT_DHIS2_MAPPING).unwrap();
    let doc = dhis2_data_value_set(&r, &mapping).unwrap();
    assert_eq!(doc["period"], "202603");
    let values = doc["dataValues"].as_array().unwrap();
    assert!(values.iter().any(
        |v| v["dataElement"] == mapping.data_elements["1"]["total"].value && v["value"] == "3"
    ));
    let mut exported = doc.to_string();
    for f in &files {
        exported.push_str(&std::fs::read_to_string(f).unwrap());
    }
    exported.push_str(&serde_json::to_string(&r).unwrap());
    for needle in PERSONAL
        .iter()
        .map(|s| s.to_string())
        .chain(ids.iter().map(Uuid::to_string))
    {
        assert!(!exported.contains(&needle), "export holds {needle}");
    }
    let numbers: Vec<String> = ids
        .iter()
        .map(|id| s.case_detail(*id).unwrap().summary.case_number.clone())
        .collect();
    for n in numbers {
        assert!(!exported.contains(&n), "export holds case number {n}");
    }
    // Suppressed cells are not sent.
    let suppressed = compute(s.vault().conn(), &march(true)).unwrap();
    let doc = dhis2_data_value_set(&suppressed, &mapping).unwrap();
    assert!(!doc["dataValues"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["dataElement"] == mapping.data_elements["1"]["total"].value));
}

#[test]
fn dhis2_periods() {
    assert_eq!(
        dhis2_period(date("2026-02-01"), date("2026-02-28")).unwrap(),
        "202602"
    );
    assert_eq!(
        dhis2_period(date("2026-04-01"), date("2026-06-30")).unwrap(),
        "2026Q2"
    );
    assert_eq!(
        dhis2_period(date("2026-01-01"), date("2026-12-31")).unwrap(),
        "2026"
    );
    assert!(dhis2_period(date("2026-02-01"), date("2026-03-31")).is_err());
    assert!(dhis2_period(date("2026-02-02"), date("2026-02-28")).is_err());
    let bad = ReportOptions {
        from: date("2026-03-02"),
        ..march(true)
    };
    assert!(compute(
        &rusqlite::Connection::open_in_memory().unwrap(),
        &ReportOptions {
            to: date("2026-01-01"),
            ..bad
        }
    )
    .is_err());
}
