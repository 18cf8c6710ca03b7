//! Work split over threads with results in input order, so that a parallel
//! run computes exactly what one thread does (the engine's decisions never
//! depend on the thread count).

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Calls `f` on consecutive ranges of `0..n` of at most `block` items each,
/// on up to `threads` threads (the caller is one of them), and returns the
/// results in range order. Ranges are handed out one at a time, so a thread
/// that gets less of a shared machine's cores does less of the work. One
/// thread, or a single range, runs inline without spawning.
pub fn blocks<R: Send>(
    n: usize,
    block: usize,
    threads: usize,
    f: impl Fn(Range<usize>) -> R + Sync,
) -> Vec<R> {
    let block = block.max(1);
    let count = n.div_ceil(block);
    let range = |b: usize| b * block..((b + 1) * block).min(n);
    let threads = threads.min(count);
    if threads <= 1 {
        return (0..count).map(|b| f(range(b))).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let b = next.fetch_add(1, Ordering::Relaxed);
            if b >= count {
                return done;
            }
            done.push((b, f(range(b))));
        }
    };
    let mut all = std::thread::scope(|s| {
        let others: Vec<_> = (1..threads)
            .map(|_| {
                s.spawn(|| {
                    give_way();
                    work()
                })
            })
            .collect();
        let mut all = work();
        for h in others {
            match h.join() {
                Ok(done) => all.extend(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        all
    });
    all.sort_unstable_by_key(|&(b, _)| b);
    all.into_iter().map(|(_, r)| r).collect()
}

/// Called first on a helper thread: it runs at a lower CPU priority
/// (nice 10), so on a busy machine the extra threads of a background
/// re-clustering give way to page builds and polls, and on an idle one
/// they run as fast. The calling thread keeps its priority. (On Linux
/// `setpriority` with `who = 0` applies to the calling thread only.)
pub fn give_way() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority reads no memory of ours; a failure (not
    // permitted) leaves the priority as it was, which is harmless.
    unsafe {
        let _ = libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_in_order_whatever_the_threads() {
        for threads in [1, 2, 3, 8] {
            for (n, block) in [(0, 4), (1, 4), (10, 3), (1000, 7), (5, 100)] {
                let got: Vec<usize> = super::blocks(n, block, threads, |r| r.collect::<Vec<_>>())
                    .into_iter()
                    .flatten()
                    .collect();
                assert_eq!(got, (0..n).collect::<Vec<_>>(), "{threads} {n} {block}");
            }
        }
    }
}
