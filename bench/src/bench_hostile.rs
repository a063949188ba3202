//! The hostile-bundle row of `fieldcase bench`: the security review's
//! bundle — an `events.jsonl` of 512 MiB of `[0,0,…]` lines, encrypted to
//! the office's public recipient (all an outsider needs), signed by a key
//! the office's roster does not know — imported by an office in a child
//! process (`--hostile-child`). The figures are the child's peak resident
//! set above its baseline (once the vault is open) and the time to the
//! refusal. The reader decides on the sender before it reads past the
//! manifest (docs/bundle-format.md §5.1), so neither depends on the size.
//! Synthetic data only.

use std::io::{BufWriter, Read, Write as _};
use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use fieldcase::model::store::CaseStore;
use fieldcase::sync;
use fieldcase::vault::{InitOptions, SecretString};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Size of the hostile bundle's events member.
const EVENTS_BYTES: u64 = 512 * 1024 * 1024;

/// The hostile-bundle figures.
#[derive(serde::Serialize, serde::Deserialize, Default, Debug, Clone)]
pub struct HostileFigures {
    /// Size of the bundle file.
    pub hostile_bundle_bytes: u64,
    /// Peak resident set of the importing process above its resident set
    /// just before the import (target < 100 MB).
    pub hostile_peak_above_baseline_bytes: u64,
    /// Wall time of the import until its refusal.
    pub hostile_refusal_ms: f64,
    /// The refusal, as the importer reports it.
    pub hostile_refusal: String,
}

/// `[0,0,…,0]` lines of 64 KiB, for ever.
struct ZeroLines {
    line: Vec<u8>,
    at: usize,
}

impl Read for ZeroLines {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.line.len() - self.at);
        buf[..n].copy_from_slice(&self.line[self.at..self.at + n]);
        self.at = (self.at + n) % self.line.len();
        Ok(n)
    }
}

fn zero_lines() -> ZeroLines {
    let mut line = b"[".to_vec();
    line.extend(b"0,".repeat(32 * 1024 - 2));
    line.extend_from_slice(b"0]\n");
    ZeroLines { line, at: 0 }
}

/// Write the hostile bundle to `path` as a stream (it is never in memory):
/// a manifest listing the events member with its real size and SHA-256,
/// signed by a fresh key.
fn write_hostile(path: &Path, to: &age::x25519::Recipient, office: Uuid) -> anyhow::Result<()> {
    let mut hasher = Sha256::new();
    std::io::copy(&mut zero_lines().take(EVENTS_BYTES), &mut hasher)?;
    let key = SigningKey::generate(&mut rand::thread_rng());
    let manifest = serde_json::to_vec(&json!({
        "format": "fieldcase-bundle", "version": [1, 0], "bundle_id": Uuid::now_v7(), "kind": "device_to_office",
        "sender": {"device_id": Uuid::now_v7(), "name": "outsider",
                   "signing_key": hex::encode(key.verifying_key().as_bytes()), "recipient": to.to_string()},
        "recipients": [to.to_string()], "office_id": office, "created_hlc": {"millis": 0, "counter": 0},
        "sender_seq": 1, "prev_bundle_sha256": null,
        "members": [{"path": "events.jsonl", "sha256": hex::encode(hasher.finalize()), "size": EVENTS_BYTES}],
    }))?;
    let mut signed = sync::format::MANIFEST_DOMAIN.to_vec();
    signed.extend_from_slice(&manifest);
    let sig = base64::engine::general_purpose::STANDARD.encode(key.sign(&signed).to_bytes());
    let enc = age::Encryptor::with_recipients(std::iter::once(to as &dyn age::Recipient))?;
    let out = enc.wrap_output(BufWriter::new(std::fs::File::create(path)?))?;
    let mut tar = tar::Builder::new(out);
    let mut append = |name: &str, size: u64, data: &mut dyn Read| -> anyhow::Result<()> {
        let mut h = tar::Header::new_ustar();
        h.set_path(name)?;
        h.set_size(size);
        h.set_mode(0o600);
        h.set_cksum();
        Ok(tar.append(&h, data)?)
    };
    append(sync::format::MANIFEST, manifest.len() as u64, &mut &manifest[..])?;
    append(sync::format::MANIFEST_SIG, sig.len() as u64, &mut sig.as_bytes())?;
    append(sync::format::EVENTS, EVENTS_BYTES, &mut zero_lines().take(EVENTS_BYTES))?;
    tar.into_inner()?.finish()?.flush()?;
    Ok(())
}

