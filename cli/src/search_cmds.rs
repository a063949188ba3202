//! `search`, `trace`, `duplicates`, `merge`, `split`: thin wrappers over
//! `fieldcase::search`.
use crate::vault_cmds::open_store;
use std::path::Path;

use fieldcase::search::{merge, query::Query, visible};

use crate::case_cmds::print_hidden;

#[derive(clap::Args)]
pub struct SearchArgs {
    /// Words and filters, e.g. `mohamed jallow age:10-14 stage:tracing
    /// caseworker:amina location:labe office:agadez sex:male case:AGZ-`.
    #[arg(required = true, num_args = 1..)]
    pub query: Vec<String>,
    /// Maximum number of hits.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct TraceArgs {
    /// Case id or number.
    pub case: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct DuplicatesArgs {
    /// Only the suspected duplicates of this case (id or number).
    #[arg(long)]
    pub case: Option<String>,
    /// Also list the pairs a data manager already reviewed (merged, split
    /// back, or recorded as different children with `not-duplicate`).
    #[arg(long)]
    pub all: bool,
    /// Set this office's threshold (0.5 to 1; pairs scoring at least this
    /// are listed) before the pass.
    #[arg(long)]
    pub set_threshold: Option<f64>,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct MergeArgs {
    /// The duplicate case (id or number).
    pub case: String,
    /// The case it duplicates, which stays (id or number).
    #[arg(long)]
    pub into: String,
}

#[derive(clap::Args)]
pub struct NotDuplicateArgs {
    /// One of the two cases flagged as suspected duplicates (id or number).
    pub case: String,
    /// The other case (id or number).
    #[arg(long)]
    pub other: String,
}

#[derive(clap::Args)]
pub struct SplitArgs {
    /// The merged case (id or number).
    pub case: String,
}

pub fn search(dir: &Path, args: SearchArgs) -> anyhow::Result<()> {
    let store = open_store(dir)?;
    let mut q = Query::parse(&args.query.join(" "))?;
    q.limit = args.limit;
    let view = visible::search_for(&store, &q)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&view)?);
        return Ok(());
    }
    let hits = &view.hits;
    println!("{:<16} {:<30} {:>4} {:<7} {:<20} {:>5}  MATCHED", "CASE", "NAME", "AGE", "SEX", "STAGE", "SCORE");
    for h in hits {
        // Every query word: what it matched, or that it matched nothing
        // (a partial match lists the words the case does not have).
        let matched: Vec<String> = h
            .matched
            .iter()
            .map(|m| {
                if m.is_match() {
                    format!("{}→{} ({}, {})", m.term, m.matched, m.field, m.how.replace('_', " "))
                } else {
                    format!("{}: no match", m.term)
                }
            })
            .collect();
        let words = if h.words_matched < h.words && !h.matched.is_empty() {
            format!("[{} of {} words] ", h.words_matched, h.words)
        } else {
            String::new()
        };
        let merged = h.merged_into.as_ref().map(|m| format!(" [merged into {m}]")).unwrap_or_default();
        println!(
            "{:<16} {:<30} {:>4} {:<7} {:<20} {:>5.1}  {words}{}{merged}",
            h.case_number,
            format!("{} {}", h.given_names, h.family_name),
            h.age.map(|a| a.to_string()).unwrap_or_default(),
            h.sex.as_deref().unwrap_or(""),
            h.stage,
            h.score,
            matched.join(", ")
        );
    }
    println!("{} hit(s)", hits.len());
    if let Some(reason) = view.withheld {
        println!("names, age, sex and matched words not shown: {reason}");
    }
    print_hidden(&view.hidden, "matching case(s)");
    Ok(())
}

pub fn trace(dir: &Path, args: TraceArgs) -> anyhow::Result<()> {
    let store = open_store(dir)?;
    let case = store.find_case(&args.case)?;
    let view = visible::trace_for(&store, case)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&view)?);
        return Ok(());
    }
    let matches = &view.matches;
    for m in matches {
        let sought = m.sought_name.as_ref().map(|s| format!(" (request for {s})")).unwrap_or_default();
        println!("{:>5.1}  {:<16} {:<16} {}{sought}", m.score, m.kind, m.case_number, m.name);
        for p in &m.parts {
            println!("         {:+6.1}  {:<16} {}", p.points, p.part, p.detail);
        }
    }
    println!("{} match(es)", matches.len());
    print_hidden(&view.hidden, "match(es)");
    Ok(())
}

pub fn duplicates(dir: &Path, args: DuplicatesArgs) -> anyhow::Result<()> {
    let mut store = open_store(dir)?;
    if let Some(t) = args.set_threshold {
        fieldcase::search::duplicate_review::set_threshold(&mut store, t)?;
    }
    let (view, hidden) = match &args.case {
        Some(c) => {
            let case = store.find_case(c)?;
            // Refuses a case the person may not see before any pair is computed.
            (visible::duplicates_of_for(&store, case)?, 0)
        }
        None => {
            // A full pass: its pairs become the flags reports count (25b),
            // and what is listed is what still awaits a review.
            let q = fieldcase::search::duplicate_review::review_queue(&mut store, args.all)?;
            (q.view, q.reviewed)
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&view)?);
        return Ok(());
    }
    let pairs = &view.pairs;
    for p in pairs {
        println!("{:.2}  {} ~ {}", p.score, p.number_a, p.number_b);
        for part in &p.parts {
            println!("        {:+5.1}  {:<16} {}", part.points, part.part, part.detail);
        }
    }
    println!("{} suspected duplicate pair(s)", pairs.len());
    if hidden > 0 {
        println!("{hidden} reviewed pair(s) not shown (--all lists them)");
    }
    print_hidden(&view.hidden, "pair(s)");
    Ok(())
}

pub fn merge(dir: &Path, args: MergeArgs) -> anyhow::Result<()> {
    let mut store = open_store(dir)?;
    let dup = store.find_case(&args.case)?;
    let into = store.find_case(&args.into)?;
    merge::merge(&mut store, dup, into)?;
    println!("merged {} into {} (reversible with `fieldcase split {}`)", args.case, args.into, args.case);
    Ok(())
}

pub fn split(dir: &Path, args: SplitArgs) -> anyhow::Result<()> {
    let mut store = open_store(dir)?;
    let case = store.find_case(&args.case)?;
    merge::split(&mut store, case)?;
    println!("split {} back into a case of its own", args.case);
    Ok(())
}

pub fn not_duplicate(dir: &Path, args: NotDuplicateArgs) -> anyhow::Result<()> {
    let mut store = open_store(dir)?;
    let case = store.find_case(&args.case)?;
    let other = store.find_case(&args.other)?;
    merge::not_duplicate(&mut store, case, other)?;
    println!("recorded: {} and {} are different children (no longer pending review)", args.case, args.other);
    Ok(())
}
