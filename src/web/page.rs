//! The status page: one server-rendered HTML document that answers "is VOD
//! publishing healthy, what is stuck, what failed, is transcription keeping
//! up" at a glance, on a phone or a wall monitor, without JavaScript. It
//! refreshes itself every [`REFRESH_SECS`].
//!
//! Everything from the database is escaped ([`escape`]). Elements holding the
//! headline figures carry stable ids (`sync-percentage`, `count-complete`,
//! ...) so a test, or a station's own scraper, can read them.

use std::fmt::Write;

use super::chart;
use super::html::escape;
use crate::clock;
use crate::status::RecentTranscription;
use crate::status::StatusReport;
use crate::store::{History, VodEntry};
use crate::vod::VodState;

/// How often the page reloads itself.
pub const REFRESH_SECS: u32 = 30;

/// Rows shown in each list; the headings give the full counts.
pub const LIST_ROWS: usize = 50;
/// Recent transcriptions listed (the report carries a few more).
const TRANSCRIPTION_ROWS: usize = 8;

/// Everything the page shows, read at one moment.
pub struct Overview {
    /// Why the database is read-only, when its integrity check failed.
    pub damage: Option<String>,
    pub report: StatusReport,
    pub in_flight: Vec<VodEntry>,
    pub failed: Vec<VodEntry>,
    pub histories: Vec<History>,
    /// Unix seconds the overview was read at.
    pub now: i64,
    pub alerts: super::alerts::AlertsView,
}

