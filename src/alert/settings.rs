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
  ARCHIVIST_NOTIFY_URLS          Where alerts go, as Apprise writes them: https://... or jsons://... (generic JSON),
                                 ntfys://host/topic, slack://TokenA/TokenB/TokenC, discord://WebhookID/WebhookToken,
                                 workflows://host:port/Workflow/Signature, msteams://team/TokenA/TokenB/TokenC,
                                 mailtos://user:pass@domain?to=a@b, smtp(s)://user:pass@host/?to=a@b&from=c@d;
                                 ?kinds=a,b routes alert kinds, ?fingerprint=SHA256 pins (secrets: never shown)
  ARCHIVIST_HEARTBEAT_URL        Pinged after each cycle (URL/fail when it failed), e.g. a Healthchecks check
  ARCHIVIST_STATION_NAME         Names the station in every message [default Archivist]
  ARCHIVIST_PUBLIC_URL           The status page's address, linked from every message
  ARCHIVIST_ALERTS_OFF           Kinds never raised, e.g. vod_stuck,transcription_failed
  ARCHIVIST_ALERT_FIRE_AFTER     Failing cycles before cablecast_down or database fires [default 2]
  ARCHIVIST_ALERT_RESOLVE_AFTER  Good cycles before they resolve [default 1]
  ARCHIVIST_ALERT_REMINDER       Repeat a firing alert this often, e.g. 4h [default off]
  ARCHIVIST_ALERT_RESOLVED       on|off: send resolved messages [default on]
";

/// Longest flap damping accepted, in cycles.
const MAX_CYCLES: usize = 1_000;

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
                .map_err(|e| ConfigError::new("ARCHIVIST_NOTIFY_URLS", e.to_string()))?;
            check_kinds(&settings.destinations)?;
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
        Ok(settings)
    }

    pub fn is_on(&self, kind: AlertKind) -> bool {
        !self.off.contains(&kind)
    }
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
        for (name, value) in [
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
