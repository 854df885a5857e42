//! Nchan's answers, byte for byte as nginx 1.22.1 with Nchan 1.3.6
//! (Debian bookworm) sent them to the requests pushbench's clients make
//! (`scripts/targets/nchan/`, captured on loopback), fed whole and one
//! byte at a time.

use super::super::tests::{Outcome, check_kind, seg};
use crate::ledger::ByteClass::{self, Control, Framing, Handshake, Payload};
use crate::ledger::ByteClass::{RequestHeaders, ResponseHeaders};
use crate::wire::Direction::{self, Received as In, Sent as Out};
use crate::wire::json_payload_range;
use crate::{Received, TargetKind, Transport, decode_json};

const POLL_304_REQ: &str = concat!(
    "GET /poll HTTP/1.1\r\n",
    "host: 127.0.0.1:18081\r\n",
    "\r\n",
);
const POLL_304_RESP: &str = concat!(
    "HTTP/1.1 304 Not Modified\r\n",
    "Server: nginx/1.22.1\r\n",
    "Date: Fri, 04 Dec 2026 12:49:27 GMT\r\n",
    "Content-Length: 0\r\n",
    "Connection: keep-alive\r\n",
    "Vary: If-None-Match, If-Modified-Since\r\n",
    "\r\n",
);
const POLL_FIRST_REQ: &str = concat!(
    "GET /poll HTTP/1.1\r\n",
    "host: 127.0.0.1:18081\r\n",
    "If-Modified-Since: Fri, 04 Dec 2026 12:49:27 GMT\r\n",
    "If-None-Match: -1\r\n",
    "\r\n",
);
const POLL_FIRST_RESP: &str = concat!(
    "HTTP/1.1 200 OK\r\n",
    "Server: nginx/1.22.1\r\n",
    "Date: Fri, 04 Dec 2026 12:49:28 GMT\r\n",
    "Content-Type: application/json\r\n",
    "Content-Length: 73\r\n",
    "Last-Modified: Fri, 04 Dec 2026 12:49:28 GMT\r\n",
    "Connection: keep-alive\r\n",
    "Etag: 0\r\n",
    "Vary: If-None-Match, If-Modified-Since\r\n",
    "\r\n",
    "{\"seq\":1,\"topic\":\"t0\",\"created_us\":1700000000000001,\"payload\":\"abcdefgh\"}",
);
const POLL_NEXT_REQ: &str = concat!(
    "GET /poll HTTP/1.1\r\n",
    "host: 127.0.0.1:18081\r\n",
    "If-Modified-Since: Fri, 04 Dec 2026 12:49:28 GMT\r\n",
    "If-None-Match: 0\r\n",
    "\r\n",
);
const POLL_NEXT_RESP: &str = concat!(
    "HTTP/1.1 200 OK\r\n",
    "Server: nginx/1.22.1\r\n",
    "Date: Fri, 04 Dec 2026 12:49:28 GMT\r\n",
    "Content-Type: application/json\r\n",
    "Content-Length: 73\r\n",
    "Last-Modified: Fri, 04 Dec 2026 12:49:28 GMT\r\n",
    "Connection: keep-alive\r\n",
    "Etag: 1\r\n",
    "Vary: If-None-Match, If-Modified-Since\r\n",
    "\r\n",
    "{\"seq\":2,\"topic\":\"t0\",\"created_us\":1700000000000002,\"payload\":\"abcdefgh\"}",
);
const POLL_NOTHING_NEW_REQ: &str = concat!(
    "GET /poll HTTP/1.1\r\n",
    "host: 127.0.0.1:18081\r\n",
    "If-Modified-Since: Fri, 04 Dec 2026 12:49:28 GMT\r\n",
    "If-None-Match: 1\r\n",
    "\r\n",
);
const POLL_NOTHING_NEW_RESP: &str = concat!(
    "HTTP/1.1 304 Not Modified\r\n",
    "Server: nginx/1.22.1\r\n",
    "Date: Fri, 04 Dec 2026 12:49:29 GMT\r\n",
    "Content-Length: 0\r\n",
    "Last-Modified: Fri, 04 Dec 2026 12:49:28 GMT\r\n",
    "Connection: keep-alive\r\n",
    "Etag: 1\r\n",
    "Vary: If-None-Match, If-Modified-Since\r\n",
    "\r\n",
);
const LONGPOLL_REQ: &str = concat!(
    "GET /longpoll HTTP/1.1\r\n",
    "host: 127.0.0.1:18081\r\n",
    "\r\n",
);
const LONGPOLL_RESP: &str = concat!(
    "HTTP/1.1 200 OK\r\n",
    "Server: nginx/1.22.1\r\n",
    "Date: Fri, 04 Dec 2026 12:49:30 GMT\r\n",
    "Content-Type: application/json\r\n",
    "Content-Length: 73\r\n",
    "Last-Modified: Fri, 04 Dec 2026 12:49:30 GMT\r\n",
    "Connection: keep-alive\r\n",
    "Etag: 0\r\n",
    "Vary: If-None-Match, If-Modified-Since\r\n",
    "\r\n",
    "{\"seq\":3,\"topic\":\"t0\",\"created_us\":1700000000000003,\"payload\":\"abcdefgh\"}",
);
const LONGPOLL_TIMEOUT_REQ: &str = concat!(
    "GET /longpoll HTTP/1.1\r\n",
    "host: 127.0.0.1:18081\r\n",
    "\r\n",
);
const LONGPOLL_TIMEOUT_RESP: &str = concat!(
    "HTTP/1.1 408 Request Timeout\r\n",
    "Server: nginx/1.22.1\r\n",
    "Date: Fri, 04 Dec 2026 12:49:34 GMT\r\n",
    "Content-Length: 0\r\n",
    "Connection: keep-alive\r\n",
    "Vary: If-None-Match, If-Modified-Since\r\n",
    "\r\n",
);
const STREAM_REQ: &str = concat!(
    "GET /stream HTTP/1.1\r\n",
    "host: 127.0.0.1:18081\r\n",
    "TE: chunked\r\n",
    "\r\n",
);
const STREAM_RESP: &str = concat!(
    "HTTP/1.1 200 OK\r\n",
    "Server: nginx/1.22.1\r\n",
    "Date: Fri, 04 Dec 2026 12:49:30 GMT\r\n",
    "Connection: keep-alive\r\n",
    "Transfer-Encoding: chunked\r\n",
    "\r\n",
    "49\r\n",
    "{\"seq\":4,\"topic\":\"t0\",\"created_us\":1700000000000004,\"payload\":\"abcdefgh\"}\r\n",
    "49\r\n",
    "{\"seq\":5,\"topic\":\"t0\",\"created_us\":1700000000000005,\"payload\":\"abcdefgh\"}\r\n",
);
const SSE_REQ: &str = concat!(
    "GET /sse HTTP/1.1\r\n",
    "host: 127.0.0.1:18081\r\n",
    "accept: text/event-stream\r\n",
    "\r\n",
);
const SSE_RESP: &str = concat!(
    "HTTP/1.1 200 OK\r\n",
    "Server: nginx/1.22.1\r\n",
    "Date: Fri, 04 Dec 2026 12:49:30 GMT\r\n",
    "Content-Type: text/event-stream; charset=utf-8\r\n",
    "Connection: keep-alive\r\n",
    "\r\n",
    ": hi\n",
    "\n",
    "id: 1796388571:0\n",
    "data: {\"seq\":4,\"topic\":\"t0\",\"created_us\":1700000000000004,\"payload\":\"abcdefgh\"}\n",
    "\n",
    "id: 1796388571:1\n",
    "data: {\"seq\":5,\"topic\":\"t0\",\"created_us\":1700000000000005,\"payload\":\"abcdefgh\"}\n",
    "\n",
    "event: ping\n",
    "\n",
);
const SSE_RESUME_REQ: &str = concat!(
    "GET /sse HTTP/1.1\r\n",
    "host: 127.0.0.1:18081\r\n",
    "accept: text/event-stream\r\n",
    "Last-Event-ID: 1796388571:0\r\n",
    "\r\n",
);
const SSE_RESUME_RESP: &str = concat!(
    "HTTP/1.1 200 OK\r\n",
    "Server: nginx/1.22.1\r\n",
    "Date: Fri, 04 Dec 2026 12:49:32 GMT\r\n",
    "Content-Type: text/event-stream; charset=utf-8\r\n",
    "Connection: keep-alive\r\n",
    "\r\n",
    ": hi\n",
    "\n",
    "id: 1796388571:1\n",
    "data: {\"seq\":5,\"topic\":\"t0\",\"created_us\":1700000000000005,\"payload\":\"abcdefgh\"}\n",
    "\n",
);
const WS_REQ: &str = concat!(
    "GET /ws HTTP/1.1\r\n",
    "host: 127.0.0.1:18081\r\n",
    "Upgrade: websocket\r\n",
    "Connection: Upgrade\r\n",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
    "Sec-WebSocket-Version: 13\r\n",
    "\r\n",
);
const WS_RESP_HEAD: &str = concat!(
    "HTTP/1.1 101 Switching Protocols\r\n",
    "Server: nginx/1.22.1\r\n",
    "Date: Fri, 04 Dec 2026 12:49:30 GMT\r\n",
    "Content-Length: 0\r\n",
    "Connection: upgrade\r\n",
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
    "Upgrade: websocket\r\n",
    "\r\n",
);
const WS_FRAMES: &[u8] = b"\x81I{\"seq\":4,\"topic\":\"t0\",\"created_us\":1700000000000004,\"payload\":\"abcdefgh\"}\x81I{\"seq\":5,\"topic\":\"t0\",\"created_us\":1700000000000005,\"payload\":\"abcdefgh\"}";

