//! Vendor profiles: which files each phone asks for, what they are, and how they are written.
//!
//! A profile is data, so that an auditor can read in one place every path sipprov answers for a
//! vendor. Recognition ([`crate::recognise_route`]) matches request paths against these
//! patterns; rendering ([`crate::Renderer`]) uses the template a file names.

use crate::lint::Hardening;
use crate::{TemplateError, Vendor, vendors};

/// What kind of file a path names. Decides authorization and whether secrets may be in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileKind {
    /// A device's own file, named after its MAC: served only to that device; may carry secrets.
    Device,
    /// A file every phone of a vendor or model fetches: never carries secrets.
    Common,
    /// A firmware image.
    Firmware,
    /// A file the phone uploads (PUT), such as a Polycom log; bound to the MAC in its name.
    Upload,
    /// Not a file sipprov knows.
    Unknown,
}

impl FileKind {
    /// The lowercase name used in JSON output: `device`, `common`, `firmware`, `upload`, `unknown`.
    pub const fn name(self) -> &'static str {
        match self {
            FileKind::Device => "device",
            FileKind::Common => "common",
            FileKind::Firmware => "firmware",
            FileKind::Upload => "upload",
            FileKind::Unknown => "unknown",
        }
    }
}

/// How a file is written, which decides how values are escaped into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// `key = value` lines (Yealink). No escaping exists: values that could break a line are refused.
    KeyValue,
    /// XML (everyone else). Values are escaped; characters XML cannot carry are refused.
    Xml,
    /// Bytes sipprov does not write: firmware images, uploaded logs, formats without a profile.
    Opaque,
}

impl Format {
    /// The `Content-Type` a rendered file of this format is served with.
    pub const fn content_type(self) -> &'static str {
        match self {
            Format::KeyValue => "text/plain; charset=utf-8",
            Format::Xml => "application/xml; charset=utf-8",
            Format::Opaque => "application/octet-stream",
        }
    }
}

/// One file a vendor's phones ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileFile {
    /// Whose phones ask for it.
    pub vendor: Vendor,
    /// The file name as the phone asks for it, below the provisioning root.
    ///
    /// Literal text matches in any ASCII case. Placeholders: `{mac}` / `{MAC}` a MAC address in
    /// any spelling `sipprov_identity::Mac` parses (the case shows how the phone spells it; both
    /// match either); `{name}` 1 to 32 of `A-Z a-z 0-9 _ -` (a model name); `{model}` the same,
    /// but never a MAC (beside a `{mac}` pattern of the same shape); `{file}` 1 to 96 of
    /// `A-Z a-z 0-9 _ - .` without `..` (a firmware or model file stem); `{nn}` two digits,
    /// `{nnn}` three.
    /// `[...]` is literal text the phone may leave out (`cfg{mac}[.xml]`).
    pub pattern: &'static str,
    /// What the file is.
    pub kind: FileKind,
    /// How it is written.
    pub format: Format,
    /// The template that renders it, or `None` when sipprov recognises the file but does not
    /// serve it (the phone then carries on without it, as it does with any 404).
    pub template: Option<&'static str>,
    /// What the phone does with the file, for operators and auditors.
    pub purpose: &'static str,
}

/// Everything sipprov knows about provisioning one vendor's phones.
#[derive(Debug, Clone, Copy)]
pub struct VendorProfile {
    /// The vendor.
    pub vendor: Vendor,
    /// Every file its phones ask for, in the order they usually ask.
    pub files: &'static [ProfileFile],
    /// The hardening policy the linter checks its device files against.
    pub hardening: Hardening,
    /// The key account 1's SIP password is written under (the key left out when it may not be
    /// sent).
    pub password_key: &'static str,
    /// How many accounts its devices hold.
    pub lines: crate::Lines,
    /// Which programmable keys its template renders.
    pub keys: crate::KeyLayout,
    /// Reads one of its rendered config files back into `(key, value)` pairs, in file order.
    ///
    /// Keys are spelled as the vendor's documentation spells them (`account.1.password`,
    /// `reg.1.auth.password`, `user_pass[1]`, `P34`, `SipAccount.00001.AuthPassword`, ...).
    pub read: ReadConfig,
}

/// A vendor's config reader: the file's text in, its `(key, value)` pairs out, in file order.
pub type ReadConfig = fn(&str) -> Result<Vec<(String, String)>, TemplateError>;

/// The eight vendor profiles sipprov ships.
pub fn profiles() -> &'static [VendorProfile] {
    &PROFILES
}

static PROFILES: [VendorProfile; 8] = [
    vendors::yealink::PROFILE,
    vendors::polycom::PROFILE,
    vendors::cisco::PROFILE,
    vendors::snom::PROFILE,
    vendors::grandstream::PROFILE,
    vendors::fanvil::PROFILE,
    vendors::gigaset::PROFILE,
    vendors::linphone::PROFILE,
];

impl Vendor {
    /// This vendor's profile, if sipprov provisions its phones.
    pub fn profile(self) -> Option<&'static VendorProfile> {
        PROFILES.iter().find(|p| p.vendor == self)
    }
}

impl VendorProfile {
    /// The file its device config is rendered into (the one that carries the account).
    pub fn device_file(&self) -> Option<&'static ProfileFile> {
        self.files.iter().find(|f| f.kind == FileKind::Device && f.template.is_some())
    }
}
