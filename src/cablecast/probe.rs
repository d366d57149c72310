//! Tells, in one round trip, whether an `https://` API URL points at a server
//! that speaks plain HTTP: a TLS handshake with such a server waits for an
//! answer that never comes until the request timeout (and again on every
//! retry), which says nothing about the real mistake.
//!
//! The probe sends one complete, invalid TLS handshake record followed by a
//! blank line. A TLS server answers it at once with an alert (or closes); a
//! plain HTTP server reads it as a bad request line and answers
//! `HTTP/1.1 400`. Only the second counts; anything else (no connection, no
//! answer in time) leaves the verdict to the real request.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Longest wait for the probe's connection and answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// A TLS record (handshake, TLS 1.0 header, 4 bytes) holding a handshake
/// message of an unassigned type and no body, then `CRLF CRLF`.
const PROBE: &[u8] = b"\x16\x03\x01\x00\x04\x63\x00\x00\x00\r\n\r\n";

/// Whether the server of `api_url` (an `https://` URL) answers plain HTTP.
pub(super) fn answers_plain_http(api_url: &str, timeout_secs: u64) -> bool {
    let Some(rest) = api_url.strip_prefix("https://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let has_port = match authority.rfind(']') {
        Some(end) => authority[end..].contains(':'),
        None => authority.contains(':'),
    };
    let target = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:443")
    };
    let wait = PROBE_TIMEOUT.min(Duration::from_secs(timeout_secs.max(1)));
    let Some(addr) = target.to_socket_addrs().ok().and_then(|mut a| a.next()) else {
        return false;
    };
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, wait) else {
        return false;
    };
    if stream.set_read_timeout(Some(wait)).is_err() || stream.write_all(PROBE).is_err() {
        return false;
    }
    let mut start = [0u8; 5];
    let mut read = 0;
    while read < start.len() {
        match stream.read(&mut start[read..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => read += n,
        }
    }
    &start[..read] == b"HTTP/"
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A one-connection server on loopback that answers the probe with
    /// `answer`; returns its port.
    fn server(answer: &'static [u8]) -> (u16, std::thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("address").port();
        let handle = std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let mut request = [0u8; PROBE.len()];
                let _ = stream.read_exact(&mut request);
                let _ = stream.write_all(answer);
            }
        });
        (port, handle)
    }

    #[test]
    fn a_plain_http_answer_is_recognised() {
        let (port, handle) = server(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        let url = format!("https://127.0.0.1:{port}/CablecastAPI/v1");
        assert!(answers_plain_http(&url, 2));
        handle.join().expect("server ends");
    }

    #[test]
    fn a_tls_alert_is_not_plain_http() {
        let (port, handle) = server(b"\x15\x03\x03\x00\x02\x02\x0a");
        let url = format!("https://127.0.0.1:{port}/CablecastAPI/v1");
        assert!(!answers_plain_http(&url, 2));
        handle.join().expect("server ends");
        assert!(!answers_plain_http("http://127.0.0.1:9/CablecastAPI/v1", 1));
    }
}
