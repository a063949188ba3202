//! `demo`, `case list|show|history`, `tasks`. (Owned by the case-model work.)
use crate::vault_cmds::open_store;
use std::path::Path;

use anyhow::Context as _;
use fieldcase::model::audit::AuditEntry;
use fieldcase::model::projection::FieldStatus;
use fieldcase::model::store::{CaseDetail, CaseSummary};
use fieldcase::model::visibility::HiddenCount;

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Number of synthetic cases to create.
    #[arg(long, default_value_t = 200)]
    pub cases: usize,
    /// Random seed; the same seed gives the same cases.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Add to a vault that already holds cases (refused otherwise, so real
    /// case data is never mixed with synthetic data by accident).
    #[arg(long)]
    pub append: bool,
    /// The demo's last day (YYYY-MM-DD): its activity runs up to it, so its
    /// tasks and reports are those of a live office on that day. Default:
    /// today.
    #[arg(long, value_name = "DATE")]
    pub today: Option<chrono::NaiveDate>,
}

#[derive(clap::Subcommand)]
pub enum CaseCommand {
    /// Register a new case (stage identified) and print its number and id.
    /// With --values, the registration/BIA values are saved in the same
    /// commit: refused values register nothing.
    New {
        /// Case type: uasc, accompanied_child_at_risk, family_with_children.
        #[arg(long = "type", value_name = "TYPE")]
        case_type: String,
        /// The registering office (its first three letters start the case number).
        #[arg(long)]
        office: String,
        /// JSON file of registration_bia values; `-` reads standard input.
        #[arg(long, value_name = "FILE")]
        values: Option<std::path::PathBuf>,
    },
    /// List cases.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one case.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Assign one or more cases to a caseworker (a supervisor or the
    /// office's data manager), in one commit: all or none.
    Assign {
        /// The cases (numbers or ids).
        #[arg(required = true)]
        cases: Vec<String>,
        /// The caseworker's user name.
        #[arg(long)]
        to: String,
    },
    /// Move every case of one caseworker to another (one commit).
    Reassign {
        /// The caseworker whose cases move.
        #[arg(long)]
        from: String,
        /// The caseworker who takes them.
        #[arg(long)]
        to: String,
    },
    /// Every open conflict (protected fields and stage conflicts first),
    /// with the roles that settle each one.
    Conflicts {
        #[arg(long)]
        json: bool,
    },
    /// The audit trail of one case.
    History {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Erase a case: one person requests (`--reason CODE`), another in the
    /// other role approves (`--approve`); a supervisor and a data manager,
    /// each on their own device. Once approved, the case's data and
    /// attachments are removed from this vault and only a tombstone is left.
    #[command(group(clap::ArgGroup::new("step").required(true).args(["reason", "approve"])))]
    Erase {
        id: String,
        /// Request the erasure for this reason: opened_in_error,
        /// data_subject_request or legal_order.
        #[arg(long)]
        reason: Option<String>,
        /// Approve the pending request.
        #[arg(long)]
        approve: bool,
    },
    /// The tombstones of erased cases (no personal data).
    Erasures {
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
pub struct TasksArgs {
    #[arg(long)]
    pub json: bool,
}

pub fn demo(dir: &Path, args: DemoArgs) -> anyhow::Result<()> {
    let mut store = open_store(dir)?;
    let existing = store.case_count()?;
    if existing > 0 && !args.append {
        anyhow::bail!(
            "the vault in {} already holds {existing} cases; use --append to add synthetic cases anyway",
            dir.display()
        );
    }
    let started = std::time::Instant::now();
    let today = args.today.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let summary = fieldcase::model::demo::generate_until(&mut store, args.cases, args.seed, today)
        .context("generating demo data")?;
    store.lock().context("locking the vault")?;
    println!(
        "demo: {} cases, {} events, seed {}, dated {} to {} ({:.1} s)",
        summary.cases,
        summary.events,
        args.seed,
        summary.start,
        summary.end,
        started.elapsed().as_secs_f64()
    );
    println!("cases by stage:");
    for (stage, n) in &summary.by_stage {
        println!("  {stage:<24} {n:>5}");
    }
    println!(
        "conflicts planted: {} ({} on protected fields, needing review)",
        summary.conflicts_planted, summary.protected_conflicts_planted
    );
    println!(
        "near-duplicate registrations planted: {} ({} merged by the data manager)",
        summary.duplicates_planted, summary.duplicates_merged
    );
    if !summary.refused.is_empty() {
        // A refusal is a defect in the generator's plan, not in the data.
        eprintln!("warning: {} planned steps were refused by the case rules:", summary.refused.len());
        for r in &summary.refused {
            eprintln!("  {r}");
        }
    }
    Ok(())
}
/// `case list|show|history [--json]`: the library's views, which keep to
/// what the person who unlocked may see (docs/visibility.md).
pub fn case(dir: &Path, cmd: CaseCommand) -> anyhow::Result<()> {
    // Read the values before unlocking, so a bad file costs no passphrase.
    let new_values = match &cmd {
        CaseCommand::New { values: Some(path), .. } => Some(crate::form_cmds::read_values(path)?),
        _ => None,
    };
    let mut store = open_store(dir)?;
    match cmd {
        CaseCommand::New { case_type, office, .. } => {
            let (id, number) = store.register_case(&case_type, &office, new_values)?;
            println!("registered case {number} ({id})");
        }
        CaseCommand::Assign { cases, to } => {
            let ids = cases.iter().map(|c| store.find_case(c)).collect::<Result<Vec<_>, _>>()?;
            let changed = store.assign_cases(&ids, &to)?;
            println!("{changed} case(s) assigned to {to} ({} already were)", ids.len() - changed);
            println!("  their device receives them with the office's next bundle");
        }
        CaseCommand::Reassign { from, to } => {
            let moved = store.reassign_all(&from, &to)?;
            println!("{} case(s) of {from} reassigned to {to}", moved.len());
        }
        CaseCommand::Erase { id, reason, approve } => {
            let case = store.find_case(&id)?;
            if approve {
                println!("{}", store.approve_erasure(case)?);
            } else if let Some(reason) = reason {
                let request = store.request_erasure(case, &reason)?;
                println!(
                    "erasure of case {case} requested ({reason}, request {request}); it needs the approval of a {} on another device",
                    if store.actor().1 == fieldcase::model::event::Role::Supervisor { "data manager" } else { "supervisor" }
                );
            }
        }
        CaseCommand::Erasures { json } => {
            let list = store.tombstones()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!("no erased cases");
            } else {
                for t in &list {
                    println!("{t}");
                }
            }
        }
        CaseCommand::List { json } => {
            let list = store.list_cases()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print_case_list(&list.cases);
                print_hidden(&list.hidden, "case(s)");
            }
        }
        CaseCommand::Show { id, json } => {
            let case = store.find_case(&id)?;
            let detail = store.case_detail(case)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&detail)?);
            } else {
                print_case_detail(&detail);
                print_hidden(&detail.hidden, "note(s)");
                if let Some(c) = store.stage_conflict(case)? {
                    print_stage_conflict(&c);
                }
                print_next_steps(&store.next_steps(case)?);
            }
        }
        CaseCommand::Conflicts { json } => {
            let queue = store.conflict_queue()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&queue)?);
            } else {
                print_conflict_queue(&queue);
            }
        }
        CaseCommand::History { id, json } => {
            let case = store.find_case(&id)?;
            let history = store.history(case)?;
            // Check the chain before showing it, so a tampered trail is never
            // presented as true.
            let verified = store.verify_history(case);
            if json {
                let out = serde_json::json!({
                    "case_id": case,
                    "chain_verified": verified.is_ok(),
                    "chain_error": verified.as_ref().err().map(|e| e.to_string()),
                    "entries": history.entries,
                    "hidden": history.hidden,
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print_history(&history.entries);
                print_hidden(&history.hidden, "entr(ies)");
                match verified {
                    Ok(n) => println!("audit chain verified ({n} entries)"),
                    Err(e) => println!("AUDIT CHAIN BROKEN: {e}"),
                }
            }
        }
    }
    Ok(())
}

