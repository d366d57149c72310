//! Validated settings. The command line and the environment are read once,
//! by `cli`, into these types; the rest of the program trusts them.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::clock::StationZone;

/// A setting that is missing or malformed: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub setting: String,
    pub reason: String,
}

impl ConfigError {
    pub fn new(setting: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            setting: setting.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.setting, self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// The password, kept out of every `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(text: String) -> Password {
        Password(text)
    }

    /// The password itself, for the client's `Authorization` header alone.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Frontdoor credentials for HTTP Basic auth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: Password,
}

/// Where the station's Cablecast is and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CablecastSettings {
    /// The versioned API root, e.g. `https://host/CablecastAPI/v1`, without
    /// a trailing slash.
    pub api_url: String,
    pub credentials: Option<Credentials>,
    /// Only shows of this location are kept, when set.
    pub location_id: Option<i64>,
    /// Per request, whole seconds.
    pub timeout_secs: u64,
    /// Where Cablecast's date-times without an offset are (station-local).
    pub time_zone: StationZone,
}

/// Settings of the monitoring cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorSettings {
    pub cablecast: CablecastSettings,
    /// Time from one cycle's start to the next.
    pub interval: Duration,
    /// Time between full catalogue passes (the first cycle always runs
    /// one).
    pub catalog_interval: Duration,
    /// Time between looks for changed shows between full passes; zero looks
    /// every cycle.
    pub changes_interval: Duration,
    pub single_run: bool,
    /// Log each cycle's phase timings too.
    pub performance: bool,
    /// Refresh results written per transaction.
    pub batch_size: usize,
    /// Refresh requests in flight at once.
    pub http_concurrency: usize,
    /// Where the status server listens (not used with `single_run`).
    pub listen: SocketAddr,
}

/// Reads whole seconds, 1 or more, from a flag or variable.
pub fn parse_seconds(setting: &str, text: &str, max: u64) -> Result<Duration, ConfigError> {
    let secs: u64 = text.trim().parse().map_err(|_| {
        ConfigError::new(
            setting,
            format!("{text:?} is not a whole number of seconds"),
        )
    })?;
    if secs == 0 || secs > max {
        return Err(ConfigError::new(
            setting,
            format!("{secs} is out of range (1 to {max} seconds)"),
        ));
    }
    Ok(Duration::from_secs(secs))
}

/// Reads a count between `min` and `max`.
pub fn parse_count(
    setting: &str,
    text: &str,
    min: usize,
    max: usize,
) -> Result<usize, ConfigError> {
    let n: usize = text
        .trim()
        .parse()
        .map_err(|_| ConfigError::new(setting, format!("{text:?} is not a whole number")))?;
    if n < min || n > max {
        return Err(ConfigError::new(
            setting,
            format!("{n} is out of range ({min} to {max})"),
        ));
    }
    Ok(n)
}

/// Reads a listen address such as `127.0.0.1:8080` or `[::]:8080`.
pub fn parse_listen(setting: &str, text: &str) -> Result<SocketAddr, ConfigError> {
    text.trim().parse().map_err(|_| {
        ConfigError::new(
            setting,
            format!("{text:?} is not an address:port such as 127.0.0.1:8080 or 0.0.0.0:8080"),
        )
    })
}

/// Validates the Cablecast API root. Plain `http` and `https` only; no
/// credentials inside the URL (they would end up in logs).
pub fn parse_api_url(setting: &str, text: &str) -> Result<String, ConfigError> {
    let text = text.trim();
    let url = text.trim_end_matches('/');
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(|| {
            ConfigError::new(
                setting,
                "must start with http:// or https:// (e.g. https://cablecast.example.org/CablecastAPI/v1)",
            )
        })?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() {
        return Err(ConfigError::new(setting, "has no host name"));
    }
    if host.contains('@') {
        return Err(ConfigError::new(
            setting,
            "must not hold credentials; set CABLECAST_USER_ID and CABLECAST_PASSWORD instead",
        ));
    }
    if url.contains(|c: char| c.is_whitespace() || c.is_control()) || url.contains(['?', '#']) {
        return Err(ConfigError::new(
            setting,
            "must be the API root alone, without spaces, query or fragment",
        ));
    }
    Ok(url.to_string())
}

/// Builds Cablecast credentials: both or neither.
pub fn credentials(
    user: Option<String>,
    password: Option<String>,
) -> Result<Option<Credentials>, ConfigError> {
    match (
        user.filter(|u| !u.is_empty()),
        password.filter(|p| !p.is_empty()),
    ) {
        (Some(user), Some(password)) => {
            if user.contains(':') {
                return Err(ConfigError::new(
                    "CABLECAST_USER_ID",
                    "must not contain ':' (HTTP Basic auth cannot carry it)",
                ));
            }
            Ok(Some(Credentials {
                user,
                password: Password::new(password),
            }))
        }
        (None, None) => Ok(None),
        (Some(_), None) => Err(ConfigError::new(
            "CABLECAST_PASSWORD",
            "not set, but CABLECAST_USER_ID is (set both, or neither for anonymous access)",
        )),
        (None, Some(_)) => Err(ConfigError::new(
            "CABLECAST_USER_ID",
            "not set, but CABLECAST_PASSWORD is (set both, or neither for anonymous access)",
        )),
    }
}

/// The database file, the main argument of every command.
pub fn default_db() -> PathBuf {
    PathBuf::from("archivist.db")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_urls() {
        assert_eq!(
            parse_api_url("U", "https://cc.example.org/CablecastAPI/v1/").as_deref(),
            Ok("https://cc.example.org/CablecastAPI/v1")
        );
        assert!(parse_api_url("U", "ftp://x").is_err());
        let e = parse_api_url("U", "https://").expect_err("no host");
        assert!(e.reason.contains("no host"), "{e}");
        assert!(parse_api_url("U", "https://me:pw@host/v1").is_err());
        assert!(parse_api_url("U", "http://host/v1?x=1").is_err());
    }

    #[test]
    fn numbers_and_addresses() {
        assert_eq!(
            parse_seconds("I", "300", 86_400),
            Ok(Duration::from_secs(300))
        );
        assert!(parse_seconds("I", "0", 86_400).is_err());
        assert!(parse_seconds("I", "1.5", 86_400).is_err());
        assert!(parse_count("B", "0", 1, 10).is_err());
        assert!(parse_listen("L", "127.0.0.1:8080").is_ok());
        assert!(parse_listen("L", "localhost").is_err());
    }

    #[test]
    fn credentials_come_in_pairs() {
        assert_eq!(credentials(None, None), Ok(None));
        assert!(credentials(Some("u".into()), None).is_err());
        assert!(credentials(None, Some("p".into())).is_err());
        assert!(credentials(Some("u".into()), Some("p".into()))
            .expect("pair")
            .is_some());
    }
}
