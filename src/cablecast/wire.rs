//! Cablecast's JSON, as the API sends it, and its translation into domain
//! types. Nothing here is visible outside `cablecast`.
//!
//! Decoding is lenient where real servers vary (extra properties, nulls,
//! missing `meta`, unknown `vodState` values) and strict where Archivist
//! would otherwise store a lie (a missing id, an envelope of the wrong shape).

use serde::Deserialize;

use crate::clock::{self, StationZone};
use crate::logging;
use crate::vod::{Show, Vod, VodState};

/// Paging facts of a collection answer.
#[derive(Debug, Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub(super) struct Meta {
    #[serde(default)]
    pub count: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ShowsEnvelope {
    pub shows: Vec<ShowDto>,
    #[serde(default)]
    pub meta: Option<Meta>,
}

#[derive(Debug, Deserialize)]
pub(super) struct VodsEnvelope {
    pub vods: Vec<VodDto>,
    #[serde(default)]
    pub meta: Option<Meta>,
}

#[derive(Debug, Deserialize)]
pub(super) struct VodEnvelope {
    pub vod: VodDto,
}

/// Shows asked for by id with their VODs sideloaded (`include=vod`). A
/// server that ignores `include` sends no `vods` at all.
#[derive(Debug, Deserialize)]
pub(super) struct ShowsWithVodsEnvelope {
    pub shows: Vec<ShowDto>,
    #[serde(default)]
    pub vods: Option<Vec<VodDto>>,
    #[serde(default)]
    pub meta: Option<Meta>,
}

/// The saved show search's answer: the ids of the shows that match.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SavedShowSearchEnvelope {
    pub saved_show_search: SavedShowSearchDto,
}

#[derive(Debug, Deserialize)]
pub(super) struct SavedShowSearchDto {
    /// The record's id on the server, when it kept one.
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default)]
    pub results: Vec<i64>,
}

/// The body of `POST /shows/search/advanced` asking for shows modified
/// after `since` (station-local, no offset), oldest change first, of one
/// location when given.
pub(super) fn modified_since_search(since: &str, location: Option<i64>) -> serde_json::Value {
    let mut filters = vec![serde_json::json!({
        "field": "lastModified", "operator": "greaterThan", "searchValue": since
    })];
    if let Some(location) = location {
        filters.push(serde_json::json!({
            "field": "location", "operator": "equals", "searchValue": location.to_string()
        }));
    }
    serde_json::json!({"savedShowSearch": {
        "query": {
            "groups": [{"orAnd": "and", "filters": filters}],
            "sortOptions": [{"field": "lastModified", "descending": false}]
        },
        "name": ""
    }})
}

impl ShowDto {
    pub(super) fn id(&self) -> i64 {
        self.id
    }

    /// `lastModified` as sent, offset and all.
    pub(super) fn last_modified(&self) -> Option<&str> {
        self.last_modified.as_deref()
    }
}

impl VodDto {
    pub(super) fn id(&self) -> i64 {
        self.id
    }

    pub(super) fn show(&self) -> Option<i64> {
        self.show
    }
}

