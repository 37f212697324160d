//! Reading vendor, model, firmware and MAC from a phone's User-Agent.
//!
//! A User-Agent can be forged by anyone: what is read here feeds firmware reports, diagnostics
//! and the format hint of [`Candidates::hint`](crate::Candidates::hint), never authorization.
//! Parsing never fails; anything that does not have a known shape is `None`. Model and firmware
//! are only returned when they are short and made of plain characters, so they are safe to log.

use sipprov_identity::Mac;

use crate::Vendor;

/// The longest User-Agent read; longer ones are not a phone's and yield nothing.
pub const MAX_USER_AGENT_LEN: usize = 512;

/// What a User-Agent says about the phone. Every field is a claim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserAgent {
    /// The vendor, if the UA has a known shape.
    pub vendor: Option<Vendor>,
    /// The model as the vendor writes it (`T46G`, `VVX_500`, `SPA508G`, `D785`, `N870 IP PRO`).
    pub model: Option<String>,
    /// The firmware version. For Polycom only from `Type/Application`: the updater reports its own.
    pub firmware: Option<String>,
    /// The MAC, when the UA carries exactly one.
    pub mac: Option<Mac>,
}

impl UserAgent {
    /// Parses a User-Agent header value. Never fails: unknown shapes give all `None`.
    ///
    /// ```
    /// use sipprov_template::{UserAgent, Vendor};
    ///
    /// let ua = UserAgent::parse("Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37");
    /// assert_eq!(ua.vendor, Some(Vendor::Yealink));
    /// assert_eq!(ua.model.as_deref(), Some("T46G"));
    /// assert_eq!(ua.firmware.as_deref(), Some("28.72.0.1"));
    /// assert_eq!(ua.mac.unwrap().to_string(), "0015654aa937");
    ///
    /// assert_eq!(UserAgent::parse("curl/8.5.0"), UserAgent::default());
    /// ```
    pub fn parse(user_agent: &str) -> UserAgent {
        if user_agent.len() > MAX_USER_AGENT_LEN {
            return UserAgent::default();
        }
        let tokens: Vec<&str> = user_agent.split_whitespace().collect();
        let Some(vendor) = detect_vendor(user_agent, &tokens) else {
            return UserAgent::default();
        };
        let (model, firmware) = match vendor {
            Vendor::Yealink => yealink(&tokens),
            Vendor::Polycom => polycom(&tokens),
            Vendor::Cisco | Vendor::Linksys | Vendor::Panasonic => vendor_slash(&tokens),
            Vendor::Snom => snom(&tokens),
            Vendor::Grandstream => grandstream(&tokens),
            Vendor::Gigaset => gigaset(user_agent),
            Vendor::Mitel => mitel(&tokens),
            Vendor::Linphone => product_slash(tokens.first().copied()),
            Vendor::AudioCodes => audiocodes(&tokens),
            _ => generic(&tokens),
        };
        UserAgent {
            vendor: Some(vendor),
            model: model.and_then(clean),
            firmware: firmware.and_then(clean),
            mac: single_mac(user_agent),
        }
    }
}

fn detect_vendor(user_agent: &str, tokens: &[&str]) -> Option<Vendor> {
    let first = tokens.first()?.to_ascii_lowercase();
    let starts = |prefix: &str| first.starts_with(prefix);
    let lower = user_agent.to_ascii_lowercase();
    let vendor = if starts("yealink") {
        Vendor::Yealink
    } else if lower.contains("polycom") {
        Vendor::Polycom
    } else if starts("cisco") {
        Vendor::Cisco
    } else if starts("linksys") {
        Vendor::Linksys
    } else if lower.contains("snom") {
        Vendor::Snom
    } else if starts("grandstream") {
        Vendor::Grandstream
    } else if starts("fanvil") {
        Vendor::Fanvil
    } else if starts("gigaset") {
        Vendor::Gigaset
    } else if starts("aastra") || starts("mitel") {
        Vendor::Mitel
    } else if starts("linphone") {
        Vendor::Linphone
    } else if starts("alcatel") {
        Vendor::Alcatel
    } else if starts("audiocodes") || starts("audc") {
        Vendor::AudioCodes
    } else if starts("avaya") {
        Vendor::Avaya
    } else if starts("htek") {
        Vendor::Htek
    } else if starts("panasonic") {
        Vendor::Panasonic
    } else if starts("thomson") || starts("technicolor") {
        Vendor::Technicolor
    } else if starts("patton") {
        Vendor::Patton
    } else if starts("flyingvoice") {
        Vendor::Flyingvoice
    } else if starts("digium") {
        Vendor::Digium
    } else {
        return None;
    };
    Some(vendor)
}

