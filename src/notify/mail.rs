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

/// How long one SMTP conversation may take.
const MAIL_TIMEOUT: Duration = Duration::from_secs(20);

/// Sends one notification as mail. The error is lettre's sentence, which
/// the caller scrubs of secrets.
pub fn send(mail: &MailSettings, notification: &Notification) -> Result<(), String> {
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
    let message = message
        .body(notification.text())
        .map_err(|e| format!("building the mail: {e}"))?;
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
    transport
        .build()
        .send(&message)
        .map(|_| ())
        .map_err(|e| e.to_string())
}
