//! Request routing, one module per listener.

mod device_config;
pub(crate) use device_config::DeviceConfig;
mod outcome;
pub(crate) mod phone;
