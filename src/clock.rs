//! UTC timestamps as Archivist stores and shows them: `YYYY-MM-DDTHH:MM:SSZ`.
//!
//! Cablecast sends date-times with an offset (`2026-08-24T18:30:00-05:00`, at
//! times with fractional seconds); this module turns them into the database's
//! one form. It does not know about time zones beyond the offset given.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// The one timestamp form in the database: sortable text, UTC, whole seconds.
const STORED: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs() as i64
}

/// Formats Unix seconds as a stored timestamp.
pub fn format_unix(secs: i64) -> String {
    let at = OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    at.format(STORED).unwrap_or_default()
}

/// The current time as a stored timestamp.
pub fn now() -> String {
    format_unix(unix_now())
}

/// Parses a stored timestamp back to Unix seconds.
pub fn parse_stored(text: &str) -> Option<i64> {
    PrimitiveDateTime::parse(text, STORED)
        .ok()
        .map(|at| at.assume_utc().unix_timestamp())
}

/// Converts a Cablecast date-time to a stored timestamp. Accepts RFC 3339 with
/// an offset or `Z`, and the offset-less form some servers send (read as UTC).
/// Returns `None` for anything else, so a bad date never rejects a whole VOD.
pub fn from_cablecast(text: &str) -> Option<String> {
    let text = text.trim();
    let at = OffsetDateTime::parse(text, &Rfc3339).ok().or_else(|| {
        let local = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
        );
        PrimitiveDateTime::parse(text, local)
            .ok()
            .map(|at| at.assume_offset(UtcOffset::UTC))
    })?;
    Some(format_unix(at.unix_timestamp()))
}

/// A Cablecast date-time as Unix seconds and the UTC offset it was written
/// with, in seconds (0 for the offset-less form, read as UTC as above).
pub fn cablecast_instant(text: &str) -> Option<(i64, i64)> {
    let text = text.trim();
    match OffsetDateTime::parse(text, &Rfc3339) {
        Ok(at) => Some((at.unix_timestamp(), i64::from(at.offset().whole_seconds()))),
        Err(_) => Some((parse_stored(&from_cablecast(text)?)?, 0)),
    }
}

/// Unix seconds as a station-local date-time without an offset
/// (`2026-11-30T10:00:00`), given the station's offset from UTC in seconds:
/// the form Cablecast's search filters compare with.
pub fn station_local(unix: i64, offset_secs: i64) -> String {
    format_unix(unix + offset_secs)
        .trim_end_matches('Z')
        .to_string()
}

/// A short human form of a duration in seconds, for the page and logs: `45 s`,
/// `12 min`, `3 h 5 min`, `2 d 4 h`.
pub fn humanize_secs(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min", secs / 60),
        3600..=86_399 => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
        _ => format!("{} d {} h", secs / 86_400, secs % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cablecast_instants_keep_their_offset() {
        assert_eq!(
            cablecast_instant("2026-08-29T02:00:05.733-05:00"),
            Some((
                parse_stored("2026-08-29T07:00:05Z").expect("stored"),
                -5 * 3600
            ))
        );
        assert_eq!(
            cablecast_instant("2026-08-29T07:00:05"),
            Some((parse_stored("2026-08-29T07:00:05Z").expect("stored"), 0))
        );
        assert_eq!(cablecast_instant("yesterday"), None);
        let (unix, offset) = cablecast_instant("2026-11-30T10:00:00-06:00").expect("parses");
        assert_eq!(station_local(unix, offset), "2026-11-30T10:00:00");
    }

    #[test]
    fn cablecast_offsets_become_utc() {
        assert_eq!(
            from_cablecast("2026-08-24T18:30:00-05:00").as_deref(),
            Some("2026-08-24T23:30:00Z")
        );
        assert_eq!(
            from_cablecast("2026-08-29T02:00:05.733-05:00").as_deref(),
            Some("2026-08-29T07:00:05Z")
        );
        assert_eq!(
            from_cablecast("2026-01-01T00:00:00Z").as_deref(),
            Some("2026-01-01T00:00:00Z")
        );
        assert_eq!(
            from_cablecast("2026-03-01T10:00:00").as_deref(),
            Some("2026-03-01T10:00:00Z")
        );
        assert_eq!(from_cablecast("next tuesday"), None);
        assert_eq!(from_cablecast(""), None);
    }

    #[test]
    fn stored_form_round_trips() {
        let text = format_unix(1_787_000_000);
        assert_eq!(text.len(), 20);
        assert_eq!(parse_stored(&text), Some(1_787_000_000));
    }

    #[test]
    fn humanized_durations() {
        assert_eq!(humanize_secs(5), "5 s");
        assert_eq!(humanize_secs(600), "10 min");
        assert_eq!(humanize_secs(3 * 3600 + 300), "3 h 5 min");
        assert_eq!(humanize_secs(2 * 86_400 + 4 * 3600), "2 d 4 h");
    }
}
