//! What can go wrong talking to Cablecast, each with what Archivist was doing.
//! No variant ever carries a credential.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CablecastError {
    /// No connection could be made (refused, name not found, TLS failure) or
    /// it broke before an answer was read.
    Unreachable { what: String, detail: String },
    /// No complete answer within the request timeout.
    Timeout { what: String, secs: u64 },
    /// The connection was closed before any answer came (a server
    /// restarting, a proxy giving up): worth another try.
    Closed { what: String },
    /// HTTP 401: Cablecast refused the credentials.
    Unauthorized { what: String, user: Option<String> },
    /// HTTP 404: the resource does not exist (or no longer does).
    NotFound { what: String },
    /// Any other unsuccessful HTTP status.
    Status { what: String, code: u16 },
    /// A 3xx answer. Redirects are never followed: the credentials would go
    /// with the request to wherever it points (another host, or plain HTTP).
    /// The API URL is a setting to correct, so this is a configuration error.
    Redirected {
        what: String,
        code: u16,
        /// Where Cablecast pointed, without any credentials or query.
        location: String,
    },
    /// An answer that is not what the API contract says (bad JSON, wrong
    /// shape, too large).
    Malformed { what: String, detail: String },
    /// An `https://` API URL whose server answered plain HTTP.
    PlainHttp { what: String },
    /// HTTP 404 for the connection check: nothing of the API is at the
    /// configured root (`/CablecastAPI/v1` left out, or a typo).
    WrongApiRoot {
        what: String,
        api_url: String,
        /// The root as it should look on that server.
        suggestion: String,
    },
    /// A successful answer that is an HTML page (a login page, a portal, a
    /// proxy's notice), not the API's JSON.
    HtmlPage {
        what: String,
        /// The page's `<title>`, shortened, when it has one.
        title: Option<String>,
    },
    /// Not sent: the service is stopping (SIGTERM or SIGINT).
    Stopped { what: String },
}

/// The API root as it should look on the server of `api_url`:
/// `scheme://host/CablecastAPI/v1`.
pub(super) fn api_root_suggestion(api_url: &str) -> String {
    let (scheme, rest) = api_url.split_once("://").unwrap_or(("https", api_url));
    let host = rest.split('/').next().unwrap_or_default();
    format!("{scheme}://{host}/CablecastAPI/v1")
}

/// The `<title>` of an HTML page, at most 80 printable characters.
pub(super) fn html_title(page: &str) -> Option<String> {
    let lower = page.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let start = start + lower[start..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    let title: String = page[start..end]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .take(80)
        .collect();
    (!title.is_empty()).then_some(title)
}

impl CablecastError {
    /// Worth trying the same request again after a pause: timeouts and 5xx.
    pub fn is_transient(&self) -> bool {
        match self {
            CablecastError::Timeout { .. } | CablecastError::Closed { .. } => true,
            CablecastError::Status { code, .. } => *code >= 500,
            _ => false,
        }
    }

    /// Cablecast cannot be used at all: no connection, no answer, the
    /// credentials refused, a redirect away, or answers that are not the
    /// API's (garbage, a page). One request answered with an error status
    /// (or 404) is not: the server is there, and flaky at worst.
    pub fn is_outage(&self) -> bool {
        !matches!(
            self,
            CablecastError::Status { .. } | CablecastError::NotFound { .. }
        )
    }

    /// A short name of the kind of failure, for logs and metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            CablecastError::Unreachable { .. } => "unreachable",
            CablecastError::Timeout { .. } => "timeout",
            CablecastError::Closed { .. } => "closed",
            CablecastError::Unauthorized { .. } => "unauthorized",
            CablecastError::NotFound { .. } => "not_found",
            CablecastError::Status { .. } => "http_status",
            CablecastError::Redirected { .. } => "redirected",
            CablecastError::Malformed { .. } => "malformed",
            CablecastError::PlainHttp { .. } => "plain_http",
            CablecastError::WrongApiRoot { .. } => "wrong_api_root",
            CablecastError::HtmlPage { .. } => "html_page",
            CablecastError::Stopped { .. } => "stopped",
        }
    }
}

