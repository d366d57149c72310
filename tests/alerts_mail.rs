//! Alert mail against a real SMTP server on loopback (aiosmtpd, see
//! tests/support/smtp_receiver.py): STARTTLS and implicit TLS, with login,
//! the server's certificate checked, and the password never shown; a LAN
//! relay without TLS used only when the URL asks; a self-signed certificate
//! (`openssl req -x509`) trusted by its fingerprint; errors that say what
//! to check.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use archivist::demo::Fault;

use crate::core_https::station_pki;
use crate::support::child::Running;
use crate::support::{archivist, station, stderr, stdout, wait_until, Scratch};

const USER: &str = "engineer@station.org";
const PASSWORD: &str = "s3cret-mail";

/// The SMTP server; killed on drop.
struct MailServer {
    child: Child,
    port: u16,
    inbox: PathBuf,
}

/// Debian's python3 (where `.ci/run` installs python3-aiosmtpd) when it has
/// aiosmtpd, else the `python3` on PATH.
fn python_with_aiosmtpd() -> &'static str {
    let debian = "/usr/bin/python3";
    let has_it = Command::new(debian)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if has_it {
        debian
    } else {
        "python3"
    }
}

impl MailServer {
    fn start(mode: &str, dir: &Path, cert: &Path, key: &Path) -> MailServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let inbox = dir.join(format!("inbox-{mode}"));
        std::fs::create_dir_all(&inbox).expect("inbox");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_receiver.py");
        let mut child = Command::new(python_with_aiosmtpd())
            .arg(script)
            .args([mode, &port.to_string()])
            .arg(cert)
            .arg(key)
            .arg(&inbox)
            .args([USER, PASSWORD])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("this test needs python3 with aiosmtpd (pip install aiosmtpd)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("reads");
        assert_eq!(line.trim(), "ready", "the SMTP server did not start");
        MailServer { child, port, inbox }
    }

    /// Waits for `n` mails and returns them.
    fn mails(&self, n: usize) -> Vec<serde_json::Value> {
        let read = || -> Vec<serde_json::Value> {
            let mut paths: Vec<PathBuf> = std::fs::read_dir(&self.inbox)
                .expect("inbox")
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            paths.sort();
            paths
                .iter()
                .map(|p| serde_json::from_slice(&std::fs::read(p).expect("mail")).expect("json"))
                .collect()
        };
        assert!(
            wait_until(Duration::from_secs(60), || read().len() >= n),
            "waited for {n} mails"
        );
        read()
    }
}

impl Drop for MailServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn alerts_test(urls: &str) -> std::process::Output {
    archivist()
        .args(["alerts", "test"])
        .env("ARCHIVIST_NOTIFY_URLS", urls)
        .env("ARCHIVIST_STATION_NAME", "WXYZ Community TV")
        .output()
        .expect("runs")
}

