//! The rows of text on the wire: HTTP heads, chunk-size lines, SSE fields,
//! JSON envelopes and payloads, one row per line.

use pushbench_protocol::{ByteClass, Transport};

use super::rows::{Row, TraceStyle, WireSegment, escape, redact, shorten_payload};

/// Rows of a text segment: one per line (a row ends after each `\n`).
pub(super) fn text_rows(
    segment: &WireSegment<'_>,
    transport: Transport,
    style: TraceStyle,
    port: u16,
) -> Vec<Row> {
    segment
        .bytes
        .split_inclusive(|&b| b == b'\n')
        .map(|piece| {
            let mut text = shorten_payload(escape(piece), segment.class);
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
pub(super) fn text_note(piece: &[u8], class: ByteClass, transport: Transport) -> Option<String> {
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
pub(super) fn chunk_size(piece: &[u8]) -> Option<u64> {
    let digits = piece.strip_suffix(b"\r\n")?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}