/// A single show's answer: the client does not ask for one show, but its
/// shape is the one real servers document, so the decoding test reads it.
#[cfg(test)]
#[derive(Debug, Deserialize)]
pub(super) struct ShowEnvelope {
    pub show: ShowDto,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ShowDto {
    id: i64,
    #[serde(default)]
    location: Option<i64>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    cg_title: Option<String>,
    #[serde(default)]
    event_date: Option<String>,
    #[serde(default)]
    last_modified: Option<String>,
    #[serde(default)]
    total_run_time: Option<f64>,
    #[serde(default)]
    has_captions: Option<bool>,
    #[serde(default)]
    caption_provider: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct VodDto {
    id: i64,
    #[serde(default)]
    show: Option<i64>,
    #[serde(default)]
    vod_state: Option<String>,
    #[serde(default)]
    percent_complete: Option<f64>,
    #[serde(default)]
    error_message: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    length: Option<f64>,
    #[serde(default)]
    quality: Option<i64>,
    #[serde(default)]
    file_name: Option<String>,
    #[serde(default)]
    state_change: Option<String>,
    #[serde(default)]
    is_watchable: Option<bool>,
    #[serde(default)]
    disabled: Option<bool>,
    #[serde(default)]
    status_message: Option<String>,
}

/// Longest text kept from a free-text field, so a hostile server cannot make
/// one row huge.
const MAX_TEXT: usize = 4096;

/// Longest `vodState` kept. The nine real values are short words; a longer
/// one is a broken server's text, and it would otherwise be stored, logged
/// and counted in full.
const MAX_STATE_TEXT: usize = 64;

/// `text` cut to at most `max` bytes, on a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    let mut cut = max.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

fn bounded(text: Option<String>) -> Option<String> {
    text.map(|mut text| {
        let kept = prefix(&text, MAX_TEXT).len();
        text.truncate(kept);
        text
    })
}

/// Whole seconds from a JSON number, ignoring absurd values.
fn seconds(value: Option<f64>) -> Option<i64> {
    value
        .filter(|v| v.is_finite() && *v >= 0.0 && *v < 1e12)
        .map(|v| v.round() as i64)
}

impl ShowDto {
    /// The show as Archivist keeps it; offset-less times are read in `zone`.
    pub(super) fn into_show(self, zone: &StationZone) -> Show {
        let dto = self;
        let title = bounded(dto.title)
            .filter(|t| !t.trim().is_empty())
            .or_else(|| bounded(dto.cg_title.clone()))
            .unwrap_or_else(|| format!("Show {}", dto.id));
        Show {
            cablecast_id: dto.id,
            location_id: dto.location,
            title,
            cg_title: bounded(dto.cg_title),
            event_date: date(dto.event_date, zone),
            last_modified: date(dto.last_modified, zone),
            total_run_time: seconds(dto.total_run_time),
            has_captions: dto.has_captions.unwrap_or(false),
            caption_provider: bounded(dto.caption_provider).filter(|p| !p.trim().is_empty()),
        }
    }
}

fn date(text: Option<String>, zone: &StationZone) -> Option<String> {
    text.as_deref()
        .and_then(|text| clock::from_cablecast(text, zone))
}

/// Progress as a fraction in [0, 1]. Cablecast sends a fraction (1.0 when
/// complete); anything outside is clamped, with a warning once per VOD.
fn progress(id: i64, value: Option<f64>) -> Option<f64> {
    let value = value.filter(|p| p.is_finite())?;
    if !(0.0..=1.0).contains(&value) {
        logging::warn_once(&format!("percentComplete {id}"), || {
            format!(
                "Cablecast sent percentComplete {value} for VOD {id}, outside 0 to 1: stored as {}",
                value.clamp(0.0, 1.0)
            )
        });
    }
    Some(value.clamp(0.0, 1.0))
}

impl VodDto {
    /// The VOD as Archivist keeps it; offset-less times are read in `zone`.
    pub(super) fn into_vod(self, zone: &StationZone) -> Vod {
        let dto = self;
        let state = match dto.vod_state.as_deref() {
            Some(text) => {
                let state = VodState::from_cablecast(prefix(text, MAX_STATE_TEXT));
                if let VodState::Other(text) = &state {
                    logging::warn_once(&format!("vodState {text}"), || {
                        format!("Cablecast sent an unrecognised vodState {text:?}: stored as sent, counted as unknown")
                    });
                }
                state
            }
            None => {
                let id = dto.id;
                logging::warn_once(&format!("no vodState {id}"), || {
                    format!("Cablecast sent VOD {id} without a vodState: stored as unknown, so it is read again every cycle")
                });
                VodState::Unknown
            }
        };
        Vod {
            id: dto.id,
            show_cablecast_id: dto.show,
            state,
            percent_complete: progress(dto.id, dto.percent_complete),
            error_message: bounded(dto.error_message),
            url: bounded(dto.url),
            length: seconds(dto.length),
            quality: dto.quality,
            file_name: bounded(dto.file_name),
            state_changed_at: date(dto.state_change, zone),
            is_watchable: dto.is_watchable.unwrap_or(false),
            disabled: dto.disabled.unwrap_or(false),
            status_message: bounded(dto.status_message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc() -> StationZone {
        StationZone::utc()
    }

    #[test]
    fn real_vod_answer_decodes() {
        let body = r#"{"vods": [{"id": 1207, "quality": null, "disabled": false, "fileName": null, "length": 4346,
           "url": "https://host/store-3/870-Council-v1/vod.mp4", "show": 870, "stateChange": null,
           "percentComplete": 1.0, "vodState": "complete", "errorMessage": null,
           "isWatchable": true, "chapters": [], "views": 0}],
           "meta": {"offset": 0, "pageSize": 1, "count": 311}}"#;
        let page: VodsEnvelope = serde_json::from_str(body).expect("decodes");
        assert_eq!(page.meta.and_then(|m| m.count), Some(311));
        let vod = page
            .vods
            .into_iter()
            .next()
            .expect("one vod")
            .into_vod(&utc());
        assert_eq!(vod.id, 1207);
        assert_eq!(vod.show_cablecast_id, Some(870));
        assert_eq!(vod.state, VodState::Complete);
        assert_eq!(vod.length, Some(4346));
        assert_eq!(vod.quality, None);
        assert!(vod.is_watchable);
    }

    #[test]
    fn real_show_answer_decodes() {
        let body = r#"{"meta": null, "show": {"id": 870, "location": 1, "title": "City Council Regular meeting - 8/24/2026 6:30:00 PM",
 "cgTitle": "City Council Regular meeting 08/24/26", "eventDate": "2026-08-24T18:30:00-05:00",
 "lastModified": "2026-08-29T02:00:05.733-05:00", "vods": [1207], "reels": [871], "totalRunTime": 4346,
 "custom1": null, "customFields": [{"id": 2534, "fieldName": "Tags", "value": null}]}}"#;
        let show = serde_json::from_str::<ShowEnvelope>(body)
            .expect("decodes")
            .show
            .into_show(&utc());
        assert_eq!(show.cablecast_id, 870);
        assert_eq!(show.event_date.as_deref(), Some("2026-08-24T23:30:00Z"));
        assert_eq!(show.last_modified.as_deref(), Some("2026-08-29T07:00:05Z"));
        assert_eq!(show.total_run_time, Some(4346));
    }

