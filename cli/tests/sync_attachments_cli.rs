//! Attachments through the `fieldcase` binary: `verify --json` and the
//! import preview report the attachments a bundle carries.
#[path = "common/cli.rs"]
mod cli;
#[path = "../../tests/sync_common.rs"]
mod common;

use cli::{ok, run};
use common::*;
use fieldcase::model::event::EventKind;
use fieldcase::sync;
use serde_json::{json, Value};
use uuid::Uuid;

#[test]
fn verify_and_import_report_the_attachments() {
    let t = tempfile::tempdir().unwrap();
    let (od, dd) = (t.path().join("o"), t.path().join("d"));
    let file = t.path().join("up.fcb");
    let bytes: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let blob = {
        let mut o = office(&od);
        let mut d = device(&dd, "amina", "caseworker");
        enroll(&mut o, &mut d);
        let case = new_case(&mut d, "Fatima");
        let blob = d.put_blob(&bytes).unwrap();
        let payload = json!({"item": Uuid::now_v7(), "blob": blob, "name": "scan.pdf", "mime": "application/pdf"});
        d.record(case, EventKind::AttachmentAdded, Some("attachment"), payload, Vec::new()).unwrap();
        std::fs::write(&file, sync::export_for_office(&mut d, &mut |_| {}).unwrap()).unwrap();
        blob
    };
    let f = file.to_str().unwrap();
    let v: Value = serde_json::from_str(&ok(run(&od, &["verify", f, "--json"]))).unwrap();
    assert_eq!(v["attachments"]["received"], 1, "{v}");
    assert_eq!(v["attachments"]["new"], 1);
    assert_eq!(v["attachments"]["new_bytes"], bytes.len());
    let out = ok(run(&od, &["import", f]));
    assert!(out.contains("attachments: 1 received (1 new"), "{out}");
    let o = reopen(&od);
    assert_eq!(&o.get_blob(&blob).unwrap()[..], &bytes[..]);
}
