//! Need-to-know: what the person who unlocked the vault may see of each case
//! (the rules are written down in `docs/visibility.md`).
//!
//! The rules are pure functions of the reader (user name and role) and a few
//! facts of the case ([`CaseAccess`]). Every view the shells call
//! ([`crate::model::store::CaseStore::list_cases`], `case_detail`,
//! `history`, `tasks`, and the search views in [`crate::search`]) and every
//! local change ([`crate::model::store::Batch`]) asks them, so no shell
//! decides visibility itself. A hidden case or value is never silently
//! missing: the views carry a [`HiddenReason`] (or a count per reason) that a
//! screen can explain.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::event::Role;
use crate::model::forms::{self, Sensitivity};
use crate::model::projection::CaseState;

/// The repeating form whose items can be restricted.
pub const NOTE_FORM: &str = "case_note";
/// The case-note field that restricts a note to its author and supervisors.
pub const RESTRICTED_FIELD: &str = "restricted";
/// The stage that puts a case on the BID panel's agenda (the submission).
pub const PANEL_STAGE: &str = "bid_pending";

/// Why something is not shown to the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HiddenReason {
    /// A caseworker sees the cases assigned to them and the cases they
    /// registered.
    NotAssigned,
    /// A BID panel member sees only the cases submitted to the panel.
    NotOnPanelAgenda,
    /// A supervisor with a team sees only the cases of their team's
    /// people.
    NotInTeam,
    /// A reporting viewer sees aggregates only: no identifying data.
    AggregatesOnly,
    /// A data manager sees case metadata; sensitive values only of a field
    /// in conflict, to resolve it.
    MetadataOnly,
    /// A restricted case note: its author and supervisors only.
    RestrictedNote,
}

impl HiddenReason {
    /// Its stable code, as serialised (`not_assigned`, …): what a screen
    /// translates.
    pub fn code(self) -> &'static str {
        match self {
            HiddenReason::NotAssigned => "not_assigned",
            HiddenReason::NotOnPanelAgenda => "not_on_panel_agenda",
            HiddenReason::NotInTeam => "not_in_team",
            HiddenReason::AggregatesOnly => "aggregates_only",
            HiddenReason::MetadataOnly => "metadata_only",
            HiddenReason::RestrictedNote => "restricted_note",
        }
    }

    /// One English sentence a screen can show.
    pub fn explanation(self) -> &'static str {
        match self {
            HiddenReason::NotAssigned => "a caseworker sees only the cases assigned to them",
            HiddenReason::NotOnPanelAgenda => "the BID panel sees only the cases submitted to it",
            HiddenReason::NotInTeam => "a supervisor sees only the cases of their team",
            HiddenReason::AggregatesOnly => "a reporting viewer sees aggregate reports only, no identifying data",
            HiddenReason::MetadataOnly => {
                "a data manager sees case metadata; sensitive values only of a field in conflict"
            }
            HiddenReason::RestrictedNote => "a restricted note is shown only to its author and to supervisors",
        }
    }
}

impl fmt::Display for HiddenReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.explanation())
    }
}

/// How many things a view left out for one reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HiddenCount {
    /// Why.
    pub reason: HiddenReason,
    /// How many.
    pub count: usize,
}

/// Count reasons into [`HiddenCount`]s, one per reason, in reason order.
pub fn count_hidden(reasons: impl IntoIterator<Item = HiddenReason>) -> Vec<HiddenCount> {
    let mut by: BTreeMap<HiddenReason, usize> = BTreeMap::new();
    for r in reasons {
        *by.entry(r).or_default() += 1;
    }
    by.into_iter().map(|(reason, count)| HiddenCount { reason, count }).collect()
}

/// The facts of a case that decide who sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseAccess {
    /// The assigned caseworker.
    pub caseworker: Option<String>,
    /// Who registered the case (author of its `case.registered`).
    pub registered_by: Option<String>,
    /// The case has been submitted to the BID panel (entered
    /// [`PANEL_STAGE`] at least once).
    pub submitted_to_panel: bool,
}

impl CaseAccess {
    /// The facts of a folded case.
    pub fn of_state(state: &CaseState) -> CaseAccess {
        CaseAccess {
            caseworker: state.caseworker.clone(),
            registered_by: state.stage_history.first().map(|c| c.author.clone()),
            submitted_to_panel: state.stage_history.iter().any(|c| c.to == PANEL_STAGE),
        }
    }
}

/// A supervisor's team, as the office's roster says it
/// (docs/visibility.md §2): its name and the user names of everyone the
/// roster puts in it (revoked entries included: their cases still need a
/// supervisor).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Team {
    /// Team name.
    pub name: String,
    /// User names of its members.
    pub members: BTreeSet<String>,
}

impl Team {
    /// Whether the case is the team's: what one of its people sees as a
    /// caseworker would, i.e. assigned to a member or registered by one
    /// (the registering caseworker keeps the case, so their supervisor
    /// does too). An unassigned case is its registrar's team's.
    pub fn covers(&self, case: &CaseAccess) -> bool {
        let member = |u: &Option<String>| u.as_ref().is_some_and(|u| self.members.contains(u));
        member(&case.caseworker) || member(&case.registered_by)
    }
}

