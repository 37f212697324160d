//! The firmware catalogue and its targets: `/v1/firmware`.
//!
//! An image is uploaded as the request body, streamed to disk and hashed as it arrives (never
//! held in memory whole), and registered only once complete; its facts come in the query
//! string (`vendor`, `models`, `version`, `name`).

use std::sync::Arc;

use http_body_util::BodyExt;
use hyper::StatusCode;
use serde::Deserialize;
use sipprov_fleet::{FleetError, ImageInfo, Rollout, Scope, Target};

use super::body::{AdminResponse, error, json};
use super::call::{AdminContext, Call, read_json};

/// How much of an upload is written at a time.
const WRITE_SIZE: usize = 1 << 20;

/// Runs blocking fleet work off the async workers; a failure becomes its response.
pub(crate) async fn fleet_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, FleetError> + Send + 'static,
) -> Result<T, AdminResponse> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(fleet_failure(&e)),
        Err(e) => {
            tracing::error!(error = %e, "firmware task failed");
            Err(error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
        }
    }
}

/// The answer for a failed fleet operation (nothing was changed).
fn fleet_failure(e: &FleetError) -> AdminResponse {
    let status = match e {
        FleetError::Invalid(_) | FleetError::NoDirectory => StatusCode::BAD_REQUEST,
        FleetError::Conflict(_) => StatusCode::CONFLICT,
        FleetError::NotFound(_) => StatusCode::NOT_FOUND,
        FleetError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        FleetError::Store(_) | FleetError::Busy => StatusCode::SERVICE_UNAVAILABLE,
        _ => {
            tracing::error!(error = %e, "firmware operation failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    error(status, &format!("nothing changed: {e}"))
}

/// `GET /v1/firmware`: the images and the targets.
pub(super) async fn list(context: &AdminContext) -> AdminResponse {
    let fleet = Arc::clone(&context.state.fleet);
    match fleet_blocking(move || fleet.refresh().map(|()| fleet.policy())).await {
        Ok(policy) => json(StatusCode::OK, &*policy),
        Err(response) => response,
    }
}

/// `POST /v1/firmware?vendor=&models=&version=&name=`: registers the body as an image.
pub(super) async fn add(context: &AdminContext, call: Call) -> AdminResponse {
    let info = ImageInfo {
        vendor: call.param("vendor").unwrap_or_default().to_ascii_lowercase(),
        models: call.param("models").unwrap_or_default().split(',').map(|m| m.trim().to_owned()).collect(),
        version: call.param("version").unwrap_or_default().to_owned(),
        name: call.param("name").unwrap_or_default().to_owned(),
    };
    if let Err(e) = info.check() {
        return fleet_failure(&e);
    }
    let fleet = Arc::clone(&context.state.fleet);
    let mut upload = match fleet_blocking({
        let fleet = Arc::clone(&fleet);
        move || fleet.upload()
    })
    .await
    {
        Ok(upload) => upload,
        Err(response) => return response,
    };
    // Frames are gathered into writes of about a MiB: one trip to a blocking thread each.
    let mut body = call.body;
    let mut pending = Vec::with_capacity(WRITE_SIZE);
    loop {
        let frame = body.frame().await;
        let last = frame.is_none();
        match frame {
            Some(Ok(frame)) => pending.extend_from_slice(frame.data_ref().map_or(&[][..], |data| &data[..])),
            Some(Err(e)) => return error(StatusCode::BAD_REQUEST, &format!("the upload broke off: {e}")),
            None => {}
        }
        if pending.len() >= WRITE_SIZE || (last && !pending.is_empty()) {
            let chunk = std::mem::replace(&mut pending, Vec::with_capacity(WRITE_SIZE));
            upload = match fleet_blocking(move || upload.write(&chunk).map(|()| upload)).await {
                Ok(upload) => upload,
                Err(response) => return response,
            };
        }
        if last {
            break;
        }
    }
    let by = call.caller;
    match fleet_blocking(move || fleet.register(upload, info, &by)).await {
        Ok((image, true)) => json(StatusCode::CREATED, &image),
        Ok((image, false)) => json(StatusCode::OK, &image),
        Err(response) => response,
    }
}

/// `DELETE /v1/firmware/{sha256}`.
pub(super) async fn remove(context: &AdminContext, call: Call) -> AdminResponse {
    let (fleet, sha256, by) = (Arc::clone(&context.state.fleet), call.captured.unwrap_or_default(), call.caller);
    match fleet_blocking(move || fleet.remove(&sha256, &by)).await {
        Ok(image) => json(StatusCode::OK, &image),
        Err(response) => response,
    }
}

/// The body of `POST /v1/firmware/{sha256}/flag`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Flag {
    /// Why it must not run; `null` clears the flag.
    reason: Option<String>,
}

/// `POST /v1/firmware/{sha256}/flag`.
pub(super) async fn flag(context: &AdminContext, call: Call) -> AdminResponse {
    let flag: Flag = match read_json(call.body).await {
        Ok(flag) => flag,
        Err(response) => return response,
    };
    let (fleet, sha256, by) = (Arc::clone(&context.state.fleet), call.captured.unwrap_or_default(), call.caller);
    match fleet_blocking(move || fleet.flag(&sha256, flag.reason, &by)).await {
        Ok(image) => json(StatusCode::OK, &image),
        Err(response) => response,
    }
}

/// The body of `PUT /v1/firmware/targets`: one target.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetBody {
    vendor: String,
    model: String,
    version: String,
    /// Only at this site.
    site: Option<String>,
    /// Only this device.
    device: Option<String>,
    /// A staged roll-out: this share of the devices in scope (1 to 99).
    percent: Option<u8>,
    /// A staged roll-out: these devices first.
    devices: Option<Vec<String>>,
}

fn scope_of(site: Option<String>, device: Option<String>) -> Result<Scope, FleetError> {
    match (site, device) {
        (None, None) => Ok(Scope::Everywhere),
        (Some(site), None) => Ok(Scope::Site(site)),
        (None, Some(device)) => Ok(Scope::Device(device)),
        (Some(_), Some(_)) => Err(FleetError::Invalid("a target is for a site or a device, not both".into())),
    }
}

/// `PUT /v1/firmware/targets`: sets a target.
pub(super) async fn set_target(context: &AdminContext, call: Call) -> AdminResponse {
    let body: TargetBody = match read_json(call.body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let rollout = match (body.percent, body.devices) {
        (None, None) => Ok(Rollout::Everyone),
        (Some(percent), None) => Ok(Rollout::Percent(percent)),
        (None, Some(devices)) => Ok(Rollout::Devices(devices)),
        (Some(_), Some(_)) => Err(FleetError::Invalid("a roll-out is a percentage or a device list, not both".into())),
    };
    let target = scope_of(body.site, body.device).and_then(|scope| {
        Ok(Target {
            vendor: body.vendor.to_ascii_lowercase(),
            model: body.model,
            scope,
            version: body.version,
            rollout: rollout?,
            set_at: 0,
        })
    });
    let target = match target {
        Ok(target) => target,
        Err(e) => return fleet_failure(&e),
    };
    let (fleet, by) = (Arc::clone(&context.state.fleet), call.caller);
    match fleet_blocking(move || fleet.set_target(target, &by)).await {
        Ok(target) => json(StatusCode::OK, &target),
        Err(response) => response,
    }
}

/// `DELETE /v1/firmware/targets?vendor=&model=[&site=|&device=]`: clears a target.
pub(super) async fn clear_target(context: &AdminContext, call: Call) -> AdminResponse {
    let param = |name| call.param(name).map(str::to_owned);
    let scope = match scope_of(param("site"), param("device")) {
        Ok(scope) => scope,
        Err(e) => return fleet_failure(&e),
    };
    let (vendor, model) =
        (param("vendor").unwrap_or_default().to_ascii_lowercase(), param("model").unwrap_or_default());
    let (fleet, by) = (Arc::clone(&context.state.fleet), call.caller);
    match fleet_blocking(move || fleet.clear_target(&vendor, &model, &scope, &by)).await {
        Ok(target) => json(StatusCode::OK, &target),
        Err(response) => response,
    }
}