/// `tasks [--json]`: tasks due today across the cases the person may see.
pub fn tasks(dir: &Path, args: TasksArgs) -> anyhow::Result<()> {
    let store = open_store(dir)?;
    let list = store.tasks(store.today())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let hidden = list.hidden;
    let tasks = list.tasks;
    if tasks.is_empty() {
        println!("no tasks due");
    } else {
        let numbers: std::collections::HashMap<uuid::Uuid, String> =
            store.list_cases()?.cases.into_iter().map(|c| (c.id, c.case_number)).collect();
        let mut tasks = tasks;
        tasks.sort_by(|a, b| (a.due, &a.title).cmp(&(b.due, &b.title)));
        for t in &tasks {
            println!(
                "{}  {:<16} {}{}",
                t.due,
                numbers.get(&t.case_id).map(String::as_str).unwrap_or("?"),
                t.title,
                if t.overdue_days > 0 { format!("  (OVERDUE {} days)", t.overdue_days) } else { String::new() }
            );
        }
        println!("{} task(s)", tasks.len());
    }
    print_hidden(&hidden, "task(s)");
    // Requests received from partners abroad are tasks with no case here
    // (docs/bundle-format.md §11.3): answer them with `request answer`.
    let today = store.today();
    let received = fieldcase::sync::partner_request::received_requests(&store, today)?;
    let open: Vec<_> = received.iter().filter(|r| matches!(r.status.as_str(), "received" | "overdue")).collect();
    if !open.is_empty() {
        println!("Requests from partners abroad to answer ({}):", open.len());
        for r in open {
            let late = if r.status == "overdue" { "  (OVERDUE)" } else { "" };
            println!("{}  {} request {} from {}{late}", r.due, r.kind, r.request_id, r.partner);
        }
    }
    Ok(())
}

