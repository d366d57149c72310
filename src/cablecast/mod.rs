//! The Cablecast HTTP client: the only code in Archivist that makes outbound
//! network requests.
//!
//! It speaks the slice of Cablecast API v1 that Archivist needs (see the API
//! contract in the README): the connection check, paged shows and VODs, and
//! single VODs. Every request authenticates with HTTP Basic when credentials
//! are set, asks for JSON, has a timeout, and is retried with backoff on
//! timeouts and 5xx answers only, and only while a retry can end before the
//! monitor's next cycle is due. Answers are read with a size cap and decoded
//! leniently into domain types; Cablecast's JSON shapes never leave this
//! module.

mod error;
mod wire;

use std::fmt;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;
use serde::de::DeserializeOwned;

pub use error::CablecastError;

use crate::vod::{Show, Vod};

/// Requests per call at most: the first try and two retries.
const MAX_ATTEMPTS: u32 = 3;

/// Pause before the first retry; doubles for each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// Largest answer read. A page of 100 shows with every property is about
/// 200 KiB; anything near this cap is a misbehaving server.
const MAX_BODY_BYTES: u64 = 8 * 1024 * 1024;

/// Page size for catalogue listings.
pub const PAGE_SIZE: usize = 100;

/// The password, kept out of every `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(text: String) -> Password {
        Password(text)
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
}

/// One page of a collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// What the server says it holds in all (`meta.count`), if it says.
    pub total: Option<i64>,
}

/// Requests begun by every client in the process: the service watchdog's
/// sign that a long cycle is still moving (see `systemd`).
static REQUESTS_BEGUN: AtomicU64 = AtomicU64::new(0);

/// Cablecast requests begun so far by this process.
pub fn requests_begun() -> u64 {
    REQUESTS_BEGUN.load(Ordering::Relaxed)
}

/// The client. Cheap to share between threads by reference.
pub struct CablecastClient {
    settings: CablecastSettings,
    /// `Basic ...`, built once; never printed.
    authorization: Option<String>,
    http_calls: AtomicU64,
    /// No retry starts that could not finish by then (the monitor's next
    /// cycle), so backoff never stretches the time between cycles.
    retry_deadline: Mutex<Option<Instant>>,
}

impl fmt::Debug for CablecastClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CablecastClient")
            .field("api_url", &self.settings.api_url)
            .field("user", &self.user())
            .finish_non_exhaustive()
    }
}

impl CablecastClient {
    pub fn new(settings: CablecastSettings) -> CablecastClient {
        let authorization = settings.credentials.as_ref().map(|c| {
            let pair = format!("{}:{}", c.user, c.password.0);
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        });
        CablecastClient {
            settings,
            authorization,
            http_calls: AtomicU64::new(0),
            retry_deadline: Mutex::new(None),
        }
    }

    /// Retries only while a retry (its backoff and a full request timeout)
    /// can end by `deadline`; `None` retries up to the usual limit. A
    /// request not retried now is tried again next cycle.
    pub fn retry_until(&self, deadline: Option<Instant>) {
        *self
            .retry_deadline
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = deadline;
    }

    fn may_retry(&self, backoff: Duration) -> bool {
        let deadline = *self
            .retry_deadline
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        deadline.is_none_or(|deadline| {
            Instant::now() + backoff + Duration::from_secs(self.settings.timeout_secs) <= deadline
        })
    }

    pub fn settings(&self) -> &CablecastSettings {
        &self.settings
    }

    /// HTTP requests sent so far (retries included).
    pub fn http_calls(&self) -> u64 {
        self.http_calls.load(Ordering::Relaxed)
    }

    /// The connection check: one cheap authenticated listing.
    pub fn check_connection(&self) -> Result<(), CablecastError> {
        self.get::<wire::ShowsEnvelope>("/shows?page_size=1", "checking the Cablecast connection")
            .map(|_| ())
    }

    /// How many shows the server has in all, whatever the location filter
    /// (its listing's `count`), to tell a location that matches nothing from
    /// an empty server.
    pub fn count_all_shows(&self) -> Result<Option<i64>, CablecastError> {
        let envelope: wire::ShowsEnvelope = self.get(
            "/shows?page_size=1",
            "counting the shows on the Cablecast server",
        )?;
        Ok(envelope
            .meta
            .and_then(|m| m.count)
            .or(Some(envelope.shows.len() as i64)))
    }

    /// One page of shows (of the configured location, if any).
    pub fn shows_page(
        &self,
        offset: usize,
        page_size: usize,
    ) -> Result<Page<Show>, CablecastError> {
        let location = self
            .settings
            .location_id
            .map(|l| format!("&location={l}"))
            .unwrap_or_default();
        let path = format!("/shows?offset={offset}&page_size={page_size}{location}");
        let what = format!("listing shows from Cablecast (offset {offset})");
        let envelope: wire::ShowsEnvelope = self.get(&path, &what)?;
        Ok(Page {
            total: envelope.meta.and_then(|m| m.count),
            items: envelope.shows.into_iter().map(Show::from).collect(),
        })
    }

    /// One page of VODs.
    pub fn vods_page(&self, offset: usize, page_size: usize) -> Result<Page<Vod>, CablecastError> {
        let path = format!("/vods?offset={offset}&page_size={page_size}");
        let what = format!("listing VODs from Cablecast (offset {offset})");
        let envelope: wire::VodsEnvelope = self.get(&path, &what)?;
        Ok(Page {
            total: envelope.meta.and_then(|m| m.count),
            items: envelope.vods.into_iter().map(Vod::from).collect(),
        })
    }

