//! Cablecast's JSON, as the API sends it, and its translation into domain
//! types. Nothing here is visible outside `cablecast`.
//!
//! Decoding is lenient where real servers vary (extra properties, nulls,
//! missing `meta`, unknown `vodState` values) and strict where Archivist
//! would otherwise store a lie (a missing id, an envelope of the wrong shape).

use serde::Deserialize;

use crate::clock;
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

impl From<ShowDto> for Show {
    fn from(dto: ShowDto) -> Show {
        let title = bounded(dto.title)
            .filter(|t| !t.trim().is_empty())
            .or_else(|| bounded(dto.cg_title.clone()))
            .unwrap_or_else(|| format!("Show {}", dto.id));
        Show {
            cablecast_id: dto.id,
            location_id: dto.location,
            title,
            cg_title: bounded(dto.cg_title),
            event_date: dto.event_date.as_deref().and_then(clock::from_cablecast),
            last_modified: dto.last_modified.as_deref().and_then(clock::from_cablecast),
            total_run_time: seconds(dto.total_run_time),
        }
    }
}

impl From<VodDto> for Vod {
    fn from(dto: VodDto) -> Vod {
        let state = dto.vod_state.as_deref().map_or(VodState::Unknown, |text| {
            VodState::from_cablecast(prefix(text, MAX_STATE_TEXT))
        });
        Vod {
            id: dto.id,
            show_cablecast_id: dto.show,
            state,
            // Progress is a fraction; servers have been seen sending
            // percentages and negative values.
            percent_complete: dto
                .percent_complete
                .filter(|p| p.is_finite())
                .map(|p| if p > 1.0 { p / 100.0 } else { p }.clamp(0.0, 1.0)),
            error_message: bounded(dto.error_message),
            url: bounded(dto.url),
            length: seconds(dto.length),
            quality: dto.quality,
            file_name: bounded(dto.file_name),
            state_changed_at: dto.state_change.as_deref().and_then(clock::from_cablecast),
            is_watchable: dto.is_watchable.unwrap_or(false),
            disabled: dto.disabled.unwrap_or(false),
            status_message: bounded(dto.status_message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_vod_answer_decodes() {
        let body = r#"{"vods": [{"id": 1207, "quality": null, "disabled": false, "fileName": null, "length": 4346,
           "url": "https://host/store-3/870-Council-v1/vod.mp4", "show": 870, "stateChange": null,
           "percentComplete": 1.0, "vodState": "complete", "errorMessage": null,
           "isWatchable": true, "chapters": [], "views": 0}],
           "meta": {"offset": 0, "pageSize": 1, "count": 311}}"#;
        let page: VodsEnvelope = serde_json::from_str(body).expect("decodes");
        assert_eq!(page.meta.and_then(|m| m.count), Some(311));
        let vod = Vod::from(page.vods.into_iter().next().expect("one vod"));
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
        let show = Show::from(
            serde_json::from_str::<ShowEnvelope>(body)
                .expect("decodes")
                .show,
        );
        assert_eq!(show.cablecast_id, 870);
        assert_eq!(show.event_date.as_deref(), Some("2026-08-24T23:30:00Z"));
        assert_eq!(show.last_modified.as_deref(), Some("2026-08-29T07:00:05Z"));
        assert_eq!(show.total_run_time, Some(4346));
    }

    #[test]
    fn absurd_values_are_tamed() {
        let body = r#"{"vod": {"id": 5, "percentComplete": -3, "vodState": null, "length": -1, "title": 7}}"#;
        let vod = Vod::from(
            serde_json::from_str::<VodEnvelope>(body)
                .expect("decodes")
                .vod,
        );
        assert_eq!(vod.percent_complete, Some(0.0));
        assert_eq!(vod.state, VodState::Unknown);
        assert_eq!(vod.length, None);
        let vod: Vod =
            serde_json::from_str::<VodEnvelope>(r#"{"vod":{"id":6,"percentComplete":55}}"#)
                .expect("decodes")
                .vod
                .into();
        assert_eq!(vod.percent_complete, Some(0.55));
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
        .into();
        assert_eq!(show.title, "Show 9");
    }
}

/// Property tests: whatever bytes or JSON a server sends, decoding returns
/// an answer or an error, never a panic, and what it hands out keeps the
/// domain's bounds. Failing inputs proptest finds are kept in
/// `proptest-regressions/` and replayed first on every run.
#[cfg(test)]
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
        for text in [&vod.error_message, &vod.url, &vod.file_name]
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
                check_vod(&Vod::from(dto));
            }
        }
        if let Ok(page) = serde_json::from_slice::<ShowsEnvelope>(bytes) {
            for dto in page.shows {
                let show = Show::from(dto);
                assert!(show.title.len() <= MAX_TEXT + 32);
            }
        }
        if let Ok(one) = serde_json::from_slice::<VodEnvelope>(bytes) {
            check_vod(&Vod::from(one.vod));
        }
        if let Ok(one) = serde_json::from_slice::<ShowEnvelope>(bytes) {
            let _ = Show::from(one.show);
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
