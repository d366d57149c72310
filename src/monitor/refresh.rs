//! The in-flight refresh: re-reads every VOD still moving, in groups of up
//! to 100 by `ids[]` (a few groups at a time on std threads), and writes
//! what changed in batches, one transaction per batch, all from the calling
//! (monitor) thread.
//!
//! A VOD asked for and missing from a group's answer is read on its own
//! before anything is removed: only Cablecast's 404 for that VOD removes
//! it. A server that ignores `ids[]` is noticed on its first answer (the
//! client remembers it) and its VODs are read one request each, as they
//! were before reads by id.

use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Condvar, Mutex, MutexGuard};
use std::thread;

use crate::cablecast::{id_groups, CablecastClient, CablecastError};
use crate::store::{RefreshOutcome, Store, StoreError};
use crate::vod::Vod;

/// What a refresh did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RefreshSummary {
    /// VODs asked about.
    pub checked: usize,
    /// Of `checked`, failed VODs whose alert fires (not in flight).
    pub failed_checked: usize,
    /// VODs whose stored row changed (or was removed).
    pub changed: usize,
    /// VODs Cablecast says are gone, removed.
    pub removed: usize,
    /// VODs whose answer could not be read: left as they were, retried next
    /// cycle.
    pub failed: usize,
    /// The first server-level failure, which stopped the refresh early.
    pub cablecast_error: Option<CablecastError>,
    /// The first error status answered to a read (the rest went on); its
    /// VODs are read again next cycle.
    pub answered_error: Option<CablecastError>,
    /// The first failed batch write; its VODs stay in flight and are
    /// re-read next cycle.
    pub store_error: Option<StoreError>,
}

impl RefreshSummary {
    /// Adds another refresh's counts (its first errors only where this one
    /// had none).
    pub fn absorb(&mut self, other: RefreshSummary) {
        self.checked += other.checked;
        self.failed_checked += other.failed_checked;
        self.changed += other.changed;
        self.removed += other.removed;
        self.failed += other.failed;
        if self.cablecast_error.is_none() {
            self.cablecast_error = other.cablecast_error;
        }
        if self.answered_error.is_none() {
            self.answered_error = other.answered_error;
        }
        if self.store_error.is_none() {
            self.store_error = other.store_error;
        }
    }
}

/// One request's worth of work: a group of VODs by `ids[]`, or one VOD.
enum Read {
    /// Indices into the in-flight list.
    Group(Range<usize>),
    One(usize),
}

/// The reads not yet taken, shared by the workers.
struct Work {
    queue: Mutex<Queue>,
    /// Signalled when reads are put back or a read in progress ends.
    changed: Condvar,
}

struct Queue {
    reads: VecDeque<Read>,
    /// Reads being read now: while any is, more may be put back.
    busy: usize,
}

