//! WebSocket frames (RFC 6455 section 5.2), either way: headers read by
//! [`WsFrameHead`], control frames booked as control, data frames decoded
//! as events (JSON text or binary).

use std::borrow::Cow;

use super::emit::{Direction, Emitter, MAX_MESSAGE, PeerSignal, WireEvent, up_to};
use super::engine_io::book_frame;
use super::event_json::decode_json_located;
use crate::event::{Received, decode_binary};
use crate::frame_head::{NeedMore, WsFrameHead};
use crate::ledger::ByteClass;
use crate::target_kind::TargetKind;

#[derive(Debug)]
pub(crate) struct FrameParser {
    direction: Direction,
    /// The wire dialect its data frames are read in.
    kind: TargetKind,
    /// Header bytes so far (2 to 14).
    header: Vec<u8>,
    /// Set once the header is complete.
    body: Option<FrameBody>,
    body_bytes: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
struct FrameBody {
    len: u64,
    opcode: u8,
    mask: Option<[u8; 4]>,
    /// Over [`MAX_MESSAGE`]: booked as control as it passes, never buffered,
    /// so the classifier's memory stays bounded.
    oversized: bool,
    seen: u64,
}

impl FrameParser {
    /// A parser of pushbench's own frames (HTTP/2's WebSockets).
    pub(crate) fn new(direction: Direction) -> Self {
        Self::for_target(TargetKind::Pushbench, direction)
    }

    /// A parser of the frames a `kind` server exchanges.
    pub(crate) fn for_target(kind: TargetKind, direction: Direction) -> Self {
        FrameParser {
            direction,
            kind,
            header: Vec::with_capacity(14),
            body: None,
            body_bytes: Vec::new(),
        }
    }

    pub(crate) fn feed<F: FnMut(WireEvent<'_>)>(
        &mut self,
        mut bytes: &[u8],
        em: &mut Emitter<'_, F>,
    ) {
        while !bytes.is_empty() {
            match &mut self.body {
                None => {
                    // A whole frame in this read is classified where it
                    // lies: no copy, no allocation (the common case, a
                    // burst of small frames).
                    if self.header.is_empty()
                        && let Some(used) = self.in_place(bytes, em)
                    {
                        bytes = &bytes[used..];
                        continue;
                    }
                    bytes = self.take_header(bytes, em);
                }
                Some(body) => {
                    let n = up_to(bytes, body.len - body.seen);
                    body.seen += n as u64;
                    let done = body.seen == body.len;
                    if body.oversized {
                        em.bytes(self.direction, ByteClass::Control, &bytes[..n]);
                    } else {
                        self.body_bytes.extend_from_slice(&bytes[..n]);
                    }
                    bytes = &bytes[n..];
                    if done {
                        self.end_frame(em);
                    }
                }
            }
        }
    }

    /// Classifies the frame at the start of `bytes` if all of it is there
    /// (and not oversized); the bytes it took.
    fn in_place<F: FnMut(WireEvent<'_>)>(
        &self,
        bytes: &[u8],
        em: &mut Emitter<'_, F>,
    ) -> Option<usize> {
        let head = WsFrameHead::parse(bytes).ok()?;
        let len = usize::try_from(head.payload_len)
            .ok()
            .filter(|&len| len <= MAX_MESSAGE)?;
        let end = head.header_len.checked_add(len)?;
        let frame = bytes.get(..end)?;
        let (header, body) = frame.split_at(head.header_len);
        self.frame(head.opcode, head.mask, header, body, em);
        Some(end)
    }

