//! A user's stored signing keys (`keys` table).

use depesha_core::keys::SigningKeys;
use serde::{Deserialize, Serialize};

use super::Record;
use crate::StoreResult;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SigningKeysV1 {
    pub current: String,
    pub next: String,
}

impl Record for SigningKeys {
    type Stored = SigningKeysV1;

    fn to_stored(&self) -> SigningKeysV1 {
        SigningKeysV1 {
            current: self.current.clone(),
            next: self.next.clone(),
        }
    }

    fn from_stored(k: SigningKeysV1) -> StoreResult<SigningKeys> {
        Ok(SigningKeys {
            current: k.current,
            next: k.next,
        })
    }
}
