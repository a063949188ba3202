//! Indicators on a small hand-built set of cases made through the real
//! CaseStore, each expected value worked out by hand in the comments; plus
//! the invariants of every report (breakdowns add up, suppression) and the
//! exports (CSV parses back, DHIS2 holds no personal data).
#[path = "sync_common.rs"]
mod sync_common;

use chrono::NaiveDate;
use fieldcase::model::event::{EventKind, Role};
use fieldcase::model::lifecycle::Stage;
use fieldcase::model::store::CaseStore;
use fieldcase::report::export::{
    dhis2_data_value_set, dhis2_period, indicator_csv, Dhis2Mapping, ExportError, DEFAULT_DHIS2_MAPPING,
};
use fieldcase::report::{compute, Measure, Report, ReportOptions, Suppression};
use serde_json::{json, Value};
use sync_common::{device, values};
use uuid::Uuid;

/// A caseworker's vault (low scrypt): the shared test setup.
fn store(dir: &std::path::Path) -> CaseStore {
    device(dir, "amina", "caseworker")
}

/// Milliseconds of `YYYY-MM-DD` at `hour`:00 UTC.
fn at(day: &str, hour: u32) -> u64 {
    let d = NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap();
    d.and_hms_opt(hour, 0, 0).unwrap().and_utc().timestamp_millis() as u64
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn march(suppress: bool) -> ReportOptions {
    ReportOptions { from: date("2026-03-01"), to: date("2026-03-31"), office: None, suppress }
}

/// Names and dates of birth of the test children: no export may contain them.
const PERSONAL: &[&str] =
    &["Zainab", "Okonkwo", "Ibrahim", "Traore", "Aicha", "Moussa", "Diallo", "2014-05-06", "secret note text"];

/// Register a child: F1 identity, registration date, consent basis, stage
/// `registered` — all on `day`.
fn register(s: &mut CaseStore, case_type: &str, day: &str, extra: Value) -> Uuid {
    s.set_clock(Some(at(day, 9)));
    // An enrolled device records as its own caseworker (set_actor is for
    // vaults of no office only).
    if s.actor().1 != Role::Caseworker {
        s.set_actor("amina", Role::Caseworker).expect("set_actor");
    }
    let case = s.create_case(case_type, "Agadez").unwrap();
    let mut form = values(json!({
        "given_names": "Zainab", "family_name": "Okonkwo", "sex": "female", "age_years": 12,
        "registration_date": day, "legitimate_basis": "vital_interests", "nationality": ["NGA"],
    }));
    form.extend(values(extra));
    s.save_form(case, "registration_bia", None, form).unwrap();
    s.change_stage(case, Stage::Registered, "registered").unwrap();
    case
}

/// A supervisor assigns the case (caseworkers may only take cases themselves).
fn assign(s: &mut CaseStore, case: Uuid, caseworker: &str) {
    s.set_actor("sup", Role::Supervisor).expect("set_actor");
    s.assign(case, caseworker).unwrap();
    s.set_actor("amina", Role::Caseworker).expect("set_actor");
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
    s.add_note(
        a,
        values(json!({"note_type": "contact", "note_datetime": "2026-03-02T20:00:00Z", "text": "secret note text"})),
    )
    .unwrap();

    let b = register(
        s,
        "uasc",
        "2026-03-05",
        json!({"given_names": "Ibrahim", "family_name": "Traore", "sex": "male",
        "age_years": 16, "risk_level": "high", "bia_completed_on": "2026-03-25", "care_arrangement": "temporary_care_facility"}),
    );
    assign(s, b, "cw1");
    s.set_clock(Some(at("2026-03-07", 10)));
    s.add_note(b, values(json!({"note_type": "contact", "note_datetime": "2026-03-07T10:00:00Z"}))).unwrap();

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
        .make_referral(
            d,
            values(json!({"referral_date": "2026-03-21", "service_type": "food", "status": "pending", "provider_id": "mex_tapachula_shelter",
            "consent_for_referral": {"by": "child", "method": "witnessed_verbal", "date": "2026-03-21"}})),
        )
        .unwrap();
    s.set_clock(Some(at("2026-03-22", 10)));
    s.make_referral(
        d,
        values(json!({"referral_date": "2026-03-22", "service_type": "food", "status": "pending", "provider_id": "mex_tapachula_shelter",
        "consent_for_referral": {"by": "child", "method": "witnessed_verbal", "date": "2026-03-23"}})),
    )
    .unwrap();
    s.set_clock(Some(at("2026-03-28", 10)));
    s.save_form(d, "referral", Some(r1), values(json!({"status": "implemented", "implemented_date": "2026-03-28"})))
        .unwrap();

    let e = register(s, "uasc", "2026-04-02", json!({}));

    let f = register(s, "uasc", "2026-03-03", json!({}));
    s.set_clock(Some(at("2026-03-04", 9)));
    s.set_actor("dm", Role::DataManager).expect("set_actor");
    let mut batch = s.batch();
    batch.record(f, EventKind::CaseMerged, None, json!({"duplicate_of": a}), Vec::new()).unwrap();
    batch.change_stage(f, Stage::Duplicate, "merged").unwrap();
    batch.commit().unwrap();
    s.set_actor("amina", Role::Caseworker).expect("set_actor");
    vec![a, b, c, d, e, f]
}

fn total(r: &Report, id: &str) -> (Option<f64>, Option<u64>, Option<u64>) {
    let t = &r.indicator(id).unwrap_or_else(|| panic!("indicator {id}")).total;
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
    assert_eq!(i1.breakdown("case_type").unwrap().cell("uasc").unwrap().n, Some(3));
    assert_eq!(i1.breakdown("sex").unwrap().cell("female").unwrap().n, Some(2));
    assert_eq!(i1.breakdown("sex").unwrap().cell("male").unwrap().n, Some(1));
    // A is 12 at registration, B 16; D's recorded date of birth wins over
    // her declared age: 2014-05-06 makes her 11 on 2026-03-20.
    let ages = i1.breakdown("age_band_registration").unwrap();
    assert_eq!(ages.cell("10-14").unwrap().n, Some(2));
    assert_eq!(ages.cell("15-17").unwrap().n, Some(1));
    // 2: open on 03-31: A, B, C, D = 4, all in `registered`.
    assert_eq!(total(&r, "2").0, Some(4.0));
    assert_eq!(r.indicator("2").unwrap().breakdown("stage").unwrap().cell("registered").unwrap().n, Some(4));
    // 3a: 4 cases / 2 caseworkers = 2; 3b: (3 + 3 + 1 + 2) / 2 = 4.5.
    assert_eq!(total(&r, "3a"), (Some(2.0), None, Some(2)));
    assert_eq!(total(&r, "3b").0, Some(4.5));
    // 4: uasc registered in March: A (8 days, on time), B (20 days), D (none) = 1/3.
    assert_eq!(total(&r, "4"), (Some(33.3), Some(1), Some(3)));
    // 5: first rated high in March: A (contact after 11 h), B (after 49 h) = 1/2.
    assert_eq!(total(&r, "5"), (Some(50.0), Some(1), Some(2)));
    // 12: uasc active in March: A, B, D (C is accompanied, E starts in
    // April, F is merged); none reintegrated or placed in foster/kinship
    // care = 0/3.
    assert_eq!(total(&r, "12"), (Some(0.0), Some(0), Some(3)));
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
    for id in ["6", "7", "10", "11", "16a", "16b", "17", "18b", "19", "22", "23b", "24"] {
        assert_eq!(total(&r, id).2, Some(0), "indicator {id}");
    }
    for id in ["8", "9"] {
        assert_eq!(r.indicator(id).unwrap().total.n, Some(0));
    }
    assert_eq!(total(&r, "23a").0, Some(0.0));
    // April: E registered, A..D still open.
    let april = ReportOptions { from: date("2026-04-01"), to: date("2026-04-30"), office: None, suppress: false };
    let r = compute(s.vault().conn(), &april).unwrap();
    assert_eq!(total(&r, "1").0, Some(1.0));
    assert_eq!(total(&r, "2").0, Some(5.0));
    // Another office: nothing.
    let other = ReportOptions { office: Some("Niamey".into()), ..march(false) };
    assert_eq!(total(&compute(s.vault().conn(), &other).unwrap(), "2").0, Some(0.0));
}

fn check_breakdowns_add_up(r: &Report) {
    for ind in &r.indicators {
        for b in &ind.breakdowns {
            let n: u64 = b.cells.iter().map(|c| c.n.unwrap()).sum();
            assert_eq!(Some(n), ind.total.n, "{} by {}", ind.id, b.dimension);
            if ind.measure == Measure::Percent {
                let num: u64 = b.cells.iter().map(|c| c.numerator.unwrap()).sum();
                assert_eq!(Some(num), ind.total.numerator, "{} by {}", ind.id, b.dimension);
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
    let year = ReportOptions { from: date("2025-01-01"), to: date("2026-12-31"), office: None, suppress: false };
    let r = compute(s.vault().conn(), &year).unwrap();
    check_breakdowns_add_up(&r);
    assert!(r.indicator("2").unwrap().total.n.unwrap() > 0, "the demo has open cases");
}

#[test]
fn small_cells_are_suppressed_with_a_complement() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    // 6 girls and 1 boy registered in March.
    for i in 0..7 {
        let sex = if i == 0 { "male" } else { "female" };
        register(&mut s, "uasc", &format!("2026-03-{:02}", i + 2), json!({"sex": sex}));
    }
    let open = compute(s.vault().conn(), &march(false)).unwrap();
    let sexes = open.indicator("1").unwrap().breakdown("sex").unwrap().clone();
    assert_eq!(sexes.cell("male").unwrap().n, Some(1));
    assert!(!open.suppressed);

    let r = compute(s.vault().conn(), &march(true)).unwrap();
    assert!(r.suppressed);
    let i1 = r.indicator("1").unwrap();
    // The total (7) is shown; the boy's cell (1) is withheld, and so is the
    // girls' (6), or the boy could be worked out as 7 − 6.
    assert_eq!(i1.total.value, Some(7.0));
    let sex = i1.breakdown("sex").unwrap();
    assert_eq!(sex.cell("male").unwrap().suppressed, Some(Suppression::SmallCell));
    assert_eq!(sex.cell("male").unwrap().value, None);
    assert_eq!(sex.cell("female").unwrap().suppressed, Some(Suppression::Complementary));
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
    let few = ReportOptions { to: date("2026-03-05"), ..march(true) };
    let r = compute(s.vault().conn(), &few).unwrap();
    assert_eq!(r.indicator("1").unwrap().total.suppressed, Some(Suppression::SmallCell));
}

#[test]
fn csv_parses_back_and_exports_hold_no_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    let ids = caseload(&mut s);
    // Exports leave the machine: a report without suppression is refused
    // by every export function, and no file is written.
    let open = compute(s.vault().conn(), &march(false)).unwrap();
    let out = tempfile::tempdir().unwrap();
    let mapping = Dhis2Mapping::parse(DEFAULT_DHIS2_MAPPING).unwrap();
    let refused = |e: ExportError| assert!(matches!(e, ExportError::NotSuppressed), "{e:?}");
    refused(fieldcase::report::export::write_csv(&open, &out.path().join("csv")).unwrap_err());
    refused(indicator_csv(&open, open.indicator("4").unwrap()).unwrap_err());
    refused(dhis2_data_value_set(&open, &mapping).unwrap_err());
    refused(fieldcase::report::export::write_dhis2(&open, &mapping, &out.path().join("d.json")).unwrap_err());
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0, "a refused export writes nothing");

    let r = compute(s.vault().conn(), &march(true)).unwrap();
    let files = fieldcase::report::export::write_csv(&r, out.path()).unwrap();
    assert_eq!(files.len(), r.indicators.len());
    // A second export into the same folder replaces nothing.
    let before = std::fs::read(&files[0]).unwrap();
    let again = fieldcase::report::export::write_csv(&r, out.path()).unwrap_err();
    assert!(again.to_string().contains("already exists: choose another name"), "{again}");
    assert_eq!(std::fs::read(&files[0]).unwrap(), before);
    let text = indicator_csv(&r, r.indicator("4").unwrap()).unwrap();
    assert_eq!(std::fs::read_to_string(out.path().join("indicator_04.csv")).unwrap(), text);
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let header = rd.headers().unwrap().clone();
    assert_eq!(&header[0], "indicator");
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    let total = rows.iter().find(|r| &r[6] == "total").unwrap();
    // 1 of 3 children: a small cell, withheld (empty figures, the reason given).
    assert_eq!((&total[8], &total[9], &total[10], &total[12]), ("", "", "", "small_cell"));
    // The definition, with its commas, survives the round trip.
    assert!(total[13].contains("≤ 14 days after registration"));
    // One row per cell: total + every breakdown cell.
    let cells: usize = r.indicator("4").unwrap().breakdowns.iter().map(|b| b.cells.len()).sum();
    assert_eq!(rows.len(), cells + 1);

    // DHIS2: a monthly period, nothing personal.
    let doc = dhis2_data_value_set(&r, &mapping).unwrap();
    assert_eq!(doc["period"], "202603");
    let mut exported = doc.to_string();
    for f in &files {
        exported.push_str(&std::fs::read_to_string(f).unwrap());
    }
    exported.push_str(&serde_json::to_string(&r).unwrap());
    exported.push_str(&serde_json::to_string(&open).unwrap());
    for needle in PERSONAL.iter().map(|s| s.to_string()).chain(ids.iter().map(Uuid::to_string)) {
        assert!(!exported.contains(&needle), "export holds {needle}");
    }
    let numbers: Vec<String> = ids.iter().map(|id| s.case_detail(*id).unwrap().summary.case_number.clone()).collect();
    for n in numbers {
        assert!(!exported.contains(&n), "export holds case number {n}");
    }
    // Suppressed cells are not sent: indicator 1's total (3 children) is withheld.
    assert_eq!(open.indicator("1").unwrap().total.value, Some(3.0));
    assert!(r.indicator("1").unwrap().total.suppressed.is_some());
    assert!(!doc["dataValues"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["dataElement"] == mapping.data_elements["1"]["total"].value));
    // write_dhis2 writes that same document.
    let written = out.path().join("dhis2.json");
    let n = fieldcase::report::export::write_dhis2(&r, &mapping, &written).unwrap();
    assert_eq!(n, doc["dataValues"].as_array().unwrap().len());
    let back: Value = serde_json::from_slice(&std::fs::read(&written).unwrap()).unwrap();
    assert_eq!(back, doc);
}

#[test]
fn dhis2_periods() {
    assert_eq!(dhis2_period(date("2026-02-01"), date("2026-02-28")).unwrap(), "202602");
    assert_eq!(dhis2_period(date("2026-04-01"), date("2026-06-30")).unwrap(), "2026Q2");
    assert_eq!(dhis2_period(date("2026-01-01"), date("2026-12-31")).unwrap(), "2026");
    assert!(dhis2_period(date("2026-02-01"), date("2026-03-31")).is_err());
    assert!(dhis2_period(date("2026-02-02"), date("2026-02-28")).is_err());
    let bad = ReportOptions { from: date("2026-03-02"), ..march(true) };
    assert!(compute(
        &rusqlite::Connection::open_in_memory().unwrap(),
        &ReportOptions { to: date("2026-01-01"), ..bad }
    )
    .is_err());
}

/// 25b on four children: X "Fatima Bello" and Y, registered again a week
/// later with the same names, sex, age and place (an obvious duplicate);
/// Z "Moussa Diallo", a 4-year-old boy from Mali, and W, the same again
/// (a second obvious pair). By hand:
/// - before anyone runs a duplicate check nothing is flagged: 0 (the report
///   reads the stored flags, it does not run the pass itself);
/// - after the data manager's check: pairs {X, Y} and {Z, W} = 4 children,
///   2 girls and 2 boys;
/// - Z and W reviewed as different children (`case.not_duplicate`): 2;
/// - Y merged into X: 0.
#[test]
fn suspected_duplicates_pending_are_counted_until_reviewed() {
    use fieldcase::search::{duplicate_review, duplicates, merge};
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    let fatima = json!({"given_names": "Fatima", "family_name": "Bello", "sex": "female",
        "age_years": 10, "place_of_origin": "Kano"});
    let x = register(&mut s, "uasc", "2026-03-02", fatima.clone());
    let y = register(&mut s, "uasc", "2026-03-09", fatima);
    let moussa = json!({"given_names": "Moussa", "family_name": "Diallo", "sex": "male",
        "age_years": 4, "nationality": ["MLI"]});
    let z = register(&mut s, "uasc", "2026-03-10", moussa.clone());
    let w = register(&mut s, "uasc", "2026-03-11", moussa);
    let r = compute(s.vault().conn(), &march(false)).unwrap();
    assert_eq!(total(&r, "25b").0, Some(0.0), "nothing flagged before a check");

    s.set_actor("dm", Role::DataManager).expect("set_actor");
    let pairs = duplicates::find_duplicates(s.vault().conn()).unwrap();
    assert_eq!(pairs.len(), 2);
    duplicate_review::record_pass(&mut s, &pairs).unwrap();
    let r = compute(s.vault().conn(), &march(false)).unwrap();
    assert_eq!(total(&r, "25b").0, Some(4.0));
    let sex = r.indicator("25b").unwrap().breakdown("sex").unwrap();
    assert_eq!(sex.cell("female").unwrap().n, Some(2));
    assert_eq!(sex.cell("male").unwrap().n, Some(2));
    // The definition printed next to the figure says what is counted.
    assert!(r.indicator("25b").unwrap().definition.contains("neither merged nor reviewed"));

    let review = merge::not_duplicate(&mut s, z, w).unwrap();
    assert!(s.case_events(z).unwrap().iter().any(|e| e.id == review && e.kind == EventKind::CaseNotDuplicate));
    let r = compute(s.vault().conn(), &march(false)).unwrap();
    assert_eq!(total(&r, "25b").0, Some(2.0));

    merge::merge(&mut s, y, x).unwrap();
    let r = compute(s.vault().conn(), &march(false)).unwrap();
    assert_eq!(total(&r, "25b").0, Some(0.0));
    // 25c sees the merge: X, Y, Z, W registered in March, Y merged = 1/4.
    assert_eq!(total(&r, "25c"), (Some(25.0), Some(1), Some(4)));

    // The flags and the review survive closing and reopening the vault.
    drop(s);
    let s = sync_common::reopen(dir.path());
    assert_eq!(duplicate_review::flagged(s.vault().conn()).unwrap().len(), 2);
    assert!(duplicate_review::pending(s.vault().conn()).unwrap().is_empty());
}

/// 25b from an import alone: two devices register the same girl; the
/// office imports both bundles. The second import flags the pair (new case
/// vs the case already there) without anyone running the full pass: by
/// hand 2 children pending at the office. A later full pass that finds the
/// same pair supersedes the import's flag: still 2, not 4.
#[test]
fn an_import_flags_suspected_duplicates_for_review() {
    use fieldcase::search::{duplicate_review, duplicates};
    let root = tempfile::tempdir().unwrap();
    let mut office = sync_common::office(&root.path().join("office"));
    let mut one = store(&root.path().join("one"));
    let mut two = device(&root.path().join("two"), "bello", "caseworker");
    sync_common::enroll(&mut office, &mut one);
    sync_common::enroll(&mut office, &mut two);
    let fatima = json!({"given_names": "Fatima", "family_name": "Bello", "sex": "female",
        "age_years": 10, "place_of_origin": "Kano"});
    register(&mut one, "uasc", "2026-03-02", fatima.clone());
    register(&mut two, "uasc", "2026-03-09", fatima);
    assert!(sync_common::up(&mut one, &mut office).suspected_duplicates.is_empty());
    let second = sync_common::up(&mut two, &mut office);
    assert_eq!(second.suspected_duplicates.len(), 1);
    let r = compute(office.vault().conn(), &march(false)).unwrap();
    assert_eq!(total(&r, "25b").0, Some(2.0));

    let pairs = duplicates::find_duplicates(office.vault().conn()).unwrap();
    duplicate_review::record_pass(&mut office, &pairs).unwrap();
    assert_eq!(duplicate_review::flagged(office.vault().conn()).unwrap().len(), 1);
    let r = compute(office.vault().conn(), &march(false)).unwrap();
    assert_eq!(total(&r, "25b").0, Some(2.0));
}

/// Only a data manager may record that two cases are different children.
#[test]
fn only_a_data_manager_reviews_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    let a = register(&mut s, "uasc", "2026-03-02", json!({}));
    let b = register(&mut s, "uasc", "2026-03-03", json!({}));
    assert!(fieldcase::search::merge::not_duplicate(&mut s, a, b).is_err());
    assert!(fieldcase::search::merge::not_duplicate(&mut s, a, a).is_err());
    s.set_actor("dm", Role::DataManager).expect("set_actor");
    assert!(fieldcase::search::merge::not_duplicate(&mut s, a, b).is_ok());
}

