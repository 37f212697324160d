//! The service itself: health, metrics, bans and API tokens.

use std::sync::Arc;

use hyper::StatusCode;
use serde::Deserialize;
use sipprov_credentials::{DeviceQuery, Role};

use sipprov_serving::write_family;

use super::body::{AdminResponse, empty, error, json, text};
use super::call::{AdminContext, Call, blocking, read_json};
use super::time;

/// `GET /v1/health`: 200 when the store answers, 503 when it does not.
pub(super) async fn health(context: &AdminContext) -> AdminResponse {
    let credentials = Arc::clone(&context.state.credentials);
    let probe =
        blocking(move || Ok(credentials.store().devices(&DeviceQuery { limit: 1, ..DeviceQuery::default() })?));
    match probe.await {
        Ok(_) => json(StatusCode::OK, &serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") })),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "the store does not answer"),
    }
}

/// `GET /metrics`: Prometheus text format.
pub(super) async fn metrics(context: &AdminContext) -> AdminResponse {
    let bans = context.state.admission.bans().len() as u64;
    let tables = context.state.admission.occupancy();
    let credentials = &context.state.credentials;
    let count = |n: usize| n as u64;
    let gauges = [
        ("sipprov_bans_active", "Bans in force on this node.", bans),
        (
            "sipprov_limiter_bans_stored",
            "Bans held by the limiter, expired ones not yet purged included.",
            count(tables.bans),
        ),
        ("sipprov_limiter_sources", "Sources tracked by the scan detector.", count(tables.scan_sources)),
        ("sipprov_limiter_networks", "Networks tracked by the scan detector.", count(tables.scan_networks)),
        ("sipprov_limiter_devices", "Devices tracked by the per-device request limit.", count(tables.devices)),
        ("sipprov_connected_sources", "Sources holding open phone connections.", count(tables.connected_sources)),
        ("sipprov_handshakes_in_flight", "Phone TLS handshakes in progress.", u64::from(tables.handshakes_in_flight)),
        (
            "sipprov_sightings_unflushed",
            "Served fetches whose client facts are not written yet.",
            count(credentials.unflushed_sightings()),
        ),
    ];
    let counters = [(
        "sipprov_sightings_dropped_total",
        "Client facts not kept because the buffer was full.",
        credentials.dropped_sightings(),
    )];
    let mut gauges = gauges.to_vec();
    let fleet = super::reports::metrics_summary(context).await;
    if let Some(fleet) = &fleet {
        gauges.extend([
            ("sipprov_fleet_devices", "Enrolled devices.", fleet.devices),
            ("sipprov_fleet_firmware_compliant", "Devices running their firmware target.", fleet.compliant),
            ("sipprov_fleet_firmware_behind", "Devices reporting another version than their target.", fleet.behind),
            ("sipprov_fleet_firmware_flagged", "Devices reporting a flagged firmware version.", fleet.on_flagged),
            ("sipprov_fleet_stale", "Devices not served for the stale threshold ([fleet] stale_days).", fleet.stale),
            ("sipprov_fleet_dormant", "Dormant devices.", fleet.dormant),
            ("sipprov_fleet_never_seen", "Enrolled devices never served.", fleet.never_seen),
            ("sipprov_fleet_pending", "Certificates of MACs not in the inventory, per MAC and key.", fleet.pending),
            ("sipprov_fleet_ua_mismatch", "Devices whose User-Agent contradicts their certificate.", fleet.mismatched),
        ]);
    }
    let mut body = context.state.metrics.render(&counters, &gauges);
    let audit = sipprov_credentials::committed_counts().map(|(kind, count)| (kind.name(), count));
    let family = ("sipprov_audit_events_total", "counter", "Audit events committed by this node, by kind.");
    write_family(&mut body, family, "kind", audit);
    if let Some(fleet) = &fleet {
        let states = CREDENTIAL_STATES.map(|state| (state, fleet.states.get(state).copied().unwrap_or(0)));
        write_family(&mut body, ("sipprov_devices", "gauge", "Enrolled devices by credential state."), "state", states);
        let ratings = (1..=5u8).map(|rating| (rating, fleet.ratings.get(&rating).copied().unwrap_or(0)));
        let family = ("sipprov_fleet_devices_by_rating", "gauge", "Devices by the ITSPA rating of their latest fetch.");
        write_family(&mut body, family, "rating", ratings);
    }
    text(body, "text/plain; version=0.0.4; charset=utf-8")
}

/// Every credential state, so each is a series from the start.
const CREDENTIAL_STATES: [&str; 4] = ["issued", "delivered", "purged", "dormant"];

/// `GET /v1/bans`: the bans in force in the store (every node's).
pub(super) async fn list_bans(context: &AdminContext) -> AdminResponse {
    let credentials = Arc::clone(&context.state.credentials);
    match blocking(move || Ok(credentials.store().bans(time::now())?)).await {
        Ok(bans) => {
            let views: Vec<_> = bans
                .iter()
                .map(
                    |ban| serde_json::json!({ "key": ban.key, "reason": ban.reason, "until": time::format(ban.until) }),
                )
                .collect();
            json(StatusCode::OK, &serde_json::json!({ "bans": views }))
        }
        Err(response) => response,
    }
}

/// `DELETE /v1/bans/{key}`: lifts a ban here and in the store, audited.
pub(super) async fn remove_ban(context: &AdminContext, call: Call) -> AdminResponse {
    let key = call.captured.unwrap_or_default();
    let admission = Arc::clone(&context.state.admission);
    let caller = call.caller;
    match tokio::task::spawn_blocking(move || admission.unban(&key, &caller)).await {
        Ok(Ok(true)) => empty(StatusCode::NO_CONTENT),
        Ok(Ok(false)) => error(StatusCode::NOT_FOUND, "no ban on this address or network"),
        Ok(Err(sipprov_serving::UnbanError::Key(message))) => error(StatusCode::BAD_REQUEST, &message),
        Ok(Err(sipprov_serving::UnbanError::Store(e))) => super::call::failure(&e.into()),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    role: String,
}

/// `POST /v1/tokens`: a new token, shown once.
pub(super) async fn create_token(context: &AdminContext, call: Call) -> AdminResponse {
    let request: NewToken = match read_json(call.body).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let role: Role = match request.role.parse() {
        Ok(role) => role,
        Err(message) => return error(StatusCode::UNPROCESSABLE_ENTITY, &message),
    };
    let name = request.name.trim().to_owned();
    if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "name must be 1 to 100 printable characters");
    }
    let credentials = Arc::clone(&context.state.credentials);
    let (token_name, caller) = (name.clone(), call.caller);
    match blocking(move || credentials.create_api_token(&token_name, role, &caller)).await {
        Ok(token) => json(
            StatusCode::CREATED,
            &serde_json::json!({ "token": token.expose(), "name": name, "role": role.name() }),
        ),
        Err(response) => response,
    }
}

