//! Order-preserving parallel maps for the pure parts of large work: an
//! import (parsing, encoding, folding new cases, building journal entries)
//! and a checkpoint (hashing and encrypting snapshot segments). The SQLite
//! writes and file writes stay sequential; the work before them uses every
//! core.

use std::num::NonZeroUsize;

/// Threads worth starting for `work` units when one thread should get at
/// least `min_per_thread` of them (a thread costs more than a few hundred
/// small units save): at most the machine's cores, at least one.
pub fn threads_for(work: usize, min_per_thread: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    cores.min(work / min_per_thread.max(1)).max(1)
}

/// `items.iter().map(f).collect()`, computed in contiguous chunks on up to
/// `threads` scoped threads; the result is in the order of `items`, so
/// callers report the first bad item exactly as a sequential loop would.
/// A worker that panics (none is expected: the work is pure) has its chunk
/// redone on the calling thread.
pub fn map_ordered<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if threads <= 1 || items.len() < 2 {
        return items.iter().map(&f).collect();
    }
    let per_thread = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(per_thread)
            .map(|chunk| (chunk, s.spawn(move || chunk.iter().map(f).collect::<Vec<_>>())))
            .collect();
        handles.into_iter().flat_map(|(chunk, h)| h.join().unwrap_or_else(|_| chunk.iter().map(f).collect())).collect()
    })
}

/// `items.into_iter().map(f).collect()`, on up to `threads` scoped threads
/// like [`map_ordered`], for work that consumes its items (moving their
/// parts into the result instead of copying them). The result is in the
/// order of `items`. Items are consumed, so a panicking worker cannot be
/// redone: its panic is passed on.
pub fn map_owned_ordered<T: Send, R: Send>(mut items: Vec<T>, threads: usize, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    if threads <= 1 || items.len() < 2 {
        return items.into_iter().map(&f).collect();
    }
    let per_thread = items.len().div_ceil(threads);
    // Split from the end so each split is one truncation, then restore order.
    let mut chunks = Vec::with_capacity(threads);
    while items.len() > per_thread {
        chunks.push(items.split_off(items.len() - per_thread));
    }
    chunks.push(items);
    chunks.reverse();
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> =
            chunks.into_iter().map(|chunk| s.spawn(move || chunk.into_iter().map(f).collect::<Vec<_>>())).collect();
        let mut out = Vec::new();
        for h in handles {
            match h.join() {
                Ok(part) => out.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

/// Drop `value` on a short-lived thread of its own. Freeing the folded
/// states of a large import (hundreds of thousands of small allocations)
/// takes the importing thread a noticeable time for no result; another core
/// can do it meanwhile. Drops in place when no thread can be started.
pub fn drop_in_background<T: Send + 'static>(value: T) {
    let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(value)));
    let theirs = std::sync::Arc::clone(&slot);
    let spawned = std::thread::Builder::new()
        .name("fieldcase-drop".into())
        .spawn(move || drop(theirs.lock().map(|mut v| v.take())));
    if spawned.is_err() {
        drop(slot.lock().map(|mut v| v.take()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_order_of_the_items_whatever_the_threads() {
        let items: Vec<u64> = (0..10_007).collect();
        let expected: Vec<u64> = items.iter().map(|x| x * 3 + 1).collect();
        for threads in [1, 2, 3, 8, 20_000] {
            assert_eq!(map_ordered(&items, threads, |x| x * 3 + 1), expected, "{threads} threads");
        }
        assert!(map_ordered(&[] as &[u64], 4, |x| *x).is_empty());
    }

    #[test]
    fn owned_map_keeps_the_order_of_the_items_whatever_the_threads() {
        let expected: Vec<String> = (0..10_007u64).map(|x| format!("{x}!")).collect();
        for threads in [1, 2, 3, 8, 20_000] {
            let items: Vec<String> = (0..10_007u64).map(|x| x.to_string()).collect();
            assert_eq!(map_owned_ordered(items, threads, |x| x + "!"), expected, "{threads} threads");
        }
        assert!(map_owned_ordered(Vec::<u64>::new(), 4, |x| x).is_empty());
    }

    #[test]
    fn threads_are_bounded_by_work_and_cores() {
        assert_eq!(threads_for(0, 512), 1);
        assert_eq!(threads_for(511, 512), 1);
        assert!(threads_for(1 << 30, 512) >= 1);
        assert!(threads_for(1 << 30, 512) <= std::thread::available_parallelism().map_or(1, NonZeroUsize::get));
    }
}
