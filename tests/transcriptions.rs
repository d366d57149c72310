//! Transcription results: scanning real directory trees, reports from jobs,
//! linking to a demo station's shows, and the figures on the status report.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::os::unix::fs::symlink;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, UNIX_EPOCH};

use archivist::demo::{DemoShow, DemoStation, DemoVod};
use archivist::store::{Access, Store};
use archivist::transcription::{self, RecordError, TranscriptionReport};

use crate::support::run_on;
use crate::support::{self, archivist, sqlite, stderr, stdout, Scratch};

/// 2026-08-24T23:30:00Z: a council meeting's end, as a file time.
const MEETING_END: u64 = 1_787_614_200;

/// Writes `text` to `path`, creating folders.
fn put(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().expect("has a parent")).expect("folder created");
    fs::write(path, text).expect("file written");
}

fn set_mtime(path: &Path, unix: u64) {
    File::options()
        .write(true)
        .open(path)
        .expect("file opens")
        .set_modified(UNIX_EPOCH + Duration::from_secs(unix))
        .expect("mtime set");
}

/// `archivist --db DB transcriptions ARGS...`.
fn transcriptions(db: &Path, args: &[&str]) -> Output {
    archivist()
        .arg("--db")
        .arg(db)
        .arg("transcriptions")
        .args(args)
        .output()
        .expect("archivist runs")
}

fn scan(db: &Path, dirs: &[&Path]) -> Output {
    archivist()
        .arg("--db")
        .arg(db)
        .args(["transcriptions", "scan"])
        .args(dirs)
        .output()
        .expect("archivist runs")
}

/// One stored result as the tests compare it.
#[derive(Debug, Clone, PartialEq)]
struct Stored {
    video: String,
    status: String,
    completed_at: Option<String>,
    removed_at: Option<String>,
    error: Option<String>,
    show: Option<i64>,
    linked_by: Option<String>,
}

/// Every result, keyed by output path (video path when there is none).
fn stored(db: &Path) -> BTreeMap<String, Stored> {
    let conn = sqlite(db);
    let mut select = conn
        .prepare(
            "SELECT coalesce(t.output_path, t.video_path), t.video_path, t.status, t.completed_at,
                    t.removed_at, t.error, s.cablecast_id, t.linked_by
             FROM transcription_result t LEFT JOIN cablecast_show s ON s.id = t.show_id",
        )
        .expect("query prepares");
    let rows = select
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                Stored {
                    video: row.get(1)?,
                    status: row.get(2)?,
                    completed_at: row.get(3)?,
                    removed_at: row.get(4)?,
                    error: row.get(5)?,
                    show: row.get(6)?,
                    linked_by: row.get(7)?,
                },
            ))
        })
        .expect("query runs");
    rows.collect::<Result<_, _>>().expect("rows read")
}

