//! The file formats sipprov writes, each with the rules that make a value injection-proof in it
//! and a reader to check what was written.

pub mod key_value;
pub mod xml;
