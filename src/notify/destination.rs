//! Where notifications go: one `ARCHIVIST_NOTIFY_URLS` entry parsed into a
//! [`Destination`]. The URLs are Apprise's (<https://appriseit.com/services/>),
//! so a URL copied from Uptime Kuma, changedetection.io or Apprise itself
//! means here what it means there; where Shoutrrr reads a URL otherwise,
//! Apprise's reading wins. The README's table lists every form.
//!
//! | URL                                                  | Sends                                  |
//! |------------------------------------------------------|----------------------------------------|
//! | `https://...`, `http://...`, `jsons://...`, `json://...` | the generic JSON (version 1) by POST |
//! | `ntfys://[user:pass@\|token@]host/topic[/topic2]`    | an ntfy JSON publish over HTTPS (`ntfy://`: HTTP; `ntfy://topic`: ntfy.sh) |
//! | `slack://TokenA/TokenB/TokenC[/#channel]`            | a Slack incoming webhook on hooks.slack.com |
//! | `slack://host/path`                                  | a Slack-compatible webhook elsewhere (Mattermost, Rocket.Chat) |
//! | `discord://WebhookID/WebhookToken`                   | a Discord webhook                      |
//! | `workflows://host[:port]/Workflow/Signature`         | a Teams Workflows (Power Automate) webhook with an Adaptive Card |
//! | `msteams://[team/]TokenA/TokenB/TokenC`              | a Teams incoming webhook (office.com)  |
//! | `teams://host/path`                                  | a Teams webhook at a full URL          |
//! | `mailtos://user:pass@domain[?smtp=host&to=A]`        | mail, STARTTLS (`mode=ssl`: implicit TLS) |
//! | `smtp://user:pass@host[:587]/?to=A[,B]&from=F`       | mail, STARTTLS required                 |
//! | `smtps://user:pass@host[:465]/?to=A&from=F`          | mail over implicit TLS                  |
//!
//! `slack+http://`, `discord+http://`, `teams+http://` use plain HTTP (a
//! receiver on the same box). Every destination takes `kinds=a,b` (only those
//! alert kinds go there) and the https ones `fingerprint=SHA256` (trust exactly
//! that certificate). Mail takes `ca=/path/cert.pem` (one more authority) and
//! `tls=none` (a LAN relay without TLS; a login over it also needs
//! `login=unencrypted`).
//!
//! A URL that cannot be read is refused with what its scheme expects and an
//! example, never guessed at. A destination URL is a secret (it holds tokens
//! and passwords): it is only ever sent to its own host, and shown only as
//! its [`Destination::label`], "service (host)". Its `Debug` never shows it.

use std::fmt;

use crate::outbound::mail::Security;
use crate::outbound::Fingerprint;
use crate::store::alerts::Recipient;

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
    /// The SMTP server.
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub user: Option<String>,
    pub password: Option<String>,
    pub from: String,
    pub to: Vec<String>,
    /// One more certificate authority to trust (PEM file).
    pub extra_ca: Option<String>,
    pub pin: Option<Fingerprint>,
}

/// One place notifications go.
#[derive(Clone, PartialEq, Eq)]
pub struct Destination {
    pub format: Format,
    /// The URL messages are POSTed to (webhooks); a secret.
    pub(super) post_url: String,
    /// Extra headers (Authorization, Apprise's `+Header=`); secrets.
    pub(super) headers: Vec<(String, String)>,
    /// ntfy topics or Slack channels: one message each (none: one message).
    pub(super) targets: Vec<String>,
    /// The sender's name a chat shows (Apprise's `botname@`).
    pub(super) sender_name: Option<String>,
    pub(super) mail: Option<MailSettings>,
    /// The one certificate an https destination trusts.
    pub(super) pin: Option<Fingerprint>,
    /// The alert kinds this destination takes; `None`: every kind.
    kinds: Option<Vec<String>>,
    /// Said once in the log when sending starts (mail without TLS).
    notice: Option<String>,
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

/// Why a notification URL cannot be used. The text never repeats the URL
/// (it holds secrets); it says what the scheme expects, with an example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Not `scheme://...` at all.
    NotAUrl,
    /// A scheme Archivist does not send to.
    UnknownScheme { scheme: String },
    /// The port is not a number from 1 to 65535.
    BadPort,
    /// The URL does not have the parts its scheme needs.
    Malformed {
        scheme: String,
        problem: &'static str,
    },
    /// An option (`?name=value`) with a value Archivist cannot use.
    BadOption { name: String, problem: String },
    /// Mail would send its login without TLS and the URL did not allow it.
    LoginWithoutTls,
    /// One entry of a list is wrong; `position` counts from 1.
    Entry {
        position: usize,
        error: Box<ParseError>,
    },
}

/// Every scheme Archivist reads, as `archivist help` and the README list them.
pub const SCHEMES: &str =
    "https, http, json(s), ntfy(s), slack, discord, workflows, msteams, teams, mailto(s), smtp(s)";

