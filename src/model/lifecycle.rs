//! Case lifecycle: the stages, the transition table as explicit data, and
//! the hard rules (R1–R15; R13 reads `model::age`, R14 is in
//! `model::escort_separation`) together with the role rules
//! (docs/domain.md: Stages, Transitions, Hard rules, Roles).
//!
//! [`check`] is the single gate: the store calls it before it signs a local
//! event and again for every imported event, so a rule broken on another
//! device is refused here too. It reads only [`CaseFacts`] (what the
//! projection knows about the case *before* the event) and the event itself;
//! it never verifies signatures (the store does that first).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::model::event::{Event, EventKind, Role};
use crate::model::forms;
use crate::model::projection;
use crate::model::roles::{self, Action, ConflictSubject};
use crate::model::violation::{Attempt, ViolationCode, ViolationCode as V};
use crate::model::visibility::CaseAccess;

/// A case's stage (docs/domain.md, Stages). Care arrangement, risk level and tracing
/// status are not stages: they are field values that change at any stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Child met or referred.
    Identified,
    /// Registration saved with consent or another legitimate basis.
    Registered,
    /// Best Interests Assessment started.
    BiaInProgress,
    /// BIA signed by a supervisor; risk level set.
    BiaCompleted,
    /// Family tracing open.
    Tracing,
    /// Family located; willingness, capacity and safety being assessed.
    FamilyAssessment,
    /// Relationship and wishes being checked on both sides.
    Verification,
    /// Submission report sent to the BID panel.
    BidPending,
    /// Panel decision recorded.
    BidDecided,
    /// Return, reunification, local integration or resettlement being implemented.
    SolutionInProgress,
    /// Child reunified/returned/placed; reintegration plan active.
    Reintegration,
    /// Monitoring visits under the §2.5 schedule.
    FollowUp,
    /// Closure requested, awaiting a supervisor.
    ClosurePending,
    /// Closed with an approved reason.
    Closed,
    /// Child absconded, missing or unreachable.
    SuspendedLostContact,
    /// Accepted by a receiving office; read-only here.
    TransferredOut,
    /// Merged into another case.
    Duplicate,
    /// Reopened after closure, before moving back to the stage needing rework.
    Reopened,
}

impl Stage {
    /// Every stage, in lifecycle order.
    pub const ALL: [Stage; 18] = [
        Stage::Identified,
        Stage::Registered,
        Stage::BiaInProgress,
        Stage::BiaCompleted,
        Stage::Tracing,
        Stage::FamilyAssessment,
        Stage::Verification,
        Stage::BidPending,
        Stage::BidDecided,
        Stage::SolutionInProgress,
        Stage::Reintegration,
        Stage::FollowUp,
        Stage::ClosurePending,
        Stage::Closed,
        Stage::SuspendedLostContact,
        Stage::TransferredOut,
        Stage::Duplicate,
        Stage::Reopened,
    ];

    /// The wire name (`"bid_pending"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Identified => "identified",
            Stage::Registered => "registered",
            Stage::BiaInProgress => "bia_in_progress",
            Stage::BiaCompleted => "bia_completed",
            Stage::Tracing => "tracing",
            Stage::FamilyAssessment => "family_assessment",
            Stage::Verification => "verification",
            Stage::BidPending => "bid_pending",
            Stage::BidDecided => "bid_decided",
            Stage::SolutionInProgress => "solution_in_progress",
            Stage::Reintegration => "reintegration",
            Stage::FollowUp => "follow_up",
            Stage::ClosurePending => "closure_pending",
            Stage::Closed => "closed",
            Stage::SuspendedLostContact => "suspended_lost_contact",
            Stage::TransferredOut => "transferred_out",
            Stage::Duplicate => "duplicate",
            Stage::Reopened => "reopened",
        }
    }

    /// Parse a wire name.
    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether the case is still open (not closed, transferred out or merged).
    pub fn is_open(self) -> bool {
        !matches!(self, Stage::Closed | Stage::TransferredOut | Stage::Duplicate)
    }

    /// Whether the case accepts no new form data, notes, visits or referrals
    /// in this stage (closed, transferred out — read-only at the sender — or
    /// merged into another case).
    pub fn is_read_only(self) -> bool {
        !self.is_open()
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the rules need to know about a case, built by the projection.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseFacts {
    /// The case.
    pub case_id: Uuid,
    /// `uasc`, `accompanied_child_at_risk` or `family_with_children`.
    pub case_type: String,
    /// Current stage.
    pub stage: Stage,
    /// Stage before suspended_lost_contact / closure_pending / reopened.
    pub stage_before: Option<Stage>,
    /// `"form_id.field"` → current value (in a conflict: the newest head) of
    /// non-item fields.
    pub values: BTreeMap<String, Value>,
    /// form_id → value objects of its list items, in HLC order. An object may
    /// carry its item id under the key `"_item"`; rules use it to merge an
    /// item edit with the item's earlier values.
    pub items: BTreeMap<String, Vec<Value>>,
    /// When each stage was entered, in order (the stage changes that
    /// apply: a concurrent change not chosen is not among them).
    pub stage_dates: Vec<(Stage, NaiveDate)>,
    /// The concurrent stage changes when the stage is in conflict (empty
    /// otherwise). `stage` is then the last stage they all agree on.
    pub stage_conflict: Vec<StageHead>,
    /// Who may see and work on the case, as the need-to-know rules read it
    /// (assigned caseworker, registering user, on the panel's agenda): the
    /// assignment rules judge a `case.assigned` by it.
    pub access: CaseAccess,
}

/// One head of a stage conflict, as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageHead {
    /// The stage change (or resolution) event.
    pub event: Uuid,
    /// The stage it leads to.
    pub stage: Stage,
    /// The role that made it.
    pub role: Role,
}

impl CaseFacts {
    /// Facts of a case with no values yet (tests and tools start from this).
    pub fn new(case_id: Uuid, case_type: &str, stage: Stage) -> CaseFacts {
        CaseFacts {
            case_id,
            case_type: case_type.to_string(),
            stage,
            stage_before: None,
            values: BTreeMap::new(),
            items: BTreeMap::new(),
            stage_dates: Vec::new(),
            stage_conflict: Vec::new(),
            access: CaseAccess::default(),
        }
    }

    /// The current value of `form.field`, if it holds something (null, empty
    /// strings, empty lists and empty objects count as nothing).
    pub fn value(&self, form: &str, field: &str) -> Option<&Value> {
        self.values.get(&format!("{form}.{field}")).filter(|v| present(v))
    }

    /// The current value of `form.field` as a string.
    pub fn str_value(&self, form: &str, field: &str) -> Option<&str> {
        self.value(form, field).and_then(Value::as_str)
    }

    /// The current value of `form.field` as a bool.
    pub fn bool_value(&self, form: &str, field: &str) -> Option<bool> {
        self.value(form, field).and_then(Value::as_bool)
    }

    /// The list items of a form (empty if none).
    pub fn items(&self, form: &str) -> &[Value] {
        self.items.get(form).map_or(&[], Vec::as_slice)
    }

    /// The date the case last entered `stage`.
    pub fn last_entered(&self, stage: Stage) -> Option<NaiveDate> {
        self.stage_dates.iter().rev().find(|(s, _)| *s == stage).map(|(_, d)| *d)
    }

    /// Whether the case is a unaccompanied or separated child.
    pub fn is_uasc(&self) -> bool {
        self.case_type == "uasc"
    }
}

/// One broken rule: the rule (`"R1b"`, `"R9"`, `"transition"`, `"role"`,
/// `"closed"`), the code of the condition that failed
/// ([`ViolationCode`], with its parameters) and the English sentence a
/// caseworker can act on (the CLI's; an interface translates the code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleViolation {
    /// Rule code, e.g. `"R1b"`.
    pub rule: String,
    /// What failed, as a [`ViolationCode`] code (empty in a refusal kept
    /// before violations had codes).
    #[serde(default)]
    pub code: String,
    /// The values the code's message uses, by name.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// What is missing or wrong, in English.
    pub message: String,
}

impl RuleViolation {
    /// A violation of `rule`: the condition `code` with its parameters
    /// (exactly [`ViolationCode::params`], which debug builds check), and
    /// the English sentence made from them.
    pub fn new(rule: &str, code: ViolationCode, params: &[(&'static str, &dyn fmt::Display)]) -> RuleViolation {
        debug_assert!(
            params.len() == code.params().len() && params.iter().all(|(k, _)| code.params().contains(k)),
            "{} takes {:?}",
            code.code(),
            code.params()
        );
        let params: BTreeMap<String, String> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let message = crate::model::violation::english(code.code(), &params);
        RuleViolation { rule: rule.to_string(), code: code.code().to_string(), params, message }
    }
}

impl fmt::Display for RuleViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.rule, self.message)
    }
}

// ---------------------------------------------------------------------------
// The transition table (docs/domain.md, Transitions)
// ---------------------------------------------------------------------------

/// Where a transition may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FromStage {
    /// Exactly this stage.
    Exactly(Stage),
    /// Any open stage except the side states that have their own exits
    /// (closure_pending, suspended_lost_contact when it says so).
    AnyOpen,
    /// Any stage at all.
    Any,
}

/// Where a transition leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToStage {
    /// Exactly this stage.
    Exactly(Stage),
    /// Back to the stage remembered in [`CaseFacts::stage_before`].
    Previous,
    /// One of these stages (reopened → the stage needing rework).
    OneOf(&'static [Stage]),
}

/// A guard: the violations that block the transition (empty = allowed).
pub type Guard = fn(&CaseFacts, &Event, Stage) -> Vec<RuleViolation>;

/// One allowed transition.
#[derive(Clone, Copy)]
pub struct Transition {
    /// From.
    pub from: FromStage,
    /// To.
    pub to: ToStage,
    /// Who may make it.
    pub roles: &'static [Role],
    /// What triggers it (as docs/domain.md words it).
    pub trigger: &'static str,
    /// Conditions that must hold.
    pub guard: Guard,
}

