//! The alert settings, typed. `cli` reads them from the spec's
//! `ARCHIVIST_NOTIFY_URLS`, `ARCHIVIST_ALERT_*` and kin, and validates them
//! into this struct; nothing here reads text.

use std::time::Duration;

use super::{hostname, AlertKind};
use crate::notify::Destination;
use crate::stuck::{self, StuckAfter};

/// How long a VOD failure must hold before it fires, by default. Cablecast
/// retries a failed upload or transcode by itself within a minute or so;
/// two minutes keeps those blips quiet at short intervals, and at the
/// default 300 s interval a failure already older than this when a cycle
/// sees it (by Cablecast's state change time) fires at once, a newer one
/// at the next cycle: never more than one interval late.
pub const DEFAULT_VOD_FAILURE_HOLD: Duration = Duration::from_secs(120);

/// Longest failure hold accepted.
const MAX_FAILURE_HOLD: Duration = Duration::from_secs(7 * 24 * 3600);

/// How long a per-item failure must hold before it fires, per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureHold {
    pub vod_failed: Duration,
    pub transcription_failed: Duration,
}

impl Default for FailureHold {
    fn default() -> FailureHold {
        FailureHold {
            vod_failed: DEFAULT_VOD_FAILURE_HOLD,
            // A job reports its own end: a failure it reports is no blip.
            transcription_failed: Duration::ZERO,
        }
    }
}

impl FailureHold {
    /// The hold for `kind` (zero for station-wide kinds, damped by cycles).
    pub fn of(&self, kind: AlertKind) -> Duration {
        match kind {
            AlertKind::VodFailed => self.vod_failed,
            AlertKind::TranscriptionFailed => self.transcription_failed,
            _ => Duration::ZERO,
        }
    }

    /// "2m" (both kinds) or "vod_failed=2m,transcription_failed=0".
    pub fn parse(text: &str) -> Result<FailureHold, String> {
        let mut hold = FailureHold::default();
        let duration = |value: &str| -> Result<Duration, String> {
            let value = value.trim();
            let length = if value == "0" {
                Duration::ZERO
            } else {
                stuck::parse_duration(value)?
            };
            if length > MAX_FAILURE_HOLD {
                return Err(format!("{value:?} is longer than 7 days"));
            }
            Ok(length)
        };
        if !text.contains('=') {
            let length = duration(text)?;
            return Ok(FailureHold {
                vod_failed: length,
                transcription_failed: length,
            });
        }
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not KIND=DURATION"))?;
            match AlertKind::parse(name) {
                Some(AlertKind::VodFailed) => hold.vod_failed = duration(value)?,
                Some(AlertKind::TranscriptionFailed) => {
                    hold.transcription_failed = duration(value)?
                }
                _ => {
                    return Err(format!(
                        "{name:?} is not vod_failed or transcription_failed"
                    ))
                }
            }
        }
        Ok(hold)
    }
}

/// When a show that aired with no VOD fires `vod_missing`: its event is
/// past by more than `after`, and no older than `lookback`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingVod {
    pub after: Duration,
    pub lookback: Duration,
}

/// Longest lookback accepted: the series rule looks [`SERIES_WINDOW`]
/// back from each show, so a longer lookback would judge shows on episodes
/// no one remembers.
pub const MAX_MISSING_LOOKBACK: Duration = Duration::from_secs(60 * 86_400);

/// How far before a show its earlier episodes are looked for.
pub const SERIES_WINDOW: Duration = Duration::from_secs(120 * 86_400);

impl Default for MissingVod {
    fn default() -> MissingVod {
        MissingVod {
            // A station publishes a meeting the same evening or the next
            // morning; 6 h past its start covers a long meeting's encode.
            after: Duration::from_secs(6 * 3600),
            lookback: Duration::from_secs(14 * 86_400),
        }
    }
}

impl MissingVod {
    /// Checks the pair: a threshold shorter than the lookback, a lookback of
    /// at most [`MAX_MISSING_LOOKBACK`].
    pub fn new(after: Duration, lookback: Duration) -> Result<MissingVod, String> {
        if after.is_zero() {
            return Err("the threshold must be longer than 0".into());
        }
        if lookback > MAX_MISSING_LOOKBACK {
            return Err(format!(
                "the lookback ({}) is longer than {}",
                stuck::format_duration(lookback),
                stuck::format_duration(MAX_MISSING_LOOKBACK)
            ));
        }
        if after >= lookback {
            return Err(format!(
                "the threshold ({}) must be shorter than the lookback ({})",
                stuck::format_duration(after),
                stuck::format_duration(lookback)
            ));
        }
        Ok(MissingVod { after, lookback })
    }
}

/// How alerts are raised and where they go.
#[derive(Debug, Clone)]
pub struct AlertSettings {
    pub destinations: Vec<Destination>,
    pub heartbeat: Option<Destination>,
    pub station: String,
    pub host: String,
    pub public_url: Option<String>,
    /// Kinds switched off.
    pub off: Vec<AlertKind>,
    /// Consecutive failing cycles before `cablecast_down` or `database` fires.
    pub fire_after: u32,
    /// Consecutive good cycles before they resolve.
    pub resolve_after: u32,
    pub reminder: Option<Duration>,
    pub send_resolved: bool,
    pub stuck_after: StuckAfter,
    /// How long VOD and transcription failures hold before they fire.
    pub failure_hold: FailureHold,
    /// When a series show with no VOD fires `vod_missing`.
    pub missing_vod: MissingVod,
}

impl Default for AlertSettings {
    fn default() -> AlertSettings {
        AlertSettings {
            destinations: Vec::new(),
            heartbeat: None,
            station: "Archivist".into(),
            host: hostname(),
            public_url: None,
            off: Vec::new(),
            fire_after: 2,
            resolve_after: 1,
            reminder: None,
            send_resolved: true,
            stuck_after: StuckAfter::default(),
            failure_hold: FailureHold::default(),
            missing_vod: MissingVod::default(),
        }
    }
}

impl AlertSettings {
    pub fn is_on(&self, kind: AlertKind) -> bool {
        !self.off.contains(&kind)
    }
}
