//! Version 3 → 4: from version 4 on, every value and journal payload is one of the
//! store's own record types (`stored/`), where version 3 encoded the domain types of
//! its day. The `V1` record types were written to encode exactly as those did (the
//! fixture in `tests/fixtures/v3` proves it), so no value is rewritten: the step only
//! marks the file, so that from now on the file format changes only with a version.

use redb::WriteTransaction;

use crate::StoreResult;

pub(super) fn upgrade(_txn: &WriteTransaction) -> StoreResult<()> {
    Ok(())
}
