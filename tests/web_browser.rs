//! The status page in a real browser: headless Chromium loads it from a
//! running server, and the figures it shows must equal the database's.
//! Titles and error messages from Cablecast are untrusted: markup in them
//! must arrive as text. Its layout is measured in the browser over
//! WebDriver (Debian's chromium-driver): every page fits a phone's width,
//! and the sync figure is on the first screen of a phone and a laptop.

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

/// Debian's WebDriver for its chromium (package chromium-driver).
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A phone (an iPhone 12 to 15's CSS pixels) and a small laptop.
const PHONE: Screen = Screen {
    name: "phone",
    width: 390,
    height: 844,
    mobile: true,
};
const DESKTOP: Screen = Screen {
    name: "desktop",
    width: 1280,
    height: 800,
    mobile: false,
};

/// A viewport the layout must work at.
#[derive(Clone, Copy)]
struct Screen {
    name: &'static str,
    width: u32,
    height: u32,
    mobile: bool,
}

/// One headless chromium driven over WebDriver (chromedriver on a loopback
/// port): the test measures the layout with script of its own; the page
/// has none. The session and the driver end when this drops.
struct Browser {
    driver: std::process::Child,
    base: String,
    session: String,
}

impl Browser {
    fn start(profile: &Path) -> Browser {
        for program in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: install Debian's chromium and chromium-driver"
            );
        }
        // A free loopback port for the driver.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut browser = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !browser
            .call("GET", "/status", None)
            .is_some_and(|v| v["value"]["ready"] == true)
        {
            assert!(Instant::now() < deadline, "chromedriver did not get ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        let session = browser
            .call(
                "POST",
                "/session",
                Some(serde_json::json!({"capabilities": {"alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": CHROMIUM,
                        "args": [
                            "--headless", "--no-sandbox", "--disable-gpu",
                            "--disable-dev-shm-usage", "--hide-scrollbars",
                            "--disable-background-networking", "--no-first-run",
                            format!("--user-data-dir={}", profile.display()),
                        ],
                    },
                }}})),
            )
            .expect("a session starts");
        browser.session = session["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {session}"))
            .to_string();
        browser
    }

    /// One WebDriver command; `None` when the driver does not answer yet.
    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Option<serde_json::Value> {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => minreq::get(url),
            "DELETE" => minreq::delete(url),
            _ => minreq::post(url).with_body(body.unwrap_or_default().to_string()),
        };
        let answer = request
            .with_header("Content-Type", "application/json")
            .with_timeout(60)
            .send()
            .ok()?;
        serde_json::from_slice(answer.as_bytes()).ok()
    }

    fn command(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let path = format!("/session/{}{path}", self.session);
        let answer = self
            .call("POST", &path, Some(body))
            .unwrap_or_else(|| panic!("chromedriver did not answer {path}"));
        assert!(answer["value"].get("error").is_none(), "{path}: {answer}");
        answer["value"].clone()
    }

    /// Shows pages as `screen` shows them (a phone's viewport, scale and
    /// meta viewport handling, or a desktop's).
    fn emulate(&self, screen: Screen) {
        self.command(
            "/goog/cdp/execute",
            serde_json::json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": {
                "width": screen.width, "height": screen.height,
                "deviceScaleFactor": 1, "mobile": screen.mobile,
            }}),
        );
    }

    fn open(&self, url: &str) {
        self.command("/url", serde_json::json!({ "url": url }));
    }

    /// Runs `script` in the page and returns what it returns.
    fn measure(&self, script: &str) -> serde_json::Value {
        self.command(
            "/execute/sync",
            serde_json::json!({ "script": script, "args": [] }),
        )
    }

    /// A PNG of the viewport.
    fn screenshot(&self) -> Vec<u8> {
        let path = format!("/session/{}/screenshot", self.session);
        let answer = self.call("GET", &path, None).expect("a screenshot");
        decode_base64(answer["value"].as_str().expect("base64 text"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn decode_base64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut bits, mut count) = (0u32, 0);
    for byte in text
        .bytes()
        .filter(|b| *b != b'=' && !b.is_ascii_whitespace())
    {
        let value = ALPHABET
            .iter()
            .position(|a| *a == byte)
            .expect("base64 text") as u32;
        bits = bits << 6 | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

/// What the layout checks read from a loaded page: how wide the document
/// is against the viewport, every table wider than its box (columns off
/// screen with nothing hinting at them), and where the sync figure sits.
const LAYOUT: &str = r#"
const figure = document.getElementById('sync-percentage');
const hidden = [...document.querySelectorAll('.scroll')]
  .filter(box => box.offsetParent !== null && box.scrollWidth > box.clientWidth + 1)
  .map(box => (box.querySelector('table') || box).id || box.innerHTML.slice(0, 80));
return {
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
  innerHeight: window.innerHeight,
  hidden: hidden,
  figureTop: figure ? figure.getBoundingClientRect().top : null,
  figureBottom: figure ? figure.getBoundingClientRect().bottom : null,
};
"#;

/// Firing and resolved alerts as a station collects them over a week, and
/// Cablecast's long words (an unbroken path in an error message).
fn make_the_station_busy(site: &Site) {
    let conn = sqlite(&site.db());
    conn.execute_batch(
        "UPDATE cablecast_vod SET error_message =
             'Upload to store-3 failed: /mnt/store-3/vod/870-City-Council-Regular-Meeting-2026-08-24-final-v2/vod.mp4 is not writable (EACCES)'
         WHERE vod_state = 'error';",
    )
    .expect("long errors");
    for n in 0..8 {
        conn.execute(
            "INSERT INTO alert (id, kind, subject, state, title, detail, fired_at)
             VALUES (?1, 'vod_stuck', ?2, 'firing', ?3, 'processing for 9 d 4 h', '2026-12-01T10:00:00Z')",
            rusqlite::params![format!("busy-{n}"), format!("vod {n}"), format!("VOD {n} stuck in processing")],
        )
        .expect("a firing alert");
    }
    for n in 0..20 {
        conn.execute(
            "INSERT INTO alert (id, kind, subject, state, title, fired_at, resolved_at)
             VALUES (?1, 'cablecast_down', 'cablecast', 'resolved', 'Cablecast unreachable: connection refused (is it running?)',
                     '2026-12-01T10:00:00Z', '2026-12-01T10:05:00Z')",
            [format!("churn-{n}")],
        )
        .expect("a resolved alert");
    }
}

#[test]
#[ignore = "needs chromium and chromium-driver; .ci/run runs it"]
fn every_page_fits_a_phone_and_the_sync_figure_is_on_the_first_screen() {
    let site = site();
    make_titles_hostile(&site);
    make_the_station_busy(&site);
    let db = site.db();
    let id_of = |sql: &str| crate::support::number(&db, sql);
    let failed = id_of("SELECT min(id) FROM cablecast_vod WHERE vod_state = 'error'");
    let vod = id_of("SELECT min(id) FROM cablecast_vod WHERE vod_state = 'processing'");
    let show = id_of(
        "SELECT show_cablecast_id FROM cablecast_vod WHERE vod_state = 'error' ORDER BY id LIMIT 1",
    );
    assert!(failed > 0 && vod > 0 && show > 0);
    let base = format!("http://{}", site.addr());
    let pages = [
        ("the front page", "/".to_string()),
        ("the VOD list", "/vods".to_string()),
        ("a VOD", format!("/vods/{vod}")),
        ("a show", format!("/shows/{show}")),
        ("a failed VOD", format!("/vods/{failed}")),
    ];
    let scratch = Scratch::new();
    let browser = Browser::start(&scratch.path("profile"));
    for screen in [PHONE, DESKTOP] {
        browser.emulate(screen);
        for (what, path) in &pages {
            browser.open(&format!("{base}{path}"));
            let layout = browser.measure(LAYOUT);
            let number = |key: &str| layout[key].as_f64().unwrap_or(f64::NAN);
            assert_eq!(
                number("innerWidth"),
                f64::from(screen.width),
                "{what} on a {}: {layout}",
                screen.name
            );
            assert!(
                number("scrollWidth") <= number("innerWidth"),
                "{what} on a {} is wider than the screen: {layout}",
                screen.name
            );
            if screen.mobile {
                assert_eq!(
                    layout["hidden"],
                    serde_json::json!([]),
                    "{what} on a phone hides columns off screen: {layout}"
                );
            }
            if path == "/" {
                assert!(
                    number("figureTop") >= 0.0
                        && number("figureBottom") <= f64::from(screen.height),
                    "the sync figure is not on a {}'s first screen: {layout}",
                    screen.name
                );
            }
        }
    }
    // The alerts as laid out: five firing ones first, the other three and
    // the churn folded.
    browser.emulate(PHONE);
    browser.open(&format!("{base}/"));
    let alerts = browser.measure(
        "const shown = (selector) => [...document.querySelectorAll(selector)]
             .filter(e => e.checkVisibility()).length;
         return { firing: shown('#alerts li'),
                  more: document.querySelector('#alerts-firing-more summary').textContent,
                  churn: document.querySelector('#alerts-history summary').textContent,
                  churnShown: shown('#alerts-history tr') };",
    );
    assert_eq!(alerts["firing"], 5, "{alerts}");
    assert_eq!(alerts["more"], "3 more firing", "{alerts}");
    assert_eq!(alerts["churn"], "Recent history: 20 resolved", "{alerts}");
    assert_eq!(alerts["churnShown"], 0, "{alerts}");
    let png = browser.screenshot();
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
}
