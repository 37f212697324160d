//! What the server knows about one enrolled phone.

use sipprov_identity::Mac;

use crate::{SecretError, SipPassword, Timestamp};

/// Where a device's SIP password is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialState {
    /// Enrolled; the password is on the server and will be delivered on the first fetch.
    Issued,
    /// First delivered `at`; the password is still served until `at + grace`.
    Delivered {
        /// When the first successful fetch happened.
        at: Timestamp,
    },
    /// The password has been deleted; configs are rendered without it.
    Purged,
}

impl CredentialState {
    /// The state's name as stored and shown to operators.
    pub const fn name(self) -> &'static str {
        match self {
            CredentialState::Issued => "issued",
            CredentialState::Delivered { .. } => "delivered",
            CredentialState::Purged => "purged",
        }
    }
}

/// An enrolled device and its SIP account.
///
/// Fields are public so storage backends can rebuild a record from what they persisted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    /// The device's MAC, as read from its certificate.
    pub mac: Mac,
    /// The SIP user part (extension or number).
    pub user_name: String,
    /// The digest authentication user name, decoupled from any login.
    pub auth_name: String,
    /// The name shown on the phone's screen.
    pub display_name: String,
    /// Where the password is in its life.
    pub state: CredentialState,
    /// The SIP password, present only while it may still be delivered.
    pub password: Option<SipPassword>,
    /// When the device was enrolled.
    pub enrolled_at: Timestamp,
}

impl DeviceRecord {
    /// Enrols a device with a freshly generated password and a generated auth name.
    ///
    /// Fails only if the operating system RNG fails.
    pub fn enrol(mac: Mac, user_name: &str, display_name: &str, now: Timestamp) -> Result<Self, SecretError> {
        Ok(Self {
            mac,
            user_name: user_name.to_owned(),
            // The auth name is derived from the MAC, never from a customer login.
            auth_name: format!("sp-{mac}"),
            display_name: display_name.to_owned(),
            state: CredentialState::Issued,
            password: Some(SipPassword::generate()?),
            enrolled_at: now,
        })
    }
}
