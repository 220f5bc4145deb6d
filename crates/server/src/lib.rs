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
use depesha_store::Store;
use tokio::net::TcpListener;

pub use config::{ConnectionLimits, ServerConfig, UserConfig};
pub use state::AppState;

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("no users configured: set at least one token")]
    NoUsers,
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
    /// Starts the engine over `store` (opened by the caller, which picks the backend)
    /// and `clock` (tests pass a manual one), and makes sure every user has keys.
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

/// Starts the engine over `store` on the system clock and serves on `listener`.
pub async fn run(
    config: ServerConfig,
    store: Arc<dyn Store>,
    listener: TcpListener,
) -> Result<(), ServerError> {
    App::start(config, store, Arc::new(SystemClock))
        .await?
        .serve(listener)
        .await
}
