//! A logged-in user's softphones: the password shown once (after the password is asked
//! again), a new password on request, and a one-time QR link.

use std::net::IpAddr;
use std::sync::Arc;

use hyper::StatusCode;
use hyper::http::request::Parts;
use minijinja::context;
use sipprov_credentials::{CredentialState, Login, Revealed, Timestamp};
use sipprov_identity::Mac;

use crate::account_pages::{LOCKED, unavailable};
use crate::context::{Portal, blocking};
use crate::form::Form;
use crate::response::{self, PortalResponse};
use crate::sessions::Session;

/// `GET /`: the user's softphones and what may be done with each.
pub(crate) async fn home(portal: &Portal, session: &Session, notice: Option<&str>) -> PortalResponse {
    let (credentials, name) = (Arc::clone(&portal.state.credentials), session.user.clone());
    let read = blocking(move || {
        let Some(user) = credentials.portal_user(&name)? else { return Ok(None) };
        let now = credentials.now();
        let mut phones = Vec::new();
        for mac in &user.devices {
            let Some(device) = credentials.store().device(mac)? else { continue };
            let accounts: Vec<String> = device
                .accounts
                .iter()
                .map(|a| {
                    if a.display_name.is_empty() {
                        a.user_name.clone()
                    } else {
                        format!("{} ({})", a.user_name, a.display_name)
                    }
                })
                .collect();
            let holds_password = credentials.holds_password(&device, now);
            phones.push(context! {
                mac => mac.to_string(),
                accounts => accounts.join(", "),
                revealed_at => user.revealed_at(mac).map(format_time),
                can_reveal => matches!(device.state, CredentialState::Issued { .. }) && !device.disabled,
                can_link => holds_password,
            });
        }
        Ok(Some(phones))
    })
    .await;
    match read {
        Ok(Some(phones)) => {
            let offer_second_factor = portal.second_factor == crate::SecondFactor::Optional
                && session.stage == (crate::sessions::Stage::Complete { second_factor: false });
            let context = context! { title => "Your softphones", softphones => phones, notice, offer_second_factor };
            portal.page(StatusCode::OK, "home.html", Some(session), context)
        }
        // The user was removed: the session ends with it.
        Ok(None) => portal.message(StatusCode::FORBIDDEN, "Session ended", "Your session has ended.", None),
        Err(()) => unavailable(portal),
    }
}

/// `GET /reveal/{mac}`: asks for the password again before the one showing.
pub(crate) fn confirm_page(
    portal: &Portal,
    session: &Session,
    mac: Mac,
    problem: Option<&str>,
    status: StatusCode,
) -> PortalResponse {
    let context = context! { title => "Show the password", mac => mac.to_string(), problem };
    portal.page(status, "confirm.html", Some(session), context)
}

