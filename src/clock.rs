//! Timestamps as Archivist stores them (UTC, `YYYY-MM-DDTHH:MM:SSZ`), and
//! the station's time zone, the one place that knows about zones.
//!
//! Cablecast sends date-times with an offset (`2026-08-24T18:30:00-05:00`, at
//! times with fractional seconds); this module turns them into the database's
//! one form. A date-time without an offset is station-local in Cablecast, so
//! it is read in the [`StationZone`] (`ARCHIVIST_TIMEZONE`, else the box's
//! zone, as `cli` read it). [`format_local`] and [`stored_to_local`] show a
//! time in that zone, with the zone named, on every surface people read
//! (the page, `status`, `alerts list`, `transcriptions list`, `/health/*`);
//! [`local_day_start`] reads the day filters in it. JSON, `/metrics` and the
//! database stay UTC. Nothing here reads the environment.

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
    /// The box's own zone, as the C library reads it: `tz` is the `TZ`
    /// variable as `main` read it (an IANA name, `:name`, a path to a zone
    /// file or a POSIX rule; empty means UTC), else `/etc/localtime`; UTC
    /// when neither says.
    pub fn of_this_box(tz: Option<&str>) -> StationZone {
        let zone = match tz {
            Some(tz) => zone_from_tz(tz),
            None => zone_file_zone(LOCALTIME),
        };
        StationZone(zone.unwrap_or(jiff::tz::TimeZone::UTC))
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

/// The box's zone file when `TZ` is not set.
const LOCALTIME: &str = "/etc/localtime";

/// A `TZ` value as the C library reads it.
fn zone_from_tz(tz: &str) -> Option<jiff::tz::TimeZone> {
    let tz = tz.trim();
    let tz = tz.strip_prefix(':').unwrap_or(tz);
    if tz.is_empty() {
        return Some(jiff::tz::TimeZone::UTC);
    }
    if let Ok(zone) = jiff::tz::TimeZone::get(zone_name(tz)) {
        return Some(zone);
    }
    if tz.starts_with('/') || tz.starts_with('.') {
        return zone_file_zone(tz);
    }
    jiff::tz::TimeZone::posix(tz).ok()
}

/// `America/Chicago` from `/usr/share/zoneinfo/America/Chicago`; the text
/// as given when it is no such path.
fn zone_name(path: &str) -> &str {
    path.rfind("zoneinfo/")
        .map_or(path, |at| &path["zoneinfo/".len() + at..])
}

/// The zone of a zone file (`/etc/localtime`): by the name its link points
/// to when it is one, else from the file's own rules.
fn zone_file_zone(path: &str) -> Option<jiff::tz::TimeZone> {
    if let Ok(target) = std::fs::read_link(path) {
        let target = target.to_string_lossy();
        if let Ok(zone) = jiff::tz::TimeZone::get(zone_name(&target)) {
            return Some(zone);
        }
    }
    let data = std::fs::read(path).ok()?;
    jiff::tz::TimeZone::tzif(zone_name(path), &data).ok()
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

/// Unix seconds as people at the station read them, in the station's zone
/// with the zone shown: `2026-12-01 10:42 CST`. Every surface people read
/// uses it (or [`stored_to_local`]); JSON, `/metrics` and the database stay
/// UTC.
pub fn format_local(secs: i64, zone: &StationZone) -> String {
    let Ok(at) = jiff::Timestamp::from_second(secs) else {
        return format_unix(secs);
    };
    let zoned = at.to_zoned_datetime(zone.0.clone());
    let name = zone.0.to_offset_info(at).abbreviation().to_string();
    format!("{} {name}", zoned.strftime("%Y-%m-%d %H:%M"))
}

/// A stored timestamp as [`format_local`] shows it; the text as given when
/// it is not one.
pub fn stored_to_local(stored: &str, zone: &StationZone) -> String {
    parse_stored(stored).map_or_else(|| stored.to_string(), |at| format_local(at, zone))
}

/// `text` with every stored timestamp in it shown as [`stored_to_local`]
/// shows it: for sentences made once for JSON (in UTC) and also printed for
/// people.
pub fn stored_times_to_local(text: &str, zone: &StationZone) -> String {
    const LEN: usize = "2026-01-01T00:00:00Z".len();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(t) = rest.find('T') {
        let stored = t
            .checked_sub(10)
            .and_then(|at| Some((at, parse_stored(rest.get(at..at + LEN)?)?)));
        match stored {
            Some((at, secs)) => {
                out.push_str(&rest[..at]);
                out.push_str(&format_local(secs, zone));
                rest = &rest[at + LEN..];
            }
            None => {
                out.push_str(&rest[..=t]);
                rest = &rest[t + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The start of a day (`YYYY-MM-DD`) in the station's zone, as Unix
/// seconds; `None` for anything else. A day is 23 or 25 hours long across a
/// daylight-saving change: the next day's start, not 24 hours, ends it.
pub fn local_day_start(text: &str, zone: &StationZone) -> Option<i64> {
    let date: jiff::civil::Date = text.trim().parse().ok()?;
    let zoned = date.to_zoned_datetime(zone.0.clone()).ok()?;
    Some(zoned.timestamp().as_second())
}

/// The start of the day after `text` (`YYYY-MM-DD`) in the station's zone:
/// where a filter "to this day, inclusive" ends.
pub fn local_day_end(text: &str, zone: &StationZone) -> Option<i64> {
    let date: jiff::civil::Date = text.trim().parse().ok()?;
    let next = date.tomorrow().ok()?;
    let zoned = next.to_zoned_datetime(zone.0.clone()).ok()?;
    Some(zoned.timestamp().as_second())
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
            stored_to_local("2026-08-24T23:30:00Z", &chicago()),
            "2026-08-24 18:30 CDT"
        );
        assert_eq!(
            stored_to_local("2026-01-05T12:00:00Z", &chicago()),
            "2026-01-05 06:00 CST"
        );
        assert_eq!(stored_to_local("yesterday", &chicago()), "yesterday");
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
        assert_eq!(
            format_local(1_787_000_000, &chicago()),
            "2026-08-17 15:53 CDT"
        );
        assert_eq!(
            format_local(1_787_000_000, &StationZone::utc()),
            "2026-08-17 20:53 UTC"
        );
    }

    #[test]
    fn stored_times_in_a_sentence_are_shown_in_the_station_zone() {
        assert_eq!(
            stored_times_to_local(
                "Cablecast unreachable since 2026-11-01T06:30:00Z; as of (2026-11-01T07:30:00Z)",
                &chicago()
            ),
            "Cablecast unreachable since 2026-11-01 01:30 CDT; as of (2026-11-01 01:30 CST)"
        );
        for plain in [
            "no times Today",
            "T",
            "2026-11-01T06:30:00",
            "ÅT 2026-13-01T00:00:00Z",
        ] {
            assert_eq!(stored_times_to_local(plain, &chicago()), plain);
        }
        assert_eq!(
            stored_times_to_local("ÅT at 2026-11-01T06:30:00Z", &chicago()),
            "ÅT at 2026-11-01 01:30 CDT"
        );
    }

    #[test]
    fn days_are_read_in_the_station_zone_across_a_change_of_clocks() {
        // 2026-11-01: Chicago goes back from CDT to CST, a 25-hour day.
        let start = local_day_start("2026-11-01", &chicago()).expect("a day");
        let end = local_day_end("2026-11-01", &chicago()).expect("a day");
        assert_eq!(format_unix(start), "2026-11-01T05:00:00Z");
        assert_eq!(format_unix(end), "2026-11-02T06:00:00Z");
        assert_eq!(end - start, 25 * 3600);
        // 2026-03-08: forward, a 23-hour day.
        let start = local_day_start("2026-03-08", &chicago()).expect("a day");
        let end = local_day_end("2026-03-08", &chicago()).expect("a day");
        assert_eq!(end - start, 23 * 3600);
        assert_eq!(local_day_start("2026-13-01", &chicago()), None);
        assert_eq!(
            local_day_start("2026-11-01", &StationZone::utc()).map(format_unix),
            Some("2026-11-01T00:00:00Z".to_string())
        );
    }

    #[test]
    fn the_box_zone_is_read_as_the_c_library_reads_tz() {
        for tz in [
            "America/Chicago",
            ":America/Chicago",
            "/usr/share/zoneinfo/America/Chicago",
        ] {
            assert_eq!(
                StationZone::of_this_box(Some(tz)).name(),
                "America/Chicago",
                "{tz}"
            );
        }
        assert_eq!(StationZone::of_this_box(Some("")).name(), "UTC");
        // A POSIX rule: no name, but Chicago's offsets.
        let rule = StationZone::of_this_box(Some("CST6CDT,M3.2.0,M11.1.0"));
        assert_eq!(format_local(1_787_000_000, &rule), "2026-08-17 15:53 CDT");
        // Nonsense is UTC, as the C library takes it.
        assert_eq!(
            format_local(0, &StationZone::of_this_box(Some("Nowhere/Atall"))),
            "1970-01-01 00:00 UTC"
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
