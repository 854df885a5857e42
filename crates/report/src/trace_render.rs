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

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::SocketAddr;

use pushbench_protocol::{ByteClass, ByteLedger, Direction, HttpVersion, Transport};

/// A run of bytes of one class in one direction, as the classifier booked it.
#[derive(Clone, Copy, Debug)]
pub struct WireSegment<'a> {
    /// Which way the bytes went.
    pub direction: Direction,
    /// What they are for.
    pub class: ByteClass,
    /// The bytes, as on the wire.
    pub bytes: &'a [u8],
}

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

/// How to print.
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceStyle {
    /// ANSI colors per class (for a terminal).
    pub color: bool,
    /// Replace what differs between runs (dates, `created_us` values, the
    /// server port, WebSocket keys, masking keys and masked bytes) with
    /// placeholders; byte counts are left as measured.
    pub redact: bool,
}

/// Longest escaped payload shown whole; longer ones are shortened in the
/// middle (the row's byte count is always the full one).
const PAYLOAD_SHOWN: usize = 64;

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

/// What a frame header says about the body that follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FrameKind {
    opcode: u8,
    mask: Option<[u8; 4]>,
}

#[derive(Debug, Clone, Copy)]
struct FrameBody {
    start: u64,
    opcode: u8,
    mask: Option<[u8; 4]>,
}

/// One printed row.
struct Row {
    bytes: usize,
    class: ByteClass,
    text: String,
    note: Option<String>,
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

/// The text of `bytes` with everything but printable ASCII escaped.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out
}

/// Bytes of a binary HTTP/2 run shown, in hex.
const H2_SHOWN: usize = 16;

/// HTTP/2 frame type names (RFC 9113 section 6).
fn h2_frame_type(kind: u8) -> &'static str {
    match kind {
        0x0 => "DATA",
        0x1 => "HEADERS",
        0x2 => "PRIORITY",
        0x3 => "RST_STREAM",
        0x4 => "SETTINGS",
        0x5 => "PUSH_PROMISE",
        0x6 => "PING",
        0x7 => "GOAWAY",
        0x8 => "WINDOW_UPDATE",
        0x9 => "CONTINUATION",
        _ => "unknown type",
    }
}

/// What a 9-byte frame header says: type, flags, stream, payload length.
fn h2_header_note(header: &[u8]) -> String {
    let len = usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2]);
    let (kind, flags) = (header[3], header[4]);
    let stream = u32::from_be_bytes([header[5] & 0x7f, header[6], header[7], header[8]]);
    let mut names = Vec::new();
    for (bit, name, applies) in [
        (
            0x1,
            if kind == 0x4 || kind == 0x6 {
                "ACK"
            } else {
                "END_STREAM"
            },
            [0x0, 0x1, 0x4, 0x6].contains(&kind),
        ),
        (0x4, "END_HEADERS", [0x1, 0x5, 0x9].contains(&kind)),
        (0x8, "PADDED", [0x0, 0x1, 0x5].contains(&kind)),
        (0x20, "PRIORITY", kind == 0x1),
    ] {
        if applies && flags & bit != 0 {
            names.push(name);
        }
    }
    let flags = if names.is_empty() {
        String::new()
    } else {
        format!(" {}", names.join("|"))
    };
    format!(
        "{} frame, {len} B, stream {stream}{flags}",
        h2_frame_type(kind)
    )
}

