//! Request routing, one module per listener.

pub(crate) mod phone;
