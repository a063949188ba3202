//! Who may do what (DOMAIN.md §1), as one table the lifecycle rules read.
//!
//! Stage transitions carry their own roles in
//! [`crate::model::lifecycle::TRANSITIONS`]; this table covers everything
//! else an event can do.

use serde::{Deserialize, Serialize};

use crate::model::event::Role;

/// Something a role may be permitted to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Record registration, BIA, family, tracing, verification, placement
    /// proposals, the BID submission, plan drafts, visits, referrals, notes,
    /// consents and attachments.
    RecordCaseData,
    /// Record the BID decision (attendance, vote, decision, reasons, dissent,
    /// follow-up actions, chair signature).
    RecordBidDecision,
    /// Sign off a BIA.
    ApproveBia,
    /// Lower a risk level from high (R5).
    LowerHighRisk,
    /// Sign a reintegration plan as supervisor.
    ApprovePlan,
    /// Approve a closure (R11).
    ApproveClosure,
    /// Assign a case to anyone.
    AssignAny,
    /// Assign a case to oneself (a caseworker registering a child).
    AssignSelf,
    /// Settle a concurrent-edit conflict (protected fields are further
    /// limited by the store).
    ResolveConflict,
    /// Merge duplicate cases.
    MergeDuplicates,
    /// Run a transfer and record the receiving office's answer (R12).
    Transfer,
    /// Erase a case (with a second approver).
    Erase,
}

/// The permission table.
pub static PERMISSIONS: &[(Role, &[Action])] = &[
    (Role::Caseworker, &[Action::RecordCaseData, Action::AssignSelf]),
    (
        Role::Supervisor,
        &[
            Action::RecordCaseData,
            Action::ApproveBia,
            Action::LowerHighRisk,
            Action::ApprovePlan,
            Action::ApproveClosure,
            Action::AssignAny,
            Action::AssignSelf,
            Action::ResolveConflict,
        ],
    ),
    (Role::BidPanel, &[Action::RecordBidDecision, Action::ResolveConflict]),
    (
        Role::DataManager,
        &[Action::AssignAny, Action::ResolveConflict, Action::MergeDuplicates, Action::Transfer, Action::Erase],
    ),
    (Role::Viewer, &[]),
];

/// Whether `role` may do `action`.
pub fn may(role: Role, action: Action) -> bool {
    PERMISSIONS.iter().any(|(r, actions)| *r == role && actions.contains(&action))
}

/// Everything `role` may do.
pub fn actions_of(role: Role) -> &'static [Action] {
    PERMISSIONS.iter().find(|(r, _)| *r == role).map_or(&[], |(_, a)| a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_domain_roles() {
        assert!(may(Role::Caseworker, Action::RecordCaseData));
        assert!(!may(Role::Caseworker, Action::RecordBidDecision));
        assert!(!may(Role::Caseworker, Action::ApproveClosure));
        assert!(!may(Role::Caseworker, Action::Erase));
        assert!(may(Role::BidPanel, Action::RecordBidDecision));
        assert!(!may(Role::BidPanel, Action::RecordCaseData));
        assert!(!may(Role::DataManager, Action::RecordCaseData));
        assert!(may(Role::DataManager, Action::MergeDuplicates));
        assert!(actions_of(Role::Viewer).is_empty());
    }
}
