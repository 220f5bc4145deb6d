//! Value encoding: postcard, plus a small fixed header in front of the values whose
//! index fields are read far more often than the whole value.
//!
//! * message = `version u8 | state u8 | retried u32 BE | due u64 BE | has_expiry u8 |
//!   expires_at u64 BE | postcard(Message)`, state being 0 pending, 1 delivered,
//!   2 queued, 3 waiting. Upserts, guards (`MessageAt`, `TakePendingMessage`),
//!   `pending_ids` and prune read only the 23-byte header, never decoding headers and
//!   bodies. (The one exception: moving a *waiting* message needs its flow-control key,
//!   which is in the body.)
//! * log entry = `time u64 BE | postcard(LogEntry)`, so that prune reads only the time.
//! * everything else = plain postcard.
//!
//! Every value goes through its record type (`stored/`): `encode` and `decode` take
//! the domain type and write or read its [`Record::Stored`] form, never the domain
//! type's own serde shape.
//!
//! Decoding is strict (unknown header version, short value, trailing bytes → `Corrupt`):
//! a value that does not decode exactly is a format mismatch, not something to guess at.

use super::stored::Record;
use crate::{Cause, StoreError, StoreResult};
use depesha_core::log::LogEntry;
use depesha_core::message::{Message, MessageState};
use depesha_core::UnixMillis;

/// The message of the error that means "redb hit an I/O error earlier and refuses all
/// work until the database is reopened"; `EmbeddedStore` reopens when it sees it.
pub(super) const REOPEN_NEEDED: &str =
    "storage failed earlier (full disk or I/O error); the database is being reopened, retry";

/// Any redb error: the operation did not happen. redb's own corruption reports become
/// `Corrupt`; a failed write or fsync (`Io`) and everything after it (`PreviousIo`,
/// until the database is reopened) become `Io`, see [`needs_reopen`].
pub(super) fn io(err: impl Into<redb::Error>) -> StoreError {
    match err.into() {
        redb::Error::Corrupted(message) => StoreError::Corrupt(message.into()),
        redb::Error::PreviousIo | redb::Error::DatabaseClosed => {
            StoreError::Io(REOPEN_NEEDED.into())
        }
        redb::Error::Io(e) => StoreError::io(REDB_IO_FAILED, e),
        other => StoreError::Io(Cause::of(other)),
    }
}

/// What a failed file operation of redb's is called (its cause is the `io::Error`).
const REDB_IO_FAILED: &str = "I/O error";

/// Whether `err` comes from a failed file operation, after which redb refuses all
/// further work until the database is closed and reopened.
pub(super) fn needs_reopen(err: &StoreError) -> bool {
    matches!(err, StoreError::Io(c) if c.what() == REOPEN_NEEDED || c.what() == REDB_IO_FAILED)
}

/// `value` as its record type, in postcard.
pub(super) fn encode<T: Record>(value: &T) -> StoreResult<Vec<u8>> {
    postcard::to_allocvec(&value.to_stored())
        .map_err(|e| StoreError::corrupt("could not encode a value", e))
}

/// A value stored as `T`'s record type.
pub(super) fn decode<T: Record>(bytes: &[u8]) -> StoreResult<T> {
    let (stored, rest) =
        postcard::take_from_bytes(bytes).map_err(|e| StoreError::corrupt("a stored value", e))?;
    if !rest.is_empty() {
        return Err(StoreError::Corrupt(
            format!("{} trailing bytes after a stored value", rest.len()).into(),
        ));
    }
    T::from_stored(stored)
}

const MESSAGE_VERSION: u8 = 2;
const MESSAGE_HEAD_LEN: usize = 23;

/// The index fields of a stored message, readable without decoding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct MessageHead {
    pub state: MessageState,
    pub retried: u32,
    pub due: UnixMillis,
    pub expires_at: Option<UnixMillis>,
}

impl MessageHead {
    pub fn of(message: &Message) -> Self {
        MessageHead {
            state: message.state,
            retried: message.retried,
            due: message.due,
            expires_at: message.expires_at,
        }
    }

    pub fn is_pending(&self) -> bool {
        self.state == MessageState::Pending
    }

    /// The `MESSAGE_EXPIRY` time: delivered messages with an `expires_at` only.
    pub fn expiry(&self) -> Option<UnixMillis> {
        if self.state == MessageState::Delivered {
            self.expires_at
        } else {
            None
        }
    }

    /// The `DUE` time: pending messages only.
    pub fn due_at(&self) -> Option<UnixMillis> {
        self.is_pending().then_some(self.due)
    }

