//! Alert mail over SMTP with lettre: STARTTLS (required, never plain) or
//! implicit TLS, with login when the URL has a user. Certificates are checked
//! by the platform verifier, plus the one authority a `ca=` option names.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};

use super::destination::MailSettings;
use super::format::Notification;
use super::{DeliveryError, Retry};

/// How long one SMTP conversation may take.
const MAIL_TIMEOUT: Duration = Duration::from_secs(20);

/// Sends one notification as mail. The error is lettre's sentence, which
/// the caller scrubs of secrets; an SMTP 5xx answer (a refused login, a
/// refused message) is refused for good, and so is a mail that cannot be
/// built.
pub fn send(mail: &MailSettings, notification: &Notification) -> Result<(), DeliveryError> {
    let message = build(mail, notification).map_err(|reason| DeliveryError {
        reason,
        retry: Retry::Never,
    })?;
    let transport = transport(mail).map_err(|reason| DeliveryError {
        reason,
        retry: Retry::Never,
    })?;
    transport
        .send(&message)
        .map(|_| ())
        .map_err(|e| DeliveryError {
            reason: e.to_string(),
            retry: if e.is_permanent() {
                Retry::Never
            } else {
                Retry::Later { after: None }
            },
        })
}

/// The mail: From, To, Subject, a `Message-ID` (mail services such as
/// Gmail refuse mail without one) and a `Date` (lettre adds it).
fn build(mail: &MailSettings, notification: &Notification) -> Result<Message, String> {
    let from: Mailbox = mail
        .from
        .parse()
        .map_err(|e| format!("the from address is not valid: {e}"))?;
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
            .map_err(|e| format!("a to address is not valid: {e}"))?;
        message = message.to(to);
    }
    message
        .message_id(Some(message_id(&mail.from, &notification.alert_id)))
        .body(notification.text())
        .map_err(|e| format!("building the mail: {e}"))
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

/// The SMTP connection the URL describes.
fn transport(mail: &MailSettings) -> Result<SmtpTransport, String> {
    let mut tls = TlsParameters::builder(mail.host.clone());
    if let Some(path) = &mail.extra_ca {
        let pem = std::fs::read(path)
            .map_err(|e| format!("reading the certificate authority in ca=: {e}"))?;
        let certificate = Certificate::from_pem(&pem)
            .map_err(|e| format!("the certificate authority in ca= is not PEM: {e}"))?;
        tls = tls.add_root_certificate(certificate);
    }
    let tls = tls.build().map_err(|e| format!("setting up TLS: {e}"))?;
    let mut transport = SmtpTransport::builder_dangerous(mail.host.as_str())
        .port(mail.port)
        .timeout(Some(MAIL_TIMEOUT))
        .tls(if mail.implicit_tls {
            Tls::Wrapper(tls)
        } else {
            Tls::Required(tls)
        });
    if let Some(user) = &mail.user {
        transport = transport.credentials(Credentials::new(
            user.clone(),
            mail.password.clone().unwrap_or_default(),
        ));
    }
    Ok(transport.build())
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
