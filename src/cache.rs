//! The process's caches, and the hit and miss counters Archivist reports.
//!
//! - [`Answers`]: one LRU of answers (the sync figures, the status report,
//!   every rendered page and API answer), keyed by route and normalised
//!   query, each valid for one database data version and at most its
//!   time-to-live (for what moves with the clock: "in this state for 3 h",
//!   the 24-hour transcription window). A missing answer is built once: the
//!   first caller builds it while the others asking for the same key wait
//!   for its result. Bounded in entries and in bytes.
//! - [`Expiring`]: one fact that holds for a while (the Cablecast
//!   connection check), on time alone.
//!
//! What this is not: it never reads the database; callers pass the data
//! version and a builder.

use std::any::Any;
use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use lru::LruCache;

static HITS: AtomicU64 = AtomicU64::new(0);
static MISSES: AtomicU64 = AtomicU64::new(0);

/// Answers kept at most: a page, the figures, and a few dozen list pages.
pub const MAX_ENTRIES: usize = 128;
/// Bytes of answers kept at most (an `/api/vods` page of 1000 rows is
/// about 200 kB; the status page with its charts about 100 kB).
pub const MAX_BYTES: usize = 8 * 1024 * 1024;

/// Hits and misses of every cache in the process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheCounters {
    pub hits: u64,
    pub misses: u64,
}

impl CacheCounters {
    /// Hits as a fraction of lookups, 0.0 to 1.0 (0 before any lookup).
    pub fn hit_rate(&self) -> f64 {
        let lookups = self.hits + self.misses;
        if lookups == 0 {
            0.0
        } else {
            self.hits as f64 / lookups as f64
        }
    }
}

fn record_lookup(hit: bool) {
    let counter = if hit { &HITS } else { &MISSES };
    counter.fetch_add(1, Ordering::Relaxed);
}

pub fn counters() -> CacheCounters {
    CacheCounters {
        hits: HITS.load(Ordering::Relaxed),
        misses: MISSES.load(Ordering::Relaxed),
    }
}

/// Which answer: a route (`"/api/vods"`, or an internal name such as
/// `"sync-stats"`) and its normalised query (parameters in a fixed order,
/// or an id).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub route: &'static str,
    pub query: String,
}

impl Key {
    pub fn new(route: &'static str, query: impl Into<String>) -> Key {
        Key {
            route,
            query: query.into(),
        }
    }
}

/// The size an answer counts against [`MAX_BYTES`].
pub trait Weigh {
    fn bytes(&self) -> usize;
}

impl Weigh for Arc<[u8]> {
    fn bytes(&self) -> usize {
        self.len()
    }
}

struct Entry {
    version: i64,
    expires: Instant,
    bytes: usize,
    value: Arc<dyn Any + Send + Sync>,
}

struct State {
    entries: LruCache<Key, Entry>,
    bytes: usize,
    /// Keys someone is building now.
    building: HashSet<Key>,
    /// Callers waiting for a builder.
    waiting: usize,
}

/// The LRU of answers; see the module docs.
pub struct Answers {
    state: Mutex<State>,
    built: Condvar,
    max_bytes: usize,
}

impl Default for Answers {
    fn default() -> Self {
        Answers::new(MAX_ENTRIES, MAX_BYTES)
    }
}

/// Takes a key off the building list when its builder is done, even if it
/// failed or panicked, and wakes those waiting for it.
struct Building<'a> {
    answers: &'a Answers,
    key: &'a Key,
}

impl Drop for Building<'_> {
    fn drop(&mut self) {
        self.answers.lock().building.remove(self.key);
        self.answers.built.notify_all();
    }
}

impl Answers {
    pub fn new(max_entries: usize, max_bytes: usize) -> Answers {
        Answers {
            state: Mutex::new(State {
                entries: LruCache::new(NonZeroUsize::new(max_entries).unwrap_or(NonZeroUsize::MIN)),
                bytes: 0,
                building: HashSet::new(),
                waiting: 0,
            }),
            built: Condvar::new(),
            max_bytes,
        }
    }

    /// The answer for `key` at data version `version`: the cached one if it
    /// was built at that version less than `ttl` ago, else `build`'s (one
    /// builder per key; others asking meanwhile wait for it). A failed build
    /// caches nothing. `version` must come from the same source (the same
    /// connection's `PRAGMA data_version`) every time a key is asked for.
    pub fn get<T, E>(
        &self,
        key: Key,
        version: i64,
        ttl: Duration,
        build: impl FnOnce() -> Result<T, E>,
    ) -> Result<Arc<T>, E>
    where
        T: Weigh + Send + Sync + 'static,
    {
        self.fetch(key, Some(version), ttl, build, |_| version)
    }

