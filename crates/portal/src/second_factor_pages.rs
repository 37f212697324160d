//! The second factor: the code asked after the password, and setting up an authenticator app.

use std::net::IpAddr;
use std::sync::Arc;

use hyper::StatusCode;
use hyper::http::request::Parts;
use minijinja::context;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use sipprov_credentials::Login;

use crate::SecondFactor;
use crate::account_pages::{LOCKED, login_page, unavailable};
use crate::context::{Portal, blocking};
use crate::form::{self, Form};
use crate::response::{self, PortalResponse, SESSION_COOKIE};
use crate::sessions::{Session, Stage};
use crate::softphone_pages;

/// The page asking for the code (a session waiting for it).
pub(crate) fn code_page(
    portal: &Portal,
    session: &Session,
    problem: Option<&str>,
    status: StatusCode,
) -> PortalResponse {
    // The form needs the session's token, but the page shows no logged-in header yet.
    let context = context! { title => "Second factor", problem, csrf => session.csrf.as_str() };
    response::html(status, portal.pages.render("code.html", context))
}

/// `POST /login/code`: the code; right, the login completes under a new session cookie.
pub(crate) async fn submit_code(portal: &Portal, parts: &Parts, form: Form, ip: IpAddr) -> PortalResponse {
    let session = match portal.checked_form(portal.awaiting_code(parts), &form) {
        Ok(session) => session,
        Err(refused) => return refused,
    };
    if portal.guard.locked(ip) {
        return code_page(portal, &session, Some(LOCKED), StatusCode::TOO_MANY_REQUESTS);
    }
    let (credentials, user, code, peer) = (
        Arc::clone(&portal.state.credentials),
        session.user.clone(),
        form.get("code").unwrap_or_default().to_owned(),
        ip.to_string(),
    );
    match blocking(move || credentials.check_totp(&user, &code, &peer)).await {
        Ok(Login::Accepted(_)) => {
            if let Some(cookie) = form::cookie(parts, SESSION_COOKIE) {
                portal.sessions.end(cookie);
            }
            let stage = Stage::Complete { second_factor: true };
            let Some((cookie, _)) = portal.sessions.start(&session.user, stage) else { return unavailable(portal) };
            tracing::info!(user = %session.user, %ip, "portal login");
            let mut response = response::redirect("/");
            response::set_cookie(&mut response, SESSION_COOKIE, &cookie);
            response
        }
        Ok(Login::Locked { .. }) => {
            portal.login_failed(ip).await;
            if let Some(cookie) = form::cookie(parts, SESSION_COOKIE) {
                portal.sessions.end(cookie);
            }
            login_page(portal, StatusCode::TOO_MANY_REQUESTS, &session.user, Some(LOCKED))
        }
        Ok(Login::Refused) => {
            portal.login_failed(ip).await;
            code_page(portal, &session, Some("The code is wrong or was used already."), StatusCode::UNAUTHORIZED)
        }
        Err(()) => unavailable(portal),
    }
}

/// `GET /totp` (and `/` while a required second factor is missing): a fresh key to set up.
pub(crate) async fn enrol_page(portal: &Portal, session: &Session, problem: Option<&str>) -> PortalResponse {
    if portal.second_factor == SecondFactor::Off || session.stage != (Stage::Complete { second_factor: false }) {
        return response::redirect("/");
    }
    let (credentials, user) = (Arc::clone(&portal.state.credentials), session.user.clone());
    let key = match blocking(move || credentials.begin_totp(&user)).await {
        Ok(Some(key)) => key,
        Ok(None) => return response::redirect("/"),
        Err(()) => return unavailable(portal),
    };
    let label = format!("{}:{}", portal.brand, session.user);
    let url = format!(
        "otpauth://totp/{}?secret={key}&issuer={}&algorithm=SHA1&digits=6&period=30",
        utf8_percent_encode(&label, NON_ALPHANUMERIC),
        utf8_percent_encode(&portal.brand, NON_ALPHANUMERIC)
    );
    let Some(svg) = crate::qr::svg(&url) else { return unavailable(portal) };
    let required = portal.second_factor == SecondFactor::Required;
    let context = context! { title => "Set up a second factor", svg, key, required, problem };
    portal.page(StatusCode::OK, "totp.html", Some(session), context)
}

/// `POST /totp`: the first code from the new key turns the second factor on.
pub(crate) async fn confirm(portal: &Portal, parts: &Parts, form: Form, ip: IpAddr) -> PortalResponse {
    let session = match portal.checked_form(portal.session(parts), &form) {
        Ok(session) => session,
        Err(refused) => return refused,
    };
    let (credentials, user, code, peer) = (
        Arc::clone(&portal.state.credentials),
        session.user.clone(),
        form.get("code").unwrap_or_default().to_owned(),
        ip.to_string(),
    );
    match blocking(move || credentials.confirm_totp(&user, &code, &peer)).await {
        Ok(true) => {
            // The session goes on with the second factor on, under a new cookie.
            if let Some(cookie) = form::cookie(parts, SESSION_COOKIE) {
                portal.sessions.end(cookie);
            }
            let stage = Stage::Complete { second_factor: true };
            let Some((cookie, fresh)) = portal.sessions.start(&session.user, stage) else { return unavailable(portal) };
            tracing::info!(user = %session.user, "portal second factor turned on");
            let mut response =
                softphone_pages::home(portal, &fresh, Some("Your second factor is on: logins now ask for a code."))
                    .await;
            response::set_cookie(&mut response, SESSION_COOKIE, &cookie);
            response
        }
        Ok(false) => {
            enrol_page(portal, &session, Some("The code is wrong. Check your device's clock and try again.")).await
        }
        Err(()) => unavailable(portal),
    }
}
