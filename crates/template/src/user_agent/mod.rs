//! Reading vendor, model, firmware and MAC from a phone's User-Agent.
//!
//! A User-Agent can be forged by anyone: what is read here feeds firmware reports, diagnostics
//! and the format hint of [`Candidates::hint`](crate::Candidates::hint), never authorization.
//! Parsing never fails; anything that does not have a known shape is `None`. Model and firmware
//! are only returned when they are short and made of plain characters, so they are safe to log.
//!
//! Measured on 430 real User-Agents of 42 vendors (`tests/data/user_agents.tsv`, each with
//! its source): the test prints the share of vendors, firmware versions and MACs read right.

mod detect;
mod shapes;
mod tokens;

use sipprov_identity::Mac;

use crate::Vendor;

/// The longest User-Agent read; longer ones are not a phone's and yield nothing.
pub const MAX_USER_AGENT_LEN: usize = 512;

/// What a User-Agent says about the phone. Every field is a claim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserAgent {
    /// The vendor, if the UA has a known shape.
    pub vendor: Option<Vendor>,
    /// The model as the vendor writes it (`T46G`, `VVX_500`, `SPA508G`, `D785`, `N870 IP PRO`).
    pub model: Option<String>,
    /// The firmware version as the phone writes it (`28.72.0.1`, `V0.6.24`, `R5.13.0`; a
    /// `fw` or `sw` label is not part of it). For Polycom only from `Type/Application`: the
    /// updater reports its own.
    pub firmware: Option<String>,
    /// The MAC, when the UA carries exactly one.
    pub mac: Option<Mac>,
}

impl UserAgent {
    /// Parses a User-Agent header value. Never fails: unknown shapes give all `None`.
    ///
    /// ```
    /// use sipprov_template::{UserAgent, Vendor};
    ///
    /// let ua = UserAgent::parse("Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37");
    /// assert_eq!(ua.vendor, Some(Vendor::Yealink));
    /// assert_eq!(ua.model.as_deref(), Some("T46G"));
    /// assert_eq!(ua.firmware.as_deref(), Some("28.72.0.1"));
    /// assert_eq!(ua.mac.unwrap().to_string(), "0015654aa937");
    ///
    /// assert_eq!(UserAgent::parse("curl/8.5.0"), UserAgent::default());
    /// ```
    pub fn parse(user_agent: &str) -> UserAgent {
        if user_agent.len() > MAX_USER_AGENT_LEN {
            return UserAgent::default();
        }
        let text = tokens::unwrap_compatible(user_agent);
        let words = tokens::words(text);
        let mac = tokens::single_mac(user_agent);
        let Some(vendor) = detect::vendor(text, &words, mac) else {
            return UserAgent::default();
        };
        let (model, firmware) = shapes::model_and_firmware(vendor, text, &words);
        UserAgent { vendor: Some(vendor), model: model.and_then(clean), firmware: firmware.and_then(clean), mac }
    }
}

/// A model or firmware string is kept only if it is short and plain, so it is safe to log.
fn clean(s: &str) -> Option<String> {
    let s = s.trim();
    let plain =
        s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-' | '+' | '/' | '(' | ')'));
    (!s.is_empty() && s.len() <= 64 && plain).then(|| s.to_owned())
}
