//! Counts the open connections, in all and per client IP address, so the accept loop can
//! refuse one more when a limit is reached.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// The open connections, by client address (`None` for a UNIX socket).
#[derive(Default)]
pub struct OpenConnections {
    by_ip: Mutex<(usize, HashMap<Option<IpAddr>, usize>)>,
}

/// One connection's place: given back when dropped.
pub struct Place {
    open: Arc<OpenConnections>,
    ip: Option<IpAddr>,
}

impl OpenConnections {
    /// Takes a place for a connection from `ip`, unless that would pass `max` in all or
    /// `max_per_ip` for that address.
    pub fn enter(
        self: &Arc<Self>,
        ip: Option<IpAddr>,
        max: Option<usize>,
        max_per_ip: Option<usize>,
    ) -> Option<Place> {
        let mut guard = self.by_ip.lock().unwrap_or_else(|e| e.into_inner());
        let (total, by_ip) = &mut *guard;
        let from_ip = by_ip.get(&ip).copied().unwrap_or(0);
        if max.is_some_and(|max| *total >= max) || max_per_ip.is_some_and(|max| from_ip >= max)
        {
            return None;
        }
        *total += 1;
        by_ip.insert(ip, from_ip + 1);
        Some(Place {
            open: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut guard = self.open.by_ip.lock().unwrap_or_else(|e| e.into_inner());
        let (total, by_ip) = &mut *guard;
        *total = total.saturating_sub(1);
        if let Some(count) = by_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                by_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_limited_in_all_and_per_address_and_given_back() {
        let open = Arc::new(OpenConnections::default());
        let a: Option<IpAddr> = Some([10, 0, 0, 1].into());
        let b: Option<IpAddr> = Some([10, 0, 0, 2].into());
        let first = open.enter(a, Some(3), Some(2)).expect("place");
        let _second = open.enter(a, Some(3), Some(2)).expect("place");
        assert!(open.enter(a, Some(3), Some(2)).is_none(), "per address");
        let _third = open.enter(b, Some(3), Some(2)).expect("place");
        assert!(open.enter(b, Some(3), Some(2)).is_none(), "in all");
        drop(first);
        assert!(open.enter(a, Some(3), Some(2)).is_some(), "given back");
    }
}
