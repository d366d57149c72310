//! Where notifications go: one `ARCHIVIST_NOTIFY_URLS` entry parsed into a
//! [`Destination`].
//!
//! | URL                                               | Sends                                  |
//! |---------------------------------------------------|----------------------------------------|
//! | `https://...`, `http://...`                       | the generic JSON (version 1) by POST    |
//! | `ntfy://[user:pass@]host[:port]/topic[?token=T]`  | an ntfy JSON publish to `https://host/` |
//! | `slack://host/path`                               | a Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat) |
//! | `discord://host/api/webhooks/ID/TOKEN`            | a Discord webhook                      |
//! | `teams://host/path`                               | a Microsoft Teams (Workflows) webhook with an Adaptive Card |
//! | `smtp://user:pass@host[:587]/?to=A[,B]&from=F`    | mail, STARTTLS required                 |
//! | `smtps://user:pass@host[:465]/?to=A&from=F`       | mail over implicit TLS                  |
//!
//! The native webhook schemes go over HTTPS; `ntfy+http://`, `slack+http://`,
//! `discord+http://` and `teams+http://` use plain HTTP (a receiver on the
//! same box or a test). SMTP takes `ca=/path/cert.pem` to trust one more
//! certificate authority (a station's own mail server).
//!
//! A destination URL is a secret (it holds tokens and passwords): it is only
//! ever sent to its own host, and shown only as its [`Destination::label`],
//! "scheme (host)". Its `Debug` never shows it.

use std::fmt;

/// The message shape a destination takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Archivist's own JSON (documented in the README, version 1).
    Generic,
    Ntfy,
    Slack,
    Discord,
    Teams,
    Email,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Generic => "webhook",
            Format::Ntfy => "ntfy",
            Format::Slack => "slack",
            Format::Discord => "discord",
            Format::Teams => "teams",
            Format::Email => "email",
        }
    }
}

/// How mail is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct MailSettings {
    pub host: String,
    pub port: u16,
    /// Implicit TLS (`smtps://`); otherwise STARTTLS, required.
    pub implicit_tls: bool,
    pub user: Option<String>,
    pub password: Option<String>,
    pub from: String,
    pub to: Vec<String>,
    /// One more certificate authority to trust (PEM file).
    pub extra_ca: Option<String>,
}

/// One place notifications go.
#[derive(Clone, PartialEq, Eq)]
pub struct Destination {
    pub format: Format,
    /// The URL messages are POSTed to (webhooks); a secret.
    pub(super) post_url: String,
    /// Extra headers (ntfy's Authorization); secrets.
    pub(super) headers: Vec<(String, String)>,
    /// ntfy's topic.
    pub(super) topic: Option<String>,
    pub(super) mail: Option<MailSettings>,
    /// Every secret part, for scrubbing error texts.
    secrets: Vec<String>,
    label: String,
    key: String,
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Destination({})", self.label)
    }
}

/// The parts of a URL this module needs.
struct Parts<'a> {
    scheme: String,
    user: Option<String>,
    password: Option<String>,
    host: &'a str,
    port: Option<u16>,
    /// From the first `/` (or empty), without the query.
    path: &'a str,
    query: Vec<(String, String)>,
}

fn split(url: &str) -> Result<Parts<'_>, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or("is not a URL (scheme://host/...)")?;
    let rest = rest.split('#').next().unwrap_or_default();
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = match before_query.find('/') {
        Some(i) => before_query.split_at(i),
        None => (before_query, ""),
    };
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    let (user, password) = match userinfo {
        Some(info) => {
            let (u, p) = info.split_once(':').unwrap_or((info, ""));
            (
                Some(percent_decode(u)).filter(|u| !u.is_empty()),
                Some(percent_decode(p)).filter(|p| !p.is_empty()),
            )
        }
        None => (None, None),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => {
            let port = p
                .parse::<u16>()
                .map_err(|_| "has a port that is not a number".to_string())?;
            (h, Some(port))
        }
        _ => (hostport, None),
    };
    if host.is_empty() {
        return Err("has no host".into());
    }
    let query = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    Ok(Parts {
        scheme: scheme.to_ascii_lowercase(),
        user,
        password,
        host,
        port,
        path,
        query,
    })
}

