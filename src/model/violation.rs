//! The codes of what a broken case rule says: every [`RuleViolation`]
//! carries one (`closure_reason_missing`, `role_may_not`, …, never reused
//! for another meaning) with its named parameters, beside the English
//! sentence the CLI prints and `Display` shows. An interface translates the
//! code with its parameters (the desktop app's `violation.<code>`), as it
//! does for error codes (`crate::codes`) and score explanations
//! (`crate::search::explain`).
//!
//! [`ViolationCode`] is the one table: each code with the parameters it
//! always gives and its English template (`{name}` placeholders). A rule
//! can only name a code of the table (it is an enum), and
//! [`RuleViolation::new`] checks in debug builds that a site gives exactly
//! the code's parameters. The desktop app exports the table for its
//! catalogue test, which fails when a code has no message in a language or
//! a message uses a parameter the code does not give.
//!
//! Parameter values are the library's own words: stages, roles and the
//! [`Attempt`] of `action` are codes (the window shows their labels); a list
//! of roles is joined with " or ", a list of stages with " and ", a list of
//! fields with ", ".
//!
//! [`RuleViolation`]: crate::model::lifecycle::RuleViolation
//! [`RuleViolation::new`]: crate::model::lifecycle::RuleViolation::new

use std::collections::BTreeMap;

macro_rules! violation_codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal [$($p:literal),*] $template:literal; )*) => {
        /// Every code a rule violation can carry (see the module's doc).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ViolationCode {
            $( #[doc = $template] $variant, )*
        }

        impl ViolationCode {
            /// Every code, in the table's order.
            pub const ALL: &'static [ViolationCode] = &[$(ViolationCode::$variant),*];

            /// The stable code.
            pub fn code(self) -> &'static str {
                match self { $(ViolationCode::$variant => $code,)* }
            }

            /// The names of the parameters this code always gives.
            pub fn params(self) -> &'static [&'static str] {
                match self { $(ViolationCode::$variant => &[$($p),*],)* }
            }

            /// The English template (`{name}` placeholders).
            pub fn template(self) -> &'static str {
                match self { $(ViolationCode::$variant => $template,)* }
            }

            /// The code named `code`, if the table has it.
            pub fn parse(code: &str) -> Option<ViolationCode> {
                ViolationCode::ALL.iter().copied().find(|c| c.code() == code)
            }
        }
    };
}

