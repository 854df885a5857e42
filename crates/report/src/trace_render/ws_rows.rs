//! The rows of WebSocket frames: a header decoded bit by bit (read by
//! [`WsFrameHead`]), a body shown as sent with its unmasked bytes and a
//! close code explained.

use std::fmt::Write as _;

use pushbench_protocol::ByteClass;
use pushbench_protocol::frame_head::WsFrameHead;

use super::rows::{Row, TraceStyle, WireSegment, escape, hex, redact, shorten_payload};

/// What a frame header says about the body that follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FrameKind {
    pub(super) opcode: u8,
    pub(super) mask: Option<[u8; 4]>,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct FrameBody {
    /// Offset of the body's first byte in its direction.
    pub(super) start: u64,
    pub(super) opcode: u8,
    pub(super) mask: Option<[u8; 4]>,
}

/// A WebSocket frame header decoded (RFC 6455 section 5.2): the row, the
/// body's opcode and masking key when it has a body, and the body length.
pub(super) fn frame_header_row(
    segment: &WireSegment<'_>,
    style: TraceStyle,
) -> (Row, Option<FrameKind>, u64) {
    let b = segment.bytes;
    let mut row = Row {
        bytes: b.len(),
        class: segment.class,
        text: hex(b),
        note: None,
    };
    let Ok(head) = WsFrameHead::parse(b) else {
        row.note = Some("incomplete frame header".into());
        return (row, None, 0);
    };
    let len = head.payload_len;
    let opcode = head.opcode;
    let length = match head.len_field {
        126 => format!("126 -> 16-bit extended length {len}"),
        127 => format!("127 -> 64-bit extended length {len}"),
        _ => format!("{len} (7-bit field)"),
    };
    let mut note = format!(
        "FIN={} RSV={:03b} opcode=0x{opcode:x} ({}) MASK={} length={length}",
        u8::from(head.fin),
        head.rsv,
        opcode_name(opcode),
        u8::from(head.mask.is_some()),
    );
    if let Some(key) = head.mask {
        let shown = if style.redact {
            "?? ?? ?? ??".to_owned()
        } else {
            hex(&key)
        };
        let _ = write!(note, ", masking key {shown}");
        if style.redact {
            row.text = format!("{} {shown}", hex(&b[..head.header_len - key.len()]));
        }
    }
    if head.len_field == 126 && len < 126 {
        note.push_str(" (not minimal)");
    }
    row.note = Some(note);
    (
        row,
        (len > 0).then_some(FrameKind {
            opcode,
            mask: head.mask,
        }),
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
pub(super) fn frame_body_row(
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
    let mut text = shorten_payload(escape(segment.bytes), segment.class);
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

pub(super) fn close_reason(code: u16) -> &'static str {
    match code {
        1000 => "normal closure",
        1001 => "going away",
        1002 => "protocol error",
        1007 => "invalid payload",
        1009 => "message too big",
        _ => "see RFC 6455 7.4",
    }
}
