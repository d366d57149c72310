//! The status server's endpoints over real HTTP on loopback: every answer,
//! every error status, the admin token, and that cached answers follow the
//! database at once.

use std::collections::HashMap;
use std::time::Duration;

use archivist::vod::VodState;

use crate::support::counts_by_state;
use crate::web_support::{count_vods, exchange, get, site, site_with, web_settings, TOKEN};

#[test]
fn api_status_is_the_status_report() {
    let site = site();
    let answer = get(site.addr(), "/api/status");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("Content-Type"), Some("application/json"));
    // The report, and whether the monitor runs (its cycle just ran).
    let mut report = site.board.report().expect("report");
    report.note_pulse(&archivist::alert::Pulse::Running);
    let expected = serde_json::to_value(report).expect("json");
    assert_eq!(answer.json(), expected);
    let db_counts: HashMap<String, i64> = counts_by_state(&site.db()).into_iter().collect();
    for (state, n) in answer.json()["by_state"].as_object().expect("by_state") {
        assert_eq!(
            n.as_i64(),
            Some(db_counts.get(state).copied().unwrap_or(0)),
            "{state}"
        );
    }
}

#[test]
fn answers_follow_writes_by_another_process_at_once() {
    let site = site();
    let before = get(site.addr(), "/api/status").json();
    let complete = before["by_state"]["complete"].as_i64().expect("count");
    // The lists are cached too (asked twice: the second is from memory).
    let failed_list = "/api/vods?state=error&limit=1000";
    let failed_before = get(site.addr(), failed_list).json()["total"].as_i64();
    assert_eq!(
        get(site.addr(), failed_list).json()["total"].as_i64(),
        failed_before
    );
    let history_before = get(site.addr(), "/api/history").json();
    // An engineer using the sqlite3 shell marks one VOD failed.
    let conn = crate::support::sqlite(&site.db());
    conn.execute(
        "UPDATE cablecast_vod SET vod_state = 'error' WHERE id = \
         (SELECT min(id) FROM cablecast_vod WHERE vod_state = 'complete')",
        [],
    )
    .expect("update");
    let after = get(site.addr(), "/api/status").json();
    assert_eq!(after["by_state"]["complete"].as_i64(), Some(complete - 1));
    let failed_after = get(site.addr(), failed_list).json()["total"].as_i64();
    assert_eq!(failed_after, failed_before.map(|n| n + 1));
    // A cycle recorded by another process shows in the history at once.
    conn.execute(
        "INSERT INTO monitor_cycle (started_at, finished_at, duration_ms, cablecast_reachable) \
         VALUES (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 1, 1)",
        [],
    )
    .expect("insert");
    let history_after = get(site.addr(), "/api/history").json();
    let cycles = |h: &serde_json::Value| -> i64 {
        h["samples"]
            .as_array()
            .map(|s| s.iter().filter_map(|x| x["cycles"].as_i64()).sum())
            .unwrap_or(0)
    };
    assert_eq!(cycles(&history_after), cycles(&history_before) + 1);
    let metrics = get(site.addr(), "/metrics").text();
    assert!(
        metrics.contains(&format!(
            "archivist_vods{{state=\"complete\"}} {}",
            complete - 1
        )),
        "{metrics}"
    );
}

