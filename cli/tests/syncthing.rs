//! A real file-sync tool between an office and a device (issue 23): two
//! Syncthing instances on the loopback share one folder; each side runs
//! `fieldcase sync --folder … --watch`; no file is moved by hand. A case
//! registered on a laptop reaches the office, the office's assignment
//! reaches another laptop, both change a protected field, and the
//! conflict the office's supervisor settles comes back to the first.
//!
//! Ignored by a plain `cargo test` (it needs Debian's `syncthing`); `make
//! syncthing-test` (part of `make test`) installs it and runs this with
//! `--ignored`. Both instances listen on 127.0.0.1 only, with global and
//! local discovery, relays, NAT traversal, STUN, usage reporting, crash
//! reporting and upgrades off, so nothing leaves the loopback; each has its
//! own home under a temporary directory, and both are killed at the end,
//! on failure too.
#[path = "common/cli.rs"]
mod cli;

use std::io::BufRead as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use cli::{ok, run, PASS};
use fieldcase::model::event::Role;
use fieldcase::model::store::CaseStore;
use fieldcase::vault::{SecretString, VaultOptions};
use serde_json::{json, Value};

/// How long each step may take before the test fails.
const STEP: Duration = Duration::from_secs(120);
const FOLDER_ID: &str = "fieldcase";

/// A child process killed when dropped (a failed assertion included).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind a loopback port").local_addr().unwrap().port()
}

struct Instance {
    home: PathBuf,
    id: String,
    port: u16,
    gui: u16,
    folder: PathBuf,
}

/// `syncthing generate` for its keys and device id; the configuration is
/// then written whole (every option that could reach beyond the loopback
/// set explicitly).
fn generate(root: &Path, name: &str) -> Instance {
    let home = root.join(format!("st-{name}"));
    let out = Command::new("syncthing")
        .args(["generate", "--no-default-folder", "--skip-port-probing"])
        .arg(format!("--home={}", home.display()))
        .env("HOME", root)
        .output()
        .expect("run `syncthing generate`: is Debian's syncthing package installed? (`make apt-deps`)");
    assert!(out.status.success(), "syncthing generate failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let id = text
        .lines()
        .find_map(|l| l.split("Device ID: ").nth(1))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| panic!("no device id in `syncthing generate`'s output: {text}"));
    let folder = root.join(format!("sync-{name}"));
    std::fs::create_dir_all(folder.join(".stfolder")).unwrap();
    Instance { home, id, port: free_port(), gui: free_port(), folder }
}

fn write_config(me: &Instance, my_name: &str, peer: &Instance, peer_name: &str) {
    let config = format!(
        r#"<configuration version="36">
    <folder id="{FOLDER_ID}" label="{FOLDER_ID}" path="{folder}" type="sendreceive" rescanIntervalS="5" fsWatcherEnabled="true" fsWatcherDelayS="1" ignorePerms="false" autoNormalize="true">
        <filesystemType>basic</filesystemType>
        <device id="{me_id}" introducedBy=""></device>
        <device id="{peer_id}" introducedBy=""></device>
    </folder>
    <device id="{me_id}" name="{my_name}" compression="metadata" introducer="false">
        <address>dynamic</address>
    </device>
    <device id="{peer_id}" name="{peer_name}" compression="metadata" introducer="false">
        <address>tcp://127.0.0.1:{peer_port}</address>
    </device>
    <gui enabled="true" tls="false" debugging="false">
        <address>127.0.0.1:{gui}</address>
        <apikey>fieldcase-test-{my_name}</apikey>
    </gui>
    <options>
        <listenAddress>tcp://127.0.0.1:{port}</listenAddress>
        <globalAnnounceServer></globalAnnounceServer>
        <globalAnnounceEnabled>false</globalAnnounceEnabled>
        <localAnnounceEnabled>false</localAnnounceEnabled>
        <reconnectionIntervalS>2</reconnectionIntervalS>
        <relaysEnabled>false</relaysEnabled>
        <natEnabled>false</natEnabled>
        <startBrowser>false</startBrowser>
        <urAccepted>-1</urAccepted>
        <urSeen>3</urSeen>
        <urURL></urURL>
        <autoUpgradeIntervalH>0</autoUpgradeIntervalH>
        <releasesURL></releasesURL>
        <crashReportingEnabled>false</crashReportingEnabled>
        <crashReportingURL></crashReportingURL>
        <stunKeepaliveStartS>0</stunKeepaliveStartS>
        <stunKeepaliveMinS>0</stunKeepaliveMinS>
        <stunServer></stunServer>
        <announceLANAddresses>false</announceLANAddresses>
        <restartOnWakeup>false</restartOnWakeup>
    </options>
</configuration>
"#,
        folder = me.folder.display(),
        me_id = me.id,
        peer_id = peer.id,
        peer_port = peer.port,
        gui = me.gui,
        port = me.port,
    );
    std::fs::write(me.home.join("config.xml"), config).unwrap();
}

