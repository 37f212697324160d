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
