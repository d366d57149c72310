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

/// The box's time zone, read once (`/etc/localtime`, or `TZ` as the C
/// library would read it); UTC when it cannot be known.
fn local_zone() -> &'static jiff::tz::TimeZone {
    static ZONE: std::sync::OnceLock<jiff::tz::TimeZone> = std::sync::OnceLock::new();
    ZONE.get_or_init(|| jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC))
}

/// Unix seconds as people at the station read them, in the box's local
/// time with the zone shown: `2026-12-01 10:42 CST`. Only the page uses it;
/// JSON and the database stay UTC. The one place that picks the zone.
pub fn format_local(secs: i64) -> String {
    format_in(secs, local_zone())
}

/// A stored timestamp in local time (as [`format_local`]); the text as given
/// when it is not one.
pub fn stored_to_local(stored: &str) -> String {
    parse_stored(stored).map_or_else(|| stored.to_string(), format_local)
}

/// The start of a day (`YYYY-MM-DD`) in the box's time zone, as Unix
/// seconds; `None` for anything else.
pub fn local_day_start(text: &str) -> Option<i64> {
    let date: jiff::civil::Date = text.trim().parse().ok()?;
    let zoned = date.to_zoned(local_zone().clone()).ok()?;
    Some(zoned.timestamp().as_second())
}

fn format_in(secs: i64, zone: &jiff::tz::TimeZone) -> String {
    let Ok(at) = jiff::Timestamp::from_second(secs) else {
        return format_unix(secs);
    };
    let zoned = at.to_zoned(zone.clone());
    let name = zoned
        .time_zone()
        .to_offset_info(at)
        .abbreviation()
        .to_string();
    format!("{} {name}", zoned.strftime("%Y-%m-%d %H:%M"))
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
    fn local_times_name_their_zone() {
        let chicago = jiff::tz::TimeZone::get("America/Chicago").expect("tzdb");
        assert_eq!(format_in(1_787_000_000, &chicago), "2026-08-17 15:53 CDT");
        assert_eq!(
            format_in(1_787_000_000, &jiff::tz::TimeZone::UTC),
            "2026-08-17 20:53 UTC"
        );
    }

    #[test]
    fn humanized_durations() {
        assert_eq!(humanize_secs(5), "5 s");
        assert_eq!(humanize_secs(600), "10 min");
        assert_eq!(humanize_secs(3 * 3600 + 300), "3 h 5 min");
        assert_eq!(humanize_secs(2 * 86_400 + 4 * 3600), "2 d 4 h");
    }
}
