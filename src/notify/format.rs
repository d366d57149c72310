//! What a notification says, and how each destination's format says it.
//!
//! [`Notification`] is at once the stored outbox body and the generic JSON
//! webhook payload (version 1, documented in the README): adding a field is
//! compatible, changing or removing one needs version 2. The native formats
//! are rendered from it at delivery time, each within its service's
//! documented limits.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::destination::Format;

/// The generic payload's version.
pub const PAYLOAD_VERSION: u32 = 1;

/// The kind of `archivist alerts test`'s message.
pub const TEST_KIND: &str = "test";

/// Alerts listed by name in one message; the rest are counted.
pub const LISTED_IN_TEXT: usize = 10;

/// `firing` or `resolved`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    Firing,
    Resolved,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Firing => "firing",
            Event::Resolved => "resolved",
        }
    }
}

/// One alert a message covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertItem {
    pub alert_id: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
}

/// One message, to every destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub version: u32,
    pub event: Event,
    /// `cablecast_down`, `vod_failed`, `vod_stuck`, `vod_missing`,
    /// `transcription_failed`, `database` or `test`.
    pub kind: String,
    /// The alert's id (a grouped message: the first alert's; every one is
    /// in `alert_ids`).
    pub alert_id: String,
    /// Every alert this message covers, by id (however many: `alerts` lists
    /// at most `MAX_ITEMS`).
    #[serde(default)]
    pub alert_ids: Vec<String>,
    pub title: String,
    pub message: String,
    /// When the change happened, UTC.
    pub at: String,
    pub station: String,
    pub host: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status_url: Option<String>,
    /// How many alerts this message covers.
    pub count: usize,
    /// The alerts covered (at most `MAX_ITEMS`; `count` has the total).
    pub alerts: Vec<AlertItem>,
    /// A reminder that the alert still fires.
    #[serde(default)]
    pub reminder: bool,
}

/// Alerts carried by id in one message.
pub const MAX_ITEMS: usize = 100;

impl Notification {
    /// "WXYZ Community TV on archivist-box": where the message comes from.
    pub fn origin(&self) -> String {
        format!("{} on {}", self.station, self.host)
    }

    /// The headline with its event: `[FIRING] Cablecast is unreachable`;
    /// `alerts test`'s says it is a test.
    pub fn headline(&self) -> String {
        let tag = match (self.event, self.reminder) {
            _ if self.kind == TEST_KIND => "TEST",
            (Event::Firing, true) => "STILL FIRING",
            (Event::Firing, false) => "FIRING",
            (Event::Resolved, _) => "RESOLVED",
        };
        format!("[{tag}] {}", self.title)
    }

    /// The plain text body: message, origin, status page.
    pub fn text(&self) -> String {
        let mut text = format!("{}\n\n{}", self.message, self.origin());
        if let Some(url) = &self.status_url {
            text.push_str(&format!("\nStatus page: {url}"));
        }
        text
    }
}

/// Cuts `text` to at most `max` characters, marking the cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Escapes what Slack reads as markup in text Archivist did not write
/// itself (a VOD's error reading `<!channel>` would ping the channel).
/// <https://api.slack.com/reference/surfaces/formatting#escaping>
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Where one message goes within a destination, and as whom.
#[derive(Debug, Clone, Copy, Default)]
pub struct Addressing<'a> {
    /// ntfy's topic, or the Slack channel.
    pub target: Option<&'a str>,
    /// The name the chat shows as the sender (Slack, Discord).
    pub sender_name: Option<&'a str>,
}