    pub fn read(bytes: &[u8]) -> StoreResult<Self> {
        let head: &[u8; MESSAGE_HEAD_LEN] = bytes.first_chunk().ok_or_else(|| {
            StoreError::Corrupt(
                format!("stored message of {} bytes is too short", bytes.len()).into(),
            )
        })?;
        if head[0] != MESSAGE_VERSION {
            return Err(StoreError::Corrupt(
                format!(
                    "stored message has layout version {}, expected {MESSAGE_VERSION}",
                    head[0]
                )
                .into(),
            ));
        }
        let state = state_of_byte(head[1]).ok_or_else(|| {
            StoreError::Corrupt(format!("stored message has state byte {}", head[1]).into())
        })?;
        let u32_at =
            |at: usize| u32::from_be_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
        let u64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&head[at..at + 8]);
            u64::from_be_bytes(b)
        };
        Ok(MessageHead {
            state,
            retried: u32_at(2),
            due: u64_at(6),
            expires_at: match head[14] {
                0 => None,
                1 => Some(u64_at(15)),
                other => {
                    return Err(StoreError::Corrupt(
                        format!("stored message has expiry flag {other}").into(),
                    ))
                }
            },
        })
    }
}

pub(super) fn encode_message(message: &Message) -> StoreResult<(MessageHead, Vec<u8>)> {
    let head = MessageHead::of(message);
    let mut buf = Vec::with_capacity(MESSAGE_HEAD_LEN + 256 + message.body.len());
    buf.push(MESSAGE_VERSION);
    buf.push(state_byte(head.state));
    buf.extend_from_slice(&head.retried.to_be_bytes());
    buf.extend_from_slice(&head.due.to_be_bytes());
    buf.push(u8::from(head.expires_at.is_some()));
    buf.extend_from_slice(&head.expires_at.unwrap_or(0).to_be_bytes());
    let buf = postcard::to_extend(&message.to_stored(), buf)
        .map_err(|e| StoreError::corrupt(format!("could not encode message {}", message.id), e))?;
    Ok((head, buf))
}

fn state_byte(state: MessageState) -> u8 {
    match state {
        MessageState::Pending => 0,
        MessageState::Delivered => 1,
        MessageState::Queued => 2,
        MessageState::Waiting => 3,
    }
}

fn state_of_byte(byte: u8) -> Option<MessageState> {
    match byte {
        0 => Some(MessageState::Pending),
        1 => Some(MessageState::Delivered),
        2 => Some(MessageState::Queued),
        3 => Some(MessageState::Waiting),
        _ => None,
    }
}

pub(super) fn decode_message(bytes: &[u8]) -> StoreResult<Message> {
    MessageHead::read(bytes)?;
    decode(&bytes[MESSAGE_HEAD_LEN..])
}

pub(super) fn encode_log(entry: &LogEntry) -> StoreResult<Vec<u8>> {
    let mut buf = Vec::with_capacity(8 + 256);
    buf.extend_from_slice(&entry.time.to_be_bytes());
    postcard::to_extend(&entry.to_stored(), buf)
        .map_err(|e| StoreError::corrupt("could not encode a log entry", e))
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

#[cfg(test)]
mod tests {
    use super::super::stored::DedupClaim;
    use super::*;

    #[test]
    fn message_head_round_trips() {
        for (state, retried, due, expires_at) in [
            (MessageState::Pending, 0, 0, None),
            (MessageState::Delivered, u32::MAX, u64::MAX, Some(u64::MAX)),
            (MessageState::Delivered, 3, 17, Some(0)),
            (MessageState::Queued, 1, 2, None),
            (MessageState::Waiting, 0, 9, Some(4)),
        ] {
            let head = MessageHead {
                state,
                retried,
                due,
                expires_at,
            };
            assert_eq!(state_of_byte(state_byte(state)), Some(state));
            let mut bytes = vec![MESSAGE_VERSION, state_byte(state)];
            bytes.extend_from_slice(&retried.to_be_bytes());
            bytes.extend_from_slice(&due.to_be_bytes());
            bytes.push(u8::from(expires_at.is_some()));
            bytes.extend_from_slice(&expires_at.unwrap_or(0).to_be_bytes());
            assert_eq!(MessageHead::read(&bytes).expect("valid"), head);
        }
    }

    #[test]
    fn malformed_values_are_corrupt_not_panics() {
        assert!(matches!(
            MessageHead::read(&[1, 0, 0]),
            Err(StoreError::Corrupt(_))
        ));
        let mut wrong_version = vec![9u8; MESSAGE_HEAD_LEN];
        wrong_version[1] = 0;
        assert!(matches!(
            MessageHead::read(&wrong_version),
            Err(StoreError::Corrupt(_))
        ));
        let mut wrong_state = vec![0u8; MESSAGE_HEAD_LEN];
        wrong_state[0] = MESSAGE_VERSION;
        wrong_state[1] = 4;
        assert!(matches!(
            MessageHead::read(&wrong_state),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            decode_message(&[1u8; 40]),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(decode_log(&[0u8; 3]), Err(StoreError::Corrupt(_))));
        let mut trailing = encode::<DedupClaim>(&(vec!["a".to_string()], 5u64)).expect("encode");
        trailing.push(0);
        assert!(matches!(
            decode::<DedupClaim>(&trailing),
            Err(StoreError::Corrupt(_))
        ));
    }
}
