//! Configuration of `depesha serve` (and the tunables of `depesha dev`): a TOML file,
//! then `DEPESHA_*` environment variables over it, then command-line flags over both.
//! Read with figment, which layers these sources and names the one a bad value came
//! from in its error.

use std::path::PathBuf;
use std::time::Duration;

use depesha_core::backoff::Backoff;
use depesha_core::destination_policy::DestinationPolicy;
use depesha_core::duration::parse_duration;
use depesha_core::publish::PublishLimits;
use depesha_engine::EngineConfig;
use depesha_server::{ConnectionLimits, ServerConfig, UserConfig};
use depesha_store::embedded::StoreOptions;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::open_files;

/// Every setting, with its default. Durations use the QStash grammar (`30s`, `10m`,
/// `7d`, `1d12h`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on.
    pub listen: String,
    /// Where the store lives.
    pub data_dir: PathBuf,
    /// A single token, for a one-user server (the user is named `default`).
    pub token: Option<String>,
    /// Users and their tokens.
    pub users: Vec<UserSetting>,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest `Upstash-Retries` accepted.
    pub max_retries: u32,
    /// Retries of a message that does not say.
    pub default_retries: u32,
    /// Largest `Upstash-Delay`.
    pub max_delay: String,
    /// Largest `Upstash-Timeout`, and the timeout of messages that set none.
    pub max_timeout: String,
    /// How long logs are kept.
    pub log_retention: String,
    /// How long DLQ entries are kept.
    pub dlq_retention: String,
    /// How long a delivered message can still be read back.
    pub delivered_retention: String,
    /// How long a deduplication id suppresses repeats.
    pub dedup_window: String,
    /// Requests to destinations in flight at once.
    pub max_in_flight: usize,
    /// Requests in flight at once to one destination (scheme, host and port).
    pub max_in_flight_per_destination: usize,
    /// Requests in flight at once for one user.
    pub max_in_flight_per_user: usize,
    /// How long opening a connection to a destination may take.
    pub connect_timeout: String,
    /// Default backoff: wait e^(base·n) units before retry n.
    pub backoff_base: f64,
    /// The unit of that formula in milliseconds (1000 = seconds, as QStash).
    pub backoff_unit_ms: u64,
    /// Memory for the store's page cache, in MiB.
    pub store_cache_mb: usize,
    /// For a server with few writes: the first write after this long since the
    /// store's last checkpoint makes a new one (under load one follows every 1 MiB of
    /// journal anyway).
    pub checkpoint_interval: String,
    /// A client's whole request head must arrive within this long.
    pub header_timeout: String,
    /// A request's whole body must arrive within this long after its head (else 408).
    pub body_timeout: String,
    /// A kept-alive client connection with no request under way is closed after this.
    pub idle_timeout: String,
    /// Client connections served at once; unset: what the open-file limit leaves
    /// after deliveries (see `open_files::connection_budget`).
    pub max_connections: Option<usize>,
    /// Largest request head (request line and headers), in bytes.
    pub max_header_bytes: usize,
    /// Hosts and networks deliveries may reach although they are not public
    /// (`127.0.0.1/32`, `internal.example`, `10.1.0.0/16`). A TOML list, or one
    /// comma-separated string (how `DEPESHA_ALLOW_DESTINATIONS` gives it).
    #[serde(deserialize_with = "list_or_commas")]
    pub allow_destinations: Vec<String>,
    /// A PostgreSQL database (`postgres://…`). Read only by `depesha migrate` so far;
    /// `serve` refuses to start with it set until it can run on it (issue 12).
    pub database_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSetting {
    pub name: String,
    pub token: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./.depesha"),
            token: None,
            users: Vec::new(),
            max_body_bytes: 10 * 1024 * 1024,
            max_retries: 20,
            default_retries: 3,
            max_delay: "365d".into(),
            max_timeout: "2h".into(),
            log_retention: "7d".into(),
            dlq_retention: "7d".into(),
            delivered_retention: "1h".into(),
            dedup_window: "10m".into(),
            max_in_flight: 1024,
            max_in_flight_per_destination: 256,
            max_in_flight_per_user: 512,
            connect_timeout: "10s".into(),
            backoff_base: 2.5,
            backoff_unit_ms: 1000,
            store_cache_mb: 64,
            checkpoint_interval: "10s".into(),
            header_timeout: "10s".into(),
            body_timeout: "60s".into(),
            idle_timeout: "60s".into(),
            max_connections: None,
            max_header_bytes: 64 * 1024,
            allow_destinations: Vec::new(),
            database_url: None,
        }
    }
}

