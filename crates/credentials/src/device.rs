//! What the server knows about one enrolled phone.

use std::collections::BTreeMap;

use sipprov_identity::Mac;

use crate::{Sealed, Timestamp};

/// Where a device's secrets are in their life. See the crate docs for the diagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialState {
    /// Armed `since` then: secrets on the server, delivered on the first fetch. Not fetched
    /// within the dormant period, the device goes `Dormant`.
    Issued {
        /// When the secrets were issued (enrolment, re-arm or rotation).
        since: Timestamp,
    },
    /// First delivered `at`; the secrets are still served until `at + grace`.
    Delivered {
        /// When the first successful fetch happened.
        at: Timestamp,
    },
    /// The secrets have been deleted; configs are rendered without them.
    Purged,
    /// Never fetched within the dormant period: secrets deleted, nothing served, until the
    /// operator re-arms the device.
    Dormant {
        /// When the device went dormant.
        since: Timestamp,
    },
}

impl CredentialState {
    /// The state's name as stored and shown to operators.
    pub const fn name(self) -> &'static str {
        match self {
            CredentialState::Issued { .. } => "issued",
            CredentialState::Delivered { .. } => "delivered",
            CredentialState::Purged => "purged",
            CredentialState::Dormant { .. } => "dormant",
        }
    }

    /// The time the state carries (`since` or `at`), if any.
    pub const fn time(self) -> Option<Timestamp> {
        match self {
            CredentialState::Issued { since } | CredentialState::Dormant { since } => Some(since),
            CredentialState::Delivered { at } => Some(at),
            CredentialState::Purged => None,
        }
    }

    /// Rebuilds a state from its stored name and time; `None` if they do not fit together.
    pub fn from_parts(name: &str, time: Option<Timestamp>) -> Option<Self> {
        match (name, time) {
            ("issued", Some(since)) => Some(CredentialState::Issued { since }),
            ("delivered", Some(at)) => Some(CredentialState::Delivered { at }),
            ("purged", None) => Some(CredentialState::Purged),
            ("dormant", Some(since)) => Some(CredentialState::Dormant { since }),
            _ => None,
        }
    }
}

/// A device's SIP account settings (no secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The SIP user part (extension or number).
    pub user_name: String,
    /// The digest authentication user name, decoupled from any login.
    pub auth_name: String,
    /// The name shown on the phone's screen.
    pub display_name: String,
}

/// A device's secrets, sealed: present only while they may still be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSecrets {
    /// The SIP digest password.
    pub sip_password: Sealed,
    /// The phone's web-UI admin password.
    pub admin_password: Sealed,
}

/// An enrolled device.
///
/// Fields are public so storage backends can rebuild a record from what they persisted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    /// The device's MAC, as read from its certificate.
    pub mac: Mac,
    /// Its SIP account.
    pub account: Account,
    /// Where its secrets are in their life.
    pub state: CredentialState,
    /// The sealed secrets, while they may still be delivered.
    pub secrets: Option<DeviceSecrets>,
    /// SHA-256 of the SubjectPublicKeyInfo of the certificate of the first successful fetch.
    pub pinned_spki: Option<[u8; 32]>,
    /// Disabled by the operator: nothing is served.
    pub disabled: bool,
    /// When the device was enrolled.
    pub enrolled_at: Timestamp,
    /// When a config was last served to it, and to which client (fleet data: written in
    /// batches, so it may lag the latest fetch by the flush interval).
    pub last_seen: Option<LastSeen>,
    /// What the inventory says about the phone: vendor, model, site and its own settings.
    pub profile: DeviceProfile,
}

/// The client a device's config was last served to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastSeen {
    /// When.
    pub at: Timestamp,
    /// From which address.
    pub peer: String,
    /// With which User-Agent, if the client sent one.
    pub user_agent: Option<String>,
}

/// What the operator's inventory says about a device, beyond its account: it selects the
/// settings layers a config is rendered with (vendor, model, site, device).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceProfile {
    /// The vendor, as the operator's inventory names it (e.g. `yealink`).
    pub vendor: Option<String>,
    /// The model (e.g. `T54W`).
    pub model: Option<String>,
    /// The site (office, branch, customer) the phone belongs to.
    pub site: Option<String>,
    /// Settings for this device alone; they win over every other layer.
    pub settings: BTreeMap<String, String>,
}
