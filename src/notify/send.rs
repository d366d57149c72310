//! Sending one message to one destination, once, through the one door for
//! outbound requests (`outbound`), and why it failed when it did
//! ([`DeliveryError`]): a refusal trying again will not change (a webhook
//! that is gone, a login the server rejects) is told from one that may pass
//! later (a timeout, a server error, "slow down" with its Retry-After).

use std::fmt;
use std::time::Duration;

use super::destination::{Destination, MailSettings};
use super::format::{self, Addressing, Notification};
use super::mail;
use crate::outbound::{self, Request};

/// How long one webhook request may take.
pub const HTTP_TIMEOUT_SECS: u64 = 10;

/// The client errors that may pass if asked again later: the request took
/// too long (408), or too many requests (429). Every other 4xx (a bad
/// request, no or wrong credentials, no such webhook, gone, too large) says
/// "this will not work, however often you ask".
const TRANSIENT_CLIENT_ERRORS: &[u16] = &[408, 429];

/// Why a message was not delivered. The texts are free of the
/// destination's secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryError {
    /// The destination answered with an HTTP status that is not a success
    /// (and not a redirect), with its Retry-After when it gave one.
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// The destination answered with a redirect, which is never followed
    /// (its URL is a secret that goes to its own host only).
    Redirected { status: u16 },
    /// No answer: no connection, a timeout, a certificate not trusted, a
    /// port that does not speak TLS (the sentence says which).
    Unreachable { reason: String },
    /// The mail server refused (SMTP `code`: 5xx for good, 4xx for now), or
    /// the mail could not be built.
    Mail { reason: String, permanent: bool },
}

impl DeliveryError {
    /// Whether sending the same message again cannot succeed: HTTP 4xx but
    /// 408 and 429 (400, 401, 403, 404, 410, 413...), a redirect, SMTP 5xx.
    /// Timeouts, 408, 429, 5xx and connection problems may pass.
    pub fn is_permanent(&self) -> bool {
        match self {
            DeliveryError::Status { status, .. } => {
                (400..500).contains(status) && !TRANSIENT_CLIENT_ERRORS.contains(status)
            }
            DeliveryError::Redirected { .. } => true,
            DeliveryError::Unreachable { .. } => false,
            DeliveryError::Mail { permanent, .. } => *permanent,
        }
    }

    /// How long the destination asked to be left alone (HTTP Retry-After).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            DeliveryError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliveryError::Status {
                status,
                retry_after: Some(wait),
            } => write!(f, "HTTP {status} (retry after {} s)", wait.as_secs()),
            DeliveryError::Status { status, .. } if self.is_permanent() => {
                write!(f, "HTTP {status}: refused")
            }
            DeliveryError::Status { status, .. } => write!(f, "HTTP {status}"),
            DeliveryError::Redirected { status } => write!(
                f,
                "HTTP {status}: a redirect, which is not followed; give the final URL"
            ),
            DeliveryError::Unreachable { reason } | DeliveryError::Mail { reason, .. } => {
                f.write_str(reason)
            }
        }
    }
}

impl std::error::Error for DeliveryError {}

/// Sends one notification to one destination, once (a destination with
/// several ntfy topics or Slack channels gets one message each).
pub fn deliver(
    destination: &Destination,
    notification: &Notification,
) -> Result<(), DeliveryError> {
    if let Some(mail) = &destination.mail {
        return send_mail(destination, mail, notification);
    }
    if destination.targets.is_empty() {
        return post(destination, notification, None);
    }
    for target in &destination.targets {
        post(destination, notification, Some(target))?;
    }
    Ok(())
}

/// Sends `notification` to every destination at once (a slow one does not
/// hold up the others) and returns each outcome, in order.
pub fn deliver_to_all(
    destinations: &[Destination],
    notification: &Notification,
) -> Vec<Result<(), DeliveryError>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = destinations
            .iter()
            .map(|d| scope.spawn(move || deliver(d, notification)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(DeliveryError::Unreachable {
                        reason: "the sender failed unexpectedly".into(),
                    })
                })
            })
            .collect()
    })
}

fn send_mail(
    destination: &Destination,
    mail: &MailSettings,
    notification: &Notification,
) -> Result<(), DeliveryError> {
    mail::send(mail, notification).map_err(|e| DeliveryError::Mail {
        reason: destination.scrub(&e.to_string()),
        permanent: e.is_permanent(),
    })
}

fn post(
    destination: &Destination,
    notification: &Notification,
    target: Option<&str>,
) -> Result<(), DeliveryError> {
    let addressing = Addressing {
        target,
        sender_name: destination.sender_name.as_deref(),
    };
    let (content_type, body) = format::render(notification, destination.format, addressing);
    let mut request = Request::post(&destination.post_url)
        .with_header("Content-Type", content_type)
        .with_body(body)
        .with_timeout(HTTP_TIMEOUT_SECS)
        .with_pinned_certificate(destination.pin);
    for (name, value) in &destination.headers {
        request = request.with_header(name.as_str(), value.as_str());
    }
    let response = request.send().map_err(|e| unreachable(destination, &e))?;
    answer(response.status_code, response.header("retry-after"))
}

/// A request's outcome from its status and Retry-After.
fn answer(status: u16, retry_after: Option<&str>) -> Result<(), DeliveryError> {
    match status {
        200..=299 => Ok(()),
        300..=399 => Err(DeliveryError::Redirected { status }),
        _ => Err(DeliveryError::Status {
            status,
            retry_after: retry_after.and_then(parse_retry_after),
        }),
    }
}

/// A transport error as a delivery error, scrubbed of secrets.
pub(super) fn unreachable(destination: &Destination, e: &outbound::Error) -> DeliveryError {
    DeliveryError::Unreachable {
        reason: destination.scrub(&e.to_string()),
    }
}

/// Retry-After as seconds (`120`) or an HTTP date, as a wait from now.
fn parse_retry_after(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc2822).ok()?;
    let wait = at - time::OffsetDateTime::now_utc();
    Some(Duration::from_secs(wait.whole_seconds().max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_told_from_failures_that_may_pass() {
        for status in [400, 401, 403, 404, 405, 410, 413, 422] {
            let e = answer(status, None).expect_err("refused");
            assert!(e.is_permanent(), "{status}");
            assert_eq!(e.to_string(), format!("HTTP {status}: refused"));
        }
        for status in [408, 429, 500, 502, 503] {
            let e = answer(status, None).expect_err("failed");
            assert!(!e.is_permanent(), "{status}");
        }
        let e = answer(429, Some("120")).expect_err("slow down");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(120)));
        assert_eq!(e.to_string(), "HTTP 429 (retry after 120 s)");
        let e = answer(503, Some("Wed, 21 Oct 2015 07:28:00 GMT")).expect_err("past");
        assert_eq!(e.retry_after(), Some(Duration::ZERO));
        assert!(answer(301, None).expect_err("redirect").is_permanent());
        assert!(answer(204, None).is_ok());
    }
}
