//! Delivering notifications: one sender thread per destination works through
//! that destination's outbox (`store::alerts`), oldest message first, with
//! retries and a growing pause, so a destination that is down delays only
//! its own messages, never the monitoring cycle nor another destination.
//! After a restart each sender simply carries on with what is queued. A
//! message a destination refuses for good (HTTP 4xx but 408 and 429, a
//! redirect, SMTP 5xx) is recorded as failed with its answer and never
//! tried again, so it never blocks the messages after it.
//!
//! Messages that could not be queued (the database cannot be written) are
//! handed over in memory ([`Notifier::send_from_memory`]) and tried a few
//! times; they are lost only if the process ends first.
//!
//! Requests go out through the one door (`outbound`). A destination's URL
//! only ever goes to its own host (no redirects are followed) and never
//! reaches a log line or an error: errors are scrubbed with
//! [`Destination::scrub`] and destinations are named by their label.

pub mod destination;
pub mod format;
mod mail;
mod send;

mod apprise_examples;

use std::collections::VecDeque;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

pub use destination::{Destination, Format, ParseError};
pub use format::{AlertItem, Event, Notification, PAYLOAD_VERSION};
pub use send::{deliver, deliver_to_all, DeliveryError};

use crate::clock;
use crate::store::alerts::Recipient;
use crate::store::Store;

/// The longest pause between attempts for one message: a destination back
/// from an outage gets its messages within this.
pub const MAX_RETRY_PAUSE: Duration = Duration::from_secs(300);
/// How often an idle sender looks at its queue without being woken (another
/// process may have queued something).
const IDLE_LOOK: Duration = Duration::from_secs(30);
/// Attempts for a message held only in memory.
const MEMORY_ATTEMPTS: u32 = 6;
/// The longest `Retry-After` honoured: a destination asking for more is
/// tried again after this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The pause before attempt `attempts + 1` after `error`: the growing
/// pause, or longer when the destination asked for it (`Retry-After`).
fn pause_after(error: &DeliveryError, attempts: u32) -> Duration {
    let grown = retry_pause(attempts);
    match error.retry_after() {
        Some(asked) => grown.max(asked.min(MAX_RETRY_AFTER)),
        None => grown,
    }
}

/// The pause after `attempts` failed attempts: 1 s, 2 s, 4 s, ... up to
/// [`MAX_RETRY_PAUSE`].
pub fn retry_pause(attempts: u32) -> Duration {
    let secs = 1u64 << attempts.saturating_sub(1).min(16);
    Duration::from_secs(secs).min(MAX_RETRY_PAUSE)
}

/// What the senders share.
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

struct State {
    /// Moves on each wake-up, so a sender never misses one.
    generation: u64,
    stop: bool,
    /// Per destination, messages that could not be queued in the database.
    memory: Vec<VecDeque<Notification>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits up to `wait` for a wake-up after `seen`; false once stopping.
    fn wait(&self, seen: u64, wait: Duration) -> bool {
        let state = self.lock();
        let (state, _) = self
            .changed
            .wait_timeout_while(state, wait, |s| !s.stop && s.generation == seen)
            .unwrap_or_else(|p| p.into_inner());
        !state.stop
    }
}

/// The running senders (and the heartbeat). Dropping it stops them; a
/// message being sent at that moment stays queued and goes after restart.
pub struct Notifier {
    destinations: Arc<Vec<Destination>>,
    shared: Arc<Shared>,
    heartbeat: Option<SyncSender<bool>>,
}

