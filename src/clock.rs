//! Timestamps as Archivist stores them (UTC, `YYYY-MM-DDTHH:MM:SSZ`), and
//! the station's time zone, the one place that knows about zones.
//!
//! Cablecast sends date-times with an offset (`2026-08-24T18:30:00-05:00`, at
//! times with fractional seconds); this module turns them into the database's
//! one form. A date-time without an offset is station-local in Cablecast, so
//! it is read in the [`StationZone`] (the box's zone, or
//! `ARCHIVIST_TIMEZONE`). [`local_time`] shows a stored timestamp in that
//! zone again, for anything people read.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::fmt;

use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// The earliest year a Cablecast date can really be. .NET's
/// `DateTime.MinValue` (`0001-01-01`) and SQL Server's minimums (1753, 1900)
/// stand for "no date" in Cablecast's answers.
const FIRST_REAL_YEAR: i16 = 1901;

/// The station's time zone: where Cablecast's offset-less date-times are,
/// and where times are shown to people.
#[derive(Clone, PartialEq, Eq)]
pub struct StationZone(jiff::tz::TimeZone);

impl StationZone {
    /// The box's own zone (`TZ`, else `/etc/localtime`; UTC when neither
    /// says). Called by `cli` only: it reads the environment.
    pub fn of_this_box() -> StationZone {
        StationZone(jiff::tz::TimeZone::system())
    }

    /// An IANA zone by name, such as `America/Chicago`, from the system's
    /// time zone database.
    pub fn named(name: &str) -> Result<StationZone, String> {
        let name = name.trim();
        jiff::tz::TimeZone::get(name)
            .map(StationZone)
            .map_err(|_| {
                format!("{name:?} is not a time zone this system knows (an IANA name such as America/Chicago)")
            })
    }

    pub fn utc() -> StationZone {
        StationZone(jiff::tz::TimeZone::UTC)
    }

    /// The zone's IANA name, or its fixed offset when it has no name.
    pub fn name(&self) -> String {
        match self.0.iana_name() {
            Some(name) => name.to_string(),
            None => self
                .0
                .to_offset_info(jiff::Timestamp::now())
                .offset()
                .to_string(),
        }
    }
}

impl fmt::Debug for StationZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StationZone({})", self.name())
    }
}

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
/// an offset or `Z`, and the offset-less form, which Cablecast means as
/// station-local time (read in `zone`). Returns `None` for placeholder dates
/// (`0001-01-01...`) and for anything else unreadable, so a bad date never
/// rejects a whole VOD.
pub fn from_cablecast(text: &str, zone: &StationZone) -> Option<String> {
    let text = text.trim();
    // Only the two forms Cablecast sends: a date, `T`, a time.
    if text.len() < 19 || text.as_bytes().get(10) != Some(&b'T') {
        return None;
    }
    let at = match text.parse::<jiff::Timestamp>() {
        Ok(at) => at,
        Err(_) => {
            let civil = text.parse::<jiff::civil::DateTime>().ok()?;
            if civil.year() < FIRST_REAL_YEAR {
                return None;
            }
            zone.0.to_ambiguous_timestamp(civil).compatible().ok()?
        }
    };
    let secs = at.as_second();
    // The placeholder with an offset (`0001-01-01T00:00:00-06:00`) too.
    if at.to_zoned_datetime(jiff::tz::TimeZone::UTC).year() < FIRST_REAL_YEAR {
        return None;
    }
    Some(format_unix(secs))
}

/// A stored timestamp as people read it in the station's zone:
/// `2026-08-24 18:30 CDT`. `None` when `stored` is not a stored timestamp.
pub fn local_time(stored: &str, zone: &StationZone) -> Option<String> {
    let secs = parse_stored(stored)?;
    let at = jiff::Timestamp::from_second(secs).ok()?;
    Some(
        at.to_zoned_datetime(zone.0.clone())
            .strftime("%Y-%m-%d %H:%M %Z")
            .to_string(),
    )
}

/// A Cablecast date-time as Unix seconds, and the UTC offset it was
/// written with in seconds when it carries one (`None` for the offset-less,
/// station-local form). `None` where [`from_cablecast`] has no date.
pub fn cablecast_instant(text: &str, zone: &StationZone) -> Option<(i64, Option<i64>)> {
    let unix = parse_stored(&from_cablecast(text, zone)?)?;
    let text = text.trim();
    // Only a time with an offset (or `Z`) reads as an instant on its own;
    // the offset is how far the written time is from UTC.
    let offset = text.parse::<jiff::Timestamp>().ok().and_then(|_| {
        let civil = text.get(..19)?.parse::<jiff::civil::DateTime>().ok()?;
        let written = jiff::tz::TimeZone::UTC
            .to_ambiguous_timestamp(civil)
            .compatible()
            .ok()?;
        Some(written.as_second() - unix)
    });
    Some((unix, offset))
}

