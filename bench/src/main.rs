//! `depesha-bench`: Depesha's benchmark harness.
//!
//! It starts `depesha dev` itself on loopback with a fresh data dir, loads it with an
//! in-process load generator whose messages go to an in-process counting receiver,
//! and prints a Markdown table per scenario. Every run first measures the loopback HTTP
//! ceiling (the same generator posting straight to the receiver) and reports Depesha's
//! throughput as a ratio to it. A run fails (exit 1) when an accepted message is not
//! delivered, or when scenario 8 sends an already-delivered message again.
//!
//! ```text
//! cargo build --release -p depesha -p depesha-bench
//! target/release/depesha-bench all            # every scenario at the issue's scale
//! target/release/depesha-bench sustained      # or 1..8, smoke
//! target/release/depesha-bench kill-loop --cycles 20 --messages 10000
//! ```
//!
//! `kill-loop` is not a benchmark: it kills the server with SIGKILL under load, again
//! and again, and fails when an acknowledged message is never delivered (see
//! `kill_loop.rs`).

mod attack;
mod kill_loop;
mod load;
mod receiver;
mod report;
mod scenarios;
mod server;
mod stats;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::receiver::Receiver;
use crate::report::Report;
use crate::scenarios::{Ctx, Opts};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// 1: sustained immediate publish → delivery, max throughput.
    #[value(alias = "1")]
    Sustained,
    /// 2: fixed offered load (open loop), latencies.
    #[value(alias = "2")]
    FixedRate,
    /// 3: many delayed messages pending: RSS, disk, restart, lateness.
    #[value(alias = "3")]
    Delayed,
    /// 4: batch publish (`/v2/batch`).
    #[value(alias = "4")]
    Batch,
    /// 5: 10 % of deliveries fail once.
    #[value(alias = "5")]
    Retries,
    /// 6: slow destination at a fixed rate: concurrency and memory.
    #[value(alias = "6")]
    Slow,
    /// 7: back-to-back runs of scenario 1 on one data dir.
    #[value(alias = "7")]
    Aging,
    /// 8: restart after delivered messages: ready time, nothing sent again.
    #[value(alias = "8")]
    Restart,
    /// 9: healthy traffic at a fixed rate while under attack (a hanging destination,
    /// many idle connections, half-open connections): delivery lag per phase.
    #[value(alias = "9")]
    Attack,
    /// Scenarios 1 to 8 in order.
    All,
    /// 1, 4, 5 and 8 at a tiny scale (seconds): asserts nothing is lost, no timing.
    Smoke,
    /// `--cycles` × (publish `--messages` under load, `kill -9`, restart): nothing
    /// acknowledged may be lost.
    KillLoop,
}

