//! One module per command group.

pub(crate) mod compliance;
pub(crate) mod identity;
mod json_object;
pub(crate) mod lint;
pub(crate) mod path;
pub(crate) mod render;
pub(crate) mod ua;
