//! The response header profile: one middleware puts it on every routed
//! response, the WebSocket 101 and the streaming heads included, and the
//! server never negotiates `permessage-deflate` (so the browser profile's
//! offer leaves the frames uncompressed and countable).

use pushbench_protocol::HeaderProfile;
use pushbench_protocol::header_profiles::BROWSER_RESPONSE as BROWSER;
use pushbench_server::ServerConfig;
use pushbench_server::response_headers::response_headers;

use crate::helpers::{Client, get, quiet, spawn_server};

fn browser() -> ServerConfig {
    ServerConfig {
        response_headers: response_headers(&HeaderProfile::BROWSER).expect("browser"),
        ..quiet()
    }
}

fn assert_profile(head: &str, what: &str) {
    for (name, value) in BROWSER {
        let line = format!("{name}: {value}");
        // A handler's own cache-control (the streams' no-cache) wins.
        if name == "cache-control" {
            assert!(head.contains("cache-control: "), "{what}: {head}");
            continue;
        }
        assert!(head.contains(&line), "{what}: no `{line}` in\n{head}");
    }
}

#[tokio::test]
async fn every_response_carries_the_profile() {
    let server = spawn_server(browser()).await;
    let addr = server.local_addr();
    let poll = get(addr, "/poll").await;
    assert_eq!(poll.status, 200);
    assert_profile(&poll.head, "poll");
    assert_eq!(poll.header("cache-control").as_deref(), Some("no-store"));
    let bad = get(addr, "/poll?since=x").await;
    assert_eq!(bad.status, 400);
    assert_profile(&bad.head, "400");
    assert_profile(&get(addr, "/nowhere").await.head, "404");
    for path in ["/stream", "/sse"] {
        let mut client = Client::connect(addr).await;
        client.send("GET", path, "", b"").await;
        let (status, head) = client.read_head().await;
        assert_eq!(status, 200);
        assert_profile(&head, path);
        assert!(head.contains("cache-control: no-cache"), "{path}: {head}");
        assert!(!head.contains("no-store"), "{path}: {head}");
    }
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn the_websocket_101_carries_the_profile_and_declines_deflate() {
    let server = spawn_server(browser()).await;
    let mut client = Client::connect(server.local_addr()).await;
    // Chromium's offer, verbatim.
    let extra = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                 Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
    client.send("GET", "/ws", extra, b"").await;
    let (status, head) = client.read_head().await;
    assert_eq!(status, 101, "{head}");
    assert_profile(&head, "101");
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("sec-websocket-extensions"),
        "the server negotiated an extension:\n{head}"
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn minimal_adds_nothing() {
    let server = spawn_server(quiet()).await;
    let poll = get(server.local_addr(), "/poll").await;
    let names: Vec<String> = poll
        .head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.to_ascii_lowercase()))
        .collect();
    assert_eq!(
        names,
        ["content-type", "content-length", "date"],
        "{}",
        poll.head
    );
    server.shutdown().await.expect("shutdown");
}
