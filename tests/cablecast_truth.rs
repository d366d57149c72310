//! Archivist against what real Cablecast servers answer: captions Cablecast
//! already has, its reasons for a VOD's state, progress as a fraction, VODs
//! without a state, station-local times, listings without a total from a
//! server capping its pages, verbatim answers of three real stations, and
//! one clear line for the common mistakes in `CABLECAST_API_URL`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use archivist::demo::{DemoStation, Fault};

use crate::support::child::Running;
use crate::support::raw::{RawMode, RawStation, Rewrite};
use crate::support::{
    self, archivist, number, run_on, single_run, sqlite, stderr, stdout, wait_for_cycles, Scratch,
};
use crate::web_support::{self, get};

const PATIENCE: Duration = Duration::from_secs(30);

/// A show of the station with a `complete` VOD, and that VOD's id.
fn published_show(station: &DemoStation) -> (i64, i64) {
    let catalogue = station.catalogue();
    catalogue
        .vods
        .iter()
        .find(|v| v.state == "complete")
        .map(|v| (v.show, v.id))
        .expect("the demo has published VODs")
}

/// Shows served with a `complete` VOD, not captioned by Cablecast.
fn published_uncaptioned(station: &DemoStation) -> usize {
    let catalogue = station.catalogue();
    catalogue
        .shows
        .iter()
        .filter(|s| {
            !s.has_captions
                && catalogue
                    .vods
                    .iter()
                    .any(|v| v.show == s.id && v.state == "complete")
        })
        .count()
}

