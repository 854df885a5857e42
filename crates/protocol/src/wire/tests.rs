//! Byte-exact classification of one canned exchange per transport, fed
//! whole and one byte at a time.

use super::*;
use crate::{
    ContentCoding, Event, Gap, Received, decode_binary, decode_json, gap_json, payload_for,
};

pub(super) type Segments = Vec<(Direction, ByteClass, Vec<u8>)>;

/// What a classifier made of an exchange (each kind's tests read it too).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Outcome {
    pub(crate) segments: Segments,
    pub(crate) messages: Vec<Received>,
    pub(crate) ends: Vec<(u16, Option<u64>)>,
    pub(crate) malformed: usize,
    pub(crate) errors: Vec<WireError>,
    /// Decoded bytes of content-coded bodies, neighbours merged.
    pub(crate) decoded: Vec<(ByteClass, Vec<u8>)>,
    /// What the dialect told the client (`{:?}` of each [`PeerSignal`]).
    pub(crate) peer: Vec<String>,
}

fn run(transport: Transport, script: &[(Direction, Vec<u8>)], one_byte: bool) -> Outcome {
    run_kind(TargetKind::Pushbench, transport, script, one_byte)
}

/// [`run`] against a `kind` server, read in its dialect.
pub(super) fn run_kind(
    kind: TargetKind,
    transport: Transport,
    script: &[(Direction, Vec<u8>)],
    one_byte: bool,
) -> Outcome {
    let mut out = Outcome::default();
    let mut classifier = Classifier::for_target(kind, transport);
    let mut sink = |e: WireEvent<'_>| match e {
        WireEvent::Bytes {
            direction,
            class,
            bytes,
        } => {
            // Merge neighbours so the split points of the feed do not matter.
            match out.segments.last_mut() {
                Some((d, c, v)) if *d == direction && *c == class => v.extend_from_slice(bytes),
                _ => out.segments.push((direction, class, bytes.to_vec())),
            }
        }
        WireEvent::Decoded { class, bytes } => match out.decoded.last_mut() {
            Some((c, v)) if *c == class => v.extend_from_slice(bytes),
            _ => out.decoded.push((class, bytes.to_vec())),
        },
        WireEvent::Message(m) => out.messages.push(m),
        WireEvent::ResponseEnd { status, next } => out.ends.push((status, next)),
        WireEvent::ResponseHead { .. } => {}
        WireEvent::Malformed { .. } => out.malformed += 1,
        WireEvent::Peer(signal) => out.peer.push(format!("{signal:?}")),
    };
    let mut errors = Vec::new();
    for (direction, bytes) in script {
        let reads: Vec<&[u8]> = if one_byte {
            bytes.chunks(1).collect()
        } else {
            vec![bytes]
        };
        for read in reads {
            if let Err(e) = classifier.feed(*direction, read, &mut sink) {
                errors.push(e);
            }
        }
    }
    classifier.finish(&mut sink);
    out.errors = errors;
    out
}

/// Runs both ways, checks they agree, that every byte was booked once and
/// that the exchange is no protocol error.
fn check(transport: Transport, script: &[(Direction, Vec<u8>)]) -> Outcome {
    check_kind(TargetKind::Pushbench, transport, script)
}

/// [`check`] against a `kind` server, read in its dialect (each kind's
/// tests of real captured exchanges call it).
pub(crate) fn check_kind(
    kind: TargetKind,
    transport: Transport,
    script: &[(Direction, Vec<u8>)],
) -> Outcome {
    let whole = check_kind_broken(kind, transport, script);
    assert_eq!(whole.errors, vec![], "feed");
    whole
}

/// [`check`] for an exchange that may break the protocol.
fn check_broken(transport: Transport, script: &[(Direction, Vec<u8>)]) -> Outcome {
    check_kind_broken(TargetKind::Pushbench, transport, script)
}

/// [`check_broken`] against a `kind` server.
fn check_kind_broken(
    kind: TargetKind,
    transport: Transport,
    script: &[(Direction, Vec<u8>)],
) -> Outcome {
    let whole = run_kind(kind, transport, script, false);
    let bytewise = run_kind(kind, transport, script, true);
    assert_eq!(
        whole, bytewise,
        "byte-at-a-time feed classifies differently"
    );
    assert_booked_once(script, &whole);
    whole
}

