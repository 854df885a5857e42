//! Slow and hostile clients are bounded, counted, and never hold the server.

use std::time::Duration;

use pushbench_server::ServerConfig;
use tokio::io::AsyncWriteExt;

use crate::helpers::*;
use crate::websocket::{close_code, frame, raw_ws};

#[tokio::test(start_paused = true)]
async fn a_slowloris_client_is_cut_at_the_header_timeout_and_counted() {
    let server = spawn_server(ServerConfig {
        header_timeout: Duration::from_secs(10),
        ..quiet()
    })
    .await;
    let mut slow = patient(server.local_addr()).await;
    let started = tokio::time::Instant::now();
    let head = b"GET /poll HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    for byte in head
        .iter()
        .chain(b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter())
    {
        if slow.stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Whatever the server said (a 408 or nothing), it closed the connection.
    while !slow.closed().await {}
    let held = started.elapsed();
    assert!(
        held >= Duration::from_secs(10) && held < Duration::from_secs(30),
        "{held:?}"
    );
    let stats = patient(server.local_addr())
        .await
        .request("GET", "/stats")
        .await
        .json();
    assert_eq!(stats["header_timeouts"], 1, "{stats}");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(start_paused = true)]
async fn a_client_that_stops_reading_is_cut_at_the_send_timeout_and_counted() {
    let server = spawn_server(ServerConfig {
        send_timeout: Duration::from_secs(30),
        ..quiet()
    })
    .await;
    let mut stuck_stream = patient(server.local_addr()).await;
    stuck_stream.send("GET", "/stream", "", b"").await;
    let stuck_ws = raw_ws(server.local_addr(), "/ws").await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    // Enough to fill both sockets' buffers many times over.
    let payload = "x".repeat(32 * 1024);
    for _ in 0..1_000 {
        server.publish("t", payload.clone());
    }
    tokio::time::sleep(Duration::from_secs(35)).await;
    let stats = patient(server.local_addr())
        .await
        .request("GET", "/stats")
        .await
        .json();
    assert_eq!(stats["send_timeouts"], 2, "{stats}");
    assert_eq!(
        stats["transports"]["stream"]["connections_open"], 0,
        "{stats}"
    );
    assert_eq!(stats["transports"]["ws"]["connections_open"], 0, "{stats}");
    drop((stuck_stream, stuck_ws));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_request_head_over_the_limit_gets_431() {
    let server = spawn_server(ServerConfig {
        max_header_bytes: 8_192,
        ..quiet()
    })
    .await;
    let mut client = Client::connect(server.local_addr()).await;
    let huge = format!("X-Huge: {}\r\n", "a".repeat(20_000));
    client.send("GET", "/poll", &huge, b"").await;
    assert_eq!(client.read_head().await.0, 431);
    let stats = get(server.local_addr(), "/stats").await.json();
    assert_eq!(stats["malformed_requests"], 1, "{stats}");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn foreign_origins_are_refused_for_websockets_and_publishing() {
    let server = spawn_server(ServerConfig {
        allowed_origins: vec!["http://app.example".into()],
        ..quiet()
    })
    .await;
    let addr = server.local_addr();
    let upgrade = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
                   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    for path in ["/ws", "/echo"] {
        let mut client = Client::connect(addr).await;
        client
            .send(
                "GET",
                path,
                &format!("{upgrade}Origin: http://evil.example\r\n"),
                b"",
            )
            .await;
        let answer = client.read_response().await;
        assert_eq!(answer.status, 403, "{path}");
        assert!(
            answer.json()["error"]
                .as_str()
                .is_some_and(|e| e.contains("evil.example"))
        );
        let mut allowed = Client::connect(addr).await;
        allowed
            .send(
                "GET",
                path,
                &format!("{upgrade}Origin: http://app.example\r\n"),
                b"",
            )
            .await;
        assert_eq!(allowed.read_head().await.0, 101, "{path}");
    }
    let mut client = Client::connect(addr).await;
    client
        .send("POST", "/publish", "Origin: http://evil.example\r\n", b"x")
        .await;
    assert_eq!(client.read_response().await.status, 403);
    // The server's own page is same-origin.
    let mut own = Client::connect(addr).await;
    own.send("POST", "/publish", "Origin: http://test\r\n", b"x")
        .await;
    assert_eq!(own.read_response().await.status, 200);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn publishing_can_require_a_token() {
    let server = spawn_server(ServerConfig {
        publish_token: Some("s3cret".into()),
        ..quiet()
    })
    .await;
    let addr = server.local_addr();
    let mut client = Client::connect(addr).await;
    client.send("POST", "/publish", "", b"x").await;
    assert_eq!(client.read_response().await.status, 401);
    let mut client = Client::connect(addr).await;
    client
        .send("POST", "/publish", "Authorization: Bearer s3cret\r\n", b"x")
        .await;
    assert_eq!(client.read_response().await.status, 200);

    // Without the token a WebSocket may listen but not publish.
    let mut listener = raw_ws(addr, "/ws").await;
    listener.send_raw(&frame(0x1, b"hello", true)).await;
    assert_eq!(close_code(&mut listener).await, 1008);
    let mut publisher = raw_ws(addr, "/ws?token=s3cret").await;
    publisher.send_raw(&frame(0x1, b"hello", true)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.state().hub.last_seq(), 2);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn publishing_faster_than_the_rate_gets_429() {
    let server = spawn_server(ServerConfig {
        publish_rate: 5.0,
        ..quiet()
    })
    .await;
    let mut client = Client::connect(server.local_addr()).await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        client.send("POST", "/publish", "", b"x").await;
        statuses.push(client.read_response().await.status);
    }
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&429));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn an_abandoned_long_poll_is_released_at_once() {
    let server = spawn_server(quiet()).await;
    let addr = server.local_addr();
    let mut client = Client::connect(addr).await;
    client.send("GET", "/longpoll?timeout=120", "", b"").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let open =
        |stats: &serde_json::Value| stats["transports"]["long-poll"]["connections_open"].clone();
    assert_eq!(open(&get(addr, "/stats").await.json()), 1);
    drop(client);
    let mut released = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if open(&get(addr, "/stats").await.json()) == 0 {
            released = true;
            break;
        }
    }
    assert!(
        released,
        "the held long poll outlived its client by more than a second"
    );
    server.shutdown().await.expect("shutdown");
}