#[test]
fn a_show_cablecast_already_captions_does_not_need_captions() {
    let mut site = web_support::site_with(40, 0, web_support::web_settings(), false);
    let (show, _) = published_show(&site.station);
    {
        let mut catalogue = site.station.catalogue();
        let captioned = catalogue
            .shows
            .iter_mut()
            .find(|s| s.id == show)
            .expect("the show is served");
        captioned.has_captions = true;
        captioned.caption_provider = Some("VITAC".into());
    }
    site.monitor.cycle();
    let db = site.db();
    let (has, provider): (i64, Option<String>) = sqlite(&db)
        .query_row(
            "SELECT has_captions, caption_provider FROM cablecast_show WHERE cablecast_id = ?1",
            [show],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("the show is stored");
    assert_eq!((has, provider.as_deref()), (1, Some("VITAC")));

    let expected = published_uncaptioned(&site.station);
    let status = get(site.addr(), "/api/status").json();
    let tx = &status["transcriptions"];
    assert_eq!(tx["needs_captions"], expected, "{tx}");
    assert_eq!(tx["captioned_by_cablecast"], 1, "{tx}");
    assert_eq!(tx["captioned_by_transcriptions"], 0, "{tx}");

    let list = run_on(&db, &["transcriptions", "list", "--needs-captions"]);
    assert!(list.status.success(), "{}", stderr(&list));
    assert_eq!(stdout(&list).lines().count(), expected);
    assert!(
        !stdout(&list).contains(&format!("show {show} ")),
        "{}",
        stdout(&list)
    );

    let text = run_on(&db, &["status"]);
    assert!(
        stdout(&text).contains("Captioned shows: 1 by Cablecast, 0 by the station's own"),
        "{}",
        stdout(&text)
    );
    let json: Value =
        serde_json::from_str(&stdout(&run_on(&db, &["status", "--json"]))).expect("status is JSON");
    assert_eq!(json["transcriptions"]["captioned_by_cablecast"], 1);

    let page = get(site.addr(), "/").text();
    assert!(
        page.contains(r#"id="captioned-by-cablecast">1<"#),
        "captioned figure missing"
    );
    assert!(page.contains(&format!(r#"id="tx-needs-captions">{expected}<"#)));
}

#[test]
fn cablecast_reasons_for_a_state_are_kept_and_shown() {
    let mut site = web_support::site_with(40, 0, web_support::web_settings(), false);
    let (waiting, failed) = {
        let mut catalogue = site.station.catalogue();
        let mut ids = catalogue.vods.iter().map(|v| v.id);
        let (waiting, failed) = (
            ids.next().expect("a VOD"),
            ids.next().expect("a second VOD"),
        );
        let vod = catalogue.vod_mut(waiting).expect("served");
        vod.state = "waiting".into();
        vod.status_message = Some("Waiting for captions <from VITAC>".into());
        let vod = catalogue.vod_mut(failed).expect("served");
        vod.state = "error".into();
        vod.error_message = Some("Transcode failed".into());
        vod.status_message = Some("Source file missing on store-3".into());
        (waiting, failed)
    };
    site.monitor.cycle();
    let db = site.db();
    let stored = |id: i64| -> Option<String> {
        sqlite(&db)
            .query_row(
                "SELECT status_message FROM cablecast_vod WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .expect("stored")
    };
    assert_eq!(
        stored(waiting).as_deref(),
        Some("Waiting for captions <from VITAC>")
    );
    assert_eq!(
        stored(failed).as_deref(),
        Some("Source file missing on store-3")
    );

    let api = get(site.addr(), "/api/vods?state=waiting").text();
    assert!(api.contains(&format!("\"id\":{waiting},")), "{api}");
    assert!(
        api.contains(r#""status_message":"Waiting for captions <from VITAC>""#),
        "{api}"
    );

    let page = get(site.addr(), "/").text();
    assert!(
        page.contains("Waiting for captions &lt;from VITAC&gt;"),
        "reason missing from the in-flight list"
    );
    assert!(
        page.contains("Source file missing on store-3"),
        "reason missing from the failed list"
    );
    // A reason is news, not an error: it is not in red; an error is.
    let row = |id: i64| {
        page.split("<tr data-vod=")
            .find(|r| r.starts_with(&format!("\"{id}\"")))
            .map(|r| r[..r.find("</tr>").unwrap_or(r.len())].to_string())
            .unwrap_or_else(|| panic!("VOD {id} is not listed"))
    };
    assert!(
        row(waiting).contains(
            r#"<span class="status-message">Waiting for captions &lt;from VITAC&gt;</span>"#
        ),
        "{}",
        row(waiting)
    );
    assert!(!row(waiting).contains("err"), "{}", row(waiting));
    assert!(
        row(failed).contains(r#"class="err">Transcode failed<"#),
        "{}",
        row(failed)
    );

    let export = run_on(&db, &["export", "vods", "--format", "jsonl"]);
    assert!(export.status.success(), "{}", stderr(&export));
    let row: Value = stdout(&export)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line"))
        .find(|v| v["id"] == waiting)
        .expect("the VOD is exported");
    assert_eq!(row["status_message"], "Waiting for captions <from VITAC>");
}

#[test]
fn progress_is_a_fraction_clamped_with_one_warning_per_vod() {
    let scratch = Scratch::new();
    let station = support::station(20);
    let (over, small) = {
        let mut catalogue = station.catalogue();
        let mut ids = catalogue.vods.iter().map(|v| v.id);
        let (over, small) = (ids.next().expect("a VOD"), ids.next().expect("another"));
        for (id, percent) in [(over, 55.0), (small, 0.01)] {
            let vod = catalogue.vod_mut(id).expect("served");
            vod.state = "processing".into();
            vod.percent = percent;
        }
        (over, small)
    };
    let monitor = Running::monitor(&scratch.db(), &station.api_url(), &[], &[]);
    assert!(
        wait_for_cycles(&scratch.db(), 0, 3, PATIENCE),
        "{}",
        monitor.log()
    );
    let percent = |id: i64| -> f64 {
        sqlite(&scratch.db())
            .query_row(
                "SELECT percent_complete FROM cablecast_vod WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .expect("stored")
    };
    // A fraction always: 55 is clamped to 1, and 0.01 is 1 %, not 100 %.
    assert_eq!(percent(over), 1.0);
    assert_eq!(percent(small), 0.01);
    assert_eq!(
        monitor.count(&format!("percentComplete 55 for VOD {over}")),
        1,
        "{}",
        monitor.log()
    );
}

/// Bodies of the demo station with `vodState` taken off VOD `id`.
fn without_state(id: i64) -> Rewrite {
    Arc::new(move |_path: &str, body: String| {
        let Ok(mut json) = serde_json::from_str::<Value>(&body) else {
            return body;
        };
        let strip = |vod: &mut Value| {
            if vod["id"] == id {
                if let Some(object) = vod.as_object_mut() {
                    object.remove("vodState");
                }
            }
        };
        if let Some(vods) = json.get_mut("vods").and_then(Value::as_array_mut) {
            vods.iter_mut().for_each(strip);
        }
        if let Some(vod) = json.get_mut("vod") {
            strip(vod);
        }
        json.to_string()
    })
}

#[test]
fn a_vod_without_a_state_is_warned_about_once() {
    let scratch = Scratch::new();
    let station = support::station(20);
    let id = station.catalogue().vods[3].id;
    let raw = RawStation::start(RawMode::Forward(station.addr(), Some(without_state(id))));
    let monitor = Running::monitor(&scratch.db(), &raw.api_url(), &[], &[]);
    assert!(
        wait_for_cycles(&scratch.db(), 0, 3, PATIENCE),
        "{}",
        monitor.log()
    );
    let state: String = sqlite(&scratch.db())
        .query_row(
            "SELECT vod_state FROM cablecast_vod WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .expect("stored");
    assert_eq!(state, "unknown");
    assert_eq!(
        monitor.count(&format!("VOD {id} without a vodState")),
        1,
        "{}",
        monitor.log()
    );
}

/// Bodies of the demo station with the offset taken off every show's
/// `eventDate`, and a .NET placeholder as the first show's `lastModified`.
fn station_local_times() -> Rewrite {
    Arc::new(|_path: &str, body: String| {
        let Ok(mut json) = serde_json::from_str::<Value>(&body) else {
            return body;
        };
        if let Some(shows) = json.get_mut("shows").and_then(Value::as_array_mut) {
            for show in shows.iter_mut() {
                if let Some(date) = show["eventDate"].as_str() {
                    show["eventDate"] = Value::from(date.trim_end_matches("-05:00"));
                }
                if show["id"] == 800 {
                    show["lastModified"] = Value::from("0001-01-01T00:00:00");
                }
            }
        }
        json.to_string()
    })
}

fn event_dates(db: &Path) -> Vec<(i64, Option<String>)> {
    let conn = sqlite(db);
    let mut select = conn
        .prepare("SELECT cablecast_id, event_date FROM cablecast_show ORDER BY cablecast_id")
        .expect("prepares");
    let rows = select
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("runs");
    rows.collect::<Result<_, _>>().expect("rows")
}

#[test]
fn times_without_an_offset_are_station_local() {
    let station = support::station(30);
    let with_offsets = Scratch::new();
    let out = single_run(&with_offsets.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));

    let raw = RawStation::start(RawMode::Forward(
        station.addr(),
        Some(station_local_times()),
    ));
    let local = Scratch::new();
    // The demo station keeps Central daylight time (-05:00) all year, as
    // Bogotá does.
    let out = single_run(
        &local.db(),
        &raw.api_url(),
        &[("ARCHIVIST_TIMEZONE", "America/Bogota")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(event_dates(&local.db()), event_dates(&with_offsets.db()));
    assert_eq!(
        number(
            &local.db(),
            "SELECT count(*) FROM cablecast_show WHERE cablecast_id = 800 AND last_modified IS NULL"
        ),
        1,
        "a placeholder date is no date"
    );

    // Unset, the box's own zone counts (here from TZ).
    let boxed = Scratch::new();
    let out = single_run(&boxed.db(), &raw.api_url(), &[("TZ", "America/Bogota")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(event_dates(&boxed.db()), event_dates(&with_offsets.db()));

    let out = single_run(
        &local.db(),
        &raw.api_url(),
        &[("ARCHIVIST_TIMEZONE", "Mars/Olympus_Mons")],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let message = stderr(&out);
    assert_eq!(message.trim().lines().count(), 1, "{message}");
    assert!(
        message.contains("ARCHIVIST_TIMEZONE") && message.contains("Mars/Olympus_Mons"),
        "{message}"
    );
}

fn stored_titles(db: &Path) -> Vec<(i64, String)> {
    let conn = sqlite(db);
    let mut select = conn
        .prepare("SELECT cablecast_id, title FROM cablecast_show ORDER BY cablecast_id")
        .expect("prepares");
    let rows = select
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("runs");
    rows.collect::<Result<_, _>>().expect("rows")
}

fn served_titles(station: &DemoStation) -> Vec<(i64, String)> {
    let catalogue = station.catalogue();
    catalogue
        .shows
        .iter()
        .map(|s| (s.id, s.title.clone()))
        .collect()
}

#[test]
fn a_listing_without_a_total_from_a_server_capping_pages_loses_nothing() {
    let station = support::station(250);
    let scratch = Scratch::new();
    let out = single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stored_titles(&scratch.db()).len(), 250);

    // A server that sends no `meta` and at most 50 items a page, whatever
    // is asked: every show is still listed (the one retitled far past the
    // first page too), and none is removed.
    station.set_fault(Fault::CappedPagesWithoutMeta(50));
    station.catalogue().shows[200].title = "Retitled after the first page".into();
    let out = single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stored_titles(&scratch.db()), served_titles(&station));
    assert_eq!(
        support::stored_vods(&scratch.db()),
        support::served_vods(&station)
    );
    assert!(
        stderr(&out).contains("gives no total"),
        "the log says why nothing is removed: {}",
        stderr(&out)
    );

    // Listed in full from an empty database too.
    let fresh = Scratch::new();
    let out = single_run(&fresh.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stored_titles(&fresh.db()), served_titles(&station));

    // Without a total nothing is removed; with it, what is gone goes.
    let gone = station.catalogue().shows[10].id;
    assert!(station.catalogue().remove_show(gone));
    let out = single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stored_titles(&scratch.db()).len(), 250);
    station.set_fault(Fault::None);
    let out = single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stored_titles(&scratch.db()), served_titles(&station));
}

/// The verbatim answers of three real stations, as (show, VOD) bodies.
fn real_answers() -> Vec<(Value, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cablecast-samples");
    let read = |name: &str| -> Value {
        let text = std::fs::read_to_string(dir.join(name)).expect("sample reads");
        serde_json::from_str(&text).expect("sample is JSON")
    };
    [
        ("urbana_publicsite_show_870", "urbana_publicsite_vod_1207"),
        ("smyrna_publicsite_show_4070", "smyrna_publicsite_vod_2746"),
        (
            "ccx_brooklynpark_publicsite_show_35842",
            "ccx_brooklynpark_publicsite_vod_10386",
        ),
    ]
    .iter()
    .map(|(show, vod)| (read(&format!("{show}.json")), read(&format!("{vod}.json"))))
    .collect()
}

/// A loopback server answering like the real stations: single objects
/// verbatim, listings in the documented envelope, VODs read by id as the
/// verbatim objects. Listed VODs say `processing`, so the refresh reads each
/// verbatim answer. Stops on drop.
struct RealStation {
    server: Arc<tiny_http::Server>,
    worker: Option<std::thread::JoinHandle<()>>,
    url: String,
}

impl RealStation {
    fn start() -> RealStation {
        let answers = real_answers();
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("binds loopback"));
        let addr = server.server_addr().to_ip().expect("an IP address");
        let serving = Arc::clone(&server);
        let worker = std::thread::spawn(move || {
            while let Ok(request) = serving.recv() {
                let url = request.url().to_ascii_lowercase();
                let (path, query) = url.split_once('?').unwrap_or((&url, ""));
                let resource = path.trim_start_matches("/cablecastapi/v1");
                // VODs read by id (`ids[]=...`): the verbatim objects asked for.
                let asked: Vec<String> = query
                    .split('&')
                    .filter_map(|pair| pair.strip_prefix("ids%5b%5d="))
                    .map(str::to_string)
                    .collect();
                let body = match resource {
                    "/vods" if !asked.is_empty() => Some(serde_json::json!({
                        "vods": answers
                            .iter()
                            .filter(|(_, v)| asked.contains(&v["vod"]["id"].to_string()))
                            .map(|(_, v)| v["vod"].clone())
                            .collect::<Vec<_>>(),
                    })),
                    "/shows" => Some(serde_json::json!({
                        "shows": answers.iter().map(|(s, _)| s["show"].clone()).collect::<Vec<_>>(),
                        "meta": {"offset": 0, "pageSize": 100, "count": answers.len()},
                    })),
                    "/vods" => Some(serde_json::json!({
                        "vods": answers.iter().map(|(_, v)| {
                            let mut vod = v["vod"].clone();
                            vod["vodState"] = Value::from("processing");
                            vod["percentComplete"] = Value::from(0.5);
                            vod
                        }).collect::<Vec<_>>(),
                        "meta": {"offset": 0, "pageSize": 100, "count": answers.len()},
                    })),
                    other => answers.iter().find_map(|(show, vod)| {
                        if other == format!("/vods/{}", vod["vod"]["id"]) {
                            Some(vod.clone())
                        } else if other == format!("/shows/{}", show["show"]["id"]) {
                            Some(show.clone())
                        } else {
                            None
                        }
                    }),
                };
                let response = match body {
                    Some(body) => tiny_http::Response::from_string(body.to_string()),
                    None => tiny_http::Response::from_string(r#"{"message":"not found"}"#)
                        .with_status_code(404),
                };
                let _ = request.respond(response);
            }
        });
        RealStation {
            server,
            worker: Some(worker),
            url: format!("http://{addr}/CablecastAPI/v1"),
        }
    }
}

impl Drop for RealStation {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

#[test]
fn real_station_answers_replay_through_the_client_catalogue_and_refresh() {
    let station = RealStation::start();
    let scratch = Scratch::new();
    let out = single_run(&scratch.db(), &station.url, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let conn = sqlite(&scratch.db());
    let mut select = conn
        .prepare(
            "SELECT s.cablecast_id, s.location_id, s.title, s.event_date, s.last_modified,
                s.total_run_time, s.has_captions, s.caption_provider, v.id, v.vod_state,
                v.percent_complete, v.length, v.url, v.status_message, v.error_message,
                v.is_watchable
             FROM cablecast_show s JOIN cablecast_vod v ON v.show_id = s.id ORDER BY s.cablecast_id",
        )
        .expect("prepares");
    type Row = (
        i64,
        i64,
        String,
        Option<String>,
        Option<String>,
        i64,
        i64,
        Option<String>,
        i64,
        String,
        f64,
        i64,
        Option<String>,
        Option<String>,
        Option<String>,
        bool,
    );
    let rows: Vec<Row> = select
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
                r.get(10)?,
                r.get(11)?,
                r.get(12)?,
                r.get(13)?,
                r.get(14)?,
                r.get(15)?,
            ))
        })
        .expect("runs")
        .collect::<Result<_, _>>()
        .expect("rows");
    let summary: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.0,
                r.3.as_deref(),
                r.4.as_deref(),
                r.6,
                r.7.as_deref(),
                r.8,
                r.9.as_str(),
                r.10,
                r.13.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                870,
                Some("2026-08-24T23:30:00Z"),
                Some("2026-08-29T07:00:05Z"),
                0,
                None,
                1207,
                "complete",
                1.0,
                None
            ),
            (
                4070,
                Some("2026-04-06T05:00:00Z"),
                Some("2026-04-08T19:17:48Z"),
                0,
                None,
                2746,
                "complete",
                1.0,
                None
            ),
            (
                35842,
                Some("2024-11-07T21:21:59Z"),
                Some("2025-10-21T23:41:26Z"),
                0,
                None,
                10386,
                "complete",
                1.0,
                None
            ),
        ]
    );
    let urbana = &rows[0];
    assert_eq!(urbana.1, 1);
    assert_eq!(
        urbana.2,
        "City Council Regular meeting - 8/24/2026 6:30:00 PM"
    );
    assert_eq!(urbana.5, 4346);
    assert_eq!(urbana.11, 4346);
    assert_eq!(
        urbana.12.as_deref(),
        Some("https://urbana.cablecast.tv/store-3/870-City-Council-Regular-v1/vod.mp4")
    );
    assert_eq!(urbana.14, None);
    assert!(urbana.15);
    let status: Value =
        serde_json::from_str(&stdout(&run_on(&scratch.db(), &["status", "--json"])))
            .expect("status is JSON");
    assert_eq!(status["completed_vods"], 3);
    assert_eq!(status["transcriptions"]["needs_captions"], 3);
}

/// The last line of a failed run: what the engineer reads.
fn final_line(out: &std::process::Output) -> String {
    stderr(out).lines().last().unwrap_or_default().to_string()
}

#[test]
fn https_against_a_plain_http_server_is_said_before_any_timeout() {
    let station = support::station(5);
    let scratch = Scratch::new();
    let url = format!("https://{}/CablecastAPI/v1", station.addr());
    let out = archivist()
        .arg("--db")
        .arg(scratch.db())
        .args(["monitor", "--single-run", "--http-timeout", "30"])
        .env("CABLECAST_API_URL", &url)
        .output()
        .expect("archivist runs");
    // Said from the server's answer, not after a request timeout: the
    // timeout's own message ("no answer from Cablecast within 30 s") would be
    // the last line.
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let line = final_line(&out);
    assert!(line.contains("answered plain HTTP"), "{line}");
    assert!(line.contains("is the server HTTPS?"), "{line}");
    assert!(
        !stderr(&out).contains("no answer from Cablecast within"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_api_url_without_the_api_root_is_said() {
    let station = support::station(5);
    let scratch = Scratch::new();
    let url = format!("http://{}", station.addr());
    let out = single_run(&scratch.db(), &url, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let line = final_line(&out);
    assert!(line.contains("API root is likely wrong"), "{line}");
    assert!(line.contains(&format!("{url}/CablecastAPI/v1")), "{line}");
}

#[test]
fn an_html_page_is_not_taken_for_the_api() {
    let page = "<!DOCTYPE html>\n<html><head><title>Cablecast\n Login</title></head><body><form></form></body></html>";
    let raw = RawStation::start(RawMode::Answer(200, page.into()));
    let scratch = Scratch::new();
    let out = single_run(&scratch.db(), &raw.api_url(), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let line = final_line(&out);
    assert!(line.contains("answered an HTML page"), "{line}");
    assert!(line.contains("\"Cablecast Login\""), "{line}");
    assert!(line.contains("not the Cablecast API"), "{line}");
}

#[test]
fn html_pages_in_place_of_vods_stop_the_refresh_with_one_line() {
    let station = support::station(30);
    let page: Rewrite = Arc::new(|path: &str, body: String| {
        // The refresh's reads (by id in groups, or one VOD), not the listing.
        let path = path.to_ascii_lowercase();
        if path.contains("/vods/") || (path.contains("/vods?") && path.contains("ids%5b%5d=")) {
            "<!DOCTYPE html><html><head><title>Portal</title></head></html>".to_string()
        } else {
            body
        }
    });
    let raw = RawStation::start(RawMode::Forward(station.addr(), Some(page)));
    let scratch = Scratch::new();
    let out = single_run(&scratch.db(), &raw.api_url(), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        final_line(&out).contains("answered an HTML page (\"Portal\")"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        stderr(&out).matches("will retry next cycle").count(),
        0,
        "not one warning per VOD: {}",
        stderr(&out)
    );
}
