//! User-Agent parsing against real phones: `tests/data/user_agents.tsv` holds 430 User-Agents
//! from 42 vendors, each copied verbatim from a public source named beside it (peer projects'
//! plugins and tests, fingerprint databases, vendor documents), with the vendor, firmware and
//! MAC a reader should find. The test prints the share found right and holds the goals:
//! vendor >= 95 %, firmware >= 90 %, MAC >= 95 %.

use sipprov_template::UserAgent;

/// The corpus's vendor labels that sipprov names otherwise (brands of one company).
fn expected_vendor(label: &str) -> &str {
    match label {
        "aastra" => "mitel",
        "thomson" => "technicolor",
        "sipura" => "linksys",
        "sangoma" => "digium",
        other => other,
    }
}

struct Row<'a> {
    user_agent: &'a str,
    vendor: &'a str,
    firmware: &'a str,
    mac: &'a str,
}

fn corpus() -> Vec<Row<'static>> {
    let text = include_str!("../data/user_agents.tsv");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("user_agent\tvendor\tmodel\tfirmware\tmac\tsource"));
    lines
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 6, "{line}");
            assert!(!fields[5].is_empty(), "every string names its source: {line}");
            Row { user_agent: fields[0], vendor: fields[1], firmware: fields[3], mac: fields[4] }
        })
        .collect()
}

#[test]
fn real_user_agents_name_their_vendor_firmware_and_mac() {
    let rows = corpus();
    let vendors: std::collections::BTreeSet<&str> = rows.iter().map(|row| row.vendor).collect();
    assert!(rows.len() >= 300 && vendors.len() >= 25, "{} strings from {} vendors", rows.len(), vendors.len());
    let (mut vendor_ok, mut firmware_ok, mut firmware_total, mut mac_ok, mut mac_total) = (0, 0, 0, 0, 0);
    let mut misses = Vec::new();
    for row in &rows {
        let parsed = UserAgent::parse(row.user_agent);
        let vendor = parsed.vendor.map(|v| v.name());
        if vendor == Some(expected_vendor(row.vendor)) {
            vendor_ok += 1;
        } else {
            misses.push(format!("vendor {vendor:?} for {:?} ({})", row.user_agent, row.vendor));
        }
        if !row.firmware.is_empty() {
            firmware_total += 1;
            if parsed.firmware.as_deref() == Some(row.firmware) {
                firmware_ok += 1;
            } else {
                misses.push(format!("firmware {:?} for {:?} (want {})", parsed.firmware, row.user_agent, row.firmware));
            }
        }
        if !row.mac.is_empty() {
            mac_total += 1;
            if parsed.mac.map(|mac| mac.to_string()).as_deref() == Some(row.mac) {
                mac_ok += 1;
            } else {
                misses.push(format!("mac {:?} for {:?} (want {})", parsed.mac, row.user_agent, row.mac));
            }
        }
    }
    let percent = |ok: usize, total: usize| 100.0 * ok as f64 / total.max(1) as f64;
    let (vendor, firmware, mac) =
        (percent(vendor_ok, rows.len()), percent(firmware_ok, firmware_total), percent(mac_ok, mac_total));
    eprintln!(
        "user-agent corpus: {} strings, {} vendors: vendor {vendor:.1} %, firmware {firmware:.1} % (of {firmware_total}), \
         MAC {mac:.1} % (of {mac_total})",
        rows.len(),
        vendors.len()
    );
    for miss in &misses {
        eprintln!("  {miss}");
    }
    assert!(
        vendor >= 95.0 && firmware >= 90.0 && mac >= 95.0,
        "below the goals: {vendor:.1} / {firmware:.1} / {mac:.1}"
    );
}
