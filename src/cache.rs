//! The in-process LRU cache with expiry that holds the sync figures and the
//! Cablecast connection check, and counts its own hits and misses.
//!
//! Entries expire after the time-to-live given when they are stored, and can
//! be checked against a caller's validity test (the store's data version) on
//! every read. Hit and miss counters are process-wide across all caches, for
//! the "cache hit rate" Archivist reports.

use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lru::LruCache;

static HITS: AtomicU64 = AtomicU64::new(0);
static MISSES: AtomicU64 = AtomicU64::new(0);

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

/// Counts one lookup of a cache kept elsewhere (the status server's
/// rendered answers), so the hit rate covers every cache in the process.
pub fn record_lookup(hit: bool) {
    let counter = if hit { &HITS } else { &MISSES };
    counter.fetch_add(1, Ordering::Relaxed);
}

pub fn counters() -> CacheCounters {
    CacheCounters {
        hits: HITS.load(Ordering::Relaxed),
        misses: MISSES.load(Ordering::Relaxed),
    }
}

/// A bounded LRU map whose entries expire.
pub struct TtlCache<K: Hash + Eq, V: Clone> {
    entries: Mutex<LruCache<K, (V, Instant)>>,
}

impl<K: Hash + Eq, V: Clone> TtlCache<K, V> {
    pub fn new(capacity: NonZeroUsize) -> Self {
        TtlCache {
            entries: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// The live entry for `key`, counted as a hit; otherwise a miss.
    pub fn get(&self, key: &K) -> Option<V> {
        self.get_valid(key, |_| true)
    }

    /// Like [`TtlCache::get`], but an entry that fails `still_valid` counts
    /// as a miss and is dropped.
    pub fn get_valid(&self, key: &K, still_valid: impl FnOnce(&V) -> bool) -> Option<V> {
        let mut entries = self.lock();
        let live = match entries.get(key) {
            Some((value, expires)) if Instant::now() < *expires && still_valid(value) => {
                Some(value.clone())
            }
            Some(_) => {
                entries.pop(key);
                None
            }
            None => None,
        };
        record_lookup(live.is_some());
        live
    }

    pub fn insert(&self, key: K, value: V, ttl: Duration) {
        self.lock().put(key, (value, Instant::now() + ttl));
    }

    pub fn invalidate(&self, key: &K) {
        self.lock().pop(key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<K, (V, Instant)>> {
        // The map holds plain values: a panic elsewhere cannot leave it
        // half-changed, so a poisoned lock is still safe to use.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> TtlCache<&'static str, u32> {
        TtlCache::new(NonZeroUsize::new(2).expect("non-zero"))
    }

    #[test]
    fn entries_expire() {
        let cache = cache();
        cache.insert("a", 1, Duration::from_secs(60));
        cache.insert("b", 2, Duration::ZERO);
        assert_eq!(cache.get(&"a"), Some(1));
        assert_eq!(cache.get(&"b"), None);
    }

    #[test]
    fn invalid_entries_are_misses_and_dropped() {
        let cache = cache();
        cache.insert("a", 1, Duration::from_secs(60));
        assert_eq!(cache.get_valid(&"a", |v| *v == 2), None);
        assert_eq!(cache.get(&"a"), None);
    }

    #[test]
    fn least_recently_used_is_evicted() {
        let cache = cache();
        cache.insert("a", 1, Duration::from_secs(60));
        cache.insert("b", 2, Duration::from_secs(60));
        assert_eq!(cache.get(&"a"), Some(1));
        cache.insert("c", 3, Duration::from_secs(60));
        assert_eq!(cache.get(&"b"), None);
        assert_eq!(cache.get(&"a"), Some(1));
        cache.invalidate(&"a");
        assert_eq!(cache.get(&"a"), None);
    }

    #[test]
    fn hit_rate_is_a_fraction() {
        let counters = CacheCounters { hits: 3, misses: 1 };
        assert!((counters.hit_rate() - 0.75).abs() < 1e-9);
        assert_eq!(CacheCounters::default().hit_rate(), 0.0);
    }
}
