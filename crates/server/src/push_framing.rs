//! How push messages are framed on the wire, made once per event by the
//! hub ([`crate::hub::StoredEvent::framed`]) and written by the direct
//! writers ([`crate::direct`]): a WebSocket text frame's head, or an
//! HTTP/1.1 chunk's size line and CRLF.

/// How a direct write frames each message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// An unmasked, final WebSocket text frame (RFC 6455, section 5.2).
    WebSocketText,
    /// One chunk of an HTTP/1.1 chunked body (RFC 9112, section 7.1).
    Chunked,
}

/// Longest head: 16 hex digits and CRLF.
const HEAD_MAX: usize = 18;

/// The bytes in front of one message.
#[derive(Clone, Copy, Debug, Default)]
pub struct Head {
    bytes: [u8; HEAD_MAX],
    len: u8,
}

impl Head {
    /// The head's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl Framing {
    /// The head of a message carrying `len` payload bytes.
    ///
    /// - WebSocket: FIN and opcode 1, then the length in 7 bits, or 126
    ///   and 16 bits, or 127 and 64 bits;
    /// - chunked: the length in upper-case hex (as hyper writes it), no
    ///   leading zeros, CRLF.
    pub fn head(self, len: usize) -> Head {
        let mut bytes = [0u8; HEAD_MAX];
        let head_len = match self {
            Framing::WebSocketText => {
                bytes[0] = 0x81;
                match len {
                    0..=125 => {
                        bytes[1] = len as u8;
                        2
                    }
                    126..=0xFFFF => {
                        bytes[1] = 126;
                        bytes[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                        4
                    }
                    _ => {
                        bytes[1] = 127;
                        bytes[2..10].copy_from_slice(&(len as u64).to_be_bytes());
                        10
                    }
                }
            }
            Framing::Chunked => {
                let digits = (usize::BITS - len.leading_zeros()).div_ceil(4).max(1) as usize;
                for (i, slot) in bytes[..digits].iter_mut().enumerate() {
                    let nibble = (len >> (4 * (digits - 1 - i))) & 0xF;
                    *slot = b"0123456789ABCDEF"[nibble];
                }
                bytes[digits..digits + 2].copy_from_slice(b"\r\n");
                digits + 2
            }
        };
        Head {
            bytes,
            len: head_len as u8,
        }
    }

    /// The bytes after each message.
    pub fn tail(self) -> &'static [u8] {
        match self {
            Framing::WebSocketText => b"",
            Framing::Chunked => b"\r\n",
        }
    }
}

/// What a direct writer sends of each event, in which framing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    /// The event's JSON in a WebSocket text frame.
    WebSocket,
    /// The event's SSE record in a chunk.
    SseChunk,
    /// The event's NDJSON line in a chunk.
    NdjsonChunk,
}

impl Wire {
    /// The framing around each message.
    pub fn framing(self) -> Framing {
        match self {
            Wire::WebSocket => Framing::WebSocketText,
            Wire::SseChunk | Wire::NdjsonChunk => Framing::Chunked,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

    /// The bytes tungstenite writes for a server's text frame.
    pub(crate) fn tungstenite_frame(payload: &[u8]) -> Vec<u8> {
        let frame = Frame::message(payload.to_vec(), OpCode::Data(Data::Text), true);
        let mut out = Vec::new();
        frame.format(&mut out).expect("format");
        out
    }

    #[test]
    fn heads_match_tungstenites_frames_at_every_length_boundary() {
        for len in [0, 1, 125, 126, 127, 65_535, 65_536, 70_000] {
            let payload = vec![b'x'; len];
            let mut ours = Framing::WebSocketText.head(len).as_bytes().to_vec();
            ours.extend_from_slice(&payload);
            assert_eq!(ours, tungstenite_frame(&payload), "length {len}");
        }
    }

    #[test]
    fn chunk_heads_are_the_length_in_hex() {
        for len in [0, 1, 9, 10, 15, 16, 255, 256, 4_095, 70_000, usize::MAX] {
            let head = Framing::Chunked.head(len);
            assert_eq!(
                head.as_bytes(),
                format!("{len:X}\r\n").as_bytes(),
                "length {len}"
            );
        }
        assert_eq!(Framing::Chunked.tail(), b"\r\n");
        assert_eq!(Framing::WebSocketText.tail(), b"");
    }
}
