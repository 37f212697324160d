//! Recognising a request path as one of the files phones ask for.

use sipprov_identity::Mac;

/// A phone vendor whose files sipprov can recognise and render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Vendor {
    /// Yealink T4x/T5x/CP/W phones.
    Yealink,
}

/// What a request path asks for, from a closed set of routes.
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

/// Parses a request path (without query string) into the file it names.
///
/// Recognised: `/{mac}.cfg` (Yealink device file; hex digits and extension in either case).
/// Everything else, including percent-encoded, dotted, doubled-slash or separator-spelled paths,
/// is [`RequestedFile::Unknown`]: the path is matched against known shapes, never resolved.
pub fn recognise(path: &str) -> RequestedFile {
    let Some(name) = path.strip_prefix('/') else {
        return RequestedFile::Unknown;
    };
    if let Some(stem) = strip_suffix_ignore_case(name, ".cfg")
        && stem.len() == 12
        && let Ok(mac) = Mac::parse(stem)
    {
        return RequestedFile::DeviceConfig { vendor: Vendor::Yealink, mac };
    }
    RequestedFile::Unknown
}

fn strip_suffix_ignore_case<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let split = s.len().checked_sub(suffix.len())?;
    let (stem, tail) = (s.get(..split)?, s.get(split..)?);
    tail.eq_ignore_ascii_case(suffix).then_some(stem)
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
        ] {
            assert_eq!(recognise(path), RequestedFile::Unknown, "{path:?}");
        }
    }
}
