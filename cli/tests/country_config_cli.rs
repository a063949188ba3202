//! `fieldcase config` (docs/configuration.md): show the effective
//! configuration, export it to a file, and import an edited file at the
//! office, which signs it under the next serial; a broken file is refused
//! and a device cannot import one.
#[path = "common/cli.rs"]
mod cli;

use cli::{ok, run};

#[test]
fn the_office_exports_edits_and_imports_its_configuration() {
    let t = tempfile::tempdir().unwrap();
    let (o, d) = (t.path().join("o"), t.path().join("d"));
    ok(run(&o, &["init", "--office", "--name", "Agadez"]));
    ok(run(&d, &["init", "--name", "amina"]));
    let shown = ok(run(&o, &["config", "show"]));
    assert!(shown.contains("built-in sample"), "{shown}");
    assert!(shown.contains("ner_agadez_arlit  Niger / Agadez region / Arlit"), "{shown}");

    let file = t.path().join("config.json");
    ok(run(&o, &["config", "export", file.to_str().unwrap()]));
    let mut doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    // Drop a provider and add an office.
    let services = doc["services"].as_array_mut().unwrap();
    let dropped = services.remove(0)["provider_id"].as_str().unwrap().to_string();
    doc["offices"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"code": "arlit", "name": "Arlit", "area": "ner_agadez_arlit"}));
    let edited = t.path().join("edited.json");
    std::fs::write(&edited, serde_json::to_vec(&doc).unwrap()).unwrap();

    // A device holds no configuration of its own to sign.
    let refused = run(&d, &["config", "import", edited.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not an office vault"));

    let out = ok(run(&o, &["config", "import", edited.to_str().unwrap()]));
    assert!(out.contains("serial 1 signed"), "{out}");
    assert!(out.contains(&format!("kept as retired (records may hold it): provider {dropped}")), "{out}");
    let shown = ok(run(&o, &["config", "show"]));
    assert!(shown.contains("Country configuration serial 1"), "{shown}");
    assert!(shown.contains("arlit  Arlit [ner_agadez_arlit]"), "{shown}");
    assert!(shown.contains(&format!("{dropped}  ")) && shown.contains("(retired)"), "{shown}");

    // A cycle is refused, naming it; the serial stays.
    doc["areas"][1]["parent"] = doc["areas"][2]["code"].clone();
    doc["areas"][2]["parent"] = doc["areas"][1]["code"].clone();
    let broken = t.path().join("broken.json");
    std::fs::write(&broken, serde_json::to_vec(&doc).unwrap()).unwrap();
    let refused = run(&o, &["config", "import", broken.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("cycle"), "{}", String::from_utf8_lossy(&refused.stderr));
    assert!(ok(run(&o, &["config", "show"])).contains("Country configuration serial 1"));

    // The report breaks cases down by the configuration's areas, at the level asked.
    let report = ok(run(&o, &["report", "--json", "--area-level", "district"]));
    assert!(report.contains("\"admin_area_district\"") && report.contains("\"corridor\""), "{report}");
    assert!(report.contains("\"ner_agadez_arlit\""));
    let bad = run(&o, &["report", "--area-level", "province"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("country, region or district"));
}
