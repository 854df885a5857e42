//! Byte-exact classification of hand-built HTTP/2 exchanges, fed whole, one
//! byte at a time and in pieces of every size up to a frame header and
//! more; the DATA bodies are checked against the HTTP/1.1 classifier.

use std::collections::BTreeMap;

use loona_hpack::Encoder;

use super::*;
use crate::wire::Classifier;
use crate::wire::tests::{event, received};
use crate::{ByteLedger, Gap, Received, gap_json};

use ByteClass::{Control, Framing, H2Frames, Handshake, Payload, RequestHeaders, ResponseHeaders};
use Direction::{Received as In, Sent as Out};

mod real_exchange;

const PING: u8 = 0x6;
const WINDOW_UPDATE: u8 = 0x8;
const GOAWAY: u8 = 0x7;

/// What a feed produced, per stream.
#[derive(Debug, Default, PartialEq)]
struct Outcome {
    /// Per stream, its segments in order (neighbours of one class merged).
    segments: BTreeMap<u32, Vec<(Direction, ByteClass, Vec<u8>)>>,
    messages: BTreeMap<u32, Vec<Received>>,
    heads: BTreeMap<u32, Vec<u16>>,
    ends: BTreeMap<u32, Vec<(u16, Option<u64>)>>,
    malformed: usize,
    errors: Vec<WireError>,
}

impl Outcome {
    /// Bytes of `class` in `direction`, all streams.
    fn sum(&self, direction: Direction, class: ByteClass) -> u64 {
        self.ledger(direction).get(class)
    }

    fn ledger(&self, direction: Direction) -> ByteLedger {
        let mut ledger = ByteLedger::default();
        for segs in self.segments.values() {
            for (d, c, b) in segs {
                if *d == direction {
                    ledger.add(*c, b.len() as u64);
                }
            }
        }
        ledger
    }

    /// Bytes of `class` in `direction` on `stream`.
    fn on(&self, stream: u32, direction: Direction, class: ByteClass) -> u64 {
        self.segments.get(&stream).map_or(0, |segs| {
            segs.iter()
                .filter(|(d, c, _)| *d == direction && *c == class)
                .map(|(_, _, b)| b.len() as u64)
                .sum()
        })
    }
}

/// Feeds `script`, each entry cut into reads of `piece` bytes (0: whole).
fn run(transport: Transport, script: &[(Direction, Vec<u8>)], piece: usize) -> Outcome {
    let mut out = Outcome::default();
    let mut classifier = H2Classifier::new(transport);
    let mut sink = |stream: u32, e: WireEvent<'_>| match e {
        WireEvent::Bytes {
            direction,
            class,
            bytes,
        } => {
            let segs = out.segments.entry(stream).or_default();
            match segs.last_mut() {
                Some((d, c, v)) if *d == direction && *c == class => v.extend_from_slice(bytes),
                _ => segs.push((direction, class, bytes.to_vec())),
            }
        }
        WireEvent::Message(m) => out.messages.entry(stream).or_default().push(m),
        WireEvent::ResponseHead { status } => out.heads.entry(stream).or_default().push(status),
        WireEvent::ResponseEnd { status, next } => {
            out.ends.entry(stream).or_default().push((status, next))
        }
        WireEvent::Malformed { .. } => out.malformed += 1,
        // Events that are no wire bytes (a content-coded body's decoded
        // bytes, on the coding branch) do not count here.
        #[allow(unreachable_patterns)]
        _ => {}
    };
    let mut errors = Vec::new();
    for (direction, bytes) in script {
        let reads: Vec<&[u8]> = if piece == 0 {
            vec![bytes]
        } else {
            bytes.chunks(piece).collect()
        };
        for read in reads {
            if let Err(e) = classifier.feed(*direction, read, &mut sink) {
                errors.push(e);
            }
        }
    }
    classifier.finish(&mut sink);
    assert_eq!(classifier.held, 0, "bytes left held after finish");
    out.errors = errors;
    out
}

/// Runs `script` whole and in pieces of 1 to 23 bytes, checks that every
/// split classifies alike and that every byte fed was booked once.
fn check_broken(transport: Transport, script: &[(Direction, Vec<u8>)]) -> Outcome {
    let whole = run(transport, script, 0);
    for piece in 1..24 {
        let split = run(transport, script, piece);
        assert_eq!(whole, split, "reads of {piece} bytes classify differently");
    }
    for dir in [Out, In] {
        let fed: u64 = script
            .iter()
            .filter(|(d, _)| *d == dir)
            .map(|(_, b)| b.len() as u64)
            .sum();
        assert_eq!(
            whole.ledger(dir).total(),
            fed,
            "{dir:?} bytes booked != fed"
        );
    }
    whole
}