type Segments = Vec<(Direction, ByteClass, Vec<u8>)>;

/// Expected segments, neighbours of one direction and class merged as the
/// test sink merges them.
#[derive(Default)]
struct Expect(Segments);

impl Expect {
    fn add(mut self, direction: Direction, class: ByteClass, bytes: impl AsRef<[u8]>) -> Self {
        let bytes = bytes.as_ref();
        match self.0.last_mut() {
            Some((d, c, v)) if *d == direction && *c == class => v.extend_from_slice(bytes),
            _ if bytes.is_empty() => {}
            _ => self.0.push(seg(direction, class, bytes)),
        }
        self
    }

    /// An event `json` received between framing `lead` and `trail`.
    fn event(self, lead: &str, json: &str, trail: &str) -> Self {
        let p = json_payload_range(json.as_bytes()).expect("an event");
        self.add(In, Framing, format!("{lead}{}", &json[..p.start]))
            .add(In, Payload, &json[p.clone()])
            .add(In, Framing, format!("{}{trail}", &json[p.end..]))
    }

    /// A poll exchange that delivered its answer's one message.
    fn answered(self, request: &str, response: &str) -> Self {
        let (head, body) = head_and_body(response);
        self.add(Out, RequestHeaders, request)
            .add(In, ResponseHeaders, head)
            .event("", body, "")
    }

