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
