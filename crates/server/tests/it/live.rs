//! HTTP streaming and Server-Sent Events: exactly once, in order, resumable.

use std::time::Duration;

use crate::helpers::*;
use pushbench_server::ServerConfig;

/// Reads SSE events (blank-line separated blocks) from a chunked body.
async fn read_sse_block(client: &mut Client, pending: &mut Vec<u8>) -> String {
    let mut block = client.read_record(pending, b"\n\n").await;
    block.truncate(block.len() - 2);
    String::from_utf8(block).expect("UTF-8")
}

fn field<'a>(block: &'a str, name: &str) -> Option<&'a str> {
    block
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
}

#[tokio::test]
async fn stream_sends_one_line_per_event_in_order() {
    let server = spawn_server(quiet()).await;
    let mut client = Client::connect(server.local_addr()).await;
    client.send("GET", "/stream", "", b"").await;
    let (status, head) = client.read_head().await;
    assert_eq!(status, 200);
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert!(
        head.contains("content-type: application/x-ndjson"),
        "{head}"
    );
    for i in 0..50 {
        server.publish("t", format!("e{i}"));
    }
    let mut pending = Vec::new();
    for want in 1..=50 {
        assert_eq!(seq_of(&client.read_record(&mut pending, b"\n").await), want);
    }
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn stream_resumes_from_since_and_marks_a_gap() {
    let server = spawn_server(ServerConfig { ring: 4, ..quiet() }).await;
    for _ in 0..10 {
        server.publish("t", "x");
    }
    let mut client = Client::connect(server.local_addr()).await;
    client.send("GET", "/stream?since=2", "", b"").await;
    client.read_head().await;
    let mut pending = Vec::new();
    let gap: serde_json::Value =
        serde_json::from_slice(&client.read_record(&mut pending, b"\n").await).expect("json");
    assert_eq!(gap["gap"]["from"], 3);
    assert_eq!(gap["gap"]["to"], 6);
    for want in 7..=10 {
        assert_eq!(seq_of(&client.read_record(&mut pending, b"\n").await), want);
    }
    server.publish("t", "live");
    assert_eq!(seq_of(&client.read_record(&mut pending, b"\n").await), 11);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn shutdown_ends_a_stream_with_the_last_chunk() {
    let server = spawn_server(quiet()).await;
    let mut client = Client::connect(server.local_addr()).await;
    client.send("GET", "/stream", "", b"").await;
    client.read_head().await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let shutdown = tokio::spawn(server.shutdown_within(Duration::from_secs(5)));
    assert_eq!(
        client.read_chunk().await,
        None,
        "the zero-length last chunk"
    );
    shutdown.await.expect("join").expect("shutdown");
}

#[tokio::test]
async fn sse_delivers_in_order_and_resumes_with_last_event_id() {
    let server = spawn_server(quiet()).await;
    let mut client = Client::connect(server.local_addr()).await;
    client.send("GET", "/sse", "", b"").await;
    let (status, head) = client.read_head().await;
    assert_eq!(status, 200);
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    for i in 0..20 {
        server.publish("t", format!("e{i}"));
    }
    let mut pending = Vec::new();
    let mut last_id = 0;
    for want in 1..=10u64 {
        let block = read_sse_block(&mut client, &mut pending).await;
        assert_eq!(field(&block, "id"), Some(want.to_string().as_str()));
        assert_eq!(
            seq_of(field(&block, "data").expect("data").as_bytes()),
            want
        );
        last_id = want;
    }
    // Drop the connection mid-stream, then reconnect as EventSource would.
    drop(client);
    for i in 20..25 {
        server.publish("t", format!("e{i}"));
    }
    let mut again = Client::connect(server.local_addr()).await;
    again
        .send("GET", "/sse", &format!("Last-Event-ID: {last_id}\r\n"), b"")
        .await;
    again.read_head().await;
    let mut pending = Vec::new();
    for want in 11..=25u64 {
        let block = read_sse_block(&mut again, &mut pending).await;
        assert_eq!(field(&block, "id"), Some(want.to_string().as_str()));
    }
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn sse_marks_a_gap_as_its_own_event() {
    let server = spawn_server(ServerConfig { ring: 3, ..quiet() }).await;
    for _ in 0..8 {
        server.publish("t", "x");
    }
    let mut client = Client::connect(server.local_addr()).await;
    client.send("GET", "/sse?since=1", "", b"").await;
    client.read_head().await;
    let mut pending = Vec::new();
    let block = read_sse_block(&mut client, &mut pending).await;
    assert_eq!(field(&block, "event"), Some("gap"));
    assert_eq!(field(&block, "data"), Some(r#"{"from":2,"to":5}"#));
    let next = read_sse_block(&mut client, &mut pending).await;
    assert_eq!(field(&next, "id"), Some("6"));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(start_paused = true)]
async fn sse_sends_keep_alive_comments_at_the_configured_interval() {
    let server = spawn_server(ServerConfig {
        sse_keepalive: Duration::from_secs(15),
        ..quiet()
    })
    .await;
    let mut client = patient(server.local_addr()).await;
    client.send("GET", "/sse", "", b"").await;
    client.read_head().await;
    let started = tokio::time::Instant::now();
    let comment = client.read_chunk().await.expect("keep-alive");
    assert_eq!(comment, b": keep-alive\n\n");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(15) && waited < Duration::from_secs(16),
        "{waited:?}"
    );
    let comment = client.read_chunk().await.expect("second keep-alive");
    assert_eq!(comment, b": keep-alive\n\n");
    assert!(started.elapsed() >= Duration::from_secs(30));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_slow_subscriber_is_resynced_from_the_ring_without_loss() {
    // The queue is tiny and the client reads nothing until 20 MB were
    // published, more than the sockets' buffers hold: the fan-out hands
    // the subscriber back, it falls behind and lags; the ring still holds
    // everything, so it must still see every event exactly once.
    let _heavy = memory_heavy().await;
    let server = spawn_server(ServerConfig {
        queue: 2,
        ring: 10_000,
        ..quiet()
    })
    .await;
    let mut client = Client::connect(server.local_addr()).await;
    client.send("GET", "/stream", "", b"").await;
    client.read_head().await;
    let payload = "x".repeat(40_000);
    for _ in 0..500 {
        server.publish("t", payload.as_str());
    }
    let mut pending = Vec::new();
    for want in 1..=500 {
        assert_eq!(seq_of(&client.read_record(&mut pending, b"\n").await), want);
    }
    let stats = get(server.local_addr(), "/stats").await.json();
    assert!(
        stats["slow_consumer_resyncs"].as_u64() >= Some(1),
        "{stats}"
    );
    assert_eq!(stats["slow_consumer_drops"], 0);
    server.shutdown().await.expect("shutdown");
    reliability(
        "fault/slow-client",
        "a stream subscriber 500 events behind with a 2-event queue",
        "resynced from the ring, counted in slow_consumer_resyncs; every event once, in order",
    );
}

/// Resident memory of this test process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("proc status");
    pushbench_server::stats::parse_vm_rss(&status).expect("VmRSS")
}

#[tokio::test]
async fn a_client_that_never_reads_does_not_grow_server_memory() {
    let _alone = memory_heavy().await;
    let server = spawn_server(ServerConfig {
        ring: 100,
        queue: 64,
        ..quiet()
    })
    .await;
    let mut stuck = Vec::new();
    for path in ["/stream", "/sse", "/ws"] {
        let mut client = Client::connect(server.local_addr()).await;
        let extra = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
                     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
        client
            .send("GET", path, if path == "/ws" { extra } else { "" }, b"")
            .await;
        stuck.push(client); // never read again
    }
    let payload = "x".repeat(1024);
    for _ in 0..1_000 {
        server.publish("t", payload.clone());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = rss();
    // 40,000 more events of 1 KiB: 40 MiB if anything kept them for the stuck clients.
    for _ in 0..40_000 {
        server.publish("t", payload.clone());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let grown = rss().saturating_sub(before);
    assert!(grown < 16 * 1024 * 1024, "RSS grew by {grown} bytes");
    drop(stuck);
    server.shutdown().await.expect("shutdown");
    reliability(
        "fault/slow-client",
        "stream, SSE and WebSocket clients that never read, 40 MiB of events",
        "server memory bounded by the queue: RSS grows by less than 16 MiB, not by the 40 MiB sent",
    );
}

/// A HEAD has no body: nothing may follow its head, although a GET's
/// chunks are written past hyper on a plain connection.
#[tokio::test]
async fn a_head_request_for_a_live_body_gets_only_the_head() {
    let server = spawn_server(quiet()).await;
    let mut client = Client::connect(server.local_addr()).await;
    for path in ["/stream", "/sse"] {
        client.send("HEAD", path, "", b"").await;
        let (status, _) = client.read_head().await;
        assert_eq!(status, 200, "{path}");
    }
    server.publish("t", "after the heads");
    // The next answer on the connection is the poll's, whole.
    let answer = client.request("GET", "/poll?since=0").await;
    assert_eq!(answer.status, 200);
    assert_eq!(seqs(&answer.json()), [1]);
    server.shutdown().await.expect("shutdown");
}

/// HTTP/1.0 has no chunks: the body runs to the close of the connection.
#[tokio::test]
async fn an_http_1_0_stream_is_delimited_by_the_close() {
    let server = spawn_server(quiet()).await;
    let mut client = Client::connect(server.local_addr()).await;
    client.send_raw(b"GET /stream HTTP/1.0\r\n\r\n").await;
    let (status, head) = client.read_head().await;
    assert_eq!(status, 200);
    assert!(!head.contains("chunked"), "{head}");
    server.publish("t", "one");
    let mut line = Vec::new();
    while !line.ends_with(b"\n") {
        let Some(chunk) = client.read_some().await else {
            panic!("closed before the event");
        };
        line.extend_from_slice(&chunk);
    }
    assert_eq!(seq_of(&line), 1, "the NDJSON line itself, unframed");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_live_body_whose_client_went_away_is_no_longer_written() {
    // The subscriber waits parked in the hub's fan-out, which writes each
    // publish itself; when hyper drops the body of a client that went
    // away, the fan-out must let go of its socket, and the server close it.
    let server = spawn_server(quiet()).await;
    for path in ["/stream", "/sse"] {
        let mut client = Client::connect(server.local_addr()).await;
        client.send("GET", path, "", b"").await;
        client.read_head().await;
        server.publish("t", "x");
        client.read_chunk().await.expect("an event");
        tokio::io::AsyncWriteExt::shutdown(&mut client.stream)
            .await
            .expect("half-close");
        let closed = async {
            loop {
                server.publish("t", "x");
                if client.read_some().await.is_none() {
                    return;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), closed)
            .await
            .unwrap_or_else(|_| panic!("{path}: still written after the client left"));
    }
    server.shutdown().await.expect("shutdown");
}
