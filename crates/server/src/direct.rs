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
    framing: Framing,
}

impl DirectWriter {
    /// A writer of `framing` for the connection `conn`, or `None` when its
    /// bytes must go through TLS or HTTP/2 framing.
    pub fn for_connection(conn: &Conn, send_timeout: Duration, framing: Framing) -> Option<Self> {
        let Conn(counters, socket) = conn;
        (!counters.is_tls() && !counters.is_http2()).then(|| DirectWriter {
            socket: socket.clone(),
            counters: Arc::clone(counters),
            send_timeout,
            framing,
        })
    }

    /// The connection's counters.
    pub fn counters(&self) -> &ConnCounters {
        &self.counters
    }

    /// Writes each of `messages` (the first [`MAX_BURST`]) framed, with as
    /// few vectored writes as the socket takes; waits up to the send
    /// timeout whenever the socket's buffer is full.
    pub async fn write<'a>(
        &self,
        messages: impl Iterator<Item = &'a [u8]> + Clone,
    ) -> Result<(), WriteError> {
        let framing = self.framing;
        let total: usize = messages
            .clone()
            .take(MAX_BURST)
            .map(|m| framing.head(m.len()).as_bytes().len() + m.len() + framing.tail().len())
            .sum();
        let mut done = 0;
        while done < total {
            match self.try_write_from(messages.clone(), done) {
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

    /// One vectored write of the framed `messages` past their first
    /// `done` bytes; books and returns what the socket took. The frames
    /// are laid out afresh for each attempt in this plain function, so
    /// their arrays (some 4 KiB) live on its stack and not in the future
    /// of [`Self::write`], which a push session holds for its
    /// connection's life.
    fn try_write_from<'a>(
        &self,
        messages: impl Iterator<Item = &'a [u8]>,
        done: usize,
    ) -> io::Result<usize> {
        let mut payloads: [&[u8]; MAX_BURST] = [&[]; MAX_BURST];
        let mut count = 0;
        for (slot, message) in payloads.iter_mut().zip(messages) {
            *slot = message;
            count += 1;
        }
        let mut heads = [Head::default(); MAX_BURST];
        for (head, payload) in heads.iter_mut().zip(&payloads[..count]) {
            *head = self.framing.head(payload.len());
        }
        let tail = self.framing.tail();
        let mut slices = [IoSlice::new(&[]); 3 * MAX_BURST];
        for i in 0..count {
            slices[3 * i] = IoSlice::new(heads[i].as_bytes());
            slices[3 * i + 1] = IoSlice::new(payloads[i]);
            slices[3 * i + 2] = IoSlice::new(tail);
        }
        let mut rest = &mut slices[..3 * count];
        IoSlice::advance_slices(&mut rest, done);
        let n = self.socket.0.try_write_vectored(rest)?;
        book(&self.counters, rest, n);
        Ok(n)
    }
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

    #[tokio::test]
    async fn a_burst_goes_out_as_tungstenites_frames_from_a_small_future() {
        let (mut client, server) = crate::tcp_pair().await;
        let peer = server.peer_addr().expect("peer");
        let writer = DirectWriter {
            socket: SharedSocket(Arc::new(server)),
            counters: Arc::new(ConnCounters::new(peer)),
            send_timeout: Duration::from_secs(5),
            framing: Framing::WebSocketText,
        };
        let texts = [vec![b'a'; 10], vec![b'b'; 300], vec![b'c'; 70_000]];
        let write = writer.write(texts.iter().map(Vec::as_slice));
        crate::assert_held_under(&write, 1024, "future of a WebSocket burst's direct write");
        let expected: Vec<u8> = texts.iter().flat_map(|t| tungstenite_frame(t)).collect();
        let (written, received) = tokio::join!(write, async {
            let mut got = vec![0; expected.len()];
            tokio::io::AsyncReadExt::read_exact(&mut client, &mut got)
                .await
                .map(|_| got)
        });
        written.expect("written");
        assert_eq!(received.expect("received"), expected);
        let booked = writer
            .counters
            .bytes_written
            .load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(booked, expected.len() as u64);
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
