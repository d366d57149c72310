//! The alert settings, read from the environment once by `cli`.

use std::time::Duration;

use super::{hostname, AlertKind};
use crate::cli::Env;
use crate::config::{self, ConfigError};
use crate::notify::Destination;
use crate::stuck::{self, StuckAfter};

/// The settings' help text, for `archivist help`.
pub const SETTINGS_HELP: &str = "\
Alerts (monitor and `alerts`; environment only, keep them in the env file):
  ARCHIVIST_NOTIFY_URLS          Where alerts go, separated by spaces or commas: https://... (generic JSON),
                                 ntfy://host/topic, slack://host/path, discord://host/path, teams://host/path,
                                 smtp://user:pass@host:587/?to=a@b&from=c@d, smtps://... (secrets: never shown)
  ARCHIVIST_HEARTBEAT_URL        Pinged after each cycle (URL/fail when it failed), e.g. a Healthchecks check
  ARCHIVIST_STATION_NAME         Names the station in every message [default Archivist]
  ARCHIVIST_PUBLIC_URL           The status page's address, linked from every message
  ARCHIVIST_ALERTS_OFF           Kinds never raised, e.g. vod_stuck,transcription_failed
  ARCHIVIST_ALERT_FIRE_AFTER     Failing cycles before cablecast_down or database fires [default 2]
  ARCHIVIST_ALERT_HOLD           How long a VOD or transcription failure must hold before it fires: 2m (both)
                                 or per kind, e.g. vod_failed=2m,transcription_failed=5m
                                 [default vod_failed=2m,transcription_failed=0]
  ARCHIVIST_ALERT_RESOLVE_AFTER  Good cycles before they resolve [default 1]
  ARCHIVIST_ALERT_REMINDER       Repeat a firing alert this often, e.g. 4h [default off]
  ARCHIVIST_ALERT_RESOLVED       on|off: send resolved messages [default on]
";

/// Longest flap damping accepted, in cycles.
const MAX_CYCLES: usize = 1_000;

/// How long a VOD failure must hold before it fires, by default. Cablecast
/// retries a failed upload or transcode by itself within a minute or so;
/// two minutes keeps those blips quiet at short intervals, and at the
/// default 300 s interval a failure already older than this when a cycle
/// sees it (by Cablecast's state change time) fires at once, a newer one
/// at the next cycle: never more than one interval late.
pub const DEFAULT_VOD_FAILURE_HOLD: Duration = Duration::from_secs(120);

/// Longest failure hold accepted.
const MAX_FAILURE_HOLD: Duration = Duration::from_secs(7 * 24 * 3600);

/// How long a per-item failure must hold before it fires, per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureHold {
    pub vod_failed: Duration,
    pub transcription_failed: Duration,
}

impl Default for FailureHold {
    fn default() -> FailureHold {
        FailureHold {
            vod_failed: DEFAULT_VOD_FAILURE_HOLD,
            // A job reports its own end: a failure it reports is no blip.
            transcription_failed: Duration::ZERO,
        }
    }
}

impl FailureHold {
    /// The hold for `kind` (zero for station-wide kinds, damped by cycles).
    pub fn of(&self, kind: AlertKind) -> Duration {
        match kind {
            AlertKind::VodFailed => self.vod_failed,
            AlertKind::TranscriptionFailed => self.transcription_failed,
            _ => Duration::ZERO,
        }
    }

    /// "2m" (both kinds) or "vod_failed=2m,transcription_failed=0".
    pub fn parse(text: &str) -> Result<FailureHold, String> {
        let mut hold = FailureHold::default();
        let duration = |value: &str| -> Result<Duration, String> {
            let value = value.trim();
            let length = if value == "0" {
                Duration::ZERO
            } else {
                stuck::parse_duration(value)?
            };
            if length > MAX_FAILURE_HOLD {
                return Err(format!("{value:?} is longer than 7 days"));
            }
            Ok(length)
        };
        if !text.contains('=') {
            let length = duration(text)?;
            return Ok(FailureHold {
                vod_failed: length,
                transcription_failed: length,
            });
        }
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not KIND=DURATION"))?;
            match AlertKind::parse(name) {
                Some(AlertKind::VodFailed) => hold.vod_failed = duration(value)?,
                Some(AlertKind::TranscriptionFailed) => {
                    hold.transcription_failed = duration(value)?
                }
                _ => {
                    return Err(format!(
                        "{name:?} is not vod_failed or transcription_failed"
                    ))
                }
            }
        }
        Ok(hold)
    }
}