impl fmt::Debug for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transition")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("roles", &self.roles)
            .finish()
    }
}

impl Transition {
    fn matches_from(&self, from: Stage) -> bool {
        match self.from {
            FromStage::Exactly(s) => s == from,
            // closure_pending has its own exits (approve / reject); an open
            // case that is already suspended may still be closed or moved.
            FromStage::AnyOpen => from.is_open() && from != Stage::ClosurePending,
            FromStage::Any => true,
        }
    }

    fn matches_to(&self, facts: &CaseFacts, to: Stage) -> bool {
        match self.to {
            ToStage::Exactly(s) => s == to,
            ToStage::Previous => facts.stage_before == Some(to),
            ToStage::OneOf(list) => list.contains(&to),
        }
    }
}

const CW_SV: &[Role] = &[Role::Caseworker, Role::Supervisor];
const SV: &[Role] = &[Role::Supervisor];
const PANEL: &[Role] = &[Role::BidPanel];
const PANEL_SV: &[Role] = &[Role::BidPanel, Role::Supervisor];
const DM: &[Role] = &[Role::DataManager];

/// Stages a reopened case can go back to for rework.
const REWORK: &[Stage] = &[
    Stage::BiaInProgress,
    Stage::Tracing,
    Stage::FamilyAssessment,
    Stage::Verification,
    Stage::BidPending,
    Stage::SolutionInProgress,
    Stage::Reintegration,
    Stage::FollowUp,
    Stage::ClosurePending,
];

/// The allowed transitions of docs/domain.md (with the role that makes
/// each). Checked in order; the first whose from/to match decides.
pub static TRANSITIONS: &[Transition] = &[
    t(Stage::Identified, Stage::Registered, CW_SV, "registration saved", guard_registered),
    t(Stage::Registered, Stage::BiaInProgress, CW_SV, "caseworker opens the BIA", guard_none),
    t(Stage::BiaInProgress, Stage::BiaCompleted, SV, "supervisor signs the BIA", guard_bia_completed),
    t(Stage::BiaCompleted, Stage::Tracing, CW_SV, "tracing opened", guard_tracing_opened),
    t(Stage::BiaCompleted, Stage::BidPending, SV, "direct referral to the BID panel", guard_direct_bid),
    t(
        Stage::BiaCompleted,
        Stage::SolutionInProgress,
        SV,
        "solution without BID (family/accompanied case)",
        guard_solution_without_bid,
    ),
    t(Stage::Tracing, Stage::FamilyAssessment, CW_SV, "family member located", guard_family_located),
    t(Stage::Tracing, Stage::BidPending, SV, "tracing unsuccessful or unsafe", guard_tracing_outcome),
    t(Stage::FamilyAssessment, Stage::Verification, CW_SV, "family assessment recorded", guard_assessment_recorded),
    t(Stage::Verification, Stage::BidPending, SV, "verification outcome recorded", guard_verification_outcome),
    t(
        Stage::Verification,
        Stage::SolutionInProgress,
        SV,
        "same-country reunification with a verified parent/caregiver",
        guard_same_country_reunification,
    ),
    t(Stage::BidPending, Stage::BidDecided, PANEL, "panel decision recorded", guard_bid_decided),
    t(Stage::BidPending, Stage::ClosurePending, PANEL, "panel decision case_closed", guard_bid_case_closed),
    t(Stage::BidDecided, Stage::SolutionInProgress, SV, "supervisor launches implementation", guard_implementation),
    t(Stage::BidDecided, Stage::BidPending, PANEL_SV, "panel reopens or new facts", guard_bid_reopened),
    t(Stage::SolutionInProgress, Stage::Reintegration, CW_SV, "arrival/reunification/placement", guard_reintegration),
    t(Stage::Reintegration, Stage::FollowUp, SV, "reintegration plan approved", guard_plan_approved),
    Transition {
        from: FromStage::Exactly(Stage::SuspendedLostContact),
        to: ToStage::Previous,
        roles: CW_SV,
        trigger: "child found",
        guard: guard_none,
    },
    Transition {
        from: FromStage::AnyOpen,
        to: ToStage::Exactly(Stage::SuspendedLostContact),
        roles: CW_SV,
        trigger: "child absconded, missing or unreachable",
        guard: guard_suspend,
    },
    Transition {
        from: FromStage::AnyOpen,
        to: ToStage::Exactly(Stage::ClosurePending),
        roles: CW_SV,
        trigger: "closure requested",
        guard: guard_closure_requested,
    },
    t(Stage::ClosurePending, Stage::Closed, SV, "supervisor approves closure", guard_closure_approved),
    Transition {
        from: FromStage::Exactly(Stage::ClosurePending),
        to: ToStage::Previous,
        roles: SV,
        trigger: "supervisor rejects closure",
        guard: guard_reason,
    },
    Transition {
        from: FromStage::AnyOpen,
        to: ToStage::Exactly(Stage::TransferredOut),
        roles: DM,
        trigger: "receiving office accepts the transfer",
        guard: guard_transfer_accepted,
    },
    Transition {
        from: FromStage::Any,
        to: ToStage::Exactly(Stage::Duplicate),
        roles: DM,
        trigger: "data manager merges",
        guard: guard_none,
    },
    Transition {
        from: FromStage::Exactly(Stage::Duplicate),
        to: ToStage::Previous,
        roles: DM,
        trigger: "data manager splits a wrongly merged case",
        guard: guard_none,
    },
    t(Stage::Closed, Stage::Reopened, SV, "new concern or breakdown", guard_reason),
    Transition {
        from: FromStage::Exactly(Stage::Reopened),
        to: ToStage::OneOf(REWORK),
        roles: CW_SV,
        trigger: "back to the stage needing rework",
        guard: guard_none,
    },
];

const fn t(from: Stage, to: Stage, roles: &'static [Role], trigger: &'static str, guard: Guard) -> Transition {
    Transition { from: FromStage::Exactly(from), to: ToStage::Exactly(to), roles, trigger, guard }
}

/// The transition that would take a case from `facts.stage` to `to`, if the
/// table has one (roles and guards not yet checked).
pub fn transition_for(facts: &CaseFacts, to: Stage) -> Option<&'static Transition> {
    TRANSITIONS.iter().find(|tr| tr.matches_from(facts.stage) && tr.matches_to(facts, to))
}

/// Every stage the table allows from the case's current stage (for screens:
/// which buttons to show), whatever the role and guards.
pub fn next_stages(facts: &CaseFacts) -> Vec<Stage> {
    Stage::ALL.into_iter().filter(|s| *s != facts.stage && transition_for(facts, *s).is_some()).collect()
}

// ---------------------------------------------------------------------------
// The gate
// ---------------------------------------------------------------------------

/// Check one event against the lifecycle, role and hard rules, given the
/// case as it is before the event. Returns every violation found.
pub fn check(facts: &CaseFacts, event: &Event) -> Result<(), Vec<RuleViolation>> {
    let mut out = Vec::new();
    if event.role == Role::Viewer {
        out.push(RuleViolation::new("role", V::ViewerRecordsNothing, &[]));
        return Err(out);
    }
    // An inquiry is not the case of a child: its own rules, no lifecycle.
    crate::model::inquiry::check(facts, event, &mut out);
    if !out.is_empty() {
        return Err(out);
    }
    match event.kind {
        EventKind::CaseRegistered => {
            require_action(event.role, Action::RecordCaseData, Attempt::RegisterCase, &mut out)
        }
        EventKind::StatusChanged => check_status(facts, event, &mut out),
        EventKind::FormSaved | EventKind::NoteAdded | EventKind::VisitRecorded | EventKind::ReferralMade => {
            check_form_data(facts, event, &mut out)
        }
        EventKind::AttachmentAdded => {
            closed_guard(facts, Attempt::AddAttachment, &mut out);
            require_action(event.role, Action::RecordCaseData, Attempt::AddAttachment, &mut out);
            out.extend(photo_consent(facts, event));
        }
        EventKind::CaseAssigned => check_assignment(facts, event, &mut out),
        EventKind::ConflictResolved if projection::is_stage_resolution(event) => {
            check_stage_resolution(facts, event, &mut out)
        }
        EventKind::ConflictResolved => {
            let s = |k: &str| event.payload.get(k).and_then(Value::as_str).unwrap_or_default();
            let (form, field) = (s("form"), s("field"));
            let protected = forms::is_protected(form, field);
            if !roles::may_resolve(event.role, ConflictSubject::Field { form, protected }) {
                let who = roles::resolvers(ConflictSubject::Field { form, protected });
                out.push(RuleViolation::new(
                    "role",
                    if protected { V::RoleMayNotResolveProtectedField } else { V::RoleMayNotResolveField },
                    &[("role", &event.role), ("form", &form), ("field", &field), ("roles", &role_list(&who))],
                ));
            }
        }
        EventKind::CaseMerged => {
            require_action(event.role, Action::MergeDuplicates, Attempt::MergeDuplicates, &mut out)
        }
        EventKind::CaseNotDuplicate => {
            require_action(event.role, Action::MergeDuplicates, Attempt::ReviewDuplicates, &mut out)
        }
        EventKind::CaseSplit => {
            require_action(event.role, Action::MergeDuplicates, Attempt::SplitCase, &mut out);
            if facts.stage != Stage::Duplicate {
                out.push(RuleViolation::new("transition", V::SplitNeedsDuplicate, &[("stage", &facts.stage)]));
            }
        }
        EventKind::CaseTransferred => {
            require_action(event.role, Action::Transfer, Attempt::TransferCase, &mut out);
            out.extend(transfer_accepted(facts));
        }
        EventKind::CaseErased => out.push(RuleViolation::new("erasure", V::ErasedByTwoSignatures, &[])),
        EventKind::CaseEventErased => out.push(RuleViolation::new("erasure", V::ErasedStandInNotErased, &[])),
        // The pending request is not part of the facts: the store checks
        // these with `erasure::check` against the case's state.
        EventKind::CaseErasureRequested | EventKind::CaseErasureApproved => {
            require_action(event.role, Action::Erase, Attempt::RequestErasure, &mut out)
        }
    }
    if out.is_empty() {
        Ok(())
    } else {
        Err(out)
    }
}

