//! Round trip: every form definition filled with valid generated values,
//! saved as signed events into a vault, reloaded (journal replay at unlock)
//! and read back unchanged through the case store.
//!
//! The events are committed straight through the vault with the model's
//! applier, so this checks storage and projection of every field type; the
//! lifecycle and role rules that gate *creating* such events are tested in
//! `model_rules_lifecycle.rs` and `model_events_store.rs`.

use std::collections::BTreeSet;

use ed25519_dalek::SigningKey;
use fieldcase::model::event::{DeviceSigner, EventKind, Role};
use fieldcase::model::forms::{registry, validate_values, FieldDef, FieldType};
use fieldcase::model::projection::{self, FieldStatus};
use fieldcase::model::store::{CaseStore, ModelApplier};
use fieldcase::vault::{InitOptions, SecretString, Vault, VaultOptions};
use rand::SeedableRng;
use serde_json::{json, Map, Value};
use tempfile::TempDir;
use uuid::Uuid;

/// A valid value for a field (the same scheme as `forms_validation.rs`).
fn value_for(field: &FieldDef, variant: usize) -> Value {
    match field.field_type {
        FieldType::Text => json!(format!("Sample {} {variant} \"quoted\"", field.name)),
        FieldType::Longtext => json!(format!("Notes for {}.\nvariant {variant}; accents: é à — عربي", field.name)),
        FieldType::Date => json!(format!("2026-0{}-1{}", 1 + variant % 9, variant % 10)),
        FieldType::Datetime => json!("2026-03-14T10:30:00+01:00"),
        FieldType::Enum => json!(field.options[variant % field.options.len()].value),
        FieldType::MultiEnum => {
            let n = field.options.len();
            let picked: BTreeSet<usize> = [variant % n, (variant + 1) % n].into_iter().collect();
            Value::Array(picked.into_iter().map(|i| json!(field.options[i].value)).collect())
        }
        FieldType::Bool => json!(variant & 1 == 0),
        FieldType::Number => {
            let lo = field.min.unwrap_or(0.0);
            let hi = field.max.unwrap_or(lo + 100.0);
            json!((lo + (variant as f64 + 1.5)).min(hi))
        }
        FieldType::PersonRef => {
            json!({"name": "Aïssatou Diallo", "role": "caseworker", "organisation": "Agadez office"})
        }
        FieldType::Consent => {
            let method = ["signature", "thumbprint", "witnessed_verbal"][variant % 3];
            json!({"by": "Moussa Traoré", "method": method, "date": "2026-03-14"})
        }
        FieldType::Attachment => {
            json!({"blob": format!("blob-{variant}"), "name": "scan.pdf", "mime": "application/pdf"})
        }
        FieldType::ListText => json!(["Mohamed", "Muhammad", "Mahamat"]),
        FieldType::GroupList => Value::Array(
            (0..field.min_items.unwrap_or(1).max(2))
                .map(|i| {
                    Value::Object(
                        field
                            .fields
                            .iter()
                            .enumerate()
                            .map(|(j, f)| (f.name.clone(), value_for(f, variant + i + j)))
                            .collect(),
                    )
                })
                .collect(),
        ),
    }
}

#[test]
fn every_form_round_trips_through_events_vault_and_projection() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("v");
    let options = VaultOptions { scrypt_log_n: Some(10), ..VaultOptions::default() };
    let pass = SecretString::from("pw".to_string());
    let mut vault = Vault::init_with(&dir, &pass, InitOptions::default(), Box::new(ModelApplier), &options).unwrap();
    let mut device = DeviceSigner::new(Uuid::from_u128(7), SigningKey::from_bytes(&[7; 32]));
    device.set_clock(Some(1_780_000_000_000));
    let key = hex::encode(device.verifying_key().as_bytes());
    vault.commit(vec![projection::device_entry(device.device_id, &key, "field laptop")]).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let case = Uuid::from_u128(42);
    let mut entries = vec![device
        .sign_new(
            &mut rng,
            case,
            "amina",
            Role::Caseworker,
            EventKind::CaseRegistered,
            None,
            json!({"case_type": "uasc", "case_number": "AGA-2026-00042", "office": "Agadez"}),
            vec![],
        )
        .to_json()];
    // (form, item, values) saved, to compare after the reload.
    let mut saved: Vec<(String, Option<Uuid>, Map<String, Value>)> = Vec::new();
    for def in registry().all() {
        for variant in 0..3 {
            let values: Map<String, Value> =
                def.fields.iter().enumerate().map(|(i, f)| (f.name.clone(), value_for(f, variant + i))).collect();
            if let Err(errors) = validate_values(def, &values) {
                panic!("{} variant {variant}: generator made invalid values: {errors:#?}", def.id);
            }
            // Repeating forms get one item per variant; others are saved over
            // themselves (each save names the previous one in its base).
            let item = def.repeating.then(|| Uuid::from_u128(1_000 + variant as u128 * 100 + entries.len() as u128));
            let base = if item.is_none() && variant > 0 {
                vec![Uuid::parse_str(entries.last().unwrap()["id"].as_str().unwrap()).unwrap()]
            } else {
                vec![]
            };
            let mut payload = json!({"values": values});
            if let Some(item) = item {
                payload["item"] = json!(item);
            }
            let e = device.sign_new(
                &mut rng,
                case,
                "amina",
                Role::Supervisor,
                EventKind::FormSaved,
                Some(&def.id),
                payload,
                base,
            );
            entries.push(e.to_json());
            if item.is_some() || variant == 2 {
                saved.push((def.id.clone(), item, values));
            }
        }
    }
    vault.commit(entries).unwrap();
    drop(vault); // reload by replaying the journal

    let mut store = CaseStore::open_with(&dir, &pass, &options).unwrap();
    // The events are amina's; the vault's own user ("caseworker") may not
    // see her case (docs/visibility.md).
    store.set_actor("amina", fieldcase::model::event::Role::Caseworker).expect("set_actor");
    let detail = store.case_detail(case).unwrap();
    let mut checked = 0;
    for (form, item, values) in &saved {
        for (name, value) in values {
            let f = detail
                .fields
                .iter()
                .find(|f| &f.form == form && f.item == *item && &f.field == name)
                .unwrap_or_else(|| panic!("{form}.{name} missing after reload"));
            assert_eq!(f.status, FieldStatus::Ok, "{form}.{name}");
            assert_eq!(f.value.as_ref(), Some(value), "{form}.{name} changed in the round trip");
            checked += 1;
        }
    }
    let fields_total: usize = registry().all().map(|d| d.fields.len()).sum();
    assert!(checked >= fields_total, "every field of every form was checked ({checked} of {fields_total})");
    store.verify_history(case).unwrap();
}
