//! Value encoding: postcard, plus a small fixed header in front of the values whose
//! index fields are read far more often than the whole value.
//!
//! * message = `version u8 | state u8 | retried u32 BE | due u64 BE | has_expiry u8 |
//!   expires_at u64 BE | postcard(Message)`. Upserts, guards (`MessageAt`,
//!   `TakePendingMessage`), `pending_ids` and prune read only the 23-byte header,
//!   never decoding headers and bodies.
//! * log entry = `time u64 BE | postcard(LogEntry)`, so that prune reads only the time.
//! * everything else = plain postcard.
//!
//! Decoding is strict (unknown header version, short value, trailing bytes → `Corrupt`):
//! a value that does not decode exactly is a format mismatch, not something to guess at.

use std::fmt::Display;

use depesha_core::log::LogEntry;
use depesha_core::message::{Message, MessageState};
use depesha_core::UnixMillis;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{StoreError, StoreResult};

/// Any redb (or file system) error: the operation did not happen.
pub(super) fn io(err: impl Display) -> StoreError {
    StoreError::Io(err.to_string())
}

pub(super) fn encode<T: Serialize>(value: &T) -> StoreResult<Vec<u8>> {
    postcard::to_allocvec(value)
        .map_err(|e| StoreError::Corrupt(format!("could not encode a value: {e}")))
}

pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> StoreResult<T> {
    let (value, rest) =
        postcard::take_from_bytes(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    if !rest.is_empty() {
        return Err(StoreError::Corrupt(format!(
            "{} trailing bytes after a stored value",
            rest.len()
        )));
    }
    Ok(value)
}

const MESSAGE_VERSION: u8 = 1;
const MESSAGE_HEAD_LEN: usize = 23;

/// The index fields of a stored message, readable without decoding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct MessageHead {
    pub pending: bool,
    pub retried: u32,
    pub due: UnixMillis,
    pub expires_at: Option<UnixMillis>,
}

impl MessageHead {
    pub fn of(message: &Message) -> Self {
        MessageHead {
            pending: message.state == MessageState::Pending,
            retried: message.retried,
            due: message.due,
            expires_at: message.expires_at,
        }
    }

    /// The `MESSAGE_EXPIRY` time: delivered messages with an `expires_at` only.
    pub fn expiry(&self) -> Option<UnixMillis> {
        if self.pending {
            None
        } else {
            self.expires_at
        }
    }

    /// The `DUE` time: pending messages only.
    pub fn due_at(&self) -> Option<UnixMillis> {
        self.pending.then_some(self.due)
    }

    pub fn read(bytes: &[u8]) -> StoreResult<Self> {
        let head: &[u8; MESSAGE_HEAD_LEN] = bytes.first_chunk().ok_or_else(|| {
            StoreError::Corrupt(format!(
                "stored message of {} bytes is too short",
                bytes.len()
            ))
        })?;
        if head[0] != MESSAGE_VERSION {
            return Err(StoreError::Corrupt(format!(
                "stored message has layout version {}, expected {MESSAGE_VERSION}",
                head[0]
            )));
        }
        let pending = match head[1] {
            0 => true,
            1 => false,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "stored message has state byte {other}"
                )))
            }
        };
        let u32_at =
            |at: usize| u32::from_be_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
        let u64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&head[at..at + 8]);
            u64::from_be_bytes(b)
        };
        Ok(MessageHead {
            pending,
            retried: u32_at(2),
            due: u64_at(6),
            expires_at: match head[14] {
                0 => None,
                1 => Some(u64_at(15)),
                other => {
                    return Err(StoreError::Corrupt(format!(
                        "stored message has expiry flag {other}"
                    )))
                }
            },
        })
    }
}

pub(super) fn encode_message(message: &Message) -> StoreResult<(MessageHead, Vec<u8>)> {
    let head = MessageHead::of(message);
    let mut buf = Vec::with_capacity(MESSAGE_HEAD_LEN + 256 + message.body.len());
    buf.push(MESSAGE_VERSION);
    buf.push(if head.pending { 0 } else { 1 });
    buf.extend_from_slice(&head.retried.to_be_bytes());
    buf.extend_from_slice(&head.due.to_be_bytes());
    buf.push(u8::from(head.expires_at.is_some()));
    buf.extend_from_slice(&head.expires_at.unwrap_or(0).to_be_bytes());
    let buf = postcard::to_extend(message, buf).map_err(|e| {
        StoreError::Corrupt(format!("could not encode message {}: {e}", message.id))
    })?;
    Ok((head, buf))
}

pub(super) fn decode_message(bytes: &[u8]) -> StoreResult<Message> {
    MessageHead::read(bytes)?;
    decode(&bytes[MESSAGE_HEAD_LEN..])
}

pub(super) fn encode_log(entry: &LogEntry) -> StoreResult<Vec<u8>> {
    let mut buf = Vec::with_capacity(8 + 256);
    buf.extend_from_slice(&entry.time.to_be_bytes());
    postcard::to_extend(entry, buf)
        .map_err(|e| StoreError::Corrupt(format!("could not encode a log entry: {e}")))
}

/// The `time` of a stored log entry, without decoding it.
pub(super) fn log_time(bytes: &[u8]) -> StoreResult<UnixMillis> {
    bytes
        .first_chunk::<8>()
        .map(|t| u64::from_be_bytes(*t))
        .ok_or_else(|| StoreError::Corrupt("stored log entry is too short".into()))
}

pub(super) fn decode_log(bytes: &[u8]) -> StoreResult<LogEntry> {
    log_time(bytes)?;
    decode(&bytes[8..])
}