type ModelFirmware<'a> = (Option<&'a str>, Option<&'a str>);

/// `Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37`, `Yealink SIP VP-T49G 51.80.0.100 ...`,
/// `Yealink W60B 77.83.0.85 ...`.
fn yealink<'a>(tokens: &[&'a str]) -> ModelFirmware<'a> {
    let mut rest = tokens.iter().skip(1).copied().peekable();
    let mut model = rest.next();
    if model.is_some_and(|m| m.eq_ignore_ascii_case("SIP")) {
        model = rest.next();
    }
    let model = model.map(|m| strip_prefix_ignore_case(m, "SIP-").unwrap_or(m));
    (model, rest.next().filter(|t| is_version(t)))
}

/// `FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application`. The BootROM / updater
/// sends `Type/Updater` with its own version, which is not the application firmware.
fn polycom<'a>(tokens: &[&'a str]) -> ModelFirmware<'a> {
    let Some(product) = tokens.iter().find(|t| t.get(..7).is_some_and(|p| p.eq_ignore_ascii_case("polycom"))) else {
        return (None, None);
    };
    let (name, version) = product.split_once('/').unwrap_or((product, ""));
    let name = name.get(7..).unwrap_or("");
    let name = name.strip_suffix("-UA").unwrap_or(name);
    let model = name.split_once('-').map_or(name, |(_family, model)| model);
    let application = match tokens.iter().find_map(|t| t.strip_prefix("Type/")) {
        Some(kind) => kind.eq_ignore_ascii_case("Application"),
        None => true,
    };
    (Some(model).filter(|m| !m.is_empty()), Some(version).filter(|v| application && is_version(v)))
}

/// Cisco SPA `Cisco/SPA508G-7.4.4 (0002FDFF2103)(CBT141400UK)`, Cisco MPP
/// `Cisco-CP-7832-3PCC/11.0.1 (00562b043615)`, Linksys `Linksys/SPA942-6.1.5(a)`, Panasonic
/// `Panasonic_KX-UT136/01.133 (0080f0d12345)`: the vendor, a separator, then the product.
fn vendor_slash<'a>(tokens: &[&'a str]) -> ModelFirmware<'a> {
    let Some(first) = tokens.first() else {
        return (None, None);
    };
    let Some(product) = first.find(['/', '-', '_']).and_then(|at| first.get(at..)) else {
        return (tokens.get(1).copied(), tokens.get(2).copied().filter(|t| is_version(t)));
    };
    match product.split_at(1) {
        // Cisco/SPA508G-7.4.4: model and firmware joined by the first '-'.
        ("/", rest) => match rest.split_once('-') {
            Some((model, firmware)) => (Some(model), Some(firmware).filter(|f| is_version(f))),
            None => (Some(rest), None),
        },
        // Cisco-CP-7832-3PCC/11.0.1, Panasonic_KX-UT136/01.133: model, '/', firmware.
        (_, rest) => product_slash(Some(rest)),
    }
}

/// `Product/1.2.3` (Linphone `Linphonec/5.1.65`, `LinphoneAndroid/4.6.0`).
fn product_slash(token: Option<&str>) -> ModelFirmware<'_> {
    let Some(token) = token else {
        return (None, None);
    };
    match token.split_once('/') {
        Some((model, firmware)) => (Some(model), Some(firmware).filter(|f| is_version(f))),
        None => (Some(token), None),
    }
}

/// `Mozilla/4.0 (compatible; snomD785-SIP 10.1.169.16 ... 00041396D9B4 ...)`, or `snomD785/10.1.169.16`.
fn snom<'a>(tokens: &[&'a str]) -> ModelFirmware<'a> {
    let Some(at) = tokens.iter().position(|t| t.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("snom"))) else {
        return (None, None);
    };
    let product = tokens.get(at).and_then(|t| t.get(4..)).unwrap_or("");
    if let Some((model, firmware)) = product.split_once('/') {
        return (Some(model), Some(firmware).filter(|f| is_version(f)));
    }
    let model = strip_suffix_ignore_case(product, "-SIP").unwrap_or(product);
    (Some(model).filter(|m| !m.is_empty()), tokens.get(at + 1).copied().filter(|t| is_version(t)))
}

/// `Grandstream Model HW GXP2135 SW 1.0.7.97 DevId 000b828aa872`, or `Grandstream GXP2160 1.0.7.25`.
fn grandstream<'a>(tokens: &[&'a str]) -> ModelFirmware<'a> {
    let after = |word: &str| {
        tokens.iter().position(|t| t.eq_ignore_ascii_case(word)).and_then(|at| tokens.get(at + 1)).copied()
    };
    match after("HW") {
        Some(model) => (Some(model), after("SW").filter(|t| is_version(t))),
        None => generic(tokens),
    }
}

