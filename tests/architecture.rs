//! The dependency arrows ARCHITECTURE.md promises, checked on the source:
//! a `use` that points the wrong way fails here, not in a review.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// Lines of code (comments left out) under `dir` that name one of `modules`.
fn references(dir: &str, modules: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut found = Vec::new();
    for file in rust_files(&root) {
        let text = std::fs::read_to_string(&file).expect("read source file");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if modules.iter().any(|m| code.contains(&format!("crate::{m}::")) || code.contains(&format!("{m}::"))) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn the_model_depends_on_neither_search_nor_report() {
    let found = references("src/model", &["search", "report"]);
    assert!(found.is_empty(), "the model names search or report (use model::derived):\n{}", found.join("\n"));
}

#[test]
fn the_check_sees_a_reference_where_there_is_one() {
    // The search module does use the model: the scan must find it, or the
    // test above proves nothing.
    assert!(!references("src/search", &["model"]).is_empty());
}
