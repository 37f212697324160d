//! Audit events: every transition and every delivery leaves one, in the same transaction.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use sipprov_identity::Mac;

use crate::Timestamp;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuditKind {
    /// The device was enrolled (secrets issued).
    Enrolled,
    /// A config was served; the detail says whether it carried the secrets.
    Delivered,
    /// The grace window ended: secrets deleted.
    Purged,
    /// Not fetched within the dormant period: secrets deleted.
    Dormant,
    /// The operator re-armed the device: fresh secrets, key pin cleared.
    Rearmed,
    /// The operator rotated the secrets: fresh secrets, key pin kept.
    Rotated,
    /// The operator disabled the device.
    Disabled,
    /// The operator enabled the device.
    Enabled,
    /// The first successful fetch pinned the certificate's key.
    KeyPinned,
    /// Alert: a certificate with another key claimed a pinned device.
    KeyMismatch,
    /// A fetch was refused (disabled or dormant device).
    Refused,
    /// A valid certificate for a MAC not in the inventory was seen.
    PendingSeen,
    /// The device's secrets were sealed again under the current key.
    Resealed,
    /// The operator deleted the device.
    Deleted,
    /// The operator changed the device's account or profile.
    Updated,
    /// A client address or network was banned (scanning, flooding).
    Banned,
    /// A ban was lifted by the operator.
    Unbanned,
    /// An admin API token was created.
    TokenCreated,
    /// An admin API token was revoked.
    TokenRevoked,
    /// Alert: a device asked for another device's file (an attack with a stolen or forged
    /// certificate, or a misconfigured phone). Recorded against the asking device.
    MacMismatch,
    /// Alert: a device's User-Agent names another vendor or another MAC than its certificate.
    UaMismatch,
    /// A firmware image was added to the catalogue.
    FirmwareAdded,
    /// A firmware image was removed from the catalogue.
    FirmwareRemoved,
    /// A firmware image was flagged (or its flag cleared).
    FirmwareFlagged,
    /// A firmware target was set or cleared.
    FirmwareTarget,
    /// Alert: a registered firmware image's file no longer has its registered hash; it is not
    /// served.
    FirmwareAltered,
    /// An enrolment secret was issued (or replaced) for a phone without a usable certificate.
    SecretIssued,
    /// The enrolment secret was deleted: the device authenticates by certificate again.
    SecretRemoved,
    /// Alert: a device fetched by a method rated below the minimum its policy allows.
    BelowMinimumRating,
    /// A registrar accepted an account's change (its HA1 set, or the account deleted).
    RegistrarPushed,
    /// A registrar refused or could not be reached; the change stays queued and is retried.
    RegistrarFailed,
    /// The operator asked the device to fetch its configuration now (a SIP NOTIFY through the
    /// registrar); the detail says the event and what came back.
    Resync,
    /// The operator created a softphone portal user (or reset its password: `reset=yes`).
    UserCreated,
    /// The operator removed a portal user.
    UserRemoved,
    /// A portal user set its password from its activation link.
    UserActivated,
    /// A portal user logged in (or confirmed its password before a reveal).
    Login,
    /// A portal login, password confirmation or activation failed; the detail says why.
    LoginFailed,
    /// Alert: a portal account was locked after repeated failed logins.
    LockedOut,
    /// A softphone's password was shown to its portal user (its first delivery).
    Revealed,
    /// Alert: a reveal was asked again for a password already revealed or delivered.
    RevealRepeated,
    /// A one-time provisioning link was made for a softphone.
    LinkCreated,
    /// Alert: a used one-time provisioning link was presented again.
    LinkReplayed,
}

