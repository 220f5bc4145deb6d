//! The embedded store's tuning.

use std::time::Duration;

/// Tuning of the embedded store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Memory for redb's page cache. redb's own default is 1 GiB, which a small
    /// server would mostly spend on pages of messages delivered long ago; the hot part
    /// of the store (the due index, recent messages, the newest logs) is far smaller.
    /// Pages written since the last checkpoint are held in the same budget.
    pub cache_bytes: usize,
    /// A checkpoint (a durable redb commit, after which the journal starts again) is
    /// made after the first commit once this much time has passed since the last
    /// one...
    pub checkpoint_interval: Duration,
    /// ...or once the journal holds this many bytes. Together they bound the work of
    /// replaying the journal after a crash; the size also bounds how long a checkpoint
    /// holds up the commits behind it.
    pub checkpoint_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            cache_bytes: 64 * 1024 * 1024,
            checkpoint_interval: Duration::from_secs(10),
            checkpoint_bytes: 1024 * 1024,
        }
    }
}