/// What a scheme's URL looks like, and one example.
fn expected(scheme: &str) -> (&'static str, &'static str) {
    match scheme {
        "ntfy" | "ntfys" => (
            "ntfys://[user:password@ or token@]host/topic",
            "ntfys://ntfy.example.org/wxyz-alerts",
        ),
        "slack" => (
            "slack://TokenA/TokenB/TokenC (from hooks.slack.com/services/TokenA/TokenB/TokenC) or slack://host/path",
            "slack://T0000/B0000/XXXXXXXXXXXXXXXXXXXX",
        ),
        "discord" => (
            "discord://WebhookID/WebhookToken",
            "discord://417429632418316298/JHZ7lQml277CDHmQKMHI8qBe7bk2ZwO5UKjCiOAF7711o33MyqU344Qpgv7YTpadV_js",
        ),
        "msteams" => (
            "msteams://team/TokenA/TokenB/TokenC",
            "msteams://wxyz/ABCD@WXYZ/DEFG/HIJK",
        ),
        "workflows" | "workflow" => (
            "workflows://host:port/Workflow/Signature",
            "workflows://prod-01.westus.logic.azure.com:443/abc123/sig456",
        ),
        "teams" => (
            "teams://host/path (the webhook's URL with teams in place of https)",
            "teams://example.webhook.office.com/webhookb2/abc",
        ),
        "mailto" | "mailtos" => (
            "mailtos://user:password@domain[?smtp=server&to=address&from=address]",
            "mailtos://archivist:app-password@wxyz.org?smtp=mail.wxyz.org&to=engineering@wxyz.org",
        ),
        "smtp" | "smtps" => (
            "smtp://user:password@host[:587]/?to=address[,address]&from=address",
            "smtp://archivist%40wxyz.org:app-password@mail.wxyz.org/?to=engineering@wxyz.org",
        ),
        "json" | "jsons" => ("jsons://host[:port]/path", "jsons://hooks.wxyz.org/archivist"),
        _ => ("https://host/path", "https://hooks.wxyz.org/archivist"),
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::NotAUrl => write!(f, "is not a URL (scheme://host/...)"),
            ParseError::UnknownScheme { scheme } => write!(
                f,
                "has a scheme Archivist does not know ({scheme}://); it sends to {SCHEMES}"
            ),
            ParseError::BadPort => write!(f, "has a port that is not a number from 1 to 65535"),
            ParseError::Malformed { scheme, problem } => {
                let (shape, example) = expected(scheme);
                write!(f, "{problem}: a {scheme}:// URL reads {shape}, for example {example}")
            }
            ParseError::BadOption { name, problem } => write!(f, "has {name}= {problem}"),
            ParseError::LoginWithoutTls => write!(
                f,
                "would send the mail login without TLS (tls=none); add login=unencrypted to allow it on a trusted network"
            ),
            ParseError::Entry { position, error } => write!(f, "entry {position} {error}"),
        }
    }
}

impl std::error::Error for ParseError {}

/// The parts of a URL this module needs.
struct Parts<'a> {
    scheme: String,
    user: Option<String>,
    password: Option<String>,
    /// As written (not decoded); may be empty (`ntfy:///topic`).
    host: &'a str,
    port: Option<u16>,
    /// From the first `/` (or empty), without the query.
    path: &'a str,
    /// Decoded pairs, in order.
    query: Vec<(String, String)>,
    /// The query as written, `?` included (or empty).
    raw_query: &'a str,
}

impl Parts<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// The path's non-empty segments, decoded.
    fn segments(&self) -> Vec<String> {
        self.path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect()
    }

    /// `host[:port]` as written.
    fn hostport(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.to_string(),
        }
    }

    /// Whether the host part names a server (a dot, a port, an IP address
    /// or `localhost`), not a token as Apprise's short forms put there.
    fn host_is_server(&self) -> bool {
        self.host.contains('.')
            || self.port.is_some()
            || self.host.starts_with('[')
            || self.host.eq_ignore_ascii_case("localhost")
    }

    fn malformed(&self, problem: &'static str) -> ParseError {
        ParseError::Malformed {
            scheme: self.scheme.clone(),
            problem,
        }
    }
}

fn split(url: &str) -> Result<Parts<'_>, ParseError> {
    let (scheme, rest) = url.split_once("://").ok_or(ParseError::NotAUrl)?;
    // Apprise's examples write `msteams:///team/...`: an empty host first.
    let rest = rest.trim_start_matches('/');
    let (before_query, raw_query) = match rest.find('?') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
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
        Some((h, p)) if !p.contains(']') => {
            let port = p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or(ParseError::BadPort)?;
            (h, Some(port))
        }
        _ => (hostport, None),
    };
    let query = raw_query
        .trim_start_matches('?')
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
        raw_query,
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

/// `%XX` encoding of everything but unreserved characters (a path segment
/// or a query value built from a decoded part).
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
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