const NAMES: &[(AuditKind, &str)] = &[
    (AuditKind::Enrolled, "enrolled"),
    (AuditKind::Delivered, "delivered"),
    (AuditKind::Purged, "purged"),
    (AuditKind::Dormant, "dormant"),
    (AuditKind::Rearmed, "rearmed"),
    (AuditKind::Rotated, "rotated"),
    (AuditKind::Disabled, "disabled"),
    (AuditKind::Enabled, "enabled"),
    (AuditKind::KeyPinned, "key-pinned"),
    (AuditKind::KeyMismatch, "key-mismatch"),
    (AuditKind::Refused, "refused"),
    (AuditKind::PendingSeen, "pending-seen"),
    (AuditKind::Resealed, "resealed"),
    (AuditKind::Deleted, "deleted"),
    (AuditKind::Updated, "updated"),
    (AuditKind::Banned, "banned"),
    (AuditKind::Unbanned, "unbanned"),
    (AuditKind::TokenCreated, "token-created"),
    (AuditKind::TokenRevoked, "token-revoked"),
    (AuditKind::MacMismatch, "mac-mismatch"),
    (AuditKind::UaMismatch, "ua-mismatch"),
    (AuditKind::FirmwareAdded, "firmware-added"),
    (AuditKind::FirmwareRemoved, "firmware-removed"),
    (AuditKind::FirmwareFlagged, "firmware-flagged"),
    (AuditKind::FirmwareTarget, "firmware-target"),
    (AuditKind::FirmwareAltered, "firmware-altered"),
    (AuditKind::SecretIssued, "enrolment-secret-issued"),
    (AuditKind::SecretRemoved, "enrolment-secret-removed"),
    (AuditKind::BelowMinimumRating, "below-minimum-rating"),
    (AuditKind::RegistrarPushed, "registrar-pushed"),
    (AuditKind::RegistrarFailed, "registrar-failed"),
    (AuditKind::Resync, "resync"),
    (AuditKind::UserCreated, "user-created"),
    (AuditKind::UserRemoved, "user-removed"),
    (AuditKind::UserActivated, "user-activated"),
    (AuditKind::Login, "login"),
    (AuditKind::LoginFailed, "login-failed"),
    (AuditKind::LockedOut, "locked-out"),
    (AuditKind::Revealed, "revealed"),
    (AuditKind::RevealRepeated, "reveal-repeated"),
    (AuditKind::LinkCreated, "link-created"),
    (AuditKind::LinkReplayed, "link-replayed"),
];

impl AuditKind {
    /// The kind's stored name, e.g. `key-mismatch`.
    pub fn name(self) -> &'static str {
        NAMES.iter().find(|(kind, _)| *kind == self).map_or("unknown", |(_, name)| name)
    }

    /// Every kind, in a stable order.
    pub fn all() -> impl Iterator<Item = AuditKind> {
        NAMES.iter().map(|(kind, _)| *kind)
    }

    /// Whether an operator should be alerted.
    pub fn is_alert(self) -> bool {
        matches!(
            self,
            AuditKind::KeyMismatch
                | AuditKind::Banned
                | AuditKind::MacMismatch
                | AuditKind::UaMismatch
                | AuditKind::FirmwareAltered
                | AuditKind::BelowMinimumRating
                | AuditKind::LockedOut
                | AuditKind::RevealRepeated
                | AuditKind::LinkReplayed
        )
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AuditKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NAMES
            .iter()
            .find(|(_, name)| *name == s)
            .map(|(kind, _)| *kind)
            .ok_or_else(|| format!("unknown audit kind {s:?}"))
    }
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// When it happened.
    pub at: Timestamp,
    /// The device concerned; `None` for events about a client address or the service itself
    /// (bans, tokens), which name their subject in `detail`.
    pub mac: Option<Mac>,
    /// What happened.
    pub kind: AuditKind,
    /// Context for the reader: `key=value` pairs, client-supplied values quoted and escaped.
    /// Never a secret.
    pub detail: String,
    /// What the registrar must learn because of this event: the store writes it to the
    /// registrar outbox in the same transaction. Not part of the audit log: always empty when
    /// read back.
    pub registrar: Vec<crate::RegistrarChange>,
}

/// Audit events committed by this process, by kind in [`NAMES`] order.
static COMMITTED: [AtomicU64; NAMES.len()] = [const { AtomicU64::new(0) }; NAMES.len()];

/// How many events of each kind this process has committed since it started (every kind, in a
/// stable order), for metrics.
pub fn committed_counts() -> impl Iterator<Item = (AuditKind, u64)> {
    NAMES.iter().zip(&COMMITTED).map(|((kind, _), count)| (*kind, count.load(Ordering::Relaxed)))
}

/// Writes committed audit events to the log stream as well, target `sipprov::audit`, so a
/// SIEM that reads the logs sees them. Stores call it once the events are durable, never before
/// (an event in the log is an event in the store). Details never hold a secret.
pub fn log_committed(events: &[AuditEvent]) {
    for event in events {
        if let Some(at) = NAMES.iter().position(|(kind, _)| *kind == event.kind) {
            COMMITTED[at].fetch_add(1, Ordering::Relaxed);
        }
        tracing::info!(
            target: "sipprov::audit",
            kind = event.kind.name(),
            mac = %event.mac.map_or_else(|| "-".to_owned(), |mac| mac.to_string()),
            detail = event.detail.as_str(),
            at = %jiff::Timestamp::from_second(event.at.unix()).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
            "audit event"
        );
    }
}

