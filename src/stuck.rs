//! When a VOD in flight counts as stuck: one threshold per in-flight state,
//! from `ARCHIVIST_STUCK_AFTER`.
//!
//! The same thresholds serve the status page's highlight, `status --stuck`,
//! `/metrics` and the `vod_stuck` alert, so a VOD is stuck on every surface
//! or on none. A VOD's time in its state runs from Cablecast's `stateChange`
//! when it sends one, otherwise from the first cycle that saw the VOD in that
//! state (see `store`).
//!
//! What this module is not: it does not read the database or the clock; the
//! store turns [`StuckAfter::per_state`] into cutoffs for one indexed query.

use std::fmt;
use std::time::Duration;

use crate::config::ConfigError;
use crate::vod::VodState;

/// The setting's name, for errors and help.
pub const SETTING: &str = "ARCHIVIST_STUCK_AFTER";

/// Longest threshold accepted: a year. Anything longer is a typo.
const MAX_THRESHOLD: Duration = Duration::from_secs(366 * 24 * 3600);

/// The in-flight states a threshold can be set for, as Cablecast names them.
/// A state Cablecast adds later counts as `unknown`, here as everywhere.
pub const STATES: [&str; 5] = ["queued", "processing", "partial", "waiting", "unknown"];

/// Time in one in-flight state after which a VOD is stuck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StuckAfter {
    /// Waiting for an encoder slot.
    pub queued: Duration,
    /// Encoding or uploading.
    pub processing: Duration,
    /// Partly published (a stream with some renditions).
    pub partial: Duration,
    /// Waiting on something outside Cablecast (storage, a file), per its
    /// `statusMessage`: the slowest to resolve on its own.
    pub waiting: Duration,
    /// No state, or one this version does not know.
    pub unknown: Duration,
}

impl Default for StuckAfter {
    /// A meeting of a few hours encodes well inside `processing=6h` on
    /// station hardware; a queue longer than two hours means the encoders
    /// are not taking work; `waiting` is often a storage problem staff fix
    /// within a working day.
    fn default() -> StuckAfter {
        StuckAfter {
            queued: hours(2),
            processing: hours(6),
            partial: hours(6),
            waiting: hours(24),
            unknown: hours(6),
        }
    }
}

const fn hours(n: u64) -> Duration {
    Duration::from_secs(n * 3600)
}

impl StuckAfter {
    /// Reads `6h` (one threshold for every in-flight state) or
    /// `queued=2h,processing=6h,waiting=24h` (the states named; the others
    /// keep their defaults). Durations are a number and a unit (`s`, `m`,
    /// `h`, `d`), possibly several (`1h30m`).
    pub fn parse(text: &str) -> Result<StuckAfter, ConfigError> {
        let error = |reason: String| ConfigError::new(SETTING, reason);
        let text = text.trim();
        if text.is_empty() {
            return Err(error(
                "is empty; give e.g. 6h or queued=2h,processing=6h".into(),
            ));
        }
        if !text.contains('=') {
            let all = parse_duration(text).map_err(error)?;
            return Ok(StuckAfter {
                queued: all,
                processing: all,
                partial: all,
                waiting: all,
                unknown: all,
            });
        }
        let mut thresholds = StuckAfter::default();
        let mut named = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((state, duration)) = part.split_once('=') else {
                return Err(error(format!(
                    "{part:?} is not STATE=DURATION (e.g. processing=6h)"
                )));
            };
            let state = state.trim();
            let duration = parse_duration(duration.trim())
                .map_err(|reason| error(format!("{state}: {reason}")))?;
            let slot = match state {
                "queued" => &mut thresholds.queued,
                "processing" => &mut thresholds.processing,
                "partial" => &mut thresholds.partial,
                "waiting" => &mut thresholds.waiting,
                "unknown" => &mut thresholds.unknown,
                other => {
                    return Err(error(format!(
                        "{other:?} is not an in-flight state (one of {})",
                        STATES.join(", ")
                    )))
                }
            };
            if named.contains(&state) {
                return Err(error(format!("{state} is given twice")));
            }
            named.push(state);
            *slot = duration;
        }
        Ok(thresholds)
    }

    /// The threshold for a VOD in `state`; `None` when the state is not in
    /// flight (a finished, failed or disabled VOD is never stuck).
    pub fn threshold(&self, state: &VodState) -> Option<Duration> {
        match state.counted_as() {
            VodState::Queued => Some(self.queued),
            VodState::Processing => Some(self.processing),
            VodState::Partial => Some(self.partial),
            VodState::Waiting => Some(self.waiting),
            VodState::Unknown => Some(self.unknown),
            _ => None,
        }
    }

    /// Whether a VOD that has been in `state` for `for_how_long` is stuck.
    pub fn is_stuck(&self, state: &VodState, for_how_long: Duration) -> bool {
        self.threshold(state).is_some_and(|t| for_how_long > t)
    }

    /// Each in-flight state (as in [`STATES`]) with its threshold.
    pub fn per_state(&self) -> [(&'static str, Duration); 5] {
        [
            ("queued", self.queued),
            ("processing", self.processing),
            ("partial", self.partial),
            ("waiting", self.waiting),
            ("unknown", self.unknown),
        ]
    }
}