/// `Gigaset N870 IP PRO/83.V2.11.0+build.a546b91;7C2F80E0D605`.
fn gigaset(user_agent: &str) -> ModelFirmware<'_> {
    let rest = user_agent.trim_start().get(7..).unwrap_or("").trim_start();
    match rest.split_once('/') {
        Some((model, tail)) => {
            let firmware = tail.split([';', ' ']).next().filter(|f| is_version(f));
            (Some(model.trim()), firmware)
        }
        None => generic(&user_agent.split_whitespace().collect::<Vec<_>>()),
    }
}

/// `Aastra6731i MAC:00-08-5D-23-74-29 V:3.2.0.70-SIP`, `Mitel6867i MAC:... V:5.1.0.2051-SIP`.
fn mitel<'a>(tokens: &[&'a str]) -> ModelFirmware<'a> {
    let first = tokens.first().copied().unwrap_or("");
    let brand_len = if first.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("aastra")) { 6 } else { 5 };
    let model = match first.get(brand_len..) {
        Some(model) if !model.is_empty() => Some(model.split('/').next().unwrap_or(model)),
        _ => tokens.get(1).copied(),
    };
    let firmware = tokens
        .iter()
        .find_map(|t| strip_prefix_ignore_case(t, "V:"))
        .map(|v| strip_suffix_ignore_case(v, "-SIP").unwrap_or(v))
        .filter(|v| is_version(v));
    (model, firmware)
}

/// `AUDC-IPPhone/2.2.16.372 (445HD-Rev1; 00908F4A2B3C)`, or the generic shape.
fn audiocodes<'a>(tokens: &[&'a str]) -> ModelFirmware<'a> {
    match tokens.first().and_then(|t| t.split_once('/')) {
        Some((_, firmware)) => {
            let model = tokens.get(1).map(|t| t.trim_matches(['(', ')', ';']));
            (model, Some(firmware).filter(|f| is_version(f)))
        }
        None => generic(tokens),
    }
}

/// `{Vendor} {model} ... {firmware} ... [{mac}]`, the shape most vendors share (Fanvil, Htek,
/// Alcatel, Avaya, Technicolor, Patton, Flyingvoice, Digium). The firmware is the first
/// version-like token after the model, without a `V`, `fw` or `R` prefix.
fn generic<'a>(tokens: &[&'a str]) -> ModelFirmware<'a> {
    if let Some((_, product)) = tokens.first().and_then(|t| t.split_once('/')) {
        // AVAYA/J179-4.0.10.3.2: like Cisco SPA.
        if let Some((model, firmware)) = product.split_once('-') {
            return (Some(model), Some(firmware).filter(|f| is_version(f)));
        }
    }
    let model = tokens.get(1).copied().filter(|t| !is_version(t) && parse_mac_token(t).is_none());
    let firmware = tokens.iter().skip(2).find_map(|t| {
        let bare = ["fw", "v", "r"].iter().find_map(|p| strip_prefix_ignore_case(t, p)).unwrap_or(t);
        is_version(bare).then_some(bare)
    });
    (model, firmware)
}

/// The MAC, when exactly one distinct MAC appears among the UA's tokens.
fn single_mac(user_agent: &str) -> Option<Mac> {
    let mut found: Option<Mac> = None;
    for token in user_agent.split(|c: char| c.is_whitespace() || matches!(c, ';' | '(' | ')' | ',' | '[' | ']')) {
        let token = ["mac:", "mac=", "devid:"].iter().find_map(|p| strip_prefix_ignore_case(token, p)).unwrap_or(token);
        if let Some(mac) = parse_mac_token(token) {
            match found {
                Some(seen) if seen != mac => return None,
                _ => found = Some(mac),
            }
        }
    }
    found
}

fn parse_mac_token(token: &str) -> Option<Mac> {
    Mac::parse(token).ok().filter(|mac| mac.bytes() != [0; 6])
}

/// A firmware version: starts with a digit, has a dot, and only version-like characters.
fn is_version(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_digit())
        && s.contains('.')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '(' | ')'))
}

/// A model or firmware string is kept only if it is short and plain, so it is safe to log.
fn clean(s: &str) -> Option<String> {
    let s = s.trim();
    let plain =
        s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-' | '+' | '/' | '(' | ')'));
    (!s.is_empty() && s.len() <= 64 && plain).then(|| s.to_owned())
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| s.get(prefix.len()..)).flatten()
}

fn strip_suffix_ignore_case<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let split = s.len().checked_sub(suffix.len())?;
    let tail = s.get(split..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| s.get(..split)).flatten()
}