    #[test]
    fn absurd_values_are_tamed() {
        let body = r#"{"vod": {"id": 5, "percentComplete": -3, "vodState": null, "length": -1, "title": 7}}"#;
        let vod = serde_json::from_str::<VodEnvelope>(body)
            .expect("decodes")
            .vod
            .into_vod(&utc());
        assert_eq!(vod.percent_complete, Some(0.0));
        assert_eq!(vod.state, VodState::Unknown);
        assert_eq!(vod.length, None);
        // A fraction always: a value above 1 is clamped, not read as a
        // percentage (that would store 1 % as 100 %... or 55 as 55 %).
        let progress_of = |text: &str| {
            serde_json::from_str::<VodEnvelope>(text)
                .expect("decodes")
                .vod
                .into_vod(&utc())
                .percent_complete
        };
        assert_eq!(
            progress_of(r#"{"vod":{"id":6,"percentComplete":55}}"#),
            Some(1.0)
        );
        assert_eq!(
            progress_of(r#"{"vod":{"id":7,"percentComplete":0.01}}"#),
            Some(0.01)
        );
        assert_eq!(
            progress_of(r#"{"vod":{"id":8,"percentComplete":1.0}}"#),
            Some(1.0)
        );
    }

    #[test]
    fn wrong_shapes_are_errors() {
        assert!(serde_json::from_str::<VodsEnvelope>(r#"{"vods": {"id": 1}}"#).is_err());
        assert!(serde_json::from_str::<VodsEnvelope>(r#"{"shows": []}"#).is_err());
        assert!(
            serde_json::from_str::<VodEnvelope>(r#"{"vod": {"vodState": "complete"}}"#).is_err()
        );
        assert!(serde_json::from_str::<VodsEnvelope>(r#"{"vods": [{"id": 1}"#).is_err());
    }

    #[test]
    fn untitled_show_gets_a_title() {
        let show: Show = serde_json::from_str::<ShowEnvelope>(
            r#"{"show":{"id":9,"title":null,"cgTitle":null}}"#,
        )
        .expect("decodes")
        .show
        .into_show(&utc());
        assert_eq!(show.title, "Show 9");
    }

    /// Property tests: whatever bytes or JSON a server sends, decoding returns
    /// an answer or an error, never a panic, and what it hands out keeps the
    /// domain's bounds. Failing inputs proptest finds are kept in
    /// `proptest-regressions/` and replayed first on every run.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Any JSON value, a few levels deep, with the keys Cablecast uses so
        /// the decoder sees near-misses as well as noise.
        fn any_json() -> impl Strategy<Value = serde_json::Value> {
            let key = prop_oneof![
                Just("id".to_string()),
                Just("vod".to_string()),
                Just("vods".to_string()),
                Just("show".to_string()),
                Just("shows".to_string()),
                Just("meta".to_string()),
                Just("count".to_string()),
                Just("vodState".to_string()),
                Just("percentComplete".to_string()),
                Just("length".to_string()),
                Just("stateChange".to_string()),
                Just("eventDate".to_string()),
                Just("title".to_string()),
                ".{0,12}",
            ];
            let leaf = prop_oneof![
                Just(serde_json::Value::Null),
                any::<bool>().prop_map(serde_json::Value::from),
                any::<i64>().prop_map(serde_json::Value::from),
                any::<f64>().prop_map(serde_json::Value::from),
                ".{0,40}".prop_map(serde_json::Value::from),
            ];
            leaf.prop_recursive(4, 64, 8, move |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::from),
                    prop::collection::btree_map(key.clone(), inner, 0..8)
                        .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
                ]
            })
        }

        /// A VOD object with every field Archivist reads set to something a
        /// careless or hostile server might send.
        fn hostile_vod() -> impl Strategy<Value = serde_json::Value> {
            (
                any::<i64>(),
                prop_oneof![Just(None), any::<i64>().prop_map(Some)],
                prop_oneof![
                    Just("complete".to_string()),
                    Just("processing".to_string()),
                    ".{0,300}"
                ],
                prop_oneof![
                    any::<f64>(),
                    Just(f64::MAX),
                    Just(-1.0),
                    Just(100.0),
                    Just(1e300)
                ],
                prop_oneof![any::<f64>(), Just(-1.0), Just(1e13)],
                prop_oneof![
                    Just("2026-08-24T18:30:00-05:00".to_string()),
                    Just("9999-12-31T23:59:59-23:59".to_string()),
                    Just("0000-01-01T00:00:00+23:59".to_string()),
                    "[0-9T:+.Z-]{0,40}",
                    ".{0,40}"
                ],
                ".{0,5000}",
            )
                .prop_map(|(id, show, state, percent, length, change, text)| {
                    serde_json::json!({
                        "id": id, "show": show, "vodState": state, "percentComplete": percent,
                        "length": length, "stateChange": change, "errorMessage": text,
                        "url": text, "fileName": text, "isWatchable": true, "chapters": [],
                    })
                })
        }

        fn check_vod(vod: &Vod) {
            if let Some(p) = vod.percent_complete {
                assert!((0.0..=1.0).contains(&p), "percent {p}");
            }
            if let Some(length) = vod.length {
                assert!(length >= 0, "length {length}");
            }
            for text in [
                &vod.error_message,
                &vod.url,
                &vod.file_name,
                &vod.status_message,
            ]
            .into_iter()
            .flatten()
            {
                assert!(text.len() <= MAX_TEXT);
            }
            assert!(vod.state.as_str().len() <= MAX_STATE_TEXT);
            if let Some(at) = &vod.state_changed_at {
                assert!(clock::parse_stored(at).is_some(), "stored {at:?}");
            }
        }

        fn decode_all(bytes: &[u8]) {
            if let Ok(page) = serde_json::from_slice::<VodsEnvelope>(bytes) {
                for dto in page.vods {
                    check_vod(&dto.into_vod(&StationZone::utc()));
                }
            }
            if let Ok(page) = serde_json::from_slice::<ShowsEnvelope>(bytes) {
                for dto in page.shows {
                    let show = dto.into_show(&StationZone::utc());
                    assert!(show.title.len() <= MAX_TEXT + 32);
                }
            }
            if let Ok(one) = serde_json::from_slice::<VodEnvelope>(bytes) {
                check_vod(&one.vod.into_vod(&StationZone::utc()));
            }
            if let Ok(one) = serde_json::from_slice::<ShowEnvelope>(bytes) {
                let _ = one.show.into_show(&StationZone::utc());
            }
        }

        proptest! {
            // Found cases are kept as plain tests, not in a seeds file.
            #![proptest_config(ProptestConfig {
                cases: 512,
                failure_persistence: None,
                ..ProptestConfig::default()
            })]

            #[test]
            fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
                decode_all(&bytes);
            }

            #[test]
            fn arbitrary_json_never_panics(value in any_json()) {
                decode_all(value.to_string().as_bytes());
                let wrapped = serde_json::json!({"vods": [value.clone()], "vod": value.clone(),
                    "shows": [value.clone()], "show": value, "meta": {"count": 1}});
                decode_all(wrapped.to_string().as_bytes());
            }

            #[test]
            fn hostile_vods_are_tamed(vod in hostile_vod(), cut in 0usize..4096) {
                let page = serde_json::json!({"vods": [vod.clone()], "meta": {"count": -7}});
                decode_all(page.to_string().as_bytes());
                decode_all(serde_json::json!({"vod": vod}).to_string().as_bytes());
                // The same answer cut short anywhere, as a reset connection leaves it.
                let text = page.to_string();
                decode_all(&text.as_bytes()[..cut.min(text.len())]);
            }
        }

        /// Inputs found while writing these properties, kept as plain cases.
        #[test]
        fn found_cases_stay_fixed() {
            let long_state = format!(
                r#"{{"vod":{{"id":1,"vodState":"{}"}}}}"#,
                "x".repeat(100_000)
            );
            decode_all(long_state.as_bytes());
            decode_all(br#"{"vod":{"id":1,"stateChange":"9999-12-31T23:59:59-23:59"}}"#);
            decode_all(br#"{"vod":{"id":1,"percentComplete":1e400}}"#);
        }
    }
}