// ---- An independent oracle over the synthetic demo caseload ----
//
// Building cases through BID, tracing, reintegration and closure by hand is
// long, so the indicators below are checked on the demo caseload (which
// reaches every stage) against expected values computed here in plain SQL
// and Rust from the projection tables (`cases`, `stage_history`,
// `field_values`), following the written definitions, without calling
// any src/report code.

/// One case as the oracle sees it.
struct Facts {
    id: String,
    case_type: String,
    counted: bool,
    stage: String,
    created: NaiveDate,
    /// (stage entered, day), in recorded order.
    stages: Vec<(String, NaiveDate)>,
}

fn day_of(millis: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(millis).unwrap().date_naive()
}

fn oracle_cases(conn: &rusqlite::Connection) -> Vec<Facts> {
    let mut st = conn
        .prepare("SELECT id, case_type, stage, merged_into, erased, created_millis FROM cases ORDER BY id")
        .unwrap();
    let mut cases: Vec<Facts> = st
        .query_map([], |r| {
            let stage: String = r.get(2)?;
            let merged: Option<String> = r.get(3)?;
            let erased: i64 = r.get(4)?;
            Ok(Facts {
                id: r.get(0)?,
                case_type: r.get(1)?,
                counted: merged.is_none() && erased == 0 && stage != "duplicate",
                stage,
                created: day_of(r.get(5)?),
                stages: Vec::new(),
            })
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for c in &mut cases {
        let mut st =
            conn.prepare("SELECT to_stage, hlc_millis FROM stage_history WHERE case_id = ? ORDER BY seq").unwrap();
        c.stages = st
            .query_map([&c.id], |r| Ok((r.get::<_, String>(0)?, day_of(r.get(1)?))))
            .unwrap()
            .map(Result::unwrap)
            .collect();
    }
    cases
}

/// The shown value of a field (`item` '' for a non-repeating form).
fn field(conn: &rusqlite::Connection, case: &str, form: &str, item: &str, name: &str) -> Option<Value> {
    let text: Option<String> = conn
        .query_row(
            "SELECT value FROM field_values WHERE case_id = ? AND form = ? AND item = ? AND field = ?",
            [case, form, item, name],
            |r| r.get(0),
        )
        .ok()
        .flatten();
    text.and_then(|t| serde_json::from_str(&t).ok()).filter(|v: &Value| !v.is_null())
}

fn field_str(conn: &rusqlite::Connection, case: &str, form: &str, name: &str) -> Option<String> {
    field(conn, case, form, "", name).and_then(|v| v.as_str().map(str::to_owned))
}

fn field_date(conn: &rusqlite::Connection, case: &str, form: &str, item: &str, name: &str) -> Option<NaiveDate> {
    field(conn, case, form, item, name)
        .and_then(|v| v.as_str().and_then(|s| NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()))
}

fn items(conn: &rusqlite::Connection, case: &str, form: &str) -> Vec<String> {
    let mut st = conn.prepare("SELECT item FROM items WHERE case_id = ? AND form = ? ORDER BY seq").unwrap();
    st.query_map([case, form], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

fn oracle_median(mut v: Vec<i64>) -> Option<f64> {
    v.sort();
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2] as f64),
        _ => Some((v[n / 2 - 1] + v[n / 2]) as f64 / 2.0),
    }
}

#[test]
fn demo_caseload_matches_an_independent_oracle() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    fieldcase::model::demo::generate(&mut s, 80, 7).unwrap();
    // A year inside the demo's span, so "in the period" filters cut both ways.
    let (from, to) = (date("2025-01-01"), date("2025-12-31"));
    let opts = ReportOptions { from, to, office: None, suppress: false };
    let r = compute(s.vault().conn(), &opts).unwrap();
    let conn = s.vault().conn();
    let cases = oracle_cases(conn);
    let inp = |d: NaiveDate| from <= d && d <= to;
    let closed_set = ["closed", "transferred_out", "duplicate"];

    let mut open_end = 0u64;
    let mut unresolved = 0u64;
    let (mut overdue_cases, mut in_follow_up) = (0u64, 0u64);
    let mut overdue_days = Vec::new();
    let mut to_bid = Vec::new();
    let mut to_solution = Vec::new();
    let mut closures = 0u64;
    let (mut goals, mut closed_outcome) = (0u64, 0u64);
    let (mut bid_ok, mut returns) = (0u64, 0u64);
    let (mut located, mut traced) = (0u64, 0u64);
    let (mut verified, mut verif_pop) = (0u64, 0u64);
    let (mut covered, mut followed) = (0u64, 0u64);
    let (mut views, mut bids) = (0u64, 0u64);
    let (mut completed, mut referrals) = (0u64, 0u64);
    let (mut meets, mut placed) = (0u64, 0u64);
    let mut safeguards = 0u64;
    let (mut covered_12, mut followed_12) = (0u64, 0u64);
    let (mut broke_down, mut reintegrated) = (0u64, 0u64);
    let (mut reunited, mut active_uasc) = (0u64, 0u64);
    for c in cases.iter().filter(|c| c.counted) {
        let reason = field_str(conn, &c.id, "closure_transfer", "closure_reason");
        let reason = reason.as_deref();
        // Common exclusions (docs/reports.md): transferred out, closed as
        // transferred / duplicate / opened in error; outcome indicators
        // also leave out deaths and relocations without a partner.
        let excl =
            c.stage == "transferred_out" || matches!(reason, Some("transferred" | "duplicate" | "opened_in_error"));
        let excl_outcome = excl || matches!(reason, Some("death_of_child" | "relocated_no_partner"));
        let reg = field_date(conn, &c.id, "registration_bia", "", "registration_date").unwrap_or(c.created);

        // 23a: every counted case that entered `closed` in the period.
        let closed_in = entered(c, "closed").any(inp);
        if closed_in {
            closures += 1;
        }
        // 2: its stage on the last day of the period is an open one.
        if !excl && open_at_end(c, to, &closed_set) {
            open_end += 1;
        }
        if excl {
            continue;
        }
        // 25a: a field with several heads still listed as a conflict, whose
        // oldest competing write (read from conflict_heads itself, not the
        // field_heads view the report uses) is more than 7 days before the
        // period end.
        let oldest: Option<i64> = conn
            .query_row(
                "SELECT min(h.hlc_millis) FROM conflict_heads h WHERE h.case_id = ?1 AND EXISTS
                 (SELECT 1 FROM conflicts c WHERE c.case_id = h.case_id AND c.form = h.form
                  AND c.item = h.item AND c.field = h.field)",
                [&c.id],
                |r| r.get(0),
            )
            .unwrap();
        if oldest.is_some_and(|m| (to - day_of(m)).num_days() > 7) {
            unresolved += 1;
        }
        // 18a-c: in follow_up at period end; overdue visits per the
        // schedule written out in `oracle_overdue`.
        if let Some(days) = oracle_overdue(conn, c, to) {
            in_follow_up += 1;
            if let Some(d) = days {
                overdue_cases += 1;
                overdue_days.push(d);
            }
        }
        // 8: the last entry into bid_decided, or the BID's panel date.
        if let Some(stage_day) = entered(c, "bid_decided").last() {
            let d = field_date(conn, &c.id, "bid", "", "panel_date").unwrap_or(stage_day);
            if inp(d) {
                to_bid.push((d - reg).num_days().max(0));
            }
        }
        // 9: first entry into reintegration.
        let t0 = entered(c, "reintegration").next().filter(|d| inp(*d));
        if let Some(t0) = t0 {
            to_solution.push((t0 - reg).num_days().max(0));
        }
        // 15: open at period end with a temporary care placement dated on or
        // before it (or undated); the latest one (by date, then by when it
        // was recorded) was assessed as meeting the standards.
        if open_at_end(c, to, &closed_set) {
            let mut st = conn
                .prepare("SELECT item, created_millis FROM items WHERE case_id = ? AND form = 'temporary_care'")
                .unwrap();
            let placements: Vec<(String, i64)> =
                st.query_map([&c.id], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
            let latest = placements
                .iter()
                .map(|(it, created)| (field_date(conn, &c.id, "temporary_care", it, "date"), *created, it))
                .filter(|(d, _, _)| d.is_none_or(|d| d <= to))
                .max();
            if let Some((_, _, it)) = latest {
                placed += 1;
                if field(conn, &c.id, "temporary_care", it, "result") == Some(json!("meets")) {
                    meets += 1;
                }
            }
        }
        // 21: each referral dated in the period; implemented ≤ 30 days later
        // (and by period end).
        for it in items(conn, &c.id, "referral") {
            let Some(day) = field_date(conn, &c.id, "referral", &it, "referral_date").filter(|d| inp(*d)) else {
                continue;
            };
            referrals += 1;
            let implemented = field(conn, &c.id, "referral", &it, "status") == Some(json!("implemented"));
            if implemented
                && field_date(conn, &c.id, "referral", &it, "implemented_date")
                    .is_some_and(|d| d <= to && (d - day).num_days() <= 30)
            {
                completed += 1;
            }
        }
        // 19: BID decided in the period (as 8); the child interviewed and
        // heard alone, or a recorded reason the views were not obtained.
        if let Some(stage_day) = entered(c, "bid_decided").last() {
            let d = field_date(conn, &c.id, "bid", "", "panel_date").unwrap_or(stage_day);
            if inp(d) {
                bids += 1;
                let interviewed = field(conn, &c.id, "bid", "", "child_interview").is_some();
                let alone = field(conn, &c.id, "bid", "", "child_heard_alone") == Some(json!(true));
                let reason = field(conn, &c.id, "registration_bia", "", "views_not_obtained_reason").is_some();
                if (interviewed && alone) || reason {
                    views += 1;
                }
            }
        }
        if excl_outcome {
            continue;
        }
        let uasc = c.case_type == "uasc"
            || matches!(
                field_str(conn, &c.id, "registration_bia", "child_status").as_deref(),
                Some("unaccompanied" | "separated")
            );
        // 23b: closed in the period as goals (substantially) met.
        if closed_in {
            closed_outcome += 1;
            if matches!(reason, Some("goals_met" | "goals_substantially_met")) {
                goals += 1;
            }
        }
        if let Some(t0) = t0 {
            // 6: UASC returned (BID decided return_reintegration) with an
            // approving BID decided on or before the return.
            if uasc && field_str(conn, &c.id, "bid", "decided_solution").as_deref() == Some("return_reintegration") {
                returns += 1;
                let decided = entered(c, "bid_decided")
                    .last()
                    .map(|d| field_date(conn, &c.id, "bid", "", "panel_date").unwrap_or(d));
                if field_str(conn, &c.id, "bid", "panel_decision").as_deref() == Some("approves_recommendation")
                    && decided.is_some_and(|d| d <= t0)
                {
                    bid_ok += 1;
                }
                // 7: the BID's pre-return checklist has each item (a)–(f)
                // done and dated on or before the return.
                let list = field(conn, &c.id, "bid", "", "pre_return_checklist")
                    .and_then(|v| v.as_array().cloned())
                    .unwrap_or_default();
                let all_done = ["a_", "b_", "c_", "d_", "e_", "f_"].iter().all(|p| {
                    list.iter().any(|row| {
                        row["item"].as_str().is_some_and(|s| s.starts_with(p))
                            && row["done"] == json!(true)
                            && row["date"]
                                .as_str()
                                .and_then(|s| NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok())
                                .is_some_and(|d| d <= t0)
                    })
                });
                if all_done {
                    safeguards += 1;
                }
            }
        }
        // 12: UASC active in the period (open on its first day, or entering
        // an open stage during it); reintegrated, or placed with a foster
        // or kinship family, in the period.
        let open_start = open_at_end(c, from, &closed_set);
        let entered_open = c.stages.iter().any(|(s, d)| inp(*d) && !closed_set.contains(&s.as_str()));
        if uasc && (open_start || entered_open) {
            active_uasc += 1;
            let reunified = entered(c, "reintegration").any(inp);
            let family_care = items(conn, &c.id, "temporary_care").iter().any(|it| {
                matches!(
                    field(conn, &c.id, "temporary_care", it, "provider_type").as_ref().and_then(Value::as_str),
                    Some("foster_family" | "kinship_foster")
                ) && field_date(conn, &c.id, "temporary_care", it, "date").is_some_and(inp)
            });
            if reunified || family_care {
                reunited += 1;
            }
        }
        // 22: reintegrated from 12 months before the period to its end;
        // reopened, or a visit saying the child already left / was not seen
        // because re-migrated, within 12 months of it (and by period end).
        if let Some(t0) = entered(c, "reintegration")
            .next()
            .filter(|t0| *t0 >= from.checked_sub_months(chrono::Months::new(12)).unwrap() && *t0 <= to)
        {
            reintegrated += 1;
            let limit = t0.checked_add_months(chrono::Months::new(12)).unwrap().min(to);
            let within = |d: NaiveDate| t0 <= d && d <= limit;
            let reopened = entered(c, "reopened").any(within);
            let remigrated = items(conn, &c.id, "follow_up_visit").iter().any(|it| {
                let left =
                    field(conn, &c.id, "follow_up_visit", it, "remigration_intention") == Some(json!("already_left"));
                let gone = field(conn, &c.id, "follow_up_visit", it, "not_seen_reason")
                    .and_then(|v| v.as_array().cloned())
                    .is_some_and(|a| a.contains(&json!("re_migrated")));
                field_date(conn, &c.id, "follow_up_visit", it, "visit_date").is_some_and(within) && (left || gone)
            });
            if reopened || remigrated {
                broke_down += 1;
            }
        }
        // 11: located by period end; a verification record says the
        // relationship is verified.
        if located_by(conn, c, to) {
            verif_pop += 1;
            if items(conn, &c.id, "verification")
                .iter()
                .any(|it| field(conn, &c.id, "verification", it, "relationship_verified") == Some(json!(true)))
            {
                verified += 1;
            }
        }
        // 16a / 16b: reintegrated at least 6 / 12 months before period end;
        // at least 5 / 7 visits with the child seen between reintegration
        // and period end.
        if let Some(t0) = entered(c, "reintegration").next() {
            let seen = items(conn, &c.id, "follow_up_visit")
                .iter()
                .filter(|it| {
                    field(conn, &c.id, "follow_up_visit", it, "child_seen") == Some(json!(true))
                        && field_date(conn, &c.id, "follow_up_visit", it, "visit_date")
                            .is_some_and(|d| t0 <= d && d <= to)
                })
                .count();
            if t0 <= to.checked_sub_months(chrono::Months::new(12)).unwrap() {
                followed_12 += 1;
                if seen >= 7 {
                    covered_12 += 1;
                }
            }
            if t0 <= to.checked_sub_months(chrono::Months::new(6)).unwrap() {
                followed += 1;
                if seen >= 5 {
                    covered += 1;
                }
            }
        }
        // 10: tracing opened ≥ 90 days before period end; located by then
        // (family assessment entered, or a tracing record's family located
        // date — or, undated, a located status).
        if let Some(opened) = entered(c, "tracing").next() {
            if (to - opened).num_days() >= 90 {
                traced += 1;
                if located_by(conn, c, to) {
                    located += 1;
                }
            }
        }
    }

    assert_eq!(total(&r, "2").0, Some(open_end as f64));
    assert_eq!(total(&r, "8").0, oracle_median(to_bid.clone()));
    assert_eq!(r.indicator("8").unwrap().total.n, Some(to_bid.len() as u64));
    assert_eq!(total(&r, "9").0, oracle_median(to_solution.clone()));
    assert_eq!(r.indicator("9").unwrap().total.n, Some(to_solution.len() as u64));
    assert_eq!(total(&r, "23a").0, Some(closures as f64));
    assert_eq!(total(&r, "23b").1, Some(goals));
    assert_eq!(total(&r, "23b").2, Some(closed_outcome));
    assert_eq!(total(&r, "6").1, Some(bid_ok));
    assert_eq!(total(&r, "6").2, Some(returns));
    assert_eq!(total(&r, "10").1, Some(located));
    assert_eq!(total(&r, "10").2, Some(traced));
    assert_eq!(total(&r, "7").1, Some(safeguards));
    assert_eq!(total(&r, "7").2, Some(returns));
    assert_eq!(total(&r, "16b").1, Some(covered_12));
    assert_eq!(total(&r, "16b").2, Some(followed_12));
    eprintln!("oracle: safeguards {safeguards}/{returns}, follow-up 12 m {covered_12}/{followed_12}");
    assert_eq!(total(&r, "15").1, Some(meets));
    assert_eq!(total(&r, "15").2, Some(placed));
    assert_eq!(total(&r, "22").1, Some(broke_down));
    assert_eq!(total(&r, "22").2, Some(reintegrated));
    eprintln!("oracle: facility {meets}/{placed}, breakdown {broke_down}/{reintegrated}");
    assert_eq!(total(&r, "12").1, Some(reunited));
    assert_eq!(total(&r, "12").2, Some(active_uasc));
    assert_eq!(total(&r, "21").1, Some(completed));
    assert_eq!(total(&r, "21").2, Some(referrals));
    eprintln!("oracle: reunification {reunited}/{active_uasc}, referrals {completed}/{referrals}");
    assert_eq!(total(&r, "11").1, Some(verified));
    assert_eq!(total(&r, "11").2, Some(verif_pop));
    assert_eq!(total(&r, "16a").1, Some(covered));
    assert_eq!(total(&r, "16a").2, Some(followed));
    assert_eq!(total(&r, "19").1, Some(views));
    assert_eq!(total(&r, "19").2, Some(bids));
    eprintln!("oracle: verified {verified}/{verif_pop}, follow-up {covered}/{followed}, views {views}/{bids}");
    assert_eq!(total(&r, "25a").0, Some(unresolved as f64));
    assert_eq!(total(&r, "18a").0, Some(overdue_cases as f64));
    assert_eq!(total(&r, "18b").1, Some(overdue_cases));
    assert_eq!(total(&r, "18b").2, Some(in_follow_up));
    assert_eq!(total(&r, "18c").0, oracle_median(overdue_days.clone()));
    eprintln!("oracle: overdue follow-ups {overdue_cases}/{in_follow_up}, days {overdue_days:?}");
    eprintln!("oracle: unresolved conflicts {unresolved}");
    // The demo must actually exercise these, or the checks above prove little.
    eprintln!(
        "oracle: open {open_end}, to BID {}, to solution {}, closures {closures}, goals {goals}/{closed_outcome}, BID before return {bid_ok}/{returns}, located {located}/{traced}",
        to_bid.len(),
        to_solution.len()
    );
    for (what, n) in [
        ("open cases", open_end),
        ("BIDs decided", to_bid.len() as u64),
        ("solutions", to_solution.len() as u64),
        ("closures", closures),
        ("returns", returns),
        ("tracing", traced),
        ("located families", verif_pop),
        ("active UASC", active_uasc),
        ("referrals", referrals),
        ("reintegrations 6 months back", followed),
        ("unresolved conflicts", unresolved),
        ("cases in follow-up", in_follow_up),
        ("overdue follow-ups", overdue_cases),
    ] {
        assert!(n > 0, "the demo year has no {what}");
    }
}

/// The days `c` entered `stage`, in recorded order.
fn entered<'a>(c: &'a Facts, stage: &'a str) -> impl Iterator<Item = NaiveDate> + 'a {
    c.stages.iter().filter(move |(s, _)| s == stage).map(|(_, d)| *d)
}

/// Family located by `to`: family assessment entered, or a tracing record
/// whose family-located date is on or before `to` (undated: a located
/// status).
fn located_by(conn: &rusqlite::Connection, c: &Facts, to: NaiveDate) -> bool {
    let by_stage = entered(c, "family_assessment").any(|d| d <= to);
    let by_record = items(conn, &c.id, "family_tracing").iter().any(|it| {
        match field_date(conn, &c.id, "family_tracing", it, "date_family_located") {
            Some(d) => d <= to,
            None => field(conn, &c.id, "family_tracing", it, "tracing_status")
                .and_then(|v| v.as_str().map(str::to_owned))
                .is_some_and(|s| {
                    ["family_located", "verification_pending", "verified", "verification_failed", "reunified"]
                        .contains(&s.as_str())
                }),
        }
    });
    by_stage || by_record
}

/// Open at `to`: the last stage entered on or before it is not a closed one.
/// Indicator 18 for one case, from the follow-up schedule (docs/domain.md) written out here: `None`
/// unless the case is in `follow_up` on the last day of the period; else the
/// days since its oldest missed deadline (`Some(None)`: nothing overdue).
/// Schedule from t0 = first entry into `reintegration`: t0 + 14 days (grace
/// 7), +1/+2/+3 months (7), +6/+9/+12 (14), +18/+24/+30 (21). A visit
/// recorded by the period end answers a slot when its `visit_due` is the
/// slot's due date; otherwise the earliest unused `visit_date` from the slot's
/// window opening (due − grace) up to the next slot's window opening. A slot
/// is missed when nothing answers it and due + grace is before the end.
fn oracle_overdue(conn: &rusqlite::Connection, c: &Facts, to: NaiveDate) -> Option<Option<i64>> {
    let at_end = c.stages.iter().rev().find(|(_, d)| *d <= to)?;
    if at_end.0 != "follow_up" {
        return None;
    }
    let t0 = entered(c, "reintegration").next()?;
    let mut slots = vec![(t0 + chrono::Days::new(14), 7u64)];
    for (m, g) in [(1, 7), (2, 7), (3, 7), (6, 14), (9, 14), (12, 14), (18, 21), (24, 21), (30, 21)] {
        slots.push((t0.checked_add_months(chrono::Months::new(m)).unwrap(), g));
    }
    let day = |item: &str, name: &str| field_date(conn, &c.id, "follow_up_visit", item, name);
    let visits: Vec<(Option<NaiveDate>, Option<NaiveDate>)> = items(conn, &c.id, "follow_up_visit")
        .iter()
        .map(|i| (day(i, "visit_due"), day(i, "visit_date")))
        .filter(|(_, done)| done.is_none_or(|d| d <= to))
        .collect();
    let mut used = vec![false; visits.len()];
    let mut answered = vec![false; slots.len()];
    for (k, (due, _)) in slots.iter().enumerate() {
        if let Some(i) = (0..visits.len()).find(|&i| !used[i] && visits[i].0 == Some(*due)) {
            used[i] = true;
            answered[k] = true;
        }
    }
    for k in 0..slots.len() {
        if answered[k] {
            continue;
        }
        let open = slots[k].0 - chrono::Days::new(slots[k].1);
        let close = slots.get(k + 1).map(|(due, g)| *due - chrono::Days::new(*g));
        let best = (0..visits.len())
            .filter(|&i| !used[i])
            .filter_map(|i| visits[i].1.map(|d| (d, i)))
            .filter(|(d, _)| *d >= open && close.is_none_or(|c| *d < c))
            .min();
        if let Some((_, i)) = best {
            used[i] = true;
            answered[k] = true;
        }
    }
    let oldest = slots
        .iter()
        .zip(&answered)
        .filter(|(_, a)| !**a)
        .map(|((due, g), _)| *due + chrono::Days::new(*g))
        .filter(|deadline| *deadline < to)
        .min();
    Some(oldest.map(|d| (to - d).num_days()))
}

fn open_at_end(c: &Facts, to: NaiveDate, closed: &[&str]) -> bool {
    let at_end = c.stages.iter().rev().find(|(_, d)| *d <= to).map(|(s, _)| s.as_str());
    at_end.is_some_and(|s| !closed.contains(&s))
}

/// Request closure (caseworker) on `day`, and when `approve` the supervisor
/// approves it the same day, as the lifecycle rules (R11) ask.
fn close(s: &mut CaseStore, case: Uuid, day: &str, reason: &str, approve: bool) {
    s.set_clock(Some(at(day, 10)));
    s.set_actor("amina", Role::Caseworker).expect("set_actor");
    s.save_form(
        case,
        "closure_transfer",
        None,
        values(json!({"closure_reason": reason, "closure_details": "details"})),
    )
    .unwrap();
    s.change_stage(case, Stage::ClosurePending, "closure requested").unwrap();
    if approve {
        s.set_clock(Some(at(day, 15)));
        s.set_actor("sup", Role::Supervisor).expect("set_actor");
        s.save_form(
            case,
            "closure_transfer",
            None,
            values(json!({"closure_approval": {"by": "sup", "method": "signature", "date": day}})),
        )
        .unwrap();
        s.change_stage(case, Stage::Closed, "closure approved").unwrap();
        s.set_actor("amina", Role::Caseworker).expect("set_actor");
    }
}

/// Closures, all five children registered 02-02:
/// P closed 03-10 goals_met; Q closed 03-12 death_of_child; R closed 03-15
/// child_refuses_services; S closure requested 03-20, not approved (still
/// open, closure_pending); T closed 04-02 goals_met (after March).
/// By hand, March: 23a = P, Q, R = 3 (one per reason); 23b leaves out Q
/// (death is an outcome exclusion): P of {P, R} = 1/2 = 50 %; 2 (open on
/// 03-31) = S and T = 2.
#[test]
fn closures_match_hand_computed_values() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(register(&mut s, "uasc", "2026-02-02", json!({})));
    }
    close(&mut s, ids[0], "2026-03-10", "goals_met", true);
    close(&mut s, ids[1], "2026-03-12", "death_of_child", true);
    close(&mut s, ids[2], "2026-03-15", "child_refuses_services", true);
    close(&mut s, ids[3], "2026-03-20", "goals_met", false);
    close(&mut s, ids[4], "2026-04-02", "goals_met", true);
    let r = compute(s.vault().conn(), &march(false)).unwrap();
    assert_eq!(total(&r, "23a").0, Some(3.0));
    let reasons = r.indicator("23a").unwrap().breakdown("closure_reason").unwrap();
    for (reason, n) in [("goals_met", 1), ("death_of_child", 1), ("child_refuses_services", 1), ("turned_18", 0)] {
        assert_eq!(reasons.cell(reason).unwrap().n, Some(n), "{reason}");
    }
    assert_eq!(total(&r, "23b"), (Some(50.0), Some(1), Some(2)));
    assert_eq!(total(&r, "2").0, Some(2.0));
}

