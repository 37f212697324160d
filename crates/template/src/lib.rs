//! Recognises which file a phone asks for and renders it, so a value can never become config.
//!
//! - [`recognise`] turns a request path into a [`RequestedFile`] from a closed set of routes,
//!   with the MAC canonicalised; anything else is [`RequestedFile::Unknown`]. Paths never reach
//!   a filesystem.
//! - [`vendors`] holds one module per vendor that renders that vendor's file formats from typed
//!   settings ([`AccountSettings`]). Secrets are passed separately: when the SIP password may not
//!   be delivered, the password key is left out entirely, so the phone keeps what it has.
//! - [`format`](mod@format) holds the writers that make each file format injection-proof: a value that the
//!   format cannot carry is refused with a [`RenderError`] that names the field.
//!
//! # Example
//!
//! ```
//! use sipprov_template::{recognise, vendors::yealink, AccountSettings, RequestedFile, Vendor};
//!
//! let RequestedFile::DeviceConfig { vendor: Vendor::Yealink, mac } = recognise("/001565AABBCC.cfg") else {
//!     panic!("a Yealink device file");
//! };
//! assert_eq!(mac.to_string(), "001565aabbcc");
//!
//! let account = AccountSettings {
//!     user_name: "1001".into(),
//!     auth_name: "u-1001".into(),
//!     display_name: "Reception".into(),
//!     registrar: "sip.example.net".into(),
//! };
//! let with_password = yealink::device_config(&account, Some("s3cret"))?;
//! assert!(with_password.contains("account.1.password = s3cret\n"));
//!
//! // After delivery + grace the password key is omitted, not emptied.
//! let without = yealink::device_config(&account, None)?;
//! assert!(!without.contains("password"));
//!
//! // A value carrying a line break could add keys; it is refused, naming the field.
//! let hostile = AccountSettings { display_name: "x\naccount.2.enable = 1".into(), ..account };
//! let err = yealink::device_config(&hostile, None).unwrap_err();
//! assert_eq!(err.field(), "account.1.label");
//! # Ok::<(), sipprov_template::RenderError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod account;
mod error;
pub mod format;
mod request;
pub mod vendors;

pub use account::AccountSettings;
pub use error::RenderError;
pub use request::{RequestedFile, Vendor, recognise};
