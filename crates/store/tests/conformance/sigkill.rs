//! Crashes: a store killed with SIGKILL mid-stream loses nothing a commit acknowledged.

use depesha_core::filter::Order;
use depesha_core::log::LogState;
use depesha_core::message::MessageState;
use depesha_store::{MessageStore, Store};

use crate::common::{all_logs, append, A};
use crate::support::{claimed_publish, commit_all, log, Backend};

/// Environment variable naming the store location for the SIGKILL child.
const CHILD_ENV: &str = "DEPESHA_CONFORMANCE_SIGKILL_CHILD";

const COMMITTED: &str = "committed ";

/// The child side: commits batches forever, printing each id once its commit returned.
pub async fn sigkill_child<B: Backend>() {
    let Ok(location) = std::env::var(CHILD_ENV) else {
        return; // run as a normal test: nothing to do
    };
    let store = B::at(&location).open();
    use std::io::Write as _;
    let stdout = std::io::stdout();
    for batch in 0u64.. {
        let ids: Vec<String> = (0..8).map(|i| format!("msg_{batch}_{i}")).collect();
        let units = ids.iter().map(|id| claimed_publish(A, id, batch)).collect();
        store.commit(units).await.expect("child commit");
        let mut out = stdout.lock();
        for id in &ids {
            let _ = writeln!(out, "{COMMITTED}{id}");
        }
        let _ = out.flush();
    }
}

/// The parent side: runs the child, kills it with SIGKILL mid-stream, reopens, and
/// checks that every id the child reported as committed is there.
pub async fn sigkill_mid_stream_loses_nothing_committed<B: Backend>(backend: &B, child_test: &str) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([child_test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, backend.location())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut committed = Vec::new();
    let started = std::time::Instant::now();
    while committed.len() < 200 && started.elapsed() < std::time::Duration::from_secs(10) {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(id) = line.strip_prefix(COMMITTED) {
                    committed.push(id.to_string());
                }
            }
            _ => break,
        }
    }
    child.kill().expect("SIGKILL the child"); // Child::kill is SIGKILL on Unix
    let _ = child.wait();
    // Whatever the child printed before dying was committed too.
    for line in lines.map_while(Result::ok) {
        if let Some(id) = line.strip_prefix(COMMITTED) {
            committed.push(id.to_string());
        }
    }
    assert!(
        committed.len() >= 8,
        "the child committed nothing: {committed:?}"
    );

    let store = backend.open();
    eprintln!(
        "the child acknowledged {} messages before SIGKILL",
        committed.len()
    );
    for id in &committed {
        let m = store.message(A, id).await.expect("read after crash");
        assert!(m.is_some(), "{id} was acknowledged but is lost");
    }
    // The indexes agree with the data: every due key points at a pending message, and
    // the log holds at least one line per acknowledged message.
    let due = store.due(None, u64::MAX, 100_000).await.expect("due");
    assert!(due.len() >= committed.len());
    assert_eq!(
        store.pending_count().await.expect("count"),
        due.len() as u64
    );
    for key in &due {
        let m = store
            .message(key.message.user.as_str(), key.message.id.as_str())
            .await
            .expect("read")
            .expect("due key without message");
        assert_eq!(m.state, MessageState::Pending);
    }
    assert!(all_logs(&store, A, Order::EarliestFirst).await.len() >= committed.len());
    // And the store still takes writes, with seq moving forward.
    let before = all_logs(&store, A, Order::LatestFirst).await[0].seq;
    commit_all(
        &store,
        vec![append(vec![log(A, "after", LogState::Created, 1)])],
    )
    .await;
    assert!(all_logs(&store, A, Order::LatestFirst).await[0].seq > before);
}
