//! Teams (docs/visibility.md §2, §6, §7): a supervisor with a team sees,
//! receives and acts on their team's cases only; a supervisor of no team
//! sees every case; a team change made by the office's data manager
//! reaches the device with the roster and changes what it shows.
#[path = "common/cli.rs"]
mod cli;
#[path = "../../tests/sync_common.rs"]
mod common;

use common::*;
use fieldcase::model::error::StoreError;
use fieldcase::model::event::Role;
use fieldcase::model::store::CaseStore;
use fieldcase::model::visibility::HiddenReason;
use fieldcase::search::visible::search_text_for;
use fieldcase::sync::{self, SyncError};
use serde_json::json;
use uuid::Uuid;

/// Enroll `dev` with `office` in `team`.
fn enroll_in(office: &mut CaseStore, dev: &mut CaseStore, team: Option<&str>) {
    let req = sync::enrollment_request(dev).expect("request");
    let role: Role = dev.vault().device().role.parse().expect("role");
    let bundle =
        sync::approve_enrollment_in_team(office, &serde_json::to_vec(&req).unwrap(), role, None, team, &mut |_| {})
            .expect("approve");
    sync::import_bundle(dev, &bundle, false, &mut |_| {}).expect("import enrollment");
}

fn child(s: &mut CaseStore, given: &str, family: &str) -> Uuid {
    let c = s.create_case("uasc", "Agadez").unwrap();
    s.save_form(c, "registration_bia", None, values(json!({"given_names": given, "family_name": family}))).unwrap();
    c
}

fn listed(s: &CaseStore) -> Vec<Uuid> {
    s.list_cases().unwrap().cases.into_iter().map(|c| c.id).collect()
}

fn hidden_in_team(s: &CaseStore) -> usize {
    s.list_cases().unwrap().hidden.iter().filter(|h| h.reason == HiddenReason::NotInTeam).map(|h| h.count).sum()
}

fn is_not_in_team(e: &StoreError) -> bool {
    matches!(e, StoreError::Hidden { reason: HiddenReason::NotInTeam, .. })
}

/// An office; Amina (north) and Bakary (south), caseworkers, each with a
/// case sent up to the office.
struct World {
    t: tempfile::TempDir,
    office: CaseStore,
    amina: CaseStore,
    bakary: CaseStore,
    north_case: Uuid,
    south_case: Uuid,
}

fn world() -> World {
    let t = tempfile::tempdir().unwrap();
    let mut office = office(&t.path().join("o"));
    let mut amina = device(&t.path().join("a"), "amina", "caseworker");
    let mut bakary = device(&t.path().join("b"), "bakary", "caseworker");
    enroll_in(&mut office, &mut amina, Some("north"));
    enroll_in(&mut office, &mut bakary, Some("south"));
    let north_case = child(&mut amina, "Mariama", "Diallo");
    let south_case = child(&mut bakary, "Ousmane", "Keita");
    up(&mut amina, &mut office);
    up(&mut bakary, &mut office);
    World { t, office, amina, bakary, north_case, south_case }
}

#[test]
fn a_supervisor_of_a_team_sees_lists_searches_and_receives_only_its_cases() {
    let mut w = world();
    let mut sara = device(&w.t.path().join("s"), "sara", "supervisor");
    enroll_in(&mut w.office, &mut sara, Some("north"));
    down(&mut w.office, &mut sara);
    // The office sent the north case only.
    assert!(!sara.case_events(w.north_case).unwrap().is_empty());
    assert!(sara.case_events(w.south_case).unwrap().is_empty(), "a south case reached the north supervisor");
    assert_eq!(listed(&sara), vec![w.north_case]);
    assert_eq!(sara.team().map(|t| t.name.as_str()), Some("north"));
    let hits = search_text_for(&sara, "Keita").unwrap();
    assert!(hits.hits.is_empty(), "the south child is found by the north supervisor");
    assert_eq!(search_text_for(&sara, "Diallo").unwrap().hits.len(), 1);
    // Her view and her changes: the south case is not hers.
    assert!(sara.case_detail(w.south_case).is_err());
    assert!(sara.assign(w.south_case, "amina").is_err());
    // The office's own rule for her device, case by case.
    let roster = sync::exchange::roster(&w.office).unwrap().unwrap().roster;
    let team = roster.team_of("sara").expect("sara's team");
    assert_eq!(team.members, ["amina".to_string(), "sara".to_string()].into());
    let reader = fieldcase::model::visibility::Reader { user: "sara", role: Role::Supervisor, team: Some(&team) };
    let received = w.office.cases_received_by(reader).unwrap();
    assert!(received.contains(&w.north_case) && !received.contains(&w.south_case));
    let _ = (&mut w.amina, &mut w.bakary);
}

