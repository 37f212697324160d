//! The firmware a device's config tells the phone to fetch.

/// The firmware image a device should run: the phone compares it with what it runs and
/// fetches it itself, over the same authenticated HTTPS as its config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Firmware<'a> {
    /// The version, as the phone reports it once running it.
    pub version: &'a str,
    /// The image's `https://` URL, ending in its file name.
    pub url: &'a str,
}

impl Firmware<'_> {
    /// The template fields: `firmware.version`, `firmware.url`, `firmware.name` (the URL's
    /// last segment), `firmware.directory` (the URL without it and its `/`), and
    /// `firmware.server_path` (the directory without `https://`, for vendors that take a
    /// host and path and a protocol apart).
    pub(crate) fn fields(&self) -> Vec<(&'static str, String)> {
        let (directory, name) = self.url.rsplit_once('/').unwrap_or(("", self.url));
        let server_path = directory.strip_prefix("https://").unwrap_or(directory);
        vec![
            ("version", self.version.to_owned()),
            ("url", self.url.to_owned()),
            ("name", name.to_owned()),
            ("directory", directory.to_owned()),
            ("server_path", server_path.to_owned()),
        ]
    }
}