/// What a view left out and why (the library's reasons).
pub(crate) fn print_hidden(hidden: &[HiddenCount], what: &str) {
    for h in hidden {
        println!("{} {what} not shown: {}", h.count, h.reason);
    }
}

fn print_case_list(cases: &[CaseSummary]) {
    println!(
        "{:<16} {:<28} {:>5} {:<14} {:<22} {:<7} {:<16} REVIEW",
        "CASE", "NAME", "AGE", "SEX", "STAGE", "RISK", "CASEWORKER"
    );
    for c in cases {
        let name =
            [c.given_names.as_deref(), c.family_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
        println!(
            "{:<16} {:<28} {:>5} {:<14} {:<22} {:<7} {:<16} {}",
            c.case_number,
            truncate(&name, 28),
            c.age_years.map(|a| format!("{a}")).unwrap_or_else(|| "?".into()),
            c.sex.as_deref().unwrap_or("?"),
            c.stage,
            c.risk_level.as_deref().unwrap_or(if c.needs_review { "review" } else { "-" }),
            truncate(c.caseworker.as_deref().unwrap_or("-"), 16),
            if c.needs_review {
                "needs review"
            } else if c.conflicts > 0 {
                "merged"
            } else {
                ""
            },
        );
    }
    println!("{} case(s)", cases.len());
}

fn print_stage_conflict(c: &fieldcase::model::store::StageConflict) {
    let who = c.resolvers.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" or ");
    println!("\nSTAGE CONFLICT: concurrent stage changes; the case stays {} until a {who} chooses", c.stage);
    for h in &c.heads {
        println!("  {}  {} -> {}  by {} ({})", h.event, h.from.as_deref().unwrap_or("-"), h.to, h.author, h.role);
    }
}

fn print_conflict_queue(queue: &[fieldcase::model::store::QueuedConflict]) {
    println!("{:<16} {:<34} {:<13} {:<26} VALUES", "CASE", "FIELD", "KIND", "SETTLED BY");
    for q in queue {
        let kind = if q.protected { "needs review" } else { "merged" };
        let who = q.resolvers.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" or ");
        let values = q.heads.iter().map(|h| h.value.to_string()).collect::<Vec<_>>().join(" | ");
        println!(
            "{:<16} {:<34} {:<13} {:<26} {}",
            q.case.case_number,
            truncate(&format!("{}.{}", q.form, q.field), 34),
            kind,
            who,
            truncate(&values, 60)
        );
    }
    println!("{} conflict(s)", queue.len());
}