/// Fed whole and byte by byte, every byte is booked once; for an exchange
/// whose error shows at a point that depends on the reads (corrupt coded
/// data: each read decodes as far as it can), the classes may differ.
fn check_sums(transport: Transport, script: &[(Direction, Vec<u8>)]) -> Outcome {
    let bytewise = run(transport, script, true);
    assert_booked_once(script, &bytewise);
    let whole = run(transport, script, false);
    assert_booked_once(script, &whole);
    whole
}

pub(super) fn assert_booked_once(script: &[(Direction, Vec<u8>)], whole: &Outcome) {
    for dir in [Direction::Sent, Direction::Received] {
        let fed: Vec<u8> = script
            .iter()
            .filter(|(d, _)| *d == dir)
            .flat_map(|(_, b)| b.clone())
            .collect();
        let booked: Vec<u8> = whole
            .segments
            .iter()
            .filter(|(d, _, _)| *d == dir)
            .flat_map(|(_, _, b)| b.clone())
            .collect();
        if booked != fed {
            assert_eq!(
                String::from_utf8_lossy(&booked),
                String::from_utf8_lossy(&fed),
                "{dir:?} bytes booked != bytes fed"
            );
            panic!("{dir:?} bytes booked != bytes fed (binary)");
        }
    }
}

pub(crate) fn seg(
    direction: Direction,
    class: ByteClass,
    bytes: impl AsRef<[u8]>,
) -> (Direction, ByteClass, Vec<u8>) {
    (direction, class, bytes.as_ref().to_vec())
}

/// Event `seq` of topic `t0` with an 8-byte payload (the HTTP/2 tests use
/// it too).
pub(crate) fn event(seq: u64) -> Event {
    Event {
        seq,
        topic: "t0".into(),
        created_us: 1_700_000_000_000_000 + seq,
        payload: payload_for(seq, 8),
    }
}

/// [`event`] as the classifier decodes it.
pub(crate) fn received(seq: u64) -> Received {
    decode_json(event(seq).to_json().as_bytes()).expect("decode")
}

/// An event's JSON split at its payload: (envelope before, payload, envelope after).
fn parts(seq: u64) -> (String, String, String) {
    let e = event(seq);
    let json = e.to_json();
    let at = json.find(&e.payload).expect("payload inside");
    (
        json[..at].to_owned(),
        e.payload.clone(),
        json[at + e.payload.len()..].to_owned(),
    )
}

fn response_head(extra: &str) -> String {
    format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{extra}\r\n")
}

use ByteClass::{Control, Framing, Handshake, Payload, RequestHeaders, ResponseHeaders};
use Direction::{Received as In, Sent as Out};

#[test]
fn short_poll_books_envelope_as_framing_and_payload_as_payload() {
    let req = "GET /poll?since=0 HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n";
    let body = format!(
        r#"{{"events":[{},{}],"next":2,"gap":null}}"#,
        event(1).to_json(),
        event(2).to_json()
    );
    let head = response_head(&format!("content-length: {}\r\n", body.len()));
    let got = check(
        Transport::ShortPoll,
        &[(Out, req.into()), (In, format!("{head}{body}").into())],
    );
    let (a1, p1, z1) = parts(1);
    let (a2, p2, z2) = parts(2);
    assert_eq!(
        got.segments,
        vec![
            seg(Out, RequestHeaders, req),
            seg(In, ResponseHeaders, &head),
            seg(In, Framing, format!("{{\"events\":[{a1}")),
            seg(In, Payload, p1),
            seg(In, Framing, format!("{z1},{a2}")),
            seg(In, Payload, p2),
            seg(In, Framing, format!("{z2}],\"next\":2,\"gap\":null}}")),
        ]
    );
    assert_eq!(got.messages, vec![received(1), received(2)]);
    assert_eq!(got.ends, vec![(200, Some(2))]);
}

#[test]
fn empty_poll_exchange_is_control_request_included() {
    let req = "GET /longpoll?since=7&timeout=1 HTTP/1.1\r\nhost: x\r\n\r\n";
    let body = r#"{"events":[],"next":7,"gap":null}"#;
    let head = response_head(&format!("content-length: {}\r\n", body.len()));
    // A second exchange on the same keep-alive connection delivers an event.
    let req2 = "GET /longpoll?since=7&timeout=1 HTTP/1.1\r\nhost: x\r\n\r\n";
    let body2 = format!(
        r#"{{"events":[{}],"next":8,"gap":null}}"#,
        event(8).to_json()
    );
    let head2 = response_head(&format!("content-length: {}\r\n", body2.len()));
    let got = check(
        Transport::LongPoll,
        &[
            (Out, req.into()),
            (In, format!("{head}{body}").into()),
            (Out, req2.into()),
            (In, format!("{head2}{body2}").into()),
        ],
    );
    let (a, p, z) = parts(8);
    assert_eq!(
        got.segments,
        vec![
            seg(Out, Control, req),
            seg(In, Control, format!("{head}{body}")),
            seg(Out, RequestHeaders, req2),
            seg(In, ResponseHeaders, &head2),
            seg(In, Framing, format!("{{\"events\":[{a}")),
            seg(In, Payload, p),
            seg(In, Framing, format!("{z}],\"next\":8,\"gap\":null}}")),
        ]
    );
    assert_eq!(got.ends, vec![(200, Some(7)), (200, Some(8))]);
}

