//! Short and long polling: exactly once, in order, across many polls.

use std::time::Duration;

use crate::helpers::*;
use pushbench_server::ServerConfig;

#[tokio::test]
async fn short_poll_delivers_every_event_once_in_order_across_polls() {
    let server = spawn_server(quiet()).await;
    let mut client = Client::connect(server.local_addr()).await;
    let mut cursor = 0;
    let mut seen = Vec::new();
    for round in 0..10u64 {
        for i in 0..round {
            server.publish("t", format!("r{round}e{i}"));
        }
        let answer = client
            .request("GET", &format!("/poll?since={cursor}"))
            .await;
        assert_eq!(answer.status, 200);
        assert_eq!(
            answer.header("content-type").as_deref(),
            Some("application/json")
        );
        let json = answer.json();
        seen.extend(seqs(&json));
        cursor = json["next"].as_u64().expect("next");
        assert!(json["gap"].is_null());
    }
    assert_eq!(seen, (1..=45).collect::<Vec<_>>());
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_poll_without_cursor_starts_from_now_and_batches_are_bounded() {
    let server = spawn_server(ServerConfig {
        max_batch: 4,
        ..quiet()
    })
    .await;
    for _ in 0..10 {
        server.publish("t", "x");
    }
    let now = get(server.local_addr(), "/poll").await.json();
    assert_eq!(seqs(&now), Vec::<u64>::new());
    assert_eq!(now["next"], 10);
    let first = get(server.local_addr(), "/poll?since=0").await.json();
    assert_eq!(seqs(&first), [1, 2, 3, 4]);
    assert_eq!(first["next"], 4);
    reliability(
        "security/limits",
        "poll answer with more events pending than max_batch",
        "cut at the batch, next cursor given",
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_cursor_older_than_the_ring_gets_the_rest_and_a_gap() {
    let server = spawn_server(ServerConfig { ring: 5, ..quiet() }).await;
    for _ in 0..12 {
        server.publish("t", "x");
    }
    let answer = get(server.local_addr(), "/poll?since=3").await.json();
    assert_eq!(seqs(&answer), [8, 9, 10, 11, 12]);
    assert_eq!(answer["gap"]["from"], 4);
    assert_eq!(answer["gap"]["to"], 7);
    let long = get(server.local_addr(), "/longpoll?since=3").await.json();
    assert_eq!(long["gap"]["to"], 7);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn long_poll_answers_at_once_when_events_are_pending() {
    let server = spawn_server(quiet()).await;
    server.publish("t", "a");
    let answer = get(server.local_addr(), "/longpoll?since=0&timeout=30")
        .await
        .json();
    assert_eq!(seqs(&answer), [1]);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn long_poll_delivers_every_event_once_across_many_polls() {
    let server = spawn_server(quiet()).await;
    let addr = server.local_addr();
    let poller = tokio::spawn(async move {
        let mut client = Client::connect(addr).await;
        let (mut cursor, mut seen) = (0, Vec::new());
        while seen.len() < 30 {
            let json = client
                .request("GET", &format!("/longpoll?since={cursor}&timeout=5"))
                .await
                .json();
            seen.extend(seqs(&json));
            cursor = json["next"].as_u64().expect("next");
        }
        seen
    });
    for i in 0..30 {
        server.publish("t", format!("e{i}"));
        if i % 3 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let seen = poller.await.expect("poller");
    assert_eq!(seen, (1..=30).collect::<Vec<_>>());
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(start_paused = true)]
async fn long_poll_holds_until_an_event_arrives() {
    let server = spawn_server(quiet()).await;
    let addr = server.local_addr();
    let started = tokio::time::Instant::now();
    let waiter = tokio::spawn(async move {
        patient(addr)
            .await
            .request("GET", "/longpoll?since=0&timeout=60")
            .await
            .json()
    });
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert!(!waiter.is_finished(), "the poll is still held after 20 s");
    server.publish("t", "late");
    let answer = waiter.await.expect("waiter");
    assert_eq!(seqs(&answer), [1]);
    let held = started.elapsed();
    assert!(
        held >= Duration::from_secs(20) && held < Duration::from_secs(60),
        "{held:?}"
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(start_paused = true)]
async fn long_poll_answers_empty_when_its_timeout_passes() {
    let server = spawn_server(quiet()).await;
    let started = tokio::time::Instant::now();
    let mut client = patient(server.local_addr()).await;
    let answer = client
        .request("GET", "/longpoll?since=0&timeout=25")
        .await
        .json();
    assert_eq!(seqs(&answer), Vec::<u64>::new());
    assert_eq!(answer["next"], 0);
    let held = started.elapsed();
    assert!(
        held >= Duration::from_secs(25) && held < Duration::from_secs(26),
        "{held:?}"
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(start_paused = true)]
async fn long_poll_default_hold_is_the_configured_timeout() {
    let server = spawn_server(quiet()).await;
    let started = tokio::time::Instant::now();
    patient(server.local_addr())
        .await
        .request("GET", "/longpoll")
        .await;
    let held = started.elapsed();
    assert!(
        held >= Duration::from_secs(30) && held < Duration::from_secs(31),
        "{held:?}"
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn shutdown_answers_held_long_polls() {
    let server = spawn_server(quiet()).await;
    let mut client = Client::connect(server.local_addr()).await;
    client
        .send("GET", "/longpoll?since=0&timeout=120", "", b"")
        .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let shutdown = tokio::spawn(server.shutdown_within(Duration::from_secs(5)));
    let answer = client.read_response().await;
    assert_eq!(answer.status, 200);
    assert_eq!(seqs(&answer.json()), Vec::<u64>::new());
    shutdown.await.expect("join").expect("shutdown");
}

#[tokio::test]
async fn a_server_started_on_a_journal_resumes_its_ring_and_its_seqs() {
    let dir = std::env::temp_dir().join(format!("pushbench-journal-it-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let config = ServerConfig {
        ring: 5,
        journal: Some(dir.join("events.ndjson")),
        ..quiet()
    };
    let first = spawn_server(config.clone()).await;
    for i in 0..12 {
        first.publish("t", format!("e{i}"));
    }
    let before = get(first.local_addr(), "/poll?since=0").await.json();
    first.shutdown().await.expect("shutdown");

    let again = spawn_server(config).await;
    let after = get(again.local_addr(), "/poll?since=0").await.json();
    assert_eq!(
        after["events"], before["events"],
        "the same events, byte for byte"
    );
    assert_eq!(seqs(&after), [8, 9, 10, 11, 12]);
    assert_eq!(after["gap"]["to"], 7);
    assert_eq!(again.publish("t", "next"), 13);
    again.shutdown().await.expect("shutdown");
    let lines = std::fs::read_to_string(dir.join("events.ndjson")).expect("journal");
    assert!(lines.lines().count() < 10, "compacted at twice the ring");
    let _ = std::fs::remove_dir_all(&dir);
}
