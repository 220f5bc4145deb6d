//! # depesha-server
//!
//! The HTTP face of Depesha: the QStash v2 routes over the engine. [`run`] serves on a
//! listener the caller bound, so tests start a real server on `127.0.0.1:0`.

pub mod auth;
pub mod config;
mod connections;
pub mod error;
mod publishing;
pub mod query;
mod request;
mod routes;
mod state;
mod views;

use std::sync::Arc;

use depesha_engine::{Clock, Engine, SystemClock};
use depesha_store::embedded::{EmbeddedStore, StoreOptions};
use depesha_store::Store;
use tokio::net::TcpListener;

pub use config::{ConnectionLimits, ServerConfig, UserConfig};
pub use state::AppState;

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("no users configured: set at least one token")]
    NoUsers,
    #[error("could not open the data directory {dir}: {source}")]
    Store {
        dir: String,
        #[source]
        source: depesha_store::StoreError,
    },
    #[error(transparent)]
    Engine(#[from] depesha_engine::EngineError),
    #[error("server I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// A started application: the engine is running and every user has signing keys.
pub struct App {
    pub state: AppState,
}

impl App {
    /// Opens the embedded store in `config.data_dir` and starts the engine on the
    /// system clock.
    pub async fn open(config: ServerConfig) -> Result<App, ServerError> {
        let options = StoreOptions {
            cache_bytes: config.store_cache_bytes,
            checkpoint_interval: config.store_checkpoint_interval,
            ..StoreOptions::default()
        };
        let store = EmbeddedStore::open_with(&config.data_dir, options).map_err(|source| {
            ServerError::Store {
                dir: config.data_dir.display().to_string(),
                source,
            }
        })?;
        App::start(config, Arc::new(store), Arc::new(SystemClock)).await
    }

    /// Starts over a given store and clock (tests pass a manual clock).
    pub async fn start(
        config: ServerConfig,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<App, ServerError> {
        if config.users.is_empty() {
            return Err(ServerError::NoUsers);
        }
        let engine = Engine::start(store, clock, config.engine.clone());
        engine.start_scheduler(depesha_engine::PublishPolicy {
            limits: config.limits.clone(),
            dedup_window_ms: config.dedup_window_ms,
        });
        for user in &config.users {
            engine.ensure_keys(&user.id, user.keys.clone()).await?;
        }
        Ok(App {
            state: AppState {
                engine,
                config: Arc::new(config),
            },
        })
    }

    /// Serves the API on `listener` until the process ends.
    pub async fn serve(self, listener: TcpListener) -> Result<(), ServerError> {
        self.serve_until(listener, std::future::pending()).await
    }

    /// Serves the API on `listener` until `shutdown` resolves, then stops accepting
    /// connections and lets requests in progress finish. Nothing needs flushing:
    /// everything answered 2xx is already on disk.
    pub async fn serve_until(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let limits = self.state.config.connections.clone();
        let max_body_bytes = self.state.config.max_body_bytes;
        let router = routes::router(self.state);
        connections::serve(listener, router, limits, max_body_bytes, shutdown).await;
        Ok(())
    }
}

/// Opens the store, starts the engine and serves on `listener`.
pub async fn run(config: ServerConfig, listener: TcpListener) -> Result<(), ServerError> {
    App::open(config).await?.serve(listener).await
}
