//! The running daemon: phone and admin listeners, background jobs, and signals.
//!
//! - SIGHUP re-reads the config file's trust anchors, templates and server certificates and
//!   swaps them in without dropping connections; if any of them does not load, the old ones
//!   stay and the error is logged (see [`crate::reload`]).
//! - SIGTERM (or Ctrl-C) stops accepting, lets in-flight requests finish within
//!   `[phones] drain_seconds`, and returns.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use sipprov_admin::AdminServer;
use sipprov_credentials::Credentials;
use sipprov_portal::PortalServer;
use sipprov_server::{Metrics, PhoneServer, ServerState};
use tokio::sync::watch;

use crate::config::Config;

/// How often expiries (purge after grace, dormant after N days) are applied without a fetch.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// Devices read per store query during a sweep.
const SWEEP_BATCH: usize = 500;
/// How often the store is compacted, so purged secrets are gone from its files too.
const COMPACT_EVERY: Duration = Duration::from_secs(15 * 60);
/// How often bans made by other nodes sharing the store are picked up.
const BAN_REFRESH_EVERY: Duration = Duration::from_secs(30);
/// How often audit events past their retention are deleted.
const AUDIT_PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Audit events deleted per store transaction.
const AUDIT_PRUNE_BATCH: usize = 1_000;

/// The bound listeners, ready to serve.
pub struct Daemon {
    phones: PhoneServer,
    admin: AdminServer,
    portal: Option<PortalServer>,
    credentials: Arc<Credentials>,
    /// What SIGHUP renews.
    listeners: crate::reload::Listeners,
    config_path: Option<PathBuf>,
    audit_retention: Option<Duration>,
    outbox: Option<Arc<sipprov_registrar::Outbox>>,
}

impl Daemon {
    /// Binds the phone listener on `config.phones.listen` and the admin listener on
    /// `config.admin.listen`, over `credentials`. `config_path` is what SIGHUP re-reads.
    pub async fn bind(
        config: &Config,
        credentials: Arc<Credentials>,
        config_path: Option<PathBuf>,
    ) -> anyhow::Result<Self> {
        let server_config = config.server_config_with(Arc::clone(&credentials))?;
        let mut phones = PhoneServer::bind(config.phones.listen, server_config)
            .await
            .context("starting the phone listener")?
            .with_rating_policy(config.rating_policy().context("[[policy]]")?);
        if let Some(digest) = &config.digest {
            let options = config.digest_options(digest).context("[digest]")?;
            phones = phones.listen_for_digest(digest.listen, options).await.context("starting the digest listener")?;
        }
        let outbox = config.outbox(Arc::clone(&credentials)).context("[[registrar]]")?;
        let admin_config = config.admin_config_with(outbox.clone())?;
        let admin = AdminServer::bind(config.admin.listen, admin_config, phones.admin_state())
            .await
            .context("starting the admin listener")?;
        let portal = match &config.portal {
            Some(section) => {
                let portal_config = config.portal_config(section).context("[portal]")?;
                let bound =
                    PortalServer::bind(section.listen, portal_config, phones.admin_state(), phones.softphone_configs())
                        .await
                        .context("starting the portal listener")?;
                Some(bound)
            }
            None => None,
        };
        phones.admin_state().metrics.set_build_info(env!("CARGO_PKG_VERSION"), env!("SIPPROV_COMMIT"));
        let listeners = crate::reload::Listeners {
            phones: phones.reloader(),
            phone_certificates: phones.certificates(),
            admin: admin.certificates(),
            portal: portal.as_ref().map(PortalServer::certificates),
            metrics: phones.admin_state().metrics,
        };
        listeners.report_expiry();
        Ok(Self {
            phones,
            admin,
            portal,
            credentials,
            listeners,
            config_path,
            audit_retention: config.audit.retention(),
            outbox,
        })
    }

    /// Where phones connect.
    pub fn phone_addr(&self) -> SocketAddr {
        self.phones.local_addr()
    }

    /// Where phones authenticating with an enrolment secret connect, if `[digest]` is set.
    pub fn digest_addr(&self) -> Option<SocketAddr> {
        self.phones.digest_addr()
    }

