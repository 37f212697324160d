//! How what SQLite returns becomes a [`StoreError`].

use sipprov_credentials::StoreError;
use sipprov_identity::Mac;

/// A stored MAC, or the corruption it is.
pub(crate) fn parse_mac(text: &str) -> Result<Mac, StoreError> {
    Mac::parse(text).map_err(|_| StoreError::Corrupt(format!("stored MAC {text:?} is not a MAC")))
}

/// An error of SQLite's.
pub(crate) fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(Box::new(e))
}
