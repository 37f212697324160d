//! The credential lifecycle: a pure state machine over [`DeviceRecord`].

use std::time::Duration;

use crate::{CredentialState, DeviceRecord, SipPassword, Timestamp};

/// The outcome of one fetch: what may be served, and whether the state changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery {
    /// The password to put in the config, or `None` to render the config without the key.
    pub password: Option<SipPassword>,
    /// The state before the fetch.
    pub from: CredentialState,
    /// The state after the fetch.
    pub to: CredentialState,
}

impl Delivery {
    /// Whether this fetch changed the device's state.
    pub fn is_transition(&self) -> bool {
        self.from != self.to
    }
}

/// The lifecycle rules, with their configured durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifecycle {
    grace: Duration,
}

impl Lifecycle {
    /// The ITSPA default: five minutes after the first delivery the password is gone.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(300);

    /// Rules with the given grace window after the first delivery.
    pub const fn new(grace: Duration) -> Self {
        Self { grace }
    }

    /// How long the password is still served after the first delivery.
    pub const fn grace(&self) -> Duration {
        self.grace
    }

    /// Applies one successful, authorized fetch at `now` to `device` and says what to serve.
    ///
    /// - `Issued`: the password is delivered and the state moves to `Delivered { at: now }`.
    /// - `Delivered { at }` with `now < at + grace`: the password is delivered again (a phone
    ///   that failed to apply the first download retries).
    /// - `Delivered` at or after `at + grace`: the password is deleted, the state moves to
    ///   `Purged` and nothing secret is served.
    /// - `Purged`: nothing secret is served.
    pub fn on_fetch(&self, device: &mut DeviceRecord, now: Timestamp) -> Delivery {
        let from = device.state;
        let to = match from {
            CredentialState::Issued => CredentialState::Delivered { at: now },
            CredentialState::Delivered { at } if now < at.saturating_add(self.grace) => from,
            CredentialState::Delivered { .. } | CredentialState::Purged => CredentialState::Purged,
        };
        if to == CredentialState::Purged {
            device.password = None;
        }
        device.state = to;
        Delivery { password: device.password.clone(), from, to }
    }
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self::new(Self::DEFAULT_GRACE)
    }
}