    /// One VOD's current state; `Ok(None)` when Cablecast says it is gone.
    pub fn vod(&self, id: i64) -> Result<Option<Vod>, CablecastError> {
        let what = format!("reading VOD {id} from Cablecast");
        match self.get::<wire::VodEnvelope>(&format!("/vods/{id}"), &what) {
            Ok(envelope) => {
                let vod = Vod::from(envelope.vod);
                if vod.id != id {
                    return Err(CablecastError::Malformed {
                        what,
                        detail: format!("asked for VOD {id}, got VOD {}", vod.id),
                    });
                }
                Ok(Some(vod))
            }
            Err(CablecastError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn user(&self) -> Option<String> {
        self.settings.credentials.as_ref().map(|c| c.user.clone())
    }

    /// GET with retries on transient failures, then decode.
    fn get<T: DeserializeOwned>(&self, path: &str, what: &str) -> Result<T, CablecastError> {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            match self.get_once(path, what) {
                Err(e) if e.is_transient() && attempt < MAX_ATTEMPTS && self.may_retry(backoff) => {
                    log::debug!("{e}; retrying in {} ms", backoff.as_millis());
                    thread::sleep(backoff);
                    backoff *= 2;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn get_once<T: DeserializeOwned>(&self, path: &str, what: &str) -> Result<T, CablecastError> {
        let url = format!("{}{path}", self.settings.api_url);
        let mut request = minreq::get(url)
            .with_header("Accept", "application/json")
            .with_header(
                "User-Agent",
                concat!("archivist/", env!("CARGO_PKG_VERSION")),
            )
            .with_timeout(self.settings.timeout_secs)
            .with_max_headers_size(64 * 1024)
            .with_max_status_line_length(1024)
            // Never: minreq would send every header, the Authorization one
            // included, to wherever a 3xx points, even another host or
            // plain HTTP.
            .with_follow_redirects(false);
        if let Some(authorization) = &self.authorization {
            request = request.with_header("Authorization", authorization.as_str());
        }
        self.http_calls.fetch_add(1, Ordering::Relaxed);
        REQUESTS_BEGUN.fetch_add(1, Ordering::Relaxed);
        let response = request
            .send_lazy()
            .map_err(|e| self.transport_error(what, e))?;
        let code = response.status_code;
        match code {
            200..=299 => {}
            300..=399 => {
                return Err(CablecastError::Redirected {
                    what: what.to_string(),
                    code,
                    location: shown_location(
                        response
                            .headers
                            .iter()
                            .find(|(name, _)| name.eq_ignore_ascii_case("location"))
                            .map(|(_, value)| value),
                    ),
                })
            }
            401 => {
                return Err(CablecastError::Unauthorized {
                    what: what.to_string(),
                    user: self.user(),
                })
            }
            404 => {
                return Err(CablecastError::NotFound {
                    what: what.to_string(),
                })
            }
            _ => {
                return Err(CablecastError::Status {
                    what: what.to_string(),
                    code,
                })
            }
        }
        let mut body = Vec::new();
        response
            .take(MAX_BODY_BYTES + 1)
            .read_to_end(&mut body)
            .map_err(|e| self.transport_error(what, minreq::Error::IoError(e)))?;
        if body.len() as u64 > MAX_BODY_BYTES {
            return Err(CablecastError::Malformed {
                what: what.to_string(),
                detail: format!("answer larger than {} MiB", MAX_BODY_BYTES / (1024 * 1024)),
            });
        }
        serde_json::from_slice(&body).map_err(|e| CablecastError::Malformed {
            what: what.to_string(),
            detail: e.to_string(),
        })
    }

    fn transport_error(&self, what: &str, e: minreq::Error) -> CablecastError {
        if let minreq::Error::IoError(io) = &e {
            if matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            ) {
                return CablecastError::Timeout {
                    what: what.to_string(),
                    secs: self.settings.timeout_secs,
                };
            }
        }
        CablecastError::Unreachable {
            what: what.to_string(),
            detail: e.to_string(),
        }
    }
}

/// A redirect's target as it may be shown: at most 200 characters, printable,
/// without user information (`user:password@`) or a query string.
fn shown_location(location: Option<&String>) -> String {
    let Some(location) = location else {
        return "no location".to_string();
    };
    let mut shown: &str = location.split(['?', '#']).next().unwrap_or_default();
    let owned;
    if let Some((scheme, rest)) = shown.split_once("://") {
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let host = authority.rsplit('@').next().unwrap_or(authority);
        owned = format!("{scheme}://{host}{path}");
        shown = &owned;
    }
    shown
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shown_redirect_target_carries_no_credentials_or_query() {
        let shown = |l: &str| shown_location(Some(&l.to_string()));
        assert_eq!(
            shown("https://user:secret@cablecast.example.org/CablecastAPI/v1/shows?page_size=1"),
            "https://cablecast.example.org/CablecastAPI/v1/shows"
        );
        assert_eq!(shown("/CablecastAPI/v1/shows"), "/CablecastAPI/v1/shows");
        assert_eq!(shown("http://h\r\nX: y/"), "http://hX: y/");
        assert_eq!(shown_location(None), "no location");
    }

    #[test]
    fn debug_never_shows_the_password() {
        let client = CablecastClient::new(CablecastSettings {
            api_url: "http://127.0.0.1:9/cablecastapi/v1".into(),
            credentials: Some(Credentials {
                user: "station".into(),
                password: Password::new("hunter2-secret".into()),
            }),
            location_id: None,
            timeout_secs: 1,
        });
        let shown = format!("{client:?} {:?}", client.settings());
        assert!(!shown.contains("hunter2"), "{shown}");
        // base64 of "station:hunter2-secret" starts with this
        assert!(!shown.contains("c3RhdGlvbjpodW50ZXIy"), "{shown}");
    }
}
