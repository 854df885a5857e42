//! Pushpin's wire (`TargetKind::Pushpin`): real exchanges captured from
//! Pushpin 1.36 (Debian) in front of our GRIP origin
//! (`scripts/targets/pushpin/origin.mjs`), classified byte for byte.
//!
//! Pushpin relays what the origin and the publisher give it, so its
//! dialect is whatever the origin chooses; ours chooses pushbench's own:
//! the same poll answer (`{"events":[...],"next":N,"gap":null}`, the
//! published `http-response` body of a held long poll), NDJSON line, SSE
//! block (`id: SEQ`, `data: JSON`) and WebSocket text frame as `pushbench
//! serve`. So the Pushpin kind reads its answers with pushbench's parsers
//! (the seam's arms in `content.rs`, `ws.rs` and `dialect.rs` stay shared)
//! and this module holds only tests. What Pushpin adds around them is
//! plain HTTP: its own head (`Date`, `Connection: Transfer-Encoding`,
//! chunked encoding for a held stream, `Content-Length` for a held
//! response), chunk sizes, WebSocket frame headers and its echo of a
//! client's close. It sends no keep-alive comments or lines (the origin
//! asks for none: no `Grip-Keep-Alive`) and no WebSocket pings; a stream
//! or WebSocket it holds never ends on its own.
//!
//! Each exchange below is the bytes one connection carried (captured at
//! the client's socket, one read per direction change merged), fed whole
//! and one byte at a time.

use super::tests::{Outcome, check_kind, seg};
use crate::ledger::ByteClass::{
    Control, Framing, Handshake, Payload, RequestHeaders, ResponseHeaders,
};
use crate::wire::Direction::{Received as In, Sent as Out};
use crate::{Received, TargetKind, Transport, decode_json};

/// The envelope of event `seq` as the captures carry it (payload
/// `ABCDEFGH`), split around the payload.
fn envelope(seq: u64) -> (String, &'static str) {
    (
        format!(
            r#"{{"seq":{seq},"topic":"t0","created_us":{},"payload":""#,
            1_700_000_000_000_000 + seq
        ),
        r#""}"#,
    )
}

fn received(seq: u64) -> Received {
    let (before, after) = envelope(seq);
    decode_json(format!("{before}ABCDEFGH{after}").as_bytes()).expect("decode")
}

fn pushpin(transport: Transport, script: &[(crate::wire::Direction, &[u8])]) -> Outcome {
    let script: Vec<_> = script.iter().map(|(d, b)| (*d, b.to_vec())).collect();
    check_kind(TargetKind::Pushpin, transport, &script)
}

#[test]
fn long_poll_held_answered_and_timed_out() {
    // A poll held until event 1 was published (Pushpin sends the published
    // `http-response` body), a poll answered at once from the origin's
    // ring (events 2 and 3), and a poll whose hold timed out (the origin's
    // hold body): one keep-alive connection.
    let req1 = b"GET /longpoll?since=0&timeout=30 HTTP/1.1\r\nhost: 127.0.0.1:35297\r\n\r\n";
    let head1 = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Fri, 04 Dec 2026 12:51:56 GMT\r\nContent-Length: 106\r\n\r\n";
    let body1 = b"{\"events\":[{\"seq\":1,\"topic\":\"t0\",\"created_us\":1700000000000001,\"payload\":\"ABCDEFGH\"}],\"next\":1,\"gap\":null}";
    let req2 = b"GET /longpoll?since=1&timeout=30 HTTP/1.1\r\nhost: 127.0.0.1:35297\r\n\r\n";
    let head2 = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Fri, 04 Dec 2026 12:51:57 GMT\r\nContent-Length: 180\r\n\r\n";
    let body2 = b"{\"events\":[{\"seq\":2,\"topic\":\"t0\",\"created_us\":1700000000000002,\"payload\":\"ABCDEFGH\"},{\"seq\":3,\"topic\":\"t0\",\"created_us\":1700000000000003,\"payload\":\"ABCDEFGH\"}],\"next\":3,\"gap\":null}";
    let req3 = b"GET /longpoll?since=3&timeout=1 HTTP/1.1\r\nhost: 127.0.0.1:35297\r\n\r\n";
    let head3 = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Fri, 04 Dec 2026 12:51:57 GMT\r\nContent-Length: 33\r\n\r\n";
    let body3 = b"{\"events\":[],\"next\":3,\"gap\":null}";
    let got = pushpin(
        Transport::LongPoll,
        &[
            (Out, req1),
            (In, &[&head1[..], body1].concat()),
            (Out, req2),
            (In, &[&head2[..], body2].concat()),
            (Out, req3),
            (In, &[&head3[..], body3].concat()),
        ],
    );
    let (a1, z1) = envelope(1);
    let (a2, z2) = envelope(2);
    let (a3, z3) = envelope(3);
    assert_eq!(
        got.segments,
        vec![
            seg(Out, RequestHeaders, req1),
            seg(In, ResponseHeaders, head1),
            seg(In, Framing, format!("{{\"events\":[{a1}")),
            seg(In, Payload, "ABCDEFGH"),
            seg(In, Framing, format!("{z1}],\"next\":1,\"gap\":null}}")),
            seg(Out, RequestHeaders, req2),
            seg(In, ResponseHeaders, head2),
            seg(In, Framing, format!("{{\"events\":[{a2}")),
            seg(In, Payload, "ABCDEFGH"),
            seg(In, Framing, format!("{z2},{a3}")),
            seg(In, Payload, "ABCDEFGH"),
            seg(In, Framing, format!("{z3}],\"next\":3,\"gap\":null}}")),
            // The timed-out poll delivered nothing: all of it is control.
            seg(Out, Control, req3),
            seg(In, Control, [&head3[..], body3].concat()),
        ]
    );
    assert_eq!(got.messages, vec![received(1), received(2), received(3)]);
    assert_eq!(
        got.ends,
        vec![(200, Some(1)), (200, Some(3)), (200, Some(3))]
    );
    assert_eq!((got.malformed, got.peer.len()), (0, 0));
}

