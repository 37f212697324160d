//! What happened to one phone request: named in logs and metrics, and weighed for scan detection.

use sipprov_credentials::FetchRefusal;
use sipprov_ratelimit::MissKind;

/// What happened to one request; logged, and later fed to scan detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestOutcome {
    /// The device's config was served; `with_secrets` says whether the secrets were in it.
    Served { with_secrets: bool },
    /// A common file (no secrets) was served.
    ServedCommon,
    /// A firmware image was served.
    ServedFirmware,
    /// Not a GET or HEAD.
    MethodNotServed,
    /// The path is no file any profiled phone asks for.
    UnknownPath,
    /// A file phones do ask for that sipprov does not serve (boot, firmware, upload, no
    /// template): a normal part of a phone's boot sequence, not a scan.
    NotServed,
    /// The source or device is over its request rate; not counted as a miss.
    RateLimited,
    /// The source was banned while the connection was open; not counted (the ban is the
    /// answer), and the connection is closed.
    Banned,
    /// The certificate verified but names no device.
    NoIdentity,
    /// The path names another device's file: an attack, or a misconfigured phone.
    MacMismatch,
    /// The certificate's device is not in the inventory (listed as pending for the operator).
    NotEnrolled,
    /// The device is enrolled but gets nothing (disabled, dormant, or another key).
    Refused(FetchRefusal),
    /// The credential service failed (store, audit, sealing key); nothing was consumed.
    Unavailable,
    /// The device's settings cannot be written in its vendor's format.
    RenderFailed,
    /// Digest listener: no credentials (every exchange's first request) or a nonce to renew;
    /// challenged.
    Challenged,
    /// Digest listener: credentials that prove nothing (a wrong secret, an unknown device, a
    /// replayed or malformed header); challenged like [`RequestOutcome::Challenged`].
    WrongCredentials,
    /// Authenticated by a method rated below the minimum the device's policy allows.
    BelowMinimumRating,
}

/// Every outcome's name, for metrics that show each one from the start.
pub(crate) const OUTCOME_LABELS: [&str; 21] = [
    "served_with_secrets",
    "served",
    "served_common",
    "served_firmware",
    "method_not_served",
    "unknown_path",
    "not_served",
    "rate_limited",
    "banned",
    "no_identity",
    "mac_mismatch",
    "not_enrolled",
    "refused_disabled",
    "refused_dormant",
    "refused_key_mismatch",
    "refused",
    "unavailable",
    "render_failed",
    "challenged",
    "wrong_credentials",
    "below_minimum_rating",
];

impl RequestOutcome {
    /// The outcome's name in logs and metrics (one of [`OUTCOME_LABELS`]).
    pub(crate) fn label(self) -> &'static str {
        match self {
            RequestOutcome::Served { with_secrets: true } => "served_with_secrets",
            RequestOutcome::Served { with_secrets: false } => "served",
            RequestOutcome::ServedCommon => "served_common",
            RequestOutcome::ServedFirmware => "served_firmware",
            RequestOutcome::MethodNotServed => "method_not_served",
            RequestOutcome::UnknownPath => "unknown_path",
            RequestOutcome::NotServed => "not_served",
            RequestOutcome::RateLimited => "rate_limited",
            RequestOutcome::Banned => "banned",
            RequestOutcome::NoIdentity => "no_identity",
            RequestOutcome::MacMismatch => "mac_mismatch",
            RequestOutcome::NotEnrolled => "not_enrolled",
            RequestOutcome::Refused(FetchRefusal::Disabled) => "refused_disabled",
            RequestOutcome::Refused(FetchRefusal::Dormant) => "refused_dormant",
            RequestOutcome::Refused(FetchRefusal::KeyMismatch) => "refused_key_mismatch",
            RequestOutcome::Refused(_) => "refused",
            RequestOutcome::Unavailable => "unavailable",
            RequestOutcome::RenderFailed => "render_failed",
            RequestOutcome::Challenged => "challenged",
            RequestOutcome::WrongCredentials => "wrong_credentials",
            RequestOutcome::BelowMinimumRating => "below_minimum_rating",
        }
    }

    /// What the scan detector learns from this outcome.
    ///
    /// Every refusal that answers the uniform 404 because of the device (not enrolled,
    /// disabled, dormant, another key) weighs the same, so a ban never tells enrolled from
    /// unknown. Files phones ask for that sipprov does not serve, and answers about the server
    /// rather than the client (its limits, its failures), weigh nothing: they neither hide
    /// misses nor add them.
    pub(crate) fn scan_weight(self) -> ScanWeight {
        match self {
            RequestOutcome::Served { .. } | RequestOutcome::ServedCommon | RequestOutcome::ServedFirmware => {
                ScanWeight::Hit
            }
            RequestOutcome::UnknownPath | RequestOutcome::MethodNotServed => ScanWeight::Miss(MissKind::UnknownPath),
            RequestOutcome::MacMismatch => ScanWeight::Miss(MissKind::MacMismatch),
            RequestOutcome::NoIdentity | RequestOutcome::WrongCredentials => ScanWeight::Miss(MissKind::UnknownDevice),
            RequestOutcome::NotEnrolled | RequestOutcome::Refused(_) | RequestOutcome::BelowMinimumRating => {
                ScanWeight::RefusedDevice
            }
            RequestOutcome::Challenged => ScanWeight::Nothing,
            RequestOutcome::NotServed
            | RequestOutcome::RateLimited
            | RequestOutcome::Banned
            | RequestOutcome::Unavailable
            | RequestOutcome::RenderFailed => ScanWeight::Nothing,
        }
    }
}

/// How an outcome counts for scan detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScanWeight {
    Hit,
    Miss(MissKind),
    /// A refusal because of the device: one miss per device per window.
    RefusedDevice,
    Nothing,
}
