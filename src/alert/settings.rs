//! The alert settings, typed. `cli` reads them from the spec's
//! `ARCHIVIST_NOTIFY_URLS`, `ARCHIVIST_ALERT_*` and kin, and validates them
//! into this struct; nothing here reads text.

use std::time::Duration;

use super::{hostname, AlertKind};
use crate::notify::Destination;
use crate::stuck::StuckAfter;

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
        }
    }
}

impl AlertSettings {
    pub fn is_on(&self, kind: AlertKind) -> bool {
        !self.off.contains(&kind)
    }
}