/// The teams of the supervisors whose events an import judges, by signer
/// id (the event's `device_id`); a signer not in it has no team.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Teams {
    /// Signer id → their team.
    pub by_signer: std::collections::HashMap<uuid::Uuid, Team>,
}

/// The person reading: the vault's user and role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reader<'a> {
    /// User name (as events record it in `author`).
    pub user: &'a str,
    /// Role.
    pub role: Role,
    /// A supervisor's team (the roster's `team`). `None`: an office-wide
    /// supervisor, who sees every case. Ignored for other roles.
    pub team: Option<&'a Team>,
}

impl<'a> Reader<'a> {
    /// A reader of no team.
    pub fn new(user: &'a str, role: Role) -> Reader<'a> {
        Reader { user, role, team: None }
    }
}

impl Reader<'_> {
    /// Whether the reader may see the case at all (in the case list, in
    /// search, and act on it).
    pub fn case(&self, case: &CaseAccess) -> Result<(), HiddenReason> {
        match self.role {
            Role::Supervisor => match self.team {
                Some(team) if !team.covers(case) => Err(HiddenReason::NotInTeam),
                _ => Ok(()),
            },
            Role::DataManager | Role::Viewer => Ok(()),
            Role::Caseworker => {
                // The registering caseworker keeps the case, as the office's
                // sync keeps sending it to the device that created it.
                let mine =
                    case.caseworker.as_deref() == Some(self.user) || case.registered_by.as_deref() == Some(self.user);
                if mine {
                    Ok(())
                } else {
                    Err(HiddenReason::NotAssigned)
                }
            }
            Role::BidPanel => {
                if case.submitted_to_panel {
                    Ok(())
                } else {
                    Err(HiddenReason::NotOnPanelAgenda)
                }
            }
        }
    }

    /// Whether the reader may open a case's record (its fields, items,
    /// stages, tasks and audit trail), or search and trace people. A
    /// reporting viewer sees the case list without identifying columns, and
    /// reports; nothing else.
    pub fn records(&self) -> Result<(), HiddenReason> {
        match self.role {
            Role::Viewer => Err(HiddenReason::AggregatesOnly),
            _ => Ok(()),
        }
    }

    /// Whether a device whose person is the reader receives the case's
    /// events from the office (`sync::exchange::export_for_device`): the
    /// cases the reader may see ([`Reader::case`]) and open
    /// ([`Reader::records`]). A reporting viewer's device therefore receives
    /// no case events: signed events cannot be stripped of the identifying
    /// values a viewer may not see, and a vault must not hold what its
    /// person may not read.
    pub fn receives(&self, case: &CaseAccess) -> Result<(), HiddenReason> {
        self.case(case)?;
        self.records()
    }

    /// Whether the person columns of a case summary or search hit (names,
    /// date of birth, sex, age, risk level) are withheld, and why. The
    /// caseworker column is withheld from the viewer only.
    pub fn identity(&self) -> Option<HiddenReason> {
        match self.role {
            Role::Viewer => Some(HiddenReason::AggregatesOnly),
            Role::DataManager => Some(HiddenReason::MetadataOnly),
            _ => None,
        }
    }

    /// Whether the reader may see the value of `form.field`; `contested`
    /// when the field has several heads (a conflict to resolve).
    pub fn field(&self, form: &str, field: &str, contested: bool) -> Result<(), HiddenReason> {
        match self.role {
            Role::Viewer => Err(HiddenReason::AggregatesOnly),
            Role::DataManager => {
                // Unknown forms and fields (attachments) count as sensitive.
                if forms::sensitivity(form, field) == Some(Sensitivity::Normal) || contested {
                    Ok(())
                } else {
                    Err(HiddenReason::MetadataOnly)
                }
            }
            Role::Caseworker | Role::Supervisor | Role::BidPanel => Ok(()),
        }
    }

    /// Whether the reader may see a restricted note written by `author`.
    pub fn restricted_note(&self, author: &str) -> Result<(), HiddenReason> {
        if self.role == Role::Supervisor || author == self.user {
            Ok(())
        } else {
            Err(HiddenReason::RestrictedNote)
        }
    }

    /// Whether the reader may see duplicate pairs with names and
    /// explanations: the data manager resolves duplicates, so sees them;
    /// other roles see the pairs whose both cases they may see.
    pub fn duplicates(&self) -> Result<(), HiddenReason> {
        self.records()
    }

    /// Whether the reader may run family tracing (which shows the names of
    /// the people matched): not the viewer, not the data manager.
    pub fn tracing(&self) -> Result<(), HiddenReason> {
        match self.role {
            Role::Viewer => Err(HiddenReason::AggregatesOnly),
            Role::DataManager => Err(HiddenReason::MetadataOnly),
            _ => Ok(()),
        }
    }
}

