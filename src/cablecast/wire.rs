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
}

/// Longest text kept from a free-text field, so a hostile server cannot make
/// one row huge.
const MAX_TEXT: usize = 4096;

fn bounded(text: Option<String>) -> Option<String> {
    text.map(|mut text| {
        if text.len() > MAX_TEXT {
            let mut cut = MAX_TEXT;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
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
        let state = dto
            .vod_state
            .as_deref()
            .map_or(VodState::Unknown, VodState::from_cablecast);
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
