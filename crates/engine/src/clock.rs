//! Time, as a trait, so that tests control it. The engine never calls the system clock
//! directly: it asks a [`Clock`] for "now" and for a future that resolves at a given
//! time. [`SystemClock`] is the real one; [`ManualClock`] only moves when a test says
//! so, which lets a test fire a retry scheduled "in 30 minutes" without waiting.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use depesha_core::UnixMillis;
use tokio::sync::watch;

pub type SleepFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now(&self) -> UnixMillis;

    /// Resolves once `now() >= deadline`.
    fn sleep_until(&self, deadline: UnixMillis) -> SleepFuture<'_>;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixMillis {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }

    fn sleep_until(&self, deadline: UnixMillis) -> SleepFuture<'_> {
        let wait = deadline.saturating_sub(self.now());
        Box::pin(tokio::time::sleep(Duration::from_millis(wait)))
    }
}

/// A clock that stands still until [`ManualClock::advance`] or [`ManualClock::set`].
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicU64,
    changed: watch::Sender<UnixMillis>,
}

impl ManualClock {
    pub fn new(start: UnixMillis) -> Self {
        let (changed, _) = watch::channel(start);
        ManualClock {
            now: AtomicU64::new(start),
            changed,
        }
    }

    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        let now = self.now.fetch_add(by, Ordering::SeqCst).saturating_add(by);
        self.changed.send_replace(now);
    }

    pub fn set(&self, to: UnixMillis) {
        self.now.store(to, Ordering::SeqCst);
        self.changed.send_replace(to);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixMillis {
        self.now.load(Ordering::SeqCst)
    }

    fn sleep_until(&self, deadline: UnixMillis) -> SleepFuture<'_> {
        let mut changes = self.changed.subscribe();
        Box::pin(async move {
            while self.now() < deadline {
                if changes.changed().await.is_err() {
                    return;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn manual_clock_wakes_sleepers_only_when_advanced_past_the_deadline() {
        let clock = Arc::new(ManualClock::new(1_000));
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep_until(5_000).await })
        };
        clock.advance(Duration::from_millis(3_000));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_millis(1_000));
        tokio::time::timeout(Duration::from_secs(5), sleeper)
            .await
            .expect("sleeper woke")
            .expect("no panic");
        assert_eq!(clock.now(), 5_000);
    }
}
