//! [`CaseStore`]: the typed case API the CLI and the desktop app call.
//!
//! It wraps the encrypted [`Vault`] with the model's [`ModelApplier`]: every
//! change becomes one or more signed [`Event`]s, checked (form definition,
//! role, lifecycle rules) before they are created, and committed as one vault
//! journal frame. Foreign events come in through [`CaseStore::import_events`],
//! which verifies signatures and device sequence numbers and checks the same
//! rules before committing them all-or-nothing.
//!
//! This module holds the store itself (opening, people, the actor, blobs,
//! the write API, erasure); its parts are in submodules:
//! - `views`: what the store shows (case list, detail, history, tasks, next
//!   steps, the conflict queue), each through the visibility rules;
//! - `import`: the import pipeline (prepare, check, commit in frames);
//! - `checks`: the checks every event passes before it is created or
//!   imported (form values, role, lifecycle rules on live facts);
//! - `batch`: [`Batch`], several changes committed as one vault commit.

use std::collections::HashMap;
use std::path::Path;

use ed25519_dalek::VerifyingKey;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rusqlite::OptionalExtension;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::model::erasure;
use crate::model::event::{EventKind, Hlc, Role};
use crate::model::forms;
use crate::model::hlc::HlcClock;
use crate::model::lifecycle::{self, RuleViolation, Stage};
use crate::model::projection::{self, FieldStatus};
use crate::model::roles;
use crate::model::tasks::{self};
use crate::model::visibility::Team;
use crate::vault::{Applier, ApplyError, InitOptions, SecretString, Vault, VaultOptions};

pub use crate::model::error::StoreError;

/// Whether (form, field) is a protected field in the form definitions
/// (unknown forms and fields count as protected: nothing unknown is merged
/// silently).
pub fn is_protected(form: &str, field: &str) -> bool {
    forms::is_protected(form, field)
}

/// The case model's [`Applier`]: journal entries are signed events (and
/// device registrations); applying them inserts new events and rebuilds the
/// projection of the cases they touch. Signatures are verified before
/// commit by [`CaseStore`], not here: the journal is authenticated by the
/// vault's own encryption, and re-verifying every event at each unlock would
/// make unlock time grow with the number of events.
#[derive(Debug, Default, Clone, Copy)]
pub struct ModelApplier;

impl Applier for ModelApplier {
    fn migrate(&self, conn: &rusqlite::Connection) -> rusqlite::Result<()> {
        projection::migrate(conn)
    }

    fn upgrade(&self, conn: &rusqlite::Connection) -> rusqlite::Result<()> {
        projection::upgrade(conn)
    }

    fn apply(&self, tx: &rusqlite::Transaction<'_>, entries: &[Value]) -> Result<(), ApplyError> {
        // Nothing prepared: `apply_prepared` parses the entries itself.
        self.apply_prepared(tx, entries, Box::new(()))
    }

    fn prepare(&self, entries: &[Value]) -> crate::vault::Prepared {
        Box::new(projection::prepare_entries(entries))
    }

    fn apply_prepared(
        &self,
        tx: &rusqlite::Transaction<'_>,
        entries: &[Value],
        prepared: crate::vault::Prepared,
    ) -> Result<(), ApplyError> {
        // A commit uses a few dozen distinct statements (projection, audit,
        // search index); rusqlite's default cache of 16 made them evict each
        // other, so most `prepare_cached` calls compiled their SQL again.
        // Set here because the vault opens the connection (also at replay).
        tx.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        match prepared.downcast::<projection::PreparedEntries>() {
            Ok(prepared) => projection::apply_prepared_entries(tx, entries, *prepared, is_protected),
            // A single commit or the journal replay: nothing was prepared.
            Err(_) => projection::apply_entries(tx, entries, is_protected),
        }
        .map(|_| ())
        .map_err(|e| ApplyError(e.to_string()))
    }
}

/// Prepared statements kept per connection (see [`ModelApplier`]'s `apply_prepared`).
const STATEMENT_CACHE: usize = 256;

mod batch;
mod checks;
mod import;
mod views;

pub use batch::Batch;
pub use checks::to_facts;
pub use import::*;
pub use views::*;

/// The case store: an unlocked vault plus the acting user, the clock and the
/// device's sequence counter.
pub struct CaseStore {
    vault: Vault,
    clock: HlcClock,
    next_seq: u64,
    user: String,
    role: Role,
    /// The further person recording (docs/vault-format.md §2.2): their
    /// signer id and key. `None`: the vault's first person, who signs with
    /// the vault's own key under the vault's device id.
    signer: Option<(Uuid, ed25519_dalek::SigningKey)>,
    /// The team of the person recording, when they are a supervisor the
    /// roster puts in one (docs/visibility.md §2); refreshed whenever the
    /// person or the roster changes ([`CaseStore::refresh_team`]).
    team: Option<Team>,
    /// The forms with the lists of the effective country configuration
    /// (docs/configuration.md): what saves are validated against.
    forms: std::sync::Arc<forms::FormRegistry>,
    /// Its follow-up schedule (`None`: the tasks' default).
    follow_up: Option<Vec<tasks::VisitOffset>>,
    rng: StdRng,
}

impl CaseStore {
    /// Create a vault in `dir` and register this device's signing key in it.
    pub fn init(dir: &Path, passphrase: &SecretString, opts: InitOptions) -> Result<CaseStore, StoreError> {
        let vault = Vault::init(dir, passphrase, opts, Box::new(ModelApplier))?;
        CaseStore::from_vault(vault)
    }

    /// Unlock an existing vault.
    pub fn open(dir: &Path, passphrase: &SecretString) -> Result<CaseStore, StoreError> {
        let vault = Vault::open(dir, passphrase, Box::new(ModelApplier))?;
        CaseStore::from_vault(vault)
    }

