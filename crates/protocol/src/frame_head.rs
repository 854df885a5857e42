//! The one decoder of each binary frame header pushbench reads: a WebSocket
//! frame header (RFC 6455 section 5.2) and an HTTP/2 frame header (RFC 9113
//! section 4.1), as pure functions over bytes.
//!
//! The wire classifiers, the HTTP/2 classifier and the report's trace all
//! read headers through these, so a length or a flag means the same
//! everywhere. Each parser looks only at the start of its input (the rest
//! may be the frame's payload) and says how many header bytes it needs
//! when the input is shorter than the header ([`NeedMore`]), so an
//! incremental reader can gather exactly that many and ask again.

/// The input is shorter than the header: at least `header_len` bytes are
/// needed (the full header length once the bytes that give it are in,
/// else the shortest header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NeedMore {
    /// Header bytes needed, counted from the start of the input.
    pub header_len: usize,
}

/// A WebSocket frame header, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WsFrameHead {
    /// FIN: the last frame of a message.
    pub fin: bool,
    /// The three RSV bits, RSV1 highest (`0b100`).
    pub rsv: u8,
    /// The opcode (0x1 text, 0x2 binary, 0x8 close, 0x9 ping, 0xa pong...).
    pub opcode: u8,
    /// The masking key of a masked (client-to-server) frame.
    pub mask: Option<[u8; 4]>,
    /// The 7-bit length field as sent: the length itself (0 to 125), or 126
    /// (a 16-bit extended length follows) or 127 (a 64-bit one).
    pub len_field: u8,
    /// The payload length.
    pub payload_len: u64,
    /// The header's length: 2, plus 2 or 8 for an extended length, plus 4
    /// for a masking key (see [`crate::framing::ws_header_len`]).
    pub header_len: usize,
}

impl WsFrameHead {
    /// Decodes the header at the start of `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<WsFrameHead, NeedMore> {
        let (Some(&b0), Some(&b1)) = (bytes.first(), bytes.get(1)) else {
            return Err(NeedMore { header_len: 2 });
        };
        let len_field = b1 & 0x7f;
        let extended = match len_field {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let masked = b1 & 0x80 != 0;
        let header_len = 2 + extended + if masked { 4 } else { 0 };
        let Some(header) = bytes.get(..header_len) else {
            return Err(NeedMore { header_len });
        };
        let payload_len = match len_field {
            126 => u64::from(u16::from_be_bytes([header[2], header[3]])),
            127 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&header[2..10]);
                u64::from_be_bytes(b)
            }
            n => u64::from(n),
        };
        let mask = masked.then(|| {
            let k = &header[header_len - 4..];
            [k[0], k[1], k[2], k[3]]
        });
        Ok(WsFrameHead {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 0x7,
            opcode: b0 & 0x0f,
            mask,
            len_field,
            payload_len,
            header_len,
        })
    }

    /// Whether the opcode is a control frame's (close, ping, pong).
    pub fn is_control(&self) -> bool {
        self.opcode >= 0x8
    }
}

/// Length of an HTTP/2 frame header.
pub const H2_FRAME_HEAD_LEN: usize = 9;

/// An HTTP/2 frame header, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct H2FrameHead {
    /// The payload length (24 bits).
    pub len: u32,
    /// The frame type (0x0 DATA, 0x1 HEADERS, 0x4 SETTINGS...).
    pub kind: u8,
    /// The flags byte.
    pub flags: u8,
    /// The stream identifier, its reserved bit cleared.
    pub stream: u32,
}

