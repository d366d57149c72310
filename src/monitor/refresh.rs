//! The in-flight refresh: re-reads every VOD still moving, a few requests at
//! a time on std threads, and writes what changed in batches, one transaction
//! per batch, all from the calling (monitor) thread.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;

use crate::cablecast::{CablecastClient, CablecastError};
use crate::store::{RefreshOutcome, Store};
use crate::vod::Vod;

/// What a refresh did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RefreshSummary {
    /// VODs asked about.
    pub checked: usize,
    /// VODs whose stored row changed (or was removed).
    pub changed: usize,
    /// VODs Cablecast says are gone, removed.
    pub removed: usize,
    /// VODs whose answer could not be read: left as they were, retried next
    /// cycle.
    pub failed: usize,
    /// The first server-level failure, which stopped the refresh early.
    pub cablecast_error: Option<CablecastError>,
    /// The first failed batch write; its VODs stay in flight and are
    /// re-read next cycle.
    pub store_error: Option<String>,
}

/// Refreshes `in_flight` (the rows as stored now).
pub fn refresh(
    client: &CablecastClient,
    store: &Store,
    in_flight: &[Vod],
    concurrency: usize,
    batch_size: usize,
) -> RefreshSummary {
    let mut summary = RefreshSummary {
        checked: in_flight.len(),
        ..RefreshSummary::default()
    };
    if in_flight.is_empty() {
        return summary;
    }
    let next = AtomicUsize::new(0);
    // Set when Cablecast itself fails (down, refusing credentials, 5xx after
    // retries): workers stop taking VODs instead of failing each in turn.
    let stop = AtomicBool::new(false);
    let (sender, answers) = mpsc::channel::<(usize, Result<Option<Vod>, CablecastError>)>();
    thread::scope(|scope| {
        for _ in 0..concurrency.clamp(1, in_flight.len()) {
            let sender = sender.clone();
            let (next, stop) = (&next, &stop);
            scope.spawn(move || loop {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(stored) = in_flight.get(index) else {
                    return;
                };
                let answer = client.vod(stored.id);
                if answer.as_ref().is_err_and(is_server_failure) {
                    stop.store(true, Ordering::Relaxed);
                }
                if sender.send((index, answer)).is_err() {
                    return;
                }
            });
        }
        drop(sender);

        let mut batch = Vec::with_capacity(batch_size);
        for (index, answer) in answers {
            let stored = &in_flight[index];
            match answer {
                Ok(Some(fresh)) => {
                    if differs(stored, &fresh) {
                        batch.push(RefreshOutcome::Changed(fresh));
                    }
                }
                Ok(None) => {
                    summary.removed += 1;
                    batch.push(RefreshOutcome::Gone(stored.id));
                }
                Err(e) => {
                    summary.failed += 1;
                    if is_server_failure(&e) {
                        summary.cablecast_error.get_or_insert(e);
                    } else {
                        log::warn!("{e}; will retry next cycle");
                    }
                }
            }
            if batch.len() >= batch_size {
                write_batch(store, &mut batch, &mut summary);
            }
        }
        write_batch(store, &mut batch, &mut summary);
    });
    // VODs never asked because the refresh stopped early count as failed.
    let asked = next.load(Ordering::Relaxed).min(in_flight.len());
    summary.failed += in_flight.len() - asked;
    summary
}

fn write_batch(store: &Store, batch: &mut Vec<RefreshOutcome>, summary: &mut RefreshSummary) {
    if batch.is_empty() {
        return;
    }
    match store.apply_refresh(batch) {
        Ok(changes) => {
            summary.changed += batch.len();
            super::log_changes(&changes);
        }
        Err(e) => {
            // The monitor logs it, once per change of state.
            summary.failed += batch.len();
            summary.store_error.get_or_insert_with(|| e.to_string());
        }
    }
    batch.clear();
}

/// A failure of Cablecast as a whole rather than of one VOD's answer.
fn is_server_failure(e: &CablecastError) -> bool {
    matches!(
        e,
        CablecastError::Unreachable { .. }
            | CablecastError::Timeout { .. }
            | CablecastError::Unauthorized { .. }
            | CablecastError::Redirected { .. }
    ) || e.is_transient()
}

/// Whether Cablecast's answer changes the stored row. A VOD whose answer has
/// no `stateChange` keeps the time Archivist recorded.
fn differs(stored: &Vod, fresh: &Vod) -> bool {
    let state_change_differs =
        fresh.state_changed_at.is_some() && fresh.state_changed_at != stored.state_changed_at;
    state_change_differs
        || Vod {
            state_changed_at: None,
            ..stored.clone()
        } != Vod {
            state_changed_at: None,
            ..fresh.clone()
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vod::VodState;

    fn vod(state: VodState) -> Vod {
        Vod {
            id: 1,
            show_cablecast_id: Some(2),
            state,
            percent_complete: Some(0.5),
            error_message: None,
            url: None,
            length: None,
            quality: None,
            file_name: None,
            state_changed_at: Some("2026-01-01T00:00:00Z".into()),
            is_watchable: false,
            disabled: false,
            status_message: None,
        }
    }

    #[test]
    fn unchanged_answers_are_not_written() {
        let stored = vod(VodState::Processing);
        let mut fresh = stored.clone();
        fresh.state_changed_at = None;
        assert!(!differs(&stored, &fresh));
        fresh.percent_complete = Some(0.75);
        assert!(differs(&stored, &fresh));
        assert!(differs(&stored, &vod(VodState::Complete)));
    }
}
