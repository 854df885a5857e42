//! Byte-exact classification of one canned exchange per transport, fed
//! whole and one byte at a time.

use super::*;
use crate::{Event, gap_json, payload_for};

type Segments = Vec<(Direction, ByteClass, Vec<u8>)>;

#[derive(Debug, Default, PartialEq)]
struct Outcome {
    segments: Segments,
    messages: Vec<Received>,
    ends: Vec<(u16, Option<u64>)>,
    malformed: usize,
    errors: Vec<WireError>,
}

fn run(transport: Transport, script: &[(Direction, Vec<u8>)], one_byte: bool) -> Outcome {
    let mut out = Outcome::default();
    let mut classifier = Classifier::new(transport);
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
        WireEvent::Message(m) => out.messages.push(m),
        WireEvent::ResponseEnd { status, next } => out.ends.push((status, next)),
        WireEvent::ResponseHead { .. } => {}
        WireEvent::Malformed { .. } => out.malformed += 1,
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
    let whole = check_broken(transport, script);
    assert_eq!(whole.errors, vec![], "feed");
    whole
}

/// [`check`] for an exchange that may break the protocol.
fn check_broken(transport: Transport, script: &[(Direction, Vec<u8>)]) -> Outcome {
    let whole = run(transport, script, false);
    let bytewise = run(transport, script, true);
    assert_eq!(
        whole, bytewise,
        "byte-at-a-time feed classifies differently"
    );
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
        assert_eq!(
            String::from_utf8_lossy(&booked),
            String::from_utf8_lossy(&fed),
            "{dir:?} bytes booked != bytes fed"
        );
    }
    whole
}

fn seg(
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
    let pong = client_frame(0xA, b"hi");
    let publish = client_frame(0x1, b"hello");
    let close = client_frame(0x8, &[0x03, 0xe8]);
    let mut received_wire = head.as_bytes().to_vec();
    for f in [&text, &binary, &gap, &ping] {
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
            seg(In, Control, [&gap[..], &ping[..]].concat()),
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
