//! Small operator documents kept whole in the store (the firmware catalogue and its targets),
//! changed by compare-and-swap so two nodes or two operators never overwrite each other.

/// A stored document and its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Increases by one with every write; the first write makes version 1.
    pub version: u64,
    /// The document, as its owner serialized it (JSON for sipprov's own).
    pub body: String,
}

/// The largest document a store accepts: a catalogue of thousands of images and targets fits.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;

/// What every backend checks before writing a document: its size, and a version it can store.
/// Returns the version as the signed integer databases keep.
pub fn check_document(name: &str, expected: u64, body: &str) -> Result<i64, crate::StoreError> {
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(crate::StoreError::Backend(format!("document {name} is over {MAX_DOCUMENT_BYTES} bytes").into()));
    }
    i64::try_from(expected).map_err(|_| crate::StoreError::Backend("document version out of range".into()))
}