/// [`check_broken`] for an exchange without a protocol error.
fn check(transport: Transport, script: &[(Direction, Vec<u8>)]) -> Outcome {
    let got = check_broken(transport, script);
    assert_eq!(got.errors, vec![], "feed");
    got
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("frame length");
    let mut f = len.to_be_bytes()[1..].to_vec();
    f.push(kind);
    f.push(flags);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A padded DATA frame: pad-length byte, data, `pad` zeros.
fn padded_data(flags: u8, stream: u32, data: &[u8], pad: u8) -> Vec<u8> {
    let mut payload = vec![pad];
    payload.extend_from_slice(data);
    payload.extend(std::iter::repeat_n(0, usize::from(pad)));
    frame(DATA, flags | FLAG_PADDED, stream, &payload)
}

/// HPACK encoders for both directions (their dynamic tables follow the
/// connection, as the decoders' do).
struct Hpack {
    client: Encoder<'static>,
    server: Encoder<'static>,
}

impl Hpack {
    fn new() -> Self {
        Hpack {
            client: Encoder::new(),
            server: Encoder::new(),
        }
    }

    fn block(&mut self, direction: Direction, fields: &[(&str, &str)]) -> Vec<u8> {
        let enc = match direction {
            Out => &mut self.client,
            In => &mut self.server,
        };
        enc.encode(fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
    }

    fn request(&mut self, path: &str) -> Vec<u8> {
        self.block(
            Out,
            &[
                (":method", "GET"),
                (":scheme", "http"),
                (":authority", "127.0.0.1"),
                (":path", path),
                ("accept", "*/*"),
            ],
        )
    }

    /// A GET's HEADERS frame (END_STREAM: no body) on stream `id`.
    fn get(&mut self, id: u32, path: &str) -> Vec<u8> {
        let block = self.request(path);
        frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, id, &block)
    }

    /// An extended CONNECT for a WebSocket (RFC 8441).
    fn connect(&mut self, path: &str) -> Vec<u8> {
        self.block(
            Out,
            &[
                (":method", "CONNECT"),
                (":protocol", "websocket"),
                (":scheme", "http"),
                (":path", path),
                (":authority", "127.0.0.1"),
                ("sec-websocket-version", "13"),
            ],
        )
    }

    fn response(&mut self, status: &str, content_type: &str) -> Vec<u8> {
        self.block(In, &[(":status", status), ("content-type", content_type)])
    }
}

/// The client's preface and SETTINGS, the server's SETTINGS and both ACKs.
fn handshake() -> Vec<(Direction, Vec<u8>)> {
    let mut client = PREFACE.to_vec();
    // ENABLE_PUSH=0, INITIAL_WINDOW_SIZE=1 MiB.
    client.extend(frame(
        SETTINGS,
        0,
        0,
        &[0, 2, 0, 0, 0, 0, 0, 4, 0, 0x10, 0, 0],
    ));
    let mut server = frame(SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100]);
    server.extend(frame(SETTINGS, FLAG_ACK, 0, &[]));
    vec![
        (Out, client),
        (In, server),
        (Out, frame(SETTINGS, FLAG_ACK, 0, &[])),
    ]
}

/// The handshake's bytes by class: (sent handshake, received handshake,
/// sent control, received control).
const HANDSHAKE_SENT: u64 = 24 + 9 + 12;
const HANDSHAKE_RECEIVED: u64 = 9 + 6;
const HANDSHAKE_ACK: u64 = 9;

/// The classes the HTTP/1.1 classifier gives `body` as a fixed-length 200
/// answer of `transport`, head excluded: the classes the same bytes must
/// get as DATA.
fn http1_body(transport: Transport, body: &[u8]) -> ByteLedger {
    let mut classifier = Classifier::new(transport);
    let mut ledger = ByteLedger::default();
    let mut sink = |e: WireEvent<'_>| {
        if let WireEvent::Bytes {
            direction: In,
            class,
            bytes,
        } = e
        {
            ledger.add(class, bytes.len() as u64);
        }
    };
    let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
    let mut bytes = head.clone().into_bytes();
    bytes.extend_from_slice(body);
    classifier
        .feed(Out, b"GET / HTTP/1.1\r\nhost: x\r\n\r\n", &mut sink)
        .expect("request");
    classifier.feed(In, &bytes, &mut sink).expect("response");
    classifier.finish(&mut sink);
    let mut body_ledger = ByteLedger::default();
    for class in [Framing, Payload, Control] {
        body_ledger.add(class, ledger.get(class));
    }
    if ledger.get(ResponseHeaders) > 0 {
        assert_eq!(ledger.get(ResponseHeaders), head.len() as u64);
    }
    body_ledger
}

/// `body` cut into DATA frames at `cuts` (offsets), the last with
/// END_STREAM.
fn data_frames(stream: u32, body: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut at = 0;
    for &cut in cuts.iter().chain(std::iter::once(&body.len())) {
        let flags = if cut == body.len() {
            FLAG_END_STREAM
        } else {
            0
        };
        frames.push(frame(DATA, flags, stream, &body[at..cut]));
        at = cut;
    }
    frames
}

fn sse_body(seqs: &[u64]) -> String {
    let mut body = String::from(": keep-alive\n\n");
    for &seq in seqs {
        body.push_str(&format!("id: {seq}\ndata: {}\n\n", event(seq).to_json()));
    }
    body.push_str(&format!("data: {}\n\n", gap_json(Gap { from: 90, to: 99 })));
    body
}