/// How alerts are raised and where they go.
#[derive(Debug, Clone)]
pub struct AlertSettings {
    pub destinations: Vec<Destination>,
    pub heartbeat: Option<Destination>,
    pub station: String,
    pub host: String,
    pub public_url: Option<String>,
    /// Kinds switched off.
    pub off: Vec<AlertKind>,
    /// Consecutive failing cycles before `cablecast_down` or `database` fires.
    pub fire_after: u32,
    /// Consecutive good cycles before they resolve.
    pub resolve_after: u32,
    pub reminder: Option<Duration>,
    pub send_resolved: bool,
    pub stuck_after: StuckAfter,
    /// How long VOD and transcription failures hold before they fire.
    pub failure_hold: FailureHold,
}

impl Default for AlertSettings {
    fn default() -> AlertSettings {
        AlertSettings {
            destinations: Vec::new(),
            heartbeat: None,
            station: "Archivist".into(),
            host: hostname(),
            public_url: None,
            off: Vec::new(),
            fire_after: 2,
            resolve_after: 1,
            reminder: None,
            send_resolved: true,
            stuck_after: StuckAfter::default(),
            failure_hold: FailureHold::default(),
        }
    }
}

impl AlertSettings {
    /// Reads the alert settings. `stuck_after` comes from the caller (the
    /// same thresholds as every other surface).
    pub fn from_env(env: &Env, stuck_after: StuckAfter) -> Result<AlertSettings, ConfigError> {
        let get = |name: &str| env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let mut settings = AlertSettings {
            stuck_after,
            ..AlertSettings::default()
        };
        if let Some(text) = get("ARCHIVIST_NOTIFY_URLS") {
            settings.destinations = Destination::parse_list(text)
                .map_err(|reason| ConfigError::new("ARCHIVIST_NOTIFY_URLS", reason))?;
        }
        if let Some(text) = get("ARCHIVIST_HEARTBEAT_URL") {
            let target = Destination::parse(text)
                .ok()
                .filter(|d| d.format == crate::notify::Format::Generic)
                .ok_or_else(|| {
                    ConfigError::new(
                        "ARCHIVIST_HEARTBEAT_URL",
                        "is not an http:// or https:// URL",
                    )
                })?;
            settings.heartbeat = Some(target);
        }
        if let Some(name) = get("ARCHIVIST_STATION_NAME") {
            settings.station = name.chars().take(100).collect();
        }
        if let Some(url) = get("ARCHIVIST_PUBLIC_URL") {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::new(
                    "ARCHIVIST_PUBLIC_URL",
                    format!("{url:?} is not an http:// or https:// URL"),
                ));
            }
            settings.public_url = Some(url.to_string());
        }
        if let Some(text) = get("ARCHIVIST_ALERTS_OFF") {
            for name in text
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|n| !n.is_empty())
            {
                let kind = AlertKind::parse(name).ok_or_else(|| {
                    let known: Vec<&str> = AlertKind::ALL.iter().map(|k| k.as_str()).collect();
                    ConfigError::new(
                        "ARCHIVIST_ALERTS_OFF",
                        format!("{name:?} is not an alert kind ({})", known.join(", ")),
                    )
                })?;
                settings.off.push(kind);
            }
        }
        let cycles = |name: &str, default: u32| match get(name) {
            Some(text) => config::parse_count(name, text, 1, MAX_CYCLES).map(|n| n as u32),
            None => Ok(default),
        };
        settings.fire_after = cycles("ARCHIVIST_ALERT_FIRE_AFTER", 2)?;
        settings.resolve_after = cycles("ARCHIVIST_ALERT_RESOLVE_AFTER", 1)?;
        if let Some(text) = get("ARCHIVIST_ALERT_REMINDER") {
            if !matches!(text, "off" | "0") {
                let every = stuck::parse_duration(text)
                    .map_err(|reason| ConfigError::new("ARCHIVIST_ALERT_REMINDER", reason))?;
                settings.reminder = Some(every);
            }
        }
        if let Some(text) = get("ARCHIVIST_ALERT_RESOLVED") {
            settings.send_resolved = match text {
                "on" | "true" | "1" | "yes" => true,
                "off" | "false" | "0" | "no" => false,
                other => {
                    return Err(ConfigError::new(
                        "ARCHIVIST_ALERT_RESOLVED",
                        format!("{other:?} is neither on nor off"),
                    ))
                }
            };
        }
        settings.failure_hold = failure_hold_from_env(env)?;
        Ok(settings)
    }

    pub fn is_on(&self, kind: AlertKind) -> bool {
        !self.off.contains(&kind)
    }
}

