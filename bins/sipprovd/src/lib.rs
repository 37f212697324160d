//! Wiring for the `sipprovd` daemon, kept in a library so tests can drive it in-process.
//!
//! - [`backup`]: `sipprovd backup` and `restore`, a SQLite store copied out and put back.
//! - [`config`]: the TOML configuration file and how it becomes a running server.
//! - [`check`]: `sipprovd check`, every problem of a configuration with its file and line.
//! - [`daemon`]: the phone and admin listeners, background jobs, SIGTERM drain.
//! - [`demo`]: `sipprovd demo`, a self-contained demo with a generated PKI and three phones.
//! - [`files`]: creating key and config files safely.
//! - [`log_output`]: log lines written to stderr in batches.
//! - [`migrate`]: `sipprovd migrate`, a single-node SQLite store moved into PostgreSQL.
//! - [`reload`]: SIGHUP, trust anchors, templates and server certificates swapped in whole.
//! - [`registrars`]: `[[registrar]]`, the registrars told each account's HA1, and the thread
//!   that tells them.
//! - [`resync`]: `[resync]`, how phones are asked to fetch their configuration now.
//! - [`systemd`]: readiness, watchdog and reload status for systemd's `Type=notify`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod backup;
pub mod check;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod files;
pub mod json_lines;
pub mod log_output;
pub mod migrate;
pub mod portal;
pub mod registrars;
pub mod reload;
pub mod resync;
pub mod systemd;
