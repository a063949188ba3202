//! The dependency arrows ARCHITECTURE.md promises, checked on the source:
//! a `use` that points the wrong way fails here, not in a review. Also
//! checked here: the shells (CLI, desktop) reach no database connection,
//! the bench writes no SQL, and the core library carries no CLI crates.

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

/// Lines of code (comments left out) of the files under `dir` (relative to
/// the workspace root) that contain `needle`. With `skip_tests`, each
/// file is read up to its `#[cfg(test)]` module only.
fn lines_containing(dir: &str, needle: &str, skip_tests: bool) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut found = Vec::new();
    for file in rust_files(&root) {
        let text = std::fs::read_to_string(&file).expect("read source file");
        for (n, line) in text.lines().enumerate() {
            if skip_tests && line.trim() == "#[cfg(test)]" {
                break;
            }
            let code = line.split("//").next().unwrap_or("");
            if code.contains(needle) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn the_shells_use_library_views_not_the_database_connection() {
    for shell in ["cli/src", "src-tauri/src"] {
        let found = lines_containing(shell, ".conn()", true);
        assert!(
            found.is_empty(),
            "a shell reaches the database connection (give the library a view instead):\n{}",
            found.join("\n")
        );
    }
    // The scan sees a call where there is one: the library's views make them.
    assert!(!lines_containing("src/report", ".conn()", true).is_empty());
}

#[test]
fn the_bench_writes_no_sql() {
    // Synthetic rows and the plain-SQLite copy come from fieldcase::testkit,
    // which keeps the knowledge of the projection's tables in the library.
    for sql in ["INSERT ", "SELECT ", "UPDATE ", "DELETE ", "PRAGMA ", "CREATE ", "execute"] {
        let found = lines_containing("bench/src", sql, false);
        assert!(found.is_empty(), "the bench runs SQL of its own (use fieldcase::testkit):\n{}", found.join("\n"));
    }
    assert!(dependencies("bench/Cargo.toml").iter().all(|d| d != "rusqlite"), "the bench depends on rusqlite");
    assert!(!lines_containing("src/testkit", "INSERT ", false).is_empty());
}

/// The names of the `[dependencies]` of the manifest at `path` (relative to
/// the workspace root); other tables (dev-, build-, target-specific) aside.
fn dependencies(path: &str) -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).expect("read manifest");
    let mut inside = false;
    let mut names = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == "[dependencies]";
        } else if inside && !line.is_empty() && !line.starts_with('#') {
            if let Some((name, _)) = line.split_once('=') {
                names.push(name.trim().to_owned());
            }
        }
    }
    names
}

/// What only the command line needs: argument parsing, prompts, progress
/// bars, Ctrl-C, the binaries' allocator, its error type.
const CLI_CRATES: [&str; 6] = ["clap", "indicatif", "rpassword", "anyhow", "signal-hook", "fieldcase-alloc"];

#[test]
fn the_core_library_carries_no_cli_dependencies() {
    let core = dependencies("Cargo.toml");
    assert!(core.iter().any(|d| d == "rusqlite"), "the manifest scan found no dependencies: {core:?}");
    let cli_only: Vec<&String> = core.iter().filter(|d| CLI_CRATES.contains(&d.as_str())).collect();
    assert!(
        cli_only.is_empty(),
        "the core library depends on CLI crates (they belong in cli/Cargo.toml): {cli_only:?}"
    );
    // The CLI has them: the list names real dependencies.
    let cli = dependencies("cli/Cargo.toml");
    for c in CLI_CRATES {
        assert!(cli.iter().any(|d| d == c), "cli/Cargo.toml has no {c}");
    }
}
