//! The registrars: what is queued for them (`GET /v1/registrar`), and rebuilding them from
//! what sipprov keeps (`POST /v1/registrar/sync`).

use std::sync::Arc;

use hyper::StatusCode;
use serde::Deserialize;
use serde_json::json;
use sipprov_registrar::{Outbox, SyncError};

use super::body::{AdminResponse, error, json};
use super::call::{AdminContext, Call, blocking, failure, read_json};

/// The most queued changes counted; more shows as this many.
const PENDING_COUNTED: usize = 10_000;

/// `GET /v1/registrar`: the registrars configured and how many changes wait for them.
pub(super) async fn status(context: &AdminContext) -> AdminResponse {
    let Some(outbox) = configured(context) else { return not_configured() };
    let names: Vec<String> = outbox.registrars().iter().map(|registrar| registrar.name().to_owned()).collect();
    let credentials = Arc::clone(outbox.credentials());
    let pending = match blocking(move || credentials.registrar_pending(PENDING_COUNTED)).await {
        Ok(pending) => pending,
        Err(response) => return response,
    };
    let oldest = pending.first().map(|entry| {
        json!({
            "user": entry.change.user,
            "change": if entry.change.ha1.is_some() { "set" } else { "delete" },
            "mac": entry.change.mac.to_string(),
        })
    });
    json(
        StatusCode::OK,
        &json!({
            "realm": outbox.credentials().registrar_realm(),
            "registrars": names,
            "pending": pending.len(),
            "oldest_pending": oldest,
        }),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncRequest {
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    prune: bool,
}

/// `POST /v1/registrar/sync` `{"dry_run": false, "prune": false}`: see
/// [`Outbox::sync`](sipprov_registrar::Outbox::sync).
pub(super) async fn sync(context: &AdminContext, call: Call) -> AdminResponse {
    let Some(outbox) = configured(context) else { return not_configured() };
    let request: SyncRequest = match read_json(call.body).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let synced = tokio::task::spawn_blocking(move || outbox.sync(request.dry_run, request.prune)).await;
    match synced {
        Ok(Ok(sync)) => json(StatusCode::OK, &sync.to_json()),
        Ok(Err(SyncError::Registrar(e))) => {
            error(StatusCode::BAD_GATEWAY, &format!("a registrar failed: {e}; what was written before stays"))
        }
        Ok(Err(SyncError::Credentials(e))) => failure(&e),
        Ok(Err(e)) => error(StatusCode::NOT_FOUND, &e.to_string()),
        Err(e) => {
            tracing::error!(error = %e, "registrar sync task failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

fn configured(context: &AdminContext) -> Option<Arc<Outbox>> {
    context.outbox.clone()
}

fn not_configured() -> AdminResponse {
    error(StatusCode::NOT_FOUND, "no registrar is configured ([[registrar]] in the configuration file)")
}
