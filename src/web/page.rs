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
use crate::alert::Pulse;
use crate::clock::{self, StationZone};
use crate::status::RecentTranscription;
use crate::status::StatusReport;
use crate::store::{History, VodEntry};
use crate::stuck::StuckAfter;
use crate::vod::{StateGroup, VodState};

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
    /// When a VOD in flight is highlighted as stuck.
    pub stuck_after: StuckAfter,
    pub alerts: super::alerts::AlertsView,
    /// The station's time zone, for every time shown.
    pub zone: StationZone,
}

/// When a page was read, and the zone its times are shown in.
pub struct Moment<'a> {
    /// Unix seconds.
    pub now: i64,
    pub zone: &'a StationZone,
}

impl<'a> Moment<'a> {
    pub fn new(now: i64, zone: &'a StationZone) -> Moment<'a> {
        Moment { now, zone }
    }

    /// Unix seconds as people at the station read them.
    pub fn local(&self, secs: i64) -> String {
        clock::format_local(secs, self.zone)
    }

    /// A stored timestamp as people at the station read it.
    pub fn stored(&self, stored: &str) -> String {
        clock::stored_to_local(stored, self.zone)
    }
}

pub(super) const STYLE: &str = r#"
:root{--ok:#2e9e44;--warn:#c98a0b;--bad:#d0452f;--ink:#1d2733;--muted:#5d6b7a;--line:#dde2e7;--card:#fff;--bg:#eef1f4;--accent:#1f6fb2}
*{box-sizing:border-box}
body{margin:0;font:clamp(15px,1.05vw,22px)/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--ink);background:var(--bg)}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.6em 1.2em;padding:.8em 1.2em;background:#17212c;color:#fff}
header h1{font-size:1.25em;margin:0;font-weight:600}
header .meta{color:#b9c4cf;font-size:.85em}
.pill{display:inline-block;padding:.2em .75em;border-radius:1em;font-weight:600;font-size:.9em}
.pill.up{background:var(--ok);color:#fff}.pill.down{background:var(--bad);color:#fff}.pill.unknown{background:#7b8794;color:#fff}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,17em),1fr));grid-auto-flow:row dense;gap:1em;padding:1em 1.2em;max-width:120em;margin:0 auto}
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
.err{color:var(--bad);overflow-wrap:break-word}
.state{white-space:nowrap}.status-message{white-space:normal}
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
a{color:var(--accent)}
tr.stuck td{background:#fdecea}tr.stuck td:first-child{box-shadow:inset .3em 0 0 var(--bad)}
.tag{display:inline-block;padding:0 .45em;border-radius:.3em;font-size:.8em;font-weight:700;background:var(--bad);color:#fff;margin-left:.3em}
.banner{margin:1em 1.2em 0;padding:.8em 1.1em;border-radius:.6em;background:#fff4d6;border-left:.4em solid var(--warn)}
.banner.bad{background:#fdecea;border-left-color:var(--bad)}
.banner b{display:block}
.actions{margin-top:.5em;display:flex;flex-wrap:wrap;gap:.4em 1em}
form.filters{display:flex;flex-wrap:wrap;gap:.5em 1em;align-items:end;margin-bottom:.8em}
form.filters label{display:flex;flex-direction:column;font-size:.85em;color:var(--muted)}
form.filters input,form.filters select,form.filters button{font:inherit;padding:.25em .4em}
.pager{display:flex;gap:1em;margin-top:.6em}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.3em 1em;margin:0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;overflow-wrap:anywhere}
section.engineers{opacity:.85}
ul.firing{list-style:none;margin:0;padding:0}
ul.firing li{padding:.35em 0 .35em .6em;border-left:.3em solid var(--bad);margin-bottom:.4em;overflow-wrap:break-word}
ul.firing li.silenced{border-left-color:#7b8794}
details summary{cursor:pointer;color:var(--accent);margin:.3em 0}
.hint{margin:.8em 0 0;padding:.6em .8em;border-radius:.4em;background:#f5f7f9;border-left:.3em solid var(--accent)}
@media (max-width:40em){
header,main{padding-left:.6em;padding-right:.6em}
section{padding:.7em .8em}
table.cards thead{display:none}
table.cards,table.cards tbody,table.cards tr,table.cards td{display:block}
table.cards tr{padding:.4em 0;border-bottom:1px solid var(--line)}
table.cards td{display:inline-block;max-width:100%;border:0;padding:.1em 1em .1em 0;text-align:left;vertical-align:top}
table.cards td[data-label]::before{content:attr(data-label) ": ";color:var(--muted)}
table.cards td:empty{display:none}
tr.stuck td,tr.stuck td:first-child{background:none;box-shadow:none}table.cards tr.stuck{background:#fdecea;box-shadow:inset .3em 0 0 var(--bad);padding-left:.6em}
}
"#;

/// Renders the whole page.
pub fn render(overview: &Overview) -> String {
    let report = &overview.report;
    let now = overview.now;
    let moment = Moment::new(now, &overview.zone);
    let mut html = String::with_capacity(32 * 1024);
    let _ = write!(
        html,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta http-equiv="refresh" content="{REFRESH_SECS}"><title>Archivist: {sync:.1} % synced</title><style>{STYLE}</style></head><body>"#,
        sync = report.sync_percentage
    );
    header(&mut html, report, &overview.alerts.pulse, &moment);
    if let Some(damage) = &overview.damage {
        let _ = write!(
            html,
            r#"<div class="damage" id="damage"><b>The database is damaged: the monitor runs no cycles.</b> {}</div>"#,
            escape(damage)
        );
    }
    banners(&mut html, report, &moment);
    // The sync figure first, on a phone's first screen; the alerts next,
    // firing ones compact and the resolved history folded.
    html.push_str("<main>");
    sync_section(&mut html, report);
    super::alerts::section(&mut html, &overview.alerts, &moment);
    stuck_section(&mut html, report, now);
    states_section(&mut html, report);
    transcriptions_section(&mut html, report);
    in_flight_section(&mut html, overview, &moment);
    failed_section(&mut html, report, &overview.failed, &moment);
    history_section(&mut html, &overview.histories, now);
    recent_transcriptions_section(&mut html, report, now);
    performance_section(&mut html, report);
    html.push_str("</main>");
    footer(&mut html, &moment, true);
    html
}

/// The page's foot: when it was read (the station's time, zone shown),
/// whether it reloads itself, and the machine-readable answers beside it.
pub(super) fn footer(html: &mut String, moment: &Moment<'_>, reloads: bool) {
    let reload = if reloads {
        format!(" · reloads every {REFRESH_SECS} s")
    } else {
        String::new()
    };
    let _ = write!(
        html,
        r#"<footer>Read {at}{reload} · times in the station's time zone ({zone}) · <a href="/">Overview</a> · <a href="/vods">All VODs</a> · <a href="/api/status">/api/status</a> · <a href="/api/vods">/api/vods</a> · <a href="/metrics">/metrics</a> · <a href="/healthz">/healthz</a></footer></body></html>"#,
        at = moment.local(moment.now),
        zone = escape(&moment.zone.name()),
    );
}

/// What staff must know before trusting the figures: a first catalogue pass
/// under way (or interrupted), Cablecast unreachable, a location filter that
/// matches nothing.
pub(super) fn banners(html: &mut String, report: &StatusReport, moment: &Moment<'_>) {
    if !report.catalogue_complete {
        let how_far = match &report.catalogue.progress {
            Some(p) => format!(
                "First catalogue pass: {} ({} of {} {} listed, as of {}).",
                escape(&p.text),
                p.listed,
                p.total.map_or_else(|| "?".into(), |t| t.to_string()),
                escape(&p.phase),
                moment.stored(&p.at)
            ),
            None => "No catalogue pass has completed yet; the next one starts with the monitor's next cycle.".into(),
        };
        let _ = write!(
            html,
            r#"<div class="banner" id="catalogue-banner"><b>The figures cover only part of the station.</b> {how_far} Counts and percentages are partial until a complete pass finishes.</div>"#
        );
    }
    if let Some(outage) = &report.outage {
        let since = outage
            .unreachable_since
            .as_deref()
            .map_or_else(|| "more than 48 hours".into(), |at| moment.stored(at));
        let as_of = outage.figures_as_of.as_deref().map_or_else(
            || "no cycle has reached it yet".into(),
            |at| moment.stored(at),
        );
        let _ = write!(
            html,
            r#"<div class="banner bad" id="stale-banner"><b>Cablecast unreachable since {since}.</b> The figures are as of the last good cycle: {as_of}. Ages keep counting from what was last seen.</div>"#
        );
    }
    if let Some(warning) = &report.catalogue.location_warning {
        let _ = write!(
            html,
            r#"<div class="banner bad" id="location-warning"><b>The location filter matches no show.</b> {}</div>"#,
            escape(warning)
        );
    }
}

fn stuck_section(html: &mut String, report: &StatusReport, now: i64) {
    let oldest = report
        .oldest_in_flight_since
        .as_deref()
        .and_then(clock::parse_stored)
        .map(|at| format!("longest in flight: {}", clock::humanize_secs(now - at)))
        .unwrap_or_else(|| "nothing in flight".into());
    let _ = write!(
        html,
        r#"<section><h2>Stuck</h2><div class="big{class}"><span id="stuck-count">{stuck}</span></div><div class="sub">VODs in flight longer than their state allows · {oldest}</div><div class="actions"><a href="/vods?stuck=1">List stuck VODs</a><a href="/vods?state=error">Failed</a><a href="/vods">All VODs</a></div><div class="sub" title="ARCHIVIST_STUCK_AFTER">thresholds: {after}</div></section>"#,
        class = if report.stuck_vods > 0 { " err" } else { "" },
        stuck = report.stuck_vods,
        after = escape(&report.stuck_after.replace(',', ", ")),
    );
}

pub(super) fn ago(now: i64, stored: &str) -> String {
    match clock::parse_stored(stored) {
        Some(at) => format!("{} ago", clock::humanize_secs(now - at)),
        None => "at an unknown time".into(),
    }
}

/// The page's head: Cablecast's state as the monitor's last cycle saw it,
/// or, when the monitor stopped ([`Pulse`]), that it is not running and
/// since when: an old "reachable" is never shown green.
fn header(html: &mut String, report: &StatusReport, pulse: &Pulse, moment: &Moment<'_>) {
    html.push_str("<header><h1>Archivist · VOD publishing</h1>");
    match &report.last_cycle {
        Some(cycle) => {
            let (class, text) = match pulse {
                Pulse::Stopped { .. } => (
                    "down",
                    format!("monitor not running since {}", moment.stored(&cycle.at)),
                ),
                Pulse::Running if cycle.cablecast_reachable => {
                    ("up", "Cablecast reachable".to_string())
                }
                Pulse::Running => ("down", "Cablecast NOT reachable".to_string()),
            };
            let _ = write!(
                html,
                r#"<span id="cablecast-state" class="pill {class}">{text}</span><span class="meta">last check {ago} (<time datetime="{at}">{local}</time>)</span>"#,
                ago = ago(moment.now, &cycle.at),
                at = escape(&cycle.at),
                local = moment.stored(&cycle.at)
            );
            if let Some(error) = &cycle.error {
                let _ = write!(html, r#"<span class="meta err">{}</span>"#, escape(error));
            }
            if let Some(way) = &report.catalogue.change_look {
                let _ = write!(html, r#"<span class="meta" id="change-look">changes found by {}</span>"#, escape(way));
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
        r#"<section><h2>Sync</h2><div class="big"><span id="sync-percentage">{sync:.2}</span> %</div><div class="bar"><span style="width:{width:.2}%"></span></div><div class="sub"><span id="completed-vods">{complete}</span> of <span id="publishable-vods">{publishable}</span> VODs complete · <span id="total-shows">{shows}</span> shows</div><div class="sub"><span id="pending-vods">{pending}</span> in flight · <span id="failed-vods">{failed}</span> failed · <span id="disabled-vods">{disabled}</span> disabled (left out of the percentage) · <span id="total-vods">{total}</span> in all</div></section>"#,
        sync = report.sync_percentage,
        width = report.sync_percentage.clamp(0.0, 100.0),
        complete = report.completed_vods,
        publishable = report.total_vods.saturating_sub(report.disabled_vods),
        total = report.total_vods,
        shows = report.total_shows,
        pending = report.pending_vods,
        failed = report.failed_vods,
        disabled = report.disabled_vods,
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
        r#"<section><h2>Transcriptions</h2><div class="figures"><div>last 24 h<b id="tx-24h">{}</b></div><div>total<b id="tx-total">{}</b></div><div>linked to a show<b id="tx-linked">{}</b></div><div>failed<b id="tx-failed">{}</b></div><div>not linked<b id="tx-unlinked">{}</b></div><div>shows needing captions<b id="tx-needs-captions">{}</b></div><div>captioned by Cablecast<b id="captioned-by-cablecast">{}</b></div><div>captioned by our transcriptions<b id="captioned-by-transcriptions">{}</b></div></div></section>"#,
        tx.last_24h,
        tx.total,
        tx.linked_to_show,
        tx.failed,
        tx.unlinked,
        tx.needs_captions,
        tx.captioned_by_cablecast,
        tx.captioned_by_transcriptions
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
    html.push_str(r#"<div class="scroll"><table id="transcriptions" class="cards"><thead><tr><th>Show</th><th>Video</th><th>Status</th><th>Finished</th></tr></thead><tbody>"#);
    for entry in recent {
        let file = entry
            .video_path
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(&entry.video_path);
        let _ = write!(
            html,
            r#"<tr><td data-label="Show">{show}</td><td data-label="Video" title="{path}">{file}</td><td data-label="Status">{status}{error}</td><td data-label="Finished">{finished}</td></tr>"#,
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
        r#"<section class="wide engineers"><h2>Archivist's own performance (for engineers: how hard the monitor works, not how the station is doing)</h2><div class="figures"><div>cache hit rate<b id="cache-hit-rate">{hit:.1} %</b></div><div>queries per cycle<b id="queries-per-cycle">{queries}</b></div><div>avg query time<b id="avg-query-ms">{avg:.3} ms</b></div><div>memory<b id="memory">{memory}</b></div><div>cycle time<b id="cycle-duration">{duration}</b></div><div>HTTP calls per cycle<b id="http-calls">{calls}</b></div></div></section>"#,
        hit = perf.cache_hit_rate * 100.0,
        queries = per_cycle(|c| c.sql_statements.to_string()),
        avg = perf.avg_query_ms,
        duration = per_cycle(|c| format!("{:.2} s", c.duration_ms as f64 / 1000.0)),
        calls = per_cycle(|c| c.http_calls.to_string()),
    );
}

/// Progress of the current state; none for a failed VOD, whose progress
/// says nothing.
pub(super) fn percent(entry: &VodEntry) -> String {
    if is_failed(entry) {
        return "—".into();
    }
    entry
        .percent_complete
        .map(|p| format!("{:.0} %", p * 100.0))
        .unwrap_or_else(|| "—".into())
}

/// Whether `entry` is in a failed state (`error`, `permanentFailure`).
pub(super) fn is_failed(entry: &VodEntry) -> bool {
    VodState::from_cablecast(&entry.state).group() == StateGroup::Failed
}

/// The show's title, linked to its page.
pub(super) fn show_cell(entry: &VodEntry) -> String {
    let text = match &entry.show_title {
        Some(title) => escape(title).to_string(),
        None => match entry.show_cablecast_id {
            Some(id) => format!("show {id}"),
            None => return "—".into(),
        },
    };
    match entry.show_cablecast_id {
        Some(id) => format!(r#"<a href="/shows/{id}">{text}</a>"#),
        None => text,
    }
}

/// Whether `entry` is stuck at `now` under `thresholds`.
pub(super) fn is_stuck(entry: &VodEntry, thresholds: &StuckAfter, now: i64) -> bool {
    entry
        .state_changed_at
        .as_deref()
        .and_then(clock::parse_stored)
        .is_some_and(|at| {
            thresholds.is_stuck(
                &VodState::from_cablecast(&entry.state),
                std::time::Duration::from_secs((now - at).max(0) as u64),
            )
        })
}

/// One VOD row of a list: stuck ones highlighted and tagged; the show's
/// column unless the list is one show's.
pub(super) fn vod_row(
    html: &mut String,
    entry: &VodEntry,
    stuck: bool,
    moment: &Moment<'_>,
    show_column: bool,
) {
    let show = if show_column {
        format!(r#"<td data-label="Show">{}</td>"#, show_cell(entry))
    } else {
        String::new()
    };
    let _ = write!(
        html,
        r#"<tr data-vod="{id}"{class}><td data-label="VOD"><a href="/vods/{id}">{id}</a></td>{show}<td data-label="State" class="state s-{state}">{state}{tag}</td><td data-label="Progress" class="n">{percent}</td><td data-label="In this state">{since}</td><td data-label="Cablecast says">{says}</td></tr>"#,
        id = entry.id,
        class = if stuck { r#" class="stuck""# } else { "" },
        state = escape(&entry.state),
        tag = if stuck {
            r#"<span class="tag">stuck</span>"#
        } else {
            ""
        },
        percent = percent(entry),
        since = in_state(entry, moment),
        says = cablecast_says(
            entry.error_message.as_deref(),
            entry.status_message.as_deref()
        ),
    );
}

/// What Cablecast says of a VOD: its error in red, else its status
/// message (why it waits, say), which is news, not an error.
pub(super) fn cablecast_says(error: Option<&str>, status: Option<&str>) -> String {
    let error = error.filter(|t| !t.trim().is_empty());
    let status = status.filter(|t| !t.trim().is_empty());
    match (error, status) {
        (Some(error), _) => format!(r#"<span class="err">{}</span>"#, escape(error)),
        (None, Some(status)) => {
            format!(r#"<span class="status-message">{}</span>"#, escape(status))
        }
        (None, None) => String::new(),
    }
}

/// The head of a VOD table, with the show's column or without.
pub(super) fn vod_table_head(show_column: bool) -> &'static str {
    if show_column {
        r#"<thead><tr><th>VOD</th><th>Show</th><th>State</th><th class="n">Progress</th><th>In this state</th><th>Cablecast says</th></tr></thead>"#
    } else {
        r#"<thead><tr><th>VOD</th><th>State</th><th class="n">Progress</th><th>In this state</th><th>Cablecast says</th></tr></thead>"#
    }
}

fn in_flight_section(html: &mut String, overview: &Overview, moment: &Moment<'_>) {
    let report = &overview.report;
    let entries = &overview.in_flight;
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
    let _ = write!(
        html,
        r#"<div class="scroll"><table id="in-flight" class="cards">{}<tbody>"#,
        vod_table_head(true)
    );
    for entry in entries {
        let stuck = is_stuck(entry, &overview.stuck_after, overview.now);
        vod_row(html, entry, stuck, moment, true);
    }
    html.push_str(
        r#"</tbody></table></div><div class="actions"><a href="/vods?stuck=1">Stuck VODs</a>"#,
    );
    for state in VodState::IN_FLIGHT_NAMES {
        let _ = write!(html, r#"<a href="/vods?state={state}">{state}</a>"#);
    }
    html.push_str("</div></section>");
}

fn failed_section(
    html: &mut String,
    report: &StatusReport,
    entries: &[VodEntry],
    moment: &Moment<'_>,
) {
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
    html.push_str(r#"<div class="scroll"><table id="failed" class="cards"><thead><tr><th>VOD</th><th>Show</th><th>State</th><th>Error</th><th>Since</th></tr></thead><tbody>"#);
    for entry in entries {
        let _ = write!(
            html,
            r#"<tr data-vod="{id}"><td data-label="VOD"><a href="/vods/{id}">{id}</a></td><td data-label="Show">{show}</td><td data-label="State" class="state s-{state}">{state}{reason}</td><td data-label="Error" class="err">{error}</td><td data-label="Since">{since}</td></tr>"#,
            id = entry.id,
            show = show_cell(entry),
            state = escape(&entry.state),
            reason = reason(entry),
            error = escape(entry.error_message.as_deref().unwrap_or("(no message)")),
            since = in_state(entry, moment),
        );
    }
    html.push_str(r#"</tbody></table></div><div class="actions"><a href="/vods?state=error">All in error</a><a href="/vods?state=permanentFailure">All in permanentFailure</a></div></section>"#);
}

/// Cablecast's reason for the state (`statusMessage`), under the state.
fn reason(entry: &VodEntry) -> String {
    entry
        .status_message
        .as_deref()
        .filter(|m| !m.trim().is_empty())
        .map(|m| format!(r#"<div class="sub status-message">{}</div>"#, escape(m)))
        .unwrap_or_default()
}

fn shown_note(total: u64, shown: usize, order: &str) -> String {
    if total as usize > shown {
        format!(r#" <span class="sub">({order}, {shown} shown)</span>"#)
    } else {
        format!(r#" <span class="sub">({order})</span>"#)
    }
}

/// Time in the current state: "3 h 5 min" from Cablecast's `stateChange`,
/// "at least 3 h 5 min" when Archivist only knows when it first saw the
/// state; the local time and its source in the tooltip.
pub(super) fn in_state(entry: &VodEntry, moment: &Moment<'_>) -> String {
    let Some(at) = entry
        .state_changed_at
        .as_deref()
        .and_then(clock::parse_stored)
    else {
        return "—".into();
    };
    let observed = entry.state_changed_source.as_deref() != Some("cablecast");
    format!(
        r#"<span title="{title}">{least}{age}</span>"#,
        title = if observed {
            format!("first seen in this state {}", moment.local(at))
        } else {
            format!("since {} (Cablecast's stateChange)", moment.local(at))
        },
        least = if observed { "at least " } else { "" },
        age = clock::humanize_secs(moment.now - at),
    )
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
