//! Fleet reports: who is behind its firmware target, who runs a flagged version, who has not
//! been seen, how devices were identified, and whose User-Agent contradicts its certificate.
//!
//! A report reads the store in pages of [`PAGE`] devices (one indexed range read each), so a
//! million devices are read in bounded memory; what it lists is paged by MAC (`after`, `limit`).

use std::collections::BTreeMap;

use serde::Serialize;
use sipprov_credentials::{FleetQuery, FleetRow, PendingQuery, Store, StoreError, Timestamp};
use sipprov_identity::Mac;

use crate::{DeviceKey, FirmwarePolicy};

/// Devices read per store call.
pub const PAGE: usize = 5_000;

/// One device behind its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Laggard {
    /// The device.
    pub mac: String,
    /// Its vendor.
    pub vendor: String,
    /// Its model.
    pub model: String,
    /// The version it reports.
    pub version: String,
    /// The version it should run.
    pub target: String,
    /// Since when it has been behind (Unix seconds): the later of the target's setting and
    /// the device's first report of its version.
    pub behind_since: i64,
    /// For how long, in seconds.
    pub behind_seconds: i64,
}

/// Devices of one model on one version, behind one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BehindGroup {
    /// Vendor.
    pub vendor: String,
    /// Model.
    pub model: String,
    /// The version they report.
    pub version: String,
    /// The version they should run.
    pub target: String,
    /// How many.
    pub devices: u64,
    /// The longest any of them has been behind, in seconds.
    pub longest_behind_seconds: i64,
}

/// Devices of one model on a flagged version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlaggedGroup {
    /// Vendor.
    pub vendor: String,
    /// Model.
    pub model: String,
    /// The flagged version they report.
    pub version: String,
    /// Why it is flagged.
    pub reason: String,
    /// How many.
    pub devices: u64,
}

/// Firmware compliance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FirmwareReport {
    /// Devices with a target that report running it.
    pub compliant: u64,
    /// Devices with a target that report another version.
    pub behind: u64,
    /// Devices with a target that have reported no version yet.
    pub unreported: u64,
    /// Devices no target selects.
    pub without_target: u64,
    /// Those behind, by model, version and target.
    pub behind_groups: Vec<BehindGroup>,
    /// Devices reporting a flagged version, by model and version.
    pub on_flagged: Vec<FlaggedGroup>,
    /// Those behind, one by one, in MAC order after the `after` asked for.
    pub laggards: Vec<Laggard>,
    /// Pass as `after` for the next page of `laggards`; `None` at the end.
    pub next_after: Option<String>,
}

/// One device in a listing of devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FleetDevice {
    /// The device.
    pub mac: String,
    /// Its credential state.
    pub state: &'static str,
    /// When it was last served (Unix seconds), if ever.
    pub last_seen: Option<i64>,
    /// The firmware it last reported.
    pub firmware: Option<String>,
    /// How its User-Agent contradicts its certificate, if it does.
    pub mismatch: Option<String>,
}

/// Devices not seen for a while, and those that never will be without the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaleReport {
    /// The threshold asked for, in days.
    pub days: u64,
    /// Devices not served for `days` days (or never), in MAC order after `after`.
    pub devices: Vec<FleetDevice>,
    /// Pass as `after` for the next page; `None` at the end.
    pub next_after: Option<String>,
    /// How many devices are stale in all.
    pub stale: u64,
    /// How many are dormant (never fetched their secrets in time).
    pub dormant: u64,
    /// How many enrolled devices were never seen.
    pub never_seen: u64,
    /// How many certificates of MACs not in the inventory are pending (per MAC and key).
    pub pending: u64,
}

/// Devices whose User-Agent contradicts their certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MismatchReport {
    /// In MAC order after `after`.
    pub devices: Vec<FleetDevice>,
    /// Pass as `after` for the next page; `None` at the end.
    pub next_after: Option<String>,
}

/// Every figure, for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FleetSummary {
    /// Enrolled devices.
    pub devices: u64,
    /// With a target and running it.
    pub compliant: u64,
    /// With a target and running another version.
    pub behind: u64,
    /// Reporting a flagged version.
    pub on_flagged: u64,
    /// Not seen for the stale threshold.
    pub stale: u64,
    /// Dormant.
    pub dormant: u64,
    /// Never seen.
    pub never_seen: u64,
    /// User-Agent contradicts the certificate.
    pub mismatched: u64,
    /// Pending (per MAC and key).
    pub pending: u64,
    /// Devices by the ITSPA rating of their latest fetch.
    pub ratings: BTreeMap<u8, u64>,
    /// Devices by credential state (`issued`, `delivered`, `purged`, `dormant`).
    pub states: BTreeMap<&'static str, u64>,
}

