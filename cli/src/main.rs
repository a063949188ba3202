//! `fieldcase` — the command-line interface. It parses arguments, reads the
//! passphrase, calls the library and prints; no domain logic lives here.
#![forbid(unsafe_code)]

mod case_cmds;
mod config_cmds;
mod form_cmds;
mod inquiry_cmds;
mod output;
mod partner_cmds;
mod person_cmds;
mod quarantine_cmds;
mod report_cmds;
mod search_cmds;
mod sync_cmds;
mod vault_cmds;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc malloc (see ARCHITECTURE.md, "Allocator").
#[global_allocator]
static ALLOCATOR: fieldcase_alloc::MiMalloc = fieldcase_alloc::MiMalloc;

/// Offline-first case management for child protection.
///
/// The passphrase is read from the environment variable FIELDCASE_PASSPHRASE
/// when it is set, otherwise from a prompt on the terminal.
///
/// Exit codes: 0 success, 1 operation failed (the message says why),
/// 2 bad command line.
#[derive(Parser)]
// The library's description, as before the CLI had its own package.
#[command(
    name = "fieldcase",
    version,
    about = "Offline-first case management for child protection: encrypted vault, signed events, sync bundles",
    long_about = None
)]
pub struct Cli {
    /// Vault directory (default: the platform data directory, e.g.
    /// ~/.local/share/fieldcase/vault on Linux).
    #[arg(long, global = true, env = "FIELDCASE_VAULT")]
    pub vault: Option<PathBuf>,

    /// Unlock as this person (a user name on the vault): the passphrase
    /// is theirs, and what is recorded is signed as them.
    #[arg(long = "as", global = true, env = "FIELDCASE_AS", value_name = "USER")]
    pub as_person: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create a new vault (device identity, empty encrypted database);
    /// --office makes the country office's vault.
    Init(sync_cmds::OfficeInitArgs),
    /// Unlock the vault and show what it holds and how it is protected.
    Status(vault_cmds::StatusArgs),
    /// Write a fresh encrypted snapshot and start a new journal generation.
    Checkpoint,
    /// Change the passphrase of the person who unlocks (the vault's first
    /// person's change also re-encrypts the vault under new keys).
    Passwd,
    /// The people of this vault: add one (own passphrase and role), list them.
    #[command(subcommand)]
    Person(person_cmds::PersonCommand),
    /// Save a form's values from a JSON file (scripting, migration), or
    /// list the forms.
    #[command(subcommand)]
    Form(form_cmds::FormCommand),
    /// Fill the vault with realistic synthetic cases (for demos and tests).
    Demo(case_cmds::DemoArgs),
    /// List, show and read the history of cases.
    #[command(subcommand)]
    Case(case_cmds::CaseCommand),
    /// Tracing inquiries: a relative asking after a child who has no case
    /// yet (record, list, match against children and other inquiries).
    #[command(subcommand)]
    Inquiry(inquiry_cmds::InquiryCommand),
    /// Tasks due: overdue follow-up visits, deadlines, children turning 18.
    Tasks(case_cmds::TasksArgs),
    /// Aggregate indicators (docs/reports.md) for a period and office; CSV, DHIS2 or JSON export.
    Report(report_cmds::ReportArgs),
    /// Measure commit latency, checkpoint and unlock time against plain SQLite.
    Bench(fieldcase_bench::BenchArgs),
    /// Enroll this device with its office (request), or a device (approve, office).
    #[command(subcommand)]
    Enroll(sync_cmds::EnrollCommand),
    /// Office: revoke an enrolled device.
    Revoke {
        /// Device id.
        device: uuid::Uuid,
    },
    /// Print this vault's public age recipient (bundles for it are encrypted to it).
    Recipient,
    /// Write a sync bundle: for the office (device) or for one device (office, --device).
    Export(sync_cmds::ExportArgs),
    /// Import a sync bundle, all or nothing (--dry-run to preview).
    Import(sync_cmds::ImportArgs),
    /// Check a sync bundle completely without importing it.
    Verify(sync_cmds::VerifyArgs),
    /// Sync through a folder a file-sync tool carries (--folder DIR), once
    /// or, with --watch, whenever it changes.
    Sync(sync_cmds::SyncArgs),
    /// Office: transfer a case to another office (CASE --to --to-key --out),
    /// or answer a transfer (accept | reject FILE --out RECEIPT).
    Transfer(sync_cmds::TransferArgs),
    /// Find cases by names (any spelling), number, age, place, stage, caseworker.
    Search(search_cmds::SearchArgs),
    /// Family tracing matches for a case, with explained scores.
    Trace(search_cmds::TraceArgs),
    /// Suspected duplicate cases, with explained scores.
    Duplicates(search_cmds::DuplicatesArgs),
    /// Data manager: merge a duplicate case into another (reversible).
    Merge(search_cmds::MergeArgs),
    /// Data manager: undo the merge of a case.
    Split(search_cmds::SplitArgs),
    /// Data manager: record that two suspected duplicates are different children.
    NotDuplicate(search_cmds::NotDuplicateArgs),
    /// Imported events refused by this vault's rules (list; the data
    /// manager's retry, discard, discarded), and this device's changes its
    /// office refused (refused).
    #[command(subcommand)]
    Quarantine(quarantine_cmds::QuarantineCommand),
    /// Office: put caseworkers and supervisors in teams (set USER TEAM,
    /// clear USER, list); a supervisor with a team sees their team's cases.
    #[command(subcommand)]
    Team(sync_cmds::TeamCommand),
    /// The country configuration (areas, offices, service directory):
    /// show, export FILE, and at the office import FILE (data manager).
    #[command(subcommand)]
    Config(config_cmds::ConfigCommand),
    /// Office: partners abroad (card, add, list), exchanged out of band.
    #[command(subcommand)]
    Partner(partner_cmds::PartnerCommand),
    /// Requests to a partner abroad: preview, send, list, withdraw; and on
    /// the partner's side import and answer.
    #[command(subcommand)]
    Request(partner_cmds::RequestCommand),
    /// A partner's answer: import it into its case, or record by hand the
    /// answer of a partner without Fieldcase.
    #[command(subcommand)]
    Answer(partner_cmds::AnswerCommand),
}