const STYLE: &str = r#"
:root{--ok:#2e9e44;--warn:#c98a0b;--bad:#d0452f;--ink:#1d2733;--muted:#5d6b7a;--line:#dde2e7;--card:#fff;--bg:#eef1f4;--accent:#1f6fb2}
*{box-sizing:border-box}
body{margin:0;font:clamp(15px,1.05vw,22px)/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--ink);background:var(--bg)}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.6em 1.2em;padding:.8em 1.2em;background:#17212c;color:#fff}
header h1{font-size:1.25em;margin:0;font-weight:600}
header .meta{color:#b9c4cf;font-size:.85em}
.pill{display:inline-block;padding:.2em .75em;border-radius:1em;font-weight:600;font-size:.9em}
.pill.up{background:var(--ok);color:#fff}.pill.down{background:var(--bad);color:#fff}.pill.unknown{background:#7b8794;color:#fff}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,17em),1fr));gap:1em;padding:1em 1.2em;max-width:120em;margin:0 auto}
section{background:var(--card);border-radius:.6em;padding:.9em 1.1em;box-shadow:0 1px 2px rgba(0,0,0,.08);min-width:0}
section.wide{grid-column:1/-1}
h2{font-size:1em;margin:0 0 .6em;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.big{font-size:3em;font-weight:700;line-height:1.1}
.bar{height:.7em;background:var(--line);border-radius:.35em;overflow:hidden;margin:.5em 0}
.bar span{display:block;height:100%;background:var(--ok)}
.sub{color:var(--muted)}
table{width:100%;border-collapse:collapse;font-size:.92em}
th,td{text-align:left;padding:.3em .4em;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto}
.err{color:var(--bad);word-break:break-word}
.state{white-space:nowrap}
.s-complete{color:var(--ok)}.s-error,.s-permanentFailure{color:var(--bad)}.s-processing,.s-queued,.s-partial,.s-waiting{color:var(--warn)}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(8em,1fr));gap:.6em}
.figures div{background:#f5f7f9;border-radius:.4em;padding:.5em .7em}
.figures b{display:block;font-size:1.4em}
.history{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,20em),1fr));gap:1em}
.history>div{min-width:0}
.history h3{font-size:.95em;margin:0 0 .3em;display:flex;justify-content:space-between}
svg.chart{width:100%;height:8em;display:block}
svg.chart .axis{font-size:10px;fill:#7b8794}
.empty{color:var(--muted);font-style:italic}
.damage{margin:1em 1.2em 0;padding:.8em 1.1em;border-radius:.6em;background:var(--bad);color:#fff}
footer{padding:0 1.2em 1.2em;color:var(--muted);font-size:.85em;text-align:center}
footer a{color:var(--accent)}
"#;

/// Renders the whole page.
pub fn render(overview: &Overview) -> String {
    let report = &overview.report;
    let now = overview.now;
    let mut html = String::with_capacity(32 * 1024);
    let _ = write!(
        html,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta http-equiv="refresh" content="{REFRESH_SECS}"><title>Archivist: {sync:.1} % synced</title><style>{STYLE}</style></head><body>"#,
        sync = report.sync_percentage
    );
    header(&mut html, report, now);
    if let Some(damage) = &overview.damage {
        let _ = write!(
            html,
            r#"<div class="damage" id="damage"><b>The database is damaged: the monitor runs no cycles.</b> {}</div>"#,
            escape(damage)
        );
    }
    html.push_str("<main>");
    super::alerts::section(&mut html, &overview.alerts);
    sync_section(&mut html, report);
    states_section(&mut html, report);
    transcriptions_section(&mut html, report);
    performance_section(&mut html, report);
    history_section(&mut html, &overview.histories, now);
    in_flight_section(&mut html, report, &overview.in_flight, now);
    failed_section(&mut html, report, &overview.failed, now);
    recent_transcriptions_section(&mut html, report, now);
    html.push_str("</main>");
    let _ = write!(
        html,
        r#"<footer>Read {at} · reloads every {REFRESH_SECS} s · <a href="/api/status">/api/status</a> · <a href="/api/vods">/api/vods</a> · <a href="/metrics">/metrics</a> · <a href="/healthz">/healthz</a></footer></body></html>"#,
        at = clock::format_unix(now)
    );
    html
}

fn ago(now: i64, stored: &str) -> String {
    match clock::parse_stored(stored) {
        Some(at) => format!("{} ago", clock::humanize_secs(now - at)),
        None => "at an unknown time".into(),
    }
}

fn header(html: &mut String, report: &StatusReport, now: i64) {
    html.push_str("<header><h1>Archivist · VOD publishing</h1>");
    match &report.last_cycle {
        Some(cycle) => {
            let (class, text) = if cycle.cablecast_reachable {
                ("up", "Cablecast reachable")
            } else {
                ("down", "Cablecast NOT reachable")
            };
            let _ = write!(
                html,
                r#"<span id="cablecast-state" class="pill {class}">{text}</span><span class="meta">last check {ago} (<time datetime="{at}">{at}</time>)</span>"#,
                ago = ago(now, &cycle.at),
                at = escape(&cycle.at)
            );
            if let Some(error) = &cycle.error {
                let _ = write!(html, r#"<span class="meta err">{}</span>"#, escape(error));
            }
        }
        None => html.push_str(
            r#"<span id="cablecast-state" class="pill unknown">No check yet</span><span class="meta">the monitor has not run on this database</span>"#,
        ),
    }
    html.push_str("</header>");
}

fn sync_section(html: &mut String, report: &StatusReport) {
    let _ = write!(
        html,
        r#"<section><h2>Sync</h2><div class="big"><span id="sync-percentage">{sync:.2}</span> %</div><div class="bar"><span style="width:{width:.2}%"></span></div><div class="sub"><span id="completed-vods">{complete}</span> of <span id="total-vods">{total}</span> VODs complete · <span id="total-shows">{shows}</span> shows</div><div class="sub"><span id="pending-vods">{pending}</span> in flight · <span id="failed-vods">{failed}</span> failed</div></section>"#,
        sync = report.sync_percentage,
        width = report.sync_percentage.clamp(0.0, 100.0),
        complete = report.completed_vods,
        total = report.total_vods,
        shows = report.total_shows,
        pending = report.pending_vods,
        failed = report.failed_vods,
    );
}

fn states_section(html: &mut String, report: &StatusReport) {
    html.push_str(r#"<section><h2>VODs by state</h2><table><tbody>"#);
    for state in VodState::KNOWN {
        let name = state.as_str();
        let n = report.by_state.get(name).copied().unwrap_or(0);
        let _ = write!(
            html,
            r#"<tr><td class="state s-{name}">{name}</td><td class="n" id="count-{name}">{n}</td></tr>"#
        );
    }
    html.push_str("</tbody></table></section>");
}

fn transcriptions_section(html: &mut String, report: &StatusReport) {
    let tx = &report.transcriptions;
    let _ = write!(
        html,
        r#"<section><h2>Transcriptions</h2><div class="figures"><div>last 24 h<b id="tx-24h">{}</b></div><div>total<b id="tx-total">{}</b></div><div>linked to a show<b id="tx-linked">{}</b></div><div>failed<b id="tx-failed">{}</b></div><div>not linked<b id="tx-unlinked">{}</b></div><div>shows needing captions<b id="tx-needs-captions">{}</b></div></div></section>"#,
        tx.last_24h, tx.total, tx.linked_to_show, tx.failed, tx.unlinked, tx.needs_captions
    );
}

fn recent_transcriptions_section(html: &mut String, report: &StatusReport, now: i64) {
    let recent = &report.transcriptions.recent;
    let recent: &[RecentTranscription] = &recent[..recent.len().min(TRANSCRIPTION_ROWS)];
    html.push_str(r#"<section class="wide"><h2>Recent transcriptions</h2>"#);
    if recent.is_empty() {
        html.push_str(r#"<p class="empty">No transcriptions recorded yet.</p></section>"#);
        return;
    }
    html.push_str(r#"<div class="scroll"><table id="transcriptions"><thead><tr><th>Show</th><th>Video</th><th>Status</th><th>Finished</th></tr></thead><tbody>"#);
    for entry in recent {
        let file = entry
            .video_path
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(&entry.video_path);
        let _ = write!(
            html,
            r#"<tr><td>{show}</td><td title="{path}">{file}</td><td>{status}{error}</td><td>{finished}</td></tr>"#,
            show = escape(entry.show_title.as_deref().unwrap_or("(not linked)")),
            path = escape(&entry.video_path),
            file = escape(file),
            status = escape(&entry.status),
            error = entry
                .error
                .as_deref()
                .map(|e| format!(r#"<div class="err">{}</div>"#, escape(e)))
                .unwrap_or_default(),
            finished = entry
                .completed_at
                .as_deref()
                .map(|at| ago(now, at))
                .unwrap_or_else(|| "—".into()),
        );
    }
    html.push_str("</tbody></table></div></section>");
}

fn performance_section(html: &mut String, report: &StatusReport) {
    let perf = &report.performance;
    let cycle = report.last_cycle.as_ref();
    let memory = perf
        .rss_kb
        .map(|kb| format!("{:.1} MB", kb as f64 / 1024.0))
        .unwrap_or_else(|| "—".into());
    let per_cycle = |f: fn(&crate::status::LastCycleSummary) -> String| {
        cycle.map(f).unwrap_or_else(|| "—".into())
    };
    let _ = write!(
        html,
        r#"<section><h2>Monitor performance</h2><div class="figures"><div>cache hit rate<b id="cache-hit-rate">{hit:.1} %</b></div><div>queries per cycle<b id="queries-per-cycle">{queries}</b></div><div>avg query time<b id="avg-query-ms">{avg:.3} ms</b></div><div>memory<b id="memory">{memory}</b></div><div>cycle time<b id="cycle-duration">{duration}</b></div><div>HTTP calls per cycle<b id="http-calls">{calls}</b></div></div></section>"#,
        hit = perf.cache_hit_rate * 100.0,
        queries = per_cycle(|c| c.sql_statements.to_string()),
        avg = perf.avg_query_ms,
        duration = per_cycle(|c| format!("{:.2} s", c.duration_ms as f64 / 1000.0)),
        calls = per_cycle(|c| c.http_calls.to_string()),
    );
}

fn percent(entry: &VodEntry) -> String {
    entry
        .percent_complete
        .map(|p| format!("{:.0} %", p * 100.0))
        .unwrap_or_else(|| "—".into())
}

fn show_cell(entry: &VodEntry) -> String {
    match &entry.show_title {
        Some(title) => escape(title).to_string(),
        None => match entry.show_cablecast_id {
            Some(id) => format!("show {id}"),
            None => "—".into(),
        },
    }
}

fn in_flight_section(html: &mut String, report: &StatusReport, entries: &[VodEntry], now: i64) {
    let _ = write!(
        html,
        r#"<section class="wide"><h2>In flight: <span id="in-flight-count">{}</span>{}</h2>"#,
        report.pending_vods,
        shown_note(report.pending_vods, entries.len(), "oldest first")
    );
    if entries.is_empty() {
        html.push_str(r#"<p class="empty">Nothing in flight.</p></section>"#);
        return;
    }
    html.push_str(r#"<div class="scroll"><table id="in-flight"><thead><tr><th>VOD</th><th>Show</th><th>State</th><th class="n">Progress</th><th>In this state</th></tr></thead><tbody>"#);
    for entry in entries {
        let _ = write!(
            html,
            r#"<tr data-vod="{id}"><td>{id}</td><td>{show}</td><td class="state s-{state}">{state}</td><td class="n">{percent}</td><td>{since}</td></tr>"#,
            id = entry.id,
            show = show_cell(entry),
            state = escape(&entry.state),
            percent = percent(entry),
            since = in_state(entry, now),
        );
    }
    html.push_str("</tbody></table></div></section>");
}

fn failed_section(html: &mut String, report: &StatusReport, entries: &[VodEntry], now: i64) {
    let _ = write!(
        html,
        r#"<section class="wide"><h2>Failed: <span id="failed-count">{}</span>{}</h2>"#,
        report.failed_vods,
        shown_note(report.failed_vods, entries.len(), "newest first")
    );
    if entries.is_empty() {
        html.push_str(r#"<p class="empty">No failed VODs.</p></section>"#);
        return;
    }
    html.push_str(r#"<div class="scroll"><table id="failed"><thead><tr><th>VOD</th><th>Show</th><th>State</th><th>Error</th><th>Since</th></tr></thead><tbody>"#);
    for entry in entries {
        let _ = write!(
            html,
            r#"<tr data-vod="{id}"><td>{id}</td><td>{show}</td><td class="state s-{state}">{state}</td><td class="err">{error}</td><td>{since}</td></tr>"#,
            id = entry.id,
            show = show_cell(entry),
            state = escape(&entry.state),
            error = escape(entry.error_message.as_deref().unwrap_or("(no message)")),
            since = in_state(entry, now),
        );
    }
    html.push_str("</tbody></table></div></section>");
}

fn shown_note(total: u64, shown: usize, order: &str) -> String {
    if total as usize > shown {
        format!(r#" <span class="sub">({order}, {shown} shown)</span>"#)
    } else {
        format!(r#" <span class="sub">({order})</span>"#)
    }
}

fn in_state(entry: &VodEntry, now: i64) -> String {
    entry
        .state_changed_at
        .as_deref()
        .and_then(clock::parse_stored)
        .map(|at| clock::humanize_secs(now - at))
        .unwrap_or_else(|| "—".into())
}

fn history_section(html: &mut String, histories: &[History], now: i64) {
    html.push_str(r#"<section class="wide"><h2>History: sync % and Cablecast reachability</h2><div class="history">"#);
    for history in histories {
        let range = history.range.as_str();
        let uptime = history
            .uptime_percentage()
            .map(|u| format!("{u:.2} % uptime"))
            .unwrap_or_else(|| "no data".into());
        let _ = write!(
            html,
            r#"<div><h3><span>Last {range}</span><span id="uptime-{range}">{uptime}</span></h3>{chart}</div>"#,
            chart = chart::render(history, now)
        );
    }
    html.push_str("</div></section>");
}