fn status_json(db: &Path) -> serde_json::Value {
    let out = run_on(db, &["status", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).expect("status is JSON")
}

fn text(path: &Path) -> String {
    path.to_str().expect("test paths are UTF-8").to_string()
}

/// Whether this process can read a folder whose mode is 000 (root can).
fn reads_past_permissions(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok()
}

#[test]
fn scan_records_odd_names_and_follows_links_without_looping() {
    let scratch = Scratch::new();
    let real = scratch.path("storage");
    let outside = scratch.path("elsewhere");
    put(&real.join("Council 2026-08-24.mp4"), "video");
    put(&real.join("Council 2026-08-24.scc"), "Scenarist_SCC V1.0\n");
    set_mtime(&real.join("Council 2026-08-24.scc"), MEETING_END);
    let odd = "Ünïcödé ‘quoted’ \"name\" it's.vtt";
    put(&real.join(odd), "WEBVTT\n");
    put(&real.join("School Board.mp4"), "proxy");
    put(&real.join("School Board.mxf"), "master");
    put(&real.join("School Board.en.vtt"), "WEBVTT\n");
    put(&real.join("UPPER CASE.SRT"), "1\n");
    put(&real.join("notes.txt"), "not a caption");
    put(&real.join("sub/deep/nested.scc"), "x");
    put(&outside.join("target.scc"), "x");
    put(&outside.join("dir/remote.scc"), "x");
    symlink(outside.join("target.scc"), real.join("linked file.scc")).expect("symlink");
    symlink(outside.join("dir"), real.join("linked dir")).expect("symlink");
    symlink(&real, real.join("sub/loop to top")).expect("symlink");
    symlink(real.join("sub"), real.join("second path to sub")).expect("symlink");
    symlink(real.join("missing.scc"), real.join("dangling.scc")).expect("symlink");
    let _socket = UnixListener::bind(real.join("socket.scc")).expect("socket file");
    // The scan is given the storage through a link (as a mount point often
    // is): paths must stay as reached through it.
    let mount = scratch.path("mount");
    symlink(&real, &mount).expect("symlink");

    let out = scan(&scratch.db(), &[&mount]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let report = stdout(&out);
    let results = stored(&scratch.db());
    let m = text(&mount);
    let expected: BTreeMap<String, String> = [
        ("Council 2026-08-24.scc", "Council 2026-08-24.mp4"),
        (odd, "Ünïcödé ‘quoted’ \"name\" it's"),
        ("School Board.en.vtt", "School Board.mxf"),
        ("UPPER CASE.SRT", "UPPER CASE"),
        ("sub/deep/nested.scc", "sub/deep/nested"),
        ("linked file.scc", "linked file"),
        ("linked dir/remote.scc", "linked dir/remote"),
    ]
    .into_iter()
    .map(|(output, video)| (format!("{m}/{output}"), format!("{m}/{video}")))
    .collect();
    let found: BTreeMap<String, String> = results
        .iter()
        .map(|(output, r)| (output.clone(), r.video.clone()))
        .collect();
    assert_eq!(found, expected, "{report}");
    let council = &results[&format!("{m}/Council 2026-08-24.scc")];
    assert_eq!(council.status, "completed");
    assert_eq!(
        council.completed_at.as_deref(),
        Some("2026-08-24T23:30:00Z")
    );
    assert!(
        report.contains("dangling.scc: broken symbolic link"),
        "{report}"
    );
    assert!(
        report.contains("socket.scc: not a regular file"),
        "{report}"
    );
    assert!(report.contains("7 caption files, 7 new"), "{report}");
}

#[test]
fn unreadable_folders_are_reported_and_their_files_kept() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = Scratch::new();
    let root = scratch.path("storage");
    put(&root.join("open/a.scc"), "x");
    put(&root.join("locked/b.scc"), "x");
    let out = scan(&scratch.db(), &[&root]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stored(&scratch.db()).len(), 2);

    let locked = root.join("locked");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).expect("chmod");
    let out = scan(&scratch.db(), &[&root]);
    let report = stdout(&out);
    let results = stored(&scratch.db());
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).expect("chmod back");
    assert!(out.status.success(), "{}", stderr(&out));
    if reads_past_permissions(&locked) && report.contains("0 skipped") {
        // Running as root (as CI does), mode 000 does not stop reads, so
        // there is nothing unreadable to report here; broken links and
        // sockets cover "reported and skipped" in the test above.
    } else {
        assert!(report.contains("locked: cannot read folder"), "{report}");
    }
    // Either way, a file in a folder that could not be read is not "removed".
    let b = &results[&format!("{}/locked/b.scc", text(&root))];
    assert_eq!(b.removed_at, None, "{report}");
}

