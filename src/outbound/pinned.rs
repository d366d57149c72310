//! A request to an https URL whose certificate is pinned by fingerprint:
//! HTTP/1.1 over rustls, one request per connection (`Connection: close`),
//! with a verifier that accepts exactly the pinned certificate (the host
//! name is not checked: the pin names one certificate, not a name) and still
//! checks that the server holds its key. minreq takes no rustls
//! configuration of ours, hence this path. Only the status and the headers
//! are read: the senders that pin need no more, and the body is left unread.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};

use super::{Error, Fingerprint, Request, Response};

/// The longest answer head read (status line and headers).
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Accepts the one certificate `pin` names.
#[derive(Debug)]
pub(crate) struct PinnedCertificate {
    pin: Fingerprint,
    provider: Arc<CryptoProvider>,
}

impl PinnedCertificate {
    pub(crate) fn new(pin: Fingerprint) -> PinnedCertificate {
        PinnedCertificate {
            pin,
            provider: Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        }
    }
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.pin.matches(end_entity.as_ref()) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the certificate ({}) does not match fingerprint=",
                Fingerprint::of(end_entity.as_ref())
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The parts of an https URL a request needs.
struct Target {
    host: String,
    port: u16,
    /// Path and query, from the first `/`.
    path: String,
}

fn target(url: &str) -> Result<Target, Error> {
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| Error::Connection {
            reason: "fingerprint= pins a certificate, which needs https".into(),
        })?;
    let (authority, path) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, p.parse().unwrap_or(443)),
        _ => (authority, 443),
    };
    let path = match path {
        "" => "/".to_string(),
        p if p.starts_with('?') => format!("/{p}"),
        p => p.to_string(),
    };
    Ok(Target {
        host: host.trim_matches(['[', ']']).to_string(),
        port,
        path,
    })
}

pub(super) fn send(request: &Request, pin: &Fingerprint) -> Result<Response, Error> {
    let timeout = request.timeout_secs;
    let wait = Duration::from_secs(timeout.max(1));
    let target = target(&request.url)?;
    let tcp = connect(&target, wait, timeout)?;
    let config = ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| Error::from_text(&e.to_string(), timeout))?
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(PinnedCertificate::new(*pin)))
    .with_no_client_auth();
    let name = ServerName::try_from(target.host.clone()).map_err(|e| Error::Connection {
        reason: e.to_string(),
    })?;
    let connection = ClientConnection::new(Arc::new(config), name)
        .map_err(|e| Error::from_text(&e.to_string(), timeout))?;
    let mut tls = StreamOwned::new(connection, tcp);
    tls.write_all(&head(request, &target))
        .and_then(|()| tls.write_all(&request.body))
        .and_then(|()| tls.flush())
        .map_err(|e| Error::from_io(&e, timeout))?;
    read_head(BufReader::new(tls), timeout)
}

fn connect(target: &Target, wait: Duration, timeout: u64) -> Result<TcpStream, Error> {
    let addresses = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| Error::from_io(&e, timeout))?;
    let mut last = None;
    for address in addresses {
        match TcpStream::connect_timeout(&address, wait) {
            Ok(tcp) => {
                tcp.set_read_timeout(Some(wait))
                    .and_then(|()| tcp.set_write_timeout(Some(wait)))
                    .map_err(|e| Error::from_io(&e, timeout))?;
                return Ok(tcp);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => Error::from_io(&e, timeout),
        None => Error::Connection {
            reason: format!("{} has no address", target.host),
        },
    })
}

fn head(request: &Request, target: &Target) -> Vec<u8> {
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {}:{}\r\nConnection: close\r\nContent-Length: {}\r\n",
        request.method.as_str(),
        target.path,
        target.host,
        target.port,
        request.body.len()
    );
    for (name, value) in &request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

fn read_head(
    mut stream: BufReader<StreamOwned<ClientConnection, TcpStream>>,
    timeout: u64,
) -> Result<Response, Error> {
    let mut line = String::new();
    let mut read = 0;
    let mut next_line = |line: &mut String| -> Result<(), Error> {
        line.clear();
        let n = stream
            .read_line(line)
            .map_err(|e| Error::from_io(&e, timeout))?;
        read += n;
        if n == 0 || read > MAX_HEAD_BYTES {
            return Err(Error::Malformed {
                reason: "the answer's head ended early or is too long".into(),
            });
        }
        Ok(())
    };
    next_line(&mut line)?;
    let status_code = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| Error::Malformed {
            reason: "no status line".into(),
        })?;
    let mut headers = Vec::new();
    loop {
        next_line(&mut line)?;
        let text = line.trim_end();
        if text.is_empty() {
            break;
        }
        if let Some((name, value)) = text.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    Ok(Response {
        status_code,
        headers,
        body: Box::new(std::io::empty()),
    })
}