    /// Unlock as a given person: `user` is the user name whose passphrase
    /// this is (the vault's first person or a further one, docs/vault-format.md
    /// §2.2). [`CaseStore::open`] accepts any person's passphrase.
    pub fn open_as(dir: &Path, passphrase: &SecretString, user: Option<&str>) -> Result<CaseStore, StoreError> {
        CaseStore::open_as_with(dir, passphrase, user, &VaultOptions::default())
    }

    /// [`CaseStore::open_as`] with explicit vault settings.
    pub fn open_as_with(
        dir: &Path,
        passphrase: &SecretString,
        user: Option<&str>,
        options: &VaultOptions,
    ) -> Result<CaseStore, StoreError> {
        let vault = Vault::open_as_with(dir, passphrase, user, Box::new(ModelApplier), options)?;
        CaseStore::from_vault(vault)
    }

    /// [`CaseStore::init`] with explicit vault settings (tests use a low
    /// scrypt work factor).
    pub fn init_with(
        dir: &Path,
        passphrase: &SecretString,
        opts: InitOptions,
        options: &VaultOptions,
    ) -> Result<CaseStore, StoreError> {
        let vault = Vault::init_with(dir, passphrase, opts, Box::new(ModelApplier), options)?;
        CaseStore::from_vault(vault)
    }

    /// [`CaseStore::open`] with explicit vault settings.
    pub fn open_with(dir: &Path, passphrase: &SecretString, options: &VaultOptions) -> Result<CaseStore, StoreError> {
        let vault = Vault::open_with(dir, passphrase, Box::new(ModelApplier), options)?;
        CaseStore::from_vault(vault)
    }

    /// Wrap an unlocked vault that was opened with [`ModelApplier`]. Its
    /// first reads may need a segment not loaded yet: a damaged one is
    /// reported as such, not as SQLite's bare "disk I/O error".
    pub fn from_vault(mut vault: Vault) -> Result<CaseStore, StoreError> {
        let (clock, next_seq, role) = match Self::setup(&mut vault) {
            Ok(s) => s,
            Err(e) => return Err(vault.damage_behind(&e).map_or(e, StoreError::Vault)),
        };
        let user = vault.device().user_name.clone();
        let forms = crate::country::registry_in(vault.conn())?;
        let follow_up = crate::country::follow_up_in(vault.conn())?;
        let mut store = CaseStore {
            clock,
            next_seq,
            user,
            role,
            signer: None,
            team: None,
            forms,
            follow_up,
            rng: StdRng::from_entropy(),
            vault,
        };
        store.load_people()?;
        store.refresh_team()?;
        // An erasure interrupted between its commit and its checkpoint.
        store.finish_erasures()?;
        Ok(store)
    }

    /// Tell the vault who its further people are (rewriting their keys
    /// files if the vault keys changed at this unlock), and if one of them
    /// unlocked, make them the person recording.
    fn load_people(&mut self) -> Result<(), StoreError> {
        let people = crate::model::people::load(self.vault.conn())?;
        let recipients: Vec<(Uuid, String)> = people.iter().map(|p| (p.id, p.recipient.clone())).collect();
        if self.vault.set_people(&recipients)? {
            self.vault.write_people_keys()?;
        }
        let Some(p) = self.vault.person() else { return Ok(()) };
        let (id, key) = (p.id, p.signing.clone());
        let record = people.iter().find(|r| r.id == id).cloned();
        let record = self.check_person(record, p.verifying_key_hex(), &p.user, &p.role)?;
        let recipient = p.recipient();
        if record.recipient != recipient {
            // A passphrase change of this person was interrupted after
            // their new file was written: their file is theirs, the record
            // follows it (so the next rotation reaches them).
            let fixed = crate::model::people::PersonRecord { recipient, ..record.clone() };
            self.vault.commit(vec![crate::model::people::entry(&fixed)])?;
            self.vault.set_people(
                &crate::model::people::load(self.vault.conn())?
                    .iter()
                    .map(|p| (p.id, p.recipient.clone()))
                    .collect::<Vec<_>>(),
            )?;
        }
        self.become_person(record, key)
    }

    /// The vault's record of a person whose file says `key_hex`, `user`,
    /// `role`: they must agree, or the file was replaced.
    fn check_person(
        &self,
        record: Option<crate::model::people::PersonRecord>,
        key_hex: String,
        user: &str,
        role: &str,
    ) -> Result<crate::model::people::PersonRecord, StoreError> {
        match record {
            Some(r) if r.signing_key == key_hex && r.user == user && r.role.as_str() == role => Ok(r),
            _ => Err(StoreError::PersonMismatch { user: user.to_owned() }),
        }
    }

    fn become_person(
        &mut self,
        record: crate::model::people::PersonRecord,
        key: ed25519_dalek::SigningKey,
    ) -> Result<(), StoreError> {
        self.next_seq = next_seq_of(self.vault.conn(), record.id)?;
        self.user = record.user;
        self.role = record.role;
        self.signer = Some((record.id, key));
        self.refresh_team()
    }

    /// Read the recording person's team from the roster this vault holds
    /// (a supervisor's only: a team decides nothing for other roles).
    /// Called whenever the person or the roster may have changed, so the
    /// views read it without parsing the roster each time.
    pub(crate) fn refresh_team(&mut self) -> Result<(), StoreError> {
        self.team = match self.role {
            Role::Supervisor => crate::sync::exchange::roster(self)?.and_then(|r| r.roster.team_of(&self.user)),
            _ => None,
        };
        Ok(())
    }

    /// The team of the person recording, if they are a supervisor with one.
    pub fn team(&self) -> Option<&Team> {
        self.team.as_ref()
    }

