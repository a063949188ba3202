//! Process hardening both binaries apply first thing in `main`: an unlocked
//! vault's keys and case data live in this process's memory, so that memory
//! must not end up in a core file or be read by another process of the same
//! user.
//!
//! - Linux: the core-file size limit (`RLIMIT_CORE`, soft and hard) is set
//!   to 0, and the process is made non-dumpable (`prctl(PR_SET_DUMPABLE, 0)`):
//!   no core dump even through a `core_pattern` pipe (systemd-coredump,
//!   apport), and other processes of the same user can neither `ptrace` it
//!   nor read its `/proc/<pid>/mem` or `environ` (the kernel then shows its
//!   `/proc/<pid>` files as owned by root).
//! - Other Unix systems: the core limit only (there is no portable
//!   equivalent of `PR_SET_DUMPABLE`).
//! - Windows: nothing (no core files; Windows Error Reporting's crash dumps
//!   are a system setting).
//!
//! The limit is inherited by child processes (the desktop app's WebKit
//! processes); non-dumpability is not (an `exec` resets it).

/// What [`harden_process`] could not do. The binaries warn and go on: a
/// machine where this fails is no less safe than before the call.
#[derive(Debug, thiserror::Error)]
pub enum HardenError {
    /// Setting the core-file size limit failed.
    #[error("could not disable core dumps (RLIMIT_CORE): {0}")]
    CoreLimit(std::io::Error),
    /// Making the process non-dumpable failed.
    #[error("could not make the process non-dumpable (PR_SET_DUMPABLE): {0}")]
    Dumpable(std::io::Error),
}

/// Disable core dumps and make the process non-dumpable (see the module
/// documentation for what each platform gets).
pub fn harden_process() -> Result<(), HardenError> {
    #[cfg(unix)]
    {
        use rustix::process::{setrlimit, Resource, Rlimit};
        setrlimit(Resource::Core, Rlimit { current: Some(0), maximum: Some(0) })
            .map_err(|e| HardenError::CoreLimit(e.into()))?;
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{set_dumpable_behavior, DumpableBehavior};
        set_dumpable_behavior(DumpableBehavior::NotDumpable).map_err(|e| HardenError::Dumpable(e.into()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test process hardens itself (harmless for the other tests) and
    /// reads the result back from the kernel.
    #[cfg(target_os = "linux")]
    #[test]
    fn core_limit_is_zero_and_the_process_not_dumpable() {
        harden_process().expect("harden");
        let limits = std::fs::read_to_string("/proc/self/limits").expect("limits");
        let core = limits.lines().find(|l| l.starts_with("Max core file size")).expect("core line");
        let fields: Vec<&str> = core.split_whitespace().collect();
        assert_eq!(&fields[4..6], ["0", "0"], "{core}");
        assert_eq!(
            rustix::process::dumpable_behavior().expect("PR_GET_DUMPABLE"),
            rustix::process::DumpableBehavior::NotDumpable
        );
        // Idempotent: a second call (the hard limit is already 0) succeeds.
        harden_process().expect("harden again");
    }
}