fn main() -> ExitCode {
    fieldcase_alloc::keep_freed_memory();
    // Before any passphrase or key is in memory: no core file, no ptrace
    // or /proc/<pid>/mem by other processes (fieldcase::hardening).
    if let Err(e) = fieldcase::hardening::harden_process() {
        eprintln!("fieldcase: warning: {e}");
    }
    output::exit_quietly_on_broken_pipe();
    let cli = Cli::parse();
    let vault_dir = match cli.vault.clone().map(Ok).unwrap_or_else(vault_cmds::default_vault_dir) {
        Ok(dir) => dir,
        Err(e) => return output::fail(&e),
    };
    vault_cmds::set_person(cli.as_person.clone());
    let result = match cli.command {
        Command::Init(args) => sync_cmds::init(&vault_dir, args),
        Command::Status(args) => vault_cmds::status(&vault_dir, args),
        Command::Checkpoint => vault_cmds::checkpoint(&vault_dir),
        Command::Passwd => vault_cmds::passwd(&vault_dir),
        Command::Person(cmd) => person_cmds::person(&vault_dir, cmd),
        Command::Form(cmd) => form_cmds::form(&vault_dir, cmd),
        Command::Demo(args) => case_cmds::demo(&vault_dir, args),
        Command::Case(cmd) => case_cmds::case(&vault_dir, cmd),
        Command::Inquiry(cmd) => inquiry_cmds::inquiry(&vault_dir, cmd),
        Command::Tasks(args) => case_cmds::tasks(&vault_dir, args),
        Command::Report(args) => report_cmds::run(&vault_dir, args),
        Command::Bench(args) => fieldcase_bench::run(args),
        Command::Enroll(cmd) => sync_cmds::enroll(&vault_dir, cmd),
        Command::Revoke { device } => sync_cmds::revoke(&vault_dir, device),
        Command::Recipient => sync_cmds::recipient(&vault_dir),
        Command::Export(args) => sync_cmds::export(&vault_dir, args),
        Command::Import(args) => sync_cmds::import(&vault_dir, args),
        Command::Verify(args) => sync_cmds::verify(&vault_dir, args),
        Command::Sync(args) => sync_cmds::sync_folder(&vault_dir, args),
        Command::Transfer(args) => sync_cmds::transfer(&vault_dir, args),
        Command::Search(args) => search_cmds::search(&vault_dir, args),
        Command::Trace(args) => search_cmds::trace(&vault_dir, args),
        Command::Duplicates(args) => search_cmds::duplicates(&vault_dir, args),
        Command::Merge(args) => search_cmds::merge(&vault_dir, args),
        Command::Split(args) => search_cmds::split(&vault_dir, args),
        Command::NotDuplicate(args) => search_cmds::not_duplicate(&vault_dir, args),
        Command::Quarantine(cmd) => quarantine_cmds::run(&vault_dir, cmd),
        Command::Team(cmd) => sync_cmds::team(&vault_dir, cmd),
        Command::Config(cmd) => config_cmds::config(&vault_dir, cmd),
        Command::Partner(cmd) => partner_cmds::partner(&vault_dir, cmd),
        Command::Request(cmd) => partner_cmds::request(&vault_dir, cmd),
        Command::Answer(cmd) => partner_cmds::answer(&vault_dir, cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => output::fail(&e),
    }
}
