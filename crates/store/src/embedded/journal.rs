//! The write-ahead journal: the durable step of every commit.
//!
//! A durable redb commit rewrites and fsyncs every B-tree page the transaction touched
//! (about 170 pages for a typical group commit), and that costs about 1.5 ms whatever
//! the batch holds. The embedded store therefore commits to redb *without* durability
//! (the pages stay in redb's write buffer, visible to readers) and makes each commit
//! durable by appending its units to this journal, one sequential write and one
//! `fdatasync`. Once the journal holds 1 MiB (or after 10 s) a *checkpoint* makes
//! redb's state durable in one go, after which the journal starts again from its
//! beginning.
//!
//! # Format
//!
//! A sequence of records, each `len u32 LE | crc32 u32 LE | lsn u64 LE | payload`,
//! where `payload` is `len` bytes (the units of one commit, as `stored::UnitV1` in postcard) and the
//! CRC covers the LSN and the payload. LSNs count commits; each record's is one more
//! than the one before it.
//!
//! After a checkpoint the file is written again from offset 0 instead of being
//! truncated (so that an `fdatasync` has no file size to update). Reading therefore
//! takes the run of valid records with consecutive LSNs from the start of the file and
//! stops at the first record that is torn (short, bad CRC) or out of sequence: what
//! lies beyond is either a commit cut short by a crash — never acknowledged — or a
//! record of an earlier round, already covered by a checkpoint.
//!
//! Which records still matter is decided by the store: redb's `meta` table holds the
//! LSN of the last commit applied, so after a crash the records above the LSN of the
//! last *durable* redb state are applied again (see `open_database` in `mod.rs`).

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::{StoreError, StoreResult};

/// The journal's name inside the data directory.
pub const FILE_NAME: &str = "depesha.journal";

/// `len | crc | lsn`.
const HEADER_LEN: usize = 16;
/// A larger length field is taken as garbage, not as a record to allocate for.
const MAX_PAYLOAD: usize = 1 << 30;
/// Space the file keeps allocated beyond the end of its last record, and the step by
/// which it grows. When the disk fills up, the commit that cannot have its slack is
/// still written if it fits in the slack left, so small commits — the deletes that
/// free space, above all — still go through after large ones no longer do.
const SLACK: u64 = 64 * 1024;

/// One journaled commit: its LSN and its encoded units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Record {
    pub lsn: u64,
    pub payload: Vec<u8>,
}

pub(super) struct Journal {
    file: File,
    path: PathBuf,
    /// Where the next record is written.
    end: u64,
    /// Where the last record written starts (to take it back).
    last_start: u64,
    /// How much of the file is allocated (its length; written, not sparse).
    allocated: u64,
    /// The LSN of the last record written, or of the state the journal restarted from.
    last_lsn: u64,
    /// When the journal last restarted (the last checkpoint).
    restarted_at: Instant,
    /// Set when a failed record could not be taken back: its bytes may or may not be
    /// on disk, so no further commit may be acknowledged until the store is reopened
    /// (which reads the journal again and decides).
    broken: bool,
    buffer: Vec<u8>,
}

