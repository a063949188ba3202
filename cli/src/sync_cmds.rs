//! `init --office`, `enroll`, `revoke`, `recipient`, `export`, `import`,
//! `verify`, `transfer`: read files and the passphrase, call `fieldcase::sync`, print.
use crate::vault_cmds::open_store;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use fieldcase::model::event::Role;
use fieldcase::sync::{self, ImportReport, Progress};
use uuid::Uuid;

use crate::vault_cmds;

#[derive(clap::Args)]
pub struct OfficeInitArgs {
    #[command(flatten)]
    pub base: vault_cmds::InitArgs,
    /// Make the country office's vault (role data_manager): it enrolls
    /// devices and signs the roster. --name is then the office name.
    #[arg(long)]
    pub office: bool,
}

#[derive(clap::Subcommand)]
pub enum EnrollCommand {
    /// Device: write an enrollment request (public keys only, not secret) for the office.
    Request {
        /// Where to write the request.
        #[arg(long)]
        out: PathBuf,
    },
    /// Office: approve a request and write the enrollment bundle for the device.
    Approve {
        /// The request file.
        file: PathBuf,
        /// The role granted (must be the role the device's vault was made with).
        #[arg(long)]
        role: String,
        /// Where to write the enrollment bundle.
        #[arg(long)]
        out: PathBuf,
        /// The request is another device of this already enrolled user
        /// (same person, same role); without it a user name enrolled to
        /// another key is refused.
        #[arg(long, value_name = "USER")]
        additional_device_of: Option<String>,
        /// Put the person (a caseworker or a supervisor) in this team: a
        /// supervisor with a team sees only their team's cases.
        #[arg(long, value_name = "NAME")]
        team: Option<String>,
    },
}

#[derive(clap::Subcommand)]
pub enum TeamCommand {
    /// Office: put an enrolled caseworker or supervisor in a team.
    Set {
        /// The user name.
        user: String,
        /// The team.
        team: String,
    },
    /// Office: take a person out of their team (a supervisor of no team
    /// sees every case).
    Clear {
        /// The user name.
        user: String,
    },
    /// Office: the people in a team.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
pub struct ExportArgs {
    /// Where to write the bundle.
    #[arg(long)]
    pub out: PathBuf,
    /// Office only: the device the bundle is for.
    #[arg(long)]
    pub device: Option<Uuid>,
}

#[derive(clap::Args)]
pub struct ImportArgs {
    /// The bundle file.
    pub file: PathBuf,
    /// Check and preview only; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The bundle file.
    pub file: PathBuf,
    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TransferArgs {
    /// Receiving office: answer a transfer bundle.
    #[command(subcommand)]
    pub answer: Option<TransferAnswer>,
    /// Sending office: the case (number or id) to transfer.
    pub case: Option<String>,
    /// The receiving office's age recipient (`fieldcase recipient` there).
    #[arg(long)]
    pub to: Option<String>,
    /// The receiving office's signing key (hex, `fieldcase transfer key` there):
    /// its receipt must be signed with it.
    #[arg(long)]
    pub to_key: Option<String>,
    /// Where to write the transfer bundle.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
pub enum TransferAnswer {
    /// Take the case over: import its history and write the receipt.
    Accept {
        /// The transfer bundle.
        file: PathBuf,
        /// Where to write the receipt for the sending office.
        #[arg(long)]
        out: PathBuf,
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
    },
    /// Refuse the case: keep nothing of it and write the receipt.
    Reject {
        /// The transfer bundle.
        file: PathBuf,
        /// Why (sent to the sending office).
        #[arg(long)]
        reason: String,
        /// Where to write the receipt for the sending office.
        #[arg(long)]
        out: PathBuf,
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print this office's signing key (give it with the recipient to offices
    /// that transfer cases here).
    Key,
}

/// Write `bytes` to the new file `path`: never over an existing file or
/// through a symlink, never half-written under its final name
/// ([`fieldcase::fsutil::write_new_file`]). (Bundles are ciphertext;
/// requests are public.)
fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    Ok(fieldcase::fsutil::write_new_file(path, bytes)?)
}

/// Refuse an existing destination before any work is done (the write
/// refuses it anyway; this spares building a bundle, or importing a transfer
/// whose receipt could then not be written).
fn check_free(path: &Path) -> anyhow::Result<()> {
    if fieldcase::fsutil::occupied(path) {
        anyhow::bail!("{} already exists: choose another name", path.display());
    }
    Ok(())
}

/// Progress on stderr: a bar when stderr is a terminal (cleared when the
/// operation ends), plain lines otherwise (logs, scripts, tests). Stdout
/// stays the result alone either way.
fn progress_line() -> impl FnMut(Progress) {
    use std::io::IsTerminal as _;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr())
            .with_finish(indicatif::ProgressFinish::AndClear);
        let style = indicatif::ProgressStyle::with_template("{spinner} {msg:24} [{bar:30}] {pos}/{len} events")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    });
    move |p| match (&bar, p) {
        (Some(bar), Progress::Events { done, total }) => {
            bar.set_length(total);
            bar.set_position(done);
            bar.set_message("checking events");
        }
        (Some(bar), Progress::Unpacked { bytes }) => bar.set_message(format!("unpacked {} MiB", bytes >> 20)),
        (Some(bar), Progress::Committing) => bar.set_message("writing to the vault"),
        (Some(bar), Progress::Encrypting { bytes }) => bar.set_message(format!("encrypting {} MiB", bytes >> 20)),
        (None, Progress::Events { done, total }) => eprintln!("  {done}/{total} events"),
        (None, Progress::Committing) => eprintln!("  writing to the vault"),
        (None, Progress::Encrypting { bytes }) => eprintln!("  encrypting {bytes} bytes"),
        (None, Progress::Unpacked { .. }) => {}
    }
}