/// 24 on three children registered 2025-06-01: U born 2008-03-15 (18 on
/// 2026-03-15) with a transition plan written 2025-11-01, before the
/// deadline 2025-12-15 (3 months before the birthday); V born 2008-03-20
/// with the plan written 2026-02-01, after its deadline 2025-12-20; W born
/// 2008-04-10 (18 in April, not in March's population). By hand: U of
/// {U, V} = 1/2 = 50 %.
#[test]
fn aged_out_transition_matches_hand_computed_value() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    for (dob, plan) in
        [("2008-03-15", Some("2025-11-01")), ("2008-03-20", Some("2026-02-01")), ("2008-04-10", Some("2025-11-01"))]
    {
        let case = register(&mut s, "uasc", "2025-06-01", json!({"date_of_birth": dob, "age_years": 17}));
        if let Some(day) = plan {
            s.set_clock(Some(at(day, 10)));
            s.save_form(case, "closure_transfer", None, values(json!({"transition_plan": "plan"}))).unwrap();
        }
    }
    let r = compute(s.vault().conn(), &march(false)).unwrap();
    assert_eq!(total(&r, "24"), (Some(50.0), Some(1), Some(2)));
}

/// A family case (not UASC: no BID needed) taken by hand from registration
/// on `reg` through the BIA and a family reintegration plan to
/// reintegration on `t0`, then follow-up (plan approved two days later).
fn reintegrate(s: &mut CaseStore, reg: &str, t0: &str) -> Uuid {
    let case = register(s, "accompanied_child_at_risk", reg, json!({"child_status": "accompanied", "age_years": 9}));
    s.change_stage(case, Stage::BiaInProgress, "BIA opened").unwrap();
    s.save_form(
        case,
        "registration_bia",
        None,
        values(json!({"risk_level": "low", "protection_concerns": ["neglect"], "bid_required": false,
            "child_views": "Wants to stay with the family.", "heard_alone": true})),
    )
    .unwrap();
    s.set_actor("sup", Role::Supervisor).expect("set_actor");
    s.save_form(
        case,
        "registration_bia",
        None,
        values(json!({"bia_approval": {"by": "sup", "method": "signature", "date": reg}, "bia_approval_status": "approved"})),
    )
    .unwrap();
    s.change_stage(case, Stage::BiaCompleted, "BIA signed").unwrap();
    s.set_actor("amina", Role::Caseworker).expect("set_actor");
    s.save_form(
        case,
        "reintegration_family",
        None,
        // A child of 9: the plan says how schooling goes on (model::required).
        values(json!({"plan_date": reg, "risk_mitigation": "Community worker visits weekly.",
            "education_plan": "Back to the village school."})),
    )
    .unwrap();
    s.set_actor("sup", Role::Supervisor).expect("set_actor");
    s.change_stage(case, Stage::SolutionInProgress, "solution without BID").unwrap();
    s.set_clock(Some(at(t0, 9)));
    s.set_actor("amina", Role::Caseworker).expect("set_actor");
    s.change_stage(case, Stage::Reintegration, "child handed over to the family").unwrap();
    s.set_clock(Some(at(t0, 9) + 2 * 86_400_000));
    s.set_actor("sup", Role::Supervisor).expect("set_actor");
    s.save_form(
        case,
        "reintegration_family",
        None,
        values(json!({"signatures": [{"signatory": "supervisor", "signature": {"by": "sup", "method": "signature", "date": t0}}]})),
    )
    .unwrap();
    s.change_stage(case, Stage::FollowUp, "reintegration plan approved").unwrap();
    s.set_actor("amina", Role::Caseworker).expect("set_actor");
    case
}

