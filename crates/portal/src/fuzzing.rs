//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`, never in a build that
//! serves): the portal's parsers of what browsers send, each asserting what must hold of
//! whatever it accepts.

use crate::form::{Form, cookie_in};

/// Bytes as a posted form body and as a `Cookie` header. A form that parses gives back, for
/// every name it holds, a value without the encoding's escapes left undecoded where the
/// input had none; a cookie found is a part of the header.
pub fn form_and_cookies(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    if let Some(form) = Form::parse(text) {
        for name in ["csrf", "name", "password", "code", "user", "token"] {
            if let Some(value) = form.get(name) {
                assert!(value.len() <= text.len(), "a decoded value is never longer than its encoding");
            }
        }
    }
    for name in ["__Host-sipprov-session", "__Host-sipprov-form"] {
        if let Some(value) = cookie_in(text, name) {
            assert!(text.contains(value), "a cookie value is part of its header");
            assert!(!value.contains(';'), "a cookie value ends at ';'");
        }
    }
}