#[test]
fn unanswered_long_poll_keeps_its_provisional_class() {
    let req = "GET /longpoll?since=7 HTTP/1.1\r\nhost: x\r\n\r\n";
    let got = check(Transport::LongPoll, &[(Out, req.into())]);
    assert_eq!(got.segments, vec![seg(Out, RequestHeaders, req)]);
}

#[test]
fn gap_only_poll_is_control_and_reports_the_gap() {
    let req = "GET /poll?since=1 HTTP/1.1\r\n\r\n";
    let body = r#"{"events":[],"next":9,"gap":{"from":2,"to":9}}"#;
    let head = response_head(&format!("content-length: {}\r\n", body.len()));
    let got = check(
        Transport::ShortPoll,
        &[(Out, req.into()), (In, format!("{head}{body}").into())],
    );
    assert_eq!(
        got.segments,
        vec![
            seg(Out, Control, req),
            seg(In, Control, format!("{head}{body}"))
        ]
    );
    assert_eq!(got.messages, vec![Received::Gap(Gap { from: 2, to: 9 })]);
}

#[test]
fn stream_chunks_are_framing_and_last_chunk_is_control() {
    let req = "GET /stream?since=0 HTTP/1.1\r\nhost: x\r\n\r\n";
    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\n\r\n";
    let line = format!("{}\n", event(1).to_json());
    let gap = format!("{}\n", gap_json(Gap { from: 2, to: 3 }));
    let wire = format!(
        "{head}{:x}\r\n{line}\r\n{:x}\r\n{gap}\r\n0\r\n\r\n",
        line.len(),
        gap.len()
    );
    let got = check(Transport::Stream, &[(Out, req.into()), (In, wire.into())]);
    let (a, p, z) = parts(1);
    assert_eq!(
        got.segments,
        vec![
            seg(Out, RequestHeaders, req),
            seg(In, ResponseHeaders, head),
            seg(In, Framing, format!("{:x}\r\n{a}", line.len())),
            seg(In, Payload, p),
            seg(In, Framing, format!("{z}\n\r\n{:x}\r\n", gap.len())),
            seg(In, Control, &gap),
            seg(In, Framing, "\r\n"),
            seg(In, Control, "0\r\n\r\n"),
        ]
    );
    assert_eq!(
        got.messages,
        vec![received(1), Received::Gap(Gap { from: 2, to: 3 })]
    );
    assert_eq!(got.ends, vec![(200, None)]);
}

#[test]
fn sse_fields_are_framing_comments_and_gaps_are_control() {
    let req = "GET /sse?since=0 HTTP/1.1\r\nhost: x\r\naccept: text/event-stream\r\n\r\n";
    let head =
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
    // Field order varies by server: id after data here, before it below.
    let ev1 = format!("data: {}\nid: 1\n\n", event(1).to_json());
    let ev2 = format!("id: 2\r\ndata:{}\r\n\r\n", event(2).to_json());
    let keepalive = ":\n\n";
    let comment = ": ping\n";
    let gap = format!("event: gap\ndata: {}\n\n", gap_json(Gap { from: 3, to: 4 }));
    let retry = "retry: 1000\n\n";
    let body = [ev1.as_str(), keepalive, comment, &ev2, &gap, retry];
    let mut wire = head.to_owned();
    for piece in body {
        wire.push_str(&format!("{:x}\r\n{piece}\r\n", piece.len()));
    }
    let got = check(Transport::Sse, &[(Out, req.into()), (In, wire.into())]);
    let (a1, p1, z1) = parts(1);
    let (a2, p2, z2) = parts(2);
    let size = |s: &str| format!("{:x}\r\n", s.len());
    assert_eq!(
        got.segments,
        vec![
            seg(Out, RequestHeaders, req),
            seg(In, ResponseHeaders, head),
            seg(In, Framing, format!("{}data: {a1}", size(&ev1))),
            seg(In, Payload, p1),
            seg(
                In,
                Framing,
                format!("{z1}\nid: 1\n\n\r\n{}", size(keepalive))
            ),
            seg(In, Control, keepalive),
            seg(In, Framing, format!("\r\n{}", size(comment))),
            seg(In, Control, comment),
            seg(In, Framing, format!("\r\n{}id: 2\r\ndata:{a2}", size(&ev2))),
            seg(In, Payload, p2),
            seg(In, Framing, format!("{z2}\r\n\r\n\r\n{}", size(&gap))),
            seg(In, Control, &gap),
            seg(In, Framing, format!("\r\n{}", size(retry))),
            seg(In, Control, retry),
            seg(In, Framing, "\r\n"),
        ]
    );
    assert_eq!(
        got.messages,
        vec![
            received(1),
            received(2),
            Received::Gap(Gap { from: 3, to: 4 })
        ]
    );
    assert_eq!(got.malformed, 0);
}

