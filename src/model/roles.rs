//! Who may do what (docs/domain.md, Roles), as one table the lifecycle rules read.
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
    /// Sign a reintegration plan as supervisor; approve or return a case plan.
    ApprovePlan,
    /// Approve a closure (R11).
    ApproveClosure,
    /// Assign a case to anyone.
    AssignAny,
    /// Assign a case to oneself (a caseworker registering a child).
    AssignSelf,
    /// Settle a concurrent-edit conflict on a normal or sensitive field.
    /// Protected fields and the stage are further limited by
    /// [`may_resolve`]: this action alone never lets a role pick one.
    ResolveConflict,
    /// Merge duplicate cases.
    MergeDuplicates,
    /// Run a transfer and record the receiving office's answer (R12).
    Transfer,
    /// Request or approve the erasure of a case: a supervisor and a data
    /// manager each sign one of the two events (`model::erasure`).
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
            Action::Erase,
        ],
    ),
    // The panel settles conflicts on the BID form only (see `may_resolve`).
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

/// What a `conflict.resolved` event settles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictSubject<'a> {
    /// A field with several heads.
    Field {
        /// Its form.
        form: &'a str,
        /// Whether the field is protected (never merged automatically).
        protected: bool,
    },
    /// The case's stage with several heads that disagree.
    Stage {
        /// One of the heads was made by the BID panel (a panel decision
        /// moved the stage).
        panel_head: bool,
    },
}

/// The form whose protected fields only the BID panel settles.
pub const BID_FORM: &str = "bid";

/// Who may settle a conflict (docs/domain.md, Roles; docs/conflicts.md):
///
/// - a **protected field** of the BID form: the BID panel only (the
///   decision is the panel's, collectively);
/// - any other **protected field**: a supervisor only;
/// - the **stage**: a supervisor; but when one of the concurrent stage
///   changes was made by the BID panel, the BID panel only (keeping or
///   setting aside the effect of a panel decision is the panel's, and a
///   supervisor may not sit alone as a BID decision-maker);
/// - a **normal or sensitive field** (already merged automatically, the
///   newest value shown): a supervisor or a data manager, and the BID
///   panel on the BID form.
///
/// The data manager sees the whole conflict queue and routes each entry to
/// the role that settles it, but never picks the value of a protected
/// field or the stage: that would change case substance (risk level,
/// consent, the BID decision, where the case stands) on their own
/// authority. Caseworkers and viewers settle nothing.
pub fn may_resolve(role: Role, subject: ConflictSubject<'_>) -> bool {
    if !may(role, Action::ResolveConflict) {
        return false;
    }
    match subject {
        ConflictSubject::Field { form, protected: true } if form == BID_FORM => role == Role::BidPanel,
        ConflictSubject::Field { protected: true, .. } => role == Role::Supervisor,
        ConflictSubject::Field { form, protected: false } => role != Role::BidPanel || form == BID_FORM,
        ConflictSubject::Stage { panel_head: true } => role == Role::BidPanel,
        ConflictSubject::Stage { panel_head: false } => role == Role::Supervisor,
    }
}

/// The roles that may settle `subject` (for a conflict queue: whom to
/// route an entry to), in [`PERMISSIONS`] order.
pub fn resolvers(subject: ConflictSubject<'_>) -> Vec<Role> {
    PERMISSIONS.iter().map(|(r, _)| *r).filter(|r| may_resolve(*r, subject)).collect()
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

    #[test]
    fn protected_conflicts_and_the_stage_are_never_the_data_managers() {
        use ConflictSubject::*;
        let risk = Field { form: "registration_bia", protected: true };
        let decision = Field { form: BID_FORM, protected: true };
        let name = Field { form: "registration_bia", protected: false };
        assert_eq!(resolvers(risk), vec![Role::Supervisor]);
        assert_eq!(resolvers(decision), vec![Role::BidPanel]);
        assert_eq!(resolvers(Stage { panel_head: false }), vec![Role::Supervisor]);
        assert_eq!(resolvers(Stage { panel_head: true }), vec![Role::BidPanel]);
        assert_eq!(resolvers(name), vec![Role::Supervisor, Role::DataManager]);
        assert_eq!(
            resolvers(Field { form: BID_FORM, protected: false }),
            vec![Role::Supervisor, Role::BidPanel, Role::DataManager]
        );
    }
}
