//! WebSocket push frames written straight to a plain connection's socket.
//!
//! Every subscriber gets the same text frame for an event: a 2-, 4- or
//! 10-byte head and the event's JSON, which the hub encoded once
//! ([`crate::hub::StoredEvent::json`]). A push session on a plain
//! HTTP/1.1 connection writes a burst of them with one vectored write of
//! those shared bytes (heads and payloads side by side, nothing copied
//! into a per-connection buffer), past tungstenite, hyper's upgraded
//! stream and the timeout wrapper; it books the bytes in the connection's
//! counters itself, exactly as the counting stream would. tungstenite
//! still reads the client's frames and writes its replies (pongs, the
//! close handshake): the session flushes tungstenite before a direct
//! write, so frames never interleave. TLS and HTTP/2 connections, and the
//! binary format, keep tungstenite's path.

use std::io::{self, IoSlice};
use std::sync::Arc;
use std::time::Duration;

use crate::listener::{Conn, ConnCounters};
use crate::shared_socket::SharedSocket;

/// The head of an unmasked, final text frame (RFC 6455, section 5.2).
#[derive(Clone, Copy, Debug, Default)]
pub struct FrameHead {
    bytes: [u8; 10],
    len: u8,
}

impl FrameHead {
    /// The head of a text frame carrying `len` payload bytes: FIN and
    /// opcode 1, then the length in 7 bits, or 126 and 16 bits, or 127 and
    /// 64 bits.
    pub fn text(len: usize) -> Self {
        let mut bytes = [0u8; 10];
        bytes[0] = 0x81;
        let head_len = match len {
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
        };
        FrameHead {
            bytes,
            len: head_len,
        }
    }

    /// The head's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
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

/// Most messages in one burst: two slices each (head, payload), well
/// under the kernel's 1,024 per vectored write.
pub const MAX_BURST: usize = 64;

/// Writes text messages to one plain connection's socket.
#[derive(Debug)]
pub struct DirectWriter {
    socket: SharedSocket,
    counters: Arc<ConnCounters>,
    send_timeout: Duration,
}

impl DirectWriter {
    /// A writer for the connection `conn`, or `None` when its bytes must
    /// go through TLS or HTTP/2 framing.
    pub fn for_connection(conn: &Conn, send_timeout: Duration) -> Option<Self> {
        let Conn(counters, socket) = conn;
        (!counters.is_tls() && !counters.is_http2()).then(|| DirectWriter {
            socket: socket.clone(),
            counters: Arc::clone(counters),
            send_timeout,
        })
    }

    /// Writes each of `texts` (the first [`MAX_BURST`]) as one text
    /// frame, with as few vectored writes as the socket takes; waits up to
    /// the send timeout whenever the socket's buffer is full.
    pub async fn write_texts<'a>(
        &self,
        texts: impl Iterator<Item = &'a [u8]> + Clone,
    ) -> Result<(), WriteError> {
        let total: usize = texts
            .clone()
            .take(MAX_BURST)
            .map(|text| FrameHead::text(text.len()).as_bytes().len() + text.len())
            .sum();
        let mut done = 0;
        while done < total {
            match self.try_write_from(texts.clone(), done) {
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

    /// One vectored write of the frames of `texts` past their first
    /// `done` bytes; books and returns what the socket took. The frames
    /// are laid out afresh for each attempt in this plain function, so
    /// their arrays (some 4 KiB) live on its stack and not in the future
    /// of [`Self::write_texts`], which a push session holds for its
    /// connection's life.
    fn try_write_from<'a>(
        &self,
        texts: impl Iterator<Item = &'a [u8]>,
        done: usize,
    ) -> io::Result<usize> {
        let mut payloads: [&[u8]; MAX_BURST] = [&[]; MAX_BURST];
        let mut count = 0;
        for (slot, text) in payloads.iter_mut().zip(texts) {
            *slot = text;
            count += 1;
        }
        let mut heads = [FrameHead::default(); MAX_BURST];
        for (head, payload) in heads.iter_mut().zip(&payloads[..count]) {
            *head = FrameHead::text(payload.len());
        }
        let mut slices = [IoSlice::new(&[]); 2 * MAX_BURST];
        for i in 0..count {
            slices[2 * i] = IoSlice::new(heads[i].as_bytes());
            slices[2 * i + 1] = IoSlice::new(payloads[i]);
        }
        let mut rest = &mut slices[..2 * count];
        IoSlice::advance_slices(&mut rest, done);
        let n = self.socket.0.try_write_vectored(rest)?;
        book(&self.counters, rest, n);
        Ok(n)
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
            let mut ours = FrameHead::text(len).as_bytes().to_vec();
            ours.extend_from_slice(&payload);
            assert_eq!(ours, tungstenite_frame(&payload), "length {len}");
        }
    }

    #[tokio::test]
    async fn a_burst_goes_out_as_tungstenites_frames_from_a_small_future() {
        let (mut client, server) = crate::tcp_pair().await;
        let peer = server.peer_addr().expect("peer");
        let writer = DirectWriter {
            socket: SharedSocket(Arc::new(server)),
            counters: Arc::new(ConnCounters::new(peer)),
            send_timeout: Duration::from_secs(5),
        };
        let texts = [vec![b'a'; 10], vec![b'b'; 300], vec![b'c'; 70_000]];
        let write = writer.write_texts(texts.iter().map(Vec::as_slice));
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
