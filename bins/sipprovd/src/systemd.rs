//! Telling systemd how the daemon is doing, when systemd started it (`Type=notify`; nothing
//! happens without `$NOTIFY_SOCKET`): ready once both listeners are bound, watchdog pings
//! while the async runtime runs, each reload's progress and outcome, and stopping.

use std::time::Duration;

use sd_notify::NotifyState;

/// Both listeners are bound: systemd may start what depends on the daemon.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A reload began (SIGHUP).
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// A reload ended; the status line says how, `systemctl status` shows it.
pub fn reloaded(outcome: &anyhow::Result<()>) {
    let status = match outcome {
        Ok(()) => "serving; the last reload was applied".to_owned(),
        Err(e) => format!(
            "serving with the previous trust anchors, templates and certificates: the last reload was refused ({e:#})"
        ),
    };
    send(&[NotifyState::Ready, NotifyState::Status(&status)]);
}

/// The daemon is draining and will exit.
pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("draining")]);
}

/// With `WatchdogSec=` set, pings systemd at half the interval from a task on the async runtime,
/// so a runtime that stops running tasks stops the pings and systemd restarts the daemon.
pub fn start_watchdog() {
    let Some(interval) = sd_notify::watchdog_enabled() else { return };
    let period = (interval / 2).max(Duration::from_millis(100));
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        loop {
            ticks.tick().await;
            send(&[NotifyState::Watchdog]);
        }
    });
}

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}
