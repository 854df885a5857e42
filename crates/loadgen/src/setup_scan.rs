//! Where a connection's setup ends, found on its raw bytes each way: the
//! first HTTP head (`HeadScan`) over HTTP/1.1, everything up to and
//! including the first header block ([`H2SetupScan`]) over HTTP/2 (see
//! the meter's "Over HTTP/2": the meter feeds every byte it counts to
//! a `SetupScan`).

use pushbench_protocol::frame_head::{H2_FRAME_HEAD_LEN, H2FrameHead};
use pushbench_protocol::{ByteClass, ByteLedger, Direction, HttpVersion};

/// Where a connection's setup ends, each way (sent, received).
#[derive(Debug)]
pub(crate) enum SetupScan {
    /// HTTP/1.1: the first head.
    Http1([HeadScan; 2]),
    /// HTTP/2: up to the first HEADERS frame.
    Http2(Box<[H2SetupScan; 2]>),
}

impl SetupScan {
    /// The scans of a connection that speaks `http`.
    pub(crate) fn new(http: HttpVersion) -> Self {
        match http {
            HttpVersion::Http1 => SetupScan::Http1([HeadScan::default(); 2]),
            HttpVersion::Http2 => {
                SetupScan::Http2(Box::new([H2SetupScan::client(), H2SetupScan::server()]))
            }
        }
    }

    /// Feeds the bytes crossing the socket in `direction`, booking those of
    /// the setup into `ledger`; `headers` is the class of a head (or of a
    /// header block).
    pub(crate) fn feed(
        &mut self,
        direction: Direction,
        bytes: &[u8],
        headers: ByteClass,
        ledger: &mut ByteLedger,
    ) {
        let way = match direction {
            Direction::Sent => 0,
            Direction::Received => 1,
        };
        match self {
            SetupScan::Http1(scans) => ledger.add(headers, scans[way].feed(bytes)),
            SetupScan::Http2(scans) => scans[way].feed(bytes, headers, ledger),
        }
    }
}

/// Finds the end of the first HTTP head (`\r\n\r\n`) in one direction of
/// a connection's raw bytes: the setup is the first request (or upgrade)
/// and the first response head, found on the bytes themselves so it does not
/// depend on how the classifier books an exchange (polls are booked whole,
/// and an empty one as control).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct HeadScan {
    /// The last bytes seen, newest in the low byte.
    tail: u32,
    done: bool,
}

impl HeadScan {
    /// Feeds bytes; returns how many of them belong to the first head.
    fn feed(&mut self, bytes: &[u8]) -> u64 {
        if self.done {
            return 0;
        }
        for (i, &b) in bytes.iter().enumerate() {
            self.tail = (self.tail << 8) | u32::from(b);
            if self.tail == u32::from_be_bytes(*b"\r\n\r\n") {
                self.done = true;
                return i as u64 + 1;
            }
        }
        bytes.len() as u64
    }
}

/// The HTTP/2 frame types and flags the setup scan looks at (RFC 9113).
const H2_HEADERS: u8 = 0x1;
const H2_SETTINGS: u8 = 0x4;
const H2_CONTINUATION: u8 = 0x9;
const H2_ACK: u8 = 0x1;
const H2_END_HEADERS: u8 = 0x4;
const H2_PADDED: u8 = 0x8;
const H2_PRIORITY: u8 = 0x20;

