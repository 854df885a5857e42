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

use pushbench_protocol::{ByteClass, ByteLedger, Direction, Transport};

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
    let _ = writeln!(
        out,
        "pushbench trace: {}, GET {}, against {} server {server}",
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
        style,
        port,
        sent: DirectionState::default(),
        received: DirectionState::default(),
    };
    let merged = merge_runs(heading.transport, segments);
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
    if heading.transport.is_persistent() && heading.transport != Transport::Ws {
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
    transport: Transport,
    segments: &[WireSegment<'a>],
) -> Vec<(Direction, ByteClass, Cow<'a, [u8]>)> {
    let mut out: Vec<(Direction, ByteClass, Cow<'a, [u8]>)> = Vec::with_capacity(segments.len());
    for s in segments {
        match out.last_mut() {
            Some((d, c, bytes))
                if transport != Transport::Ws && *d == s.direction && *c == s.class =>
            {
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
        let rows = if state.frames && state.offset == state.next_frame {
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

/// Bytes of a compressed run shown, in hex.
const COMPRESSED_SHOWN: usize = 12;

/// One row for a run of content-coded body bytes: binary, shown as the
/// start of its hex.
fn compressed_row(bytes: &[u8]) -> Row {
    let shown = &bytes[..bytes.len().min(COMPRESSED_SHOWN)];
    let more = if bytes.len() > COMPRESSED_SHOWN {
        " …"
    } else {
        ""
    };
    Row {
        bytes: bytes.len(),
        class: ByteClass::Compressed,
        text: format!("{}{more}", hex(shown)),
        note: Some("content-coded body: envelope and payload compressed together".into()),
    }
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
