//! Turning a publish into store writes: the part shared by publish, enqueue, batch,
//! schedules' ticks and DLQ retries. It resolves the destination (a URL, or a URL
//! group's endpoints with the group's default headers), classifies the headers,
//! builds one message per target, and adds what the message's route needs: a queue
//! item and the queue's record for an enqueue, the flow-control key's limits, the
//! deduplication claim.

use depesha_core::destination::Destination;
use depesha_core::flow_key::FlowKey;
use depesha_core::ids;
use depesha_core::log::{LogEntry, LogState};
use depesha_core::message::{Message, MessageState};
use depesha_core::publish::{
    build_message, classify, deduplication_key, NewMessage, PublishLimits, Target,
};
use depesha_core::queue::{Queue, QueueItem};
use depesha_core::{InputError, UnixMillis};
use depesha_store::{Guard, Rejection, StoreError, Unit, UnitOutcome, Write};
use serde::Serialize;

use crate::engine::Engine;
use crate::error::{EngineError, Missing};

/// Why a publish could not be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Input(#[from] InputError),
    /// The destination names a URL group the user does not have.
    #[error(transparent)]
    NotFound(#[from] Missing),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One publish, as received.
#[derive(Debug, Clone)]
pub struct PublishRequest<'a> {
    pub user: &'a str,
    pub destination: &'a Destination,
    /// The request's headers, in order (names in any case).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub caller_ip: Option<String>,
    /// `/v2/enqueue/{queue}/…`, a batch item's `queue`, a schedule's queue.
    pub queue: Option<&'a str>,
    pub schedule_id: Option<&'a str>,
}

/// The server's bounds on what a publish may ask for.
#[derive(Debug, Clone)]
pub struct PublishPolicy {
    pub limits: PublishLimits,
    pub dedup_window_ms: u64,
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

/// A publish ready to commit.
#[derive(Debug)]
pub struct Plan {
    pub(crate) unit: Unit,
    pub receipts: Vec<Receipt>,
    /// Sent to a URL group: the answer is an array even for one endpoint.
    pub to_group: bool,
    /// New limits of the messages' flow-control key, to hand to the gate after the
    /// commit.
    flow_limits: Option<FlowKey>,
}

/// A committed publish: its receipts, and whether it went to a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub receipts: Vec<Receipt>,
    pub to_group: bool,
}

