//! The portal's answers: HTML pages, redirects, the softphone's config, the uniform 404, each
//! with the security headers every answer carries.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue, LOCATION, SET_COOKIE};
use hyper::{Response, StatusCode};

pub(crate) type PortalResponse = Response<Full<Bytes>>;

/// The session cookie: `__Host-` (Secure, Path=/, no Domain: this host only).
pub(crate) const SESSION_COOKIE: &str = "__Host-sipprov-session";
/// The cookie a form posted before login is checked against (double submit).
pub(crate) const FORM_COOKIE: &str = "__Host-sipprov-form";

/// On every answer: nothing loads from elsewhere, no script runs, no frame holds the page, no
/// address leaks in a Referer, nothing is cached.
const SECURITY_HEADERS: [(&str, &str); 6] = [
    (
        "content-security-policy",
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
    ),
    ("strict-transport-security", "max-age=31536000; includeSubDomains"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("x-frame-options", "DENY"),
];

fn respond(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> PortalResponse {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// An HTML page.
pub(crate) fn html(status: StatusCode, page: String) -> PortalResponse {
    respond(status, "text/html; charset=utf-8", page)
}

/// The style sheet.
pub(crate) fn css(sheet: &'static str) -> PortalResponse {
    let mut response = respond(StatusCode::OK, "text/css; charset=utf-8", sheet);
    // The one thing that may be cached: it holds nothing of anyone's.
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}

/// A softphone's config.
pub(crate) fn config(body: String, content_type: &'static str) -> PortalResponse {
    respond(StatusCode::OK, content_type, body)
}

/// See other: after a form, the browser fetches `location`.
pub(crate) fn redirect(location: &'static str) -> PortalResponse {
    let mut response = respond(StatusCode::SEE_OTHER, "text/plain; charset=utf-8", "");
    response.headers_mut().insert(LOCATION, HeaderValue::from_static(location));
    response
}

/// The same 404 for every unknown path, token or device: it tells nothing.
pub(crate) fn not_found() -> PortalResponse {
    respond(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "not found\n")
}

/// Sets cookie `name` (`__Host-`: Secure, HttpOnly, SameSite=Strict, Path=/) for the session.
pub(crate) fn set_cookie(response: &mut PortalResponse, name: &str, value: &str) {
    let cookie = format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite=Strict");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
}

/// Removes cookie `name` from the browser.
pub(crate) fn clear_cookie(response: &mut PortalResponse, name: &str) {
    let cookie = format!("{name}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
}
