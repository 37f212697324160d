//! `sipprovd check --config FILE`: every problem of a configuration, each with where it is.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use sipprov_server::tls::ServerCertificates;

use crate::config::{Config, check_groups};

/// One problem: where (file and line, when known) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `FILE:LINE` or `FILE`.
    pub location: String,
    /// What is wrong, with the cause chain.
    pub message: String,
    /// Only a warning: it would start, but something needs doing soon.
    pub warning: bool,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let warning = if self.warning { "warning: " } else { "" };
        write!(f, "{}: {warning}{}", self.location, self.message)
    }
}

/// Checks the configuration at `path` as `sipprovd run` would use it, without starting
/// anything or creating files. Returns every problem found; empty means it would start.
pub fn check(path: &Path) -> Vec<Problem> {
    let file = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => return vec![Problem { location: file, message: format!("cannot read: {e}"), warning: false }],
    };
    if let Err(e) = toml::from_str::<Config>(&text) {
        let line = e.span().map(|span| line_of(&text, span.start));
        let message = e.message().to_owned();
        return vec![Problem { location: at(&file, line), message, warning: false }];
    }
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(e) => return vec![Problem { location: file, message: format!("{e:#}"), warning: false }],
    };
    let mut problems = Vec::new();
    let mut report = |section: &str, key: Option<&str>, result: anyhow::Result<()>| {
        if let Err(e) = result {
            let line = locate(&text, section, key);
            problems.push(Problem { location: at(&file, line), message: format!("{e:#}"), warning: false });
        }
    };
    // Loaded as the server loads them, so a key that does not match its certificate shows here.
    let phone_certificates = config
        .phones
        .certificates()
        .and_then(|(primary, rsa)| ServerCertificates::new(primary, rsa).map(drop).map_err(anyhow::Error::from));
    report("[phones]", Some("certificate"), phone_certificates);
    report("[phones]", Some("allow_sources"), config.phones.allowed_sources().map(drop));
    report("[phones]", Some("proxy_from"), config.phones.proxy_from().map(drop));
    let admin_certificate = config
        .admin_config()
        .and_then(|admin| ServerCertificates::new(admin.certificate, None).map(drop).map_err(anyhow::Error::from));
    report("[admin]", Some("certificate"), admin_certificate);
    let mut anchors_load = true;
    for (index, trust) in config.trust.iter().enumerate() {
        let loaded = trust.load().map(drop);
        anchors_load &= loaded.is_ok();
        report(&format!("[[trust]]#{index}"), Some("bundle"), loaded);
    }
    if anchors_load {
        // Each entry loads; what remains concerns them together (none at all, overlaps).
        report("[[trust]]", None, config.trust_store().map(drop));
    }
    report("[templates]", Some("overrides"), config.renderer().map(drop));
    report("[firmware]", Some("directory"), config.firmware_directory().map(drop));
    report("[settings]", None, config.global_settings().map(drop));
    for (section, groups) in config.group_sections() {
        report(&format!("[{section}"), None, check_groups(section, groups));
    }
    report("[limits]", None, config.limits.policy().map(drop));
    // Built as the daemon builds them (files read, URLs parsed); nothing is connected to.
    report("[[registrar]]", None, crate::registrars::registrars(&config.registrar).map(drop));
    report("[resync]", None, config.resync_config().map(drop));
    report("[store]", Some("sealing_key"), config.keyring().map(drop));
    report("[lifecycle]", Some("dormant_days"), config.lifecycle.check());
    report("[admin]", Some("listen"), config.check_listeners());
    report("[[policy]]", Some("min_rating"), config.rating_rules().map(drop));
    if let Some(digest) = &config.digest {
        report("[digest]", Some("provisioning_url"), config.digest_options(digest).map(drop));
    }
    if let Some(portal) = &config.portal {
        report("[portal]", Some("certificate"), config.portal_config(portal).map(drop));
    }
    report("[settings]", Some("provisioning_url"), config.check_provisioning_name());
    let store_key = if config.store.postgres.is_some() { "postgres" } else { "sqlite" };
    report("[store]", Some(store_key), config.check_store());
    report("[logging]", None, config.logging.check());
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
    let mut leaves: Vec<(&str, &Path, Vec<u8>)> = Vec::new();
    for (index, trust) in config.trust.iter().enumerate().filter(|(_, trust)| trust.legacy) {
        let message = format!(
            "{}: legacy = true accepts chains with SHA-1 signatures or RSA keys under 2048 bits, which prove \
             little; what it identifies is rated 4 and held to [[policy]]",
            trust.bundle.display()
        );
        let line = locate(&text, &format!("[[trust]]#{index}"), Some("legacy"));
        problems.push(Problem { location: at(&file, line), message, warning: true });
    }
    if let Ok((primary, rsa)) = config.phones.certificates() {
        leaves.extend(
            primary.chain.first().map(|leaf| ("certificate", config.phones.certificate.as_path(), leaf.to_vec())),
        );
        if let (Some(rsa), Some(path)) = (rsa, &config.phones.rsa_certificate) {
            leaves.extend(rsa.chain.first().map(|leaf| ("rsa_certificate", path.as_path(), leaf.to_vec())));
        }
    }
    for (key, path, leaf) in &leaves {
        if let Some((warning, message)) = expiry(path, leaf, now) {
            problems.push(Problem { location: at(&file, locate(&text, "[phones]", Some(key))), message, warning });
        }
    }
    if let (Some(path), Ok(admin)) = (&config.admin.certificate, config.admin_config())
        && let Some(leaf) = admin.certificate.chain.first()
        && let Some((warning, message)) = expiry(path, leaf, now)
    {
        problems.push(Problem { location: at(&file, locate(&text, "[admin]", Some("certificate"))), message, warning });
    }
    problems
}

