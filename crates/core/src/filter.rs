//! Filters of the listing and bulk endpoints: `GET /v2/events`, `GET|DELETE /v2/dlq`,
//! `POST /v2/dlq/retry`, `DELETE /v2/messages` (spec §3.4, §3.5, §3.11).
//!
//! Multi-value fields take repeated keys (`label=a&label=b`) or one comma-joined value
//! (`label=a,b`): OR within a field, AND across fields. An unknown parameter is refused
//! rather than ignored, so that a typo cannot turn "delete where label=x" into "delete
//! everything" (spec Appendix B).

use crate::error::{InputError, InputResult};
use crate::log::LogState;
use crate::UnixMillis;

/// Which endpoint family a filter is for; each accepts a slightly different set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `DELETE /v2/messages`.
    Messages,
    /// `GET|DELETE /v2/dlq`, `POST /v2/dlq/retry`.
    Dlq,
    /// `GET /v2/events`, `GET /v2/logs`.
    Logs,
}

impl Scope {
    /// Default and largest page size.
    pub fn count_limits(self) -> (usize, usize) {
        match self {
            Scope::Messages => (100, 500),
            Scope::Dlq => (100, 100),
            Scope::Logs => (100, 1000),
        }
    }
}

/// Listing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    EarliestFirst,
    LatestFirst,
}

/// A parsed filter. Empty vectors mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// `messageIds` / `dlqIds` / `messageId`: when set, other fields are ignored for
    /// bulk endpoints (spec §3.4); listings AND them with the rest.
    pub ids: Vec<String>,
    pub message_id: Option<String>,
    pub url: Vec<String>,
    pub topic_name: Vec<String>,
    pub queue_name: Vec<String>,
    pub schedule_id: Vec<String>,
    pub label: Vec<String>,
    pub flow_control_key: Vec<String>,
    pub caller_ip: Vec<String>,
    pub host: Vec<String>,
    pub path: Vec<String>,
    pub response_status: Vec<u16>,
    pub state: Vec<String>,
    pub from_date: Option<UnixMillis>,
    pub to_date: Option<UnixMillis>,
    /// `source=workflow`: only workflow entries (Depesha has none yet).
    pub workflow_only: bool,
}

/// Paging parameters that ride along with a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paging {
    pub cursor: Option<String>,
    pub count: usize,
    pub order: Option<Order>,
}

/// What a filter is matched against.
#[derive(Debug, Clone, Default)]
pub struct Subject<'a> {
    pub id: &'a str,
    pub message_id: &'a str,
    pub url: &'a str,
    pub topic_name: Option<&'a str>,
    pub queue_name: Option<&'a str>,
    pub schedule_id: Option<&'a str>,
    pub labels: &'a [String],
    pub flow_control_key: Option<&'a str>,
    pub caller_ip: Option<&'a str>,
    pub response_status: Option<u16>,
    pub state: Option<LogState>,
    pub time: UnixMillis,
}

impl Filter {
    /// True when nothing restricts the selection ("all").
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    pub fn matches(&self, s: &Subject<'_>) -> bool {
        fn any(wanted: &[String], have: Option<&str>) -> bool {
            wanted.is_empty() || have.is_some_and(|h| wanted.iter().any(|w| w == h))
        }
        let (host, path) = split_url(s.url);
        (self.ids.is_empty() || self.ids.iter().any(|i| i == s.id))
            && self.message_id.as_deref().is_none_or(|m| m == s.message_id)
            && any(&self.url, Some(s.url))
            && any(&self.topic_name, s.topic_name)
            && any(&self.queue_name, s.queue_name)
            && any(&self.schedule_id, s.schedule_id)
            && (self.label.is_empty() || s.labels.iter().any(|l| self.label.contains(l)))
            && any(&self.flow_control_key, s.flow_control_key)
            && any(&self.caller_ip, s.caller_ip)
            && any(&self.host, Some(host))
            && any(&self.path, Some(path))
            && (self.response_status.is_empty()
                || s.response_status
                    .is_some_and(|r| self.response_status.contains(&r)))
            && (self.state.is_empty()
                || s.state
                    .is_some_and(|st| self.state.iter().any(|w| state_matches(w, st))))
            && self.from_date.is_none_or(|f| s.time >= f)
            && self.to_date.is_none_or(|t| s.time <= t)
            && !self.workflow_only
    }
}

fn state_matches(wanted: &str, state: LogState) -> bool {
    if wanted == "IN_PROGRESS" {
        return state.is_in_progress();
    }
    wanted == state.as_str() || (wanted == "CANCELLED" && state == LogState::Canceled)
}

/// Host (with port) and path of a URL, for the `host` and `path` filters.
pub fn split_url(url: &str) -> (&str, &str) {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..end];
    let tail = &rest[end..];
    let path_end = tail.find(['?', '#']).unwrap_or(tail.len());
    (host, &tail[..path_end])
}

