//! The status page in a real browser: headless Chromium loads it from a
//! running server, and the figures it shows must equal the database's.
//! Titles and error messages from Cablecast are untrusted: markup in them
//! must arrive as text.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{counts_by_state, sqlite, Scratch};
use crate::web_support::{site, Site};

const CHROMIUM: &str = "/usr/bin/chromium";
const HOSTILE_TITLE: &str = "<img src=x onerror=alert(1)>Council & \"Friends\"";

/// Runs headless Chromium with `args` then `url`; returns its stdout and
/// what it said on stderr.
fn chromium(profile: &Path, args: &[&str], url: &str) -> (String, String) {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)"
    );
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let mut stderr = child.stderr.take().expect("stderr");
    let complaints = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut out);
        out
    });
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut out);
        out
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match child.try_wait().expect("chromium runs") {
            Some(_) => break,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish within 60 s");
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    (
        reader.join().expect("reader"),
        complaints.join().expect("reader"),
    )
}

/// The text of the element with `id`, as the browser rendered it.
fn text_of(dom: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let at = dom
        .find(&marker)
        .unwrap_or_else(|| panic!("no element #{id} in the page"));
    let open_end = at + dom[at..].find('>').expect("tag ends");
    let close = open_end + dom[open_end..].find('<').expect("text ends");
    dom[open_end + 1..close].trim().to_string()
}

fn make_titles_hostile(site: &Site) {
    sqlite(&site.db())
        .execute(
            "UPDATE cablecast_show SET cg_title = ?1 WHERE id IN \
             (SELECT show_id FROM cablecast_vod WHERE vod_state IN ('error', 'permanentFailure'))",
            [HOSTILE_TITLE],
        )
        .expect("update");
}

#[test]
#[ignore = "needs chromium; .ci/run runs it"]
fn the_page_in_a_browser_shows_the_database_figures() {
    let site = site();
    make_titles_hostile(&site);
    let scratch = Scratch::new();
    let url = format!("http://{}/", site.addr());
    let (dom, _) = chromium(&scratch.path("profile"), &["--dump-dom"], &url);
    assert!(dom.contains("VOD publishing"), "{dom}");

    let db = site.db();
    let conn = sqlite(&db);
    let counts = counts_by_state(&db);
    let count = |state: &str| {
        counts
            .iter()
            .find(|(s, _)| s == state)
            .map_or(0, |(_, n)| *n)
    };
    for state in [
        "complete",
        "processing",
        "queued",
        "partial",
        "waiting",
        "unknown",
        "error",
        "permanentFailure",
        "disabled",
    ] {
        assert_eq!(
            text_of(&dom, &format!("count-{state}")),
            count(state).to_string(),
            "{state}"
        );
    }
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    let complete = count("complete");
    assert_eq!(text_of(&dom, "total-vods"), total.to_string());
    assert_eq!(text_of(&dom, "completed-vods"), complete.to_string());
    // Disabled VODs are left out of the percentage, and counted apart.
    let disabled = count("disabled");
    assert_eq!(text_of(&dom, "disabled-vods"), disabled.to_string());
    let expected_sync = (complete as f64 * 10_000.0 / (total - disabled) as f64).round() / 100.0;
    assert_eq!(
        text_of(&dom, "sync-percentage"),
        format!("{expected_sync:.2}")
    );
    let in_flight: i64 = ["unknown", "queued", "processing", "partial", "waiting"]
        .iter()
        .map(|s| count(s))
        .sum();
    assert_eq!(text_of(&dom, "in-flight-count"), in_flight.to_string());
    let failed = count("error") + count("permanentFailure");
    assert_eq!(text_of(&dom, "failed-count"), failed.to_string());
    let shows: i64 = conn
        .query_row("SELECT count(*) FROM cablecast_show", [], |r| r.get(0))
        .expect("count");
    assert_eq!(text_of(&dom, "total-shows"), shows.to_string());
    let transcriptions: i64 = conn
        .query_row("SELECT count(*) FROM transcription_result", [], |r| {
            r.get(0)
        })
        .expect("count");
    assert_eq!(text_of(&dom, "tx-total"), transcriptions.to_string());
    assert_eq!(text_of(&dom, "cablecast-state"), "Cablecast reachable");
    assert_eq!(text_of(&dom, "uptime-24h"), "100.00 % uptime");
    // Every in-flight row the page lists is in flight in the database,
    // oldest first.
    let listed = dom.matches("<tr data-vod=").count() as i64;
    assert!(listed >= in_flight.min(50) + failed.min(50), "{listed}");

    // The hostile title is shown as text, never as markup.
    assert!(failed > 0, "the demo station always has failed VODs");
    assert!(dom.contains("&lt;img src=x onerror=alert(1)&gt;Council &amp; \"Friends\""));
    assert!(
        !dom.contains("<img"),
        "markup from the database reached the page"
    );
}