#[test]
#[ignore = "needs python3 with aiosmtpd; .ci/run installs it and runs this"]
fn alert_mail_goes_over_starttls_or_implicit_tls_with_login() {
    let scratch = Scratch::new();
    let (ca, cert, key) = station_pki(scratch.dir.path());
    let starttls = MailServer::start("starttls", scratch.dir.path(), &cert, &key);
    let implicit = MailServer::start("implicit", scratch.dir.path(), &cert, &key);
    let ca = ca.display().to_string();
    let url = |scheme: &str, port: u16, password: &str| {
        format!(
            "{scheme}://engineer%40station.org:{password}@127.0.0.1:{port}/?to=news@station.org,eng@station.org&from=archivist@station.org&ca={ca}"
        )
    };
    let urls = format!(
        "{} {}",
        url("smtp", starttls.port, PASSWORD),
        url("smtps", implicit.port, PASSWORD)
    );
    let out = alerts_test(&urls);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        vec![
            "delivered  email (127.0.0.1)",
            "delivered  email (127.0.0.1)"
        ]
    );
    for server in [&starttls, &implicit] {
        let mail = &server.mails(1)[0];
        assert_eq!(mail["tls"], true);
        assert_eq!(mail["authenticated"], true);
        assert_eq!(mail["from"], "archivist@station.org");
        assert_eq!(
            mail["to"],
            serde_json::json!(["news@station.org", "eng@station.org"])
        );
        let data = mail["data"].as_str().expect("data");
        assert!(
            data.contains("Subject: [TEST] Test message from Archivist (WXYZ Community TV)"),
            "{data}"
        );
        assert!(data.contains("WXYZ Community TV on "), "{data}");
        // Mail services refuse mail without a Message-ID (Gmail: 550 5.7.1).
        let header = |name: &str| {
            data.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
                .unwrap_or_else(|| panic!("no {name} in {data}"))
        };
        let id = header("Message-ID:");
        assert!(
            id.starts_with("<test-") && id.ends_with("@station.org>") && !id.contains(' '),
            "{id}"
        );
        assert_eq!(id.matches('@').count(), 1, "{id}");
        assert!(header("Date:").ends_with("+0000"), "{data}");
    }

    // A wrong password, and a certificate nobody vouches for, fail with a
    // reason and without the password.
    let wrong = url("smtp", starttls.port, "wrong-s3cret");
    let unknown_ca = url("smtp", starttls.port, PASSWORD).replace(&format!("&ca={ca}"), "");
    let out = alerts_test(&format!("{wrong} {unknown_ca}"));
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("FAILED     email (127.0.0.1): ")),
        "{text}"
    );
    assert!(lines[1].to_lowercase().contains("certificate"), "{text}");
    assert!(
        !text.contains("s3cret") && !stderr(&out).contains("s3cret"),
        "{text}"
    );

    // The monitor mails a real alert the same way.
    let demo = station(10);
    demo.set_fault(Fault::Status(500));
    // The wrong password beside it is refused for good (535): recorded as
    // failed after one attempt, never retried.
    let urls = format!("{} {wrong}", url("smtp", starttls.port, PASSWORD));
    let monitor = Running::monitor(
        &scratch.db(),
        &demo.api_url(),
        &[],
        &[
            ("ARCHIVIST_NOTIFY_URLS", &urls),
            ("ARCHIVIST_ALERT_FIRE_AFTER", "1"),
        ],
    );
    let mail = &starttls.mails(2)[1];
    let data = mail["data"].as_str().expect("data");
    assert!(data.contains("[FIRING] Cablecast is unreachable"), "{data}");
    let refused = "SELECT count(*) FROM alert_delivery WHERE failed_at IS NOT NULL
        AND attempts = 1 AND last_error LIKE '%535%'";
    assert!(
        wait_until(Duration::from_secs(30), || crate::support::number(
            &scratch.db(),
            refused
        ) == 1),
        "{}",
        monitor.log()
    );
    assert!(monitor.log().contains("not retried"), "{}", monitor.log());
    assert!(!monitor.log().contains("s3cret"), "{}", monitor.log());
}

/// A self-signed certificate made the usual way (`openssl req -x509`, which
/// marks it CA:TRUE), for 127.0.0.1. Returns (cert.pem, key.pem, its
/// SHA-256 fingerprint as `openssl x509 -fingerprint` prints it).
pub(crate) fn self_signed(dir: &Path) -> (PathBuf, PathBuf, String) {
    let cert = dir.join("appliance.pem");
    let key = dir.join("appliance.key");
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(&cert)
        .output()
        .expect("openssl runs");
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let fingerprint = printed
        .split_once('=')
        .map(|(_, f)| f.to_string())
        .expect("sha256 Fingerprint=AB:CD:...");
    (cert, key, fingerprint)
}

