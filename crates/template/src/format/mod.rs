//! Injection-proof writers, one per config file format.

pub mod key_value;
