//! Model and firmware, by the shapes each vendor's User-Agents take.

use super::tokens::{
    is_version, parse_mac, prefixed_version, starts_with_ignore_case, strip_prefix_ignore_case,
    strip_suffix_ignore_case,
};
use crate::Vendor;

/// A model and a firmware version, each if found.
pub(super) type ModelFirmware<'a> = (Option<&'a str>, Option<&'a str>);

/// The model and firmware in `words` (the UA's words) of a UA of `vendor`: by the vendor's
/// shapes, else the first version anywhere (except where the shape says none is meant).
pub(super) fn model_and_firmware<'a>(vendor: Vendor, text: &'a str, words: &[&'a str]) -> ModelFirmware<'a> {
    let (model, firmware) = by_shape(vendor, text, words);
    if vendor == Vendor::Polycom {
        return (model, firmware);
    }
    (model, firmware.or_else(|| any_firmware(words)))
}

fn by_shape<'a>(vendor: Vendor, text: &'a str, words: &[&'a str]) -> ModelFirmware<'a> {
    match vendor {
        Vendor::Yealink => yealink(words),
        Vendor::Polycom => polycom(text, words),
        Vendor::Cisco | Vendor::Linksys | Vendor::Panasonic => vendor_slash(vendor, text, words),
        Vendor::Snom => snom(words),
        Vendor::Grandstream => grandstream(text, words),
        Vendor::Gigaset => gigaset(text),
        Vendor::Mitel => mitel(words),
        Vendor::Linphone => product_slash(words.first().copied()),
        Vendor::AudioCodes => audiocodes(words),
        Vendor::Patton if starts_with_ignore_case(text, "SmartNode") => smartnode(text),
        Vendor::Jitsi => jitsi(words),
        _ => generic(words),
    }
}

/// A firmware version anywhere, for shapes that named none: the first `name/version` word,
/// then the word after `release`, `build` or `Version`, then the first version-like word.
fn any_firmware<'a>(words: &[&'a str]) -> Option<&'a str> {
    let slashed = words.iter().find_map(|word| {
        let (_, version) = word.split_once('/')?;
        let version = version.split([';', ' ']).next().unwrap_or(version);
        version.starts_with(|c: char| c.is_ascii_digit()).then(|| strip_glued_mac(version))
    });
    let labelled = || {
        words.windows(2).find_map(|pair| {
            let label = pair[0].to_ascii_lowercase();
            let value = pair[1];
            (matches!(label.as_str(), "release" | "build" | "version")
                && value.starts_with(|c: char| c.is_ascii_digit()))
            .then_some(value)
        })
    };
    slashed.or_else(labelled).or_else(|| first_version(words.get(1..).unwrap_or(&[])))
}

/// The first version-like word: one as phones write it, else one with a letter in front.
fn first_version<'a>(words: &[&'a str]) -> Option<&'a str> {
    words.iter().copied().find(|word| is_version(word)).or_else(|| words.iter().find_map(|word| prefixed_version(word)))
}

/// `4.1.4.7430_010203040506`: a version with the MAC glued on.
fn strip_glued_mac(version: &str) -> &str {
    match version.rsplit_once('_') {
        Some((head, mac)) if parse_mac(mac).is_some() => head,
        _ => version,
    }
}

/// `Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37`, `Yealink SIP VP-T49G 51.80.0.100 ...`,
/// `Yealink W60B 77.83.0.85 ...`, `Yealink-T46G 28.71.0.81 ...`, and the model alone:
/// `W52P 25.30.0.2 00:15:65:44:b3:7c`.
fn yealink<'a>(words: &[&'a str]) -> ModelFirmware<'a> {
    let at = words.iter().position(|word| starts_with_ignore_case(word, "yealink"));
    let (mut model, rest) = match at {
        Some(at) => match words[at].get(7..).and_then(|joined| joined.strip_prefix(['-', '/'])) {
            Some(joined) => (Some(joined), &words[at + 1..]),
            None => (words.get(at + 1).copied(), words.get(at + 2..).unwrap_or(&[])),
        },
        None => (words.first().copied(), words.get(1..).unwrap_or(&[])),
    };
    let mut rest = rest;
    if model.is_some_and(|m| m.eq_ignore_ascii_case("SIP")) {
        model = rest.first().copied();
        rest = rest.get(1..).unwrap_or(&[]);
    }
    let model = model.map(|m| strip_prefix_ignore_case(m, "SIP-").unwrap_or(m)).filter(|m| !is_version(m));
    (model, rest.first().copied().filter(|word| is_version(word)))
}