/// The URL without its `kinds=` option: routing may change without the
/// destination's queue being taken for another destination's.
fn without_kinds(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.to_ascii_lowercase().starts_with("kinds="))
        .collect();
    if kept.iter().all(|p| p.is_empty()) {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

/// A sender's target: where it posts, with which headers.
struct Webhook {
    format: Format,
    post_url: String,
    headers: Vec<(String, String)>,
    targets: Vec<String>,
    sender_name: Option<String>,
}

impl Webhook {
    fn new(format: Format, post_url: String) -> Webhook {
        Webhook {
            format,
            post_url,
            headers: Vec::new(),
            targets: Vec::new(),
            sender_name: None,
        }
    }
}

/// What one scheme family's parser found.
enum Found {
    Webhook(Webhook),
    Mail(MailSettings, Option<String>),
}

/// The scheme family's parser: where and how a URL sends.
fn by_scheme(url: &str, parts: &Parts<'_>) -> Result<Found, ParseError> {
    Ok(match parts.scheme.as_str() {
        "http" | "https" => Found::Webhook(generic_http(url, parts)?),
        "json" | "jsons" => Found::Webhook(apprise_json(parts)?),
        "ntfy" | "ntfys" | "ntfy+http" | "ntfy+https" => Found::Webhook(ntfy(parts)?),
        "slack" | "slack+http" | "slack+https" => Found::Webhook(slack(parts)?),
        "discord" | "discord+http" | "discord+https" => Found::Webhook(discord(parts)?),
        "teams" | "teams+http" | "teams+https" => Found::Webhook(full_url(parts, Format::Teams)?),
        "msteams" => Found::Webhook(msteams(parts)?),
        "workflows" | "workflow" => Found::Webhook(workflows(parts)?),
        "smtp" | "smtps" | "mailto" | "mailtos" => {
            let (mail, notice) = mail(parts)?;
            Found::Mail(mail, notice)
        }
        other => {
            return Err(ParseError::UnknownScheme {
                scheme: other.chars().take(20).collect(),
            })
        }
    })
}

/// `fingerprint=`: the one certificate the destination trusts.
fn pinned(parts: &Parts<'_>) -> Result<Option<Fingerprint>, ParseError> {
    let Some(text) = parts.get("fingerprint") else {
        return Ok(None);
    };
    Fingerprint::parse(text).map(Some).ok_or_else(|| ParseError::BadOption {
        name: "fingerprint".into(),
        problem: "that is not a SHA-256 fingerprint (64 hex digits, as `openssl x509 -noout -fingerprint -sha256` prints)".into(),
    })
}

/// `kinds=`: the alert kinds the destination takes (`None`: every kind).
fn kinds(parts: &Parts<'_>) -> Option<Vec<String>> {
    parts.get("kinds").map(|text| {
        text.split(',')
            .map(|k| k.trim().to_ascii_lowercase())
            .filter(|k| !k.is_empty())
            .collect()
    })
}

/// A pin where no certificate is checked: a configuration mistake.
fn pin_needs_tls(needs: &str) -> ParseError {
    ParseError::BadOption {
        name: "fingerprint".into(),
        problem: format!("but pins a certificate, which needs {needs}"),
    }
}

impl Destination {
    /// Parses one URL; the error says what is wrong without repeating it.
    pub fn parse(url: &str) -> Result<Destination, ParseError> {
        let url = url.trim();
        let parts = split(url)?;
        let found = by_scheme(url, &parts)?;
        let mut destination = Destination {
            format: Format::Email,
            post_url: String::new(),
            headers: Vec::new(),
            targets: Vec::new(),
            sender_name: None,
            mail: None,
            pin: None,
            kinds: kinds(&parts),
            notice: None,
            secrets: secrets(url, &parts),
            label: String::new(),
            key: fnv64(&without_kinds(url)),
        };
        let shown_host = destination.take(found, pinned(&parts)?)?;
        destination.label = format!("{} ({shown_host})", destination.format.name());
        Ok(destination)
    }

    /// Takes what the scheme's parser found, and the pin; returns the host
    /// the label shows.
    fn take(&mut self, found: Found, pin: Option<Fingerprint>) -> Result<String, ParseError> {
        match found {
            Found::Webhook(webhook) => {
                if pin.is_some() && !webhook.post_url.starts_with("https://") {
                    return Err(pin_needs_tls("https"));
                }
                self.format = webhook.format;
                self.pin = pin;
                self.secrets
                    .extend(webhook.headers.iter().map(|(_, value)| value.clone()));
                self.headers = webhook.headers;
                self.targets = webhook.targets;
                self.sender_name = webhook.sender_name;
                self.post_url = webhook.post_url;
                Ok(host_of(&self.post_url))
            }
            Found::Mail(mut mail, notice) => {
                if pin.is_some() && mail.security == Security::None {
                    return Err(pin_needs_tls("TLS (not tls=none)"));
                }
                mail.pin = pin;
                let host = mail.host.clone();
                self.notice = notice;
                self.mail = Some(mail);
                Ok(host)
            }
        }
    }

    /// Every destination in `ARCHIVIST_NOTIFY_URLS` (spaces or commas
    /// between them). The error names the entry by position, never by text.
    pub fn parse_list(text: &str) -> Result<Vec<Destination>, ParseError> {
        let mut out: Vec<Destination> = Vec::new();
        for (n, entry) in list_entries(text).iter().enumerate() {
            let destination = Destination::parse(entry).map_err(|error| ParseError::Entry {
                position: n + 1,
                error: Box::new(error),
            })?;
            if !out.iter().any(|d| d.key == destination.key) {
                out.push(destination);
            }
        }
        Ok(out)
    }

    /// "service (host)": all that is ever shown of a destination.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// A stable name for the outbox that does not reveal the URL.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The alert kinds this destination takes (`kinds=`); `None`: all.
    pub fn kinds(&self) -> Option<&[String]> {
        self.kinds.as_deref()
    }

    /// Its outbox as the store knows it: the key and the kinds it takes.
    pub fn recipient(&self) -> Recipient {
        Recipient {
            key: self.key.clone(),
            kinds: self.kinds.clone(),
        }
    }

    /// What to say once in the log when sending starts (mail without TLS).
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
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

/// The entries of a list: a comma splits destinations only where a URL
/// follows it, so an SMTP `?to=a@b,c@d` or a `kinds=a,b` keeps its list.
fn list_entries(text: &str) -> Vec<String> {
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
    entries
}

/// The parts of a URL that are secret: the whole, the password, and any
/// path segment or option value long enough to be a token.
fn secrets(url: &str, parts: &Parts<'_>) -> Vec<String> {
    let mut secrets = vec![url.to_string()];
    secrets.extend(parts.password.clone());
    secrets.extend(parts.user.clone().filter(|u| u.len() >= 6));
    secrets.extend(
        parts
            .path
            .split('/')
            .filter(|s| s.len() >= 6)
            .flat_map(|s| [s.to_string(), percent_decode(s)]),
    );
    secrets.extend(
        parts
            .query
            .iter()
            .filter(|(_, v)| v.len() >= 6)
            .map(|(_, v)| v.clone()),
    );
    if !parts.host_is_server() && parts.host.len() >= 6 {
        // A token written where a host would be (slack://TokenA/...).
        secrets.push(parts.host.to_string());
    }
    secrets
}

/// The host a post URL goes to, for the label.
fn host_of(post_url: &str) -> String {
    let rest = post_url.split_once("://").map_or(post_url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let hostport = authority.rsplit('@').next().unwrap_or(authority);
    match hostport.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host.to_string(),
        _ => hostport.to_string(),
    }
}

/// `http(s)` for a scheme's `+http`/`+https` suffix, or its own default.
fn web_scheme(scheme: &str, secure_by_default: bool) -> &'static str {
    if scheme.ends_with("+http") {
        "http"
    } else if scheme.ends_with("+https") || secure_by_default {
        "https"
    } else {
        "http"
    }
}

/// Options Archivist reads itself and never passes on to a webhook.
const OWN_OPTIONS: &[&str] = &["kinds", "fingerprint"];

/// The raw query without Archivist's own options (kept as written).
fn passed_query(parts: &Parts<'_>, also_own: &[&str]) -> String {
    let kept: Vec<&str> = parts
        .raw_query
        .trim_start_matches('?')
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            let name = pair
                .split('=')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let name = percent_decode(&name);
            !OWN_OPTIONS.contains(&name.as_str()) && !also_own.contains(&name.as_str())
        })
        .collect();
    if kept.is_empty() {
        String::new()
    } else {
        format!("?{}", kept.join("&"))
    }
}

