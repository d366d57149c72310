//! SMTP conversations, the mail side of the one door: STARTTLS (required),
//! implicit TLS, or, only when a destination's URL asks for it, no TLS at
//! all (a relay on the station's LAN). Certificates are checked by the
//! platform verifier plus the one authority a `ca=` names; or a certificate
//! is pinned by fingerprint (`fingerprint=`).
//!
//! lettre takes no rustls verifier of ours, so a pinned certificate is
//! checked on the connection itself: the TLS handshake accepts any
//! certificate (lettre still checks that the server holds its key), and the
//! certificate is compared with the pin before a single command that
//! carries a secret or the mail (login, sender, recipients, message) is
//! sent; a mismatch ends the conversation there.
//!
//! The mail itself is built with lettre's message builder, reexported here
//! ([`Message`], [`Mailbox`], [`header`]) so that no other module names lettre.

use std::fmt;
use std::time::Duration;

pub use lettre::message::{header, Mailbox, Message, MessageBuilder};

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, SmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

use super::{Error, Fingerprint};

/// How long one SMTP conversation may wait for the server at each step.
pub const MAIL_TIMEOUT: Duration = Duration::from_secs(20);

/// How the conversation is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// STARTTLS, required: a server that does not offer it gets nothing.
    StartTls,
    /// TLS from the first byte (`smtps://`, port 465).
    ImplicitTls,
    /// No TLS: asked for by the URL (`tls=none`), for a LAN relay.
    None,
}

/// Where and how mail is handed over.
pub struct MailServer<'a> {
    pub host: &'a str,
    pub port: u16,
    pub security: Security,
    /// User and password, when the server wants a login.
    pub login: Option<(&'a str, &'a str)>,
    /// One more certificate authority to trust (a PEM file's path).
    pub extra_ca: Option<&'a str>,
    pub pin: Option<Fingerprint>,
}

/// Why a mail was not handed over.
#[derive(Debug)]
pub enum MailError {
    /// The mail server could not be reached or talked to (see [`Error`]).
    Transport(Error),
    /// The server refused with an SMTP reply code: 5xx for good, 4xx for now.
    Refused { code: u16, text: String },
    /// The server offers no STARTTLS, which `smtp://` requires.
    NoStartTls,
    /// The mail setup is wrong (a `ca=` file that cannot be read, an
    /// address lettre cannot use).
    Setup(String),
}

impl MailError {
    /// A refusal that trying again will not change: SMTP 5xx, or a mail
    /// that cannot be built. A server that cannot be reached or trusted now
    /// may be later.
    pub fn is_permanent(&self) -> bool {
        match self {
            MailError::Transport(_) => false,
            MailError::Refused { code, .. } => *code >= 500,
            MailError::NoStartTls => false,
            MailError::Setup(_) => true,
        }
    }
}

impl fmt::Display for MailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailError::Transport(e) => e.fmt(f),
            MailError::Refused { text, .. } => write!(f, "the mail server refused: {text}"),
            MailError::NoStartTls => f.write_str(
                "the mail server offers no STARTTLS: use smtps:// if it speaks TLS from the start, or tls=none for a relay on a trusted network",
            ),
            MailError::Setup(text) => f.write_str(text),
        }
    }
}

/// Hands `message` to `server`.
pub fn send(server: &MailServer<'_>, message: &Message) -> Result<(), MailError> {
    let hello = ClientId::default();
    let tls = match server.security {
        Security::None => None,
        _ => Some(tls_parameters(server)?),
    };
    let wrapper = tls
        .as_ref()
        .filter(|_| server.security == Security::ImplicitTls);
    let mut connection = SmtpConnection::connect(
        (server.host, server.port),
        Some(MAIL_TIMEOUT),
        &hello,
        wrapper,
        None,
    )
    .map_err(smtp_error)?;
    let outcome = converse(&mut connection, server, tls.as_ref(), &hello, message);
    match &outcome {
        Ok(()) => {
            // The mail is accepted; a server that hangs up first is fine.
            let _ = connection.quit();
        }
        Err(_) => connection.abort(),
    }
    outcome
}

fn converse(
    connection: &mut SmtpConnection,
    server: &MailServer<'_>,
    tls: Option<&TlsParameters>,
    hello: &ClientId,
    message: &Message,
) -> Result<(), MailError> {
    if let (Security::StartTls, Some(tls)) = (server.security, tls) {
        connection.starttls(tls, hello).map_err(smtp_error)?;
    }
    if let Some(pin) = &server.pin {
        let certificate = connection.peer_certificate().map_err(smtp_error)?;
        if !pin.matches(&certificate) {
            return Err(MailError::Transport(Error::Untrusted {
                reason: format!(
                    "it ({}) is not the one fingerprint= pins",
                    Fingerprint::of(&certificate)
                ),
            }));
        }
    }
    if let Some((user, password)) = server.login {
        connection
            .auth(
                &[Mechanism::Plain, Mechanism::Login],
                &Credentials::new(user.to_string(), password.to_string()),
            )
            .map_err(smtp_error)?;
    }
    connection
        .send(message.envelope(), &message.formatted())
        .map(|_| ())
        .map_err(smtp_error)
}

fn tls_parameters(server: &MailServer<'_>) -> Result<TlsParameters, MailError> {
    let mut tls = TlsParameters::builder(server.host.to_string());
    if let Some(path) = server.extra_ca {
        let pem = std::fs::read(path).map_err(|e| {
            MailError::Setup(format!("reading the certificate authority in ca=: {e}"))
        })?;
        let certificate = Certificate::from_pem(&pem).map_err(|e| {
            MailError::Setup(format!("the certificate authority in ca= is not PEM: {e}"))
        })?;
        tls = tls.add_root_certificate(certificate);
    }
    if server.pin.is_some() {
        // Checked against the pin before anything is sent (see above).
        tls = tls
            .dangerous_accept_invalid_certs(true)
            .dangerous_accept_invalid_hostnames(true);
    }
    tls.build()
        .map_err(|e| MailError::Setup(format!("setting up TLS: {e}")))
}

/// lettre's error as a refusal (a reply code) or a transport problem.
fn smtp_error(e: lettre::transport::smtp::Error) -> MailError {
    if let Some(code) = e.status() {
        let code = code.to_string().parse().unwrap_or(500);
        return MailError::Refused {
            code,
            text: e.to_string(),
        };
    }
    let timeout = MAIL_TIMEOUT.as_secs();
    if e.to_string().contains("STARTTLS is not supported") {
        return MailError::NoStartTls;
    }
    if e.is_timeout() {
        return MailError::Transport(Error::Timeout { secs: timeout });
    }
    MailError::Transport(Error::from_text(&e.to_string(), timeout))
}
