//! A firmware target is written in each vendor's own upgrade keys; without one, none is.

use sipprov_template::{Firmware, Renderer, Vendor};

use crate::fixtures::{account, device, device_file, settings, vendors};

const URL: &str = "https://prov.example.net/firmware/0123abcd/T54W-96.86.0.100.rom";

#[test]
fn a_target_is_written_in_each_vendors_upgrade_keys() {
    let renderer = Renderer::shipped().unwrap();
    let (account, settings) = (account(), settings());
    let expected: &[(Vendor, &[&str])] = &[
        (Vendor::Yealink, &[&format!("static.firmware.url = {URL}")]),
        (Vendor::Cisco, &["<Upgrade_Enable>Yes</Upgrade_Enable>", &format!("<Upgrade_Rule>{URL}</Upgrade_Rule>")]),
        (
            Vendor::Snom,
            &[
                "<update_policy perm=\"R\">auto_update</update_policy>",
                &format!("<firmware-settings>\n    <firmware perm=\"R\">{URL}</firmware>"),
            ],
        ),
        (
            Vendor::Grandstream,
            &["<P192>prov.example.net/firmware/0123abcd</P192>", "<P6767>2</P6767>", "<P238>0</P238>"],
        ),
        (Vendor::Gigaset, &[&format!("<file version=\"96.86.0.100\" url=\"{URL}\"/>")]),
        (
            Vendor::Fanvil,
            &[
                "<EnableAutoUpgrade>1</EnableAutoUpgrade>",
                "<UpgradeServer1>https://prov.example.net/firmware/0123abcd</UpgradeServer1>",
            ],
        ),
    ];
    for (vendor, lines) in expected {
        let firmware = Firmware { version: "96.86.0.100", url: URL };
        let targeted = device(*vendor, &account, &settings, false);
        let config = renderer
            .render_device(device_file(*vendor), &sipprov_template::Device { firmware: Some(firmware), ..targeted })
            .unwrap();
        for line in *lines {
            assert!(config.contains(line), "{vendor}: {line} missing from\n{config}");
        }
    }
    // Polycom reads its image from the master file: the per-device one carries the target,
    // and cannot carry a secret, so fetching it delivers none.
    let master = Vendor::Polycom.profile().unwrap().files.iter().find(|f| f.pattern == "{mac}.cfg").unwrap();
    assert!(!renderer.may_carry_secrets(master));
    assert!(vendors().all(|vendor| renderer.may_carry_secrets(device_file(vendor))), "every config file can");
    let targeted = device(Vendor::Polycom, &account, &settings, true);
    let firmware = Firmware { version: "4.0.15.1009", url: URL };
    let with =
        renderer.render_device(master, &sipprov_template::Device { firmware: Some(firmware), ..targeted }).unwrap();
    assert!(with.contains(&format!("APP_FILE_PATH=\"{URL}\"")), "{with}");
    assert!(with.contains("CONFIG_FILES=\"[PHONE_MAC_ADDRESS]-sipprov.cfg\""), "{with}");
    let without = renderer.render_device(master, &targeted).unwrap();
    assert!(without.contains("APP_FILE_PATH=\"sip.ld\""), "{without}");

    for vendor in vendors() {
        let config = renderer.render_device(device_file(vendor), &device(vendor, &account, &settings, false)).unwrap();
        assert!(!config.contains("/firmware/"), "{vendor}: no target, no firmware key:\n{config}");
    }
}