impl Journal {
    /// Opens (or creates) the journal in `dir` and reads the records it holds.
    pub(super) fn open(dir: &Path) -> StoreResult<(Journal, Vec<Record>)> {
        let path = dir.join(FILE_NAME);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io_error(&path, "opening", e))?;
        let records = read_records(&file).map_err(|e| io_error(&path, "reading", e))?;
        let allocated = file
            .metadata()
            .map_err(|e| io_error(&path, "reading", e))?
            .len();
        let journal = Journal {
            file,
            path,
            end: 0,
            last_start: 0,
            allocated,
            last_lsn: 0,
            restarted_at: Instant::now(),
            broken: false,
            buffer: Vec::new(),
        };
        Ok((journal, records))
    }

    /// The LSN the next commit gets.
    pub(super) fn next_lsn(&self) -> u64 {
        self.last_lsn + 1
    }

    /// Bytes written since the last restart.
    pub(super) fn len(&self) -> u64 {
        self.end
    }

    pub(super) fn since_restart(&self) -> std::time::Duration {
        self.restarted_at.elapsed()
    }

    /// Fails when an earlier failure left the journal in doubt, with the error that
    /// makes the store reopen itself (which reads the journal again and decides).
    pub(super) fn check_usable(&self) -> StoreResult<()> {
        if self.broken {
            return Err(StoreError::Io(super::codec::REOPEN_NEEDED.into()));
        }
        Ok(())
    }

    /// Appends the record of commit `lsn` (which must be [`Journal::next_lsn`]) and
    /// makes it durable. On `Ok` the commit survives a crash; on `Err` it does not
    /// count: its bytes were taken back, or the journal refuses all further appends.
    pub(super) fn append(&mut self, lsn: u64, payload: &[u8]) -> StoreResult<()> {
        self.check_usable()?;
        if lsn != self.next_lsn() || payload.len() > MAX_PAYLOAD {
            return Err(StoreError::Corrupt(
                format!(
                    "journal record {lsn} of {} bytes does not follow {}",
                    payload.len(),
                    self.last_lsn
                )
                .into(),
            ));
        }
        self.buffer.clear();
        self.buffer
            .extend_from_slice(&(payload.len() as u32).to_le_bytes());
        self.buffer
            .extend_from_slice(&checksum(lsn, payload).to_le_bytes());
        self.buffer.extend_from_slice(&lsn.to_le_bytes());
        self.buffer.extend_from_slice(payload);
        let record_end = self.end + self.buffer.len() as u64;
        if let Err(e) = self.keep_slack_after(record_end) {
            if record_end > self.allocated {
                return Err(io_error(&self.path, "growing", e));
            }
        }
        let written = self
            .file
            .write_all_at(&self.buffer, self.end)
            .and_then(|()| self.file.sync_data());
        match written {
            Ok(()) => {
                self.last_start = self.end;
                self.end += self.buffer.len() as u64;
                self.last_lsn = lsn;
                Ok(())
            }
            Err(e) => {
                let error = io_error(&self.path, "writing", e);
                self.take_back(self.end);
                Err(error)
            }
        }
    }

    /// Takes back the record just appended (its commit could not be applied after
    /// all): its header is zeroed, so a later read stops before it, and its LSN goes
    /// to the next commit.
    pub(super) fn revoke_last(&mut self) {
        self.end = self.last_start;
        self.last_lsn = self.last_lsn.saturating_sub(1);
        self.take_back(self.last_start);
    }

    /// Allocates the file up to [`SLACK`] past `end` by writing zeros (a sparse
    /// extension would reserve nothing), in steps of [`SLACK`]. The zeros are made
    /// durable by the record's own `fdatasync`; a reader stops at them.
    fn keep_slack_after(&mut self, end: u64) -> std::io::Result<()> {
        if self.allocated >= end + SLACK {
            return Ok(());
        }
        let wanted = (end + SLACK).div_ceil(SLACK) * SLACK;
        let zeros = vec![0u8; (wanted - self.allocated) as usize];
        self.file.write_all_at(&zeros, self.allocated)?;
        self.allocated = wanted;
        Ok(())
    }

    fn take_back(&mut self, at: u64) {
        let zeroed = self
            .file
            .write_all_at(&[0u8; HEADER_LEN], at)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = zeroed {
            tracing::error!(
                "{}: a failed commit could not be taken back ({e}); commits are refused until the store is reopened",
                self.path.display()
            );
            self.broken = true;
        }
    }

    /// Continues the journal after the records [`Journal::open`] read (all of them still
    /// needed: the database could not be made durable after replaying them).
    pub(super) fn resume(&mut self, records: &[Record]) {
        self.end = records
            .iter()
            .map(|r| (HEADER_LEN + r.payload.len()) as u64)
            .sum();
        self.last_lsn = records.last().map_or(self.last_lsn, |r| r.lsn);
    }

    /// Starts the journal again from its beginning: everything up to `lsn` is durable
    /// elsewhere (a checkpoint), and the next record is `lsn + 1`.
    pub(super) fn restart(&mut self, lsn: u64) {
        self.end = 0;
        self.last_lsn = lsn;
        self.restarted_at = Instant::now();
    }
}

