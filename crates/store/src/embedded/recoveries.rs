//! How often the store had to recover itself: reopens after a failed write, and redb's
//! full repairs (a walk of the whole file, after an unclean shutdown whose last durable
//! commit did not record the allocator state). Operators see them in the log; tests
//! assert on the counts, which say what happened without timing anything.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Counts since the store was opened (the repair of that first open included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recoveries {
    /// Times the database was closed and opened again after redb refused work (a
    /// failed write or fsync).
    pub reopens: u64,
    /// Times redb repaired the file by reading it whole.
    pub full_repairs: u64,
}

#[derive(Debug, Default)]
pub(super) struct RecoveryCounters {
    reopens: AtomicU64,
    full_repairs: Arc<AtomicU64>,
}

impl RecoveryCounters {
    pub(super) fn reopened(&self) {
        self.reopens.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn snapshot(&self) -> Recoveries {
        Recoveries {
            reopens: self.reopens.load(Ordering::Relaxed),
            full_repairs: self.full_repairs.load(Ordering::Relaxed),
        }
    }

    /// The callback for one open of the file. redb calls it several times during one
    /// repair (once per pass over the file, to report progress); the repair is logged
    /// and counted once.
    pub(super) fn repair_callback(&self) -> impl Fn(&mut redb::RepairSession) + 'static {
        let full_repairs = Arc::clone(&self.full_repairs);
        let reported = AtomicBool::new(false);
        move |_| {
            if !reported.swap(true, Ordering::Relaxed) {
                full_repairs.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "the store was not closed cleanly and its last checkpoint did not record \
                     redb's allocator state; repairing it (this reads the whole file once)"
                );
            }
        }
    }
}