    /// The further people of this vault (not its first person, who is
    /// [`Vault::device`]), as the database records them.
    pub fn people(&self) -> Result<Vec<crate::model::people::PersonRecord>, StoreError> {
        Ok(crate::model::people::load(self.vault.conn())?)
    }

    /// The signer id of the person recording: what their events carry as
    /// `device_id` (the vault's device id for its first person).
    pub fn signer_id(&self) -> Uuid {
        self.signer.as_ref().map_or(self.vault.device().device_id, |(id, _)| *id)
    }

    /// The key the person recording signs with.
    pub fn signer_key(&self) -> &ed25519_dalek::SigningKey {
        match &self.signer {
            Some((_, k)) => k,
            // `signer` is `None` only while the first person records: they
            // unlocked, or were switched to with their passphrase, and
            // either loads their key.
            None => self.vault.first_person_key().expect("the first person recording has their key loaded"),
        }
    }

    /// Add a further person to this vault (docs/vault-format.md §2.2): their
    /// own passphrase (which the passphrase policy must accept), signing
    /// key and role. On an office vault the person is enrolled in the
    /// office's roster in the same commit, which needs a data manager
    /// recording and a user name not enrolled to anyone else; on a device
    /// they record nothing until the office has enrolled them
    /// (`sync::enrollment_request` after switching to them).
    pub fn add_person(
        &mut self,
        user: &str,
        role: Role,
        passphrase: &SecretString,
    ) -> Result<crate::model::people::PersonRecord, StoreError> {
        use secrecy::ExposeSecret as _;
        let user = user.trim();
        if user.is_empty() {
            return Err(StoreError::UnknownPerson { user: String::new() });
        }
        let taken = user == self.vault.device().user_name || self.people()?.iter().any(|p| p.user == user);
        if taken {
            return Err(StoreError::PersonExists { user: user.to_owned() });
        }
        crate::passphrase_policy::check(passphrase.expose_secret(), &[user]).into_result()?;
        let office_entry = crate::sync::people::office_enrollment_check(self, user)?;
        let person = self.vault.add_person(user, role.as_str(), passphrase)?;
        let record = crate::model::people::PersonRecord {
            id: person.id,
            user: user.to_owned(),
            role,
            signing_key: person.verifying_key_hex(),
            recipient: person.recipient(),
            created: person.created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            removed_at: None,
        };
        let mut entries =
            vec![crate::model::people::entry(&record), projection::device_entry(record.id, &record.signing_key, user)];
        if office_entry {
            entries.push(crate::sync::people::office_roster_entry(self, &record)?);
        }
        if let Err(e) = self.vault.commit(entries) {
            self.vault.remove_person_files(record.id);
            return Err(e.into());
        }
        let people: Vec<(Uuid, String)> = self.people()?.iter().map(|p| (p.id, p.recipient.clone())).collect();
        self.vault.set_people(&people)?;
        Ok(record)
    }

    /// Remove further person `user` from this vault, as its first person
    /// (whose passphrase `first_person_passphrase` is checked): their
    /// record is marked removed, their files deleted, and then the vault's
    /// own keys are changed as at a passphrase change (the passphrase
    /// stays), so a copy of their old files with their passphrase opens
    /// nothing written from now on. Their events stay, signed. On an
    /// office vault [`crate::sync::people::remove_person`] also revokes
    /// them in the roster; on a device the office revokes them.
    pub fn remove_person(
        &mut self,
        user: &str,
        first_person_passphrase: &SecretString,
    ) -> Result<crate::model::people::PersonRecord, StoreError> {
        if self.signer.is_some() {
            return Err(StoreError::NotFirstPerson { user: self.vault.device().user_name.clone() });
        }
        let record = self
            .people()?
            .into_iter()
            .find(|p| p.user == user)
            .ok_or_else(|| StoreError::UnknownPerson { user: user.to_owned() })?;
        self.vault.check_first_person(first_person_passphrase)?;
        let removed = crate::model::people::PersonRecord {
            removed_at: Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            ..record.clone()
        };
        // The record first: from this commit the person cannot unlock the
        // store (their file no longer matches a record), even if what
        // follows is interrupted; the next removal or passphrase change
        // finishes the rest.
        self.vault.commit(vec![crate::model::people::entry(&removed)])?;
        let people: Vec<(Uuid, String)> = self.people()?.iter().map(|p| (p.id, p.recipient.clone())).collect();
        self.vault.set_people(&people)?;
        self.vault.remove_person_files(record.id);
        let scrypt = self.vault.scrypt_log_n();
        self.vault.change_passphrase(first_person_passphrase, first_person_passphrase, scrypt)?;
        Ok(removed)
    }

    /// Switch the person recording to `user`, checked with their
    /// passphrase: from now on changes are signed with their key, under
    /// their signer id and sequence, with their name and role, and the
    /// views show what they may see. A wrong passphrase changes nothing.
    pub fn switch_person(&mut self, user: &str, passphrase: &SecretString) -> Result<(), StoreError> {
        if user == self.vault.device().user_name {
            self.vault.check_first_person(passphrase)?;
            let device = self.vault.device().clone();
            self.next_seq = next_seq_of(self.vault.conn(), device.device_id)?;
            self.role = device.role.parse()?;
            self.user = device.user_name;
            self.signer = None;
            return self.refresh_team();
        }
        let record = self
            .people()?
            .into_iter()
            .find(|p| p.user == user)
            .ok_or_else(|| StoreError::UnknownPerson { user: user.to_owned() })?;
        let p = self.vault.read_person(record.id, passphrase)?;
        let record = self.check_person(Some(record), p.verifying_key_hex(), &p.user, &p.role)?;
        self.become_person(record, p.signing.clone())
    }

