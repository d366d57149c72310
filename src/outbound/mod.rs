//! The one door for outbound requests. Every HTTP request Archivist makes
//! (the Cablecast client, notification webhooks, the heartbeat) is built by
//! [`Request`], and every SMTP conversation is opened by [`mail`]. The door
//! gives each what it must have: a timeout, no redirect followed (secret URLs
//! and credentials go to their own origin only), Archivist's User-Agent, the
//! platform's certificate verifier (the system's trusted roots), and, where a
//! station asks for it, a certificate pinned by its SHA-256 fingerprint.
//!
//! minreq 3 builds its rustls configuration once, privately, and takes no
//! other: a request with a pinned certificate therefore takes a small path
//! of its own (`pinned`), HTTP/1.1 over rustls with a verifier that accepts
//! exactly the pinned certificate. Every other request goes through minreq.
//!
//! Errors say what to check ([`Error`]'s sentences): an untrusted
//! certificate, a port that does not speak TLS, no answer in time.

pub mod fingerprint;
pub mod mail;
mod pinned;

use std::fmt;
use std::io::Read;

pub use fingerprint::Fingerprint;

/// Sent with every request, so a station's proxy logs say who asked.
pub const USER_AGENT: &str = concat!("archivist/", env!("CARGO_PKG_VERSION"));

/// The reason minreq gives its stand-in `503` when no status line came at
/// all: the connection was closed without an answer, not a real 503.
const MINREQ_NO_STATUS_LINE: &str = "Server did not provide a status line";

/// How long a request may take unless its caller says otherwise.
pub const DEFAULT_TIMEOUT_SECS: u64 = 10;

/// GET or POST: all Archivist sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Post,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// One outbound HTTP request. Redirects are never followed.
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout_secs: u64,
    max_headers_size: Option<usize>,
    max_status_line_length: Option<usize>,
    pin: Option<Fingerprint>,
}

impl Request {
    fn new(method: Method, url: &str) -> Request {
        Request {
            method,
            url: url.to_string(),
            headers: vec![("User-Agent".into(), USER_AGENT.into())],
            body: Vec::new(),
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            max_headers_size: None,
            max_status_line_length: None,
            pin: None,
        }
    }

    pub fn get(url: &str) -> Request {
        Request::new(Method::Get, url)
    }

    pub fn post(url: &str) -> Request {
        Request::new(Method::Post, url)
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// The request's time limit: for the whole request through minreq; on
    /// the pinned path, for each connect, read and write.
    pub fn with_timeout(mut self, secs: u64) -> Request {
        self.timeout_secs = secs;
        self
    }

    pub fn with_max_headers_size(mut self, bytes: usize) -> Request {
        self.max_headers_size = Some(bytes);
        self
    }

    pub fn with_max_status_line_length(mut self, bytes: usize) -> Request {
        self.max_status_line_length = Some(bytes);
        self
    }

    /// Trusts exactly the certificate with this fingerprint (https only),
    /// in place of the platform's verifier.
    pub fn with_pinned_certificate(mut self, pin: Option<Fingerprint>) -> Request {
        self.pin = pin;
        self
    }

    /// Sends the request; the answer's body is read as the caller reads it.
    pub fn send(self) -> Result<Response, Error> {
        if let Some(pin) = &self.pin {
            return pinned::send(&self, pin);
        }
        let timeout = self.timeout_secs;
        let mut request = match self.method {
            Method::Get => minreq::get(self.url.as_str()),
            Method::Post => minreq::post(self.url.as_str()),
        }
        .with_headers(self.headers)
        .with_timeout(timeout)
        // Never: minreq would send every header, an Authorization one
        // included, to wherever a 3xx points, even another host or plain
        // HTTP.
        .with_follow_redirects(false);
        if !self.body.is_empty() || self.method == Method::Post {
            request = request.with_body(self.body);
        }
        if let Some(bytes) = self.max_headers_size {
            request = request.with_max_headers_size(bytes);
        }
        if let Some(bytes) = self.max_status_line_length {
            request = request.with_max_status_line_length(bytes);
        }
        let response = request
            .send_lazy()
            .map_err(|e| Error::from_minreq(e, timeout))?;
        if response.status_code == 503 && response.reason_phrase == MINREQ_NO_STATUS_LINE {
            return Err(Error::Closed);
        }
        Ok(Response {
            status_code: response.status_code,
            headers: response.headers.clone(),
            body: Box::new(Body {
                inner: response,
                timeout,
            }),
        })
    }
}

/// An answer: its status and headers at once, its body as it is read.
pub struct Response {
    pub status_code: u16,
    pub headers: Vec<(String, String)>,
    body: Box<dyn Read + Send>,
}

impl Response {
    /// A header's value, whatever the case of its name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Read for Response {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.body.read(buf)
    }
}

/// minreq's lazy body, its errors turned into ours.
struct Body {
    inner: minreq::ResponseLazy,
    timeout: u64,
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            if is_timeout(&e) {
                std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    Error::Timeout { secs: self.timeout },
                )
            } else {
                e
            }
        })
    }
}