impl H2FrameHead {
    /// Decodes the header at the start of `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<H2FrameHead, NeedMore> {
        let Some(h) = bytes.get(..H2_FRAME_HEAD_LEN) else {
            return Err(NeedMore {
                header_len: H2_FRAME_HEAD_LEN,
            });
        };
        Ok(H2FrameHead {
            len: u32::from_be_bytes([0, h[0], h[1], h[2]]),
            kind: h[3],
            flags: h[4],
            stream: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::ws_header_len;

    #[test]
    fn ws_7_bit_lengths_up_to_125() {
        // FIN, text, unmasked, "hello".
        let frame = b"\x81\x05hello";
        let head = WsFrameHead::parse(frame).expect("complete");
        assert_eq!(
            head,
            WsFrameHead {
                fin: true,
                rsv: 0,
                opcode: 0x1,
                mask: None,
                len_field: 5,
                payload_len: 5,
                header_len: 2,
            }
        );
        let head = WsFrameHead::parse(&[0x82, 125]).expect("complete");
        assert_eq!((head.payload_len, head.header_len), (125, 2));
        assert_eq!(head.opcode, 0x2);
    }

    #[test]
    fn ws_16_bit_extended_lengths_from_126_to_65535() {
        let head = WsFrameHead::parse(&[0x81, 126, 0x00, 126]).expect("complete");
        assert_eq!(
            (head.len_field, head.payload_len, head.header_len),
            (126, 126, 4)
        );
        let head = WsFrameHead::parse(&[0x81, 126, 0xff, 0xff]).expect("complete");
        assert_eq!((head.payload_len, head.header_len), (65_535, 4));
        // A 16-bit field may carry a small length (not minimal, still valid).
        let head = WsFrameHead::parse(&[0x81, 126, 0x00, 0x05]).expect("complete");
        assert_eq!((head.len_field, head.payload_len), (126, 5));
    }

    #[test]
    fn ws_64_bit_extended_lengths_from_65536() {
        let bytes = [0x82, 127, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00];
        let head = WsFrameHead::parse(&bytes).expect("complete");
        assert_eq!(
            (head.len_field, head.payload_len, head.header_len),
            (127, 65_536, 10)
        );
        let bytes = [0x82, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        let head = WsFrameHead::parse(&bytes).expect("complete");
        assert_eq!(head.payload_len, u64::MAX >> 1);
    }

    #[test]
    fn ws_masked_headers_carry_the_key_after_the_length() {
        let head = WsFrameHead::parse(&[0x81, 0x85, 1, 2, 3, 4, b'x']).expect("complete");
        assert_eq!(head.mask, Some([1, 2, 3, 4]));
        assert_eq!((head.payload_len, head.header_len), (5, 6));
        let head = WsFrameHead::parse(&[0x81, 0xfe, 0x01, 0x00, 9, 8, 7, 6]).expect("complete");
        assert_eq!(head.mask, Some([9, 8, 7, 6]));
        assert_eq!((head.payload_len, head.header_len), (256, 8));
        let mut bytes = vec![0x82, 0xff, 0, 0, 0, 0, 0, 0x01, 0, 0];
        bytes.extend_from_slice(&[0xa, 0xb, 0xc, 0xd]);
        let head = WsFrameHead::parse(&bytes).expect("complete");
        assert_eq!(head.mask, Some([0xa, 0xb, 0xc, 0xd]));
        assert_eq!((head.payload_len, head.header_len), (65_536, 14));
    }

    #[test]
    fn ws_flags_rsv_and_control_opcodes() {
        // Not FIN, RSV1 and RSV3 set, continuation.
        let head = WsFrameHead::parse(&[0x50, 0x00]).expect("complete");
        assert!(!head.fin);
        assert_eq!((head.rsv, head.opcode), (0b101, 0x0));
        assert!(!head.is_control());
        for opcode in [0x8, 0x9, 0xa] {
            let head = WsFrameHead::parse(&[0x80 | opcode, 0]).expect("complete");
            assert!(head.is_control(), "opcode {opcode:#x}");
        }
    }

    #[test]
    fn ws_incomplete_headers_say_how_many_bytes_they_need() {
        let need = |n| Err(NeedMore { header_len: n });
        assert_eq!(WsFrameHead::parse(&[]), need(2));
        assert_eq!(WsFrameHead::parse(&[0x81]), need(2));
        assert_eq!(WsFrameHead::parse(&[0x81, 126, 0x01]), need(4));
        assert_eq!(
            WsFrameHead::parse(&[0x81, 127, 0, 0, 0, 0, 0, 0, 1]),
            need(10)
        );
        assert_eq!(WsFrameHead::parse(&[0x81, 0x85, 1, 2, 3]), need(6));
        assert_eq!(WsFrameHead::parse(&[0x81, 0xfe, 0, 200, 1, 2, 3]), need(8));
        assert_eq!(
            WsFrameHead::parse(&[0x81, 0xff, 0, 0, 0, 0, 0, 1, 0, 0]),
            need(14)
        );
    }

    #[test]
    fn ws_header_lengths_agree_with_the_framing_arithmetic() {
        for len in [0u64, 1, 125, 126, 65_535, 65_536, 1 << 40] {
            for masked in [false, true] {
                let mut bytes = vec![0x82];
                let mask_bit = if masked { 0x80 } else { 0 };
                match len {
                    0..=125 => bytes.push(mask_bit | len as u8),
                    126..=65_535 => {
                        bytes.push(mask_bit | 126);
                        bytes.extend_from_slice(&(len as u16).to_be_bytes());
                    }
                    _ => {
                        bytes.push(mask_bit | 127);
                        bytes.extend_from_slice(&len.to_be_bytes());
                    }
                }
                if masked {
                    bytes.extend_from_slice(&[1, 2, 3, 4]);
                }
                let head = WsFrameHead::parse(&bytes).expect("complete");
                assert_eq!(head.payload_len, len);
                assert_eq!(head.header_len, bytes.len());
                assert_eq!(
                    head.header_len,
                    ws_header_len(len, masked),
                    "{len} {masked}"
                );
            }
        }
    }

    #[test]
    fn h2_headers_decode_length_type_flags_and_stream() {
        // SETTINGS, empty, stream 0.
        let head = H2FrameHead::parse(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0]).expect("complete");
        assert_eq!(
            head,
            H2FrameHead {
                len: 0,
                kind: 0x4,
                flags: 0,
                stream: 0,
            }
        );
        // HEADERS, 0x012345 bytes, END_STREAM|END_HEADERS, stream 3, then payload.
        let bytes = [0x01, 0x23, 0x45, 0x1, 0x5, 0, 0, 0, 3, 0xaa, 0xbb];
        let head = H2FrameHead::parse(&bytes).expect("complete");
        assert_eq!(
            head,
            H2FrameHead {
                len: 0x01_2345,
                kind: 0x1,
                flags: 0x5,
                stream: 3,
            }
        );
        // The largest length; the reserved bit is not part of the stream id.
        let bytes = [0xff, 0xff, 0xff, 0x0, 0x1, 0xff, 0xff, 0xff, 0xff];
        let head = H2FrameHead::parse(&bytes).expect("complete");
        assert_eq!((head.len, head.stream), (0x00ff_ffff, 0x7fff_ffff));
        let bytes = [0, 0, 1, 0x0, 0x0, 0x80, 0, 0, 1];
        assert_eq!(H2FrameHead::parse(&bytes).expect("complete").stream, 1);
    }

    #[test]
    fn h2_incomplete_headers_need_nine_bytes() {
        for n in 0..H2_FRAME_HEAD_LEN {
            assert_eq!(
                H2FrameHead::parse(&[0u8; 9][..n]),
                Err(NeedMore { header_len: 9 }),
                "{n} bytes"
            );
        }
    }
}