    /// A poll exchange that delivered nothing: control as a whole.
    fn empty(self, request: &str, response: &str) -> Self {
        self.add(Out, Control, request).add(In, Control, response)
    }
}

fn head_and_body(response: &str) -> (&str, &str) {
    let at = response.find("\r\n\r\n").expect("a head") + 4;
    response.split_at(at)
}

fn event_of(json: &str) -> Received {
    decode_json(json.as_bytes()).expect("an event")
}

fn validators(last_modified: &str, etag: &str) -> String {
    format!("Validators {{ last_modified: {last_modified:?}, etag: {etag:?} }}")
}

fn run(transport: Transport, script: &[(Direction, &[u8])]) -> Outcome {
    let script: Vec<(Direction, Vec<u8>)> = script.iter().map(|(d, b)| (*d, b.to_vec())).collect();
    check_kind(TargetKind::Nchan, transport, &script)
}

/// Request and response pairs on one connection, in order.
fn exchanges<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<(Direction, &'a [u8])> {
    pairs
        .iter()
        .flat_map(|(request, response)| [(Out, request.as_bytes()), (In, response.as_bytes())])
        .collect()
}

#[test]
fn interval_poll_answers_one_message_and_its_validators() {
    let got = run(
        Transport::ShortPoll,
        &exchanges(&[
            (POLL_304_REQ, POLL_304_RESP),
            (POLL_FIRST_REQ, POLL_FIRST_RESP),
            (POLL_NEXT_REQ, POLL_NEXT_RESP),
            (POLL_NOTHING_NEW_REQ, POLL_NOTHING_NEW_RESP),
        ]),
    );
    let expected = Expect::default()
        .empty(POLL_304_REQ, POLL_304_RESP)
        .answered(POLL_FIRST_REQ, POLL_FIRST_RESP)
        .answered(POLL_NEXT_REQ, POLL_NEXT_RESP)
        .empty(POLL_NOTHING_NEW_REQ, POLL_NOTHING_NEW_RESP);
    assert_eq!(got.segments, expected.0);
    assert_eq!(
        got.messages,
        vec![
            event_of(head_and_body(POLL_FIRST_RESP).1),
            event_of(head_and_body(POLL_NEXT_RESP).1),
        ]
    );
    assert_eq!(
        got.ends,
        vec![(304, None), (200, None), (200, None), (304, None)]
    );
    // A fresh poller's 304 primes the validators with its Date and tag -1;
    // each answer names its message's id, and a 304 echoes what was sent.
    assert_eq!(
        got.peer,
        vec![
            validators("Fri, 04 Dec 2026 12:49:27 GMT", "-1"),
            validators("Fri, 04 Dec 2026 12:49:28 GMT", "0"),
            validators("Fri, 04 Dec 2026 12:49:28 GMT", "1"),
            validators("Fri, 04 Dec 2026 12:49:28 GMT", "1"),
        ]
    );
    assert_eq!(got.malformed, 0);
}

