//! Answers kept in memory between database changes.
//!
//! Each cached answer is keyed by the store's `PRAGMA data_version` (one
//! cheap statement on the server's own probe connection, which changes
//! whenever anyone, this process's monitor or another process, commits to
//! the file) and lives
//! at most a fixed time, for what moves with the clock ("in this state for
//! 3 h", the 24-hour transcription window). So a request costs one PRAGMA,
//! never a query, and an answer is never older than the file.

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::WebError;
use crate::cache;

struct Entry<T> {
    version: i64,
    built: Instant,
    value: Arc<T>,
}

/// One cached answer.
pub struct Snapshot<T> {
    slot: RwLock<Option<Entry<T>>>,
    /// Held while building, so a change makes one worker rebuild while the
    /// others wait for its result rather than all querying at once.
    building: Mutex<()>,
    ttl: Duration,
}

impl<T> Snapshot<T> {
    pub fn new(ttl: Duration) -> Snapshot<T> {
        Snapshot {
            slot: RwLock::new(None),
            building: Mutex::new(()),
            ttl,
        }
    }

    /// The value for data version `version`, built by `build` if the cached
    /// one is older or expired.
    pub fn get(
        &self,
        version: i64,
        build: impl FnOnce() -> Result<T, WebError>,
    ) -> Result<Arc<T>, WebError> {
        if let Some(value) = self.current(version) {
            cache::record_lookup(true);
            return Ok(value);
        }
        cache::record_lookup(false);
        let _building = self.building.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(value) = self.current(version) {
            return Ok(value);
        }
        let value = Arc::new(build()?);
        *self.slot.write().unwrap_or_else(PoisonError::into_inner) = Some(Entry {
            version,
            built: Instant::now(),
            value: Arc::clone(&value),
        });
        Ok(value)
    }

    fn current(&self, version: i64) -> Option<Arc<T>> {
        let slot = self.slot.read().unwrap_or_else(PoisonError::into_inner);
        slot.as_ref()
            .filter(|entry| entry.version == version && entry.built.elapsed() < self.ttl)
            .map(|entry| Arc::clone(&entry.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebuilds_on_a_new_version_only() {
        let snapshot: Snapshot<u32> = Snapshot::new(Duration::from_secs(60));
        let mut builds = 0;
        let mut build = |n| {
            builds += 1;
            Ok(n)
        };
        assert_eq!(*snapshot.get(1, || build(10)).expect("built"), 10);
        assert_eq!(*snapshot.get(1, || build(11)).expect("cached"), 10);
        assert_eq!(*snapshot.get(2, || build(12)).expect("rebuilt"), 12);
        assert_eq!(builds, 2);
    }

    #[test]
    fn expires_and_keeps_nothing_on_error() {
        let snapshot: Snapshot<u32> = Snapshot::new(Duration::ZERO);
        assert_eq!(*snapshot.get(1, || Ok(1)).expect("built"), 1);
        assert_eq!(*snapshot.get(1, || Ok(2)).expect("expired"), 2);
        assert!(snapshot.get(3, || Err(WebError::NotFound)).is_err());
    }
}