    /// Refuse a change signed by a further person the roster this vault
    /// holds does not list with their key and role (not enrolled yet, or
    /// revoked): the office would refuse it, and with it every bundle
    /// that carries it. A vault of no office has no roster to ask.
    fn check_may_record(&self) -> Result<(), StoreError> {
        let Some((id, key)) = &self.signer else { return Ok(()) };
        let Some(roster) = crate::sync::exchange::roster(self)? else { return Ok(()) };
        let refuse = |reason: &str| StoreError::PersonNotEnrolled { user: self.user.clone(), reason: reason.into() };
        let Some(entry) = roster.roster.device(*id) else {
            return Err(refuse(
                "the office has not enrolled them; send it their enrollment request (`fieldcase --as USER enroll request`) and import the enrollment bundle it answers with",
            ));
        };
        if entry.revoked_at.is_some() {
            return Err(refuse("the office has revoked their enrollment"));
        }
        if entry.signing_key != hex::encode(key.verifying_key().as_bytes()) || entry.role != self.role {
            return Err(refuse("the office's roster lists them with another key or role"));
        }
        Ok(())
    }

    /// Read what the store needs from the vault: its clock, next device
    /// sequence number and role (registering the device key if missing).
    fn setup(vault: &mut Vault) -> Result<(HlcClock, u64, Role), StoreError> {
        vault.conn().set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let device = vault.device().clone();
        let role: Role = device.role.parse()?;
        let key_hex = hex::encode(vault.first_person_verifying_key().as_bytes());
        match projection::device_key(vault.conn(), device.device_id)? {
            Some(k) if k == key_hex => {}
            Some(_) => return Err(StoreError::DeviceKeyMismatch { device: device.device_id }),
            None => vault.commit(vec![projection::device_entry(device.device_id, &key_hex, &device.device_name)])?,
        }
        let conn = vault.conn();
        let last: Option<(i64, i64)> = conn
            .query_row(
                "SELECT hlc_millis, hlc_counter FROM events UNION ALL SELECT hlc_millis, hlc_counter FROM erased_events
                 ORDER BY hlc_millis DESC, hlc_counter DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let last = last.map_or(Hlc::default(), |(m, c)| Hlc { millis: m as u64, counter: c as u32 });
        Ok((HlcClock::new(last), next_seq_of(conn, device.device_id)?, role))
    }

    /// The vault underneath (read-only use).
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// Wait until the whole database is in memory; the first damaged
    /// segment, if any ([`Vault::wait_loaded`]).
    pub fn wait_loaded(&mut self) -> Result<(), crate::vault::VaultError> {
        self.vault.wait_loaded()
    }

    /// Change the passphrase, and with it the vault's own keys: every file
    /// is re-encrypted and re-tagged, so the old identity file with the
    /// old passphrase opens nothing written from now on
    /// ([`Vault::change_passphrase`]). `old` must be the current passphrase.
    ///
    /// When a further person is recording (docs/vault-format.md §2.2), it
    /// is their passphrase that changes: they get a new person key, so
    /// their new file opens with the new passphrase only. (The vault's own
    /// keys change only with its first person's passphrase.)
    pub fn change_passphrase(&mut self, old: &SecretString, new: &SecretString) -> Result<(), StoreError> {
        let scrypt = self.vault.scrypt_log_n();
        let Some((id, _)) = &self.signer else {
            return Ok(self.vault.change_passphrase(old, new, scrypt)?);
        };
        let id = *id;
        let record = self.people()?.into_iter().find(|p| p.id == id);
        let record = record.ok_or_else(|| StoreError::UnknownPerson { user: self.user.clone() })?;
        let person = self.vault.change_person_passphrase(id, old, new)?;
        let fixed = crate::model::people::PersonRecord { recipient: person.recipient(), ..record };
        self.vault.commit(vec![crate::model::people::entry(&fixed)])?;
        Ok(())
    }

    /// Lock: checkpoint, drop the database, zeroize keys.
    pub fn lock(self) -> Result<(), StoreError> {
        Ok(self.vault.lock()?)
    }

    /// Write a checkpoint (fresh encrypted snapshot, new journal).
    pub fn checkpoint(&mut self) -> Result<(), StoreError> {
        Ok(self.vault.checkpoint()?)
    }

    /// Store an attachment encrypted in the vault; returns its blob id (for
    /// an `attachment.added` event).
    pub fn put_blob(&mut self, bytes: &[u8]) -> Result<String, StoreError> {
        Ok(self.vault.put_blob(bytes)?)
    }

    /// Attach a photo or document to `case`: the bytes go into the encrypted
    /// blob store and an `attachment.added` event records the blob with its
    /// SHA-256 and size, so the author's own signature vouches for the bytes
    /// a sync bundle later carries (docs/bundle-format.md §3.1). If the event
    /// is refused (a closed case, a role that may not record case data) the
    /// blob is removed again: no orphan ciphertext is left behind. Returns
    /// the new attachment item's id.
    pub fn add_attachment(&mut self, case: Uuid, name: &str, mime: &str, bytes: &[u8]) -> Result<Uuid, StoreError> {
        use sha2::Digest as _;
        if bytes.is_empty() {
            return Err(StoreError::EmptyAttachment);
        }
        if bytes.len() as u64 > MAX_ATTACHMENT_BYTES {
            return Err(StoreError::AttachmentTooLarge { size: bytes.len() as u64, limit: MAX_ATTACHMENT_BYTES });
        }
        let blob = self.vault.put_blob(bytes)?;
        let item = Uuid::now_v7();
        let payload = serde_json::json!({
            "item": item, "blob": blob, "name": name, "mime": mime,
            "sha256": hex::encode(sha2::Sha256::digest(bytes)), "size": bytes.len(),
        });
        let mut b = self.batch();
        let recorded = b.record(case, EventKind::AttachmentAdded, Some("attachment"), payload, Vec::new());
        let result = recorded.and_then(|_| b.commit());
        if let Err(e) = result {
            // Best effort: the refusal is what the caller needs to see.
            let _ = self.vault.remove_blob(&blob);
            return Err(e);
        }
        Ok(item)
    }

    /// Read an attachment back.
    pub fn get_blob(&self, id: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, StoreError> {
        Ok(self.vault.get_blob(id)?)
    }

    /// Act as another user and role without a passphrase: only on a vault
    /// that belongs to no office (demo data, rule tests), where nothing is
    /// enforced because there is no authority yet to say who is who. On an
    /// office vault or an enrolled device this is refused
    /// ([`StoreError::ActorFixed`]): there a person is switched to with
    /// their passphrase ([`CaseStore::switch_person`]).
    pub fn set_actor(&mut self, user: &str, role: Role) -> Result<(), StoreError> {
        if crate::sync::exchange::roster(self)?.is_some() {
            return Err(StoreError::ActorFixed);
        }
        self.user = user.to_string();
        self.role = role;
        Ok(())
    }

    /// The acting user and role.
    pub fn actor(&self) -> (&str, Role) {
        (&self.user, self.role)
    }

    /// For deterministic demo data: the physical time (Unix ms) the HLC
    /// reads; `None` = system time.
    pub fn set_clock(&mut self, millis: Option<u64>) {
        self.clock.set_clock(millis);
    }

    /// [`Vault::set_checkpoint_bytes`] of the store's vault.
    pub fn set_checkpoint_bytes(&mut self, bytes: u64) -> u64 {
        self.vault.set_checkpoint_bytes(bytes)
    }

    /// For deterministic demo data: seed the generator of event, case and
    /// item ids.
    pub fn set_rng_seed(&mut self, seed: u64) {
        self.rng = StdRng::seed_from_u64(seed);
    }

    /// Today's date as the store's clock reads it (UTC).
    pub fn today(&self) -> chrono::NaiveDate {
        date_of(self.clock.physical_millis())
    }

    /// Trust another device's signing key, so its events can be imported.
    /// (Sync will replace this with the office's trust roster.)
    pub fn trust_device(&mut self, device_id: Uuid, key: &VerifyingKey, name: &str) -> Result<(), StoreError> {
        let key_hex = hex::encode(key.as_bytes());
        match projection::device_key(self.vault.conn(), device_id)? {
            Some(k) if k == key_hex => Ok(()),
            Some(_) => Err(StoreError::DeviceKeyMismatch { device: device_id }),
            None => Ok(self.vault.commit(vec![projection::device_entry(device_id, &key_hex, name)])?),
        }
    }

    /// Number of registered cases.
    pub fn case_count(&self) -> Result<usize, StoreError> {
        let n: i64 = self.vault.conn().query_row("SELECT COUNT(*) FROM cases", [], |r| r.get(0))?;
        Ok(n as usize)
    }

    /// Group several changes into one vault commit.
    pub fn batch(&mut self) -> Batch<'_> {
        Batch {
            clock: self.clock.clone(),
            next_seq: self.next_seq,
            store: self,
            events: Vec::new(),
            states: HashMap::new(),
            numbers: HashMap::new(),
            may_record: false,
        }
    }

    /// Register a new case (stage `identified`); returns its id.
    pub fn create_case(&mut self, case_type: &str, office: &str) -> Result<Uuid, StoreError> {
        let mut b = self.batch();
        let id = b.create_case(case_type, office)?;
        b.commit()?;
        Ok(id)
    }

    /// Register a new case and, with `values`, save its registration/BIA
    /// values in the same commit (refused values register nothing).
    /// Returns its id and case number.
    pub fn register_case(
        &mut self,
        case_type: &str,
        office: &str,
        values: Option<Map<String, Value>>,
    ) -> Result<(Uuid, String), StoreError> {
        let mut b = self.batch();
        let id = b.create_case(case_type, office)?;
        if let Some(values) = values {
            b.save_form(id, "registration_bia", None, values)?;
        }
        b.commit()?;
        let number = self.case_detail(id)?.summary.case_number;
        Ok((id, number))
    }

    /// Save values of a form (or of one list item of a repeating form).
    pub fn save_form(
        &mut self,
        case: Uuid,
        form: &str,
        item: Option<Uuid>,
        values: Map<String, Value>,
    ) -> Result<(), StoreError> {
        let mut b = self.batch();
        b.save_form(case, form, item, values)?;
        b.commit()
    }

    /// Move the case to another stage.
    pub fn change_stage(&mut self, case: Uuid, to: Stage, reason: &str) -> Result<(), StoreError> {
        let mut b = self.batch();
        b.change_stage(case, to, reason)?;
        b.commit()
    }

    /// Add a case note; returns the new item id.
    pub fn add_note(&mut self, case: Uuid, values: Map<String, Value>) -> Result<Uuid, StoreError> {
        let mut b = self.batch();
        let id = b.add_note(case, values)?;
        b.commit()?;
        Ok(id)
    }

    /// Record a follow-up visit; returns the new item id.
    pub fn record_visit(&mut self, case: Uuid, values: Map<String, Value>) -> Result<Uuid, StoreError> {
        let mut b = self.batch();
        let id = b.record_visit(case, values)?;
        b.commit()?;
        Ok(id)
    }

    /// Make a referral; returns the new item id.
    pub fn make_referral(&mut self, case: Uuid, values: Map<String, Value>) -> Result<Uuid, StoreError> {
        let mut b = self.batch();
        let id = b.make_referral(case, values)?;
        b.commit()?;
        Ok(id)
    }

    /// Assign the case to a caseworker.
    pub fn assign(&mut self, case: Uuid, caseworker: &str) -> Result<(), StoreError> {
        let mut b = self.batch();
        b.assign(case, caseworker)?;
        b.commit()
    }

    /// Assign `cases` to caseworker `to`, in one commit (all or none): the
    /// rules check each assignment (a supervisor or the office's data
    /// manager assigns; a caseworker only takes an unassigned case they
    /// registered). Where this vault holds an office's roster, `to` must be
    /// an enrolled caseworker who is not revoked, so no case is handed to
    /// a name nobody signs as. Returns how many changed (a case already
    /// assigned to `to` is left as it is).
    pub fn assign_cases(&mut self, cases: &[Uuid], to: &str) -> Result<usize, StoreError> {
        self.check_assignee(to)?;
        let mut b = self.batch();
        let mut changed = 0;
        for &case in cases {
            if b.state(case)?.caseworker.as_deref() == Some(to) {
                continue;
            }
            b.assign(case, to)?;
            changed += 1;
        }
        b.commit()?;
        Ok(changed)
    }

    /// Reassign every case assigned to `from` that the person recording
    /// may see to `to`, in one commit ([`CaseStore::assign_cases`]): a
    /// caseworker who leaves or is away. Returns the cases moved.
    pub fn reassign_all(&mut self, from: &str, to: &str) -> Result<Vec<Uuid>, StoreError> {
        let cases: Vec<Uuid> = self
            .list_cases()?
            .cases
            .into_iter()
            .filter(|c| c.caseworker.as_deref() == Some(from))
            .map(|c| c.id)
            .collect();
        self.assign_cases(&cases, to)?;
        Ok(cases)
    }

    /// `to` may be given cases: an enrolled caseworker, not revoked, where
    /// an office's roster is held.
    fn check_assignee(&self, to: &str) -> Result<(), StoreError> {
        let Some(roster) = crate::sync::exchange::roster(self)? else { return Ok(()) };
        let enrolled =
            roster.roster.devices.iter().any(|d| d.user == to && d.revoked_at.is_none() && d.role == Role::Caseworker);
        if enrolled {
            Ok(())
        } else {
            Err(StoreError::NotACaseworker { user: to.to_owned() })
        }
    }

    /// Resolve a conflict by choosing (or typing) the value; the new write
    /// replaces all current heads.
    pub fn resolve_conflict(
        &mut self,
        case: Uuid,
        form: &str,
        item: Option<Uuid>,
        field: &str,
        value: Value,
    ) -> Result<(), StoreError> {
        let mut b = self.batch();
        b.resolve_conflict(case, form, item, field, value)?;
        b.commit()
    }

    /// Settle a conflict by keeping one of its heads: `head` is the event
    /// that wrote the value kept (a [`HeadView::event`]). This is how a
    /// protected field or the stage (form [`projection::STAGE_FORM`],
    /// field [`projection::STAGE_FIELD`]) is settled: the value is taken
    /// from the head, so it can only be one of the values really in
    /// conflict ([`StoreError::NotAHead`] otherwise, e.g. when another
    /// device settled it meanwhile).
    pub fn resolve_conflict_head(
        &mut self,
        case: Uuid,
        form: &str,
        item: Option<Uuid>,
        field: &str,
        head: Uuid,
    ) -> Result<(), StoreError> {
        let mut b = self.batch();
        b.resolve_conflict_head(case, form, item, field, head)?;
        b.commit()
    }

    /// Settle a stage conflict by keeping the concurrent stage change
    /// `head` (a [`StageConflict`] head): the case takes that head's stage;
    /// the other change stays in the event history, set aside.
    pub fn resolve_stage_conflict(&mut self, case: Uuid, head: Uuid, reason: &str) -> Result<(), StoreError> {
        let mut b = self.batch();
        b.resolve_stage_conflict(case, head, reason)?;
        b.commit()
    }

    /// The case's stage conflict, if concurrent stage changes met and no
    /// one has chosen yet.
    pub fn stage_conflict(&self, case: Uuid) -> Result<Option<StageConflict>, StoreError> {
        let state = self.case_state(case)?;
        let view = state.stage_view();
        if !view.in_conflict {
            return Ok(None);
        }
        let facts = to_facts(&state)?;
        Ok(Some(StageConflict {
            stage: view.stage().unwrap_or("identified").to_string(),
            heads: view
                .heads
                .iter()
                .map(|h| StageHeadView {
                    event: h.event,
                    from: h.from.clone(),
                    to: h.to.clone(),
                    reason: h.reason.clone(),
                    hlc: h.hlc,
                    device_id: h.device,
                    author: h.author.clone(),
                    role: h.role.as_str().to_string(),
                })
                .collect(),
            resolvers: lifecycle::stage_resolvers(&facts),
        }))
    }

    /// The office's conflict queue: every field with several heads and
    /// every stage conflict, in the cases this store lists. Entries that
    /// need a person (protected fields, the stage) come first, then by case
    /// number and field. Each entry says which roles may settle it
    /// ([`roles::may_resolve`]) and whether the acting user may: a data
    /// manager sees the whole queue and routes each entry to those roles.
    pub fn conflict_queue(&self) -> Result<Vec<QueuedConflict>, StoreError> {
        let mut out = Vec::new();
        for case in self.list_cases()?.cases.into_iter().filter(|c| c.conflicts > 0 || c.needs_review) {
            let detail = self.case_detail(case.id)?;
            for f in detail.fields.into_iter().filter(|f| f.heads.len() > 1) {
                let protected = f.status == FieldStatus::NeedsReview;
                let resolvers = roles::resolvers(roles::ConflictSubject::Field { form: &f.form, protected });
                out.push(QueuedConflict {
                    case: case.clone(),
                    actor_may_resolve: resolvers.contains(&self.role),
                    resolvers,
                    form: f.form,
                    item: f.item,
                    field: f.field,
                    protected,
                    shown: f.value,
                    heads: f.heads,
                });
            }
            if let Some(stage) = self.stage_conflict(case.id)? {
                out.push(QueuedConflict {
                    case: case.clone(),
                    form: projection::STAGE_FORM.into(),
                    item: None,
                    field: projection::STAGE_FIELD.into(),
                    protected: true,
                    shown: None,
                    heads: stage
                        .heads
                        .iter()
                        .map(|h| HeadView {
                            event: h.event,
                            value: Value::String(h.to.clone()),
                            hlc: h.hlc,
                            device_id: h.device_id,
                            author: h.author.clone(),
                        })
                        .collect(),
                    actor_may_resolve: stage.resolvers.contains(&self.role),
                    resolvers: stage.resolvers,
                });
            }
        }
        out.sort_by(|a, b| {
            b.protected.cmp(&a.protected).then(a.case.case_number.cmp(&b.case.case_number)).then(a.field.cmp(&b.field))
        });
        Ok(out)
    }

    /// Find a case by UUID or case number.
    pub fn find_case(&self, id_or_number: &str) -> Result<Uuid, StoreError> {
        let by_number: Option<String> = self
            .vault
            .conn()
            .query_row(
                "SELECT id FROM cases WHERE case_number = ?1 OR id = ?1 ORDER BY id LIMIT 1",
                [id_or_number.trim()],
                |r| r.get(0),
            )
            .optional()?;
        match by_number.and_then(|s| Uuid::parse_str(&s).ok()) {
            Some(id) => Ok(id),
            None => match Uuid::parse_str(id_or_number.trim()) {
                Ok(id) => Err(self.missing(id)?),
                Err(_) => Err(StoreError::NotFound { case: id_or_number.to_string() }),
            },
        }
    }

    /// The error for a case id with no case row: [`StoreError::Erased`]
    /// when only its tombstone is left, else [`StoreError::NotFound`].
    fn missing(&self, case: Uuid) -> Result<StoreError, StoreError> {
        Ok(match erasure::tombstone(self.vault.conn(), case)? {
            Some(t) => StoreError::Erased { case: case.to_string(), on: t.erased_on(), reason: t.reason },
            None => StoreError::NotFound { case: case.to_string() },
        })
    }

    /// The tombstone of an erased case (`None`: not erased here). It holds
    /// no personal data, so every reader may see it.
    pub fn tombstone(&self, case: Uuid) -> Result<Option<erasure::Tombstone>, StoreError> {
        Ok(erasure::tombstone(self.vault.conn(), case)?)
    }

    /// Every tombstone of this vault (the erased cases are in no other view).
    pub fn tombstones(&self) -> Result<Vec<erasure::Tombstone>, StoreError> {
        Ok(erasure::tombstones(self.vault.conn())?)
    }

    /// Request the erasure of `case` for `reason` (one of
    /// [`erasure::REASONS`]), as the acting person (a supervisor or a data
    /// manager). Nothing is removed until another person in the other role
    /// approves ([`CaseStore::approve_erasure`]). Returns the request's id.
    pub fn request_erasure(&mut self, case: Uuid, reason: &str) -> Result<Uuid, StoreError> {
        self.require_visible(case)?;
        let mut b = self.batch();
        let id = b.push_now(case, EventKind::CaseErasureRequested, None, json!({"reason": reason}), Vec::new())?;
        b.commit()?;
        Ok(id)
    }

    /// The pending erasure request of `case`, if any.
    pub fn erasure_request(&self, case: Uuid) -> Result<Option<erasure::Request>, StoreError> {
        self.require_visible(case)?;
        Ok(self.case_state(case)?.erasure_request)
    }

    /// Approve the pending erasure request of `case` as the acting person:
    /// the case's data, attachments and search entries are removed, the
    /// blobs deleted and a checkpoint written at once, so no file of the
    /// vault holds the case any longer (docs/vault-format.md §10).
    pub fn approve_erasure(&mut self, case: Uuid) -> Result<erasure::Tombstone, StoreError> {
        self.require_visible(case)?;
        let request = self.case_state(case)?.erasure_request.ok_or_else(|| StoreError::RuleViolated {
            violations: vec![RuleViolation::new(
                "erasure",
                crate::model::violation::ViolationCode::NoErasureRequest,
                &[],
            )],
        })?;
        let mut b = self.batch();
        b.push_now(
            case,
            EventKind::CaseErasureApproved,
            None,
            json!({"request": request.event, "reason": request.reason}),
            Vec::new(),
        )?;
        b.commit()?;
        self.tombstone(case)?.ok_or_else(|| StoreError::NotFound { case: case.to_string() })
    }

    /// Finish the erasures the database says are due: delete their blob
    /// files, checkpoint (the new snapshot has none of the case's bytes and
    /// the journal that held its events is deleted), then record them done.
    /// Runs after every commit that erased a case and at unlock (after a
    /// crash in between). Idempotent.
    pub fn finish_erasures(&mut self) -> Result<(), StoreError> {
        let (blobs, cases) = erasure::due(self.vault.conn())?;
        if cases.is_empty() {
            return Ok(());
        }
        for blob in &blobs {
            self.vault.delete_blob(blob)?;
        }
        self.vault.checkpoint()?;
        self.vault.commit(vec![json!({"type": erasure::ERASURE_DONE, "cases": cases})])?;
        Ok(())
    }
}

impl CaseStore {
    /// Commit sync bookkeeping entries ([`projection::sync_put_entry`],
    /// [`projection::device_entry`]) in one vault commit.
    pub(crate) fn commit_sync_entries(&mut self, entries: Vec<Value>) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        self.vault.commit(entries)?;
        // The entries may hold a new roster.
        self.refresh_team()
    }

