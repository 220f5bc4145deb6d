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
use depesha_server::{ServerConfig, UserConfig};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

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
    /// Hosts and networks deliveries may reach although they are not public
    /// (`127.0.0.1/32`, `internal.example`, `10.1.0.0/16`). A TOML list, or one
    /// comma-separated string (how `DEPESHA_ALLOW_DESTINATIONS` gives it).
    #[serde(deserialize_with = "list_or_commas")]
    pub allow_destinations: Vec<String>,
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
            backoff_base: 2.5,
            backoff_unit_ms: 1000,
            store_cache_mb: 64,
            checkpoint_interval: "10s".into(),
            allow_destinations: Vec::new(),
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
const ENV_SETTINGS: [&str; 18] = [
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
    "backoff_base",
    "backoff_unit_ms",
    "store_cache_mb",
    "checkpoint_interval",
    "allow_destinations",
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
        figment = figment.merge(Env::prefixed("DEPESHA_").only(&ENV_SETTINGS));
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
        let mut config = ServerConfig::new(self.data_dir.clone(), users);
        config.max_body_bytes = self.max_body_bytes;
        config.limits = PublishLimits {
            max_retries: self.max_retries,
            default_retries: self.default_retries.min(self.max_retries),
            max_delay_ms: ms(duration("max_delay", &self.max_delay)?),
            max_timeout_ms: ms(max_timeout),
            ..PublishLimits::default()
        };
        config.dedup_window_ms = ms(duration("dedup_window", &self.dedup_window)?);
        config.store_cache_bytes = self.store_cache_mb.max(1).saturating_mul(1024 * 1024);
        config.store_checkpoint_interval =
            duration("checkpoint_interval", &self.checkpoint_interval)?;
        if config.store_checkpoint_interval.is_zero() {
            return Err(SettingsError::Invalid(
                "checkpoint_interval must be longer than 0s".into(),
            ));
        }
        config.engine = EngineConfig {
            max_in_flight: self.max_in_flight.max(1),
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

    /// Only public destinations, plus `allow_destinations`. `depesha dev` replaces it
    /// with "everything" (local development delivers to loopback).
    fn destination_policy(&self) -> Result<DestinationPolicy, SettingsError> {
        DestinationPolicy::public_only_allowing(&self.allow_destinations)
            .map_err(|e| SettingsError::Invalid(e.0))
    }
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
