//! Engine.IO v4 and Socket.IO 4 on the wire: the `socketio` target kind's
//! dialect, on both of Engine.IO's transports.
//!
//! Engine.IO frames everything as packets, a type digit then data: `0` open
//! (its JSON names the session, `{"sid":...}`), `1` close, `2` ping, `3`
//! pong, `4` message, `5` upgrade, `6` noop. A `4` message carries a
//! Socket.IO packet, again a type digit first: `0` connect (`40`, and the
//! server's `40{"sid":...}` acknowledging it), `1` disconnect, `2` event
//! (`42["name",arg,...]`, optionally `/namespace,` and an ack id before the
//! array), `3` ack, `4` connect error. Over HTTP long polling a response
//! body is a payload of packets separated by the record separator `\x1e`;
//! over WebSocket each text frame is one packet.
//!
//! Classes (every received byte in one, as everywhere in `wire`):
//! - An event packet whose first argument is a pushbench event (the target
//!   program emits the published event's JSON as an object, so it is on
//!   the wire verbatim): the event's payload bytes are `payload`; the
//!   type digits, the `["name",` wrapper, the event's JSON envelope, the
//!   closing `]`, the `\x1e` before the packet in a poll payload and the
//!   WebSocket frame header are `framing`.
//! - Every other packet (open, ping, pong, connect and its answer, noop,
//!   close, upgrade, an event without a pushbench event) and the `\x1e`
//!   before it is `control`, with its frame header; so is Engine.IO's `ok`
//!   answer to a POST. A poll answer that delivers no event is `control` as
//!   a whole with its request (the classifier's poll exchange hold).
//! - What the client sends (`40`, `3`, in a POST body or a frame) answers
//!   the server and delivers nothing: `control`, frame header included.
//!
//! The open packet tells the client its session ([`PeerSignal::Session`]),
//! named by its later polls; a ping asks for a pong ([`PeerSignal::Ping`]).

use std::ops::Range;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::emit::{Direction, Emitter, MAX_MESSAGE, PeerSignal, WireError, WireEvent};
use super::event_json::decode_json_located;
use crate::event::Received;
use crate::ledger::ByteClass;

/// What separates the packets of a polling payload (ASCII record separator).
pub(crate) const PACKET_SEPARATOR: u8 = 0x1e;

/// Engine.IO's body of a successful POST (the packets it carried were taken).
const POST_ANSWER: &[u8] = b"ok";

/// One Engine.IO packet, read.
#[derive(Debug, PartialEq, Eq)]
enum Packet<'a> {
    /// `0{"sid":...}`: the handshake, naming the session.
    Open(&'a str),
    /// `2`: a ping, to answer with a pong.
    Ping,
    /// A Socket.IO event whose first argument is a pushbench event: what
    /// it decodes to, and where its payload bytes are in the packet.
    Event(Received, Range<usize>),
    /// A Socket.IO event whose first argument is a gap marker.
    Gap(Received),
    /// A packet that delivers nothing (pong, connect, ack, noop, close,
    /// upgrade, a message of no event), or Engine.IO's `ok`.
    Control,
    /// Not a packet of the dialect.
    Malformed(&'static str),
}

#[derive(Deserialize)]
struct Open<'a> {
    #[serde(borrow)]
    sid: &'a str,
}

/// Reads one Engine.IO packet (a whole frame, or a poll payload's piece).
fn read_packet(packet: &[u8]) -> Packet<'_> {
    match packet {
        b"" => Packet::Malformed("empty Engine.IO packet"),
        POST_ANSWER => Packet::Control,
        [b'0', json @ ..] => match serde_json::from_slice::<Open<'_>>(json) {
            Ok(open) => Packet::Open(open.sid),
            Err(_) => Packet::Malformed("Engine.IO open packet without a sid"),
        },
        // `2probe` is the ping of a transport upgrade's probe, answered on
        // that transport: only a plain `2` asks this client for a pong.
        [b'2'] => Packet::Ping,
        [b'4', b'2', rest @ ..] => read_event(packet, packet.len() - rest.len()),
        [b'1' | b'2' | b'3' | b'4' | b'5' | b'6', ..] => Packet::Control,
        _ => Packet::Malformed("not an Engine.IO packet"),
    }
}

