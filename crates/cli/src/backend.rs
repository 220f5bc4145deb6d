//! The one place that picks the storage backend: the server and the engine work on
//! any `Store`; the binary opens the embedded one (redb + journal) in the data dir. A
//! second backend is a new store module and a branch here.

use std::path::Path;
use std::sync::Arc;

use depesha_store::embedded::{EmbeddedStore, StoreOptions};
use depesha_store::{Store, StoreError};

/// The store could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("could not open the data directory {dir}: {source}")]
pub struct OpenError {
    dir: String,
    #[source]
    source: StoreError,
}

/// Opens the embedded store in `data_dir`.
pub fn open(data_dir: &Path, options: StoreOptions) -> Result<Arc<dyn Store>, OpenError> {
    let store = EmbeddedStore::open_with(data_dir, options).map_err(|source| OpenError {
        dir: data_dir.display().to_string(),
        source,
    })?;
    Ok(Arc::new(store))
}