/// CRC-32 of the LSN and the payload: a record only counts when both are intact.
fn checksum(lsn: u64, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&lsn.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// The run of valid, consecutive records from the start of the file.
fn read_records(file: &File) -> std::io::Result<Vec<Record>> {
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut records: Vec<Record> = Vec::new();
    loop {
        let mut header = [0u8; HEADER_LEN];
        if !read_full(&mut reader, &mut header)? {
            break;
        }
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let mut lsn_bytes = [0u8; 8];
        lsn_bytes.copy_from_slice(&header[8..16]);
        let lsn = u64::from_le_bytes(lsn_bytes);
        let in_sequence = match records.last() {
            Some(last) => lsn == last.lsn.wrapping_add(1),
            None => lsn != 0,
        };
        if !in_sequence || len > MAX_PAYLOAD {
            break;
        }
        let mut payload = vec![0u8; len];
        if !read_full(&mut reader, &mut payload)? {
            break;
        }
        if checksum(lsn, &payload) != crc {
            break;
        }
        records.push(Record { lsn, payload });
    }
    Ok(records)
}

/// Fills `buf`; `false` when the file ends first.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => return Ok(false),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn io_error(path: &Path, doing: &str, e: std::io::Error) -> StoreError {
    StoreError::io(format!("{doing} {}", path.display()), e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payloads(records: &[Record]) -> Vec<(u64, &[u8])> {
        records
            .iter()
            .map(|r| (r.lsn, r.payload.as_slice()))
            .collect()
    }

    #[test]
    fn the_file_stays_allocated_a_slack_beyond_the_last_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut journal, _) = Journal::open(dir.path()).expect("open");
        let file_len = || {
            std::fs::metadata(dir.path().join(FILE_NAME))
                .expect("stat")
                .len()
        };
        journal.append(1, b"small").expect("append");
        assert!(file_len() >= journal.len() + SLACK);
        let big = vec![7u8; 3 * SLACK as usize];
        journal.append(2, &big).expect("append");
        assert!(file_len() >= journal.len() + SLACK);
        // The zeros ahead are not records.
        drop(journal);
        let (_, records) = Journal::open(dir.path()).expect("reopen");
        assert_eq!(payloads(&records), vec![(1, &b"small"[..]), (2, &big[..])]);
    }

    #[test]
    fn appended_records_are_read_back_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (mut journal, records) = Journal::open(dir.path()).expect("open");
            assert!(records.is_empty());
            journal.append(1, b"one").expect("append");
            journal.append(2, b"").expect("append");
            journal.append(3, b"three").expect("append");
        }
        let (_, records) = Journal::open(dir.path()).expect("reopen");
        assert_eq!(
            payloads(&records),
            vec![(1, &b"one"[..]), (2, &b""[..]), (3, &b"three"[..])]
        );
    }

    #[test]
    fn a_torn_last_record_is_not_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let end = {
            let (mut journal, _) = Journal::open(dir.path()).expect("open");
            journal.append(1, b"kept").expect("append");
            journal.append(2, b"cut short by a crash").expect("append");
            journal.len()
        };
        let path = dir.path().join(FILE_NAME);
        let file = OpenOptions::new().write(true).open(&path).expect("open");
        file.set_len(end - 3).expect("truncate");
        let (_, records) = Journal::open(dir.path()).expect("reopen");
        assert_eq!(payloads(&records), vec![(1, &b"kept"[..])]);
    }

    #[test]
    fn a_corrupted_record_ends_the_journal() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (mut journal, _) = Journal::open(dir.path()).expect("open");
            journal.append(1, b"first").expect("append");
            journal.append(2, b"second").expect("append");
            journal.append(3, b"third").expect("append");
        }
        let path = dir.path().join(FILE_NAME);
        let file = OpenOptions::new().write(true).open(&path).expect("open");
        // Flip a byte in the second record's payload.
        let second_payload = (HEADER_LEN + 5 + HEADER_LEN) as u64;
        file.write_all_at(b"X", second_payload).expect("write");
        let (_, records) = Journal::open(dir.path()).expect("reopen");
        assert_eq!(payloads(&records), vec![(1, &b"first"[..])]);
    }

    #[test]
    fn after_a_restart_older_records_beyond_the_new_ones_are_not_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (mut journal, _) = Journal::open(dir.path()).expect("open");
            for lsn in 1..=5 {
                journal.append(lsn, b"an older round").expect("append");
            }
            journal.restart(5);
            journal.append(6, b"new").expect("append");
        }
        let (_, records) = Journal::open(dir.path()).expect("reopen");
        assert_eq!(payloads(&records), vec![(6, &b"new"[..])]);
    }

    #[test]
    fn a_revoked_record_is_not_read_and_its_lsn_is_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (mut journal, _) = Journal::open(dir.path()).expect("open");
            journal.append(1, b"kept").expect("append");
            journal.append(2, b"revoked").expect("append");
            journal.revoke_last();
            assert_eq!(journal.next_lsn(), 2);
        }
        let (_, records) = Journal::open(dir.path()).expect("reopen");
        assert_eq!(payloads(&records), vec![(1, &b"kept"[..])]);
    }

    #[test]
    fn an_append_out_of_sequence_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut journal, _) = Journal::open(dir.path()).expect("open");
        assert!(matches!(
            journal.append(2, b"x"),
            Err(StoreError::Corrupt(_))
        ));
        journal.append(1, b"x").expect("append");
    }
}