/// A follow-up visit on `day`, the child seen or not.
fn visit(s: &mut CaseStore, case: Uuid, day: &str, seen: bool) {
    s.set_clock(Some(at(day, 16)));
    let mut v = json!({"visit_due": day, "visit_date": day, "follow_up_type": "after_reunification_return",
        "method": "scheduled_home_visit", "child_seen": seen});
    if seen {
        v["seen_alone"] = json!(true);
    } else {
        v["not_seen_reason"] = json!(["at_school"]);
    }
    s.record_visit(case, values(v)).unwrap();
}

/// 17 (long monitoring) for March 2026 (period end 2026-03-31; 30 months
/// before is 2023-09-30), on three children:
/// - K reintegrated 2023-06-01: +30 months is 2025-12-01, its window opens
///   21 days earlier, 2025-11-10; seen on 2025-11-20 → in the window.
/// - L reintegrated 2023-07-01: window opens 2026-01-01 − 21 days =
///   2025-12-11; seen on 2025-12-01 (too early) and visited 2026-01-05 but
///   not seen → no visit counts.
/// - M reintegrated 2023-12-01: only 28 months before period end → not in
///   the population, though seen on 2026-03-02.
///
/// By hand: K of {K, L} = 1/2 = 50 %.
#[test]
fn long_monitoring_matches_hand_computed_value() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    let k = reintegrate(&mut s, "2023-01-10", "2023-06-01");
    let l = reintegrate(&mut s, "2023-01-11", "2023-07-01");
    let m = reintegrate(&mut s, "2023-01-12", "2023-12-01");
    visit(&mut s, k, "2025-11-20", true);
    visit(&mut s, l, "2025-12-01", true);
    visit(&mut s, l, "2026-01-05", false);
    visit(&mut s, m, "2026-03-02", true);
    let r = compute(s.vault().conn(), &march(false)).unwrap();
    assert_eq!(total(&r, "17"), (Some(50.0), Some(1), Some(2)));
    // The same children a year earlier: none reintegrated 30 months before
    // 2025-03-31 (2022-09-30), so an empty population.
    let earlier = ReportOptions { from: date("2025-03-01"), to: date("2025-03-31"), office: None, suppress: false };
    let r = compute(s.vault().conn(), &earlier).unwrap();
    assert_eq!(total(&r, "17"), (None, Some(0), Some(0)));
}

