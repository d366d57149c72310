//! The history behind the charts: every cycle rolls up into hourly and daily
//! rows, old rows are pruned so the file stays bounded, and `/api/history`
//! reports uptime from them.

use archivist::clock;
use archivist::store::{Access, HistoryRange, Store};

use crate::support::{sqlite, Scratch};

/// Inserts a cycle every `step` seconds from `from` to `to` (Unix seconds),
/// reachable unless `down(t)`, in one transaction, as a monitor would over
/// that time (the rollup trigger fires on each row).
fn record_cycles(db: &std::path::Path, from: i64, to: i64, step: i64, down: impl Fn(i64) -> bool) {
    let mut conn = sqlite(db);
    let tx = conn.transaction().expect("transaction");
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO monitor_cycle (started_at, finished_at, duration_ms, \
                 cablecast_reachable, total_vods, completed_vods, sync_percentage) \
                 VALUES (?1, ?1, 100, ?2, 100, 90, 90.0)",
            )
            .expect("prepare");
        let mut t = from;
        while t <= to {
            insert
                .execute(rusqlite::params![clock::format_unix(t), !down(t)])
                .expect("insert");
            t += step;
        }
    }
    tx.commit().expect("commit");
}

fn count(db: &std::path::Path, table: &str) -> i64 {
    sqlite(db)
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .expect("count")
}

#[test]
fn a_year_of_five_minute_cycles_stays_bounded() {
    let scratch = Scratch::new();
    let db = scratch.db();
    Store::open(&db, Access::ReadWrite).expect("store opens");
    let now = clock::unix_now();
    let year = 366 * 86_400;
    let step = 300;
    record_cycles(&db, now - year, now, step, |_| false);
    let recorded = year / step + 1;
    let (raw, hourly, daily) = (
        count(&db, "monitor_cycle"),
        count(&db, "monitor_hourly"),
        count(&db, "monitor_daily"),
    );
    // What is dropped: raw cycles after 48 hours, hourly rows after 8 days.
    // What is kept: every raw cycle of the last 48 hours, every hour of the
    // last 8 days, and every day of the year, each day with all its cycles.
    assert_eq!(raw, 48 * 12 + 1, "raw cycles kept");
    assert!(
        (8 * 24..=8 * 24 + 1).contains(&hourly),
        "hourly rows kept: {hourly}"
    );
    assert_eq!(daily, 367, "one daily row per day of the year (and today)");
    let oldest = |table: &str, column: &str| {
        let text: String = sqlite(&db)
            .query_row(&format!("SELECT min({column}) FROM {table}"), [], |r| {
                r.get(0)
            })
            .expect("oldest");
        clock::parse_stored(&text).expect("stored form")
    };
    assert!(now - oldest("monitor_cycle", "finished_at") <= 48 * 3600);
    assert!(now - oldest("monitor_hourly", "bucket") <= 8 * 86_400 + 3600);
    assert!(now - oldest("monitor_daily", "bucket") >= year);
    let rolled_up: i64 = sqlite(&db)
        .query_row("SELECT sum(cycles) FROM monitor_daily", [], |r| r.get(0))
        .expect("sum");
    assert_eq!(rolled_up, recorded, "every cycle counted in its day");
    assert!(raw + hourly + daily <= 1_170, "{raw} + {hourly} + {daily}");
}

#[test]
fn history_ranges_report_uptime() {
    let scratch = Scratch::new();
    let db = scratch.db();
    let store = Store::open(&db, Access::ReadWrite).expect("store opens");
    let now = clock::unix_now();
    // Ten days of five-minute cycles; Cablecast down for the 2 hours that
    // ended 3 hours ago (24 cycles), and for all of day 9 ago.
    let down = |t: i64| {
        (now - 5 * 3600 < t && t <= now - 3 * 3600)
            || (now - 9 * 86_400 < t && t <= now - 8 * 86_400)
    };
    record_cycles(&db, now - 10 * 86_400, now, 300, down);

    let day = store.history(HistoryRange::Day).expect("24h");
    let cycles: i64 = day.samples.iter().map(|s| s.cycles).sum();
    let up: i64 = day.samples.iter().map(|s| s.reachable_cycles).sum();
    assert!((288..=290).contains(&cycles), "{cycles}");
    assert_eq!(cycles - up, 24);
    assert!(day.samples.len() <= 290);
    let uptime = day.uptime_percentage().expect("uptime");
    assert!((91.0..92.0).contains(&uptime), "{uptime}");

    let week = store.history(HistoryRange::Week).expect("7d");
    assert!(week.samples.len() <= 7 * 24 + 1, "{}", week.samples.len());
    let down_week: i64 = week
        .samples
        .iter()
        .map(|s| s.cycles - s.reachable_cycles)
        .sum();
    assert_eq!(down_week, 24);

    let month = store.history(HistoryRange::Month).expect("30d");
    assert!(month.samples.len() <= 11, "{}", month.samples.len());
    let down_month: i64 = month
        .samples
        .iter()
        .map(|s| s.cycles - s.reachable_cycles)
        .sum();
    assert_eq!(down_month, 24 + 288);
    assert!(month
        .samples
        .iter()
        .all(|s| (s.sync_avg - 90.0).abs() < 1e-9));

    let last = store.last_success_at().expect("read").expect("a success");
    assert!(now - clock::parse_stored(&last).expect("stored form") <= 300);
}
