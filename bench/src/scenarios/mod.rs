//! The eight scenarios of the benchmark issue, and the smoke run.
//!
//! Every scenario starts its own `depesha dev` on a fresh data dir (scenario 7 keeps one
//! for all its runs), measures the loopback ceiling immediately before loading it, and
//! checks that every accepted message was delivered.
//!
//! One file per scenario; the pieces they share are the loopback ceiling
//! (`ceiling.rs`), publishing a load and waiting for its deliveries (`phase.rs`), and
//! judging and reporting what a phase achieved (`outcome.rs`).

mod aging;
mod batch;
mod ceiling;
mod delayed;
mod fixed_rate;
mod outcome;
mod phase;
mod restart;
mod retries;
mod slow;
mod sustained;

pub use aging::aging;
pub use batch::batch;
pub use delayed::delayed;
pub use fixed_rate::fixed_rate;
pub(crate) use outcome::evaluate;
pub(crate) use phase::{await_delivery, publish, Load};
pub use restart::restart;
pub use retries::retries;
pub use slow::slow;
pub use sustained::sustained;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::load::Client;
use crate::receiver::Receiver;
use crate::report::Report;
use crate::server::Depesha;
use crate::stats::{fmt_secs, now_ns};

use outcome::stop_note;

/// Tunables from the command line, resolved for one scenario.
#[derive(Debug, Clone)]
pub struct Opts {
    pub depesha: PathBuf,
    pub connections: usize,
    pub ceiling_secs: f64,
    pub count: usize,
    pub rate_fixed: f64,
    pub rate_slow: f64,
    pub duration: f64,
    pub delayed_count: usize,
    pub spread: u64,
    pub lead: Option<u64>,
    pub runs: usize,
    pub batch_size: usize,
    pub slow_ms: u64,
    pub open_loop_cap: usize,
    /// Messages published after the restart of scenario 8, to prove deliveries resumed.
    pub canary: usize,
    /// How long deliveries may make no progress before the run gives up on them.
    pub stall: Duration,
    pub keep: bool,
}

pub struct Ctx {
    pub opts: Opts,
    pub client: Client,
    pub receiver: Arc<Receiver>,
    pub workdir: PathBuf,
}

impl Ctx {
    /// A fresh data dir and log file for `name`, and a server on it.
    pub(crate) async fn start_server(&self, name: &str) -> Result<(Depesha, Duration), String> {
        let dir = self.workdir.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let (server, ready) = Depesha::start(
            &self.opts.depesha,
            &dir.join("data"),
            &dir.join("depesha.log"),
            &self.client,
        )
        .await?;
        progress(
            name,
            &format!(
                "depesha pid {:?} ready in {}",
                server.pid(),
                fmt_secs(ready)
            ),
        );
        Ok((server, ready))
    }

    /// Stops a scenario's server (noting in `r` if it had to be killed) and removes its
    /// data dir unless `--keep`.
    pub(crate) async fn finish(
        &self,
        name: &str,
        server: &mut Depesha,
        mut r: Report,
    ) -> Result<Report, String> {
        let stopped = server.stop().await?;
        stop_note(&mut r, "stop", stopped);
        self.cleanup(name);
        Ok(r)
    }

    /// Removes a scenario's data dir unless `--keep`.
    pub(crate) fn cleanup(&self, name: &str) {
        if !self.opts.keep {
            let _ = std::fs::remove_dir_all(self.workdir.join(name));
        }
    }
}

pub fn progress(id: &str, what: &str) {
    eprintln!("[{:>7.1}s {id}] {what}", now_ns() as f64 / 1e9);
}
