//! Recognising a request path as one of the files phones ask for.
//!
//! The path is matched against the patterns of every [`VendorProfile`](crate::VendorProfile),
//! never resolved: it never reaches a filesystem, and anything outside the known shapes is
//! [`Route::Unknown`]. Before any matching, a path is refused unless it is `/` followed by
//! 1 to [`MAX_NAME_LEN`] bytes of `A-Z a-z 0-9 . _ - :` without `..`. That alone excludes
//! percent-encoding, NUL, backslashes, further slashes (`//`, directories), query and fragment
//! characters and non-ASCII, so no decoding trick can turn one route into another.
//!
//! Several vendors ask for the same shape (`{mac}.cfg`: Yealink, Polycom, Fanvil; `{mac}.xml`:
//! Cisco, Snom, Gigaset, Linphone). Such a path is one route with several candidate files. The
//! *kind* and the *MAC* never depend on the vendor; only the file format does, and the caller
//! picks it with [`Candidates::for_vendor`] from what it knows for certain (the certificate's
//! vendor, the inventory). The User-Agent only fills in [`Candidates::hint`], for diagnostics.

mod pattern;

use std::sync::LazyLock;

use sipprov_identity::Mac;

use crate::{FileKind, ProfileFile, UserAgent, Vendor, profiles};

/// The longest file name (after the leading `/`) a route can have.
pub const MAX_NAME_LEN: usize = 128;

/// What a request path asks for, from a closed set of routes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Route {
    /// A device's own file, named after its MAC. Serve it only when `mac` is the certificate's MAC.
    Device {
        /// The MAC in the path, canonical whatever its spelling. A claim, to be checked.
        mac: Mac,
        /// The files this path can be, one per vendor.
        files: Candidates,
    },
    /// A file every phone of a vendor or model fetches. Never carries secrets.
    Common {
        /// The files this path can be, one per vendor.
        files: Candidates,
    },
    /// A firmware image.
    Firmware {
        /// The files this path can be, one per vendor.
        files: Candidates,
    },
    /// A file the phone uploads, bound to the MAC in its name (Polycom logs).
    Upload {
        /// The MAC in the path, canonical. Accept the upload only from that device.
        mac: Mac,
        /// The files this path can be, one per vendor.
        files: Candidates,
    },
    /// Anything else: answered like every other unknown or unauthorized request.
    Unknown,
}

/// The profile files a path can be, at most one per vendor, plus the User-Agent's hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidates {
    files: Vec<&'static ProfileFile>,
    hint: Option<Vendor>,
}

impl Candidates {
    /// The file this path is for a phone of `vendor`, or `None` if that vendor never asks for it.
    ///
    /// Pass what is known for certain (the certificate's or the inventory's vendor), never the
    /// User-Agent: a forged UA must not choose the format.
    pub fn for_vendor(&self, vendor: Vendor) -> Option<&'static ProfileFile> {
        self.files.iter().copied().find(|f| f.vendor == vendor)
    }

    /// The vendors whose phones ask for this path.
    pub fn vendors(&self) -> impl Iterator<Item = Vendor> + '_ {
        self.files.iter().map(|f| f.vendor)
    }

    /// The candidate files, one per vendor.
    pub fn files(&self) -> &[&'static ProfileFile] {
        &self.files
    }

    /// The User-Agent's vendor, when it is one of the candidates. A hint, never authorization.
    pub fn hint(&self) -> Option<Vendor> {
        self.hint
    }

    /// The only candidate vendor, or else the hinted one.
    pub fn vendor(&self) -> Option<Vendor> {
        match self.files.as_slice() {
            [only] => Some(only.vendor),
            _ => self.hint,
        }
    }
}

impl Route {
    /// What kind of file the path names.
    pub fn kind(&self) -> FileKind {
        match self {
            Route::Device { .. } => FileKind::Device,
            Route::Common { .. } => FileKind::Common,
            Route::Firmware { .. } => FileKind::Firmware,
            Route::Upload { .. } => FileKind::Upload,
            Route::Unknown => FileKind::Unknown,
        }
    }

    /// The MAC the path names (device files and uploads).
    pub fn mac(&self) -> Option<Mac> {
        match self {
            Route::Device { mac, .. } | Route::Upload { mac, .. } => Some(*mac),
            _ => None,
        }
    }

