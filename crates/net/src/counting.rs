//! Byte counting where bytes cross the socket.
//!
//! [`CountingStream`] wraps any `AsyncRead + AsyncWrite` and hands every byte
//! read or written to a [`Tally`]. The server uses it through its counting
//! listener (`pushbench_server::listener`) so `/stats` reports socket-level
//! counts; the load generator uses it with a protocol classifier.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Receives every byte that crosses a [`CountingStream`], in order.
pub trait Tally {
    /// Bytes just read from the peer.
    fn on_read(&self, bytes: &[u8]);
    /// Bytes just accepted by the socket for the peer.
    fn on_written(&self, bytes: &[u8]);
    /// The writer above flushed: whatever it had written is on its way.
    fn on_flush(&self) {}
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
        let this = self.get_mut();
        let flushed = ready!(Pin::new(&mut this.inner).poll_flush(cx));
        if flushed.is_ok() {
            this.tally.on_flush();
        }
        Poll::Ready(flushed)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Every byte each way, in order.
    #[derive(Clone, Debug, Default)]
    struct Bytes(Arc<Mutex<(Vec<u8>, Vec<u8>)>>);

    impl Tally for Bytes {
        fn on_read(&self, bytes: &[u8]) {
            self.0.lock().expect("lock").0.extend_from_slice(bytes);
        }

        fn on_written(&self, bytes: &[u8]) {
            self.0.lock().expect("lock").1.extend_from_slice(bytes);
        }
    }

    #[tokio::test]
    async fn every_byte_each_way_reaches_the_tally_once_in_order() {
        // A pipe of 4 bytes: a vectored write is taken in part at most, and
        // only the part taken is reported.
        let (near, mut far) = tokio::io::duplex(4);
        let tally = Bytes::default();
        let mut counted = CountingStream::new(near, tally.clone());
        let message = b"abcdefgh";
        let slices = [
            io::IoSlice::new(&message[..3]),
            io::IoSlice::new(&message[3..]),
        ];
        let n = counted.write_vectored(&slices).await.expect("write");
        assert!((1..=4).contains(&n), "{n}");
        assert_eq!(tally.0.lock().expect("lock").1, message[..n]);
        let mut got = vec![0u8; message.len()];
        let (written, read) =
            tokio::join!(counted.write_all(&message[n..]), far.read_exact(&mut got));
        written.expect("write");
        read.expect("read");
        assert_eq!(got, message);
        let mut reply = [0u8; 5];
        let (written, read) = tokio::join!(far.write_all(b"reply"), counted.read_exact(&mut reply));
        written.expect("write");
        read.expect("read");
        let (read, written) = tally.0.lock().expect("lock").clone();
        assert_eq!(read, b"reply");
        assert_eq!(written, message);
    }
}