#[test]
fn long_poll_answer_is_one_message_and_a_timeout_is_control() {
    let got = run(
        Transport::LongPoll,
        &exchanges(&[
            (LONGPOLL_REQ, LONGPOLL_RESP),
            (LONGPOLL_TIMEOUT_REQ, LONGPOLL_TIMEOUT_RESP),
        ]),
    );
    let expected = Expect::default()
        .answered(LONGPOLL_REQ, LONGPOLL_RESP)
        .empty(LONGPOLL_TIMEOUT_REQ, LONGPOLL_TIMEOUT_RESP);
    assert_eq!(got.segments, expected.0);
    assert_eq!(got.messages, vec![event_of(head_and_body(LONGPOLL_RESP).1)]);
    assert_eq!(got.ends, vec![(200, None), (408, None)]);
    // The 408 names no message: the poller keeps what it had.
    assert_eq!(
        got.peer,
        vec![validators("Fri, 04 Dec 2026 12:49:30 GMT", "0")]
    );
}

#[test]
fn http_chunked_frames_one_message_per_chunk() {
    let got = run(Transport::Stream, &exchanges(&[(STREAM_REQ, STREAM_RESP)]));
    let (head, body) = head_and_body(STREAM_RESP);
    let jsons: Vec<&str> = body.split("\r\n").filter(|l| l.starts_with('{')).collect();
    assert_eq!(jsons.len(), 2, "{body}");
    let expected = Expect::default()
        .add(Out, RequestHeaders, STREAM_REQ)
        .add(In, ResponseHeaders, head)
        .event("49\r\n", jsons[0], "\r\n")
        .event("49\r\n", jsons[1], "\r\n");
    assert_eq!(got.segments, expected.0);
    assert_eq!(
        got.messages,
        jsons.iter().map(|j| event_of(j)).collect::<Vec<_>>()
    );
    assert_eq!(got.malformed, 0);
}

