//! Counts every SQL statement Archivist runs and the time SQLite spent on it.
//!
//! SQLite reports each finished statement to a profile callback on every
//! connection the store opens. The callback adds to process-wide totals (for
//! "total queries" and "average query time") and to per-thread tallies, so
//! the monitor can say exactly how many statements one cycle ran on its own
//! thread, split into batch writes and everything else, whatever the status
//! server's threads do meanwhile.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::trace::{TraceEvent, TraceEventCodes};
use rusqlite::Connection;

static TOTAL_STATEMENTS: AtomicU64 = AtomicU64::new(0);
static TOTAL_NANOS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static THREAD_READS: Cell<u64> = const { Cell::new(0) };
    static THREAD_WRITES: Cell<u64> = const { Cell::new(0) };
    static IN_WRITE: Cell<bool> = const { Cell::new(false) };
}

/// Process-wide statement totals.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QueryTotals {
    pub statements: u64,
    pub total_ms: f64,
}

impl QueryTotals {
    pub fn avg_ms(&self) -> f64 {
        if self.statements == 0 {
            0.0
        } else {
            self.total_ms / self.statements as f64
        }
    }
}

/// Statements run on the calling thread since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThreadStatements {
    /// Statements outside write transactions.
    pub reads: u64,
    /// Statements inside write transactions (`BEGIN` and `COMMIT` included).
    pub writes: u64,
}

impl ThreadStatements {
    pub fn total(&self) -> u64 {
        self.reads + self.writes
    }

    /// What ran between an earlier snapshot and this one.
    pub fn since(&self, earlier: ThreadStatements) -> ThreadStatements {
        ThreadStatements {
            reads: self.reads.saturating_sub(earlier.reads),
            writes: self.writes.saturating_sub(earlier.writes),
        }
    }
}

pub fn totals() -> QueryTotals {
    QueryTotals {
        statements: TOTAL_STATEMENTS.load(Ordering::Relaxed),
        total_ms: TOTAL_NANOS.load(Ordering::Relaxed) as f64 / 1e6,
    }
}

pub fn this_thread() -> ThreadStatements {
    ThreadStatements {
        reads: THREAD_READS.with(Cell::get),
        writes: THREAD_WRITES.with(Cell::get),
    }
}

/// Attaches the counting callback to a connection.
pub(crate) fn attach(conn: &Connection) {
    conn.trace_v2(TraceEventCodes::SQLITE_TRACE_PROFILE, Some(on_event));
}

/// Marks the statements run inside `work` as write-transaction statements.
pub(crate) fn as_write<T>(work: impl FnOnce() -> T) -> T {
    let outer = IN_WRITE.with(|flag| flag.replace(true));
    let result = work();
    IN_WRITE.with(|flag| flag.set(outer));
    result
}

/// The statement SQLite runs inside the `pragma_data_version` table-valued
/// function of the sync aggregate: part of that one statement, not another
/// one of Archivist's (whose own data-version check is spelled
/// `PRAGMA main.data_version`).
const NESTED_PRAGMA: &str = "PRAGMA data_version";

fn on_event(event: TraceEvent<'_>) {
    if let TraceEvent::Profile(statement, elapsed) = event {
        if statement.sql() == NESTED_PRAGMA {
            return;
        }
        if log::log_enabled!(log::Level::Trace) {
            log::trace!("sql ({} us): {}", elapsed.as_micros(), statement.sql());
        }
        TOTAL_STATEMENTS.fetch_add(1, Ordering::Relaxed);
        TOTAL_NANOS.fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
        let tally = if IN_WRITE.with(Cell::get) {
            &THREAD_WRITES
        } else {
            &THREAD_READS
        };
        tally.with(|n| n.set(n.get() + 1));
    }
}
