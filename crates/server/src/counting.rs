//! Byte counting where bytes cross the socket.
//!
//! [`CountingStream`] wraps any `AsyncRead + AsyncWrite` and hands every byte
//! read or written to a [`Tally`]. The server uses it through
//! [`crate::listener::CountingListener`] so `/stats` reports socket-level
//! counts; the load generator uses it with a protocol classifier.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Receives every byte that crosses a [`CountingStream`], in order.
pub trait Tally {
    /// Bytes just read from the peer.
    fn on_read(&self, bytes: &[u8]);
    /// Bytes just accepted by the socket for the peer.
    fn on_written(&self, bytes: &[u8]);
}

/// A stream that reports every byte it carries to a [`Tally`].
#[derive(Debug)]
pub struct CountingStream<S, T> {
    inner: S,
    tally: T,
}

impl<S, T> CountingStream<S, T> {
    /// Wraps `inner`, reporting to `tally`.
    pub fn new(inner: S, tally: T) -> Self {
        CountingStream { inner, tally }
    }

    /// The tally this stream reports to.
    pub fn tally(&self) -> &T {
        &self.tally
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin, T: Tally + Unpin> AsyncRead for CountingStream<S, T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            this.tally.on_read(&buf.filled()[before..]);
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin, T: Tally + Unpin> AsyncWrite for CountingStream<S, T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            this.tally.on_written(&buf[..n]);
        }
        poll
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(mut n)) = poll {
            // Report exactly the prefix the socket took, slice by slice.
            for buf in bufs {
                if n == 0 {
                    break;
                }
                let take = n.min(buf.len());
                this.tally.on_written(&buf[..take]);
                n -= take;
            }
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