/// `GET /v1/tokens`: every token's id, name, role and creation time (never the token).
pub(super) async fn list_tokens(context: &AdminContext) -> AdminResponse {
    let credentials = Arc::clone(&context.state.credentials);
    match blocking(move || Ok(credentials.store().api_tokens()?)).await {
        Ok(tokens) => {
            let views: Vec<_> = tokens
                .iter()
                .map(|token| {
                    serde_json::json!({
                        "id": token.id(),
                        "name": token.name,
                        "role": token.role.name(),
                        "created_at": time::format(token.created_at),
                    })
                })
                .collect();
            json(StatusCode::OK, &serde_json::json!({ "tokens": views }))
        }
        Err(response) => response,
    }
}

/// `DELETE /v1/tokens/{id}`: revokes one token, audited; it stops working at once.
pub(super) async fn revoke_token(context: &AdminContext, call: Call) -> AdminResponse {
    let id = call.captured.unwrap_or_default();
    let credentials = Arc::clone(&context.state.credentials);
    let caller = call.caller;
    match blocking(move || credentials.revoke_api_token(&id, &caller)).await {
        Ok(Ok(_)) => empty(StatusCode::NO_CONTENT),
        Ok(Err(message)) if message.starts_with("no token") => error(StatusCode::NOT_FOUND, &message),
        Ok(Err(message)) => error(StatusCode::BAD_REQUEST, &message),
        Err(response) => response,
    }
}
