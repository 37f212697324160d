//! Account files for softphones that take their account once, from a one-time link, instead of
//! fetching a provisioning file of their own over and over: Acrobits (Groundwire, Cloud
//! Softphone) and Zoiper. Linphone is a profiled vendor: its own file serves both ways.
//!
//! The keys are the ones FusionPBX's provisioning templates write for these clients
//! (`resources/templates/provision/groundwire/default/{$mac}.xml`, `zoiper/5.x/config.xml`);
//! `docs/vendors/acrobits.md` and `docs/vendors/zoiper.md` list each with its reference.

use crate::{FileKind, Format, ProfileFile, Vendor};

/// A softphone account file a one-time link can deliver, besides the device's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkFormat {
    /// Acrobits' account XML (Groundwire, Cloud Softphone): the first account.
    Acrobits,
    /// Zoiper 5's `config.xml` `<accounts>`: every account.
    Zoiper,
}

const ACROBITS: ProfileFile = ProfileFile {
    vendor: Vendor::Acrobits,
    pattern: "acrobits.xml",
    kind: FileKind::Device,
    format: Format::Xml,
    template: Some("acrobits/account.xml"),
    purpose: "the first account, for Acrobits Groundwire and Cloud Softphone, through a one-time link",
};

const ZOIPER: ProfileFile = ProfileFile {
    vendor: Vendor::Zoiper,
    pattern: "zoiper.xml",
    kind: FileKind::Device,
    format: Format::Xml,
    template: Some("zoiper/account.xml"),
    purpose: "every account, for Zoiper 5, through a one-time link",
};

impl LinkFormat {
    /// Every format.
    pub const ALL: [LinkFormat; 2] = [LinkFormat::Acrobits, LinkFormat::Zoiper];

    /// The file a link's path ends in to ask for this format (`/p/{token}/zoiper.xml`).
    pub const fn file_name(self) -> &'static str {
        self.file().pattern
    }

    /// The format whose file name this is.
    pub fn from_file_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|format| format.file_name() == name)
    }

    /// The file rendered for it (a device file: it carries the password).
    pub const fn file(self) -> &'static ProfileFile {
        match self {
            LinkFormat::Acrobits => &ACROBITS,
            LinkFormat::Zoiper => &ZOIPER,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_found_by_their_file_name() {
        for format in LinkFormat::ALL {
            assert_eq!(LinkFormat::from_file_name(format.file_name()), Some(format));
            assert!(format.file().template.unwrap().starts_with(format.file().vendor.name()));
        }
        assert_eq!(LinkFormat::from_file_name("linphone.xml"), None);
    }
}
