//! The byte streams `h2` and a WebSocket run over on the client side: the
//! counted connection shared between `h2` and its keeper (`H2Io`), and
//! one HTTP/2 stream as a byte stream ([`H2Stream`]) for a WebSocket over
//! extended CONNECT.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use h2::{RecvStream, SendStream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::connection::Conn;
use crate::lock;

/// The counted connection as h2's transport. Shared with the keeper, which
/// takes it back when h2 is done with it to close it as
/// [`close`](crate::connection::close) does for HTTP/1.1 (segment counts first, then the FIN, then
/// the server's last bytes); h2's own shutdown therefore only flushes.
#[derive(Debug)]
pub(crate) struct H2Io(pub(crate) Arc<Mutex<Conn>>);

impl H2Io {
    fn conn(&self) -> std::sync::MutexGuard<'_, Conn> {
        lock(&self.0)
    }
}

impl AsyncRead for H2Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.conn()).poll_read(cx, buf)
    }
}

impl AsyncWrite for H2Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.conn()).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.conn()).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.conn().is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.conn()).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.conn()).poll_flush(cx)
    }
}

/// One HTTP/2 stream as a byte stream, for a WebSocket over extended
/// CONNECT: reads are the DATA the server sent (each chunk's flow-control
/// capacity released as it is taken), writes become DATA frames as the
/// stream's send window allows, shutdown ends the stream.
#[derive(Debug)]
pub struct H2Stream {
    send: SendStream<Bytes>,
    recv: RecvStream,
    /// Received bytes not read yet.
    buffered: Bytes,
    /// END_STREAM sent.
    ended: bool,
}

impl H2Stream {
    /// The stream of an answered extended CONNECT: `send` its request
    /// side, `recv` its response body.
    pub fn new(send: SendStream<Bytes>, recv: RecvStream) -> Self {
        H2Stream {
            send,
            recv,
            buffered: Bytes::new(),
            ended: false,
        }
    }
}

fn h2_io_error(e: h2::Error) -> std::io::Error {
    if e.is_io() {
        e.into_io()
            .unwrap_or_else(|| std::io::ErrorKind::Other.into())
    } else {
        std::io::Error::other(e)
    }
}

impl AsyncRead for H2Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        while self.buffered.is_empty() {
            match ready!(self.recv.poll_data(cx)) {
                Some(Ok(bytes)) => {
                    let _ = self.recv.flow_control().release_capacity(bytes.len());
                    self.buffered = bytes;
                }
                Some(Err(e)) => return Poll::Ready(Err(h2_io_error(e))),
                None => return Poll::Ready(Ok(())),
            }
        }
        let n = self.buffered.len().min(buf.remaining());
        buf.put_slice(&self.buffered.split_to(n));
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for H2Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.send.reserve_capacity(buf.len());
        match ready!(self.send.poll_capacity(cx)) {
            Some(Ok(capacity)) => {
                let n = capacity.min(buf.len());
                self.send
                    .send_data(Bytes::copy_from_slice(&buf[..n]), false)
                    .map_err(h2_io_error)?;
                Poll::Ready(Ok(n))
            }
            Some(Err(e)) => Poll::Ready(Err(h2_io_error(e))),
            None => Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        // The connection's task writes the frames out.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if !std::mem::replace(&mut self.ended, true) {
            self.send
                .send_data(Bytes::new(), true)
                .map_err(h2_io_error)?;
        }
        Poll::Ready(Ok(()))
    }
}
