//! `sipprov report compliance --config FILE`: the ITSPA recommendations a deployment's
//! configuration decides, each with how this one meets it or why it does not. Offline: it reads
//! the daemon's configuration file, not the API. Exit status 1 when a row fails.
//!
//! The rows and their ids are those of `docs/itspa-compliance.md`; what the software guarantees
//! whatever the configuration (mutual TLS, uniform answers, no TFTP) is listed there, with tests.

use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;
use sipprovd::config::Config;

/// Arguments of `report compliance`.
#[derive(Debug, clap::Args)]
pub(crate) struct ComplianceArgs {
    /// The daemon's TOML configuration file.
    #[arg(long)]
    config: PathBuf,
}

/// How a deployment stands on one recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Standing {
    /// Met by this configuration.
    Met,
    /// Met, with something the operator should know or check by hand.
    Note,
    /// Not met by this configuration.
    Fails,
}

/// One row of the report.
#[derive(Debug, Serialize)]
struct Row {
    id: &'static str,
    recommendation: &'static str,
    standing: Standing,
    how: String,
}

/// Grace windows above this leave delivered passwords on the server for too long.
const MAX_GRACE_SECONDS: u64 = 3600;
/// Secrets never fetched for longer than this stay on the server for too long.
const MAX_DORMANT_DAYS: u64 = 30;

impl ComplianceArgs {
    pub(crate) fn run(self, as_json: bool) -> ExitCode {
        let config = match Config::load(&self.config) {
            Ok(config) => config,
            Err(e) => {
                eprintln!("sipprov: {e:#}");
                return ExitCode::from(2);
            }
        };
        let rows = rows(&config);
        if as_json {
            match serde_json::to_string_pretty(&serde_json::json!({ "rows": rows })) {
                Ok(text) => println!("{text}"),
                Err(e) => eprintln!("sipprov: {e}"),
            }
        } else {
            for row in &rows {
                let standing = match row.standing {
                    Standing::Met => "met",
                    Standing::Note => "note",
                    Standing::Fails => "FAILS",
                };
                println!("{:<4} {standing:<6} {}\n            {}", row.id, row.recommendation, row.how);
            }
        }
        if rows.iter().any(|row| row.standing == Standing::Fails) { ExitCode::FAILURE } else { ExitCode::SUCCESS }
    }
}

