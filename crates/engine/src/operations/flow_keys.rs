//! Flow-control keys (spec §3.10): pause, resume, pin, unpin, reset the rate. A key
//! exists once a message carrying it was published; every change is stored first,
//! then handed to the gate, which releases the waiting messages that may now start.

use depesha_core::flow_key::{FlowKey, Pin};
use depesha_store::{Unit, Write};

use crate::error::{EngineError, Missing};
use crate::Engine;

impl Engine {
    /// Paused: deliveries stop, new messages go to the wait-list, the rate period
    /// keeps running.
    pub async fn set_flow_paused(
        &self,
        user: &str,
        key: &str,
        paused: bool,
    ) -> Result<(), EngineError> {
        let mut flow = self.existing_flow_key(user, key).await?;
        flow.paused = paused;
        self.save_flow_key(flow).await
    }

    /// These limits hold, whatever new messages carry, until unpinned. Pinning starts
    /// a new rate period.
    pub async fn pin_flow(&self, user: &str, key: &str, pin: &Pin) -> Result<(), EngineError> {
        let mut flow = self.existing_flow_key(user, key).await?;
        flow.pin(pin, self.clock().now());
        self.save_flow_key(flow).await?;
        self.restart_flow_period(user, key).await;
        Ok(())
    }

    /// The pinned limits named stay until a message brings new ones.
    pub async fn unpin_flow(
        &self,
        user: &str,
        key: &str,
        parallelism: bool,
        rate: bool,
    ) -> Result<(), EngineError> {
        let mut flow = self.existing_flow_key(user, key).await?;
        flow.unpin(parallelism, rate, self.clock().now());
        self.save_flow_key(flow).await
    }

    /// `resetRate`: the started count goes to 0 and a new period begins now.
    pub async fn reset_flow_rate(&self, user: &str, key: &str) -> Result<(), EngineError> {
        self.existing_flow_key(user, key).await?;
        self.restart_flow_period(user, key).await;
        Ok(())
    }

    async fn existing_flow_key(&self, user: &str, key: &str) -> Result<FlowKey, EngineError> {
        Ok(self
            .store()
            .flow_key(user, key)
            .await?
            .ok_or_else(|| Missing::FlowKey(key.to_string()))?)
    }

    /// Stores new limits and hands them to the gate.
    async fn save_flow_key(&self, flow: FlowKey) -> Result<(), EngineError> {
        self.commit(vec![Unit::new(vec![Write::PutFlowKey(flow.clone())])])
            .await?;
        self.flow_limits_changed(flow).await;
        Ok(())
    }
}