    /// Buffers header bytes; once the header is whole, starts its body.
    fn take_header<'b, F: FnMut(WireEvent<'_>)>(
        &mut self,
        bytes: &'b [u8],
        em: &mut Emitter<'_, F>,
    ) -> &'b [u8] {
        let want = match WsFrameHead::parse(&self.header) {
            Err(NeedMore { header_len }) => header_len,
            Ok(head) => head.header_len,
        };
        let n = bytes.len().min(want - self.header.len());
        self.header.extend_from_slice(&bytes[..n]);
        let Ok(head) = WsFrameHead::parse(&self.header) else {
            return &bytes[n..];
        };
        let len = head.payload_len;
        let oversized = len > MAX_MESSAGE as u64;
        if oversized {
            em.bytes(self.direction, ByteClass::Control, &self.header);
            self.header.clear();
            em.event(WireEvent::Malformed {
                direction: self.direction,
                reason: "WebSocket frame over the classifier limit",
            });
        }
        self.body = Some(FrameBody {
            len,
            opcode: head.opcode,
            mask: head.mask,
            oversized,
            seen: 0,
        });
        if len == 0 {
            self.end_frame(em);
        }
        &bytes[n..]
    }

    /// A buffered frame is complete: classifies it, and empties the
    /// buffers (keeping their room for the next).
    fn end_frame<F: FnMut(WireEvent<'_>)>(&mut self, em: &mut Emitter<'_, F>) {
        // An oversized frame was booked as it passed.
        if let Some(FrameBody {
            opcode,
            mask,
            oversized: false,
            ..
        }) = self.body.take()
        {
            self.frame(opcode, mask, &self.header, &self.body_bytes, em);
        }
        self.header.clear();
        self.body_bytes.clear();
    }

    /// Books one whole frame, `header` and `body` as on the wire.
    fn frame<F: FnMut(WireEvent<'_>)>(
        &self,
        opcode: u8,
        mask: Option<[u8; 4]>,
        header: &[u8],
        body: &[u8],
        em: &mut Emitter<'_, F>,
    ) {
        let dir = self.direction;
        if opcode >= 0x8 {
            // Close, ping, pong: they deliver nothing, but a client that
            // reads no frames itself must answer the server's.
            em.bytes(dir, ByteClass::Control, header);
            em.bytes(dir, ByteClass::Control, body);
            if dir == Direction::Received {
                match opcode {
                    0x8 => em.event(WireEvent::Peer(PeerSignal::WsClose(&unmasked(body, mask)))),
                    0x9 => em.event(WireEvent::Peer(PeerSignal::WsPing(&unmasked(body, mask)))),
                    _ => {}
                }
            }
            return;
        }
        if self.kind == TargetKind::Socketio {
            // One Engine.IO packet per frame (`engine_io`).
            book_frame(dir, opcode, header, body, &unmasked(body, mask), em);
            return;
        }
        if dir == Direction::Sent {
            // A client data frame publishes its body as an event payload.
            em.bytes(dir, ByteClass::Framing, header);
            em.bytes(dir, ByteClass::Payload, body);
            return;
        }
        let unmasked = unmasked(body, mask);
        let decoded = match (self.kind, opcode) {
            (_, 0x1) => decode_json_located(&unmasked),
            (_, 0x2) => match decode_binary(&unmasked) {
                Ok(r @ Received::Event { envelope_len, .. }) => {
                    Some((r, Some(envelope_len..unmasked.len())))
                }
                Ok(r) => Some((r, None)),
                Err(_) => None,
            },
            _ => None,
        };
        match decoded {
            Some((received, Some(payload))) => {
                em.bytes(dir, ByteClass::Framing, header);
                em.split(dir, body, payload);
                em.message(received);
            }
            Some((received, None)) => {
                em.bytes(dir, ByteClass::Control, header);
                em.bytes(dir, ByteClass::Control, body);
                em.message(received);
            }
            None => {
                em.bytes(dir, ByteClass::Framing, header);
                em.bytes(dir, ByteClass::Control, body);
                em.event(WireEvent::Malformed {
                    direction: dir,
                    reason: "WebSocket message is neither an event nor a gap",
                });
            }
        }
    }

    pub(crate) fn flush_partial<F: FnMut(WireEvent<'_>)>(&mut self, em: &mut Emitter<'_, F>) {
        em.bytes(
            self.direction,
            ByteClass::Control,
            &std::mem::take(&mut self.header),
        );
        em.bytes(
            self.direction,
            ByteClass::Control,
            &std::mem::take(&mut self.body_bytes),
        );
        self.body = None;
    }
}

/// A frame's body with its mask (if any) taken off; borrowed when it had
/// none (every frame a server sends).
fn unmasked(body: &[u8], mask: Option<[u8; 4]>) -> Cow<'_, [u8]> {
    let Some(key) = mask else {
        return Cow::Borrowed(body);
    };
    let mut unmasked = body.to_vec();
    for (i, b) in unmasked.iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
    Cow::Owned(unmasked)
}