/// Finds an HTTP/2 connection's setup in one direction of its raw bytes:
/// everything up to and including the first HEADERS frame and its
/// CONTINUATIONs (the HTTP/1.1 analog is the first head), booked by the
/// HTTP/2 byte-class rule: the client's preface and the first SETTINGS
/// frame `handshake`; other frames before the HEADERS (SETTINGS ACK,
/// WINDOW_UPDATE) `control`; the HEADERS frame's 9-byte header, pad-length
/// byte, priority fields and padding `h2_frames`; its header block the
/// headers class (`handshake` for an extended CONNECT). Like `HeadScan`
/// it reads the bytes themselves, so it does not depend on how the
/// classifier books an exchange (an empty poll is control as a whole).
#[derive(Clone, Debug)]
pub struct H2SetupScan {
    /// Preface bytes still to come (24 from the client, 0 from the server).
    preface: usize,
    /// The current frame's header, as far as read.
    header: [u8; H2_FRAME_HEAD_LEN],
    header_len: usize,
    /// The current frame's body still to come: (class, bytes) in order.
    body: Vec<(ByteClass, usize)>,
    /// The next body byte is a HEADERS frame's pad length.
    pad_length_next: bool,
    /// The current frame is the last of the first header block.
    ends_setup: bool,
    settings_seen: bool,
    done: bool,
}

impl H2SetupScan {
    /// The scan of what the client sends (it starts with the preface).
    pub fn client() -> Self {
        H2SetupScan {
            preface: pushbench_protocol::h2_classifier::PREFACE.len(),
            ..Self::server()
        }
    }

    /// The scan of what the server sends.
    pub fn server() -> Self {
        H2SetupScan {
            preface: 0,
            header: [0; H2_FRAME_HEAD_LEN],
            header_len: 0,
            body: Vec::new(),
            pad_length_next: false,
            ends_setup: false,
            settings_seen: false,
            done: false,
        }
    }

    /// Whether the setup has been read in full.
    pub fn done(&self) -> bool {
        self.done
    }

    /// Feeds bytes, booking those of the setup into `ledger`; `headers` is
    /// the class of the header block.
    pub fn feed(&mut self, mut bytes: &[u8], headers: ByteClass, ledger: &mut ByteLedger) {
        while !self.done && !bytes.is_empty() {
            if self.preface > 0 {
                let n = self.preface.min(bytes.len());
                ledger.add(ByteClass::Handshake, n as u64);
                self.preface -= n;
                bytes = &bytes[n..];
                continue;
            }
            if self.pad_length_next {
                // The block shrinks by the padding, which follows it.
                self.pad_length_next = false;
                let pad = usize::from(bytes[0]);
                if let Some((_, block)) = self.body.iter_mut().find(|(c, _)| *c == headers) {
                    let pad = pad.min(*block);
                    *block -= pad;
                    self.body.push((ByteClass::H2Frames, pad));
                }
            }
            if let Some((class, left)) = self.body.first_mut() {
                let n = (*left).min(bytes.len());
                ledger.add(*class, n as u64);
                *left -= n;
                bytes = &bytes[n..];
                if *left == 0 {
                    self.body.remove(0);
                }
            } else {
                let n = (H2_FRAME_HEAD_LEN - self.header_len).min(bytes.len());
                self.header[self.header_len..self.header_len + n].copy_from_slice(&bytes[..n]);
                self.header_len += n;
                bytes = &bytes[n..];
                if self.header_len < H2_FRAME_HEAD_LEN {
                    continue;
                }
                self.header_len = 0;
                let class = self.frame_started(headers);
                ledger.add(class, H2_FRAME_HEAD_LEN as u64);
            }
            self.body.retain(|(_, n)| *n > 0);
            if self.body.is_empty() && self.header_len == 0 && self.ends_setup {
                self.done = true;
            }
        }
    }