/// Who may assign a case (docs/visibility.md §7): a role with
/// [`Action::AssignAny`] (supervisor, data manager) to anyone; a role with
/// only [`Action::AssignSelf`] (caseworker) to themself, and only a case
/// they registered that nobody else is assigned to (unassigned, or already
/// theirs). Taking over another person's case, or a case someone else
/// registered, is for a supervisor or the office.
fn check_assignment(facts: &CaseFacts, e: &Event, out: &mut Vec<RuleViolation>) {
    let to = e.payload.get("caseworker").and_then(Value::as_str).unwrap_or_default();
    if to.trim().is_empty() {
        out.push(RuleViolation::new("assignment", V::AssignmentNamesCaseworker, &[]));
    }
    if roles::may(e.role, Action::AssignAny) {
        return;
    }
    if !roles::may(e.role, Action::AssignSelf) {
        out.push(RuleViolation::new("role", V::RoleMayNotAssign, &[("role", &e.role)]));
        return;
    }
    if to != e.author {
        out.push(RuleViolation::new("role", V::RoleMayNotAssignOthers, &[("role", &e.role)]));
        return;
    }
    let registered_it = facts.access.registered_by.as_deref() == Some(e.author.as_str());
    let free = facts.access.caseworker.as_deref().is_none_or(|cw| cw == e.author);
    if !(registered_it && free) {
        out.push(RuleViolation::new("assignment", V::CaseworkerTakesOwnCase, &[("role", &e.role)]));
    }
}

fn role_list(roles: &[Role]) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" or ")
}

/// The roles that may settle the stage conflict in `facts` (see
/// [`roles::may_resolve`]).
pub fn stage_resolvers(facts: &CaseFacts) -> Vec<Role> {
    roles::resolvers(stage_subject(facts))
}

fn stage_subject(facts: &CaseFacts) -> ConflictSubject<'static> {
    ConflictSubject::Stage { panel_head: facts.stage_conflict.iter().any(|h| h.role == Role::BidPanel) }
}

/// A `conflict.resolved` of the stage: the case (as its author saw it) has
/// a stage conflict, the event keeps one of its heads (`payload.chosen`,
/// with that head's stage as `payload.value`) and its role may settle it.
fn check_stage_resolution(facts: &CaseFacts, e: &Event, out: &mut Vec<RuleViolation>) {
    if facts.stage_conflict.is_empty() {
        out.push(RuleViolation::new("stage_conflict", V::NoStageConflict, &[]));
        return;
    }
    let subject = stage_subject(facts);
    if !roles::may_resolve(e.role, subject) {
        out.push(RuleViolation::new(
            "role",
            V::RoleMayNotResolveStage,
            &[("role", &e.role), ("roles", &role_list(&roles::resolvers(subject)))],
        ));
    }
    let chosen = projection::chosen_head(e);
    let Some(head) = facts.stage_conflict.iter().find(|h| Some(h.event) == chosen) else {
        out.push(RuleViolation::new("stage_conflict", V::StageResolutionNamesHead, &[]));
        return;
    };
    if e.payload.get("value").and_then(Value::as_str) != Some(head.stage.as_str()) {
        out.push(RuleViolation::new("stage_conflict", V::StageResolutionWrongStage, &[("stage", &head.stage)]));
    }
}

fn require_action(role: Role, action: Action, what: Attempt, out: &mut Vec<RuleViolation>) {
    if !roles::may(role, action) {
        out.push(RuleViolation::new("role", V::RoleMayNot, &[("role", &role), ("action", &what)]));
    }
}

/// Note types that record a contact with the child (what the weekly
/// high-risk contact and the final contact after closure count).
pub fn is_contact_note(note_type: &str) -> bool {
    matches!(note_type, "contact" | "phone" | "home_visit" | "office_visit")
}

fn closed_guard(facts: &CaseFacts, what: Attempt, out: &mut Vec<RuleViolation>) {
    if facts.stage.is_read_only() {
        out.push(RuleViolation::new("closed", V::CaseReadOnly, &[("stage", &facts.stage), ("action", &what)]));
    }
}

/// The day an event was made (its HLC time, UTC).
pub(crate) fn event_date(e: &Event) -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(i64::try_from(e.hlc.millis).unwrap_or(i64::MAX))
        .map(|d| d.date_naive())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// status.changed
// ---------------------------------------------------------------------------

fn check_status(facts: &CaseFacts, e: &Event, out: &mut Vec<RuleViolation>) {
    let to_name = e.payload.get("to").and_then(Value::as_str).unwrap_or_default();
    let Some(to) = Stage::parse(to_name) else {
        out.push(RuleViolation::new("transition", V::UnknownStage, &[("name", &to_name)]));
        return;
    };
    if !facts.stage_conflict.is_empty() {
        let heads: Vec<&str> = facts.stage_conflict.iter().map(|h| h.stage.as_str()).collect();
        out.push(RuleViolation::new(
            "stage_conflict",
            V::StageInConflict,
            &[("stages", &heads.join(" and ")), ("roles", &role_list(&stage_resolvers(facts)))],
        ));
        return;
    }
    if to == facts.stage {
        out.push(RuleViolation::new("transition", V::AlreadyAtStage, &[("stage", &to)]));
        return;
    }
    let Some(tr) = transition_for(facts, to) else {
        out.push(RuleViolation::new("transition", V::NoSuchTransition, &[("from", &facts.stage), ("to", &to)]));
        return;
    };
    if !tr.roles.contains(&e.role) {
        let who = tr.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" or ");
        let rule = if to == Stage::Closed || matches!(tr.to, ToStage::Previous) && facts.stage == Stage::ClosurePending
        {
            "R11"
        } else {
            "role"
        };
        out.push(RuleViolation::new(
            rule,
            V::TransitionRole,
            &[("from", &facts.stage), ("to", &to), ("roles", &who), ("role", &e.role)],
        ));
    }
    out.extend(crate::model::required::violations(facts, to));
    out.extend((tr.guard)(facts, e, to));
    if to == Stage::Reintegration {
        // The child travels, arrives and is handed over: R14's escort,
        // whichever way the case came to this stage.
        out.extend(crate::model::escort_separation::before_arrival(facts, e));
    }
}

fn reason_of(e: &Event) -> &str {
    e.payload.get("reason").and_then(Value::as_str).map(str::trim).unwrap_or("")
}

fn guard_none(_: &CaseFacts, _: &Event, _: Stage) -> Vec<RuleViolation> {
    Vec::new()
}

fn guard_reason(_: &CaseFacts, e: &Event, to: Stage) -> Vec<RuleViolation> {
    if reason_of(e).is_empty() {
        vec![RuleViolation::new("transition", V::ReasonNeeded, &[("to", &to)])]
    } else {
        Vec::new()
    }
}

/// The identity minimum (a name, sex, age) and the legitimate basis are
/// in `required::REQUIRED_BEFORE`; here what their values must say.
fn guard_registered(f: &CaseFacts, _: &Event, _: Stage) -> Vec<RuleViolation> {
    let mut v = Vec::new();
    match f.str_value("registration_bia", "legitimate_basis") {
        None => {}
        Some("consent") if f.value("registration_bia", "consent").is_none() => {
            v.push(RuleViolation::new("R4", V::ConsentBasisWithoutConsent, &[]))
        }
        Some(_) => {}
    }
    v
}

/// R2: child's views (with whether heard alone) or the reason they were not obtained.
fn child_views_bia(f: &CaseFacts) -> Option<RuleViolation> {
    if f.value("registration_bia", "views_not_obtained_reason").is_some() {
        return None;
    }
    if f.value("registration_bia", "child_views").is_none() {
        return Some(RuleViolation::new("R2", V::BiaChildViewsMissing, &[]));
    }
    if f.bool_value("registration_bia", "heard_alone").is_none() {
        return Some(RuleViolation::new("R2", V::BiaHeardAloneMissing, &[]));
    }
    None
}

/// Risk level (R5), protection concerns and the BID-required answer are
/// in `required::REQUIRED_BEFORE`.
fn guard_bia_completed(f: &CaseFacts, _: &Event, _: Stage) -> Vec<RuleViolation> {
    let mut v = Vec::new();
    v.extend(child_views_bia(f));
    if f.str_value("registration_bia", "bia_approval_status") != Some("approved")
        || f.value("registration_bia", "bia_approval").is_none()
    {
        v.push(RuleViolation::new("bia", V::BiaApprovalMissing, &[]));
    }
    v
}

const UNSAFE: &[&str] = &["unsafe_family_implicated", "unsafe_other"];
const LOCATED: &[&str] = &["family_located", "verification_pending", "verified", "verification_failed", "reunified"];

fn item_str<'a>(item: &'a Value, field: &str) -> Option<&'a str> {
    item.get(field).and_then(Value::as_str)
}

/// R8 on the case as a whole: may tracing be open?
fn tracing_blockers(f: &CaseFacts) -> Vec<RuleViolation> {
    let mut v = Vec::new();
    match f.str_value("registration_bia", "wants_tracing") {
        Some("yes") => {}
        Some(_) => v.push(RuleViolation::new("R8", V::ChildRefusesTracing, &[])),
        None => v.push(RuleViolation::new("R8", V::TracingWishMissing, &[])),
    }
    for item in f.items("family_tracing") {
        if item_str(item, "tracing_safety_check").is_some_and(|s| UNSAFE.contains(&s)) {
            v.push(RuleViolation::new("R8", V::TracingUnsafe, &[]));
            break;
        }
    }
    v
}

