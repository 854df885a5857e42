//! The teaching view of one exchange: every byte on the wire, annotated by
//! class, as `pushbench trace` prints it.
//!
//! The classes come from the wire classifier (the load generator records
//! them); this module only lays them out: one block per turn of the
//! conversation (a run of bytes in one direction), one row per line or
//! classified run, the byte count of each row, and notes where the bytes
//! are not self-explanatory: WebSocket frame header bits (FIN, RSV, opcode,
//! MASK, payload length, masking key), chunk-size lines, SSE fields, close
//! codes. Non-printable bytes are escaped (`\r`, `\n`, `\xNN`), so what is
//! shown is exactly what was sent. Per-class totals close the trace.
//!
//! # Layout
//! - `rows`: the segments, the style, a row, and how bytes print (escaped,
//!   hex, redacted): what the other files share.
//! - `text_rows`: heads, chunk lines, SSE fields and JSON, one row a line.
//! - `ws_rows`: WebSocket frame headers and bodies.
//! - `h2_rows`: HTTP/2 frames, their bodies laid out by `text_rows`.
//! - This file: the heading, the turns of the conversation, which layout a
//!   segment gets, and the per-class totals.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::SocketAddr;

use pushbench_protocol::{ByteClass, ByteLedger, Direction, HttpVersion, Transport};

mod h2_rows;
mod rows;
mod text_rows;
mod ws_rows;

pub use rows::{TraceStyle, WireSegment, escape};

use h2_rows::h2_rows;
use rows::{Row, hex_row_of};
use text_rows::text_rows;
use ws_rows::{FrameBody, frame_body_row, frame_header_row};

/// What the trace's first lines say about the exchange.
#[derive(Clone, Debug)]
pub struct TraceHeading {
    /// The transport.
    pub transport: Transport,
    /// The server the client talked to.
    pub server: SocketAddr,
    /// Whether that was the embedded server (the trace published the events).
    pub embedded: bool,
    /// Events delivered.
    pub delivered: u64,
    /// Requests the client sent.
    pub requests: u64,
    /// The HTTP version spoken.
    pub http: HttpVersion,
}