/// What a whole control frame's payload says, where it is short to say:
/// SETTINGS entries, a WINDOW_UPDATE's increment, an error code.
fn h2_payload_note(kind: u8, payload: &[u8]) -> Option<String> {
    let u32_at = |i: usize| {
        payload
            .get(i..i + 4)
            .map(|b| u32::from_be_bytes([b[0] & 0x7f, b[1], b[2], b[3]]))
    };
    match kind {
        0x4 if payload.len().is_multiple_of(6) && !payload.is_empty() => Some(
            payload
                .chunks(6)
                .map(|e| {
                    let id = u16::from_be_bytes([e[0], e[1]]);
                    let value = u32::from_be_bytes([e[2], e[3], e[4], e[5]]);
                    let name = match id {
                        0x1 => "HEADER_TABLE_SIZE",
                        0x2 => "ENABLE_PUSH",
                        0x3 => "MAX_CONCURRENT_STREAMS",
                        0x4 => "INITIAL_WINDOW_SIZE",
                        0x5 => "MAX_FRAME_SIZE",
                        0x6 => "MAX_HEADER_LIST_SIZE",
                        0x8 => "ENABLE_CONNECT_PROTOCOL",
                        _ => "?",
                    };
                    format!("{name}={value}")
                })
                .collect::<Vec<_>>()
                .join(" "),
        ),
        0x8 => u32_at(0).map(|n| format!("increment {n}")),
        0x3 => u32_at(0).map(|n| format!("error {n:#x}")),
        0x7 => u32_at(4).map(|n| format!("error {n:#x}")),
        _ => None,
    }
}

/// A row of HTTP/2 binary bytes (the first [`H2_SHOWN`] in hex).
fn hex_row(bytes: &[u8], class: ByteClass, note: Option<String>) -> Row {
    hex_row_of(bytes, class, note, H2_SHOWN)
}

/// Splits `bytes` into whole HTTP/2 frames, if that is exactly what it is.
fn whole_frames(bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut frames = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        if rest.len() < 9 || rest[3] > 0x9 {
            return None;
        }
        let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
        let (frame, tail) = rest.split_at_checked(9 + len)?;
        frames.push(frame);
        rest = tail;
    }
    Some(frames)
}

/// One row of binary bytes: the first `shown` of them in hex.
fn hex_row_of(bytes: &[u8], class: ByteClass, note: Option<String>, shown: usize) -> Row {
    let more = if bytes.len() > shown { " …" } else { "" };
    let shown = &bytes[..bytes.len().min(shown)];
    Row {
        bytes: bytes.len(),
        class,
        text: format!("{}{more}", hex(shown)),
        note,
    }
}