fn guard_tracing_opened(f: &CaseFacts, _: &Event, _: Stage) -> Vec<RuleViolation> {
    let mut v = tracing_blockers(f);
    let recommended = f
        .value("registration_bia", "bia_recommended_actions")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|x| x == "tracing"));
    if !f.is_uasc() && !recommended {
        v.push(RuleViolation::new("transition", V::TracingNotForCase, &[]));
    }
    v
}

fn guard_direct_bid(f: &CaseFacts, _: &Event, _: Stage) -> Vec<RuleViolation> {
    let mut v = Vec::new();
    if f.bool_value("registration_bia", "bid_required") != Some(true) {
        v.push(RuleViolation::new("transition", V::DirectBidNeedsBidRequired, &[]));
    }
    // The submission report: `required::REQUIRED_BEFORE`.
    v
}

fn guard_solution_without_bid(f: &CaseFacts, _: &Event, _: Stage) -> Vec<RuleViolation> {
    let mut v = Vec::new();
    if f.is_uasc() {
        v.push(RuleViolation::new("R1a", V::UascSolutionNeedsBid, &[]));
    }
    if f.bool_value("registration_bia", "bid_required") != Some(false) {
        v.push(RuleViolation::new("transition", V::NoBidNeedsBidNotRequired, &[]));
    }
    // The family's risk assessment and plan draft (reintegration_family
    // plan_date, risk_mitigation): `required::REQUIRED_BEFORE`.
    v
}

fn guard_family_located(f: &CaseFacts, _: &Event, _: Stage) -> Vec<RuleViolation> {
    let located = f.items("family_tracing").iter().any(|i| {
        item_str(i, "tracing_status").is_some_and(|s| LOCATED.contains(&s))
            || i.get("date_family_located").is_some_and(present)
    });
    if located {
        Vec::new()
    } else {
        vec![RuleViolation::new("transition", V::NoRelativeLocated, &[])]
    }
}

fn guard_tracing_outcome(f: &CaseFacts, _: &Event, _: Stage) -> Vec<RuleViolation> {
    let mut v = Vec::new();
    let outcome = f.items("family_tracing").iter().any(|i| {
        item_str(i, "tracing_status").is_some_and(|s| {
            matches!(s, "unsuccessful_closed" | "on_hold_safety" | "on_hold_child_objects" | "verification_failed")
        })
    });
    if !outcome {
        v.push(RuleViolation::new("transition", V::TracingOutcomeMissing, &[]));
    }
    v
}

fn guard_assessment_recorded(f: &CaseFacts, _: &Event, _: Stage) -> Vec<RuleViolation> {
    let done = f
        .items("family_tracing")
        .iter()
        .any(|i| ["willingness", "capacity", "tracing_safety_check"].iter().all(|k| i.get(*k).is_some_and(present)));
    if done {
        Vec::new()
    } else {
        vec![RuleViolation::new("transition", V::FamilyAssessmentMissing, &[])]
    }
}

/// R2 for verification: the child's wish about reunification in a verification record.
fn verification_views(f: &CaseFacts) -> Option<RuleViolation> {
    let heard = f.items("verification").iter().any(|i| i.get("child_wishes_reunification").is_some_and(present));
    (!heard).then(|| RuleViolation::new("R2", V::VerificationChildWishesMissing, &[]))
}

fn guard_verification_outcome(f: &CaseFacts, _: &Event, _: Stage) -> Vec<RuleViolation> {
    let mut v = Vec::new();
    if !f.items("verification").iter().any(|i| i.get("verification_outcome").is_some_and(present)) {
        v.push(RuleViolation::new("transition", V::VerificationOutcomeMissing, &[]));
    }
    v.extend(verification_views(f));
    v
}

fn verified_relative(f: &CaseFacts) -> bool {
    f.items("verification").iter().any(|i| {
        i.get("relationship_verified").and_then(Value::as_bool) == Some(true)
            && item_str(i, "verification_outcome")
                .is_some_and(|o| matches!(o, "verified" | "reunification_with_enhanced_support"))
    })
}

/// R7's exception: a reunification record (F13) of type `spontaneous` says
/// the child rejoined an adult before verification; it is verified after
/// the fact (a task, `model::tasks`). Only the record counts, never the
/// wording of a reason.
fn spontaneous_reunification(f: &CaseFacts) -> bool {
    f.items("reunification").iter().any(|i| item_str(i, "reunification_type") == Some("spontaneous"))
}

fn guard_same_country_reunification(f: &CaseFacts, _: &Event, _: Stage) -> Vec<RuleViolation> {
    let mut v = Vec::new();
    if !verified_relative(f) && !spontaneous_reunification(f) {
        v.push(RuleViolation::new("R7", V::ReunificationAwaitsVerification, &[]));
    }
    v.extend(verification_views(f));
    if f.is_uasc() && f.str_value("registration_bia", "child_status") != Some("separated") {
        // Only a separated child rejoining a verified parent/caregiver in the
        // same country may skip the BID; anything else is a durable solution.
        v.push(RuleViolation::new("R1a", V::OnlySeparatedChildSkipsBid, &[]));
    }
    v
}

fn voting_present(f: &CaseFacts, decision: &Map<String, Value>) -> Vec<Value> {
    let members = decision.get("panel_members").or_else(|| f.value("bid", "panel_members"));
    members
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|m| {
                    m.get("voting").and_then(Value::as_bool) == Some(true)
                        && m.get("present").and_then(Value::as_bool) != Some(false)
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

fn person_name(v: &Value) -> Option<&str> {
    v.get("name").and_then(Value::as_str).or_else(|| v.as_str()).map(str::trim).filter(|s| !s.is_empty())
}

/// The panel's composition (DOMAIN §1 and R9): a quorum of at least three
/// *different* people voting and present (a name listed twice counts
/// once); no vote from a member who declared a conflict of interest; one
/// chair present, who signs the decision; and the supervisor of the case
/// (the one who signed its BIA) never sits alone: when they vote, at
/// least two other voting members present who are neither they nor the
/// caseworker who wrote the submission.
fn panel_composition(f: &CaseFacts, new: &Map<String, Value>, voters: &[Value]) -> Vec<RuleViolation> {
    let mut v = Vec::new();
    let name_of = |m: &Value| m.get("member").and_then(person_name).map(str::to_string);
    let mut distinct: Vec<String> = voters.iter().filter_map(name_of).collect();
    distinct.sort();
    distinct.dedup();
    if distinct.len() < 3 {
        v.push(RuleViolation::new("R9", V::PanelQuorum, &[("count", &distinct.len())]));
    }
    for m in voters {
        if m.get("conflict_of_interest_declared").and_then(Value::as_bool) == Some(true) {
            v.push(match name_of(m) {
                Some(who) => RuleViolation::new("R9", V::MemberConflictOfInterest, &[("member", &who)]),
                None => RuleViolation::new("R9", V::UnnamedMemberConflictOfInterest, &[]),
            });
        }
    }
    let members = new.get("panel_members").or_else(|| f.value("bid", "panel_members"));
    let chairs: Vec<String> = members
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|m| {
                    m.get("role").and_then(Value::as_str) == Some("chair")
                        && m.get("present").and_then(Value::as_bool) != Some(false)
                })
                .filter_map(name_of)
                .collect()
        })
        .unwrap_or_default();
    match chairs.len() {
        1 => {
            let signed_by = new
                .get("chair_signature")
                .or_else(|| f.value("bid", "chair_signature"))
                .and_then(|s| s.get("by"))
                .and_then(Value::as_str)
                .map(str::trim);
            if let Some(by) = signed_by.filter(|b| *b != chairs[0]) {
                v.push(RuleViolation::new("panel", V::DecisionSignedByOther, &[("by", &by), ("chair", &chairs[0])]));
            }
        }
        0 => v.push(RuleViolation::new("panel", V::NoChairPresent, &[])),
        n => v.push(RuleViolation::new("panel", V::SeveralChairs, &[("count", &n)])),
    }
    let supervisor = f.value("registration_bia", "bia_approval").and_then(|a| a.get("by")).and_then(Value::as_str);
    let caseworker = f.value("registration_bia", "caseworker").and_then(person_name);
    if let Some(sup) = supervisor.map(str::trim).filter(|s| distinct.iter().any(|d| d == s)) {
        let others = distinct.iter().filter(|d| d.as_str() != sup && Some(d.as_str()) != caseworker).count();
        if others < 2 {
            v.push(RuleViolation::new(
                "panel",
                V::SupervisorAloneOnPanel,
                &[("supervisor", &sup), ("others", &others)],
            ));
        }
    }
    v
}

/// R9 (+R2 for BID) on the decision as it will be after `new` is written.
fn bid_decision_rules(f: &CaseFacts, new: &Map<String, Value>) -> Vec<RuleViolation> {
    let mut v = Vec::new();
    let get = |k: &str| new.get(k).filter(|x| present(x)).or_else(|| f.value("bid", k));
    let voters = voting_present(f, new);
    v.extend(panel_composition(f, new, &voters));
    let caseworker = f.value("registration_bia", "caseworker").and_then(person_name);
    if let Some(cw) = caseworker {
        if voters.iter().any(|m| m.get("member").and_then(person_name) == Some(cw)) {
            v.push(RuleViolation::new("R9", V::SubmissionAuthorVotes, &[("member", &cw)]));
        }
    }
    if get("decision_reasons").is_none() {
        v.push(RuleViolation::new("R9", V::DecisionReasonsMissing, &[]));
    }
    if let Some(dissent) = get("dissent").and_then(Value::as_array) {
        if dissent
            .iter()
            .any(|d| d.get("member").and_then(person_name).is_none() || !d.get("reasons").is_some_and(present))
        {
            v.push(RuleViolation::new("R9", V::DissentIncomplete, &[]));
        }
    }
    let decision = get("panel_decision").and_then(Value::as_str);
    if matches!(decision, Some("approves_recommendation" | "not_approved_alternative"))
        && get("decided_solution").is_none()
    {
        v.push(RuleViolation::new("bid", V::DecidedSolutionMissing, &[]));
    }
    let heard =
        get("child_interview").is_some() && (get("criteria_views").is_some() || get("child_heard_alone").is_some());
    if !heard && f.value("registration_bia", "views_not_obtained_reason").is_none() {
        v.push(RuleViolation::new("R2", V::BidInterviewMissing, &[]));
    }
    v
}