/// `https://...` or `http://...`: the generic JSON, POSTed to the URL as
/// written (without Archivist's own options and any `#fragment`).
fn generic_http(url: &str, parts: &Parts<'_>) -> Result<Webhook, ParseError> {
    if parts.host.is_empty() {
        return Err(parts.malformed("has no host"));
    }
    let base = url.split(['?', '#']).next().unwrap_or(url);
    let query = passed_query(parts, &[]);
    let query = query.split('#').next().unwrap_or_default();
    Ok(Webhook::new(native_format(parts), format!("{base}{query}")))
}

/// The format a service's own webhook URL, pasted as it is, takes (as
/// Apprise reads them): Slack, Discord and Teams would refuse the generic
/// JSON.
fn native_format(parts: &Parts<'_>) -> Format {
    let host = parts.host.to_ascii_lowercase();
    let path = parts.path;
    let discord = [
        "discord.com",
        "discordapp.com",
        "ptb.discord.com",
        "canary.discord.com",
    ];
    if host == "hooks.slack.com" || host == "hooks.slack-gov.com" {
        Format::Slack
    } else if discord.contains(&host.as_str()) && path.starts_with("/api/webhooks/") {
        Format::Discord
    } else if host.ends_with(".webhook.office.com")
        || host == "outlook.office.com"
        || ((host.contains(".logic.azure.") || host.contains("platform."))
            && path.contains("/workflows/"))
    {
        Format::Teams
    } else {
        Format::Generic
    }
}

/// Apprise's `json://` (HTTP) and `jsons://` (HTTPS): the generic JSON,
/// with `user:password@` as Basic auth, `+Name=value` as a header and
/// `-name=value` as a query parameter.
fn apprise_json(parts: &Parts<'_>) -> Result<Webhook, ParseError> {
    if parts.host.is_empty() {
        return Err(parts.malformed("has no host"));
    }
    let web = web_scheme(&parts.scheme, parts.scheme == "jsons");
    let mut webhook = Webhook::new(Format::Generic, String::new());
    let mut params = Vec::new();
    for (name, value) in &parts.query {
        if let Some(header) = name.strip_prefix('+') {
            webhook.headers.push((header.to_string(), value.clone()));
        } else if let Some(param) = name.strip_prefix('-') {
            params.push(format!(
                "{}={}",
                percent_encode(param),
                percent_encode(value)
            ));
        } else if name.starts_with(':') {
            return Err(ParseError::BadOption {
                name: name.clone(),
                problem: "(a change to the JSON body), which Archivist does not make: its JSON is documented, version 1".into(),
            });
        }
    }
    if let Some(user) = &parts.user {
        webhook
            .headers
            .push(basic_auth(user, parts.password.as_deref()));
    }
    let query = if params.is_empty() {
        String::new()
    } else {
        format!("?{}", params.join("&"))
    };
    let path = if parts.path.is_empty() {
        "/"
    } else {
        parts.path
    };
    webhook.post_url = format!("{web}://{}{path}{query}", parts.hostport());
    Ok(webhook)
}

