//! Log output: one line per event on stderr (journald adds its own
//! timestamps under systemd; a terminal gets ours).

use std::collections::HashSet;
use std::sync::Mutex;

use log::LevelFilter;

use crate::clock;
use crate::config::ConfigError;

/// Reads `error|warn|info|debug|trace`, in any case.
pub fn parse_level(setting: &str, text: &str) -> Result<LevelFilter, ConfigError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "error" => Ok(LevelFilter::Error),
        "warn" | "warning" => Ok(LevelFilter::Warn),
        "info" => Ok(LevelFilter::Info),
        "debug" => Ok(LevelFilter::Debug),
        "trace" => Ok(LevelFilter::Trace),
        _ => Err(ConfigError::new(
            setting,
            format!("{text:?} is not one of error, warn, info, debug, trace"),
        )),
    }
}

/// The log target of the one line per VOD state change, so that the demo
/// can keep those lines for `debug` (its cycle line sums them up).
pub const VOD_CHANGES: &str = "archivist::vod_changes";

/// Installs the logger once for the process. Later calls do nothing.
pub fn init(level: LevelFilter) {
    install(level, level);
}

/// The demo's logger: what a person can follow in a terminal. Each VOD's
/// change of state is logged at `debug` and above only; the cycle line
/// counts them.
pub fn init_demo(level: LevelFilter) {
    let vod_changes = if level >= LevelFilter::Debug {
        level
    } else {
        LevelFilter::Warn
    };
    install(level, vod_changes);
}

fn install(level: LevelFilter, vod_changes: LevelFilter) {
    let result = fern::Dispatch::new()
        .level(level)
        .level_for(VOD_CHANGES, vod_changes)
        // Dependencies speak at warn and above only: their debug output can
        // include request details.
        .level_for("rustls", LevelFilter::Warn)
        .level_for("minreq", LevelFilter::Warn)
        .level_for("r2d2", LevelFilter::Warn)
        .format(|out, message, record| {
            out.finish(format_args!(
                "{} {:<5} {}",
                clock::now(),
                record.level(),
                message
            ))
        })
        .chain(std::io::stderr())
        .apply();
    // Already installed (tests run several commands in one process): keep it.
    drop(result);
}

/// Distinct warnings remembered by [`warn_once`]: enough for every oddity of
/// a real catalogue, bounded so a hostile server cannot grow the set.
const MAX_WARNED: usize = 4096;

/// Logs `message()` at warn level the first time `key` is seen in this
/// process, so something Cablecast repeats every cycle is said once. After
/// `MAX_WARNED` distinct keys, one last line says further ones are quiet.
pub fn warn_once(key: &str, message: impl FnOnce() -> String) {
    static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let mut seen = SEEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let seen = seen.get_or_insert_with(HashSet::new);
    if seen.len() > MAX_WARNED || seen.contains(key) {
        return;
    }
    if seen.len() == MAX_WARNED {
        seen.insert(String::new());
        log::warn!("{MAX_WARNED} distinct warnings about Cablecast's answers so far; further ones are not logged");
        return;
    }
    seen.insert(key.to_string());
    log::warn!("{}", message());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_in_any_case() {
        assert_eq!(parse_level("L", "DEBUG"), Ok(LevelFilter::Debug));
        assert_eq!(parse_level("L", "Warn"), Ok(LevelFilter::Warn));
        assert!(parse_level("L", "loud").is_err());
    }
}