/// Whether a server certificate has expired (an error: phones refuse it) or ends within
/// [`EXPIRY_WARNING`] (a warning: it starts, but needs renewing).
fn expiry(path: &Path, leaf: &[u8], now: u64) -> Option<(bool, String)> {
    let not_after = match sipprov_identity::certificate_not_after(leaf) {
        Ok(not_after) => not_after,
        Err(e) => {
            return Some((
                true,
                format!("{}: cannot read its validity ({e}); check its dates by hand", path.display()),
            ));
        }
    };
    let days = |seconds: u64| seconds / 86_400;
    if not_after <= now {
        return Some((
            false,
            format!("{} expired {} days ago: phones refuse it; renew it", path.display(), days(now - not_after)),
        ));
    }
    (not_after - now < EXPIRY_WARNING.as_secs()).then(|| {
        (
            true,
            format!(
                "{} expires in {} days: renew it before phones start refusing it",
                path.display(),
                days(not_after - now)
            ),
        )
    })
}

/// How close to its end a server certificate is reported.
const EXPIRY_WARNING: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

fn at(file: &str, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("{file}:{line}"),
        None => file.to_owned(),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line of `key` inside `section` (`[phones]`, or `[[trust]]#N` for the N-th entry), else
/// of the section header; `None` if the section is not in the file (a default is in use).
fn locate(text: &str, section: &str, key: Option<&str>) -> Option<usize> {
    let (header, nth) = match section.split_once('#') {
        Some((header, nth)) => (header, nth.parse().unwrap_or(0)),
        None => (section, 0),
    };
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().enumerate().filter(|(_, line)| line.trim_start().starts_with(header)).nth(nth)?.0;
    let end = lines[start + 1..]
        .iter()
        .position(|line| line.trim_start().starts_with('['))
        .map_or(lines.len(), |offset| start + 1 + offset);
    let key_line = key.and_then(|key| {
        (start + 1..end).find(|&i| {
            let line = lines[i].trim_start();
            line.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('='))
        })
    });
    Some(key_line.unwrap_or(start) + 1)
}
