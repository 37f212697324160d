//! A phone's TCP connection as the TLS layer writes to it: what the server says leaves in as
//! few writes as the conversation allows, and the FIN leaves with the close.
//!
//! A poll is a short, fixed conversation: the client's hello, the server's flight, the client's
//! certificate and Finished (its request usually right behind), then the server's session
//! tickets, the response and, for a client that asked to close, the `close_notify`. Written as
//! the layers above produce them, that last part is three writes: three system calls and three
//! segments, each waking the client. The client waits for none of it until the response is
//! complete. So writes are held here, and sent together when the server is about to wait for
//! the client (a read that finds nothing), when the connection is shut down or dropped, or when
//! more than [`HOLD_LIMIT`] would be held. A TLS 1.2 handshake's last flight, which the client
//! does wait for, leaves when the server goes on to read the request. After a TLS 1.3
//! handshake, what is held is the session tickets, which no client waits for: they wait for
//! the response (see [`PhoneSocket::hold_tickets`]), so a client whose request comes a moment
//! after its Finished still gets tickets, response and `close_notify` in one write.
//!
//! Flushes are therefore not a reason to send: tokio-rustls flushes after the handshake's
//! tickets, hyper after each response, and either is followed, after nothing but the server's
//! own work (a render, a store call, a firmware file's next chunk), by a read or a shutdown.
//!
//! The write shutdown sends what is held and nothing more: hyper shuts the TLS stream down
//! before dropping it (a `close_notify`, then a TCP write shutdown), and since nothing is read
//! between the two, the close does what the shutdown would: the kernel sends what is queued,
//! then the FIN. Left to the close, a connection costs one system call less.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The most a connection holds: a config of a few kilobytes and the tickets before it fit; a
/// larger response (a firmware image) leaves in writes of about this size.
pub(crate) const HOLD_LIMIT: usize = 16 * 1024;

/// What a connection keeps of its buffer once everything held is sent: a connection kept open
/// between polls does not keep a large response's worth of memory.
const KEPT_CAPACITY: usize = 4 * 1024;

/// A phone's TCP stream whose writes wait for the server to wait (see the module docs).
#[derive(Debug)]
pub(crate) struct PhoneSocket {
    tcp: TcpStream,
    held: Vec<u8>,
    /// Whether what is held stays held across a read that finds nothing: only session
    /// tickets, until the response's first write.
    tickets_held: bool,
}

impl PhoneSocket {
    pub(crate) fn new(tcp: TcpStream) -> Self {
        Self { tcp, held: Vec::new(), tickets_held: false }
    }

    /// Keeps what is held now, the session tickets of a finished TLS 1.3 handshake, until the
    /// next write (the response's) instead of the next wait for the client. Only for TLS 1.3:
    /// what a TLS 1.2 handshake leaves held is its last flight, which the client waits for.
    pub(crate) fn hold_tickets(&mut self) {
        self.tickets_held = true;
    }

