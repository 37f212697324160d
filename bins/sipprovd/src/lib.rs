//! Wiring for the `sipprovd` daemon, kept in a library so tests can drive it in-process.
//!
//! - [`config`]: the TOML configuration file and how it becomes a running server.
//! - [`demo`]: `sipprovd demo`, a self-contained demo with a generated PKI and three phones.
//! - [`files`]: creating key and config files safely.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod demo;
pub mod files;
