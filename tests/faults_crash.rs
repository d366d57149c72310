//! Power cuts: `kill -9` of the monitor at random moments during a large
//! catalogue sync and during batched refreshes, many times over. After each
//! kill the file passes `PRAGMA integrity_check`, every page and every batch
//! is either wholly there or wholly absent, and the next start carries on to
//! end equal to the server.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::child::Running;
use crate::support::raw::{RawMode, RawStation, Rewrite};
use crate::support::{
    self, integrity, served_vods, single_run, sqlite, stderr, stored_vods, Scratch,
};

/// Page size of catalogue listings (`cablecast::PAGE_SIZE`).
const PAGE: usize = archivist::cablecast::PAGE_SIZE;

/// Refresh results per transaction, as given to the monitor.
const BATCH: i64 = 50;

/// Where a failing run's seed goes to replay it: the first kill of the
/// replay is the kill that failed.
const SEED_VARIABLE: &str = "ARCHIVIST_CRASH_SEED";

/// A small xorshift generator: random kill moments, reproducible from the
/// seed printed at the start and with any failure.
struct Dice(u64);

impl Dice {
    /// From `ARCHIVIST_CRASH_SEED` when set, else from the clock; printed
    /// either way.
    fn new() -> Dice {
        let seed = match std::env::var(SEED_VARIABLE) {
            Ok(text) => text
                .trim()
                .parse::<u64>()
                .unwrap_or_else(|_| panic!("{SEED_VARIABLE}={text:?} is not a number")),
            Err(_) => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.subsec_nanos() as u64),
        };
        let dice = Dice(seed | 1);
        eprintln!(
            "kill moments from seed {} (replay: {SEED_VARIABLE}={0})",
            dice.0
        );
        dice
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// (id, seen_pass) of every stored row of `table`, keyed by `key`.
fn passes(db: &Path, table: &str, key: &str) -> HashMap<i64, i64> {
    let conn = sqlite(db);
    let sql = format!("SELECT {key}, seen_pass FROM {table}");
    let Ok(mut select) = conn.prepare(&sql) else {
        // Killed before the schema was applied.
        return HashMap::new();
    };
    let rows = select
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("rows");
    rows.collect::<Result<_, _>>().expect("rows read")
}

/// Every page of `ids` (in the server's listing order) is stored whole, by
/// one pass, or not at all.
fn assert_pages_whole(stored: &HashMap<i64, i64>, ids: &[i64], what: &str, seed: u64) {
    for (n, page) in ids.chunks(PAGE).enumerate() {
        let present: Vec<i64> = page
            .iter()
            .filter_map(|id| stored.get(id).copied())
            .collect();
        assert!(
            present.is_empty() || present.len() == page.len(),
            "{what} page {n}: {} of {} rows stored (replay: {SEED_VARIABLE}={seed})",
            present.len(),
            page.len()
        );
        assert!(
            present.windows(2).all(|w| w[0] == w[1]),
            "{what} page {n} written by two passes: {present:?} (replay: {SEED_VARIABLE}={seed})"
        );
    }
}

/// Starts the monitor, kills it after a random delay of up to `max_delay`
/// from its first log line, and runs `check` on the file; again and again
/// for `budget`. Returns how many kills there were.
fn kill_again_and_again(
    db: &Path,
    api_url: &str,
    budget: Duration,
    max_delay: Duration,
    mut check: impl FnMut(u64),
) -> usize {
    let mut dice = Dice::new();
    let started = Instant::now();
    let mut kills = 0;
    while started.elapsed() < budget {
        let seed = dice.0;
        let mut monitor = Running::monitor(db, api_url, &[], &[]);
        monitor.wait_for("monitoring", 1, Duration::from_secs(20));
        let delay = dice.below(max_delay.as_millis() as u64);
        // The moment of the power cut is the fault under test, not a wait.
        std::thread::sleep(Duration::from_millis(delay));
        assert!(
            monitor.is_running(),
            "the monitor exited: {}",
            monitor.log()
        );
        monitor.kill();
        kills += 1;
        assert_eq!(
            integrity(db),
            "ok",
            "after a kill at {delay} ms (replay: {SEED_VARIABLE}={seed})"
        );
        check(seed);
    }
    kills
}

#[test]
fn kill_9_during_a_large_catalogue_sync_never_half_applies_a_page() {
    let scratch = Scratch::new();
    let db = scratch.db();
    let station = support::station(30_000);
    let (show_ids, vod_ids): (Vec<i64>, Vec<i64>) = {
        let catalogue = station.catalogue();
        (
            catalogue.shows.iter().map(|s| s.id).collect(),
            catalogue.vods.iter().map(|v| v.id).collect(),
        )
    };
    let kills = kill_again_and_again(
        &db,
        &station.api_url(),
        Duration::from_secs(30),
        Duration::from_millis(2500),
        |seed| {
            assert_pages_whole(
                &passes(&db, "cablecast_show", "cablecast_id"),
                &show_ids,
                "show",
                seed,
            );
            assert_pages_whole(&passes(&db, "cablecast_vod", "id"), &vod_ids, "VOD", seed);
        },
    );
    assert!(kills >= 5, "only {kills} kills");
    eprintln!("{kills} kills, each followed by integrity_check ok and whole pages");
    let out = single_run(&db, &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stored_vods(&db), served_vods(&station));
    assert_eq!(integrity(&db), "ok");
}

#[test]
fn kill_9_during_batched_refreshes_never_half_applies_a_batch() {
    let scratch = Scratch::new();
    let db = scratch.db();
    // 2000 shows give 2200 VODs: whole pages and whole batches.
    let station = support::station(2000);
    let vod_ids: Vec<i64> = {
        let mut catalogue = station.catalogue();
        for vod in catalogue.vods.iter_mut() {
            vod.state = "complete".into();
            vod.percent = 1.0;
        }
        catalogue.vods.iter().map(|v| v.id).collect()
    };
    assert_eq!(vod_ids.len() % PAGE, 0);
    // The listings lag behind: they still say every VOD is processing, so
    // each start lists them all as in flight and the refresh, reading the
    // VODs by id, writes every one of them back as complete in batches.
    let lagging: Rewrite = Arc::new(|path: &str, body: String| {
        if path.contains("/vods?offset=") {
            body.replace("\"vodState\":\"complete\"", "\"vodState\":\"processing\"")
                .replace("\"percentComplete\":1.0", "\"percentComplete\":0.5")
        } else {
            body
        }
    });
    let raw = RawStation::start(RawMode::Forward(station.addr(), Some(lagging)));
    let kills = kill_again_and_again(
        &db,
        &raw.api_url(),
        Duration::from_secs(18),
        Duration::from_millis(1800),
        |seed| {
            let complete = support::number(
                &db,
                "SELECT count(*) FROM cablecast_vod WHERE vod_state = 'complete'",
            );
            eprintln!("killed with {complete} of {} VODs refreshed", vod_ids.len());
            assert_eq!(
                complete % BATCH,
                0,
                "{complete} VODs complete: a batch of {BATCH} was half applied (replay: {SEED_VARIABLE}={seed})"
            );
            assert_pages_whole(&passes(&db, "cablecast_vod", "id"), &vod_ids, "VOD", seed);
        },
    );
    assert!(kills >= 5, "only {kills} kills");
    eprintln!("{kills} kills, each followed by integrity_check ok and whole pages");
    let out = single_run(&db, &raw.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stored_vods(&db), served_vods(&station));
    assert_eq!(integrity(&db), "ok");
}
