//! Graceful shutdown: stop accepting, let in-flight requests finish, within a deadline.

use std::time::Duration;

use tokio::sync::{mpsc, watch};

/// Owned by an accept loop; hands a [`Watcher`] to every connection it spawns.
pub struct Drain {
    stop: watch::Sender<bool>,
    alive: mpsc::Sender<()>,
    all_done: mpsc::Receiver<()>,
}

/// Held by one connection until it ends: tells it when to finish, and tells the [`Drain`]
/// it is still running (by being alive).
pub struct Watcher {
    stop: watch::Receiver<bool>,
    _alive: mpsc::Sender<()>,
}

impl Drain {
    /// A drain with no connections yet.
    #[allow(clippy::new_without_default)] // made once per listener, where `new` reads best
    pub fn new() -> Self {
        let (stop, _) = watch::channel(false);
        let (alive, all_done) = mpsc::channel(1);
        Self { stop, alive, all_done }
    }

    /// A watcher for one new connection.
    pub fn watcher(&self) -> Watcher {
        Watcher { stop: self.stop.subscribe(), _alive: self.alive.clone() }
    }

    /// Asks every connection to finish its current request and close, and waits until all have
    /// or `deadline` passes. Returns whether every connection finished in time.
    pub async fn finish(self, deadline: Duration) -> bool {
        let Self { stop, alive, mut all_done } = self;
        stop.send_replace(true);
        drop(alive);
        // `recv` returns `None` once every watcher (each holding a sender) is gone.
        tokio::time::timeout(deadline, all_done.recv()).await.is_ok()
    }
}

impl Watcher {
    /// Completes when shutdown is asked for.
    pub async fn stopping(&mut self) {
        // An error means the drain is gone: stop as well.
        let _ = self.stop.wait_for(|stop| *stop).await;
    }
}
