//! Queues (spec §3.7): upsert, pause, resume, delete. Every change that may let a
//! queue through says so in the same unit (`FillQueue`), so the store makes the
//! next messages due and the engine hears of them.

use depesha_core::queue::{Queue, QueueSettings};
use depesha_store::{Unit, Write};

use super::cancel::cancel_unit;
use crate::error::{EngineError, Missing};
use crate::Engine;

impl Engine {
    /// Creates the queue or changes its settings, and lets it through as far as they
    /// now allow.
    pub async fn upsert_queue(
        &self,
        user: &str,
        settings: &QueueSettings,
    ) -> Result<(), EngineError> {
        let existing = self.store().queue(user, &settings.name).await?;
        let queue = Queue::upserted(existing, user, settings, self.clock().now());
        self.save_and_fill(queue).await
    }

    /// Pausing and resuming are idempotent. A paused queue keeps accepting messages;
    /// its deliveries wait.
    pub async fn set_queue_paused(
        &self,
        user: &str,
        name: &str,
        paused: bool,
    ) -> Result<(), EngineError> {
        let mut queue = self
            .store()
            .queue(user, name)
            .await?
            .ok_or_else(|| Missing::Queue(name.to_string()))?;
        queue.paused = paused;
        queue.updated_at = self.clock().now();
        self.save_and_fill(queue).await
    }

    /// Deletes the queue and cancels the messages still in it.
    pub async fn delete_queue(&self, user: &str, name: &str) -> Result<(), EngineError> {
        let store = self.store();
        if store.queue(user, name).await?.is_none() {
            return Err(Missing::Queue(name.to_string()).into());
        }
        let now = self.clock().now();
        let mut units = Vec::new();
        for (position, holder) in store.queue_items(user, name, usize::MAX).await? {
            if let Some(message) = store.message(user, &holder).await? {
                if message.state.is_unfinished() {
                    units.push(cancel_unit(&message, now));
                }
            }
            // Also when the holder finished meanwhile (or is gone): the item goes.
            units.push(Unit::new(vec![Write::DeleteQueueItem {
                user: user.to_string(),
                queue: name.to_string(),
                position,
            }]));
        }
        units.push(Unit::new(vec![Write::DeleteQueue {
            user: user.to_string(),
            name: name.to_string(),
        }]));
        self.commit(units).await?;
        Ok(())
    }

    /// Stores the queue's settings and lets it through as far as they now allow.
    async fn save_and_fill(&self, queue: Queue) -> Result<(), EngineError> {
        let fill = Write::FillQueue {
            user: queue.user.clone(),
            queue: queue.name.clone(),
            now: queue.updated_at,
        };
        self.commit(vec![Unit::new(vec![Write::PutQueue(queue), fill])])
            .await?;
        Ok(())
    }
}
