//! The in-memory store passes the store conformance suite.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

use std::sync::Arc;

use sipprov_credentials::{MemoryStore, Store};

#[test]
fn memory_store_conforms() {
    sipprov_credentials::conformance::run(&|| Arc::new(MemoryStore::default()) as Arc<dyn Store>);
}
