//! Alert mail: one notification as a plain-text mail, handed to the mail
//! server through the one door for outbound requests
//! (`outbound::mail`: STARTTLS, implicit TLS, or no TLS when the URL asks;
//! certificates checked, or pinned by fingerprint).

use crate::outbound::mail::{
    self as smtp, header::ContentType, MailError, MailServer, Mailbox, Message,
};

use super::destination::MailSettings;
use super::format::Notification;

/// Sends one notification as mail. The error's sentence may hold secrets:
/// the caller scrubs it.
pub fn send(mail: &MailSettings, notification: &Notification) -> Result<(), MailError> {
    let from: Mailbox = mail
        .from
        .parse()
        .map_err(|e| MailError::Setup(format!("the from address is not valid: {e}")))?;
    let mut message = Message::builder()
        .from(from)
        .subject(format!(
            "{} ({})",
            notification.headline(),
            notification.station
        ))
        .header(ContentType::TEXT_PLAIN);
    for to in &mail.to {
        let to: Mailbox = to
            .parse()
            .map_err(|e| MailError::Setup(format!("a to address is not valid: {e}")))?;
        message = message.to(to);
    }
    let message = message
        .message_id(Some(message_id(&mail.from, &notification.alert_id)))
        .body(notification.text())
        .map_err(|e| MailError::Setup(format!("building the mail: {e}")))?;
    let server = MailServer {
        host: &mail.host,
        port: mail.port,
        security: mail.security,
        login: mail
            .user
            .as_deref()
            .map(|user| (user, mail.password.as_deref().unwrap_or_default())),
        extra_ca: mail.extra_ca.as_deref(),
        pin: mail.pin,
    };
    smtp::send(&server, &message)
}

/// `<ALERT_ID.NANOS@DOMAIN>`: unique per mail, with the sender's domain on
/// the right (RFC 5322 3.6.4), only dot-atom characters.
fn message_id(from: &str, alert_id: &str) -> String {
    let domain = from
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>').trim())
        .filter(|d| {
            !d.is_empty()
                && d.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        })
        .unwrap_or("archivist.invalid");
    let left: String = alert_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') {
                c
            } else {
                '.'
            }
        })
        .collect();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("<{}.{nanos}@{domain}>", left.trim_matches('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_id_is_a_valid_unique_dot_atom_at_the_senders_domain() {
        let id = message_id(
            "Archivist <archivist@station.org>",
            "transcription_failed-fnv1a128:4ae8-1796668535956",
        );
        assert!(
            id.starts_with("<transcription_failed-fnv1a128.4ae8-1796668535956."),
            "{id}"
        );
        assert!(id.ends_with("@station.org>"), "{id}");
        assert_ne!(
            id,
            message_id(
                "archivist@station.org",
                "transcription_failed-fnv1a128:4ae8-1796668535956"
            )
        );
        assert!(message_id("nobody", "test-1").ends_with("@archivist.invalid>"));
    }
}
