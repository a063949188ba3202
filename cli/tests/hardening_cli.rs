//! What the `fieldcase` binary does to protect a vault beyond encryption:
//! the passphrase policy on `init` and `passwd`, a process that dumps no
//! core and cannot be read by others, and files written only as new files.
use std::path::Path;
use std::process::{Command, Output, Stdio};

const PASS: &str = "hardening test passphrase, okapi";

fn fieldcase(vault: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fieldcase"));
    c.arg("--vault").arg(vault).args(args);
    c.env_remove("FIELDCASE_PASSPHRASE").env_remove("FIELDCASE_NEW_PASSPHRASE").env_remove("FIELDCASE_VAULT");
    c.env("FIELDCASE_TEST_SCRYPT_LOG_N", "10");
    c.envs(env.iter().copied());
    c.stdin(Stdio::null());
    c.output().expect("run fieldcase")
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fails_with(o: &Output, needles: &[&str]) {
    assert_eq!(o.status.code(), Some(1), "stdout: {}", String::from_utf8_lossy(&o.stdout));
    let err = String::from_utf8_lossy(&o.stderr);
    for n in needles {
        assert!(err.contains(n), "expected {n:?} in: {err}");
    }
}

#[test]
fn init_refuses_a_weak_passphrase_and_says_how_to_fix_it() {
    let tmp = tempfile::tempdir().unwrap();
    let vault = tmp.path().join("v");
    let pass = |p| [("FIELDCASE_PASSPHRASE", p)];
    fails_with(
        &fieldcase(&vault, &["init"], &pass("short one")),
        &["too short", "at least 12 characters", "unrelated words"],
    );
    fails_with(&fieldcase(&vault, &["init"], &pass("password1234")), &["too easy to guess", "unrelated words"]);
    // The person's own name is among the first guesses.
    fails_with(
        &fieldcase(&vault, &["init", "--name", "Mariama Oumarou"], &pass("mariamaoumarou")),
        &["too easy to guess"],
    );
    // The office vault goes through the same rule.
    fails_with(&fieldcase(&vault, &["init", "--office"], &pass("qwertyuiopasdf")), &["too easy to guess"]);
    assert!(!vault.join(fieldcase::vault::IDENTITY_FILE).exists(), "a refused passphrase makes no vault");
    let out = fieldcase(&vault, &["init", "--name", "Mariama Oumarou"], &pass(PASS));
    ok(&out);
    // This debug build honours the test work factor, and says so.
    assert!(String::from_utf8_lossy(&out.stderr).contains("FIELDCASE_TEST_SCRYPT_LOG_N"));
}

#[test]
fn passwd_refuses_a_weak_new_passphrase_and_keeps_the_old_one() {
    let tmp = tempfile::tempdir().unwrap();
    let vault = tmp.path().join("v");
    ok(&fieldcase(&vault, &["init"], &[("FIELDCASE_PASSPHRASE", PASS)]));
    fails_with(
        &fieldcase(
            &vault,
            &["passwd"],
            &[("FIELDCASE_PASSPHRASE", PASS), ("FIELDCASE_NEW_PASSPHRASE", "aaaaaaaaaaaaaaaa")],
        ),
        &["too easy to guess"],
    );
    ok(&fieldcase(&vault, &["status"], &[("FIELDCASE_PASSPHRASE", PASS)]));
}

/// An enrollment request (written like every bundle the CLI writes) never
/// replaces an existing file and never follows a symlink.
#[test]
fn written_files_never_replace_a_file_or_follow_a_symlink() {
    let tmp = tempfile::tempdir().unwrap();
    let vault = tmp.path().join("v");
    let env = [("FIELDCASE_PASSPHRASE", PASS)];
    ok(&fieldcase(&vault, &["init", "--name", "amina"], &env));

    let existing = tmp.path().join("existing.json");
    std::fs::write(&existing, b"an earlier request").unwrap();
    let out = fieldcase(&vault, &["enroll", "request", "--out", existing.to_str().unwrap()], &env);
    fails_with(&out, &["already exists: choose another name"]);
    assert_eq!(std::fs::read(&existing).unwrap(), b"an earlier request");

    let victim = tmp.path().join("victim");
    std::fs::write(&victim, b"not yours").unwrap();
    let link = tmp.path().join("link.json");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    fails_with(&fieldcase(&vault, &["enroll", "request", "--out", link.to_str().unwrap()], &env), &["already exists"]);
    assert_eq!(std::fs::read(&victim).unwrap(), b"not yours");
    assert_eq!(std::fs::read_link(&link).unwrap(), victim);

    let fresh = tmp.path().join("fresh.json");
    ok(&fieldcase(&vault, &["enroll", "request", "--out", fresh.to_str().unwrap()], &env));
    let req: serde_json::Value = serde_json::from_slice(&std::fs::read(&fresh).unwrap()).unwrap();
    assert_eq!(req["user"], "amina");
    // No temporary file is left beside it.
    let mut names: Vec<String> =
        std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["existing.json", "fresh.json", "link.json", "v", "victim"]);
}

