//! The figures behind `/api/status`, `/metrics`, `/badge.svg` and
//! `/healthz`, read once per database change and rendered right away, so
//! serving any of them is a copy of bytes already made.

use std::sync::Arc;
use std::time::Duration;

use super::{badge, metrics, WebError};
use crate::alert::Pulse;
use crate::cache::Weigh;
use crate::clock;
use crate::status::{StatusBoard, StatusReport};

/// How long rendered figures live without a database change: the
/// transcription count covers the last 24 hours, which moves with the clock.
pub const FACTS_TTL: Duration = Duration::from_secs(10);

/// The status report and its renderings.
pub struct Facts {
    pub report: StatusReport,
    /// When the monitor's last cycle finished (Unix seconds).
    pub last_cycle_unix: Option<i64>,
    pub status_json: Arc<[u8]>,
    pub metrics: Arc<[u8]>,
    pub badge: Arc<[u8]>,
}

impl Weigh for Facts {
    fn bytes(&self) -> usize {
        self.status_json.len() + self.metrics.len() + self.badge.len() + self.report.bytes()
    }
}

impl Facts {
    /// Reads the report (cached sync figures, one query for the last cycle),
    /// says whether the monitor runs (its cycles due within
    /// `cycle_deadline`) and renders it.
    pub fn read(board: &StatusBoard, cycle_deadline: Duration) -> Result<Facts, WebError> {
        let mut report = board.report()?;
        let last_cycle_unix = report
            .last_cycle
            .as_ref()
            .and_then(|c| clock::parse_stored(&c.at));
        report.note_pulse(&Pulse::of(
            last_cycle_unix,
            clock::unix_now(),
            cycle_deadline,
        ));
        let last_success = match board.store().last_success_at() {
            Ok(at) => at.as_deref().and_then(clock::parse_stored),
            Err(e) => {
                // A file from before the history tables, opened read-only.
                log::debug!("{e}");
                None
            }
        };
        let status_json = serde_json::to_vec(&report).map_err(|e| {
            log::error!("writing the status as JSON: {e}");
            WebError::Internal
        })?;
        let sync = (report.total_vods > 0).then_some(report.sync_percentage);
        Ok(Facts {
            last_cycle_unix,
            status_json: status_json.into(),
            metrics: metrics::render(&report, last_success).into_bytes().into(),
            badge: badge::render(sync).into_bytes().into(),
            report,
        })
    }
}
