//! URL groups (spec §3.6): endpoints added (creating the group) or removed (deleting
//! it with its last one), default headers, delete.

use depesha_core::url_group::{Endpoint, EndpointSelector, UrlGroup};
use depesha_store::{Unit, Write};

use crate::error::{EngineError, Missing};
use crate::Engine;

impl Engine {
    /// Creates the group if needed; adds `endpoints` or updates those with the same
    /// name.
    pub async fn add_endpoints(
        &self,
        user: &str,
        name: &str,
        endpoints: Vec<Endpoint>,
    ) -> Result<(), EngineError> {
        let now = self.clock().now();
        let mut group = self
            .store()
            .group(user, name)
            .await?
            .unwrap_or_else(|| UrlGroup::new(user, name, now));
        group.upsert(endpoints, now);
        self.put_group(group).await
    }

    /// Removes the endpoints `selectors` name; the group goes with its last one.
    pub async fn remove_endpoints(
        &self,
        user: &str,
        name: &str,
        selectors: &[EndpointSelector],
    ) -> Result<(), EngineError> {
        let mut group = self.existing_group(user, name).await?;
        group.remove(selectors, self.clock().now());
        if group.endpoints.is_empty() {
            self.delete_group(user, name).await
        } else {
            self.put_group(group).await
        }
    }

    /// Default headers for every publish to the group (checked by the caller, like a
    /// publish's).
    pub async fn set_group_headers(
        &self,
        user: &str,
        name: &str,
        headers: Vec<(String, String)>,
    ) -> Result<(), EngineError> {
        let mut group = self.existing_group(user, name).await?;
        group.default_headers = headers;
        group.updated_at = self.clock().now();
        self.put_group(group).await
    }

    /// Deleting a group that does not exist is no error (spec Appendix B). Messages
    /// already published to it are not touched.
    pub async fn delete_group(&self, user: &str, name: &str) -> Result<(), EngineError> {
        self.commit(vec![Unit::new(vec![Write::DeleteGroup {
            user: user.to_string(),
            name: name.to_string(),
        }])])
        .await?;
        Ok(())
    }

    async fn existing_group(&self, user: &str, name: &str) -> Result<UrlGroup, EngineError> {
        Ok(self
            .store()
            .group(user, name)
            .await?
            .ok_or_else(|| Missing::UrlGroup(name.to_string()))?)
    }

    async fn put_group(&self, group: UrlGroup) -> Result<(), EngineError> {
        self.commit(vec![Unit::new(vec![Write::PutGroup(group)])])
            .await?;
        Ok(())
    }
}