#[test]
fn vods_are_paged_and_filtered() {
    let site = site();
    let all = get(site.addr(), "/api/vods").json();
    assert_eq!(all["total"].as_i64(), Some(count_vods(&site.db(), None)));
    assert_eq!(all["limit"].as_i64(), Some(100));
    let page = get(site.addr(), "/api/vods?limit=7&offset=3").json();
    let ids: Vec<i64> = page["vods"]
        .as_array()
        .expect("list")
        .iter()
        .map(|v| v["id"].as_i64().expect("id"))
        .collect();
    let first_ten: Vec<i64> = all["vods"].as_array().expect("list")[3..10]
        .iter()
        .map(|v| v["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids, first_ten);
    for state in VodState::KNOWN {
        let name = state.as_str();
        let answer = get(site.addr(), &format!("/api/vods?state={name}&limit=1000")).json();
        let expected = count_vods(&site.db(), Some(name));
        assert_eq!(answer["total"].as_i64(), Some(expected), "{name}");
        let listed = answer["vods"].as_array().expect("list");
        assert_eq!(listed.len() as i64, expected.min(1000), "{name}");
        assert!(listed.iter().all(|v| v["state"] == name), "{name}");
    }
    let failed = get(site.addr(), "/api/vods?state=error&limit=1").json();
    if let Some(vod) = failed["vods"].get(0) {
        assert!(vod["error_message"].is_string(), "{vod}");
        assert!(vod["show_title"].is_string(), "{vod}");
    }
}

#[test]
fn history_health_metrics_and_badge() {
    let site = site();
    for range in ["24h", "7d", "30d"] {
        let history = get(site.addr(), &format!("/api/history?range={range}")).json();
        assert_eq!(history["range"], range);
        let samples = history["samples"].as_array().expect("samples");
        let cycles: i64 = samples
            .iter()
            .map(|s| s["cycles"].as_i64().expect("n"))
            .sum();
        assert_eq!(cycles, 2, "{range}: {history}");
        assert_eq!(history["uptime_percentage"].as_f64(), Some(100.0));
    }
    let health = get(site.addr(), "/healthz");
    assert_eq!(health.status, 200, "{}", health.text());
    assert!(health.text().starts_with("ok: "), "{}", health.text());

    let badge = get(site.addr(), "/badge.svg");
    assert_eq!(badge.header("Content-Type"), Some("image/svg+xml"));
    let report = site.board.report().expect("report");
    assert!(
        badge
            .text()
            .contains(&format!("{:.1} %", report.sync_percentage)),
        "{}",
        badge.text()
    );
}

#[test]
fn metrics_parse_as_prometheus_text() {
    let site = site();
    let answer = get(site.addr(), "/metrics");
    assert_eq!(answer.status, 200);
    assert!(answer
        .header("Content-Type")
        .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")));
    let text = answer.text();
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid exposition");
    let value = |name: &str, label: Option<(&str, &str)>| -> f64 {
        let sample = scrape
            .samples
            .iter()
            .find(|s| s.metric == name && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
            .unwrap_or_else(|| panic!("{name} {label:?} missing:\n{text}"));
        match sample.value {
            prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Untyped(v) => v,
            ref other => panic!("{name}: unexpected {other:?}"),
        }
    };
    let db: HashMap<String, i64> = counts_by_state(&site.db()).into_iter().collect();
    for state in VodState::KNOWN {
        let name = state.as_str();
        assert_eq!(
            value("archivist_vods", Some(("state", name))) as i64,
            db.get(name).copied().unwrap_or(0),
            "{name}"
        );
    }
    let report = site.board.report().expect("report");
    assert_eq!(
        value("archivist_sync_percentage", None),
        report.sync_percentage
    );
    assert_eq!(value("archivist_shows", None) as u64, report.total_shows);
    assert_eq!(
        value("archivist_transcriptions", None) as u64,
        report.transcriptions.total
    );
    let cycle = report.last_cycle.expect("a cycle ran");
    assert_eq!(
        value("archivist_cycle_http_calls", None) as i64,
        cycle.http_calls
    );
    assert_eq!(
        value("archivist_cycle_sql_statements", None) as i64,
        cycle.sql_statements
    );
    assert!(value("archivist_cycle_duration_seconds", None) >= 0.0);
    assert_eq!(value("archivist_cablecast_up", None), 1.0);
    assert!(value("archivist_cache_hits_total", None) >= 0.0);
    assert!(value("archivist_cache_misses_total", None) >= 1.0);
    let last_success = value("archivist_last_success_timestamp_seconds", None) as i64;
    assert!((archivist::clock::unix_now() - last_success).abs() < 120);
}

#[test]
fn errors_have_their_status_and_a_short_body() {
    let site = site();
    let addr = site.addr();
    let cases: &[(&str, u16)] = &[
        ("GET /no/such/page HTTP/1.1", 404),
        ("GET /api/sync-now HTTP/1.1", 404),
        ("POST /api/sync-now HTTP/1.1", 404),
        ("POST /api/status HTTP/1.1", 405),
        ("DELETE / HTTP/1.1", 405),
        ("GET /api/vods?state=completed HTTP/1.1", 400),
        ("GET /api/vods?limit=0 HTTP/1.1", 400),
        ("GET /api/vods?limit=5000 HTTP/1.1", 400),
        ("GET /api/vods?offset=-4 HTTP/1.1", 400),
        ("GET /api/vods?state=%zz HTTP/1.1", 400),
        ("GET /api/history?range=1y HTTP/1.1", 400),
    ];
    for (head, status) in cases {
        let answer = exchange(addr, head, b"");
        assert_eq!(answer.status, *status, "{head}: {}", answer.text());
        assert!(answer.body.len() < 200, "{head}: {}", answer.text());
        assert!(answer.text().ends_with('\n'));
    }
    let refused = exchange(addr, "PUT /metrics HTTP/1.1", b"");
    assert_eq!(refused.header("Allow"), Some("GET, HEAD"));
    // Oversize head: one header of 16 KiB.
    let big = format!("GET / HTTP/1.1\r\nX-Filler: {}", "a".repeat(16 * 1024));
    assert_eq!(exchange(addr, &big, b"").status, 431);
    // The server is still fine after all of that.
    assert_eq!(get(addr, "/api/status").status, 200);
}

#[test]
fn sync_now_needs_the_admin_token_and_wakes_the_monitor() {
    let site = site_with(40, 1, web_settings(), true);
    let addr = site.addr();
    let wake = site.wake.as_ref().expect("wake channel");
    let no_token = exchange(addr, "POST /api/sync-now HTTP/1.1", b"");
    assert_eq!(no_token.status, 401);
    assert!(no_token
        .header("WWW-Authenticate")
        .is_some_and(|v| v.starts_with("Bearer")));
    let wrong = exchange(
        addr,
        "POST /api/sync-now HTTP/1.1\r\nAuthorization: Bearer test-admin-token-0123456788",
        b"",
    );
    assert_eq!(wrong.status, 401);
    assert!(!wrong.text().contains(TOKEN));
    assert!(wake.try_recv().is_err(), "nothing may wake the monitor yet");

    let authorized = format!("POST /api/sync-now HTTP/1.1\r\nAuthorization: Bearer {TOKEN}");
    let get_instead = format!("GET /api/sync-now HTTP/1.1\r\nAuthorization: Bearer {TOKEN}");
    assert_eq!(exchange(addr, &get_instead, b"").status, 405);
    let big = vec![b'x'; 100 * 1024];
    assert_eq!(exchange(addr, &authorized, &big).status, 413);
    let accepted = exchange(addr, &authorized, b"{}");
    assert_eq!(accepted.status, 202, "{}", accepted.text());
    wake.recv_timeout(Duration::from_secs(2))
        .expect("the monitor is woken");
    // A second request while one wake-up waits is accepted too.
    assert_eq!(exchange(addr, &authorized, b"").status, 202);
    assert_eq!(exchange(addr, &authorized, b"").status, 202);
}

#[test]
fn healthz_fails_without_a_recent_cycle() {
    let site = site_with(10, 0, web_settings(), false);
    let health = get(site.addr(), "/healthz");
    assert_eq!(health.status, 503);
    assert!(
        health.text().contains("no monitoring cycle"),
        "{}",
        health.text()
    );
    let conn = crate::support::sqlite(&site.db());
    conn.execute(
        "INSERT INTO monitor_cycle (started_at, finished_at, duration_ms, cablecast_reachable) \
         VALUES ('2020-01-01T00:00:00Z', '2020-01-01T00:00:01Z', 1, 1)",
        [],
    )
    .expect("insert");
    let health = get(site.addr(), "/healthz");
    assert_eq!(health.status, 503);
    assert!(
        health.text().contains("last monitoring cycle"),
        "{}",
        health.text()
    );
    // The page and the API still answer without history.
    assert_eq!(get(site.addr(), "/").status, 200);
    assert_eq!(get(site.addr(), "/metrics").status, 200);
}

#[test]
fn the_in_flight_list_is_every_vod_not_in_a_terminal_state() {
    let site = site();
    let conn = crate::support::sqlite(&site.db());
    // A state Cablecast might add one day is in flight too.
    conn.execute(
        "UPDATE cablecast_vod SET vod_state = 'transcoding' WHERE id = (SELECT max(id) FROM cablecast_vod)",
        [],
    )
    .expect("update");
    let mut expected: Vec<i64> = conn
        .prepare(
            "SELECT id FROM cablecast_vod \
             WHERE vod_state NOT IN ('complete', 'error', 'permanentFailure', 'disabled')",
        )
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let listed = site
        .board
        .store()
        .in_flight_entries(10_000)
        .expect("listed");
    let mut ids: Vec<i64> = listed.iter().map(|e| e.id).collect();
    let times: Vec<&str> = listed
        .iter()
        .filter_map(|e| e.state_changed_at.as_deref())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    ids.sort();
    expected.sort();
    assert!(expected.len() > 1);
    assert_eq!(ids, expected);
}

#[test]
fn transcription_jobs_report_results_behind_the_admin_token() {
    let site = site_with(20, 1, web_settings(), true);
    let addr = site.addr();
    let head = format!("POST /api/transcriptions HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json");
    let report = br#"{"video": "/srv/video/council-2026-08-24.mp4", "output": "/srv/video/council-2026-08-24.scc"}"#;
    assert_eq!(
        exchange(addr, "POST /api/transcriptions HTTP/1.1", report).status,
        401
    );
    let created = exchange(addr, &head, report);
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json()["id"].as_str().expect("id").to_string();
    let failed =
        br#"{"video": "/srv/video/zoning.mp4", "status": "failed", "error": "no audio track"}"#;
    assert_eq!(exchange(addr, &head, failed).status, 201);
    for bad in [
        &b"not json"[..],
        br#"{"video": "relative/path.mp4"}"#,
        br#"{"video": "/a.mp4", "status": "done"}"#,
    ] {
        let answer = exchange(addr, &head, bad);
        assert_eq!(answer.status, 400, "{}", String::from_utf8_lossy(bad));
    }
    let conn = crate::support::sqlite(&site.db());
    let (status, output): (String, String) = conn
        .query_row(
            "SELECT status, output_path FROM transcription_result WHERE id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("row");
    assert_eq!(
        (status.as_str(), output.as_str()),
        ("completed", "/srv/video/council-2026-08-24.scc")
    );
    // The status JSON counts them at once.
    let status = get(addr, "/api/status").json();
    assert_eq!(status["transcriptions"]["total"], 2);
    assert_eq!(status["transcriptions"]["failed"], 1);
}
