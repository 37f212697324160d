//! Request routing, one module per listener.

mod claimed_models;
mod device_config;
pub(crate) use device_config::{DeviceConfig, DeviceToRender, GroupLayers};
mod known_devices;
pub(crate) use known_devices::KnownDevices;
pub(crate) mod outcome;
pub(crate) mod phone;