fn print_case_detail(d: &CaseDetail) {
    let s = &d.summary;
    println!("Case {} ({})", s.case_number, s.id);
    println!("  type {}, office {}, stage {}", s.case_type, s.office, s.stage);
    if let Some(before) = &s.stage_before {
        println!("  stage before: {before}");
    }
    println!("  caseworker: {}", s.caseworker.as_deref().unwrap_or("-"));
    if let Some(reason) = s.hidden {
        println!("  names, date of birth, sex, age and risk not shown: {reason}");
    }
    if s.needs_review {
        println!("  NEEDS REVIEW: a protected field or the stage has conflicting values");
    }
    let mut current: Option<(String, Option<uuid::Uuid>)> = None;
    for f in &d.fields {
        let group = (f.form.clone(), f.item);
        if current.as_ref() != Some(&group) {
            match f.item {
                Some(item) => println!("\n[{} item {}]", f.form, item),
                None => println!("\n[{}]", f.form),
            }
            current = Some(group);
        }
        let value = match (&f.value, f.hidden) {
            (_, Some(_)) => "(not shown)".to_string(),
            (Some(v), None) => one_line(v),
            (None, None) => "—".into(),
        };
        let marker = match f.status {
            FieldStatus::Ok => String::new(),
            FieldStatus::MergedAutomatically => format!("   (merged automatically; {} values)", f.heads.len()),
            FieldStatus::NeedsReview => format!(
                "   (NEEDS REVIEW: {})",
                f.heads
                    .iter()
                    .map(|h| format!("{} by {}", one_line(&h.value), h.author))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ),
        };
        println!("  {:<32} {}{}", f.field, value, marker);
    }
    if !d.items.is_empty() {
        println!("\nItems:");
        for i in &d.items {
            println!("  {:<18} {} {} by {}", i.form, i.item, i.kind, i.author);
        }
    }
    println!("\nStages:");
    for st in &d.stage_history {
        println!(
            "  {} {} → {} by {} ({}){}",
            date_time(st.hlc.millis),
            st.from.as_deref().unwrap_or("-"),
            st.to,
            st.author,
            st.role,
            if st.reason.is_empty() { String::new() } else { format!(": {}", st.reason) }
        );
    }
    if !d.tasks.is_empty() {
        println!("\nTasks:");
        for t in &d.tasks {
            let overdue =
                if t.overdue_days > 0 { format!("  (OVERDUE {} days)", t.overdue_days) } else { String::new() };
            println!("  {}  {}{}", t.due, t.title, overdue);
        }
    }
}

/// The stages the case may move to, as the app's next-steps panel shows
/// them (the library's gate run on a probe): who moves it and what blocks
/// the person who unlocked.
fn print_next_steps(steps: &[fieldcase::model::store::NextStep]) {
    if steps.is_empty() {
        return;
    }
    println!("\nNext steps:");
    for n in steps {
        let roles: Vec<&str> = n.roles.iter().map(|r| r.as_str()).collect();
        if n.blocked_by.is_empty() {
            println!("  → {} ({})", n.to, roles.join(", "));
        } else {
            println!("  → {} ({}): blocked", n.to, roles.join(", "));
            for v in &n.blocked_by {
                println!("      {} {}", v.rule, v.message);
            }
        }
    }
}

fn print_history(entries: &[AuditEntry]) {
    for a in entries {
        let device = a.device_id.to_string();
        println!(
            "{:>4} {} {} ({}) on {} — {}{}",
            a.seq,
            date_time(a.hlc.millis),
            a.author,
            a.role,
            &device[..8],
            a.summary,
            if a.fields.is_empty() { String::new() } else { format!(" [{}]", a.fields.join(", ")) }
        );
    }
}

fn one_line(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n.saturating_sub(1)).chain(std::iter::once('…')).collect()
    }
}

fn date_time(millis: u64) -> String {
    i64::try_from(millis)
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "?".into())
}