fn guard_bid_decided(f: &CaseFacts, _: &Event, _: Stage) -> Vec<RuleViolation> {
    let mut v = Vec::new();
    match f.str_value("bid", "panel_decision") {
        Some("approves_recommendation" | "not_approved_alternative") => {}
        Some("deferred") => v.push(RuleViolation::new("transition", V::DecisionDeferred, &[])),
        Some(other) => v.push(RuleViolation::new("transition", V::DecisionNotDeciding, &[("decision", &other)])),
        None => v.push(RuleViolation::new("transition", V::PanelDecisionMissing, &[])),
    }
    v.extend(bid_decision_rules(f, &Map::new()));
    v
}

fn guard_bid_case_closed(f: &CaseFacts, e: &Event, to: Stage) -> Vec<RuleViolation> {
    let mut v = Vec::new();
    if f.str_value("bid", "panel_decision") != Some("case_closed") {
        v.push(RuleViolation::new("transition", V::ClosureNeedsCaseClosedDecision, &[]));
    }
    v.extend(guard_reason(f, e, to));
    v
}

fn guard_bid_reopened(f: &CaseFacts, e: &Event, to: Stage) -> Vec<RuleViolation> {
    guard_reason(f, e, to)
}

/// The durable solution the case is heading for.
fn solution(f: &CaseFacts) -> Option<&str> {
    f.str_value("bid", "decided_solution")
}

const REUNIFYING: &[&str] =
    &["return_reintegration", "reunification_host_country", "third_country_family_reunification"];

fn is_trafficked(f: &CaseFacts) -> bool {
    let concerns = f
        .value("registration_bia", "protection_concerns")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|c| c == "trafficking"));
    concerns || matches!(f.str_value("registration_bia", "legal_status"), Some("vot_presumed" | "vot_identified"))
}

/// R1 (a)–(f): every missing safeguard before the return of a UASC, each
/// listed separately.
pub fn return_safeguards(f: &CaseFacts) -> Vec<RuleViolation> {
    let mut v = Vec::new();
    // (a) BID decided, approving return, by the panel.
    let decided =
        matches!(f.str_value("bid", "panel_decision"), Some("approves_recommendation" | "not_approved_alternative"))
            && solution(f) == Some("return_reintegration")
            && f.last_entered(Stage::BidDecided).is_some();
    if !decided {
        v.push(RuleViolation::new("R1a", V::NoBidApprovingReturn, &[]));
    }
    // (b) Legal guardian identified and notified (date and means).
    let guardian = f.bool_value("registration_bia", "guardian_appointed") == Some(true)
        && f.value("registration_bia", "guardian").is_some();
    if !guardian {
        v.push(RuleViolation::new("R1b", V::NoGuardian, &[]));
    }
    let notified = f.value("bid", "pre_return_checklist").and_then(Value::as_array).is_some_and(|list| {
        list.iter().any(|i| {
            i.get("item").and_then(Value::as_str) == Some("b_guardian_notified")
                && i.get("done").and_then(Value::as_bool) == Some(true)
                && i.get("date").is_some_and(present)
                && i.get("evidence").is_some_and(present)
        })
    });
    if !notified {
        v.push(RuleViolation::new("R1b", V::GuardianNotNotified, &[]));
    }
    // (c) Family traced, relationship verified, willing and able.
    let traced =
        f.items("family_tracing").iter().find(|i| item_str(i, "tracing_status").is_some_and(|s| LOCATED.contains(&s)));
    match traced {
        None => v.push(RuleViolation::new("R1c", V::FamilyNotTraced, &[])),
        Some(item) => {
            if !verified_relative(f) {
                v.push(RuleViolation::new("R1c", V::RelationshipNotVerified, &[]));
            }
            if item_str(item, "willingness") != Some("yes") {
                v.push(RuleViolation::new("R1c", V::FamilyNotWilling, &[]));
            }
            if !item_str(item, "capacity").is_some_and(|c| matches!(c, "adequate" | "adequate_with_support")) {
                v.push(RuleViolation::new("R1c", V::FamilyCapacityInadequate, &[]));
            }
        }
    }
    // (d) Risk/safety assessment of the return location, not blocking.
    let blocking = f.items("family_tracing").iter().any(|i| {
        item_str(i, "tracing_safety_check").is_some_and(|s| UNSAFE.contains(&s))
            || item_str(i, "assessment_recommendation") == Some("do_not_reunify")
    });
    if f.value("reintegration_uasc", "risk_mitigation").is_none() {
        v.push(RuleViolation::new("R1d", V::ReturnRiskAssessmentMissing, &[]));
    } else if blocking {
        v.push(RuleViolation::new("R1d", V::ReturnUnsafe, &[]));
    }
    // (e) Child's views; a trafficked child has wished or freely agreed to return.
    if f.value("registration_bia", "child_views").is_none() && f.value("bid", "criteria_views").is_none() {
        v.push(RuleViolation::new("R1e", V::ReturnChildViewsMissing, &[]));
    }
    if is_trafficked(f) {
        let agrees = f.items("verification").iter().any(|i| item_str(i, "child_wishes_reunification") == Some("yes"))
            || matches!(f.str_value("registration_bia", "wants_reunification"), Some("yes_asap" | "yes_later"));
        if !agrees {
            v.push(RuleViolation::new("R1e", V::TraffickedChildNotAgreeing, &[]));
        }
    }
    // (f) Receiving child-protection actor named, reintegration plan drafted.
    if f.value("reintegration_uasc", "receiving_actor").is_none() {
        v.push(RuleViolation::new("R1f", V::ReceivingActorMissing, &[]));
    }
    if f.value("reintegration_uasc", "plan_date").is_none() || f.value("reintegration_uasc", "actions").is_none() {
        v.push(RuleViolation::new("R1f", V::ReintegrationPlanMissing, &[]));
    }
    v
}

/// Whether R1 applies to the case: a UASC whose solution is return.
fn return_of_uasc(f: &CaseFacts) -> bool {
    let heading = solution(f).or_else(|| f.str_value("bid", "caseworker_recommendation"));
    f.is_uasc() && heading == Some("return_reintegration")
}

/// R7: a reunifying solution needs a verified relative, unless a
/// reunification record says it was spontaneous (verified after the fact).
fn reunification_verified(f: &CaseFacts) -> Option<RuleViolation> {
    let reunifying = f.is_uasc() && solution(f).is_none_or(|s| REUNIFYING.contains(&s));
    (reunifying && !spontaneous_reunification(f) && !verified_relative(f))
        .then(|| RuleViolation::new("R7", V::ReunificationBeforeVerification, &[]))
}

fn guard_implementation(f: &CaseFacts, _: &Event, _: Stage) -> Vec<RuleViolation> {
    let mut v = Vec::new();
    if solution(f).is_none() {
        v.push(RuleViolation::new("transition", V::NoSolutionToImplement, &[]));
    }
    if return_of_uasc(f) {
        v.extend(return_safeguards(f));
    }
    v.extend(reunification_verified(f));
    v
}

fn guard_reintegration(f: &CaseFacts, _: &Event, _: Stage) -> Vec<RuleViolation> {
    let mut v = Vec::new();
    let plan = if f.is_uasc() { "reintegration_uasc" } else { "reintegration_family" };
    if f.value(plan, "plan_date").is_none() {
        v.push(RuleViolation::new("transition", V::ReintegrationPlanNotDrafted, &[("plan", &plan)]));
    }
    // Entering reintegration records the arrival/return date: R1 again.
    if return_of_uasc(f) {
        v.extend(return_safeguards(f));
    }
    v.extend(reunification_verified(f));
    v
}

fn guard_plan_approved(f: &CaseFacts, _: &Event, _: Stage) -> Vec<RuleViolation> {
    let plan = if f.is_uasc() { "reintegration_uasc" } else { "reintegration_family" };
    let approved = f.value(plan, "signatures").and_then(Value::as_array).is_some_and(|a| {
        a.iter().any(|s| {
            s.get("signatory").and_then(Value::as_str) == Some("supervisor") && s.get("signature").is_some_and(present)
        })
    });
    if approved {
        Vec::new()
    } else {
        vec![RuleViolation::new("transition", V::PlanNotSignedBySupervisor, &[])]
    }
}

fn guard_suspend(f: &CaseFacts, e: &Event, to: Stage) -> Vec<RuleViolation> {
    let mut v = guard_reason(f, e, to);
    if f.items("case_note").is_empty() && f.items("follow_up_visit").is_empty() {
        v.push(RuleViolation::new("transition", V::SuspendNeedsAttempts, &[]));
    }
    v
}

