//! The first, Yealink-only recognition API, kept for existing callers.
//!
//! New code uses [`recognise_route`](super::recognise_route), which knows every profile and
//! leaves the choice of format to what the caller knows for certain.

use sipprov_identity::Mac;

use super::{Route, recognise_route};
use crate::Vendor;

/// What a request path asks for, in the first API: a Yealink device file or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestedFile {
    /// A device's own config file, named after its MAC; may carry secrets.
    DeviceConfig {
        /// Whose file format the path names.
        vendor: Vendor,
        /// The MAC in the path, canonical. A claim to be checked against the certificate.
        mac: Mac,
    },
    /// Anything else. Answered with the uniform "not found".
    Unknown,
}

/// Parses a request path (without query string) into the Yealink device file it names.
///
/// Recognised: `/{mac}.cfg` with the MAC as 12 hex digits (either case, extension in either
/// case). Everything else is [`RequestedFile::Unknown`], including the separator spellings that
/// [`recognise_route`] accepts: this function keeps the behaviour its callers were written for.
pub fn recognise(path: &str) -> RequestedFile {
    // "/" + 12 hex digits + ".cfg": the only spelling this API ever accepted.
    const PLAIN_LEN: usize = 17;
    match recognise_route(path, None) {
        Route::Device { mac, files }
            if path.len() == PLAIN_LEN
                && files.for_vendor(Vendor::Yealink).is_some_and(|f| f.pattern == "{mac}.cfg") =>
        {
            RequestedFile::DeviceConfig { vendor: Vendor::Yealink, mac }
        }
        _ => RequestedFile::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yealink(mac: &str) -> RequestedFile {
        RequestedFile::DeviceConfig { vendor: Vendor::Yealink, mac: Mac::parse(mac).unwrap() }
    }

    #[test]
    fn yealink_device_file_in_any_case() {
        for path in ["/001565aabbcc.cfg", "/001565AABBCC.cfg", "/001565aabbcc.CFG"] {
            assert_eq!(recognise(path), yealink("001565aabbcc"), "{path}");
        }
    }

    #[test]
    fn everything_else_is_unknown() {
        for path in [
            "",
            "/",
            "001565aabbcc.cfg",
            "//001565aabbcc.cfg",
            "/../001565aabbcc.cfg",
            "/%30%30%31565aabbcc.cfg",
            "/001565aabbcc.cfg%00",
            "/001565aabbcc.cfg/",
            "/00:15:65:aa:bb:cc.cfg",
            "/0015.65aa.bbcc.cfg",
            "/001565aabbcc",
            "/001565aabbcc.cfg.bak",
            "/y000000000000.cfg",
            "/XMLDefault.cnf.xml",
            "/001565aabbc\u{e9}.cfg",
            "/é.cfg",
            "/001565aabbcc.xml",
            "/001565aabbcc.boot",
        ] {
            assert_eq!(recognise(path), RequestedFile::Unknown, "{path:?}");
        }
    }
}
