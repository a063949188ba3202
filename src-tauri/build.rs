//! Generates the Tauri context and the access-control manifest for the app's
//! own commands, so capabilities/default.json can grant exactly these and
//! nothing else.
// The command table (src/command_table.rs): its names become the
// permissions, so a command is named only there.
include!("src/command_table.rs");

fn main() {
    let names: &[&str] = command_table!(command_names);
    check_capabilities(names);
    println!("cargo:rerun-if-changed=src/command_table.rs");
    println!("cargo:rerun-if-changed=capabilities/default.json");
    let attributes = tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(names));
    tauri_build::try_build(attributes).expect("tauri-build failed: check tauri.conf.json and capabilities/");
}

/// capabilities/default.json must grant exactly the table's commands
/// (`allow-<name>` with dashes), and nothing but them: a command the
/// window cannot call, or a grant of one that is gone, fails the build.
fn check_capabilities(names: &[&str]) {
    let text = std::fs::read_to_string("capabilities/default.json").expect("read capabilities/default.json");
    let granted: std::collections::BTreeSet<String> = text
        .split('"')
        .filter(|s| s.starts_with("allow-"))
        .map(|s| s.trim_start_matches("allow-").replace('-', "_"))
        .collect();
    let table: std::collections::BTreeSet<String> = names.iter().map(|n| n.to_string()).collect();
    let missing: Vec<_> = table.difference(&granted).collect();
    let extra: Vec<_> = granted.difference(&table).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "capabilities/default.json differs from src/command_table.rs: not granted {missing:?}, granted but not commands {extra:?}"
    );
}