/// Whether a case-note item is restricted: any current value of its
/// `restricted` field is `true` (a concurrent "not restricted" does not
/// open it).
pub fn is_restricted_note(state: &CaseState, item: uuid::Uuid) -> bool {
    state
        .register(NOTE_FORM, Some(item), RESTRICTED_FIELD)
        .is_some_and(|r| r.heads().iter().any(|w| w.value == serde_json::Value::Bool(true)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(caseworker: Option<&str>, registered_by: &str, panel: bool) -> CaseAccess {
        CaseAccess {
            caseworker: caseworker.map(str::to_string),
            registered_by: Some(registered_by.to_string()),
            submitted_to_panel: panel,
        }
    }

    #[test]
    fn caseworkers_see_their_assigned_cases_and_their_registrations() {
        let amina = Reader::new("amina", Role::Caseworker);
        assert_eq!(amina.case(&access(Some("amina"), "bakary", false)), Ok(()));
        assert_eq!(amina.case(&access(None, "amina", false)), Ok(()));
        assert_eq!(amina.case(&access(Some("bakary"), "amina", false)), Ok(()));
        assert_eq!(amina.case(&access(Some("bakary"), "bakary", false)), Err(HiddenReason::NotAssigned));
        assert_eq!(amina.case(&access(None, "bakary", true)), Err(HiddenReason::NotAssigned));
    }

    #[test]
    fn the_panel_sees_its_agenda_and_supervisors_see_all() {
        let panel = Reader::new("chair", Role::BidPanel);
        assert_eq!(panel.case(&access(Some("amina"), "amina", true)), Ok(()));
        assert_eq!(panel.case(&access(Some("amina"), "amina", false)), Err(HiddenReason::NotOnPanelAgenda));
        let sv = Reader::new("sv", Role::Supervisor);
        assert_eq!(sv.case(&access(Some("amina"), "amina", false)), Ok(()));
        assert_eq!(sv.restricted_note("amina"), Ok(()));
    }

    #[test]
    fn a_supervisor_with_a_team_sees_what_its_caseworkers_see() {
        let team = Team { name: "north".into(), members: ["amina".to_string(), "sv".to_string()].into() };
        let sv = Reader { user: "sv", role: Role::Supervisor, team: Some(&team) };
        assert_eq!(sv.case(&access(Some("amina"), "bakary", false)), Ok(()));
        assert_eq!(sv.case(&access(None, "amina", false)), Ok(()));
        assert_eq!(sv.case(&access(Some("bakary"), "amina", false)), Ok(()));
        assert_eq!(sv.case(&access(None, "sv", false)), Ok(()));
        assert_eq!(sv.case(&access(Some("bakary"), "bakary", false)), Err(HiddenReason::NotInTeam));
        assert_eq!(sv.case(&access(None, "bakary", false)), Err(HiddenReason::NotInTeam));
        // A team means nothing to other roles.
        let dm = Reader { user: "dm", role: Role::DataManager, team: Some(&team) };
        assert_eq!(dm.case(&access(None, "bakary", false)), Ok(()));
    }

    #[test]
    fn data_manager_sees_normal_fields_and_sensitive_ones_only_in_conflict() {
        let dm = Reader::new("dm", Role::DataManager);
        assert_eq!(dm.field("registration_bia", "case_type", false), Ok(()));
        assert_eq!(dm.field("registration_bia", "given_names", false), Err(HiddenReason::MetadataOnly));
        assert_eq!(dm.field("registration_bia", "given_names", true), Ok(()));
        assert_eq!(dm.field("attachment", "blob", false), Err(HiddenReason::MetadataOnly));
        assert_eq!(dm.restricted_note("amina"), Err(HiddenReason::RestrictedNote));
    }

    #[test]
    fn the_viewer_sees_no_field_and_no_record() {
        let v = Reader::new("me", Role::Viewer);
        assert_eq!(v.case(&CaseAccess::default()), Ok(()));
        assert_eq!(v.records(), Err(HiddenReason::AggregatesOnly));
        assert_eq!(v.identity(), Some(HiddenReason::AggregatesOnly));
        assert_eq!(v.field("registration_bia", "case_type", false), Err(HiddenReason::AggregatesOnly));
    }

    #[test]
    fn codes_are_the_serialised_names() {
        for r in [
            HiddenReason::NotAssigned,
            HiddenReason::NotOnPanelAgenda,
            HiddenReason::NotInTeam,
            HiddenReason::AggregatesOnly,
            HiddenReason::MetadataOnly,
            HiddenReason::RestrictedNote,
        ] {
            assert_eq!(serde_json::to_value(r).unwrap(), serde_json::Value::String(r.code().to_string()));
        }
    }

    #[test]
    fn counts_are_per_reason() {
        let c = count_hidden([HiddenReason::RestrictedNote, HiddenReason::NotAssigned, HiddenReason::RestrictedNote]);
        assert_eq!(
            c,
            vec![
                HiddenCount { reason: HiddenReason::NotAssigned, count: 1 },
                HiddenCount { reason: HiddenReason::RestrictedNote, count: 2 }
            ]
        );
    }
}