/// Reads the Socket.IO event in `packet` whose data (after `42`) starts at
/// `at`: `[/namespace,][ack id]["name",arg,...]`.
fn read_event(packet: &[u8], mut at: usize) -> Packet<'_> {
    if packet.get(at) == Some(&b'/') {
        match packet[at..].iter().position(|&b| b == b',') {
            Some(comma) => at += comma + 1,
            None => return Packet::Malformed("Socket.IO namespace without its comma"),
        }
    }
    at += packet[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let array = &packet[at..];
    let Ok(args) = serde_json::from_slice::<Vec<&RawValue>>(array) else {
        return Packet::Malformed("Socket.IO event is not a JSON array");
    };
    let (Some(name), Some(first)) = (args.first(), args.get(1)) else {
        // An event with no argument carries no pushbench event.
        return Packet::Control;
    };
    if !name.get().starts_with('"') {
        return Packet::Malformed("Socket.IO event name is not a string");
    }
    let json = first.get().as_bytes();
    let Some(offset) = (json.as_ptr() as usize).checked_sub(packet.as_ptr() as usize) else {
        return Packet::Malformed("Socket.IO event argument outside its packet");
    };
    match decode_json_located(json) {
        Some((
            Received::Event {
                seq,
                created_us,
                payload_len,
                ..
            },
            Some(payload),
        )) => Packet::Event(
            // The envelope is everything of the packet but the payload.
            Received::Event {
                seq,
                created_us,
                payload_len,
                envelope_len: packet.len() - payload_len,
            },
            offset + payload.start..offset + payload.end,
        ),
        Some((gap @ Received::Gap(_), _)) => Packet::Gap(gap),
        Some((Received::Event { .. }, None)) | None => {
            Packet::Malformed("Socket.IO event argument is not a pushbench event")
        }
    }
}

/// Books one received packet with the bytes that frame it on the wire
/// before it (`prefix`: a WebSocket frame header, or the `\x1e` before it
/// in a poll payload), and reports what it means. `wire` is the packet as
/// it crossed the socket, `plain` the same bytes unmasked (equal but for a
/// masked frame).
fn book_packet<F: FnMut(WireEvent<'_>)>(
    prefix: &[u8],
    wire: &[u8],
    plain: &[u8],
    em: &mut Emitter<'_, F>,
) {
    const DIR: Direction = Direction::Received;
    let read = read_packet(plain);
    let class = match read {
        Packet::Event(..) => ByteClass::Framing,
        _ => ByteClass::Control,
    };
    em.bytes(DIR, class, prefix);
    match read {
        Packet::Event(received, payload) => {
            em.split(DIR, wire, payload);
            em.message(received);
        }
        Packet::Gap(gap) => {
            em.bytes(DIR, ByteClass::Control, wire);
            em.message(gap);
        }
        Packet::Open(sid) => {
            em.bytes(DIR, ByteClass::Control, wire);
            em.event(WireEvent::Peer(PeerSignal::Session(sid)));
        }
        Packet::Ping => {
            em.bytes(DIR, ByteClass::Control, wire);
            em.event(WireEvent::Peer(PeerSignal::Ping));
        }
        Packet::Control => em.bytes(DIR, ByteClass::Control, wire),
        Packet::Malformed(reason) => {
            em.bytes(DIR, ByteClass::Control, wire);
            em.event(WireEvent::Malformed {
                direction: DIR,
                reason,
            });
        }
    }
}

/// Books one WebSocket frame of an Engine.IO connection: `header` and
/// `body` as on the wire, `plain` the body unmasked.
pub(super) fn book_frame<F: FnMut(WireEvent<'_>)>(
    direction: Direction,
    opcode: u8,
    header: &[u8],
    body: &[u8],
    plain: &[u8],
    em: &mut Emitter<'_, F>,
) {
    if direction == Direction::Sent || opcode != 0x1 {
        // The client's connect and pongs; binary frames (Socket.IO's
        // attachments, which a pushbench event never needs).
        em.bytes(direction, ByteClass::Control, header);
        em.bytes(direction, ByteClass::Control, body);
        return;
    }
    book_packet(header, body, plain, em);
}

/// A polling response body: Engine.IO packets separated by `\x1e`,
/// buffered whole (its exchange is held until the answer ends anyway).
#[derive(Debug, Default)]
pub(crate) struct PollPayload {
    body: Vec<u8>,
}