/// Why a request got no answer. Each says what to check.
#[derive(Debug)]
pub enum Error {
    /// Nothing (or not all) came back within the time limit.
    Timeout { secs: u64 },
    /// The server's certificate is not one this box trusts (nor the pinned one).
    Untrusted { reason: String },
    /// The server answered, but not in TLS: a plain port given as TLS.
    NotTls,
    /// No connection (refused, unreachable, a name that does not resolve),
    /// or it broke.
    Connection { reason: String },
    /// The answer was not HTTP as expected (too long a header, a bad status line).
    Malformed { reason: String },
    /// The server closed the connection without answering at all.
    Closed,
}

impl Error {
    fn from_minreq(e: minreq::Error, timeout: u64) -> Error {
        match e {
            minreq::Error::IoError(io) => Error::from_io(&io, timeout),
            minreq::Error::RustlsCreateConnection(tls) => {
                Error::from_text(&tls.to_string(), timeout)
            }
            other => Error::from_text(&other.to_string(), timeout),
        }
    }

    /// An IO error while talking to a server (reading an answer's body).
    pub fn from_io(io: &std::io::Error, timeout: u64) -> Error {
        if is_timeout(io) {
            return Error::Timeout { secs: timeout };
        }
        Error::from_text(&io.to_string(), timeout)
    }

    /// Reads a transport's error text (rustls's, lettre's, the system's).
    pub(crate) fn from_text(text: &str, timeout: u64) -> Error {
        const UNTRUSTED: &[&str] = &[
            "BadSignature",
            "CaUsedAsEndEntity",
            "UnknownIssuer",
            "NotValidForName",
            "Expired",
            "NotValidYet",
            "invalid peer certificate",
            "does not match fingerprint=",
            "UnsupportedCertVersion",
        ];
        const NOT_TLS: &[&str] = &[
            "InvalidContentType",
            "corrupt message",
            "wrong version number",
            "InvalidMessage",
        ];
        // `(os error 11)` whole: `os error 111` is a refused connection.
        const TIMED_OUT: &[&str] = &[
            "(os error 11)",
            "(os error 110)",
            "timed out",
            "Resource temporarily unavailable",
        ];
        if UNTRUSTED.iter().any(|n| text.contains(n)) {
            Error::Untrusted {
                reason: certificate_reason(text),
            }
        } else if NOT_TLS.iter().any(|n| text.contains(n)) {
            Error::NotTls
        } else if TIMED_OUT.iter().any(|n| text.contains(n)) {
            Error::Timeout { secs: timeout }
        } else if text.contains("status line") || text.contains("header") {
            Error::Malformed {
                reason: text.to_string(),
            }
        } else {
            Error::Connection {
                reason: text.to_string(),
            }
        }
    }
}

/// What is wrong with a certificate, and what to do, from the TLS error.
fn certificate_reason(text: &str) -> String {
    const FIX: &str = "pin it with fingerprint= (its SHA-256)";
    let reasons = [
        ("CaUsedAsEndEntity", format!("it is a self-signed certificate marked as an authority (as openssl req -x509 makes them), which ca= cannot vouch for; {FIX}")),
        ("UnknownIssuer", format!("no authority this box trusts signed it; trust its authority (ca= for mail, the system's store for https) or {FIX}")),
        ("BadSignature", format!("its signature does not match the authority named to trust; check ca= or {FIX}")),
        ("NotValidForName", format!("it is for another host name; use the name it was made for or {FIX}")),
        ("Expired", "it has expired; renew it on the server".to_string()),
        ("NotValidYet", "it is not valid yet; check the clocks".to_string()),
        ("does not match fingerprint=", "it is not the one fingerprint= pins".to_string()),
    ];
    reasons
        .into_iter()
        .find(|(needle, _)| text.contains(needle))
        .map(|(_, reason)| reason)
        .unwrap_or_else(|| text.to_string())
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    )
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Timeout { secs } => write!(f, "no answer within {secs} s"),
            Error::Untrusted { reason } => {
                write!(f, "the server's certificate is not trusted: {reason}")
            }
            Error::NotTls => write!(
                f,
                "the server did not answer in TLS: is this port plain SMTP/HTTP, not TLS?"
            ),
            Error::Connection { reason } => f.write_str(reason),
            Error::Malformed { reason } => write!(f, "the answer is not readable HTTP: {reason}"),
            Error::Closed => f.write_str("the server closed the connection without an answer"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_texts_become_sentences_that_say_what_to_check() {
        let e = Error::from_text(
            "invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))",
            20,
        );
        assert!(
            e.to_string()
                .starts_with("the server's certificate is not trusted: it is a self-signed"),
            "{e}"
        );
        let e = Error::from_text("invalid peer certificate: BadSignature", 20);
        assert!(
            e.to_string()
                .starts_with("the server's certificate is not trusted"),
            "{e}"
        );
        let e = Error::from_text("received corrupt message of type InvalidContentType", 20);
        assert_eq!(
            e.to_string(),
            "the server did not answer in TLS: is this port plain SMTP/HTTP, not TLS?"
        );
        let e = Error::from_text(
            "network error: Resource temporarily unavailable (os error 11)",
            20,
        );
        assert_eq!(e.to_string(), "no answer within 20 s");
        let e = Error::from_text("Connection refused (os error 111)", 20);
        assert_eq!(e.to_string(), "Connection refused (os error 111)");
    }
}
