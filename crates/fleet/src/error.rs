//! Why a fleet operation failed; each kind maps to one answer of the admin API.

use sipprov_credentials::StoreError;

/// A fleet operation failed; nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    /// The request is wrong (a field, a version not registered); the message says what.
    #[error("{0}")]
    Invalid(String),
    /// It contradicts what is registered (another file for the version, a target in the way).
    #[error("{0}")]
    Conflict(String),
    /// No such image or target.
    #[error("{0}")]
    NotFound(String),
    /// An upload is larger than the limit.
    #[error("the image is larger than the limit of {0} bytes")]
    TooLarge(u64),
    /// The firmware directory is not configured.
    #[error("no firmware directory is configured")]
    NoDirectory,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading or writing an image failed.
    #[error("firmware file: {0}")]
    Io(#[from] std::io::Error),
    /// The stored policy cannot be read.
    #[error("the stored firmware policy is unreadable: {0}")]
    Corrupt(String),
    /// Other writers kept changing the policy.
    #[error("the firmware policy kept changing; try again")]
    Busy,
}