impl Notifier {
    /// Starts one sender per destination, and the heartbeat pinger when
    /// `heartbeat` is set. `store` is `None` when the database cannot be
    /// written at all: then only messages in memory are sent.
    pub fn start(
        store: Option<Arc<Store>>,
        destinations: Vec<Destination>,
        heartbeat: Option<Destination>,
    ) -> Notifier {
        let destinations = Arc::new(destinations);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                generation: 0,
                stop: false,
                memory: vec![VecDeque::new(); destinations.len()],
            }),
            changed: Condvar::new(),
        });
        for destination in destinations.iter() {
            if let Some(notice) = destination.notice() {
                log::warn!("{}: {notice}", destination.label());
            }
        }
        if let Some(store) = &store {
            let named: Vec<(String, String)> = destinations
                .iter()
                .map(|d| (d.key().to_string(), d.label().to_string()))
                .collect();
            if let Err(e) = store.record_destinations(&named) {
                log::warn!("{e}");
            }
            let keys: Vec<String> = destinations.iter().map(|d| d.key().to_string()).collect();
            match store.forget_destinations_except(&keys) {
                Ok(0) => {}
                Ok(n) => log::warn!(
                    "dropped {n} queued messages for destinations no longer in ARCHIVIST_NOTIFY_URLS"
                ),
                Err(e) => log::warn!("{e}"),
            }
        }
        for index in 0..destinations.len() {
            let sender = Sender {
                index,
                destinations: Arc::clone(&destinations),
                shared: Arc::clone(&shared),
                store: store.clone(),
            };
            std::thread::Builder::new()
                .name(format!("notify-{index}"))
                .spawn(move || sender.run())
                .map_err(|e| log::error!("cannot start a notification sender: {e}"))
                .ok();
        }
        let heartbeat = heartbeat.and_then(|target| {
            let (ping, pings) = sync_channel::<bool>(1);
            std::thread::Builder::new()
                .name("heartbeat".into())
                .spawn(move || run_heartbeat(&target, pings))
                .map_err(|e| log::error!("cannot start the heartbeat: {e}"))
                .ok()
                .map(|_| ping)
        });
        Notifier {
            destinations,
            shared,
            heartbeat,
        }
    }

    /// The destinations' outboxes (key and the kinds each takes), in order.
    pub fn keys(&self) -> Vec<Recipient> {
        self.destinations
            .iter()
            .map(Destination::recipient)
            .collect()
    }

    pub fn has_destinations(&self) -> bool {
        !self.destinations.is_empty()
    }

    /// Tells the senders new messages are queued.
    pub fn wake(&self) {
        let mut state = self.shared.lock();
        state.generation += 1;
        self.shared.changed.notify_all();
    }

    /// Sends a message that could not be queued in the database.
    pub fn send_from_memory(&self, notification: Notification) {
        let mut state = self.shared.lock();
        for queue in state.memory.iter_mut() {
            queue.push_back(notification.clone());
        }
        state.generation += 1;
        self.shared.changed.notify_all();
    }

    /// Reports a cycle's outcome to the heartbeat URL, without waiting.
    pub fn heartbeat(&self, cycle_ok: bool) {
        if let Some(ping) = &self.heartbeat {
            // A ping still waiting says as much as this one would, and a
            // heartbeat sender that is gone has nothing to say it to.
            let _ = ping.try_send(cycle_ok);
        }
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.stop = true;
        self.shared.changed.notify_all();
    }
}

/// One destination's sender.
struct Sender {
    index: usize,
    destinations: Arc<Vec<Destination>>,
    shared: Arc<Shared>,
    store: Option<Arc<Store>>,
}

impl Sender {
    fn destination(&self) -> &Destination {
        &self.destinations[self.index]
    }

    fn run(&self) {
        loop {
            let (seen, from_memory) = {
                let mut state = self.shared.lock();
                if state.stop {
                    return;
                }
                (state.generation, state.memory[self.index].pop_front())
            };
            if let Some(notification) = from_memory {
                self.send_held(&notification);
                continue;
            }
            let wait = match &self.store {
                Some(store) => self.send_queued(store),
                None => IDLE_LOOK,
            };
            if !wait.is_zero() && !self.shared.wait(seen, wait) {
                return;
            }
        }
    }