/// `FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application`, `PolyEdge-Edge_E350-UA/...`,
/// `PolycomHDX8000HD/3.1.7`, `Polycom HDX 9006 (Release - 3.0.6-37004)`. The BootROM /
/// updater sends `Type/Updater` with its own version, which is not the application firmware.
fn polycom<'a>(text: &'a str, words: &[&'a str]) -> ModelFirmware<'a> {
    let is_product = |word: &&&str| starts_with_ignore_case(word, "poly");
    let product = words.iter().find(|word| word.contains("-UA/")).or_else(|| words.iter().find(is_product));
    let Some(product) = product else { return (None, None) };
    let (name, version) = product.split_once('/').unwrap_or((product, ""));
    let name = name.strip_suffix("-UA").unwrap_or(name);
    let model = match name.split_once('-') {
        Some((_family, model)) => model,
        None => name.get(7..).unwrap_or(""),
    };
    let application = match words.iter().find_map(|word| word.strip_prefix("Type/")) {
        Some(kind) => kind.eq_ignore_ascii_case("Application"),
        None => true,
    };
    let version = Some(strip_glued_mac(version)).filter(|v| application && is_version(v));
    // Video systems: `Polycom HDX 9006 (Release - 3.0.6-37004)`.
    let release = text.split_once("(Release - ").and_then(|(_, rest)| rest.split(')').next());
    (Some(model).filter(|m| !m.is_empty()), version.or(release.filter(|v| is_version(v))))
}

/// Cisco SPA `Cisco/SPA508G-7.4.4 (0002FDFF2103)(CBT141400UK)`, Cisco MPP
/// `Cisco-CP-7832-3PCC/11.0.1 (00562b043615)`, Linksys `Linksys/SPA-942-6.1.5(a)`, Panasonic
/// `Panasonic_KX-UT136/01.133 (0080f0d12345)`: the vendor, a separator, then the product;
/// TelePresence `TANDBERG/529 (ce9.15.0.d97b604b745)`.
fn vendor_slash<'a>(vendor: Vendor, text: &'a str, words: &[&'a str]) -> ModelFirmware<'a> {
    let names: &[&str] = match vendor {
        Vendor::Linksys => &["linksys", "sipura"],
        Vendor::Panasonic => &["panasonic"],
        _ => &["cisco", "csco"],
    };
    if let Some(at) = text.find("TANDBERG/") {
        let release = text[at..].split_once('(').map(|(_, rest)| balanced(rest));
        return (None, release);
    }
    let at = words.iter().position(|word| {
        let lower = word.to_ascii_lowercase();
        names.iter().any(|name| lower.contains(name))
    });
    let Some(at) = at else { return generic(words) };
    let word = words[at];
    let lower = word.to_ascii_lowercase();
    let name_end = names.iter().find_map(|name| lower.find(name).map(|start| start + name.len())).unwrap_or(0);
    let product = &word[name_end..];
    match product.chars().next() {
        // Cisco/SPA508G-7.4.4: model and firmware joined by a '-'.
        Some('/') => model_dash_firmware(&product[1..]),
        // Cisco-CP-7832-3PCC/11.0.1, Panasonic_KX-UT136/01.133: model, '/', firmware.
        Some('-' | '_') => product_slash(Some(&product[1..])),
        // `Linksys PAP2T/3.52.12X`, `Cisco ATA 186  v3.1.0`: the product is the next word.
        _ => match words.get(at + 1) {
            Some(next) if next.contains('/') => product_slash(Some(next)),
            _ => generic(&words[at..]),
        },
    }
}

/// `SPA508G-7.4.4`, `SPA-942-6.1.5(a)`, `ATA191-MPP-11-1-0-MSR4`, `OBi202-3.2.2.5921`: the
/// firmware is after the last '-' that leaves a dotted version, else after the first '-'
/// before a digit.
fn model_dash_firmware(product: &str) -> ModelFirmware<'_> {
    let dashes: Vec<usize> = product.match_indices('-').map(|(at, _)| at).collect();
    let dotted = dashes.iter().rev().find(|&&at| is_version(&product[at + 1..]));
    let numbered = || dashes.iter().find(|&&at| product[at + 1..].starts_with(|c: char| c.is_ascii_digit()));
    match dotted.or_else(numbered) {
        Some(&at) => (Some(&product[..at]), Some(&product[at + 1..])),
        None => (Some(product), None),
    }
}

/// The text up to the parenthesis that closes an opened one (`2.3(1.31))` is `2.3(1.31)`).
fn balanced(text: &str) -> &str {
    let mut depth = 0usize;
    for (at, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return &text[..at],
            ')' => depth -= 1,
            _ => {}
        }
    }
    text
}

