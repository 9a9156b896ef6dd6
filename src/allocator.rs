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

/// `mi_option_allow_thp` in mimalloc's `mi_option_e` (v2 and v3; unnamed in the bindings).
#[cfg(feature = "mimalloc")]
const MI_OPTION_ALLOW_THP: libmimalloc_sys::mi_option_t = 37;

/// While held, the memory mimalloc takes from the system is not offered transparent huge pages
/// (mimalloc asks for them by default, `madvise`); dropped, it is as before.
/// `MIMALLOC_ALLOW_THP` in the environment still wins.
///
/// For `affected`: its large structures are filled and read in order, where 2 MiB pages save
/// little, while each thread's partly used 2 MiB pages count whole. Measured (1,000,000 rows:
/// peak 127-147 -> 98-101 MiB, same wall time; 10,000,000 rows: 15 MiB less, same wall time,
/// 1.7 s more user CPU and 2.4 s less system CPU). `evidence` keeps them: its peak is met
/// and its throughput is the tighter target.
#[cfg_attr(not(feature = "mimalloc"), allow(dead_code))]
pub struct NoHugePages {
    /// The setting to restore (none without the `mimalloc` feature, or when the environment
    /// decides).
    before: Option<std::ffi::c_long>,
    /// The process's huge pages were turned off here (Linux), to turn back on.
    process: bool,
}

/// Turns the process's transparent huge pages off (`on` false) or back on: the option alone
/// covers only the memory mimalloc takes from now on, not the arena it reserved at start.
/// Whether it worked (Linux only).
#[cfg(all(feature = "mimalloc", target_os = "linux"))]
fn process_huge_pages(on: bool) -> bool {
    // SAFETY: PR_SET_THP_DISABLE takes one integer and changes a flag of the process only.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, libc::c_ulong::from(!on), 0, 0, 0) == 0 }
}

impl NoHugePages {
    pub fn new() -> NoHugePages {
        #[cfg(feature = "mimalloc")]
        if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
            // SAFETY: reads and sets one integer option; mimalloc reads options at any time,
            // thread-safely.
            let before = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_ALLOW_THP) };
            unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_ALLOW_THP, 0) };
            #[cfg(target_os = "linux")]
            // SAFETY: as above; off only when nothing had turned them off before.
            let process = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) } == 0
                && process_huge_pages(false);
            #[cfg(not(target_os = "linux"))]
            let process = false;
            return NoHugePages {
                before: Some(before),
                process,
            };
        }
        NoHugePages {
            before: None,
            process: false,
        }
    }
}

impl Default for NoHugePages {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NoHugePages {
    fn drop(&mut self) {
        #[cfg(feature = "mimalloc")]
        if let Some(v) = self.before {
            // SAFETY: as in `new`.
            unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_ALLOW_THP, v) };
            #[cfg(target_os = "linux")]
            if self.process {
                process_huge_pages(true);
            }
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

    /// Huge pages are off while the guard is held, for mimalloc and (Linux) the process, and
    /// as they were after.
    #[test]
    fn huge_pages_come_back_as_they_were() {
        if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
            return; // the environment's setting wins
        }
        let option = || unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_ALLOW_THP) };
        #[cfg(target_os = "linux")]
        let process_off = || unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) } == 1;
        let before = option();
        #[cfg(target_os = "linux")]
        let was_off = process_off();
        {
            let _off = super::NoHugePages::new();
            assert_eq!(option(), 0);
            #[cfg(target_os = "linux")]
            assert!(process_off());
        }
        assert_eq!(option(), before);
        #[cfg(target_os = "linux")]
        assert_eq!(process_off(), was_off);
    }
}
