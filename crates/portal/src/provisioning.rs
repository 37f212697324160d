//! `GET /p/{token}` (or `/p/{token}/zoiper.xml`, another softphone's account format): a
//! softphone exchanges a one-time link for its config. The token dies on
//! first use or expiry; every other answer is the uniform 404 (a used token also raises an
//! alert), and an unknown token counts as a miss for scan detection.

use std::net::IpAddr;
use std::sync::Arc;

use sipprov_ratelimit::{MissKind, ScanOutcome};
use sipprov_serving::LinkClient;

use crate::context::{Portal, blocking};
use crate::response::{self, PortalResponse};

/// The length of a link token: 32 bytes in URL-safe base64 without padding.
const TOKEN_CHARS: usize = 43;

/// `file`: the softphone account format the path asks for (`zoiper.xml`), if any; an unknown
/// one gets the 404 before the token is used.
pub(crate) async fn fetch(
    portal: &Portal,
    token: &str,
    file: Option<&str>,
    ip: IpAddr,
    user_agent: Option<String>,
) -> PortalResponse {
    let file = match file {
        Some(name) => match portal.configs.formats().into_iter().find(|known| *known == name) {
            Some(known) => Some(known),
            None => return response::not_found(),
        },
        None => None,
    };
    let well_formed =
        token.len() == TOKEN_CHARS && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        portal.state.admission.record(ip, ScanOutcome::Miss(MissKind::UnknownDevice), portal.state.admission.now());
        return response::not_found();
    }
    let (credentials, presented, peer) = (Arc::clone(&portal.state.credentials), token.to_owned(), ip.to_string());
    let Ok(mac) = blocking(move || credentials.use_link(&presented, &peer)).await else {
        return response::not_found();
    };
    let Some(mac) = mac else {
        portal.state.admission.record(ip, ScanOutcome::Miss(MissKind::UnknownDevice), portal.state.admission.now());
        return response::not_found();
    };
    let (configs, client) = (Arc::clone(&portal.configs), LinkClient { peer: ip.to_string(), user_agent });
    match tokio::task::spawn_blocking(move || configs.deliver(&mac, &client, file)).await {
        Ok(Ok(Some(config))) => {
            tracing::info!(%mac, %ip, "softphone provisioned through a one-time link");
            portal.state.admission.record(ip, ScanOutcome::Hit, portal.state.admission.now());
            response::config(config.body, config.content_type)
        }
        Ok(Ok(None)) => response::not_found(),
        Ok(Err(e)) => {
            tracing::error!(%mac, error = %e, "a one-time link's config cannot be delivered");
            response::not_found()
        }
        Err(e) => {
            tracing::error!(%mac, error = %e, "one-time link task failed");
            response::not_found()
        }
    }
}
