//! URL groups (spec §3.6; called "topics" in the REST paths): a named list of
//! endpoints. Publishing to a group fans out one message per endpoint.

use serde::{Deserialize, Serialize};

use crate::destination_policy::DestinationPolicy;
use crate::error::{InputError, InputResult};
use crate::UnixMillis;

/// One endpoint of a group. Read back exactly as `{name?, url}` (spec §3.6: an SDK
/// test compares endpoint objects structurally).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub name: Option<String>,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlGroup {
    pub user: String,
    pub name: String,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
    /// In insertion order.
    pub endpoints: Vec<Endpoint>,
    /// `PATCH /v2/topics/{name}` default headers, applied to every publish to the
    /// group before the publish's own headers (which win).
    pub default_headers: Vec<(String, String)>,
}

/// Which endpoints `DELETE /v2/topics/{name}/endpoints` removes: by URL, by name, or
/// by both (then both must match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSelector {
    pub name: Option<String>,
    pub url: Option<String>,
}

impl UrlGroup {
    pub fn new(user: &str, name: &str, now: UnixMillis) -> Self {
        UrlGroup {
            user: user.to_string(),
            name: name.to_string(),
            created_at: now,
            updated_at: now,
            endpoints: Vec::new(),
            default_headers: Vec::new(),
        }
    }

    /// Adds endpoints, or updates the existing one with the same name (or, for an
    /// unnamed endpoint, the same URL). Order of first insertion is kept.
    pub fn upsert(&mut self, endpoints: Vec<Endpoint>, now: UnixMillis) {
        for new in endpoints {
            let existing = self.endpoints.iter_mut().find(|e| match &new.name {
                Some(name) => e.name.as_deref() == Some(name.as_str()),
                None => e.url == new.url && e.name.is_none(),
            });
            match existing {
                Some(e) => e.url = new.url,
                None => self.endpoints.push(new),
            }
        }
        self.updated_at = now;
    }

    /// Removes the endpoints the selectors match; returns how many went.
    pub fn remove(&mut self, selectors: &[EndpointSelector], now: UnixMillis) -> usize {
        let before = self.endpoints.len();
        self.endpoints.retain(|e| {
            !selectors.iter().any(|s| {
                s.name.as_ref().is_none_or(|n| e.name.as_ref() == Some(n))
                    && s.url.as_ref().is_none_or(|u| &e.url == u)
            })
        });
        self.updated_at = now;
        before - self.endpoints.len()
    }
}

/// Validates an endpoint from a request body.
pub fn check_endpoint(
    url: Option<&str>,
    name: Option<&str>,
    policy: &DestinationPolicy,
) -> InputResult<Endpoint> {
    let url = url.ok_or_else(|| InputError::new("every endpoint needs a \"url\""))?;
    let url = crate::destination_url::check_url("endpoint url", url, policy)?;
    if let Some(name) = name {
        if !crate::ids::is_valid_name(name) {
            return Err(InputError::new(format!(
                "invalid endpoint name \"{name}\": use letters, digits, -, _ and ."
            )));
        }
    }
    Ok(Endpoint {
        name: name.map(String::from),
        url,
    })
}
