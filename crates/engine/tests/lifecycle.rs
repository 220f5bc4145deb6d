//! One lifecycle (issue 11): an engine that is shut down, or whose last handle is
//! dropped, ends all its tasks and lets go of its store, so the data dir opens again
//! — with everything that was committed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use depesha_core::publish::PublishLimits;
use depesha_engine::{Engine, EngineConfig, EngineError, ManualClock, PublishPolicy};
use depesha_store::embedded::EmbeddedStore;
use depesha_store::KeyStore;

fn start(dir: &std::path::Path) -> Engine {
    let store = Arc::new(EmbeddedStore::open(dir).expect("open the store"));
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let engine = Engine::start(store, clock, EngineConfig::default());
    engine.start_scheduler(PublishPolicy {
        limits: PublishLimits::default(),
        dedup_window_ms: 600_000,
    });
    engine
}

#[tokio::test]
async fn a_shut_down_engine_lets_its_data_dir_open_again_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = start(dir.path());
    engine.ensure_keys("u", None).await.expect("commit");

    let cut_short = engine.shutdown(Duration::from_secs(1)).await.expect("stop");
    assert_eq!(cut_short, 0);
    assert!(matches!(
        engine.delete_group("v", "group").await,
        Err(EngineError::ShuttingDown)
    ));
    drop(engine);

    let reopened = EmbeddedStore::open(dir.path()).expect("the data dir opens again at once");
    assert!(
        reopened.keys("u").await.expect("read").is_some(),
        "the commit is kept"
    );
}

#[tokio::test]
async fn dropping_the_last_handle_stops_the_engine_and_releases_its_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = start(dir.path());
    let clone = engine.clone();
    engine.ensure_keys("u", None).await.expect("commit");
    drop(engine);
    // Another handle keeps it running.
    clone.ensure_keys("w", None).await.expect("still running");
    drop(clone);

    // The tasks end on their next turn, not within the drop: wait for the store to be
    // let go, for a bounded time.
    let deadline = Instant::now() + Duration::from_secs(10);
    let reopened = loop {
        match EmbeddedStore::open(dir.path()) {
            Ok(store) => break store,
            Err(e) if Instant::now() > deadline => {
                panic!("the store is still held after the last handle was dropped: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    assert!(reopened.keys("u").await.expect("read").is_some());
    assert!(reopened.keys("w").await.expect("read").is_some());
}