pub fn init(dir: &Path, mut args: OfficeInitArgs) -> anyhow::Result<()> {
    if !args.office {
        return vault_cmds::init(dir, args.base);
    }
    if args.base.role != "caseworker" && args.base.role != "data_manager" {
        anyhow::bail!("an office vault has role data_manager, not {}", args.base.role);
    }
    args.base.role = "data_manager".into();
    let name = args.base.name.clone().unwrap_or_else(|| "Office".into());
    vault_cmds::init(dir, args.base)?;
    let mut store = open_store(dir)?;
    sync::make_office(&mut store, &name)?;
    println!("  office vault {name}: enroll devices with `fieldcase enroll approve`");
    println!("  office recipient {}", sync::recipient(&store));
    store.lock()?;
    Ok(())
}

pub fn enroll(dir: &Path, cmd: EnrollCommand) -> anyhow::Result<()> {
    match cmd {
        EnrollCommand::Request { out } => {
            check_free(&out)?;
            let store = open_store(dir)?;
            let req = sync::enrollment_request(&store)?;
            write_file(&out, &serde_json::to_vec_pretty(&req)?)?;
            println!(
                "Wrote enrollment request {} for signer {} ({}, {})",
                out.display(),
                req.device_id,
                req.user,
                req.role
            );
            println!("  it holds only public keys; give it to the office data manager");
            store.lock()?;
        }
        EnrollCommand::Approve { file, role, out, additional_device_of, team } => {
            let role: Role = role.parse()?;
            check_free(&out)?;
            let request = fieldcase::fsutil::read_limited(&file, sync::format::MAX_REQUEST_BYTES)?;
            let mut store = open_store(dir)?;
            fieldcase::fsutil::build_new_file(&out, || {
                sync::approve_enrollment_in_team(
                    &mut store,
                    &request,
                    role,
                    additional_device_of.as_deref(),
                    team.as_deref(),
                    &mut progress_line(),
                )
            })?;
            println!("Approved; wrote enrollment bundle {}: import it on the device", out.display());
            store.lock()?;
        }
    }
    Ok(())
}