/// 21b/21c on one child's five referrals, outcomes recorded by hand:
/// 03-05 service_received, 03-10 service_unavailable, 03-12
/// service_unavailable, 03-20 already_received_elsewhere, 04-03
/// service_unavailable (after March), and one with no outcome yet. By hand,
/// March: 21b = 4 (received 1, unavailable 2, elsewhere 1); 21c = 2/4 = 50 %.
#[test]
fn service_dispositions_are_counted_and_unmet_needs_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    let case = register(&mut s, "uasc", "2026-02-02", json!({}));
    let outcomes = [
        Some(("service_received", "2026-03-05")),
        Some(("service_unavailable", "2026-03-10")),
        Some(("service_unavailable", "2026-03-12")),
        Some(("already_received_elsewhere", "2026-03-20")),
        Some(("service_unavailable", "2026-04-03")),
        None,
    ];
    for outcome in outcomes {
        s.set_clock(Some(at("2026-03-01", 10)));
        let r = s
            .make_referral(
                case,
                values(json!({"referral_date": "2026-03-01", "service_type": "medical", "status": "pending", "provider_id": "ner_agadez_health_centre",
                "response_type": "referral", "appointment_datetime": "2026-03-03T10:30:00Z",
                "consent_for_referral": {"by": "child", "method": "witnessed_verbal", "date": "2026-03-01"}})),
            )
            .unwrap();
        if let Some((disposition, day)) = outcome {
            s.set_clock(Some(at(day, 10)));
            s.save_form(
                case,
                "referral",
                Some(r),
                values(json!({"disposition": disposition, "disposition_date": day})),
            )
            .unwrap();
        }
    }
    let r = compute(s.vault().conn(), &march(false)).unwrap();
    assert_eq!(total(&r, "21b").0, Some(4.0));
    let by = r.indicator("21b").unwrap().breakdown("disposition").unwrap();
    for (d, n) in
        [("service_received", 1), ("service_unavailable", 2), ("already_received_elsewhere", 1), ("not_eligible", 0)]
    {
        assert_eq!(by.cell(d).unwrap().n, Some(n), "{d}");
    }
    assert_eq!(total(&r, "21c"), (Some(50.0), Some(2), Some(4)));
    // Unmet needs by service: every referral here is medical.
    let by = r.indicator("21c").unwrap().breakdown("service_type").unwrap();
    let medical = by.cell("medical").unwrap();
    assert_eq!((medical.value, medical.numerator, medical.denominator), (Some(50.0), Some(2), Some(4)));
    assert_eq!(by.cell("food").unwrap().denominator.unwrap_or(0), 0);
}

