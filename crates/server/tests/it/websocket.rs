//! WebSocket `/ws` and `/echo` with a real client (tokio-tungstenite) and
//! with raw frames for what a well-behaved client never sends.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
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
    let mask = [0x12u8, 0x34, 0x56, 0x78];
    let mut out = vec![0x80 | opcode];
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
        while client.buf.len() < 2 {
            assert!(!client.closed().await, "closed without a close frame");
        }
        let opcode = client.buf[0] & 0x0f;
        let len = usize::from(client.buf[1] & 0x7f);
        let (header, len) = match len {
            126 => {
                while client.buf.len() < 4 {
                    assert!(!client.closed().await, "closed mid-frame");
                }
                (
                    4,
                    usize::from(u16::from_be_bytes([client.buf[2], client.buf[3]])),
                )
            }
            n => (2, n),
        };
        while client.buf.len() < header + len {
            assert!(!client.closed().await, "closed mid-frame");
        }
        let payload: Vec<u8> = client.buf.drain(..header + len).skip(header).collect();
        if opcode == 0x8 {
            return u16::from_be_bytes([payload[0], payload[1]]);
        }
    }
}

#[tokio::test]
async fn a_message_over_the_limit_closes_with_1009() {
    let server = spawn_server(ServerConfig {
        max_payload: 1_000,
        max_frame: 1_000,
        ..quiet()
    })
    .await;
    for path in ["/ws", "/echo"] {
        let mut client = raw_ws(server.local_addr(), path).await;
        client.send_raw(&frame(0x1, &[b'a'; 2_000], true)).await;
        assert_eq!(close_code(&mut client).await, 1009, "{path}");
    }
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame_closes_with_1007() {
    let server = spawn_server(quiet()).await;
    for path in ["/ws", "/echo"] {
        let mut client = raw_ws(server.local_addr(), path).await;
        client
            .send_raw(&frame(0x1, &[0xff, 0xfe, b'a'], true))
            .await;
        assert_eq!(close_code(&mut client).await, 1007, "{path}");
    }
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn an_unmasked_client_frame_closes_with_1002() {
    let server = spawn_server(quiet()).await;
    let mut client = raw_ws(server.local_addr(), "/echo").await;
    client.send_raw(&frame(0x1, b"hello", false)).await;
    assert_eq!(close_code(&mut client).await, 1002);
    server.shutdown().await.expect("shutdown");
}