fn basic_auth(user: &str, password: Option<&str>) -> (String, String) {
    use base64::Engine;
    let pair = format!("{user}:{}", password.unwrap_or_default());
    let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
    ("Authorization".into(), format!("Basic {encoded}"))
}

/// The ntfy cloud service, where Apprise's `ntfy://topic` publishes.
const NTFY_CLOUD: &str = "https://ntfy.sh/";

/// Apprise's ntfy URLs: `ntfy://` is HTTP and `ntfys://` HTTPS (Archivist's
/// older `ntfy+http://` stays HTTP, `ntfy+https://` HTTPS); `ntfy://topic`
/// with no server publishes to ntfy.sh. A login is Basic auth; a token
/// (`?token=`, a `tk_...` user, Shoutrrr's `:token@`, or `auth=token`) is
/// sent as a Bearer token. Several topics get one message each.
fn ntfy(parts: &Parts<'_>) -> Result<Webhook, ParseError> {
    let mut topics = parts.segments();
    if let Some(to) = parts.get("to") {
        topics.extend(
            to.split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
        );
    }
    let private = !parts.host.is_empty() && parts.host_is_server() && !topics.is_empty();
    let post_url = if private {
        let web = web_scheme(&parts.scheme, parts.scheme == "ntfys");
        format!("{web}://{}/", parts.hostport())
    } else {
        // A topic is letters, digits, `-` and `_`: a host with a dot or a
        // port is a server given without a topic, never a topic on ntfy.sh.
        if parts.host_is_server() {
            return Err(parts.malformed("needs a topic"));
        }
        if !parts.host.is_empty() {
            topics.insert(0, percent_decode(parts.host));
        }
        NTFY_CLOUD.to_string()
    };
    if topics.is_empty() {
        return Err(parts.malformed("needs a topic"));
    }
    let mut webhook = Webhook::new(Format::Ntfy, post_url);
    webhook.targets = topics;
    let auth = parts.get("auth").map(str::to_ascii_lowercase);
    let token = parts.get("token").map(str::to_string).or_else(|| {
        match (&parts.user, &parts.password) {
            (Some(user), None)
                if auth.as_deref() == Some("token")
                    || user.to_ascii_lowercase().starts_with("tk_") =>
            {
                Some(user.clone())
            }
            // Shoutrrr's `ntfy://:token@host/topic`.
            (None, Some(password)) => Some(password.clone()),
            (_, Some(password)) if auth.as_deref() == Some("token") => Some(password.clone()),
            _ => None,
        }
    });
    if let Some(token) = token {
        webhook
            .headers
            .push(("Authorization".into(), format!("Bearer {token}")));
    } else if let Some(user) = &parts.user {
        webhook
            .headers
            .push(basic_auth(user, parts.password.as_deref()));
    }
    Ok(webhook)
}

/// Slack's incoming webhooks live here; Apprise's token form posts to it.
const SLACK_HOOKS: &str = "https://hooks.slack.com/services";
/// The same for Slack's government cloud (Apprise's `mode=gov-hook`).
const SLACK_GOV_HOOKS: &str = "https://hooks.slack-gov.com/services";

/// Apprise's `slack://[botname@]TokenA/TokenB/TokenC[/#channel...]` (posted
/// to hooks.slack.com), or Archivist's `slack://host/path` for a
/// Slack-compatible server (a host has a dot, a port or is an address).
fn slack(parts: &Parts<'_>) -> Result<Webhook, ParseError> {
    if parts.host_is_server() {
        return full_url(parts, Format::Slack);
    }
    let mut tokens = vec![percent_decode(parts.host)];
    let mut channels = Vec::new();
    for segment in parts.segments() {
        if tokens.len() < 3 {
            tokens.push(segment);
        } else {
            channels.push(segment);
        }
    }
    let mode = parts.get("mode").map(str::to_ascii_lowercase);
    let hooks = match mode.as_deref() {
        None | Some("hook") => SLACK_HOOKS,
        Some("gov-hook") => SLACK_GOV_HOOKS,
        Some(kind @ ("workflow" | "trigger")) => {
            // Workflow Builder webhooks: every segment is the path.
            let mut path = vec![percent_encode(&percent_decode(parts.host))];
            path.extend(parts.segments().iter().map(|s| percent_encode(s)));
            let base = if kind == "workflow" {
                "workflows"
            } else {
                "triggers"
            };
            return Ok(Webhook::new(
                Format::Slack,
                format!("https://hooks.slack.com/{base}/{}", path.join("/")),
            ));
        }
        Some(_) => return Err(parts.malformed(
            "has a mode= Archivist does not send to (hook, gov-hook, workflow or trigger; not bot)",
        )),
    };
    if let Some(token) = parts.get("token") {
        tokens = token
            .split('/')
            .map(str::to_string)
            .filter(|t| !t.is_empty())
            .collect();
    }
    if tokens.iter().any(|t| t.starts_with("xo")) {
        return Err(parts.malformed(
            "is a Slack bot token (xoxb-/xoxp-); Archivist posts to incoming webhooks",
        ));
    }
    if tokens.len() != 3 || tokens.iter().any(String::is_empty) {
        return Err(parts.malformed("needs the webhook's three tokens"));
    }
    if let Some(to) = parts.get("to") {
        channels.extend(
            to.split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty()),
        );
    }
    let path: Vec<String> = tokens.iter().map(|t| percent_encode(t)).collect();
    let mut webhook = Webhook::new(Format::Slack, format!("{hooks}/{}", path.join("/")));
    webhook.targets = channels.iter().map(|c| slack_channel(c)).collect();
    webhook.sender_name = parts.user.clone();
    Ok(webhook)
}

