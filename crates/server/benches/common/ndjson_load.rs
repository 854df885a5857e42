//! The load both counting benchmarks push (server: `counting.rs`, load
//! generator: `crates/loadgen/benches/meter.rs`, which includes this file by
//! path): an HTTP-streaming (NDJSON, chunked) response of 128-byte-payload
//! events, written the way hyper writes it.

use std::io;

use pushbench_protocol::framing::LAST_CHUNK;
use pushbench_protocol::{Event, payload_for};
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Events per connection: about 2 MiB of wire bytes.
pub const EVENTS: u64 = 9_000;
/// Payload bytes per event.
pub const PAYLOAD: usize = 128;
/// The load generator's read buffer (`client.rs`).
pub const READ_BUF: usize = 8 * 1024;

/// The response as the server writes it: the head, then per event the chunk
/// size line and the NDJSON line (the CRLF after it is shared).
pub struct Load {
    pub head: Vec<u8>,
    pub events: Vec<(Vec<u8>, Vec<u8>)>,
    pub bytes: u64,
}

pub fn load() -> Load {
    let head = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\n\
cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\
date: Mon, 25 Nov 2024 02:00:00 GMT\r\n\r\n"
        .to_vec();
    let events: Vec<(Vec<u8>, Vec<u8>)> = (1..=EVENTS)
        .map(|seq| {
            let e = Event {
                seq,
                topic: format!("t{}", seq % 4),
                created_us: 1_732_500_000_000_000 + seq,
                payload: payload_for(seq, PAYLOAD),
            };
            let line = format!("{}\n", e.to_json()).into_bytes();
            (format!("{:x}\r\n", line.len()).into_bytes(), line)
        })
        .collect();
    let bytes = head.len()
        + events
            .iter()
            .map(|(s, l)| s.len() + l.len() + 2)
            .sum::<usize>()
        + LAST_CHUNK.len();
    Load {
        head,
        events,
        bytes: bytes as u64,
    }
}

/// Writes all of `bufs` with one vectored write when the socket takes it
/// whole (it nearly always does), finishing a partial write plainly.
async fn write_all_vectored<W: AsyncWrite + Unpin>(w: &mut W, bufs: &[&[u8]]) -> io::Result<()> {
    let slices: Vec<io::IoSlice<'_>> = bufs.iter().map(|b| io::IoSlice::new(b)).collect();
    let mut skip = w.write_vectored(&slices).await?;
    for b in bufs {
        if skip >= b.len() {
            skip -= b.len();
            continue;
        }
        w.write_all(&b[skip..]).await?;
        skip = 0;
    }
    Ok(())
}

pub async fn write_load<W: AsyncWrite + Unpin>(w: &mut W, load: &Load) -> io::Result<()> {
    w.write_all(&load.head).await?;
    for (size, line) in &load.events {
        write_all_vectored(w, &[size, line, b"\r\n"]).await?;
    }
    w.write_all(LAST_CHUNK).await?;
    w.shutdown().await
}
