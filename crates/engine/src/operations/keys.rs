//! Signing keys (spec §3.9): made on first need, rotated on request.

use depesha_core::keys::SigningKeys;

use crate::error::EngineError;
use crate::Engine;

impl Engine {
    /// Makes sure `user` has signing keys: keeps stored ones, else stores `preset` (the
    /// fixed keys of the dev users) or a fresh random pair.
    pub async fn ensure_keys(
        &self,
        user: &str,
        preset: Option<SigningKeys>,
    ) -> Result<SigningKeys, EngineError> {
        if let Some(keys) = self.store().keys(user).await? {
            self.inner().cache_keys(user, keys.clone());
            return Ok(keys);
        }
        let keys = preset.unwrap_or_else(SigningKeys::generate);
        self.inner().put_keys(user, keys.clone()).await?;
        Ok(keys)
    }

    /// `current := next`, `next := fresh`.
    pub async fn rotate_keys(&self, user: &str) -> Result<SigningKeys, EngineError> {
        let rotated = self.signing_keys(user).await?.rotated();
        self.inner().put_keys(user, rotated.clone()).await?;
        Ok(rotated)
    }
}
