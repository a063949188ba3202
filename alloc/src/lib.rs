//! The global allocator of Fieldcase's binaries (`fieldcase`,
//! `fieldcase-desktop`): mimalloc, told to keep freed memory for a while
//! before giving it back to the system.
//!
//! Why mimalloc at all: with glibc malloc an office import spent about a
//! fifth of its CPU growing, trimming and re-faulting its heaps
//! (ARCHITECTURE.md, "Allocator").
//!
//! Why the purge delay: mimalloc 3 returns memory that has been free for
//! one second to the system (`MADV_DONTNEED`), and the next allocation of
//! it is a fresh page that the kernel must fault in and zero. Fieldcase's
//! large operations run in stages that free one stage's memory and
//! allocate the next one's a moment later (a sync import: the decrypted
//! bundle, the checked events, the journal frames; an unlock: the
//! decrypted segments, then the report's rows). On the reference virtual
//! machine a fresh page costs far more than the work done in it: an import
//! of 100,000 events took about 170,000 page faults with the default and
//! about 19,000 with freed memory kept, and spent a sixth of its CPU in
//! the kernel zeroing pages. Keeping freed memory [`PURGE_DELAY_MS`] does
//! not raise the peak (memory in use is the same); it only delays the
//! return of what a finished operation freed.
//!
//! The binaries call [`keep_freed_memory`] first thing in `main`. Setting
//! `MIMALLOC_PURGE_DELAY` in the environment overrides it (mimalloc's own
//! variable, e.g. `0` to return memory at once).
//!
//! Unsafe code: two calls into mimalloc's C option API, which takes and
//! returns plain integers and may be called at any time from any thread.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub use mimalloc::MiMalloc;

use libmimalloc_sys::mi_option_t;

/// `mi_option_purge_delay` in mimalloc.h's `mi_option_e` (the same index
/// in mimalloc 2 and 3; the test below reads it back).
const MI_OPTION_PURGE_DELAY: mi_option_t = 15;

/// How long memory stays free before mimalloc returns it to the system:
/// longer than one large import's stages (seconds), short enough that an
/// idle app gives back what a finished operation freed.
pub const PURGE_DELAY_MS: i64 = 10_000;

/// Make mimalloc keep freed memory for [`PURGE_DELAY_MS`] (unless
/// `MIMALLOC_PURGE_DELAY` is set, which then wins).
pub fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: mi_option_set stores an integer in mimalloc's option table;
    // any option index below `_mi_option_last` and any value are valid.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS as _) }
}

/// mimalloc's current purge delay in milliseconds (-1: never).
// c_long is i64 here but i32 on Windows.
#[allow(clippy::useless_conversion)]
pub fn purge_delay_ms() -> i64 {
    // SAFETY: reads an integer from mimalloc's option table.
    i64::from(unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_is_the_option_it_claims_to_be() {
        // mimalloc 3's default purge delay is 1,000 ms (mimalloc 2: 10);
        // reading the index back as one of them checks the index.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert!([10, 1_000].contains(&purge_delay_ms()), "index 15 read {}", purge_delay_ms());
        }
        keep_freed_memory();
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(purge_delay_ms(), PURGE_DELAY_MS);
        }
    }
}
