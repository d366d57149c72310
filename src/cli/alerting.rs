//! The alert settings (`ARCHIVIST_NOTIFY_URLS`, `ARCHIVIST_ALERT_*` and
//! kin), read through the command's [`spec`](super::spec) entry and
//! validated into `alert`'s typed [`AlertSettings`]. Pure, like `parse`.

use super::spec::Given;
use crate::alert::{AlertKind, AlertSettings, FailureHold, MissingVod};
use crate::config::{self, ConfigError};
use crate::notify::{Destination, Format};
use crate::stuck::{self, StuckAfter};

/// Longest flap damping accepted, in cycles.
const MAX_CYCLES: usize = 1_000;

/// Longest station name kept, in characters.
const MAX_STATION_NAME: usize = 100;

/// Reads the alert settings. `stuck_after` comes from the caller (the same
/// thresholds as every other surface); what is unset keeps its default.
pub(super) fn alert_settings(
    given: &Given,
    stuck_after: StuckAfter,
) -> Result<AlertSettings, ConfigError> {
    let get = |name: &str| {
        given
            .value(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let mut settings = AlertSettings {
        stuck_after,
        ..AlertSettings::default()
    };
    if let Some(text) = get("ARCHIVIST_NOTIFY_URLS") {
        settings.destinations = Destination::parse_list(&text)
            .map_err(|e| ConfigError::new("ARCHIVIST_NOTIFY_URLS", e.to_string()))?;
        check_kinds(&settings.destinations)?;
    }
    if let Some(text) = get("ARCHIVIST_HEARTBEAT_URL") {
        settings.heartbeat = Some(heartbeat(&text)?);
    }
    if let Some(name) = get("ARCHIVIST_STATION_NAME") {
        settings.station = name.chars().take(MAX_STATION_NAME).collect();
    }
    if let Some(url) = get("ARCHIVIST_PUBLIC_URL") {
        settings.public_url = Some(public_url(url)?);
    }
    if let Some(text) = get("ARCHIVIST_ALERTS_OFF") {
        settings.off = kinds_off(&text)?;
    }
    if let Some(text) = get("ARCHIVIST_ALERT_FIRE_AFTER") {
        settings.fire_after = cycles("ARCHIVIST_ALERT_FIRE_AFTER", &text)?;
    }
    if let Some(text) = get("ARCHIVIST_ALERT_RESOLVE_AFTER") {
        settings.resolve_after = cycles("ARCHIVIST_ALERT_RESOLVE_AFTER", &text)?;
    }
    if let Some(text) = get("ARCHIVIST_ALERT_REMINDER") {
        if !matches!(text.as_str(), "off" | "0") {
            let every = stuck::parse_duration(&text)
                .map_err(|reason| ConfigError::new("ARCHIVIST_ALERT_REMINDER", reason))?;
            settings.reminder = Some(every);
        }
    }
    if let Some(text) = get("ARCHIVIST_ALERT_RESOLVED") {
        settings.send_resolved = on_or_off("ARCHIVIST_ALERT_RESOLVED", &text)?;
    }
    if let Some(text) = get("ARCHIVIST_ALERT_HOLD") {
        settings.failure_hold = FailureHold::parse(&text)
            .map_err(|reason| ConfigError::new("ARCHIVIST_ALERT_HOLD", reason))?;
    }
    settings.missing_vod = missing_vod(
        get("ARCHIVIST_VOD_MISSING_AFTER"),
        get("ARCHIVIST_VOD_MISSING_LOOKBACK"),
    )?;
    Ok(settings)
}

/// `ARCHIVIST_VOD_MISSING_AFTER` and `ARCHIVIST_VOD_MISSING_LOOKBACK`, each
/// defaulted when unset, checked as a pair.
fn missing_vod(after: Option<String>, lookback: Option<String>) -> Result<MissingVod, ConfigError> {
    let defaults = MissingVod::default();
    let read = |name: &str, text: Option<String>, default| match text {
        Some(text) => stuck::parse_duration(&text).map_err(|reason| ConfigError::new(name, reason)),
        None => Ok(default),
    };
    // A pair that does not fit is blamed on the one given (the lookback
    // when both are).
    let blamed = if after.is_some() && lookback.is_none() {
        "ARCHIVIST_VOD_MISSING_AFTER"
    } else {
        "ARCHIVIST_VOD_MISSING_LOOKBACK"
    };
    let after = read("ARCHIVIST_VOD_MISSING_AFTER", after, defaults.after)?;
    let lookback = read(
        "ARCHIVIST_VOD_MISSING_LOOKBACK",
        lookback,
        defaults.lookback,
    )?;
    MissingVod::new(after, lookback).map_err(|reason| ConfigError::new(blamed, reason))
}

/// Every `kinds=` names alert kinds that exist (a misspelt kind would
/// silently route nothing there).
fn check_kinds(destinations: &[Destination]) -> Result<(), ConfigError> {
    let known = AlertKind::ALL.map(AlertKind::as_str);
    for (n, destination) in destinations.iter().enumerate() {
        let kinds = destination.kinds().unwrap_or_default();
        if let Some(kind) = kinds.iter().find(|k| !known.contains(&k.as_str())) {
            return Err(ConfigError::new(
                "ARCHIVIST_NOTIFY_URLS",
                format!(
                    "entry {} has kinds= with {kind:?}, which is not an alert kind ({})",
                    n + 1,
                    known.join(", ")
                ),
            ));
        }
        if kinds.is_empty() && destination.kinds().is_some() {
            return Err(ConfigError::new(
                "ARCHIVIST_NOTIFY_URLS",
                format!("entry {} has an empty kinds=", n + 1),
            ));
        }
    }
    Ok(())
}

/// `ARCHIVIST_HEARTBEAT_URL`: a plain http(s) URL.
fn heartbeat(text: &str) -> Result<Destination, ConfigError> {
    Destination::parse(text)
        .ok()
        .filter(|d| d.format == Format::Generic)
        .ok_or_else(|| {
            ConfigError::new(
                "ARCHIVIST_HEARTBEAT_URL",
                "is not an http:// or https:// URL",
            )
        })
}

/// `ARCHIVIST_PUBLIC_URL`: the page's address, http(s).
fn public_url(url: String) -> Result<String, ConfigError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        return Ok(url);
    }
    Err(ConfigError::new(
        "ARCHIVIST_PUBLIC_URL",
        format!("{url:?} is not an http:// or https:// URL"),
    ))
}

