//! Filters of the listing and bulk endpoints: `GET /v2/events`, `GET|DELETE /v2/dlq`,
//! `POST /v2/dlq/retry`, `DELETE /v2/messages` (spec §3.4, §3.5, §3.11).
//!
//! Multi-value fields take repeated keys (`label=a&label=b`) or one comma-joined value
//! (`label=a,b`): OR within a field, AND across fields. An unknown parameter is refused
//! rather than ignored, so that a typo cannot turn "delete where label=x" into "delete
//! everything" (spec Appendix B).
//!
//! What selects "everything" is spelled out, because bulk endpoints delete, cancel
//! and retry what a filter selects (issue 10):
//!
//! - only a request with **no** filter at all selects everything (the SDKs' "cancel
//!   all" / "delete all" send none: no body, or just `count` / `cursor`);
//! - an **empty list** (`{"messageIds": []}`, `{"label": []}`) selects nothing: the
//!   answer counts 0;
//! - an **empty value** (`?messageIds=`, `{"label": ""}`, `label=a,,b`) is a 400: it
//!   means nothing sensible, and reading it as "no filter" is how one turns into
//!   "everything";
//! - a **wrong JSON type** (`{"messageIds": 5}`, `{"dlqIds": "x"}`, `null`, `true`,
//!   objects) is a 400. The SDKs never send `null` for an absent field (they leave
//!   the field out), so `null` is not read as "absent" either.

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

/// A parsed filter. Empty vectors mean "any" (that field was not given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// An empty list was given for some field: the filter selects nothing.
    pub nothing: bool,
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
    /// `count` was given, not defaulted: bulk cancel then does one slice only.
    pub count_given: bool,
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

    /// True when an empty list was given: nothing can match, so callers answer at
    /// once instead of scanning.
    pub fn selects_nothing(&self) -> bool {
        self.nothing
    }

    pub fn matches(&self, s: &Subject<'_>) -> bool {
        if self.nothing {
            return false;
        }
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
    parse_request(scope, pairs, None)
}

/// Parses a bulk or listing request: its query pairs and, when it has one, its JSON
/// body (`{"messageIds": [...]}`, the Python SDK's form). Both go through the same
/// rules; see the module documentation for what selects everything.
pub fn parse_request(
    scope: Scope,
    query: &[(String, String)],
    body: Option<&serde_json::Value>,
) -> InputResult<(Filter, Paging)> {
    let mut selection = Selection::new(scope);
    for (key, value) in query {
        selection.apply(key, Values::from_text(value))?;
    }
    if let Some(body) = body {
        let object = body
            .as_object()
            .ok_or_else(|| InputError::new("invalid filter body: expected a JSON object"))?;
        for (key, value) in object {
            selection.apply(key, Values::from_json(scope, key, value)?)?;
        }
    }
    Ok((selection.filter, selection.paging))
}

/// The values given for one key: a comma-joined text (query, JSON string), or the
/// items of a JSON list (possibly none).
enum Values {
    Text(String),
    List(Vec<String>),
}

impl Values {
    fn from_text(text: &str) -> Values {
        Values::Text(text.to_string())
    }

    /// Checks the JSON type of a body field: id lists take a list of strings; the
    /// numeric fields a number or a string; every other field a string or a list of
    /// strings.
    fn from_json(scope: Scope, key: &str, value: &serde_json::Value) -> InputResult<Values> {
        use serde_json::Value;
        let numeric = matches!(key, "count" | "fromDate" | "toDate" | "responseStatus");
        let ids = is_id_list(scope, key);
        let item = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) if numeric => Some(n.to_string()),
            _ => None,
        };
        let expected = if ids {
            "a list of strings"
        } else if numeric {
            "a number"
        } else {
            "a string or a list of strings"
        };
        let wrong = || {
            InputError::new(format!(
                "invalid filter field \"{key}\": expected {expected}, got {}",
                json_type(value)
            ))
        };
        match value {
            Value::Array(items) => items
                .iter()
                .map(|v| item(v).ok_or_else(wrong))
                .collect::<InputResult<Vec<_>>>()
                .map(Values::List),
            scalar if !ids => item(scalar).map(Values::Text).ok_or_else(wrong),
            _ => Err(wrong()),
        }
    }

    /// The individual values, each trimmed; an empty one is refused.
    fn split(self, key: &str) -> InputResult<Vec<String>> {
        let pieces: Vec<String> = match self {
            Values::Text(text) => text.split(',').map(|v| v.trim().to_string()).collect(),
            Values::List(items) => items.into_iter().map(|v| v.trim().to_string()).collect(),
        };
        if pieces.iter().any(String::is_empty) {
            return Err(InputError::new(format!(
                "invalid {key}: an empty value; leave {key} out to not filter by it"
            )));
        }
        Ok(pieces)
    }

    /// The one value of a single-valued key (trimmed, may be empty).
    fn single(self, key: &str) -> InputResult<String> {
        match self {
            Values::Text(text) => Ok(text.trim().to_string()),
            Values::List(mut items) if items.len() == 1 => {
                Ok(items.pop().unwrap_or_default().trim().to_string())
            }
            Values::List(_) => Err(InputError::new(format!(
                "invalid {key}: expected one value, not a list"
            ))),
        }
    }
}