/// Parses query pairs (already percent-decoded) into a filter and paging.
pub fn parse(scope: Scope, pairs: &[(String, String)]) -> InputResult<(Filter, Paging)> {
    let (default_count, max_count) = scope.count_limits();
    let mut f = Filter::default();
    let mut paging = Paging {
        cursor: None,
        count: default_count,
        order: None,
    };
    for (key, value) in pairs {
        let values = || {
            value
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(String::from)
        };
        match (scope, key.as_str()) {
            (_, "cursor") => paging.cursor = Some(value.clone()).filter(|c| !c.is_empty()),
            (_, "count") => {
                let n: usize = value.parse().map_err(|_| {
                    InputError::new(format!(
                        "invalid count \"{value}\": expected a positive number"
                    ))
                })?;
                if n == 0 {
                    return Err(InputError::new(
                        "invalid count 0: expected a positive number",
                    ));
                }
                paging.count = n.min(max_count);
            }
            (Scope::Dlq | Scope::Logs, "order") => {
                paging.order = Some(match value.as_str() {
                    "earliestFirst" => Order::EarliestFirst,
                    "latestFirst" => Order::LatestFirst,
                    _ => {
                        return Err(InputError::new(format!(
                            "invalid order \"{value}\": expected earliestFirst or latestFirst"
                        )))
                    }
                })
            }
            (Scope::Messages | Scope::Logs, "messageIds") | (Scope::Dlq, "dlqIds") => {
                f.ids.extend(values())
            }
            (Scope::Dlq | Scope::Logs, "messageId") => f.message_id = Some(value.clone()),
            (_, "url") => f.url.extend(values()),
            (_, "topicName") => f.topic_name.extend(values()),
            (_, "queueName") => f.queue_name.extend(values()),
            (_, "scheduleId") => f.schedule_id.extend(values()),
            (_, "label") => f.label.extend(values()),
            (_, "flowControlKey") => f.flow_control_key.extend(values()),
            (_, "callerIp" | "callerIP") => f.caller_ip.extend(values()),
            (Scope::Messages | Scope::Logs, "host") => f.host.extend(values()),
            (Scope::Messages | Scope::Logs, "path") => f.path.extend(values()),
            (Scope::Dlq, "responseStatus") => {
                for v in values() {
                    f.response_status.push(v.parse().map_err(|_| {
                        InputError::new(format!(
                            "invalid responseStatus \"{v}\": expected an HTTP status code"
                        ))
                    })?);
                }
            }
            (Scope::Logs, "state") => {
                for v in values() {
                    let known = v == "IN_PROGRESS"
                        || v == "CANCELLED"
                        || LogState::ALL.iter().any(|s| s.as_str() == v);
                    if !known {
                        return Err(InputError::new(format!(
                            "invalid state \"{v}\": expected one of CREATED, ACTIVE, RETRY, ERROR, DELIVERED, FAILED, CANCEL_REQUESTED, CANCELED, IN_PROGRESS"
                        )));
                    }
                    f.state.push(v);
                }
            }
            (_, "fromDate") => f.from_date = Some(parse_millis("fromDate", value)?),
            (_, "toDate") => f.to_date = Some(parse_millis("toDate", value)?),
            (Scope::Dlq, "source") => match value.as_str() {
                "workflow" => f.workflow_only = true,
                "" | "message" => {}
                _ => {
                    return Err(InputError::new(format!(
                        "invalid source \"{value}\": expected workflow"
                    )))
                }
            },
            // Deprecated and meaningless here (spec §3.5); accepted so old clients work.
            (Scope::Dlq | Scope::Logs, "api") => {}
            (Scope::Dlq, "host" | "path") => {
                return Err(InputError::new(format!(
                    "the {key} filter is not supported on the DLQ; filter by url instead"
                )))
            }
            _ => {
                return Err(InputError::new(format!(
                    "unknown filter parameter \"{key}\""
                )))
            }
        }
    }
    Ok((f, paging))
}

fn parse_millis(name: &str, value: &str) -> InputResult<UnixMillis> {
    value.trim().parse().map_err(|_| {
        InputError::new(format!(
            "invalid {name} \"{value}\": expected unix milliseconds"
        ))
    })
}

/// Turns a JSON filter body (`{"messageIds": [...]}`, the Python SDK's form) into
/// query-style pairs, so both inputs go through one parser.
pub fn pairs_from_json(body: &serde_json::Value) -> InputResult<Vec<(String, String)>> {
    let object = body
        .as_object()
        .ok_or_else(|| InputError::new("invalid filter body: expected a JSON object"))?;
    let mut pairs = Vec::new();
    for (key, value) in object {
        let scalar = |v: &serde_json::Value| -> InputResult<Option<String>> {
            match v {
                serde_json::Value::Null => Ok(None),
                serde_json::Value::String(s) => Ok(Some(s.clone())),
                serde_json::Value::Number(n) => Ok(Some(n.to_string())),
                serde_json::Value::Bool(b) => Ok(Some(b.to_string())),
                _ => Err(InputError::new(format!(
                    "invalid filter field \"{key}\": expected a string or a list of strings"
                ))),
            }
        };
        match value {
            serde_json::Value::Array(items) => {
                for item in items {
                    if let Some(v) = scalar(item)? {
                        pairs.push((key.clone(), v));
                    }
                }
            }
            other => {
                if let Some(v) = scalar(other)? {
                    pairs.push((key.clone(), v));
                }
            }
        }
    }
    Ok(pairs)
}
