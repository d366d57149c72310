//! HTTPS to a Cablecast with a station's own certificate authority: trusted
//! through the operating system's store (here `SSL_CERT_FILE`, which the
//! platform verifier reads on Linux), refused when the CA is not trusted.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::support::{self, served_vods, stderr, stored_vods, Scratch};

/// Makes a CA and a server certificate for localhost/127.0.0.1 with the
/// openssl CLI. Returns (ca.pem, server chain, server key).
pub(crate) fn station_pki(
    dir: &Path,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Station Test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .expect("write ext");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

/// A TLS front on loopback that answers each request by asking the demo
/// station over plain HTTP. Stops when dropped.
struct TlsFront {
    port: u16,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl TlsFront {
    fn start(chain: &Path, key: &Path, upstream: String) -> TlsFront {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(chain)
            .expect("chain file")
            .collect::<Result<_, _>>()
            .expect("chain parses");
        let key = PrivateKeyDer::from_pem_file(key).expect("key parses");
        let config = Arc::new(
            rustls::ServerConfig::builder()
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .expect("server config"),
        );
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let accept = thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let config = Arc::clone(&config);
                let upstream = upstream.clone();
                thread::spawn(move || serve_one(stream, config, &upstream));
            }
        });
        TlsFront {
            port,
            stop,
            accept: Some(accept),
        }
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn serve_one(stream: TcpStream, config: Arc<rustls::ServerConfig>, upstream: &str) {
    let Ok(connection) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(connection, stream);
    let mut reader = BufReader::new(&mut tls);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return; // the handshake failed: the client did not trust us
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => return,
            Ok(_) if header == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let Ok(answer) = plain_get(&format!("{upstream}{path}")) else {
        return;
    };
    let (code, body) = answer;
    let head = format!("HTTP/1.1 {code} OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    let _ = tls.write_all(head.as_bytes());
    let _ = tls.write_all(&body);
    let _ = tls.flush();
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

/// A plain HTTP GET to the demo station, with a bare TcpStream.
fn plain_get(url: &str) -> std::io::Result<(u16, Vec<u8>)> {
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = TcpStream::connect(host)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut stream, &mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(std::io::ErrorKind::InvalidData)?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(502);
    Ok((code, raw[split + 4..].to_vec()))
}

#[test]
fn https_with_the_station_ca_works_and_without_it_is_refused() {
    let scratch = Scratch::new();
    let (ca, chain, key) = station_pki(scratch.dir.path());
    let station = support::station(30);
    let upstream = format!("http://{}", station.addr());
    let front = TlsFront::start(&chain, &key, upstream);
    let url = format!("https://localhost:{}/CablecastAPI/v1", front.port);

    let ca_path = ca.to_string_lossy().into_owned();
    let out = support::single_run(&scratch.db(), &url, &[("SSL_CERT_FILE", ca_path.as_str())]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stored_vods(&scratch.db()), served_vods(&station));

    // Without the station's CA the certificate is refused, with a clear line.
    let other = scratch.path("other-ca.pem");
    std::fs::copy(scratch.dir.path().join("server.pem"), &other).expect("copy");
    let other_path = other.to_string_lossy().into_owned();
    let out = support::single_run(
        &scratch.path("second.db"),
        &url,
        &[("SSL_CERT_FILE", other_path.as_str())],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    drop(front);
}