impl fmt::Display for StuckAfter {
    /// The form `parse` reads, every state named: `queued=2h,...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (state, threshold)) in self.per_state().iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{state}={}", format_duration(*threshold))?;
        }
        Ok(())
    }
}

/// Reads `90s`, `45m`, `6h`, `2d` or a sum of them (`1h30m`): more than
/// zero, at most a year.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let mut total: u64 = 0;
    let mut digits = String::new();
    let mut units = 0;
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => {
                return Err(format!(
                    "{text:?} is not a duration (e.g. 90s, 45m, 6h, 2d, 1h30m)"
                ))
            }
        };
        if digits.is_empty() {
            return Err(format!(
                "{text:?}: a unit needs a number before it (e.g. 6h)"
            ));
        }
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("{text:?} is longer than a year"))?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| format!("{text:?} is longer than a year"))?;
        units += 1;
    }
    if !digits.is_empty() || units == 0 {
        return Err(format!("{text:?} needs a unit: s, m, h or d (e.g. 6h)"));
    }
    let duration = Duration::from_secs(total);
    if duration.is_zero() {
        return Err(format!("{text:?} is zero; give a time longer than that"));
    }
    if duration > MAX_THRESHOLD {
        return Err(format!("{text:?} is longer than a year"));
    }
    Ok(duration)
}

/// The shortest form `parse_duration` reads back: `2h`, `1h30m`, `90s`.
pub fn format_duration(duration: Duration) -> String {
    let mut secs = duration.as_secs();
    if secs == 0 {
        return "0s".into();
    }
    let mut text = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            text.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_duration_sets_every_state() {
        let t = StuckAfter::parse("6h").expect("valid");
        assert!(t.per_state().iter().all(|(_, d)| *d == hours(6)));
    }

    #[test]
    fn named_states_override_only_themselves() {
        let t = StuckAfter::parse(" queued=30m, waiting=2d ").expect("valid");
        assert_eq!(t.queued, Duration::from_secs(1800));
        assert_eq!(t.waiting, hours(48));
        assert_eq!(t.processing, StuckAfter::default().processing);
    }

    #[test]
    fn display_reads_back() {
        let t = StuckAfter::parse("queued=1h30m,processing=90s").expect("valid");
        assert_eq!(StuckAfter::parse(&t.to_string()), Ok(t));
        assert_eq!(
            StuckAfter::default().to_string(),
            "queued=2h,processing=6h,partial=6h,waiting=1d,unknown=6h"
        );
    }

    #[test]
    fn bad_settings_say_what_is_wrong() {
        for (text, says) in [
            ("", "empty"),
            ("6", "needs a unit"),
            ("h", "number before"),
            ("6x", "not a duration"),
            ("0h", "zero"),
            ("400d", "longer than a year"),
            ("99999999999999999999d", "longer than a year"),
            ("complete=2h", "not an in-flight state"),
            ("queued", "not a duration"),
            ("queued=2h,queued=3h", "twice"),
            ("queued2h,waiting=1h", "STATE=DURATION"),
        ] {
            let e = StuckAfter::parse(text).expect_err(text);
            assert_eq!(e.setting, SETTING);
            assert!(e.reason.contains(says), "{text:?}: {}", e.reason);
        }
    }

    #[test]
    fn only_in_flight_states_can_be_stuck() {
        let t = StuckAfter::default();
        assert!(t.is_stuck(&VodState::Processing, hours(7)));
        assert!(!t.is_stuck(&VodState::Processing, hours(5)));
        assert!(t.is_stuck(&VodState::Other("transcoding".into()), hours(7)));
        assert!(!t.is_stuck(&VodState::Error, hours(1000)));
        assert!(!t.is_stuck(&VodState::Complete, hours(1000)));
        assert!(!t.is_stuck(&VodState::Disabled, hours(1000)));
    }
}