/// `Product/1.2.3` (Linphone `Linphonec/5.1.65`, `LinphoneAndroid/4.6.0`), and `Linphone
/// Desktop/4.2.5`: the firmware is what follows the slash, up to a `;`.
fn product_slash(word: Option<&str>) -> ModelFirmware<'_> {
    let Some(word) = word else { return (None, None) };
    match word.split_once('/') {
        Some((model, firmware)) => {
            let firmware = firmware.split(';').next().unwrap_or(firmware);
            let firmware = firmware.starts_with(|c: char| c.is_ascii_digit()).then_some(firmware);
            (Some(model), firmware)
        }
        None => (Some(word), None),
    }
}

/// `snomD785-SIP 10.1.169.16 ...` (inside a browser's wrapper), `snomD785/10.1.169.16`, or
/// `Snom M900 05.20.0001 ...`.
fn snom<'a>(words: &[&'a str]) -> ModelFirmware<'a> {
    let Some(at) = words.iter().position(|word| starts_with_ignore_case(word, "snom")) else {
        return (None, None);
    };
    let product = words[at].get(4..).unwrap_or("");
    if product.is_empty() {
        return (words.get(at + 1).copied(), words.get(at + 2).copied().filter(|word| is_version(word)));
    }
    if let Some((model, firmware)) = product.split_once('/') {
        return (Some(model), Some(firmware).filter(|f| is_version(f)));
    }
    let model = strip_suffix_ignore_case(product, "-SIP").unwrap_or(product);
    (Some(model).filter(|m| !m.is_empty()), words.get(at + 1).copied().filter(|word| is_version(word)))
}

/// `Grandstream Model HW GXP2135 SW 1.0.7.97 DevId 000b828aa872`, `Grandstream GXP2160
/// 1.0.7.25`, or `Grandstream GXP2000 (gxp2000e.bin:1.2.5.3/boot55e.bin:1.1.6.9) DevId ...`.
fn grandstream<'a>(text: &'a str, words: &[&'a str]) -> ModelFirmware<'a> {
    let after = |label: &str| {
        words.iter().position(|word| word.eq_ignore_ascii_case(label)).and_then(|at| words.get(at + 1)).copied()
    };
    if let Some(model) = after("HW") {
        return (Some(model), after("SW").filter(|word| is_version(word)));
    }
    if let Some((_, image)) = text.split_once(".bin:") {
        let version = image.split(['/', ')']).next().filter(|version| is_version(version));
        return (words.get(1).copied(), version);
    }
    generic(words)
}

/// `Gigaset N870 IP PRO/83.V2.11.0+build.a546b91;7C2F80E0D605`, and the families that leave
/// the vendor out: `N510 IP PRO/42.245.00.000.000`, `Maxwell 3 PRO/82.2.18.4-release;...`.
fn gigaset(text: &str) -> ModelFirmware<'_> {
    let text = text.trim_start();
    let rest = strip_prefix_ignore_case(text, "Gigaset").unwrap_or(text).trim_start();
    match rest.split_once('/') {
        Some((model, tail)) => {
            let firmware = tail.split([';', ' ']).next().filter(|f| is_version(f));
            (Some(model.trim()), firmware)
        }
        None => generic(&rest.split_whitespace().collect::<Vec<_>>()),
    }
}

