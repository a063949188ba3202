//! Order-preserving parallel map for the pure parts of a large import
//! (parsing, encoding, folding new cases, building journal entries): the
//! SQLite writes stay sequential, the work before them uses every core.

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
    fn threads_are_bounded_by_work_and_cores() {
        assert_eq!(threads_for(0, 512), 1);
        assert_eq!(threads_for(511, 512), 1);
        assert!(threads_for(1 << 30, 512) >= 1);
        assert!(threads_for(1 << 30, 512) <= std::thread::available_parallelism().map_or(1, NonZeroUsize::get));
    }
}
