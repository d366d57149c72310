//! Notification URLs as stations write them, end to end: an https webhook
//! with a self-signed certificate trusted by its fingerprint alone (a real
//! TLS receiver on loopback), routing by kind (`kinds=`) in a running
//! monitor, and URLs that cannot be read refused at start.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use archivist::demo::Fault;
use archivist::notify::Destination;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::alerts_mail::self_signed;
use crate::support::child::Running;
use crate::support::receiver::Receiver;
use crate::support::{archivist, number, station, stderr, stdout, Scratch};

/// An https webhook receiver on loopback with the given certificate:
/// answers 200 to each POST and keeps its body. Stops on drop.
struct HttpsReceiver {
    port: u16,
    bodies: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl HttpsReceiver {
    fn start(cert: &Path, key: &Path) -> HttpsReceiver {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .expect("certificate file")
            .collect::<Result<_, _>>()
            .expect("certificate parses");
        let key = PrivateKeyDer::from_pem_file(key).expect("key parses");
        let config = Arc::new(
            rustls::ServerConfig::builder()
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .expect("server config"),
        );
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (bodies, stop) = (Arc::clone(&bodies), Arc::clone(&stop));
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let (config, bodies) = (Arc::clone(&config), Arc::clone(&bodies));
                    thread::spawn(move || serve_one(stream, config, &bodies));
                }
            })
        };
        HttpsReceiver {
            port,
            bodies,
            stop,
            accept: Some(accept),
        }
    }

    fn bodies(&self) -> Vec<String> {
        self.bodies.lock().expect("bodies").clone()
    }
}

impl Drop for HttpsReceiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// One request over TLS: its head, a Content-Length body, a 200.
fn serve_one(stream: TcpStream, config: Arc<rustls::ServerConfig>, bodies: &Mutex<Vec<String>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(connection) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = BufReader::new(rustls::StreamOwned::new(connection, stream));
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if tls.read_line(&mut line).unwrap_or(0) == 0 {
            return; // the client gave up (a certificate it did not trust)
        }
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; length];
    if tls.read_exact(&mut body).is_err() {
        return;
    }
    bodies
        .lock()
        .expect("bodies")
        .push(String::from_utf8_lossy(&body).into_owned());
    let tls = tls.get_mut();
    let _ = tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    let _ = tls.flush();
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

fn alerts_test(urls: &str) -> std::process::Output {
    archivist()
        .args(["alerts", "test"])
        .env("ARCHIVIST_NOTIFY_URLS", urls)
        .output()
        .expect("runs")
}

#[test]
fn a_self_signed_https_webhook_is_trusted_by_its_fingerprint_alone() {
    let scratch = Scratch::new();
    let (cert, key, fingerprint) = self_signed(scratch.dir.path());
    let receiver = HttpsReceiver::start(&cert, &key);
    let port = receiver.port;

    // Without a pin the platform's verifier refuses it, and says what to do.
    let out = alerts_test(&format!("jsons://127.0.0.1:{port}/hook/s3cret-hook"));
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.starts_with(
            "FAILED     webhook (127.0.0.1): the server's certificate is not trusted: "
        ) && text.contains("fingerprint="),
        "{text}"
    );
    // Another certificate's fingerprint: refused, nothing sent.
    let out = alerts_test(&format!(
        "https://127.0.0.1:{port}/hook/s3cret-hook?fingerprint={}",
        "ab".repeat(32)
    ));
    assert_eq!(
        stdout(&out).trim(),
        "FAILED     webhook (127.0.0.1): the server's certificate is not trusted: it is not the one fingerprint= pins"
    );
    assert!(receiver.bodies().is_empty());

    // Its own fingerprint: the generic JSON and an ntfy publish arrive.
    let out = alerts_test(&format!(
        "jsons://127.0.0.1:{port}/hook/s3cret-hook?fingerprint={fingerprint} ntfys://127.0.0.1:{port}/station-alerts?fingerprint={fingerprint}"
    ));
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        vec![
            "delivered  webhook (127.0.0.1)",
            "delivered  ntfy (127.0.0.1)"
        ]
    );
    let bodies: Vec<serde_json::Value> = receiver
        .bodies()
        .iter()
        .map(|b| serde_json::from_str(b).expect("JSON"))
        .collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert!(bodies
        .iter()
        .any(|b| b["version"] == 1 && b["kind"] == "test"));
    assert!(bodies
        .iter()
        .any(|b| b["topic"] == "station-alerts"
            && b["title"] == "[TEST] Test message from Archivist"));
    assert!(!text.contains("s3cret") && !stderr(&out).contains("s3cret"));
}

#[test]
fn each_destination_gets_only_the_kinds_it_takes() {
    let scratch = Scratch::new();
    let demo = station(10);
    let phone = Receiver::start();
    // A destination that would never answer: a message routed there would
    // wait in its queue.
    let closed = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let phone_url = phone.url("http", "/phone?kinds=cablecast_down,database");
    let channel_url = format!("http://{closed}/channel?kinds=vod_failed,vod_stuck");
    let monitor = Running::monitor(
        &scratch.db(),
        &demo.api_url(),
        &[],
        &[
            (
                "ARCHIVIST_NOTIFY_URLS",
                &format!("{phone_url} {channel_url}"),
            ),
            ("ARCHIVIST_ALERT_FIRE_AFTER", "1"),
        ],
    );
    demo.set_fault(Fault::Status(500));
    let got = phone.wait_for(1, Duration::from_secs(90));
    assert_eq!(got[0].json()["kind"], "cablecast_down");
    assert_eq!(got[0].path, "/phone", "kinds= is Archivist's, not sent on");
    // The message was queued for the phone only: the channel has no
    // delivery row at all, not one waiting.
    let rows = |url: &str| {
        let key = Destination::parse(url).expect("valid").key().to_string();
        number(
            &scratch.db(),
            &format!("SELECT count(*) FROM alert_delivery WHERE destination = '{key}'"),
        )
    };
    assert_eq!(rows(&phone_url), 1);
    assert_eq!(rows(&channel_url), 0);
    drop(monitor);

    // A kind that does not exist is refused at start, naming the kinds.
    let out = alerts_test(&phone.url("http", "/phone?kinds=cablecast_dwn"));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("entry 1 has kinds= with \"cablecast_dwn\", which is not an alert kind (cablecast_down, "),
        "{err}"
    );
}

#[test]
fn a_url_archivist_cannot_read_is_refused_at_start_with_an_example() {
    for (url, expected) in [
        (
            "slack://T0000/B0000",
            "ARCHIVIST_NOTIFY_URLS: entry 1 needs the webhook's three tokens: a slack:// URL reads slack://TokenA/TokenB/TokenC",
        ),
        (
            "discord://s3cret-token",
            "ARCHIVIST_NOTIFY_URLS: entry 1 needs the webhook's ID and token: a discord:// URL reads discord://WebhookID/WebhookToken, for example discord://",
        ),
        (
            "gopher://s3cret@example.org/x",
            "ARCHIVIST_NOTIFY_URLS: entry 1 has a scheme Archivist does not know (gopher://); it sends to https, http, json(s), ntfy(s), slack, discord, workflows, msteams, teams, mailto(s), smtp(s)",
        ),
    ] {
        let out = alerts_test(url);
        assert_eq!(out.status.code(), Some(2), "{url}");
        let err = stderr(&out);
        assert!(err.contains(expected), "{url}: {err}");
        assert!(!err.contains("s3cret"), "{err}");
    }
}
