//! Every bad input gets its answer, and never a panic.

use pushbench_server::ServerConfig;

use crate::helpers::*;

async fn expect_400(addr: std::net::SocketAddr, path: &str, extra: &str, parameter: &str) {
    let mut client = Client::connect(addr).await;
    client.send("GET", path, extra, b"").await;
    let answer = client.read_response().await;
    assert_eq!(answer.status, 400, "{path}");
    assert_eq!(
        answer.header("content-type").as_deref(),
        Some("application/json")
    );
    let json = answer.json();
    assert_eq!(json["parameter"], parameter, "{path}: {json}");
    assert!(json["error"].as_str().is_some_and(|e| !e.is_empty()));
}

#[tokio::test]
async fn malformed_and_out_of_range_parameters_get_400_naming_them() {
    let server = spawn_server(quiet()).await;
    server.publish("t", "x");
    let addr = server.local_addr();
    for path in ["/poll", "/longpoll", "/stream", "/sse", "/ws"] {
        expect_400(addr, &format!("{path}?since=abc"), "", "since").await;
        expect_400(addr, &format!("{path}?since=-1"), "", "since").await;
        expect_400(addr, &format!("{path}?since=99"), "", "since").await;
    }
    for timeout in ["x", "-3", "100000", "nan"] {
        expect_400(addr, &format!("/longpoll?timeout={timeout}"), "", "timeout").await;
    }
    expect_400(addr, "/sse", "Last-Event-ID: tomorrow\r\n", "Last-Event-ID").await;
    expect_400(addr, "/sse", "Last-Event-ID: 99\r\n", "Last-Event-ID").await;
    expect_400(addr, "/ws?format=xml", "", "format").await;
    expect_400(addr, "/stats?connections=perhaps", "", "connections").await;
    let long_topic = "t".repeat(100);
    let mut client = Client::connect(addr).await;
    client
        .send("POST", &format!("/publish?topic={long_topic}"), "", b"x")
        .await;
    assert_eq!(client.read_response().await.json()["parameter"], "topic");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn unknown_paths_get_a_json_404() {
    let server = spawn_server(quiet()).await;
    let answer = get(server.local_addr(), "/nope").await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.json()["error"], "no such path: /nope");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn publish_answers_its_seq_and_refuses_bodies_over_the_limit() {
    let server = spawn_server(ServerConfig {
        max_payload: 100,
        ..quiet()
    })
    .await;
    let mut client = Client::connect(server.local_addr()).await;
    client
        .send("POST", "/publish?topic=news", "", b"first")
        .await;
    let answer = client.read_response().await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["seq"], 1);

    let mut client = Client::connect(server.local_addr()).await;
    client.send("POST", "/publish", "", &[b'a'; 101]).await;
    let answer = client.read_response().await;
    assert_eq!(answer.status, 413);
    assert_eq!(answer.json()["status"], 413);

    let mut client = Client::connect(server.local_addr()).await;
    client.send("POST", "/publish", "", &[0xff, 0xfe]).await;
    let answer = client.read_response().await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json()["parameter"], "body");
    let poll = get(server.local_addr(), "/poll?since=0").await.json();
    assert_eq!(poll["events"][0]["payload"], "first");
    assert_eq!(poll["events"][0]["topic"], "news");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn push_requests_past_the_connection_limit_get_503() {
    let server = spawn_server(ServerConfig {
        max_connections: 2,
        ..quiet()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut client = Client::connect(server.local_addr()).await;
        client.send("GET", "/stream", "", b"").await;
        assert_eq!(client.read_head().await.0, 200);
        held.push(client);
    }
    let answer = get(server.local_addr(), "/stream").await;
    assert_eq!(answer.status, 503);
    assert!(
        answer.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains("limit"))
    );
    let stats = get(server.local_addr(), "/stats").await.json();
    assert_eq!(stats["connections_refused"], 1);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn malformed_http_gets_400_and_the_server_stays_up() {
    let server = spawn_server(quiet()).await;
    let mut client = Client::connect(server.local_addr()).await;
    client.send_raw(b"THIS IS NOT HTTP\r\n\r\n").await;
    let (status, _) = client.read_head().await;
    assert_eq!(status, 400);
    assert_eq!(get(server.local_addr(), "/poll").await.status, 200);
    server.shutdown().await.expect("shutdown");
}