/// Rows of one segment of an HTTP/2 connection: the preface as text, frame
/// headers and whole control frames decoded, HPACK blocks in hex, and the
/// DATA payload (the transport's body: JSON, SSE, WebSocket frames) as
/// over HTTP/1.1.
fn h2_rows(
    segment: &WireSegment<'_>,
    transport: Transport,
    style: TraceStyle,
    port: u16,
) -> Vec<Row> {
    use pushbench_protocol::h2_classifier::PREFACE;
    let bytes = segment.bytes;
    let class = segment.class;
    if let Some(rest) = bytes.strip_prefix(PREFACE) {
        let mut rows = vec![Row {
            bytes: PREFACE.len(),
            class,
            text: escape(PREFACE),
            note: Some("the client's connection preface".into()),
        }];
        rows.extend(h2_rows(
            &WireSegment {
                bytes: rest,
                ..*segment
            },
            transport,
            style,
            port,
        ));
        return rows;
    }
    if bytes.is_empty() {
        return Vec::new();
    }
    if class == ByteClass::H2Frames && bytes.len().is_multiple_of(9) {
        return bytes
            .chunks(9)
            .map(|h| hex_row(h, class, Some(h2_header_note(h))))
            .collect();
    }
    if matches!(class, ByteClass::Handshake | ByteClass::Control)
        && let Some(frames) = whole_frames(bytes)
    {
        return frames
            .into_iter()
            .map(|f| {
                let mut note = h2_header_note(&f[..9]);
                if let Some(more) = h2_payload_note(f[3], &f[9..]) {
                    note = format!("{note}: {more}");
                }
                hex_row(f, class, Some(note))
            })
            .collect();
    }
    let printable = |b: &u8| *b == b'\n' || *b == b'\r' || (0x20..0x7f).contains(b);
    if bytes.iter().all(printable) {
        return text_rows(segment, transport, style, port);
    }
    // A WebSocket frame's header before its text (DATA of an extended
    // CONNECT): the header in hex, the rest as text.
    let ws_header = (transport == Transport::Ws && class == ByteClass::Framing && bytes.len() >= 2)
        .then(|| {
            let extended = match bytes[1] & 0x7f {
                126 => 2,
                127 => 8,
                _ => 0,
            };
            2 + extended + if bytes[1] & 0x80 != 0 { 4 } else { 0 }
        })
        .filter(|&n| n < bytes.len() && bytes[n..].iter().all(printable));
    if let Some(n) = ws_header {
        let (header, text) = bytes.split_at(n);
        let mut rows = vec![hex_row(
            header,
            class,
            Some("WebSocket frame header".into()),
        )];
        rows.extend(text_rows(
            &WireSegment {
                bytes: text,
                ..*segment
            },
            transport,
            style,
            port,
        ));
        return rows;
    }
    let note = match class {
        ByteClass::RequestHeaders | ByteClass::ResponseHeaders => Some("HPACK header block".into()),
        ByteClass::Handshake => Some("HPACK block of the extended CONNECT or its answer".into()),
        ByteClass::H2Frames => Some("frame header and padding".into()),
        _ => None,
    };
    vec![hex_row(bytes, class, note)]
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

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Rows of a text segment: one per line (a row ends after each `\n`).
fn text_rows(
    segment: &WireSegment<'_>,
    transport: Transport,
    style: TraceStyle,
    port: u16,
) -> Vec<Row> {
    segment
        .bytes
        .split_inclusive(|&b| b == b'\n')
        .map(|piece| {
            let mut text = escape(piece);
            if segment.class == ByteClass::Payload && text.len() > PAYLOAD_SHOWN {
                let head: String = text.chars().take(PAYLOAD_SHOWN / 2).collect();
                let tail: String = text.chars().skip(text.len() - PAYLOAD_SHOWN / 4).collect();
                text = format!("{head}…{tail}");
            }
            if style.redact {
                text = redact(&text, port);
            }
            Row {
                bytes: piece.len(),
                class: segment.class,
                note: text_note(piece, segment.class, transport),
                text,
            }
        })
        .collect()
}

/// What a line or run of bytes is, where that is not obvious.
fn text_note(piece: &[u8], class: ByteClass, transport: Transport) -> Option<String> {
    let chunked = matches!(transport, Transport::Stream | Transport::Sse);
    let head = matches!(
        class,
        ByteClass::Handshake | ByteClass::RequestHeaders | ByteClass::ResponseHeaders
    );
    let body = matches!(class, ByteClass::Framing | ByteClass::Control);
    if head {
        if piece == b"\r\n" {
            return Some("blank line: end of the head".into());
        }
        return None;
    }
    if body && chunked {
        if let Some(size) = chunk_size(piece) {
            return Some(if size == 0 {
                "last chunk (size 0): the body ends".into()
            } else {
                format!("chunk-size line: 0x{size:x} = {size} bytes of chunk data follow")
            });
        }
        if piece == b"\r\n" {
            return Some("CRLF closing the chunk data".into());
        }
    }
    if transport == Transport::Sse && body {
        if piece == b"\n" {
            return Some("blank line: the SSE event is complete, dispatch it".into());
        }
        if piece.starts_with(b"id:") {
            return Some("SSE id field: the resume cursor (Last-Event-ID)".into());
        }
        if piece.starts_with(b"data:") {
            return Some("SSE data field name, then the JSON envelope".into());
        }
        if piece.starts_with(b":") {
            return Some("SSE comment: a keep-alive".into());
        }
        if piece.starts_with(b"retry:") {
            return Some("SSE retry field: reconnection delay".into());
        }
    }
    if class == ByteClass::Framing && piece.starts_with(b"{\"events\":[") {
        return Some("poll answer: the list, then the first event's JSON envelope".into());
    }
    if class == ByteClass::Framing && piece.starts_with(b"{\"seq\":") {
        return Some("JSON envelope: seq, topic, creation time".into());
    }
    None
}

/// The size of a chunk-size line (`1a\r\n`), if `piece` is one.
fn chunk_size(piece: &[u8]) -> Option<u64> {
    let digits = piece.strip_suffix(b"\r\n")?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

/// A WebSocket frame header decoded (RFC 6455 section 5.2): the row, the
/// body's opcode and masking key when it has a body, and the body length.
fn frame_header_row(segment: &WireSegment<'_>, style: TraceStyle) -> (Row, Option<FrameKind>, u64) {
    let b = segment.bytes;
    let mut row = Row {
        bytes: b.len(),
        class: segment.class,
        text: hex(b),
        note: None,
    };
    let (Some(&b0), Some(&b1)) = (b.first(), b.get(1)) else {
        row.note = Some("incomplete frame header".into());
        return (row, None, 0);
    };
    let (len, ext) = match b1 & 0x7f {
        126 => (
            b.get(2..4)
                .map(|x| u64::from(u16::from_be_bytes([x[0], x[1]]))),
            2,
        ),
        127 => (
            b.get(2..10).map(|x| {
                let mut a = [0u8; 8];
                a.copy_from_slice(x);
                u64::from_be_bytes(a)
            }),
            8,
        ),
        n => (Some(u64::from(n)), 0),
    };
    let masked = b1 & 0x80 != 0;
    let key_at = 2 + ext;
    let key: Option<[u8; 4]> = if masked {
        b.get(key_at..key_at + 4).map(|k| [k[0], k[1], k[2], k[3]])
    } else {
        None
    };
    let Some(len) = len.filter(|_| !masked || key.is_some()) else {
        row.note = Some("incomplete frame header".into());
        return (row, None, 0);
    };
    let opcode = b0 & 0x0f;
    let length = match ext {
        0 => format!("{len} (7-bit field)"),
        2 => format!("126 -> 16-bit extended length {len}"),
        _ => format!("127 -> 64-bit extended length {len}"),
    };
    let mut note = format!(
        "FIN={} RSV={}{}{} opcode=0x{opcode:x} ({}) MASK={} length={length}",
        b0 >> 7,
        (b0 >> 6) & 1,
        (b0 >> 5) & 1,
        (b0 >> 4) & 1,
        opcode_name(opcode),
        u8::from(masked),
    );
    if masked {
        let shown = if style.redact {
            "?? ?? ?? ??".to_owned()
        } else {
            hex(&key.unwrap_or_default())
        };
        let _ = write!(note, ", masking key {shown}");
        if style.redact {
            row.text = format!("{} {shown}", hex(&b[..key_at]));
        }
    }
    if ext == 2 && len < 126 {
        note.push_str(" (not minimal)");
    }
    row.note = Some(note);
    (
        row,
        (len > 0).then_some(FrameKind { opcode, mask: key }),
        len,
    )
}

fn opcode_name(opcode: u8) -> &'static str {
    match opcode {
        0x0 => "continuation",
        0x1 => "text",
        0x2 => "binary",
        0x8 => "close",
        0x9 => "ping",
        0xa => "pong",
        _ => "reserved",
    }
}

/// A run of a frame body: masked bodies are shown as sent, with the
/// unmasked bytes in the note; close frames get their code decoded.
fn frame_body_row(
    segment: &WireSegment<'_>,
    body: FrameBody,
    offset: u64,
    style: TraceStyle,
) -> Row {
    let at = offset - body.start;
    let unmasked: Vec<u8> = match body.mask {
        Some(key) => segment
            .bytes
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[(at as usize + i) % 4])
            .collect(),
        None => segment.bytes.to_vec(),
    };
    let mut note = Vec::new();
    let mut text = escape(segment.bytes);
    if segment.class == ByteClass::Payload && text.len() > PAYLOAD_SHOWN {
        let head: String = text.chars().take(PAYLOAD_SHOWN / 2).collect();
        let tail: String = text.chars().skip(text.len() - PAYLOAD_SHOWN / 4).collect();
        text = format!("{head}…{tail}");
    }
    if body.mask.is_some() {
        if style.redact {
            text = "<masked>".into();
        }
        note.push(format!("masked; unmasked: {}", escape(&unmasked)));
    }
    if body.opcode == 0x8 && at == 0 && unmasked.len() >= 2 {
        let code = u16::from_be_bytes([unmasked[0], unmasked[1]]);
        note.push(format!("close code {code} ({})", close_reason(code)));
    }
    if body.mask.is_none() && style.redact {
        text = redact(&text, 0);
    }
    if note.is_empty()
        && segment.class == ByteClass::Framing
        && segment.bytes.starts_with(b"{\"seq\":")
    {
        note.push("JSON envelope: seq, topic, creation time".into());
    }
    Row {
        bytes: segment.bytes.len(),
        class: segment.class,
        text,
        note: (!note.is_empty()).then(|| note.join("; ")),
    }
}