fn start(root: &Path, me: &Instance, name: &'static str) -> Killed {
    let log = std::fs::File::create(root.join(format!("syncthing-{name}.log"))).unwrap();
    let child = Command::new("syncthing")
        .args(["serve", "--no-browser", "--no-restart", "--no-upgrade"])
        .arg(format!("--home={}", me.home.display()))
        .env("HOME", root)
        .env("STNODEFAULTFOLDER", "1")
        .env("STNOUPGRADE", "1")
        .env("STNORESTART", "1")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start syncthing");
    Killed(child)
}

/// `fieldcase sync --folder DIR --watch --json`, its reports as lines.
fn watch(vault: &Path, folder: &Path) -> (Killed, Receiver<Value>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fieldcase"))
        .arg("--vault")
        .arg(vault)
        .args(["sync", "--watch", "--interval", "1", "--json", "--folder"])
        .arg(folder)
        .env("FIELDCASE_PASSPHRASE", PASS)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start fieldcase sync --watch");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                if tx.send(v).is_err() {
                    break;
                }
            }
        }
    });
    (Killed(child), rx)
}

/// Ctrl-C: the watch ends between two passes and locks the vault.
fn stop(mut w: Killed) {
    let _ = Command::new("kill").args(["-INT", &w.0.id().to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = w.0.try_wait() {
            assert!(status.success(), "fieldcase sync --watch ended with {status:?}");
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("fieldcase sync --watch did not stop within 30 s of Ctrl-C");
}

/// `GET path` on an instance's REST API (loopback, API key), retried
/// while it starts.
fn rest(me: &Instance, name: &str, path: &str) -> Value {
    use std::io::{Read as _, Write as _};
    let start = Instant::now();
    loop {
        let attempt = (|| -> std::io::Result<Value> {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", me.gui))?;
            write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nX-API-Key: fieldcase-test-{name}\r\n\r\n")?;
            let mut text = String::new();
            s.read_to_string(&mut text)?;
            let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
            serde_json::from_str(body).map_err(std::io::Error::other)
        })();
        match attempt {
            Ok(v) => return v,
            Err(e) if start.elapsed() > Duration::from_secs(60) => panic!("syncthing {name}'s REST API: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// The running instance took the configuration: nothing beyond the loopback.
fn check_private(me: &Instance, name: &str) {
    let o = rest(me, name, "/rest/config/options");
    for (key, want) in [
        ("globalAnnounceEnabled", Value::Bool(false)),
        ("localAnnounceEnabled", Value::Bool(false)),
        ("relaysEnabled", Value::Bool(false)),
        ("natEnabled", Value::Bool(false)),
        ("crashReportingEnabled", Value::Bool(false)),
        ("announceLANAddresses", Value::Bool(false)),
        ("urAccepted", Value::from(-1)),
        ("autoUpgradeIntervalH", Value::from(0)),
        ("stunKeepaliveStartS", Value::from(0)),
    ] {
        assert_eq!(o[key], want, "syncthing {name}: option {key}: {o}");
    }
    assert_eq!(o["listenAddresses"], serde_json::json!([format!("tcp://127.0.0.1:{}", me.port)]), "{o}");
}

/// Wait until the instance is connected to its peer (the first dial may
/// find the peer not yet listening; Syncthing dials again).
fn wait_connected(me: &Instance, name: &str, peer: &Instance) {
    let start = Instant::now();
    while start.elapsed() < STEP {
        let c = rest(me, name, "/rest/system/connections");
        if c["connections"][&peer.id]["connected"] == Value::Bool(true) {
            eprintln!("syncthing {name} connected to its peer: after {:.1} s", start.elapsed().as_secs_f64());
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("syncthing {name} did not connect to its peer on the loopback within {} s", STEP.as_secs());
}

fn syncthing_logs(root: &Path) -> String {
    ["office", "device"]
        .iter()
        .map(|n| {
            let log = std::fs::read_to_string(root.join(format!("syncthing-{n}.log"))).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            format!("--- syncthing {n} (last lines)\n{}\n", tail.into_iter().rev().collect::<Vec<_>>().join("\n"))
        })
        .collect()
}

fn open(dir: &Path) -> CaseStore {
    CaseStore::open_with(dir, &SecretString::from(PASS.to_owned()), &VaultOptions::default()).expect("open vault")
}

/// A vault's device id, read while no watch holds it: the name of its
/// sub-folder in the sync folder.
fn open_id(dir: &Path) -> String {
    let s = open(dir);
    let id = s.vault().device().device_id.to_string();
    s.lock().unwrap();
    id
}

fn values(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().cloned().unwrap()
}

/// Wait for reports from several watchers until `want` holds of all the
/// imports seen so far (from this call on).
fn wait_imports(rxs: &[&Receiver<Value>], root: &Path, what: &str, want: impl Fn(&[Value]) -> bool) {
    let start = Instant::now();
    let mut seen: Vec<Value> = Vec::new();
    while start.elapsed() < STEP {
        for rx in rxs {
            while let Ok(report) = rx.try_recv() {
                eprintln!("  pass: {report}");
                seen.extend(report["imported"].as_array().cloned().unwrap_or_default());
            }
        }
        if want(&seen) {
            eprintln!("{what}: after {:.1} s", start.elapsed().as_secs_f64());
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let logs = syncthing_logs(root);
    panic!("{what}: not within {} s\n{logs}", STEP.as_secs());
}

#[test]
#[ignore = "needs Debian's syncthing; run by `make syncthing-test`"]
fn a_case_and_a_conflict_settled_at_the_office_travel_through_syncthing() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let (o, a, b) = (root.join("office"), root.join("amina"), root.join("bakary"));
    let f = |n: &str| root.join(n).to_str().unwrap().to_string();
    // Enrollment is done once, by hand, as at the office.
    ok(run(&o, &["init", "--office", "--name", "Agadez"]));
    for (dir, name) in [(&a, "amina"), (&b, "bakary")] {
        ok(run(dir, &["init", "--name", name]));
        ok(run(dir, &["enroll", "request", "--out", &f(&format!("{name}.json"))]));
        let enr = f(&format!("{name}.fcb"));
        ok(run(&o, &["enroll", "approve", &f(&format!("{name}.json")), "--role", "caseworker", "--out", &enr]));
        ok(run(dir, &["import", &enr]));
    }

    let amina_id = open_id(&a);

    // The office computer and the laptops' side of the office network: one
    // Syncthing each; the two laptops share the second one's folder (each
    // writes only in its own sub-folder, docs/bundle-format.md §12.1).
    let office = generate(root, "office");
    let device = generate(root, "device");
    write_config(&office, "office", &device, "device");
    write_config(&device, "device", &office, "office");
    let _st_office = start(root, &office, "office");
    let _st_device = start(root, &device, "device");
    check_private(&office, "office");
    check_private(&device, "device");
    wait_connected(&office, "office", &device);
    wait_connected(&device, "device", &office);

    // 1. Amina registers a child; the case reaches the office.
    let case = {
        let mut s = open(&a);
        let c = s.create_case("uasc", "Agadez").unwrap();
        s.save_form(c, "registration_bia", None, values(json!({"given_names": "Mariama", "risk_level": "medium"})))
            .unwrap();
        s.lock().unwrap();
        c
    };
    let (wa, _a_rx) = watch(&a, &device.folder);
    let (wb, b_rx) = watch(&b, &device.folder);
    let (wo, o_rx) = watch(&o, &office.folder);
    wait_imports(&[&o_rx], root, "the case registered on amina's laptop reaches the office", |i| {
        i.iter().any(|i| i["new_cases"] == 1)
    });

    // 2. The office assigns it to Bakary (a person closes the app to use the
    // command line: the watch holds the vault); it reaches his laptop.
    stop(wo);
    ok(run(&o, &["case", "assign", &case.to_string(), "--to", "bakary"]));
    let (wo, o_rx) = watch(&o, &office.folder);
    wait_imports(&[&b_rx], root, "the assigned case reaches bakary's laptop", |i| {
        i.iter().any(|i| i["new_cases"] == 1)
    });

    // 3. Both change the risk level, each on their own laptop, before
    // either has seen the other's change: a protected conflict.
    stop(wa);
    stop(wb);
    for (dir, level) in [(&a, "low"), (&b, "high")] {
        let mut s = open(dir);
        s.save_form(case, "registration_bia", None, values(json!({"risk_level": level}))).unwrap();
        s.lock().unwrap();
    }
    let (wa, a_rx) = watch(&a, &device.folder);
    let (wb, _b_rx) = watch(&b, &device.folder);
    wait_imports(&[&o_rx], root, "both changes reach the office", |i| {
        ["amina", "bakary"]
            .iter()
            .all(|who| i.iter().any(|i| i["sender_name"] == *who && i["new_events"].as_u64() >= Some(1)))
    });

    // 4. At the office, the supervisor settles it: high.
    stop(wo);
    {
        let mut s = open(&o);
        let sara = SecretString::from("quarry lantern sara velvet orbit".to_owned());
        s.add_person("sara", Role::Supervisor, &sara).unwrap();
        s.switch_person("sara", &sara).unwrap();
        let q = s.conflict_queue().unwrap();
        let c = q.iter().find(|c| c.field == "risk_level").unwrap_or_else(|| panic!("no risk level conflict: {q:?}"));
        assert!(c.protected);
        let high = c.heads.iter().find(|h| h.value == json!("high")).expect("bakary's value");
        s.resolve_conflict_head(case, "registration_bia", None, "risk_level", high.event).unwrap();
        s.lock().unwrap();
    }
    let (wo, o_rx) = watch(&o, &office.folder);

    // 5. The office's next answer to Amina carries the resolution; it
    // reaches her laptop through Syncthing.
    let amina_inbox = format!("{amina_id}/to-device/");
    let answer = {
        let start = Instant::now();
        loop {
            assert!(start.elapsed() < STEP, "the office wrote no answer to amina within {} s", STEP.as_secs());
            if let Ok(r) = o_rx.recv_timeout(Duration::from_millis(250)) {
                eprintln!("  pass: {r}");
                let written = r["written"].as_array().cloned().unwrap_or_default();
                if let Some(f) = written.iter().filter_map(Value::as_str).find(|f| f.starts_with(&amina_inbox)) {
                    break f.to_owned();
                }
            }
        }
    };
    wait_imports(&[&a_rx], root, "the office's resolution reaches amina's laptop", |i| {
        i.iter().any(|i| i["file"] == answer.as_str() && i["new_events"].as_u64() >= Some(1))
    });
    stop(wa);
    stop(wb);
    stop(wo);
    let s = open(&a);
    let detail = s.case_detail(case).unwrap();
    let risk = detail.fields.iter().find(|f| f.form == "registration_bia" && f.field == "risk_level").unwrap();
    assert_eq!(risk.value, Some(json!("high")), "amina's laptop shows the office's choice: {risk:?}");
    assert_eq!(risk.heads.len(), 1, "the conflict is settled there too: {risk:?}");
    s.lock().unwrap();
}