#[test]
fn handshake_is_preface_and_first_settings_acks_and_pings_are_control() {
    let mut script = handshake();
    let ping = frame(PING, 0, 0, &[1; 8]);
    let pong = frame(PING, FLAG_ACK, 0, &[1; 8]);
    let window = frame(WINDOW_UPDATE, 0, 0, &[0, 0, 0x10, 0]);
    let later = frame(SETTINGS, 0, 0, &[0, 4, 0, 0, 0xff, 0xff]);
    let goaway = frame(GOAWAY, 0, 0, &[0, 0, 0, 0, 0, 0, 0, 0]);
    script.push((Out, [ping.clone(), window.clone()].concat()));
    script.push((In, [pong.clone(), later.clone(), goaway.clone()].concat()));
    let got = check(Transport::Sse, &script);
    assert_eq!(got.sum(Out, Handshake), HANDSHAKE_SENT);
    assert_eq!(got.sum(In, Handshake), HANDSHAKE_RECEIVED);
    assert_eq!(got.sum(Out, Control), HANDSHAKE_ACK + 17 + 13);
    assert_eq!(got.sum(In, Control), HANDSHAKE_ACK + 17 + 15 + 17);
    assert_eq!(got.segments.keys().copied().collect::<Vec<_>>(), vec![0]);
}

#[test]
fn headers_padding_priority_and_continuation_are_h2_frames_block_is_headers() {
    let mut hpack = Hpack::new();
    let block = hpack.request("/stream?since=0");
    let (first, rest) = block.split_at(block.len() / 2);
    // PADDED + PRIORITY: pad length 3, 5 priority bytes, padding 3.
    let mut payload = vec![3, 0, 0, 0, 0, 16];
    payload.extend_from_slice(first);
    payload.extend_from_slice(&[0, 0, 0]);
    let headers = frame(
        HEADERS,
        FLAG_PADDED | FLAG_PRIORITY | FLAG_END_STREAM,
        1,
        &payload,
    );
    let continuation = frame(CONTINUATION, FLAG_END_HEADERS, 1, rest);
    let answer = hpack.response("200", "application/x-ndjson");
    let body = format!("{}\n{}\n", event(1).to_json(), event(2).to_json());
    let mut script = handshake();
    script.push((Out, [headers, continuation].concat()));
    let mut response = frame(HEADERS, FLAG_END_HEADERS, 1, &answer);
    // Padded DATA, cut inside the first line, then an empty END_STREAM.
    response.extend(padded_data(0, 1, &body.as_bytes()[..30], 7));
    response.extend(frame(DATA, 0, 1, &body.as_bytes()[30..]));
    response.extend(frame(DATA, FLAG_END_STREAM, 1, &[]));
    script.push((In, response));
    let got = check(Transport::Stream, &script);
    assert_eq!(got.on(1, Out, H2Frames), 9 + 1 + 5 + 3 + 9);
    assert_eq!(got.on(1, Out, RequestHeaders), block.len() as u64);
    assert_eq!(got.on(1, In, ResponseHeaders), answer.len() as u64);
    assert_eq!(got.on(1, In, H2Frames), 9 + (9 + 1 + 7) + 9);
    let h1 = http1_body(Transport::Stream, body.as_bytes());
    assert_eq!(got.on(1, In, Payload), h1.get(Payload));
    assert_eq!(got.on(1, In, Framing), h1.get(Framing));
    // The empty END_STREAM DATA frame, whole.
    assert_eq!(got.on(1, In, Control), h1.get(Control) + 9);
    assert_eq!(got.messages[&1], vec![received(1), received(2)]);
    assert_eq!(got.heads[&1], vec![200]);
    assert_eq!(got.ends[&1], vec![(200, None)]);
}

#[test]
fn huffman_request_of_rfc7541_c4_decodes() {
    // RFC 7541 C.4.1: GET http://www.example.com/ with Huffman strings.
    let block = [
        0x82, 0x86, 0x84, 0x41, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90,
        0xf4, 0xff,
    ];
    // C.4.2 and C.4.3 use the dynamic table C.4.1 filled.
    let second = [
        0x82, 0x86, 0x84, 0xbe, 0x58, 0x86, 0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf,
    ];
    let third = [
        0x82, 0x87, 0x85, 0xbf, 0x40, 0x88, 0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xa9, 0x7d, 0x7f, 0x89,
        0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xb8, 0xe8, 0xb4, 0xbf,
    ];
    let mut script = handshake();
    for (id, b) in [(1, &block[..]), (3, &second[..]), (5, &third[..])] {
        script.push((
            Out,
            frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, id, b),
        ));
    }
    let got = check(Transport::Sse, &script);
    assert_eq!(
        got.sum(Out, RequestHeaders),
        (block.len() + second.len() + third.len()) as u64
    );
    let mut decoder = Decoder::new();
    let fields = decoder.decode(&block).expect("decode");
    assert_eq!(
        fields[3],
        (b":authority".to_vec(), b"www.example.com".to_vec())
    );
    let fields = decoder.decode(&second).expect("decode");
    assert_eq!(fields[4], (b"cache-control".to_vec(), b"no-cache".to_vec()));
    let fields = decoder.decode(&third).expect("decode");
    assert_eq!(
        fields[4],
        (b"custom-key".to_vec(), b"custom-value".to_vec())
    );
}