/// `%XX` decoding (`+` stays as it is: these are not form fields).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                out.push(hi * 16 + lo);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// FNV-1a, 64 bits: a stable name for a destination that does not show it.
fn fnv64(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

impl Destination {
    /// Parses one URL; the error says what is wrong without repeating it.
    pub fn parse(url: &str) -> Result<Destination, String> {
        let url = url.trim();
        let parts = split(url)?;
        let (base, plain_http) = match parts.scheme.split_once('+') {
            Some((base, "http")) => (base.to_string(), true),
            Some((base, "https")) => (base.to_string(), false),
            Some(_) => return Err("has a scheme Archivist does not know".into()),
            None => (parts.scheme.clone(), false),
        };
        let web = if plain_http { "http" } else { "https" };
        let hostport = match parts.port {
            Some(p) => format!("{}:{p}", parts.host),
            None => parts.host.to_string(),
        };
        let mut secrets = vec![url.to_string()];
        secrets.extend(parts.password.clone());
        secrets.extend(
            parts
                .path
                .split('/')
                .filter(|s| s.len() >= 6)
                .map(str::to_string),
        );
        secrets.extend(
            parts
                .query
                .iter()
                .filter(|(_, v)| v.len() >= 6)
                .map(|(_, v)| v.clone()),
        );
        let mut destination = Destination {
            format: Format::Generic,
            post_url: String::new(),
            headers: Vec::new(),
            topic: None,
            mail: None,
            secrets,
            label: String::new(),
            key: fnv64(url),
        };
        destination.format = match base.as_str() {
            "http" | "https" if !plain_http => {
                destination.post_url = url.to_string();
                Format::Generic
            }
            "ntfy" => {
                let topic = parts.path.trim_matches('/');
                if topic.is_empty() || topic.contains('/') {
                    return Err("needs one topic as its path (ntfy://host/topic)".into());
                }
                destination.topic = Some(percent_decode(topic));
                destination.post_url = format!("{web}://{hostport}/");
                if let Some((_, token)) = parts.query.iter().find(|(k, _)| k == "token") {
                    destination
                        .headers
                        .push(("Authorization".into(), format!("Bearer {token}")));
                } else if let Some(user) = &parts.user {
                    use base64::Engine;
                    let pair = format!("{user}:{}", parts.password.clone().unwrap_or_default());
                    let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                    destination.secrets.push(encoded.clone());
                    destination
                        .headers
                        .push(("Authorization".into(), format!("Basic {encoded}")));
                }
                Format::Ntfy
            }
            "slack" | "discord" | "teams" => {
                if parts.path.trim_matches('/').is_empty() {
                    return Err(format!("needs the webhook's path ({base}://host/...)"));
                }
                let query = url
                    .split_once('?')
                    .map(|(_, q)| format!("?{q}"))
                    .unwrap_or_default();
                destination.post_url = format!("{web}://{hostport}{}{query}", parts.path);
                match base.as_str() {
                    "slack" => Format::Slack,
                    "discord" => Format::Discord,
                    _ => Format::Teams,
                }
            }
            "smtp" | "smtps" if !plain_http => {
                let implicit_tls = base == "smtps";
                let get = |name: &str| {
                    parts
                        .query
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.clone())
                };
                let to: Vec<String> = get("to")
                    .unwrap_or_default()
                    .split(',')
                    .map(|a| a.trim().to_string())
                    .filter(|a| !a.is_empty())
                    .collect();
                if to.is_empty() {
                    return Err("needs ?to=address (several separated by commas)".into());
                }
                let from = get("from").or_else(|| {
                    parts
                        .user
                        .clone()
                        .filter(|u| u.contains('@'))
                        .or_else(|| Some(format!("archivist@{}", parts.host)))
                });
                destination.mail = Some(MailSettings {
                    host: parts.host.to_string(),
                    port: parts.port.unwrap_or(if implicit_tls { 465 } else { 587 }),
                    implicit_tls,
                    user: parts.user.clone(),
                    password: parts.password.clone(),
                    from: from.unwrap_or_default(),
                    to,
                    extra_ca: get("ca"),
                });
                Format::Email
            }
            _ => return Err("has a scheme Archivist does not know (see `archivist help`)".into()),
        };
        destination.label = format!("{} ({})", destination.format.name(), parts.host);
        Ok(destination)
    }

    /// Every destination in `ARCHIVIST_NOTIFY_URLS` (spaces or commas
    /// between them). The error names the entry by position, never by text.
    pub fn parse_list(text: &str) -> Result<Vec<Destination>, String> {
        // A comma splits destinations only where a URL follows it, so an
        // SMTP `?to=a@b,c@d` keeps its list.
        let mut entries: Vec<String> = Vec::new();
        for token in text.split_whitespace() {
            let mut pieces: Vec<String> = Vec::new();
            for piece in token.split(',') {
                match pieces.last_mut() {
                    Some(last) if !piece.contains("://") => {
                        last.push(',');
                        last.push_str(piece);
                    }
                    _ => pieces.push(piece.to_string()),
                }
            }
            entries.extend(
                pieces
                    .into_iter()
                    .map(|p| p.trim_matches(',').to_string())
                    .filter(|p| !p.is_empty()),
            );
        }
        let mut out: Vec<Destination> = Vec::new();
        for (n, entry) in entries.iter().enumerate() {
            let destination =
                Destination::parse(entry).map_err(|reason| format!("entry {} {reason}", n + 1))?;
            if !out.iter().any(|d| d.key == destination.key) {
                out.push(destination);
            }
        }
        Ok(out)
    }

    /// "scheme (host)": all that is ever shown of a destination.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// A stable name for the outbox that does not reveal the URL.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// `text` with every secret part of this destination replaced.
    pub fn scrub(&self, text: &str) -> String {
        let mut text = text.to_string();
        for secret in &self.secrets {
            if !secret.is_empty() {
                text = text.replace(secret.as_str(), "<redacted>");
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scheme_becomes_its_format_and_shows_only_scheme_and_host() {
        let d = Destination::parse("https://hooks.example.org/x/secret-token").expect("valid");
        assert_eq!(d.format, Format::Generic);
        assert_eq!(d.label(), "webhook (hooks.example.org)");
        let d = Destination::parse("ntfy://ntfy.sh/station-alerts?token=tk_abcdef").expect("ok");
        assert_eq!(d.format, Format::Ntfy);
        assert_eq!(d.post_url, "https://ntfy.sh/");
        assert_eq!(d.topic.as_deref(), Some("station-alerts"));
        assert_eq!(d.headers[0].1, "Bearer tk_abcdef");
        let d = Destination::parse("slack+http://127.0.0.1:9000/hooks/abc").expect("ok");
        assert_eq!(d.post_url, "http://127.0.0.1:9000/hooks/abc");
        assert_eq!(d.label(), "slack (127.0.0.1)");
        let d = Destination::parse(
            "smtp://eng%40station.org:p%40ss@mail.example.org/?to=a@b.org,c@d.org",
        )
        .expect("ok");
        let mail = d.mail.clone().expect("mail");
        assert_eq!(mail.user.as_deref(), Some("eng@station.org"));
        assert_eq!(mail.password.as_deref(), Some("p@ss"));
        assert_eq!(mail.port, 587);
        assert_eq!(mail.from, "eng@station.org");
        assert_eq!(mail.to, vec!["a@b.org", "c@d.org"]);
        assert!(!format!("{d:?}").contains("p%40ss"));
        assert_eq!(d.scrub("failed for p@ss"), "failed for <redacted>");
    }

    #[test]
    fn a_list_splits_on_spaces_and_commas_and_names_bad_entries_by_position() {
        let list = Destination::parse_list(
            "https://a.example/h1, discord://discord.com/api/webhooks/1/tok  smtps://u:p@m.example/?to=x@y.org,z@y.org",
        )
        .expect("valid");
        assert_eq!(list.len(), 3);
        assert_eq!(list[2].mail.as_ref().expect("mail").to.len(), 2);
        let e = Destination::parse_list("https://a.example/h1 gopher://secret.example/zzz")
            .expect_err("unknown scheme");
        assert!(e.starts_with("entry 2"), "{e}");
        assert!(!e.contains("secret"), "{e}");
        assert!(Destination::parse("ntfy://ntfy.sh/").is_err());
        assert!(Destination::parse("smtp://mail.example/").is_err());
    }
}