    /// Like [`Answers::get`] for an answer that records the data version
    /// it was read at (`built_at`): `current` is asked only when an answer
    /// is held, so a miss right after [`Answers::clear`] costs the build
    /// alone.
    pub fn get_current<T, E>(
        &self,
        key: Key,
        current: impl FnOnce() -> Result<i64, E>,
        ttl: Duration,
        build: impl FnOnce() -> Result<T, E>,
        built_at: impl FnOnce(&T) -> i64,
    ) -> Result<Arc<T>, E>
    where
        T: Weigh + Send + Sync + 'static,
    {
        if self.lock().entries.peek(&key).is_some() {
            let version = current()?;
            return self.fetch(key, Some(version), ttl, build, |_| version);
        }
        self.fetch(key, None, ttl, build, built_at)
    }

    /// `version`: the data version now, if known; without it, only a build
    /// made since the call (by this caller or one it waited for) answers.
    fn fetch<T, E>(
        &self,
        key: Key,
        version: Option<i64>,
        ttl: Duration,
        build: impl FnOnce() -> Result<T, E>,
        built_at: impl FnOnce(&T) -> i64,
    ) -> Result<Arc<T>, E>
    where
        T: Weigh + Send + Sync + 'static,
    {
        let mut state = self.lock();
        let mut first_look = true;
        loop {
            let found = match version {
                Some(version) => live::<T>(&mut state, &key, version),
                // Only what a builder we waited for made.
                None if !first_look => state
                    .entries
                    .get(&key)
                    .and_then(|e| Arc::clone(&e.value).downcast::<T>().ok()),
                None => None,
            };
            if let Some(value) = found {
                if first_look {
                    record_lookup(true);
                }
                return Ok(value);
            }
            if first_look {
                record_lookup(false);
                first_look = false;
            }
            if !state.building.contains(&key) {
                break;
            }
            state.waiting += 1;
            state = self
                .built
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.waiting -= 1;
        }
        state.building.insert(key.clone());
        drop(state);
        let _building = Building {
            answers: self,
            key: &key,
        };
        let value = Arc::new(build()?);
        let version = built_at(&value);
        let bytes = value.bytes();
        if bytes <= self.max_bytes {
            let mut state = self.lock();
            if let Some(old) = state.entries.pop(&key) {
                state.bytes -= old.bytes;
            }
            state.bytes += bytes;
            let evicted = state.entries.push(
                key.clone(),
                Entry {
                    version,
                    expires: Instant::now() + ttl,
                    bytes,
                    value: Arc::clone(&value) as Arc<dyn Any + Send + Sync>,
                },
            );
            if let Some((_, old)) = evicted {
                state.bytes -= old.bytes;
            }
            while state.bytes > self.max_bytes {
                match state.entries.pop_lru() {
                    Some((_, old)) => state.bytes -= old.bytes,
                    None => break,
                }
            }
        }
        Ok(value)
    }

    /// Drops every answer: a write by this process calls it, so nothing
    /// built before the write is served after it.
    pub fn clear(&self) {
        let mut state = self.lock();
        state.entries.clear();
        state.bytes = 0;
    }

    /// Entries and bytes held now.
    pub fn size(&self) -> (usize, usize) {
        let state = self.lock();
        (state.entries.len(), state.bytes)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The map holds plain values: a panic elsewhere cannot leave it
        // half-changed, so a poisoned lock is still safe to use.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The live entry for `key` as a `T`; a stale one is dropped.
fn live<T: Send + Sync + 'static>(state: &mut State, key: &Key, version: i64) -> Option<Arc<T>> {
    let entry = state.entries.get(key)?;
    let fresh = entry.version == version && Instant::now() < entry.expires;
    let value = fresh
        .then(|| Arc::clone(&entry.value).downcast::<T>().ok())
        .flatten();
    if value.is_none() {
        if let Some(old) = state.entries.pop(key) {
            state.bytes -= old.bytes;
        }
    }
    value
}

/// One fact that holds for a while after it was last confirmed.
#[derive(Debug, Default)]
pub struct Expiring {
    until: Mutex<Option<Instant>>,
}

impl Expiring {
    /// Whether it still holds, counted as a hit; otherwise a miss.
    pub fn holds(&self) -> bool {
        let until = *self.until.lock().unwrap_or_else(PoisonError::into_inner);
        let holds = until.is_some_and(|until| Instant::now() < until);
        record_lookup(holds);
        holds
    }

    /// Confirmed now: holds for `ttl`.
    pub fn confirm(&self, ttl: Duration) {
        *self.until.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + ttl);
    }