    /// Sends what is held; pending, with the task woken when the socket takes more, while it
    /// is full.
    fn poll_send_held(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.held.is_empty() {
            match ready!(Pin::new(&mut self.tcp).poll_write(cx, &self.held))? {
                0 => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                sent => drop(self.held.drain(..sent)),
            }
        }
        if self.held.capacity() > KEPT_CAPACITY {
            self.held = Vec::new();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for PhoneSocket {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let read = Pin::new(&mut this.tcp).poll_read(cx, buf);
        if read.is_pending() && !this.tickets_held {
            // The server is about to wait for the client: first, what the client may be
            // waiting for.
            if let Poll::Ready(Err(e)) = this.poll_send_held(cx) {
                return Poll::Ready(Err(e));
            }
        }
        read
    }
}

impl AsyncWrite for PhoneSocket {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.tickets_held = false;
        let len: usize = bufs.iter().map(|buf| buf.len()).sum();
        if this.held.len() + len <= HOLD_LIMIT {
            bufs.iter().for_each(|buf| this.held.extend_from_slice(buf));
            return Poll::Ready(Ok(len));
        }
        ready!(this.poll_send_held(cx))?;
        Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    /// Sends nothing: what is held leaves at the next read or the shutdown (see the module docs).
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_send_held(cx)
    }
}

impl Drop for PhoneSocket {
    /// A refused handshake's alert, or an answer cut short by a ban: sent if the socket takes
    /// it at once, never waited for.
    fn drop(&mut self) {
        if !self.held.is_empty() {
            let _ = self.tcp.try_write(&self.held);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A phone socket on the server side of a loopback connection, and its client.
    async fn pair() -> (PhoneSocket, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (PhoneSocket::new(server), client)
    }

    /// Polls one read of the socket: whether it found nothing (the server would wait).
    async fn read_finds_nothing(socket: &mut PhoneSocket) -> bool {
        let mut buf = [0u8; 64];
        poll_fn(|cx| Poll::Ready(Pin::new(&mut *socket).poll_read(cx, &mut ReadBuf::new(&mut buf)).is_pending())).await
    }

    /// Reads exactly `len` bytes from the client, within a bound.
    async fn receive(client: &mut TcpStream, len: usize) -> Vec<u8> {
        let mut received = vec![0u8; len];
        tokio::time::timeout(Duration::from_secs(10), client.read_exact(&mut received)).await.unwrap().unwrap();
        received
    }

    #[tokio::test]
    async fn writes_and_flushes_are_held_until_the_server_waits_for_the_client() {
        let (mut socket, mut client) = pair().await;
        socket.write_all(b"flight ").await.unwrap();
        socket.write_all(b"and more").await.unwrap();
        socket.flush().await.unwrap();
        assert_eq!(socket.held, b"flight and more");

        // A read that finds the client's bytes is not a wait: nothing is sent.
        client.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 5];
        tokio::time::timeout(Duration::from_secs(10), socket.read_exact(&mut buf)).await.unwrap().unwrap();
        assert_eq!((&buf, socket.held.len()), (b"hello", 15));

        assert!(read_finds_nothing(&mut socket).await);
        assert!(socket.held.is_empty());
        assert_eq!(receive(&mut client, 15).await, b"flight and more");
    }

    #[tokio::test]
    async fn tickets_wait_for_the_response_and_leave_with_it() {
        let (mut socket, mut client) = pair().await;
        socket.write_all(b"tickets|").await.unwrap();
        socket.hold_tickets();
        assert!(read_finds_nothing(&mut socket).await);
        assert_eq!(socket.held, b"tickets|", "the client waits for no ticket");

        socket.write_all(b"response").await.unwrap();
        assert!(read_finds_nothing(&mut socket).await, "now the client waits for the response");
        assert_eq!(receive(&mut client, 16).await, b"tickets|response");
    }

    #[tokio::test]
    async fn the_shutdown_sends_what_is_held_and_leaves_the_fin_to_the_close() {
        let (mut socket, mut client) = pair().await;
        socket.write_all(b"response|close_notify").await.unwrap();
        socket.shutdown().await.unwrap();
        assert_eq!(receive(&mut client, 21).await, b"response|close_notify");
        let mut buf = [0u8; 1];
        let early = tokio::time::timeout(Duration::from_millis(200), client.read(&mut buf)).await;
        assert!(early.is_err(), "no FIN before the close: {early:?}");
        drop(socket);
        let closed = tokio::time::timeout(Duration::from_secs(10), client.read(&mut buf)).await.unwrap().unwrap();
        assert_eq!(closed, 0);
    }

    #[tokio::test]
    async fn a_dropped_socket_sends_what_is_held() {
        let (mut socket, mut client) = pair().await;
        socket.write_all(b"alert").await.unwrap();
        drop(socket);
        let mut received = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), client.read_to_end(&mut received)).await.unwrap().unwrap();
        assert_eq!(received, b"alert");
    }

    #[tokio::test]
    async fn more_than_the_limit_is_sent_in_order_without_waiting_for_a_read() {
        let (mut socket, mut client) = pair().await;
        socket.write_all(b"tickets|").await.unwrap();
        let large: Vec<u8> = (0..HOLD_LIMIT * 3).map(|i| (i % 251) as u8).collect();
        let sending = tokio::spawn(async move {
            socket.write_all(&large).await.unwrap();
            socket
        });
        let received = receive(&mut client, 8 + HOLD_LIMIT * 2 + 1).await;
        assert_eq!(&received[..8], b"tickets|");
        assert!(received[8..].iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));
        let socket = sending.await.unwrap();
        assert!(socket.held.len() <= HOLD_LIMIT, "at most the limit is left held");
    }

    #[tokio::test]
    async fn a_large_answer_once_sent_lets_its_buffer_go() {
        let (mut socket, mut client) = pair().await;
        let answer = vec![b'a'; HOLD_LIMIT - 1];
        socket.write_all(&answer).await.unwrap();
        assert_eq!(socket.held.len(), HOLD_LIMIT - 1);
        assert!(read_finds_nothing(&mut socket).await);
        assert_eq!(receive(&mut client, HOLD_LIMIT - 1).await, answer);
        assert_eq!(socket.held.capacity(), 0, "a connection kept open keeps no large buffer");
    }
}