#[derive(Parser, Debug)]
#[command(
    name = "depesha-bench",
    about = "Benchmarks a depesha binary on loopback against the loopback HTTP ceiling",
    after_help = "Build first: cargo build --release -p depesha -p depesha-bench"
)]
struct Cli {
    /// The scenario to run.
    scenario: Scenario,
    /// The depesha binary to benchmark (build it with `cargo build --release -p depesha`).
    #[arg(long, default_value = "target/release/depesha")]
    depesha: PathBuf,
    /// Connections of the closed-loop load generator (and of the ceiling).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds of each loopback ceiling measurement.
    #[arg(long, default_value_t = 3.0)]
    ceiling_secs: f64,
    /// Messages per run of scenarios 1, 4, 5, 7 and 8 [default: 100000; smoke: 400].
    #[arg(long)]
    count: Option<usize>,
    /// Offered rate (msg/s) of scenario 2 [default: 5000] and scenario 6 [default: 2000].
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds of offered load of scenarios 2 and 6.
    #[arg(long, default_value_t = 30.0)]
    duration: f64,
    /// Delayed messages of scenario 3.
    #[arg(long, default_value_t = 1_000_000)]
    delayed_count: usize,
    /// Seconds over which scenario 3's messages come due.
    #[arg(long, default_value_t = 600)]
    spread: u64,
    /// Seconds from the start of scenario 3 to its first due time (time to publish
    /// them all and restart) [default: 30 + delayed-count / 20000].
    #[arg(long)]
    lead: Option<u64>,
    /// Runs of scenario 7.
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Messages per `/v2/batch` request (scenarios 3 and 4).
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// Milliseconds the receiver sleeps per delivery in scenario 6.
    #[arg(long, default_value_t = 50)]
    slow_ms: u64,
    /// Most open-loop requests in flight at once.
    #[arg(long, default_value_t = 4096)]
    open_loop_cap: usize,
    /// Seconds without any delivery after which a run stops waiting (and reports what
    /// was lost).
    #[arg(long, default_value_t = 30)]
    stall_secs: u64,
    /// Scenario 9: messages published to the destination that never answers.
    #[arg(long, default_value_t = 20_000)]
    hanging_messages: usize,
    /// Scenario 9: idle keep-alive connections.
    #[arg(long, default_value_t = 2_000)]
    attack_connections: usize,
    /// Scenario 9: half-open connections.
    #[arg(long, default_value_t = 5_000)]
    half_open: usize,
    /// Kill loop: cycles of publish, `kill -9`, restart.
    #[arg(long, default_value_t = 20)]
    cycles: usize,
    /// Kill loop: messages published per cycle.
    #[arg(long, default_value_t = 10_000)]
    messages: usize,
    /// Kill loop: the seed of its random kill moments [default: from the clock].
    #[arg(long)]
    seed: Option<u64>,
    /// Where the scenarios' data dirs go [default: the system temp dir].
    #[arg(long)]
    data_root: Option<PathBuf>,
    /// Keep the data dirs and depesha logs.
    #[arg(long)]
    keep: bool,
    /// Also write the results as JSON to this file (`-` = stdout, instead of Markdown).
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(cli));
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

fn opts_for(cli: &Cli, smoke: bool) -> Opts {
    Opts {
        depesha: cli.depesha.clone(),
        connections: cli.connections,
        ceiling_secs: if smoke {
            cli.ceiling_secs.min(0.3)
        } else {
            cli.ceiling_secs
        },
        count: cli.count.unwrap_or(if smoke { 400 } else { 100_000 }),
        rate_fixed: cli.rate.unwrap_or(5000.0),
        rate_slow: cli.rate.unwrap_or(2000.0),
        duration: cli.duration,
        delayed_count: cli.delayed_count,
        spread: cli.spread,
        lead: cli.lead,
        runs: cli.runs,
        batch_size: cli.batch_size,
        slow_ms: cli.slow_ms,
        open_loop_cap: cli.open_loop_cap,
        canary: if smoke { 50 } else { 1000 },
        stall: Duration::from_secs(cli.stall_secs),
        keep: cli.keep,
    }
}

