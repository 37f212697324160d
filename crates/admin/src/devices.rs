//! Devices: list, create, show, update, delete, re-arm, rotate, disable, enable; pending devices.

use std::sync::Arc;

use hyper::StatusCode;
use sipprov_credentials::{CredentialsError, DeviceQuery, MAX_PENDING_KEYS, PendingDevice, PendingQuery, Updated};
use sipprov_identity::Mac;

use super::body::{AdminResponse, empty, error, json};
use super::call::{AdminContext, Call, blocking, read_json};
use super::model::{
    DeviceInput, DevicePatch, DeviceView, IssuedView, NewDevice, PendingView, ReissueInput, check_password,
    parse_fingerprint,
};
use super::routes::parse_limit;
use super::time;

pub(super) async fn list(context: &AdminContext, call: Call) -> AdminResponse {
    let query = match device_query(&call) {
        Ok(query) => query,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let credentials = Arc::clone(&context.state.credentials);
    let limit = query.limit;
    match blocking(move || Ok(credentials.store().devices(&query)?)).await {
        Ok(devices) => {
            let next_after = (devices.len() == limit).then(|| devices.last().map(|d| d.mac.to_string())).flatten();
            let views: Vec<DeviceView> = devices.iter().map(DeviceView::from).collect();
            json(StatusCode::OK, &serde_json::json!({ "devices": views, "next_after": next_after }))
        }
        Err(response) => response,
    }
}

fn device_query(call: &Call) -> Result<DeviceQuery, String> {
    let now = time::now();
    let mut query = DeviceQuery::default();
    for (name, value) in &call.query {
        match name.as_str() {
            "state" => {
                let state = DeviceQuery::STATES.iter().find(|state| **state == value.as_str());
                query.state = Some(
                    *state
                        .ok_or_else(|| format!("state {value:?} is not one of {}", DeviceQuery::STATES.join(", ")))?,
                );
            }
            "vendor" => query.vendor = Some(value.to_ascii_lowercase()),
            "site" => query.site = Some(value.clone()),
            "seen_since" => query.seen_since = Some(time::parse(value, now)?),
            "not_seen_since" => query.not_seen_since = Some(time::parse(value, now)?),
            "after" => query.after = Some(Mac::parse(value).map_err(|e| format!("after: {}", e.reason()))?),
            "limit" => query.limit = parse_limit(value)?,
            other => return Err(format!("unknown query parameter {other:?}")),
        }
    }
    Ok(query)
}

pub(super) async fn create(context: &AdminContext, call: Call) -> AdminResponse {
    let input: DeviceInput = match read_json(call.body).await {
        Ok(input) => input,
        Err(response) => return response,
    };
    match input.validate(None) {
        Ok(device) => enrol(context, device, None, call.caller).await,
        Err(message) => error(StatusCode::UNPROCESSABLE_ENTITY, &message),
    }
}

/// Enrols a checked device (pinning the key of `pending`, the sighting the operator approved):
/// 201 with the registrar's hand-off, or 409 if the MAC is enrolled.
async fn enrol(context: &AdminContext, device: NewDevice, pending: Option<PendingDevice>, by: String) -> AdminResponse {
    let credentials = Arc::clone(&context.state.credentials);
    let realm = context.realm.clone();
    let enrolled = blocking(move || {
        let NewDevice { mac, accounts, profile, passwords, reveal_password, digest, .. } = device;
        let issued = match &pending {
            Some(pending) => credentials.enrol_pending(pending, accounts, profile, passwords, &by)?,
            None => credentials.enrol_with_profile(mac, accounts, profile, passwords, &by)?,
        };
        let Some(issued) = issued else {
            return Ok(None);
        };
        // A phone without a usable certificate gets its enrolment secret now, shown this once.
        let secret = match digest {
            Some(true) => credentials.issue_enrolment_secret(&mac, &by)?,
            _ => None,
        };
        let record = credentials.store().device(&mac)?;
        Ok(record.map(|record| IssuedView {
            enrolment_secret: secret.map(|secret| secret.expose().to_owned()),
            ..IssuedView::new(&record, &realm, &issued, reveal_password)
        }))
    })
    .await;
    match enrolled {
        Ok(Some(issued)) => json(StatusCode::CREATED, &issued),
        Ok(None) => error(StatusCode::CONFLICT, "a device with this MAC is already enrolled"),
        Err(response) => response,
    }
}

/// `POST /v1/devices/{mac}/enrolment-secret`: a new enrolment secret (the device then
/// authenticates with HTTP Digest), replacing any it had; shown once.
pub(super) async fn issue_secret(context: &AdminContext, call: Call) -> AdminResponse {
    let mac = match captured_mac(&call) {
        Ok(mac) => mac,
        Err(response) => return response,
    };
    let credentials = Arc::clone(&context.state.credentials);
    let by = call.caller;
    match blocking(move || credentials.issue_enrolment_secret(&mac, &by)).await {
        Ok(Some(secret)) => json(
            StatusCode::OK,
            &serde_json::json!({ "mac": mac.to_string(), "username": mac.to_string(), "enrolment_secret": secret.expose() }),
        ),
        Ok(None) => not_enrolled(),
        Err(response) => response,
    }
}

/// `DELETE /v1/devices/{mac}/enrolment-secret`: the device authenticates by certificate again.
pub(super) async fn remove_secret(context: &AdminContext, call: Call) -> AdminResponse {
    let mac = match captured_mac(&call) {
        Ok(mac) => mac,
        Err(response) => return response,
    };
    let credentials = Arc::clone(&context.state.credentials);
    let by = call.caller;
    match blocking(move || credentials.remove_enrolment_secret(&mac, &by)).await {
        Ok(true) => empty(StatusCode::NO_CONTENT),
        Ok(false) => error(StatusCode::NOT_FOUND, "the device is not enrolled, or holds no enrolment secret"),
        Err(response) => response,
    }
}

pub(super) async fn show(context: &AdminContext, call: Call) -> AdminResponse {
    let mac = match captured_mac(&call) {
        Ok(mac) => mac,
        Err(response) => return response,
    };
    let credentials = Arc::clone(&context.state.credentials);
    match blocking(move || Ok(credentials.store().device(&mac)?)).await {
        Ok(Some(device)) => json(StatusCode::OK, &DeviceView::from(&device)),
        Ok(None) => not_enrolled(),
        Err(response) => response,
    }
}

pub(super) async fn update(context: &AdminContext, call: Call) -> AdminResponse {
    let mac = match captured_mac(&call) {
        Ok(mac) => mac,
        Err(response) => return response,
    };
    let patch: DevicePatch = match read_json(call.body).await {
        Ok(patch) => patch,
        Err(response) => return response,
    };
    let credentials = Arc::clone(&context.state.credentials);
    let (realm, by, caller) = (context.realm.clone(), call.caller.clone(), call.caller);
    // The patch applies inside the store's transaction: concurrent changes do not overwrite it.
    match blocking(move || credentials.update(&mac, &by, move |device| patch.apply(device))).await {
        // Accounts added: their passwords are handed to the registrar, once.
        Ok(Updated::Changed(device, Some(issued))) => {
            super::resync::after_update(context, &device, &caller);
            json(StatusCode::OK, &IssuedView::new(&device, &realm, &issued, false))
        }
        Ok(Updated::Changed(device, None)) => {
            super::resync::after_update(context, &device, &caller);
            json(StatusCode::OK, &DeviceView::from(&device))
        }
        Ok(Updated::Unchanged(device)) => json(StatusCode::OK, &DeviceView::from(&device)),
        Ok(Updated::Refused(message)) => error(StatusCode::UNPROCESSABLE_ENTITY, &message),
        Ok(Updated::NotEnrolled) => not_enrolled(),
        Err(response) => response,
    }
}

pub(super) async fn delete(context: &AdminContext, call: Call) -> AdminResponse {
    let mac = match captured_mac(&call) {
        Ok(mac) => mac,
        Err(response) => return response,
    };
    let credentials = Arc::clone(&context.state.credentials);
    let by = call.caller;
    match blocking(move || credentials.delete(&mac, &by)).await {
        Ok(true) => empty(StatusCode::NO_CONTENT),
        Ok(false) => not_enrolled(),
        Err(response) => response,
    }
}

/// Fresh secrets for an enrolled device.
#[derive(Debug, Clone, Copy)]
pub(super) enum Reissue {
    /// Key pin cleared: for a replaced or factory-reset phone.
    Rearm,
    /// Key pin kept: for a suspected leak.
    Rotate,
}

pub(super) async fn reissue(context: &AdminContext, call: Call, how: Reissue) -> AdminResponse {
    let mac = match captured_mac(&call) {
        Ok(mac) => mac,
        Err(response) => return response,
    };
    let reveal_asked = call.flag("reveal_password");
    let input: ReissueInput = match read_json(call.body).await {
        Ok(input) => input,
        Err(response) => return response,
    };
    let password = match input.password.map(check_password).transpose() {
        Ok(password) => password,
        Err(message) => return error(StatusCode::UNPROCESSABLE_ENTITY, &message),
    };
    let reveal = reveal_asked || input.reveal_password;
    let credentials = Arc::clone(&context.state.credentials);
    let (realm, by) = (context.realm.clone(), call.caller);
    let scope = sipprov_credentials::Reissue { line: input.line, sip_password: password };
    let outcome = blocking(move || {
        let issued = match how {
            Reissue::Rearm => credentials.rearm(&mac, scope, &by),
            Reissue::Rotate => credentials.rotate(&mac, scope, &by),
        };
        let issued = match issued {
            Err(CredentialsError::Invalid(message)) => return Ok(Err(message)),
            issued => issued?,
        };
        let Some(issued) = issued else { return Ok(Ok(None)) };
        let Some(device) = credentials.store().device(&mac)? else { return Ok(Ok(None)) };
        Ok(Ok(Some(IssuedView::new(&device, &realm, &issued, reveal))))
    })
    .await;
    match outcome {
        Ok(Ok(Some(issued))) => json(StatusCode::OK, &issued),
        Ok(Ok(None)) => not_enrolled(),
        Ok(Err(message)) => error(StatusCode::UNPROCESSABLE_ENTITY, &message),
        Err(response) => response,
    }
}

pub(super) async fn set_disabled(context: &AdminContext, call: Call, disabled: bool) -> AdminResponse {
    let mac = match captured_mac(&call) {
        Ok(mac) => mac,
        Err(response) => return response,
    };
    let credentials = Arc::clone(&context.state.credentials);
    let by = call.caller;
    let outcome = blocking(move || {
        if !credentials.set_disabled(&mac, disabled, &by)? {
            return Ok(None);
        }
        Ok(credentials.store().device(&mac)?)
    })
    .await;
    match outcome {
        Ok(Some(device)) => json(StatusCode::OK, &DeviceView::from(&device)),
        Ok(None) => not_enrolled(),
        Err(response) => response,
    }
}

pub(super) async fn list_pending(context: &AdminContext, call: Call) -> AdminResponse {
    let mut query = PendingQuery::default();
    for (name, value) in &call.query {
        let parsed = match name.as_str() {
            "limit" => parse_limit(value).map(|limit| query.limit = limit),
            "after" => parse_pending_cursor(value).map(|after| query.after = Some(after)),
            "mac" => Mac::parse(value).map(|mac| query.mac = Some(mac)).map_err(|e| format!("mac: {}", e.reason())),
            other => Err(format!("unknown query parameter {other:?}")),
        };
        if let Err(message) = parsed {
            return error(StatusCode::BAD_REQUEST, &message);
        }
    }
    let credentials = Arc::clone(&context.state.credentials);
    let limit = query.limit;
    match blocking(move || Ok(credentials.store().pending(&query)?)).await {
        Ok(pending) => {
            let next_after = (pending.len() == limit)
                .then(|| pending.last().map(|p| format!("{}.{}", p.mac, hex::encode(p.spki_sha256))))
                .flatten();
            let views: Vec<PendingView> = pending.iter().map(PendingView::from).collect();
            json(StatusCode::OK, &serde_json::json!({ "pending": views, "next_after": next_after }))
        }
        Err(response) => response,
    }
}

/// A page cursor of the pending list: `MAC.FINGERPRINT`, as `next_after` gives it.
fn parse_pending_cursor(text: &str) -> Result<(Mac, [u8; 32]), String> {
    let (mac, spki) = text.split_once('.').ok_or("after: expected MAC.FINGERPRINT, as next_after gives it")?;
    Ok((Mac::parse(mac).map_err(|e| format!("after: {}", e.reason()))?, parse_fingerprint(spki)?))
}

/// Enrols a device from the pending list, pinning the key the operator approves: the one given
/// as `spki_sha256`, or the only one seen. A MAC claimed by several keys needs the choice.
pub(super) async fn enrol_pending(context: &AdminContext, call: Call) -> AdminResponse {
    let mac = match captured_mac(&call) {
        Ok(mac) => mac,
        Err(response) => return response,
    };
    let input: DeviceInput = match read_json(call.body).await {
        Ok(input) => input,
        Err(response) => return response,
    };
    let device = match input.validate(Some(mac)) {
        Ok(device) => device,
        Err(message) => return error(StatusCode::UNPROCESSABLE_ENTITY, &message),
    };
    let credentials = Arc::clone(&context.state.credentials);
    let query = PendingQuery { mac: Some(mac), limit: MAX_PENDING_KEYS, ..PendingQuery::default() };
    let pending = match blocking(move || Ok(credentials.store().pending(&query)?)).await {
        Ok(pending) => pending,
        Err(response) => return response,
    };
    let seen: Vec<String> = pending.iter().map(|p| hex::encode(p.spki_sha256)).collect();
    let approved = match (device.spki_sha256, pending.as_slice()) {
        (_, []) => return error(StatusCode::NOT_FOUND, "no pending device with this MAC"),
        (Some(spki), _) => match pending.iter().find(|p| p.spki_sha256 == spki) {
            Some(approved) => approved.clone(),
            None => {
                let message = format!("{mac} was not seen with key {}; seen: {}", hex::encode(spki), seen.join(", "));
                return error(StatusCode::CONFLICT, &message);
            }
        },
        (None, [only]) => only.clone(),
        (None, _) => {
            let message = format!(
                "{} keys claimed {mac} ({}): give spki_sha256 to say which certificate you approve",
                pending.len(),
                seen.join(", ")
            );
            return error(StatusCode::CONFLICT, &message);
        }
    };
    enrol(context, device, Some(approved), call.caller).await
}

fn captured_mac(call: &Call) -> Result<Mac, AdminResponse> {
    let text = call.captured.as_deref().unwrap_or_default();
    Mac::parse(text).map_err(|e| error(StatusCode::BAD_REQUEST, &format!("the path's MAC: {}", e.reason())))
}

fn not_enrolled() -> AdminResponse {
    error(StatusCode::NOT_FOUND, "no device with this MAC is enrolled")
}