    pub fn forget(&self) {
        *self.until.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    impl Weigh for u32 {
        fn bytes(&self) -> usize {
            4
        }
    }

    impl Weigh for Vec<u8> {
        fn bytes(&self) -> usize {
            self.len()
        }
    }

    const MINUTE: Duration = Duration::from_secs(60);

    fn get(answers: &Answers, key: &str, version: i64, value: u32) -> u32 {
        *answers
            .get(Key::new("r", key), version, MINUTE, || Ok::<_, ()>(value))
            .expect("built")
    }

    #[test]
    fn rebuilds_on_a_new_version_only() {
        let answers = Answers::default();
        assert_eq!(get(&answers, "a", 1, 10), 10);
        assert_eq!(get(&answers, "a", 1, 11), 10);
        assert_eq!(get(&answers, "a", 2, 12), 12);
        // Another query of the same route is another answer.
        assert_eq!(get(&answers, "b", 2, 13), 13);
        assert_eq!(get(&answers, "a", 2, 14), 12);
        answers.clear();
        assert_eq!(get(&answers, "a", 2, 15), 15);
    }

    #[test]
    fn expires_and_keeps_nothing_on_error() {
        let answers = Answers::default();
        let key = || Key::new("r", "");
        let got = answers.get(key(), 1, Duration::ZERO, || Ok::<u32, ()>(1));
        assert_eq!(*got.expect("built"), 1);
        let got = answers.get(key(), 1, MINUTE, || Ok::<u32, ()>(2));
        assert_eq!(*got.expect("expired, rebuilt"), 2);
        assert!(answers
            .get(Key::new("r", "x"), 1, MINUTE, || Err::<u32, _>("no"))
            .is_err());
        assert_eq!(answers.size(), (1, 4));
    }

    #[test]
    fn bounded_in_entries_and_bytes_least_recently_used_first() {
        let answers = Answers::new(2, 10);
        assert_eq!(get(&answers, "a", 1, 1), 1);
        assert_eq!(get(&answers, "b", 1, 2), 2);
        assert_eq!(get(&answers, "a", 1, 0), 1);
        assert_eq!(get(&answers, "c", 1, 3), 3);
        // b was least recently used.
        assert_eq!(get(&answers, "b", 1, 20), 20);
        assert_eq!(answers.size(), (2, 8));
        let big = |n: usize| move || Ok::<_, ()>(vec![0u8; n]);
        answers
            .get(Key::new("big", "1"), 1, MINUTE, big(7))
            .expect("built");
        assert_eq!(answers.size(), (1, 7), "bytes over the bound evict");
        answers
            .get(Key::new("big", "2"), 1, MINUTE, big(11))
            .expect("built");
        assert_eq!(answers.size(), (1, 7), "too big to keep at all");
    }

    #[test]
    fn one_builder_while_the_others_wait() {
        let answers = Answers::default();
        let builds = AtomicUsize::new(0);
        let (started, start) = std::sync::mpsc::channel::<()>();
        let (release, released) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|scope| {
            let (answers, builds) = (&answers, &builds);
            let builder = scope.spawn(move || {
                answers
                    .get(Key::new("r", ""), 1, MINUTE, || {
                        builds.fetch_add(1, Ordering::SeqCst);
                        started.send(()).expect("test waits");
                        released.recv().expect("test releases");
                        Ok::<u32, ()>(7)
                    })
                    .map(|v| *v)
            });
            // The builder holds the key; these arrive while it builds.
            start.recv().expect("builder started");
            let waiters: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(move || {
                        answers
                            .get(Key::new("r", ""), 1, MINUTE, || {
                                builds.fetch_add(1, Ordering::SeqCst);
                                Ok::<u32, ()>(8)
                            })
                            .map(|v| *v)
                    })
                })
                .collect();
            // Released only once all four wait for the builder (a state,
            // not a guess at how long they take to arrive).
            while answers.lock().waiting < 4 {
                std::thread::yield_now();
            }
            release.send(()).expect("builder waits");
            assert_eq!(builder.join().expect("no panic"), Ok(7));
            for waiter in waiters {
                assert_eq!(waiter.join().expect("no panic"), Ok(7));
            }
        });
        assert_eq!(builds.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn an_answer_that_knows_its_version_asks_for_the_current_one_only_when_held() {
        let answers = Answers::default();
        let asked = AtomicUsize::new(0);
        let current = |v: i64| {
            let asked = &asked;
            move || {
                asked.fetch_add(1, Ordering::SeqCst);
                Ok::<i64, ()>(v)
            }
        };
        let key = || Key::new("stats", "");
        let built_at = |v: &u32| i64::from(*v);
        let got = answers.get_current(key(), current(5), MINUTE, || Ok(5), built_at);
        assert_eq!((*got.expect("built"), asked.load(Ordering::SeqCst)), (5, 0));
        let got = answers.get_current(key(), current(5), MINUTE, || Ok(6), built_at);
        assert_eq!((*got.expect("held"), asked.load(Ordering::SeqCst)), (5, 1));
        let got = answers.get_current(key(), current(7), MINUTE, || Ok(7), built_at);
        assert_eq!(*got.expect("rebuilt"), 7);
        answers.clear();
        let got = answers.get_current(key(), current(9), MINUTE, || Ok(8), built_at);
        assert_eq!((*got.expect("built"), asked.load(Ordering::SeqCst)), (8, 2));
    }

    #[test]
    fn a_fact_expires() {
        let check = Expiring::default();
        assert!(!check.holds());
        check.confirm(MINUTE);
        assert!(check.holds());
        check.forget();
        assert!(!check.holds());
        check.confirm(Duration::ZERO);
        assert!(!check.holds());
    }

    #[test]
    fn hit_rate_is_a_fraction() {
        let counters = CacheCounters { hits: 3, misses: 1 };
        assert!((counters.hit_rate() - 0.75).abs() < 1e-9);
        assert_eq!(CacheCounters::default().hit_rate(), 0.0);
    }
}
