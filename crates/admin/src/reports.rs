//! Fleet reports: `/v1/reports/{firmware,stale,ratings,mismatch}`, and the fleet figures
//! `/metrics` shows.
//!
//! Each report reads the store in pages (see `sipprov_fleet::report`); lists are paged by MAC
//! (`after`, `limit`). The figures for `/metrics` come from one pass over the fleet, kept for
//! [`SUMMARY_FOR`] so frequent scrapes do not each read every device.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::StatusCode;
use sipprov_fleet::report::{self, FleetSummary};
use sipprov_identity::Mac;

use super::body::{AdminResponse, error, json};
use super::call::{AdminContext, Call};
use super::firmware::fleet_blocking;
use super::routes::parse_limit;
use super::time;

/// How long the figures `/metrics` shows are reused before the fleet is read again.
const SUMMARY_FOR: Duration = Duration::from_secs(60);

/// A report's paging and threshold parameters.
struct Page {
    after: Option<Mac>,
    limit: usize,
    days: u64,
}

/// The paging parameters, and `days` where `days` is the report's default threshold (`None`:
/// the report takes none).
fn page(call: &Call, days: Option<u64>) -> Result<Page, AdminResponse> {
    let mut page = Page { after: None, limit: 100, days: days.unwrap_or_default() };
    for (name, value) in &call.query {
        let parsed = match name.as_str() {
            "limit" => parse_limit(value).map(|limit| page.limit = limit),
            "after" => {
                Mac::parse(value).map(|mac| page.after = Some(mac)).map_err(|e| format!("after: {}", e.reason()))
            }
            "days" if days.is_some() => match value.parse::<u64>() {
                Ok(days) if (1..=3650).contains(&days) => {
                    page.days = days;
                    Ok(())
                }
                _ => Err("days must be 1 to 3650".into()),
            },
            other => Err(format!("unknown query parameter {other:?}")),
        };
        parsed.map_err(|message| error(StatusCode::BAD_REQUEST, &message))?;
    }
    Ok(page)
}

/// `GET /v1/reports/firmware`: compliance with the firmware targets.
pub(super) async fn firmware(context: &AdminContext, call: Call) -> AdminResponse {
    let page = match page(&call, None) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let fleet = Arc::clone(&context.state.fleet);
    let store = Arc::clone(context.state.credentials.store());
    let report = fleet_blocking(move || {
        fleet.refresh()?;
        Ok(report::firmware_report(&*store, &fleet.policy(), time::now(), page.after, page.limit)?)
    });
    match report.await {
        Ok(report) => json(StatusCode::OK, &report),
        Err(response) => response,
    }
}

/// `GET /v1/reports/stale?days=N`: devices not seen for N days; dormant, never seen, pending.
pub(super) async fn stale(context: &AdminContext, call: Call) -> AdminResponse {
    let page = match page(&call, Some(context.stale_days)) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let store = Arc::clone(context.state.credentials.store());
    let report =
        fleet_blocking(move || Ok(report::stale_report(&*store, time::now(), page.days, page.after, page.limit)?));
    match report.await {
        Ok(report) => json(StatusCode::OK, &report),
        Err(response) => response,
    }
}

/// `GET /v1/reports/mismatch`: devices whose User-Agent contradicts their certificate.
pub(super) async fn mismatch(context: &AdminContext, call: Call) -> AdminResponse {
    let page = match page(&call, None) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let store = Arc::clone(context.state.credentials.store());
    match fleet_blocking(move || Ok(report::mismatch_report(&*store, page.after, page.limit)?)).await {
        Ok(report) => json(StatusCode::OK, &report),
        Err(response) => response,
    }
}

/// `GET /v1/reports/ratings`: devices by the ITSPA rating of their latest fetch.
pub(super) async fn ratings(context: &AdminContext) -> AdminResponse {
    match fresh_summary(context).await {
        Ok(summary) => {
            let rated: u64 = summary.ratings.values().sum();
            let ratings: serde_json::Map<String, serde_json::Value> =
                summary.ratings.iter().map(|(rating, devices)| (rating.to_string(), (*devices).into())).collect();
            json(
                StatusCode::OK,
                &serde_json::json!({ "ratings": ratings, "unrated": summary.devices - rated, "devices": summary.devices }),
            )
        }
        Err(response) => response,
    }
}

/// The fleet figures, read afresh.
async fn fresh_summary(context: &AdminContext) -> Result<FleetSummary, AdminResponse> {
    let fleet = Arc::clone(&context.state.fleet);
    let store = Arc::clone(context.state.credentials.store());
    let days = context.stale_days;
    let summary = fleet_blocking(move || {
        fleet.refresh()?;
        Ok(report::summary(&*store, &fleet.policy(), time::now(), days)?)
    })
    .await?;
    *context.summary.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((Instant::now(), summary.clone()));
    Ok(summary)
}

/// The fleet figures for `/metrics`: those read within [`SUMMARY_FOR`], else read afresh.
/// `None` when the store does not answer (the scrape still gets every other figure).
pub(super) async fn metrics_summary(context: &AdminContext) -> Option<FleetSummary> {
    let kept = context.summary.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
    match kept {
        Some((at, summary)) if at.elapsed() < SUMMARY_FOR => Some(summary),
        _ => fresh_summary(context).await.ok(),
    }
}