/// A process started as `uid` (root only) that blocks opening `fifo` for
/// reading; returned once it is inside that open, so well past whatever its
/// `main` does first.
#[cfg(target_os = "linux")]
fn blocked_on_fifo(mut cmd: Command, fifo: &Path, uid: Option<u32>) -> (std::process::Child, std::fs::File) {
    use std::os::unix::process::CommandExt as _;
    if let Some(uid) = uid {
        cmd.uid(uid).gid(uid);
    }
    let child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
    // Opening a FIFO for writing returns once a reader has opened it.
    let (tx, rx) = std::sync::mpsc::channel();
    let path = fifo.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(std::fs::OpenOptions::new().write(true).open(path));
    });
    let writer = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the child never opened the FIFO")
        .expect("open the FIFO for writing");
    (child, writer)
}

/// Who the kernel shows as the owner of `/proc/<pid>`'s files: the
/// process's user while it is dumpable, root once it is not.
#[cfg(target_os = "linux")]
fn proc_owner(pid: u32) -> u32 {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(format!("/proc/{pid}/status")).expect("proc status").uid()
}

#[cfg(target_os = "linux")]
fn core_limit(pid: u32) -> String {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let line = limits.lines().find(|l| l.starts_with("Max core file size")).expect("core line").to_string();
    line.split_whitespace().skip(4).take(2).collect::<Vec<_>>().join(" ")
}

/// The CLI sets RLIMIT_CORE to 0 and makes itself non-dumpable before it
/// reads anything. Checked from outside: `fieldcase import FIFO` blocks
/// opening the FIFO (before any passphrase is read); meanwhile its
/// `/proc/<pid>/limits` must say 0 for core files, and its `/proc/<pid>`
/// files must be owned by root, which the kernel does exactly for
/// non-dumpable processes. As root the test runs the child as `nobody`, so
/// that root ownership means something; a control child (`cat`) run the
/// same way shows the ordinary owner and limit, so the check can fail.
#[cfg(target_os = "linux")]
#[test]
fn the_cli_dumps_no_core_and_is_not_dumpable() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let fifo = |name: &str| {
        let p = tmp.path().join(name);
        let st = Command::new("mkfifo").arg("-m").arg("0666").arg(&p).status().expect("mkfifo");
        assert!(st.success());
        p
    };
    let is_root = rustix::process::geteuid().is_root();
    let as_user = if is_root { Some(65534) } else { None };
    let expected_user = as_user.unwrap_or_else(|| rustix::process::geteuid().as_raw());

    // Control: an ordinary process of the same user.
    let control_fifo = fifo("control");
    let mut cat = Command::new("cat");
    cat.arg(&control_fifo);
    let (mut control, w) = blocked_on_fifo(cat, &control_fifo, as_user);
    let control_owner = proc_owner(control.id());
    let control_core = core_limit(control.id());
    drop(w);
    control.wait().unwrap();
    assert_eq!(control_owner, expected_user, "an ordinary process's /proc files are its user's");

    let cli_fifo = fifo("bundle");
    let mut cli = Command::new(env!("CARGO_BIN_EXE_fieldcase"));
    cli.arg("--vault").arg(tmp.path().join("no-vault")).arg("import").arg(&cli_fifo);
    cli.env_remove("FIELDCASE_PASSPHRASE").env("HOME", tmp.path());
    let (mut child, mut w) = blocked_on_fifo(cli, &cli_fifo, as_user);
    let owner = proc_owner(child.id());
    let core = core_limit(child.id());
    use std::io::Write as _;
    let _ = w.write_all(b"not a bundle");
    drop(w);
    let status = child.wait().unwrap();
    assert_eq!(core, "0 0", "RLIMIT_CORE of the CLI (the control had {control_core})");
    assert_eq!(owner, 0, "the CLI's /proc files are root's: it is not dumpable");
    assert!(!status.success(), "no vault there: the import fails after the read");
}
