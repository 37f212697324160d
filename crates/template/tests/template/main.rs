//! sipprov-template's integration tests, one module per topic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

mod accounts;
mod escaping;
mod firmware;
mod fixtures;
mod golden;
mod hardening;
mod keys;
mod overrides;
mod portable;
mod recognise;
mod references;
mod user_agent;
mod user_agent_corpus;