pub fn team(dir: &Path, cmd: TeamCommand) -> anyhow::Result<()> {
    let mut store = open_store(dir)?;
    match cmd {
        TeamCommand::Set { user, team } => {
            sync::teams::set_team(&mut store, &user, Some(&team))?;
            println!("{user} is in team {:?}; devices get the change with their next bundle", team.trim());
        }
        TeamCommand::Clear { user } => {
            sync::teams::set_team(&mut store, &user, None)?;
            println!("{user} is in no team; devices get the change with their next bundle");
        }
        TeamCommand::List { json } => {
            let teams = sync::teams::list(&store)?;
            if json {
                let rows: Vec<_> = teams
                    .iter()
                    .map(|(user, role, team)| serde_json::json!({"user": user, "role": role, "team": team}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if teams.is_empty() {
                println!("Nobody is in a team: every supervisor sees every case");
            } else {
                for (user, role, team) in &teams {
                    println!("  {team}: {user} ({role})");
                }
            }
        }
    }
    store.lock()?;
    Ok(())
}

pub fn revoke(dir: &Path, device: Uuid) -> anyhow::Result<()> {
    let mut store = open_store(dir)?;
    sync::revoke(&mut store, device)?;
    println!("Revoked {device}: its later bundles and events are refused, and those of the people it hosts");
    store.lock()?;
    Ok(())
}

pub fn recipient(dir: &Path) -> anyhow::Result<()> {
    let store = open_store(dir)?;
    println!("{}", sync::recipient(&store));
    store.lock()?;
    Ok(())
}

pub fn export(dir: &Path, args: ExportArgs) -> anyhow::Result<()> {
    // Before the passphrase is asked; the library checks it again.
    check_free(&args.out)?;
    let mut store = open_store(dir)?;
    let bytes = fieldcase::fsutil::build_new_file(&args.out, || match args.device {
        Some(d) => sync::export_for_device(&mut store, d, &mut progress_line()),
        None => sync::export_for_office(&mut store, &mut progress_line()),
    })?;
    println!("Wrote bundle {} ({bytes} bytes)", args.out.display());
    store.lock()?;
    Ok(())
}

fn print_report(r: &ImportReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
        return Ok(());
    }
    let verb = if r.dry_run { "would import" } else { "imported" };
    println!("Bundle {} #{} from {} ({:?})", r.bundle_id, r.sender_seq, r.sender_name, r.kind);
    if r.replay {
        println!("  already imported: nothing to do");
        return Ok(());
    }
    println!(
        "  {verb}: {} new events ({} already known), {} new cases, {} updated cases",
        r.preview.new_events,
        r.preview.known_events,
        r.preview.new_cases.len(),
        r.preview.updated_cases.len()
    );
    let protected = r.preview.conflicts.iter().filter(|c| c.protected).count();
    println!(
        "  conflicts: {protected} protected (need review), {} normal (merged)",
        r.preview.conflicts.len() - protected
    );
    for c in r.preview.conflicts.iter().filter(|c| c.protected) {
        println!("    needs review: case {} {}.{} ({} values)", c.case, c.form, c.field, c.heads);
    }
    let a = &r.attachments;
    if a.received + a.missing > 0 {
        println!(
            "  attachments: {} received ({} new, {} bytes; {} already here), {} not in the bundle (the sender lacks them)",
            a.received, a.new, a.new_bytes, a.already_held, a.missing
        );
    }
    for d in &r.suspected_duplicates {
        println!("  suspected duplicate: new case {} looks like {} ({})", d.new_case, d.existing_number, d.reason);
    }
    for (event, why) in &r.quarantined {
        println!("  held in quarantine, not applied: event {event} [{}] {}", why.code, why.text);
    }
    if r.released > 0 {
        println!("  {} change(s) held in quarantine are accepted now and were applied", r.released);
    }
    if let Some(why) = &r.release_failed {
        println!("  the held changes could not be checked again ({why}); `fieldcase quarantine retry EVENT` does it");
    }
    if r.refusals_reported > 0 {
        println!(
            "  the office refused {} of this device's changes: see `fieldcase quarantine refused`",
            r.refusals_reported
        );
    }
    if let Some(s) = r.roster_serial {
        println!("  roster serial {s}");
    }
    if let Some(t) = &r.transfer {
        match r.kind {
            sync::format::BundleKind::Transfer => {
                println!("  case transfer of case {}: {}", t.case_id, t.status);
                println!(
                    "  sending office signing key {}: check it with that office (trusted on first use)",
                    t.peer_key
                );
            }
            _ => {
                println!("  receipt for transfer {} of case {}: {}", t.transfer_bundle_id, t.case_id, t.status);
                if !t.reason.is_empty() {
                    println!("  reason: {}", t.reason);
                }
            }
        }
    }
    if r.kind == sync::format::BundleKind::Enrollment {
        println!(
            "  office signing key {}: check it with the office before trusting this device's data to it",
            r.sender_key
        );
    }
    Ok(())
}

/// A refused bundle: one line with the reason (and, for --json, a JSON
/// object on stdout), exit code 1.
fn refusal(file: &Path, e: &sync::ImportError, json: bool) -> anyhow::Error {
    if json {
        println!("{}", serde_json::json!({"ok": false, "file": file, "reason": e.to_string()}));
    }
    anyhow::anyhow!("bundle {} refused, nothing was changed: {e}", file.display())
}

/// The bundle file, checked to exist before the vault is unlocked. It is
/// then read as a stream by the import (never whole into memory).
fn bundle_file(file: &Path) -> anyhow::Result<&Path> {
    std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    Ok(file)
}

pub fn import(dir: &Path, args: ImportArgs) -> anyhow::Result<()> {
    let file = bundle_file(&args.file)?;
    let mut store = open_store(dir)?;
    let report = match sync::import_bundle(&mut store, file, args.dry_run, &mut progress_line()) {
        Ok(r) => r,
        Err(e) => return Err(refusal(&args.file, &e, args.json)),
    };
    print_report(&report, args.json)?;
    store.lock()?;
    Ok(())
}

pub fn verify(dir: &Path, args: VerifyArgs) -> anyhow::Result<()> {
    let file = bundle_file(&args.file)?;
    let mut store = open_store(dir)?;
    let report = match sync::verify_bundle(&mut store, file, &mut progress_line()) {
        Ok(r) => r,
        Err(e) => return Err(refusal(&args.file, &e, args.json)),
    };
    if !args.json {
        println!("OK: the bundle is intact, signed by an enrolled sender and importable");
    }
    print_report(&report, args.json)?;
    store.lock()?;
    Ok(())
}

pub fn transfer(dir: &Path, args: TransferArgs) -> anyhow::Result<()> {
    use sync::transfer::{self, Decision};
    let (file, decision, out, json) = match args.answer {
        Some(TransferAnswer::Key) => {
            let store = open_store(dir)?;
            println!("{}", hex::encode(store.vault().device_verifying_key().as_bytes()));
            store.lock()?;
            return Ok(());
        }
        Some(TransferAnswer::Accept { file, out, json }) => (file, Decision::Accept, out, json),
        Some(TransferAnswer::Reject { file, reason, out, json }) => (file, Decision::Reject(reason), out, json),
        None => {
            let case = args.case.context("give the case to transfer, or `accept`/`reject FILE`")?;
            let to = args.to.context("--to RECIPIENT (the receiving office's age1... recipient) is required")?;
            let to_key = args.to_key.context(
                "--to-key HEX (the receiving office's signing key, `fieldcase transfer key` there) is required",
            )?;
            let out = args.out.context("--out FILE is required")?;
            check_free(&out)?;
            let mut store = open_store(dir)?;
            let id = store.find_case(&case)?;
            let bytes = fieldcase::fsutil::build_new_file(&out, || {
                transfer::transfer_case(&mut store, id, &to, &to_key, &mut progress_line())
            })?;
            println!("Wrote transfer bundle {} for case {id} ({bytes} bytes)", out.display());
            println!("  the case stays open here until the receiving office's receipt is imported");
            store.lock()?;
            return Ok(());
        }
    };
    check_free(&out)?;
    bundle_file(&file)?;
    let mut store = open_store(dir)?;
    let (report, receipt) = match transfer::answer_transfer(&mut store, file.as_path(), decision, &mut progress_line())
    {
        Ok(r) => r,
        Err(transfer::TransferError::Refused(e)) => return Err(refusal(&file, &e, json)),
        Err(e) => return Err(e.into()),
    };
    write_file(&out, &receipt)?;
    print_report(&report, json)?;
    if !json {
        println!("Wrote receipt {}: give it to the sending office (fieldcase import)", out.display());
    }
    store.lock()?;
    Ok(())
}

#[derive(clap::Args)]
pub struct SyncArgs {
    /// The sync folder a file-sync tool (Syncthing, a network share, a
    /// stick) carries between this vault and its office or devices.
    #[arg(long, value_name = "DIR")]
    pub folder: PathBuf,
    /// Keep watching the folder and sync whenever it changes, until Ctrl-C.
    #[arg(long)]
    pub watch: bool,
    /// With --watch: seconds between two looks at the folder (1 to 60).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=60))]
    pub interval: u64,
    /// Print each pass's report as one line of JSON.
    #[arg(long)]
    pub json: bool,
}

/// `fieldcase sync --folder DIR [--watch]`: one pass over the sync folder,
/// or passes until Ctrl-C (docs/bundle-format.md §12).
pub fn sync_folder(dir: &Path, args: SyncArgs) -> anyhow::Result<()> {
    use fieldcase::sync::folder;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    if !args.folder.is_dir() {
        return Err(folder::FolderError::NoFolder(args.folder).into());
    }
    let mut store = open_store(dir)?;
    if !args.watch {
        let report = folder::sync_folder_once(&mut store, &args.folder)?;
        print_folder_report(&report, args.json, true)?;
        store.lock()?;
        return Ok(());
    }
    // Ctrl-C (or a TERM) ends the loop between two passes: a pass is never
    // cut in the middle, and the vault is locked on the way out.
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&stop))?;
    #[cfg(unix)]
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&stop))?;
    if !args.json {
        eprintln!("Watching {} (every {} s); Ctrl-C to stop", args.folder.display(), args.interval);
    }
    let mut shown = (Vec::new(), Vec::new());
    while !stop.load(Ordering::Relaxed) {
        match folder::sync_folder_once(&mut store, &args.folder) {
            Ok(report) => {
                // Refused and incomplete files are listed again only when
                // the list changes.
                let now = (report.refused.clone(), report.incomplete.clone());
                let news = now != shown;
                if report.did_something() || news {
                    print_folder_report(&report, args.json, news)?;
                }
                shown = now;
            }
            // The folder may be gone for a while (a stick pulled out, a
            // share offline): say so and keep watching.
            Err(e) => eprintln!("{}: {e}", chrono::Utc::now().format("%H:%M:%S")),
        }
        for _ in 0..args.interval * 10 {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    if !args.json {
        eprintln!("Stopped; the vault is locked");
    }
    store.lock()?;
    Ok(())
}

fn print_folder_report(r: &fieldcase::sync::folder::FolderReport, json: bool, waiting: bool) -> anyhow::Result<()> {
    use std::io::Write as _;
    if json {
        println!("{}", serde_json::to_string(r)?);
        std::io::stdout().flush()?;
        return Ok(());
    }
    for i in &r.imported {
        if i.replay {
            println!("{}  {}: already imported", r.at, i.file);
            continue;
        }
        println!(
            "{}  imported {} from {}: {} new events, {} new cases, {} updated cases",
            r.at, i.file, i.sender_name, i.new_events, i.new_cases, i.updated_cases
        );
        if i.quarantined > 0 {
            println!("    {} change(s) held in quarantine (`fieldcase quarantine list`)", i.quarantined);
        }
        if i.refusals_reported > 0 {
            println!(
                "    the office refused {} change(s) of this device (`fieldcase quarantine refused`)",
                i.refusals_reported
            );
        }
    }
    for f in &r.written {
        println!("{}  wrote {f}", r.at);
    }
    for f in &r.removed {
        println!("{}  removed {f} (acknowledged or superseded)", r.at);
    }
    for f in &r.failed {
        println!("{}  could not write a bundle: {f}", r.at);
    }
    if waiting {
        for f in &r.refused {
            println!("{}  REFUSED {}: {} (nothing of it was applied; the file is left)", r.at, f.file, f.reason);
        }
        for f in &r.incomplete {
            println!("{}  waiting for {} to be complete: {}", r.at, f.file, f.reason);
        }
    }
    println!(
        "{}  sync folder: {} imported, {} written, {} removed, {} refused, {} incomplete",
        r.at,
        r.imported.len(),
        r.written.len(),
        r.removed.len(),
        r.refused.len(),
        r.incomplete.len()
    );
    std::io::stdout().flush()?;
    Ok(())
}