fn is_id_list(scope: Scope, key: &str) -> bool {
    matches!(
        (scope, key),
        (Scope::Messages | Scope::Logs, "messageIds") | (Scope::Dlq, "dlqIds")
    )
}

fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A filter and paging being built from a request's keys.
struct Selection {
    scope: Scope,
    filter: Filter,
    paging: Paging,
}

impl Selection {
    fn new(scope: Scope) -> Selection {
        Selection {
            scope,
            filter: Filter::default(),
            paging: Paging {
                cursor: None,
                count: scope.count_limits().0,
                count_given: false,
                order: None,
            },
        }
    }

    fn apply(&mut self, key: &str, values: Values) -> InputResult<()> {
        let scope = self.scope;
        let f = &mut self.filter;
        match (scope, key) {
            // Paging is not a filter: an empty cursor is the first page.
            (_, "cursor") => {
                self.paging.cursor = Some(values.single(key)?).filter(|c| !c.is_empty())
            }
            (_, "count") => {
                self.paging.count = parse_count(scope, &values.single(key)?)?;
                self.paging.count_given = true;
            }
            (Scope::Dlq | Scope::Logs, "order") => {
                self.paging.order = Some(parse_order(&values.single(key)?)?)
            }
            _ if is_id_list(scope, key) => extend(f, |f| &mut f.ids, key, values)?,
            (Scope::Dlq | Scope::Logs, "messageId") => {
                f.message_id = Some(non_empty(key, values.single(key)?)?)
            }
            (_, "url") => extend(f, |f| &mut f.url, key, values)?,
            (_, "topicName") => extend(f, |f| &mut f.topic_name, key, values)?,
            (_, "queueName") => extend(f, |f| &mut f.queue_name, key, values)?,
            (_, "scheduleId") => extend(f, |f| &mut f.schedule_id, key, values)?,
            (_, "label") => extend(f, |f| &mut f.label, key, values)?,
            (_, "flowControlKey") => extend(f, |f| &mut f.flow_control_key, key, values)?,
            (_, "callerIp" | "callerIP") => extend(f, |f| &mut f.caller_ip, key, values)?,
            (Scope::Messages | Scope::Logs, "host") => extend(f, |f| &mut f.host, key, values)?,
            (Scope::Messages | Scope::Logs, "path") => extend(f, |f| &mut f.path, key, values)?,
            (Scope::Dlq, "responseStatus") => {
                let given = values.split(key)?;
                f.nothing |= given.is_empty();
                for v in given {
                    f.response_status.push(v.parse().map_err(|_| {
                        InputError::new(format!(
                            "invalid responseStatus \"{v}\": expected an HTTP status code"
                        ))
                    })?);
                }
            }
            (Scope::Logs, "state") => {
                let given = values.split(key)?;
                f.nothing |= given.is_empty();
                for v in given {
                    f.state.push(parse_state(v)?);
                }
            }
            (_, "fromDate") => f.from_date = Some(parse_millis(key, &values.single(key)?)?),
            (_, "toDate") => f.to_date = Some(parse_millis(key, &values.single(key)?)?),
            (Scope::Dlq, "source") => match values.single(key)?.as_str() {
                "workflow" => f.workflow_only = true,
                "message" => {}
                other => {
                    return Err(InputError::new(format!(
                        "invalid source \"{other}\": expected workflow or message"
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
        Ok(())
    }
}

/// Adds the values of a multi-value field; an empty list selects nothing.
fn extend(
    filter: &mut Filter,
    field: fn(&mut Filter) -> &mut Vec<String>,
    key: &str,
    values: Values,
) -> InputResult<()> {
    let given = values.split(key)?;
    filter.nothing |= given.is_empty();
    field(filter).extend(given);
    Ok(())
}

fn non_empty(key: &str, value: String) -> InputResult<String> {
    if value.is_empty() {
        return Err(InputError::new(format!(
            "invalid {key}: an empty value; leave {key} out to not filter by it"
        )));
    }
    Ok(value)
}

fn parse_count(scope: Scope, value: &str) -> InputResult<usize> {
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
    Ok(n.min(scope.count_limits().1))
}

fn parse_order(value: &str) -> InputResult<Order> {
    match value {
        "earliestFirst" => Ok(Order::EarliestFirst),
        "latestFirst" => Ok(Order::LatestFirst),
        _ => Err(InputError::new(format!(
            "invalid order \"{value}\": expected earliestFirst or latestFirst"
        ))),
    }
}

fn parse_state(v: String) -> InputResult<String> {
    let known =
        v == "IN_PROGRESS" || v == "CANCELLED" || LogState::ALL.iter().any(|s| s.as_str() == v);
    if !known {
        return Err(InputError::new(format!(
            "invalid state \"{v}\": expected one of CREATED, ACTIVE, RETRY, ERROR, DELIVERED, FAILED, CANCEL_REQUESTED, CANCELED, IN_PROGRESS"
        )));
    }
    Ok(v)
}

fn parse_millis(name: &str, value: &str) -> InputResult<UnixMillis> {
    value.trim().parse().map_err(|_| {
        InputError::new(format!(
            "invalid {name} \"{value}\": expected unix milliseconds"
        ))
    })
}