#[test]
fn the_disposition_breakdown_lists_the_forms_values() {
    let def = fieldcase::model::forms::registry().get("referral").unwrap();
    let form: Vec<&str> = def.field("disposition").unwrap().options.iter().map(|o| o.value.as_str()).collect();
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let r = compute(s.vault().conn(), &march(false)).unwrap();
    let cats: Vec<String> = r
        .indicator("21b")
        .unwrap()
        .breakdown("disposition")
        .unwrap()
        .cells
        .iter()
        .map(|c| c.category.clone())
        .collect();
    assert_eq!(cats, form);
}

/// R13: while a child's age is disputed, the reports count the age they
/// declared, not the recorded (assessed) one.
#[test]
fn age_bands_read_the_declared_age_while_it_is_disputed() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    // Assessed and recorded as 17 with a date of birth; the child says 14.
    let a = register(&mut s, "uasc", "2026-03-02", json!({"age_years": 17, "date_of_birth": "2008-10-01"}));
    register(&mut s, "uasc", "2026-03-03", json!({"age_years": 16}));
    let bands = |s: &CaseStore| -> (Option<u64>, Option<u64>) {
        let r = compute(s.vault().conn(), &march(false)).unwrap();
        let ages = r.indicator("1").unwrap().breakdown("age_band_registration").unwrap().clone();
        (ages.cell("10-14").unwrap().n, ages.cell("15-17").unwrap().n)
    };
    assert_eq!(bands(&s), (Some(0), Some(2)));
    s.set_clock(Some(at("2026-03-04", 9)));
    let assessment = json!({"declared_age": 14, "assessed_age": 17, "benefit_of_doubt": false, "disputed": false});
    s.save_form(a, "age_assessment", None, values(assessment)).unwrap();
    // An assessment alone changes nothing ...
    assert_eq!(bands(&s), (Some(0), Some(2)));
    // ... a dispute does: A counts as 14.
    s.set_clock(Some(at("2026-03-05", 9)));
    s.save_form(a, "age_assessment", None, values(json!({"disputed": true}))).unwrap();
    assert_eq!(bands(&s), (Some(1), Some(1)));
}

