//! The trace's layout, row by row.

use super::h2_rows::{h2_header_note, h2_payload_note, whole_frames};
use super::rows::redact;
use super::text_rows::chunk_size;
use super::ws_rows::FrameKind;
use super::*;

/// The heading of a trace against the embedded server on port 4242.
fn heading(transport: Transport, delivered: u64) -> TraceHeading {
    TraceHeading {
        transport,
        server: SocketAddr::from(([127, 0, 0, 1], 4242)),
        embedded: true,
        delivered,
        requests: 1,
        http: HttpVersion::Http1,
    }
}

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
    let heading = heading(Transport::Ws, 0);
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
    let heading = heading(Transport::Stream, 1);
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