impl PollPayload {
    /// Takes body bytes.
    pub(super) fn feed(&mut self, bytes: &[u8]) -> Result<(), WireError> {
        self.body.extend_from_slice(bytes);
        if self.body.len() > MAX_MESSAGE {
            return Err(WireError::TooLarge(self.body.len() as u64));
        }
        Ok(())
    }

    /// The body ended: books its packets.
    pub(super) fn end<F: FnMut(WireEvent<'_>)>(self, em: &mut Emitter<'_, F>) {
        if self.body.is_empty() {
            return;
        }
        let mut prefix: &[u8] = &[];
        for packet in self.body.split(|&b| b == PACKET_SEPARATOR) {
            book_packet(prefix, packet, packet, em);
            prefix = &[PACKET_SEPARATOR];
        }
    }

    /// The body was cut short: what it holds is control.
    pub(super) fn flush_partial<F: FnMut(WireEvent<'_>)>(self, em: &mut Emitter<'_, F>) {
        em.bytes(Direction::Received, ByteClass::Control, &self.body);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{Outcome, Segments, assert_booked_once, run_kind, seg};
    use super::*;
    use crate::target_kind::TargetKind;
    use crate::transport::Transport;

    use ByteClass::{Control, Framing, Handshake, Payload, RequestHeaders, ResponseHeaders};
    use Direction::{Received as R, Sent as S};

    /// Classifies `script` as a `socketio` connection of `transport`, fed
    /// whole and one byte at a time: both agree, every byte is booked
    /// once, no protocol error.
    fn check(transport: Transport, script: &[(Direction, Vec<u8>)]) -> Outcome {
        let whole = run_kind(TargetKind::Socketio, transport, script, false);
        let bytewise = run_kind(TargetKind::Socketio, transport, script, true);
        assert_eq!(
            whole, bytewise,
            "byte-at-a-time feed classifies differently"
        );
        assert_booked_once(script, &whole);
        assert_eq!(whole.errors, vec![], "feed");
        whole
    }

    fn script(steps: &[(Direction, &[u8])]) -> Vec<(Direction, Vec<u8>)> {
        steps.iter().map(|(d, b)| (*d, b.to_vec())).collect()
    }

    fn event(seq: u64) -> Received {
        // `42["event",{"seq":N,"topic":"t0","created_us":...,"payload":"..."}]`
        // of the captures: 93 bytes, 16 of them payload.
        Received::Event {
            seq,
            created_us: 1_764_576_000_000_000 + seq,
            payload_len: 16,
            envelope_len: 93 - 16,
        }
    }

    /// The response head socket.io 4.8.4 (engine.io 6.6.13) sends with a
    /// poll answer of `len` bytes, as captured.
    fn poll_head(len: usize) -> Vec<u8> {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: {len}\r\ncache-control: no-store\r\nDate: Fri, 04 Dec 2026 12:41:39 GMT\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n"
        )
        .into_bytes()
    }

    /// Its answer to a POST: `ok`.
    const POST_OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\ncache-control: no-store\r\nDate: Fri, 04 Dec 2026 12:41:39 GMT\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\nok";

    const HANDSHAKE_GET: &[u8] =
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nhost: 127.0.0.1:39105\r\n\r\n";
    const OPEN: &[u8] = br#"0{"sid":"3aP0a7QDpRAkLsf7AAAA","upgrades":["websocket"],"pingInterval":1500,"pingTimeout":20000,"maxPayload":1000000}"#;
    const POST_CONNECT: &[u8] = b"POST /socket.io/?EIO=4&transport=polling&sid=3aP0a7QDpRAkLsf7AAAA HTTP/1.1\r\nhost: 127.0.0.1:39105\r\ncontent-length: 2\r\n\r\n40";
    const POLL: &[u8] = b"GET /socket.io/?EIO=4&transport=polling&sid=3aP0a7QDpRAkLsf7AAAA HTTP/1.1\r\nhost: 127.0.0.1:39105\r\n\r\n";
    const CONNECTED: &[u8] = br#"40{"sid":"XyZSReSFWiJujozLAAAA"}"#;
    const POST_PONG: &[u8] = b"POST /socket.io/?EIO=4&transport=polling&sid=3aP0a7QDpRAkLsf7AAAA HTTP/1.1\r\nhost: 127.0.0.1:39105\r\ncontent-length: 1\r\n\r\n3";

