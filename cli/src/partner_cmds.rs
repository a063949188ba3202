//! `partner …`, `request …` and `answer …`: the office's partners abroad,
//! requests to them and their answers (docs/bundle-format.md §11). Parse,
//! call `fieldcase::sync::partner_request`, print.
//!
//! Answer values are read as a JSON object from standard input, never from
//! an argument (visible to other processes) or a file (plaintext on disk).
use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use fieldcase::sync::partner_request::{self as pr, Imported};
use fieldcase::sync::partners;
use uuid::Uuid;

use crate::vault_cmds::open_store;

#[derive(clap::Subcommand)]
pub enum PartnerCommand {
    /// This office's card: name, recipient, signing key and fingerprint,
    /// to give to a partner (read the fingerprint out to it).
    Card,
    /// Office: add a partner. --fingerprint is the one the partner read out
    /// (its `partner card`); it must match the keys given. --on-paper adds
    /// a partner without Fieldcase (requests printed, answers recorded by
    /// hand).
    Add {
        /// The partner's name.
        #[arg(long)]
        name: String,
        /// Its country (ISO 3166 alpha-3, e.g. SDN).
        #[arg(long)]
        country: String,
        /// Its age recipient (age1…).
        #[arg(long, required_unless_present = "on_paper")]
        recipient: Option<String>,
        /// Its signing key (64 hex digits).
        #[arg(long, required_unless_present = "on_paper")]
        key: Option<String>,
        /// The fingerprint the partner read out.
        #[arg(long, required_unless_present = "on_paper")]
        fingerprint: Option<String>,
        /// A partner without Fieldcase.
        #[arg(long, conflicts_with_all = ["recipient", "key", "fingerprint"])]
        on_paper: bool,
    },
    /// The partners this vault holds.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Subcommand)]
pub enum RequestCommand {
    /// Show exactly what a request would share, and what refuses it.
    Preview(KindArgs),
    /// Office: send a request to a partner (writes the bundle to --out).
    Send {
        #[command(flatten)]
        what: KindArgs,
        /// The partner (name or id in the partner list).
        #[arg(long)]
        to: String,
        /// The bundle to write (not for a partner without Fieldcase: the
        /// request to print is written to standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// A partner without Fieldcase: write the request to standard output
        /// as PDF (for a printer, e.g. `| lpr`), not as text.
        #[arg(long, conflicts_with = "out")]
        pdf: bool,
    },
    /// Requests sent and received, with their status.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Office: withdraw a request; the bundle tells the partner to delete it.
    Withdraw {
        /// The request id.
        request: Uuid,
        /// Why.
        #[arg(long)]
        reason: String,
        /// The bundle to write (not for a partner without Fieldcase).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Partner: import a request or a withdrawal from a partner. With
    /// --receipt, a request's receipt is written there for the requester.
    Import {
        #[command(flatten)]
        what: ImportArgs,
        /// Where to write the receipt the requesting office imports.
        #[arg(long)]
        receipt: Option<PathBuf>,
    },
    /// Partner: write again the receipt of a request held here.
    Receipt {
        /// The request id.
        request: Uuid,
        /// The bundle to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Partner: answer a received request; the answer's values as a JSON
    /// object on standard input (only the kind's answer fields).
    Answer {
        /// The request id.
        request: Uuid,
        /// The bundle to write.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(clap::Subcommand)]
pub enum AnswerCommand {
    /// Import a partner's answer (or receipt) into its case.
    Import(ImportArgs),
    /// Record by hand the answer of a partner without Fieldcase; values as
    /// a JSON object on standard input.
    Record {
        /// The request id.
        request: Uuid,
        /// Who answered for the partner.
        #[arg(long)]
        by: String,
    },
}

/// A kind of request about a case.
#[derive(clap::Args)]
pub struct KindArgs {
    /// The case (id or case number).
    case: String,
    /// family_tracing, family_assessment, relationship_verification,
    /// reintegration_handover or follow_up_report.
    #[arg(long)]
    kind: String,
    /// The relative's tracing record the request is about (kinds about a
    /// relative).
    #[arg(long)]
    about: Option<Uuid>,
}

/// A partner bundle to import.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// The bundle file.
    file: PathBuf,
    /// Check only, change nothing.
    #[arg(long)]
    dry_run: bool,
}

fn read_values() -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let mut text = zeroize::Zeroizing::new(String::new());
    std::io::stdin().take(1024 * 1024).read_to_string(&mut text).context("reading the answer from standard input")?;
    let v: serde_json::Value =
        serde_json::from_str(&text).context("the answer on standard input is not JSON (an object of field values)")?;
    v.as_object().cloned().context("the answer must be a JSON object of field values")
}

fn write_new(path: &Path, build: impl FnOnce() -> Result<Vec<u8>, pr::RequestError>) -> anyhow::Result<u64> {
    Ok(fieldcase::fsutil::build_new_file(path, build)?)
}

pub fn partner(dir: &Path, cmd: PartnerCommand) -> anyhow::Result<()> {
    let mut store = open_store(dir)?;
    match cmd {
        PartnerCommand::Card => {
            let c = partners::card(&store)?;
            println!("Office:      {}", c.name);
            println!("Recipient:   {}", c.recipient);
            println!("Signing key: {}", c.signing_key);
            println!("Fingerprint: {}", partners::grouped(&c.fingerprint));
        }
        PartnerCommand::Add { name, country, recipient, key, fingerprint, on_paper } => {
            let p = match (recipient, key, fingerprint) {
                (Some(r), Some(k), Some(f)) if !on_paper => partners::add(&mut store, &name, &country, &r, &k, &f)?,
                _ => partners::add_on_paper(&mut store, &name, &country)?,
            };
            println!(
                "Added partner {} ({}), id {}; the office's devices receive it with the roster",
                p.name, p.country, p.partner_id
            );
        }
        PartnerCommand::List { json } => {
            let list = partners::list(&store)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!("No partner: add one with `fieldcase partner add`");
            } else {
                for p in &list {
                    println!(
                        "{}  {} ({})  fingerprint {}",
                        p.partner_id,
                        p.name,
                        p.country,
                        partners::grouped(&p.fingerprint)
                    );
                }
            }
        }
    }
    store.lock()?;
    Ok(())
}

fn print_preview(p: &pr::RequestPreview) {
    println!("{} request, answer due {}", p.label, p.due);
    println!("It shares exactly these values (nothing else of the case):");
    for s in &p.shared {
        let v = match &s.value {
            serde_json::Value::String(t) => t.clone(),
            other => other.to_string(),
        };
        println!("  {}.{} = {v}", s.form, s.field);
    }
    for b in &p.blocked_by {
        println!("REFUSED by {}: {}", b.rule, b.message);
    }
}

pub fn request(dir: &Path, cmd: RequestCommand) -> anyhow::Result<()> {
    let mut store = open_store(dir)?;
    let today = store.today();
    match cmd {
        RequestCommand::Preview(k) => {
            let case = store.find_case(&k.case)?;
            print_preview(&pr::preview(&store, case, &k.kind, k.about, today)?);
        }
        RequestCommand::Send { what, to, out: None, pdf } => {
            let case = store.find_case(&what.case)?;
            if !partners::find(&store, &to)?.on_paper() {
                anyhow::bail!("--out FILE is required: {to} runs Fieldcase and receives a bundle");
            }
            if pdf && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                anyhow::bail!("--pdf writes the PDF to standard output: send it to a printer (`| lpr`)");
            }
            if pdf {
                let sent = pr::send_printed_pdf(&mut store, case, &what.kind, what.about, &to)?;
                std::io::Write::write_all(&mut std::io::stdout(), sent.pdf.as_deref().unwrap_or_default())?;
                eprintln!("Recorded request {}; print the PDF for {to}", sent.request_id);
            } else {
                let sent = pr::send(&mut store, case, &what.kind, what.about, &to, &mut |_| {})?;
                print!("{}", sent.printout.as_deref().unwrap_or_default());
                eprintln!("Recorded request {}; print the text above for {to}", sent.request_id);
            }
        }
        RequestCommand::Send { what, to, out: Some(out), .. } => {
            let case = store.find_case(&what.case)?;
            if partners::find(&store, &to)?.on_paper() {
                anyhow::bail!("{to} has no Fieldcase: leave out --out, the request is printed");
            }
            let mut sent = None;
            let bytes = write_new(&out, || {
                let mut s = pr::send(&mut store, case, &what.kind, what.about, &to, &mut |_| {})?;
                let bytes = std::mem::take(&mut s.bundle);
                sent = Some(s);
                Ok(bytes)
            })?;
            let sent = sent.context("no request was made")?;
            print_preview(&sent.preview);
            println!("Wrote request {} to {} ({bytes} bytes), encrypted to {to} only", sent.request_id, out.display());
        }
        RequestCommand::List { json } => {
            let sent = pr::sent_requests(&store, today)?;
            let received = pr::received_requests(&store, today)?;
            if json {
                println!("{}", serde_json::json!({"sent": sent, "received": received}));
            } else {
                println!("Sent ({}):", sent.len());
                for r in &sent {
                    println!(
                        "  {} case {} {} to {}: {} (due {})",
                        r.request_id, r.case_id, r.kind, r.partner, r.status, r.due
                    );
                }
                println!("Received ({}):", received.len());
                for r in &received {
                    println!("  {} {} from {}: {} (due {})", r.request_id, r.kind, r.partner, r.status, r.due);
                    for s in &r.shared {
                        println!("    {}.{} = {} (read only)", s.form, s.field, s.value);
                    }
                    if r.status == "received" || r.status == "overdue" {
                        println!("    answer with: {}", r.answer_fields.join(", "));
                    }
                }
            }
        }
        RequestCommand::Withdraw { request, reason, out } => {
            let partner = pr::sent_requests(&store, today)?
                .into_iter()
                .find(|r| r.request_id == request)
                .map(|r| r.partner)
                .with_context(|| format!("no request {request} sent from here"))?;
            let on_paper = partners::find(&store, &partner).is_ok_and(|p| p.on_paper());
            match (on_paper, out) {
                (true, None) => {
                    pr::withdraw(&mut store, request, &reason, &mut |_| {})?;
                    println!("Withdrew request {request}; ask {partner} to destroy the printed request");
                }
                (false, Some(out)) => {
                    let bytes = write_new(&out, || {
                        pr::withdraw(&mut store, request, &reason, &mut |_| {}).map(|b| b.unwrap_or_default())
                    })?;
                    println!(
                        "Withdrew request {request}; give {} ({bytes} bytes) to {partner}, whose Fieldcase deletes the request",
                        out.display()
                    );
                }
                (true, Some(_)) => anyhow::bail!("{partner} has no Fieldcase: leave out --out"),
                (false, None) => anyhow::bail!("--out FILE is required: {partner} receives a withdrawal bundle"),
            }
        }
        RequestCommand::Import { what, receipt } => {
            let got = import(&mut store, &what)?;
            match (got, receipt) {
                (Imported::Request { request_id, .. }, Some(out)) if !what.dry_run => {
                    let bytes = write_new(&out, || pr::receipt(&mut store, request_id, &mut |_| {}))?;
                    println!("Wrote the receipt to {} ({bytes} bytes), for the requesting office", out.display());
                }
                (Imported::Request { request_id, .. }, None) if !what.dry_run => println!(
                    "  no receipt written: `fieldcase request receipt {request_id} --out FILE` makes one for the requester"
                ),
                _ => {}
            }
        }
        RequestCommand::Receipt { request, out } => {
            let bytes = write_new(&out, || pr::receipt(&mut store, request, &mut |_| {}))?;
            println!("Wrote the receipt for {request} to {} ({bytes} bytes), for the requesting office", out.display());
        }
        RequestCommand::Answer { request, out } => {
            let values = read_values()?;
            let bytes = write_new(&out, || pr::answer(&mut store, request, values, &mut |_| {}))?;
            println!("Wrote the answer to {request} to {} ({bytes} bytes), for the requesting office", out.display());
        }
    }
    store.lock()?;
    Ok(())
}

fn import(store: &mut fieldcase::model::store::CaseStore, a: &ImportArgs) -> anyhow::Result<Imported> {
    let r = pr::import(store, a.file.as_path(), a.dry_run, &mut |_| {})?;
    let dry = if a.dry_run { " (dry run: nothing changed)" } else { "" };
    match &r {
        Imported::Request { request_id, kind, partner, due, replay } => println!(
            "{}{kind} request {request_id} from {partner}, answer due {due}{dry}",
            if *replay { "Already held: " } else { "Received " }
        ),
        Imported::Withdrawn { request_id, partner, replay } => println!(
            "{partner} withdrew request {request_id}{}{dry}",
            if *replay { " (already done)" } else { ": what it shared is deleted" }
        ),
        Imported::Receipt { request_id, case_id, partner, changed } => println!(
            "{partner} {} request {request_id} of case {case_id}{dry}",
            if *changed { "received" } else { "had already received or answered" }
        ),
        Imported::Answer { request_id, case_id, partner, author } => {
            println!("Answer to {request_id} from {partner} (by {author}) recorded in case {case_id}{dry}");
            if !a.dry_run {
                println!("  review it and copy what holds into the case's forms");
            }
        }
    }
    Ok(r)
}

pub fn answer(dir: &Path, cmd: AnswerCommand) -> anyhow::Result<()> {
    let mut store = open_store(dir)?;
    match cmd {
        AnswerCommand::Import(a) => {
            import(&mut store, &a)?;
        }
        AnswerCommand::Record { request, by } => {
            let values = read_values()?;
            pr::record_by_hand(&mut store, request, &by, values)?;
            println!("Recorded {by}'s answer to {request} by hand");
        }
    }
    store.lock()?;
    Ok(())
}
