//! A stored queue's settings (`queues` table).

use depesha_core::queue::Queue;
use serde::{Deserialize, Serialize};

use super::Record;
use crate::StoreResult;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct QueueV1 {
    pub user: String,
    pub name: String,
    pub created_at: u64,
    pub updated_at: u64,
    pub parallelism: u32,
    pub paused: bool,
}

impl Record for Queue {
    type Stored = QueueV1;

    fn to_stored(&self) -> QueueV1 {
        QueueV1 {
            user: self.user.clone(),
            name: self.name.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            parallelism: self.parallelism,
            paused: self.paused,
        }
    }

    fn from_stored(q: QueueV1) -> StoreResult<Queue> {
        Ok(Queue {
            user: q.user,
            name: q.name,
            created_at: q.created_at,
            updated_at: q.updated_at,
            parallelism: q.parallelism,
            paused: q.paused,
        })
    }
}
