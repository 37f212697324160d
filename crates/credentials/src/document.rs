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
