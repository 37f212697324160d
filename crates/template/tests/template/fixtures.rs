//! The device every test renders for, one per vendor, and the settings it gets.

use sipprov_identity::Mac;
use sipprov_template::{AccountSettings, Device, Layer, LayeredSettings, ProfileFile, Secrets, Vendor, profiles};

pub(crate) const SIP_PASSWORD: &str = "Zx9w4LqT2mNvB8rKcY3hJ6";
pub(crate) const ADMIN_PASSWORD: &str = "Hq4-Ty7p-Lm2x";

/// A MAC from each vendor's OUI (a locally administered one for the softphone).
pub(crate) fn mac(vendor: Vendor) -> Mac {
    let mac = match vendor {
        Vendor::Yealink => "001565aabbcc",
        Vendor::Polycom => "0004f28b54f4",
        Vendor::Cisco => "00562b043615",
        Vendor::Snom => "00041396d9b4",
        Vendor::Grandstream => "000b828aa872",
        Vendor::Fanvil => "0c383e557eb1",
        Vendor::Gigaset => "7c2f80e0d605",
        _ => "02005e10a001",
    };
    Mac::parse(mac).unwrap()
}

pub(crate) fn account() -> AccountSettings {
    AccountSettings::new("1001", "u7Kq2", "Front desk", "sip.example.net:5061")
}

pub(crate) fn settings() -> LayeredSettings {
    let mut settings = LayeredSettings::new();
    settings.set(Layer::Global, "provisioning_url", "https://prov.example.net").unwrap();
    settings.set(Layer::Global, "ntp_server", "pool.ntp.org").unwrap();
    settings.set(Layer::Site, "ntp_server", "ntp.branch.example.net").unwrap();
    settings
}

pub(crate) fn device<'a>(
    vendor: Vendor,
    account: &'a AccountSettings,
    settings: &'a LayeredSettings,
    with_sip_password: bool,
) -> Device<'a> {
    const LINE_1: &[(u16, &str)] = &[(1, SIP_PASSWORD)];
    Device {
        firmware: None,
        mac: mac(vendor),
        model: None,
        accounts: std::slice::from_ref(account),
        keys: &[],
        settings,
        secrets: Secrets {
            sip_passwords: if with_sip_password { LINE_1 } else { &[] },
            admin_password: Some(ADMIN_PASSWORD),
        },
    }
}

/// The file a vendor's device config is rendered into.
pub(crate) fn device_file(vendor: Vendor) -> &'static ProfileFile {
    vendor.profile().and_then(|p| p.device_file()).unwrap()
}

/// Every profiled vendor.
pub(crate) fn vendors() -> impl Iterator<Item = Vendor> {
    profiles().iter().map(|p| p.vendor)
}

/// The files every phone of some vendor fetches that sipprov renders.
pub(crate) fn common_files() -> impl Iterator<Item = &'static ProfileFile> {
    profiles()
        .iter()
        .flat_map(|p| p.files.iter())
        .filter(|f| f.kind == sipprov_template::FileKind::Common && f.template.is_some())
}