async fn run(cli: Cli) -> ExitCode {
    let smoke = cli.scenario == Scenario::Smoke;
    let opts = opts_for(&cli, smoke);
    if !opts.depesha.exists() {
        eprintln!(
            "error: no depesha binary at {} — build it with `cargo build --release -p depesha` (or pass --depesha <path>)",
            opts.depesha.display()
        );
        return ExitCode::FAILURE;
    }
    let root = cli.data_root.clone().unwrap_or_else(std::env::temp_dir);
    let workdir = match tempfile::Builder::new()
        .prefix("depesha-bench-")
        .tempdir_in(&root)
    {
        Ok(d) => d,
        Err(e) => {
            eprintln!(
                "error: could not create a work dir under {}: {e}",
                root.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let receiver = match Receiver::start().await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ctx = Ctx {
        opts,
        client: load::client(),
        receiver,
        workdir: workdir.path().to_path_buf(),
    };
    let scenarios: Vec<Scenario> = match cli.scenario {
        Scenario::All => vec![
            Scenario::Sustained,
            Scenario::FixedRate,
            Scenario::Delayed,
            Scenario::Batch,
            Scenario::Retries,
            Scenario::Slow,
            Scenario::Aging,
            Scenario::Restart,
        ],
        Scenario::Smoke => vec![
            Scenario::Sustained,
            Scenario::Batch,
            Scenario::Retries,
            Scenario::Restart,
        ],
        s => vec![s],
    };
    let markdown = cli.json.as_deref() != Some(std::path::Path::new("-"));
    let command: Vec<String> = std::env::args().collect();
    if markdown {
        println!("## depesha-bench {:?}\n", cli.scenario);
        println!(
            "`{}` — depesha `{}`, {} CPUs, data under `{}`\n",
            command.join(" "),
            ctx.opts.depesha.display(),
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0),
            root.display()
        );
    }
    let mut reports: Vec<Report> = Vec::new();
    let mut failures = Vec::new();
    for s in scenarios {
        let result = match s {
            Scenario::Sustained => scenarios::sustained(&ctx).await,
            Scenario::FixedRate => scenarios::fixed_rate(&ctx).await,
            Scenario::Delayed => scenarios::delayed(&ctx).await,
            Scenario::Batch => scenarios::batch(&ctx).await,
            Scenario::Retries => scenarios::retries(&ctx).await,
            Scenario::Slow => scenarios::slow(&ctx).await,
            Scenario::Aging => scenarios::aging(&ctx).await,
            Scenario::Restart => scenarios::restart(&ctx).await,
            Scenario::Attack => {
                let sizes = attack::Attack {
                    hanging_messages: cli.hanging_messages,
                    connections: cli.attack_connections,
                    half_open: cli.half_open,
                };
                attack::attack(&ctx, sizes).await
            }
            Scenario::KillLoop => {
                let opts = kill_loop::KillLoopOpts {
                    cycles: cli.cycles,
                    messages: cli.messages,
                    seed: cli.seed,
                };
                kill_loop::kill_loop(&ctx, &opts).await
            }
            Scenario::All | Scenario::Smoke => unreachable!(),
        };
        match result {
            Ok(report) => {
                if markdown {
                    println!("{}", report.markdown());
                    let _ = std::io::stdout().flush();
                }
                failures.extend(
                    report
                        .failures
                        .iter()
                        .map(|f| format!("{}: {f}", report.id)),
                );
                reports.push(report);
            }
            Err(e) => {
                let what = format!("{s:?}: the run could not complete: {e}");
                eprintln!("[{s:?}] ERROR: {e}");
                if markdown {
                    println!("### {s:?}\n\n**ERROR** — {}\n", e.replace('\n', " / "));
                }
                failures.push(what);
            }
        }
    }
    if let Some(path) = &cli.json {
        let doc = serde_json::json!({
            "command": command,
            "depesha": ctx.opts.depesha.display().to_string(),
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "scenarios": reports.iter().map(|r| r.to_json()).collect::<Vec<_>>(),
            "failures": failures,
            "passed": failures.is_empty(),
        });
        let text = serde_json::to_string_pretty(&doc).expect("json");
        if path.as_os_str() == "-" {
            println!("{text}");
        } else if let Err(e) = std::fs::write(path, text) {
            eprintln!("error: could not write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if cli.keep {
        let kept = workdir.keep();
        eprintln!("data dirs and logs kept in {}", kept.display());
    }
    if failures.is_empty() {
        eprintln!(
            "depesha-bench: all checks passed ({} scenario(s))",
            reports.len()
        );
        ExitCode::SUCCESS
    } else {
        eprintln!("depesha-bench: {} check(s) failed:", failures.len());
        for f in &failures {
            eprintln!("  - {f}");
        }
        ExitCode::FAILURE
    }
}
