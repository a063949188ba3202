//! Enrolling people rather than names (docs/bundle-format.md §7): the checks
//! on an enrollment request that a plain device enrollment did not need (a
//! person hosted on an enrolled device; a user name already enrolled to
//! another key), and the direct enrollment of a person added on the office
//! vault itself.
use serde_json::json;

use crate::model::error::StoreError;
use crate::model::event::Role;
use crate::model::people::PersonRecord;
use crate::model::store::CaseStore;
use crate::sync::exchange::{is_office, now_rfc3339, put, roster, SyncError, K_ROSTER};
use crate::sync::roster::{EnrollmentRequest, Roster, RosterDevice};

/// The roster entries that hold `user` under another key than `key_hex`
/// and are not revoked: what makes an enrollment of `user` need the data
/// manager's word that it is the same person's other device.
pub fn others_named<'a>(roster: &'a Roster, user: &'a str, key_hex: &'a str) -> impl Iterator<Item = &'a RosterDevice> {
    roster.devices.iter().filter(move |d| d.user == user && d.signing_key != key_hex && d.revoked_at.is_none())
}

/// Check a request against the office's roster: a person hosted on a
/// device needs that device enrolled (and the bundle goes to its transport
/// key); a user name enrolled to another key is refused unless the office
/// says explicitly (`additional_device_of`) that this is the same person's
/// additional device, with the same role.
pub(crate) fn check_request(
    roster: &Roster,
    req: &EnrollmentRequest,
    additional_device_of: Option<&str>,
) -> Result<(), SyncError> {
    if let Some(host) = req.host {
        let entry = roster.device(host).ok_or_else(|| {
            SyncError::Enrollment(format!(
                "{} is a person on device {host}, which is not enrolled: enroll the device first",
                req.user
            ))
        })?;
        if entry.revoked_at.is_some() {
            return Err(SyncError::Revoked(host));
        }
        if entry.host.is_some() {
            return Err(SyncError::Enrollment(format!(
                "{host} is a person, not a device; a person cannot host another"
            )));
        }
        if entry.recipient != req.recipient {
            return Err(SyncError::Enrollment(format!(
                "the request names device {host} as its host but another transport key than the one enrolled for it"
            )));
        }
    }
    let same_name: Vec<&RosterDevice> = others_named(roster, &req.user, &req.signing_key).collect();
    match (same_name.first(), additional_device_of) {
        (None, None) => Ok(()),
        (None, Some(of)) => Err(SyncError::Enrollment(format!(
            "no one is enrolled as {of:?}, so this cannot be their additional device; approve it without the flag"
        ))),
        (Some(d), None) => Err(SyncError::Enrollment(format!(
            "the user name {:?} is already enrolled to another key (device {} {:?}); if this is the same person's additional device, approve it with --additional-device-of {:?}, otherwise the person must use another user name",
            req.user, d.device_id, d.name, req.user
        ))),
        (Some(_), Some(of)) if of != req.user => Err(SyncError::Enrollment(format!(
            "the request is for {:?}, not {of:?}",
            req.user
        ))),
        (Some(_), Some(_)) => match same_name.iter().find(|d| d.role != req.role) {
            Some(d) => Err(SyncError::Enrollment(format!(
                "{:?} is enrolled as {}, not {}: an additional device of a person has the same role",
                req.user, d.role, req.role
            ))),
            None => Ok(()),
        },
    }
}

/// Before a person is added on this vault: on an office vault they are
/// enrolled directly, which only a data manager does, and a user name
/// enrolled to someone else is refused. Returns whether this is an office
/// (and [`office_roster_entry`] is to be committed with the person).
pub(crate) fn office_enrollment_check(store: &CaseStore, user: &str) -> Result<bool, StoreError> {
    if !is_office(store)? {
        return Ok(false);
    }
    let (_, role) = store.actor();
    if role != Role::DataManager {
        return Err(StoreError::Forbidden { role, action: "enroll a person on the office vault".into() });
    }
    let held = roster(store)?.ok_or(StoreError::ActorFixed)?;
    if held.roster.devices.iter().any(|d| d.user == user && d.revoked_at.is_none()) {
        return Err(StoreError::PersonExists { user: user.to_owned() });
    }
    Ok(true)
}

/// The office's roster with `person` enrolled on the office vault itself
/// (host: the office), signed, as the journal entry that stores it.
pub(crate) fn office_roster_entry(store: &CaseStore, person: &PersonRecord) -> Result<serde_json::Value, StoreError> {
    let held = roster(store)?.ok_or(StoreError::ActorFixed)?;
    let mut r = held.roster;
    r.devices.push(RosterDevice {
        device_id: person.id,
        name: store.vault().device().device_name.clone(),
        user: person.user.clone(),
        role: person.role,
        signing_key: person.signing_key.clone(),
        bundle_key: None,
        recipient: store.vault().recipient(),
        enrolled_at: now_rfc3339(),
        revoked_at: None,
        revoked_after_seq: None,
        host: Some(r.office_id),
        team: None,
    });
    r.serial += 1;
    Ok(put(K_ROSTER, json!(r.sign(store.vault().device_key()))))
}

/// Remove further person `user` from this vault ([`CaseStore::remove_person`]),
/// and on an office vault revoke them in the roster first (their events up
/// to what the office holds stay valid). On a device the office revokes
/// them (`fieldcase enroll revoke`); until it does, their events already
/// sent stay valid and they can record nothing here.
pub fn remove_person(
    store: &mut CaseStore,
    user: &str,
    first_person_passphrase: &secrecy::SecretString,
) -> Result<PersonRecord, SyncError> {
    if crate::sync::exchange::is_office(store)? {
        if store.signer_id() != store.vault().device().device_id {
            return Err(StoreError::NotFirstPerson { user: store.vault().device().user_name.clone() }.into());
        }
        let id = store
            .people()?
            .into_iter()
            .find(|p| p.user == user)
            .map(|p| p.id)
            .ok_or_else(|| StoreError::UnknownPerson { user: user.to_owned() })?;
        crate::sync::exchange::revoke(store, id)?;
    }
    Ok(store.remove_person(user, first_person_passphrase)?)
}
