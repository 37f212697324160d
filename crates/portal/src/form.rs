//! Reading what a browser posts: an `application/x-www-form-urlencoded` body of bounded size,
//! and cookies.

use std::collections::HashMap;

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::COOKIE;
use hyper::http::request::Parts;

/// The largest form body read: the portal's forms hold a few short fields.
const MAX_FORM: usize = 8 * 1024;

/// A posted form's fields (the last value of a repeated name wins).
#[derive(Debug, Default)]
pub(crate) struct Form(HashMap<String, String>);

impl Form {
    /// Reads and parses the body; `None` if it is too large, unreadable or not UTF-8.
    pub(crate) async fn read(body: Incoming) -> Option<Self> {
        let bytes = Limited::new(body, MAX_FORM).collect().await.ok()?.to_bytes();
        Self::parse(std::str::from_utf8(&bytes).ok()?)
    }

    /// Parses `a=1&b=x%20y`; `None` if a value is not UTF-8 once decoded.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let mut fields = HashMap::new();
        for pair in text.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            fields.insert(decode(name)?, decode(value)?);
        }
        Some(Self(fields))
    }

    /// The field's value, if posted.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

fn decode(text: &str) -> Option<String> {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).decode_utf8().ok().map(|text| text.into_owned())
}

/// The value of cookie `name` in the request, if sent.
pub(crate) fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|header| cookie_in(header, name))
}

/// The value of cookie `name` in one `Cookie` header's text, if it is there.
pub(crate) fn cookie_in<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The query parameter `name`, decoded.
pub(crate) fn query_param(parts: &Parts, name: &str) -> Option<String> {
    Form::parse(parts.uri.query()?)?.get(name).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_percent_and_plus() {
        let form = Form::parse("user=alice&password=a+b%26c%3D&empty=&flag").unwrap();
        assert_eq!(form.get("user"), Some("alice"));
        assert_eq!(form.get("password"), Some("a b&c="));
        assert_eq!(form.get("empty"), Some(""));
        assert_eq!(form.get("flag"), Some(""));
        assert_eq!(form.get("absent"), None);
        assert!(Form::parse("x=%FF").is_none(), "not UTF-8");
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let header = "a=1; __Host-sipprov-session=abc; __Host-sipprov-session-x=no";
        assert_eq!(cookie_in(header, "__Host-sipprov-session"), Some("abc"));
        assert_eq!(cookie_in(header, "a"), Some("1"));
        assert_eq!(cookie_in(header, "b"), None);
        assert_eq!(cookie_in("", "a"), None);
    }
}
