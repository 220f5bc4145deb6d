//! Schedules (spec §3.8): create or replace, pause, resume, delete. The scheduler
//! fires the ticks (`scheduler.rs`).

use depesha_core::schedule::{Schedule, ScheduleSettings};
use depesha_store::{Unit, Write};

use crate::error::{EngineError, Missing};
use crate::Engine;

impl Engine {
    /// Stores the schedule `settings` describe (replacing one with the same id, whose
    /// history and pause it keeps); returns its id.
    pub async fn put_schedule(
        &self,
        user: &str,
        settings: ScheduleSettings,
    ) -> Result<String, EngineError> {
        let existing = self.store().schedule(user, &settings.id).await?;
        let schedule = Schedule::stored(user, settings, existing.as_ref(), self.clock().now());
        let id = schedule.id.clone();
        self.put(schedule).await?;
        Ok(id)
    }

    /// Pausing and resuming are idempotent; a resumed schedule fires next at its first
    /// tick after now.
    pub async fn set_schedule_paused(
        &self,
        user: &str,
        id: &str,
        paused: bool,
    ) -> Result<(), EngineError> {
        let mut schedule = self
            .store()
            .schedule(user, id)
            .await?
            .ok_or_else(|| Missing::Schedule(id.to_string()))?;
        if schedule.set_paused(paused, self.clock().now()) {
            self.put(schedule).await?;
        }
        Ok(())
    }

    pub async fn delete_schedule(&self, user: &str, id: &str) -> Result<(), EngineError> {
        if self.store().schedule(user, id).await?.is_none() {
            return Err(Missing::Schedule(id.to_string()).into());
        }
        self.commit(vec![Unit::new(vec![Write::DeleteSchedule {
            user: user.to_string(),
            id: id.to_string(),
        }])])
        .await?;
        Ok(())
    }

    async fn put(&self, schedule: Schedule) -> Result<(), EngineError> {
        self.commit(vec![Unit::new(vec![Write::PutSchedule(schedule)])])
            .await?;
        Ok(())
    }
}