/// A poll stream: request HEADERS (END_STREAM), answer HEADERS, `body` in
/// two DATA frames, the last with END_STREAM.
fn poll_stream(hpack: &mut Hpack, id: u32, status: &str, body: &str) -> [(Direction, Vec<u8>); 2] {
    let request = hpack.request("/poll?since=0");
    let answer = hpack.response(status, "application/json");
    let mut response = frame(HEADERS, FLAG_END_HEADERS, id, &answer);
    for f in data_frames(id, body.as_bytes(), &[body.len() / 3]) {
        response.extend(f);
    }
    [
        (
            Out,
            frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, id, &request),
        ),
        (In, response),
    ]
}

#[test]
fn empty_short_poll_stream_is_control_request_included() {
    let mut hpack = Hpack::new();
    let mut script = handshake();
    let empty = r#"{"events":[],"next":7,"gap":null}"#;
    script.extend(poll_stream(&mut hpack, 1, "200", empty));
    // An error answer delivers nothing either.
    script.extend(poll_stream(&mut hpack, 3, "503", r#"{"error":"busy"}"#));
    let got = check(Transport::ShortPoll, &script);
    for id in [1, 3] {
        let classes: Vec<ByteClass> = got.segments[&id].iter().map(|(_, c, _)| *c).collect();
        assert_eq!(classes, vec![Control, Control], "stream {id}: {classes:?}");
    }
    assert_eq!(got.ends[&1], vec![(200, Some(7))]);
    assert_eq!(got.ends[&3], vec![(503, None)]);
    assert_eq!(got.sum(Out, Handshake), HANDSHAKE_SENT);
    assert_eq!(got.sum(In, Handshake), HANDSHAKE_RECEIVED);
}

#[test]
fn poll_stream_that_delivered_events_keeps_its_classes() {
    let mut hpack = Hpack::new();
    let body = format!(
        r#"{{"events":[{},{}],"next":3,"gap":null}}"#,
        event(1).to_json(),
        event(2).to_json()
    );
    let mut script = handshake();
    let stream = poll_stream(&mut hpack, 1, "200", &body);
    let request_len = stream[0].1.len() as u64 - 9;
    let answer_len = (stream[1].1.len() - 9 - 9 - 9 - body.len()) as u64;
    script.extend(stream);
    let got = check(Transport::LongPoll, &script);
    let h1 = http1_body(Transport::LongPoll, body.as_bytes());
    assert_eq!(got.on(1, Out, H2Frames), 9);
    assert_eq!(got.on(1, Out, RequestHeaders), request_len);
    assert_eq!(got.on(1, In, ResponseHeaders), answer_len);
    assert_eq!(got.on(1, In, H2Frames), 9 * 3);
    assert_eq!(got.on(1, In, Payload), h1.get(Payload));
    assert_eq!(got.on(1, In, Framing), h1.get(Framing));
    assert_eq!(got.on(1, In, Control), 0);
    assert_eq!(got.messages[&1], vec![received(1), received(2)]);
    assert_eq!(got.ends[&1], vec![(200, Some(3))]);
}

#[test]
fn sse_over_data_split_across_frames_matches_http1() {
    let mut hpack = Hpack::new();
    let body = sse_body(&[1, 2, 3]);
    let mut script = handshake();
    script.push((Out, hpack.get(1, "/sse")));
    let answer = hpack.response("200", "text/event-stream");
    let mut response = frame(HEADERS, FLAG_END_HEADERS, 1, &answer);
    // Cuts mid-line, mid-payload and at a block boundary.
    let cuts = [3, 20, 21, 60, 100, body.len() - 1];
    let frames = data_frames(1, body.as_bytes(), &cuts);
    let n_frames = frames.len() as u64;
    for f in frames {
        response.extend(f);
    }
    script.push((In, response));
    let got = check(Transport::Sse, &script);
    let h1 = http1_body(Transport::Sse, body.as_bytes());
    assert_eq!(got.on(1, In, H2Frames), 9 + 9 * n_frames);
    assert_eq!(got.on(1, In, ResponseHeaders), answer.len() as u64);
    for class in [Payload, Framing, Control] {
        assert_eq!(got.on(1, In, class), h1.get(class), "{class:?}");
    }
    assert_eq!(
        got.messages[&1],
        vec![
            received(1),
            received(2),
            received(3),
            Received::Gap(Gap { from: 90, to: 99 })
        ]
    );
}

#[test]
fn two_interleaved_sse_streams_keep_their_own_events() {
    let mut hpack = Hpack::new();
    let mut script = handshake();
    let bodies = [sse_body(&[1, 2]), sse_body(&[5, 6, 7])];
    for id in [1, 3] {
        script.push((Out, hpack.get(id, "/sse")));
    }
    let mut response = Vec::new();
    for id in [1, 3] {
        let answer = hpack.response("200", "text/event-stream");
        response.extend(frame(HEADERS, FLAG_END_HEADERS, id, &answer));
    }
    // Alternate 25-byte DATA frames of the two streams.
    let chunks: Vec<Vec<&[u8]>> = bodies
        .iter()
        .map(|b| b.as_bytes().chunks(25).collect())
        .collect();
    for i in 0..chunks[0].len().max(chunks[1].len()) {
        for (s, id) in [(0, 1), (1, 3)] {
            if let Some(chunk) = chunks[s].get(i) {
                let last = i + 1 == chunks[s].len();
                response.extend(frame(
                    DATA,
                    if last { FLAG_END_STREAM } else { 0 },
                    id,
                    chunk,
                ));
            }
        }
    }
    script.push((In, response));
    let got = check(Transport::Sse, &script);
    for (s, id) in [(0, 1), (1, 3)] {
        let h1 = http1_body(Transport::Sse, bodies[s].as_bytes());
        for class in [Payload, Framing, Control] {
            assert_eq!(
                got.on(id, In, class),
                h1.get(class),
                "stream {id} {class:?}"
            );
        }
        assert_eq!(got.on(id, In, H2Frames), 9 * (1 + chunks[s].len() as u64));
    }
    assert_eq!(
        got.messages[&1],
        vec![
            received(1),
            received(2),
            Received::Gap(Gap { from: 90, to: 99 })
        ]
    );
    assert_eq!(
        got.messages[&3],
        vec![
            received(5),
            received(6),
            received(7),
            Received::Gap(Gap { from: 90, to: 99 })
        ]
    );
    assert_eq!(got.ends[&1], vec![(200, None)]);
    assert_eq!(got.ends[&3], vec![(200, None)]);
}

#[test]
fn reset_long_poll_is_control_and_reset_stream_books_its_partial_event() {
    let mut hpack = Hpack::new();
    let mut script = handshake();
    let request = hpack.request("/longpoll?since=4&timeout=30");
    script.push((
        Out,
        frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, 1, &request),
    ));
    // The client gives up: RST_STREAM(CANCEL).
    script.push((Out, frame(RST_STREAM, 0, 1, &[0, 0, 0, 8])));
    let got = check(Transport::LongPoll, &script);
    assert_eq!(got.on(1, Out, Control), (9 + request.len() + 13) as u64);
    assert_eq!(got.ends[&1], vec![(0, None)]);

    // An SSE stream reset by the server mid-event.
    let mut hpack = Hpack::new();
    let mut script = handshake();
    script.push((Out, hpack.get(1, "/sse")));
    let answer = hpack.response("200", "text/event-stream");
    let body = sse_body(&[1]);
    let cut = body.find("data: {").expect("event") + 10;
    let mut response = frame(HEADERS, FLAG_END_HEADERS, 1, &answer);
    response.extend(frame(DATA, 0, 1, &body.as_bytes()[..cut]));
    response.extend(frame(RST_STREAM, 0, 1, &[0, 0, 0, 2]));
    // A late WINDOW_UPDATE for the forgotten stream.
    script.push((In, response));
    script.push((Out, frame(WINDOW_UPDATE, 0, 1, &[0, 0, 1, 0])));
    let got = check(Transport::Sse, &script);
    // The keep-alive comment, the partial event block and the reset.
    assert_eq!(got.on(1, In, Control), (cut + 13) as u64);
    assert_eq!(got.on(1, Out, Control), 13);
    assert_eq!(got.ends[&1], vec![(200, None)]);
    assert!(!got.messages.contains_key(&1));
}

/// A masked client WebSocket frame.
fn ws_client_frame(opcode: u8, body: &[u8]) -> Vec<u8> {
    let key = [0x11, 0x22, 0x33, 0x44];
    assert!(body.len() < 126);
    let mut f = vec![0x80 | opcode, 0x80 | body.len() as u8];
    f.extend_from_slice(&key);
    f.extend(body.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

/// An unmasked server WebSocket frame.
fn ws_server_frame(opcode: u8, body: &[u8]) -> Vec<u8> {
    let mut f = vec![0x80 | opcode];
    if body.len() < 126 {
        f.push(body.len() as u8);
    } else {
        f.push(126);
        f.extend_from_slice(&u16::try_from(body.len()).expect("short").to_be_bytes());
    }
    f.extend_from_slice(body);
    f
}

#[test]
fn websocket_over_extended_connect_books_like_http1_websocket() {
    let mut hpack = Hpack::new();
    let mut script = handshake();
    let connect = hpack.connect("/ws?since=0");
    script.push((Out, frame(HEADERS, FLAG_END_HEADERS, 1, &connect)));
    let answer = hpack.block(In, &[(":status", "200")]);
    let text = event(1).to_json();
    let server_frames = [
        ws_server_frame(0x1, text.as_bytes()),
        ws_server_frame(0x9, b"hi"),
        ws_server_frame(0x1, event(2).to_json().as_bytes()),
    ]
    .concat();
    let mut response = frame(HEADERS, FLAG_END_HEADERS, 1, &answer);
    // The server's frames cut across two DATA frames mid-frame.
    response.extend(frame(DATA, 0, 1, &server_frames[..40]));
    response.extend(frame(DATA, 0, 1, &server_frames[40..]));
    script.push((In, response));
    let publish = br#"{"topic":"t0","payload":"abc"}"#;
    let client_frames = [
        ws_client_frame(0x1, publish),
        ws_client_frame(0xA, b"hi"),
        ws_client_frame(0x8, &[3, 232]),
    ]
    .concat();
    script.push((Out, frame(DATA, FLAG_END_STREAM, 1, &client_frames)));
    script.push((
        In,
        frame(DATA, FLAG_END_STREAM, 1, &ws_server_frame(0x8, &[3, 232])),
    ));
    let got = check(Transport::Ws, &script);
    assert_eq!(got.on(1, Out, Handshake), connect.len() as u64);
    assert_eq!(got.on(1, In, Handshake), answer.len() as u64);
    assert_eq!(got.on(1, Out, H2Frames), 9 + 9);
    assert_eq!(got.on(1, In, H2Frames), 9 * 4);
    // Client: data frame header+mask framing, body payload; pong, close control.
    assert_eq!(got.on(1, Out, Framing), 6);
    assert_eq!(got.on(1, Out, Payload), publish.len() as u64);
    assert_eq!(got.on(1, Out, Control), (6 + 2 + 6 + 2) as u64);
    // Server: events split as over HTTP/1.1, ping and close control.
    let (p1, p2) = (event(1).payload.len(), event(2).payload.len());
    assert_eq!(got.on(1, In, Payload), (p1 + p2) as u64);
    assert_eq!(got.on(1, In, Control), (2 + 2 + 2 + 2) as u64);
    assert_eq!(
        got.on(1, In, Framing),
        (2 + text.len() - p1 + 2 + event(2).to_json().len() - p2) as u64
    );
    assert_eq!(got.messages[&1], vec![received(1), received(2)]);
    assert_eq!(got.ends[&1], vec![(200, None)]);
}

#[test]
fn websocket_refused_answer_is_response_headers_and_opaque_body() {
    let mut hpack = Hpack::new();
    let mut script = handshake();
    let connect = hpack.connect("/ws");
    script.push((Out, frame(HEADERS, FLAG_END_HEADERS, 1, &connect)));
    let answer = hpack.response("400", "application/json");
    let mut response = frame(HEADERS, FLAG_END_HEADERS, 1, &answer);
    response.extend(frame(DATA, FLAG_END_STREAM, 1, br#"{"error":"bad"}"#));
    script.push((In, response));
    let got = check(Transport::Ws, &script);
    assert_eq!(got.on(1, In, ResponseHeaders), answer.len() as u64);
    assert_eq!(got.on(1, In, Control), 15);
    assert_eq!(got.ends[&1], vec![(400, None)]);
}

#[test]
fn trailers_and_push_promise_are_control() {
    let mut hpack = Hpack::new();
    let mut script = handshake();
    script.push((Out, hpack.get(1, "/stream")));
    let answer = hpack.response("200", "application/x-ndjson");
    let line = format!("{}\n", event(1).to_json());
    let mut response = frame(HEADERS, FLAG_END_HEADERS, 1, &answer);
    // A PUSH_PROMISE (padded, split over a CONTINUATION) for stream 2.
    let promised = hpack.block(In, &[(":method", "GET"), (":path", "/pushed")]);
    let mut push = vec![2, 0, 0, 0, 2];
    push.extend_from_slice(&promised[..3]);
    push.extend_from_slice(&[0, 0]);
    response.extend(frame(PUSH_PROMISE, FLAG_PADDED, 1, &push));
    response.extend(frame(CONTINUATION, FLAG_END_HEADERS, 1, &promised[3..]));
    response.extend(frame(DATA, 0, 1, line.as_bytes()));
    let trailers = hpack.block(In, &[("grpc-status", "0")]);
    response.extend(frame(
        HEADERS,
        FLAG_END_HEADERS | FLAG_END_STREAM,
        1,
        &trailers,
    ));
    script.push((In, response));
    let got = check(Transport::Stream, &script);
    let push_len = 9 + push.len() + 9 + promised.len() - 3;
    assert_eq!(got.on(1, In, Control), (push_len + trailers.len()) as u64);
    assert_eq!(got.on(1, In, H2Frames), 9 * 3);
    assert_eq!(got.messages[&1], vec![received(1)]);
    assert_eq!(got.ends[&1], vec![(200, None)]);
}

#[test]
fn request_body_is_payload() {
    let mut hpack = Hpack::new();
    let mut script = handshake();
    let block = hpack.block(
        Out,
        &[
            (":method", "POST"),
            (":path", "/publish"),
            ("content-length", "5"),
        ],
    );
    script.push((Out, frame(HEADERS, FLAG_END_HEADERS, 1, &block)));
    script.push((Out, padded_data(FLAG_END_STREAM, 1, b"hello", 2)));
    let got = check(Transport::Sse, &script);
    assert_eq!(got.on(1, Out, Payload), 5);
    assert_eq!(got.on(1, Out, H2Frames), 9 + 9 + 1 + 2);
}

#[test]
fn a_direction_ended_mid_frame_books_the_rest_as_control() {
    let mut hpack = Hpack::new();
    let mut script = handshake();
    let request = hpack.get(1, "/sse");
    // A HEADERS frame cut short, then a frame header cut short.
    script.push((Out, request[..request.len() - 2].to_vec()));
    script.push((In, frame(PING, 0, 0, &[0; 8])[..5].to_vec()));
    let got = check(Transport::Sse, &script);
    assert_eq!(
        got.sum(Out, Control),
        HANDSHAKE_ACK + request.len() as u64 - 2
    );
    assert_eq!(got.sum(In, Control), HANDSHAKE_ACK + 5);
}

/// Runs a broken exchange: one error, every byte booked (the bytes after
/// the error as control, checked by the callers).
fn check_error(case: &str, script: &[(Direction, Vec<u8>)], expected: &WireError) -> Outcome {
    let got = check_broken(Transport::Sse, script);
    assert_eq!(
        got.errors.as_slice(),
        std::slice::from_ref(expected),
        "{case}"
    );
    got
}

/// The reliability line of a malformed-input case whose checks passed.
fn passed(case: &str, error: &WireError) {
    crate::reliability(
        "input/http2",
        case,
        &format!("error `{error}` once, every byte booked, no panic"),
    );
}

#[test]
fn bad_preface_is_an_error_and_every_byte_is_control() {
    let script = [
        (Out, b"GET / HTTP/1.1\r\nhost: x\r\n\r\n".to_vec()),
        (Out, frame(SETTINGS, 0, 0, &[])),
    ];
    let case = "bad preface (an HTTP/1.1 request)";
    let got = check_error(case, &script, &WireError::BadPreface);
    assert_eq!(got.sum(Out, Control), 27 + 9);
    passed(case, &WireError::BadPreface);
}

#[test]
fn frame_over_max_frame_size_is_an_error() {
    let mut script = handshake();
    let big = frame(DATA, 0, 1, &vec![0; 16_385]);
    script.push((In, big));
    let case = "DATA frame over SETTINGS_MAX_FRAME_SIZE";
    let error = WireError::FrameTooLarge {
        len: 16_385,
        max: 16_384,
    };
    let got = check_error(case, &script, &error);
    assert_eq!(got.sum(In, Control), HANDSHAKE_ACK + 9 + 16_385);

    // Once the client allows bigger frames, the same frame is fine.
    let mut script = handshake();
    script.push((Out, frame(SETTINGS, 0, 0, &[0, 5, 0, 1, 0, 0])));
    script.push((In, frame(DATA, 0, 1, &vec![0; 16_385])));
    let got = check(Transport::Sse, &script);
    // DATA on a stream never opened: its data delivers nothing.
    assert_eq!(got.sum(In, Control), HANDSHAKE_ACK + 16_385);
    assert_eq!(got.sum(In, H2Frames), 9);
    passed(case, &error);
}

#[test]
fn bad_hpack_is_an_error_and_the_block_is_control() {
    let mut script = handshake();
    // Indexed field 127 + 0x7f: past both tables.
    let block = [0xff, 0x7f];
    script.push((Out, frame(HEADERS, FLAG_END_HEADERS, 1, &block)));
    script.push((Out, frame(PING, 0, 0, &[0; 8])));
    let case = "HPACK index past the tables";
    let error = WireError::Hpack("Header index out of bounds".into());
    let got = check_error(case, &script, &error);
    assert_eq!(got.sum(Out, Control), HANDSHAKE_ACK + 2 + 17);
    assert_eq!(got.sum(Out, H2Frames), 9);
    passed(case, &error);

    // A Huffman string with bad padding.
    let mut script = handshake();
    script.push((
        In,
        frame(HEADERS, FLAG_END_HEADERS, 1, &[0x40, 0x81, 0x00, 0x80]),
    ));
    let got = check_broken(Transport::Sse, &script);
    assert_eq!(got.errors.len(), 1);
    assert!(
        matches!(got.errors[0], WireError::Hpack(_)),
        "{:?}",
        got.errors
    );
    assert_eq!(got.sum(In, Control), HANDSHAKE_ACK + 4);
    passed("HPACK Huffman string with bad padding", &got.errors[0]);
}

#[test]
fn framing_violations_are_errors() {
    let cases: [(&str, Vec<u8>, WireError); 6] = [
        (
            "CONTINUATION without a header block",
            frame(CONTINUATION, FLAG_END_HEADERS, 1, &[0x82]),
            WireError::BadFrame("CONTINUATION without a header block"),
        ),
        (
            "header block interrupted by another frame",
            [frame(HEADERS, 0, 1, &[0x82]), frame(PING, 0, 0, &[0; 8])].concat(),
            WireError::BadFrame("a header block is interrupted by another frame"),
        ),
        (
            "DATA padding longer than the frame",
            frame(DATA, FLAG_PADDED, 1, &[9, 0, 0]),
            WireError::BadFrame("padding longer than the frame"),
        ),
        (
            "HEADERS padding longer than the frame",
            frame(HEADERS, FLAG_PADDED | FLAG_END_HEADERS, 1, &[9, 0x82]),
            WireError::BadFrame("header block frame fields longer than the frame"),
        ),
        (
            "SETTINGS length not a multiple of 6",
            frame(SETTINGS, 0, 0, &[0, 1, 0]),
            WireError::BadFrame("SETTINGS length not a multiple of 6"),
        ),
        (
            "DATA on stream 0",
            frame(DATA, 0, 0, b"x"),
            WireError::BadFrame("a stream frame on stream 0"),
        ),
    ];
    for (case, bytes, expected) in cases {
        let mut script = handshake();
        script.push((Out, bytes));
        script.push((Out, frame(PING, 0, 0, &[0; 8])));
        let got = check_error(case, &script, &expected);
        // The PING after the error is control like everything after it.
        assert!(got.sum(Out, Control) >= HANDSHAKE_ACK + 17, "{case}");
        passed(case, &expected);
    }
}

#[test]
fn header_block_over_max_head_is_an_error() {
    let mut script = handshake();
    // Allow big frames first, then a 70 KiB HEADERS frame.
    script.push((In, frame(SETTINGS, 0, 0, &[0, 5, 0, 2, 0, 0])));
    script.push((
        Out,
        frame(HEADERS, FLAG_END_HEADERS, 1, &vec![0x82; 70_000]),
    ));
    let case = "header block over 64 KiB";
    let got = check_error(case, &script, &WireError::HeadTooLong);
    assert_eq!(got.sum(Out, Control), HANDSHAKE_ACK + 9 + 70_000);
    passed(case, &WireError::HeadTooLong);
}

#[test]
fn too_many_open_streams_is_an_error() {
    let mut hpack = Hpack::new();
    let block = hpack.request("/sse");
    let mut script = handshake();
    let mut opens = Vec::new();
    for i in 0..=MAX_STREAMS as u32 {
        opens.extend(frame(
            HEADERS,
            FLAG_END_HEADERS | FLAG_END_STREAM,
            2 * i + 1,
            &block,
        ));
    }
    script.push((Out, opens));
    let got = run(Transport::Sse, &script, 0);
    assert_eq!(got.errors, vec![WireError::TooManyStreams(MAX_STREAMS)]);
    assert_eq!(
        got.ledger(Out).total(),
        script
            .iter()
            .filter(|(d, _)| *d == Out)
            .map(|(_, b)| b.len() as u64)
            .sum::<u64>()
    );
    passed("more than 4096 open streams", &got.errors[0]);
}

/// Feeds `script`, then `chunk` in `direction` until an error (at most
/// past [`MAX_MESSAGE`]), then `chunk` once more both ways (it must be
/// booked without a second error), and finishes: every byte must be booked.
/// Returns the error.
fn feed_until_the_bound(
    transport: Transport,
    script: Vec<(Direction, Vec<u8>)>,
    direction: Direction,
    chunk: &[u8],
) -> WireError {
    let mut classifier = H2Classifier::new(transport);
    let mut booked = 0u64;
    let mut sink = |_: u32, e: WireEvent<'_>| {
        if let WireEvent::Bytes { bytes, .. } = e {
            booked += bytes.len() as u64;
        }
    };
    let mut fed = 0u64;
    for (d, bytes) in script {
        fed += bytes.len() as u64;
        classifier.feed(d, &bytes, &mut sink).expect("the exchange");
    }
    let mut error = None;
    for _ in 0..(MAX_MESSAGE / chunk.len() + 10) {
        fed += chunk.len() as u64;
        if let Err(e) = classifier.feed(direction, chunk, &mut sink) {
            error = Some(e);
            break;
        }
    }
    for d in [In, Out] {
        fed += chunk.len() as u64;
        assert_eq!(classifier.feed(d, chunk, &mut sink), Ok(()), "{d:?}");
    }
    classifier.finish(&mut sink);
    assert_eq!(booked, fed);
    error.expect("the bound struck")
}

#[test]
fn held_poll_answer_is_bounded() {
    let mut hpack = Hpack::new();
    let mut script = handshake();
    let request = hpack.request("/longpoll");
    script.push((
        Out,
        frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, 1, &request),
    ));
    let answer = hpack.response("200", "application/json");
    script.push((In, frame(HEADERS, FLAG_END_HEADERS, 1, &answer)));
    let chunk = frame(DATA, 0, 1, &vec![b' '; 16_000]);
    let error = feed_until_the_bound(Transport::LongPoll, script, In, &chunk);
    assert!(matches!(error, WireError::TooLarge(_)), "{error:?}");
    passed("poll answer over 16 MiB in DATA frames", &error);
}

#[test]
fn endless_empty_data_frames_on_a_poll_stream_are_bounded() {
    let mut hpack = Hpack::new();
    let mut script = handshake();
    let request = hpack.request("/poll");
    script.push((Out, frame(HEADERS, FLAG_END_HEADERS, 1, &request)));
    // 1,000 empty DATA frames per feed: held, as the stream has not ended.
    let empties = frame(DATA, 0, 1, &[]).repeat(1000);
    let error = feed_until_the_bound(Transport::ShortPoll, script, Out, &empties);
    assert!(matches!(error, WireError::TooLarge(_)), "{error:?}");
    passed("endless empty DATA frames on a poll stream", &error);
}