/// An office vault and the hostile bundle in `base/hostile`, refused by a
/// child process; the directory is removed afterwards.
pub fn measure(base: &Path) -> anyhow::Result<HostileFigures> {
    let dir = base.join("hostile");
    std::fs::create_dir_all(&dir)?;
    let result = (|| -> anyhow::Result<HostileFigures> {
        let pass = SecretString::from(crate::bench_import::PASS.to_owned());
        let mut office = CaseStore::init_with(
            &dir.join("office"),
            &pass,
            InitOptions { name: "Bench office".into(), role: "data_manager".into(), escrow: None },
            &crate::bench_import::options(),
        )?;
        sync::make_office(&mut office, "Agadez")?;
        let to: age::x25519::Recipient =
            sync::recipient(&office).parse().map_err(|e: &str| anyhow::anyhow!("office recipient: {e}"))?;
        let office_id = office.vault().device().device_id;
        office.lock()?;
        let bundle = dir.join("hostile.fcb");
        write_hostile(&bundle, &to, office_id)?;
        let out = std::process::Command::new(std::env::current_exe()?)
            .arg("bench")
            .arg("--hostile-child")
            .arg(&dir)
            .stderr(std::process::Stdio::inherit())
            .output()
            .context("starting the hostile-bundle child")?;
        anyhow::ensure!(out.status.success(), "the hostile-bundle child failed ({})", out.status);
        let mut f: HostileFigures = serde_json::from_slice(&out.stdout).context("the hostile-bundle child's report")?;
        f.hostile_bundle_bytes = std::fs::metadata(&bundle)?.len();
        Ok(f)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// A `/proc/self/status` value in bytes (`VmHWM`, `VmRSS`).
pub fn status_bytes(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.trim_start_matches(':').split_whitespace().next()))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Reset the peak resident set (`VmHWM`) to the current one (Linux ≥ 4.0),
/// so the peak read afterwards is the next operation's. Returns the
/// baseline: the resident set now (if the reset is refused, the peak read
/// later can only overstate the operation's share).
pub fn reset_peak() -> u64 {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    status_bytes("VmRSS")
}

/// The hidden `fieldcase bench --hostile-child DIR`: open the office vault,
/// import the hostile bundle, print the figures as JSON. The import must be
/// refused as coming from an unknown sender.
pub fn child(dir: &Path) -> anyhow::Result<()> {
    let pass = SecretString::from(crate::bench_import::PASS.to_owned());
    let mut office = CaseStore::open_with(&dir.join("office"), &pass, &crate::bench_import::options())?;
    let baseline = reset_peak();
    let started = Instant::now();
    let result = sync::import_bundle(&mut office, dir.join("hostile.fcb").as_path(), false, &mut |_| {});
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let peak = status_bytes("VmHWM");
    office.lock()?;
    let refusal = match result {
        Err(e @ sync::ImportError::UnknownSender { .. }) => e.to_string(),
        Err(e) => anyhow::bail!("the hostile bundle was refused for another reason: {e}"),
        Ok(_) => anyhow::bail!("the hostile bundle was accepted"),
    };
    let f = HostileFigures {
        hostile_bundle_bytes: 0,
        hostile_peak_above_baseline_bytes: peak.saturating_sub(baseline),
        hostile_refusal_ms: ms,
        hostile_refusal: refusal,
    };
    println!("{}", serde_json::to_string(&f)?);
    Ok(())
}
