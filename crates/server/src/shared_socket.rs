//! A TCP socket the connection's I/O chain and a push session both reach.
//!
//! hyper, TLS and tungstenite own a connection's stream by value. A
//! WebSocket push session on a plain connection writes its events past
//! them, straight to the socket ([`crate::direct`]): the stream is an
//! [`Arc`] of tokio's [`TcpStream`], whose readiness and `try_*` calls
//! take `&self`. [`SharedSocket`] is the chain's end of it.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// An accepted socket, shared (see the module docs).
#[derive(Debug, Clone)]
pub struct SharedSocket(pub Arc<TcpStream>);

/// Runs `attempt` once the socket is ready for it (`ready` polls that),
/// again after a spurious readiness.
fn when_ready<T>(
    cx: &mut Context<'_>,
    ready: impl Fn(&mut Context<'_>) -> Poll<io::Result<()>>,
    mut attempt: impl FnMut() -> io::Result<T>,
) -> Poll<io::Result<T>> {
    loop {
        ready!(ready(cx))?;
        match attempt() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            result => return Poll::Ready(result),
        }
    }
}

/// Bytes a read takes through a stack buffer before it touches the
/// caller's. hyper hands every read 8 KiB of fresh, uninitialised buffer
/// that it keeps for the connection's life; `try_read` needs initialised
/// bytes, and zeroing all 8 KiB would make every page of it resident
/// (4-6 kB more per idle connection). A request head or a WebSocket
/// message of a few hundred bytes fits here, so only the bytes that
/// arrived are written into the caller's buffer.
const SMALL_READ: usize = 512;

impl AsyncRead for SharedSocket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let socket = &self.0;
        let mut small = [0u8; SMALL_READ];
        let want = buf.remaining().min(SMALL_READ);
        let n = ready!(when_ready(
            cx,
            |cx| socket.poll_read_ready(cx),
            || socket.try_read(&mut small[..want])
        ))?;
        buf.put_slice(&small[..n]);
        if n == SMALL_READ && buf.remaining() > 0 {
            // More may be waiting: a large read goes in place. An error
            // or nothing more here is for the next read to meet.
            if let Ok(more) = socket.try_read(buf.initialize_unfilled()) {
                buf.advance(more);
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for SharedSocket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let socket = &self.0;
        when_ready(
            cx,
            |cx| socket.poll_write_ready(cx),
            || socket.try_write(buf),
        )
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let socket = &self.0;
        when_ready(
            cx,
            |cx| socket.poll_write_ready(cx),
            || socket.try_write_vectored(bufs),
        )
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // What tokio's own TcpStream does: shut the write side down now.
        let socket = socket2::SockRef::from(&*self.0);
        Poll::Ready(socket.shutdown(std::net::Shutdown::Write))
    }
}

#[cfg(test)]
mod tests {
    use std::mem::MaybeUninit;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    /// A connected pair: the client's stream and the server's shared end.
    async fn pair() -> (TcpStream, SharedSocket) {
        let (client, server) = crate::tcp_pair().await;
        (client, SharedSocket(Arc::new(server)))
    }

    #[tokio::test]
    async fn a_small_read_leaves_the_rest_of_the_buffer_untouched() {
        let (mut client, mut shared) = pair().await;
        client
            .write_all(b"GET / HTTP/1.1\r\n\r\n")
            .await
            .expect("write");
        // What hyper hands a read: fresh, uninitialised capacity.
        let mut storage = [MaybeUninit::<u8>::uninit(); 8192];
        let mut buf = ReadBuf::uninit(&mut storage);
        std::future::poll_fn(|cx| Pin::new(&mut shared).poll_read(cx, &mut buf))
            .await
            .expect("read");
        assert_eq!(buf.filled(), b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(buf.initialized().len(), buf.filled().len());
        crate::reliability(
            "security/limits",
            "8 KiB read buffer after a 18-byte request",
            "only the 18 bytes written, the rest not made resident",
        );
    }

    #[tokio::test]
    async fn a_large_read_arrives_whole() {
        let (mut client, mut shared) = pair().await;
        let sent: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        client.write_all(&sent).await.expect("write");
        drop(client);
        let mut got = Vec::new();
        shared.read_to_end(&mut got).await.expect("read");
        assert_eq!(got, sent);
    }
}