violation_codes! {
    // Roles and who may act.
    ViewerRecordsNothing = "viewer_records_nothing" [] "a reporting viewer records nothing";
    RoleMayNot = "role_may_not" ["role", "action"] "a {role} may not {action}";
    RoleMayNotResolveField = "role_may_not_resolve_field" ["role", "form", "field", "roles"] "a {role} may not resolve a conflict on field {form}.{field}: that is for a {roles}";
    RoleMayNotResolveProtectedField = "role_may_not_resolve_protected_field" ["role", "form", "field", "roles"] "a {role} may not resolve a conflict on protected field {form}.{field}: that is for a {roles}";
    RoleMayNotResolveStage = "role_may_not_resolve_stage" ["role", "roles"] "a {role} may not resolve a stage conflict: that is for a {roles}";
    RoleMayNotAssign = "role_may_not_assign" ["role"] "a {role} may not assign a case";
    RoleMayNotAssignOthers = "role_may_not_assign_others" ["role"] "a {role} may not assign a case to someone else";
    RoleMayNotRecordForm = "role_may_not_record_form" ["role", "form"] "a {role} may not record case data ({form})";
    RoleMayNotEditSubmission = "role_may_not_edit_submission" ["role", "fields"] "a {role} may not edit the BID submission ({fields})";
    RoleMayNotErase = "role_may_not_erase" ["role"] "a {role} may not request or approve an erasure: that is for a supervisor and a data manager";
    TransitionRole = "transition_role" ["from", "to", "roles", "role"] "moving {from} → {to} is for a {roles}, not a {role}";
    OnlyPanelRecordsDecision = "only_panel_records_decision" ["fields", "role"] "only the BID panel records a BID decision ({fields}); not a {role}";
    OnlySupervisorApprovesClosure = "only_supervisor_approves_closure" ["role"] "only a supervisor approves a closure; not a {role}";
    OnlySupervisorSignsBia = "only_supervisor_signs_bia" ["role"] "only a supervisor signs off a BIA; not a {role}";
    OnlySupervisorApprovesCasePlan = "only_supervisor_approves_case_plan" ["role"] "only a supervisor approves or returns a case plan; not a {role}";
    OnlySupervisorSignsPlan = "only_supervisor_signs_plan" [] "only a supervisor signs a reintegration plan as supervisor";
    OnlyDataManagerRecordsTransferAnswer = "only_data_manager_records_transfer_answer" [] "only the data manager records the receiving office's answer to a transfer";
    DataManagerTransferFieldsOnly = "data_manager_transfer_fields_only" ["fields"] "a data manager may only record transfer fields, not {fields}";
    DataManagerRiskLevel = "data_manager_risk_level" [] "a data manager does not change a risk level";
    ApprovedPlanChangeRequestsApproval = "approved_plan_change_requests_approval" [] "the case plan is approved: changing its goals or actions requests approval again (approval_status requested)";
    // Assignment.
    AssignmentNamesCaseworker = "assignment_names_caseworker" [] "an assignment names the caseworker (payload.caseworker)";
    CaseworkerTakesOwnCase = "caseworker_takes_own_case" ["role"] "a {role} takes only a case they registered that nobody else is assigned to; a supervisor or the office assigns any other case";
    // Stages and transitions.
    UnknownStage = "unknown_stage" ["name"] "unknown stage \"{name}\"";
    AlreadyAtStage = "already_at_stage" ["stage"] "the case is already {stage}";
    NoSuchTransition = "no_such_transition" ["from", "to"] "a case cannot move from {from} to {to}";
    ReasonNeeded = "reason_needed" ["to"] "moving to {to} needs a reason";
    CaseReadOnly = "case_read_only" ["stage", "action"] "the case is {stage}: it accepts no new data ({action}) until it is reopened";
    SplitNeedsDuplicate = "split_needs_duplicate" ["stage"] "only a merged (duplicate) case can be split; this one is {stage}";
    RequiredBeforeStage = "required_before_stage" ["to", "fields"] "before {to}, record: {fields}";
    SuspendNeedsAttempts = "suspend_needs_attempts" [] "log the attempts to reach the child (a note or visit) before suspending";
    // Stage conflicts and field conflicts.
    NoStageConflict = "no_stage_conflict" [] "the stage has no conflict to resolve";
    StageResolutionNamesHead = "stage_resolution_names_head" [] "a stage conflict is settled by choosing one of the concurrent stage changes (payload.chosen)";
    StageResolutionWrongStage = "stage_resolution_wrong_stage" ["stage"] "the chosen stage change leads to {stage}, not to the stage the resolution names";
    StageInConflict = "stage_in_conflict" ["stages", "roles"] "the stage is in conflict (concurrent changes to {stages}); a {roles} must choose one before it moves again";
    ResolutionValueNotHead = "resolution_value_not_head" ["form", "field"] "{form}.{field}: the resolution's value is not the value of the head it keeps";
    ProtectedFieldNeedsChoice = "protected_field_needs_choice" ["form", "field"] "{form}.{field}: a protected field is settled by choosing one of the values in conflict (payload.chosen), never a new value";
    // Registration, consent and BIA (R2, R4, R5).
    ConsentBasisWithoutConsent = "consent_basis_without_consent" [] "the legitimate basis is consent but no consent/assent is recorded";
    BiaChildViewsMissing = "bia_child_views_missing" [] "the child's views (or the reason they could not be obtained) are not recorded in the BIA";
    BiaHeardAloneMissing = "bia_heard_alone_missing" [] "the BIA does not say whether the child was heard alone";
    BiaApprovalMissing = "bia_approval_missing" [] "the supervisor's BIA approval is not recorded";
    LoweringHighRiskNeedsSupervisor = "lowering_high_risk_needs_supervisor" [] "lowering the risk level from high needs a supervisor";
    RiskLevelCannotBeCleared = "risk_level_cannot_be_cleared" [] "the risk level cannot be cleared after the BIA is completed";
    ConsentNeverEdited = "consent_never_edited" ["fields", "date"] "a consent record is never edited ({fields}): record a new consent dated after the one of {date}";
    ConsentNeverEditedUndated = "consent_never_edited_undated" ["fields"] "a consent record is never edited ({fields}): record a new consent dated after the one of unknown date";
    PhotoNeedsConsent = "photo_needs_consent" [] "a photo needs the child's recorded consent with the scope photo_use (registration_bia consent_scopes)";
    ReferralConsentMissing = "referral_consent_missing" [] "the referral does not record the consent covering it";
    ConsentScopeNoReferral = "consent_scope_no_referral" [] "the child's consent does not cover referral sharing (consent scope referral_sharing)";
    // Interpreter (R3).
    InterpreterFamilyMember = "interpreter_family_member" [] "the interpreter may not be a family member: use a professional interpreter or one unknown to the child";
    InterpreterOtherChild = "interpreter_other_child" [] "the interpreter may not be a other child: use a professional interpreter or one unknown to the child";
    InterpreterFellowTraveller = "interpreter_fellow_traveller" [] "the interpreter may not be a fellow traveller: use a professional interpreter or one unknown to the child";
    InterpreterLinkedToJourney = "interpreter_linked_to_journey" [] "the interpreter may not be a linked to journey: use a professional interpreter or one unknown to the child";
    InterpreterDeclinedByChild = "interpreter_declined_by_child" [] "the child asked for no interpreter: record none (or record that the child accepted one)";
    // Tracing (R8).
    ChildRefusesTracing = "child_refuses_tracing" [] "the child has not agreed to tracing";
    TracingWishMissing = "tracing_wish_missing" [] "the child's wish about tracing is not recorded";
    TracingUnsafe = "tracing_unsafe" [] "tracing could endanger the child or family (safety check is unsafe)";
    TracingNotForCase = "tracing_not_for_case" [] "tracing is for UASC or a child missing family members (BIA recommends tracing)";
    TracingActionUnsafe = "tracing_action_unsafe" [] "tracing could endanger the child or family: no tracing action can be recorded (set tracing_status to on_hold_safety / on_hold_child_objects)";
    TracingActionChildObjects = "tracing_action_child_objects" [] "the child objects to tracing this person: no tracing action can be recorded (set tracing_status to on_hold_safety / on_hold_child_objects)";
    TracingActionOnHold = "tracing_action_on_hold" [] "tracing is on hold: no tracing action can be recorded (set tracing_status to on_hold_safety / on_hold_child_objects)";
    NoRelativeLocated = "no_relative_located" [] "no relative is recorded as located";
    TracingOutcomeMissing = "tracing_outcome_missing" [] "the tracing outcome (unsuccessful or unsafe) is not recorded";
    FamilyAssessmentMissing = "family_assessment_missing" [] "no family assessment with willingness, capacity and safety is recorded";
    // Verification and reunification (R2, R7).
    VerificationChildWishesMissing = "verification_child_wishes_missing" [] "the child's wishes are not recorded in the verification";
    VerificationOutcomeMissing = "verification_outcome_missing" [] "no verification outcome is recorded";
    ReunificationAwaitsVerification = "reunification_awaits_verification" [] "no relative is verified: reunification must wait for verification";
    ReunificationBeforeVerification = "reunification_before_verification" [] "no reunification before verification: no relative is verified";
    ReunificationRecordNeedsVerification = "reunification_record_needs_verification" [] "no relative is verified: record this reunification as spontaneous (verified after the fact) or verify first";
    // BID (R1a, R9, R10).
    DirectBidNeedsBidRequired = "direct_bid_needs_bid_required" [] "a direct BID referral needs bid_required = yes in the BIA";
    NoBidNeedsBidNotRequired = "no_bid_needs_bid_not_required" [] "going to a solution without BID needs bid_required = no in the BIA";
    UascSolutionNeedsBid = "uasc_solution_needs_bid" [] "a durable solution for an unaccompanied or separated child always needs a BID";
    OnlySeparatedChildSkipsBid = "only_separated_child_skips_bid" [] "only a separated child reunifying in the same country may skip the BID; this needs a BID decision";
    PanelQuorum = "panel_quorum" ["count"] "the panel has {count} different voting members present; a BID decision needs at least 3";
    MemberConflictOfInterest = "member_conflict_of_interest" ["member"] "{member} declared a conflict of interest and may not vote";
    UnnamedMemberConflictOfInterest = "unnamed_member_conflict_of_interest" [] "a member declared a conflict of interest and may not vote";
    DecisionSignedByOther = "decision_signed_by_other" ["by", "chair"] "the decision is signed by {by}, not by the chair {chair}";
    NoChairPresent = "no_chair_present" [] "no chair of the panel is present";
    SeveralChairs = "several_chairs" ["count"] "the panel has {count} chairs present; it has one";
    SupervisorAloneOnPanel = "supervisor_alone_on_panel" ["supervisor", "others"] "{supervisor} supervises this case and may not sit alone on its panel: {others} other voting member(s) present, at least 2 needed";
    SubmissionAuthorVotes = "submission_author_votes" ["member"] "{member} wrote the submission and may not vote on it";
    DecisionReasonsMissing = "decision_reasons_missing" [] "the decision needs its full reasons";
    DissentIncomplete = "dissent_incomplete" [] "each dissent must name the member and give reasons";
    DecidedSolutionMissing = "decided_solution_missing" [] "the decided solution is missing";
    BidInterviewMissing = "bid_interview_missing" [] "the child's BID interview and views are not recorded";
    DecisionDeferred = "decision_deferred" [] "a deferred decision keeps the case in bid_pending";
    DecisionNotDeciding = "decision_not_deciding" ["decision"] "panel decision {decision} does not decide the case";
    PanelDecisionMissing = "panel_decision_missing" [] "no panel decision is recorded";
    ClosureNeedsCaseClosedDecision = "closure_needs_case_closed_decision" [] "the panel can only send a case to closure with the decision case_closed";
    PanelDecidesInBidPending = "panel_decides_in_bid_pending" ["stage"] "the panel decides cases in bid_pending; this case is {stage}";
    BidDecisionNeverEdited = "bid_decision_never_edited" ["fields"] "a BID decision is never edited ({fields}): record a new BID version (bump `version`) that supersedes it";
    NoSolutionToImplement = "no_solution_to_implement" [] "the BID has no decided solution to implement";
    // Return of a UASC (R1).
    NoBidApprovingReturn = "no_bid_approving_return" [] "no BID decision approving the return is recorded";
    NoGuardian = "no_guardian" [] "no legal guardian is identified";
    GuardianNotNotified = "guardian_not_notified" [] "the legal guardian has not been notified of the return (date and means in the pre-return checklist)";
    FamilyNotTraced = "family_not_traced" [] "the family has not been traced";
    RelationshipNotVerified = "relationship_not_verified" [] "the family relationship is not verified";
    FamilyNotWilling = "family_not_willing" [] "the family's willingness to care for the child is not recorded as yes";
    FamilyCapacityInadequate = "family_capacity_inadequate" [] "the family's capacity to care is not assessed as adequate";
    ReturnRiskAssessmentMissing = "return_risk_assessment_missing" [] "no risk/safety assessment of the return location is recorded";
    ReturnUnsafe = "return_unsafe" [] "the risk assessment finds the return unsafe";
    ReturnChildViewsMissing = "return_child_views_missing" [] "the child's views on the return are not recorded";
    TraffickedChildNotAgreeing = "trafficked_child_not_agreeing" [] "a trafficked child must have expressed the wish or freely agreed to return";
    ReceivingActorMissing = "receiving_actor_missing" [] "no receiving child-protection actor in the country of origin is named";
    ReintegrationPlanMissing = "reintegration_plan_missing" [] "no reintegration plan is drafted";
    // Reintegration and care (R6, R14, R15).
    ReintegrationPlanNotDrafted = "reintegration_plan_not_drafted" ["plan"] "no reintegration plan ({plan}) is drafted";
    PlanNotSignedBySupervisor = "plan_not_signed_by_supervisor" [] "the reintegration plan has no supervisor signature";
    DetentionNotCare = "detention_not_care" [] "detention is never a care arrangement: record the protection concern deprived_of_liberty and act urgently";
    PlacementStandardsNotMet = "placement_standards_not_met" ["standards"] "the placement cannot pass: mandatory standards not met ({standards})";
    EarlierCareArrangement = "earlier_care_arrangement" [] "an earlier care arrangement is recorded: this one is a change of care (give the reason it began), and the child's status is reviewed";
    GirlMaleEscortOnly = "girl_male_escort_only" [] "a girl travels with a female escort: the plan names a male escort only; put a woman among the escorts, or record why no escort is needed";
    ChildMaleEscortOnly = "child_male_escort_only" [] "a child whose sex is other or unknown travels with a female escort: the plan names a male escort only; put a woman among the escorts, or record why no escort is needed";
    EscortNotRecorded = "escort_not_recorded" ["plan"] "the reintegration plan does not say who escorts the child during travel ({plan}.escort_sex)";
    ChildrenNotSeparated = "children_not_separated" [] "children are not separated by sex and age in this facility: it cannot pass its check (record it as not meeting the standards, and separate the children or move the child)";
    // Closure (R10, R11, R13).
    ClosureReasonMissing = "closure_reason_missing" [] "the closure reason is not recorded (closure form)";
    ClosureDetailsMissing = "closure_details_missing" [] "the closure details are not recorded";
    Turned18NeedsTransitionPlan = "turned_18_needs_transition_plan" [] "closure as turned_18 needs a transition plan";
    DisputedAgeTurns18Later = "disputed_age_turns_18_later" ["date"] "the age is disputed: by the declared age the child turns 18 on {date}, so the case stays open until then";
    DisputedAgeNoDeclaredAge = "disputed_age_no_declared_age" [] "the age is disputed and no declared age is recorded: the child is treated as a child";
    LostContactDateMissing = "lost_contact_date_missing" [] "closure as lost_contact needs the date of last contact";
    LostContactTooRecent = "lost_contact_too_recent" ["last"] "closure as lost_contact needs 3 months without contact; last contact was {last}";
    LostContactNoAttempts = "lost_contact_no_attempts" [] "closure as lost_contact needs logged attempts to reach the child";
    EarlyClosureNeedsOverride = "early_closure_needs_override" [] "closing before 6 months of follow-up needs an override reason";
    ClosureApprovalMissing = "closure_approval_missing" [] "the supervisor's closure approval is not recorded";
    ClosureNeverEdited = "closure_never_edited" ["fields"] "a closure is never edited ({fields}): reopen the case and record a new closure";
    // Transfer (R4, R12).
    TransferConsentMissing = "transfer_consent_missing" [] "no consent (or documented basis) covers the cross-border transfer";
    ConsentScopeNoTransfer = "consent_scope_no_transfer" [] "the child's consent does not cover a cross-border transfer (consent scope cross_border_transfer)";
    TransferNotAccepted = "transfer_not_accepted" [] "the receiving office has not accepted the transfer";
    ReceivingOfficeNotNamed = "receiving_office_not_named" [] "the receiving office is not named";
    // Referrals.
    ProviderFreeText = "provider_free_text" [] "choose the service provider from the office's service directory (provider_id), not as free text";
    ReferralNeedsProvider = "referral_needs_provider" [] "a new referral names its service provider from the office's service directory (provider_id)";
    ProviderLacksService = "provider_lacks_service" ["provider", "service"] "the service provider {provider} does not offer the service {service} (office's service directory): choose a provider that offers it";
    // Requests to partners abroad (R4, R8).
    UnknownRequestKind = "unknown_request_kind" ["kind"] "unknown kind of partner request \"{kind}\"";
    PartnerRequestNoConsent = "partner_request_no_consent" ["kind"] "no consent of the child or guardian is recorded (registration_bia.consent): a {kind} request shares the child's data across a border";
    PartnerRequestScopeMissing = "partner_request_scope_missing" ["scopes", "kind"] "the consent does not cover {scopes} (consent_scopes), which a {kind} request needs";
    PartnerRequestNoTracingRecord = "partner_request_no_tracing_record" [] "the request names no tracing record of this case, so no safety check covers it";
    PartnerRequestTracingUnsafe = "partner_request_tracing_unsafe" [] "the tracing safety check of this relative does not say safe: contacting the family could endanger the child or family";
    ChildObjectsToContact = "child_objects_to_contact" [] "the child objects to this person being contacted";
    // Erasure.
    ErasedByTwoSignatures = "erased_by_two_signatures" [] "a case is erased by two signatures now: a request (case.erasure_requested) and an approval (case.erasure_approved) by a supervisor and a data manager";
    ErasedStandInNotErased = "erased_stand_in_not_erased" [] "this stands in for an event of an erased case, and the case is not erased here";
    AlreadyErased = "already_erased" [] "the case is already erased";
    UnknownErasureReason = "unknown_erasure_reason" ["reason", "reasons"] "unknown erasure reason \"{reason}\"; use one of {reasons}";
    NoErasureRequest = "no_erasure_request" [] "there is no erasure request to approve";
    ApprovalNamesRequest = "approval_names_request" ["request"] "the approval must name the pending request {request}";
    ApprovalSameRole = "approval_same_role" ["role"] "the request was made by a {role}: the approval must come from the other role (one supervisor and one data manager sign)";
    ApprovalSamePerson = "approval_same_person" [] "the person who requested the erasure may not approve it";
    ApprovalSameKey = "approval_same_key" [] "the request was signed with this same key: the approval must be signed by another person's key (another device)";
    ApprovalReasonDiffers = "approval_reason_differs" ["reason"] "the approval's reason must be the request's ({reason})";
    // Inquiries.
    InquiryFormOnCase = "inquiry_form_on_case" [] "the inquiry form belongs to an inquiry, not to the case of a child";
    InquiryOtherForm = "inquiry_other_form" ["form"] "an inquiry holds only the inquiry form, not {form}; register a case for the child to record more";
    InquiryNoLifecycle = "inquiry_no_lifecycle" ["kind"] "an inquiry has no lifecycle: {kind} does not apply (its status field says open, matched or closed)";
    InquiryIncomplete = "inquiry_incomplete" ["fields"] "the inquiry is incomplete or invalid: {fields}";
}

