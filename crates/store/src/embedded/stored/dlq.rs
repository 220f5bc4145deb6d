//! A stored dead-letter entry (`dlq` table).

use depesha_core::dlq::DlqEntry;
use depesha_core::log::HttpResponse;
use depesha_core::message::Message;
use serde::{Deserialize, Serialize};

use super::log::HttpResponseV1;
use super::message::MessageV1;
use super::Record;
use crate::StoreResult;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DlqEntryV1 {
    pub dlq_id: String,
    pub message: MessageV1,
    pub response: Option<HttpResponseV1>,
    pub error: Option<String>,
    pub failed_at: u64,
    pub expires_at: u64,
}

impl Record for DlqEntry {
    type Stored = DlqEntryV1;

    fn to_stored(&self) -> DlqEntryV1 {
        DlqEntryV1 {
            dlq_id: self.dlq_id.clone(),
            message: self.message.to_stored(),
            response: self.response.as_ref().map(HttpResponseV1::from),
            error: self.error.clone(),
            failed_at: self.failed_at,
            expires_at: self.expires_at,
        }
    }

    fn from_stored(e: DlqEntryV1) -> StoreResult<DlqEntry> {
        Ok(DlqEntry {
            dlq_id: e.dlq_id,
            message: Message::from_stored(e.message)?,
            response: e.response.map(HttpResponse::from),
            error: e.error,
            failed_at: e.failed_at,
            expires_at: e.expires_at,
        })
    }
}