/// A webhook's body: its content type and bytes.
pub fn render(
    notification: &Notification,
    format: Format,
    addressing: Addressing<'_>,
) -> (&'static str, Vec<u8>) {
    let topic = addressing.target;
    const JSON: &str = "application/json";
    let body = match format {
        Format::Generic | Format::Email => json!(notification),
        // https://docs.ntfy.sh/publish/#publish-as-json
        Format::Ntfy => {
            let mut body = json!({
                "topic": topic.unwrap_or_default(),
                "title": clip(&notification.headline(), 250),
                "message": clip(&notification.text(), 4000),
                "priority": if notification.event == Event::Firing { 4 } else { 3 },
                "tags": [if notification.event == Event::Firing { "rotating_light" } else { "white_check_mark" }],
            });
            if let Some(url) = &notification.status_url {
                body["click"] = json!(url);
            }
            body
        }
        // https://api.slack.com/messaging/webhooks (Mattermost and
        // Rocket.Chat take the same `text`).
        Format::Slack => {
            let mut body = json!({
                "text": clip(
                    &format!(
                        "*{}*\n{}",
                        slack_escape(&notification.headline()),
                        slack_escape(&notification.text())
                    ),
                    3900
                ),
            });
            if let Some(channel) = addressing.target {
                body["channel"] = json!(channel);
            }
            if let Some(name) = addressing.sender_name {
                body["username"] = json!(name);
            }
            body
        }
        // https://discord.com/developers/docs/resources/webhook#execute-webhook
        Format::Discord => {
            let mut embed = json!({
                "title": clip(&notification.headline(), 256),
                "description": clip(&notification.message, 4000),
                "color": if notification.event == Event::Firing { 0xd0_3030 } else { 0x2e_9e44 },
                "timestamp": notification.at,
                "footer": { "text": clip(&notification.origin(), 2000) },
            });
            if let Some(url) = &notification.status_url {
                embed["url"] = json!(url);
            }
            // The headline once: the embed's title (a `content` repeating
            // it showed it twice).
            let mut body = json!({
                "embeds": [embed],
                "allowed_mentions": { "parse": [] },
            });
            if let Some(name) = addressing.sender_name {
                body["username"] = json!(name);
            }
            body
        }
        // Teams Workflows webhooks take a message with an Adaptive Card.
        Format::Teams => {
            let mut card = json!({
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    { "type": "TextBlock", "text": clip(&notification.headline(), 500),
                      "weight": "Bolder", "size": "Medium", "wrap": true },
                    { "type": "TextBlock", "text": clip(&notification.message, 8000), "wrap": true },
                    { "type": "TextBlock", "text": notification.origin(), "isSubtle": true, "wrap": true },
                ],
            });
            if let Some(url) = &notification.status_url {
                card["actions"] =
                    json!([{ "type": "Action.OpenUrl", "title": "Status page", "url": url }]);
            }
            json!({
                "type": "message",
                "attachments": [{
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": null,
                    "content": card,
                }],
            })
        }
    };
    (JSON, body.to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(event: Event) -> Notification {
        Notification {
            version: PAYLOAD_VERSION,
            event,
            kind: "vod_failed".into(),
            alert_id: "vod_failed-1-1".into(),
            alert_ids: vec!["vod_failed-1-1".into(), "vod_failed-2-1".into()],
            title: "2 VODs failed".into(),
            message: "Council meeting: encoder error\nBudget hearing".into(),
            at: "2026-12-01T10:00:00Z".into(),
            station: "WXYZ".into(),
            host: "box".into(),
            status_url: Some("https://archivist.example.org/".into()),
            count: 2,
            alerts: vec![],
            reminder: false,
        }
    }

    #[test]
    fn the_generic_payload_round_trips_and_names_its_version() {
        let n = sample(Event::Firing);
        let (_, body) = render(&n, Format::Generic, Addressing::default());
        let value: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(value["version"], 1);
        assert_eq!(value["event"], "firing");
        let back: Notification = serde_json::from_slice(&body).expect("decodes");
        assert_eq!(back, n);
    }

    #[test]
    fn native_formats_stay_within_their_limits() {
        let mut n = sample(Event::Resolved);
        n.message = "x".repeat(10_000);
        let (_, body) = render(&n, Format::Discord, Addressing::default());
        let value: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert!(
            value["embeds"][0]["description"]
                .as_str()
                .expect("text")
                .chars()
                .count()
                <= 4096
        );
        assert_eq!(value["embeds"][0]["color"], 0x2e_9e44);
        let (_, body) = render(
            &n,
            Format::Ntfy,
            Addressing {
                target: Some("alerts"),
                sender_name: None,
            },
        );
        let value: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(value["topic"], "alerts");
        assert!(value["message"].as_str().expect("text").len() <= 4096 * 3);
    }

    #[test]
    fn slack_text_escapes_markup_archivist_did_not_write() {
        let mut n = sample(Event::Firing);
        n.message = "Council meeting: <!channel> encoder & muxer > 2 errors".into();
        let (_, body) = render(&n, Format::Slack, Addressing::default());
        let value: serde_json::Value = serde_json::from_slice(&body).expect("json");
        let text = value["text"].as_str().expect("text");
        assert!(
            text.contains("&lt;!channel&gt; encoder &amp; muxer &gt; 2 errors"),
            "{text}"
        );
        assert!(!text.contains("<!channel>"), "{text}");
        assert!(text.starts_with("*[FIRING] 2 VODs failed*"), "{text}");
    }

    #[test]
    fn discord_shows_the_headline_once() {
        let n = sample(Event::Firing);
        let (_, body) = render(&n, Format::Discord, Addressing::default());
        let text = String::from_utf8(body).expect("utf-8");
        assert_eq!(text.matches("[FIRING] 2 VODs failed").count(), 1, "{text}");
    }

    #[test]
    fn the_test_message_says_it_is_a_test() {
        let mut n = sample(Event::Firing);
        n.kind = TEST_KIND.into();
        n.title = "Test message from Archivist".into();
        assert_eq!(n.headline(), "[TEST] Test message from Archivist");
    }
}
