//! A bare HTTP/1.1 client over a TCP socket, so tests can send exactly the
//! bytes they mean to (garbage included) and see exactly what comes back.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Sends `raw` on a fresh connection and reads until the server closes it,
/// or stays quiet for a moment after answering, or 5 s pass. Returns every
/// status code seen (pipelined requests get several) and all the text.
pub fn exchange(addr: SocketAddr, raw: &[u8]) -> (Vec<u16>, String) {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    // The server may answer and close before all of a large request is
    // sent; that is a fine answer.
    let _ = stream.write_all(raw);
    let mut answer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    while let Ok(n) = stream.read(&mut chunk) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&chunk[..n]);
        let _ = stream.set_read_timeout(Some(Duration::from_millis(300)));
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let codes = text
        .match_indices("HTTP/1.1 ")
        .filter_map(|(at, _)| text.get(at + 9..at + 12)?.parse().ok())
        .collect();
    (codes, text)
}

/// A plain GET as a browser sends it; returns (status, whole answer), status
/// 0 when the connection closed without one.
pub fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let (codes, text) = exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: archivist\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    (codes.first().copied().unwrap_or(0), text)
}