    /// A frame header was read: plans its body, returns the header's class.
    fn frame_started(&mut self, headers: ByteClass) -> ByteClass {
        // The header is whole (nine bytes were gathered), so it parses.
        let Ok(head) = H2FrameHead::parse(&self.header) else {
            return ByteClass::H2Frames;
        };
        let (len, kind, flags) = (head.len as usize, head.kind, head.flags);
        self.body.clear();
        match kind {
            H2_SETTINGS if !self.settings_seen && flags & H2_ACK == 0 => {
                self.settings_seen = true;
                self.body.push((ByteClass::Handshake, len));
                ByteClass::Handshake
            }
            H2_HEADERS | H2_CONTINUATION => {
                self.ends_setup = flags & H2_END_HEADERS != 0;
                let padded = kind == H2_HEADERS && flags & H2_PADDED != 0;
                let priority = if kind == H2_HEADERS && flags & H2_PRIORITY != 0 {
                    5
                } else {
                    0
                };
                let fixed = (usize::from(padded) + priority).min(len);
                self.pad_length_next = padded && len > 0;
                self.body.push((ByteClass::H2Frames, fixed));
                self.body.push((headers, len - fixed));
                ByteClass::H2Frames
            }
            _ => {
                self.body.push((ByteClass::Control, len));
                ByteClass::Control
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_head_ends_at_the_blank_line_in_any_split() {
        let head = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n";
        let mut whole = HeadScan::default();
        assert_eq!(
            whole.feed(&[&head[..], b"body"].concat()),
            head.len() as u64
        );
        assert_eq!(whole.feed(b"GET / HTTP/1.1\r\n\r\n"), 0);
        let mut split = HeadScan::default();
        let counted: u64 = head.iter().map(|b| split.feed(&[*b])).sum();
        assert_eq!(counted, head.len() as u64);
        assert_eq!(split.feed(b"more"), 0);
    }

    fn frame(kind: u8, flags: u8, body: &[u8]) -> Vec<u8> {
        let len = body.len() as u32;
        let mut f = len.to_be_bytes()[1..].to_vec();
        f.extend([kind, flags, 0, 0, 0, 1]);
        f.extend_from_slice(body);
        f
    }

    #[test]
    fn the_h2_setup_ends_with_the_first_header_block_in_any_split() {
        // Preface, SETTINGS (6 bytes), WINDOW_UPDATE, HEADERS without
        // END_HEADERS, CONTINUATION with it, then a DATA frame after.
        let sent = [
            pushbench_protocol::h2_classifier::PREFACE.to_vec(),
            frame(H2_SETTINGS, 0, &[0; 6]),
            frame(0x8, 0, &[0, 0, 1, 0]),
            frame(H2_HEADERS, 0, &[1; 10]),
            frame(H2_CONTINUATION, H2_END_HEADERS, &[2; 5]),
            frame(0x0, 0x1, b"after"),
        ]
        .concat();
        for chunk in [sent.len(), 1, 7] {
            let mut ledger = ByteLedger::default();
            let mut scan = H2SetupScan::client();
            for piece in sent.chunks(chunk) {
                scan.feed(piece, ByteClass::RequestHeaders, &mut ledger);
            }
            assert!(scan.done());
            assert_eq!(ledger.get(ByteClass::Handshake), 24 + 9 + 6, "{chunk}");
            assert_eq!(ledger.get(ByteClass::Control), 9 + 4);
            assert_eq!(ledger.get(ByteClass::H2Frames), 18);
            assert_eq!(ledger.get(ByteClass::RequestHeaders), 15);
            assert_eq!(ledger.total(), (sent.len() - 9 - 5) as u64);
        }
        // A server's padded HEADERS: the pad-length byte and padding are
        // frame overhead; a SETTINGS ACK before it is control.
        let mut padded = vec![3];
        padded.extend([7; 4]);
        padded.extend([0; 3]);
        let received = [
            frame(H2_SETTINGS, 0, &[]),
            frame(H2_SETTINGS, H2_ACK, &[]),
            frame(H2_HEADERS, H2_END_HEADERS | H2_PADDED, &padded),
        ]
        .concat();
        let mut ledger = ByteLedger::default();
        let mut scan = H2SetupScan::server();
        scan.feed(&received, ByteClass::ResponseHeaders, &mut ledger);
        assert!(scan.done());
        assert_eq!(ledger.get(ByteClass::Handshake), 9);
        assert_eq!(ledger.get(ByteClass::Control), 9);
        assert_eq!(ledger.get(ByteClass::H2Frames), 9 + 1 + 3);
        assert_eq!(ledger.get(ByteClass::ResponseHeaders), 4);
    }
}