/// A device's vendor, model and site as targets see them: the inventory's, else the
/// User-Agent's.
fn key_of(row: &FleetRow) -> Option<DeviceKey<'_>> {
    Some(DeviceKey {
        mac: row.mac,
        vendor: row.profile.vendor.as_deref().or(row.facts.vendor.as_deref())?,
        model: row.profile.model.as_deref().or(row.facts.model.as_deref()),
        site: row.profile.site.as_deref(),
    })
}

/// Whether a reported version is `version` (case and a leading `v` aside: `V2.12.0` is `2.12.0`).
pub fn same_version(reported: &str, version: &str) -> bool {
    let bare = |v: &str| v.trim().trim_start_matches(['v', 'V']).to_ascii_lowercase();
    bare(reported) == bare(version)
}

/// The flagged image of the version a device reports, if it runs one.
fn flagged_image<'p>(
    policy: &'p FirmwarePolicy,
    key: &DeviceKey<'_>,
    reported: Option<&str>,
) -> Option<&'p crate::FirmwareImage> {
    let (model, reported) = (key.model?, reported?);
    policy
        .images
        .iter()
        .find(|i| i.flagged.is_some() && i.fits(key.vendor, model) && same_version(reported, &i.version))
}

/// Reads every device, one page at a time.
fn each_device(store: &dyn Store, query: FleetQuery, mut visit: impl FnMut(&FleetRow)) -> Result<(), StoreError> {
    let mut after = query.after;
    loop {
        let page = store.fleet(&FleetQuery { after, limit: PAGE, ..query.clone() })?;
        page.iter().for_each(&mut visit);
        match page.last() {
            Some(last) if page.len() == PAGE => after = Some(last.mac),
            _ => return Ok(()),
        }
    }
}

/// The firmware compliance report at `now`, listing up to `limit` laggards after `after`.
pub fn firmware_report(
    store: &dyn Store,
    policy: &FirmwarePolicy,
    now: Timestamp,
    after: Option<Mac>,
    limit: usize,
) -> Result<FirmwareReport, StoreError> {
    let mut report = FirmwareReport {
        compliant: 0,
        behind: 0,
        unreported: 0,
        without_target: 0,
        behind_groups: Vec::new(),
        on_flagged: Vec::new(),
        laggards: Vec::new(),
        next_after: None,
    };
    let mut groups: BTreeMap<(String, String, String, String), (u64, i64)> = BTreeMap::new();
    let mut flagged: BTreeMap<(String, String, String, String), u64> = BTreeMap::new();
    each_device(store, FleetQuery::default(), |row| {
        let key = key_of(row);
        let (Some(key), reported) = (key, row.facts.firmware.as_deref()) else {
            report.without_target += 1;
            return;
        };
        if let Some(image) = flagged_image(policy, &key, reported) {
            let reason = image.flagged.clone().unwrap_or_default();
            let model = key.model.unwrap_or_default().to_owned();
            *flagged.entry((key.vendor.to_owned(), model, image.version.clone(), reason)).or_default() += 1;
        }
        let Some(resolved) = policy.resolve(key) else {
            report.without_target += 1;
            return;
        };
        let target = &resolved.target.version;
        match reported {
            None => report.unreported += 1,
            Some(reported) if same_version(reported, target) => report.compliant += 1,
            Some(reported) => {
                report.behind += 1;
                let since = resolved.target.set_at.max(row.firmware_since.map_or(i64::MIN, Timestamp::unix));
                let behind_seconds = (now.unix() - since).max(0);
                let model = key.model.unwrap_or_default().to_owned();
                let group = groups
                    .entry((key.vendor.to_owned(), model.clone(), reported.to_owned(), target.clone()))
                    .or_default();
                *group = (group.0 + 1, group.1.max(behind_seconds));
                if after.is_none_or(|after| row.mac > after) {
                    if report.laggards.len() < limit {
                        report.laggards.push(Laggard {
                            mac: row.mac.to_string(),
                            vendor: key.vendor.to_owned(),
                            model,
                            version: reported.to_owned(),
                            target: target.clone(),
                            behind_since: since,
                            behind_seconds,
                        });
                    } else if report.next_after.is_none() {
                        report.next_after = report.laggards.last().map(|last| last.mac.clone());
                    }
                }
            }
        }
    })?;
    report.behind_groups = groups
        .into_iter()
        .map(|((vendor, model, version, target), (devices, longest_behind_seconds))| BehindGroup {
            vendor,
            model,
            version,
            target,
            devices,
            longest_behind_seconds,
        })
        .collect();
    report.on_flagged = flagged
        .into_iter()
        .map(|((vendor, model, version, reason), devices)| FlaggedGroup { vendor, model, version, reason, devices })
        .collect();
    Ok(report)
}

