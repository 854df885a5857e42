//! Push messages written straight to a plain connection's socket.
//!
//! Every subscriber gets the same bytes for an event: the hub encoded its
//! JSON, SSE record and NDJSON line once, with their heads
//! ([`crate::hub::StoredEvent::framed`], [`crate::push_framing`]), and a
//! subscriber that was up to date before a publish gets that publish's
//! events framed back to back, once for everyone
//! ([`crate::hub::Batch`]). A push session on a plain HTTP/1.1
//! connection writes each wake-up's messages with one write, past
//! tungstenite or hyper, the upgraded stream and the timeout wrapper: a
//! batch straight from its shared bytes, a burst of single events
//! gathered into one per-thread buffer first. It books the bytes in the
//! connection's counters itself, exactly as the counting stream would.
//! Only one writer writes at a time:
//!
//! - a session that is up to date parks its writer in the hub's fan-out
//!   ([`crate::fanout`]), which writes each publish to it from the
//!   publisher's loop ([`DirectWriter::try_write_raw`]), and writes again
//!   itself only once it has taken its writer back;
//! - WebSocket: tungstenite still reads the client's frames and writes
//!   its replies (pongs, the close handshake), and the session flushes
//!   tungstenite before a direct write, so frames never interleave;
//! - streaming and SSE: hyper writes the response head and, when the body
//!   ends, the last chunk; the body writes its chunks in between, once
//!   hyper has flushed the head ([`crate::listener::ConnCounters::next_flush`]).
//!
//! TLS and HTTP/2 connections, the binary WebSocket format and compressed
//! or HTTP/1.0 responses keep the libraries' own paths.

use std::io::{self, IoSlice};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::hub::{Batch, StoredEvent};
use crate::listener::{Conn, ConnCounters};
use crate::push_framing::{Framing, Head, Wire};
use crate::shared_socket::SharedSocket;

/// One message of a burst.
#[derive(Debug)]
pub enum Outgoing {
    /// An event: its heads were made with its encodings, once for every
    /// subscriber ([`StoredEvent::framed`]), so writing it copies nothing
    /// and clones nothing but this pointer.
    Event(Arc<StoredEvent>),
    /// Bytes of the session's own (a gap marker, a keep-alive) and their
    /// head.
    Own(Head, Bytes),
    /// A publish's events, framed once for every subscriber
    /// ([`Batch::framed`]).
    Batch(Arc<Batch>),
    /// Framed bytes left to write: the rest of a batch the fan-out wrote
    /// part of ([`crate::hub::Resume`]).
    Rest(Bytes),
}

impl Outgoing {
    /// `bytes` of the session's own, framed by `framing`.
    pub fn own(framing: Framing, bytes: Bytes) -> Self {
        Outgoing::Own(framing.head(bytes.len()), bytes)
    }

    /// The head, bytes and tail this message puts on `wire`.
    fn parts(&self, wire: Wire) -> [&[u8]; 3] {
        let tail = wire.framing().tail();
        match self {
            Outgoing::Event(event) => {
                let (head, bytes) = event.framed(wire);
                [head, bytes, tail]
            }
            Outgoing::Own(head, bytes) => [head.as_bytes(), bytes, tail],
            Outgoing::Batch(batch) => [&[], &batch.framed(wire)[..], &[]],
            Outgoing::Rest(bytes) => [&[], bytes, &[]],
        }
    }
}

/// The head of the one chunk that carries all of `burst` on `wire`, when
/// it is joined: two or more events or messages of the session's own on a
/// chunked wire. A chunk boundary means nothing to an SSE or NDJSON
/// reader, so a burst of a subscriber that is behind goes out as one
/// chunk, as a publish does ([`Batch::framed`]): catching up costs its
/// client one chunk size line per burst, not per event. A batch or the
/// rest of one is framed already; a WebSocket frame is a message.
fn joined_head(burst: &[Outgoing], wire: Wire) -> Option<Head> {
    let joinable = wire.framing() == Framing::Chunked
        && burst.len() > 1
        && burst
            .iter()
            .all(|m| matches!(m, Outgoing::Event(_) | Outgoing::Own(..)));
    joinable.then(|| {
        let len = burst.iter().map(|m| m.parts(wire)[1].len()).sum();
        Framing::Chunked.head(len)
    })
}

/// Visits the bytes `burst` puts on `wire`, in order: with `joined` (its
/// [`joined_head`]) one chunk of every message's bytes, else each
/// message's head, bytes and tail.
fn each_part<'a>(
    burst: &'a [Outgoing],
    wire: Wire,
    joined: Option<&'a Head>,
    mut visit: impl FnMut(&'a [u8]),
) {
    match joined {
        Some(head) => {
            visit(head.as_bytes());
            burst.iter().for_each(|m| visit(m.parts(wire)[1]));
            visit(wire.framing().tail());
        }
        None => burst.iter().flat_map(|m| m.parts(wire)).for_each(visit),
    }
}

