//! A phone's TCP connection, whose FIN is sent by closing it rather than by a shutdown first.
//!
//! When a connection ends, hyper shuts the TLS stream down: a `close_notify` alert, then a TCP
//! write shutdown (FIN), then the socket is dropped and closed. Nothing is read between the
//! shutdown and the close, so the shutdown buys nothing that the close does not do: the kernel
//! sends what is still queued, then the FIN, either way. Left to the close, a connection costs
//! one system call less (about 1 % of a poll's CPU in `sipprov bench`).

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A TCP stream whose write shutdown is a no-op: its FIN goes out when it is dropped.
#[derive(Debug)]
pub(crate) struct FinOnClose(pub(crate) TcpStream);

impl AsyncRead for FinOnClose {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for FinOnClose {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
