//! Alerts end to end: a running monitor against the demo station, with real
//! webhook receivers on loopback for every format, destinations that are
//! down, failing or slow, a power cut with messages queued, a flapping
//! Cablecast, silences, `alerts test`, and no secret anywhere it is shown.

use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use archivist::demo::Fault;

use crate::support::child::Running;
use crate::support::http::get;
use crate::support::receiver::{Received, Receiver};
use crate::support::{number, run_on, station, stdout, wait_until, Scratch};

const LONG: Duration = Duration::from_secs(90);

/// A loopback port nothing listens on (yet).
fn free_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").to_string()
}

/// The start of each cycle's log line.
const CYCLE: &str = "INFO  cycle ";

/// Cycles the monitor has logged.
fn cycles(monitor: &Running) -> usize {
    monitor.count(CYCLE)
}

/// Waits for `n` more cycles than `after`; returns the count then.
fn wait_cycles(monitor: &Running, after: usize, n: usize) -> usize {
    monitor.wait_for(CYCLE, after + n, LONG);
    cycles(monitor)
}

fn firing_kinds(db: &Path) -> Vec<String> {
    let out = run_on(db, &["alerts", "list", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let value: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    value["firing"]
        .as_array()
        .expect("firing")
        .iter()
        .map(|a| a["kind"].as_str().expect("kind").to_string())
        .collect()
}

/// The generic payload's documented fields (README, "Get notified").
fn check_generic(message: &Received, event: &str, kind: &str) -> serde_json::Value {
    assert_eq!(message.method, "POST");
    assert!(message
        .header("Content-Type")
        .is_some_and(|c| c.starts_with("application/json")));
    let v = message.json();
    assert_eq!(v["version"], 1, "{v}");
    assert_eq!(v["event"], event, "{v}");
    assert_eq!(v["kind"], kind, "{v}");
    for field in ["alert_id", "title", "message", "at", "station", "host"] {
        assert!(
            v[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field} missing: {v}"
        );
    }
    let at = v["at"].as_str().expect("at");
    assert!(at.len() == 20 && at.ends_with('Z'), "{at}");
    v
}

#[test]
fn a_thousand_failed_vods_make_one_message_per_destination_in_every_format() {
    let scratch = Scratch::new();
    let demo = station(1100);
    let generic = Receiver::start();
    let ntfy = Receiver::start();
    let slack = Receiver::start();
    let discord = Receiver::start();
    let teams = Receiver::start();
    let urls = format!(
        "{}, {} {},{} {}",
        generic.url("http", "/hook/s3cret-generic"),
        ntfy.url("ntfy+http", "/station-alerts?token=tk_s3cret-ntfy"),
        slack.url("slack+http", "/services/T000/B000/s3cret-slack"),
        discord.url("discord+http", "/api/webhooks/1234/s3cret-discord"),
        teams.url("teams+http", "/workflows/s3cret-teams"),
    );
    // A station with no failure yet (those there at start are another test's).
    for vod in demo.catalogue().vods.iter_mut() {
        if matches!(vod.state.as_str(), "error" | "permanentFailure") {
            vod.state = "complete".into();
        }
    }
    let monitor = Running::monitor(
        &scratch.db(),
        &demo.api_url(),
        &["--catalog-interval", "1"],
        &[
            ("ARCHIVIST_NOTIFY_URLS", &urls),
            ("ARCHIVIST_STATION_NAME", "WXYZ Community TV"),
            ("ARCHIVIST_PUBLIC_URL", "https://archivist.example.org/"),
            ("ARCHIVIST_ALERTS_OFF", "vod_stuck,cablecast_down"),
            ("ARCHIVIST_ALERT_HOLD", "0"),
        ],
    );
    let addr = monitor.status_addr();
    wait_cycles(&monitor, 0, 1);
    // The states change while Cablecast is away, so that the first
    // catalogue pass after it (which lists everything) sees them all in
    // one cycle, as when a whole encoder's work fails at once.
    let between_passes = |change: &dyn Fn(&mut archivist::demo::Catalogue)| {
        demo.set_fault(Fault::Status(503));
        wait_cycles(&monitor, cycles(&monitor), 2);
        change(&mut demo.catalogue());
        demo.set_fault(Fault::None);
    };
    assert!(firing_kinds(&scratch.db()).is_empty());

    let failed: Vec<i64> = demo
        .catalogue()
        .vods
        .iter()
        .filter(|v| !matches!(v.state.as_str(), "error" | "permanentFailure"))
        .take(1000)
        .map(|v| v.id)
        .collect();
    between_passes(&|catalogue| {
        for id in &failed {
            let vod = catalogue.vod_mut(*id).expect("vod");
            vod.state = "error".into();
            vod.error_message = Some("Transcode failed: disk full".into());
        }
    });
    assert_eq!(failed.len(), 1000);
    for receiver in [&generic, &ntfy, &slack, &discord, &teams] {
        receiver.wait_for(1, LONG);
    }
    // Two more cycles: still one message each.
    let seen = wait_cycles(&monitor, cycles(&monitor), 2);
    for receiver in [&generic, &ntfy, &slack, &discord, &teams] {
        assert_eq!(receiver.received().len(), 1, "{:#?}", receiver.received());
    }

    let v = check_generic(&generic.received()[0], "firing", "vod_failed");
    assert_eq!(v["count"], 1000);
    assert_eq!(v["title"], "1000 VODs failed");
    assert_eq!(v["station"], "WXYZ Community TV");
    assert_eq!(v["status_url"], "https://archivist.example.org/");
    let message = v["message"].as_str().expect("message");
    assert_eq!(
        message.lines().filter(|l| l.starts_with("- ")).count(),
        10,
        "ten listed, the rest counted: {message}"
    );
    // Each listed VOD links to its page on the status page.
    assert_eq!(
        message
            .lines()
            .filter(|l| l.trim().starts_with("https://archivist.example.org/vods/"))
            .count(),
        10,
        "{message}"
    );
    assert!(message.contains("Transcode failed: disk full"), "{message}");
    assert!(
        message.ends_with("and 990 more (see the status page)"),
        "{message}"
    );
    assert!(v["alerts"].as_array().expect("alerts").len() <= 100);
    let first_alert = v["alert_id"].as_str().expect("id").to_string();

    // ntfy: JSON publishing to the server root (docs.ntfy.sh/publish).
    let n = &ntfy.received()[0];
    assert_eq!(n.path, "/");
    assert_eq!(n.header("Authorization"), Some("Bearer tk_s3cret-ntfy"));
    let nv = n.json();
    assert_eq!(nv["topic"], "station-alerts");
    assert!(nv["title"]
        .as_str()
        .expect("title")
        .contains("1000 VODs failed"));
    assert!(nv["message"]
        .as_str()
        .expect("message")
        .contains("WXYZ Community TV"));
    assert!((1..=5).contains(&nv["priority"].as_i64().expect("priority")));
    assert_eq!(nv["click"], "https://archivist.example.org/");
    assert!(nv["tags"].is_array());
    // Slack-compatible incoming webhook: one `text`.
    let s = &slack.received()[0];
    assert_eq!(s.path, "/services/T000/B000/s3cret-slack");
    let sv = s.json();
    assert_eq!(sv.as_object().expect("object").len(), 1, "{sv}");
    assert!(sv["text"]
        .as_str()
        .expect("text")
        .contains("1000 VODs failed"));
    // Discord: one embed within Discord's limits, the headline once (its
    // title, no `content` repeating it).
    let dv = discord.received()[0].json();
    assert!(dv.get("content").is_none(), "{dv}");
    let embed = &dv["embeds"][0];
    assert!(embed["title"].as_str().expect("title").chars().count() <= 256);
    assert!(
        embed["description"]
            .as_str()
            .expect("description")
            .chars()
            .count()
            <= 4096
    );
    assert!(embed["color"].is_u64());
    assert_eq!(embed["url"], "https://archivist.example.org/");
    assert_eq!(dv["allowed_mentions"]["parse"], serde_json::json!([]));
    // Teams (Workflows): a message with an Adaptive Card.
    let tv = teams.received()[0].json();
    assert_eq!(tv["type"], "message");
    let attachment = &tv["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(attachment["content"]["type"], "AdaptiveCard");
    assert!(attachment["content"]["body"]
        .as_array()
        .expect("body")
        .iter()
        .all(|b| b["type"] == "TextBlock"));

    // While they fire, publishing is unhealthy; Cablecast is fine.
    let (status, body) = get(addr, "/health/publishing");
    assert_eq!(status, 503, "{body}");
    assert_eq!(get(addr, "/health/cablecast").0, 200);
    let (_, metrics) = get(addr, "/metrics");
    assert!(
        metrics.contains("archivist_alerts_firing{kind=\"vod_failed\"} 1000"),
        "{metrics}"
    );

    // They are fixed: one resolved message each.
    between_passes(&|catalogue| {
        for id in &failed {
            catalogue.vod_mut(*id).expect("vod").state = "complete".into();
        }
    });
    for receiver in [&generic, &ntfy, &slack, &discord, &teams] {
        receiver.wait_for(2, LONG);
    }
    let v = check_generic(&generic.received()[1], "resolved", "vod_failed");
    assert_eq!(v["count"], 1000);
    assert_eq!(v["alert_id"], first_alert.as_str());
    // Every alert it resolves, by id, for a receiver that matches on ids.
    assert_eq!(v["alert_ids"].as_array().expect("alert_ids").len(), 1000);
    wait_cycles(&monitor, seen, 1);
    assert_eq!(get(addr, "/health/publishing").0, 200);

    // No destination secret anywhere Archivist shows or logs.
    let mut shown = monitor.log();
    for path in ["/api/alerts", "/metrics", "/", "/api/status"] {
        shown.push_str(&get(addr, path).1);
    }
    shown.push_str(&stdout(&run_on(
        &scratch.db(),
        &["alerts", "list", "--json"],
    )));
    shown.push_str(&stdout(&run_on(&scratch.db(), &["alerts", "list"])));
    assert!(!shown.contains("s3cret"), "a secret was shown");
    assert!(
        shown.contains("slack (127.0.0.1)"),
        "destinations are named by scheme and host"
    );
    // Nor in the database file, nor its write-ahead log: every byte.
    for file in [scratch.db(), scratch.path("archivist.db-wal")] {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !bytes.windows(6).any(|w| w == b"s3cret"),
            "{} holds a secret",
            file.display()
        );
    }
}

#[test]
fn a_flapping_cablecast_raises_nothing_below_the_threshold_then_fires_once_and_resolves() {
    let scratch = Scratch::new();
    let demo = station(20);
    let hook = Receiver::start();
    let heartbeat = Receiver::start();
    let monitor = Running::monitor(
        &scratch.db(),
        &demo.api_url(),
        &["--catalog-interval", "1"],
        &[
            ("ARCHIVIST_NOTIFY_URLS", &hook.url("http", "/hook")),
            (
                "ARCHIVIST_HEARTBEAT_URL",
                &heartbeat.url("http", "/ping/check-uuid"),
            ),
            ("ARCHIVIST_ALERT_FIRE_AFTER", "4"),
            ("ARCHIVIST_ALERTS_OFF", "vod_failed,vod_stuck"),
        ],
    );
    let addr = monitor.status_addr();
    let mut seen = wait_cycles(&monitor, 0, 1);
    // Down for two cycles at a time (at most three failing in a row, with
    // the cycles that straddle a change), then up again: below the
    // threshold of four.
    for _ in 0..3 {
        demo.set_fault(Fault::Status(500));
        seen = wait_cycles(&monitor, seen, 2);
        demo.set_fault(Fault::None);
        seen = wait_cycles(&monitor, seen, 2);
    }
    assert!(hook.received().is_empty(), "{:#?}", hook.received());
    assert!(firing_kinds(&scratch.db()).is_empty());
    assert_eq!(get(addr, "/health/cablecast").0, 200);
    // The heartbeat is damped the same way: good all along.
    let pings = || -> Vec<String> {
        heartbeat
            .received()
            .iter()
            .map(|r| r.path.clone())
            .collect()
    };
    let flapping = pings();
    assert!(
        flapping.iter().any(|p| p == "/ping/check-uuid"),
        "{flapping:?}"
    );
    assert!(
        !flapping.iter().any(|p| p == "/ping/check-uuid/fail"),
        "{flapping:?}"
    );

    // A real outage fires once.
    demo.set_fault(Fault::Status(503));
    let got = hook.wait_for(1, LONG);
    let v = check_generic(&got[0], "firing", "cablecast_down");
    assert!(
        v["message"].as_str().expect("message").contains("503"),
        "{v}"
    );
    let (status, body) = get(addr, "/health/cablecast");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("Cablecast is unreachable"), "{body}");
    assert!(
        wait_until(LONG, || pings()
            .iter()
            .any(|p| p == "/ping/check-uuid/fail")),
        "a real outage fails the heartbeat: {:?}",
        pings()
    );
    assert!(get(addr, "/metrics")
        .1
        .contains("archivist_alerts_firing{kind=\"cablecast_down\"} 1"));
    seen = wait_cycles(&monitor, cycles(&monitor), 2);
    assert_eq!(hook.received().len(), 1, "no repeat while it fires");

    demo.set_fault(Fault::None);
    let got = hook.wait_for(2, LONG);
    let resolved = check_generic(&got[1], "resolved", "cablecast_down");
    assert_eq!(resolved["alert_id"], v["alert_id"]);
    wait_cycles(&monitor, seen, 1);
    assert_eq!(get(addr, "/health/cablecast").0, 200);
    assert!(firing_kinds(&scratch.db()).is_empty());
}

#[test]
fn a_destination_down_failing_or_slow_delays_only_its_own_messages() {
    let scratch = Scratch::new();
    let demo = station(20);
    demo.set_fault(Fault::Status(500));
    let healthy = Receiver::start();
    let failing = Receiver::start();
    failing.answer_next(&[500, 500, 500]);
    let slow = Receiver::start();
    slow.set_delay(Duration::from_secs(8));
    let down = free_port();
    let urls = format!(
        "{} {} {} http://{down}/hook",
        healthy.url("http", "/hook"),
        failing.url("http", "/hook"),
        slow.url("http", "/hook"),
    );
    let monitor = Running::monitor(
        &scratch.db(),
        &demo.api_url(),
        &[],
        &[
            ("ARCHIVIST_NOTIFY_URLS", &urls),
            ("ARCHIVIST_ALERT_FIRE_AFTER", "1"),
        ],
    );
    let got = healthy.wait_for(1, LONG);
    let alert_id = check_generic(&got[0], "firing", "cablecast_down")["alert_id"].clone();
    // The slow destination is still answering; the cycles go on meanwhile.
    assert!(slow.received().is_empty());
    let seen = cycles(&monitor);
    wait_cycles(&monitor, seen, 3);
    // Each gets it in the end, the same alert.
    for receiver in [&failing, &slow] {
        let got = receiver.wait_for(1, LONG);
        assert_eq!(got[0].json()["alert_id"], alert_id);
    }
    assert!(
        monitor.log().contains("failed: HTTP 500"),
        "{}",
        monitor.log()
    );
    // The one that is down keeps its message, retried with growing pauses.
    let attempts = number(
        &scratch.db(),
        "SELECT coalesce(max(attempts), 0) FROM alert_delivery WHERE delivered_at IS NULL",
    );
    assert!(attempts >= 1, "retried");
    // Every surface says what happened at each destination: three
    // delivered, one waiting with its error, and a warning once it failed
    // a few times.
    let (_, api) = get(monitor.status_addr(), "/api/alerts");
    let api = api.split_once("\r\n\r\n").expect("a body").1;
    let v: serde_json::Value = serde_json::from_str(api).expect("json");
    let deliveries = v["firing"][0]["deliveries"].as_array().expect("deliveries");
    assert_eq!(deliveries.len(), 4, "{v}");
    let states: Vec<&str> = deliveries
        .iter()
        .map(|d| d["state"].as_str().expect("state"))
        .collect();
    assert_eq!(
        states.iter().filter(|s| **s == "delivered").count(),
        3,
        "{v}"
    );
    let waiting = deliveries
        .iter()
        .find(|d| d["state"] == "waiting")
        .expect("the one down waits");
    assert!(
        waiting["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("refused")),
        "{v}"
    );
    let listed = stdout(&run_on(&scratch.db(), &["alerts", "list"]));
    assert!(
        listed.contains("webhook (127.0.0.1): delivered"),
        "{listed}"
    );
    assert!(
        listed.contains("webhook (127.0.0.1): waiting ("),
        "{listed}"
    );
    assert!(wait_until(LONG, || get(monitor.status_addr(), "/")
        .1
        .contains("Notifications to webhook (127.0.0.1) are failing")));
    let back = Receiver::on(&down);
    let got = back.wait_for(1, Duration::from_secs(400));
    assert_eq!(got[0].json()["alert_id"], alert_id);
    assert!(wait_until(LONG, || number(
        &scratch.db(),
        "SELECT count(*) FROM alert_delivery WHERE delivered_at IS NULL"
    ) == 0));
    let (_, metrics) = get(monitor.status_addr(), "/metrics");
    let failures: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("archivist_notification_failures_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("failure counter");
    assert!(failures >= 4.0, "{metrics}");
}

#[test]
fn messages_queued_at_a_power_cut_are_delivered_after_restart_and_not_repeated() {
    let scratch = Scratch::new();
    let demo = station(20);
    demo.set_fault(Fault::Status(500));
    let port = free_port();
    let urls = format!("http://{port}/hook");
    let env = [
        ("ARCHIVIST_NOTIFY_URLS", urls.as_str()),
        ("ARCHIVIST_ALERT_FIRE_AFTER", "1"),
    ];
    let mut first = Running::monitor(&scratch.db(), &demo.api_url(), &[], &env);
    let pending = "SELECT count(*) FROM alert_delivery WHERE delivered_at IS NULL";
    assert!(wait_until(LONG, || number(&scratch.db(), pending) == 1));
    first.kill();
    let alert_id: String = crate::support::sqlite(&scratch.db())
        .query_row(
            "SELECT id FROM alert WHERE kind = 'cablecast_down'",
            [],
            |r| r.get(0),
        )
        .expect("recorded");

    let receiver = Receiver::on(&port);
    let second = Running::monitor(&scratch.db(), &demo.api_url(), &[], &env);
    let got = receiver.wait_for(1, LONG);
    let v = check_generic(&got[0], "firing", "cablecast_down");
    assert_eq!(v["alert_id"], alert_id.as_str());
    wait_cycles(&second, 0, 3);
    assert_eq!(receiver.received().len(), 1, "not notified again as new");
    assert_eq!(number(&scratch.db(), "SELECT count(*) FROM alert"), 1);
}

#[test]
fn a_silence_records_and_shows_alerts_and_sends_nothing() {
    let scratch = Scratch::new();
    let demo = station(20);
    demo.set_fault(Fault::Status(500));
    assert!(run_on(&scratch.db(), &["init"]).status.success());
    let out = run_on(
        &scratch.db(),
        &[
            "alerts",
            "silence",
            "--for",
            "2h",
            "--kind",
            "cablecast_down",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).contains("silenced cablecast_down until"),
        "{out:?}"
    );
    let bad = run_on(
        &scratch.db(),
        &["alerts", "silence", "--for", "2h", "--kind", "nope"],
    );
    assert_eq!(bad.status.code(), Some(2));

    let hook = Receiver::start();
    let token = "silence-token-0123456789";
    let monitor = Running::monitor(
        &scratch.db(),
        &demo.api_url(),
        &[],
        &[
            ("ARCHIVIST_NOTIFY_URLS", &hook.url("http", "/hook")),
            ("ARCHIVIST_ALERT_FIRE_AFTER", "1"),
            ("ARCHIVIST_ADMIN_TOKEN", token),
        ],
    );
    let addr = monitor.status_addr();
    wait_cycles(&monitor, 0, 3);
    assert_eq!(firing_kinds(&scratch.db()), vec!["cablecast_down"]);
    let listed = stdout(&run_on(&scratch.db(), &["alerts", "list"]));
    assert!(listed.contains("(silenced)"), "{listed}");
    assert!(listed.contains("Silence: cablecast_down until"), "{listed}");
    assert!(hook.received().is_empty(), "{:#?}", hook.received());
    // Planned maintenance pages nobody through the health endpoint either:
    // it says so, with 200.
    let (status, body) = get(addr, "/health/cablecast");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("silenced: Cablecast is unreachable"),
        "{body}"
    );

    // The API: the admin token is required.
    let post = |auth: Option<&str>, body: &str| {
        let mut raw = format!(
            "POST /api/alerts/silence HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        if let Some(token) = auth {
            raw.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        raw.push_str("\r\n");
        raw.push_str(body);
        crate::support::http::exchange(addr, raw.as_bytes())
    };
    assert_eq!(post(None, r#"{"for":"1h"}"#).0, vec![401]);
    assert_eq!(post(Some(token), r#"{"for":"soon"}"#).0, vec![400]);
    let (codes, body) = post(Some(token), r#"{"for":"1h","kind":"vod_failed"}"#);
    assert_eq!(codes, vec![201], "{body}");
    let (_, api) = get(addr, "/api/alerts");
    let api = api.split_once("\r\n\r\n").expect("a body").1;
    let v: serde_json::Value = serde_json::from_str(api).unwrap_or_else(|e| panic!("{e}: {api}"));
    assert_eq!(v["silences"].as_array().expect("silences").len(), 2);
    assert_eq!(v["firing"][0]["silenced"], true);
    assert_eq!(v["monitor"]["running"], true, "{v}");

    // Ended early through the API: the held alert goes out, and is no
    // longer shown as silenced.
    assert_eq!(post(Some(token), r#"{"end":true,"for":"1h"}"#).0, vec![400]);
    let (codes, body) = post(Some(token), r#"{"end":true}"#);
    assert_eq!(codes, vec![200], "{body}");
    assert!(body.contains("ended 2 silences"), "{body}");
    let got = hook.wait_for(1, LONG);
    check_generic(&got[0], "firing", "cablecast_down");
    let listed = stdout(&run_on(&scratch.db(), &["alerts", "list"]));
    assert!(!listed.contains("(silenced)"), "{listed}");
    assert!(!listed.contains("Silence:"), "{listed}");
    assert_eq!(get(addr, "/health/cablecast").0, 503);

    // And from the command line.
    let out = run_on(&scratch.db(), &["alerts", "silence", "--for", "1h"]);
    assert!(out.status.success(), "{out:?}");
    let out = run_on(&scratch.db(), &["alerts", "silence", "--end"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout(&out).trim(),
        "ended 1 silence; alerts are sent again"
    );
    let both = run_on(
        &scratch.db(),
        &["alerts", "silence", "--end", "--for", "1h"],
    );
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn a_stopped_monitor_makes_every_health_answer_unknown_with_since_when() {
    let scratch = Scratch::new();
    let demo = station(20);
    let monitor = Running::monitor(
        &scratch.db(),
        &demo.api_url(),
        &[],
        &[("ARCHIVIST_ALERTS_OFF", "vod_failed,vod_stuck")],
    );
    let addr = monitor.status_addr();
    wait_cycles(&monitor, 0, 2);
    assert_eq!(get(addr, "/health/cablecast").0, 200);
    drop(monitor);
    // The last cycle was long ago: the monitor has been stopped since.
    crate::support::sqlite(&scratch.db())
        .execute_batch(
            "UPDATE monitor_cycle SET started_at = '2026-01-05T10:00:00Z',
                finished_at = '2026-01-05T10:00:01Z';",
        )
        .expect("aged");
    let mut command = crate::support::archivist();
    command.arg("--db").arg(scratch.db()).args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--interval",
        "1",
    ]);
    let serve = Running::start(command);
    serve.wait_for(" on http://", 1, LONG);
    let log = serve.log();
    let addr: std::net::SocketAddr = log
        .split(" on http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {log}"));
    for path in ["/health/cablecast", "/health/publishing"] {
        let (status, body) = get(addr, path);
        assert_eq!(status, 503, "{path}: {body}");
        assert!(
            body.contains("unknown: no monitoring cycle since 2026-01-05 10:00 UTC"),
            "{path}: {body}"
        );
    }
    let (_, api) = get(addr, "/api/alerts");
    assert!(api.contains(r#""running":false"#), "{api}");
    let listed = stdout(&run_on(&scratch.db(), &["alerts", "list"]));
    assert!(
        listed
            .contains("The monitor is not running: no monitoring cycle since 2026-01-05 10:00 UTC"),
        "{listed}"
    );
    let (_, page) = get(addr, "/");
    assert!(
        page.contains("The monitor is not running: no monitoring cycle since 2026-01-05 10:00 UTC"),
        "{page}"
    );
}

#[test]
fn alerts_test_sends_to_every_destination_and_says_which_failed() {
    let scratch = Scratch::new();
    let good = Receiver::start();
    let failing = Receiver::start();
    failing.answer_next(&[500]);
    let urls = format!(
        "{} {}",
        good.url("http", "/hook/s3cret-a"),
        failing.url("slack+http", "/services/s3cret-b"),
    );
    let out = crate::support::archivist()
        .arg("--db")
        .arg(scratch.db())
        .args(["alerts", "test"])
        .env("ARCHIVIST_NOTIFY_URLS", &urls)
        .env("ARCHIVIST_STATION_NAME", "KTST")
        .output()
        .expect("runs");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0], format!("delivered  webhook (127.0.0.1)"));
    assert_eq!(lines[1], "FAILED     slack (127.0.0.1): HTTP 500");
    let v = check_generic(&good.received()[0], "firing", "test");
    assert_eq!(v["station"], "KTST");
    assert!(!text.contains("s3cret") && !crate::support::stderr(&out).contains("s3cret"));

    let out = crate::support::archivist()
        .arg("--db")
        .arg(scratch.db())
        .args(["alerts", "test"])
        .env("ARCHIVIST_NOTIFY_URLS", &urls)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stdout(&out));

    // A redirect is not followed: the URL's secret stays with its host.
    failing.answer_next(&[302]);
    let out = crate::support::archivist()
        .args(["alerts", "test"])
        .env(
            "ARCHIVIST_NOTIFY_URLS",
            failing.url("discord+http", "/api/webhooks/1/s3cret-c"),
        )
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out).trim(),
        "FAILED     discord (127.0.0.1): HTTP 302: a redirect, which is not followed; give the final URL"
    );

    // A malformed list is a configuration error naming the entry, not its text.
    let out = crate::support::archivist()
        .args(["alerts", "test"])
        .env("ARCHIVIST_NOTIFY_URLS", "gopher://s3cret@example.org/x")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = crate::support::stderr(&out);
    assert!(err.contains("ARCHIVIST_NOTIFY_URLS: entry 1"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}

#[test]
fn a_vod_stuck_past_its_threshold_fires_and_resolves_when_it_moves() {
    let scratch = Scratch::new();
    let demo = station(40);
    let hook = Receiver::start();
    let monitor = Running::monitor(
        &scratch.db(),
        &demo.api_url(),
        &[],
        &[
            ("ARCHIVIST_NOTIFY_URLS", &hook.url("http", "/hook")),
            ("ARCHIVIST_ALERTS_OFF", "vod_failed"),
        ],
    );
    let addr = monitor.status_addr();
    wait_cycles(&monitor, 0, 1);
    let id = number(
        &scratch.db(),
        "SELECT min(id) FROM cablecast_vod WHERE vod_state = 'processing'",
    );
    // Two days in `processing`, as if the encoder had hung since then.
    crate::support::sqlite(&scratch.db())
        .execute(
            "UPDATE cablecast_vod SET state_changed_at = '2020-01-01T00:00:00Z' WHERE id = ?1",
            [id],
        )
        .expect("aged");
    let got = hook.wait_for(1, LONG);
    let v = check_generic(&got[0], "firing", "vod_stuck");
    assert!(
        v["title"]
            .as_str()
            .expect("title")
            .contains(&format!("(VOD {id})")),
        "{v}"
    );
    assert!(
        v["message"]
            .as_str()
            .expect("message")
            .contains("in processing for"),
        "{v}"
    );
    assert_eq!(get(addr, "/health/publishing").0, 503);

    demo.catalogue().vod_mut(id).expect("vod").state = "complete".into();
    let got = hook.wait_for(2, LONG);
    let resolved = check_generic(&got[1], "resolved", "vod_stuck");
    assert_eq!(resolved["alert_id"], v["alert_id"]);
}

#[test]
fn a_failed_transcription_job_fires_and_its_later_success_resolves_it() {
    let scratch = Scratch::new();
    let demo = station(10);
    let hook = Receiver::start();
    let monitor = Running::monitor(
        &scratch.db(),
        &demo.api_url(),
        &[],
        &[
            ("ARCHIVIST_NOTIFY_URLS", &hook.url("http", "/hook")),
            ("ARCHIVIST_ALERTS_OFF", "vod_failed,vod_stuck"),
        ],
    );
    wait_cycles(&monitor, 0, 1);
    let report = |status: &str| {
        let mut args = vec![
            "transcriptions",
            "add",
            "--video",
            "/srv/video/council-2026-11-30.mp4",
            "--status",
            status,
        ];
        if status == "failed" {
            args.extend(["--error", "whisper ran out of memory"]);
        }
        let out = run_on(&scratch.db(), &args);
        assert!(out.status.success(), "{}", crate::support::stderr(&out));
    };
    report("failed");
    let got = hook.wait_for(1, LONG);
    let v = check_generic(&got[0], "firing", "transcription_failed");
    assert!(
        v["title"]
            .as_str()
            .expect("title")
            .contains("council-2026-11-30.mp4"),
        "{v}"
    );
    assert!(
        v["message"]
            .as_str()
            .expect("message")
            .contains("whisper ran out of memory"),
        "{v}"
    );
    report("completed");
    let got = hook.wait_for(2, LONG);
    check_generic(&got[1], "resolved", "transcription_failed");
}

#[test]
#[ignore = "needs root (a small tmpfs mount); .ci/run runs it"]
fn a_database_that_cannot_be_written_is_still_alerted_and_recorded_once_it_can() {
    let disk = crate::support::mounts::SmallDisk::mount("2m");
    let db = disk.path("archivist.db");
    let demo = station(6000);
    let hook = Receiver::start();
    let monitor = Running::monitor(
        &db,
        &demo.api_url(),
        &[],
        &[
            ("ARCHIVIST_NOTIFY_URLS", &hook.url("http", "/hook")),
            ("ARCHIVIST_ALERTS_OFF", "vod_stuck,vod_failed"),
        ],
    );
    let got = hook.wait_for(1, LONG);
    let v = check_generic(&got[0], "firing", "database");
    assert!(
        v["message"].as_str().expect("message").contains("full"),
        "{v}"
    );

    let grown = std::process::Command::new("mount")
        .args(["-o", "remount,size=64m"])
        .arg(disk.dir.path())
        .status()
        .expect("mount runs");
    assert!(grown.success());
    let got = hook.wait_for(2, LONG);
    let resolved = check_generic(&got[1], "resolved", "database");
    assert_eq!(resolved["alert_id"], v["alert_id"]);
    let alert_id = v["alert_id"].as_str().expect("id").to_string();
    assert!(wait_until(LONG, || {
        crate::support::sqlite(&db)
            .query_row("SELECT state FROM alert WHERE id = ?1", [&alert_id], |r| {
                r.get::<_, String>(0)
            })
            .is_ok_and(|state| state == "resolved")
    }));
    drop(monitor);
}

/// The failures a station has before the first pass: firing at once on
/// every surface, told in one message per destination.
fn failures_there_at_start_are_told_once(fault: Fault) {
    let scratch = Scratch::new();
    let demo = station(60);
    demo.set_fault(fault);
    let failed = demo
        .catalogue()
        .vods
        .iter()
        .filter(|v| matches!(v.state.as_str(), "error" | "permanentFailure"))
        .count();
    assert!(failed >= 2, "the demo station has failures: {failed}");
    let first = Receiver::start();
    let second = Receiver::start();
    let urls = format!(
        "{} {}",
        first.url("http", "/hook"),
        second.url("http", "/hook")
    );
    let monitor = Running::monitor(
        &scratch.db(),
        &demo.api_url(),
        &[],
        &[
            ("ARCHIVIST_NOTIFY_URLS", &urls),
            ("ARCHIVIST_ALERTS_OFF", "vod_stuck"),
        ],
    );
    let addr = monitor.status_addr();
    for receiver in [&first, &second] {
        let got = receiver.wait_for(1, LONG);
        let v = check_generic(&got[0], "firing", "vod_failed");
        assert_eq!(
            v["title"],
            format!("{failed} VODs had already failed when monitoring began").as_str(),
            "{v}"
        );
        assert_eq!(v["count"], failed);
        assert_eq!(v["alert_ids"].as_array().expect("alert_ids").len(), failed);
    }
    let (status, body) = get(addr, "/health/publishing");
    assert_eq!(status, 503, "{body}");
    assert_eq!(firing_kinds(&scratch.db()), vec!["vod_failed"; failed]);
    // Never one per VOD, never again.
    wait_cycles(&monitor, cycles(&monitor), 3);
    for receiver in [&first, &second] {
        assert_eq!(receiver.received().len(), 1, "{:#?}", receiver.received());
    }
}

#[test]
fn failures_there_before_the_first_pass_fire_and_are_told_once() {
    failures_there_at_start_are_told_once(Fault::None);
}

#[test]
fn failures_there_at_start_are_told_on_a_server_that_sends_no_total() {
    failures_there_at_start_are_told_once(Fault::CappedPagesWithoutMeta(7));
}

#[test]
fn a_message_refused_for_good_is_recorded_and_the_next_one_goes_at_once() {
    let scratch = Scratch::new();
    let demo = station(20);
    demo.set_fault(Fault::Status(500));
    let hook = Receiver::start();
    hook.answer_next(&[400]);
    let monitor = Running::monitor(
        &scratch.db(),
        &demo.api_url(),
        &[],
        &[
            ("ARCHIVIST_NOTIFY_URLS", &hook.url("http", "/hook")),
            ("ARCHIVIST_ALERT_FIRE_AFTER", "1"),
            ("ARCHIVIST_ALERTS_OFF", "vod_failed,vod_stuck"),
        ],
    );
    let refused = "SELECT count(*) FROM alert_delivery WHERE failed_at IS NOT NULL
        AND attempts = 1 AND last_error = 'HTTP 400: refused'";
    assert!(wait_until(LONG, || number(&scratch.db(), refused) == 1));
    assert_eq!(hook.requests(), 1);
    // The next message is not held behind it: it goes at its first try.
    demo.set_fault(Fault::None);
    let got = hook.wait_for(1, LONG);
    check_generic(&got[0], "resolved", "cablecast_down");
    wait_cycles(&monitor, cycles(&monitor), 2);
    assert_eq!(
        hook.requests(),
        2,
        "the refused message was never sent again"
    );
    assert_eq!(
        number(
            &scratch.db(),
            "SELECT count(*) FROM alert_delivery WHERE delivered_at IS NOT NULL AND attempts = 1"
        ),
        1
    );
    let (_, metrics) = get(monitor.status_addr(), "/metrics");
    assert!(
        metrics.contains("archivist_notifications_refused_total 1"),
        "{metrics}"
    );
    assert!(monitor.log().contains("not retried"), "{}", monitor.log());
}

#[test]
fn the_demo_delivers_its_alerts_and_says_where_they_go() {
    let scratch = Scratch::new();
    let hook = Receiver::start();
    let mut command = crate::support::archivist();
    command
        .arg("--db")
        .arg(scratch.db())
        .args(["demo", "--listen", "127.0.0.1:0", "--interval", "1"])
        .env("ARCHIVIST_NOTIFY_URLS", hook.url("http", "/hook"));
    let demo = Running::start(command);
    demo.wait_for("alerts go to webhook (127.0.0.1)", 1, LONG);
    let got = hook.wait_for(1, LONG);
    let v = check_generic(&got[0], "firing", "vod_failed");
    assert!(
        v["title"]
            .as_str()
            .expect("title")
            .ends_with("had already failed when monitoring began"),
        "{v}"
    );

    // Without a destination it says so, with an example.
    let scratch = Scratch::new();
    let mut command = crate::support::archivist();
    command
        .arg("--db")
        .arg(scratch.db())
        .args(["demo", "--listen", "127.0.0.1:0", "--interval", "1"])
        .env_remove("ARCHIVIST_NOTIFY_URLS");
    let demo = Running::start(command);
    demo.wait_for(
        "sent nowhere: no destination is configured (e.g. ARCHIVIST_NOTIFY_URLS=",
        1,
        LONG,
    );
}

#[test]
fn acknowledged_failures_stop_counting_and_stay_listed_with_who_and_why() {
    let scratch = Scratch::new();
    let demo = station(60);
    let hook = Receiver::start();
    let token = "ack-token-0123456789abcdef";
    let monitor = Running::monitor(
        &scratch.db(),
        &demo.api_url(),
        &[],
        &[
            ("ARCHIVIST_NOTIFY_URLS", &hook.url("http", "/hook")),
            ("ARCHIVIST_ALERTS_OFF", "vod_stuck"),
            ("ARCHIVIST_ADMIN_TOKEN", token),
        ],
    );
    let addr = monitor.status_addr();
    hook.wait_for(1, LONG);
    assert_eq!(get(addr, "/health/publishing").0, 503);
    let failed: Vec<i64> = crate::support::sqlite(&scratch.db())
        .prepare("SELECT CAST(subject AS INTEGER) FROM alert WHERE state = 'firing' AND kind = 'vod_failed' ORDER BY 1")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(failed.len() >= 2);
    // The first by the command line, the rest through the API.
    let first = failed[0].to_string();
    let out = run_on(
        &scratch.db(),
        &[
            "alerts",
            "ack",
            &first,
            "--note",
            "re-encoding by hand",
            "--by",
            "Dana",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("acknowledged by Dana"), "{out:?}");
    let nope = run_on(&scratch.db(), &["alerts", "ack", "999999"]);
    assert_eq!(nope.status.code(), Some(2), "{nope:?}");
    let post = |auth: Option<&str>, body: &str| {
        let mut raw = format!(
            "POST /api/alerts/ack HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        if let Some(token) = auth {
            raw.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        raw.push_str("\r\n");
        raw.push_str(body);
        crate::support::http::exchange(addr, raw.as_bytes())
    };
    assert_eq!(post(None, r#"{"vod":1}"#).0, vec![401]);
    for id in &failed[1..] {
        let (codes, body) = post(Some(token), &format!(r#"{{"vod":{id},"note":"known"}}"#));
        assert_eq!(codes, vec![200], "{body}");
    }
    assert!(wait_until(LONG, || get(addr, "/health/publishing").0 == 200));
    let listed = stdout(&run_on(&scratch.db(), &["alerts", "list"]));
    assert!(
        listed.contains("(acknowledged by Dana at ") && listed.contains(": re-encoding by hand)"),
        "{listed}"
    );
    assert!(
        listed.contains("(acknowledged by the status server API at "),
        "{listed}"
    );
    assert_eq!(
        firing_kinds(&scratch.db()).len(),
        failed.len(),
        "still listed"
    );
}

/// Adds to the demo station two series episodes that aired two days ago and
/// never got a VOD, and a one-off show with no VOD; returns the episodes'
/// ids and the one-off's.
fn missed_episodes(demo: &archivist::demo::DemoStation) -> ([i64; 2], i64) {
    let mut catalogue = demo.catalogue();
    let aired = archivist::clock::unix_now() - 2 * 86_400;
    let missed = [
        catalogue.add_missed_episode(aired),
        catalogue.add_missed_episode(aired),
    ];
    let one_off = catalogue.add_missed_episode(aired);
    let show = catalogue
        .shows
        .iter_mut()
        .find(|s| s.id == one_off)
        .expect("show");
    show.title = "Ribbon cutting at the new library".into();
    show.cg_title = None;
    (missed, one_off)
}

#[test]
fn a_series_show_with_no_vod_fires_once_grouped_shows_everywhere_and_resolves_when_its_vod_comes() {
    let scratch = Scratch::new();
    let demo = station(60);
    let (missed, one_off) = missed_episodes(&demo);
    let hook = Receiver::start();
    let monitor = Running::monitor(
        &scratch.db(),
        &demo.api_url(),
        &[],
        &[
            ("ARCHIVIST_NOTIFY_URLS", &hook.url("http", "/hook")),
            ("ARCHIVIST_ALERTS_OFF", "vod_failed,vod_stuck"),
        ],
    );
    let addr = monitor.status_addr();
    let got = hook.wait_for(1, LONG);
    let v = check_generic(&got[0], "firing", "vod_missing");
    assert_eq!(v["count"], 2, "one message for both: {v}");
    assert_eq!(v["title"], "2 shows aired with no VOD", "{v}");
    for id in missed {
        assert!(
            v["message"]
                .as_str()
                .expect("message")
                .contains(&format!("(show {id})")),
            "{v}"
        );
    }
    assert!(!v["message"].as_str().expect("message").contains("Ribbon"));
    // A few more cycles: nothing more is sent, and the one-off never fires.
    wait_cycles(&monitor, cycles(&monitor), 3);
    assert_eq!(hook.received().len(), 1);
    assert_eq!(firing_kinds(&scratch.db()), ["vod_missing", "vod_missing"]);

    // status, status --json, /metrics, the page.
    let out = run_on(&scratch.db(), &["status", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let status: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    let mut shown: Vec<i64> = status["vod_missing"]
        .as_array()
        .expect("vod_missing")
        .iter()
        .map(|s| s["show"].as_i64().expect("show"))
        .collect();
    shown.sort();
    assert_eq!(shown, missed, "{status}");
    let out = run_on(&scratch.db(), &["status"]);
    let text = stdout(&out);
    assert!(
        text.contains("Aired with no VOD (vod_missing): 2"),
        "{text}"
    );
    assert!(!text.contains(&format!("(show {one_off})")), "{text}");
    let (code, metrics) = get(addr, "/metrics");
    assert_eq!(code, 200);
    assert!(
        metrics.contains("archivist_alerts_firing{kind=\"vod_missing\"} 2"),
        "{metrics}"
    );
    let (_, page) = get(addr, "/");
    assert!(
        page.contains(&format!(r#"<a href="/shows/{}">"#, missed[0])),
        "the page links the show"
    );

    // Its VOD comes at last: that alert resolves, the other fires on.
    demo.catalogue().add_vod(missed[0], "processing");
    let got = hook.wait_for(2, LONG);
    let resolved = check_generic(&got[1], "resolved", "vod_missing");
    assert!(
        resolved["title"]
            .as_str()
            .expect("title")
            .starts_with("Show got a VOD: "),
        "{resolved}"
    );
    assert!(
        resolved["title"]
            .as_str()
            .expect("title")
            .ends_with(&format!("(show {})", missed[0])),
        "{resolved}"
    );
    assert_eq!(firing_kinds(&scratch.db()), ["vod_missing"]);
    let (_, metrics) = get(addr, "/metrics");
    assert!(
        metrics.contains("archivist_alerts_firing{kind=\"vod_missing\"} 1"),
        "{metrics}"
    );
}

#[test]
fn vod_missing_switched_off_never_fires_and_kinds_route_it() {
    let scratch = Scratch::new();
    let demo = station(60);
    missed_episodes(&demo);
    let routed = Receiver::start();
    let elsewhere = Receiver::start();
    let urls = format!(
        "{} {}",
        routed.url("http", "/missing?kinds=vod_missing"),
        elsewhere.url("http", "/other?kinds=cablecast_down"),
    );
    // Switched off: nothing fires, nothing is sent.
    let monitor = Running::monitor(
        &scratch.db(),
        &demo.api_url(),
        &[],
        &[
            ("ARCHIVIST_NOTIFY_URLS", &urls),
            ("ARCHIVIST_ALERTS_OFF", "vod_failed,vod_stuck,vod_missing"),
        ],
    );
    let addr = monitor.status_addr();
    wait_cycles(&monitor, 0, 3);
    assert!(firing_kinds(&scratch.db()).is_empty());
    assert!(routed.received().is_empty());
    let (_, metrics) = get(addr, "/metrics");
    assert!(
        metrics.contains("archivist_alerts_firing{kind=\"vod_missing\"} 0"),
        "{metrics}"
    );
    drop(monitor);
    // Switched on: routed to the destination that takes it, not the other.
    let monitor = Running::monitor(
        &scratch.db(),
        &demo.api_url(),
        &[],
        &[
            ("ARCHIVIST_NOTIFY_URLS", &urls),
            ("ARCHIVIST_ALERTS_OFF", "vod_failed,vod_stuck"),
        ],
    );
    let got = routed.wait_for(1, LONG);
    check_generic(&got[0], "firing", "vod_missing");
    wait_cycles(&monitor, cycles(&monitor), 2);
    assert!(elsewhere.received().is_empty());
}