/// Why a direct write ended the session.
#[derive(Debug)]
pub enum WriteError {
    /// The client read nothing for the send timeout.
    TimedOut,
    /// The socket failed (the client went away).
    Io(io::Error),
}

/// Most messages in one burst: three slices each (head, payload, tail),
/// well under the kernel's 1,024 per vectored write.
pub const MAX_BURST: usize = 64;

/// Writes framed messages to one plain connection's socket.
#[derive(Debug, Clone)]
pub struct DirectWriter {
    socket: SharedSocket,
    counters: Arc<ConnCounters>,
    send_timeout: Duration,
    wire: Wire,
}

impl DirectWriter {
    /// A writer of `wire` for the connection `conn`, or `None` when its
    /// bytes must go through TLS or HTTP/2 framing.
    pub fn for_connection(conn: &Conn, send_timeout: Duration, wire: Wire) -> Option<Self> {
        let Conn(counters, socket) = conn;
        (!counters.is_tls() && !counters.is_http2()).then(|| DirectWriter {
            socket: socket.clone(),
            counters: Arc::clone(counters),
            send_timeout,
            wire,
        })
    }

    /// The connection's counters.
    pub fn counters(&self) -> &ConnCounters {
        &self.counters
    }

    /// The wire this writer frames messages for.
    pub fn wire(&self) -> Wire {
        self.wire
    }

    /// One write of framed `bytes`, without waiting (the fan-out's,
    /// [`crate::fanout`]); books and returns what the socket took: 0 when
    /// its buffer is full or the write failed (a failure shows again when
    /// the session writes the rest itself).
    pub fn try_write_raw(&self, bytes: &[u8]) -> usize {
        if bytes.is_empty() {
            return 0;
        }
        self.try_write_booked(bytes).unwrap_or(0)
    }

    /// One write of `bytes`, booked.
    fn try_write_booked(&self, bytes: &[u8]) -> io::Result<usize> {
        let n = self.socket.0.try_write(bytes)?;
        self.counters.record_written(&bytes[..n]);
        Ok(n)
    }

    /// Writes each of `burst` (the first [`MAX_BURST`]) framed (on a
    /// chunked wire, two or more events or messages of the session's own
    /// in one chunk), with as few writes as the socket takes; waits up to
    /// the send timeout whenever the socket's buffer is full.
    pub async fn write(&self, burst: &[Outgoing]) -> Result<(), WriteError> {
        let burst = &burst[..burst.len().min(MAX_BURST)];
        let mut total = 0;
        let joined = joined_head(burst, self.wire);
        each_part(burst, self.wire, joined.as_ref(), |part| {
            total += part.len()
        });
        let mut done = 0;
        while done < total {
            match self.try_write_from(burst, joined.as_ref(), done, total) {
                Ok(0) => return Err(WriteError::Io(io::ErrorKind::WriteZero.into())),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let writable = self.socket.0.writable();
                    match tokio::time::timeout(self.send_timeout, writable).await {
                        Err(_) => return Err(WriteError::TimedOut),
                        Ok(Err(e)) => return Err(WriteError::Io(e)),
                        Ok(Ok(())) => {}
                    }
                }
                Err(e) => return Err(WriteError::Io(e)),
            }
        }
        Ok(())
    }

    /// One write of the framed `burst` (`joined`: its [`joined_head`])
    /// past its first `done` bytes (of `total`); books and returns what
    /// the socket took. Up to
    /// [`COPY_LIMIT`] bytes are gathered into one buffer first; more are
    /// written from their slices, laid out afresh for each attempt in
    /// [`Self::try_write_slices`], so that array (some 3 KiB) lives on
    /// its stack and not in the future of [`Self::write`], which a push
    /// session holds for its connection's life.
    fn try_write_from(
        &self,
        burst: &[Outgoing],
        joined: Option<&Head>,
        done: usize,
        total: usize,
    ) -> io::Result<usize> {
        if total - done > COPY_LIMIT || burst.len() == 1 {
            // Large, or one message (a batch): nothing to gather.
            return self.try_write_slices(burst, joined, done);
        }
        SCRATCH.with_borrow_mut(|scratch| {
            scratch.clear();
            let mut skip = done;
            each_part(burst, self.wire, joined, |part| {
                let from = skip.min(part.len());
                skip -= from;
                scratch.extend_from_slice(&part[from..]);
            });
            self.try_write_booked(scratch)
        })
    }

    /// [`Self::try_write_from`] for a large burst: one vectored write.
    fn try_write_slices(
        &self,
        burst: &[Outgoing],
        joined: Option<&Head>,
        done: usize,
    ) -> io::Result<usize> {
        if let [one] = burst {
            let mut slices = one.parts(self.wire).map(IoSlice::new);
            return self.try_write_vectored(&mut slices, done);
        }
        let mut slices = [IoSlice::new(&[]); 3 * MAX_BURST];
        let mut len = 0;
        each_part(burst, self.wire, joined, |part| {
            slices[len] = IoSlice::new(part);
            len += 1;
        });
        self.try_write_vectored(&mut slices[..len], done)
    }

    /// One vectored write of `slices` past their first `done` bytes,
    /// booked.
    fn try_write_vectored(&self, slices: &mut [IoSlice<'_>], done: usize) -> io::Result<usize> {
        let mut rest = slices;
        IoSlice::advance_slices(&mut rest, done);
        let n = self.socket.0.try_write_vectored(rest)?;
        book(&self.counters, rest, n);
        Ok(n)
    }
}

