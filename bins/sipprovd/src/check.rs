//! `sipprovd check --config FILE`: every problem of a configuration, each with where it is.

use std::path::Path;

use sipprov_server::tls::ServerCertificates;

use crate::config::{Config, check_groups};

/// One problem: where (file and line, when known) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `FILE:LINE` or `FILE`.
    pub location: String,
    /// What is wrong, with the cause chain.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Checks the configuration at `path` as `sipprovd run` would use it, without starting
/// anything or creating files. Returns every problem found; empty means it would start.
pub fn check(path: &Path) -> Vec<Problem> {
    let file = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => return vec![Problem { location: file, message: format!("cannot read: {e}") }],
    };
    if let Err(e) = toml::from_str::<Config>(&text) {
        let line = e.span().map(|span| line_of(&text, span.start));
        let message = e.message().to_owned();
        return vec![Problem { location: at(&file, line), message }];
    }
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(e) => return vec![Problem { location: file, message: format!("{e:#}") }],
    };
    let mut problems = Vec::new();
    let mut report = |section: &str, key: Option<&str>, result: anyhow::Result<()>| {
        if let Err(e) = result {
            let line = locate(&text, section, key);
            problems.push(Problem { location: at(&file, line), message: format!("{e:#}") });
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
    report("[store]", Some("sealing_key"), config.keyring().map(drop));
    report("[lifecycle]", Some("dormant_days"), config.lifecycle.check());
    report("[admin]", Some("listen"), config.check_listeners());
    report("[settings]", Some("provisioning_url"), config.check_provisioning_name());
    let store_key = if config.store.postgres.is_some() { "postgres" } else { "sqlite" };
    report("[store]", Some(store_key), config.check_store());
    report("[logging]", None, config.logging.check());
    problems
}

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
