//! Printing results and errors.
use std::process::ExitCode;

/// Print a one-line error (and its causes) to stderr and return exit code 1.
pub fn fail(e: &anyhow::Error) -> ExitCode {
    eprintln!("fieldcase: {e}");
    for cause in e.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
    ExitCode::from(1)
}