#[test]
fn a_supervisor_of_no_team_sees_every_case() {
    let mut w = world();
    let mut musa = device(&w.t.path().join("m"), "musa", "supervisor");
    enroll_in(&mut w.office, &mut musa, None);
    down(&mut w.office, &mut musa);
    let mut seen = listed(&musa);
    seen.sort();
    let mut both = vec![w.north_case, w.south_case];
    both.sort();
    assert_eq!(seen, both);
    assert_eq!(hidden_in_team(&musa), 0);
    assert!(musa.team().is_none());
    // And may act on either.
    musa.assign(w.south_case, "bakary").unwrap();
    musa.assign(w.north_case, "amina").unwrap();
}

/// Sara starts office-wide and holds both cases; the data manager puts her
/// in team north. Before the roster reaches her device, an assignment she
/// makes there of the south case is held by the office (authority follows
/// visibility at import); once it reaches her, the south case is hidden and
/// her changes to it are refused on the device.
#[test]
fn a_team_change_reaches_the_device_and_limits_what_it_shows_and_does() {
    let mut w = world();
    let mut sara = device(&w.t.path().join("s"), "sara", "supervisor");
    enroll_in(&mut w.office, &mut sara, None);
    down(&mut w.office, &mut sara);
    assert_eq!(listed(&sara).len(), 2);
    sync::teams::set_team(&mut w.office, "sara", Some("north")).unwrap();
    // Offline, on the old roster: the device still lets her.
    sara.assign(w.south_case, "amina").unwrap();
    sara.assign(w.north_case, "amina").unwrap();
    let report = up(&mut sara, &mut w.office);
    assert_eq!(report.quarantined.len(), 1, "{:?}", report.quarantined);
    let (_, refusal) = &report.quarantined[0];
    assert_eq!(refusal.code, "hidden");
    assert_eq!(refusal.params["reason"], "not_in_team");
    let south = w.office.case_access(w.south_case).unwrap().unwrap();
    assert_eq!(south.caseworker, None, "the out-of-team assignment was applied");
    let north = w.office.case_access(w.north_case).unwrap().unwrap();
    assert_eq!(north.caseworker.as_deref(), Some("amina"));
    // The roster reaches her device: the south case leaves her views.
    down(&mut w.office, &mut sara);
    assert_eq!(sara.team().map(|t| t.name.as_str()), Some("north"));
    assert_eq!(listed(&sara), vec![w.north_case]);
    assert_eq!(hidden_in_team(&sara), 1);
    let e = sara.case_detail(w.south_case).unwrap_err();
    assert!(is_not_in_team(&e), "{e:?}");
    let e = sara.assign(w.south_case, "sara").unwrap_err();
    assert!(is_not_in_team(&e), "{e:?}");
    let e = sara.save_form(w.south_case, "registration_bia", None, values(json!({"family_name": "X"}))).unwrap_err();
    assert!(is_not_in_team(&e), "{e:?}");
    // Reopened, the device still knows her team.
    drop(sara);
    let sara = reopen(&w.t.path().join("s"));
    assert_eq!(listed(&sara), vec![w.north_case]);
    // Back to no team: she sees both again.
    sync::teams::set_team(&mut w.office, "sara", None).unwrap();
    let mut sara = sara;
    down(&mut w.office, &mut sara);
    assert_eq!(listed(&sara).len(), 2);
}

#[test]
fn a_case_reassigned_into_the_team_is_sent_whole_to_its_supervisor() {
    let mut w = world();
    let mut sara = device(&w.t.path().join("s"), "sara", "supervisor");
    enroll_in(&mut w.office, &mut sara, Some("north"));
    down(&mut w.office, &mut sara);
    assert!(sara.case_events(w.south_case).unwrap().is_empty());
    // The office's data manager hands the south case to Amina.
    w.office.assign(w.south_case, "amina").unwrap();
    down(&mut w.office, &mut sara);
    assert_eq!(
        sara.case_events(w.south_case).unwrap().len(),
        w.office.case_events(w.south_case).unwrap().len(),
        "the whole history, not only the assignment"
    );
    assert!(listed(&sara).contains(&w.south_case));
    sara.assign(w.south_case, "amina").unwrap();
}

