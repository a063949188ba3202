//! Printing results and errors.
use std::process::ExitCode;

/// Print a one-line error (and its causes) to stderr and return exit code 1.
pub fn fail(e: &anyhow::Error) -> ExitCode {
    eprintln!("fieldcase: {e}");
    for cause in e.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
    // A segment of the vault that fails to load reaches SQLite, and so
    // most commands, as a bare "disk I/O error".
    if e.chain().any(|c| c.to_string().contains("disk I/O error")) {
        eprintln!(
            "  hint: part of the vault may be damaged; `fieldcase status` checks every part and names a damaged one"
        );
    }
    ExitCode::from(1)
}

/// `fieldcase case list | head` closes our stdout early. Rust ignores SIGPIPE, so
/// `println!` then panics with "Broken pipe"; a reader that stopped reading is
/// not an error, so exit quietly with success instead of printing a panic.
/// (Restoring SIGPIPE's default action would need `unsafe`, which this crate
/// forbids.)
pub fn exit_quietly_on_broken_pipe() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default_hook(info);
    }));
}