#[test]
#[ignore = "needs chromium; .ci/run runs it"]
fn the_page_in_a_browser_highlights_stuck_vods_and_says_what_is_partial_or_stale() {
    let scratch = Scratch::new();
    let db = scratch.db();
    let station = crate::support::station(60);
    let api_url = station.api_url();
    let id = station
        .catalogue()
        .vods
        .iter()
        .find(|v| v.state == "complete")
        .map(|v| v.id)
        .expect("a complete VOD");
    let long_ago = archivist::clock::unix_now() - 9 * 86_400;
    station
        .catalogue()
        .set_state(id, "processing", Some(long_ago));
    let out = crate::support::single_run(&db, &api_url, &[]);
    assert!(out.status.success(), "{}", crate::support::stderr(&out));
    // Cablecast goes away; and the database is one whose first catalogue
    // pass a kill interrupted.
    drop(station);
    let _ = crate::support::single_run(&db, &api_url, &[]);
    sqlite(&db)
        .execute(
            "DELETE FROM archivist_meta WHERE key = 'catalogue_complete_at'",
            [],
        )
        .expect("delete");
    let store = std::sync::Arc::new(
        archivist::store::Store::open(&db, archivist::store::Access::ReadOnly).expect("opens"),
    );
    let board = std::sync::Arc::new(archivist::status::StatusBoard::new(store));
    let server =
        archivist::web::StatusServer::start(crate::web_support::web_settings(), board, None)
            .expect("server starts");
    let url = format!("http://{}/", server.addr());
    let (dom, _) = chromium(&scratch.path("profile"), &["--dump-dom"], &url);

    let row = format!(r#"<tr data-vod="{id}" class="stuck">"#);
    assert!(dom.contains(&row), "VOD {id} is not highlighted:\n{dom}");
    let stuck: i64 = text_of(&dom, "stuck-count").parse().expect("a count");
    assert!(stuck >= 1);
    assert!(dom.contains(r#"id="stale-banner""#), "{dom}");
    assert!(dom.contains("Cablecast unreachable since"));
    assert!(dom.contains(r#"id="catalogue-banner""#), "{dom}");
    assert!(dom.contains("The figures cover only part of the station."));
    assert_eq!(text_of(&dom, "cablecast-state"), "Cablecast NOT reachable");

    // The VOD's own page, one click away.
    let (vod_dom, _) = chromium(
        &scratch.path("profile-vod"),
        &["--dump-dom"],
        &format!("{url}vods/{id}"),
    );
    assert_eq!(text_of(&vod_dom, "vod-state"), "processing");
    assert_eq!(text_of(&vod_dom, "vod-stuck"), "stuck");
}

#[test]
#[ignore = "needs chromium; .ci/run runs it"]
fn the_page_renders_at_phone_and_desktop_widths() {
    let site = site();
    let scratch = Scratch::new();
    let url = format!("http://{}/", site.addr());
    for (name, size) in [("desktop.png", "1280,1600"), ("phone.png", "390,2400")] {
        let shot = scratch.path(name);
        let (_, complaints) = chromium(
            &scratch.path(&format!("profile-{name}")),
            &[
                &format!("--screenshot={}", shot.display()),
                &format!("--window-size={size}"),
            ],
            &url,
        );
        let png = std::fs::read(&shot)
            .unwrap_or_else(|e| panic!("no screenshot {name} ({e}); chromium said:\n{complaints}"));
        assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
        assert!(
            png.len() > 10_000,
            "{name} looks blank ({} bytes)",
            png.len()
        );
    }
}
