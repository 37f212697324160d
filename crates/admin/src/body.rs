//! Admin responses: JSON documents, plain text, or a stream of JSON lines.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use serde::Serialize;

pub(crate) type AdminBody = Full<Bytes>;
pub(crate) type AdminResponse = Response<AdminBody>;

fn respond(status: StatusCode, body: AdminBody, content_type: &'static str) -> AdminResponse {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Responses may carry secrets handed over once (HA1, passwords, tokens): never cached.
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A JSON document.
pub(crate) fn json(status: StatusCode, value: &impl Serialize) -> AdminResponse {
    match serde_json::to_vec_pretty(value) {
        Ok(mut bytes) => {
            bytes.push(b'\n');
            respond(status, Full::new(Bytes::from(bytes)), "application/json")
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &format!("cannot encode the response: {e}")),
    }
}

/// `{"error": message}` with `status`.
pub(crate) fn error(status: StatusCode, message: &str) -> AdminResponse {
    let body = serde_json::json!({ "error": message });
    let mut bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"error\":\"error\"}".to_vec());
    bytes.push(b'\n');
    respond(status, Full::new(Bytes::from(bytes)), "application/json")
}

/// Plain text (Prometheus exposition format).
pub(crate) fn text(body: String, content_type: &'static str) -> AdminResponse {
    respond(StatusCode::OK, Full::new(Bytes::from(body)), content_type)
}

/// No content.
pub(crate) fn empty(status: StatusCode) -> AdminResponse {
    respond(status, Full::new(Bytes::new()), "application/json")
}

/// JSON lines, one document per line.
pub(crate) fn json_lines(lines: Vec<u8>) -> AdminResponse {
    respond(StatusCode::OK, Full::new(Bytes::from(lines)), "application/x-ndjson")
}