macro_rules! attempts {
    ($( $variant:ident = $code:literal $english:literal; )*) => {
        /// What a person tried to do, as the parameter `action` of
        /// [`ViolationCode::RoleMayNot`] and [`ViolationCode::CaseReadOnly`]
        /// names it: a code, shown in English as the phrase beside it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Attempt {
            $( #[doc = $english] $variant, )*
        }

        impl Attempt {
            /// Every attempt, in order.
            pub const ALL: &'static [Attempt] = &[$(Attempt::$variant),*];

            /// The stable code.
            pub fn code(self) -> &'static str {
                match self { $(Attempt::$variant => $code,)* }
            }

            /// The English phrase ("register a case").
            pub fn english(self) -> &'static str {
                match self { $(Attempt::$variant => $english,)* }
            }
        }
    };
}

attempts! {
    RegisterCase = "register_case" "register a case";
    AddAttachment = "add_attachment" "add an attachment";
    MergeDuplicates = "merge_duplicates" "merge duplicate cases";
    ReviewDuplicates = "review_duplicates" "review suspected duplicates";
    SplitCase = "split_case" "split a merged case";
    TransferCase = "transfer_case" "transfer a case";
    RequestErasure = "request_erasure" "request or approve an erasure";
    AddNote = "add_note" "add a note";
    RecordVisit = "record_visit" "record a visit";
    MakeReferral = "make_referral" "make a referral";
    SaveFormData = "save_form_data" "save form data";
}

