//! Teams: which caseworkers a supervisor supervises (docs/visibility.md §2).
//! The office's data manager puts each caseworker and supervisor in a team
//! on the signed roster (`team`, docs/bundle-format.md §7), at enrollment
//! or later; the roster carries it to every device with the next bundle.

use serde_json::json;

use crate::model::error::StoreError;
use crate::model::event::Role;
use crate::model::store::CaseStore;
use crate::sync::exchange::{office_roster, put, SyncError, K_ROSTER};

/// Longest team name, in characters.
pub const MAX_TEAM_NAME: usize = 64;

/// Refuse unless the person recording on this (office) vault is a data
/// manager: a team decides what a supervisor sees, so it is the office's
/// decision, checked here rather than in a shell.
pub(crate) fn check_may_set(store: &CaseStore) -> Result<(), SyncError> {
    let (_, role) = store.actor();
    if role != Role::DataManager {
        return Err(SyncError::Store(StoreError::Forbidden { role, action: "set a person's team".into() }));
    }
    Ok(())
}

/// A team name as the roster keeps it: trimmed, not blank, at most
/// [`MAX_TEAM_NAME`] characters, no control characters; and only for a
/// role a team means something to (caseworkers and supervisors).
pub(crate) fn team_name(name: &str, role: Role) -> Result<String, SyncError> {
    if !matches!(role, Role::Caseworker | Role::Supervisor) {
        return Err(SyncError::Enrollment(format!("only caseworkers and supervisors belong to a team, not a {role}")));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_TEAM_NAME || name.chars().any(char::is_control) {
        return Err(SyncError::Enrollment(format!(
            "a team name is 1 to {MAX_TEAM_NAME} characters without control characters"
        )));
    }
    Ok(name.to_owned())
}

/// Office: put every (not revoked) roster entry of `user` in `team`, or in
/// no team with `None` (a supervisor of no team sees every case). Signs
/// the new roster; devices get it with their next bundle. Only the
/// office's data manager may.
pub fn set_team(store: &mut CaseStore, user: &str, team: Option<&str>) -> Result<(), SyncError> {
    check_may_set(store)?;
    let signed = office_roster(store)?;
    let mut roster = signed.roster;
    let entries: Vec<usize> = roster
        .devices
        .iter()
        .enumerate()
        .filter(|(_, d)| d.user == user && d.revoked_at.is_none())
        .map(|(i, _)| i)
        .collect();
    let Some(&first) = entries.first() else {
        return Err(SyncError::Enrollment(format!("no enrolled person is called {user:?}")));
    };
    let team = team.map(|t| team_name(t, roster.devices[first].role)).transpose()?;
    if entries.iter().all(|&i| roster.devices[i].team == team) {
        return Ok(());
    }
    for i in entries {
        roster.devices[i].team = team.clone();
    }
    roster.serial += 1;
    let signed = roster.sign(store.vault().device_key());
    store.commit_sync_entries(vec![put(K_ROSTER, json!(signed))])?;
    Ok(())
}

/// Office: every enrolled (not revoked) person with a team, as
/// (user, role, team), by team then user.
pub fn list(store: &CaseStore) -> Result<Vec<(String, Role, String)>, SyncError> {
    let roster = office_roster(store)?.roster;
    let mut out: Vec<(String, Role, String)> = roster
        .devices
        .iter()
        .filter(|d| d.revoked_at.is_none())
        .filter_map(|d| d.team.clone().map(|t| (d.user.clone(), d.role, t)))
        .collect();
    out.sort_by(|a, b| (&a.2, &a.0).cmp(&(&b.2, &b.0)));
    out.dedup();
    Ok(out)
}
