//! The process's own memory: its use, read from `/proc/self/status`
//! (Linux), and the allocator settings that keep it from creeping up in a
//! process that runs for months.
//!
//! glibc's malloc keeps freed memory for reuse: in one arena per thread
//! (up to eight per core), and, once a large block has been freed, it raises
//! its own threshold for serving large blocks from fresh mappings, so later
//! answers of a few hundred KiB are carved from the heap and leave holes
//! behind. Both grow the resident size a little at each burst of
//! connections. [`tune_allocator`] fixes the arenas and the thresholds, and
//! [`give_back_freed`] returns what is free to the system after a cycle.
//! musl's allocator has neither arenas nor a moving threshold: both are
//! no-ops there.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Resident set size now, in KiB (`VmRSS`).
pub fn rss_kb() -> Option<i64> {
    status_field("VmRSS:")
}

/// Peak resident set size, in KiB (`VmHWM`).
pub fn peak_rss_kb() -> Option<i64> {
    status_field("VmHWM:")
}

/// Resets the peak resident set size to the current one, so a later
/// [`peak_rss_kb`] measures one piece of work. False where the kernel does not
/// allow it.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Malloc arenas glibc may keep: each thread would otherwise get one of up
/// to eight per core, each holding freed memory of its own (2.5 MB more at
/// 50 keep-alive clients, for no measurable speed).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MALLOC_ARENAS: libc::c_int = 2;

/// Blocks from this size up get a mapping of their own, returned whole when
/// freed (glibc's default start; setting it stops glibc raising it after
/// each large free, which is what left holes in the heap).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 128 * 1024;

/// Free memory at the top of the heap beyond this is returned at once.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: libc::c_int = 256 * 1024;

/// Sets the allocator up for a long-running process. Safe to call more than
/// once; call it before starting threads.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn tune_allocator() {
    // SAFETY: mallopt only sets glibc tuning parameters; it is safe to call
    // at any time, from any thread.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune_allocator() {}

/// Least time between two [`give_back_freed`] calls that do the work: a
/// trim walks every arena, and a monitor cycling each second need not.
pub const GIVE_BACK_EVERY: Duration = Duration::from_secs(10);

/// Returns the allocator's free pages to the system (glibc keeps them
/// otherwise, holes inside the heap included), at most once per
/// [`GIVE_BACK_EVERY`]. True when it did.
pub fn give_back_freed() -> bool {
    static LAST: Mutex<Option<Instant>> = Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    if last.is_some_and(|at| at.elapsed() < GIVE_BACK_EVERY) {
        return false;
    }
    *last = Some(Instant::now());
    trim();
    true
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim only releases free memory; it is safe to call at
    // any time, from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}

fn status_field(name: &str) -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_own_memory() {
        let rss = super::rss_kb().expect("VmRSS on Linux");
        assert!(rss > 0);
        assert!(super::peak_rss_kb().expect("VmHWM on Linux") >= rss);
    }

    #[test]
    fn gives_back_at_most_once_a_period() {
        super::tune_allocator();
        // The first call in a process works (or another test's did, just now).
        super::give_back_freed();
        assert!(
            !super::give_back_freed(),
            "a second call within GIVE_BACK_EVERY does nothing"
        );
    }
}
