//! One admin call as the handlers see it, and what every handler uses: reading a JSON body,
//! running blocking credential work, the response for a failure.

use http_body_util::{BodyExt, Limited};
use hyper::StatusCode;
use hyper::body::Incoming;
use serde::de::DeserializeOwned;
use sipprov_credentials::CredentialsError;
use sipprov_serving::ServerState;

use crate::body::{AdminResponse, error};

/// What every handler works with: the node's state and the realm HA1 values are made for.
pub(crate) struct AdminContext {
    pub(crate) state: ServerState,
    pub(crate) realm: String,
    /// Days without a fetch after which a device is stale (reports and metrics).
    pub(crate) stale_days: u64,
    /// The registrars and their outbox, if configured.
    pub(crate) outbox: Option<std::sync::Arc<sipprov_registrar::Outbox>>,
    /// How re-sync NOTIFYs are sent, if configured.
    pub(crate) resync: Option<crate::ResyncConfig>,
    /// The softphone portal's links, if configured.
    pub(crate) portal: Option<crate::PortalLinks>,
    /// The fleet figures last read for `/metrics`, and when.
    pub(crate) summary: std::sync::Mutex<Option<(std::time::Instant, sipprov_fleet::report::FleetSummary)>>,
}

/// One admin call, as the handlers see it.
pub(crate) struct Call {
    /// The path segment the route captured (a MAC, a ban key).
    pub(crate) captured: Option<String>,
    /// The query string's pairs.
    pub(crate) query: Vec<(String, String)>,
    /// Who is calling, for the audit log (`token:<name>`).
    pub(crate) caller: String,
    pub(crate) body: Incoming,
}

impl Call {
    /// The value of query parameter `name`, if given.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// A yes/no query parameter (`true`/`1`/`yes`).
    pub(crate) fn flag(&self, name: &str) -> bool {
        matches!(self.param(name), Some("true" | "1" | "yes"))
    }
}

/// The largest JSON body accepted outside imports.
const MAX_BODY: usize = 1024 * 1024;

/// Reads a call's body as a JSON document of at most [`MAX_BODY`] bytes; an empty body reads
/// as `{}`.
pub(crate) async fn read_json<T: DeserializeOwned>(body: Incoming) -> Result<T, AdminResponse> {
    let bytes = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => return Err(error(StatusCode::BAD_REQUEST, &format!("cannot read the body: {e}"))),
    };
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &bytes };
    serde_json::from_slice(bytes).map_err(|e| error(StatusCode::BAD_REQUEST, &format!("invalid JSON body: {e}")))
}

/// Runs a blocking credential call off the async workers; a failure becomes its response.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, CredentialsError> + Send + 'static,
) -> Result<T, AdminResponse> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(failure(&e)),
        Err(e) => {
            tracing::error!(error = %e, "admin task failed");
            Err(error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
        }
    }
}

/// The response for a failed credential operation (nothing was changed).
pub(crate) fn failure(e: &CredentialsError) -> AdminResponse {
    tracing::error!(error = %e, "admin operation failed; nothing changed");
    error(StatusCode::SERVICE_UNAVAILABLE, &format!("nothing changed: {e}"))
}
