//! The sync folder (docs/bundle-format.md §12): a device and its office
//! exchanging bundles through a folder only, with files half-written,
//! read twice, out of order, forged, and cleaned up.
#[path = "sync_common.rs"]
mod common;

use std::path::{Path, PathBuf};

use common::*;
use fieldcase::model::projection;
use fieldcase::model::store::CaseStore;
use fieldcase::sync::folder::{self, FolderReport};
use fieldcase::sync::{self};

fn pass(s: &mut CaseStore, dir: &Path) -> FolderReport {
    folder::sync_folder_once(s, dir).expect("folder pass")
}

/// Everything but the folder's own bookkeeping: what "unchanged" means
/// for a file the pass must not apply.
fn dump_without_folder_state(s: &CaseStore) -> String {
    let conn = s.vault().conn();
    let mut out = projection::dump(conn).expect("dump");
    let state: Vec<_> =
        projection::sync_state(conn, "").expect("state").into_iter().filter(|(k, _)| k != "folder").collect();
    out.push_str(&format!("{state:?}"));
    out
}

fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for d in walk(dir) {
        out.push(d.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
    }
    out.sort();
    out
}

fn walk(p: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

struct World {
    _t: tempfile::TempDir,
    dir: PathBuf,
    o: CaseStore,
    a: CaseStore,
}

fn world() -> World {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("shared");
    std::fs::create_dir(&dir).unwrap();
    let mut o = office(&t.path().join("o"));
    let mut a = device(&t.path().join("a"), "amina", "caseworker");
    enroll(&mut o, &mut a);
    World { _t: t, dir, o, a }
}

fn outbox(w: &World) -> PathBuf {
    w.dir.join(w.a.vault().device().device_id.to_string()).join(folder::TO_OFFICE)
}

fn inbox(w: &World) -> PathBuf {
    w.dir.join(w.a.vault().device().device_id.to_string()).join(folder::TO_DEVICE)
}

fn only_file(p: &Path) -> PathBuf {
    let f = walk(p);
    assert_eq!(f.len(), 1, "{f:?}");
    f.into_iter().next().unwrap()
}

#[test]
fn a_case_and_the_answer_travel_through_the_folder_only() {
    let mut w = world();
    let c = new_case(&mut w.a, "Fatima");
    let r = pass(&mut w.a, &w.dir);
    assert_eq!(r.written.len(), 1, "{r:?}");
    assert!(r.written[0].ends_with(".fcb") && r.written[0].contains("/to-office/"), "{r:?}");

    let r = pass(&mut w.o, &w.dir);
    assert_eq!(r.imported.len(), 1, "{r:?}");
    assert_eq!(r.imported[0].new_cases, 1);
    assert!(!w.o.case_events(c).unwrap().is_empty(), "the case reached the office");
    assert_eq!(r.written.len(), 1, "the office leaves the device its answer: {r:?}");
    assert!(r.written[0].contains("/to-device/"));

    // The office assigns the case: its next pass writes a new answer, the
    // older one (superseded) is deleted.
    w.o.assign(c, "amina").unwrap();
    let r = pass(&mut w.o, &w.dir);
    assert_eq!((r.imported.len(), r.written.len(), r.removed.len()), (0, 1, 1), "{r:?}");

    let before = w.a.case_events(c).unwrap().len();
    let r = pass(&mut w.a, &w.dir);
    assert_eq!(r.imported.len(), 1, "{r:?}");
    assert!(r.imported[0].new_events >= 1);
    assert!(w.a.case_events(c).unwrap().len() > before, "the office's assignment reached the device");
    // The office acknowledged the device's bundle (its events, and its
    // `received`): deleted. The device got new events, so it tells the
    // office with a new bundle.
    assert_eq!(r.written.len(), 1, "{r:?}");
    assert!(r.removed.iter().any(|f| f.contains("/to-office/")), "{r:?}");

    // The office reads it; the device acknowledged the office's answer, so
    // that is deleted; nothing new to say to the device.
    let r = pass(&mut w.o, &w.dir);
    assert_eq!(r.imported.len(), 1, "{r:?}");
    assert!(r.written.is_empty(), "{r:?}");
    assert!(r.removed.iter().any(|f| f.contains("/to-device/")), "{r:?}");
    assert!(walk(&inbox(&w)).is_empty());

    // Idle passes write nothing and change nothing.
    let o_before = full_dump(&w.o);
    let r = pass(&mut w.o, &w.dir);
    assert!(!r.did_something(), "{r:?}");
    let r = pass(&mut w.a, &w.dir);
    assert!(r.imported.is_empty() && r.written.is_empty(), "{r:?}");
    let r = pass(&mut w.o, &w.dir);
    assert!(!r.did_something(), "{r:?}");
    assert_eq!(full_dump(&w.o), o_before);
    let st = folder::status(&w.o).unwrap();
    assert!(st.last_sync.is_some() && st.last.is_some(), "{st:?}");
}

#[test]
fn a_half_written_bundle_is_left_and_imported_once_whole() {
    let mut w = world();
    let c = new_case(&mut w.a, "Fatima");
    pass(&mut w.a, &w.dir);
    let file = only_file(&outbox(&w));
    let whole = std::fs::read(&file).unwrap();
    // The sync tool is still copying it.
    for cut in [0, 20, whole.len() / 2, whole.len() - 1] {
        std::fs::remove_file(&file).unwrap();
        std::fs::write(&file, &whole[..cut]).unwrap();
        // (The office's first pass also leaves the device its first answer.)
        let before = projection::dump(w.o.vault().conn()).unwrap();
        let r = pass(&mut w.o, &w.dir);
        assert!(r.imported.is_empty(), "{r:?}");
        assert!(r.refused.is_empty(), "an incomplete file is not refused: {r:?}");
        assert_eq!(r.incomplete.len(), 1, "{r:?}");
        assert_eq!(projection::dump(w.o.vault().conn()).unwrap(), before, "cut at {cut}: nothing applied");
        assert!(file.exists(), "an incomplete file is never deleted");
    }
    std::fs::remove_file(&file).unwrap();
    std::fs::write(&file, &whole).unwrap();
    let r = pass(&mut w.o, &w.dir);
    assert_eq!(r.imported.len(), 1, "{r:?}");
    assert!(r.incomplete.is_empty(), "{r:?}");
    assert!(!w.o.case_events(c).unwrap().is_empty());
}

#[test]
fn a_bundle_read_twice_or_an_older_one_after_a_newer_changes_nothing() {
    let mut w = world();
    new_case(&mut w.a, "Fatima");
    pass(&mut w.a, &w.dir);
    let first = only_file(&outbox(&w));
    let first_bytes = std::fs::read(&first).unwrap();
    new_case(&mut w.a, "Idrissa");
    let r = pass(&mut w.a, &w.dir);
    assert_eq!(r.written.len(), 1);
    assert_eq!(r.removed, vec![first.strip_prefix(&w.dir).unwrap().to_string_lossy().into_owned()], "superseded");
    let second = only_file(&outbox(&w));
    let second_bytes = std::fs::read(&second).unwrap();

    let r = pass(&mut w.o, &w.dir);
    assert_eq!(r.imported.len(), 1);
    assert_eq!(r.imported[0].new_cases, 2, "the newer bundle carries everything not acknowledged");
    let after = dump_without_folder_state(&w.o);

    // The older one arrives late (the sync tool had it queued).
    std::fs::write(&first, &first_bytes).unwrap();
    let r = pass(&mut w.o, &w.dir);
    assert!(r.imported.is_empty() && r.refused.is_empty(), "{r:?}");
    assert_eq!(r.superseded.len(), 1, "{r:?}");
    // And the newer one a second time, under another name (a conflict copy).
    std::fs::write(outbox(&w).join("copy.sync-conflict.fcb"), &second_bytes).unwrap();
    let r = pass(&mut w.o, &w.dir);
    assert_eq!(r.imported.len(), 1, "{r:?}");
    assert!(r.imported[0].replay, "{r:?}");
    assert_eq!(dump_without_folder_state(&w.o), after, "nothing changed");
    // Temporaries (names beginning with a dot) are never read.
    std::fs::write(outbox(&w).join(".00000000000000000009.fcb.abc.part"), &second_bytes[..10]).unwrap();
    let r = pass(&mut w.o, &w.dir);
    assert!(r.imported.is_empty() && r.incomplete.is_empty(), "{r:?}");
}

#[test]
fn a_forged_bundle_in_the_folder_is_refused_reported_and_left() {
    let mut w = world();
    pass(&mut w.a, &w.dir);
    pass(&mut w.o, &w.dir);
    // A device of another office, and a bundle that office's device made.
    let t = tempfile::tempdir().unwrap();
    let mut o2 = office(&t.path().join("o2"));
    let mut x = device(&t.path().join("x"), "mallory", "caseworker");
    enroll(&mut o2, &mut x);
    new_case(&mut x, "Forged");
    let forged = sync::export_for_office(&mut x, &mut |_| {}).unwrap();
    let path = outbox(&w).join("99999999999999999999.fcb");
    std::fs::write(&path, &forged).unwrap();
    let before = dump_without_folder_state(&w.o);
    let r = pass(&mut w.o, &w.dir);
    assert!(r.imported.is_empty(), "{r:?}");
    assert_eq!(r.refused.len(), 1, "{r:?}");
    assert!(r.refused[0].reason.contains("another vault/office"), "{r:?}");
    assert_eq!(dump_without_folder_state(&w.o), before, "nothing of it applied");
    assert!(path.exists(), "a refused file is left for a person to look at");
    let st = folder::status(&w.o).unwrap();
    assert_eq!(st.refused.len(), 1, "the vault remembers it: {st:?}");
    // With the refusal's code, for an interface to translate.
    assert_eq!(st.refused[0].code, "bundle_wrong_recipient", "{st:?}");
    // Not read again while unchanged, still reported.
    let r = pass(&mut w.o, &w.dir);
    assert_eq!(r.refused.len(), 1, "{r:?}");
    assert!(!r.did_something(), "{r:?}");
    // A revoked device's bundle is refused too, signed or not.
    new_case(&mut w.a, "After revocation");
    sync::revoke(&mut w.o, w.a.vault().device().device_id).unwrap();
    std::fs::remove_file(&path).unwrap();
    let r = pass(&mut w.a, &w.dir);
    assert_eq!(r.written.len(), 1);
    let before = dump_without_folder_state(&w.o);
    let r = pass(&mut w.o, &w.dir);
    assert_eq!(r.refused.len(), 1, "{r:?}");
    assert!(r.refused[0].reason.contains("revoked"), "{r:?}");
    assert_eq!(r.refused[0].code, "bundle_revoked", "{r:?}");
    assert_eq!(r.refused[0].params.get("sender"), Some(&w.a.vault().device().device_id.to_string()), "{r:?}");
    assert_eq!(dump_without_folder_state(&w.o), before);
}

#[test]
fn acknowledged_bundles_are_cleaned_up_and_other_files_left_alone() {
    let mut w = world();
    new_case(&mut w.a, "Fatima");
    pass(&mut w.a, &w.dir);
    std::fs::write(w.dir.join("README.txt"), b"not ours").unwrap();
    std::fs::create_dir(w.dir.join(".stfolder")).unwrap();
    std::fs::write(w.dir.join(".stfolder").join("x"), b"the sync tool's").unwrap();
    pass(&mut w.o, &w.dir);
    pass(&mut w.a, &w.dir);
    pass(&mut w.o, &w.dir);
    pass(&mut w.a, &w.dir);
    // The office acknowledged the device's bundle: gone. The office's
    // answer stays until the device's next bundle acknowledges it (the
    // device had nothing new to say), and so do the files that are not
    // Fieldcase's.
    let left = files(&w.dir);
    assert!(left.contains(&"README.txt".to_owned()) && left.contains(&".stfolder/x".to_owned()), "{left:?}");
    assert!(walk(&outbox(&w)).is_empty(), "{left:?}");
    let answer = only_file(&inbox(&w));
    // The device's next change acknowledges it; the office deletes it when
    // it reads that bundle, and answers anew.
    new_case(&mut w.a, "Idrissa");
    pass(&mut w.a, &w.dir);
    let r = pass(&mut w.o, &w.dir);
    assert_eq!(r.removed, vec![answer.strip_prefix(&w.dir).unwrap().to_string_lossy().into_owned()], "{r:?}");
    assert_eq!(r.written.len(), 1, "{r:?}");
}

#[test]
fn the_folder_setting_is_kept_in_the_vault() {
    let mut w = world();
    assert_eq!(folder::folder(&w.a).unwrap(), None);
    assert!(matches!(
        folder::set_folder(&mut w.a, Some(&w.dir.join("missing"))),
        Err(folder::FolderError::NoFolder(_))
    ));
    folder::set_folder(&mut w.a, Some(&w.dir)).unwrap();
    assert_eq!(folder::folder(&w.a).unwrap().as_deref(), Some(w.dir.as_path()));
    folder::set_folder(&mut w.a, None).unwrap();
    assert_eq!(folder::folder(&w.a).unwrap(), None);
    assert!(matches!(
        folder::sync_folder_once(&mut w.a, &w.dir.join("missing")),
        Err(folder::FolderError::NoFolder(_))
    ));
}

/// A symbolic link in the folder is never followed: neither a linked
/// bundle file nor a linked `to-office/` folder is read.
#[cfg(unix)]
#[test]
fn symbolic_links_in_the_folder_are_not_followed() {
    let mut w = world();
    new_case(&mut w.a, "Fatima");
    pass(&mut w.a, &w.dir);
    let file = only_file(&outbox(&w));
    let elsewhere = w.dir.parent().unwrap().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::rename(&file, elsewhere.join("00000000000000000001.fcb")).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("00000000000000000001.fcb"), &file).unwrap();
    let r = pass(&mut w.o, &w.dir);
    assert!(r.imported.is_empty() && r.refused.is_empty() && r.incomplete.is_empty(), "{r:?}");
    std::fs::remove_file(&file).unwrap();
    std::fs::remove_dir(outbox(&w)).unwrap();
    std::os::unix::fs::symlink(&elsewhere, outbox(&w)).unwrap();
    let r = pass(&mut w.o, &w.dir);
    assert!(r.imported.is_empty(), "{r:?}");
    assert_eq!(w.o.case_count().unwrap(), 0);
}