/// A channel as Slack takes it: `#name`, `@user`, or `+ID` as the bare ID.
fn slack_channel(channel: &str) -> String {
    if let Some(id) = channel.strip_prefix('+') {
        id.to_string()
    } else if channel.starts_with('#') || channel.starts_with('@') {
        channel.to_string()
    } else {
        format!("#{channel}")
    }
}

/// Discord's webhooks live here; Apprise's short form posts to it.
const DISCORD_WEBHOOKS: &str = "https://discord.com/api/webhooks";

/// Apprise's `discord://[botname@]WebhookID/WebhookToken`, Shoutrrr's
/// `discord://WebhookToken@WebhookID`, or Archivist's
/// `discord://host/api/webhooks/ID/TOKEN`.
fn discord(parts: &Parts<'_>) -> Result<Webhook, ParseError> {
    if parts.host_is_server() {
        return full_url(parts, Format::Discord);
    }
    let segments = parts.segments();
    let id = percent_decode(parts.host);
    let (token, botname) = match (segments.first(), &parts.user) {
        (Some(token), user) => (token.clone(), user.clone()),
        // Shoutrrr writes the token where a user would be.
        (None, Some(token)) => (token.clone(), None),
        (None, None) => return Err(parts.malformed("needs the webhook's ID and token")),
    };
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) || segments.len() > 1 {
        return Err(parts.malformed("needs the webhook's ID (digits) and token"));
    }
    let mut webhook = Webhook::new(
        Format::Discord,
        format!("{DISCORD_WEBHOOKS}/{id}/{}", percent_encode(&token)),
    );
    webhook.sender_name = botname;
    Ok(webhook)
}

/// `scheme://host/path`: the webhook's own URL with the scheme for its
/// format (HTTPS, or HTTP with `+http`).
fn full_url(parts: &Parts<'_>, format: Format) -> Result<Webhook, ParseError> {
    if parts.host.is_empty() || parts.path.trim_matches('/').is_empty() {
        return Err(parts.malformed("needs the webhook's host and path"));
    }
    let web = web_scheme(&parts.scheme, true);
    let query = passed_query(parts, &[]);
    Ok(Webhook::new(
        format,
        format!("{web}://{}{}{query}", parts.hostport(), parts.path),
    ))
}

/// Apprise's `msteams://[team/]TokenA/TokenB/TokenC`: a Teams incoming
/// webhook on `team.webhook.office.com` (no team: Microsoft's older
/// `outlook.office.com`).
fn msteams(parts: &Parts<'_>) -> Result<Webhook, ParseError> {
    // TokenA holds an `@` (`msteams://ABCD@WXYZ/DEFG/HIJK`): written first,
    // it reads as a user and a host.
    let first = match &parts.user {
        Some(user) => format!("{user}@{}", percent_decode(parts.host)),
        None => percent_decode(parts.host),
    };
    let mut segments = vec![first];
    segments.extend(parts.segments());
    segments.retain(|s| !s.is_empty());
    let (post_url, tokens) = match segments.as_slice() {
        [team, a, b, c] => (
            format!("https://{team}.webhook.office.com/webhookb2"),
            [a, b, c],
        ),
        [a, b, c] => ("https://outlook.office.com/webhook".to_string(), [a, b, c]),
        _ => return Err(parts.malformed("needs the team and the webhook's three tokens")),
    };
    let [a, b, c] = tokens.map(|t| percent_encode(t).replace("%40", "@"));
    Ok(Webhook::new(
        Format::Teams,
        format!("{post_url}/{a}/IncomingWebhook/{b}/{c}"),
    ))
}

/// The Workflows API version Apprise (and Microsoft's generated URLs) use.
const WORKFLOWS_API_VERSION: &str = "2016-06-01";

/// Apprise's `workflows://host[:port]/Workflow/Signature` (or `?id=`,
/// `?sig=`): the Power Automate trigger URL Microsoft generated.
fn workflows(parts: &Parts<'_>) -> Result<Webhook, ParseError> {
    let mut segments = parts.segments().into_iter();
    let workflow = parts
        .get("workflow")
        .or(parts.get("id"))
        .map(str::to_string)
        .or_else(|| segments.next());
    let signature = parts
        .get("signature")
        .or(parts.get("sig"))
        .map(str::to_string)
        .or_else(|| segments.next());
    let (Some(workflow), Some(signature)) = (workflow, signature) else {
        return Err(parts.malformed("needs the workflow and its signature"));
    };
    if parts.host.is_empty() || !parts.host_is_server() {
        return Err(parts.malformed("needs the workflow's host"));
    }
    let version = parts
        .get("api-version")
        .or(parts.get("ver"))
        .unwrap_or(WORKFLOWS_API_VERSION);
    let power_automate = matches!(
        parts.get("powerautomate").or(parts.get("pa")),
        Some("yes" | "true" | "1")
    );
    let prefix = if power_automate {
        "/powerautomate/automations/direct"
    } else {
        ""
    };
    Ok(Webhook::new(
        Format::Teams,
        format!(
            "https://{}{prefix}/workflows/{}/triggers/manual/paths/invoke?api-version={}&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={}",
            parts.hostport(),
            percent_encode(&workflow),
            percent_encode(version),
            percent_encode(&signature)
        ),
    ))
}

