//! The vault commands of the `fieldcase` CLI: init, status, checkpoint, passwd.
use std::path::Path;
use std::process::{Command, Output};

const PASS: &str = "cli test passphrase";

fn fieldcase(vault: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fieldcase"));
    c.arg("--vault").arg(vault).args(args);
    c.env_remove("FIELDCASE_PASSPHRASE").env_remove("FIELDCASE_NEW_PASSPHRASE").env_remove("FIELDCASE_VAULT");
    // Debug builds only: cheap scrypt so each command takes milliseconds.
    c.env("FIELDCASE_TEST_SCRYPT_LOG_N", "10");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run fieldcase")
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fails_with(o: &Output, needle: &str) {
    assert_eq!(o.status.code(), Some(1), "stdout: {}", String::from_utf8_lossy(&o.stdout));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
}

#[test]
fn init_status_checkpoint_and_passwd_work_together() {
    let tmp = tempfile::tempdir().unwrap();
    let vault = tmp.path().join("v");
    let escrow = age::x25519::Identity::generate().to_public().to_string();
    let out =
        ok(&fieldcase(&vault, &["init", "--name", "Amina", "--escrow", &escrow], &[("FIELDCASE_PASSPHRASE", PASS)]));
    assert!(out.contains("escrow ON"), "{out}");

    let status = ok(&fieldcase(&vault, &["status", "--json"], &[("FIELDCASE_PASSPHRASE", PASS)]));
    let j: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(j["device"]["user_name"], "Amina");
    assert_eq!(j["device"]["role"], "caseworker");
    assert_eq!(j["escrow"]["on"], true);
    assert_eq!(j["escrow"]["recipient"], escrow.as_str());
    assert!(j["generation"].as_u64().unwrap() >= 1);
    assert_eq!(j["recovery_clean"], true);
    assert!(j["tables"].is_array());
    assert!(j["cases"].is_number());

    let human = ok(&fieldcase(&vault, &["status"], &[("FIELDCASE_PASSPHRASE", PASS)]));
    assert!(human.contains("Escrow      ON"), "{human}");

    ok(&fieldcase(&vault, &["checkpoint"], &[("FIELDCASE_PASSPHRASE", PASS)]));

    ok(&fieldcase(
        &vault,
        &["passwd"],
        &[("FIELDCASE_PASSPHRASE", PASS), ("FIELDCASE_NEW_PASSPHRASE", "a new one, lantern okapi")],
    ));
    fails_with(&fieldcase(&vault, &["status"], &[("FIELDCASE_PASSPHRASE", PASS)]), "wrong passphrase");
    ok(&fieldcase(&vault, &["status"], &[("FIELDCASE_PASSPHRASE", "a new one, lantern okapi")]));
}

#[test]
fn init_refuses_empty_passphrase_bad_escrow_and_existing_vault() {
    let tmp = tempfile::tempdir().unwrap();
    let vault = tmp.path().join("v");
    fails_with(&fieldcase(&vault, &["init"], &[("FIELDCASE_PASSPHRASE", "")]), "passphrase is empty");
    fails_with(
        &fieldcase(&vault, &["init", "--escrow", "age1nope"], &[("FIELDCASE_PASSPHRASE", PASS)]),
        "escrow recipient",
    );
    ok(&fieldcase(&vault, &["init"], &[("FIELDCASE_PASSPHRASE", PASS)]));
    fails_with(&fieldcase(&vault, &["init"], &[("FIELDCASE_PASSPHRASE", PASS)]), "already");
    let out = ok(&fieldcase(&vault, &["status", "--json"], &[("FIELDCASE_PASSPHRASE", PASS)]));
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["escrow"]["on"], false);
}

#[test]
fn status_of_a_directory_without_a_vault_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    fails_with(&fieldcase(tmp.path(), &["status"], &[("FIELDCASE_PASSPHRASE", PASS)]), "not a Fieldcase vault");
}

/// A damaged snapshot segment: `status` checks every segment and names the
/// damaged one; another command that reads it gets a hint to run `status`.
#[test]
fn status_names_a_damaged_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let vault = tmp.path().join("v");
    let env = [("FIELDCASE_PASSPHRASE", PASS)];
    ok(&fieldcase(&vault, &["init", "--name", "Test laptop"], &env));
    // 100 demo cases are about 10 MB: two 8 MiB segments.
    ok(&fieldcase(&vault, &["demo", "--cases", "100"], &env));
    ok(&fieldcase(&vault, &["checkpoint"], &env));
    let seg_dir = vault.join(fieldcase::vault::SEGMENT_DIR);
    let mut names: Vec<String> =
        std::fs::read_dir(&seg_dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert!(names.len() >= 2, "{names:?}");
    let victim = names.last().unwrap().clone();
    let path = seg_dir.join(&victim);
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let o = fieldcase(&vault, &["status"], &env);
    fails_with(&o, "is damaged");
    fails_with(&o, &victim);
    fails_with(&o, "Restore the vault from a backup");
}

#[test]
fn files_modified_outside_fieldcase_are_reported_by_every_command_until_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let vault = tmp.path().join("v");
    let env = [("FIELDCASE_PASSPHRASE", PASS)];
    ok(&fieldcase(&vault, &["init", "--name", "Amina"], &env));
    // A frame of another vault (a journal frame with its tag, as written),
    // appended to this vault's journal by someone with the folder but not
    // the passphrase.
    let other = tmp.path().join("other");
    let options = fieldcase::vault::VaultOptions { scrypt_log_n: Some(10), ..Default::default() };
    let pass = fieldcase::vault::SecretString::from(PASS.to_owned());
    let mut v = fieldcase::vault::Vault::init_with(
        &other,
        &pass,
        fieldcase::vault::InitOptions::default(),
        Box::new(fieldcase::vault::KvApplier),
        &options,
    )
    .unwrap();
    v.commit(vec![fieldcase::vault::kv_put("forged", "x")]).unwrap();
    drop(v);
    let theirs = std::fs::read(other.join("journal-1.log")).unwrap();
    let journal = std::fs::read_dir(&vault)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "log"))
        .expect("a journal");
    let mut bytes = std::fs::read(&journal).unwrap();
    bytes.extend_from_slice(&theirs[16..]);
    std::fs::write(&journal, &bytes).unwrap();

    let listed = fieldcase(&vault, &["case", "list"], &env);
    ok(&listed);
    let warning = String::from_utf8_lossy(&listed.stderr);
    assert!(warning.contains("modified outside Fieldcase"), "{warning}");
    let status = ok(&fieldcase(&vault, &["status", "--json"], &env));
    let j: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(j["recovery_clean"], false);
    assert_eq!(
        j["recovery"]["rejected_files"][0],
        format!("{}.rejected", journal.file_name().unwrap().to_string_lossy())
    );
    let human = ok(&fieldcase(&vault, &["status"], &env));
    assert!(human.contains("set aside, not applied"), "{human}");
    std::fs::remove_file(journal.with_extension("log.rejected")).unwrap();
    let status = ok(&fieldcase(&vault, &["status", "--json"], &env));
    assert_eq!(serde_json::from_str::<serde_json::Value>(&status).unwrap()["recovery_clean"], true);
}