#[test]
fn a_chunk_that_is_not_one_event_is_control() {
    let body = "2\r\n{}\r\n0\r\n\r\n";
    let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    let response = format!("{head}{body}");
    let got = run(Transport::Stream, &exchanges(&[(STREAM_REQ, &response)]));
    let expected = Expect::default()
        .add(Out, RequestHeaders, STREAM_REQ)
        .add(In, ResponseHeaders, head)
        .add(In, Framing, "2\r\n")
        .add(In, Control, "{}")
        .add(In, Framing, "\r\n")
        .add(In, Control, "0\r\n\r\n");
    assert_eq!(got.segments, expected.0);
    assert_eq!((got.messages.len(), got.malformed), (0, 1));
}

#[test]
fn eventsource_ids_are_framing_and_resume_tokens_pings_are_control() {
    let got = run(Transport::Sse, &exchanges(&[(SSE_REQ, SSE_RESP)]));
    let (head, body) = head_and_body(SSE_RESP);
    let datas: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    let expected = Expect::default()
        .add(Out, RequestHeaders, SSE_REQ)
        .add(In, ResponseHeaders, head)
        .add(In, Control, ": hi\n\n")
        .event("id: 1796388571:0\ndata: ", datas[0], "\n\n")
        .event("id: 1796388571:1\ndata: ", datas[1], "\n\n")
        .add(In, Control, "event: ping\n\n");
    assert_eq!(got.segments, expected.0);
    assert_eq!(
        got.messages,
        datas.iter().map(|j| event_of(j)).collect::<Vec<_>>()
    );
    assert_eq!(
        got.peer,
        vec![
            "EventId(\"1796388571:0\")".to_owned(),
            "EventId(\"1796388571:1\")".to_owned()
        ]
    );

    // Resumed with Last-Event-ID: the message after that id.
    let resumed = run(
        Transport::Sse,
        &exchanges(&[(SSE_RESUME_REQ, SSE_RESUME_RESP)]),
    );
    assert_eq!(resumed.messages, vec![event_of(datas[1])]);
    assert_eq!(resumed.peer, vec!["EventId(\"1796388571:1\")".to_owned()]);
}

#[test]
fn an_id_line_of_a_block_cut_short_is_not_reported() {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n";
    let response = format!("{head}id: 1796388571:7\ndata: {{\"seq\":");
    let got = run(Transport::Sse, &exchanges(&[(SSE_REQ, &response)]));
    assert_eq!(got.peer, Vec::<String>::new());
    assert_eq!(got.segments.last().map(|s| s.1), Some(Control));
}

#[test]
fn websocket_frames_carry_the_message_as_is() {
    let got = run(
        Transport::Ws,
        &[
            (Out, WS_REQ.as_bytes()),
            (In, WS_RESP_HEAD.as_bytes()),
            (In, WS_FRAMES),
        ],
    );
    // Two text frames (0x81) of 0x49 (73) bytes: the two published JSONs.
    let frames: Vec<&[u8]> = WS_FRAMES.chunks(2 + 0x49).collect();
    assert_eq!(frames.len(), 2);
    let mut expected =
        Expect::default()
            .add(Out, Handshake, WS_REQ)
            .add(In, Handshake, WS_RESP_HEAD);
    let mut jsons = Vec::new();
    for frame in frames {
        let (header, json) = frame.split_at(2);
        assert_eq!(header, b"\x81\x49");
        let json = std::str::from_utf8(json).expect("a text frame");
        expected = expected.add(In, Framing, header).event("", json, "");
        jsons.push(json);
    }
    assert_eq!(got.segments, expected.0);
    assert_eq!(
        got.messages,
        jsons.iter().map(|j| event_of(j)).collect::<Vec<_>>()
    );
}
