//! An ordered parallel map with bounded memory, for rendering notices on every core.
//!
//! Workers take chunks of the input in turn, run `f` on each item and hand the chunk's results
//! to the calling thread, which passes them to `sink` in input order (so `index.csv` and every
//! report keep the customers' order whatever thread finished first). The channel between them
//! is bounded: a slow sink holds the workers back instead of piling up rendered messages.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Customers per chunk: big enough that handing a chunk over costs nothing next to rendering
/// it, small enough that the chunks in flight hold little memory.
pub const CHUNK: usize = 64;

/// Worker threads for CPU-bound work: the cores available, `SKIMTRACE_THREADS` to override.
pub fn threads() -> usize {
    std::env::var("SKIMTRACE_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .min(64)
}

/// Runs `f(index, item)` for every item on up to `threads` threads and feeds the results to
/// `sink` in input order, on the calling thread. The first error from `sink` stops the work
/// (items already running finish) and is returned.
pub fn map_ordered<T, R, E>(
    items: &[T],
    threads: usize,
    f: impl Fn(usize, &T) -> R + Sync,
    mut sink: impl FnMut(R) -> Result<(), E>,
) -> Result<(), E>
where
    T: Sync,
    R: Send,
{
    let chunks = items.len().div_ceil(CHUNK);
    let workers = threads.min(chunks);
    if workers <= 1 {
        for (i, t) in items.iter().enumerate() {
            sink(f(i, t))?;
        }
        return Ok(());
    }
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Vec<R>)>(workers * 2);
        for _ in 0..workers {
            let tx = tx.clone();
            let (next, stop, f) = (&next, &stop, &f);
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let c = next.fetch_add(1, Ordering::Relaxed);
                    if c >= chunks {
                        break;
                    }
                    let lo = c * CHUNK;
                    let hi = (lo + CHUNK).min(items.len());
                    let out: Vec<R> = (lo..hi).map(|i| f(i, &items[i])).collect();
                    if tx.send((c, out)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut pending: BTreeMap<usize, Vec<R>> = BTreeMap::new();
        let mut want = 0;
        let mut result = Ok(());
        // Drain until every worker is done, even after an error, so none blocks on a full
        // channel.
        for (c, out) in rx.iter() {
            pending.insert(c, out);
            while let Some(out) = pending.remove(&want) {
                want += 1;
                if result.is_ok() {
                    for r in out {
                        if let Err(e) = sink(r) {
                            result = Err(e);
                            stop.store(true, Ordering::Relaxed);
                            break;
                        }
                    }
                }
            }
        }
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_arrive_in_input_order() {
        let items: Vec<usize> = (0..1000).collect();
        for threads in [1, 2, 4] {
            let mut got = Vec::new();
            map_ordered(
                &items,
                threads,
                |i, &x| {
                    // Uneven work so that chunks finish out of order.
                    if x % 97 == 0 {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                    (i, x * 2)
                },
                |r| {
                    got.push(r);
                    Ok::<_, ()>(())
                },
            )
            .unwrap();
            let want: Vec<(usize, usize)> = (0..1000).map(|i| (i, i * 2)).collect();
            assert_eq!(got, want, "threads = {threads}");
        }
    }

    #[test]
    fn a_sink_error_stops_and_is_returned() {
        let items: Vec<usize> = (0..10_000).collect();
        let done = AtomicUsize::new(0);
        let r = map_ordered(
            &items,
            2,
            |_, &x| {
                done.fetch_add(1, Ordering::Relaxed);
                x
            },
            |x| if x == 100 { Err(x) } else { Ok(()) },
        );
        assert_eq!(r, Err(100));
        assert!(done.load(Ordering::Relaxed) < 10_000, "work stopped early");
    }
}