    /// The candidate files, unless the path is unknown.
    pub fn candidates(&self) -> Option<&Candidates> {
        match self {
            Route::Device { files, .. }
            | Route::Common { files }
            | Route::Firmware { files }
            | Route::Upload { files, .. } => Some(files),
            Route::Unknown => None,
        }
    }

    /// The file this path is for a phone of `vendor` (see [`Candidates::for_vendor`]).
    pub fn file_for(&self, vendor: Vendor) -> Option<&'static ProfileFile> {
        self.candidates().and_then(|c| c.for_vendor(vendor))
    }
}

/// Parses a request path (without query string) into the file it names.
///
/// `user_agent` only sets [`Candidates::hint`]; it never changes the kind, the MAC, or whether
/// the path is recognised. Snom also sends its MAC as `?mac=`: the query is not part of the path
/// and is ignored, the MAC in the file name is what counts.
///
/// ```
/// use sipprov_template::{FileKind, Route, Vendor, recognise_route};
///
/// let route = recognise_route("/001565AABBCC.cfg", Some("Yealink SIP-T46G 28.72.0.1 00:15:65:aa:bb:cc"));
/// assert_eq!(route.kind(), FileKind::Device);
/// assert_eq!(route.mac().unwrap().to_string(), "001565aabbcc");
/// let files = route.candidates().unwrap();
/// assert_eq!(files.vendors().collect::<Vec<_>>(), [Vendor::Yealink, Vendor::Polycom, Vendor::Fanvil]);
/// assert_eq!(files.hint(), Some(Vendor::Yealink));
///
/// // The certificate says Polycom: Polycom's meaning of the path is what counts.
/// assert_eq!(route.file_for(Vendor::Polycom).unwrap().pattern, "{mac}.cfg");
///
/// assert_eq!(recognise_route("/..%2f001565aabbcc.cfg", None), Route::Unknown);
/// ```
pub fn recognise_route(path: &str, user_agent: Option<&str>) -> Route {
    let Some(name) = path.strip_prefix('/') else {
        return Route::Unknown;
    };
    if name.is_empty() || name.len() > MAX_NAME_LEN || name.contains("..") || !name.bytes().all(is_path_byte) {
        return Route::Unknown;
    }
    let mut matches: Vec<(&'static ProfileFile, Option<Mac>)> = Vec::new();
    for (file, pattern) in patterns() {
        if let Some(captured) = pattern.match_name(name) {
            match matches.iter_mut().find(|(kept, _)| kept.vendor == file.vendor) {
                // One file per vendor: the pattern with more literal text is the more specific.
                Some(kept) if pattern::literal_len(file.pattern) > pattern::literal_len(kept.0.pattern) => {
                    *kept = (file, captured.mac);
                }
                Some(_) => {}
                None => matches.push((file, captured.mac)),
            }
        }
    }
    let Some(&(first, mac)) = matches.first() else {
        return Route::Unknown;
    };
    // A path that two vendors read as different kinds or different MACs is ambiguous: refused.
    if matches.iter().any(|(f, m)| f.kind != first.kind || *m != mac) {
        return Route::Unknown;
    }
    // The User-Agent only tells candidates apart: read it only when there are several.
    let hint = user_agent
        .filter(|_| matches.len() > 1)
        .and_then(|ua| UserAgent::parse(ua).vendor)
        .filter(|v| matches.iter().any(|(f, _)| f.vendor == *v));
    let files = Candidates { files: matches.into_iter().map(|(f, _)| f).collect(), hint };
    match (first.kind, mac) {
        (FileKind::Device, Some(mac)) => Route::Device { mac, files },
        (FileKind::Upload, Some(mac)) => Route::Upload { mac, files },
        (FileKind::Common, None) => Route::Common { files },
        (FileKind::Firmware, None) => Route::Firmware { files },
        // A profile pattern whose kind and MAC disagree: a bug in the table, never served.
        _ => Route::Unknown,
    }
}

/// Every profile file with its pattern, read once.
fn patterns() -> &'static [(&'static ProfileFile, pattern::Pattern<'static>)] {
    static PATTERNS: LazyLock<Vec<(&'static ProfileFile, pattern::Pattern<'static>)>> = LazyLock::new(|| {
        profiles().iter().flat_map(|p| p.files.iter()).map(|file| (file, pattern::Pattern::new(file.pattern))).collect()
    });
    &PATTERNS
}

fn is_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':')
}