    /// Commit a checked country configuration and validate from now on
    /// against its lists.
    pub(crate) fn commit_config(&mut self, entry: Value) -> Result<(), StoreError> {
        self.vault.commit(vec![entry])?;
        self.reload_forms()
    }

    /// Validate from now on against the configuration the vault holds.
    pub(crate) fn reload_forms(&mut self) -> Result<(), StoreError> {
        self.forms = crate::country::registry_in(self.vault.conn())?;
        self.follow_up = crate::country::follow_up_in(self.vault.conn())?;
        Ok(())
    }

    /// The forms with the lists of the effective country configuration.
    pub fn forms(&self) -> &forms::FormRegistry {
        &self.forms
    }

    /// Check the next events against these forms (an import whose bundle
    /// carries a newer configuration, before it is committed); returns the
    /// forms used until now.
    pub(crate) fn swap_forms(
        &mut self,
        forms: std::sync::Arc<forms::FormRegistry>,
    ) -> std::sync::Arc<forms::FormRegistry> {
        std::mem::replace(&mut self.forms, forms)
    }
}
/// The largest attachment a case takes: what a bundle carries
/// (`sync::format::MAX_ATTACHMENT_BYTES` is this limit), so an attachment
/// never stays on the device that added it.
pub const MAX_ATTACHMENT_BYTES: u64 = 20 * 1024 * 1024;