/// 26a/26b, 27 and 28 on three March children, worked out by hand:
/// - A (12): incidents 03-04 physical_violence reported, 03-20
///   sexual_violence not reported, 02-25 neglect (before March); schooling
///   02-10 not attending, 03-15 attending (latest: attending); a case
///   review 03-05 and an emergency conference 04-02 (after March).
/// - B (15): incident 03-10 physical_violence, reporting not recorded;
///   schooling 03-01 attending, 03-25 not attending (latest: not); a
///   multidisciplinary conference 03-30.
/// - C (4): schooling 03-12 attending (too young: not counted).
///
/// So 26a = 3 (physical 2, sexual 1, neglect 0); 26b = 1/2 = 50 %;
/// 27 = 1/2 = 50 %; 28 = 2 (case_review 1, multidisciplinary 1, emergency 0).
#[test]
fn incidents_schooling_and_case_conferences_match_hand_computed_values() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    let a = register(&mut s, "uasc", "2026-02-01", json!({"age_years": 12}));
    let b = register(&mut s, "uasc", "2026-02-01", json!({"age_years": 15}));
    let c = register(&mut s, "uasc", "2026-02-01", json!({"age_years": 4}));
    let save = |s: &mut CaseStore, case: Uuid, form: &str, v: Value| {
        s.save_form(case, form, Some(Uuid::now_v7()), values(v)).unwrap();
    };
    let incident = |day: &str, kind: &str, reported: Option<bool>| {
        let mut v = json!({"incident_date": day, "violence_type": kind, "incident_place": "On the route"});
        if let Some(r) = reported {
            v["reported"] = json!(r);
            if r {
                v["reported_to"] = json!(["police"]);
            }
        }
        v
    };
    save(&mut s, a, "incident", incident("2026-03-04", "physical_violence", Some(true)));
    save(&mut s, a, "incident", incident("2026-03-20", "sexual_violence", Some(false)));
    save(&mut s, a, "incident", incident("2026-02-25", "neglect", Some(true)));
    save(&mut s, b, "incident", incident("2026-03-10", "physical_violence", None));
    let school = |day: &str, attending: bool| json!({"checked_date": day, "attending": attending});
    save(&mut s, a, "education", school("2026-02-10", false));
    save(&mut s, a, "education", school("2026-03-15", true));
    save(&mut s, b, "education", school("2026-03-01", true));
    save(&mut s, b, "education", school("2026-03-25", false));
    save(&mut s, c, "education", school("2026-03-12", true));
    let conference = |day: &str, kind: &str| {
        json!({"conference_date": day, "conference_type": kind, "participants": [{"participant_name": "Amina"}],
               "decisions": "Continue the plan."})
    };
    save(&mut s, a, "case_conference", conference("2026-03-05", "case_review"));
    save(&mut s, a, "case_conference", conference("2026-04-02", "emergency"));
    save(&mut s, b, "case_conference", conference("2026-03-30", "multidisciplinary"));

    let r = compute(s.vault().conn(), &march(false)).unwrap();
    assert_eq!(total(&r, "26a").0, Some(3.0));
    let by = r.indicator("26a").unwrap().breakdown("violence_type").unwrap();
    for (k, n) in [("physical_violence", 2), ("sexual_violence", 1), ("neglect", 0)] {
        assert_eq!(by.cell(k).unwrap().n, Some(n), "{k}");
    }
    assert_eq!(total(&r, "26b"), (Some(50.0), Some(1), Some(2)));
    assert_eq!(total(&r, "27"), (Some(50.0), Some(1), Some(2)));
    assert_eq!(total(&r, "28").0, Some(2.0));
    let by = r.indicator("28").unwrap().breakdown("conference_type").unwrap();
    for (k, n) in [("case_review", 1), ("multidisciplinary", 1), ("emergency", 0)] {
        assert_eq!(by.cell(k).unwrap().n, Some(n), "{k}");
    }
}