/// `POST /reveal/{mac}`: the password again, then the one showing.
pub(crate) async fn reveal(portal: &Portal, parts: &Parts, form: Form, mac: Mac, ip: IpAddr) -> PortalResponse {
    let session = match portal.session_for_form(parts, &form) {
        Ok(session) => session,
        Err(refused) => return refused,
    };
    if portal.guard.locked(ip) {
        return confirm_page(portal, &session, mac, Some(LOCKED), StatusCode::TOO_MANY_REQUESTS);
    }
    let password = form.get("password").unwrap_or_default().to_owned();
    let (credentials, user, peer) = (Arc::clone(&portal.state.credentials), session.user.clone(), ip.to_string());
    let revealed = blocking(move || match credentials.portal_login(&user, &password, &peer, "reveal")? {
        Login::Accepted(_) => Ok(Ok(credentials.reveal(&user, &mac, &peer)?)),
        refused => Ok(Err(refused)),
    })
    .await;
    match revealed {
        Ok(Ok(Revealed::Shown { accounts, secrets })) => {
            let shown: Vec<_> = accounts
                .iter()
                .map(|account| {
                    context! {
                        user => account.user_name.as_str(),
                        auth => account.auth_name.as_str(),
                        password => secrets.sip_password(account.line).map(|p| p.expose().to_owned()),
                        registrar => account.registrar.clone().unwrap_or_else(|| portal.registrar.clone()),
                    }
                })
                .collect();
            tracing::info!(user = %session.user, %mac, %ip, "softphone password revealed");
            portal.page(
                StatusCode::OK,
                "revealed.html",
                Some(&session),
                context! { title => "Your SIP account", accounts => shown },
            )
        }
        Ok(Ok(Revealed::Already { at })) => {
            let when = at.map_or_else(|| "earlier".to_owned(), |at| format!("on {}", format_time(at)));
            let message = format!(
                "This password was shown or delivered {when} and is not shown again. If you do not have it, request a new password."
            );
            portal.message(StatusCode::GONE, "Already shown", &message, Some(&session))
        }
        Ok(Ok(Revealed::Unavailable)) => response::not_found(),
        Ok(Err(Login::Locked { .. })) => {
            portal.login_failed(ip).await;
            confirm_page(portal, &session, mac, Some(LOCKED), StatusCode::TOO_MANY_REQUESTS)
        }
        Ok(Err(_)) => {
            portal.login_failed(ip).await;
            confirm_page(portal, &session, mac, Some("The password is wrong."), StatusCode::UNAUTHORIZED)
        }
        Err(()) => unavailable(portal),
    }
}

/// `POST /renew/{mac}`: a new password for the softphone (re-armed; shown or linked once again).
pub(crate) async fn renew(portal: &Portal, parts: &Parts, form: Form, mac: Mac) -> PortalResponse {
    let session = match portal.session_for_form(parts, &form) {
        Ok(session) => session,
        Err(refused) => return refused,
    };
    let (credentials, user) = (Arc::clone(&portal.state.credentials), session.user.clone());
    match blocking(move || credentials.renew_for_portal_user(&user, &mac)).await {
        Ok(true) => {
            tracing::info!(user = %session.user, %mac, "softphone password renewed by its user");
            home(portal, &session, Some("A new password was issued: show it, or set up your softphone with a QR code."))
                .await
        }
        Ok(false) => response::not_found(),
        Err(()) => unavailable(portal),
    }
}

/// `POST /link/{mac}`: a one-time provisioning link, as a QR code and as text.
pub(crate) async fn link(portal: &Portal, parts: &Parts, form: Form, mac: Mac) -> PortalResponse {
    let session = match portal.session_for_form(parts, &form) {
        Ok(session) => session,
        Err(refused) => return refused,
    };
    let (credentials, user, ttl) = (Arc::clone(&portal.state.credentials), session.user.clone(), portal.link_ttl);
    let made = blocking(move || {
        if !credentials.portal_user(&user)?.is_some_and(|owner| owner.has_device(&mac)) {
            return Ok(None);
        }
        credentials.create_link(&mac, ttl, &format!("portal:{user}")).map(Some)
    })
    .await;
    match made {
        Ok(Some(Ok((token, expires_at)))) => {
            let url = format!("{}/p/{}", portal.public_url, token.expose());
            let Some(svg) = crate::qr::svg(&url) else { return unavailable(portal) };
            let context =
                context! { title => "Set up your softphone", url, svg, expires_at => format_time(expires_at) };
            portal.page(StatusCode::OK, "link.html", Some(&session), context)
        }
        Ok(Some(Err(why))) => {
            tracing::info!(user = %session.user, %mac, reason = %why, "no provisioning link made");
            let message = "The password of this softphone was delivered already. Request a new password first.";
            portal.message(StatusCode::CONFLICT, "No link made", message, Some(&session))
        }
        Ok(None) => response::not_found(),
        Err(()) => unavailable(portal),
    }
}

/// A time as people read it, in UTC.
fn format_time(at: Timestamp) -> String {
    jiff::Timestamp::from_second(at.unix())
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| at.unix().to_string())
}