/// Whole calendar months from `from` to `to` (negative if `to` is earlier).
pub fn months_between(from: NaiveDate, to: NaiveDate) -> i32 {
    let mut m = (to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32;
    if to.day() < from.day() {
        m -= 1;
    }
    m
}

fn parse_date(v: &Value) -> Option<NaiveDate> {
    let s = v.as_str().or_else(|| v.get("date").and_then(Value::as_str))?;
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

/// R11: what a closure request needs.
fn guard_closure_requested(f: &CaseFacts, e: &Event, _: Stage) -> Vec<RuleViolation> {
    let mut v = Vec::new();
    let c = "closure_transfer";
    let Some(reason) = f.str_value(c, "closure_reason") else {
        return vec![RuleViolation::new("R11", V::ClosureReasonMissing, &[])];
    };
    if f.value(c, "closure_details").is_none() {
        v.push(RuleViolation::new("R11", V::ClosureDetailsMissing, &[]));
    }
    let today = event_date(e);
    match reason {
        "turned_18" => {
            if f.value(c, "transition_plan").is_none() {
                v.push(RuleViolation::new("R11", V::Turned18NeedsTransitionPlan, &[]));
            }
            // R13: while the age is in doubt the child is the age they
            // declared, and a child is not closed as an adult early.
            if crate::model::age::age_in_doubt(f) {
                match crate::model::tasks::eighteenth_birthday(f) {
                    Some(bday) if bday <= today => {}
                    Some(bday) => v.push(RuleViolation::new("R13", V::DisputedAgeTurns18Later, &[("date", &bday)])),
                    None => v.push(RuleViolation::new("R13", V::DisputedAgeNoDeclaredAge, &[])),
                }
            }
        }
        "lost_contact" => match f.value(c, "last_contact_date").and_then(parse_date) {
            None => v.push(RuleViolation::new("R11", V::LostContactDateMissing, &[])),
            Some(last) => {
                if months_between(last, today) < 3 {
                    v.push(RuleViolation::new("R11", V::LostContactTooRecent, &[("last", &last)]));
                }
                let attempts = f.items("follow_up_visit").len() + f.items("case_note").len();
                if attempts == 0 {
                    v.push(RuleViolation::new("R11", V::LostContactNoAttempts, &[]));
                }
            }
        },
        _ => {}
    }
    // Closing within 6 months of reintegration needs an override reason.
    if let Some(t0) = f.last_entered(Stage::Reintegration) {
        if months_between(t0, today) < 6
            && !matches!(reason, "death_of_child" | "opened_in_error" | "duplicate" | "transferred" | "lost_contact")
            && f.value(c, "early_closure_override_reason").is_none()
        {
            v.push(RuleViolation::new("R11", V::EarlyClosureNeedsOverride, &[]));
        }
    }
    v
}

fn guard_closure_approved(f: &CaseFacts, e: &Event, to: Stage) -> Vec<RuleViolation> {
    let mut v = Vec::new();
    if f.value("closure_transfer", "closure_approval").is_none() {
        v.push(RuleViolation::new("R11", V::ClosureApprovalMissing, &[]));
    }
    if f.value("closure_transfer", "closure_reason").is_none() {
        v.push(RuleViolation::new("R11", V::ClosureReasonMissing, &[]));
    }
    let _ = (e, to);
    v
}

/// Whether the child's consent covers `scope` (value list `consent_scope`)
/// with a consent recorded.
fn consent_covers(f: &CaseFacts, scope: &str) -> bool {
    f.value("registration_bia", "consent").is_some()
        && f.value("registration_bia", "consent_scopes")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|x| x == scope))
}

/// Whether an attachment is a photo (an image: what a face or a document
/// with a face looks like to the library).
pub fn is_photo(mime: &str) -> bool {
    mime.trim().to_ascii_lowercase().starts_with("image/")
}

/// R4 and DOMAIN §4.6 on an attachment: a photo goes into the case file
/// only under a recorded consent whose scopes include `photo_use` (its own
/// scope, whatever the case's legitimate basis: no other basis covers a
/// child's image). A withdrawn scope stops new photos.
fn photo_consent(f: &CaseFacts, e: &Event) -> Option<RuleViolation> {
    let mime = e.payload.get("mime").and_then(Value::as_str).unwrap_or_default();
    (is_photo(mime) && !consent_covers(f, "photo_use")).then(|| RuleViolation::new("R4", V::PhotoNeedsConsent, &[]))
}

/// R4 and DOMAIN §4.8 on a transfer: the transfer consent record (or
/// documented basis) and, when the case rests on consent, its scope
/// `cross_border_transfer`. Checked when the transfer is requested
/// (`sync::transfer`) and when it is recorded.
pub fn transfer_consent(f: &CaseFacts) -> Vec<RuleViolation> {
    let mut v = Vec::new();
    if f.value("closure_transfer", "transfer_consent").is_none() {
        v.push(RuleViolation::new("R4", V::TransferConsentMissing, &[]));
    }
    let basis = f.str_value("registration_bia", "legitimate_basis");
    if matches!(basis, None | Some("consent")) && !consent_covers(f, "cross_border_transfer") {
        v.push(RuleViolation::new("R4", V::ConsentScopeNoTransfer, &[]));
    }
    v
}

fn transfer_accepted(f: &CaseFacts) -> Vec<RuleViolation> {
    let mut v = Vec::new();
    if f.str_value("closure_transfer", "transfer_status") != Some("accepted") {
        v.push(RuleViolation::new("R12", V::TransferNotAccepted, &[]));
    }
    if f.value("closure_transfer", "transfer_to").is_none() {
        v.push(RuleViolation::new("R12", V::ReceivingOfficeNotNamed, &[]));
    }
    v.extend(transfer_consent(f));
    v
}

fn guard_transfer_accepted(f: &CaseFacts, _: &Event, _: Stage) -> Vec<RuleViolation> {
    transfer_accepted(f)
}

// ---------------------------------------------------------------------------
// form data
// ---------------------------------------------------------------------------

/// BID fields only the panel records (the decision and its safeguards).
pub const BID_DECISION_FIELDS: &[&str] = &[
    "panel_date",
    "panel_members",
    "panel_decision",
    "decided_solution",
    "decision_reasons",
    "dissent",
    "follow_up_actions",
    "chair_signature",
];

/// BID decision fields that R10 makes immutable once a decision is recorded.
const BID_IMMUTABLE: &[&str] =
    &["panel_decision", "decided_solution", "decision_reasons", "dissent", "chair_signature"];

/// Consent-record fields of the registration (R10: superseded, never edited).
const CONSENT_FIELDS: &[&str] =
    &["consent", "consent_source", "consent_scopes", "legitimate_basis", "consent_withheld_info"];

/// Closure-record fields (R10).
const CLOSURE_FIELDS: &[&str] = &["closure_reason", "closure_approval", "care_at_closure", "permanent"];

/// Care-arrangement fields (R6).
const CARE_FIELDS: &[(&str, &str)] = &[
    ("registration_bia", "care_arrangement"),
    ("reintegration_uasc", "care_on_return"),
    ("reintegration_family", "care_on_return"),
    ("follow_up_visit", "care_arrangement_observed"),
    ("closure_transfer", "care_at_closure"),
    ("placement", "care_arrangement"),
];

/// F5 mandatory items (placement blocked if any is false); the two with
/// `Some` apply only to that provider group.
const F5_MANDATORY: &[(&str, Option<&str>)] = &[
    ("registered_authorised", None),
    ("safeguarding_policy", None),
    ("staff_vetting", None),
    ("carer_training", None),
    ("not_detention", None),
    ("sex_age_separation", Some("facility")),
    ("sibling_unity", None),
    ("individual_case_file", None),
    ("health_access", None),
    ("education_access", None),
    ("information_language", None),
    ("complaints_mechanism", None),
    ("carer_matching", Some("foster")),
    ("foster_home_visit", Some("foster")),
    ("max_stay_review", None),
];