impl Engine {
    /// Validates a publish and builds its unit. Nothing is written.
    pub async fn plan(
        &self,
        request: PublishRequest<'_>,
        policy: &PublishPolicy,
    ) -> Result<Plan, PlanError> {
        let store = self.store();
        let now = self.clock().now();
        let (targets, headers) = match request.destination {
            Destination::Url(url) => (
                vec![Target {
                    url: url.clone(),
                    topic_name: None,
                    endpoint_name: None,
                }],
                request.headers,
            ),
            Destination::UrlGroup(name) => {
                let group = store
                    .group(request.user, name)
                    .await?
                    .filter(|g| !g.endpoints.is_empty())
                    .ok_or_else(|| PlanError::NotFound(Missing::UrlGroup(name.clone())))?;
                let targets = group
                    .endpoints
                    .iter()
                    .map(|e| Target {
                        url: e.url.clone(),
                        topic_name: Some(group.name.clone()),
                        endpoint_name: e.name.clone(),
                    })
                    .collect();
                (
                    targets,
                    with_defaults(&group.default_headers, request.headers),
                )
            }
        };
        let parsed = classify(&headers, &policy.limits, now)?;
        if let Some(queue) = request.queue {
            if !ids::is_valid_name(queue) {
                return Err(InputError::new(format!(
                    "invalid queue name \"{queue}\": use letters, digits, -, _ and ."
                ))
                .into());
            }
        }

        let dedup = deduplication_key(&parsed, request.destination.as_str(), &request.body);
        // Every target but the last gets a copy of the body; the last takes it.
        let last = targets.len().saturating_sub(1);
        let mut body = Some(request.body);
        let mut messages: Vec<Message> = targets
            .into_iter()
            .enumerate()
            .map(|(i, target)| {
                let body = if i == last {
                    body.take().unwrap_or_default()
                } else {
                    body.clone().unwrap_or_default()
                };
                build_message(
                    NewMessage {
                        id: ids::message_id(now),
                        user: request.user,
                        target,
                        queue_name: request.queue.map(String::from),
                        schedule_id: request.schedule_id.map(String::from),
                        body,
                        caller_ip: request.caller_ip.clone(),
                        now,
                    },
                    &parsed,
                    &policy.limits,
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

        let mut writes = Vec::with_capacity(messages.len() * 3 + 2);
        let flow_limits = match &parsed.options.flow_control {
            Some(flow) => {
                let stored = store.flow_key(request.user, &flow.key).await?;
                let known = stored.is_some();
                let mut limits =
                    stored.unwrap_or_else(|| FlowKey::new(request.user, &flow.key, now));
                if limits.absorb(flow, now) || !known {
                    writes.push(Write::PutFlowKey(limits.clone()));
                    Some(limits)
                } else {
                    None
                }
            }
            None => None,
        };
        let queue_writes = match request.queue {
            Some(queue) => {
                self.enqueue_writes(request.user, queue, &mut messages)
                    .await?
            }
            None => Vec::new(),
        };
        let ids: Vec<String> = messages.iter().map(|m| m.id.clone()).collect();
        writes.extend(creation_writes(messages, now));
        writes.extend(queue_writes);

        let guard = dedup.map(|key| Guard::ClaimDedup {
            user: request.user.to_string(),
            key,
            message_ids: ids,
            expires_at: now.saturating_add(policy.dedup_window_ms),
        });
        Ok(Plan {
            unit: Unit { guard, writes },
            receipts,
            to_group: matches!(request.destination, Destination::UrlGroup(_)),
            flow_limits,
        })
    }

    /// Puts `messages` at the end of `queue` (created on first use with parallelism 1,
    /// spec §3.2): they become `Queued` holders of new items, and the returned writes
    /// create the items and let the queue through.
    pub(crate) async fn enqueue_writes(
        &self,
        user: &str,
        queue: &str,
        messages: &mut [Message],
    ) -> Result<Vec<Write>, StoreError> {
        let now = self.clock().now();
        let mut writes = Vec::with_capacity(messages.len() + 2);
        if self.store().queue(user, queue).await?.is_none() {
            writes.push(Write::PutQueue(Queue::first_use(user, queue, now)));
        }
        for message in messages.iter_mut() {
            let position = self.next_queue_position();
            message.state = MessageState::Queued;
            message.queue_name = Some(queue.to_string());
            message.queue_item = Some(QueueItem {
                queue: queue.to_string(),
                position,
            });
            writes.push(Write::PutQueueItem {
                user: user.to_string(),
                queue: queue.to_string(),
                position,
                holder: message.id.clone(),
            });
        }
        writes.push(Write::FillQueue {
            user: user.to_string(),
            queue: queue.to_string(),
            now,
        });
        Ok(writes)
    }

    /// Commits planned publishes together (one durable commit) and tells each what
    /// became of it.
    pub async fn accept(&self, plans: Vec<Plan>) -> Result<Vec<Accepted>, EngineError> {
        let mut units = Vec::with_capacity(plans.len());
        let mut rest = Vec::with_capacity(plans.len());
        for plan in plans {
            units.push(plan.unit);
            rest.push((plan.receipts, plan.to_group, plan.flow_limits));
        }
        let outcomes = self.commit(units).await?;
        let mut accepted = Vec::with_capacity(rest.len());
        for ((receipts, to_group, flow_limits), outcome) in rest.into_iter().zip(&outcomes) {
            let receipts = match outcome {
                UnitOutcome::Applied(_) => {
                    if let Some(limits) = flow_limits {
                        self.flow_limits_changed(limits).await;
                    }
                    receipts
                }
                UnitOutcome::Rejected(Rejection::Duplicate(ids)) => ids
                    .iter()
                    .enumerate()
                    .map(|(i, id)| Receipt {
                        message_id: id.clone(),
                        url: receipts.get(i).and_then(|r| r.url.clone()),
                        deduplicated: true,
                    })
                    .collect(),
                UnitOutcome::Rejected(Rejection::NotFound) => Vec::new(),
            };
            accepted.push(Accepted { receipts, to_group });
        }
        Ok(accepted)
    }
}

/// A group's default headers under the publish's own: a default applies only when
/// the publish does not set that header itself.
fn with_defaults(
    defaults: &[(String, String)],
    headers: Vec<(String, String)>,
) -> Vec<(String, String)> {
    let mut merged: Vec<(String, String)> = defaults
        .iter()
        .filter(|(name, _)| !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)))
        .cloned()
        .collect();
    merged.extend(headers);
    merged
}

/// The writes that create messages: each message and its `CREATED` log line.
pub(crate) fn creation_writes(messages: Vec<Message>, now: UnixMillis) -> Vec<Write> {
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
