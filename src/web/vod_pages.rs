//! The operator's pages beyond the overview: the VOD list (every VOD, paged,
//! filtered by state, stuck, words of the show's title and state-change
//! dates, with a CSV of what the filter shows), one VOD with its history,
//! one show with its VODs and captions, and their JSON. No JavaScript: the
//! filters are a plain GET form, so every view is a link staff can share.
//!
//! What this module is not: it reads nothing itself (`routes` hands it what
//! the store returned) and it caches nothing (`routes` caches its answers
//! per data version).

use std::fmt::Write;

use serde::Serialize;

use super::html::escape;
use super::links::CablecastLinks;
use super::page::{
    self, cablecast_says, in_state, is_failed, is_stuck, percent, vod_row, vod_table_head, Moment,
    STYLE,
};
use super::query::Query;
use super::WebError;
use crate::clock::{self, StationZone};
use crate::store::export::Field;
use crate::store::{ShowRecord, TranscriptionRow, VodEntry, VodEvent, VodFilter, MAX_WORDS};
use crate::stuck::StuckAfter;
use crate::vod::{count_vods, VodState};

/// Rows per page of the HTML list.
pub const LIST_PAGE_ROWS: usize = 50;

/// The name a browser saves `/vods.csv` under.
pub const CSV_FILE_NAME: &str = "vods.csv";

/// The list's filter and page, read from a query string.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListRequest {
    pub filter: VodFilter,
    /// The words as typed, for the form.
    pub q: String,
    pub from: String,
    pub to: String,
    /// 1-based page of the HTML list.
    pub page: u64,
}

/// Reads `state`, `stuck`, `q`, `from`, `to` (dates, `YYYY-MM-DD`, days in
/// the station's zone; `to` inclusive) and `page`.
pub fn list_request(query: &Query, zone: &StationZone) -> Result<ListRequest, WebError> {
    let state = match query.get("state") {
        None | Some("") => None,
        Some(text) => Some(
            VodState::KNOWN
                .into_iter()
                .find(|s| s.as_str() == text)
                .ok_or_else(|| {
                    WebError::BadQuery(format!(
                        "state must be one of {}",
                        VodState::KNOWN.map(|s| s.as_str().to_string()).join(", ")
                    ))
                })?
                .as_str()
                .to_string(),
        ),
    };
    let stuck = match query.get("stuck") {
        None | Some("") | Some("0") => false,
        Some("1") | Some("on") | Some("true") => true,
        Some(_) => return Err(WebError::BadQuery("stuck must be 1 or 0".into())),
    };
    let q = query.get("q").unwrap_or("").trim().to_string();
    let words: Vec<String> = q.split_whitespace().map(str::to_string).collect();
    if words.len() > MAX_WORDS {
        return Err(WebError::BadQuery(format!(
            "q takes at most {MAX_WORDS} words"
        )));
    }
    if q.len() > 200 {
        return Err(WebError::BadQuery("q is longer than 200 characters".into()));
    }
    let day = |name: &str, edge: fn(&str, &StationZone) -> Option<i64>| match query
        .get(name)
        .map(str::trim)
    {
        None | Some("") => Ok((String::new(), None)),
        Some(text) => edge(text, zone)
            .map(|at| (text.to_string(), Some(at)))
            .ok_or_else(|| WebError::BadQuery(format!("{name} must be a date, YYYY-MM-DD"))),
    };
    let (from, from_unix) = day("from", clock::local_day_start)?;
    // The whole of the `to` day: to the start of the next, 23 to 25 hours
    // on.
    let (to, to_end) = day("to", clock::local_day_end)?;
    let page = query.number("page", 1, 1, 1_000_000)?;
    Ok(ListRequest {
        filter: VodFilter {
            state,
            stuck,
            words,
            changed_from: from_unix.map(clock::format_unix),
            changed_before: to_end.map(clock::format_unix),
        },
        q,
        from,
        to,
        page,
    })
}

