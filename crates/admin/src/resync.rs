//! `POST /v1/resync`: devices asked to fetch their configuration now, by a SIP NOTIFY through
//! the registrar (see `sipprov_resync`), each outcome returned and audited.

use std::sync::Arc;

use hyper::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use sipprov_credentials::{AuditEvent, AuditKind, Clock, Credentials, DeviceQuery, DeviceRecord, SystemClock, quote};
use sipprov_identity::Mac;
use sipprov_resync::{Outcome, Resyncer, Target, resync_event};
use sipprov_template::split_host_port;

use super::body::{AdminResponse, error, json};
use super::call::{AdminContext, Call, blocking, read_json};

/// The most devices one call asks: at 20 a second, about four minutes.
pub const MAX_DEVICES: usize = 5_000;

/// How re-sync NOTIFYs are sent.
#[derive(Debug, Clone)]
pub struct ResyncConfig {
    /// The proxy, timers and pace.
    pub resyncer: Resyncer,
    /// The domain of an address of record (`sip:user@domain`) for accounts without a
    /// registrar of their own: the `[sip] registrar` host.
    pub domain: String,
    /// A device changed through the API (`PATCH /v1/devices/{mac}`) is asked to fetch its
    /// configuration at once.
    pub after_update: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResyncRequest {
    #[serde(default)]
    macs: Vec<String>,
    site: Option<String>,
    model: Option<String>,
    #[serde(default)]
    all: bool,
    #[serde(default)]
    reboot: bool,
}

/// `POST /v1/resync` `{"macs": [...]} | {"site": S} | {"model": M} | {"all": true}`, with
/// `"reboot": true` for the rebooting event.
pub(super) async fn resync(context: &AdminContext, call: Call) -> AdminResponse {
    let Some(config) = context.resync.clone() else {
        return error(StatusCode::NOT_FOUND, "re-sync is not configured ([resync] proxy in the configuration file)");
    };
    let request: ResyncRequest = match read_json(call.body).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let selectors = [!request.macs.is_empty(), request.site.is_some(), request.model.is_some(), request.all];
    if selectors.iter().filter(|given| **given).count() != 1 {
        return error(StatusCode::BAD_REQUEST, "name the devices one way: macs, site, model or all");
    }
    if request.macs.len() > MAX_DEVICES {
        return error(StatusCode::BAD_REQUEST, &format!("at most {MAX_DEVICES} devices a call"));
    }
    let mut macs = Vec::with_capacity(request.macs.len());
    for text in &request.macs {
        match Mac::parse(text) {
            Ok(mac) => macs.push(mac),
            Err(e) => return error(StatusCode::BAD_REQUEST, &format!("macs: {text:?}: {}", e.reason())),
        }
    }
    let credentials = Arc::clone(&context.state.credentials);
    let (site, model) = (request.site.clone(), request.model.clone());
    let selected = blocking(move || {
        let store = credentials.store();
        if !macs.is_empty() {
            let mut found = Vec::new();
            for mac in macs {
                found.push((mac, store.device(&mac)?));
            }
            return Ok(found);
        }
        let (mut found, mut after) = (Vec::new(), None);
        loop {
            let page =
                store.devices(&DeviceQuery { site: site.clone(), after, limit: 500, ..DeviceQuery::default() })?;
            let Some(last) = page.last() else { return Ok(found) };
            after = Some(last.mac);
            let wanted = page.into_iter().filter(|device| model.is_none() || device.profile.model == model);
            found.extend(wanted.map(|device| (device.mac, Some(device))));
            if found.len() > MAX_DEVICES {
                return Ok(found);
            }
        }
    })
    .await;
    let selected = match selected {
        Ok(selected) if selected.len() > MAX_DEVICES => {
            let message = format!("more than {MAX_DEVICES} devices: narrow the call by site or model");
            return error(StatusCode::BAD_REQUEST, &message);
        }
        Ok(selected) => selected,
        Err(response) => return response,
    };
    let mut targets = Vec::new();
    let mut not_enrolled = Vec::new();
    for (mac, device) in selected {
        match device.as_ref().and_then(|device| target(device, &config.domain, request.reboot)) {
            Some(target) => targets.push(target),
            None => not_enrolled.push(mac),
        }
    }
    let credentials = Arc::clone(&context.state.credentials);
    let results = match send_and_audit(config, credentials, targets, call.caller).await {
        Ok(results) => results,
        Err(response) => return response,
    };
    let mut rows: Vec<Value> = results.iter().map(|(target, outcome)| row(target, outcome)).collect();
    rows.extend(not_enrolled.iter().map(|mac| json!({"mac": mac.to_string(), "outcome": "not-enrolled"})));
    json(StatusCode::OK, &json!({"results": rows}))
}

/// With `[resync] after_update`, a device just changed through the API is asked to fetch its
/// configuration, in the background: the answer to the change does not wait for the phone.
pub(super) fn after_update(context: &AdminContext, device: &DeviceRecord, caller: &str) {
    let Some(config) = context.resync.clone().filter(|config| config.after_update) else { return };
    let Some(target) = target(device, &config.domain, false) else { return };
    let (credentials, caller) = (Arc::clone(&context.state.credentials), caller.to_owned());
    tokio::spawn(async move {
        let _ = send_and_audit(config, credentials, vec![target], caller).await;
    });
}

/// Sends the NOTIFYs, then appends each outcome to the audit log, attributed to `caller`.
async fn send_and_audit(
    config: ResyncConfig,
    credentials: Arc<Credentials>,
    targets: Vec<Target>,
    caller: String,
) -> Result<Vec<(Target, Outcome)>, AdminResponse> {
    let resyncer = config.resyncer;
    let results = match tokio::task::spawn_blocking(move || resyncer.resync(targets)).await {
        Ok(results) => results,
        Err(e) => {
            tracing::error!(error = %e, "re-sync task failed");
            return Err(error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"));
        }
    };
    let now = SystemClock.now();
    let events: Vec<AuditEvent> = results
        .iter()
        .filter_map(|(target, outcome)| {
            let mac = Mac::parse(&target.label).ok()?;
            let status = outcome.status().map_or_else(|| "-".to_owned(), |status| status.to_string());
            let detail = format!(
                "event={} outcome={} status={status} by={}",
                quote(target.event),
                outcome.name(),
                quote(&caller)
            );
            Some(AuditEvent::new(now, mac, AuditKind::Resync, detail))
        })
        .collect();
    blocking(move || Ok(credentials.store().append_audit(events)?)).await?;
    Ok(results)
}

/// What to send `device`: its first account's address of record and its vendor's event.
fn target(device: &DeviceRecord, domain: &str, reboot: bool) -> Option<Target> {
    let account = device.accounts.first()?;
    let domain = account.registrar.as_deref().map_or(domain, |registrar| split_host_port(registrar).0);
    Some(Target {
        label: device.mac.to_string(),
        aor: format!("sip:{}@{domain}", account.user_name),
        event: resync_event(device.profile.vendor.as_deref(), reboot),
    })
}

fn row(target: &Target, outcome: &Outcome) -> Value {
    let mut row = json!({
        "mac": target.label,
        "aor": target.aor,
        "event": target.event,
        "outcome": outcome.name(),
        "status": outcome.status(),
    });
    if let Outcome::Failed(reason) | Outcome::Refused(_, reason) = outcome {
        row["reason"] = json!(reason);
    }
    row
}
