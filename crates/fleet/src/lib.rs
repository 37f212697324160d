//! Firmware under central control, and a fleet view that shows who is behind.
//!
//! The ITSPA paper asks ITSPs to keep phones on current firmware, centrally controlled, and to
//! check from the User-Agent that they really upgraded. This crate holds those rules:
//!
//! - [`FirmwareImage`]: the catalogue. An image is registered with its vendor, models, version
//!   and SHA-256, and stored on disk under its hash ([`ImageFiles`]); only registered images
//!   are served, and only while the file still has its hash.
//! - [`Target`]: the version a vendor's model should run, everywhere, at a site or on one
//!   device, rolled out to everyone, a stable share ([`Rollout::Percent`], by MAC hash) or a
//!   list of devices first. [`FirmwarePolicy::resolve`] picks a device's target.
//! - [`read_facts`]: reads vendor, model and firmware off a phone's User-Agent, and whether it
//!   contradicts the certificate (another vendor or MAC), for the fleet facts the credential
//!   service writes in batches.
//! - [`report`]: compliance, flagged versions, stale devices, ratings and contradictions, read
//!   from the store in pages.
//! - [`Fleet`]: the service over a [`Store`](sipprov_credentials::Store): the policy as one
//!   document changed by compare-and-swap with its audit events, cached for the phone path.
//!
//! # Example
//!
//! ```
//! use sipprov_fleet::{DeviceKey, FirmwareImage, FirmwarePolicy, Rollout, Scope, Target};
//!
//! let mut policy = FirmwarePolicy::default();
//! policy.add_image(FirmwareImage {
//!     sha256: "ab".repeat(32),
//!     vendor: "yealink".into(),
//!     models: vec!["T54W".into()],
//!     version: "96.86.0.100".into(),
//!     name: "T54W-96.86.0.100.rom".into(),
//!     size: 1 << 20,
//!     added_at: 0,
//!     flagged: None,
//! })?;
//! // A first wave: a stable 10 % of the T54Ws.
//! policy.set_target(Target {
//!     vendor: "yealink".into(),
//!     model: "T54W".into(),
//!     scope: Scope::Everywhere,
//!     version: "96.86.0.100".into(),
//!     rollout: Rollout::Percent(10),
//!     set_at: 0,
//! })?;
//! let phones = (0..1000u16).map(|n| {
//!     let [high, low] = n.to_be_bytes();
//!     sipprov_identity::Mac::from_bytes([0x00, 0x15, 0x65, 0x00, high, low])
//! });
//! let first_wave = phones
//!     .filter(|&mac| {
//!         let device = DeviceKey { mac, vendor: "yealink", model: Some("T54W"), site: None };
//!         policy.resolve(device).is_some()
//!     })
//!     .count();
//! assert!((70..=130).contains(&first_wave));
//! # Ok::<(), sipprov_fleet::FleetError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod facts;
mod files;
mod image;
mod policy;
pub mod report;
mod service;
mod target;

pub use error::FleetError;
pub use facts::read_facts;
pub use files::{ImageFiles, OpenRefusal, Stored, Upload};
pub use image::{FirmwareImage, ImageInfo, is_plain_file_name, is_sha256};
pub use policy::{DeviceKey, FirmwarePolicy, Resolved, scope_name};
pub use service::{Fleet, POLICY_DOCUMENT, rollout_name};
pub use target::{Rollout, Scope, Target, bucket};
