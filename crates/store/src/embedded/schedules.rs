//! Schedules (`SCHEDULES`) and their tick index (`SCHEDULE_DUE`).
//!
//! `SCHEDULE_DUE` holds exactly the unpaused schedules, keyed
//! `next_schedule_time BE ++ user \0 id`, so the scheduler's
//! [`crate::ScheduleStore::due_schedules`] is one range scan up to `until`. Every
//! schedule write moves the index entry with the record. Reads of single schedules and
//! of a user's list are plain record reads (`records.rs`).

use std::ops::Bound;

use depesha_core::refs::ScheduleRef;
use depesha_core::schedule::Schedule;
use depesha_core::UnixMillis;
use redb::{Database, ReadableTable};

use super::codec::{decode, encode, io};
use super::commit::{table, Tx};
use super::reads::read;
use super::tables::{self as t, due_key, parse_timed_key, time_upper_bound, user_key, KeyBounds};
use crate::StoreResult;

pub(super) fn due_schedules(
    db: &Database,
    until: UnixMillis,
    limit: usize,
) -> StoreResult<Vec<(UnixMillis, ScheduleRef)>> {
    let upper = time_upper_bound(until);
    let bounds: KeyBounds<'_> = (
        Bound::Unbounded,
        upper
            .as_ref()
            .map_or(Bound::Unbounded, |u| Bound::Excluded(u.as_slice())),
    );
    let index = read(db, t::SCHEDULE_DUE)?;
    let mut due = Vec::with_capacity(limit.min(1024));
    for item in index.range::<&[u8]>(bounds).map_err(io)?.take(limit) {
        let (key, _) = item.map_err(io)?;
        let (tick, user, id) = parse_timed_key(key.value())?;
        due.push((tick, ScheduleRef::new(user, id)));
    }
    Ok(due)
}

impl Tx<'_> {
    pub(super) fn put_schedule(&mut self, schedule: &Schedule) -> StoreResult<()> {
        let key = user_key(&schedule.user, schedule.id.as_bytes());
        let old_at = {
            let schedules = table(&mut self.schedules, self.txn, t::SCHEDULES)?;
            let old = schedules
                .insert(key.as_slice(), encode(schedule)?.as_slice())
                .map_err(io)?;
            old.map(|v| decode::<Schedule>(v.value()))
                .transpose()?
                .and_then(|old| old.indexed_at())
        };
        self.move_tick(&schedule.user, &schedule.id, old_at, schedule.indexed_at())
    }

    pub(super) fn delete_schedule(&mut self, user: &str, id: &str) -> StoreResult<()> {
        let old_at = {
            let schedules = table(&mut self.schedules, self.txn, t::SCHEDULES)?;
            let old = schedules
                .remove(user_key(user, id.as_bytes()).as_slice())
                .map_err(io)?;
            old.map(|v| decode::<Schedule>(v.value()))
                .transpose()?
                .and_then(|old| old.indexed_at())
        };
        self.move_tick(user, id, old_at, None)
    }

    /// Records how a message of the schedule's last tick ended. Messages of older
    /// ticks (or of a replaced or deleted schedule) are ignored.
    pub(super) fn record_schedule_result(
        &mut self,
        user: &str,
        id: &str,
        message_id: String,
        delivered: bool,
    ) -> StoreResult<()> {
        let key = user_key(user, id.as_bytes());
        let schedules = table(&mut self.schedules, self.txn, t::SCHEDULES)?;
        let stored = schedules.get(key.as_slice()).map_err(io)?;
        let Some(mut schedule) = stored.map(|v| decode::<Schedule>(v.value())).transpose()? else {
            return Ok(());
        };
        if !schedule.record_result(&message_id, delivered) {
            return Ok(());
        }
        // The tick index is unchanged: only the history moved.
        schedules
            .insert(key.as_slice(), encode(&schedule)?.as_slice())
            .map_err(io)?;
        Ok(())
    }

    /// Whether the schedule exists, is not paused, and its next tick is `at`.
    pub(super) fn schedule_at(
        &mut self,
        user: &str,
        id: &str,
        at: UnixMillis,
    ) -> StoreResult<bool> {
        let schedules = table(&mut self.schedules, self.txn, t::SCHEDULES)?;
        let value = schedules
            .get(user_key(user, id.as_bytes()).as_slice())
            .map_err(io)?;
        let schedule = value.map(|v| decode::<Schedule>(v.value())).transpose()?;
        Ok(schedule.is_some_and(|s| s.indexed_at() == Some(at)))
    }

    fn move_tick(
        &mut self,
        user: &str,
        id: &str,
        old: Option<UnixMillis>,
        new: Option<UnixMillis>,
    ) -> StoreResult<()> {
        if old == new {
            return Ok(());
        }
        let index = table(&mut self.schedule_due, self.txn, t::SCHEDULE_DUE)?;
        if let Some(at) = old {
            index.remove(due_key(at, user, id).as_slice()).map_err(io)?;
        }
        if let Some(at) = new {
            index
                .insert(due_key(at, user, id).as_slice(), ())
                .map_err(io)?;
        }
        Ok(())
    }
}
