//! Version 2 → 3: version 3 added the journal (`meta.journal_lsn`). A version-2 file
//! has no journal and no LSN, which reads as "no commit journaled yet": nothing to
//! convert. (Version 3 exists so that a build without the journal refuses a file whose
//! last commits may be in the journal only.)

use redb::WriteTransaction;

use crate::StoreResult;

pub(super) fn upgrade(_txn: &WriteTransaction) -> StoreResult<()> {
    Ok(())
}
