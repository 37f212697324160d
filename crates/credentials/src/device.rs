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

/// Most SIP accounts one device may hold: a 32-line sidecar phone or an 8-port gateway fits; a
/// vendor's own limit per model is checked where the inventory names the model.
pub const MAX_ACCOUNTS: usize = 64;

/// How an account's SIP signalling travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS (SIPS): signalling encrypted, the registrar's certificate checked by the phone.
    Tls,
}

/// Whether an account's calls encrypt their media, where the vendor has the setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Srtp {
    /// Plain RTP.
    Off,
    /// SRTP offered, plain RTP accepted.
    Optional,
    /// SRTP or no call.
    Required,
}

macro_rules! named {
    ($type:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $type {
            /// Every value, in order.
            pub const ALL: &'static [$type] = &[$($type::$variant),+];

            /// The value's name, as stored, shown and given.
            pub const fn name(self) -> &'static str {
                match self { $($type::$variant => $name),+ }
            }

            /// The value named `name` (as [`name`](Self::name) gives it), if any.
            pub fn from_name(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|value| value.name() == name)
            }
        }

        impl std::fmt::Display for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

named!(Transport { Udp => "udp", Tcp => "tcp", Tls => "tls" });
named!(KeyKind { Blf => "blf", SpeedDial => "speed_dial" });
named!(Srtp { Off => "off", Optional => "optional", Required => "required" });

/// Most programmable keys one device may have set.
pub const MAX_KEYS: usize = 64;

/// What a programmable key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyKind {
    /// Busy lamp field: shows whether another extension is busy; pressing it calls it.
    Blf,
    /// Dials a number.
    SpeedDial,
}

/// A programmable key of a device: a BLF or a speed dial, rendered in its vendor's own keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionKey {
    /// The key on the phone, from 1, as the vendor numbers its programmable (line) keys.
    pub position: u16,
    /// What it does.
    pub kind: KeyKind,
    /// The extension it watches (BLF) or the number it dials (speed dial).
    pub value: String,
    /// The text beside the key.
    pub label: String,
    /// The account line it uses.
    pub line: u16,
}

/// One SIP account of a device (no secret): a line of a phone, a port of an ATA, a handset of
/// a DECT base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Which of the device's lines (ports, handsets) it is, from 1.
    pub line: u16,
    /// The SIP user part (extension or number).
    pub user_name: String,
    /// The digest authentication user name, decoupled from any login.
    pub auth_name: String,
    /// The name shown on the phone's screen.
    pub display_name: String,
    /// Its own registrar (`host[:port]`), or `None` for the server's global one.
    pub registrar: Option<String>,
    /// An outbound proxy (`host[:port]`) the phone sends everything through, if any.
    pub outbound_proxy: Option<String>,
    /// How its signalling travels; `None` leaves it to the vendor's template (the phone's own
    /// default, or TLS for softphones).
    pub transport: Option<Transport>,
    /// Whether its media is encrypted; `None` leaves it as the phone has it.
    pub srtp: Option<Srtp>,
}

impl Account {
    /// An account on `line` with the global registrar, no outbound proxy, and transport and
    /// SRTP as the vendor's template has them.
    pub fn new(
        line: u16,
        user_name: impl Into<String>,
        auth_name: impl Into<String>,
        display_name: impl Into<String>,
    ) -> Self {
        Self {
            line,
            user_name: user_name.into(),
            auth_name: auth_name.into(),
            display_name: display_name.into(),
            registrar: None,
            outbound_proxy: None,
            transport: None,
            srtp: None,
        }
    }
}

/// Checks a device's accounts as a whole: 1 to [`MAX_ACCOUNTS`] of them, lines from 1, each
/// line once, in ascending order. The error says what is wrong.
pub fn check_accounts(accounts: &[Account]) -> Result<(), String> {
    if accounts.is_empty() {
        return Err("a device has at least one account".into());
    }
    if accounts.len() > MAX_ACCOUNTS {
        return Err(format!("a device has at most {MAX_ACCOUNTS} accounts"));
    }
    if accounts.iter().any(|account| account.line == 0) {
        return Err("account lines are numbered from 1".into());
    }
    if let Some(pair) = accounts.windows(2).find(|pair| pair[0].line >= pair[1].line) {
        return Err(if pair[0].line == pair[1].line {
            format!("line {} is given twice", pair[0].line)
        } else {
            "accounts are listed in ascending line order".into()
        });
    }
    Ok(())
}

/// A device's secrets, sealed: present only while they may still be delivered.
///
/// Every account's password is issued at enrolment, re-arm and rotation of the device; rotating
/// one account issues only its own, so after the others were delivered and purged the device
/// holds just that one (and no admin password: the phone keeps the one it was given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSecrets {
    /// The SIP digest passwords by line, in ascending line order; never empty.
    pub sip_passwords: Vec<(u16, Sealed)>,
    /// The phone's web-UI admin password, while it may be delivered.
    pub admin_password: Option<Sealed>,
}

impl DeviceSecrets {
    /// The sealed SIP password of `line`, if the device holds one.
    pub fn sip_password(&self, line: u16) -> Option<&Sealed> {
        self.sip_passwords.iter().find(|(l, _)| *l == line).map(|(_, sealed)| sealed)
    }
}

/// An enrolled device.
///
/// Fields are public so storage backends can rebuild a record from what they persisted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    /// The device's MAC, as read from its certificate.
    pub mac: Mac,
    /// Its SIP accounts, in ascending line order (see [`check_accounts`]).
    pub accounts: Vec<Account>,
    /// Where its secrets are in their life.
    pub state: CredentialState,
    /// The sealed secrets, while they may still be delivered.
    pub secrets: Option<DeviceSecrets>,
    /// SHA-256 of the SubjectPublicKeyInfo of the certificate of the first successful fetch.
    pub pinned_spki: Option<[u8; 32]>,
    /// The sealed enrolment secret of a phone without a usable factory certificate: it
    /// authenticates its fetches with it (HTTP Digest over TLS, ITSPA rating 4). It stays for
    /// the device's life, unlike its SIP secrets, until rotated or removed.
    pub enrolment_secret: Option<Sealed>,
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

impl DeviceRecord {
    /// The account on `line`, if the device has one.
    pub fn account(&self, line: u16) -> Option<&Account> {
        self.accounts.iter().find(|account| account.line == line)
    }
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
    /// Its programmable keys, in ascending position order.
    pub keys: Vec<FunctionKey>,
}