/// Most bytes of event JSON [`CaseStore::commit_import`] puts in one journal
/// frame (the frame limit is 16 MiB of ciphertext; this leaves room).
pub const IMPORT_FRAME_BYTES: usize = 4 * 1024 * 1024;

/// How far ahead of this machine's clock an imported event may be stamped.
pub const MAX_CLOCK_AHEAD_MS: u64 = 24 * 60 * 60 * 1000;

fn uuid_col(s: String) -> rusqlite::Result<Uuid> {
    Uuid::parse_str(&s)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

fn json_col(s: &str) -> rusqlite::Result<Value> {
    serde_json::from_str(s)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

fn date_of(millis: u64) -> chrono::NaiveDate {
    chrono::DateTime::from_timestamp_millis(i64::try_from(millis).unwrap_or(i64::MAX))
        .map(|d| d.date_naive())
        .unwrap_or_default()
}

fn stage_of(name: &str) -> Option<Stage> {
    serde_json::from_value(Value::String(name.to_string())).ok()
}

/// The wire name of a stage (`"bid_pending"`, …).
pub fn stage_name(stage: Stage) -> String {
    match serde_json::to_value(stage) {
        Ok(Value::String(s)) => s,
        _ => format!("{stage:?}"),
    }
}

/// Build the lifecycle rules' view of a case from its folded state.
/// Who may settle a conflict on a protected field of `form`: a supervisor;
/// for the BID form, the BID panel. Never a data manager (see
/// [`roles::may_resolve`]).
pub fn may_resolve_protected(role: Role, form: &str) -> bool {
    roles::may_resolve(role, roles::ConflictSubject::Field { form, protected: true })
}

/// The next `device_seq` of signer `id`: one past the highest it has signed.
/// The next `device_seq` of signer `id`: above every sequence it ever used,
/// including erased events (an erased event keeps its sequence number:
/// never signed again) and withdrawn ones (the office holds that event,
/// docs/bundle-format.md §6.1).
fn next_seq_of(conn: &rusqlite::Connection, id: Uuid) -> Result<u64, StoreError> {
    let max_seq: Option<i64> = conn.query_row(
        "SELECT MAX(s) FROM (SELECT MAX(device_seq) AS s FROM events WHERE device_id = ?1
           UNION ALL SELECT MAX(device_seq) FROM erased_events WHERE device_id = ?1)",
        [id.to_string()],
        |r| r.get(0),
    )?;
    let withdrawn = projection::max_withdrawn_seq(conn, id)?;
    let max_seq = max_seq.map(|s| s.max(0) as u64).max(withdrawn);
    Ok(max_seq.map_or(1, |s| s + 1))
}

fn validate(reg: &forms::FormRegistry, form: &str, values: &Map<String, Value>) -> Result<(), StoreError> {
    let def = reg.get(form).ok_or_else(|| StoreError::UnknownForm { form: form.to_string() })?;
    forms::validate_values(def, values).map_err(|errors| StoreError::Invalid { errors })
}

impl CaseStore {
    /// Record an event of any kind other than those with their own method
    /// (attachment.added, case.merged, case.transferred, case.erased); see
    /// [`Batch::record`].
    pub fn record(
        &mut self,
        case: Uuid,
        kind: EventKind,
        form: Option<&str>,
        payload: Value,
        base: Vec<Uuid>,
    ) -> Result<Uuid, StoreError> {
        let mut b = self.batch();
        let id = b.record(case, kind, form, payload, base)?;
        b.commit()?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The journal entry built by moving an event's parts is exactly the
    /// reference `Event::to_json` (replay and the projection parse it).
    #[test]
    fn moved_event_value_equals_to_json() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let kinds =
            [EventKind::CaseRegistered, EventKind::FormSaved, EventKind::NoteAdded, EventKind::ConflictResolved];
        let roles = [Role::Caseworker, Role::Supervisor, Role::BidPanel, Role::DataManager, Role::Viewer];
        let mut n = 0u128;
        for kind in kinds {
            for role in roles {
                n += 1;
                let payload =
                    json!({"values": {"z": 1, "a": [1.5, null, true], "m": {"y": "x"}}, "item": n.to_string()});
                let mut e = crate::model::event::awkward_test_event(n, kind, role, payload);
                e.sign(&key);
                assert_eq!(event_value(e.clone()), e.to_json(), "{e:?}");
                assert_eq!(journal_entries(vec![e.clone()])[0].1, serde_json::to_vec(&e.to_json()).unwrap().len());
            }
        }
    }
}
