//! The memory allocator of every program built on this library (the binary, its benchmarks,
//! its tests), declared here rather than in the binary so that a benchmark of a stage measures
//! the allocator a user's run has. The `mimalloc` feature (on by default) declares it; a program
//! that embeds the library with its own allocator turns the feature off.

/// mimalloc instead of the system allocator: a run builds and frees millions of small strings
/// (one set per affected order and customer), where glibc's allocator spends a quarter of the
/// time (measured with `cargo bench --bench throughput`).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (the same place in its v2 and v3
/// headers; the Rust bindings leave it unnamed).
#[cfg(feature = "mimalloc")]
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed memory goes back to the system at once instead of after mimalloc's 10 ms delay. A
/// stage frees large buffers while it builds the next (the chunk lists of the hits while they
/// are joined into one, the order index once the order files are read); with the delay both
/// stay resident and the peak holds them twice: 1,000,000 hits 317 → 211 MB, `affected` on
/// 1,000,000 rows 294 → 273 MiB, no slower (benches/speed.sh). `MIMALLOC_PURGE_DELAY` in the
/// environment still wins. Without the `mimalloc` feature, nothing to do.
pub fn return_freed_memory_at_once() {
    set_purge_delay(0);
}

/// While held, freed memory stays with the allocator for a while (mimalloc's purge delay set
/// to [`KeepFreedMemory::DELAY_MS`]) so that it is handed out again without the kernel
/// unmapping and zeroing it in between; dropped, the delay is what it was before (at once, in
/// the binary: see [`return_freed_memory_at_once`]). For a phase that builds and frees the same
/// amount again and again and does not raise the peak: `affected` while it writes (the order
/// index freed, each customer's record built, written and freed), where handing every freed
/// page back at once cost 1.7 of the 11 s of writing at 10,000,000 rows.
/// `MIMALLOC_PURGE_DELAY` in the environment still wins.
pub struct KeepFreedMemory {
    /// The delay to restore (none without the `mimalloc` feature).
    before: Option<i64>,
}

impl KeepFreedMemory {
    /// How long freed memory stays before it goes back to the system.
    /// 20 ms: long enough that a page freed is mostly handed out again before it goes back,
    /// short enough that the peak barely moves (`affected`, 1,000,000 rows: 167-171 ->
    /// 171-178 MiB; at 1,000 ms 200 MiB).
    pub const DELAY_MS: i64 = 20;

    pub fn new() -> KeepFreedMemory {
        let before = purge_delay();
        set_purge_delay(Self::DELAY_MS);
        KeepFreedMemory { before }
    }
}

impl Default for KeepFreedMemory {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for KeepFreedMemory {
    fn drop(&mut self) {
        if let Some(ms) = self.before {
            set_purge_delay(ms);
        }
    }
}

/// mimalloc's purge delay now (none without the `mimalloc` feature).
fn purge_delay() -> Option<i64> {
    #[cfg(feature = "mimalloc")]
    {
        // SAFETY: reads one integer option; mimalloc reads and sets options thread-safely.
        Some(unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) } as i64)
    }
    #[cfg(not(feature = "mimalloc"))]
    None
}

/// Sets mimalloc's purge delay, unless the environment sets it.
#[allow(unused_variables)]
fn set_purge_delay(ms: i64) {
    #[cfg(feature = "mimalloc")]
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one integer option; mimalloc reads options at any time, thread-safely.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, ms as std::ffi::c_long) };
    }
}

#[cfg(all(test, feature = "mimalloc"))]
mod tests {
    /// The guard sets the delay while held and puts back whatever was set before it.
    #[test]
    fn the_delay_comes_back_as_it_was() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return; // the environment's setting wins over both
        }
        super::set_purge_delay(7);
        {
            let _keep = super::KeepFreedMemory::new();
            assert_eq!(super::purge_delay(), Some(super::KeepFreedMemory::DELAY_MS));
        }
        assert_eq!(super::purge_delay(), Some(7));
        super::return_freed_memory_at_once();
        assert_eq!(super::purge_delay(), Some(0));
    }
}
