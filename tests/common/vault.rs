//! Helpers shared by the vault tests.
#![allow(dead_code)]
use std::path::Path;
use std::sync::Arc;

use fieldcase::vault::{kv_put, InitOptions, KvApplier, SecretString, Storage, Vault, VaultOptions};

/// A low scrypt work factor so each unlock takes milliseconds, not a second.
pub const TEST_LOG_N: u8 = 10;

pub fn pass() -> SecretString {
    SecretString::from("correct horse battery staple".to_owned())
}

pub fn options() -> VaultOptions {
    VaultOptions { scrypt_log_n: Some(TEST_LOG_N), ..VaultOptions::default() }
}

pub fn options_with(storage: Arc<dyn Storage>) -> VaultOptions {
    VaultOptions { storage, ..options() }
}

pub fn init(dir: &Path) -> Vault {
    init_opts(dir, InitOptions { name: "Amina".into(), role: "caseworker".into(), escrow: None })
}

pub fn init_opts(dir: &Path, opts: InitOptions) -> Vault {
    Vault::init_with(dir, &pass(), opts, Box::new(KvApplier), &options()).expect("init")
}

pub fn open(dir: &Path) -> Vault {
    Vault::open_with(dir, &pass(), Box::new(KvApplier), &options()).expect("open")
}

pub fn put(v: &mut Vault, key: &str, value: &str) {
    v.commit(vec![kv_put(key, value)]).expect("commit");
}

pub fn count(v: &Vault) -> i64 {
    v.conn().query_row("SELECT count(*) FROM kv", [], |r| r.get(0)).expect("count")
}

pub fn get(v: &Vault, key: &str) -> Option<String> {
    v.conn().query_row("SELECT value FROM kv WHERE key = ?1", [key], |r| r.get(0)).ok()
}

pub fn keys(v: &Vault) -> Vec<String> {
    let mut s = v.conn().prepare("SELECT key FROM kv ORDER BY key").expect("prepare");
    let rows = s.query_map([], |r| r.get(0)).expect("query");
    rows.map(|r| r.expect("row")).collect()
}

/// Journal file of the vault's current generation.
pub fn journal_path(v: &Vault) -> std::path::PathBuf {
    v.dir().join(fieldcase::vault::journal_file_name(v.stats().generation))
}
