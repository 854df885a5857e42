//! WebSocket `/ws` and `/echo` with a real client (tokio-tungstenite) and
//! with raw frames for what a well-behaved client never sends.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pushbench_protocol::frame_head::WsFrameHead;
use pushbench_protocol::{Received, decode_binary};
use pushbench_server::ServerConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::*;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(addr: std::net::SocketAddr, path: &str) -> Ws {
    let (ws, response) = tokio_tungstenite::connect_async(format!("ws://{addr}{path}"))
        .await
        .expect("WebSocket handshake");
    assert_eq!(response.status(), 101);
    ws
}

async fn next(ws: &mut Ws) -> Message {
    tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("a message within 10 s")
        .expect("stream open")
        .expect("valid message")
}

#[tokio::test]
async fn ws_sends_one_text_frame_per_event_in_order() {
    let server = spawn_server(quiet()).await;
    let mut ws = connect(server.local_addr(), "/ws").await;
    for i in 0..40 {
        server.publish("t", format!("e{i}"));
    }
    for want in 1..=40 {
        match next(&mut ws).await {
            Message::Text(text) => assert_eq!(seq_of(text.as_bytes()), want),
            other => panic!("expected text, got {other:?}"),
        }
    }
    drop(ws);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn ws_binary_format_and_since_resume() {
    let server = spawn_server(quiet()).await;
    for _ in 0..5 {
        server.publish("topic", "abc");
    }
    let mut ws = connect(server.local_addr(), "/ws?since=2&format=binary").await;
    for want in 3..=5 {
        match next(&mut ws).await {
            Message::Binary(data) => match decode_binary(&data).expect("binary event") {
                Received::Event {
                    seq, payload_len, ..
                } => {
                    assert_eq!((seq, payload_len), (want, 3));
                }
                other => panic!("expected an event, got {other:?}"),
            },
            other => panic!("expected binary, got {other:?}"),
        }
    }
    drop(ws);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn ws_answers_ping_and_completes_the_close_handshake() {
    let server = spawn_server(quiet()).await;
    let mut ws = connect(server.local_addr(), "/ws").await;
    ws.send(Message::Ping(b"are you there".to_vec().into()))
        .await
        .expect("ping");
    assert_eq!(
        next(&mut ws).await,
        Message::Pong(b"are you there".to_vec().into())
    );
    ws.close(None).await.expect("close");
    match next(&mut ws).await {
        Message::Close(_) => {}
        other => panic!("expected the close reply, got {other:?}"),
    }
    assert!(
        ws.next().await.is_none(),
        "the stream ends after the close handshake"
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_message_sent_upstream_is_published_to_everyone() {
    let server = spawn_server(quiet()).await;
    let mut listener = connect(server.local_addr(), "/ws").await;
    let mut sender = connect(server.local_addr(), "/ws?topic=chat").await;
    sender
        .send(Message::Text("hello from a client".into()))
        .await
        .expect("send");
    for ws in [&mut listener, &mut sender] {
        match next(ws).await {
            Message::Text(text) => {
                let v: serde_json::Value = serde_json::from_str(text.as_str()).expect("json");
                assert_eq!(v["payload"], "hello from a client");
                assert_eq!(v["topic"], "chat");
                assert_eq!(v["seq"], 1);
            }
            other => panic!("expected text, got {other:?}"),
        }
    }
    drop((listener, sender));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn echo_returns_every_data_frame_unchanged_at_the_length_boundaries() {
    let server = spawn_server(ServerConfig {
        max_payload: 1 << 20,
        max_frame: 1 << 20,
        ..quiet()
    })
    .await;
    let mut ws = connect(server.local_addr(), "/echo").await;
    for len in [0, 1, 125, 126, 127, 65_535, 65_536, 100_000] {
        let text = "a".repeat(len);
        ws.send(Message::Text(text.clone().into()))
            .await
            .expect("send text");
        assert_eq!(
            next(&mut ws).await,
            Message::Text(text.into()),
            "text of {len}"
        );
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        ws.send(Message::Binary(data.clone().into()))
            .await
            .expect("send binary");
        assert_eq!(
            next(&mut ws).await,
            Message::Binary(data.into()),
            "binary of {len}"
        );
    }
    drop(ws);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn shutdown_sends_a_going_away_close_frame() {
    let server = spawn_server(quiet()).await;
    let mut ws = connect(server.local_addr(), "/ws").await;
    let mut echo = connect(server.local_addr(), "/echo").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let shutdown = tokio::spawn(server.shutdown_within(Duration::from_secs(5)));
    for ws in [&mut ws, &mut echo] {
        match next(ws).await {
            Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Away),
            other => panic!("expected close 1001, got {other:?}"),
        }
    }
    shutdown.await.expect("join").expect("shutdown");
}

/// A raw WebSocket connection: the handshake by hand, then frames as bytes.
pub async fn raw_ws(addr: std::net::SocketAddr, path: &str) -> Client {
    let mut client = Client::connect(addr).await;
    let extra = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    client.send("GET", path, extra, b"").await;
    let (status, head) = client.read_head().await;
    assert_eq!(status, 101, "{head}");
    client
}

/// A client frame with FIN set and the given opcode, masked unless told not to.
pub fn frame(opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    raw_frame(0x80 | opcode, payload, masked)
}

/// A client frame whose first byte (FIN, RSV1-3, opcode) is `first`.
pub fn raw_frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mask = [0x12u8, 0x34, 0x56, 0x78];
    let mut out = vec![first];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n @ 126..=65_535 => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// Reads server frames until a close frame; returns its code.
pub async fn close_code(client: &mut Client) -> u16 {
    loop {
        // The one decoder of frame headers, as the classifier uses it.
        let head = loop {
            match WsFrameHead::parse(&client.buf) {
                Ok(head) => break head,
                Err(_) => assert!(!client.closed().await, "closed mid-header"),
            }
        };
        let (opcode, header) = (head.opcode, head.header_len);
        let len = usize::try_from(head.payload_len).expect("a close frame's length");
        while client.buf.len() < header + len {
            assert!(!client.closed().await, "closed mid-frame");
        }
        let payload: Vec<u8> = client.buf.drain(..header + len).skip(header).collect();
        if opcode == 0x8 {
            return u16::from_be_bytes([payload[0], payload[1]]);
        }
    }
}

/// A malformed frame sequence and the close code RFC 6455 gives it.
struct WsCase {
    name: String,
    bytes: Vec<u8>,
    code: u16,
}

fn ws_case(name: impl Into<String>, bytes: Vec<u8>, code: u16) -> WsCase {
    WsCase {
        name: name.into(),
        bytes,
        code,
    }
}

/// The head of a masked binary frame announcing `len` bytes in the 64-bit
/// length field, with no payload behind it.
fn announce_64_bit(len: u64) -> Vec<u8> {
    let mut out = vec![0x82, 0x80 | 127];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&[0x12, 0x34, 0x56, 0x78]);
    out
}

fn close_with(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason);
    frame(0x8, &payload, true)
}

/// Frames a client must not send (1002 protocol error, 1007 invalid data,
/// 1009 too big), plus valid close codes, which are echoed. The limits are
/// 1,000 bytes per frame and per message.
fn ws_cases() -> Vec<WsCase> {
    let mut cases = Vec::new();
    for opcode in (0x3..=0x7).chain(0xb..=0xf) {
        let name = format!("reserved opcode {opcode:#x}");
        cases.push(ws_case(name, frame(opcode, b"x", true), 1002));
    }
    for (bit, rsv) in [(0x40, 1), (0x20, 2), (0x10, 3)] {
        let name = format!("RSV{rsv} set without an extension");
        cases.push(ws_case(name, raw_frame(0x80 | bit | 0x1, b"x", true), 1002));
    }
    for (opcode, kind) in [(0x1, "text"), (0x9, "ping"), (0x8, "close")] {
        let payload: &[u8] = if opcode == 0x8 { &[0x03, 0xe8] } else { b"x" };
        let name = format!("unmasked client {kind} frame");
        cases.push(ws_case(name, frame(opcode, payload, false), 1002));
    }
    cases.extend([
        ws_case(
            "frame over --max-frame (2,000 bytes)",
            frame(0x1, &[b'a'; 2_000], true),
            1009,
        ),
        ws_case("64-bit length of 2^40", announce_64_bit(1 << 40), 1009),
        // RFC 6455 wants the top bit clear; such a length is also far over
        // any frame limit, and that is the check that meets it first.
        ws_case(
            "64-bit length with the MSB set",
            announce_64_bit((1 << 63) | 5),
            1009,
        ),
        ws_case(
            "fragments over --max-payload (600 + 600 bytes)",
            [
                raw_frame(0x01, &[b'a'; 600], true),
                frame(0x0, &[b'a'; 600], true),
            ]
            .concat(),
            1009,
        ),
        ws_case("ping of 126 bytes", frame(0x9, &[b'p'; 126], true), 1002),
        ws_case("close of 126 bytes", close_with(1000, &[b'r'; 124]), 1002),
        ws_case("fragmented ping", raw_frame(0x09, b"p", true), 1002),
        ws_case("continuation without a start", frame(0x0, b"x", true), 1002),
        ws_case(
            "text frame inside a fragmented text",
            [raw_frame(0x01, b"a", true), frame(0x1, b"b", true)].concat(),
            1002,
        ),
        ws_case(
            "binary frame inside a fragmented text",
            [raw_frame(0x01, b"a", true), frame(0x2, b"b", true)].concat(),
            1002,
        ),
        ws_case(
            "invalid UTF-8 in a text frame",
            frame(0x1, &[0xff, 0xfe, b'a'], true),
            1007,
        ),
        ws_case(
            "UTF-8 sequence broken across fragments",
            [
                raw_frame(0x01, &[b'a', 0xc3], true),
                frame(0x0, &[0x28], true),
            ]
            .concat(),
            1007,
        ),
        ws_case(
            "close with a 1-byte payload",
            frame(0x8, &[0x03], true),
            1002,
        ),
        ws_case(
            "close reason not UTF-8",
            close_with(1000, &[0xff, 0xfe]),
            1007,
        ),
    ]);
    for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65_535] {
        cases.push(ws_case(
            format!("close code {code}"),
            close_with(code, b""),
            1002,
        ));
    }
    for code in [1000, 1001, 3000, 4999] {
        let name = format!("close code {code} (valid, echoed)");
        cases.push(ws_case(name, close_with(code, b"bye"), code));
    }
    cases
}

#[tokio::test]
async fn malformed_frames_get_their_close_code_and_the_server_stays_up() {
    let server = spawn_server(ServerConfig {
        max_payload: 1_000,
        max_frame: 1_000,
        ..quiet()
    })
    .await;
    let addr = server.local_addr();
    for path in ["/ws", "/echo"] {
        for case in ws_cases() {
            let mut client = raw_ws(addr, path).await;
            client.send_raw(&case.bytes).await;
            assert_eq!(
                close_code(&mut client).await,
                case.code,
                "{path}: {}",
                case.name
            );
            assert_eq!(
                get(addr, "/poll").await.status,
                200,
                "{path}: {}: server up",
                case.name
            );
            let outcome = format!("close {}, server up", case.code);
            reliability(
                "input/websocket",
                &format!("{path}: {}", case.name),
                &outcome,
            );
        }
    }
    assert_eq!(
        server.state().hub.last_seq(),
        0,
        "nothing malformed was published"
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pongs_and_fanned_out_events_never_interleave_their_frames() {
    // The session waits parked while the publisher's loop writes its
    // events; a ping unparks it so tungstenite can write the pong, then it
    // parks again, and events of 4 KiB fill the socket now and then, so
    // the loop hands the rest of a batch back. Every frame must arrive
    // whole, every event once and in order, every ping answered.
    const EVENTS: u64 = 3_000;
    const PINGS: usize = 50;
    let _heavy = memory_heavy().await;
    let server = spawn_server(quiet()).await;
    let mut ws = connect(server.local_addr(), "/ws").await;
    let payload = "x".repeat(4096);
    let publish = async {
        for i in 0..EVENTS {
            server.publish("t", payload.as_str());
            if i % 10 == 0 {
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
        }
    };
    let read = async {
        let (mut seqs, mut pongs) = (Vec::new(), 0);
        for _ in 0..PINGS {
            ws.send(Message::Ping(b"p".to_vec().into()))
                .await
                .expect("ping");
            loop {
                match next(&mut ws).await {
                    Message::Pong(_) => break pongs += 1,
                    Message::Text(text) => seqs.push(seq_of(text.as_bytes())),
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        while (seqs.len() as u64) < EVENTS {
            match next(&mut ws).await {
                Message::Text(text) => seqs.push(seq_of(text.as_bytes())),
                other => panic!("unexpected {other:?}"),
            }
        }
        (seqs, pongs)
    };
    let ((), (seqs, pongs)) = tokio::join!(publish, read);
    assert_eq!(pongs, PINGS);
    assert_eq!(seqs, (1..=EVENTS).collect::<Vec<_>>());
    server.shutdown().await.expect("shutdown");
}