fn listed(row: &FleetRow) -> FleetDevice {
    FleetDevice {
        mac: row.mac.to_string(),
        state: row.state,
        last_seen: row.last_seen.map(Timestamp::unix),
        firmware: row.facts.firmware.clone(),
        mismatch: row.facts.mismatch.clone(),
    }
}

/// Lists one page of `query` (`limit` devices after `after`), and where the next starts.
fn page_of(
    store: &dyn Store,
    query: FleetQuery,
    after: Option<Mac>,
    limit: usize,
) -> Result<(Vec<FleetDevice>, Option<String>), StoreError> {
    let mut rows = store.fleet(&FleetQuery { after, limit: limit.saturating_add(1), ..query })?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = if more { rows.last().map(|row| row.mac.to_string()) } else { None };
    Ok((rows.iter().map(listed).collect(), next))
}

/// Devices not served for `days` days (or never), one page; with the fleet's counts of stale,
/// dormant, never-seen and pending devices.
pub fn stale_report(
    store: &dyn Store,
    now: Timestamp,
    days: u64,
    after: Option<Mac>,
    limit: usize,
) -> Result<StaleReport, StoreError> {
    let summary = summary(store, &FirmwarePolicy::default(), now, days)?;
    let since = stale_since(now, days);
    let (devices, next_after) =
        page_of(store, FleetQuery { not_seen_since: Some(since), ..FleetQuery::default() }, after, limit)?;
    Ok(StaleReport {
        days,
        devices,
        next_after,
        stale: summary.stale,
        dormant: summary.dormant,
        never_seen: summary.never_seen,
        pending: summary.pending,
    })
}

/// Devices whose User-Agent contradicts their certificate, one page (an indexed read).
pub fn mismatch_report(store: &dyn Store, after: Option<Mac>, limit: usize) -> Result<MismatchReport, StoreError> {
    let (devices, next_after) = page_of(store, FleetQuery { mismatched: true, ..FleetQuery::default() }, after, limit)?;
    Ok(MismatchReport { devices, next_after })
}

fn stale_since(now: Timestamp, days: u64) -> Timestamp {
    Timestamp::from_unix(now.unix().saturating_sub(i64::try_from(days.saturating_mul(86_400)).unwrap_or(i64::MAX)))
}

/// Every figure at once (one pass over the devices, one over pending ones), for metrics and
/// the ratings report.
pub fn summary(
    store: &dyn Store,
    policy: &FirmwarePolicy,
    now: Timestamp,
    stale_days: u64,
) -> Result<FleetSummary, StoreError> {
    let since = stale_since(now, stale_days);
    let mut summary = FleetSummary::default();
    each_device(store, FleetQuery::default(), |row| {
        summary.devices += 1;
        summary.stale += u64::from(row.last_seen.is_none_or(|seen| seen < since));
        summary.never_seen += u64::from(row.last_seen.is_none());
        summary.dormant += u64::from(row.state == "dormant");
        *summary.states.entry(row.state).or_default() += 1;
        summary.mismatched += u64::from(row.facts.mismatch.is_some());
        if let Some(rating) = row.facts.rating {
            *summary.ratings.entry(rating).or_default() += 1;
        }
        let Some(key) = key_of(row) else { return };
        let reported = row.facts.firmware.as_deref();
        summary.on_flagged += u64::from(flagged_image(policy, &key, reported).is_some());
        match (policy.resolve(key), reported) {
            (Some(resolved), Some(reported)) if same_version(reported, &resolved.target.version) => {
                summary.compliant += 1
            }
            (Some(_), Some(_)) => summary.behind += 1,
            _ => {}
        }
    })?;
    let mut after = None;
    loop {
        let page = store.pending(&PendingQuery { after, limit: PAGE, ..PendingQuery::default() })?;
        summary.pending += page.len() as u64;
        match page.last() {
            Some(last) if page.len() == PAGE => after = Some((last.mac, last.spki_sha256)),
            _ => break,
        }
    }
    Ok(summary)
}