impl std::fmt::Display for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// The English sentence of `code` with `params` filled in (an `action`
/// given as an [`Attempt`] code reads as its phrase). A code not in the
/// table (a newer peer's) reads as the code and its values.
pub fn english(code: &str, params: &BTreeMap<String, String>) -> String {
    let Some(known) = ViolationCode::parse(code) else {
        let values: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        return format!("{code} {}", values.join(" ")).trim_end().to_string();
    };
    let mut out = known.template().to_string();
    for (k, v) in params {
        let v = match k.as_str() {
            "action" => Attempt::ALL.iter().find(|a| a.code() == v).map_or(v.as_str(), |a| a.english()),
            _ => v.as_str(),
        };
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_uses_exactly_its_parameters_and_codes_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ViolationCode::ALL {
            assert!(seen.insert(c.code()), "{} twice", c.code());
            assert!(c.code().chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'));
            for p in c.params() {
                assert!(c.template().contains(&format!("{{{p}}}")), "{} does not show {p}", c.code());
            }
            let filled = english(c.code(), &c.params().iter().map(|p| (p.to_string(), "x".to_string())).collect());
            assert!(!filled.contains('{'), "{}: {filled}", c.code());
            assert_eq!(ViolationCode::parse(c.code()), Some(*c));
        }
        let mut attempts = std::collections::BTreeSet::new();
        for a in Attempt::ALL {
            assert!(attempts.insert(a.code()), "{} twice", a.code());
        }
    }

    #[test]
    fn english_fills_the_values_and_an_unknown_code_still_reads() {
        let p: BTreeMap<String, String> =
            [("role".to_string(), "viewer".to_string()), ("action".to_string(), "register_case".to_string())].into();
        assert_eq!(english("role_may_not", &p), "a viewer may not register a case");
        assert_eq!(english("from_the_future", &p), "from_the_future action=register_case role=viewer");
    }
}
