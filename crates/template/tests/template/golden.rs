//! Every rendered file, byte for byte, against `tests/golden/<vendor>/`.
//!
//! To regenerate after an intended template change: `SIPPROV_BLESS=1 cargo test -p sipprov-template --test template golden`,
//! then review the diff.

use std::path::PathBuf;

use sipprov_template::{FileKind, LinkFormat, Renderer, Vendor};

use crate::fixtures::{self, SIP_PASSWORD};

fn check(vendor: Vendor, name: &str, rendered: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(vendor.name()).join(name);
    if std::env::var_os("SIPPROV_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, rendered).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(rendered, expected, "{} differs from the rendering", path.display());
}

/// The name a golden file is stored under: the vendor's device file pattern with the fixture MAC.
fn file_name(vendor: Vendor, suffix: &str) -> String {
    let pattern = fixtures::device_file(vendor).pattern;
    let mac = fixtures::mac(vendor);
    let name = pattern
        .replace("{mac}", &mac.to_string())
        .replace("{MAC}", &mac.to_upper_hex())
        .replace("{name}", "D785")
        .replace(['[', ']'], "");
    match name.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}{suffix}.{ext}"),
        None => format!("{name}{suffix}"),
    }
}

#[test]
fn device_files_with_and_without_the_password() {
    let renderer = Renderer::shipped().unwrap();
    let (account, settings) = (fixtures::account(), fixtures::settings());
    for vendor in fixtures::vendors() {
        let file = fixtures::device_file(vendor);
        let with = renderer.render_device(file, &fixtures::device(vendor, &account, &settings, true)).unwrap();
        check(vendor, &file_name(vendor, ""), &with);
        let without = renderer.render_device(file, &fixtures::device(vendor, &account, &settings, false)).unwrap();
        check(vendor, &file_name(vendor, ".without-password"), &without);
        assert!(with.contains(SIP_PASSWORD), "{vendor}");
        assert!(!without.contains(SIP_PASSWORD), "{vendor}");
    }
}

#[test]
fn link_format_files_with_and_without_the_password() {
    let renderer = Renderer::shipped().unwrap();
    let (account, settings) = (fixtures::account(), fixtures::settings());
    for format in LinkFormat::ALL {
        let file = format.file();
        let with = renderer.render_device(file, &fixtures::device(file.vendor, &account, &settings, true)).unwrap();
        check(file.vendor, "account.xml", &with);
        let without = renderer.render_device(file, &fixtures::device(file.vendor, &account, &settings, false)).unwrap();
        check(file.vendor, "account.without-password.xml", &without);
        assert!(with.contains(SIP_PASSWORD) && !without.contains(SIP_PASSWORD), "{format:?}");
        assert!(with.contains("<username>1001</username>") && with.contains("u7Kq2"), "{with}");
    }
}

#[test]
fn common_files() {
    let renderer = Renderer::shipped().unwrap();
    let settings = fixtures::settings();
    let mut rendered = 0;
    for file in fixtures::common_files() {
        assert_eq!(file.kind, FileKind::Common);
        let text = renderer.render_common(file, &settings).unwrap();
        let name = file.template.unwrap().rsplit('/').next().unwrap();
        check(file.vendor, &format!("common-{name}"), &text);
        rendered += 1;
    }
    assert!(rendered >= 2, "the Polycom master file and the Cisco first file");
}
