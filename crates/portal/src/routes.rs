//! Which handler answers a request: a closed set of paths, everything else the uniform 404.

use std::net::IpAddr;

use hyper::body::Incoming;
use hyper::header::USER_AGENT;
use hyper::{Method, Request, StatusCode};
use sipprov_identity::Mac;

use crate::account_pages;
use crate::context::Portal;
use crate::form::Form;
use crate::pages::STYLE;
use crate::provisioning;
use crate::response::{self, PortalResponse};
use crate::second_factor_pages;
use crate::sessions::Stage;
use crate::softphone_pages;

/// Answers one request; also names the route it took, for the log (never the path itself: it
/// may hold a token).
pub(crate) async fn answer(portal: &Portal, request: Request<Incoming>, ip: IpAddr) -> (PortalResponse, &'static str) {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let posted = || async { Form::read(body).await };
    match (&parts.method, segments.as_slice()) {
        (&Method::GET, [""]) => {
            let page = match portal.any_session(&parts) {
                Some(session) if session.stage == Stage::AwaitingCode => {
                    second_factor_pages::code_page(portal, &session, None, StatusCode::OK)
                }
                Some(session) if !portal.may_act(&session) => {
                    second_factor_pages::enrol_page(portal, &session, None).await
                }
                Some(session) => softphone_pages::home(portal, &session, None).await,
                None => account_pages::login_page(portal, StatusCode::OK, "", None),
            };
            (page, "home")
        }
        (&Method::POST, ["login", "code"]) => match posted().await {
            Some(form) => (second_factor_pages::submit_code(portal, &parts, form, ip).await, "login-code"),
            None => (bad_form(portal), "login-code"),
        },
        (&Method::GET, ["totp"]) => match portal.session(&parts) {
            Some(session) => (second_factor_pages::enrol_page(portal, &session, None).await, "totp"),
            None => (response::redirect("/"), "totp"),
        },
        (&Method::POST, ["totp"]) => match posted().await {
            Some(form) => (second_factor_pages::confirm(portal, &parts, form, ip).await, "totp"),
            None => (bad_form(portal), "totp"),
        },
        (&Method::GET, ["style.css"]) => (response::css(STYLE), "style"),
        (&Method::POST, ["login"]) => match posted().await {
            Some(form) => (account_pages::login(portal, &parts, form, ip).await, "login"),
            None => (bad_form(portal), "login"),
        },
        (&Method::POST, ["logout"]) => match posted().await {
            Some(form) => (account_pages::logout(portal, &parts, &form), "logout"),
            None => (bad_form(portal), "logout"),
        },
        (&Method::GET, ["activate"]) => (account_pages::activate_page(portal, &parts), "activate"),
        (&Method::POST, ["activate"]) => match posted().await {
            Some(form) => (account_pages::activate(portal, &parts, form, ip).await, "activate"),
            None => (bad_form(portal), "activate"),
        },
        (&Method::GET, ["reveal", mac]) => {
            let (Some(session), Some(mac)) = (portal.session(&parts).filter(|s| portal.may_act(s)), device(mac)) else {
                return (response::redirect("/"), "reveal");
            };
            (softphone_pages::confirm_page(portal, &session, mac, None, StatusCode::OK), "reveal")
        }
        (&Method::POST, [action @ ("reveal" | "renew" | "link"), mac]) => {
            let (Some(mac), Some(form)) = (device(mac), posted().await) else { return (bad_form(portal), "form") };
            match *action {
                "reveal" => (softphone_pages::reveal(portal, &parts, form, mac, ip).await, "reveal"),
                "renew" => (softphone_pages::renew(portal, &parts, form, mac).await, "renew"),
                _ => (softphone_pages::link(portal, &parts, form, mac).await, "link"),
            }
        }
        (&Method::GET, ["p", token, file @ ..]) if file.len() <= 1 => {
            let user_agent = parts.headers.get(USER_AGENT).and_then(|ua| ua.to_str().ok()).map(str::to_owned);
            (provisioning::fetch(portal, token, file.first().copied(), ip, user_agent).await, "provisioning-link")
        }
        _ => (response::not_found(), "unmatched"),
    }
}

/// A MAC as the portal's paths spell it (12 hex digits), if it is one.
fn device(text: &str) -> Option<Mac> {
    if text.len() != 12 {
        return None;
    }
    text.parse().ok()
}

fn bad_form(portal: &Portal) -> PortalResponse {
    portal.message(StatusCode::BAD_REQUEST, "Form refused", "This form could not be read. Please try again.", None)
}
