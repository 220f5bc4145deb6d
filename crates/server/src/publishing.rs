//! Accepting messages: the part of publish, batch and DLQ retry that turns classified
//! headers and a destination into store units, and store outcomes into answers.

use depesha_core::ids;
use depesha_core::log::{LogEntry, LogState};
use depesha_core::message::Message;
use depesha_core::publish::{
    build_message, check_url, deduplication_key, NewMessage, PublishHeaders, Target,
};
use depesha_store::{Guard, Rejection, Unit, UnitOutcome, Write};
use serde::Serialize;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Where a publish goes, as named in the path or a batch item (spec §2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Url(String),
    UrlGroup(String),
}

impl Destination {
    /// Reads a destination: an `http(s)://` URL (also accepted percent-encoded once),
    /// or else the name of a URL group.
    pub fn parse(raw: &str) -> ApiResult<Destination> {
        let lower = raw.get(..10).unwrap_or(raw).to_ascii_lowercase();
        let raw = if lower.starts_with("http%3a") || lower.starts_with("https%3a") {
            crate::query::decode(raw)
        } else {
            raw.to_string()
        };
        if raw.starts_with("http://") || raw.starts_with("https://") {
            return Ok(Destination::Url(check_url("destination", &raw)?));
        }
        if raw.is_empty() {
            return Err(ApiError::bad_request(
                "missing destination: publish to /v2/publish/<http(s) URL or URL group name>",
            ));
        }
        if raw == "api/llm" {
            return Err(ApiError::bad_request(
                "the api/llm destination is not supported by Depesha",
            ));
        }
        if !ids::is_valid_name(&raw) {
            return Err(ApiError::bad_request(format!(
                "invalid destination \"{raw}\": expected an absolute http:// or https:// URL, or a URL group name (letters, digits, -, _, .)"
            )));
        }
        Ok(Destination::UrlGroup(raw))
    }
}

/// What the client is told about one accepted (or deduplicated) message.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    pub message_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub deduplicated: bool,
}

/// A publish ready to commit: its unit and the receipts it will produce.
pub struct Planned {
    pub unit: Unit,
    pub receipts: Vec<Receipt>,
    pub to_group: bool,
}

/// Context of one accepted request.
pub struct Publisher<'a> {
    pub state: &'a AppState,
    pub user: &'a str,
    pub caller_ip: Option<String>,
}

impl Publisher<'_> {
    /// Builds the unit for a publish of `body` to `destination`.
    pub fn plan(
        &self,
        destination: &Destination,
        parsed: &PublishHeaders,
        body: Vec<u8>,
    ) -> ApiResult<Planned> {
        let now = self.state.engine.clock().now();
        let targets = match destination {
            Destination::Url(url) => vec![Target {
                url: url.clone(),
                topic_name: None,
                endpoint_name: None,
            }],
            Destination::UrlGroup(name) => {
                return Err(ApiError::not_found(format!(
                    "URL group \"{name}\" not found"
                )));
            }
        };
        let dedup_source = match destination {
            Destination::Url(u) | Destination::UrlGroup(u) => u.as_str(),
        };
        let dedup = deduplication_key(parsed, dedup_source, &body);
        let messages: Vec<Message> = targets
            .into_iter()
            .map(|target| {
                build_message(
                    NewMessage {
                        id: ids::message_id(),
                        user: self.user,
                        target,
                        queue_name: None,
                        schedule_id: None,
                        body: body.clone(),
                        caller_ip: self.caller_ip.clone(),
                        now,
                    },
                    parsed,
                    &self.state.config.limits,
                )
            })
            .collect();
        let receipts = messages
            .iter()
            .map(|m| Receipt {
                message_id: m.id.clone(),
                url: Some(m.url.clone()),
                deduplicated: false,
            })
            .collect();
        let guard = dedup.map(|key| Guard::ClaimDedup {
            user: self.user.to_string(),
            key,
            message_ids: messages.iter().map(|m| m.id.clone()).collect(),
            expires_at: now.saturating_add(self.state.config.dedup_window_ms),
        });
        Ok(Planned {
            unit: Unit {
                guard,
                writes: creation_writes(messages, now),
            },
            receipts,
            to_group: matches!(destination, Destination::UrlGroup(_)),
        })
    }
}

/// The writes that create messages: each message and its `CREATED` log line.
pub fn creation_writes(messages: Vec<Message>, now: u64) -> Vec<Write> {
    let mut writes = Vec::with_capacity(messages.len() * 2);
    for m in messages {
        writes.push(Write::AppendLog(LogEntry::for_message(
            &m,
            LogState::Created,
            now,
        )));
        writes.push(Write::PutMessage(m));
    }
    writes
}

/// The receipts of a committed plan: its own, or — when its deduplication key was
/// taken — the earlier publish's ids, marked `deduplicated`.
pub fn receipts(planned: Vec<Receipt>, outcome: Option<&UnitOutcome>) -> ApiResult<Vec<Receipt>> {
    match outcome {
        Some(UnitOutcome::Applied(_)) => Ok(planned),
        Some(UnitOutcome::Rejected(Rejection::Duplicate(ids))) => Ok(ids
            .iter()
            .enumerate()
            .map(|(i, id)| Receipt {
                message_id: id.clone(),
                url: planned.get(i).and_then(|r| r.url.clone()),
                deduplicated: true,
            })
            .collect()),
        Some(UnitOutcome::Rejected(Rejection::NotFound)) | None => Err(ApiError::Internal(
            "the store gave no outcome for a publish".into(),
        )),
    }
}
