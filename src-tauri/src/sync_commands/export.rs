//! Where this vault stands in sync ([`sync_overview`]) and the bundles it
//! writes: a device's for its office, an office's for one device.

use super::*;

/// Where this vault stands: office or device, enrolled or not, its keys.
pub fn overview(store: &CaseStore) -> Result<SyncOverview, UiError> {
    let roster = sync::exchange::roster(store)?;
    let device = store.vault().device();
    let date = chrono::Utc::now().format("%Y%m%d-%H%M");
    let slug: String = device
        .device_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect();
    Ok(SyncOverview {
        is_office: sync::is_office(store)?,
        enrolled: roster.is_some(),
        office_name: roster.as_ref().map(|r| r.roster.office_name.clone()),
        office_id: roster.as_ref().map(|r| r.roster.office_id.to_string()),
        roster_serial: roster.as_ref().map(|r| u32::try_from(r.roster.serial).unwrap_or(u32::MAX)),
        device_id: device.device_id.to_string(),
        device_name: device.device_name.clone(),
        user_name: device.user_name.clone(),
        role: device.role.clone(),
        recipient: sync::recipient(store),
        signing_key: hex_key(store),
        suggested_bundle_name: format!("fieldcase-{}-{date}.fcb", slug.trim_matches('-')),
    })
}

/// The key a person compares at enrollment: an office's key (rosters and
/// office bundles, its device key), or on a device the key of the person
/// recording, which their enrollment request names.
pub(super) fn hex_key(store: &CaseStore) -> String {
    let office = sync::is_office(store).unwrap_or(false);
    let key = if office { store.vault().device_verifying_key() } else { store.signer_key().verifying_key() };
    key.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Device: write every event the office has not acknowledged to `out`.
pub fn export_to_office(
    store: &mut CaseStore,
    out: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<WrittenFile, UiError> {
    built_file(out, || sync::export_for_office(store, progress), sync_error)
}

/// Office: write the bundle for one enrolled device to `out`.
pub fn export_to_device(
    store: &mut CaseStore,
    device: Uuid,
    out: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<WrittenFile, UiError> {
    built_file(out, || sync::export_for_device(store, device, progress), sync_error)
}

/// This vault's role in sync and its keys.
#[tauri::command]
pub async fn sync_overview(session: State<'_, Session>) -> Result<SyncOverview, UiError> {
    session.with_store(|s| overview(s))
}

/// Device: export a bundle for the office to `path`.
#[tauri::command]
pub async fn sync_export(
    session: State<'_, Session>,
    path: String,
    progress: Channel<SyncProgress>,
) -> Result<WrittenFile, UiError> {
    let out = absolute(&path)?;
    session.with_store(|s| export_to_office(s, &out, &mut reporter(&progress)))
}
