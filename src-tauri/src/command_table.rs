// The one table of the commands the window may invoke: each
// command's function, the parameters Tauri fills in itself (in brackets:
// managed state, the app handle), the parameters the UI sends (in
// parentheses, by these names, camelCased on the wire) and its return type.
//
// Everything else is generated from it, so a command's name is written once:
// - main.rs registers the commands with `command_table!(register)`
//   (`generate_handler!` over the function paths);
// - build.rs `include!`s this file and gives the names to tauri-build, which
//   writes the `allow-…` permissions; it fails the build when
//   capabilities/default.json does not grant exactly these;
// - commands_ts.rs compiles one call of each function with the table's
//   parameter and return types (a mismatch is a compile error) and its test
//   writes ui/src/lib/bindings/commands.ts (the `Commands` map and `call`).
//
// The UI parameter *names* cannot be checked by the compiler (Tauri reads
// them from the function's own parameter list); a test in commands_ts.rs
// compares them with the source of each `#[tauri::command]`.
//
// This file is plain `//` comments and macros so build.rs can include it.

/// Expands `$then! { entries }` with the command table: `sync`/`async`,
/// `module::function`, `[injected params]`, `(UI params)`, `-> return type`.
macro_rules! command_table {
    ($then:ident) => {
        $then! {
            sync commands::vault_info [session: State<'_, Session>] () -> VaultInfo;
            async commands::unlock [session: State<'_, Session>] (passphrase: String) -> Result<UnlockedInfo, UiError>;
            sync commands::check_passphrase [] (passphrase: String, user_name: String) -> PassphraseCheck;
            async commands::create_vault [session: State<'_, Session>] (new: NewVault) -> Result<UnlockedInfo, UiError>;
            async commands::lock [session: State<'_, Session>] () -> Result<(), UiError>;
            sync commands::get_actor [session: State<'_, Session>] () -> Result<ActorDto, UiError>;
            async commands::switch_person [session: State<'_, Session>]
                (user: String, passphrase: String) -> Result<ActorDto, UiError>;
            async commands::add_person [session: State<'_, Session>]
                (user: String, role: String, passphrase: String) -> Result<(), UiError>;
            async commands::form_definitions [session: State<'_, Session>] () -> Result<Vec<FormDefDto>, UiError>;
            async commands::list_cases [session: State<'_, Session>] () -> Result<Vec<CaseRow>, UiError>;
            async commands::case_detail [session: State<'_, Session>] (case: String) -> Result<CaseDetailDto, UiError>;
            async commands::create_case [session: State<'_, Session>]
                (case_type: String, office: String) -> Result<String, UiError>;
            async commands::save_form [session: State<'_, Session>]
                (case: String, form: String, item: Option<String>, values: Map<String, Value>)
                -> Result<Option<String>, UiError>;
            async commands::validate_form [session: State<'_, Session>]
                (case: String, form: String, values: Map<String, Value>, complete: bool)
                -> Result<Vec<FieldErrorDto>, UiError>;
            async commands::change_stage [session: State<'_, Session>]
                (case: String, to: String, reason: String) -> Result<(), UiError>;
            async commands::add_note [session: State<'_, Session>]
                (case: String, values: Map<String, Value>) -> Result<String, UiError>;
            async commands::record_visit [session: State<'_, Session>]
                (case: String, values: Map<String, Value>) -> Result<String, UiError>;
            async commands::make_referral [session: State<'_, Session>]
                (case: String, values: Map<String, Value>) -> Result<String, UiError>;
            async commands::assign_case [session: State<'_, Session>]
                (case: String, caseworker: String) -> Result<(), UiError>;
            async commands::assign_cases [session: State<'_, Session>]
                (cases: Vec<String>, to: String) -> Result<usize, UiError>;
            async commands::reassign_all [session: State<'_, Session>]
                (from: String, to: String) -> Result<usize, UiError>;
            async commands::request_erasure [session: State<'_, Session>]
                (case: String, reason: String) -> Result<(), UiError>;
            async commands::approve_erasure [session: State<'_, Session>] (case: String) -> Result<(), UiError>;
            async commands::case_history [session: State<'_, Session>] (case: String) -> Result<Vec<AuditDto>, UiError>;
            async commands::all_tasks [session: State<'_, Session>] () -> Result<Vec<TaskDto>, UiError>;
            async commands::add_attachment [session: State<'_, Session>]
                (case: String, name: String, mime: String, base64: String) -> Result<String, UiError>;
            async commands::get_attachment [session: State<'_, Session>]
                (blob: String, mime: String) -> Result<AttachmentData, UiError>;
            async dialog_commands::choose_path [app: AppHandle]
                (kind: String, file_name: Option<String>, start: Option<String>) -> Result<Option<String>, UiError>;
            async dialog_commands::add_attachment_file [app: AppHandle, session: State<'_, Session>]
                (case: String) -> Result<Option<String>, UiError>;
            async sync_commands::sync_overview [session: State<'_, Session>] () -> Result<SyncOverview, UiError>;
            async folder_commands::sync_folder_status [session: State<'_, Session>, watch: State<'_, FolderWatch>]
                () -> Result<FolderView, UiError>;
            async folder_commands::sync_folder_set [session: State<'_, Session>, watch: State<'_, FolderWatch>]
                (path: Option<String>) -> Result<FolderView, UiError>;
            async folder_commands::sync_folder_now [session: State<'_, Session>, watch: State<'_, FolderWatch>]
                () -> Result<FolderView, UiError>;
            async sync_commands::sync_places [] () -> Result<Vec<SyncPlace>, UiError>;
            async sync_commands::sync_find_files []
                (kind: String, extra: Option<String>) -> Result<Vec<FoundFile>, UiError>;
            async sync_commands::sync_export [session: State<'_, Session>]
                (path: String, progress: Channel<SyncProgress>) -> Result<WrittenFile, UiError>;
            async sync_commands::sync_preview_import [session: State<'_, Session>, pending: State<'_, PendingImport>]
                (path: String, progress: Channel<SyncProgress>) -> Result<ImportOutcome, UiError>;
            async sync_commands::sync_apply_import [session: State<'_, Session>, pending: State<'_, PendingImport>]
                (path: String, progress: Channel<SyncProgress>) -> Result<ImportOutcome, UiError>;
            async sync_commands::sync_cancel_import [pending: State<'_, PendingImport>] () -> Result<(), UiError>;
            async sync_commands::sync_answer_transfer [session: State<'_, Session>, pending: State<'_, PendingImport>]
                (path: String, accept: bool, reason: Option<String>, receipt: String, progress: Channel<SyncProgress>)
                -> Result<TransferAnswered, UiError>;
            async sync_commands::sync_enrollment_request [session: State<'_, Session>]
                (path: String) -> Result<WrittenFile, UiError>;
            async sync_commands::office_devices [session: State<'_, Session>] () -> Result<Vec<DeviceEntry>, UiError>;
            async sync_commands::office_read_request [session: State<'_, Session>]
                (path: String) -> Result<EnrollmentRequestView, UiError>;
            async sync_commands::office_approve [session: State<'_, Session>]
                (request: String, role: String, additional_device_of: Option<String>, out: String,
                 progress: Channel<SyncProgress>)
                -> Result<WrittenFile, UiError>;
            async sync_commands::office_revoke [session: State<'_, Session>] (device: String) -> Result<(), UiError>;
            async sync_commands::office_export_for_device [session: State<'_, Session>]
                (device: String, path: String, progress: Channel<SyncProgress>) -> Result<WrittenFile, UiError>;
            async sync_commands::office_conflicts [session: State<'_, Session>]
                () -> Result<Vec<ConflictEntry>, UiError>;
            async sync_commands::office_resolve_conflict [session: State<'_, Session>]
                (case: String, form: String, item: Option<String>, field: String, event: String) -> Result<(), UiError>;
            async sync_commands::office_case_choices [session: State<'_, Session>]
                () -> Result<Vec<CaseChoice>, UiError>;
            async sync_commands::office_transfer [session: State<'_, Session>]
                (case: String, to_recipient: String, to_key: String, path: String, progress: Channel<SyncProgress>)
                -> Result<WrittenFile, UiError>;
            async sync_commands::office_transfers [session: State<'_, Session>]
                () -> Result<Vec<SentTransfer>, UiError>;
            async sync_commands::office_quarantine [session: State<'_, Session>]
                () -> Result<Vec<QuarantineEntry>, UiError>;
            async sync_commands::office_quarantine_retry [session: State<'_, Session>]
                (event: String) -> Result<bool, UiError>;
            async sync_commands::office_quarantine_discard [session: State<'_, Session>]
                (event: String, reason: String) -> Result<(), UiError>;
            async sync_commands::sync_refused [session: State<'_, Session>] () -> Result<Vec<RefusedChange>, UiError>;
            async sync_commands::office_duplicates [session: State<'_, Session>]
                () -> Result<Vec<DuplicateEntry>, UiError>;
            async sync_commands::office_not_duplicate [session: State<'_, Session>]
                (case: String, other: String) -> Result<(), UiError>;
            async sync_commands::office_merge [session: State<'_, Session>]
                (duplicate: String, into: String) -> Result<(), UiError>;
            async partner_commands::partner_list [session: State<'_, Session>] () -> Result<Vec<PartnerEntry>, UiError>;
            async partner_commands::partner_kinds [] () -> Result<Vec<RequestKindEntry>, UiError>;
            async partner_commands::partner_preview [session: State<'_, Session>]
                (case: String, kind: String, about: Option<String>) -> Result<RequestPreviewDto, UiError>;
            async partner_commands::partner_send [session: State<'_, Session>]
                (case: String, kind: String, about: Option<String>, partner: String, path: Option<String>,
                 progress: Channel<SyncProgress>)
                -> Result<SentRequestDto, UiError>;
            async partner_commands::partner_case_requests [session: State<'_, Session>]
                (case: String) -> Result<Vec<CaseRequestEntry>, UiError>;
            async partner_commands::partner_withdraw [session: State<'_, Session>]
                (request: String, reason: String, path: Option<String>, progress: Channel<SyncProgress>)
                -> Result<Option<WrittenFile>, UiError>;
            async partner_commands::partner_record_answer [session: State<'_, Session>]
                (request: String, by: String, values: Value) -> Result<(), UiError>;
            async partner_commands::partner_import [session: State<'_, Session>]
                (path: String, dry_run: bool, receipt: Option<String>, progress: Channel<SyncProgress>)
                -> Result<PartnerImported, UiError>;
            async partner_commands::partner_received [session: State<'_, Session>]
                () -> Result<Vec<ReceivedRequestEntry>, UiError>;
            async partner_commands::partner_answer [session: State<'_, Session>]
                (request: String, values: Value, path: String, progress: Channel<SyncProgress>)
                -> Result<WrittenFile, UiError>;
            async partner_commands::partner_receipt [session: State<'_, Session>]
                (request: String, path: String, progress: Channel<SyncProgress>) -> Result<WrittenFile, UiError>;
            async partner_commands::partner_calendar [session: State<'_, Session>]
                () -> Result<Vec<PartnerDue>, UiError>;
            async report_commands::report_compute [session: State<'_, Session>]
                (from: String, to: String, office: Option<String>, suppress: bool) -> Result<ReportView, UiError>;
            async report_commands::report_export_csv [session: State<'_, Session>]
                (from: String, to: String, office: Option<String>, dir: String) -> Result<Vec<String>, UiError>;
            async search_commands::search_cases [session: State<'_, Session>]
                (query: String) -> Result<Vec<SearchHitDto>, UiError>;
            async search_commands::trace_case [session: State<'_, Session>]
                (case_id: String) -> Result<Vec<TraceMatchDto>, UiError>;
            async inquiry_commands::inquiry_list [session: State<'_, Session>] () -> Result<InquiryListDto, UiError>;
            async inquiry_commands::inquiry_create [session: State<'_, Session>]
                (office: String, values: Map<String, Value>) -> Result<NewInquiryDto, UiError>;
            async inquiry_commands::inquiry_update [session: State<'_, Session>]
                (inquiry: String, values: Map<String, Value>) -> Result<InquiryDto, UiError>;
            async inquiry_commands::inquiry_get [session: State<'_, Session>]
                (inquiry: String) -> Result<InquiryDto, UiError>;
            async inquiry_commands::inquiry_matches [session: State<'_, Session>]
                (inquiry: String) -> Result<InquiryMatchesDto, UiError>;
        }
    };
}

/// The command names of a table expansion, as a `&[&str]`.
#[allow(unused_macros)] // used by build.rs and the tests
macro_rules! command_names {
    ($($kind:ident $module:ident :: $name:ident [$($inject:tt)*] ($($arg:tt)*) -> $ret:ty;)*) => {
        &[$(stringify!($name)),*]
    };
}