fn rows(config: &Config) -> Vec<Row> {
    let row = |id, recommendation, standing, how: String| Row { id, recommendation, standing, how };
    let mut rows = Vec::new();

    // R1, S2, D2: the rating of every way a phone can be provisioned.
    let legacy: Vec<String> =
        config.trust.iter().filter(|trust| trust.legacy).map(|trust| trust.bundle.display().to_string()).collect();
    let lowered: Vec<String> = config
        .policy
        .iter()
        .filter(|entry| entry.min_rating < 5)
        .map(|entry| {
            let part = |name: &str, value: &Option<String>| value.as_ref().map(|value| format!("{name}={value}"));
            let scope: Vec<String> =
                [part("vendor", &entry.vendor), part("model", &entry.model), part("site", &entry.site)]
                    .into_iter()
                    .flatten()
                    .collect();
            if scope.is_empty() { "every device".to_owned() } else { scope.join(" ") }
        })
        .collect();
    let mut below = Vec::new();
    if let Some(digest) = &config.digest {
        below.push(format!(
            "the [digest] listener ({}) provisions with enrolment secrets: rating 4 for vendors without a trusted \
             factory CA{}",
            digest.listen,
            if lowered.is_empty() { String::new() } else { format!(", and for {}", lowered.join(", ")) }
        ));
    }
    if !legacy.is_empty() {
        below.push(format!("legacy chains (SHA-1, RSA-1024) are accepted under {}: rating 4", legacy.join(", ")));
    }
    rows.push(if below.is_empty() {
        row(
            "R1",
            "Prefer HTTPS with unique device certificates (rating 5)",
            Standing::Met,
            "every phone proves a unique factory certificate (mutual TLS); nothing below rating 5 is configured".into(),
        )
    } else {
        row("R1", "Prefer HTTPS with unique device certificates (rating 5)", Standing::Fails, below.join("; "))
    });

    // C6, C5: each CA may vouch only for its vendor's MACs.
    let open: Vec<String> = config
        .trust
        .iter()
        .filter(|trust| trust.allowed_ouis.is_empty())
        .map(|trust| trust.bundle.display().to_string())
        .collect();
    rows.push(if open.is_empty() {
        row(
            "C6",
            "A CA certificate per vendor validates its phones' certificates",
            Standing::Met,
            format!("{} trust entries, each restricted to its vendor's OUIs", config.trust.len()),
        )
    } else {
        row(
            "C6",
            "A CA certificate per vendor validates its phones' certificates",
            Standing::Fails,
            format!("allowed_ouis is empty for {}: such a CA may vouch for any MAC", open.join(", ")),
        )
    });

    // S3, D3a: passwords deleted once provisioned.
    let grace = config.lifecycle.grace_seconds;
    rows.push(row(
        "S3",
        "Delete SIP passwords as soon as provisioned",
        if grace <= MAX_GRACE_SECONDS { Standing::Met } else { Standing::Fails },
        format!(
            "a delivered password is deleted {grace} s after the first fetch{}",
            if grace <= MAX_GRACE_SECONDS { String::new() } else { format!(" (more than {MAX_GRACE_SECONDS} s)") }
        ),
    ));

    // D3b: configs not fetched in time are removed.
    let dormant = config.lifecycle.dormant_days;
    rows.push(row(
        "D3b",
        "Remove configs not fetched within a pre-defined period",
        if dormant <= MAX_DORMANT_DAYS { Standing::Met } else { Standing::Fails },
        format!(
            "secrets never fetched are deleted after {dormant} days{}",
            if dormant <= MAX_DORMANT_DAYS { String::new() } else { format!(" (more than {MAX_DORMANT_DAYS})") }
        ),
    ));

    // L1: the provisioning server reachable only where needed.
    rows.push(match &config.phones.allow_sources {
        Some(sources) if !sources.is_empty() => row(
            "L1",
            "Reachable only from the network portion that needs it",
            Standing::Met,
            format!("phones may connect only from {}", sources.join(", ")),
        ),
        _ => row(
            "L1",
            "Reachable only from the network portion that needs it",
            Standing::Note,
            format!(
                "[phones] listen {} with no allow_sources: any address may connect (limits and scan detection apply); \
                 set allow_sources where phones come from known networks",
                config.phones.listen
            ),
        ),
    });

    // L4: management interfaces protected.
    let admin = config.admin.listen;
    rows.push(if admin.ip().is_loopback() {
        row("L4", "Protect management interfaces", Standing::Met, format!("the admin API listens on {admin} only"))
    } else {
        row(
            "L4",
            "Protect management interfaces",
            Standing::Note,
            format!("the admin API listens on {admin}: make sure only a management network reaches it"),
        )
    });

    // D6: review logs for suspicious activity.
    rows.push(row(
        "D6",
        "Firewall with rate limits; review the logs",
        if config.logging.format == "json" { Standing::Met } else { Standing::Note },
        format!(
            "rate limits, scan detection and bans are always on; logs are {} (audit events included){}",
            config.logging.format,
            if config.audit.retain_days == 0 {
                "; the audit log is kept forever".to_owned()
            } else {
                format!("; the audit log keeps {} days", config.audit.retain_days)
            }
        ),
    ));

    // P1: credentials not sent by e-mail; a login-protected reveal.
    const P1: &str = "Avoid e-mail for credentials; a login-secured reveal";
    rows.push(match &config.portal {
        Some(portal) => row(
            "P1",
            P1,
            Standing::Met,
            format!(
                "softphone users log in at {} (second factor: {}) and see their password once, or set the \
                 softphone up from a one-time QR link",
                portal.public_url, portal.second_factor
            ),
        ),
        None => row(
            "P1",
            P1,
            Standing::Note,
            "no [portal]: softphone passwords reach users only through the operator (the admin API answers each \
             once); do not e-mail them, or configure [portal]"
                .into(),
        ),
    });
    rows
}