#[test]
fn rescans_add_new_update_changed_and_mark_removed_files() {
    let scratch = Scratch::new();
    let root = scratch.path("vod");
    for n in 0..5 {
        put(&root.join(format!("meeting {n}.scc")), "x");
    }
    assert!(scan(&scratch.db(), &[&root]).status.success());
    let again = scan(&scratch.db(), &[&root]);
    assert!(
        stdout(&again).contains("5 caption files, 0 new, 0 changed, 5 unchanged, 0 marked removed"),
        "{}",
        stdout(&again)
    );

    put(&root.join("meeting 0.scc"), "longer now");
    fs::remove_file(root.join("meeting 1.scc")).expect("removed");
    put(&root.join("meeting 5.scc"), "x");
    let third = scan(&scratch.db(), &[&root]);
    assert!(
        stdout(&third).contains("5 caption files, 1 new, 1 changed, 3 unchanged, 1 marked removed"),
        "{}",
        stdout(&third)
    );
    let results = stored(&scratch.db());
    assert_eq!(results.len(), 6, "a removed file keeps its row");
    let gone = &results[&format!("{}/meeting 1.scc", text(&root))];
    assert!(gone.removed_at.is_some());
    assert_eq!(status_json(&scratch.db())["transcriptions"]["total"], 5);

    // A storage mount that is missing marks nothing removed, and says so.
    let unmounted = scratch.path("not mounted");
    let out = scan(&scratch.db(), &[&root, &unmounted]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("not scanned"), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("0 marked removed"),
        "{}",
        stdout(&out)
    );

    // The file comes back: the row is current again.
    put(&root.join("meeting 1.scc"), "x");
    let out = scan(&scratch.db(), &[&root]);
    assert!(stdout(&out).contains("1 changed"), "{}", stdout(&out));
    let back = &stored(&scratch.db())[&format!("{}/meeting 1.scc", text(&root))];
    assert_eq!(back.removed_at, None);
}

#[test]
fn thousands_of_files_are_scanned_in_one_pass() {
    let scratch = Scratch::new();
    let root = scratch.path("big");
    let (folders, per_folder) = (40, 75);
    for f in 0..folders {
        let dir = root.join(format!("2026/{:02}/show {f}", f % 12 + 1));
        fs::create_dir_all(&dir).expect("folder");
        for n in 0..per_folder {
            fs::write(dir.join(format!("clip {n}.mp4")), "").expect("video");
            fs::write(dir.join(format!("clip {n}.scc")), "").expect("caption");
        }
    }
    let out = scan(&scratch.db(), &[&root]);
    assert!(out.status.success(), "{}", stderr(&out));
    let total = folders * per_folder;
    assert!(
        stdout(&out).contains(&format!("{total} caption files, {total} new")),
        "{}",
        stdout(&out)
    );
    let json = status_json(&scratch.db());
    assert_eq!(json["transcriptions"]["total"], total);
    assert_eq!(json["transcriptions"]["unlinked"], total);
    let recent = json["transcriptions"]["recent"]
        .as_array()
        .expect("recent is a list");
    assert_eq!(recent.len(), 10);
}

