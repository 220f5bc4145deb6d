//! Signing keys of one user (spec §3.9, §6). Deliveries are signed with `current`;
//! receivers also accept `next`, so a rotation (`current := next`, `next := fresh`)
//! never breaks a receiver that holds the pair from before it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeys {
    pub current: String,
    pub next: String,
}

impl SigningKeys {
    /// A fresh random pair.
    pub fn generate() -> Self {
        SigningKeys {
            current: crate::ids::signing_key(),
            next: crate::ids::signing_key(),
        }
    }

    /// The pair after one rotation.
    pub fn rotated(&self) -> Self {
        SigningKeys {
            current: self.next.clone(),
            next: crate::ids::signing_key(),
        }
    }
}
