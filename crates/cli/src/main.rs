//! `depesha`: a self-hosted, durable HTTP message queue and scheduler that speaks the
//! QStash v2 API.
//!
//! - `depesha dev` — a local server with QStash's fixed dev credentials, data kept in
//!   `--data-dir` across restarts.
//! - `depesha serve` — production: config from a TOML file and `DEPESHA_*` variables.
//! - `depesha migrate` — creates or upgrades Depesha's schema in a PostgreSQL database
//!   (serving from PostgreSQL is not there yet: issue 12).

mod backend;
mod dev_users;
mod migrate;
mod open_files;
mod settings;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use depesha_core::destination_policy::DestinationPolicy;
use depesha_engine::SystemClock;
use depesha_server::App;
use tokio::net::TcpListener;

use crate::settings::Settings;

/// mimalloc instead of the system allocator: a delivery allocates many small, short-lived
/// buffers on whichever thread polls it and frees them on another, and glibc's malloc
/// spent about a quarter of the process's CPU on that under load (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "depesha",
    version,
    about = "A self-hosted, durable HTTP message queue that speaks the QStash v2 API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a local server with the fixed credentials of QStash's dev server.
    Dev {
        /// Port to listen on (127.0.0.1 only).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Where to keep data across restarts.
        #[arg(long, default_value = "./.depesha")]
        data_dir: PathBuf,
    },
    /// Run the production server.
    Serve {
        /// TOML configuration file; `DEPESHA_*` variables override it.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Create or upgrade Depesha's schema in a PostgreSQL database, then exit.
    ///
    /// Applies, in order, the migrations this release has and the database lacks,
    /// each in one transaction; safe while other nodes migrate the same database.
    /// A database already migrated by a newer release is refused and left alone.
    Migrate {
        /// The database, as a `postgres://` URL; else the `database_url` setting
        /// (config file or `DEPESHA_DATABASE_URL`).
        #[arg(long)]
        database_url: Option<String>,
        /// The schema Depesha keeps its tables in.
        #[arg(long, default_value = depesha_store_postgres::DEFAULT_SCHEMA)]
        schema: String,
        /// TOML configuration file to read `database_url` from; `DEPESHA_*`
        /// variables override it.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DEPESHA_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let limit = open_files::raise_to_hard_limit();
    tracing::debug!(limit, "open-file limit");
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Dev { port, data_dir } => {
            let mut settings = Settings::load(None)?;
            settings.data_dir = data_dir;
            settings.listen = format!("127.0.0.1:{port}");
            let mut config = settings.server_config(dev_users::dev_users())?;
            // Local development delivers to 127.0.0.1: no destination is refused.
            config.set_destination_policy(DestinationPolicy::allow_all());
            let listener = bind(&settings.listen).await?;
            let store = backend::open(&settings.data_dir, settings.store_options()?)?;
            let app = App::start(config, store, Arc::new(SystemClock)).await?;
            let first = &app.state.config.users[0];
            let keys = app.state.engine.signing_keys(&first.id).await?;
            println!("Depesha dev server — paste these into your app's environment:\n");
            println!("QSTASH_URL=http://{}", settings.listen);
            println!("QSTASH_TOKEN={}", first.token);
            println!("QSTASH_CURRENT_SIGNING_KEY={}", keys.current);
            println!("QSTASH_NEXT_SIGNING_KEY={}", keys.next);
            println!("\nOther test users (token / current key / next key):");
            for user in &app.state.config.users[1..] {
                let keys = app.state.engine.signing_keys(&user.id).await?;
                println!(
                    "  {}: {} / {} / {}",
                    user.id, user.token, keys.current, keys.next
                );
            }
            println!(
                "\nDepesha running at http://{} (data in {})",
                settings.listen,
                settings.data_dir.display()
            );
            serve(app, listener).await?;
        }
        Command::Serve { config } => {
            let settings = Settings::load(config.as_deref())?;
            if settings.database_url.is_some() {
                // Serving from PostgreSQL is not there yet (issue 12): starting on the
                // embedded store instead would keep data where the operator does not
                // expect it.
                return Err("database_url is set, but `depesha serve` cannot run on PostgreSQL yet (only `depesha migrate` reads it); unset it to serve from data_dir".into());
            }
            let users = settings.user_configs();
            if users.is_empty() {
                return Err("no token configured: set DEPESHA_TOKEN, `token = \"...\"` or [[users]] entries in the config file".into());
            }
            let server_config = settings.server_config(users)?;
            let listener = bind(&settings.listen).await?;
            let store = backend::open(&settings.data_dir, settings.store_options()?)?;
            let app = App::start(server_config, store, Arc::new(SystemClock)).await?;
            println!(
                "Depesha running at http://{} (data in {})",
                settings.listen,
                settings.data_dir.display()
            );
            serve(app, listener).await?;
        }
        Command::Migrate {
            database_url,
            schema,
            config,
        } => migrate::run(config.as_deref(), database_url, &schema).await?,
    }
    Ok(())
}

/// Serves until Ctrl-C or SIGTERM, then shuts the engine down: deliveries under way
/// may finish (up to [`DRAIN_GRACE`]) so that they are not sent again after a restart,
/// its tasks end, and the store is closed.
async fn serve(app: App, listener: TcpListener) -> Result<(), Box<dyn std::error::Error>> {
    let engine = app.state.engine.clone();
    app.serve_until(listener, shutdown_signal()).await?;
    match engine.shutdown(DRAIN_GRACE).await {
        Ok(0) => {}
        Ok(left) => eprintln!(
            "stopped with {left} deliveries still running; they will be sent again after the restart"
        ),
        Err(e) => eprintln!(
            "could not close the store cleanly ({e}); nothing is lost, but the next start checks the whole file"
        ),
    }
    Ok(())
}

/// How long a stop waits for deliveries under way.
const DRAIN_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    eprintln!("shutting down: no new requests; everything accepted is already on disk");
}

async fn bind(address: &str) -> Result<TcpListener, String> {
    TcpListener::bind(address)
        .await
        .map_err(|e| format!("could not listen on {address}: {e}"))
}