/// Unix seconds as a station-local date-time without an offset
/// (`2026-11-30T10:00:00`), the form Cablecast's search filters compare
/// with: at `offset` seconds from UTC when known (as the station's own
/// answers carry it), else in `zone`.
pub fn station_local(unix: i64, offset: Option<i64>, zone: &StationZone) -> String {
    let local = match offset {
        Some(offset) => format_unix(unix + offset),
        None => jiff::Timestamp::from_second(unix)
            .map(|at| {
                at.to_zoned_datetime(zone.0.clone())
                    .strftime("%Y-%m-%dT%H:%M:%SZ")
                    .to_string()
            })
            .unwrap_or_else(|_| format_unix(unix)),
    };
    local.trim_end_matches('Z').to_string()
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
    let zoned = date.to_zoned_datetime(local_zone().clone()).ok()?;
    Some(zoned.timestamp().as_second())
}

fn format_in(secs: i64, zone: &jiff::tz::TimeZone) -> String {
    let Ok(at) = jiff::Timestamp::from_second(secs) else {
        return format_unix(secs);
    };
    let zoned = at.to_zoned_datetime(zone.clone());
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

    fn chicago() -> StationZone {
        StationZone::named("America/Chicago").expect("the system knows America/Chicago")
    }

    #[test]
    fn cablecast_instants_keep_their_offset() {
        let utc = StationZone::utc();
        let chicago = StationZone::named("America/Chicago").expect("zone");
        assert_eq!(
            cablecast_instant("2026-08-29T02:00:05.733-05:00", &utc),
            Some((
                parse_stored("2026-08-29T07:00:05Z").expect("stored"),
                Some(-5 * 3600)
            ))
        );
        // Offset-less: station-local, read in the zone, no offset learnt.
        assert_eq!(
            cablecast_instant("2026-08-29T02:00:05", &chicago),
            Some((parse_stored("2026-08-29T07:00:05Z").expect("stored"), None))
        );
        assert_eq!(cablecast_instant("yesterday", &utc), None);
        let (unix, offset) = cablecast_instant("2026-11-30T10:00:00-06:00", &utc).expect("parses");
        assert_eq!(station_local(unix, offset, &utc), "2026-11-30T10:00:00");
        // Without an offset, the zone says it (CST in November).
        assert_eq!(station_local(unix, None, &chicago), "2026-11-30T10:00:00");
        assert_eq!(station_local(unix, None, &utc), "2026-11-30T16:00:00");
    }

    #[test]
    fn cablecast_offsets_become_utc() {
        let utc = StationZone::utc();
        assert_eq!(
            from_cablecast("2026-08-24T18:30:00-05:00", &utc).as_deref(),
            Some("2026-08-24T23:30:00Z")
        );
        assert_eq!(
            from_cablecast("2026-08-29T02:00:05.733-05:00", &utc).as_deref(),
            Some("2026-08-29T07:00:05Z")
        );
        assert_eq!(
            from_cablecast("2026-01-01T00:00:00Z", &utc).as_deref(),
            Some("2026-01-01T00:00:00Z")
        );
        assert_eq!(from_cablecast("next tuesday", &utc), None);
        assert_eq!(from_cablecast("", &utc), None);
        assert_eq!(from_cablecast("2026-03-01", &utc), None);
    }

    #[test]
    fn offset_less_times_are_station_local() {
        // Central daylight time in August (UTC-5), standard time in March
        // before the change (UTC-6).
        assert_eq!(
            from_cablecast("2026-08-24T18:30:00", &chicago()).as_deref(),
            Some("2026-08-24T23:30:00Z")
        );
        assert_eq!(
            from_cablecast("2026-03-01T10:00:00.25", &chicago()).as_deref(),
            Some("2026-03-01T16:00:00Z")
        );
        // The offset given wins over the zone.
        assert_eq!(
            from_cablecast("2026-08-24T18:30:00+02:00", &chicago()).as_deref(),
            Some("2026-08-24T16:30:00Z")
        );
    }

    #[test]
    fn placeholder_dates_are_no_date() {
        for text in [
            "0001-01-01T00:00:00",
            "0001-01-01T00:00:00Z",
            "0001-01-01T00:00:00-06:00",
            "1900-01-01T00:00:00",
            "1753-01-01T00:00:00",
        ] {
            assert_eq!(from_cablecast(text, &chicago()), None, "{text}");
        }
    }

    #[test]
    fn stored_times_show_in_the_station_zone() {
        assert_eq!(
            local_time("2026-08-24T23:30:00Z", &chicago()).as_deref(),
            Some("2026-08-24 18:30 CDT")
        );
        assert_eq!(
            local_time("2026-01-05T12:00:00Z", &chicago()).as_deref(),
            Some("2026-01-05 06:00 CST")
        );
        assert_eq!(local_time("yesterday", &chicago()), None);
        assert!(StationZone::named("Mars/Olympus").is_err());
        assert_eq!(chicago().name(), "America/Chicago");
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