fn server_frame(opcode: u8, body: &[u8]) -> Vec<u8> {
    let mut f = vec![0x80 | opcode];
    if body.len() < 126 {
        f.push(body.len() as u8);
    } else {
        f.push(126);
        f.extend_from_slice(&(body.len() as u16).to_be_bytes());
    }
    f.extend_from_slice(body);
    f
}

fn client_frame(opcode: u8, body: &[u8]) -> Vec<u8> {
    let key = [1u8, 2, 3, 4];
    let mut f = vec![0x80 | opcode, 0x80 | body.len() as u8];
    f.extend_from_slice(&key);
    f.extend(body.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

#[test]
fn websocket_headers_are_framing_control_frames_are_control() {
    let req = "GET /ws?since=0 HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    let head = "HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    let text = server_frame(0x1, event(1).to_json().as_bytes());
    let bin_event = event(2).to_binary();
    let binary = server_frame(0x2, &bin_event);
    let gap = server_frame(0x1, gap_json(Gap { from: 3, to: 3 }).as_bytes());
    let ping = server_frame(0x9, b"hi");
    let server_close = server_frame(0x8, &[0x03, 0xe8]);
    let pong = client_frame(0xA, b"hi");
    let publish = client_frame(0x1, b"hello");
    let close = client_frame(0x8, &[0x03, 0xe8]);
    let mut received_wire = head.as_bytes().to_vec();
    for f in [&text, &binary, &gap, &ping, &server_close] {
        received_wire.extend_from_slice(f);
    }
    let mut sent_wire = req.as_bytes().to_vec();
    for f in [&pong, &publish, &close] {
        sent_wire.extend_from_slice(f);
    }
    let got = check(Transport::Ws, &[(Out, sent_wire), (In, received_wire)]);
    let (a1, p1, z1) = parts(1);
    let bin_envelope = crate::event::BINARY_HEADER_LEN + 2;
    assert_eq!(
        got.segments,
        vec![
            seg(Out, Handshake, req),
            seg(Out, Control, &pong),
            seg(Out, Framing, &publish[..6]),
            seg(Out, Payload, &publish[6..]),
            seg(Out, Control, &close),
            seg(In, Handshake, head),
            seg(In, Framing, [&text[..2], a1.as_bytes()].concat()),
            seg(In, Payload, p1),
            seg(
                In,
                Framing,
                [z1.as_bytes(), &binary[..2], &bin_event[..bin_envelope]].concat()
            ),
            seg(In, Payload, &bin_event[bin_envelope..]),
            seg(
                In,
                Control,
                [&gap[..], &ping[..], &server_close[..]].concat()
            ),
        ]
    );
    // The server's ping and close reach the client, which answers them
    // (the client's own are not for it).
    assert_eq!(
        got.peer,
        [
            format!("{:?}", PeerSignal::WsPing(b"hi")),
            format!("{:?}", PeerSignal::WsClose(&[0x03, 0xe8])),
        ]
    );
    assert_eq!(
        got.messages,
        vec![
            received(1),
            decode_binary(&bin_event).expect("bin"),
            Received::Gap(Gap { from: 3, to: 3 })
        ]
    );
}

#[test]
fn error_status_body_is_control_and_ends_the_response() {
    let req = "GET /stream?since=x HTTP/1.1\r\n\r\n";
    let body = r#"{"error":"bad since","parameter":"since"}"#;
    let head = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let got = check(
        Transport::Stream,
        &[(Out, req.into()), (In, format!("{head}{body}").into())],
    );
    assert_eq!(
        got.segments,
        vec![
            seg(Out, RequestHeaders, req),
            seg(In, ResponseHeaders, &head),
            seg(In, Control, body)
        ]
    );
    assert_eq!(got.ends, vec![(400, None)]);
}

#[test]
fn garbage_is_an_error_but_still_booked() {
    let mut classifier = Classifier::new(Transport::Stream);
    let mut total = 0;
    let mut sink = |e: WireEvent<'_>| {
        if let WireEvent::Bytes { bytes, .. } = e {
            total += bytes.len();
        }
    };
    let wire = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nmore garbage";
    assert_eq!(
        classifier.feed(In, wire, &mut sink),
        Err(WireError::BadChunkSize)
    );
    classifier
        .feed(In, b"and more", &mut sink)
        .expect("broken connections still book");
    classifier.finish(&mut sink);
    assert_eq!(total, wire.len() + 8);
}

#[test]
fn partial_bytes_at_connection_end_are_control() {
    let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
    let got = check(
        Transport::Stream,
        &[(In, format!("{head}5\r\n{{\"se").into())],
    );
    assert_eq!(
        got.segments,
        vec![
            seg(In, ResponseHeaders, head),
            seg(In, Framing, "5\r\n"),
            seg(In, Control, "{\"se")
        ]
    );
}

/// Found by `fuzz/` (target `wire_stream`, minimized): chunk data holding
/// a partial NDJSON line, then two bytes that are not the CRLF ending the
/// chunk. The framing bytes were booked before the line that preceded
/// them on the wire, so the segments joined were not the bytes fed.
#[test]
fn bad_chunk_end_books_the_partial_line_first() {
    let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
    let wire = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{\"xx";
    let got = check_broken(Transport::Stream, &[(In, wire.to_vec())]);
    assert_eq!(
        got.segments,
        vec![
            seg(In, ResponseHeaders, head),
            seg(In, Framing, "2\r\n"),
            seg(In, Control, "{\"xx"),
        ]
    );
    assert_eq!(got.errors, vec![WireError::BadChunkEnd]);
    crate::reliability(
        "input/http",
        "chunk data not followed by CRLF (fuzz: wire_stream)",
        "booked as control in wire order, BadChunkEnd",
    );
}

/// Found by `fuzz/` (target `wire_sse`; the crashing input, minimized by
/// `cargo fuzz tmin`): the connection ends inside the CRLF after a chunk's
/// data, with a partial SSE line buffered before it.
#[test]
fn connection_end_inside_chunk_end_keeps_wire_order() {
    let request = b"GET /x HTTP/1.1\r\nhost: h\r\n\r\n";
    let response =
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\ne\r\n: : {oad}\r\n\r\n\r\n";
    let got = check(
        Transport::Sse,
        &[(Out, request.to_vec()), (In, response.to_vec())],
    );
    assert_eq!(
        got.segments.last(),
        Some(&seg(In, Control, ": : {oad}\r\n\r\n\r\n"))
    );
    crate::reliability(
        "input/http",
        "connection ends inside a chunk's CRLF after a partial SSE line (fuzz: wire_sse)",
        "booked as control in wire order",
    );
}

/// Found by `fuzz/` (target `wire_stream`, minimized by hand): an NDJSON
/// line split across two chunks. The chunk framing inside the line was
/// booked at once, before the line held back until its end.
#[test]
fn line_across_chunks_keeps_wire_order() {
    let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
    let line = format!("{}\n", event(1).to_json());
    let (a, p, z) = parts(1);
    // Cut four bytes into the payload.
    let cut = a.len() + 4;
    let (first, second) = line.split_at(cut);
    let wire = format!(
        "{head}{:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
        first.len(),
        second.len()
    );
    let got = check(Transport::Stream, &[(In, wire.into())]);
    assert_eq!(
        got.segments,
        vec![
            seg(In, ResponseHeaders, head),
            seg(In, Framing, format!("{:x}\r\n{a}", first.len())),
            seg(In, Payload, &p[..4]),
            seg(In, Framing, format!("\r\n{:x}\r\n", second.len())),
            seg(In, Payload, &p[4..]),
            seg(In, Framing, format!("{z}\n\r\n")),
            seg(In, Control, "0\r\n\r\n"),
        ]
    );
    assert_eq!(got.messages, vec![received(1)]);
    crate::reliability(
        "input/http",
        "NDJSON line split across chunks (fuzz: wire_stream)",
        "one event, payload and framing booked in wire order",
    );
}

/// Found by `fuzz/` (target `wire_sse`, minimized by hand): an SSE event
/// whose blank line comes in the next chunk; the chunk framing between was
/// booked before the event block held back until that blank line.
#[test]
fn sse_event_across_chunks_keeps_wire_order() {
    let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
    let (a, p, z) = parts(1);
    let block = format!("id: 1\ndata: {}\n", event(1).to_json());
    let wire = format!("{head}{:x}\r\n{block}\r\n1\r\n\n\r\n", block.len());
    let got = check(Transport::Sse, &[(In, wire.into())]);
    assert_eq!(
        got.segments,
        vec![
            seg(In, ResponseHeaders, head),
            seg(
                In,
                Framing,
                format!("{:x}\r\nid: 1\ndata: {a}", block.len())
            ),
            seg(In, Payload, p),
            seg(In, Framing, format!("{z}\n\r\n1\r\n\n\r\n")),
        ]
    );
    assert_eq!(got.messages, vec![received(1)]);
    crate::reliability(
        "input/http",
        "SSE event split across chunks (fuzz: wire_sse)",
        "one event, booked in wire order",
    );
}

/// A chunk-size line over [`MAX_CHUNK_LINE`] was refused only when a read
/// ended inside it: fed whole, up to its `\n`, a 1,100-digit size with
/// leading zeros was accepted, so the classes depended on the read
/// boundaries. Found while writing the `wire_stream` fuzz target's
/// read-boundary check (the input is now one of its seeds).
#[test]
fn long_chunk_size_line_is_refused_wherever_reads_end() {
    let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
    let size_line = format!("{}2\r\n", "0".repeat(1100));
    let wire = format!("{head}{size_line}ab\r\n0\r\n\r\n");
    let got = check_broken(Transport::Stream, &[(In, wire.into())]);
    assert_eq!(
        got.segments,
        vec![
            seg(In, ResponseHeaders, head),
            seg(In, Control, format!("{size_line}ab\r\n0\r\n\r\n")),
        ]
    );
    assert_eq!(got.errors, vec![WireError::BadChunkSize]);
    crate::reliability(
        "input/http",
        "chunk-size line of 1,104 bytes",
        "refused (BadChunkSize) whatever the read boundaries, booked as control",
    );
}

// ---------------------------------------------------------------------------
// Content-coded bodies.

use crate::content_coding::{Encoder, encode_whole};

/// The classes of the decoded ledger, summed.
fn decoded_total(out: &Outcome, class: ByteClass) -> usize {
    out.decoded
        .iter()
        .filter(|(c, _)| *c == class)
        .map(|(_, b)| b.len())
        .sum()
}

fn wire_total(out: &Outcome, class: ByteClass) -> usize {
    out.segments
        .iter()
        .filter(|(d, c, _)| *d == In && *c == class)
        .map(|(_, _, b)| b.len())
        .sum()
}

/// A chunked live body of `items`, each compressed with a flush, then the
/// coded stream's end in a chunk of its own and the last chunk.
fn coded_chunked(coding: ContentCoding, content_type: &str, items: &[String]) -> (String, Vec<u8>) {
    coded_chunked_with(coding, content_type, items, |_| {})
}

/// [`coded_chunked`] with the compressed chunks changed by `tamper` first.
fn coded_chunked_with(
    coding: ContentCoding,
    content_type: &str,
    items: &[String],
    tamper: impl FnOnce(&mut [Vec<u8>]),
) -> (String, Vec<u8>) {
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-encoding: {coding}\r\nvary: accept-encoding\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    let mut wire = head.clone().into_bytes();
    let mut encoder = Encoder::new(coding).expect("coded");
    let mut chunks: Vec<Vec<u8>> = items
        .iter()
        .map(|i| encoder.event(i.as_bytes()).expect("encode"))
        .collect();
    chunks.push(encoder.finish().expect("finish"));
    tamper(&mut chunks);
    for chunk in chunks {
        wire.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        wire.extend_from_slice(&chunk);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    (head, wire)
}

#[test]
fn coded_streams_book_compressed_bytes_and_decode_the_events() {
    let lines: Vec<String> = (1..=5)
        .map(|s| format!("{}\n", event(s).to_json()))
        .collect();
    let blocks: Vec<String> = (1..=5)
        .map(|s| format!("id: {s}\ndata: {}\n\n", event(s).to_json()))
        .collect();
    for coding in [ContentCoding::Gzip, ContentCoding::Br] {
        for (transport, items, path, content_type) in [
            (Transport::Stream, &lines, "/stream", "application/x-ndjson"),
            (Transport::Sse, &blocks, "/sse", "text/event-stream"),
        ] {
            let req = format!(
                "GET {path}?since=0 HTTP/1.1\r\nhost: x\r\naccept-encoding: {coding}\r\n\r\n"
            );
            let (head, wire) = coded_chunked(coding, content_type, items);
            let got = check(transport, &[(Out, req.clone().into()), (In, wire.clone())]);
            // The identity body of the same items, for its classes.
            let plain = check(
                transport,
                &[
                    (Out, req.into()),
                    (
                        In,
                        format!(
                            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n{}0\r\n\r\n",
                            items
                                .iter()
                                .map(|i| format!("{:x}\r\n{i}\r\n", i.len()))
                                .collect::<String>()
                        )
                        .into(),
                    ),
                ],
            );
            let what = format!("{coding} {transport}");
            assert_eq!(
                got.messages,
                (1..=5).map(received).collect::<Vec<_>>(),
                "{what}"
            );
            assert_eq!(got.malformed, 0, "{what}");
            assert_eq!(wire_total(&got, ResponseHeaders), head.len(), "{what}");
            // No wire byte is payload or envelope framing: chunk lines and
            // CRLFs only (7 chunks here incl. the coding's end).
            assert_eq!(wire_total(&got, Payload), 0, "{what}");
            assert!(wire_total(&got, Framing) < 6 * 8, "{what}");
            let compressed = wire_total(&got, ByteClass::Compressed);
            assert!(compressed > 0, "{what}");
            // Decoded: the same payload and envelope as the identity body.
            let body_framing = |o: &Outcome| {
                o.segments
                    .iter()
                    .filter(|(d, c, b)| *d == In && *c == Framing && !b.ends_with(b"\r\n"))
                    .map(|(_, _, b)| b.len())
                    .sum::<usize>()
            };
            assert_eq!(
                decoded_total(&got, Payload),
                wire_total(&plain, Payload),
                "{what}"
            );
            assert_eq!(
                decoded_total(&got, Payload)
                    + decoded_total(&got, Framing)
                    + decoded_total(&got, Control),
                items.iter().map(String::len).sum::<usize>(),
                "{what}"
            );
            let _ = body_framing;
            assert_eq!(got.ends, vec![(200, None)], "{what}");
        }
    }
}

#[test]
fn coded_polls_are_decoded_and_an_empty_one_is_control_in_both_ledgers() {
    let full = format!(
        r#"{{"events":[{}],"next":1,"gap":null}}"#,
        event(1).to_json()
    );
    let empty = r#"{"events":[],"next":1,"gap":null}"#.to_owned();
    for coding in [ContentCoding::Gzip, ContentCoding::Br] {
        let req = "GET /poll?since=0 HTTP/1.1\r\nhost: x\r\n\r\n";
        let mut script = Vec::new();
        for body in [&full, &empty] {
            let coded = encode_whole(coding, body.as_bytes()).expect("encode");
            let mut answer = response_head(&format!(
                "content-encoding: {coding}\r\ncontent-length: {}\r\n",
                coded.len()
            ))
            .into_bytes();
            answer.extend_from_slice(&coded);
            script.push((Out, req.as_bytes().to_vec()));
            script.push((In, answer));
        }
        let got = check(Transport::ShortPoll, &script);
        assert_eq!(got.messages, vec![received(1)], "{coding}");
        assert_eq!(got.ends, vec![(200, Some(1)), (200, Some(1))], "{coding}");
        let (a, p, z) = parts(1);
        assert_eq!(
            got.decoded,
            vec![
                (Framing, format!("{{\"events\":[{a}").into_bytes()),
                (Payload, p.into_bytes()),
                (
                    Framing,
                    format!("{z}],\"next\":1,\"gap\":null}}").into_bytes()
                ),
                (Control, empty.clone().into_bytes()),
            ],
            "{coding}"
        );
        // The first answer's body is compressed; the empty exchange is
        // control as a whole, request and compressed body included.
        let classes: Vec<(Direction, ByteClass)> =
            got.segments.iter().map(|(d, c, _)| (*d, *c)).collect();
        assert_eq!(
            classes,
            vec![
                (Out, RequestHeaders),
                (In, ResponseHeaders),
                (In, ByteClass::Compressed),
                (Out, Control),
                (In, Control),
            ],
            "{coding}"
        );
    }
}

#[test]
fn corrupt_or_unknown_codings_are_control_and_never_panic() {
    let req = "GET /stream?since=0 HTTP/1.1\r\nhost: x\r\n\r\n";
    let lines = vec![
        format!("{}\n", event(1).to_json()),
        format!("{}\n", event(2).to_json()),
    ];
    let (_, good) = coded_chunked(ContentCoding::Gzip, "application/x-ndjson", &lines);
    // Corrupt the second event's compressed chunk: the first still decodes.
    let (_, corrupt) =
        coded_chunked_with(ContentCoding::Gzip, "application/x-ndjson", &lines, |c| {
            for b in c[1].iter_mut() {
                *b ^= 0x55;
            }
        });
    let got = check_sums(Transport::Stream, &[(Out, req.into()), (In, corrupt)]);
    assert!(
        got.errors
            .iter()
            .any(|e| matches!(e, WireError::BadCoding(_))),
        "{:?}",
        got.errors
    );
    assert_eq!(got.messages, vec![received(1)]);
    assert!(wire_total(&got, Control) > 0);
    assert!(got.malformed >= 1);
    crate::reliability(
        "input/http",
        "corrupt gzip in a coded stream body",
        "the decoded events kept, the rest booked as control, no panic",
    );
    // A coding the classifier does not decode: the body is control.
    let mut zstd = good.clone();
    let at = zstd
        .windows(4)
        .position(|w| w == b"gzip")
        .expect("the header names gzip");
    zstd[at..at + 4].copy_from_slice(b"zstd");
    let got = check(Transport::Stream, &[(Out, req.into()), (In, zstd)]);
    assert!(got.messages.is_empty());
    assert_eq!(wire_total(&got, ByteClass::Compressed), 0);
    crate::reliability(
        "input/http",
        "response in a content coding the classifier cannot decode (zstd)",
        "body booked as control, no event invented",
    );
    // A coded body cut short: what decoded is kept, the rest is control.
    let cut = &good[..good.len() - 20];
    let got = check_sums(Transport::Stream, &[(Out, req.into()), (In, cut.to_vec())]);
    assert_eq!(got.messages, (1..=2).map(received).collect::<Vec<_>>());
}

#[test]
fn coded_bodies_in_any_split_add_up_to_the_bytes_fed() {
    // Every split point of one coded poll answer and one coded stream.
    let body = format!(
        r#"{{"events":[{},{}],"next":2,"gap":null}}"#,
        event(1).to_json(),
        event(2).to_json()
    );
    let coded = encode_whole(ContentCoding::Br, body.as_bytes()).expect("encode");
    let mut answer = response_head(&format!(
        "content-encoding: br\r\ncontent-length: {}\r\n",
        coded.len()
    ))
    .into_bytes();
    answer.extend_from_slice(&coded);
    let (_, stream) = coded_chunked(
        ContentCoding::Gzip,
        "application/x-ndjson",
        &[format!("{}\n", event(1).to_json())],
    );
    for (transport, wire) in [(Transport::ShortPoll, answer), (Transport::Stream, stream)] {
        let whole = check(transport, &[(In, wire.clone())]);
        for at in 0..wire.len() {
            let split = check(
                transport,
                &[(In, wire[..at].to_vec()), (In, wire[at..].to_vec())],
            );
            assert_eq!(split, whole, "{transport} split at {at}");
        }
    }
}

/// Chunk-size lines as servers write them take the fast path; anything
/// else the general one, with the same answers.
#[test]
fn chunk_sizes_read_alike_on_both_paths() {
    let table: [(&[u8], Option<u64>); 13] = [
        (b"1A\r\n", Some(26)),
        (b"1a\r\n", Some(26)),
        (b"0\r\n", Some(0)),
        (b"fffffffffffffff\r\n", Some(0x0fff_ffff_ffff_ffff)),
        (b"ffffffffffffffff\r\n", Some(u64::MAX)),
        (b"10000000000000000\r\n", None),
        (b"1A;name=value\r\n", Some(26)),
        (b" 1A \r\n", Some(26)),
        (b"1A\n", Some(26)),
        (b"g\r\n", None),
        (b"\r\n", None),
        (b"+1\r\n", Some(1)),
        (b"1 2\r\n", None),
    ];
    for (line, expected) in table {
        assert_eq!(
            http::chunk_size(line),
            expected,
            "{}",
            String::from_utf8_lossy(line)
        );
    }
}
