//! A stored URL group (`groups` table).

use depesha_core::url_group::{Endpoint, UrlGroup};
use serde::{Deserialize, Serialize};

use super::Record;
use crate::StoreResult;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct UrlGroupV1 {
    pub user: String,
    pub name: String,
    pub created_at: u64,
    pub updated_at: u64,
    pub endpoints: Vec<EndpointV1>,
    pub default_headers: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct EndpointV1 {
    pub name: Option<String>,
    pub url: String,
}

impl Record for UrlGroup {
    type Stored = UrlGroupV1;

    fn to_stored(&self) -> UrlGroupV1 {
        UrlGroupV1 {
            user: self.user.clone(),
            name: self.name.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            endpoints: self
                .endpoints
                .iter()
                .map(|e| EndpointV1 {
                    name: e.name.clone(),
                    url: e.url.clone(),
                })
                .collect(),
            default_headers: self.default_headers.clone(),
        }
    }

    fn from_stored(g: UrlGroupV1) -> StoreResult<UrlGroup> {
        Ok(UrlGroup {
            user: g.user,
            name: g.name,
            created_at: g.created_at,
            updated_at: g.updated_at,
            endpoints: g
                .endpoints
                .into_iter()
                .map(|e| Endpoint {
                    name: e.name,
                    url: e.url,
                })
                .collect(),
            default_headers: g.default_headers,
        })
    }
}
