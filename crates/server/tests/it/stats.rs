//! `/stats` byte counts equal what a client counted on its own socket.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt;
use pushbench_server::ServerConfig;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

async fn server_counts(addr: SocketAddr, peer: SocketAddr) -> (u64, u64, String) {
    let stats = get(addr, "/stats?connections=1").await.json();
    let conn = stats["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .find(|c| c["peer"] == peer.to_string())
        .unwrap_or_else(|| panic!("{peer} in {stats}"))
        .clone();
    (
        conn["bytes_read"].as_u64().expect("read"),
        conn["bytes_written"].as_u64().expect("written"),
        conn["transport"].as_str().unwrap_or("").to_owned(),
    )
}

#[tokio::test]
async fn poll_and_stream_counts_match_the_clients_socket_counts() {
    let server = spawn_server(quiet()).await;
    let addr = server.local_addr();
    let mut poller = Client::connect(addr).await;
    for _ in 0..5 {
        server.publish("t", "abc");
        poller.request("GET", "/poll?since=0").await;
    }
    let mut streamer = Client::connect(addr).await;
    streamer.send("GET", "/stream?since=0", "", b"").await;
    streamer.read_head().await;
    let mut pending = Vec::new();
    for _ in 0..5 {
        streamer.read_record(&mut pending, b"\n").await;
    }
    let mut sse = Client::connect(addr).await;
    sse.send("GET", "/sse?since=2", "", b"").await;
    sse.read_head().await;
    let mut pending = Vec::new();
    for _ in 0..3 {
        sse.read_record(&mut pending, b"\n\n").await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    for (client, name) in [
        (&poller, "short-poll"),
        (&streamer, "stream"),
        (&sse, "sse"),
    ] {
        let (read, written, transport) = server_counts(addr, client.local_addr()).await;
        assert_eq!(transport, name);
        assert_eq!(
            read, client.written,
            "{name}: server read what the client wrote"
        );
        assert_eq!(
            written, client.read,
            "{name}: server wrote what the client read"
        );
    }
    let stats = get(addr, "/stats").await.json();
    assert_eq!(stats["transports"]["short-poll"]["events_delivered"], 15);
    assert_eq!(stats["transports"]["stream"]["events_delivered"], 5);
    assert_eq!(stats["transports"]["stream"]["connections_open"], 1);
    assert!(stats["process"]["rss_bytes"].as_u64() > Some(0));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn closed_connections_keep_their_counts_in_the_totals() {
    let server = spawn_server(quiet()).await;
    let addr = server.local_addr();
    let mut client = Client::connect(addr).await;
    client.request("GET", "/longpoll?timeout=0").await;
    let (read, written) = (client.written, client.read);
    drop(client);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stats = get(addr, "/stats").await.json();
    let row = &stats["transports"]["long-poll"];
    assert_eq!(row["connections_open"], 0);
    assert_eq!(row["connections_total"], 1);
    assert_eq!(row["bytes_read"], read);
    assert_eq!(row["bytes_written"], written);
    server.shutdown().await.expect("shutdown");
}

/// Counts a WebSocket client's bytes by wrapping its socket.
#[derive(Clone, Default)]
struct Counter(std::sync::Arc<[std::sync::atomic::AtomicU64; 2]>);

impl pushbench_net::counting::Tally for Counter {
    fn on_read(&self, bytes: &[u8]) {
        self.0[0].fetch_add(bytes.len() as u64, std::sync::atomic::Ordering::Relaxed);
    }
    fn on_written(&self, bytes: &[u8]) {
        self.0[1].fetch_add(bytes.len() as u64, std::sync::atomic::Ordering::Relaxed);
    }
}

#[tokio::test]
async fn websocket_counts_match_the_clients_socket_counts() {
    let server = spawn_server(ServerConfig { ..quiet() }).await;
    let addr = server.local_addr();
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let local = tcp.local_addr().expect("local");
    let counter = Counter::default();
    let counted = pushbench_net::counting::CountingStream::new(tcp, counter.clone());
    let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/ws"), counted)
        .await
        .expect("handshake");
    for _ in 0..7 {
        server.publish("t", "payload");
    }
    for _ in 0..7 {
        assert!(matches!(ws.next().await, Some(Ok(Message::Text(_)))));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (read, written, transport) = server_counts(addr, local).await;
    assert_eq!(transport, "ws");
    let load = |i: usize| counter.0[i].load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(read, load(1));
    assert_eq!(written, load(0));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_labelled_connection_reports_its_counts_and_raw_heads() {
    let server = spawn_server(quiet()).await;
    let addr = server.local_addr();
    server.publish("t", "x");
    let mut sse = Client::connect(addr).await;
    sse.send("GET", "/sse?since=0&client=page-sse", "", b"")
        .await;
    sse.read_head().await;
    sse.read_chunk().await;
    let mut plain = Client::connect(addr).await;
    plain.request("GET", "/poll").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let answer = get(addr, "/stats?client=page-sse").await.json();
    let conns = answer["connections"].as_array().expect("connections");
    assert_eq!(conns.len(), 1, "{answer}");
    let conn = &conns[0];
    assert_eq!(conn["transport"], "sse");
    assert_eq!(conn["bytes_read"], sse.written);
    assert_eq!(conn["bytes_written"], sse.read);
    let request_head = conn["request_head"].as_str().expect("request head");
    assert!(request_head.starts_with("GET /sse?since=0&client=page-sse HTTP/1.1\r\n"));
    assert!(request_head.ends_with("\r\n\r\n"));
    let response_head = conn["response_head"].as_str().expect("response head");
    assert!(
        response_head.starts_with("HTTP/1.1 200 OK\r\n"),
        "{response_head}"
    );
    assert!(response_head.contains("content-type: text/event-stream"));
    // Unlabelled connections keep no heads.
    let all = get(addr, "/stats?connections=1").await.json();
    let plain_row = all["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .find(|c| c["peer"] == plain.local_addr().to_string())
        .expect("plain connection")
        .clone();
    assert!(plain_row.get("request_head").is_none(), "{plain_row}");
    assert_eq!(
        get(addr, "/poll?client=bad%20id").await.json()["parameter"],
        "client"
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_reused_connection_takes_the_label_of_its_newest_request() {
    let server = spawn_server(quiet()).await;
    let addr = server.local_addr();
    let mut client = Client::connect(addr).await;
    client.request("GET", "/").await;
    client.request("GET", "/poll?client=earlier").await;
    client.request("GET", "/poll?client=later").await;
    let answer = get(addr, "/stats?client=later").await.json();
    let conn = &answer["connections"][0];
    assert_eq!(conn["bytes_read"], client.written, "{answer}");
    assert!(
        conn["request_head"]
            .as_str()
            .is_some_and(|h| h.starts_with("GET /poll?client=later HTTP/1.1\r\n")),
        "{answer}"
    );
    assert!(
        conn["response_head"]
            .as_str()
            .is_some_and(|h| h.starts_with("HTTP/1.1 200 OK\r\n")),
        "{answer}"
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn stats_name_the_generator_the_server_was_started_with() {
    let server = spawn_server(ServerConfig {
        rate: 37.0,
        burst: 4,
        payload: 64,
        topics: 3,
        ..ServerConfig::default()
    })
    .await;
    let stats = get(server.local_addr(), "/stats").await.json();
    assert_eq!(
        stats["generator"],
        serde_json::json!({"rate": 37.0, "burst": 4, "payload": 64, "topics": 3}),
        "{stats}"
    );
    server.shutdown().await.expect("shutdown");

    let quiet = spawn_server(quiet()).await;
    let stats = get(quiet.local_addr(), "/stats").await.json();
    assert_eq!(stats["generator"]["rate"], 0.0, "no generator: rate 0");
    quiet.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn time_answers_the_servers_clock_in_microseconds() {
    let server = spawn_server(quiet()).await;
    let before = pushbench_protocol::event::now_us();
    let time = get(server.local_addr(), "/time").await.json();
    let after = pushbench_protocol::event::now_us();
    let now = time["now_us"].as_u64().unwrap_or_else(|| panic!("{time}"));
    // The same clock as this test's: read between the two readings.
    assert!(
        (before..=after).contains(&now),
        "{before} <= {now} <= {after}"
    );
    server.shutdown().await.expect("shutdown");
}
