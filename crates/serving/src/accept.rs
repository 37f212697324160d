//! What a listener does when `accept` fails.

use crate::ServerError;

/// Decides whether a failed `accept` ends the listener: transient errors (a client that went
/// away, too many open files for a moment) are logged, waited out briefly and skipped; any other
/// error ends serving. `listener` names the listener in the log.
pub async fn accept_failed(e: std::io::Error, listener: &str) -> Result<(), ServerError> {
    use std::io::ErrorKind::*;
    let transient = matches!(e.kind(), ConnectionAborted | ConnectionReset | Interrupted | WouldBlock | TimedOut)
        || e.raw_os_error().is_some_and(|code| code == 24 || code == 23); // EMFILE, ENFILE
    if !transient {
        return Err(ServerError::Accept(e));
    }
    tracing::warn!(error = %e, listener, "accept failed; continuing");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    Ok(())
}

/// The accept loop of a listener that serves each connection on a task of its own: accepts
/// until `shutdown` completes, handing each connection (with a [`Watcher`] of the loop's
/// [`Drain`]) to `spawn`; then stops accepting and waits up to `drain` for the connections to
/// finish their requests. `listener` names it in the log.
///
/// [`Watcher`]: crate::Watcher
/// [`Drain`]: crate::Drain
pub async fn accept_until(
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
    drain: std::time::Duration,
    name: &str,
    mut spawn: impl FnMut(tokio::net::TcpStream, std::net::SocketAddr, crate::Watcher),
) -> Result<(), ServerError> {
    tokio::pin!(shutdown);
    let connections = crate::Drain::new();
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => spawn(tcp, peer, connections.watcher()),
                Err(e) => accept_failed(e, name).await?,
            },
        }
    }
    drop(listener);
    if !connections.finish(drain).await {
        tracing::warn!(listener = name, "listener stopped; requests still running were cut off");
    }
    Ok(())
}
