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
    /// Not sent: the service is stopping (SIGTERM or SIGINT).
    Stopped { what: String },
}

impl CablecastError {
    /// Worth trying the same request again after a pause: timeouts and 5xx.
    pub fn is_transient(&self) -> bool {
        match self {
            CablecastError::Timeout { .. } => true,
            CablecastError::Status { code, .. } => *code >= 500,
            _ => false,
        }
    }

    /// A short name of the kind of failure, for logs and metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            CablecastError::Unreachable { .. } => "unreachable",
            CablecastError::Timeout { .. } => "timeout",
            CablecastError::Unauthorized { .. } => "unauthorized",
            CablecastError::NotFound { .. } => "not_found",
            CablecastError::Status { .. } => "http_status",
            CablecastError::Redirected { .. } => "redirected",
            CablecastError::Malformed { .. } => "malformed",
            CablecastError::Stopped { .. } => "stopped",
        }
    }
}

impl fmt::Display for CablecastError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CablecastError::Unreachable { what, detail } => {
                write!(f, "{what}: Cablecast unreachable: {detail}")
            }
            CablecastError::Timeout { what, secs } => {
                write!(f, "{what}: no answer from Cablecast within {secs} s")
            }
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
            CablecastError::Stopped { what } => {
                write!(f, "{what}: not sent, the service is stopping")
            }
        }
    }
}

impl std::error::Error for CablecastError {}
