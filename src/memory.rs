//! The process's own memory use, read from `/proc/self/status` (Linux).

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
}
