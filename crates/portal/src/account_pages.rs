//! Logging in and out, and activating an account from the operator's link.

use std::net::IpAddr;
use std::sync::Arc;

use hyper::StatusCode;
use hyper::http::request::Parts;
use minijinja::context;
use sipprov_credentials::{ActivationRefusal, Login, MIN_PASSWORD_CHARS};

use crate::context::{Portal, blocking};
use crate::form::{self, Form};
use crate::response::{self, FORM_COOKIE, PortalResponse, SESSION_COOKIE};
use crate::sessions::Stage;
use crate::token;

/// The login page, with a fresh form token (cookie and hidden field).
pub(crate) fn login_page(portal: &Portal, status: StatusCode, name: &str, problem: Option<&str>) -> PortalResponse {
    login_page_with(portal, status, name, problem, None)
}

fn login_page_with(
    portal: &Portal,
    status: StatusCode,
    name: &str,
    problem: Option<&str>,
    notice: Option<&str>,
) -> PortalResponse {
    let Some(form_token) = token::fresh() else { return unavailable(portal) };
    let context = context! { title => "Log in", name, problem, notice, form_token => form_token.as_str() };
    let mut response = portal.page(status, "login.html", None, context);
    response::set_cookie(&mut response, FORM_COOKIE, &form_token);
    response
}

/// `POST /login`.
pub(crate) async fn login(portal: &Portal, parts: &Parts, form: Form, ip: IpAddr) -> PortalResponse {
    let name = form.get("name").unwrap_or_default().trim().to_lowercase();
    if !portal.form_token_matches(parts, &form) {
        return login_page(portal, StatusCode::FORBIDDEN, &name, Some("This form has expired. Please try again."));
    }
    if portal.guard.locked(ip) {
        return login_page(portal, StatusCode::TOO_MANY_REQUESTS, &name, Some(LOCKED));
    }
    let password = form.get("password").unwrap_or_default().to_owned();
    let (credentials, user, peer) = (Arc::clone(&portal.state.credentials), name.clone(), ip.to_string());
    let outcome = blocking(move || credentials.portal_login(&user, &password, &peer, "login")).await;
    match outcome {
        Ok(Login::Accepted(user)) => {
            let stage =
                if user.has_second_factor() { Stage::AwaitingCode } else { Stage::Complete { second_factor: false } };
            let Some((cookie, _)) = portal.sessions.start(&user.name, stage) else { return unavailable(portal) };
            tracing::info!(user = %user.name, %ip, "portal password accepted");
            let mut response = response::redirect("/");
            response::set_cookie(&mut response, SESSION_COOKIE, &cookie);
            response::clear_cookie(&mut response, FORM_COOKIE);
            response
        }
        Ok(Login::Refused) => {
            portal.login_failed(ip).await;
            login_page(portal, StatusCode::UNAUTHORIZED, &name, Some("The user name or the password is wrong."))
        }
        Ok(Login::Locked { .. }) => {
            portal.login_failed(ip).await;
            login_page(portal, StatusCode::TOO_MANY_REQUESTS, &name, Some(LOCKED))
        }
        Err(()) => unavailable(portal),
    }
}

/// What a locked-out login is told: the same for an account and an address.
pub(crate) const LOCKED: &str = "Too many failed attempts. Please wait 15 minutes and try again.";

/// `POST /logout`: the session ends here, whatever the browser keeps.
pub(crate) fn logout(portal: &Portal, parts: &Parts, form: &Form) -> PortalResponse {
    if let Err(refused) = portal.checked_form(portal.any_session(parts), form) {
        return refused;
    }
    if let Some(cookie) = form::cookie(parts, SESSION_COOKIE) {
        portal.sessions.end(cookie);
    }
    let mut response = response::redirect("/");
    response::clear_cookie(&mut response, SESSION_COOKIE);
    response
}

/// `GET /activate?user=NAME&token=TOKEN`: the form to choose a password.
pub(crate) fn activate_page(portal: &Portal, parts: &Parts) -> PortalResponse {
    let (Some(name), Some(activation)) = (form::query_param(parts, "user"), form::query_param(parts, "token")) else {
        return response::not_found();
    };
    activation_form(portal, StatusCode::OK, &name, &activation, None)
}

fn activation_form(
    portal: &Portal,
    status: StatusCode,
    name: &str,
    activation: &str,
    problem: Option<&str>,
) -> PortalResponse {
    let Some(form_token) = token::fresh() else { return unavailable(portal) };
    let context = context! {
        title => "Activate your account", name, token => activation, problem, min_chars => MIN_PASSWORD_CHARS,
        form_token => form_token.as_str(),
    };
    let mut response = portal.page(status, "activate.html", None, context);
    response::set_cookie(&mut response, FORM_COOKIE, &form_token);
    response
}

/// `POST /activate`.
pub(crate) async fn activate(portal: &Portal, parts: &Parts, form: Form, ip: IpAddr) -> PortalResponse {
    let name = form.get("user").unwrap_or_default().to_owned();
    let activation = form.get("token").unwrap_or_default().to_owned();
    if !portal.form_token_matches(parts, &form) {
        return activation_form(
            portal,
            StatusCode::FORBIDDEN,
            &name,
            &activation,
            Some("This form has expired. Please try again."),
        );
    }
    if portal.guard.locked(ip) {
        return portal.message(StatusCode::TOO_MANY_REQUESTS, "Activate your account", LOCKED, None);
    }
    let (password, again) = (form.get("password").unwrap_or_default(), form.get("again").unwrap_or_default());
    if password != again {
        return activation_form(
            portal,
            StatusCode::UNPROCESSABLE_ENTITY,
            &name,
            &activation,
            Some("The two passwords differ."),
        );
    }
    let (credentials, user, password, peer) =
        (Arc::clone(&portal.state.credentials), name.clone(), password.to_owned(), ip.to_string());
    let token = activation.clone();
    match blocking(move || credentials.activate_portal_user(&user, &token, &password, &peer)).await {
        Ok(Ok(())) => {
            tracing::info!(user = %name, %ip, "portal account activated");
            login_page_with(portal, StatusCode::OK, &name, None, Some("Your password is set. Log in with it."))
        }
        Ok(Err(ActivationRefusal::WeakPassword(why))) => {
            activation_form(portal, StatusCode::UNPROCESSABLE_ENTITY, &name, &activation, Some(&why))
        }
        Ok(Err(ActivationRefusal::InvalidLink)) => {
            portal.login_failed(ip).await;
            portal.message(
                StatusCode::NOT_FOUND,
                "Activate your account",
                "This activation link is not valid: it was used already or has expired. Ask your provider for a new one.",
                None,
            )
        }
        Err(()) => unavailable(portal),
    }
}

/// The store or the RNG failed: nothing was changed.
pub(crate) fn unavailable(portal: &Portal) -> PortalResponse {
    portal.message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Unavailable",
        "The service is unavailable. Please try again later.",
        None,
    )
}