/// A bad setting, named.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid configuration: {0}")]
    Figment(#[from] Box<figment::Error>),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The settings that `DEPESHA_<NAME>` variables may set (`users` needs the file).
const ENV_SETTINGS: &[&str] = &[
    "listen",
    "data_dir",
    "token",
    "max_body_bytes",
    "max_retries",
    "default_retries",
    "max_delay",
    "max_timeout",
    "log_retention",
    "dlq_retention",
    "delivered_retention",
    "dedup_window",
    "max_in_flight",
    "max_in_flight_per_destination",
    "max_in_flight_per_user",
    "connect_timeout",
    "backoff_base",
    "backoff_unit_ms",
    "store_cache_mb",
    "checkpoint_interval",
    "header_timeout",
    "body_timeout",
    "idle_timeout",
    "max_connections",
    "max_header_bytes",
    "allow_destinations",
    "database_url",
];

impl Settings {
    /// Defaults, then the TOML file (if given), then `DEPESHA_*` variables.
    pub fn load(file: Option<&std::path::Path>) -> Result<Settings, SettingsError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(SettingsError::Invalid(format!(
                    "config file {} does not exist",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }
        // Only the settings' own names: other DEPESHA_* variables (DEPESHA_LOG, test
        // harness variables) belong to someone else and must not be refused here.
        figment = figment.merge(Env::prefixed("DEPESHA_").only(ENV_SETTINGS));
        figment
            .extract()
            .map_err(|e| SettingsError::Figment(Box::new(e)))
    }

    /// The users: `[[users]]` entries plus the `token` shortcut.
    pub fn user_configs(&self) -> Vec<UserConfig> {
        let mut users: Vec<UserConfig> = self
            .users
            .iter()
            .map(|u| UserConfig {
                id: u.name.clone(),
                token: u.token.clone(),
                keys: None,
            })
            .collect();
        if let Some(token) = &self.token {
            users.push(UserConfig {
                id: "default".into(),
                token: token.clone(),
                keys: None,
            });
        }
        users
    }

    /// The server configuration these settings describe, for `users`.
    pub fn server_config(&self, users: Vec<UserConfig>) -> Result<ServerConfig, SettingsError> {
        for u in &users {
            if u.token.trim().is_empty() || u.id.trim().is_empty() {
                return Err(SettingsError::Invalid(
                    "every user needs a non-empty name and token".into(),
                ));
            }
        }
        let duration = |name: &str, value: &str| -> Result<Duration, SettingsError> {
            parse_duration(name, value).map_err(|e| SettingsError::Invalid(e.0))
        };
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let max_timeout = duration("max_timeout", &self.max_timeout)?;
        if self.backoff_unit_ms == 0 || !self.backoff_base.is_finite() || self.backoff_base < 0.0 {
            return Err(SettingsError::Invalid(
                "backoff_unit_ms must be > 0 and backoff_base >= 0".into(),
            ));
        }
        let mut config = ServerConfig::new(users);
        config.max_body_bytes = self.max_body_bytes;
        config.limits = PublishLimits {
            max_retries: self.max_retries,
            default_retries: self.default_retries.min(self.max_retries),
            max_delay_ms: ms(duration("max_delay", &self.max_delay)?),
            max_timeout_ms: ms(max_timeout),
            ..PublishLimits::default()
        };
        config.dedup_window_ms = ms(duration("dedup_window", &self.dedup_window)?);
        // Checked here too, so that a bad store setting is refused with the others.
        self.store_options()?;
        let connect_timeout = positive_duration("connect_timeout", &self.connect_timeout)?;
        config.connections = self.connection_limits()?;
        config.engine = EngineConfig {
            max_in_flight: self.max_in_flight.max(1),
            max_in_flight_per_destination: self.max_in_flight_per_destination.max(1),
            max_in_flight_per_user: self.max_in_flight_per_user.max(1),
            connect_timeout,
            backoff: Backoff {
                base: self.backoff_base,
                unit: Duration::from_millis(self.backoff_unit_ms),
            },
            default_timeout: max_timeout,
            delivered_retention: duration("delivered_retention", &self.delivered_retention)?,
            dlq_retention: duration("dlq_retention", &self.dlq_retention)?,
            log_retention: duration("log_retention", &self.log_retention)?,
            ..EngineConfig::default()
        };
        config.set_destination_policy(self.destination_policy()?);
        Ok(config)
    }

    /// The client connection limits, each checked to allow at least one request.
    fn connection_limits(&self) -> Result<ConnectionLimits, SettingsError> {
        if self.max_connections == Some(0) || self.max_header_bytes == 0 {
            return Err(SettingsError::Invalid(
                "max_connections and max_header_bytes must be at least 1".into(),
            ));
        }
        Ok(ConnectionLimits {
            header_timeout: positive_duration("header_timeout", &self.header_timeout)?,
            body_timeout: positive_duration("body_timeout", &self.body_timeout)?,
            idle_timeout: positive_duration("idle_timeout", &self.idle_timeout)?,
            max_connections: self.max_connections.unwrap_or_else(|| {
                open_files::connection_budget(open_files::current_limit(), self.max_in_flight)
            }),
            max_header_bytes: self.max_header_bytes,
        })
    }

    /// The embedded store's options: its page cache and checkpoint interval.
    pub fn store_options(&self) -> Result<StoreOptions, SettingsError> {
        let checkpoint_interval =
            positive_duration("checkpoint_interval", &self.checkpoint_interval)?;
        Ok(StoreOptions {
            cache_bytes: self.store_cache_mb.max(1).saturating_mul(1024 * 1024),
            checkpoint_interval,
            ..StoreOptions::default()
        })
    }

    /// Only public destinations, plus `allow_destinations`. `depesha dev` replaces it
    /// with "everything" (local development delivers to loopback).
    fn destination_policy(&self) -> Result<DestinationPolicy, SettingsError> {
        DestinationPolicy::public_only_allowing(&self.allow_destinations)
            .map_err(|e| SettingsError::Invalid(e.0))
    }
}

/// A duration setting that must be longer than zero, named in its error.
fn positive_duration(name: &str, value: &str) -> Result<Duration, SettingsError> {
    let d = parse_duration(name, value).map_err(|e| SettingsError::Invalid(e.0))?;
    if d.is_zero() {
        return Err(SettingsError::Invalid(format!(
            "{name} must be longer than 0s"
        )));
    }
    Ok(d)
}

/// Reads `allow_destinations` from a TOML list or from one comma-separated string.
fn list_or_commas<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrCommas {
        List(Vec<String>),
        Commas(String),
    }
    Ok(match ListOrCommas::deserialize(d)? {
        ListOrCommas::List(list) => list,
        ListOrCommas::Commas(text) => text.split(',').map(|s| s.trim().to_string()).collect(),
    })
}

#[cfg(test)]
mod connection_settings_tests {
    use super::*;

    fn one_user() -> Vec<UserConfig> {
        vec![UserConfig {
            id: "u".into(),
            token: "t".into(),
            keys: None,
        }]
    }

    #[test]
    fn connection_settings_reach_the_server_config() {
        let settings = Settings {
            header_timeout: "2s".into(),
            body_timeout: "3s".into(),
            idle_timeout: "4s".into(),
            max_connections: Some(77),
            max_header_bytes: 9000,
            ..Settings::default()
        };
        let limits = settings
            .server_config(one_user())
            .expect("valid")
            .connections;
        assert_eq!(limits.header_timeout, Duration::from_secs(2));
        assert_eq!(limits.body_timeout, Duration::from_secs(3));
        assert_eq!(limits.idle_timeout, Duration::from_secs(4));
        assert_eq!(limits.max_connections, 77);
        assert_eq!(limits.max_header_bytes, 9000);
    }

    #[test]
    fn a_zero_connection_timeout_or_limit_is_refused_by_name() {
        for (name, settings) in [
            (
                "header_timeout",
                Settings {
                    header_timeout: "0s".into(),
                    ..Settings::default()
                },
            ),
            (
                "idle_timeout",
                Settings {
                    idle_timeout: "0s".into(),
                    ..Settings::default()
                },
            ),
            (
                "max_connections",
                Settings {
                    max_connections: Some(0),
                    ..Settings::default()
                },
            ),
        ] {
            let error = settings
                .server_config(one_user())
                .expect_err("refused")
                .to_string();
            assert!(error.contains(name), "{error}");
        }
    }
}
