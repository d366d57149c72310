//! Links from a VOD or show on the page into Cablecast, where staff fix it.
//!
//! Cablecast's own web UI paths are not part of its documented API, so
//! Archivist does not guess them. By default a show links to its record in
//! the documented API (`{CABLECAST_API_URL}/shows/{id}`, readable in a
//! browser after the Frontdoor login); `CABLECAST_WEB_URL` replaces that
//! with the station's own page for a show, as a template holding `{show}`
//! (and, if the station's UI has VOD pages, `{vod}`).

use crate::config::ConfigError;

/// The setting that overrides the links.
pub const SETTING: &str = "CABLECAST_WEB_URL";

/// How to link a show (and a VOD) into Cablecast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CablecastLinks {
    /// With `{show}` where the show's Cablecast id goes.
    show: String,
    /// With `{vod}` (and maybe `{show}`), when VODs have pages of their own.
    vod: Option<String>,
    /// Whether these are the station's web UI (`CABLECAST_WEB_URL`) rather
    /// than API records.
    pub web_ui: bool,
}

impl CablecastLinks {
    /// The documented API records under `api_url` (already validated).
    pub fn from_api_url(api_url: &str) -> CablecastLinks {
        let root = api_url.trim_end_matches('/');
        CablecastLinks {
            show: format!("{root}/shows/{{show}}"),
            vod: Some(format!("{root}/vods/{{vod}}")),
            web_ui: false,
        }
    }

    /// `CABLECAST_WEB_URL`: an http(s) URL with `{show}` in it (and
    /// optionally `{vod}`, in which case it is the VOD's link too).
    pub fn from_template(text: &str) -> Result<CablecastLinks, ConfigError> {
        let text = text.trim();
        let error = |reason: &str| ConfigError::new(SETTING, reason);
        if !(text.starts_with("https://") || text.starts_with("http://")) {
            return Err(error(
                "must start with http:// or https:// (e.g. https://cablecast.example.org/Cablecast/app/index.html#/shows/{show})",
            ));
        }
        if text.contains(|c: char| c.is_whitespace() || c.is_control() || c == '"' || c == '<') {
            return Err(error("must be one URL, without spaces or quotes"));
        }
        if text.contains('@') && text.split('/').nth(2).is_some_and(|h| h.contains('@')) {
            return Err(error("must not hold credentials"));
        }
        if !text.contains("{show}") {
            return Err(error(
                "must contain {show} where the show's Cablecast id goes (e.g. .../shows/{show})",
            ));
        }
        Ok(CablecastLinks {
            show: text.to_string(),
            vod: text.contains("{vod}").then(|| text.to_string()),
            web_ui: true,
        })
    }

    /// The link to show `show_id` (a Cablecast id).
    pub fn show(&self, show_id: i64) -> String {
        self.show.replace("{show}", &show_id.to_string())
    }

    /// The link to VOD `vod_id` of show `show_id`, when VODs have their own.
    pub fn vod(&self, vod_id: i64, show_id: Option<i64>) -> Option<String> {
        let template = self.vod.as_ref()?;
        if template.contains("{show}") && show_id.is_none() {
            return None;
        }
        Some(
            template
                .replace("{vod}", &vod_id.to_string())
                .replace("{show}", &show_id.unwrap_or_default().to_string()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_records_by_default_and_the_stations_template_when_set() {
        let links = CablecastLinks::from_api_url("https://cc.example.org/CablecastAPI/v1");
        assert_eq!(
            links.show(870),
            "https://cc.example.org/CablecastAPI/v1/shows/870"
        );
        assert_eq!(
            links.vod(1207, Some(870)).as_deref(),
            Some("https://cc.example.org/CablecastAPI/v1/vods/1207")
        );
        let links = CablecastLinks::from_template(
            "https://cc.example.org/Cablecast/app/index.html#/shows/{show}/edit",
        )
        .expect("valid");
        assert_eq!(
            links.show(870),
            "https://cc.example.org/Cablecast/app/index.html#/shows/870/edit"
        );
        assert_eq!(links.vod(1207, Some(870)), None);
        for bad in [
            "ftp://x/{show}",
            "https://x/shows",
            "https://x/{show} y",
            "https://u:p@x/{show}",
        ] {
            assert!(CablecastLinks::from_template(bad).is_err(), "{bad}");
        }
    }
}