    /// Tries the oldest queued message if it is due; returns how long to
    /// wait before looking again (zero: look again now).
    fn send_queued(&self, store: &Store) -> Duration {
        let destination = self.destination();
        let key = destination.key();
        let pending = match store.next_delivery(key) {
            Ok(Some(pending)) => pending,
            Ok(None) => return IDLE_LOOK,
            Err(e) => {
                log::warn!("notifications to {}: {e}", destination.label());
                return Duration::from_secs(5);
            }
        };
        let now = clock::unix_now();
        let due = clock::parse_stored(&pending.next_attempt_at).unwrap_or(now);
        if due > now {
            return Duration::from_secs((due - now) as u64).min(IDLE_LOOK);
        }
        let notification: Notification = match serde_json::from_str(&pending.body) {
            Ok(n) => n,
            Err(e) => {
                // Unreadable (a newer format?): set aside, never retried forever.
                log::error!(
                    "queued message {} cannot be read ({e}); skipping it",
                    pending.message_id
                );
                let _ = store.delivered(key, pending.message_id, &clock::now());
                return Duration::ZERO;
            }
        };
        match deliver(destination, &notification) {
            Ok(()) => {
                if pending.attempts > 0 {
                    log::info!(
                        "{} delivered to {} after {} failed attempts",
                        notification.headline(),
                        destination.label(),
                        pending.attempts
                    );
                } else {
                    log::info!(
                        "{} sent to {}",
                        notification.headline(),
                        destination.label()
                    );
                }
                if let Err(e) = store.delivered(key, pending.message_id, &clock::now()) {
                    log::warn!("{e}");
                    return Duration::from_secs(5);
                }
                Duration::ZERO
            }
            Err(error) if error.is_permanent() => {
                let reason = error.to_string();
                log::error!(
                    "{} refused by {}: {reason}; recorded as failed, not retried",
                    notification.headline(),
                    destination.label()
                );
                if let Err(e) =
                    store.delivery_refused(key, pending.message_id, &clock::now(), &reason)
                {
                    log::warn!("{e}");
                    return Duration::from_secs(5);
                }
                Duration::ZERO
            }
            Err(error) => {
                let attempts = pending.attempts as u32 + 1;
                let pause = pause_after(&error, attempts);
                let reason = error.to_string();
                if attempts == 1 {
                    log::warn!(
                        "notifying {} failed: {reason}; retrying with growing pauses (at most {} s)",
                        destination.label(),
                        MAX_RETRY_PAUSE.as_secs()
                    );
                } else {
                    log::debug!("notifying {} failed again: {reason}", destination.label());
                }
                let next = clock::format_unix(now + pause.as_secs() as i64);
                if let Err(e) =
                    store.delivery_failed(key, pending.message_id, &next, &reason.to_string())
                {
                    log::warn!("{e}");
                }
                pause
            }
        }
    }

    /// A message held in memory: a few attempts, then it is given up.
    fn send_held(&self, notification: &Notification) {
        let destination = self.destination();
        for attempt in 1..=MEMORY_ATTEMPTS {
            match deliver(destination, notification) {
                Ok(()) => {
                    log::info!(
                        "{} sent to {}",
                        notification.headline(),
                        destination.label()
                    );
                    return;
                }
                Err(error) => {
                    log::warn!(
                        "notifying {} failed: {error} (attempt {attempt} of {MEMORY_ATTEMPTS})",
                        destination.label()
                    );
                    if error.is_permanent() {
                        return;
                    }
                    let seen = self.shared.lock().generation;
                    if attempt < MEMORY_ATTEMPTS && !self.shared.wait(seen, retry_pause(attempt)) {
                        return;
                    }
                }
            }
        }
    }
}

/// Pings the heartbeat URL after each cycle: the URL itself when the cycle
/// was current, `URL/fail` when it was not (Healthchecks' convention).
fn run_heartbeat(target: &Destination, pings: std::sync::mpsc::Receiver<bool>) {
    let mut last_failure: Option<String> = None;
    for ok in pings {
        let url = if ok {
            target.post_url.clone()
        } else {
            format!("{}/fail", target.post_url.trim_end_matches('/'))
        };
        let outcome = crate::outbound::Request::get(&url)
            .with_timeout(send::HTTP_TIMEOUT_SECS)
            .with_pinned_certificate(target.pin)
            .send();
        let failure = match outcome {
            Ok(r) if (200..300).contains(&r.status_code) => None,
            Ok(r) => Some(format!("HTTP {}", r.status_code)),
            Err(e) => Some(send::unreachable(target, &e).to_string()),
        };
        if failure != last_failure {
            match &failure {
                Some(reason) => log::warn!("heartbeat to {} failed: {reason}", target.label()),
                None if last_failure.is_some() => {
                    log::info!("heartbeat to {} works again", target.label())
                }
                None => {}
            }
            last_failure = failure;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_after_is_honoured_within_reason() {
        let asked = |secs: Option<u64>| DeliveryError::Status {
            status: 429,
            retry_after: secs.map(Duration::from_secs),
        };
        assert_eq!(pause_after(&asked(Some(120)), 1), Duration::from_secs(120));
        assert_eq!(pause_after(&asked(Some(999_999)), 1), MAX_RETRY_AFTER);
        // A Retry-After in the past (or none) leaves the growing pause.
        assert_eq!(pause_after(&asked(Some(0)), 3), retry_pause(3));
        assert_eq!(pause_after(&asked(None), 3), retry_pause(3));
    }

    #[test]
    fn pauses_grow_and_stop_growing() {
        assert_eq!(retry_pause(1), Duration::from_secs(1));
        assert_eq!(retry_pause(3), Duration::from_secs(4));
        assert_eq!(retry_pause(40), MAX_RETRY_PAUSE);
    }
}
