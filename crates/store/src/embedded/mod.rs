//! The embedded backend: one [redb](https://www.redb.org) file, `depesha.redb`, in the
//! data directory.
//!
//! # Durability
//!
//! Every [`Store::commit`] is one redb write transaction, made durable by the store's
//! write-ahead journal (`journal.rs`, the file `depesha.journal` beside the database):
//! the units are applied in a transaction committed with [`redb::Durability::None`],
//! but only after their record was appended to the journal and fsync'd. When `commit`
//! returns `Ok`, the record is on disk; readers never see a commit before that. A
//! durable redb commit rewrites and fsyncs every page the transaction touched, a fixed
//! ~1.5 ms per commit on the development machine, against ~0.1–0.3 ms for one journal
//! append (see BENCHMARKS.md).
//!
//! A *checkpoint* — a durable redb commit — is made by [`Store::maintain`] (which
//! [`Store::commit`] calls, and the engine's committer calls after answering a
//! commit's callers) once the journal holds [`StoreOptions::checkpoint_bytes`] (1 MiB)
//! or [`StoreOptions::checkpoint_interval`] (10 s) has passed; then the journal starts
//! again from its beginning. The checkpoint writes every page redb buffered since the
//! last one and holds its single writer meanwhile, so its pause grows with the
//! journal: ~3 ms at 1 MiB, 50–110 ms after 10 s at 5,000 msg/s (BENCHMARKS.md).
//!
//! `meta.journal_lsn` holds the LSN of the last commit applied, written in every
//! transaction (so whichever durable commit comes next — a checkpoint, a prune, a
//! fallback — records which commits it made durable), so on open the records above the LSN of redb's durable state are
//! applied again, in order, in one durable transaction (applying is deterministic:
//! guards and writes depend only on the stored state and the units). Prune commits
//! durably by itself, which is a checkpoint too (its deletes are not journaled, and
//! must never be lost behind a journaled commit that relied on them). A clean close
//! makes a last checkpoint, so a restart after SIGTERM has nothing to replay.
//!
//! redb is copy-on-write with checksummed commit slots, so after `kill -9` or power
//! loss the file reopens at the last durable commit and the journal brings it to the
//! last acknowledged commit. Every durable commit records redb's allocator state
//! ("quick repair", `commit::make_durable`), so that first open loads it instead of
//! walking the whole file to rebuild it: restart after a crash costs the journal's
//! replay, not the store's size. A failed write (full disk, I/O error) aborts the
//! transaction: nothing of that commit is applied. When the journal cannot take a
//! record (a full disk), the commit falls back to a durable redb commit, which may
//! still fit in the database's free pages; when replaying after a crash cannot be
//! made durable (a full disk again), the replayed commits are applied without
//! durability and stay in the journal, so reads keep working.
//!
//! After a failed write or fsync, redb refuses all further work on that handle
//! ("previous I/O error"). The store then closes and reopens the file by itself (the
//! failing call still returns `Io`; a read is retried once on the new handle, a commit
//! is not, since its caller decides about retries) and replays the journal, so a full
//! disk heals as soon as space is freed, without restarting the server. Only durable
//! commits (checkpoints, prunes, that fallback) can leave redb in that state, and after
//! one failed the store tries none until space comes back (`space.rs`): on a full disk
//! a write the journal cannot take then fails at once, without a reopen, and reads go
//! on. [`EmbeddedStore::recoveries`] counts the reopens and full repairs. The directory
//! is fsync'd after the file is created, so a new data file's directory entry survives
//! power loss too.
//!
//! Stored values, and the journal's payload, are the store's own record types
//! (`stored/`, postcard), converted from and to the domain types: a change to a domain
//! type does not change the file format. The format has a version (`meta.format`);
//! opening a file of an earlier version upgrades it, one newer than this build is
//! refused (`upgrade/`).
//!
//! # Layout
//!
//! Keys are bytes; numbers in keys are big-endian so byte order is numeric order, and
//! user-scoped keys start with `user \0` so one user's rows are one contiguous range
//! (user names never contain NUL). See `tables.rs` for the exact key encodings and
//! `codec.rs` for values.
//!
//! | table            | key                                   | value                          |
//! |------------------|---------------------------------------|--------------------------------|
//! | `messages`       | `user \0 id`                          | 23-byte index header ++ `MessageV1` |
//! | `due`            | `due BE ++ user \0 id`                | `()`                           |
//! | `message_expiry` | `expires_at BE ++ user \0 id`         | `()`                           |
//! | `dlq`            | `user \0 failed_at BE ++ seq BE`      | `DlqEntryV1`                   |
//! | `dlq_expiry`     | `expires_at BE ++ <dlq key>`          | `()`                           |
//! | `logs`           | `user \0 seq BE`                      | `time BE ++ LogEntryV1`        |
//! | `dedup`          | `user \0 dedup-key`                   | `DedupClaimV1`                 |
//! | `dedup_expiry`   | `expires_at BE ++ <dedup key>`        | `()`                           |
//! | `keys`           | `user` (str)                          | `SigningKeysV1`                |
//! | `groups`         | `user \0 name`                        | `UrlGroupV1`                   |
//! | `queues`         | `user \0 name`                        | `QueueV1`                      |
//! | `queue_items`    | `user \0 queue \0 enqueued_at BE ++ seq BE` | holder message id (UTF-8) |
//! | `flow_keys`      | `user \0 key`                         | `FlowKeyV1`                    |
//! | `flow_wait`      | `user \0 flow-key \0 due BE ++ id`    | `()`                           |
//! | `schedules`      | `user \0 id`                          | `ScheduleV1`                   |
//! | `schedule_due`   | `next_schedule_time BE ++ user \0 id` | `()`                           |
//! | `meta`           | name (str)                            | `u64` (`log_seq`, `journal_lsn`, `format`) |
//!
//! Why these indexes:
//!
//! * `due` holds exactly the pending messages, keyed in `(due, user, id)` order, so the
//!   dispatcher's [`MessageStore::due`] is a range scan that touches only due rows, and
//!   [`MessageStore::pending_count`] is its length (O(1) in redb). `PutMessage` moves
//!   the key when `due` or the state changes; deletes and takes remove it. Every key a
//!   unit's writes set in `due` — every `PutMessage` of a pending message (also one
//!   that leaves its key where it was), `FillQueue`, `ReleaseWaiting` — is reported
//!   once in its outcome's `became_due`, unless a later write of the same unit
//!   removed it again.
//! * `flow_wait` holds exactly the waiting messages, one contiguous range per
//!   flow-control key in `(due, id)` order: `ReleaseWaiting` takes the head of the
//!   range, [`FlowKeyStore::waiting_count`] counts it. It is kept in step by the same
//!   message writes as `due` (a waiting message's key is in its body, so moving a
//!   message *out* of waiting decodes the stored version — the only write that does).
//! * `queue_items` is each queue's line, one contiguous range per queue in position
//!   order: `FillQueue` reads its first `parallelism` items, `queue_lag` counts it.
//!   Items are written explicitly (`PutQueueItem`, `DeleteQueueItem`); a queued
//!   message itself is in no index until `FillQueue` makes it pending.
//! * `queues_with_items` and `keys_with_waiting` list the distinct `(user, name)`
//!   prefixes of `queue_items` / `flow_wait` with one seek per pair, skipping over the
//!   rest of each pair's range rather than reading it.
//! * `schedule_due` holds exactly the unpaused schedules at their next tick, so
//!   [`ScheduleStore::due_schedules`] is a range scan up to `until`.
//! * `message_expiry`, `dlq_expiry` and `dedup_expiry` let prune find what has expired
//!   with one range scan up to `now`, instead of scanning everything.
//! * The message value starts with a fixed header (state, retried, due, expires_at) so
//!   that upserts, guards, `pending_ids` and prune never decode bodies they don't need.
//! * Log `seq` comes from the `log_seq` counter in `meta`, written in the same
//!   transaction as the entries, so it never goes back, even after a crash. It is
//!   global (shared by all users): per user it is increasing, with gaps.
//! * `meta.format` records the format version (`upgrade/`); an earlier one is
//!   upgraded on open, a newer one refused instead of misread.
//!
//! # Guards and their choices
//!
//! Guards run inside the commit's write transaction, in unit order, so they see what
//! earlier units of the same commit wrote.
//!
//! * `ClaimDedup`: a stored claim is live for as long as it is stored. `commit` has no
//!   clock, so it cannot tell an expired claim from a live one; [`Store::prune`] removes
//!   claims once `expires_at <= now`. A deduplication window therefore lasts up to one
//!   prune interval longer than asked — never shorter.
//! * `TakePendingMessage` holds for an unfinished (pending, queued or waiting) message;
//!   `TakeDlq` for an existing entry. Both remove the row and its index entries (due
//!   index, wait-list, expiry) and return it. A taken message's queue item stays: the
//!   cancel unit deletes it with its own `DeleteQueueItem`.
//! * `MessageAt` holds when the message exists, is pending and `retried` matches.
//! * `ScheduleAt` holds when the schedule exists, is not paused and its stored
//!   `next_schedule_time` is the guard's; it changes nothing itself (the unit's
//!   `PutSchedule` moves the tick, after which the same guard no longer holds).
//!
//! A `PutMessage` of a waiting message without a flow-control key, or a queue name /
//! flow-control key containing NUL in `PutQueueItem` / a waiting message, fails the
//! whole commit (caller bugs, reported as `Corrupt`; see `tables.rs`).
//!
//! A `PutDlq` whose `dlq_id` is not `"<failed_at>-<seq>"` fails the whole commit (a
//! caller bug, reported as `Corrupt`); reads and `TakeDlq` treat such ids as absent.
//!
//! # Cursors
//!
//! `next_cursor` is the key of the next item to return — the lookahead match found
//! after the page was full — so a page starts at its cursor inclusively. DLQ cursors
//! are DLQ ids (`"1725323658779-0"`), log cursors are decimal seqs. It is `None` on the
//! last page. A cursor that does not parse is [`StoreError::InvalidCursor`].
//!
//! # Expiry and reads
//!
//! Reads have no clock either: a delivered message, DLQ entry or claim past its
//! `expires_at` stays readable until prune removes it.

mod codec;
mod commit;
mod flow;
mod handle;
mod journal;
mod open;
mod options;
mod prune;
mod queues;
mod read_impls;
mod reads;
mod records;
mod recoveries;
mod schedules;
mod space;
mod store_impl;
mod stored;
mod tables;
mod upgrade;

#[cfg(test)]
mod tests;

// For the links of the documentation above.
#[cfg(doc)]
use crate::{FlowKeyStore, MessageStore, ScheduleStore, Store, StoreError};

pub use handle::EmbeddedStore;
pub use options::StoreOptions;
pub use recoveries::Recoveries;
pub use upgrade::FORMAT_VERSION;

/// The data file's name inside the data directory.
pub const FILE_NAME: &str = "depesha.redb";
pub use journal::FILE_NAME as JOURNAL_FILE_NAME;