    /// Event `seq`'s packet, as the target program relays it: split where
    /// its payload starts and ends.
    fn event_packet(seq: u64) -> [String; 3] {
        [
            format!(
                r#"42["event",{{"seq":{seq},"topic":"t0","created_us":{},"payload":""#,
                1_764_576_000_000_000 + seq
            ),
            "abcdefghijklmnop".into(),
            r#""}]"#.into(),
        ]
    }

    fn answer(body: &[u8]) -> Vec<u8> {
        [poll_head(body.len()), body.to_vec()].concat()
    }

    #[test]
    fn a_polling_session_opens_connects_delivers_and_answers_a_ping() {
        // Captured from scripts/targets/socketio (--ping-interval 1500):
        // the handshake, the connect, its answer, one event, two events
        // in one answer, a ping and its pong.
        let [a1, p1, z1] = event_packet(1);
        let one = [a1.as_bytes(), p1.as_bytes(), z1.as_bytes()].concat();
        let [a2, p2, z2] = event_packet(2);
        let [a3, p3, z3] = event_packet(3);
        let two = [
            &[a2.as_bytes(), p2.as_bytes(), z2.as_bytes()].concat()[..],
            b"\x1e",
        ]
        .concat();
        let two = [
            two,
            a3.clone().into_bytes(),
            p3.clone().into_bytes(),
            z3.clone().into_bytes(),
        ]
        .concat();
        assert_eq!(one.len(), 93);
        assert_eq!(two.len(), 187);
        let steps = script(&[
            (S, HANDSHAKE_GET),
            (R, &answer(OPEN)),
            (S, POST_CONNECT),
            (R, POST_OK),
            (S, POLL),
            (R, &answer(CONNECTED)),
            (S, POLL),
            (R, &answer(&one)),
            (S, POLL),
            (R, &answer(&two)),
            (S, POLL),
            (R, &answer(b"2")),
            (S, POST_PONG),
            (R, POST_OK),
        ]);
        let out = check(Transport::LongPoll, &steps);
        let mut want: Segments = Vec::new();
        // Open, connect and its answer deliver nothing: control, requests
        // and all.
        for (request, response) in [
            (HANDSHAKE_GET, answer(OPEN)),
            (POST_CONNECT, POST_OK.to_vec()),
            (POLL, answer(CONNECTED)),
        ] {
            want.push(seg(S, Control, request));
            want.push(seg(R, Control, response));
        }
        want.extend([
            seg(S, RequestHeaders, POLL),
            seg(R, ResponseHeaders, poll_head(93)),
            seg(R, Framing, &a1),
            seg(R, Payload, &p1),
            seg(R, Framing, &z1),
            seg(S, RequestHeaders, POLL),
            seg(R, ResponseHeaders, poll_head(187)),
            seg(R, Framing, &a2),
            seg(R, Payload, &p2),
            // The separator frames the event packet after it.
            seg(R, Framing, format!("{z2}\x1e{a3}")),
            seg(R, Payload, &p3),
            seg(R, Framing, &z3),
            seg(S, Control, POLL),
            seg(R, Control, answer(b"2")),
            seg(S, Control, POST_PONG),
            seg(R, Control, POST_OK),
        ]);
        assert_eq!(out.segments, want);
        assert_eq!(out.messages, vec![event(1), event(2), event(3)]);
        assert_eq!(out.peer, vec![r#"Session("3aP0a7QDpRAkLsf7AAAA")"#, "Ping"]);
        assert_eq!(out.ends, vec![(200, None); 7]);
        assert_eq!(out.malformed, 0);
    }

    #[test]
    fn a_websocket_session_frames_one_packet_each() {
        // Captured from scripts/targets/socketio (--ping-interval 1000),
        // with a client masking with 01 02 03 04.
        let upgrade: &[u8] = b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nhost: 127.0.0.1:35997\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        let switched: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        let open: &[u8] = br#"0{"sid":"uTNl_CHsemQ3werjAAAA","upgrades":[],"pingInterval":1000,"pingTimeout":20000,"maxPayload":1000000}"#;
        let open = [&b"\x81j"[..], open].concat();
        let connect: &[u8] = b"\x81\x82\x01\x02\x03\x0452";
        let connected: &[u8] = b"\x81 40{\"sid\":\"SXaCcGhOiRlgyGJMAAAA\"}";
        let ping: &[u8] = b"\x81\x012";
        let pong: &[u8] = b"\x81\x81\x01\x02\x03\x042";
        let [a1, p1, z1] = event_packet(1);
        let [a2, p2, z2] = event_packet(2);
        let frame = |a: &str, p: &str, z: &str| {
            [b"\x81]", a.as_bytes(), p.as_bytes(), z.as_bytes()].concat()
        };
        let steps = script(&[
            (S, upgrade),
            (R, switched),
            (R, &open),
            (S, connect),
            (R, connected),
            (R, &frame(&a1, &p1, &z1)),
            (R, ping),
            (S, pong),
            (R, &frame(&a2, &p2, &z2)),
        ]);
        let out = check(Transport::Ws, &steps);
        let want = vec![
            seg(S, Handshake, upgrade),
            seg(R, Handshake, switched),
            seg(R, Control, &open),
            seg(S, Control, connect),
            seg(R, Control, connected),
            seg(R, Framing, [&b"\x81]"[..], a1.as_bytes()].concat()),
            seg(R, Payload, &p1),
            seg(R, Framing, &z1),
            seg(R, Control, ping),
            seg(S, Control, pong),
            seg(R, Framing, [&b"\x81]"[..], a2.as_bytes()].concat()),
            seg(R, Payload, &p2),
            seg(R, Framing, &z2),
        ];
        assert_eq!(out.segments, want);
        assert_eq!(out.messages, vec![event(1), event(2)]);
        assert_eq!(out.peer, vec![r#"Session("uTNl_CHsemQ3werjAAAA")"#, "Ping"]);
        assert_eq!(out.malformed, 0);
    }

    #[test]
    fn a_poll_answer_with_a_ping_and_an_event_books_each_packet() {
        let [a, p, z] = event_packet(7);
        let body = format!("2\x1e{a}{p}{z}");
        let steps = script(&[(S, POLL), (R, &answer(body.as_bytes()))]);
        let out = check(Transport::LongPoll, &steps);
        assert_eq!(
            out.segments,
            vec![
                seg(S, RequestHeaders, POLL),
                seg(R, ResponseHeaders, poll_head(body.len())),
                seg(R, Control, "2"),
                seg(R, Framing, format!("\x1e{a}")),
                seg(R, Payload, &p),
                seg(R, Framing, &z),
            ]
        );
        assert_eq!(out.messages, vec![event(7)]);
        assert_eq!(out.peer, vec!["Ping"]);
    }

    #[test]
    fn packets_are_read_by_their_type_digits() {
        let [a, p, z] = event_packet(3);
        let plain = format!("{a}{p}{z}");
        let start = a.len();
        let Packet::Event(received, range) = read_packet(plain.as_bytes()) else {
            panic!("not an event: {:?}", read_packet(plain.as_bytes()));
        };
        assert_eq!((received, range), (event(3), start..start + 16));
        // A namespace and an ack id before the array.
        let named = format!("42/chat,17{}{p}{z}", &a[2..]);
        let Packet::Event(_, range) = read_packet(named.as_bytes()) else {
            panic!("namespaced event not read");
        };
        assert_eq!(&named[range], p);
        let gap = br#"42["event",{"gap":{"from":1,"to":4}}]"#;
        assert!(matches!(read_packet(gap), Packet::Gap(Received::Gap(_))));
        assert_eq!(read_packet(b"2"), Packet::Ping);
        assert_eq!(read_packet(br#"0{"sid":"abc"}"#), Packet::Open("abc"));
        for control in [
            &b"2probe"[..],
            b"3",
            b"3probe",
            b"5",
            b"6",
            b"1",
            b"40",
            br#"40{"sid":"x"}"#,
            b"41",
            br#"42["event"]"#,
            b"ok",
        ] {
            assert_eq!(read_packet(control), Packet::Control, "{control:?}");
        }
        for bad in [
            &b""[..],
            b"x",
            b"0{}",
            b"42",
            b"42/chat",
            br#"42["event",{"seq":1}]"#,
            br#"42[7,{"seq":1}]"#,
        ] {
            assert!(matches!(read_packet(bad), Packet::Malformed(_)), "{bad:?}");
        }
    }

    #[test]
    fn a_broken_packet_is_control_and_reported() {
        let steps = script(&[(S, POLL), (R, &answer(b"9nonsense"))]);
        let out = check(Transport::LongPoll, &steps);
        assert_eq!(
            out.segments,
            vec![seg(S, Control, POLL), seg(R, Control, answer(b"9nonsense"))]
        );
        assert_eq!(out.malformed, 1);
    }
}
