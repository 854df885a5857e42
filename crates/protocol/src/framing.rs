//! Byte-exact framing arithmetic for each protocol, as pure functions.
//!
//! These are the numbers the teaching docs quote ("a WebSocket frame costs
//! two bytes"): each function has tests that assert exact bytes.

/// Length of a WebSocket frame header (RFC 6455 section 5.2) for a payload of
/// `payload_len` bytes: 2 bytes, plus 2 or 8 for the extended length, plus the
/// 4-byte masking key on client-to-server frames.
pub fn ws_header_len(payload_len: u64, masked: bool) -> usize {
    let extended = match payload_len {
        0..=125 => 0,
        126..=65_535 => 2,
        _ => 8,
    };
    2 + extended + if masked { 4 } else { 0 }
}

/// A client's WebSocket frame (RFC 6455 section 5.2): FIN set, `opcode`,
/// `payload` masked with `key`. Its header is [`ws_header_len`]`(len,
/// true)` bytes: what a load-generator client writes for a pong, a close
/// or a text reply.
pub fn ws_client_frame(opcode: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let len = payload.len();
    let mut out = Vec::with_capacity(ws_header_len(len as u64, true) + len);
    out.push(0x80 | (opcode & 0x0f));
    match len {
        0..=125 => out.push(0x80 | len as u8),
        126..=65_535 => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k));
    out
}

/// Bytes an HTTP/1.1 chunk adds around `data_len` bytes of data: the hex size,
/// CRLF after it and CRLF after the data (RFC 9112 section 7.1).
pub fn chunk_framing_len(data_len: usize) -> usize {
    hex_digits(data_len) + 4
}

/// The terminating zero-length chunk with an empty trailer section.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

fn hex_digits(mut n: usize) -> usize {
    let mut digits = 1;
    while n >= 16 {
        n /= 16;
        digits += 1;
    }
    digits
}

/// Bytes an SSE field line adds around its value: the field name, `": "` and
/// the line feed (WHATWG HTML, section 9.2 "Server-sent events").
pub fn sse_field_overhead(field: &str) -> usize {
    field.len() + 2 + 1
}

/// The full length of one SSE event with `id:` and one `data:` line carrying
/// `data_len` bytes, ended by the blank line.
pub fn sse_event_len(id: u64, data_len: usize) -> usize {
    sse_field_overhead("id") + id.to_string().len() + sse_field_overhead("data") + data_len + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_header_lengths_match_rfc6455() {
        assert_eq!(ws_header_len(0, false), 2);
        assert_eq!(ws_header_len(125, false), 2);
        assert_eq!(ws_header_len(126, false), 4);
        assert_eq!(ws_header_len(65_535, false), 4);
        assert_eq!(ws_header_len(65_536, false), 10);
        assert_eq!(ws_header_len(125, true), 6);
        assert_eq!(ws_header_len(126, true), 8);
        assert_eq!(ws_header_len(65_536, true), 14);
    }

    #[test]
    fn client_frames_are_masked_with_exact_headers() {
        use crate::frame_head::WsFrameHead;
        let key = [1, 2, 3, 4];
        // A pong of "hi": 0x8A, masked length 2, the key, then the mask.
        assert_eq!(
            ws_client_frame(0xA, b"hi", key),
            [0x8A, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2]
        );
        for len in [0usize, 125, 126, 65_535, 65_536] {
            let payload = vec![b'x'; len];
            let frame = ws_client_frame(0x1, &payload, key);
            let head = WsFrameHead::parse(&frame).expect("a whole header");
            assert_eq!(head.header_len, ws_header_len(len as u64, true), "{len}");
            assert_eq!(frame.len(), head.header_len + len);
            assert_eq!((head.opcode, head.payload_len), (0x1, len as u64));
            assert_eq!(head.mask, Some(key));
        }
    }

    #[test]
    fn chunk_framing_counts_hex_size_and_two_crlfs() {
        // "5\r\nhello\r\n"
        assert_eq!(chunk_framing_len(5), b"5\r\n\r\n".len());
        assert_eq!(chunk_framing_len(15), 5);
        assert_eq!(chunk_framing_len(16), 6); // "10\r\n" + "\r\n"
        assert_eq!(chunk_framing_len(4095), 7); // "fff"
        assert_eq!(chunk_framing_len(4096), 8); // "1000"
        assert_eq!(chunk_framing_len(0), LAST_CHUNK.len());
    }

    #[test]
    fn sse_overheads_are_exact() {
        assert_eq!(sse_field_overhead("data"), b"data: \n".len());
        assert_eq!(sse_field_overhead("id"), b"id: \n".len());
        assert_eq!(sse_event_len(42, 5), b"id: 42\ndata: hello\n\n".len());
    }
}