#[test]
fn reports_are_validated_and_failures_counted() {
    let scratch = Scratch::new();
    let store = Store::open(&scratch.db(), Access::ReadWrite).expect("opens");
    let report = |video: &str, output: Option<&str>, status: &str, error: Option<&str>| {
        TranscriptionReport {
            video: video.into(),
            output: output.map(str::to_string),
            status: status.into(),
            error: error.map(str::to_string),
        }
    };
    let refused = [
        report("", None, "completed", None),
        report("relative/council.mp4", None, "completed", None),
        report("/vod/a.mp4", Some("/vod/a\n.scc"), "completed", None),
        report("/vod/a.mp4", None, "done", None),
        report("/vod/a.mp4", None, "failed", None),
        report("/vod/a.mp4", None, "completed", Some("oops")),
        report("/vod/a.mp4", None, "failed", Some(&"x".repeat(5000))),
    ];
    for bad in &refused {
        let e = transcription::record(&store, bad).expect_err("refused");
        assert!(
            e.is_invalid_report() && !matches!(e, RecordError::Store(_)),
            "{e}"
        );
        let sentence = e.to_string();
        assert!(
            sentence.ends_with('.') && sentence.lines().count() == 1,
            "{sentence}"
        );
    }
    let id = transcription::record(
        &store,
        &report(
            "/vod/Council.mp4",
            Some("/vod/Council.scc"),
            "completed",
            None,
        ),
    )
    .expect("recorded");
    assert_eq!(id, transcription::result_id("/vod/Council.scc"));
    let json: TranscriptionReport = serde_json::from_str(
        r#"{"video": "/vod/Board.mp4", "status": "failed", "error": "audio track missing"}"#,
    )
    .expect("the HTTP body parses");
    let failed = transcription::record(&store, &json).expect("recorded");
    assert_eq!(failed, transcription::result_id("/vod/Board.mp4"));
    drop(store);

    // The same through the command line: relative paths are made absolute.
    let out = archivist()
        .current_dir(scratch.dir.path())
        .arg("--db")
        .arg(scratch.db())
        .args(["transcriptions", "add", "--video", "School Board.mp4"])
        .args(["--status", "failed", "--error", "speech model crashed"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let bad = transcriptions(
        &scratch.db(),
        &["add", "--video", "/v.mp4", "--status", "done"],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("neither"), "{}", stderr(&bad));

    let results = stored(&scratch.db());
    let school = format!("{}/School Board.mp4", text(scratch.dir.path()));
    assert_eq!(
        results[&school].error.as_deref(),
        Some("speech model crashed")
    );
    let json = status_json(&scratch.db());
    let keys: Vec<&String> = json["transcriptions"]
        .as_object()
        .expect("an object")
        .keys()
        .collect();
    for key in [
        "total",
        "last_24h",
        "linked_to_show",
        "failed",
        "unlinked",
        "needs_captions",
        "recent",
    ] {
        assert!(
            keys.iter().any(|k| *k == key),
            "{key} missing from {keys:?}"
        );
    }
    let recent = json["transcriptions"]["recent"].as_array().expect("a list");
    assert!(
        recent
            .iter()
            .any(|r| r["status"] == "failed" && r["error"] == "speech model crashed"),
        "{recent:?}"
    );
    assert_eq!(json["transcriptions"]["total"], 3);
    assert_eq!(json["transcriptions"]["failed"], 2);
    assert_eq!(json["transcriptions"]["last_24h"], 1);
    let list = transcriptions(&scratch.db(), &["list", "--failed"]);
    assert_eq!(stdout(&list).lines().count(), 2, "{}", stdout(&list));
}

/// A hand-written catalogue: recurring bodies on nearby dates, two meetings
/// on one day, one late meeting whose UTC date is the next day, one show
/// without a cgTitle. (id, title, cgTitle, local event time at -05:00,
/// run time in seconds).
const LABELLED_SHOWS: [(i64, &str, Option<&str>, &str, i64); 16] = [
    (
        5001,
        "City Council Regular meeting - 8/24/2026 6:30:00 PM",
        Some("City Council Regular meeting 08/24/26"),
        "2026-08-24T18:30:00",
        7200,
    ),
    (
        5002,
        "City Council Work Session - 8/17/2026 5:00:00 PM",
        Some("City Council Work Session 08/17/26"),
        "2026-08-17T17:00:00",
        3600,
    ),
    (
        5003,
        "City Council Regular meeting - 9/14/2026 6:30:00 PM",
        Some("City Council Regular meeting 09/14/26"),
        "2026-09-14T18:30:00",
        6800,
    ),
    (
        5004,
        "Planning Commission - 9/1/2026 7:00:00 PM",
        Some("Planning Commission 09/01/26"),
        "2026-09-01T19:00:00",
        5400,
    ),
    (
        5005,
        "Planning Commission - 9/15/2026 7:00:00 PM",
        Some("Planning Commission 09/15/26"),
        "2026-09-15T19:00:00",
        4800,
    ),
    (
        5006,
        "School Board - 8/27/2026 6:00:00 PM",
        Some("School Board 08/27/26"),
        "2026-08-27T18:00:00",
        8000,
    ),
    (
        5007,
        "School Board - 9/10/2026 6:00:00 PM",
        None,
        "2026-09-10T18:00:00",
        7000,
    ),
    (
        5008,
        "Parks & Recreation Advisory Board - 9/3/2026 5:30:00 PM",
        Some("Parks & Recreation Advisory Board 09/03/26"),
        "2026-09-03T17:30:00",
        3000,
    ),
    (
        5009,
        "Library Board of Trustees - 8/31/2026 4:00:00 PM",
        Some("Library Board of Trustees 08/31/26"),
        "2026-08-31T16:00:00",
        2700,
    ),
    (
        5010,
        "Zoning Board of Appeals - 9/8/2026 7:00:00 PM",
        Some("Zoning Board of Appeals 09/08/26"),
        "2026-09-08T19:00:00",
        3300,
    ),
    (
        5011,
        "County Commissioners - 9/2/2026 9:00:00 AM",
        Some("County Commissioners 09/02/26"),
        "2026-09-02T09:00:00",
        9000,
    ),
    (
        5012,
        "High School Football - 9/4/2026 7:00:00 PM",
        Some("Eagles vs. Wildcats 09/04/26"),
        "2026-09-04T19:00:00",
        9600,
    ),
    (
        5013,
        "City Council Regular meeting - 9/28/2026 8:30:00 PM",
        Some("City Council Regular meeting 09/28/26"),
        "2026-09-28T20:30:00",
        7000,
    ),
    (
        5014,
        "Senior Center Exercise - 9/9/2026 10:00:00 AM",
        Some("Senior Center Exercise 09/09/26"),
        "2026-09-09T10:00:00",
        1800,
    ),
    (
        5015,
        "City Council Work Session - 9/14/2026 5:00:00 PM",
        Some("City Council Work Session 09/14/26"),
        "2026-09-14T17:00:00",
        3600,
    ),
    (
        5016,
        "Historic Preservation Commission - 9/22/2026 6:00:00 PM",
        Some("Historic Preservation Commission 09/22/26"),
        "2026-09-22T18:00:00",
        4200,
    ),
];

/// The labelled sample: (video file or "" for a caption alone, caption
/// file, the show it belongs to or `None` when no show should be linked).
const LABELLED_FILES: [(&str, &str, Option<i64>); 26] = [
    (
        "CityCouncil_2026-08-24.mp4",
        "CityCouncil_2026-08-24.scc",
        Some(5001),
    ),
    ("", "council 09-28-26 regular.scc", Some(5013)),
    ("", "Planning Commission 20260901.vtt", Some(5004)),
    (
        "PlanningComm_2026-09-15_final.mp4",
        "PlanningComm_2026-09-15_final.scc",
        Some(5005),
    ),
    (
        "School Board 08.27.2026.mov",
        "School Board 08.27.2026.scc",
        Some(5006),
    ),
    (
        "school-board-20260910.mxf",
        "school-board-20260910.en.vtt",
        Some(5007),
    ),
    (
        "Parks and Rec Advisory 2026-09-03.mp4",
        "Parks and Rec Advisory 2026-09-03.scc",
        Some(5008),
    ),
    ("", "Library Trustees 083126.srt", Some(5009)),
    ("ZBA 2026-09-08.mp4", "ZBA 2026-09-08.scc", Some(5010)),
    ("", "County Commission 9-2-2026.scc", Some(5011)),
    (
        "Eagles vs Wildcats 2026-09-04.mp4",
        "Eagles vs Wildcats 2026-09-04.vtt",
        Some(5012),
    ),
    ("", "Senior Exercise 20260909.scc", Some(5014)),
    (
        "CC_WorkSession_2026-08-17.mp4",
        "CC_WorkSession_2026-08-17.scc",
        Some(5002),
    ),
    ("", "Council Work Session 09-14-26.scc", Some(5015)),
    ("", "City Council Regular 2026-09-14.scc", Some(5003)),
    (
        "Historic Preservation Sept 22 2026.mp4",
        "Historic Preservation Sept 22 2026.scc",
        Some(5016),
    ),
    // Decoys and honest doubts: nothing should be linked.
    ("council_2026-09-14.mp4", "council_2026-09-14.scc", None),
    ("", "City Council Regular meeting 2026-07-01.scc", None),
    ("", "Planning Commission.vtt", None),
    (
        "Holiday Parade 2026-12-05.mp4",
        "Holiday Parade 2026-12-05.scc",
        None,
    ),
    ("", "School Board 2026-08-28.scc", None),
    ("", "Untitled 20260824.scc", None),
    ("IMG_4471.mov", "IMG_4471.srt", None),
    ("", "Zoning 2026-09-09.scc", None),
    ("", "Library Board of Trustees.scc", None),
    // A second video of the 8/27 School Board: a conflict, not a link.
    (
        "SchoolBoard_20260827_rebroadcast.mp4",
        "SchoolBoard_20260827_rebroadcast.scc",
        None,
    ),
];

/// Unix seconds of a local -05:00 time written `YYYY-MM-DDTHH:MM:SS`.
fn station_time(local: &str) -> i64 {
    let utc = archivist::clock::from_cablecast(
        &format!("{local}-05:00"),
        &archivist::clock::StationZone::utc(),
    )
    .expect("valid time");
    archivist::clock::parse_stored(&utc).expect("stored form")
}

/// A demo station with generated shows plus [`LABELLED_SHOWS`], each with a
/// complete VOD, and a database the monitor filled from it.
fn labelled_station(scratch: &Scratch) -> DemoStation {
    let station = support::station(60);
    {
        let mut catalogue = station.catalogue();
        for (n, (id, title, cg, local, run_time)) in LABELLED_SHOWS.iter().enumerate() {
            let vod = 9000 + n as i64;
            catalogue.shows.push(DemoShow {
                id: *id,
                location: 1,
                title: title.to_string(),
                cg_title: cg.map(str::to_string),
                event_at: station_time(local),
                run_time: *run_time,
                vods: vec![vod],
                has_captions: false,
                caption_provider: None,
            });
            catalogue.vods.push(DemoVod {
                id: vod,
                show: *id,
                state: "complete".into(),
                percent: 1.0,
                error_message: None,
                length: *run_time,
                status_message: None,
                state_change: None,
            });
        }
    }
    let out = support::single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    station
}

/// An SCC file whose captions span `secs` seconds from a 01:00:00 start.
fn scc(secs: i64) -> String {
    let end = 3600 + secs;
    format!(
        "Scenarist_SCC V1.0\n\n01:00:00;00\t9420 9420\n\n{:02}:{:02}:{:02};00\t942c 942c\n",
        end / 3600,
        end % 3600 / 60,
        end % 60
    )
}

/// Where [`write_labelled_files`] puts `file` (a video or caption of the
/// sample) under `root`.
fn labelled_path(root: &Path, file: &str) -> String {
    let n = LABELLED_FILES
        .iter()
        .position(|(video, caption, _)| *video == file || *caption == file)
        .expect("file is in the labelled sample");
    text(&root.join(format!("ingest {n:02}")).join(file))
}

/// Writes the labelled sample under `root`; returns caption path -> label.
fn write_labelled_files(root: &Path) -> BTreeMap<String, Option<i64>> {
    let run_times: BTreeMap<i64, i64> = LABELLED_SHOWS.iter().map(|s| (s.0, s.4)).collect();
    let mut labels = BTreeMap::new();
    for (n, (video, caption, show)) in LABELLED_FILES.iter().enumerate() {
        // Each in its own folder, as ingest folders usually are.
        let dir = root.join(format!("ingest {n:02}"));
        if !video.is_empty() {
            put(&dir.join(video), "video");
        }
        let span = show.map_or(1500, |id| run_times[&id] * 9 / 10);
        put(&dir.join(caption), &scc(span));
        labels.insert(text(&dir.join(caption)), *show);
    }
    labels
}

#[test]
fn linking_the_labelled_sample_is_precise() {
    let scratch = Scratch::new();
    let _station = labelled_station(&scratch);
    let root = scratch.path("captions");
    let labels = write_labelled_files(&root);
    assert!(scan(&scratch.db(), &[&root]).status.success());
    let out = transcriptions(&scratch.db(), &["link"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout(&out);

    let results = stored(&scratch.db());
    let (mut true_links, mut false_links, mut should_link) = (0, 0, 0);
    for (caption, label) in &labels {
        let linked = results[caption].show;
        should_link += usize::from(label.is_some());
        match (linked, label) {
            (Some(got), Some(want)) if got == *want => true_links += 1,
            (Some(got), _) => {
                false_links += 1;
                eprintln!("wrong link: {caption} -> {got} (label {label:?})");
            }
            (None, Some(want)) => eprintln!("missed: {caption} (label {want})"),
            (None, None) => {}
        }
    }
    let precision = true_links as f64 / (true_links + false_links).max(1) as f64;
    let recall = true_links as f64 / should_link as f64;
    eprintln!(
        "labelled sample: {} files, {true_links} right links, {false_links} wrong, {} should link; precision {precision:.3}, recall {recall:.3}",
        labels.len(),
        should_link
    );
    assert_eq!(false_links, 0, "{report}");
    assert!(recall >= 0.85, "recall {recall:.3}\n{report}");
    // Two videos fit the 9/14 meetings equally: listed, not guessed.
    assert!(
        report.contains("ambiguous: ") && report.contains("council_2026-09-14.mp4"),
        "{report}"
    );
    // A second video for the 8/27 School Board is a conflict, not a link.
    assert!(
        report.contains("conflict: ") && report.contains("rebroadcast.mp4 matches show 5006"),
        "{report}"
    );
}

#[test]
fn links_by_hand_win_and_shows_needing_captions_are_counted() {
    let scratch = Scratch::new();
    let station = labelled_station(&scratch);
    let root = scratch.path("captions");
    write_labelled_files(&root);
    assert!(scan(&scratch.db(), &[&root]).status.success());
    let zba = labelled_path(&root, "ZBA 2026-09-08.mp4");
    let out = transcriptions(&scratch.db(), &["link", "--show", "5010", "--video", &zba]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    // Auto linking first, then a person overrides one of its links.
    assert!(transcriptions(&scratch.db(), &["link"]).status.success());
    let council = labelled_path(&root, "CityCouncil_2026-08-24.mp4");
    assert_eq!(
        stored(&scratch.db())[&labelled_path(&root, "CityCouncil_2026-08-24.scc")].show,
        Some(5001)
    );
    let out = transcriptions(
        &scratch.db(),
        &["link", "--show", "5003", "--video", &council],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // Linking a second video to a show is allowed by hand, and said.
    let decoy = labelled_path(&root, "School Board 2026-08-28.scc");
    let out = transcriptions(
        &scratch.db(),
        &["link", "--show", "5006", "--video", &decoy],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("also linked to"), "{}", stderr(&out));
    let unknown = transcriptions(
        &scratch.db(),
        &["link", "--show", "999999", "--video", &zba],
    );
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("999999"), "{}", stderr(&unknown));

    assert!(transcriptions(&scratch.db(), &["link"]).status.success());
    let results = stored(&scratch.db());
    let by_caption = |name: &str| results[&labelled_path(&root, name)].clone();
    let zba_row = by_caption("ZBA 2026-09-08.scc");
    assert_eq!(
        (zba_row.show, zba_row.linked_by.as_deref()),
        (Some(5010), Some("manual"))
    );
    let council_row = by_caption("CityCouncil_2026-08-24.scc");
    assert_eq!(
        (council_row.show, council_row.linked_by.as_deref()),
        (Some(5003), Some("manual"))
    );

    // Needs captions: shows with a complete VOD and no linked caption.
    let linked: std::collections::BTreeSet<i64> = results.values().filter_map(|r| r.show).collect();
    let expected: usize = {
        let catalogue = station.catalogue();
        catalogue
            .shows
            .iter()
            .filter(|s| {
                catalogue
                    .vods
                    .iter()
                    .any(|v| v.show == s.id && v.state == "complete")
                    && !linked.contains(&s.id)
            })
            .count()
    };
    let json = status_json(&scratch.db());
    assert_eq!(json["transcriptions"]["needs_captions"], expected);
    assert_eq!(
        json["transcriptions"]["linked_to_show"],
        results.values().filter(|r| r.show.is_some()).count()
    );
    let list = transcriptions(&scratch.db(), &["list", "--needs-captions"]);
    assert_eq!(stdout(&list).lines().count(), expected);
    // 5001 lost its only video to the link by hand.
    assert!(stdout(&list).contains("show 5001 "), "{}", stdout(&list));
}

/// File names as staff and cameras write them, made from a generated show's
/// title body and date: (show id, video file or "", caption file).
fn names_for(show: &DemoShow) -> (String, String) {
    let body = show.title.split(" - ").next().expect("title has a body");
    let date = archivist::clock::format_unix(show.event_at);
    let (y, m, d) = (&date[0..4], &date[5..7], &date[8..10]);
    let squashed: String = body.split_whitespace().collect();
    let first = body.split_whitespace().next().expect("a word");
    match show.id % 5 {
        0 => (
            format!("{squashed}_{y}-{m}-{d}.mp4"),
            format!("{squashed}_{y}-{m}-{d}.scc"),
        ),
        1 => (
            String::new(),
            format!("{} {m}-{d}-{}.scc", body.to_lowercase(), &y[2..]),
        ),
        2 => (String::new(), format!("{body} {y}{m}{d}.vtt")),
        3 => (
            format!("{first} {m}.{d}.{y}.mov"),
            format!("{first} {m}.{d}.{y}.srt"),
        ),
        _ => (
            format!("{body} {m}_{d}_{}.mxf", &y[2..]),
            format!("{body} {m}_{d}_{}.en.vtt", &y[2..]),
        ),
    }
}

#[test]
fn linking_names_made_from_the_demo_catalogue_is_precise() {
    let scratch = Scratch::new();
    let station = support::station(300);
    let out = support::single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let root = scratch.path("mount");
    let mut labels = BTreeMap::new();
    for show in station.catalogue().shows.iter() {
        let dir = root.join(format!("show {}", show.id));
        let (video, caption) = names_for(show);
        if !video.is_empty() {
            put(&dir.join(video), "video");
        }
        put(&dir.join(&caption), &scc(show.run_time * 9 / 10));
        labels.insert(text(&dir.join(caption)), show.id);
    }
    assert!(scan(&scratch.db(), &[&root]).status.success());
    let out = transcriptions(&scratch.db(), &["link"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let results = stored(&scratch.db());
    let (mut right, mut wrong) = (0, 0);
    for (caption, want) in &labels {
        match results[caption].show {
            Some(got) if got == *want => right += 1,
            Some(got) => {
                wrong += 1;
                eprintln!("wrong link: {caption} -> {got} (label {want})");
            }
            None => {}
        }
    }
    let precision = right as f64 / (right + wrong).max(1) as f64;
    let recall = right as f64 / labels.len() as f64;
    eprintln!(
        "demo catalogue sample: {} files, {right} right links, {wrong} wrong; precision {precision:.3}, recall {recall:.3}",
        labels.len()
    );
    assert_eq!(wrong, 0, "{}", stdout(&out));
    // Names with only the body's first word ("City 08.24.2026") are
    // ambiguous whenever two bodies share it on a day; the rest link.
    assert!(recall >= 0.75, "recall {recall:.3}\n{}", stdout(&out));
}