impl AuditEvent {
    /// An event about one device, with `detail`.
    pub fn new(at: Timestamp, mac: Mac, kind: AuditKind, detail: impl Into<String>) -> Self {
        Self { at, mac: Some(mac), kind, detail: detail.into(), registrar: Vec::new() }
    }

    /// An event about no device (a ban on an address, a token), its subject in `detail`.
    pub fn without_device(at: Timestamp, kind: AuditKind, detail: impl Into<String>) -> Self {
        Self { at, mac: None, kind, detail: detail.into(), registrar: Vec::new() }
    }
}

/// An audit event as stored, with its position in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAuditEvent {
    /// Increasing with every appended event.
    pub id: u64,
    /// The event.
    pub event: AuditEvent,
}

/// Which audit events to read, oldest first unless `newest_first`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this device.
    pub mac: Option<Mac>,
    /// Only this kind.
    pub kind: Option<AuditKind>,
    /// Only at or after this time.
    pub since: Option<Timestamp>,
    /// Only before this time.
    pub until: Option<Timestamp>,
    /// Only events after this id (for paging forward).
    pub after_id: Option<u64>,
    /// Only events before this id (for paging backward, newest first).
    pub before_id: Option<u64>,
    /// Newest first instead of oldest first.
    pub newest_first: bool,
    /// At most this many.
    pub limit: usize,
}

impl Default for AuditQuery {
    fn default() -> Self {
        Self {
            mac: None,
            kind: None,
            since: None,
            until: None,
            after_id: None,
            before_id: None,
            newest_first: false,
            limit: 100,
        }
    }
}

impl AuditQuery {
    /// Whether `event` (with `id`) matches, for backends that filter in memory.
    pub fn matches(&self, id: u64, event: &AuditEvent) -> bool {
        self.mac.is_none_or(|mac| event.mac == Some(mac))
            && self.kind.is_none_or(|kind| kind == event.kind)
            && self.since.is_none_or(|since| event.at >= since)
            && self.until.is_none_or(|until| event.at < until)
            && self.after_id.is_none_or(|after| id > after)
            && self.before_id.is_none_or(|before| id < before)
    }
}

/// Quotes a client-supplied value for an audit detail: control characters escaped, length capped.
pub fn quote(value: &str) -> String {
    let capped: String = value.chars().take(200).collect();
    format!("{capped:?}")
}

/// The value of `key` in an audit detail: the counterpart of [`quote`] (`key=value` pairs,
/// quoted values with Rust string-literal escapes). `None` if the key is absent or its quoted
/// value is not closed.
pub fn detail_value(detail: &str, key: &str) -> Option<String> {
    let pattern = format!("{key}=");
    let start = detail
        .match_indices(&pattern)
        .find(|(at, _)| *at == 0 || detail.as_bytes()[at - 1] == b' ')
        .map(|(at, _)| at + pattern.len())?;
    let rest = &detail[start..];
    let Some(quoted) = rest.strip_prefix('"') else {
        return Some(rest.split(' ').next().unwrap_or_default().to_owned());
    };
    let mut value = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(value),
            '\\' => match chars.next()? {
                'n' => value.push('\n'),
                't' => value.push('\t'),
                'r' => value.push('\r'),
                other => value.push(other),
            },
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_values_are_read_back_as_quoted() {
        let detail = r#"source="192.0.2.0/24" reason="slow \"scan\"" offence=2 seconds=600"#;
        assert_eq!(detail_value(detail, "source").as_deref(), Some("192.0.2.0/24"));
        assert_eq!(detail_value(detail, "reason").as_deref(), Some("slow \"scan\""));
        assert_eq!(detail_value(detail, "offence").as_deref(), Some("2"));
        let written = format!("by={} key=1", quote("token:\"ops\" \\ team"));
        assert_eq!(detail_value(&written, "by").as_deref(), Some("token:\"ops\" \\ team"), "quote round-trips");
        assert_eq!(detail_value(detail, "son"), None);
        assert_eq!(detail_value(r#"source="unterminated"#, "source"), None);
    }
}
