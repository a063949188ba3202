//! The import row of `fieldcase bench` on its own, for profiling and for
//! comparing two builds on the SAME bundle: `fieldcase bench --import-setup
//! DIR [--quick]` makes an office vault and a device bundle of 100,000
//! events (10,000 with --quick) in DIR once; `fieldcase bench --import-only
//! DIR` imports that bundle into a fresh copy of the office vault and prints
//! wall and CPU time, and the import's peak memory, as JSON. Synthetic data
//! only.

use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;
use fieldcase::model::store::CaseStore;
use fieldcase::sync;
use fieldcase::vault::{InitOptions, SecretString, VaultOptions};
use serde_json::json;

/// Passphrase of the synthetic vaults.
pub(crate) const PASS: &str = "bench passphrase, synthetic data";
/// Events per synthetic case: a registration, a form save and eight notes.
const PER_CASE: usize = 10;
/// Cases registered per commit (200 events); notes are committed 1,000 at a
/// time. Both well under a journal frame's limit.
const CASES_PER_COMMIT: usize = 100;

pub(crate) fn options() -> VaultOptions {
    // Unlock cost is measured elsewhere; here scrypt would only add noise.
    VaultOptions { scrypt_log_n: Some(10), ..VaultOptions::default() }
}

/// An office vault in `base/sync-office` and an enrolled device vault in
/// `base/sync-device` holding `events` signed events (cases of one
/// registration, one form save and eight case notes each, the notes
/// written round by round over all the cases). Returns both
/// stores and the number of events made.
pub fn setup(base: &Path, events: usize) -> anyhow::Result<(CaseStore, CaseStore, usize)> {
    let pass = SecretString::from(PASS.to_owned());
    let options = options();
    let init = |dir: &str, name: &str, role: &str| {
        CaseStore::init_with(
            &base.join(dir),
            &pass,
            InitOptions { name: name.into(), role: role.into(), escrow: None },
            &options,
        )
    };
    let mut office = init("sync-office", "Bench office", "data_manager")?;
    sync::make_office(&mut office, "Agadez")?;
    let mut device = init("sync-device", "bench caseworker", "caseworker")?;
    let request = serde_json::to_vec(&sync::enrollment_request(&device)?)?;
    let enrollment =
        sync::approve_enrollment(&mut office, &request, fieldcase::model::event::Role::Caseworker, &mut |_| {})?;
    sync::import_bundle(&mut device, &enrollment, false, &mut |_| {}).context("enrollment")?;

    // As a caseworker's weeks of work: every case registered first, then
    // round after round a note on each case, so in time order (the bundle's
    // order) each case's events are spread over the whole bundle.
    let cases = events.div_ceil(PER_CASE);
    let values = |v: serde_json::Value| v.as_object().cloned().expect("literal object");
    let mut made = 0;
    let mut ids = Vec::with_capacity(cases);
    for chunk_start in (0..cases).step_by(CASES_PER_COMMIT) {
        let mut batch = device.batch();
        for i in chunk_start..(chunk_start + CASES_PER_COMMIT).min(cases) {
            let case = batch.create_case("uasc", "Agadez")?;
            batch.save_form(
                case,
                "registration_bia",
                None,
                values(json!({"given_names": format!("Synthetic {i}"), "family_name": "Bench"})),
            )?;
            ids.push(case);
            made += 2;
        }
        batch.commit()?;
    }
    for n in 0..PER_CASE - 2 {
        for chunk in ids.chunks(CASES_PER_COMMIT * PER_CASE) {
            let mut batch = device.batch();
            for case in chunk {
                if made >= events {
                    break;
                }
                batch.add_note(
                    *case,
                    values(json!({
                        "note_datetime": "2026-03-01T10:00:00Z",
                        "author": {"name": "bench caseworker", "role": "caseworker", "organisation": "Bench"},
                        "note_type": "phone",
                        "subject": format!("Follow-up call {n}"),
                        "text": "Synthetic note of typical length: spoke with the child and the carer about school attendance and health.",
                    })),
                )?;
                made += 1;
            }
            batch.commit()?;
        }
    }
    device.checkpoint()?;
    Ok((office, device, made))
}

/// `--import-setup DIR`: the office vault (`DIR/sync-office`) and the
/// device's bundle (`DIR/bundle.age`, `DIR/bundle.events`), made once.
pub fn prepare(dir: &Path, events: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let (office, mut device, made) = setup(dir, events)?;
    let bundle = sync::export_for_office(&mut device, &mut |_| {})?;
    office.lock()?;
    device.lock()?;
    std::fs::write(dir.join("bundle.age"), &bundle)?;
    std::fs::write(dir.join("bundle.events"), made.to_string())?;
    println!("{}", json!({"events": made, "bundle_bytes": bundle.len(), "dir": dir}));
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// `--import-only DIR`: import the prepared bundle (read from its file, as
/// `fieldcase import` does) into a fresh copy of the prepared office vault;
/// prints events, wall ms and CPU ms (all threads) of the import alone, and
/// its peak resident set above the process's once the vault is open, then
/// removes the copy.
pub fn import_only(dir: &Path) -> anyhow::Result<()> {
    let made: usize =
        std::fs::read_to_string(dir.join("bundle.events")).context("run --import-setup first")?.trim().parse()?;
    let bundle = dir.join("bundle.age");
    let bundle = bundle.as_path();
    let run = dir.join(format!("run-{}", std::process::id()));
    copy_dir(&dir.join("sync-office"), &run)?;
    let result = (|| -> anyhow::Result<serde_json::Value> {
        let mut office = CaseStore::open_with(&run, &SecretString::from(PASS.to_owned()), &options())?;
        office.wait_loaded()?;
        let baseline = crate::bench_hostile::reset_peak();
        let cpu = crate::process_cpu_ms();
        let t = Instant::now();
        let report = sync::import_bundle(&mut office, bundle, false, &mut |_| {}).context("office import")?;
        let wall = t.elapsed().as_secs_f64();
        let cpu = cpu.zip(crate::process_cpu_ms()).map(|(a, b)| b - a);
        let peak = crate::bench_hostile::status_bytes("VmHWM");
        anyhow::ensure!(report.summary.new == made, "the office imported {} events of {made}", report.summary.new);
        // Idempotence: the same bundle again changes nothing.
        let again = sync::import_bundle(&mut office, bundle, false, &mut |_| {})?;
        anyhow::ensure!(again.replay, "a second import of the same bundle was not a replay");
        office.lock()?;
        Ok(json!({
            "events": made,
            "wall_ms": wall * 1000.0,
            "cpu_ms": cpu,
            "events_per_s": made as f64 / wall,
            "events_per_cpu_s": cpu.map(|c| made as f64 / (c / 1000.0)),
            "bundle_bytes": std::fs::metadata(bundle)?.len(),
            "baseline_rss_bytes": baseline,
            "peak_rss_bytes": peak,
            "peak_above_baseline_bytes": peak.saturating_sub(baseline),
        }))
    })();
    let _ = std::fs::remove_dir_all(&run);
    println!("{}", result?);
    Ok(())
}
