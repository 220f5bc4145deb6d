//! The read traits of [`EmbeddedStore`]: each runs its query (`reads.rs`,
//! `records.rs`, `queues.rs`, `flow.rs`, `schedules.rs`) on the current database,
//! once more after a reopen when the first try met an I/O error.

use async_trait::async_trait;
use depesha_core::dlq::DlqEntry;
use depesha_core::filter::{Filter, Order};
use depesha_core::flow_key::FlowKey;
use depesha_core::keys::SigningKeys;
use depesha_core::log::LogEntry;
use depesha_core::message::Message;
use depesha_core::queue::{Queue, QueuePosition};
use depesha_core::refs::{FlowKeyRef, QueueRef, ScheduleRef};
use depesha_core::schedule::Schedule;
use depesha_core::url_group::UrlGroup;
use depesha_core::UnixMillis;

use super::{flow, queues, reads, records, schedules, tables, EmbeddedStore};
use crate::{
    DlqStore, DueKey, FlowKeyStore, GroupStore, KeyStore, LogStore, MessageStore, Page, QueueStore,
    ScheduleStore, StoreResult,
};

#[async_trait]
impl MessageStore for EmbeddedStore {
    async fn message(&self, user: &str, id: &str) -> StoreResult<Option<Message>> {
        self.with(true, |db| reads::message(db, user, id))
    }

    async fn due(
        &self,
        after: Option<&DueKey>,
        until: UnixMillis,
        limit: usize,
    ) -> StoreResult<Vec<DueKey>> {
        self.with(true, |db| reads::due(db, after, until, limit))
    }

    async fn pending_ids(
        &self,
        user: &str,
        filter: &Filter,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        self.with(true, |db| reads::pending_ids(db, user, filter, limit))
    }

    async fn pending_count(&self) -> StoreResult<u64> {
        self.with(true, reads::pending_count)
    }
}

#[async_trait]
impl DlqStore for EmbeddedStore {
    async fn dlq_entry(&self, user: &str, dlq_id: &str) -> StoreResult<Option<DlqEntry>> {
        self.with(true, |db| reads::dlq_entry(db, user, dlq_id))
    }

    async fn dlq_page(
        &self,
        user: &str,
        filter: &Filter,
        cursor: Option<&str>,
        count: usize,
        order: Order,
    ) -> StoreResult<Page<DlqEntry>> {
        self.with(true, |db| {
            reads::dlq_page(db, user, filter, cursor, count, order)
        })
    }
}

#[async_trait]
impl LogStore for EmbeddedStore {
    async fn log_page(
        &self,
        user: &str,
        filter: &Filter,
        cursor: Option<&str>,
        count: usize,
        order: Order,
    ) -> StoreResult<Page<LogEntry>> {
        self.with(true, |db| {
            reads::log_page(db, user, filter, cursor, count, order)
        })
    }
}

#[async_trait]
impl KeyStore for EmbeddedStore {
    async fn keys(&self, user: &str) -> StoreResult<Option<SigningKeys>> {
        self.with(true, |db| reads::keys(db, user))
    }
}

#[async_trait]
impl GroupStore for EmbeddedStore {
    async fn group(&self, user: &str, name: &str) -> StoreResult<Option<UrlGroup>> {
        self.with(true, |db| records::record(db, tables::GROUPS, user, name))
    }

    async fn groups(&self, user: &str) -> StoreResult<Vec<UrlGroup>> {
        self.with(true, |db| records::records(db, tables::GROUPS, user))
    }
}

#[async_trait]
impl QueueStore for EmbeddedStore {
    async fn queue(&self, user: &str, name: &str) -> StoreResult<Option<Queue>> {
        self.with(true, |db| records::record(db, tables::QUEUES, user, name))
    }

    async fn queues(&self, user: &str) -> StoreResult<Vec<Queue>> {
        self.with(true, |db| records::records(db, tables::QUEUES, user))
    }

    async fn queues_with_items(&self) -> StoreResult<Vec<QueueRef>> {
        self.with(true, queues::queues_with_items)
    }

    async fn queue_lag(&self, user: &str, name: &str) -> StoreResult<u64> {
        self.with(true, |db| queues::queue_lag(db, user, name))
    }

    async fn queue_items(
        &self,
        user: &str,
        name: &str,
        limit: usize,
    ) -> StoreResult<Vec<(QueuePosition, String)>> {
        self.with(true, |db| queues::queue_items(db, user, name, limit))
    }
}

#[async_trait]
impl FlowKeyStore for EmbeddedStore {
    async fn flow_key(&self, user: &str, key: &str) -> StoreResult<Option<FlowKey>> {
        self.with(true, |db| records::record(db, tables::FLOW_KEYS, user, key))
    }

    async fn flow_keys(&self, user: &str) -> StoreResult<Vec<FlowKey>> {
        self.with(true, |db| records::records(db, tables::FLOW_KEYS, user))
    }

    async fn waiting_count(&self, user: &str, key: &str, limit: u64) -> StoreResult<u64> {
        self.with(true, |db| flow::waiting_count(db, user, key, limit))
    }

    async fn keys_with_waiting(&self) -> StoreResult<Vec<FlowKeyRef>> {
        self.with(true, flow::keys_with_waiting)
    }
}

#[async_trait]
impl ScheduleStore for EmbeddedStore {
    async fn schedule(&self, user: &str, id: &str) -> StoreResult<Option<Schedule>> {
        self.with(true, |db| records::record(db, tables::SCHEDULES, user, id))
    }

    async fn schedules(&self, user: &str) -> StoreResult<Vec<Schedule>> {
        self.with(true, |db| records::records(db, tables::SCHEDULES, user))
    }

    async fn due_schedules(
        &self,
        until: UnixMillis,
        limit: usize,
    ) -> StoreResult<Vec<(UnixMillis, ScheduleRef)>> {
        self.with(true, |db| schedules::due_schedules(db, until, limit))
    }
}
