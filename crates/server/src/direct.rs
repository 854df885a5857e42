//! Push messages written straight to a plain connection's socket.
//!
//! Every subscriber gets the same bytes for an event: the hub encoded its
//! JSON, SSE record and NDJSON line once ([`crate::hub::StoredEvent`]),
//! and only a small head around them differs with the framing:
//!
//! - a WebSocket text frame: a 2-, 4- or 10-byte head, then the JSON;
//! - an HTTP/1.1 chunk: the length in hex and CRLF, the record or line,
//!   CRLF (RFC 9112, section 7.1).
//!
//! A push session on a plain HTTP/1.1 connection writes a burst of them
//! with one vectored write of those shared bytes (heads and payloads side
//! by side, nothing copied into a per-connection buffer), past
//! tungstenite or hyper, the upgraded stream and the timeout wrapper; it
//! books the bytes in the connection's counters itself, exactly as the
//! counting stream would. Only one writer writes at a time:
//!
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

use crate::hub::StoredEvent;
use crate::listener::{Conn, ConnCounters};
use crate::shared_socket::SharedSocket;

/// How a direct write frames each message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// An unmasked, final WebSocket text frame (RFC 6455, section 5.2).
    WebSocketText,
    /// One chunk of an HTTP/1.1 chunked body (RFC 9112, section 7.1).
    Chunked,
}

/// Longest head: 16 hex digits and CRLF.
const HEAD_MAX: usize = 18;

/// The bytes in front of one message.
#[derive(Clone, Copy, Debug, Default)]
pub struct Head {
    bytes: [u8; HEAD_MAX],
    len: u8,
}

impl Head {
    /// The head's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl Framing {
    /// The head of a message carrying `len` payload bytes.
    ///
    /// - WebSocket: FIN and opcode 1, then the length in 7 bits, or 126
    ///   and 16 bits, or 127 and 64 bits;
    /// - chunked: the length in upper-case hex (as hyper writes it), no
    ///   leading zeros, CRLF.
    pub fn head(self, len: usize) -> Head {
        let mut bytes = [0u8; HEAD_MAX];
        let head_len = match self {
            Framing::WebSocketText => {
                bytes[0] = 0x81;
                match len {
                    0..=125 => {
                        bytes[1] = len as u8;
                        2
                    }
                    126..=0xFFFF => {
                        bytes[1] = 126;
                        bytes[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                        4
                    }
                    _ => {
                        bytes[1] = 127;
                        bytes[2..10].copy_from_slice(&(len as u64).to_be_bytes());
                        10
                    }
                }
            }
            Framing::Chunked => {
                let digits = (usize::BITS - len.leading_zeros()).div_ceil(4).max(1) as usize;
                for (i, slot) in bytes[..digits].iter_mut().enumerate() {
                    let nibble = (len >> (4 * (digits - 1 - i))) & 0xF;
                    *slot = b"0123456789ABCDEF"[nibble];
                }
                bytes[digits..digits + 2].copy_from_slice(b"\r\n");
                digits + 2
            }
        };
        Head {
            bytes,
            len: head_len as u8,
        }
    }

    /// The bytes after each message.
    pub fn tail(self) -> &'static [u8] {
        match self {
            Framing::WebSocketText => b"",
            Framing::Chunked => b"\r\n",
        }
    }
}

/// What a direct writer sends of each event, in which framing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    /// The event's JSON in a WebSocket text frame.
    WebSocket,
    /// The event's SSE record in a chunk.
    SseChunk,
    /// The event's NDJSON line in a chunk.
    NdjsonChunk,
}

impl Wire {
    /// The framing around each message.
    pub fn framing(self) -> Framing {
        match self {
            Wire::WebSocket => Framing::WebSocketText,
            Wire::SseChunk | Wire::NdjsonChunk => Framing::Chunked,
        }
    }
}

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
}

impl Outgoing {
    /// `bytes` of the session's own, framed by `framing`.
    pub fn own(framing: Framing, bytes: Bytes) -> Self {
        Outgoing::Own(framing.head(bytes.len()), bytes)
    }

