//! The few responses the phone listener ever sends.

use http_body_util::{Either, Full};
use hyper::body::Bytes;
use hyper::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};

use crate::firmware::FileBody;

/// A whole body, or a firmware image streamed from disk.
pub(crate) type Body = Either<Full<Bytes>, FileBody>;

/// The one answer for anything not served: unknown paths, another device's file, devices not
/// enrolled, wrong methods. Byte for byte the same, so it reveals nothing about what exists.
pub(crate) fn not_found() -> Response<Body> {
    plain(StatusCode::NOT_FOUND, "Not Found\n")
}

/// The one answer of the Digest listener for any request it cannot attribute to a device by
/// its secret (none given, a wrong one, an unknown device): a fresh challenge, `values` the
/// `WWW-Authenticate` headers. Only the nonce differs between two of them.
pub(crate) fn challenge(values: &[String]) -> Response<Body> {
    let mut response = plain(StatusCode::UNAUTHORIZED, "Unauthorized\n");
    for value in values {
        if let Ok(value) = HeaderValue::from_str(value) {
            response.headers_mut().append(hyper::header::WWW_AUTHENTICATE, value);
        }
    }
    response
}

/// The server cannot decide right now (the store failed); nothing was consumed.
pub(crate) fn unavailable() -> Response<Body> {
    plain(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable\n")
}

/// A rendered config file.
pub(crate) fn config_file(body: String, content_type: &'static str) -> Response<Body> {
    with_headers(StatusCode::OK, Bytes::from(body), content_type)
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    with_headers(status, Bytes::from_static(text.as_bytes()), "text/plain; charset=utf-8")
}

/// A firmware image of `length` bytes, streamed from `file`.
pub(crate) fn firmware(file: std::fs::File, length: u64) -> Response<Body> {
    let mut response = Response::new(Either::Right(FileBody::stream(file)));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    response
}

fn with_headers(status: StatusCode, body: Bytes, content_type: &'static str) -> Response<Body> {
    let mut response = Response::new(Either::Left(Full::new(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Configs carry secrets: no proxy or client cache may keep them.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
