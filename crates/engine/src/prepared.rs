//! Deliveries prepared ahead of their due time, and how a cancel reaches them.
//!
//! Delayed messages come due in bursts: `Upstash-Not-Before` is in whole seconds, so
//! every message of a second is due at its first millisecond. The dispatcher therefore
//! starts a delivery a little before its due time; the worker reads the message, signs
//! and builds the request, and waits for the due time to send it. The burst then only
//! has to send.
//!
//! A message can be cancelled while its request waits. The store no longer holds it
//! then, but the worker read it before; so the worker registers a [`Ticket`] *before*
//! reading, and the engine withdraws the ticket of every message a commit took away,
//! before that commit's caller is answered. Either the read sees the cancel, or the
//! cancel sees the ticket: a message whose cancel was answered is never sent after its
//! wait.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use depesha_core::refs::MessageRef;

/// The deliveries waiting for their due time, by message.
#[derive(Default)]
pub(crate) struct PreparedDeliveries {
    waiting: Arc<Mutex<HashMap<MessageRef, Arc<AtomicBool>>>>,
}

/// A waiting delivery's registration; dropping it unregisters.
pub(crate) struct Ticket {
    key: MessageRef,
    withdrawn: Arc<AtomicBool>,
    waiting: Arc<Mutex<HashMap<MessageRef, Arc<AtomicBool>>>>,
}

impl PreparedDeliveries {
    /// Registers the delivery of a message, before it is read.
    pub(crate) fn register(&self, message: &MessageRef) -> Ticket {
        let key = message.clone();
        let withdrawn = Arc::new(AtomicBool::new(false));
        if let Ok(mut waiting) = self.waiting.lock() {
            waiting.insert(key.clone(), withdrawn.clone());
        }
        Ticket {
            key,
            withdrawn,
            waiting: self.waiting.clone(),
        }
    }

    /// The message was taken out of the store (cancelled): its waiting delivery, if
    /// any, must not be sent.
    pub(crate) fn withdraw(&self, message: &MessageRef) {
        if let Ok(waiting) = self.waiting.lock() {
            if let Some(flag) = waiting.get(message) {
                flag.store(true, Ordering::SeqCst);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.waiting.lock().map(|w| w.len()).unwrap_or(0)
    }
}

impl Ticket {
    /// Whether the message was taken since the ticket was registered.
    pub(crate) fn withdrawn(&self) -> bool {
        self.withdrawn.load(Ordering::SeqCst)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Ok(mut waiting) = self.waiting.lock() {
            // Only our own entry: a later registration of the same message (a retry
            // prepared after this one ended) has its own flag.
            if waiting
                .get(&self.key)
                .is_some_and(|flag| Arc::ptr_eq(flag, &self.withdrawn))
            {
                waiting.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str) -> MessageRef {
        MessageRef::new("u", id)
    }

    #[test]
    fn a_withdrawn_message_is_seen_by_its_ticket_and_only_by_it() {
        let prepared = PreparedDeliveries::default();
        let a = prepared.register(&message("msg_a"));
        let b = prepared.register(&message("msg_b"));
        prepared.withdraw(&message("msg_a"));
        assert!(a.withdrawn());
        assert!(!b.withdrawn());
    }

    #[test]
    fn withdrawing_a_message_nobody_waits_for_changes_nothing() {
        let prepared = PreparedDeliveries::default();
        prepared.withdraw(&message("msg_a"));
        let a = prepared.register(&message("msg_a"));
        assert!(!a.withdrawn(), "a withdrawal does not outlive its moment");
    }

    #[test]
    fn a_dropped_ticket_unregisters_without_removing_a_newer_one() {
        let prepared = PreparedDeliveries::default();
        let old = prepared.register(&message("msg_a"));
        let new = prepared.register(&message("msg_a"));
        drop(old);
        assert_eq!(prepared.len(), 1);
        prepared.withdraw(&message("msg_a"));
        assert!(new.withdrawn());
        drop(new);
        assert_eq!(prepared.len(), 0);
    }
}