/// A request to a partner abroad recorded in a case on `sent` (as
/// `partner_request::send` records it), then its answer or withdrawal.
fn partner_request(s: &mut CaseStore, case: Uuid, kind: &str, sent: &str, due: &str, about: Option<Uuid>) -> Uuid {
    s.set_clock(Some(at(sent, 11)));
    let id = Uuid::new_v4();
    let mut v = json!({"request_id": id.to_string(), "request_kind": kind, "partner": "Nyala office",
        "request_status": "sent", "sent_date": sent, "due_date": due, "sent_by": {"name": "amina"},
        "shared_fields": ["registration_bia.given_names"]});
    if let Some(item) = about {
        v["about_item"] = json!(item.to_string());
    }
    s.save_form(case, "partner_request", Some(id), values(v)).expect("request record");
    id
}

fn close_request(s: &mut CaseStore, case: Uuid, id: Uuid, day: &str, answered: bool) {
    s.set_clock(Some(at(day, 12)));
    let v = if answered {
        json!({"request_status": "answered", "answered_date": day, "answer_mode": "by_hand",
               "answered_by": {"name": "M. Osman", "organisation": "Nyala office"}})
    } else {
        json!({"request_status": "withdrawn", "withdrawn_date": day, "withdrawal_reason": "not needed"})
    };
    s.save_form(case, "partner_request", Some(id), values(v)).expect("request closed");
}

const CROSS_BORDER: &str = r#"{"consent": {"by": "Zainab", "method": "signature", "date": "2025-10-01"},
    "consent_scopes": ["case_management", "cross_border_transfer", "tracing_disclosure"], "wants_tracing": "yes"}"#;

/// Requests to partners abroad in 18 and 10 (docs/reports.md, "Requests
/// to partners abroad"), March 2026 (period end 03-31):
/// - P, Q, R reintegrated 2026-03-20 (follow_up from 03-22; the first
///   visit is due 04-03, so no visit is overdue). Each asked a partner for
///   a follow-up report on 03-21, due 03-25. P's is waiting at period end:
///   6 days overdue. Q's was answered 03-24. R's was withdrawn 03-30.
///   By hand: 18a = 1 (P), 18b = 1/3, 18c = 6 days.
/// - T, V: UASC registered 2025-11-01, never in the tracing stage; each
///   sent a family tracing request about a relative on 2025-12-01 (≥ 90
///   days before 03-31). V's relative was then located (the caseworker
///   copied the partner's answer: family_located, 2026-02-10); T's not.
///   U sent its request on 2026-02-15 (< 90 days): not in 10.
///   By hand: 10 = 1/2 = 50 %.
#[test]
fn partner_requests_count_in_overdue_follow_ups_and_tracing() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    let consent: Value = serde_json::from_str(CROSS_BORDER).unwrap();
    let mut follow_ups = Vec::new();
    for reg in ["2025-06-01", "2025-06-02", "2025-06-03"] {
        let c = reintegrate(&mut s, reg, "2026-03-20");
        s.save_form(c, "registration_bia", None, values(consent.clone())).unwrap();
        follow_ups.push((c, partner_request(&mut s, c, "follow_up_report", "2026-03-21", "2026-03-25", None)));
    }
    close_request(&mut s, follow_ups[1].0, follow_ups[1].1, "2026-03-24", true);
    close_request(&mut s, follow_ups[2].0, follow_ups[2].1, "2026-03-30", false);

    let tracing = |s: &mut CaseStore, sent: &str, located: bool| {
        let c = register(s, "uasc", "2025-11-01", consent.clone());
        let relative = Uuid::new_v4();
        s.save_form(
            c,
            "family_tracing",
            Some(relative),
            values(json!({"relative": {"name": "Amina Idris"}, "relationship": "mother",
                "child_consents_contact": true, "tracing_safety_check": "safe", "tracing_status": "not_started"})),
        )
        .unwrap();
        partner_request(s, c, "family_tracing", sent, "2026-06-01", Some(relative));
        if located {
            s.set_clock(Some(at("2026-02-10", 15)));
            s.save_form(
                c,
                "family_tracing",
                Some(relative),
                values(json!({"tracing_status": "family_located", "date_family_located": "2026-02-10"})),
            )
            .unwrap();
        }
    };
    tracing(&mut s, "2025-12-01", false);
    tracing(&mut s, "2025-12-01", true);
    tracing(&mut s, "2026-02-15", true);

    let r = compute(s.vault().conn(), &march(false)).unwrap();
    assert_eq!(total(&r, "18a").0, Some(1.0));
    assert_eq!((total(&r, "18b").1, total(&r, "18b").2), (Some(1), Some(3)));
    assert_eq!(total(&r, "18c").0, Some(6.0));
    assert_eq!(total(&r, "10"), (Some(50.0), Some(1), Some(2)));
    // At the end of February P's report was not yet asked: nothing overdue.
    let feb = ReportOptions { from: date("2026-02-01"), to: date("2026-02-28"), office: None, suppress: false };
    let r = compute(s.vault().conn(), &feb).unwrap();
    assert_eq!(total(&r, "18a").0, Some(0.0));
}
