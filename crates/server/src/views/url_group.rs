//! The URLGroup object (spec §3.6). Endpoints are exactly `{name?, url}` (an SDK test
//! compares them structurally).

use depesha_core::url_group::UrlGroup;
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupView {
    name: String,
    created_at: u64,
    updated_at: u64,
    endpoints: Vec<EndpointView>,
}

#[derive(Debug, Serialize)]
struct EndpointView {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    url: String,
}

impl GroupView {
    pub fn of(g: UrlGroup) -> Self {
        GroupView {
            name: g.name,
            created_at: g.created_at,
            updated_at: g.updated_at,
            endpoints: g
                .endpoints
                .into_iter()
                .map(|e| EndpointView {
                    name: e.name,
                    url: e.url,
                })
                .collect(),
        }
    }
}
