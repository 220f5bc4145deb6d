//! When to try a durable redb commit again after one failed for want of space.
//!
//! A durable commit (a checkpoint, a prune, a commit the journal could not take) that
//! fails on a full disk leaves redb refusing all work until the database is reopened,
//! and a reopen costs a journal replay. Trying again on every write would make each
//! failing write pay that, and slow the reads waiting behind it. So after a failure the
//! store stops trying durable commits — writes then fail at once when the journal has
//! no room, and reads go on undisturbed — until the disk has clearly more free space
//! than it had when the commit failed (someone freed space), or, in case the free space
//! is misreported, [`RETRY_ANYWAY_AFTER`] has passed. A success opens the gate again.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The least free space beyond what the disk had at the last failure that counts as
/// "space came back", whatever the commit: a few pages more would only fail again.
const MORE_SPACE: u64 = 256 * 1024;
/// At most one failed durable commit (and so one reopen) per this long, whatever the
/// free space reported.
const RETRY_ANYWAY_AFTER: Duration = Duration::from_secs(30);

/// Whether durable commits may be tried (see the module docs).
pub(super) struct DurableGate {
    dir: PathBuf,
    blocked: Mutex<Option<Blocked>>,
}

#[derive(Debug, Clone, Copy)]
struct Blocked {
    since: Instant,
    /// Free bytes on the data directory's file system right after the failure, when
    /// known.
    free_bytes: Option<u64>,
}

impl DurableGate {
    pub(super) fn new(dir: &Path) -> Self {
        DurableGate {
            dir: dir.to_path_buf(),
            blocked: Mutex::new(None),
        }
    }

    /// Whether a durable commit that writes about `bytes` may be tried now (a
    /// checkpoint writes about as much as the journal holds).
    pub(super) fn allows(&self, bytes: u64) -> bool {
        let Some(blocked) = self.state() else {
            return true;
        };
        if blocked.since.elapsed() >= RETRY_ANYWAY_AFTER {
            return true;
        }
        space_came_back(blocked.free_bytes, free_bytes(&self.dir), bytes)
    }

    /// A durable commit failed: stop trying until space
    /// comes back.
    pub(super) fn failed(&self) {
        let blocked = Blocked {
            since: Instant::now(),
            free_bytes: free_bytes(&self.dir),
        };
        if let Ok(mut slot) = self.blocked.lock() {
            *slot = Some(blocked);
        }
    }

    /// A durable commit succeeded: space is there.
    pub(super) fn succeeded(&self) {
        if let Ok(mut slot) = self.blocked.lock() {
            *slot = None;
        }
    }

    fn state(&self) -> Option<Blocked> {
        // A poisoned lock only means a panic elsewhere; the state itself is a plain value.
        match self.blocked.lock() {
            Ok(slot) => *slot,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }
}

/// Whether the file system has room for `bytes` more `now` than `then` (the failure),
/// and at least [`MORE_SPACE`] more. Unknown either way: no (the time limit still
/// applies).
fn space_came_back(then: Option<u64>, now: Option<u64>, bytes: u64) -> bool {
    match (then, now) {
        (Some(then), Some(now)) => now >= then.saturating_add(bytes.max(MORE_SPACE)),
        _ => false,
    }
}

/// Bytes an unprivileged writer may still use on `dir`'s file system.
fn free_bytes(dir: &Path) -> Option<u64> {
    let stats = rustix::fs::statvfs(dir).ok()?;
    Some(stats.f_bavail.saturating_mul(stats.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_comes_back_when_clearly_more_is_free_than_at_the_failure() {
        assert!(!space_came_back(Some(1000), Some(1000), 0));
        assert!(!space_came_back(Some(1000), Some(1000 + MORE_SPACE - 1), 0));
        assert!(space_came_back(Some(1000), Some(1000 + MORE_SPACE), 0));
        let journal = 4 * MORE_SPACE;
        assert!(!space_came_back(
            Some(1000),
            Some(1000 + MORE_SPACE),
            journal
        ));
        assert!(space_came_back(Some(1000), Some(1000 + journal), journal));
        assert!(!space_came_back(None, Some(u64::MAX), 0));
        assert!(!space_came_back(Some(0), None, 0));
    }

    #[test]
    fn a_failure_shuts_the_gate_and_a_success_opens_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let gate = DurableGate::new(dir.path());
        assert!(gate.allows(0));
        gate.failed();
        assert!(gate.state().is_some());
        gate.succeeded();
        assert!(gate.state().is_none());
        assert!(gate.allows(u64::MAX));
    }
}