fn check_form_data(f: &CaseFacts, e: &Event, out: &mut Vec<RuleViolation>) {
    let form = e.form.as_deref().unwrap_or_default();
    let empty = Map::new();
    let values = e.payload.get("values").and_then(Value::as_object).unwrap_or(&empty);
    let what = match e.kind {
        EventKind::NoteAdded => Attempt::AddNote,
        EventKind::VisitRecorded => Attempt::RecordVisit,
        EventKind::ReferralMade => Attempt::MakeReferral,
        _ => Attempt::SaveFormData,
    };
    // A closed case takes one kind of new record: the note of a contact
    // with the child after closure (the planned final contact), which is
    // not a change of the closed record. Transferred and merged cases take
    // nothing.
    let final_contact = f.stage == Stage::Closed
        && e.kind == EventKind::NoteAdded
        && values.get("note_type").and_then(Value::as_str).is_some_and(is_contact_note);
    if !final_contact {
        closed_guard(f, what, out);
    }
    let role = e.role;

    // Role rules (docs/domain.md, Roles).
    if form == "bid" {
        let decision: Vec<&str> =
            values.keys().map(String::as_str).filter(|k| BID_DECISION_FIELDS.contains(k)).collect();
        // bid_id/version identify the record; both sides write them.
        let submission: Vec<&str> = values
            .keys()
            .map(String::as_str)
            .filter(|k| !BID_DECISION_FIELDS.contains(k) && !matches!(*k, "bid_id" | "version"))
            .collect();
        if !decision.is_empty() && !roles::may(role, Action::RecordBidDecision) {
            out.push(RuleViolation::new(
                "role",
                V::OnlyPanelRecordsDecision,
                &[("fields", &decision.join(", ")), ("role", &role)],
            ));
        }
        if !submission.is_empty() && !roles::may(role, Action::RecordCaseData) {
            out.push(RuleViolation::new(
                "role",
                V::RoleMayNotEditSubmission,
                &[("role", &role), ("fields", &submission.join(", "))],
            ));
        }
        if !decision.is_empty() && role == Role::BidPanel && f.stage != Stage::BidPending {
            out.push(RuleViolation::new("transition", V::PanelDecidesInBidPending, &[("stage", &f.stage)]));
        }
    } else if form == "closure_transfer" && role == Role::DataManager {
        // A data manager runs transfers, nothing else of substance.
        let other: Vec<&str> = values
            .keys()
            .map(String::as_str)
            .filter(|k| !matches!(*k, "transfer_status" | "transfer_to" | "transfer_reason"))
            .collect();
        if !other.is_empty() {
            out.push(RuleViolation::new("role", V::DataManagerTransferFieldsOnly, &[("fields", &other.join(", "))]));
        }
    } else if form == crate::model::partner_kinds::REQUEST_FORM && roles::may(role, Action::Transfer) {
        // A data manager runs the office's exchanges with partners abroad
        // (docs/bundle-format.md §11) as it runs transfers.
    } else if !roles::may(role, Action::RecordCaseData) {
        out.push(RuleViolation::new("role", V::RoleMayNotRecordForm, &[("role", &role), ("form", &form)]));
    }
    if form == crate::model::partner_kinds::REQUEST_FORM {
        rule_r4_partner_request(f, e, values, out);
    }
    if form == "closure_transfer" {
        if values.contains_key("closure_approval") && !roles::may(role, Action::ApproveClosure) {
            out.push(RuleViolation::new("R11", V::OnlySupervisorApprovesClosure, &[("role", &role)]));
        }
        if values.get("transfer_status").and_then(Value::as_str).is_some_and(|s| s != "requested")
            && !roles::may(role, Action::Transfer)
        {
            out.push(RuleViolation::new("R12", V::OnlyDataManagerRecordsTransferAnswer, &[]));
        }
    }
    if form == "registration_bia" {
        let approves = values.contains_key("bia_approval")
            || values.get("bia_approval_status").and_then(Value::as_str).is_some_and(|s| s != "pending");
        if approves && !roles::may(role, Action::ApproveBia) {
            out.push(RuleViolation::new("role", V::OnlySupervisorSignsBia, &[("role", &role)]));
        }
        rule_r5(f, role, values, out);
        rule_r10_consent(f, values, out);
        rule_r3_interpreter(f, values, out);
    }
    if matches!(form, "reintegration_uasc" | "reintegration_family") {
        out.extend(crate::model::escort_separation::plan_save(f, form, values));
        if let Some(new) = values.get("signatures") {
            let sv = |v: &Value| -> Vec<Value> {
                v.as_array()
                    .map(|a| {
                        a.iter()
                            .filter(|s| s.get("signatory").and_then(Value::as_str) == Some("supervisor"))
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let old = f.value(form, "signatures").map(sv).unwrap_or_default();
            if sv(new) != old && !roles::may(role, Action::ApprovePlan) {
                out.push(RuleViolation::new("role", V::OnlySupervisorSignsPlan, &[]));
            }
        }
    }

    // R6: detention is never a care arrangement.
    for (cf, field) in CARE_FIELDS {
        if *cf == form && values.get(*field).and_then(Value::as_str).is_some_and(|s| s.contains("detention")) {
            out.push(RuleViolation::new("R6", V::DetentionNotCare, &[]));
        }
    }
    if form == "temporary_care" {
        rule_r6_placement(f, e, values, out);
    }
    if form == "placement" {
        rule_r15_placement(f, e, values, out);
    }
    if form == "family_tracing" {
        rule_r8_item(f, e, values, out);
        if values.get("tracing_status").and_then(Value::as_str) == Some("reunified")
            && !verified_relative(f)
            && !spontaneous_reunification(f)
        {
            out.push(RuleViolation::new("R7", V::ReunificationBeforeVerification, &[]));
        }
    }
    if form == "bid" {
        rule_bid_decision(f, values, out);
    }
    if form == "reunification" {
        rule_r7_reunification_record(f, values, out);
    }
    if form == "case_plan" {
        rule_case_plan_approval(f, role, values, out);
    }
    if e.kind == EventKind::ReferralMade {
        rule_r4_referral(f, values, out);
    }
    if form == "referral" {
        rule_referral_provider(f, e, values, out);
    }
    if form == "closure_transfer" {
        rule_r10_closure(f, values, out);
    }
}

/// A case plan is approved or returned only by a supervisor: the approval
/// itself, its date and the comments that go with it. Anyone who records
/// case data may request approval. An approved plan whose goals or actions
/// someone else changes goes back for approval in the same save, so an
/// approval always covers the plan as it stands.
fn rule_case_plan_approval(f: &CaseFacts, role: Role, values: &Map<String, Value>, out: &mut Vec<RuleViolation>) {
    let new_status = values.get("approval_status").and_then(Value::as_str);
    let decides = new_status.is_some_and(|s| s != "requested")
        || values.contains_key("approval_date")
        || values.contains_key("approval_comments");
    let supervisor = roles::may(role, Action::ApprovePlan);
    if decides && !supervisor {
        out.push(RuleViolation::new("role", V::OnlySupervisorApprovesCasePlan, &[("role", &role)]));
    }
    let changes_plan = ["goals", "actions"].iter().any(|k| values.contains_key(*k));
    if changes_plan
        && !supervisor
        && f.str_value("case_plan", "approval_status") == Some("approved")
        && new_status != Some("requested")
    {
        out.push(RuleViolation::new("role", V::ApprovedPlanChangeRequestsApproval, &[]));
    }
}

/// R7 on a reunification record: one that says it followed verification,
/// or that the adult is the verified one, needs a verified relative on the
/// case; a spontaneous one is recorded as it happened.
fn rule_r7_reunification_record(f: &CaseFacts, values: &Map<String, Value>, out: &mut Vec<RuleViolation>) {
    let after_verification = values.get("reunification_type").and_then(Value::as_str) == Some("after_verification");
    let verified_adult = values.get("verified_adult").and_then(Value::as_bool) == Some(true);
    if (after_verification || verified_adult) && !verified_relative(f) {
        out.push(RuleViolation::new("R7", V::ReunificationRecordNeedsVerification, &[]));
    }
}

/// Who may never interpret for the child (R3): relatives, other children,
/// fellow travellers and anyone linked to the journey.
const R3_LINKED: &[&str] = &["family_member", "other_child", "fellow_traveller", "linked_to_journey"];

/// R3 on a save that touches the interpreter: the interpreter is never
/// someone linked to the child or the journey, and a child who asked for no
/// interpreter has none. Judged on the registration as it will be after the
/// save; a save that leaves the interpreter alone is not held to it, so an
/// old record never blocks an unrelated edit.
fn rule_r3_interpreter(f: &CaseFacts, values: &Map<String, Value>, out: &mut Vec<RuleViolation>) {
    const FIELDS: [&str; 3] = ["interpreter_offer", "interpreter", "interpreter_link"];
    if !FIELDS.iter().any(|k| values.contains_key(*k)) {
        return;
    }
    let after = |k: &str| match values.get(k) {
        Some(v) => Some(v).filter(|v| present(v)),
        None => f.value("registration_bia", k),
    };
    if let Some(link) = after("interpreter_link").and_then(Value::as_str).filter(|l| R3_LINKED.contains(l)) {
        let code = match link {
            "family_member" => V::InterpreterFamilyMember,
            "other_child" => V::InterpreterOtherChild,
            "fellow_traveller" => V::InterpreterFellowTraveller,
            _ => V::InterpreterLinkedToJourney,
        };
        out.push(RuleViolation::new("R3", code, &[]));
    }
    if after("interpreter_offer").and_then(Value::as_str) == Some("declined_by_child") && after("interpreter").is_some()
    {
        out.push(RuleViolation::new("R3", V::InterpreterDeclinedByChild, &[]));
    }
}

/// R5: lowering the risk level from high needs a supervisor; a data manager
/// never changes it.
fn rule_r5(f: &CaseFacts, role: Role, values: &Map<String, Value>, out: &mut Vec<RuleViolation>) {
    let Some(new) = values.get("risk_level") else {
        return;
    };
    let old = f.str_value("registration_bia", "risk_level");
    if role == Role::DataManager {
        out.push(RuleViolation::new("role", V::DataManagerRiskLevel, &[]));
    }
    if old == Some("high") && new.as_str() != Some("high") && !roles::may(role, Action::LowerHighRisk) {
        out.push(RuleViolation::new("R5", V::LoweringHighRiskNeedsSupervisor, &[]));
    }
    if f.stage != Stage::Identified && f.stage != Stage::Registered && f.stage != Stage::BiaInProgress && !present(new)
    {
        out.push(RuleViolation::new("R5", V::RiskLevelCannotBeCleared, &[]));
    }
}

fn date_in(v: &Value) -> Option<NaiveDate> {
    v.get("date").and_then(parse_date)
}

/// R10: a consent record is superseded by a newer dated one, never edited.
fn rule_r10_consent(f: &CaseFacts, values: &Map<String, Value>, out: &mut Vec<RuleViolation>) {
    let Some(old) = f.value("registration_bia", "consent") else {
        return;
    };
    let changes: Vec<&str> = CONSENT_FIELDS
        .iter()
        .copied()
        .filter(|k| values.get(*k).is_some_and(|v| f.value("registration_bia", k) != Some(v)))
        .collect();
    if changes.is_empty() {
        return;
    }
    let newer = match (values.get("consent").and_then(date_in), date_in(old)) {
        (Some(new), Some(old)) => new > old,
        (Some(_), None) => true,
        _ => false,
    };
    if !newer {
        let fields = changes.join(", ");
        out.push(match date_in(old) {
            Some(date) => RuleViolation::new("R10", V::ConsentNeverEdited, &[("fields", &fields), ("date", &date)]),
            None => RuleViolation::new("R10", V::ConsentNeverEditedUndated, &[("fields", &fields)]),
        });
    }
}

/// R10: the closure of a closed case is never edited; after reopening, a new
/// closure supersedes it.
fn rule_r10_closure(f: &CaseFacts, values: &Map<String, Value>, out: &mut Vec<RuleViolation>) {
    if f.stage != Stage::Closed {
        return;
    }
    let touched: Vec<&str> = CLOSURE_FIELDS.iter().copied().filter(|k| values.contains_key(*k)).collect();
    if !touched.is_empty() {
        out.push(RuleViolation::new("R10", V::ClosureNeverEdited, &[("fields", &touched.join(", "))]));
    }
}

/// R9 and R10 on a save of the BID form by the panel.
fn rule_bid_decision(f: &CaseFacts, values: &Map<String, Value>, out: &mut Vec<RuleViolation>) {
    let new_decision = values.get("panel_decision").and_then(Value::as_str);
    if let Some(d) = new_decision {
        if d != "deferred" {
            out.extend(bid_decision_rules(f, values));
        }
    }
    // R10: once a final decision exists, decision fields change only in a new
    // BID version (the old decision stays in the event history).
    let old = f.str_value("bid", "panel_decision");
    if old.is_some_and(|d| d != "deferred") {
        let changed: Vec<&str> = BID_IMMUTABLE
            .iter()
            .copied()
            .filter(|k| values.get(*k).is_some_and(|v| f.value("bid", k) != Some(v)))
            .collect();
        let new_version =
            values.get("version").filter(|v| present(v)).is_some_and(|v| f.value("bid", "version") != Some(v));
        if !changed.is_empty() && !new_version {
            out.push(RuleViolation::new("R10", V::BidDecisionNeverEdited, &[("fields", &changed.join(", "))]));
        }
    }
}

/// R4: identifying data leaves the office in a referral only under a
/// consent that covers referral sharing (or another recorded legitimate
/// basis), and the referral names the consent it relies on.
fn rule_r4_referral(f: &CaseFacts, values: &Map<String, Value>, out: &mut Vec<RuleViolation>) {
    if !values.get("consent_for_referral").is_some_and(present) {
        out.push(RuleViolation::new("R4", V::ReferralConsentMissing, &[]));
    }
    let basis = f.str_value("registration_bia", "legitimate_basis");
    let scoped = f
        .value("registration_bia", "consent_scopes")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|x| x == "referral_sharing"));
    if matches!(basis, None | Some("consent")) && !scoped {
        out.push(RuleViolation::new("R4", V::ConsentScopeNoReferral, &[]));
    }
}

/// The service provider of a referral is chosen from the office's service
/// directory (`provider_id`, value list `service_provider` of the country
/// configuration), not typed: a new referral names one, and free text
/// (`provider`) is written only to a referral that already holds some (a
/// record made before the directory, which stays readable and editable).
fn rule_referral_provider(f: &CaseFacts, e: &Event, values: &Map<String, Value>, out: &mut Vec<RuleViolation>) {
    let existing = existing_item(f, "referral", e);
    let typed_before = existing.is_some_and(|i| i.get("provider").is_some_and(present));
    if values.get("provider").is_some_and(present) && !typed_before {
        out.push(RuleViolation::new("referral", V::ProviderFreeText, &[]));
    }
    let chosen = values.get("provider_id").is_some_and(present)
        || existing.is_some_and(|i| i.get("provider_id").is_some_and(present));
    if e.kind == EventKind::ReferralMade && !chosen {
        out.push(RuleViolation::new("referral", V::ReferralNeedsProvider, &[]));
    }
}

/// The service directory on a referral: the provider chosen offers the
/// referral's service (`offers` reads the directory of the configuration
/// the event is made under, [`forms::FormRegistry::provider_offers`]).
/// Judged on a save that writes the provider or the service, on the item
/// as it will be, and only where the event is made (the store, before it
/// signs): a directory changes — a provider stops offering a service —
/// and a referral made under an earlier one is not refused for it when
/// another device imports it (docs/configuration.md §0). A provider the
/// directory does not know is the value list's business, not this rule's.
pub fn referral_provider_service(
    f: &CaseFacts,
    e: &Event,
    offers: impl Fn(&str, &str) -> Option<bool>,
) -> Option<RuleViolation> {
    if e.form.as_deref() != Some("referral") {
        return None;
    }
    let values = e.payload.get("values")?.as_object()?;
    if !values.contains_key("provider_id") && !values.contains_key("service_type") {
        return None;
    }
    let item = merged_item(f, "referral", e, values);
    let provider = item.get("provider_id").and_then(Value::as_str)?;
    let service = item.get("service_type").and_then(Value::as_str)?;
    (offers(provider, service) == Some(false)).then(|| {
        RuleViolation::new(
            "provider_service",
            V::ProviderLacksService,
            &[("provider", &provider), ("service", &service)],
        )
    })
}

/// R4 and R8 on a request to a partner abroad (docs/bundle-format.md
/// §11.2): a new request (`request_status: sent` on a record that did not
/// exist) needs the consent its kind names and, for a kind about a
/// relative, a safe tracing check. Checked here so that every vault that
/// imports the request's record judges it as the sender did.
fn rule_r4_partner_request(f: &CaseFacts, e: &Event, values: &Map<String, Value>, out: &mut Vec<RuleViolation>) {
    use crate::model::partner_kinds;
    let new_request = existing_item(f, partner_kinds::REQUEST_FORM, e).is_none();
    if !new_request || values.get("request_status").and_then(Value::as_str) != Some("sent") {
        return;
    }
    let kind_id = values.get("request_kind").and_then(Value::as_str).unwrap_or_default();
    let Some(kind) = partner_kinds::kind(kind_id) else {
        out.push(RuleViolation::new("R4", V::UnknownRequestKind, &[("kind", &kind_id)]));
        return;
    };
    let item = values.get("about_item").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok());
    out.extend(partner_kinds::consent_violations(f, kind, item));
}