/// Renders the trace of one exchange.
pub fn render_trace(
    heading: &TraceHeading,
    segments: &[WireSegment<'_>],
    style: TraceStyle,
) -> String {
    let mut out = String::new();
    let port = heading.server.port();
    let server = if style.redact {
        format!("{}:PORT", heading.server.ip())
    } else {
        heading.server.to_string()
    };
    let http2 = heading.http == HttpVersion::Http2;
    let (method, over) = match (http2, heading.transport) {
        (true, Transport::Ws) => ("CONNECT", " over HTTP/2 (h2c, RFC 8441)"),
        (true, _) => ("GET", " over HTTP/2 (h2c)"),
        (false, _) => ("GET", ""),
    };
    let _ = writeln!(
        out,
        "pushbench trace: {}, {method} {}{over}, against {} server {server}",
        heading.transport.title(),
        heading.transport.path(),
        if heading.embedded {
            "the embedded"
        } else {
            "the"
        },
    );
    let _ = writeln!(
        out,
        "Each row: bytes, class, the bytes as sent (\\r \\n \\xNN escaped), and <- a note."
    );
    let mut layout = Layout {
        transport: heading.transport,
        http2,
        style,
        port,
        sent: DirectionState::default(),
        received: DirectionState::default(),
    };
    // Over HTTP/2 rows follow the frames, not WebSocket's own layout.
    let merged = merge_runs(heading.transport == Transport::Ws && !http2, segments);
    let views: Vec<WireSegment<'_>> = merged
        .iter()
        .map(|(direction, class, bytes)| WireSegment {
            direction: *direction,
            class: *class,
            bytes,
        })
        .collect();
    let segments = views.as_slice();
    let mut start = 0;
    while start < segments.len() {
        let direction = segments[start].direction;
        let end = segments[start..]
            .iter()
            .position(|s| s.direction != direction)
            .map_or(segments.len(), |n| start + n);
        let turn = &segments[start..end];
        let bytes: usize = turn.iter().map(|s| s.bytes.len()).sum();
        let arrow = match direction {
            Direction::Sent => "client -> server",
            Direction::Received => "server -> client",
        };
        let _ = writeln!(out, "\n{arrow}  ({bytes} bytes)");
        for segment in turn {
            for row in layout.rows(segment) {
                layout.write_row(&mut out, &row);
            }
        }
        start = end;
    }
    if heading.transport.is_persistent() && heading.transport != Transport::Ws && !http2 {
        let _ = writeln!(
            out,
            "\nThe client closes the TCP connection: no HTTP bytes (only a TCP FIN)."
        );
    }
    write_totals(&mut out, heading, segments);
    out
}

/// Joins neighbouring segments of the same direction and class, so the
/// rows (one per line) do not depend on where the socket reads happened to
/// split the bytes. Not for WebSocket: a frame header is laid out from its
/// own segment, which the classifier always emits whole.
fn merge_runs<'a>(
    websocket_frames: bool,
    segments: &[WireSegment<'a>],
) -> Vec<(Direction, ByteClass, Cow<'a, [u8]>)> {
    let mut out: Vec<(Direction, ByteClass, Cow<'a, [u8]>)> = Vec::with_capacity(segments.len());
    for s in segments {
        match out.last_mut() {
            Some((d, c, bytes)) if !websocket_frames && *d == s.direction && *c == s.class => {
                bytes.to_mut().extend_from_slice(s.bytes);
            }
            _ => out.push((s.direction, s.class, Cow::Borrowed(s.bytes))),
        }
    }
    out
}

/// Per-class totals, both directions, and the bytes per delivered event.
fn write_totals(out: &mut String, heading: &TraceHeading, segments: &[WireSegment<'_>]) {
    let mut sent = ByteLedger::default();
    let mut received = ByteLedger::default();
    for s in segments {
        let ledger = match s.direction {
            Direction::Sent => &mut sent,
            Direction::Received => &mut received,
        };
        ledger.add(s.class, s.bytes.len() as u64);
    }
    let _ = writeln!(
        out,
        "\n{:<18}{:>10}{:>10}{:>10}",
        "bytes by class", "sent", "received", "total"
    );
    // A trace is a plaintext exchange: the TLS classes are always empty,
    // and classes newer than the classic six are shown when used.
    for class in ByteClass::PLAINTEXT {
        let (s, r) = (sent.get(class), received.get(class));
        if s + r == 0 && !ByteClass::CLASSIC.contains(&class) {
            continue;
        }
        let _ = writeln!(out, "{:<18}{s:>10}{r:>10}{:>10}", class.name(), s + r);
    }
    let total = sent.total() + received.total();
    let _ = writeln!(
        out,
        "{:<18}{:>10}{:>10}{total:>10}",
        "all",
        sent.total(),
        received.total()
    );
    let requests = match heading.requests {
        1 => "1 request".to_owned(),
        n => format!("{n} requests"),
    };
    let per_event = if heading.delivered > 0 {
        format!(
            ", {:.1} bytes on the wire per event",
            total as f64 / heading.delivered as f64
        )
    } else {
        String::new()
    };
    let events = match heading.delivered {
        1 => "1 event".to_owned(),
        n => format!("{n} events"),
    };
    let _ = writeln!(
        out,
        "{events} delivered, {requests}{per_event} (TCP/IP headers not included: see docs/methodology.md)."
    );
}

/// Where one direction of the connection is.
#[derive(Debug, Default)]
struct DirectionState {
    /// Bytes of this direction laid out so far.
    offset: u64,
    /// WebSocket: frames follow the handshake.
    frames: bool,
    /// WebSocket: offset of the next frame header.
    next_frame: u64,
    /// WebSocket: the current frame's body.
    body: Option<FrameBody>,
}

struct Layout {
    transport: Transport,
    /// HTTP/2: binary frames around the bodies.
    http2: bool,
    style: TraceStyle,
    port: u16,
    sent: DirectionState,
    received: DirectionState,
}

impl Layout {
    fn rows(&mut self, segment: &WireSegment<'_>) -> Vec<Row> {
        let transport = self.transport;
        let style = self.style;
        let port = self.port;
        let state = match segment.direction {
            Direction::Sent => &mut self.sent,
            Direction::Received => &mut self.received,
        };
        let len = segment.bytes.len() as u64;
        let rows = if self.http2 && segment.class != ByteClass::Compressed {
            h2_rows(segment, transport, style, port)
        } else if state.frames && state.offset == state.next_frame {
            let (row, body, frame_len) = frame_header_row(segment, style);
            state.body = body.map(|kind| FrameBody {
                start: state.offset + len,
                opcode: kind.opcode,
                mask: kind.mask,
            });
            state.next_frame = state.offset + len + frame_len;
            vec![row]
        } else if let Some(body) = state.body.filter(|_| state.frames) {
            vec![frame_body_row(segment, body, state.offset, style)]
        } else if segment.class == ByteClass::Compressed {
            vec![compressed_row(segment.bytes)]
        } else {
            text_rows(segment, transport, style, port)
        };
        if segment.class == ByteClass::Handshake && segment.bytes.ends_with(b"\r\n\r\n") {
            state.frames = true;
            state.next_frame = state.offset + len;
        }
        state.offset += len;
        rows
    }

    fn write_row(&self, out: &mut String, row: &Row) {
        let name = row.class.name();
        let (on, off, dim) = if self.style.color {
            (class_color(row.class), "\x1b[0m", "\x1b[2m")
        } else {
            ("", "", "")
        };
        let _ = write!(out, "{:>6}  {on}{name:<18}{}{off}", row.bytes, row.text);
        if let Some(note) = &row.note {
            let _ = write!(out, "  {dim}<- {note}{off}");
        }
        out.push('\n');
    }
}

/// ANSI color of a class: the same hue per class wherever it is printed.
fn class_color(class: ByteClass) -> &'static str {
    match class {
        ByteClass::Handshake => "\x1b[35m",
        ByteClass::RequestHeaders => "\x1b[34m",
        ByteClass::ResponseHeaders => "\x1b[36m",
        ByteClass::Framing => "\x1b[33m",
        ByteClass::Payload => "\x1b[32m",
        ByteClass::Control => "\x1b[31m",
        ByteClass::H2Frames => "\x1b[94m",
        ByteClass::Compressed => "\x1b[96m",
        ByteClass::TlsHandshake | ByteClass::TlsRecords => "\x1b[90m",
    }
}

/// Bytes of a compressed run shown, in hex.
const COMPRESSED_SHOWN: usize = 12;

/// One row for a run of content-coded body bytes: binary, shown as the
/// start of its hex.
fn compressed_row(bytes: &[u8]) -> Row {
    let note = "content-coded body: envelope and payload compressed together";
    hex_row_of(
        bytes,
        ByteClass::Compressed,
        Some(note.into()),
        COMPRESSED_SHOWN,
    )
}

#[cfg(test)]
mod tests;
