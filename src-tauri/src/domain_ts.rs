//! The library's roles, stages and BID decision fields, written for the
//! UI so it keeps no copies of its own (issue 24).
//!
//! [`RoleName`] and [`StageName`] are the TypeScript unions `Role` and
//! `Stage` (bindings/Role.ts, Stage.ts), written from `Role::ALL` and
//! `Stage::ALL`; DTO fields that carry a role or a stage use them with
//! `#[ts(as = "…")]`. The test also writes bindings/domain.ts: the lists as
//! constants (`ROLES`, `STAGES`, `READ_ONLY_STAGES`, `BID_DECISION_FIELDS`).
//! `make desktop-test` fails when any of these files was stale.

use std::path::PathBuf;

use fieldcase::model::event::Role;
use fieldcase::model::lifecycle::Stage;
use ts_rs::{Config, TS};

/// A wire name of one of the library's [`Role`]s, as TypeScript sees it.
pub struct RoleName;
/// A wire name of one of the library's [`Stage`]s, as TypeScript sees it.
pub struct StageName;

fn union(names: impl Iterator<Item = &'static str>) -> String {
    names.map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(" | ")
}

fn role_names() -> impl Iterator<Item = &'static str> {
    Role::ALL.into_iter().map(Role::as_str)
}

fn stage_names() -> impl Iterator<Item = &'static str> {
    Stage::ALL.into_iter().map(Stage::as_str)
}

/// A string union type of ts-rs, exported to its own file.
macro_rules! union_ts {
    ($ty:ident, $name:literal, $doc:literal, $names:expr) => {
        impl TS for $ty {
            type WithoutGenerics = Self;
            type OptionInnerType = Self;
            fn docs() -> Option<String> {
                Some(ts_rs::format_docs(&[$doc]))
            }
            fn name(_: &Config) -> String {
                $name.into()
            }
            fn inline(_: &Config) -> String {
                union($names)
            }
            fn decl(_: &Config) -> String {
                format!("type {} = {};", $name, union($names))
            }
            fn decl_concrete(cfg: &Config) -> String {
                Self::decl(cfg)
            }
            fn output_path() -> Option<PathBuf> {
                Some(PathBuf::from(concat!("../../ui/src/lib/bindings/", $name, ".ts")))
            }
        }
    };
}

union_ts!(RoleName, "Role", " A role a person acts in (the library's `Role::ALL`).", role_names());
union_ts!(StageName, "Stage", " A case's stage (the library's `Stage::ALL`).", stage_names());

/// The text of bindings/domain.ts.
#[cfg(test)]
fn domain_ts() -> String {
    let list = |names: Vec<&str>| names.iter().map(|n| format!("  '{n}',\n")).collect::<String>();
    let read_only: Vec<&str> = Stage::ALL.into_iter().filter(|s| s.is_read_only()).map(Stage::as_str).collect();
    format!(
        "// Generated from the library's lists (src/model) by `cargo test -p fieldcase-desktop`\n\
         // (src-tauri/src/domain_ts.rs). Do not edit.\n\
         import type {{ Role }} from './Role';\n\
         import type {{ Stage }} from './Stage';\n\n\
         export type {{ Role, Stage }};\n\n\
         /** Every role, in the library's order (Role::ALL). */\n\
         export const ROLES = [\n{}] as const satisfies readonly Role[];\n\n\
         /** Every stage, in lifecycle order (Stage::ALL). */\n\
         export const STAGES = [\n{}] as const satisfies readonly Stage[];\n\n\
         /** Stages in which a case takes no new data (Stage::is_read_only). */\n\
         export const READ_ONLY_STAGES: readonly Stage[] = [\n{}];\n\n\
         /** The BID form's fields only the panel records (lifecycle::BID_DECISION_FIELDS). */\n\
         export const BID_DECISION_FIELDS: readonly string[] = [\n{}];\n\n\
         /** Whether a case in this stage takes no new data. */\n\
         export function isReadOnlyStage(stage: string): boolean {{\n  \
         return (READ_ONLY_STAGES as readonly string[]).includes(stage);\n\
         }}\n\n\
         /** Whether a string is one of the roles. */\n\
         export function isRole(role: string): role is Role {{\n  \
         return (ROLES as readonly string[]).includes(role);\n\
         }}\n",
        list(role_names().collect()),
        list(stage_names().collect()),
        list(read_only),
        list(fieldcase::model::lifecycle::BID_DECISION_FIELDS.to_vec()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes Role.ts, Stage.ts and domain.ts (make desktop-test fails when one changed).
    #[test]
    fn export_domain_bindings() {
        let cfg = Config::from_env();
        RoleName::export(&cfg).expect("export Role.ts");
        StageName::export(&cfg).expect("export Stage.ts");
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/bindings/domain.ts");
        let text = domain_ts();
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text).expect("write domain.ts");
        }
    }

    #[test]
    fn the_unions_are_the_library_lists() {
        let cfg = Config::new();
        assert_eq!(
            RoleName::inline(&cfg),
            "\"caseworker\" | \"supervisor\" | \"bid_panel\" | \"data_manager\" | \"viewer\""
        );
        assert!(StageName::inline(&cfg).starts_with("\"identified\" | \"registered\""));
        assert_eq!(StageName::inline(&cfg).matches('|').count(), Stage::ALL.len() - 1);
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().expect("a role"), r);
        }
        let text = domain_ts();
        assert!(text.contains("  'closed',\n  'transferred_out',\n  'duplicate',\n];"), "{text}");
        assert!(text.contains("  'chair_signature',\n];"));
    }
}