impl Work {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The next read, waiting while none is queued but one in progress may
    /// put some back; `None` when all are done.
    fn take(&self) -> Option<Read> {
        let mut queue = self.lock();
        loop {
            if let Some(read) = queue.reads.pop_front() {
                queue.busy += 1;
                return Some(read);
            }
            if queue.busy == 0 {
                return None;
            }
            queue = self
                .changed
                .wait(queue)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// Puts single reads back, for every worker to take.
    fn put_back(&self, reads: impl Iterator<Item = Read>) {
        self.lock().reads.extend(reads);
        self.changed.notify_all();
    }

    /// A read taken is over.
    fn done(&self) {
        self.lock().busy -= 1;
        self.changed.notify_all();
    }
}

/// One VOD's answer: `Ok(None)` when Cablecast says it is gone.
type Answer = (usize, Result<Option<Vod>, CablecastError>);

/// Refreshes `in_flight` (the rows as stored now, sorted by id).
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
    let reads: VecDeque<Read> = if client.reads_vods_by_ids() {
        let ids: Vec<i64> = in_flight.iter().map(|v| v.id).collect();
        let mut start = 0;
        id_groups(&ids)
            .into_iter()
            .map(|group| {
                start += group.len();
                Read::Group(start - group.len()..start)
            })
            .collect()
    } else {
        (0..in_flight.len()).map(Read::One).collect()
    };
    // As many workers as single reads could use: a group a server answers
    // with other VODs goes back on the queue as single reads.
    let workers = concurrency.clamp(1, in_flight.len());
    let work = Work {
        queue: Mutex::new(Queue { reads, busy: 0 }),
        changed: Condvar::new(),
    };
    // Set when Cablecast itself fails (down, refusing credentials, 5xx after
    // retries): workers stop taking reads instead of failing each in turn.
    let stop = AtomicBool::new(false);
    let (sender, answers) = mpsc::channel::<Answer>();
    let mut received = 0;
    thread::scope(|scope| {
        for _ in 0..workers {
            let sender = sender.clone();
            let (work, stop) = (&work, &stop);
            scope.spawn(move || loop {
                let Some(read) = work.take() else {
                    return;
                };
                if stop.load(Ordering::Relaxed) {
                    work.done();
                    return;
                }
                let answered = match read {
                    Read::Group(range) => read_group(client, in_flight, range, work),
                    Read::One(index) => vec![(index, client.vod(in_flight[index].id))],
                };
                work.done();
                for answer in answered {
                    if answer.1.as_ref().is_err_and(is_server_failure) {
                        stop.store(true, Ordering::Relaxed);
                    }
                    if sender.send(answer).is_err() {
                        return;
                    }
                }
            });
        }
        drop(sender);

        let mut batch = Vec::with_capacity(batch_size);
        for (index, answer) in answers {
            received += 1;
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
                    } else if summary.answered_error.is_none() {
                        log::debug!("{e}; will retry next cycle");
                        summary.answered_error = Some(e);
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
    summary.failed += in_flight.len() - received;
    summary
}

/// Reads one group by `ids[]`. VODs missing from the answer are read on
/// their own (only their own 404 says they are gone). When the server does
/// not honour `ids[]`, the group goes back on the queue as single reads, so
/// every worker helps with them.
fn read_group(
    client: &CablecastClient,
    in_flight: &[Vod],
    range: Range<usize>,
    work: &Work,
) -> Vec<Answer> {
    let requeue = |range: Range<usize>| {
        work.put_back(range.map(Read::One));
        Vec::new()
    };
    if !client.reads_vods_by_ids() {
        return requeue(range);
    }
    let ids: Vec<i64> = in_flight[range.clone()].iter().map(|v| v.id).collect();
    match client.vods_by_ids(&ids) {
        Ok(Some(vods)) => {
            let mut found: HashMap<i64, Vod> = vods.into_iter().map(|v| (v.id, v)).collect();
            range
                .map(|index| {
                    let id = in_flight[index].id;
                    match found.remove(&id) {
                        Some(vod) => (index, Ok(Some(vod))),
                        None => {
                            log::debug!("VOD {id} missing from a read by id; reading it alone");
                            (index, client.vod(id))
                        }
                    }
                })
                .collect()
        }
        Ok(None) => requeue(range),
        Err(e) => range.map(|index| (index, Err(e.clone()))).collect(),
    }
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
            summary.store_error.get_or_insert(e);
        }
    }
    batch.clear();
}

/// A failure of Cablecast as a whole rather than of one read's answer. An
/// HTML page in place of a VOD is a portal or proxy in front of the server,
/// not one VOD's trouble. A read answered with an error status is one
/// read's: the others go on.
fn is_server_failure(e: &CablecastError) -> bool {
    matches!(
        e,
        CablecastError::Unreachable { .. }
            | CablecastError::Timeout { .. }
            | CablecastError::Unauthorized { .. }
            | CablecastError::Redirected { .. }
            | CablecastError::Stopped { .. }
            | CablecastError::HtmlPage { .. }
    )
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