    /// The head and the bytes this message puts on `wire`.
    fn parts(&self, wire: Wire) -> (&[u8], &[u8]) {
        match self {
            Outgoing::Event(event) => event.framed(wire),
            Outgoing::Own(head, bytes) => (head.as_bytes(), bytes),
        }
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
#[derive(Debug)]
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

    /// The framing of this writer's messages.
    pub fn framing(&self) -> Framing {
        self.wire.framing()
    }

    /// The connection's counters.
    pub fn counters(&self) -> &ConnCounters {
        &self.counters
    }

    /// Writes each of `burst` (the first [`MAX_BURST`]) framed, with as
    /// few writes as the socket takes; waits up to the send timeout
    /// whenever the socket's buffer is full.
    pub async fn write(&self, burst: &[Outgoing]) -> Result<(), WriteError> {
        let burst = &burst[..burst.len().min(MAX_BURST)];
        let tail = self.framing().tail().len();
        let total: usize = burst
            .iter()
            .map(|message| {
                let (head, bytes) = message.parts(self.wire);
                head.len() + bytes.len() + tail
            })
            .sum();
        let mut done = 0;
        while done < total {
            match self.try_write_from(burst, done, total) {
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

    /// One write of the framed `burst` past its first `done` bytes (of
    /// `total`); books and returns what the socket took. Up to
    /// [`COPY_LIMIT`] bytes are gathered into one buffer first; more are
    /// written from their slices, laid out afresh for each attempt in
    /// [`Self::try_write_slices`], so that array (some 3 KiB) lives on
    /// its stack and not in the future of [`Self::write`], which a push
    /// session holds for its connection's life.
    fn try_write_from(&self, burst: &[Outgoing], done: usize, total: usize) -> io::Result<usize> {
        if total - done > COPY_LIMIT {
            return self.try_write_slices(burst, done);
        }
        let tail = self.framing().tail();
        SCRATCH.with_borrow_mut(|scratch| {
            scratch.clear();
            let mut skip = done;
            for message in burst {
                let (head, bytes) = message.parts(self.wire);
                for part in [head, bytes, tail] {
                    let from = skip.min(part.len());
                    skip -= from;
                    scratch.extend_from_slice(&part[from..]);
                }
            }
            let n = self.socket.0.try_write(scratch)?;
            self.counters.record_written(&scratch[..n]);
            Ok(n)
        })
    }

    /// [`Self::try_write_from`] for a large burst: one vectored write.
    fn try_write_slices(&self, burst: &[Outgoing], done: usize) -> io::Result<usize> {
        let tail = self.framing().tail();
        let mut slices = [IoSlice::new(&[]); 3 * MAX_BURST];
        for (i, message) in burst.iter().enumerate() {
            let (head, bytes) = message.parts(self.wire);
            slices[3 * i] = IoSlice::new(head);
            slices[3 * i + 1] = IoSlice::new(bytes);
            slices[3 * i + 2] = IoSlice::new(tail);
        }
        let mut rest = &mut slices[..3 * burst.len()];
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
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

    /// The bytes tungstenite writes for a server's text frame.
    fn tungstenite_frame(payload: &[u8]) -> Vec<u8> {
        let frame = Frame::message(payload.to_vec(), OpCode::Data(Data::Text), true);
        let mut out = Vec::new();
        frame.format(&mut out).expect("format");
        out
    }

    #[test]
    fn heads_match_tungstenites_frames_at_every_length_boundary() {
        for len in [0, 1, 125, 126, 127, 65_535, 65_536, 70_000] {
            let payload = vec![b'x'; len];
            let mut ours = Framing::WebSocketText.head(len).as_bytes().to_vec();
            ours.extend_from_slice(&payload);
            assert_eq!(ours, tungstenite_frame(&payload), "length {len}");
        }
    }

    #[test]
    fn chunk_heads_are_the_length_in_hex() {
        for len in [0, 1, 9, 10, 15, 16, 255, 256, 4_095, 70_000, usize::MAX] {
            let head = Framing::Chunked.head(len);
            assert_eq!(
                head.as_bytes(),
                format!("{len:X}\r\n").as_bytes(),
                "length {len}"
            );
        }
        assert_eq!(Framing::Chunked.tail(), b"\r\n");
        assert_eq!(Framing::WebSocketText.tail(), b"");
    }

    /// Writes `texts` as one burst of a WebSocket writer; returns what
    /// the client read and what the writer booked.
    async fn write_burst(texts: &[Vec<u8>]) -> (Vec<u8>, u64) {
        let (mut client, server) = crate::tcp_pair().await;
        let peer = server.peer_addr().expect("peer");
        let writer = DirectWriter {
            socket: SharedSocket(Arc::new(server)),
            counters: Arc::new(ConnCounters::new(peer)),
            send_timeout: Duration::from_secs(5),
            wire: Wire::WebSocket,
        };
        let burst: Vec<Outgoing> = texts
            .iter()
            .map(|t| Outgoing::own(Framing::WebSocketText, Bytes::from(t.clone())))
            .collect();
        let write = writer.write(&burst);
        crate::assert_held_under(&write, 1024, "future of a WebSocket burst's direct write");
        let expected = texts.iter().flat_map(|t| tungstenite_frame(t)).count();
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
            let (received, booked) = write_burst(&texts).await;
            assert_eq!(received, expected);
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
