//! Criterion benches of the hot paths under every commit and import:
//! canonical event encoding, Ed25519 sign and verify, the projection of one
//! event, and one vault commit (encrypted journal frame + fdatasync).
//!
//! Run with `cargo bench -p fieldcase --bench hot_paths` (set
//! `FIELDCASE_BENCH_DIR` to a directory on the real disk for the commit
//! bench; the default is the system temp directory). `cargo test` does not
//! build or run these (bench targets are only built by `cargo bench` and
//! `cargo test --benches`). The end-to-end figures are in `fieldcase bench`.
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use ed25519_dalek::SigningKey;
use fieldcase::model::event::{new_v7, Event, EventKind, Hlc, Role};
use fieldcase::model::projection;
use fieldcase::model::store::ModelApplier;
use fieldcase::vault::{kv_put, Applier, InitOptions, KvApplier, SecretString, Vault, VaultOptions};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rusqlite::Connection;
use serde_json::json;
use uuid::Uuid;

const DEVICE: Uuid = Uuid::from_u128(0x0de0_0000_0000_4000_8000_0000_0000_0001);

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

/// A form save of typical size (a handful of registration fields).
fn form_saved(case: Uuid, seq: u64, rng: &mut StdRng, base: Vec<Uuid>) -> Event {
    let millis = 1_780_000_000_000 + seq * 1000;
    Event {
        id: new_v7(millis, rng),
        case_id: case,
        device_id: DEVICE,
        device_seq: seq,
        hlc: Hlc { millis, counter: 0 },
        author: "amina.aga".into(),
        role: Role::Caseworker,
        kind: EventKind::FormSaved,
        form: Some("registration_bia".into()),
        payload: json!({"values": {
            "given_names": "Aïcha",
            "family_name": "Diallo",
            "place_of_origin": format!("Labé, quartier {seq}"),
            "child_views": "Wants to continue school and to be in contact with her aunt in Conakry.",
        }}),
        base,
        sig: String::new(),
    }
}

fn registered(case: Uuid, rng: &mut StdRng) -> Event {
    let millis = 1_780_000_000_000;
    let mut e = Event {
        id: new_v7(millis, rng),
        case_id: case,
        device_id: DEVICE,
        device_seq: 1,
        hlc: Hlc { millis, counter: 0 },
        author: "amina.aga".into(),
        role: Role::Caseworker,
        kind: EventKind::CaseRegistered,
        form: None,
        payload: json!({"case_type": "uasc", "office": "Agadez", "case_number": "AGZ-2026-00001"}),
        base: Vec::new(),
        sig: String::new(),
    };
    e.sign(&key());
    e
}

fn event_codec(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let case = Uuid::from_u128(42);
    let mut e = form_saved(case, 2, &mut rng, Vec::new());
    let k = key();
    c.bench_function("event canonical encoding", |b| b.iter(|| black_box(black_box(&e).signing_bytes())));
    c.bench_function("event sign (canonical encoding + Ed25519)", |b| {
        b.iter(|| {
            let mut x = e.clone();
            x.sign(black_box(&k));
            black_box(x)
        })
    });
    e.sign(&k);
    let vk = k.verifying_key();
    c.bench_function("event verify (canonical encoding + Ed25519)", |b| {
        b.iter(|| black_box(&e).verify(black_box(&vk)).expect("valid"))
    });
}

fn projection_apply(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(2);
    let mut conn = Connection::open_in_memory().expect("sqlite");
    conn.execute_batch("PRAGMA temp_store = MEMORY;").expect("pragma");
    projection::migrate(&conn).expect("schema");
    let trust = projection::device_entry(DEVICE, &hex::encode(key().verifying_key().as_bytes()), "bench");
    let case = Uuid::from_u128(43);
    let reg = registered(case, &mut rng);
    {
        let tx = conn.transaction().expect("tx");
        ModelApplier.apply(&tx, &[trust, reg.to_json()]).expect("registration applies");
        tx.commit().expect("commit");
    }
    // The same event every iteration, its transaction rolled back: the
    // case keeps its two-event history, so what is timed is one apply on a
    // typical case, not a case whose history grows with the iteration count.
    let mut e = form_saved(case, 2, &mut rng, vec![reg.id]);
    e.sign(&key());
    let entry = e.to_json();
    c.bench_function("projection apply of one form.saved event (in-memory, rolled back)", |b| {
        b.iter(|| {
            let tx = conn.transaction().expect("tx");
            ModelApplier.apply(&tx, std::slice::from_ref(&entry)).expect("applies");
            tx.rollback().expect("rollback");
        })
    });
}

fn journal_append(c: &mut Criterion) {
    let parent =
        std::env::var_os("FIELDCASE_BENCH_DIR").map(std::path::PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let tmp = tempfile::tempdir_in(parent).expect("temp dir");
    let pass = SecretString::from("bench passphrase".to_owned());
    let options = VaultOptions { scrypt_log_n: Some(10), ..VaultOptions::default() };
    let mut v = Vault::init_with(&tmp.path().join("v"), &pass, InitOptions::default(), Box::new(KvApplier), &options)
        .expect("vault");
    let value = "x".repeat(600);
    let mut i = 0u64;
    c.bench_function("vault commit of one 600-byte entry (encrypt, apply, append, fdatasync)", |b| {
        b.iter(|| {
            i += 1;
            v.commit(vec![kv_put(&format!("k{i}"), &value)]).expect("commit");
        })
    });
}

criterion_group! {
    name = hot_paths;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = event_codec, projection_apply, journal_append
}
criterion_main!(hot_paths);
