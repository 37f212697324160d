//! Recognises which file a phone asks for and renders it, so a value can never become config.
//!
//! - [`profiles`]: one [`VendorProfile`] per vendor sipprov provisions (Yealink, Polycom,
//!   Cisco SPA/MPP, Snom, Grandstream, Fanvil, Gigaset Nx70, Linphone): every file its phones
//!   ask for, what kind of file it is ([`FileKind`]: device, common, firmware, upload), its
//!   [`Format`], the template that renders it, and the vendor's hardening policy.
//! - [`recognise_route`] turns a request path into a [`Route`] from a closed set, with the MAC
//!   canonicalised; anything else is [`Route::Unknown`]. Paths never reach a filesystem. Where
//!   several vendors ask for the same name, the caller picks the format from what it knows for
//!   certain ([`Route::file_for`]); the User-Agent is only a hint.
//! - [`UserAgent::parse`] reads vendor, model, firmware and MAC from a User-Agent, for reports.
//! - [`Renderer`] renders a file with minijinja from templates shipped here or an operator's
//!   override directory, checked at start-up; strict undefined variables, a fuel budget, and
//!   every value escaped for the file's [`format`](mod@format) or refused with a
//!   [`TemplateError`] naming the field. Settings are [`LayeredSettings`] (global, vendor,
//!   model, site, device: the nearer wins); [`Secrets`] are separate, and a SIP password that
//!   may not be sent is left out entirely, so the phone keeps the one it has.
//! - [`lint`](fn@lint) checks a rendered file against the hardening policy and names each finding.
//!
//! # Example
//!
//! ```
//! use sipprov_template::{
//!     AccountSettings, Device, FileKind, Layer, LayeredSettings, Renderer, Route, Secrets, Vendor, lint,
//!     recognise_route,
//! };
//!
//! // At start-up: every template compiled and checked.
//! let renderer = Renderer::shipped()?;
//!
//! // A request. The MAC is canonical whatever its spelling; the certificate says "yealink".
//! let route = recognise_route("/001565AABBCC.cfg", Some("Yealink SIP-T46G 28.72.0.1 00:15:65:aa:bb:cc"));
//! let Route::Device { mac, .. } = route else { panic!("a device file") };
//! assert_eq!(mac.to_string(), "001565aabbcc");
//! let file = route.file_for(Vendor::Yealink).expect("Yealink asks for {mac}.cfg");
//!
//! let mut settings = LayeredSettings::new();
//! settings.set(Layer::Global, "provisioning_url", "https://prov.example.net")?;
//! let account = AccountSettings::new("1001", "u-1001", "Reception", "sip.example.net");
//! let secrets = Secrets { sip_passwords: &[(1, "s3cret")], admin_password: Some("Vq3-per-device") };
//! let accounts = [account];
//! let device = Device { firmware: None, mac, model: Some("T46G"), accounts: &accounts, keys: &[], settings: &settings, secrets };
//! let config = renderer.render_device(file, &device)?;
//! assert!(config.contains("account.1.password = s3cret\n"));
//! assert!(lint(Vendor::Yealink, FileKind::Device, &config)?.is_empty());
//!
//! // After delivery + grace the password key is omitted, not emptied.
//! let later = Device { secrets: Secrets { sip_passwords: &[], ..secrets }, ..device };
//! assert!(!renderer.render_device(file, &later)?.contains("account.1.password"));
//!
//! // A value carrying a line break could add keys: it is refused, naming the field.
//! let hostile = [AccountSettings { display_name: "x\naccount.2.enable = 1".into(), ..accounts[0].clone() }];
//! let err = renderer.render_device(file, &Device { accounts: &hostile, ..device }).unwrap_err();
//! assert_eq!(err.field(), Some("accounts.1.display_name"));
//! # Ok::<(), sipprov_template::TemplateError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod account;
mod error;
mod firmware;
pub mod format;
mod function_key;
mod lines;
mod link_format;
pub mod lint;
mod profile;
mod render;
mod request;
mod secrets;
mod settings;
pub mod sip;
mod user_agent;
mod vendor;
pub mod vendors;

pub use account::{AccountSettings, Srtp, Transport};
pub use error::TemplateError;
pub use firmware::Firmware;
pub use function_key::{FunctionKey, KeyKind, KeyLayout, MAX_KEY_LABEL, check_key_label};
pub use lines::Lines;
pub use link_format::LinkFormat;
pub use lint::{Finding, Rule, lint, lint_unverified};
pub use profile::{FileKind, Format, ProfileFile, ReadConfig, VendorProfile, profiles};
pub use render::{Device, FUEL, Renderer};
pub use request::{Candidates, MAX_NAME_LEN, Route, recognise_route};
pub use secrets::Secrets;
pub use settings::{Layer, LayeredSettings, check_setting};
pub use sip::{
    MAX_ACCOUNT_VALUE, MAX_DIAL_STRING, check_auth_name, check_dial_string, check_portable_value, check_sip_host,
    check_sip_user, split_host_port,
};
pub use user_agent::{MAX_USER_AGENT_LEN, UserAgent};
pub use vendor::Vendor;