/// Look up the earlier values of the list item an event edits (facts items
/// may carry `_item`).
fn existing_item<'a>(f: &'a CaseFacts, form: &str, e: &Event) -> Option<&'a Map<String, Value>> {
    let id = e.item()?.to_string();
    f.items(form)
        .iter()
        .filter_map(Value::as_object)
        .find(|o| o.get("_item").and_then(Value::as_str) == Some(id.as_str()))
}

fn merged_item(f: &CaseFacts, form: &str, e: &Event, values: &Map<String, Value>) -> Map<String, Value> {
    let mut m = existing_item(f, form, e).cloned().unwrap_or_default();
    for (k, v) in values {
        m.insert(k.clone(), v.clone());
    }
    m
}

/// R8 on one tracing record: no tracing action or active status while the
/// child objects or tracing is unsafe.
fn rule_r8_item(f: &CaseFacts, e: &Event, values: &Map<String, Value>, out: &mut Vec<RuleViolation>) {
    let item = merged_item(f, "family_tracing", e, values);
    let old = existing_item(f, "family_tracing", e);
    let status = item.get("tracing_status").and_then(Value::as_str).unwrap_or("not_started");
    let active = matches!(status, "in_progress" | "family_located" | "verification_pending" | "verified" | "reunified");
    let actions_added = values.get("tracing_actions").is_some_and(|new| {
        let old_actions = old.and_then(|o| o.get("tracing_actions")).and_then(Value::as_array).map_or(0, Vec::len);
        new.as_array().map_or(0, Vec::len) > old_actions
    });
    if !(active || actions_added) {
        return;
    }
    let unsafe_check = item.get("tracing_safety_check").and_then(Value::as_str).is_some_and(|s| UNSAFE.contains(&s));
    let child_objects = f.str_value("registration_bia", "wants_tracing") == Some("no")
        || item.get("child_consents_contact").and_then(Value::as_bool) == Some(false);
    if status.starts_with("on_hold") || unsafe_check || child_objects {
        let why = if unsafe_check {
            V::TracingActionUnsafe
        } else if child_objects {
            V::TracingActionChildObjects
        } else {
            V::TracingActionOnHold
        };
        out.push(RuleViolation::new("R8", why, &[]));
    }
}

/// R15: only the earliest arrangement on record may be the first one; a
/// later one is a change of care, which asks for a review of the child's
/// status (`tasks::status_review_tasks`), so it must say why it began.
fn rule_r15_placement(f: &CaseFacts, e: &Event, values: &Map<String, Value>, out: &mut Vec<RuleViolation>) {
    let item = merged_item(f, "placement", e, values);
    if item.get("change_reason").and_then(Value::as_str) != Some("first_arrangement") {
        return;
    }
    let Some(start) = item.get("start_date").and_then(parse_date) else {
        return;
    };
    let this = e.item().map(|i| i.to_string());
    let earlier = f.items("placement").iter().any(|p| {
        p.get("_item").and_then(Value::as_str) != this.as_deref()
            && p.get("start_date").and_then(parse_date).is_some_and(|d| d < start)
    });
    if earlier {
        out.push(RuleViolation::new("R15", V::EarlierCareArrangement, &[]));
    }
}

/// R6: a temporary-care placement passes only if every F5 mandatory item is true.
fn rule_r6_placement(f: &CaseFacts, e: &Event, values: &Map<String, Value>, out: &mut Vec<RuleViolation>) {
    let item = merged_item(f, "temporary_care", e, values);
    let result = item.get("result").and_then(Value::as_str);
    if !matches!(result, Some("meets" | "meets_with_actions")) {
        return;
    }
    let group = match item.get("provider_type").and_then(Value::as_str) {
        Some("foster_family" | "kinship_foster") => "foster",
        _ => "facility",
    };
    let failed: Vec<&str> = F5_MANDATORY
        .iter()
        .filter(|(_, applies)| applies.is_none_or(|g| g == group))
        .filter(|(k, _)| item.get(*k).and_then(Value::as_bool) != Some(true))
        .map(|(k, _)| *k)
        .collect();
    if !failed.is_empty() {
        out.push(RuleViolation::new("R6", V::PlacementStandardsNotMet, &[("standards", &failed.join(", "))]));
    }
    out.extend(crate::model::escort_separation::separation_not_ensured(&failed));
}

/// Whether a JSON value holds something.
pub fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}