/// `Aastra6731i MAC:00-08-5D-23-74-29 V:3.2.0.70-SIP`, `Mitel6867i MAC:... V:5.1.0.2051-SIP`,
/// `Aastra 6865i/4.2.0.2023`, `Mitel-5320-SIP-Phone 06.05.00.11 ...`.
fn mitel<'a>(words: &[&'a str]) -> ModelFirmware<'a> {
    let first = words.first().copied().unwrap_or("");
    let brand = ["aastra", "mitel"].iter().find_map(|brand| strip_prefix_ignore_case(first, brand));
    let labelled = words
        .iter()
        .find_map(|word| strip_prefix_ignore_case(word, "V:"))
        .map(|v| strip_suffix_ignore_case(v, "-SIP").unwrap_or(v))
        .filter(|v| is_version(v));
    match brand {
        Some(model) if model.len() > 1 && !model.starts_with('-') => {
            (Some(model.split('/').next().unwrap_or(model)), labelled)
        }
        _ => match words.get(1) {
            Some(next) if next.contains('/') => product_slash(Some(next)),
            _ => (words.get(1).copied().filter(|_| labelled.is_some()), labelled.or_else(|| first_version(words))),
        },
    }
}

/// `AUDC-IPPhone/2.2.16.372 (445HD-Rev1; 00908F4A2B3C)`, gateways `MP-124 FXS/v.6.60A.342.003`.
fn audiocodes<'a>(words: &[&'a str]) -> ModelFirmware<'a> {
    if let Some(version) = words.iter().find_map(|word| word.split_once("/v.").map(|(_, version)| version)) {
        return (None, Some(version));
    }
    match words.first().and_then(|word| word.split_once('/')) {
        Some((_, firmware)) if starts_with_ignore_case(words[0], "AUDC") => {
            let model = words.get(1).map(|word| word.trim_matches(['(', ')', ';']));
            (model, firmware.starts_with(|c: char| c.is_ascii_digit()).then_some(firmware))
        }
        _ => (None, None),
    }
}

/// `SmartNode (Model:SN4112/JS/EUI; Serial:...; Software Version:R6.2 2012-09-11 ...)`.
fn smartnode(text: &str) -> ModelFirmware<'_> {
    let field = |label: &str| {
        text.split_once(label).and_then(|(_, rest)| rest.split([';', ' ', ')']).next()).filter(|v| !v.is_empty())
    };
    (field("Model:"), field("Software Version:"))
}

/// `Jitsi/1.0-beta1-nightly.build.3408`, or `Jitsi2.10.5550Windows 10` with nothing between.
fn jitsi<'a>(words: &[&'a str]) -> ModelFirmware<'a> {
    let first = words.first().copied().unwrap_or("");
    if let Some((_, version)) = first.split_once('/') {
        return (None, Some(version));
    }
    let glued = first.get(5..).unwrap_or("");
    let end = glued.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(glued.len());
    (None, Some(&glued[..end]).filter(|v| is_version(v)))
}

/// `{Vendor} {model} ... {firmware} ... [{mac}]`, the shape most vendors share (Fanvil, Htek,
/// Alcatel, Avaya, Technicolor, Patton, Flyingvoice, Digium): the model is the second word,
/// the firmware the first version-like word after it, as the phone writes it.
fn generic<'a>(words: &[&'a str]) -> ModelFirmware<'a> {
    if let Some((name, product)) = words.first().and_then(|word| word.split_once('/')) {
        // RTC/1.3.5470, Algo-8186/1.7: a product and its version.
        if product.starts_with(|c: char| c.is_ascii_digit()) {
            return (Some(name), Some(product));
        }
        // AVAYA/J179-4.0.10.3.2, OBIHAI/OBi202-3.2.2.5921: like Cisco SPA.
        return model_dash_firmware(product);
    }
    let model = words.get(1).copied().filter(|word| !is_version(word) && parse_mac(word).is_none());
    let after = if model.is_some() { 2 } else { 1 };
    (model, first_version(words.get(after..).unwrap_or(&[])))
}