#[test]
#[ignore = "needs python3 with aiosmtpd; .ci/run installs it and runs this"]
fn a_lan_relay_without_tls_gets_mail_only_when_the_url_asks() {
    let scratch = Scratch::new();
    let (cert, key, _) = self_signed(scratch.dir.path());
    let relay = MailServer::start("plain", scratch.dir.path(), &cert, &key);
    let to = "to=news@station.org&from=archivist@station.org";
    let inbox = |server: &MailServer| std::fs::read_dir(&server.inbox).expect("inbox").count();

    // Not asked: STARTTLS is required, the relay offers none, nothing goes.
    let out = alerts_test(&format!("smtp://127.0.0.1:{}/?{to}", relay.port));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).starts_with("FAILED     email (127.0.0.1): "),
        "{}",
        stdout(&out)
    );
    assert_eq!(inbox(&relay), 0);

    // A login without TLS is refused at start unless also asked for.
    let login = format!(
        "smtp://{USER_IN_URL}:{PASSWORD}@127.0.0.1:{}/?{to}&tls=none",
        relay.port
    );
    let out = alerts_test(&login);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("login=unencrypted"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");

    // Asked: delivered without TLS, with and without a login, and Apprise's
    // mailto:// with mode=insecure means the same.
    let urls = format!(
        "smtp://127.0.0.1:{port}/?{to}&tls=none {login}&login=unencrypted mailto://127.0.0.1:{port}/news@station.org?mode=insecure&from=archivist@station.org",
        port = relay.port
    );
    let out = alerts_test(&urls);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let mails = relay.mails(3);
    assert!(mails.iter().all(|m| m["tls"] == false), "{mails:?}");
    assert_eq!(
        mails.iter().filter(|m| m["authenticated"] == true).count(),
        1
    );
    assert!(mails
        .iter()
        .all(|m| m["to"] == serde_json::json!(["news@station.org"])));

    // The monitor says once in its log that this mail goes without TLS.
    let demo = station(5);
    let monitor = Running::monitor(
        &scratch.db(),
        &demo.api_url(),
        &[],
        &[(
            "ARCHIVIST_NOTIFY_URLS",
            &format!("smtp://127.0.0.1:{}/?{to}&tls=none", relay.port),
        )],
    );
    monitor.wait_for("INFO  cycle ", 2, Duration::from_secs(60));
    assert_eq!(
        monitor.count("goes without TLS, as its URL asks (tls=none)"),
        1,
        "{}",
        monitor.log()
    );

    // Implicit TLS against the plain port: the sentence says what to check.
    let out = alerts_test(&format!("smtps://127.0.0.1:{}/?{to}", relay.port));
    assert_eq!(
        stdout(&out).trim(),
        "FAILED     email (127.0.0.1): the server did not answer in TLS: is this port plain SMTP/HTTP, not TLS?"
    );
}

/// The user as written in a URL (`@` encoded).
const USER_IN_URL: &str = "engineer%40station.org";

#[test]
#[ignore = "needs python3 with aiosmtpd; .ci/run installs it and runs this"]
fn a_self_signed_mail_server_is_trusted_by_its_fingerprint_not_by_ca() {
    let scratch = Scratch::new();
    let (cert, key, fingerprint) = self_signed(scratch.dir.path());
    let server = MailServer::start("starttls", scratch.dir.path(), &cert, &key);
    let url = |option: &str| {
        format!(
            "smtp://{USER_IN_URL}:{PASSWORD}@127.0.0.1:{}/?to=news@station.org&from=archivist@station.org&{option}",
            server.port
        )
    };

    // ca= cannot trust it: rustls refuses a CA certificate as the server's.
    let out = alerts_test(&url(&format!("ca={}", cert.display())));
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.starts_with("FAILED     email (127.0.0.1): the server's certificate is not trusted: it is a self-signed certificate marked as an authority (as openssl req -x509 makes them), which ca= cannot vouch for; pin it with fingerprint="),
        "{text}"
    );
    // Another certificate's fingerprint: refused before the login is sent.
    let wrong = "00".repeat(32);
    let out = alerts_test(&url(&format!("fingerprint={wrong}")));
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("not trusted: it (") && text.contains("is not the one fingerprint= pins"),
        "{text}"
    );
    assert_eq!(std::fs::read_dir(&server.inbox).expect("inbox").count(), 0);

    // Its own fingerprint, as openssl prints it: delivered over STARTTLS.
    let out = alerts_test(&url(&format!("fingerprint={fingerprint}")));
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let mail = &server.mails(1)[0];
    assert_eq!(mail["tls"], true);
    assert_eq!(mail["authenticated"], true);
    assert!(!stdout(&out).contains("s3cret") && !stderr(&out).contains("s3cret"));
}
