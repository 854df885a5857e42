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