/// Mail providers Apprise knows by the address's domain: the SMTP server,
/// its port and whether it speaks TLS from the first byte; the login is the
/// whole address.
const MAIL_PROVIDERS: &[(&[&str], &str, u16, bool)] = &[
    (&["gmail.com"], "smtp.gmail.com", 587, false),
    (
        &["hotmail.com", "live.com"],
        "smtp-mail.outlook.com",
        587,
        false,
    ),
    (&["outlook.com"], "smtp.outlook.com", 587, false),
    (&["office365.com"], "smtp.office365.com", 587, false),
    (&["yahoo.com", "yahoo.ca"], "smtp.mail.yahoo.com", 465, true),
    (&["fastmail.com"], "smtp.fastmail.com", 465, true),
    (&["zoho.com", "zohomail.com"], "smtp.zoho.com", 587, false),
    (
        &["gmx.com", "gmx.net", "gmx.de"],
        "mail.gmx.com",
        587,
        false,
    ),
];

/// Mail: Archivist's `smtp://` (STARTTLS) and `smtps://` (implicit TLS), and
/// Apprise's `mailto://` and `mailtos://` (user@domain sends; `smtp=` names
/// the server; `mode=ssl` is implicit TLS). Without TLS only when asked
/// (`tls=none`, or Apprise's `mode=insecure`), and a login over it only with
/// `login=unencrypted`. Apprise sends `mailto://` without TLS unless the
/// provider is known; Archivist asks for STARTTLS unless told otherwise.
fn mail(parts: &Parts<'_>) -> Result<(MailSettings, Option<String>), ParseError> {
    if parts.host.is_empty() {
        return Err(parts.malformed("has no host"));
    }
    let apprise = parts.scheme.starts_with("mailto");
    let domain = percent_decode(parts.host);
    let provider = MAIL_PROVIDERS
        .iter()
        .find(|(domains, ..)| domains.iter().any(|d| d.eq_ignore_ascii_case(&domain)))
        .filter(|_| apprise && parts.get("smtp").is_none());
    let security = mail_security(parts, provider)?;
    if security == Security::None
        && parts.user.is_some()
        && parts.get("login") != Some("unencrypted")
    {
        return Err(ParseError::LoginWithoutTls);
    }
    let host = match (parts.get("smtp"), provider) {
        (Some(server), _) => server.to_string(),
        (None, Some((_, server, ..))) => server.to_string(),
        (None, None) => domain.clone(),
    };
    let port = parts.port.unwrap_or(match (security, provider) {
        (Security::None, _) => 25,
        (Security::ImplicitTls, _) => 465,
        (Security::StartTls, Some((_, _, port, false))) => *port,
        (Security::StartTls, _) => 587,
    });
    let (user, from, to) = mail_addresses(parts, &domain, apprise, provider.is_some())?;
    let notice = (security == Security::None).then(|| {
        let login = if user.is_some() {
            "; its login too (login=unencrypted)"
        } else {
            ""
        };
        format!("mail to {host}:{port} goes without TLS, as its URL asks (tls=none){login}")
    });
    let mail = MailSettings {
        host,
        port,
        security,
        user,
        password: parts.password.clone(),
        from,
        to,
        extra_ca: parts.get("ca").map(str::to_string),
        pin: None,
    };
    Ok((mail, notice))
}

/// `tls=` (or Apprise's `mode=`), else the scheme's and the provider's.
fn mail_security(
    parts: &Parts<'_>,
    provider: Option<&(&[&str], &str, u16, bool)>,
) -> Result<Security, ParseError> {
    let (name, mode) = match (parts.get("tls"), parts.get("mode")) {
        (Some(tls), _) => ("tls", Some(tls.to_ascii_lowercase())),
        (None, Some(mode)) => ("mode", Some(mode.to_ascii_lowercase())),
        (None, None) => ("tls", None),
    };
    Ok(match mode.as_deref() {
        Some("none" | "insecure" | "no" | "off") => Security::None,
        Some("ssl" | "implicit" | "tls") => Security::ImplicitTls,
        Some("starttls") => Security::StartTls,
        Some(_) => {
            return Err(ParseError::BadOption {
                name: name.into(),
                problem: "a value Archivist does not know (starttls, ssl or none)".into(),
            })
        }
        None if parts.scheme == "smtps" => Security::ImplicitTls,
        None => match provider {
            Some((_, _, _, true)) => Security::ImplicitTls,
            _ => Security::StartTls,
        },
    })
}