/// `ARCHIVIST_ALERTS_OFF`: kinds separated by commas or spaces.
fn kinds_off(text: &str) -> Result<Vec<AlertKind>, ConfigError> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|n| !n.is_empty())
        .map(|name| {
            AlertKind::parse(name).ok_or_else(|| {
                let known: Vec<&str> = AlertKind::ALL.iter().map(|k| k.as_str()).collect();
                ConfigError::new(
                    "ARCHIVIST_ALERTS_OFF",
                    format!("{name:?} is not an alert kind ({})", known.join(", ")),
                )
            })
        })
        .collect()
}

/// A count of cycles for flap damping.
fn cycles(setting: &str, text: &str) -> Result<u32, ConfigError> {
    config::parse_count(setting, text, 1, MAX_CYCLES).map(|n| n as u32)
}

fn on_or_off(setting: &str, text: &str) -> Result<bool, ConfigError> {
    match text {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        other => Err(ConfigError::new(
            setting,
            format!("{other:?} is neither on nor off"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::cli::spec;
    use crate::cli::Env;

    fn read(pairs: &[(&str, &str)]) -> Result<AlertSettings, ConfigError> {
        let env: Env = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let spec = spec::command("alerts test").expect("in the spec");
        let given = spec.read(Vec::new(), &env).expect("no arguments");
        alert_settings(&given, StuckAfter::default())
    }

    #[test]
    fn defaults_and_each_setting_with_its_name_in_errors() {
        let s = read(&[]).expect("defaults");
        assert_eq!(
            (s.fire_after, s.resolve_after, s.send_resolved),
            (2, 1, true)
        );
        assert!(s.reminder.is_none() && s.destinations.is_empty());
        let s = read(&[
            ("ARCHIVIST_ALERTS_OFF", "vod_stuck, database"),
            ("ARCHIVIST_ALERT_REMINDER", "4h"),
            ("ARCHIVIST_ALERT_RESOLVED", "off"),
            ("ARCHIVIST_ALERT_FIRE_AFTER", " 3 "),
            ("ARCHIVIST_STATION_NAME", "WXYZ Community TV"),
        ])
        .expect("valid");
        assert!(!s.is_on(AlertKind::VodStuck) && s.is_on(AlertKind::VodFailed));
        assert!(!s.is_on(AlertKind::Database));
        assert_eq!(s.reminder, Some(Duration::from_secs(4 * 3600)));
        assert!(!s.send_resolved);
        assert_eq!((s.fire_after, s.resolve_after), (3, 1));
        assert_eq!(s.station, "WXYZ Community TV");
        for (name, value) in [
            ("ARCHIVIST_ALERTS_OFF", "vod_exploded"),
            ("ARCHIVIST_ALERT_FIRE_AFTER", "0"),
            ("ARCHIVIST_ALERT_RESOLVE_AFTER", "1001"),
            ("ARCHIVIST_ALERT_RESOLVED", "maybe"),
            ("ARCHIVIST_ALERT_REMINDER", "soon"),
            ("ARCHIVIST_NOTIFY_URLS", "gopher://token-secret@x/y"),
            ("ARCHIVIST_HEARTBEAT_URL", "ntfy://token-secret@x/y"),
            ("ARCHIVIST_PUBLIC_URL", "archivist.local"),
            ("ARCHIVIST_ALERT_HOLD", "vod_stuck=2m"),
            ("ARCHIVIST_ALERT_HOLD", "soon"),
        ] {
            let e = read(&[(name, value)]).expect_err(name);
            assert_eq!(e.setting, name);
            assert!(!e.reason.contains("token-secret"), "{e}");
        }
    }

    #[test]
    fn the_missing_vod_threshold_and_lookback_default_and_are_checked_as_a_pair() {
        let s = read(&[]).expect("defaults");
        assert_eq!(
            (s.missing_vod.after, s.missing_vod.lookback),
            (
                Duration::from_secs(6 * 3600),
                Duration::from_secs(14 * 86_400)
            )
        );
        let s = read(&[
            ("ARCHIVIST_VOD_MISSING_AFTER", "90m"),
            ("ARCHIVIST_VOD_MISSING_LOOKBACK", "3d"),
        ])
        .expect("valid");
        assert_eq!(
            (s.missing_vod.after, s.missing_vod.lookback),
            (Duration::from_secs(5400), Duration::from_secs(3 * 86_400))
        );
        for (pairs, blamed, says) in [
            (
                vec![("ARCHIVIST_VOD_MISSING_AFTER", "later")],
                "ARCHIVIST_VOD_MISSING_AFTER",
                "not a duration",
            ),
            (
                vec![("ARCHIVIST_VOD_MISSING_AFTER", "15d")],
                "ARCHIVIST_VOD_MISSING_AFTER",
                "shorter than the lookback",
            ),
            (
                vec![("ARCHIVIST_VOD_MISSING_LOOKBACK", "90d")],
                "ARCHIVIST_VOD_MISSING_LOOKBACK",
                "longer than",
            ),
            (
                vec![("ARCHIVIST_VOD_MISSING_LOOKBACK", "2h")],
                "ARCHIVIST_VOD_MISSING_LOOKBACK",
                "shorter than the lookback",
            ),
        ] {
            let e = read(&pairs).expect_err(blamed);
            assert_eq!(e.setting, blamed);
            assert!(e.reason.contains(says), "{e}");
        }
    }

    #[test]
    fn a_failure_hold_for_both_kinds_or_each() {
        let s = read(&[(
            "ARCHIVIST_ALERT_HOLD",
            "vod_failed=30s,transcription_failed=0",
        )])
        .expect("valid");
        assert_eq!(
            s.failure_hold.of(AlertKind::VodFailed),
            Duration::from_secs(30)
        );
        assert_eq!(
            s.failure_hold.of(AlertKind::TranscriptionFailed),
            Duration::ZERO
        );
        let s = read(&[("ARCHIVIST_ALERT_HOLD", "5m")]).expect("valid");
        assert_eq!(
            s.failure_hold.of(AlertKind::TranscriptionFailed),
            Duration::from_secs(300)
        );
        assert_eq!(
            read(&[])
                .expect("defaults")
                .failure_hold
                .of(AlertKind::VodFailed),
            crate::alert::DEFAULT_VOD_FAILURE_HOLD
        );
    }
}
