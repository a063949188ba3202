//! Enrollment and the roster: a device's request, the office reading and
//! approving it (with a role), the enrolled devices, revocation, and the
//! office's bundle for one device.

use super::*;

/// Device: write this vault's enrollment request (public keys only).
pub fn write_enrollment_request(store: &CaseStore, out: &Path) -> Result<WrittenFile, UiError> {
    let req = sync::enrollment_request(store).map_err(sync_error)?;
    let bytes =
        serde_json::to_vec_pretty(&req).map_err(|e| UiError::new(crate::errors::ShellCode::Internal, e.to_string()))?;
    write_new_file(out, &bytes)
}

/// Office: read and check a request file before approving it.
pub fn read_request(store: &CaseStore, path: &Path) -> Result<EnrollmentRequestView, UiError> {
    let bytes = read_limited(path, MAX_REQUEST_FILE)?;
    let req = sync::roster::EnrollmentRequest::parse_and_verify(&bytes)
        .map_err(|e| UiError::new(crate::errors::ShellCode::EnrollmentRefused, e))?;
    let roster = sync::exchange::roster(store)?;
    let already = roster.as_ref().is_some_and(|r| r.roster.device(req.device_id).is_some());
    let elsewhere = roster
        .as_ref()
        .is_some_and(|r| sync::people::others_named(&r.roster, &req.user, &req.signing_key).next().is_some());
    Ok(EnrollmentRequestView {
        path: path.display().to_string(),
        device_id: req.device_id.to_string(),
        device_name: req.device_name,
        user: req.user,
        role: req.role.as_str().to_string(),
        signing_key: req.signing_key,
        created: req.created,
        already_enrolled: already,
        user_enrolled_elsewhere: elsewhere,
    })
}

/// Office: approve a request with `role` and write the device's enrollment
/// bundle. `additional_device_of`: the data manager says the request is
/// another device of that already enrolled user (the library checks it).
pub fn approve(
    store: &mut CaseStore,
    request: &Path,
    role: &str,
    additional_device_of: Option<&str>,
    out: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<WrittenFile, UiError> {
    let role: Role = role.parse().map_err(|e: fieldcase::model::event::UnknownRole| bad_input(e.to_string()))?;
    check_free(out)?;
    let bytes = read_limited(request, MAX_REQUEST_FILE)?;
    let bundle =
        sync::approve_enrollment_with(store, &bytes, role, additional_device_of, progress).map_err(sync_error)?;
    write_new_file(out, &bundle)
}

/// The roster's devices, the office first.
pub fn devices(store: &CaseStore) -> Result<Vec<DeviceEntry>, UiError> {
    let Some(signed) = sync::exchange::roster(store)? else {
        return Ok(Vec::new());
    };
    let office = signed.roster.office_id;
    let mut out: Vec<DeviceEntry> = signed
        .roster
        .devices
        .iter()
        .map(|d| DeviceEntry {
            device_id: d.device_id.to_string(),
            name: d.name.clone(),
            user: d.user.clone(),
            role: d.role.as_str().to_string(),
            enrolled_at: d.enrolled_at.clone(),
            revoked_at: d.revoked_at.clone(),
            is_office: d.device_id == office,
        })
        .collect();
    out.sort_by(|a, b| b.is_office.cmp(&a.is_office).then(a.name.cmp(&b.name)));
    Ok(out)
}

/// Device: write an enrollment request for the office.
#[tauri::command]
pub async fn sync_enrollment_request(session: State<'_, Session>, path: String) -> Result<WrittenFile, UiError> {
    let out = absolute(&path)?;
    session.with_store(|s| write_enrollment_request(s, &out))
}

/// Office: the enrolled devices.
#[tauri::command]
pub async fn office_devices(session: State<'_, Session>) -> Result<Vec<DeviceEntry>, UiError> {
    session.with_store(|s| devices(s))
}

/// Office: read and check an enrollment request.
#[tauri::command]
pub async fn office_read_request(session: State<'_, Session>, path: String) -> Result<EnrollmentRequestView, UiError> {
    let file = absolute(&path)?;
    session.with_store(|s| read_request(s, &file))
}

/// Office: approve a request and write the enrollment bundle.
#[tauri::command]
pub async fn office_approve(
    session: State<'_, Session>,
    request: String,
    role: String,
    additional_device_of: Option<String>,
    out: String,
    progress: Channel<SyncProgress>,
) -> Result<WrittenFile, UiError> {
    let (request, out) = (absolute(&request)?, absolute(&out)?);
    let same = additional_device_of.as_deref();
    session.with_store(|s| approve(s, &request, &role, same, &out, &mut reporter(&progress)))
}

/// Office: revoke a device.
#[tauri::command]
pub async fn office_revoke(session: State<'_, Session>, device: String) -> Result<(), UiError> {
    let device = parse_uuid(&device, "device")?;
    session.with_store(|s| sync::revoke(s, device).map_err(sync_error))
}

/// Office: write the bundle for one device.
#[tauri::command]
pub async fn office_export_for_device(
    session: State<'_, Session>,
    device: String,
    path: String,
    progress: Channel<SyncProgress>,
) -> Result<WrittenFile, UiError> {
    let device = parse_uuid(&device, "device")?;
    let out = absolute(&path)?;
    session.with_store(|s| export_to_device(s, device, &out, &mut reporter(&progress)))
}