#[test]
fn only_the_data_manager_sets_teams_and_only_for_caseworkers_and_supervisors() {
    let mut w = world();
    let mut chair = device(&w.t.path().join("p"), "chair", "bid_panel");
    enroll_in(&mut w.office, &mut chair, None);
    let e = sync::teams::set_team(&mut w.office, "chair", Some("north")).unwrap_err();
    assert!(matches!(e, SyncError::Enrollment(_)), "{e:?}");
    let e = sync::teams::set_team(&mut w.office, "nobody", Some("north")).unwrap_err();
    assert!(matches!(e, SyncError::Enrollment(_)), "{e:?}");
    let e = sync::teams::set_team(&mut w.office, "amina", Some("  ")).unwrap_err();
    assert!(matches!(e, SyncError::Enrollment(_)), "{e:?}");
    // A device is not an office.
    let e = sync::teams::set_team(&mut w.amina, "amina", Some("north")).unwrap_err();
    assert!(matches!(e, SyncError::Store(StoreError::Forbidden { .. }) | SyncError::NotOffice), "{e:?}");
    sync::teams::set_team(&mut w.office, "bakary", Some("north")).unwrap();
    let teams = sync::teams::list(&w.office).unwrap();
    assert_eq!(
        teams,
        vec![
            ("amina".to_string(), Role::Caseworker, "north".to_string()),
            ("bakary".into(), Role::Caseworker, "north".into())
        ]
    );
    let _ = &mut w.bakary;
}

/// The data manager's commands: `enroll approve --team`, `team set`,
/// `team clear`, `team list`.
#[test]
fn the_office_cli_sets_and_lists_teams() {
    let t = tempfile::tempdir().unwrap();
    let o_dir = t.path().join("o");
    let o = office(&o_dir);
    o.lock().unwrap();
    let mut amina = device(&t.path().join("a"), "amina", "caseworker");
    let mut sara = device(&t.path().join("s"), "sara", "supervisor");
    let approve = |dev: &mut CaseStore, role: &str, team: Option<&str>| {
        let req = t.path().join(format!("{role}.json"));
        std::fs::write(&req, serde_json::to_vec(&sync::enrollment_request(dev).unwrap()).unwrap()).unwrap();
        let out = t.path().join(format!("{role}.fcb"));
        let (req, out) = (req.to_str().unwrap().to_string(), out.to_str().unwrap().to_string());
        let mut args = vec!["enroll", "approve", &req, "--role", role, "--out", &out];
        if let Some(team) = team {
            args.extend(["--team", team]);
        }
        cli::ok(cli::run(&o_dir, &args));
        sync::import_bundle(dev, &std::fs::read(&out).unwrap(), false, &mut |_| {}).unwrap();
    };
    approve(&mut sara, "supervisor", Some("north"));
    approve(&mut amina, "caseworker", None);
    let list = |dir: &std::path::Path| -> serde_json::Value {
        serde_json::from_str(&cli::ok(cli::run(dir, &["team", "list", "--json"]))).unwrap()
    };
    assert_eq!(list(&o_dir), json!([{"user": "sara", "role": "supervisor", "team": "north"}]));
    // Sara's device has her team from the enrollment bundle's roster.
    assert_eq!(sara.team().map(|t| t.name.as_str()), Some("north"));
    let text = cli::ok(cli::run(&o_dir, &["team", "set", "amina", "north"]));
    assert!(text.contains("amina is in team \"north\""), "{text}");
    assert_eq!(list(&o_dir).as_array().unwrap().len(), 2);
    cli::ok(cli::run(&o_dir, &["team", "clear", "sara"]));
    assert_eq!(list(&o_dir), json!([{"user": "amina", "role": "caseworker", "team": "north"}]));
    // Nobody of that name: the refusal says so.
    let out = cli::run(&o_dir, &["team", "set", "nobody", "north"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no enrolled person"), "{out:?}");
}