/// The login, the sender and the recipients. Apprise's `mailto://` makes
/// `user@domain` of a bare user, takes recipients from the path too, and
/// mails the sender when no one else is named.
fn mail_addresses(
    parts: &Parts<'_>,
    domain: &str,
    apprise: bool,
    known_provider: bool,
) -> Result<(Option<String>, String, Vec<String>), ParseError> {
    let address = |user: &str| {
        if user.contains('@') {
            user.to_string()
        } else {
            format!("{user}@{domain}")
        }
    };
    let login = match &parts.user {
        Some(user) if apprise && known_provider => Some(address(user)),
        user => user.clone(),
    };
    let from = match (parts.get("from"), &parts.user) {
        (Some(from), _) => from.to_string(),
        (None, Some(user)) if user.contains('@') || apprise => address(user),
        (None, _) => format!("archivist@{domain}"),
    };
    let mut to: Vec<String> = parts
        .get("to")
        .unwrap_or_default()
        .split(',')
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect();
    if apprise {
        to.extend(parts.segments());
        if to.is_empty() {
            to.push(from.clone());
        }
    }
    if to.is_empty() {
        return Err(parts.malformed("needs ?to=address (several separated by commas)"));
    }
    Ok((login, from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scheme_becomes_its_format_and_shows_only_scheme_and_host() {
        let d = Destination::parse("https://hooks.example.org/x/secret-token").expect("valid");
        assert_eq!(d.format, Format::Generic);
        assert_eq!(d.label(), "webhook (hooks.example.org)");
        let d = Destination::parse("ntfys://ntfy.sh/station-alerts?token=tk_abcdef").expect("ok");
        assert_eq!(d.format, Format::Ntfy);
        assert_eq!(d.post_url, "https://ntfy.sh/");
        assert_eq!(d.targets, vec!["station-alerts"]);
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
        assert_eq!(mail.security, Security::StartTls);
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
            .expect_err("unknown scheme")
            .to_string();
        assert!(
            e.starts_with(
                "entry 2 has a scheme Archivist does not know (gopher://); it sends to https,"
            ),
            "{e}"
        );
        assert!(!e.contains("secret"), "{e}");
        assert!(Destination::parse("ntfys://ntfy.example.org/").is_err());
        assert!(Destination::parse("smtp://mail.example/").is_err());
    }

    #[test]
    fn ntfy_follows_apprise_http_https_cloud_and_tokens() {
        let d = Destination::parse("ntfy://ntfy.example.org/alerts").expect("ok");
        assert_eq!(d.post_url, "http://ntfy.example.org/");
        let d = Destination::parse("ntfy://wxyz-alerts").expect("ok");
        assert_eq!(d.post_url, NTFY_CLOUD);
        assert_eq!(d.targets, vec!["wxyz-alerts"]);
        // Shoutrrr's token form is not dropped.
        let d = Destination::parse("ntfys://:tk_secret1@ntfy.example.org/alerts").expect("ok");
        assert_eq!(
            d.headers,
            vec![("Authorization".to_string(), "Bearer tk_secret1".to_string())]
        );
        let d = Destination::parse("ntfys://tk_abc123@ntfy.example.org/a/b").expect("ok");
        assert_eq!(d.headers[0].1, "Bearer tk_abc123");
        assert_eq!(d.targets, vec!["a", "b"]);
    }

    #[test]
    fn a_url_that_cannot_be_read_says_what_its_scheme_expects() {
        let e = Destination::parse("slack://T000/B000")
            .expect_err("two tokens")
            .to_string();
        assert!(e.starts_with("needs the webhook's three tokens: a slack:// URL reads slack://TokenA/TokenB/TokenC"), "{e}");
        assert!(e.contains("for example slack://"), "{e}");
        let e = Destination::parse("discord://abc/def")
            .expect_err("not an id")
            .to_string();
        assert!(e.contains("discord://WebhookID/WebhookToken"), "{e}");
        let e = Destination::parse("smtp://u:p@relay.lan:25/?to=a@b.org&tls=none")
            .expect_err("login without TLS")
            .to_string();
        assert!(e.contains("login=unencrypted"), "{e}");
        let e = Destination::parse("https://h.example/x?fingerprint=abc")
            .expect_err("fp")
            .to_string();
        assert!(
            e.starts_with("has fingerprint= that is not a SHA-256 fingerprint"),
            "{e}"
        );
    }

    #[test]
    fn shoutrrr_forms_that_do_not_clash_keep_working() {
        let d = Destination::parse("discord://s3cret-token@417429632418316298").expect("ok");
        assert_eq!(
            d.post_url,
            "https://discord.com/api/webhooks/417429632418316298/s3cret-token"
        );
        // Archivist's own full-URL forms stay as they were.
        let d = Destination::parse("discord://discord.com/api/webhooks/1/tok").expect("ok");
        assert_eq!(d.post_url, "https://discord.com/api/webhooks/1/tok");
        let d = Destination::parse("slack://hooks.slack.com/services/T0/B0/XX").expect("ok");
        assert_eq!(d.post_url, "https://hooks.slack.com/services/T0/B0/XX");
        let d = Destination::parse("ntfy+http://127.0.0.1:9000/alerts").expect("ok");
        assert_eq!(d.post_url, "http://127.0.0.1:9000/");
    }

    #[test]
    fn kinds_route_and_do_not_change_the_queue_key() {
        let all = Destination::parse("https://h.example/x").expect("ok");
        let some =
            Destination::parse("https://h.example/x?kinds=cablecast_down,database").expect("ok");
        assert_eq!(all.key(), some.key());
        assert_eq!(some.post_url, "https://h.example/x");
        let some = some.recipient();
        assert!(some.takes("database") && some.takes("test") && !some.takes("vod_failed"));
        assert!(all.recipient().takes("vod_failed"));
    }
}