impl fmt::Display for CablecastError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CablecastError::Unreachable { what, detail } => {
                write!(f, "{what}: Cablecast unreachable: {detail}")?;
                if detail.contains("Connection refused") {
                    write!(f, " (is Cablecast running? is the port in CABLECAST_API_URL right? does a firewall block this machine?)")?;
                }
                Ok(())
            }
            CablecastError::Timeout { what, secs } => write!(
                f,
                "{what}: no answer from Cablecast within {secs} s (the server took the connection but did not answer; ARCHIVIST_HTTP_TIMEOUT sets the wait)"
            ),
            CablecastError::Closed { what } => write!(
                f,
                "{what}: Cablecast closed the connection without answering"
            ),
            CablecastError::Unauthorized { what, user: Some(user) } => write!(
                f,
                "{what}: HTTP 401, Cablecast refused the credentials (check CABLECAST_USER_ID {user:?} and CABLECAST_PASSWORD)"
            ),
            CablecastError::Unauthorized { what, user: None } => write!(
                f,
                "{what}: HTTP 401, Cablecast wants credentials (set CABLECAST_USER_ID and CABLECAST_PASSWORD)"
            ),
            CablecastError::NotFound { what } => write!(f, "{what}: HTTP 404, not found"),
            CablecastError::Status { what, code } => write!(f, "{what}: HTTP {code}"),
            CablecastError::Redirected {
                what,
                code,
                location,
            } => write!(
                f,
                "{what}: Cablecast answered {code} to {location}: set CABLECAST_API_URL to it (redirects are not followed, so the credentials never leave the configured server)"
            ),
            CablecastError::Malformed { what, detail } => {
                write!(f, "{what}: malformed answer: {detail}")
            }
            CablecastError::PlainHttp { what } => write!(
                f,
                "{what}: CABLECAST_API_URL says https://, but the server answered plain HTTP; is the server HTTPS? (use http://, or the server's HTTPS port)"
            ),
            CablecastError::WrongApiRoot {
                what,
                api_url,
                suggestion,
            } => write!(
                f,
                "{what}: HTTP 404, no Cablecast API at {api_url}: the API root is likely wrong; CABLECAST_API_URL should look like {suggestion}"
            ),
            CablecastError::HtmlPage { what, title } => write!(
                f,
                "{what}: the server answered an HTML page{}, not the Cablecast API's JSON; CABLECAST_API_URL should be the API root, like https://cablecast.example.org/CablecastAPI/v1",
                title.as_deref().map(|t| format!(" ({t:?})")).unwrap_or_default()
            ),
            CablecastError::Stopped { what } => {
                write!(f, "{what}: not sent, the service is stopping")
            }
        }
    }
}

impl std::error::Error for CablecastError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_root_is_suggested_on_the_same_server() {
        assert_eq!(
            api_root_suggestion("https://cablecast.example.org:8443/Cablecast"),
            "https://cablecast.example.org:8443/CablecastAPI/v1"
        );
        assert_eq!(
            api_root_suggestion("http://10.0.0.5"),
            "http://10.0.0.5/CablecastAPI/v1"
        );
    }

    #[test]
    fn an_html_title_is_read_and_tamed() {
        assert_eq!(
            html_title("<!DOCTYPE html><html><head><TITLE>\n Cablecast  Login\r\n</TITLE>")
                .as_deref(),
            Some("Cablecast Login")
        );
        assert_eq!(html_title("<html><body>no title</body></html>"), None);
        assert_eq!(html_title("<title></title>"), None);
        assert_eq!(
            html_title(&format!("<title>{}</title>", "x".repeat(500))).map(|t| t.len()),
            Some(80)
        );
    }

    #[test]
    fn each_message_is_one_line() {
        let errors = [
            CablecastError::PlainHttp {
                what: "checking".into(),
            },
            CablecastError::WrongApiRoot {
                what: "checking".into(),
                api_url: "https://h".into(),
                suggestion: api_root_suggestion("https://h"),
            },
            CablecastError::HtmlPage {
                what: "checking".into(),
                title: html_title("<title>a\nb</title>"),
            },
        ];
        for e in errors {
            assert!(!e.to_string().contains('\n'), "{e}");
            assert!(!e.is_transient(), "{e}");
        }
    }
}
