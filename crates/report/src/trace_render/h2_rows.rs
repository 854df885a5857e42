//! The rows of an HTTP/2 connection: the preface as text, frame headers
//! (read by [`H2FrameHead`]) and whole control frames decoded, HPACK
//! blocks in hex, and DATA (the transport's body) as over HTTP/1.1.

use pushbench_protocol::frame_head::{H2_FRAME_HEAD_LEN, H2FrameHead, WsFrameHead};
use pushbench_protocol::h2_classifier::PREFACE;
use pushbench_protocol::{ByteClass, Transport};

use super::rows::{Row, TraceStyle, WireSegment, escape, hex_row_of};
use super::text_rows::text_rows;

/// Bytes of a binary HTTP/2 run shown, in hex.
pub(super) const H2_SHOWN: usize = 16;

/// HTTP/2 frame type names (RFC 9113 section 6).
pub(super) fn h2_frame_type(kind: u8) -> &'static str {
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
pub(super) fn h2_header_note(header: &[u8]) -> String {
    let Ok(H2FrameHead {
        len,
        kind,
        flags,
        stream,
    }) = H2FrameHead::parse(header)
    else {
        return "incomplete frame header".into();
    };
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
pub(super) fn h2_payload_note(kind: u8, payload: &[u8]) -> Option<String> {
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
pub(super) fn hex_row(bytes: &[u8], class: ByteClass, note: Option<String>) -> Row {
    hex_row_of(bytes, class, note, H2_SHOWN)
}

/// Splits `bytes` into whole HTTP/2 frames, if that is exactly what it is.
pub(super) fn whole_frames(bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut frames = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let head = H2FrameHead::parse(rest).ok().filter(|h| h.kind <= 0x9)?;
        let len = usize::try_from(head.len).ok()?;
        let (frame, tail) = rest.split_at_checked(H2_FRAME_HEAD_LEN + len)?;
        frames.push(frame);
        rest = tail;
    }
    Some(frames)
}

/// Rows of one segment of an HTTP/2 connection: the preface as text, frame
/// headers and whole control frames decoded, HPACK blocks in hex, and the
/// DATA payload (the transport's body: JSON, SSE, WebSocket frames) as
/// over HTTP/1.1.
pub(super) fn h2_rows(
    segment: &WireSegment<'_>,
    transport: Transport,
    style: TraceStyle,
    port: u16,
) -> Vec<Row> {
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
    if class == ByteClass::H2Frames && bytes.len().is_multiple_of(H2_FRAME_HEAD_LEN) {
        return bytes
            .chunks(H2_FRAME_HEAD_LEN)
            .map(|h| hex_row(h, class, Some(h2_header_note(h))))
            .collect();
    }
    if matches!(class, ByteClass::Handshake | ByteClass::Control)
        && let Some(frames) = whole_frames(bytes)
    {
        return frames
            .into_iter()
            .map(|f| {
                let mut note = h2_header_note(f);
                if let Some(more) = h2_payload_note(f[3], &f[H2_FRAME_HEAD_LEN..]) {
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
    let ws_header = (transport == Transport::Ws && class == ByteClass::Framing)
        .then(|| WsFrameHead::parse(bytes).ok())
        .flatten()
        .map(|head| head.header_len)
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
