//! The credential lifecycle: a pure state machine over [`DeviceRecord`].
//!
//! Every operation is one call that changes the record, returns the audit events to append in
//! the same transaction, and (for a fetch) says what may be served. No I/O, no clock: time is
//! passed in.

use std::time::Duration;

use crate::audit::quote;
use crate::{AuditEvent, AuditKind, CredentialState, DeviceRecord, DeviceSecrets, Timestamp};

/// The rules, with their configured durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifecycle {
    grace: Duration,
    dormant_after: Duration,
}

/// What the client presented with a fetch, for the key pin and the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    /// SHA-256 of the certificate's SubjectPublicKeyInfo.
    pub spki_sha256: [u8; 32],
    /// The client's address, for the audit trail.
    pub peer: String,
    /// The client's User-Agent, for the audit trail (a hint, never authorization).
    pub user_agent: Option<String>,
}

/// What a fetch may be answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Serve {
    /// The config; with the sealed secrets while they may still be delivered, without after.
    Config {
        /// The secrets to include, or `None` to render the config without the secret keys.
        secrets: Option<DeviceSecrets>,
    },
    /// Nothing: the client gets the same answer as for an unknown device.
    Nothing(Refusal),
}

/// Why a fetch of an enrolled device gets nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The operator disabled the device.
    Disabled,
    /// Not fetched within the dormant period; waits for the operator to re-arm it.
    Dormant,
    /// The certificate's key differs from the one pinned at the first delivery.
    KeyMismatch,
}

impl Lifecycle {
    /// The ITSPA defaults: the password is gone five minutes after the first delivery, and
    /// secrets never fetched are removed after 14 days.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(300);
    /// See [`Lifecycle::DEFAULT_GRACE`].
    pub const DEFAULT_DORMANT_AFTER: Duration = Duration::from_secs(14 * 24 * 3600);

    /// Rules with the given grace window and dormant period.
    pub const fn new(grace: Duration, dormant_after: Duration) -> Self {
        Self { grace, dormant_after }
    }

    /// How long the secrets are still served after the first delivery.
    pub const fn grace(&self) -> Duration {
        self.grace
    }

    /// How long issued secrets wait for a first fetch before the device goes dormant.
    pub const fn dormant_after(&self) -> Duration {
        self.dormant_after
    }

    /// One authorized fetch at `now`: the device's certificate matched the path and the device
    /// is enrolled.
    ///
    /// In order: a disabled device gets nothing; a key other than the pinned one gets nothing
    /// and raises a `key-mismatch` alert; due expiries apply ([`Lifecycle::sweep`]); then
    /// `Issued` delivers the secrets and moves to `Delivered { at: now }`, `Delivered` inside
    /// the grace serves them again, `Purged` serves the config without them, `Dormant` serves
    /// nothing. The first successful fetch pins the key.
    pub fn fetch(&self, device: &mut DeviceRecord, request: &FetchRequest, now: Timestamp) -> (Serve, Vec<AuditEvent>) {
        let mac = device.mac;
        let client =
            format!("peer={} ua={}", quote(&request.peer), request.user_agent.as_deref().map_or("-".into(), quote));
        if device.disabled {
            return (
                Serve::Nothing(Refusal::Disabled),
                vec![AuditEvent::new(now, mac, AuditKind::Refused, format!("reason=disabled {client}"))],
            );
        }
        if device.pinned_spki.is_some_and(|pinned| pinned != request.spki_sha256) {
            let detail = format!("presented_spki={} {client}", hex(&request.spki_sha256));
            return (
                Serve::Nothing(Refusal::KeyMismatch),
                vec![AuditEvent::new(now, mac, AuditKind::KeyMismatch, detail)],
            );
        }
        let mut events = self.sweep(device, now);
        let serve = match device.state {
            CredentialState::Dormant { .. } => {
                events.push(AuditEvent::new(now, mac, AuditKind::Refused, format!("reason=dormant {client}")));
                return (Serve::Nothing(Refusal::Dormant), events);
            }
            CredentialState::Issued { .. } => {
                device.state = CredentialState::Delivered { at: now };
                Serve::Config { secrets: device.secrets.clone() }
            }
            CredentialState::Delivered { .. } | CredentialState::Purged => {
                Serve::Config { secrets: device.secrets.clone() }
            }
        };
        let with_secrets = matches!(&serve, Serve::Config { secrets: Some(_) });
        events.push(AuditEvent::new(
            now,
            mac,
            AuditKind::Delivered,
            format!("secrets={} {client}", yes_no(with_secrets)),
        ));
        if device.pinned_spki.is_none() {
            device.pinned_spki = Some(request.spki_sha256);
            events.push(AuditEvent::new(now, mac, AuditKind::KeyPinned, format!("spki={}", hex(&request.spki_sha256))));
        }
        device.last_fetch = Some(now);
        (serve, events)
    }

    /// Applies the time-based transitions due at `now`: `Issued` past the dormant period goes
    /// `Dormant`, `Delivered` past the grace goes `Purged`; both delete the secrets.
    pub fn sweep(&self, device: &mut DeviceRecord, now: Timestamp) -> Vec<AuditEvent> {
        let (to, kind) = match device.state {
            CredentialState::Issued { since } if now >= since.saturating_add(self.dormant_after) => {
                (CredentialState::Dormant { since: now }, AuditKind::Dormant)
            }
            CredentialState::Delivered { at } if now >= at.saturating_add(self.grace) => {
                (CredentialState::Purged, AuditKind::Purged)
            }
            _ => return Vec::new(),
        };
        let from = device.state;
        device.state = to;
        device.secrets = None;
        vec![AuditEvent::new(now, device.mac, kind, format!("from={}", from.name()))]
    }

    /// The operator re-arms the device: fresh secrets, state `Issued`, key pin cleared (the phone
    /// may have been replaced).
    pub fn rearm(&self, device: &mut DeviceRecord, secrets: DeviceSecrets, now: Timestamp) -> Vec<AuditEvent> {
        let event = AuditEvent::new(now, device.mac, AuditKind::Rearmed, format!("from={}", device.state.name()));
        device.secrets = Some(secrets);
        device.state = CredentialState::Issued { since: now };
        device.pinned_spki = None;
        vec![event]
    }

    /// The operator rotates the secrets: fresh secrets, state `Issued`, key pin kept.
    pub fn rotate(&self, device: &mut DeviceRecord, secrets: DeviceSecrets, now: Timestamp) -> Vec<AuditEvent> {
        let event = AuditEvent::new(now, device.mac, AuditKind::Rotated, format!("from={}", device.state.name()));
        device.secrets = Some(secrets);
        device.state = CredentialState::Issued { since: now };
        vec![event]
    }

    /// The operator disables (`true`) or enables (`false`) the device. The state is kept.
    pub fn set_disabled(&self, device: &mut DeviceRecord, disabled: bool, now: Timestamp) -> Vec<AuditEvent> {
        if device.disabled == disabled {
            return Vec::new();
        }
        device.disabled = disabled;
        let kind = if disabled { AuditKind::Disabled } else { AuditKind::Enabled };
        vec![AuditEvent::new(now, device.mac, kind, format!("state={}", device.state.name()))]
    }
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self::new(Self::DEFAULT_GRACE, Self::DEFAULT_DORMANT_AFTER)
    }
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
