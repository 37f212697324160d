//! The softphone portal's users and one-time links, as the operator manages them:
//! `POST/GET /v1/users`, `DELETE /v1/users/{name}`, `POST /v1/users/{name}/reset` and
//! `POST /v1/softphones/{mac}/link`. Links and activation tokens are answered once, never kept.

use std::sync::Arc;
use std::time::Duration;

use hyper::StatusCode;
use serde::Deserialize;
use sipprov_credentials::{OneTimeToken, PortalUser, Timestamp};
use sipprov_identity::Mac;

use super::body::{AdminResponse, empty, error, json};
use super::call::{AdminContext, Call, blocking, read_json};
use super::time;

/// Where the portal is reached and how long its links work: what the admin API needs to hand
/// out activation and provisioning links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalLinks {
    /// `https://host[:port]` of the portal listener.
    pub public_url: String,
    /// How long an activation link works.
    pub activation_ttl: Duration,
    /// How long a provisioning link works unless the call asks for less.
    pub link_ttl: Duration,
}

/// The longest provisioning link an operator may ask for.
const MAX_LINK_TTL: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    email: String,
    #[serde(default)]
    devices: Vec<String>,
}

fn portal(context: &AdminContext) -> Result<&PortalLinks, AdminResponse> {
    context.portal.as_ref().ok_or_else(|| error(StatusCode::CONFLICT, "no softphone portal is configured ([portal])"))
}

fn activation_url(portal: &PortalLinks, name: &str, token: &OneTimeToken) -> String {
    format!("{}/activate?user={name}&token={}", portal.public_url, token.expose())
}

fn user_view(user: &PortalUser) -> serde_json::Value {
    let revealed: serde_json::Map<String, serde_json::Value> =
        user.revealed.iter().map(|(mac, at)| (mac.clone(), time::format(Timestamp::from_unix(*at)).into())).collect();
    serde_json::json!({
        "name": user.name,
        "email": user.email,
        "devices": user.devices.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "active": user.password_hash.is_some(),
        "locked_until": user.locked_until.map(|until| time::format(Timestamp::from_unix(until))),
        "revealed": revealed,
        "created_at": time::format(Timestamp::from_unix(user.created_at)),
    })
}

/// `POST /v1/users`: a user with its softphones; answers the activation link once.
pub(crate) async fn create(context: &AdminContext, call: Call) -> AdminResponse {
    let portal = match portal(context) {
        Ok(portal) => portal.clone(),
        Err(response) => return response,
    };
    let request: NewUser = match read_json(call.body).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let mut devices = Vec::new();
    for text in &request.devices {
        match text.parse::<Mac>() {
            Ok(mac) => devices.push(mac),
            Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, &format!("device {text:?}: {e}")),
        }
    }
    let credentials = Arc::clone(&context.state.credentials);
    let (name, email, caller, ttl) = (request.name, request.email, call.caller, portal.activation_ttl);
    match blocking(move || credentials.create_portal_user(&name, &email, devices, ttl, &caller)).await {
        Ok(Ok((user, token))) => {
            let mut view = user_view(&user);
            view["activation_url"] = activation_url(&portal, &user.name, &token).into();
            let expires = user.activation.as_ref().map(|a| time::format(Timestamp::from_unix(a.expires_at)));
            view["activation_expires_at"] = expires.into();
            json(StatusCode::CREATED, &view)
        }
        Ok(Err(refused)) if refused.contains("exists") => error(StatusCode::CONFLICT, &refused),
        Ok(Err(refused)) => error(StatusCode::UNPROCESSABLE_ENTITY, &refused),
        Err(response) => response,
    }
}

/// `GET /v1/users`: every user (never a password hash or token).
pub(crate) async fn list(context: &AdminContext) -> AdminResponse {
    let credentials = Arc::clone(&context.state.credentials);
    match blocking(move || credentials.portal_users()).await {
        Ok(users) => {
            json(StatusCode::OK, &serde_json::json!({ "users": users.iter().map(user_view).collect::<Vec<_>>() }))
        }
        Err(response) => response,
    }
}

/// `DELETE /v1/users/{name}`.
pub(crate) async fn remove(context: &AdminContext, call: Call) -> AdminResponse {
    let (credentials, name, caller) =
        (Arc::clone(&context.state.credentials), call.captured.unwrap_or_default(), call.caller);
    match blocking(move || credentials.remove_portal_user(&name, &caller)).await {
        Ok(true) => empty(StatusCode::NO_CONTENT),
        Ok(false) => error(StatusCode::NOT_FOUND, "no such user"),
        Err(response) => response,
    }
}

/// `POST /v1/users/{name}/reset`: a fresh activation link; the old password stops working.
pub(crate) async fn reset(context: &AdminContext, call: Call) -> AdminResponse {
    let portal = match portal(context) {
        Ok(portal) => portal.clone(),
        Err(response) => return response,
    };
    let name = call.captured.unwrap_or_default();
    let (credentials, user, caller, ttl) =
        (Arc::clone(&context.state.credentials), name.clone(), call.caller, portal.activation_ttl);
    match blocking(move || credentials.reset_portal_user(&user, ttl, &caller)).await {
        Ok(Some(token)) => json(
            StatusCode::OK,
            &serde_json::json!({ "name": name, "activation_url": activation_url(&portal, &name, &token) }),
        ),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such user"),
        Err(response) => response,
    }
}

/// `POST /v1/softphones/{mac}/link[?ttl=15m]`: a one-time provisioning link for the softphone
/// (its own format), with the same link for the other softphone account formats (one use in all).
pub(crate) async fn link(context: &AdminContext, call: Call) -> AdminResponse {
    let portal = match portal(context) {
        Ok(portal) => portal.clone(),
        Err(response) => return response,
    };
    let mac: Mac = match call.captured.as_deref().unwrap_or_default().parse() {
        Ok(mac) => mac,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("not a MAC: {e}")),
    };
    let ttl = match call.param("ttl") {
        None => portal.link_ttl,
        Some(text) => match time::parse_duration(text).and_then(|s| u64::try_from(s).ok()).map(Duration::from_secs) {
            Some(ttl) if !ttl.is_zero() && ttl <= MAX_LINK_TTL => ttl,
            _ => return error(StatusCode::BAD_REQUEST, "ttl must be a duration such as 15m, at most 24h"),
        },
    };
    let (credentials, caller) = (Arc::clone(&context.state.credentials), call.caller);
    match blocking(move || credentials.create_link(&mac, ttl, &caller)).await {
        Ok(Ok((token, expires_at))) => {
            let url = format!("{}/p/{}", portal.public_url, token.expose());
            let formats: serde_json::Map<String, serde_json::Value> = sipprov_template::LinkFormat::ALL
                .into_iter()
                .map(|format| (format.file().vendor.name().to_owned(), format!("{url}/{}", format.file_name()).into()))
                .collect();
            let link = serde_json::json!({ "url": url, "formats": formats, "expires_at": time::format(expires_at) });
            json(StatusCode::CREATED, &link)
        }
        Ok(Err(refused)) if refused.contains("not enrolled") => error(StatusCode::NOT_FOUND, &refused),
        Ok(Err(refused)) => error(StatusCode::CONFLICT, &refused),
        Err(response) => response,
    }
}