/// Most bytes a write gathers into one buffer first. The kernel takes one
/// buffer of a few kilobytes for less than as many small slices (a 2-byte
/// head and a 200-byte event each): at 23,760 events/s to 100 WebSocket
/// clients this cut the server's CPU per delivery by about a tenth. A
/// larger burst is written from its slices, uncopied.
const COPY_LIMIT: usize = 64 * 1024;

thread_local! {
    /// Where a burst is gathered: one per thread, reused by every write
    /// (the write does not wait while it holds the buffer).
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl From<WriteError> for io::Error {
    /// A timed-out write as [`io::ErrorKind::TimedOut`], which the
    /// connection's end is counted by ([`crate::stats::is_timed_out`]).
    fn from(err: WriteError) -> Self {
        match err {
            WriteError::TimedOut => io::Error::new(
                io::ErrorKind::TimedOut,
                "the client read nothing for the send timeout",
            ),
            WriteError::Io(e) => e,
        }
    }
}

/// Books the first `n` bytes of `slices` as written.
fn book(counters: &ConnCounters, slices: &[IoSlice<'_>], mut n: usize) {
    for slice in slices {
        if n == 0 {
            break;
        }
        let take = n.min(slice.len());
        counters.record_written(&slice[..take]);
        n -= take;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push_framing::tests::tungstenite_frame;

    /// Writes `texts` as one burst of a `wire` writer; returns what the
    /// client read (`expected` bytes) and what the writer booked.
    async fn write_burst(wire: Wire, texts: &[Vec<u8>], expected: usize) -> (Vec<u8>, u64) {
        let (mut client, server) = crate::tcp_pair().await;
        let peer = server.peer_addr().expect("peer");
        let writer = DirectWriter {
            socket: SharedSocket(Arc::new(server)),
            counters: Arc::new(ConnCounters::new(peer)),
            send_timeout: Duration::from_secs(5),
            wire,
        };
        let burst: Vec<Outgoing> = texts
            .iter()
            .map(|t| Outgoing::own(wire.framing(), Bytes::from(t.clone())))
            .collect();
        let write = writer.write(&burst);
        crate::assert_held_under(&write, 1024, "future of a burst's direct write");
        let (written, received) = tokio::join!(write, async {
            let mut got = vec![0; expected];
            tokio::io::AsyncReadExt::read_exact(&mut client, &mut got)
                .await
                .map(|_| got)
        });
        written.expect("written");
        let booked = writer
            .counters
            .bytes_written
            .load(std::sync::atomic::Ordering::Relaxed);
        (received.expect("received"), booked)
    }

    #[tokio::test]
    async fn a_burst_goes_out_as_tungstenites_frames_from_a_small_future() {
        // Gathered into one buffer (small), then written from its slices
        // (past COPY_LIMIT).
        let small = vec![vec![b'a'; 10], vec![b'b'; 300]];
        let large = vec![vec![b'a'; 10], vec![b'b'; 300], vec![b'c'; 70_000]];
        for texts in [small, large] {
            let expected: Vec<u8> = texts.iter().flat_map(|t| tungstenite_frame(t)).collect();
            let (received, booked) = write_burst(Wire::WebSocket, &texts, expected.len()).await;
            assert_eq!(received, expected);
            assert_eq!(booked, expected.len() as u64);
        }
    }

    #[tokio::test]
    async fn a_chunked_burst_goes_out_as_one_chunk() {
        let one = vec![b"id: 1\ndata: {}\n\n".to_vec()];
        let small = vec![
            b"id: 1\ndata: {}\n\n".to_vec(),
            b": keep-alive\n\n".to_vec(),
        ];
        let large = vec![vec![b'a'; 10], vec![b'b'; 300], vec![b'c'; 70_000]];
        for texts in [one, small, large] {
            let body = texts.concat();
            let expected = [format!("{:X}\r\n", body.len()).as_bytes(), &body, b"\r\n"].concat();
            let (received, booked) = write_burst(Wire::SseChunk, &texts, expected.len()).await;
            assert_eq!(received, expected, "{} messages", texts.len());
            assert_eq!(booked, expected.len() as u64);
        }
    }

    #[test]
    fn booking_counts_only_what_the_socket_took() {
        let counters = ConnCounters::new("127.0.0.1:1".parse().expect("addr"));
        let (a, b) = (b"ab".as_slice(), b"cdef".as_slice());
        book(&counters, &[IoSlice::new(a), IoSlice::new(b)], 4);
        let written = counters
            .bytes_written
            .load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(written, 4);
    }
}
