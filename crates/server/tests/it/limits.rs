//! Slow and hostile clients are bounded, counted, and never hold the server.

use std::time::Duration;

use pushbench_server::ServerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
    reliability(
        "fault/slow-client",
        "slowloris: a request head a byte every 500 ms (paused time)",
        "closed by the 10 s header timeout (between 10 and 30 s), counted in header_timeouts",
    );
}

#[tokio::test(start_paused = true)]
async fn an_http2_client_that_stalls_in_its_preface_is_cut_at_the_header_timeout() {
    let server = spawn_server(ServerConfig {
        header_timeout: Duration::from_secs(10),
        ..quiet()
    })
    .await;
    // "PR" could still be HTTP/2's "PRI" or an HTTP/1.1 method: the server
    // waits to tell; "PRI * HTTP/2.0\r\n" is HTTP/2 without its SETTINGS.
    let cases: [(&str, &[u8]); 2] = [
        ("two bytes of the preface", b"PR"),
        (
            "the preface's first line, no SETTINGS",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        ),
    ];
    for (i, (case, sent)) in cases.into_iter().enumerate() {
        let mut slow = patient(server.local_addr()).await;
        let started = tokio::time::Instant::now();
        slow.stream.write_all(sent).await.expect("write");
        // Closed with the bytes unread (only peeked), the socket resets
        // rather than ends: either way the connection is gone.
        let mut buf = [0u8; 1024];
        while let Ok(n) = slow.stream.read(&mut buf).await
            && n > 0
        {}
        let held = started.elapsed();
        assert!(
            held >= Duration::from_secs(10) && held < Duration::from_secs(30),
            "{case}: {held:?}"
        );
        let stats = patient(server.local_addr())
            .await
            .request("GET", "/stats")
            .await
            .json();
        assert_eq!(stats["header_timeouts"], i + 1, "{case}: {stats}");
        reliability(
            "fault/slow-client",
            &format!("HTTP/2 slowloris: {case}, then silence (paused time)"),
            "closed by the 10 s header timeout, counted in header_timeouts",
        );
    }
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
    reliability(
        "fault/slow-client",
        "a stream and a WebSocket client that stop reading under 32 MB of events (paused time)",
        "both closed by the 30 s send timeout, counted in send_timeouts",
    );
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
    // The client sends `Host: test`; allowed are that host and the list.
    for (origin, allowed) in [
        (Some("http://evil.example"), false),
        (Some("null"), false),
        (Some("http://test:8081"), false),
        (Some("http://test.evil.example"), false),
        (Some("http://app.example.evil"), false),
        (Some("http://app.example"), true),
        (Some("http://test"), true),
        (None, true),
    ] {
        let origin_line = origin.map_or(String::new(), |o| format!("Origin: {o}\r\n"));
        for path in ["/ws", "/echo", "/publish"] {
            let mut client = Client::connect(addr).await;
            if path == "/publish" {
                client.send("POST", path, &origin_line, b"x").await;
            } else {
                client
                    .send("GET", path, &format!("{upgrade}{origin_line}"), b"")
                    .await;
            }
            let want = match (allowed, path) {
                (false, _) => 403,
                (true, "/publish") => 200,
                (true, _) => 101,
            };
            let case = format!("{path} from Origin {}", origin.unwrap_or("(none)"));
            if want == 101 {
                assert_eq!(client.read_head().await.0, 101, "{case}");
            } else {
                let answer = client.read_response().await;
                assert_eq!(answer.status, want, "{case}");
                if want == 403 {
                    let error = answer.json()["error"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    assert!(error.contains("--allow-origin"), "{case}: {error}");
                }
            }
            let outcome = if want == 403 {
                "403 JSON".to_owned()
            } else {
                format!("{want}, allowed")
            };
            reliability("security/origin", &case, &outcome);
        }
    }
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
    for (case, path, header, want) in [
        ("no token", "/publish", "", 401),
        (
            "wrong token",
            "/publish",
            "Authorization: Bearer s3cre\r\n",
            401,
        ),
        (
            "token with a suffix",
            "/publish",
            "Authorization: Bearer s3cret2\r\n",
            401,
        ),
        (
            "token without `Bearer`",
            "/publish",
            "Authorization: s3cret\r\n",
            401,
        ),
        (
            "Basic authorization",
            "/publish",
            "Authorization: Basic czNjcmV0\r\n",
            401,
        ),
        ("empty ?token=", "/publish?token=", "", 401),
        (
            "Bearer token",
            "/publish",
            "Authorization: Bearer s3cret\r\n",
            200,
        ),
        ("?token= in the URL", "/publish?token=s3cret", "", 200),
    ] {
        let mut client = Client::connect(addr).await;
        client.send("POST", path, header, b"x").await;
        let answer = client.read_response().await;
        assert_eq!(answer.status, want, "{case}");
        if want == 401 {
            assert_eq!(answer.json()["status"], 401, "{case}");
        }
        let outcome = if want == 401 {
            "401 JSON"
        } else {
            "200, published"
        };
        reliability("security/token", &format!("POST /publish, {case}"), outcome);
    }
    assert_eq!(server.state().hub.last_seq(), 2);

    // Without the token a WebSocket may listen but not publish.
    let mut listener = raw_ws(addr, "/ws").await;
    listener.send_raw(&frame(0x1, b"hello", true)).await;
    assert_eq!(close_code(&mut listener).await, 1008);
    reliability(
        "security/token",
        "/ws message without the token",
        "close 1008, not published",
    );
    let mut publisher = raw_ws(addr, "/ws?token=s3cret").await;
    publisher.send_raw(&frame(0x1, b"hello", true)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.state().hub.last_seq(), 3);
    reliability(
        "security/token",
        "/ws?token= message with the token",
        "published",
    );
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
    reliability(
        "security/limits",
        "POST /publish over --publish-rate",
        "429 JSON",
    );
    server.shutdown().await.expect("shutdown");
    // The WebSocket upstream takes from the same bucket: of two messages
    // in one write, with one token, the second is refused.
    let server = spawn_server(ServerConfig {
        publish_rate: 1.0,
        ..quiet()
    })
    .await;
    let mut ws = raw_ws(server.local_addr(), "/ws").await;
    ws.send_raw(&[frame(0x1, b"one", true), frame(0x1, b"two", true)].concat())
        .await;
    assert_eq!(close_code(&mut ws).await, 1008);
    assert_eq!(server.state().hub.last_seq(), 1);
    reliability(
        "security/limits",
        "/ws message over --publish-rate",
        "close 1008, not published",
    );
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
    reliability(
        "fault/abandoned-long-poll",
        "a client drops its socket during a 120 s long-poll hold",
        "hold released within 1 s (long-poll connections_open back to 0)",
    );
}

#[tokio::test(start_paused = true)]
async fn idle_connections_are_closed_at_the_header_timeout() {
    let server = spawn_server(ServerConfig {
        header_timeout: Duration::from_secs(10),
        ..quiet()
    })
    .await;
    for (case, request_first) in [
        ("connection that never sends a request", false),
        ("kept-alive connection idle after a request", true),
    ] {
        let mut client = patient(server.local_addr()).await;
        if request_first {
            assert_eq!(client.request("GET", "/stats").await.status, 200);
        }
        let started = tokio::time::Instant::now();
        assert!(client.closed().await, "{case}");
        let held = started.elapsed();
        assert!(
            held >= Duration::from_secs(9) && held < Duration::from_secs(30),
            "{case}: {held:?}"
        );
        reliability("security/limits", case, "closed at --header-timeout");
    }
    server.shutdown().await.expect("shutdown");
}
