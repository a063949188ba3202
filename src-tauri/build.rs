//! Generates the Tauri context and the access-control manifest for the app's
//! own commands, so capabilities/default.json can grant exactly these and
//! nothing else.
fn main() {
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(&["vault_info", "unlock", "lock"]));
    tauri_build::try_build(attributes).expect("tauri-build failed: check tauri.conf.json and capabilities/");
}