fn close_reason(code: u16) -> &'static str {
    match code {
        1000 => "normal closure",
        1001 => "going away",
        1002 => "protocol error",
        1007 => "invalid payload",
        1009 => "message too big",
        _ => "see RFC 6455 7.4",
    }
}

/// Replaces what differs between runs in one escaped row.
fn redact(text: &str, port: u16) -> String {
    let lower = text.to_ascii_lowercase();
    for (name, placeholder) in [
        ("date:", "<date>"),
        ("sec-websocket-key:", "<key>"),
        ("sec-websocket-accept:", "<accept>"),
    ] {
        if lower.starts_with(name) {
            let end = if text.ends_with("\\r\\n") {
                "\\r\\n"
            } else {
                ""
            };
            return format!("{} {placeholder}{end}", &text[..name.len()]);
        }
    }
    let mut text = text.to_owned();
    if port != 0 {
        text = text.replace(&format!(":{port}"), ":PORT");
    }
    const CREATED: &str = "\"created_us\":";
    if let Some(at) = text.find(CREATED) {
        let digits_at = at + CREATED.len();
        let digits = text[digits_at..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        text.replace_range(digits_at..digits_at + digits, "<created_us>");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(direction: Direction, class: ByteClass, bytes: &[u8]) -> WireSegment<'_> {
        WireSegment {
            direction,
            class,
            bytes,
        }
    }

    #[test]
    fn http2_frames_are_named_and_their_settings_read() {
        let headers = [0x00, 0x00, 0x1b, 0x01, 0x05, 0x00, 0x00, 0x00, 0x01];
        assert_eq!(
            h2_header_note(&headers),
            "HEADERS frame, 27 B, stream 1 END_STREAM|END_HEADERS"
        );
        let ack = [0x00, 0x00, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00];
        assert_eq!(h2_header_note(&ack), "SETTINGS frame, 0 B, stream 0 ACK");
        let settings = [
            0x00, 0x03, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01,
        ];
        assert_eq!(
            h2_payload_note(0x4, &settings).as_deref(),
            Some("MAX_CONCURRENT_STREAMS=1000 ENABLE_CONNECT_PROTOCOL=1")
        );
        // Two whole frames split; a partial one is not taken for frames.
        let two = [&ack[..], &[0, 0, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0, 1][..]].concat();
        assert_eq!(whole_frames(&two).map(|f| f.len()), Some(2));
        assert_eq!(whole_frames(&two[..15]), None);
        // The preface as text, then the SETTINGS frame decoded.
        let preface = [&b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"[..], &ack[..]].concat();
        let rows = h2_rows(
            &seg(Direction::Sent, ByteClass::Handshake, &preface),
            Transport::Sse,
            TraceStyle::default(),
            80,
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].bytes, 24);
        assert_eq!(
            rows[1].note.as_deref(),
            Some("SETTINGS frame, 0 B, stream 0 ACK")
        );
    }

    #[test]
    fn escapes_everything_but_printable_ascii() {
        assert_eq!(escape(b"a b\r\n\x00\x81\\"), "a b\\r\\n\\x00\\x81\\\\");
    }

    #[test]
    fn decodes_a_masked_close_frame_and_its_code() {
        let heading = TraceHeading {
            transport: Transport::Ws,
            server: SocketAddr::from(([127, 0, 0, 1], 4242)),
            embedded: true,
            delivered: 0,
            requests: 1,
            http: HttpVersion::Http1,
        };
        let body = [0x03 ^ 0x11, 0xe8 ^ 0x22];
        let header = [0x88, 0x82, 0x11, 0x22, 0x33, 0x44];
        let segments = [
            seg(
                Direction::Sent,
                ByteClass::Handshake,
                b"GET /ws HTTP/1.1\r\nhost: 127.0.0.1:4242\r\n\r\n",
            ),
            seg(Direction::Sent, ByteClass::Control, &header),
            seg(Direction::Sent, ByteClass::Control, &body),
        ];
        let text = render_trace(&heading, &segments, TraceStyle::default());
        assert!(text.contains("FIN=1 RSV=000 opcode=0x8 (close) MASK=1 length=2 (7-bit field), masking key 11 22 33 44"), "{text}");
        assert!(text.contains("close code 1000 (normal closure)"), "{text}");
        let redacted = render_trace(
            &heading,
            &segments,
            TraceStyle {
                color: false,
                redact: true,
            },
        );
        assert!(
            redacted.contains("host: 127.0.0.1:PORT\\r\\n"),
            "{redacted}"
        );
        assert!(redacted.contains("88 82 ?? ?? ?? ??"), "{redacted}");
        assert!(redacted.contains("<masked>"), "{redacted}");
        assert!(!redacted.contains("11 22 33 44"), "{redacted}");
    }

    #[test]
    fn extended_lengths_and_chunk_lines_are_explained() {
        let seg126 = [0x81, 0x7e, 0x01, 0x00];
        let (row, body, len) = frame_header_row(
            &seg(Direction::Received, ByteClass::Framing, &seg126),
            TraceStyle::default(),
        );
        assert_eq!(
            (len, body),
            (
                256,
                Some(FrameKind {
                    opcode: 1,
                    mask: None
                })
            )
        );
        assert!(
            row.note
                .unwrap_or_default()
                .contains("16-bit extended length 256")
        );
        assert_eq!(chunk_size(b"5e\r\n"), Some(0x5e));
        assert_eq!(chunk_size(b"\r\n"), None);
        assert_eq!(chunk_size(b"id: 1\n"), None);
    }

    #[test]
    fn rows_do_not_depend_on_where_reads_split_the_bytes() {
        let heading = TraceHeading {
            transport: Transport::Stream,
            server: SocketAddr::from(([127, 0, 0, 1], 4242)),
            embedded: true,
            delivered: 1,
            requests: 1,
            http: HttpVersion::Http1,
        };
        let r = Direction::Received;
        let whole = [
            seg(r, ByteClass::Framing, b"5\r\n"),
            seg(r, ByteClass::Framing, b"{\"seq\":1,\"payload\":\""),
        ];
        let split = [
            seg(r, ByteClass::Framing, b"5\r"),
            seg(r, ByteClass::Framing, b"\n{\"seq\":1,"),
            seg(r, ByteClass::Framing, b"\"payload\":\""),
        ];
        assert_eq!(
            render_trace(&heading, &whole, TraceStyle::default()),
            render_trace(&heading, &split, TraceStyle::default())
        );
    }

    #[test]
    fn redaction_keeps_the_shape_of_the_row() {
        assert_eq!(
            redact("Date: Wed, 25 Nov 2026 06:02:10 GMT\\r\\n", 80),
            "Date: <date>\\r\\n"
        );
        assert_eq!(
            redact(
                "{\"seq\":1,\"topic\":\"t0\",\"created_us\":1795586530407833,\"payload\":\"",
                0
            ),
            "{\"seq\":1,\"topic\":\"t0\",\"created_us\":<created_us>,\"payload\":\""
        );
        assert_eq!(
            redact("host: 127.0.0.1:4242\\r\\n", 4242),
            "host: 127.0.0.1:PORT\\r\\n"
        );
    }
}