impl ListRequest {
    /// What is wrong when `from` is a later day than `to`: nothing can
    /// match, and the list says so rather than show nothing.
    pub fn reversed_range(&self) -> Option<String> {
        let (Some(from), Some(before)) = (&self.filter.changed_from, &self.filter.changed_before)
        else {
            return None;
        };
        (from >= before).then(|| {
            format!(
                "the dates are reversed: from {} is after to {}",
                self.from, self.to
            )
        })
    }

    /// The query string of this filter (no page), for links.
    pub fn query_string(&self) -> String {
        let mut parts = Vec::new();
        if let Some(state) = &self.filter.state {
            parts.push(format!("state={}", encode(state)));
        }
        if self.filter.stuck {
            parts.push("stuck=1".into());
        }
        for (name, value) in [("q", &self.q), ("from", &self.from), ("to", &self.to)] {
            if !value.is_empty() {
                parts.push(format!("{name}={}", encode(value)));
            }
        }
        parts.join("&")
    }
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The start of a page: head, style and a slim header linking home.
fn page_start(html: &mut String, title: &str) {
    let _ = write!(
        html,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>{title} · Archivist</title><style>{STYLE}</style></head><body><header><h1 style="overflow-wrap:anywhere"><a href="/" style="color:#fff;text-decoration:none">Archivist</a> · {title}</h1></header>"#,
        title = escape(title)
    );
}

/// `/vods`: the filter form, one page of VODs, paging and the CSV link.
pub fn render_list(
    request: &ListRequest,
    total: u64,
    rows: &[VodEntry],
    thresholds: &StuckAfter,
    moment: &Moment<'_>,
) -> String {
    let mut html = String::with_capacity(16 * 1024 + rows.len() * 400);
    page_start(&mut html, "VODs");
    html.push_str(r#"<main><section class="wide"><form class="filters" method="get" action="/vods"><label>State<select name="state"><option value="">any</option>"#);
    for state in VodState::KNOWN {
        let name = state.as_str();
        let selected = if request.filter.state.as_deref() == Some(name) {
            " selected"
        } else {
            ""
        };
        let _ = write!(html, r#"<option{selected}>{name}</option>"#);
    }
    let _ = write!(
        html,
        r#"</select></label><label>Show title words<input type="search" name="q" value="{q}" placeholder="council budget"></label><label>State changed from<input type="date" name="from" value="{from}"></label><label>to<input type="date" name="to" value="{to}"></label><label><span>Stuck only</span><input type="checkbox" name="stuck" value="1"{stuck}></label><button type="submit">Show</button><a href="/vods">Clear</a></form>"#,
        q = escape(&request.q),
        from = escape(&request.from),
        to = escape(&request.to),
        stuck = if request.filter.stuck { " checked" } else { "" },
    );
    let query = request.query_string();
    let first = (request.page - 1) * LIST_PAGE_ROWS as u64;
    let pages = total.div_ceil(LIST_PAGE_ROWS as u64).max(1);
    let _ = write!(
        html,
        r#"<h2><span id="found-count">{total}</span> {vods}{shown}{order} · <a id="csv-link" download="{CSV_FILE_NAME}" href="/vods.csv{sep}{query}">CSV of {these}</a></h2>"#,
        vods = if total == 1 { "VOD" } else { "VODs" },
        shown = if rows.is_empty() || total as usize <= rows.len() {
            String::new()
        } else {
            format!(", {}–{} shown", first + 1, first + rows.len() as u64)
        },
        order = if request.filter.stuck {
            " (longest in their state first)"
        } else {
            " (newest first)"
        },
        these = if total == 1 {
            "this one".to_string()
        } else {
            format!("these {total}")
        },
        sep = if query.is_empty() { "" } else { "?" },
    );
    let link = |page: u64| {
        let sep = if query.is_empty() { "" } else { "&" };
        format!("/vods?{query}{sep}page={page}")
    };
    if let Some(reversed) = request.reversed_range() {
        let _ = write!(
            html,
            r#"<p class="banner bad" id="reversed-range">No VOD can match: {}. Swap the two dates.</p>"#,
            escape(&reversed)
        );
    } else if request.page > pages {
        let _ = write!(
            html,
            r#"<p class="empty" id="past-the-end">Page {} is past the end: {} in {pages} {}. <a href="{}">Go to the last page</a></p>"#,
            request.page,
            count_vods(total),
            if pages == 1 { "page" } else { "pages" },
            escape(&link(pages)),
        );
    } else if rows.is_empty() {
        html.push_str(r#"<p class="empty">No VOD matches.</p>"#);
    } else {
        let _ = write!(
            html,
            r#"<div class="scroll"><table id="vods" class="cards">{}<tbody>"#,
            vod_table_head(true)
        );
        for entry in rows {
            vod_row(
                &mut html,
                entry,
                is_stuck(entry, thresholds, moment.now),
                moment,
                true,
            );
        }
        html.push_str("</tbody></table></div>");
    }
    html.push_str(r#"<div class="pager">"#);
    if request.page > 1 {
        let _ = write!(
            html,
            r#"<a id="prev-page" href="{}">← previous</a>"#,
            escape(&link((request.page - 1).min(pages)))
        );
    }
    if request.page <= pages {
        let _ = write!(html, "<span>page {} of {pages}</span>", request.page);
    }
    if request.page < pages {
        let _ = write!(
            html,
            r#"<a id="next-page" href="{}">next →</a>"#,
            escape(&link(request.page + 1))
        );
    }
    html.push_str("</div></section></main>");
    page::footer(&mut html, moment, false);
    html
}

/// The CSV header of a VOD list.
pub const CSV_COLUMNS: [&str; 12] = [
    "id",
    "show_cablecast_id",
    "show_title",
    "state",
    "stuck",
    "percent_complete",
    "state_changed_at",
    "state_changed_source",
    "error_message",
    "status_message",
    "url",
    "length",
];

/// One VOD as a CSV record (the export's writer, which keeps text from
/// opening as a spreadsheet formula).
pub fn csv_record(line: &mut String, entry: &VodEntry, stuck: bool) {
    fn text(t: &Option<String>) -> Field<'_> {
        match t {
            Some(t) => Field::Text(t.as_str().into()),
            None => Field::Null,
        }
    }
    crate::export::csv_line(
        line,
        &[
            Field::Integer(entry.id),
            entry.show_cablecast_id.map_or(Field::Null, Field::Integer),
            text(&entry.show_title),
            Field::Text(entry.state.as_str().into()),
            Field::Integer(i64::from(stuck)),
            entry.percent_complete.map_or(Field::Null, Field::Real),
            text(&entry.state_changed_at),
            text(&entry.state_changed_source),
            text(&entry.error_message),
            text(&entry.status_message),
            text(&entry.url),
            entry.length.map_or(Field::Null, Field::Integer),
        ],
    );
}

/// The CSV header line.
pub fn csv_header(line: &mut String) {
    let fields: Vec<Field<'_>> = CSV_COLUMNS
        .iter()
        .map(|c| Field::Text((*c).into()))
        .collect();
    crate::export::csv_line(line, &fields);
}

/// Everything one VOD's page shows.
pub struct VodView {
    pub vod: VodEntry,
    pub show: Option<ShowRecord>,
    pub events: Vec<VodEvent>,
    pub captions: Vec<TranscriptionRow>,
    pub stuck: bool,
}

/// `/vods/{id}`.
pub fn render_vod(view: &VodView, links: Option<&CablecastLinks>, moment: &Moment<'_>) -> String {
    let vod = &view.vod;
    let failed = is_failed(vod);
    let mut html = String::with_capacity(8 * 1024);
    page_start(&mut html, &format!("VOD {}", vod.id));
    let _ = write!(
        html,
        r#"<main><section class="wide"><h2>VOD {id}{tag}</h2><dl class="facts"><dt>Show</dt><dd>{show}</dd><dt>State</dt><dd class="state s-{state}" id="vod-state">{state}</dd><dt>In this state</dt><dd id="vod-since">{since}</dd>{progress}"#,
        id = vod.id,
        tag = if view.stuck {
            r#" <span class="tag" id="vod-stuck">stuck</span>"#
        } else {
            ""
        },
        show = page::show_cell(vod),
        state = escape(&vod.state),
        since = in_state(vod, moment),
        progress = if failed {
            String::new()
        } else {
            format!("<dt>Progress</dt><dd>{}</dd>", percent(vod))
        },
    );
    for (name, value) in [
        ("Error", &vod.error_message),
        ("Cablecast's status message", &vod.status_message),
        ("URL", &vod.url),
    ] {
        if let Some(value) = value {
            let _ = write!(html, r#"<dt>{name}</dt><dd>{}</dd>"#, escape(value));
        }
    }
    let _ = write!(
        html,
        r#"<dt>Last changed</dt><dd>{}</dd></dl>"#,
        moment.stored(&vod.updated_at)
    );
    if let Some(hint) = failed_hint(&vod.state) {
        let _ = write!(html, r#"<p class="hint" id="vod-hint">{hint}</p>"#);
    }
    cablecast_actions(&mut html, links, Some(vod), vod.show_cablecast_id);
    html.push_str(r#"</section><section class="wide"><h2>History</h2>"#);
    if view.events.is_empty() {
        html.push_str(
            r#"<p class="empty">No change of state seen since Archivist first saw this VOD.</p>"#,
        );
    } else {
        html.push_str(r#"<div class="scroll"><table id="history" class="cards"><thead><tr><th>When</th><th>From</th><th>To</th><th class="n">Progress</th><th>Cablecast said</th></tr></thead><tbody>"#);
        for event in &view.events {
            let when = match (&event.at, event.at_source.as_deref()) {
                (Some(at), Some("cablecast")) => moment.stored(at),
                (Some(at), _) => format!("seen {}", moment.stored(at)),
                (None, _) => format!("seen {}", moment.stored(&event.observed_at)),
            };
            let _ = write!(
                html,
                r#"<tr><td data-label="When">{when}</td><td data-label="From" class="state s-{from}">{from}</td><td data-label="To" class="state s-{to}">{to}</td><td data-label="Progress" class="n">{percent}</td><td data-label="Cablecast said">{says}</td></tr>"#,
                from = escape(event.from.as_deref().unwrap_or("—")),
                to = escape(&event.to),
                percent = event
                    .percent
                    .map(|p| format!("{:.0} %", p * 100.0))
                    .unwrap_or_else(|| "—".into()),
                says = cablecast_says(
                    event.error_message.as_deref(),
                    event.status_message.as_deref()
                ),
            );
        }
        html.push_str("</tbody></table></div>");
    }
    html.push_str("</section>");
    captions_section(&mut html, &view.captions, moment);
    html.push_str("</main>");
    page::footer(&mut html, moment, false);
    html
}

/// What staff can do about a failed VOD, in Cablecast (Archivist only
/// watches): `None` for a VOD that has not failed.
fn failed_hint(state: &str) -> Option<&'static str> {
    match state {
        "error" => Some(
            "Cablecast stopped making this VOD. Open the show in Cablecast (a VOD is managed from its show's record) and check that its video file is there and plays; then re-encode (republish) the VOD there. Archivist sees the new state on its next cycle.",
        ),
        "permanentFailure" => Some(
            "Cablecast gave up on this VOD and will not try again by itself. Open the show in Cablecast, fix or replace its video file, then delete this VOD and make a new one from the show's record. Archivist sees the new VOD on its next cycle.",
        ),
        _ => None,
    }
}

/// Links into Cablecast for a VOD and its show.
fn cablecast_actions(
    html: &mut String,
    links: Option<&CablecastLinks>,
    vod: Option<&VodEntry>,
    show_cablecast_id: Option<i64>,
) {
    let Some(links) = links else {
        return;
    };
    let label = if links.web_ui {
        "in Cablecast"
    } else {
        "Cablecast API record"
    };
    html.push_str(r#"<div class="actions">"#);
    if let Some(vod) = vod {
        if let Some(url) = links.vod(vod.id, show_cablecast_id) {
            let _ = write!(
                html,
                r#"<a id="cablecast-vod-link" href="{}" rel="noreferrer">VOD {label}</a>"#,
                escape(&url)
            );
        }
    }
    if let Some(show) = show_cablecast_id {
        let _ = write!(
            html,
            r#"<a id="cablecast-show-link" href="{}" rel="noreferrer">Show {label}</a>"#,
            escape(&links.show(show))
        );
    }
    html.push_str("</div>");
}

fn captions_section(html: &mut String, captions: &[TranscriptionRow], moment: &Moment<'_>) {
    html.push_str(r#"<section class="wide"><h2>Captions</h2>"#);
    if captions.is_empty() {
        html.push_str(r#"<p class="empty" id="captions-none">No caption file or transcription is linked to this show.</p></section>"#);
        return;
    }
    html.push_str(r#"<div class="scroll"><table id="captions" class="cards"><thead><tr><th>File</th><th>Status</th><th>Finished</th><th>Linked</th></tr></thead><tbody>"#);
    for caption in captions {
        let status = if caption.removed_at.is_some() {
            "file gone".to_string()
        } else {
            caption.status.clone()
        };
        let _ = write!(
            html,
            r#"<tr><td data-label="File" style="overflow-wrap:anywhere">{file}</td><td data-label="Status">{status}{error}</td><td data-label="Finished">{done}</td><td data-label="Linked">{linked}</td></tr>"#,
            file = escape(
                caption
                    .output_path
                    .as_deref()
                    .unwrap_or(&caption.video_path)
            ),
            status = escape(&status),
            error = caption
                .error
                .as_deref()
                .map(|e| format!(r#"<div class="err">{}</div>"#, escape(e)))
                .unwrap_or_default(),
            done = caption
                .completed_at
                .as_deref()
                .map(|at| moment.stored(at))
                .unwrap_or_else(|| "—".into()),
            linked = escape(caption.linked_by.as_deref().unwrap_or("—")),
        );
    }
    html.push_str("</tbody></table></div></section>");
}

/// Everything one show's page shows.
pub struct ShowView {
    pub show: ShowRecord,
    pub vods: Vec<VodEntry>,
    pub captions: Vec<TranscriptionRow>,
}

/// `/shows/{id}`.
pub fn render_show(
    view: &ShowView,
    links: Option<&CablecastLinks>,
    thresholds: &StuckAfter,
    moment: &Moment<'_>,
) -> String {
    let show = &view.show;
    let title = show.cg_title.as_deref().unwrap_or(&show.title);
    let mut html = String::with_capacity(8 * 1024);
    page_start(&mut html, title);
    let has_captions = view
        .captions
        .iter()
        .any(|c| c.status == "completed" && c.removed_at.is_none());
    let _ = write!(
        html,
        r#"<main><section class="wide"><h2>Show {id}</h2><dl class="facts"><dt>Title</dt><dd>{title}</dd><dt>Internal title</dt><dd>{internal}</dd><dt>Event date</dt><dd>{date}</dd><dt>Location</dt><dd>{location}</dd><dt>Captions</dt><dd id="caption-state">{captions}</dd></dl>"#,
        id = show.cablecast_id,
        title = escape(title),
        internal = escape(&show.title),
        date = show
            .event_date
            .as_deref()
            .map(|at| moment.stored(at))
            .unwrap_or_else(|| "—".into()),
        location = show
            .location_id
            .map_or_else(|| "—".into(), |l| l.to_string()),
        captions = if has_captions {
            "captioned"
        } else {
            "no completed caption linked"
        },
    );
    cablecast_actions(&mut html, links, None, Some(show.cablecast_id));
    // The show's own VODs: its title is the page's, not repeated a row.
    let _ = write!(
        html,
        r#"</section><section class="wide"><h2>{}</h2>"#,
        count_vods(view.vods.len() as u64)
    );
    if view.vods.is_empty() {
        html.push_str(r#"<p class="empty">This show has no VOD.</p>"#);
    } else {
        let _ = write!(
            html,
            r#"<div class="scroll"><table id="show-vods" class="cards">{}<tbody>"#,
            vod_table_head(false)
        );
        for entry in &view.vods {
            let stuck = is_stuck(entry, thresholds, moment.now);
            vod_row(&mut html, entry, stuck, moment, false);
        }
        html.push_str("</tbody></table></div>");
    }
    html.push_str("</section>");
    captions_section(&mut html, &view.captions, moment);
    html.push_str("</main>");
    page::footer(&mut html, moment, false);
    html
}

/// One VOD in the JSON answers.
#[derive(Serialize)]
pub struct ApiVod<'a> {
    pub id: i64,
    pub show_cablecast_id: Option<i64>,
    pub show_title: Option<&'a str>,
    pub state: &'a str,
    pub percent_complete: Option<f64>,
    pub error_message: Option<&'a str>,
    pub status_message: Option<&'a str>,
    pub url: Option<&'a str>,
    pub length: Option<i64>,
    pub state_changed_at: Option<&'a str>,
    /// 'cablecast' or 'observed' (then the VOD has been in its state at
    /// least since `state_changed_at`).
    pub state_changed_source: Option<&'a str>,
    pub stuck: bool,
    pub updated_at: &'a str,
}

impl<'a> ApiVod<'a> {
    pub fn new(v: &'a VodEntry, stuck: bool) -> Self {
        ApiVod {
            id: v.id,
            show_cablecast_id: v.show_cablecast_id,
            show_title: v.show_title.as_deref(),
            state: &v.state,
            percent_complete: v.percent_complete,
            error_message: v.error_message.as_deref(),
            status_message: v.status_message.as_deref(),
            url: v.url.as_deref(),
            length: v.length,
            state_changed_at: v.state_changed_at.as_deref(),
            state_changed_source: v.state_changed_source.as_deref(),
            stuck,
            updated_at: &v.updated_at,
        }
    }
}

#[derive(Serialize)]
struct ApiShow<'a> {
    cablecast_id: i64,
    title: &'a str,
    cg_title: Option<&'a str>,
    event_date: Option<&'a str>,
    location_id: Option<i64>,
    cablecast_url: Option<String>,
}

#[derive(Serialize)]
struct ApiCaption<'a> {
    id: &'a str,
    video_path: &'a str,
    output_path: Option<&'a str>,
    status: &'a str,
    completed_at: Option<&'a str>,
    error: Option<&'a str>,
    removed_at: Option<&'a str>,
}

#[derive(Serialize)]
struct ApiVodDetail<'a> {
    vod: ApiVod<'a>,
    cablecast_url: Option<String>,
    show: Option<ApiShow<'a>>,
    /// Oldest first.
    events: &'a [VodEvent],
    captions: Vec<ApiCaption<'a>>,
}

/// `GET /api/vods/{id}`.
pub fn vod_json(view: &VodView, links: Option<&CablecastLinks>) -> serde_json::Result<Vec<u8>> {
    let vod = &view.vod;
    serde_json::to_vec(&ApiVodDetail {
        vod: ApiVod::new(vod, view.stuck),
        cablecast_url: links.and_then(|l| l.vod(vod.id, vod.show_cablecast_id)),
        show: view.show.as_ref().map(|s| ApiShow {
            cablecast_id: s.cablecast_id,
            title: &s.title,
            cg_title: s.cg_title.as_deref(),
            event_date: s.event_date.as_deref(),
            location_id: s.location_id,
            cablecast_url: links.map(|l| l.show(s.cablecast_id)),
        }),
        events: &view.events,
        captions: view
            .captions
            .iter()
            .map(|c| ApiCaption {
                id: &c.id,
                video_path: &c.video_path,
                output_path: c.output_path.as_deref(),
                status: &c.status,
                completed_at: c.completed_at.as_deref(),
                error: c.error.as_deref(),
                removed_at: c.removed_at.as_deref(),
            })
            .collect(),
    })
}
