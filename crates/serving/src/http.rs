//! HTTP/1.1 on an accepted connection, as both listeners serve it: request-head deadline and
//! size limit, and a graceful finish when the server shuts down.

use std::error::Error as StdError;

use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::HttpService;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::Timeouts;
use crate::drain::Watcher;

/// Request heads larger than this are refused: phones send a few hundred bytes, admin clients
/// not much more.
pub const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// Serves requests on `io` until the client closes, a deadline passes, or shutdown is asked for
/// (then the request in progress finishes first).
pub async fn serve<I, S>(io: I, service: S, timeouts: &Timeouts, mut watcher: Watcher) -> Result<(), hyper::Error>
where
    I: AsyncRead + AsyncWrite + Unpin,
    S: HttpService<Incoming>,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    S::ResBody: 'static,
    <S::ResBody as Body>::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.request_header)
        .max_buf_size(MAX_REQUEST_HEAD)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    tokio::select! {
        served = connection.as_mut() => served,
        () = watcher.stopping() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    }
}