/// `ARCHIVIST_ALERT_HOLD`.
fn failure_hold_from_env(env: &Env) -> Result<FailureHold, ConfigError> {
    const NAME: &str = "ARCHIVIST_ALERT_HOLD";
    match env.get(NAME).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        Some(text) => FailureHold::parse(text).map_err(|reason| ConfigError::new(NAME, reason)),
        None => Ok(FailureHold::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_and_each_setting_with_its_name_in_errors() {
        let s = AlertSettings::from_env(&env(&[]), StuckAfter::default()).expect("defaults");
        assert_eq!(
            (s.fire_after, s.resolve_after, s.send_resolved),
            (2, 1, true)
        );
        assert!(s.reminder.is_none() && s.destinations.is_empty());
        let s = AlertSettings::from_env(
            &env(&[
                ("ARCHIVIST_ALERTS_OFF", "vod_stuck, database"),
                ("ARCHIVIST_ALERT_REMINDER", "4h"),
                ("ARCHIVIST_ALERT_RESOLVED", "off"),
            ]),
            StuckAfter::default(),
        )
        .expect("valid");
        assert!(!s.is_on(AlertKind::VodStuck) && s.is_on(AlertKind::VodFailed));
        assert_eq!(s.reminder, Some(Duration::from_secs(4 * 3600)));
        assert!(!s.send_resolved);
        let s = AlertSettings::from_env(
            &env(&[(
                "ARCHIVIST_ALERT_HOLD",
                "vod_failed=30s,transcription_failed=0",
            )]),
            StuckAfter::default(),
        )
        .expect("valid");
        assert_eq!(
            s.failure_hold.of(AlertKind::VodFailed),
            Duration::from_secs(30)
        );
        assert_eq!(
            s.failure_hold.of(AlertKind::TranscriptionFailed),
            Duration::ZERO
        );
        let s = AlertSettings::from_env(
            &env(&[("ARCHIVIST_ALERT_HOLD", "5m")]),
            StuckAfter::default(),
        )
        .expect("valid");
        assert_eq!(
            s.failure_hold.of(AlertKind::TranscriptionFailed),
            Duration::from_secs(300)
        );
        assert_eq!(
            AlertSettings::default()
                .failure_hold
                .of(AlertKind::VodFailed),
            DEFAULT_VOD_FAILURE_HOLD
        );
        for (name, value) in [
            ("ARCHIVIST_ALERT_HOLD", "vod_stuck=2m"),
            ("ARCHIVIST_ALERT_HOLD", "soon"),
            ("ARCHIVIST_ALERTS_OFF", "vod_exploded"),
            ("ARCHIVIST_ALERT_FIRE_AFTER", "0"),
            ("ARCHIVIST_NOTIFY_URLS", "gopher://token-secret@x/y"),
            ("ARCHIVIST_PUBLIC_URL", "archivist.local"),
        ] {
            let e = AlertSettings::from_env(&env(&[(name, value)]), StuckAfter::default())
                .expect_err(name);
            assert_eq!(e.setting, name);
            assert!(!e.reason.contains("token-secret"), "{e}");
        }
    }
}