    /// Where the admin API listens.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin.local_addr()
    }

    /// Where the softphone portal listens, if `[portal]` is set.
    pub fn portal_addr(&self) -> Option<SocketAddr> {
        self.portal.as_ref().map(PortalServer::local_addr)
    }

    /// Serves until SIGTERM or Ctrl-C, then drains both listeners.
    pub async fn serve(self) -> anyhow::Result<()> {
        let jobs = Jobs(self.phones.admin_state().metrics);
        start_sweeper(&jobs, Arc::clone(&self.credentials));
        start_compaction(&jobs, Arc::clone(&self.credentials));
        start_ban_refresh(&jobs, self.phones.admin_state());
        if let Some(retention) = self.audit_retention {
            start_audit_pruning(&jobs, Arc::clone(&self.credentials), retention);
        }
        if let Some(path) = self.config_path.clone() {
            crate::reload::start_on_sighup(path, self.listeners);
        }
        let outbox_stop = Arc::new(AtomicBool::new(false));
        let outbox = match self.outbox.clone() {
            Some(outbox) => Some(
                crate::registrars::start(outbox, Arc::clone(&outbox_stop)).context("starting the registrar outbox")?,
            ),
            None => None,
        };
        let (stop, stopped) = watch::channel(false);
        let until_stopped = |mut stopped: watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        let mut listeners = tokio::task::JoinSet::new();
        let phones = self.phones.serve(until_stopped(stopped.clone()));
        listeners.spawn(async move { ("phone", phones.await) });
        let admin = self.admin.serve(until_stopped(stopped.clone()));
        listeners.spawn(async move { ("admin", admin.await) });
        if let Some(portal) = self.portal {
            let portal = portal.serve(until_stopped(stopped));
            listeners.spawn(async move { ("portal", portal.await) });
        }
        // Until a signal, or until a listener fails: a daemon without one of its listeners
        // must not look healthy, so then everything stops and the exit status says why.
        let failed = tokio::select! {
            () = shutdown_signal() => None,
            Some(ended) = listeners.join_next() => Some(ended),
        };
        crate::systemd::stopping();
        stop.send_replace(true);
        let mut outcome = match failed {
            None => Ok(()),
            Some(ended) => listener_outcome(ended)
                .and_then(|name| Err(anyhow::anyhow!("the {name} listener stopped unexpectedly"))),
        };
        // The others drain; the first failure is what the exit status reports.
        while let Some(ended) = listeners.join_next().await {
            let drained = listener_outcome(ended).map(|_| ());
            outcome = outcome.and(drained);
        }
        outbox_stop.store(true, Ordering::Relaxed);
        if let Some(outbox) = outbox {
            // It stops within a second, or after the registrar call in flight (10 s at most).
            let _ = tokio::task::spawn_blocking(move || outbox.join()).await;
        }
        tracing::info!("stopped");
        outcome
    }
}

/// How a listener's task ended: its name when it stopped cleanly.
fn listener_outcome(
    ended: Result<(&'static str, Result<(), sipprov_server::ServerError>), tokio::task::JoinError>,
) -> anyhow::Result<&'static str> {
    match ended {
        Ok((name, Ok(()))) => Ok(name),
        Ok((name, Err(e))) => Err(anyhow::Error::from(e).context(format!("the {name} listener failed"))),
        Err(e) => Err(anyhow::anyhow!("a listener's task failed: {e}")),
    }
}

/// Starts background jobs, each counted in the metrics (runs, failures, last success).
struct Jobs(Arc<Metrics>);

impl Jobs {
    /// Runs `job` off the async workers every `period`, also at once if `at_start`; a failure
    /// is logged as `what` failing and the job runs again at the next period. The job logs its
    /// own successes.
    fn repeat(
        &self,
        period: Duration,
        at_start: bool,
        what: &'static str,
        job: impl Fn() -> anyhow::Result<()> + Send + Sync + 'static,
    ) {
        let (job, metrics) = (Arc::new(job), Arc::clone(&self.0));
        metrics.register_job(what);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            if !at_start {
                ticks.tick().await; // an interval's first tick is immediate
            }
            loop {
                ticks.tick().await;
                let job = Arc::clone(&job);
                let ran = tokio::task::spawn_blocking(move || job()).await;
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
                metrics.job_ran(what, matches!(ran, Ok(Ok(()))), now);
                match ran {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::error!(error = format!("{e:#}"), "{what} failed; retried later"),
                    Err(e) => tracing::error!(error = %e, "{what} task failed"),
                }
            }
        });
    }
}

/// Applies due expiries in the background, so secrets go away on time even if the phone never
/// comes back.
fn start_sweeper(jobs: &Jobs, credentials: Arc<Credentials>) {
    jobs.repeat(SWEEP_EVERY, true, "expiry sweep", move || {
        let changed = credentials.sweep(SWEEP_BATCH)?;
        if changed > 0 {
            tracing::info!(changed, "expiry sweep");
        }
        Ok(())
    });
}

/// Compacts the store periodically: records are purged at once, and this removes the stale
/// copies the storage engine may keep of them in free space.
fn start_compaction(jobs: &Jobs, credentials: Arc<Credentials>) {
    jobs.repeat(COMPACT_EVERY, false, "store compaction", move || {
        credentials.store().compact()?;
        tracing::debug!("store compacted");
        Ok(())
    });
}

/// Picks up bans made and lifted by other nodes sharing the store (the listener loaded them at
/// start), and drops expired bans and idle entries from the rate limiter; and, as a job of its
/// own, the firmware catalogue and targets other nodes changed.
fn start_ban_refresh(jobs: &Jobs, state: ServerState) {
    let fleet = Arc::clone(&state.fleet);
    jobs.repeat(BAN_REFRESH_EVERY, false, "ban refresh", move || Ok(state.refresh_bans().map(drop)?));
    jobs.repeat(BAN_REFRESH_EVERY, false, "firmware policy refresh", move || Ok(fleet.refresh()?));
}

/// Deletes audit events past `[audit] retain_days`, hourly and once at start.
fn start_audit_pruning(jobs: &Jobs, credentials: Arc<Credentials>, retention: Duration) {
    jobs.repeat(AUDIT_PRUNE_EVERY, true, "audit pruning", move || {
        let pruned = credentials.prune_audit(retention, AUDIT_PRUNE_BATCH)?;
        if pruned > 0 {
            tracing::info!(
                pruned,
                retain_days = retention.as_secs() / 86_400,
                "audit events past their retention deleted"
            );
        }
        Ok(())
    });
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutting down: finishing requests in flight");
}