/// A held stream's real exchange: `req`, then `head` and two events, each
/// in a chunk of its own: `open(seq)` before the event's JSON (the chunk
/// size, SSE's `id:` and `data:`), `close` after it.
struct HeldStream {
    transport: Transport,
    req: &'static [u8],
    head: &'static [u8],
    body: &'static [u8],
    open: fn(u64) -> String,
    close: &'static str,
}

#[test]
fn held_streams_frame_each_event_in_a_chunk_of_its_own() {
    // Event 1 is the origin's first body (the ring after since=0), event 2
    // a published `http-stream` item; the streams stay open.
    let ndjson = HeldStream {
        transport: Transport::Stream,
        req: b"GET /stream?since=0 HTTP/1.1\r\nhost: 127.0.0.1:38165\r\n\r\n",
        head: b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nCache-Control: no-cache\r\nDate: Fri, 04 Dec 2026 12:52:07 GMT\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n",
        body: b"4a\r\n{\"seq\":1,\"topic\":\"t0\",\"created_us\":1700000000000001,\"payload\":\"ABCDEFGH\"}\n\r\n4a\r\n{\"seq\":2,\"topic\":\"t0\",\"created_us\":1700000000000002,\"payload\":\"ABCDEFGH\"}\n\r\n",
        open: |_| "4a\r\n".into(),
        close: "\n\r\n",
    };
    let sse = HeldStream {
        transport: Transport::Sse,
        req: b"GET /sse?since=0 HTTP/1.1\r\nhost: 127.0.0.1:40235\r\n\r\n",
        head: b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nDate: Fri, 04 Dec 2026 12:52:11 GMT\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n",
        body: b"57\r\nid: 1\ndata: {\"seq\":1,\"topic\":\"t0\",\"created_us\":1700000000000001,\"payload\":\"ABCDEFGH\"}\n\n\r\n57\r\nid: 2\ndata: {\"seq\":2,\"topic\":\"t0\",\"created_us\":1700000000000002,\"payload\":\"ABCDEFGH\"}\n\n\r\n",
        open: |seq| format!("57\r\nid: {seq}\ndata: "),
        close: "\n\n\r\n",
    };
    for s in [ndjson, sse] {
        let got = pushpin(
            s.transport,
            &[(Out, s.req), (In, &[s.head, s.body].concat())],
        );
        let (a1, z1) = envelope(1);
        let (a2, z2) = envelope(2);
        let (open, close) = (s.open, s.close);
        assert_eq!(
            got.segments,
            vec![
                seg(Out, RequestHeaders, s.req),
                seg(In, ResponseHeaders, s.head),
                seg(In, Framing, format!("{}{a1}", open(1))),
                seg(In, Payload, "ABCDEFGH"),
                seg(In, Framing, format!("{z1}{close}{}{a2}", open(2))),
                seg(In, Payload, "ABCDEFGH"),
                seg(In, Framing, format!("{z2}{close}")),
            ],
            "{}",
            s.transport
        );
        assert_eq!(
            got.messages,
            vec![received(1), received(2)],
            "{}",
            s.transport
        );
        assert_eq!((got.ends.len(), got.malformed), (0, 0), "{}", s.transport);
    }
}

#[test]
fn websocket_over_http_frames_and_close_echo() {
    // The 101 and event 1 (the origin's `m:` message on OPEN) come in one
    // read; event 2 is a published `ws-message`. The client's close (1000)
    // is echoed by the origin through Pushpin.
    let req = b"GET /ws?since=0 HTTP/1.1\r\nhost: 127.0.0.1:39115\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    let head = b"HTTP/1.1 101 Switching Protocols\r\nDate: Fri, 04 Dec 2026 12:52:14 GMT\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    let frames = b"\x81I{\"seq\":1,\"topic\":\"t0\",\"created_us\":1700000000000001,\"payload\":\"ABCDEFGH\"}\x81I{\"seq\":2,\"topic\":\"t0\",\"created_us\":1700000000000002,\"payload\":\"ABCDEFGH\"}";
    let close = b"\x88\x82\x01\x02\x03\x04\x02\xea";
    let close_echo = b"\x88\x02\x03\xe8";
    let got = pushpin(
        Transport::Ws,
        &[
            (Out, req),
            (In, &[&head[..], frames].concat()),
            (Out, close),
            (In, close_echo),
        ],
    );
    let (a1, z1) = envelope(1);
    let (a2, z2) = envelope(2);
    assert_eq!(
        got.segments,
        vec![
            seg(Out, Handshake, req),
            seg(In, Handshake, head),
            seg(In, Framing, [&b"\x81I"[..], a1.as_bytes()].concat()),
            seg(In, Payload, "ABCDEFGH"),
            seg(
                In,
                Framing,
                [z1.as_bytes(), b"\x81I", a2.as_bytes()].concat()
            ),
            seg(In, Payload, "ABCDEFGH"),
            seg(In, Framing, z2),
            seg(Out, Control, close),
            seg(In, Control, close_echo),
        ]
    );
    assert_eq!(got.messages, vec![received(1), received(2)]);
}
