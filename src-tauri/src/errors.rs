//! Every error code the window can receive, in one list.
//!
//! A command error is a library error passed through its `Coded::code` and
//! `Coded::params` ([`UiError::coded`]), or one the shell finds itself
//! before it calls the library ([`ShellCode`]); there is no catch-all code.
//! A test writes the list of every code, with the parameters it always
//! carries, to ui/src/lib/bindings/error-codes.json; `make desktop-test`
//! fails when that file was stale, and a vitest fails when a code has no
//! `error.<code>` message in English, French or Arabic. The codes of a
//! held change's refusal (`model::refusal::CODES`) go to
//! refusal-codes.json beside it, for the same check of
//! `office.quarantine.code.<code>`. The codes of what a broken case rule
//! says (`model::violation::ViolationCode`, each with its parameters) go to
//! violation-codes.json, with the codes of the `action` parameter, for the
//! check of `violation.<code>` and `violation.action.<code>`.

use std::fmt;

use fieldcase::codes::Coded;

use crate::dto::UiError;

/// What the shell itself refuses, before the library is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShellCode {
    /// An id from the window that is not an id.
    BadId,
    /// A stage name the lifecycle does not have.
    UnknownStage,
    /// An attachment that could not be read.
    BadAttachment,
    /// A value from the window the command cannot use (a relative path…).
    BadInput,
    /// No file or folder was chosen.
    NoPath,
    /// A date that is not YYYY-MM-DD.
    BadDate,
    /// The vault is locked.
    Locked,
    /// A vault already exists where one would be made.
    VaultExists,
    /// A name is needed.
    NameRequired,
    /// The passphrase policy refuses the new passphrase.
    WeakPassphrase,
    /// A role name that is not a role.
    UnknownRole,
    /// An escrow recipient that is not an age key.
    BadEscrow,
    /// A read of the database failed after it was found damaged.
    VaultDamaged,
    /// An enrollment request that does not verify.
    EnrollmentRefused,
    /// An import without its preview first.
    NoPreview,
    /// A path the person did not choose in a dialog or a drive shortcut.
    NotChosen,
    /// Something that should not happen (a bug).
    Internal,
}

impl fmt::Display for ShellCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

fieldcase::error_codes! { ShellCode {
    ShellCode::BadId => "bad_id";
    ShellCode::UnknownStage => "unknown_stage";
    ShellCode::BadAttachment => "bad_attachment";
    ShellCode::BadInput => "bad_input";
    ShellCode::NoPath => "no_path";
    ShellCode::BadDate => "bad_date";
    ShellCode::Locked => "locked";
    ShellCode::VaultExists => "vault_exists";
    ShellCode::NameRequired => "name_required";
    ShellCode::WeakPassphrase => "weak_passphrase";
    ShellCode::UnknownRole => "unknown_role";
    ShellCode::BadEscrow => "bad_escrow";
    ShellCode::VaultDamaged => "vault_damaged";
    ShellCode::EnrollmentRefused => "enrollment_refused";
    ShellCode::NoPreview => "no_preview";
    ShellCode::NotChosen => "not_chosen";
    ShellCode::Internal => "internal";
} }

impl UiError {
    /// A library error as the window receives it: its code, its
    /// parameters, and its English sentence as the fallback.
    pub fn coded(e: &impl Coded) -> UiError {
        let mut out = UiError::new(ShellCode::Internal, e.to_string());
        out.code = e.code().to_string();
        out.params = e.params().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Every code the window can receive, with the parameters each always
    /// carries (sorted by code).
    fn all_codes() -> BTreeMap<&'static str, Vec<&'static str>> {
        fieldcase::codes::merged([fieldcase::codes::library_codes(), ShellCode::codes()])
    }

    /// Where the list goes, beside the ts-rs bindings.
    fn list_path() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/bindings/error-codes.json")
    }

    #[test]
    fn writes_the_list_of_every_error_code_for_the_window() {
        let json = serde_json::to_string_pretty(&all_codes()).expect("json") + "\n";
        let path = list_path();
        if std::fs::read_to_string(&path).ok().as_deref() != Some(json.as_str()) {
            std::fs::write(&path, &json).expect("write error-codes.json");
        }
        let codes = all_codes();
        for code in ["wrong_passphrase", "bundle_bad_signature", "hidden", "locked", "partner_rules"] {
            assert!(codes.contains_key(code), "{code}");
        }
        // A hidden case's reason is always there to be translated.
        assert_eq!(codes["hidden"], ["reason"]);
    }

    #[test]
    fn writes_the_list_of_quarantine_refusal_codes_for_the_window() {
        let json = serde_json::to_string_pretty(fieldcase::model::refusal::CODES).expect("json") + "\n";
        let path = list_path().with_file_name("refusal-codes.json");
        if std::fs::read_to_string(&path).ok().as_deref() != Some(json.as_str()) {
            std::fs::write(&path, &json).expect("write refusal-codes.json");
        }
    }

    /// Every rule violation code with its parameters, and the codes of the
    /// `action` parameter.
    fn violation_codes() -> serde_json::Value {
        use fieldcase::model::violation::{Attempt, ViolationCode};
        let codes: BTreeMap<&str, &[&str]> = ViolationCode::ALL.iter().map(|c| (c.code(), c.params())).collect();
        let actions: Vec<&str> = Attempt::ALL.iter().map(|a| a.code()).collect();
        serde_json::json!({ "codes": codes, "actions": actions })
    }

    #[test]
    fn writes_the_list_of_rule_violation_codes_for_the_window() {
        let json = serde_json::to_string_pretty(&violation_codes()).expect("json") + "\n";
        let path = list_path().with_file_name("violation-codes.json");
        if std::fs::read_to_string(&path).ok().as_deref() != Some(json.as_str()) {
            std::fs::write(&path, &json).expect("write violation-codes.json");
        }
        let list = violation_codes();
        assert_eq!(list["codes"]["closure_reason_missing"], serde_json::json!([]));
        assert_eq!(list["codes"]["role_may_not"], serde_json::json!(["role", "action"]));
    }

    #[test]
    fn a_library_error_keeps_its_code_and_params() {
        let e = fieldcase::sync::error::ImportError::UnsupportedVersion { major: 9 };
        let ui = UiError::coded(&e);
        assert_eq!((ui.code.as_str(), ui.params["major"].as_str()), ("bundle_unsupported_version", "9"));
        assert_eq!(ui.message, e.to_string());
    }
}
