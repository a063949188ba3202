//! Fixtures the commands' unit tests share: a fresh vault and form values
//! written as JSON.

use fieldcase::model::store::CaseStore;
use fieldcase::vault::{InitOptions, SecretString, VaultOptions};
use serde_json::{Map, Value};

/// A new vault in a temporary folder (cheap scrypt), unlocked by its first
/// person, the supervisor Awa. Keep the folder alive as long as the store.
pub fn store() -> (tempfile::TempDir, CaseStore) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let options = VaultOptions { scrypt_log_n: Some(10), ..VaultOptions::default() };
    let opts = InitOptions { name: "Awa".into(), role: "supervisor".into(), escrow: None };
    let s = CaseStore::init_with(tmp.path(), &SecretString::from("a passphrase".to_string()), opts, &options)
        .expect("init");
    (tmp, s)
}

/// Form values from a JSON object literal.
pub fn values(v: Value) -> Map<String, Value> {
    v.as_object().cloned().expect("object")
}
