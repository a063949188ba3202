//! kill -9 loop: a child process commits in a loop and prints each key after
//! `commit` returned; it is killed (SIGKILL) at random times; after each kill
//! every acknowledged commit must be in the reopened vault.
#[path = "common/vault.rs"]
mod cv;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use cv::*;
use fieldcase::vault::{kv_put, KvApplier, Vault, VaultOptions};
use rand::Rng;

const CHILD_DIR_ENV: &str = "FIELDCASE_KILL9_CHILD_DIR";
const CHILD_START_ENV: &str = "FIELDCASE_KILL9_CHILD_START";

/// Not a test of its own: the body of the child process. It does nothing
/// unless the parent test started this binary with `CHILD_DIR_ENV` set.
#[test]
fn kill9_child_process_entry_point() {
    let Ok(dir) = std::env::var(CHILD_DIR_ENV) else { return };
    let start: u64 = std::env::var(CHILD_START_ENV).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    // A small checkpoint threshold so kills also land inside checkpoints.
    let opts = VaultOptions { checkpoint_bytes: 24 * 1024, ..options() };
    let mut v = Vault::open_with(&PathBuf::from(dir), &pass(), Box::new(KvApplier), &opts).expect("child open");
    let mut out = std::io::stdout().lock();
    for i in start.. {
        v.commit(vec![kv_put(&format!("k{i:08}"), &format!("value of {i} {}", "p".repeat((i % 50) as usize)))])
            .expect("child commit");
        writeln!(out, "ACK {i}").and_then(|()| out.flush()).expect("stdout");
    }
}

#[test]
fn acknowledged_commits_survive_kill_9_at_random_times() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    drop(init(&dir));
    let exe = std::env::current_exe().unwrap();
    let mut acked: BTreeSet<u64> = BTreeSet::new();
    let mut next = 0u64;
    let mut rng = rand::thread_rng();
    let mut cuts = 0;
    for round in 0..8 {
        let mut child = Command::new(&exe)
            .args(["--exact", "kill9_child_process_entry_point", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR_ENV, &dir)
            .env(CHILD_START_ENV, next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("ACK ").and_then(|n| n.trim().parse::<u64>().ok()) {
                    got.push(n);
                }
            }
            got
        });
        std::thread::sleep(Duration::from_millis(rng.gen_range(150..700)));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let got = reader.join().unwrap();
        acked.extend(&got);
        if let Some(&m) = acked.iter().next_back() {
            next = next.max(m + 1);
        }
        let v = open(&dir);
        if v.recovery_report().tail_cut.is_some() {
            cuts += 1;
        }
        let present: BTreeSet<u64> = keys(&v).iter().map(|k| k[1..].parse().unwrap()).collect();
        let missing: Vec<_> = acked.difference(&present).collect();
        assert!(
            missing.is_empty(),
            "round {round}: acknowledged but lost: {missing:?}; report {:?}",
            v.recovery_report()
        );
        // An unacknowledged commit may have made it; continue after it.
        if let Some(&m) = present.iter().next_back() {
            next = next.max(m + 1);
        }
        drop(v);
    }
    assert!(acked.len() > 20, "the child acknowledged only {} commits", acked.len());
    eprintln!("kill -9 loop: {} acknowledged commits over 8 kills, {cuts} torn tails cut", acked.len());
}
