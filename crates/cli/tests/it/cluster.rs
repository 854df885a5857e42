//! `pushbench serve --cluster`: several real server processes on one real
//! Redis (Debian's redis-server, started by `scripts/lib/redis-start`),
//! with the load generator's own clients: every event reaches every
//! client on every node once and in order, cursors resume across nodes,
//! the generator runs once and moves when its node dies, and subscribers
//! ride out a Redis restart.
//!
//! Needs redis-server (.ci/run installs it): without it the Redis tests
//! are skipped with a note, except under CI, where that is a failure.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use pushbench_protocol::Transport;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use crate::crowd::{Crowd, assert_no_loss, exchange, stats, wait_for};
use crate::support::{Server, StartedTarget, pushbench, reliability, repo_root, skip_unless_ready};

pub(crate) const INSTALL: &str = "apt-get install redis-server";

/// What is missing to start Redis here, if anything.
pub(crate) fn missing_redis() -> Option<String> {
    let found = std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    (!found).then(|| "redis-server is missing".to_owned())
}

/// Redis on `addr` (port 0: a free one), stopped when dropped.
pub(crate) fn start_redis(addr: &str) -> StartedTarget {
    let script = repo_root().join("scripts/lib/redis-start");
    StartedTarget::start_script(&script, "redis listening on redis://", &["--addr", addr])
}

/// A node of the cluster `key` on `redis`, generating `rate` events/s.
pub(crate) fn node(redis: &StartedTarget, key: &str, rate: &str) -> Server {
    let url = format!("redis://{}", redis.addr);
    Server::start(&[
        "--cluster",
        &url,
        "--cluster-key",
        key,
        "--rate",
        rate,
        "--payload",
        "24",
    ])
}

/// `GET /poll?since=S` on `addr`: the events.
async fn poll(addr: SocketAddr, since: u64) -> Vec<Value> {
    let request =
        format!("GET /poll?since={since} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    let (status, body) = exchange(addr, request).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let answer: Value = serde_json::from_slice(&body).expect("poll JSON");
    answer["events"].as_array().expect("events").clone()
}

fn seqs(events: &[Value]) -> Vec<u64> {
    events
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect()
}

/// `POST /publish` on `addr` with `payload`: the status and JSON answer.
async fn post(addr: SocketAddr, payload: &str) -> (u16, Value) {
    let request = format!(
        "POST /publish?topic=c HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{payload}",
        payload.len()
    );
    let (status, body) = exchange(addr, request).await;
    (status, serde_json::from_slice(&body).expect("publish JSON"))
}

/// Opens `/sse` on `addr` resuming after `last_event_id` and reads the
/// ids of the events that arrive until one is `until`.
async fn sse_ids(addr: SocketAddr, last_event_id: u64, until: u64) -> Vec<u64> {
    let read = async {
        let mut tcp = TcpStream::connect(addr).await?;
        let request =
            format!("GET /sse HTTP/1.1\r\nhost: x\r\nlast-event-id: {last_event_id}\r\n\r\n");
        tcp.write_all(request.as_bytes()).await?;
        let mut text = String::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = tcp.read(&mut chunk).await?;
            assert!(n > 0, "the SSE stream ended early: {text}");
            text.push_str(&String::from_utf8_lossy(&chunk[..n]));
            let ids: Vec<u64> = text
                .lines()
                .filter_map(|l| l.strip_prefix("id: ")?.trim().parse().ok())
                .collect();
            if ids.contains(&until) {
                return Ok::<_, std::io::Error>(ids);
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the SSE events within 10 s")
        .expect("SSE")
}

type WebSocket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// A WebSocket on `addr`'s `/ws`, from now on (no cursor).
async fn ws_publisher(addr: SocketAddr) -> WebSocket {
    let url = format!("ws://{addr}/ws");
    let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("WebSocket handshake");
    ws
}

/// The next text message on `ws`, as JSON (within 10 s).
async fn next_text(ws: &mut WebSocket) -> Value {
    let next = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => return text,
                Some(Ok(_)) => {}
                other => panic!("the WebSocket ended: {other:?}"),
            }
        }
    };
    let text = tokio::time::timeout(Duration::from_secs(10), next)
        .await
        .expect("a message within 10 s");
    serde_json::from_str(text.as_str()).expect("JSON text")
}

fn lease_held(stats: &Value) -> bool {
    stats["cluster"]["generator_lease_held"] == true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_reaches_every_client_on_every_node_once_with_one_generator() {
    if skip_unless_ready(missing_redis(), INSTALL) {
        return;
    }
    let redis = start_redis("127.0.0.1:0");
    let rate = 20.0;
    let started = Instant::now();
    let nodes: Vec<Server> = (0..3).map(|_| node(&redis, "spread", "20")).collect();
    let (a, b, c) = (nodes[0].addr, nodes[1].addr, nodes[2].addr);
    let crowds = [b, c].map(|addr| Crowd::start(addr, &Transport::ALL, 2, Duration::from_secs(10)));
    let published_on_a = 10;
    for i in 0..published_on_a {
        let (status, answer) = post(a, &format!("event {i}")).await;
        assert_eq!(status, 200, "{answer}");
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let last = stats(a).await["last_seq"].as_u64().expect("last_seq");
    let elapsed = started.elapsed().as_secs_f64();
    let mut reports = Vec::new();
    for crowd in crowds {
        crowd.caught_up(last, Duration::from_secs(10)).await;
        reports.extend(crowd.finish().await);
    }
    assert_no_loss(&reports, last);
    // Same seqs, same events, byte for byte, on B and C.
    let (on_b, on_c) = (poll(b, 0).await, poll(c, 0).await);
    let upto = |events: &[Value]| -> Vec<Value> {
        events
            .iter()
            .filter(|e| e["seq"].as_u64() <= Some(last))
            .cloned()
            .collect()
    };
    assert_eq!(upto(&on_b), upto(&on_c));
    assert_eq!(seqs(&upto(&on_b)), (1..=last).collect::<Vec<_>>());
    // One generator for the cluster: about rate x elapsed events, not 3x.
    let from_a = upto(&on_b).iter().filter(|e| e["topic"] == "c").count();
    assert_eq!(from_a, published_on_a, "every event published on A");
    let generated = (last as usize - from_a) as f64;
    assert!(
        generated <= rate * elapsed * 1.2 + 2.0 && generated >= rate * elapsed * 0.3,
        "{generated} generated events in {elapsed:.2} s at {rate}/s"
    );
    let mut holders = 0;
    for n in &nodes {
        holders += u32::from(lease_held(&stats(n.addr).await));
    }
    assert_eq!(holders, 1, "exactly one node holds the generator lease");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_taken_on_one_node_resumes_on_another() {
    if skip_unless_ready(missing_redis(), INSTALL) {
        return;
    }
    let redis = start_redis("127.0.0.1:0");
    let (node_a, node_b) = (node(&redis, "cursor", "0"), node(&redis, "cursor", "0"));
    let (a, b) = (node_a.addr, node_b.addr);
    for i in 0..10 {
        let (status, answer) = post(a, &format!("event {i}")).await;
        assert_eq!(
            (status, answer["seq"].as_u64()),
            (200, Some(i + 1)),
            "{answer}"
        );
    }
    let on_a = poll(a, 0).await;
    assert_eq!(seqs(&on_a), (1..=10).collect::<Vec<_>>());
    // Poll: the cursor 4 taken on A gets the same events 5..10 on B.
    assert_eq!(poll(b, 4).await, on_a[4..]);
    // SSE: Last-Event-ID 7 from A resumes on B.
    assert_eq!(sse_ids(b, 7, 10).await, [8, 9, 10]);
    // A cursor fresh from A is valid on B at once (B waits for its reader).
    for i in 0..5 {
        let (status, answer) = post(a, &format!("fresh {i}")).await;
        assert_eq!(status, 200, "{answer}");
        let seq = answer["seq"].as_u64().expect("seq");
        assert!(poll(b, seq).await.is_empty(), "nothing after the newest");
        assert_eq!(seqs(&poll(b, seq - 1).await), [seq]);
    }
    // And back: published on B, resumed on A.
    let (_, answer) = post(b, "from b").await;
    let seq = answer["seq"].as_u64().expect("seq");
    assert_eq!(sse_ids(a, seq - 1, seq).await, [seq]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_generating_node_dies_another_takes_over() {
    if skip_unless_ready(missing_redis(), INSTALL) {
        return;
    }
    let redis = start_redis("127.0.0.1:0");
    let mut nodes: Vec<Server> = (0..3).map(|_| node(&redis, "lease", "20")).collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    let holder = loop {
        let mut holder = None;
        for (i, n) in nodes.iter().enumerate() {
            if lease_held(&stats(n.addr).await) {
                holder = Some(i);
            }
        }
        match holder {
            Some(i) => break i,
            None => assert!(
                Instant::now() < deadline,
                "no node took the lease within 5 s"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut dead = nodes.remove(holder);
    let survivor = nodes[0].addr;
    wait_for(
        survivor,
        Duration::from_secs(5),
        "events before the kill",
        |s| s["last_seq"].as_u64() >= Some(10),
    )
    .await;
    dead.kill();
    let killed_at = Instant::now();
    let before = stats(survivor).await["last_seq"]
        .as_u64()
        .expect("last_seq");
    // The lease lapses (2 s) and a survivor takes it on its next try.
    let deadline = killed_at + Duration::from_secs(5);
    let new_holder = loop {
        let mut holder = None;
        for n in &nodes {
            if lease_held(&stats(n.addr).await) {
                holder = Some(n.addr);
            }
        }
        if let Some(addr) = holder {
            break addr;
        }
        assert!(
            Instant::now() < deadline,
            "no survivor took the lease within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let took = killed_at.elapsed();
    wait_for(
        new_holder,
        Duration::from_secs(5),
        "generating again",
        |s| s["last_seq"].as_u64() >= Some(before + 10),
    )
    .await;
    for n in &nodes {
        let all = seqs(&poll(n.addr, 0).await);
        assert!(
            all.windows(2).all(|w| w[0] < w[1]),
            "seqs unique and increasing"
        );
        assert_eq!(all.first(), Some(&1));
        assert_eq!(
            all.len() as u64,
            *all.last().expect("events"),
            "no seq skipped"
        );
    }
    let last = stats(new_holder).await["last_seq"]
        .as_u64()
        .expect("last_seq");
    reliability(
        "fault/cluster-node-kill",
        "the generator's node SIGKILLed among 3 --cluster nodes on one Redis",
        &format!(
            "another node took the generator lease within {:.1} s; seqs 1-{last} unique and increasing on every node",
            took.as_secs_f64()
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_keep_their_connections_across_a_redis_restart() {
    if skip_unless_ready(missing_redis(), INSTALL) {
        return;
    }
    let mut redis = start_redis("127.0.0.1:0");
    let redis_addr = redis.addr.to_string();
    let nodes = [node(&redis, "restart", "10"), node(&redis, "restart", "10")];
    let (a, b) = (nodes[0].addr, nodes[1].addr);
    let live = [Transport::Ws, Transport::Sse, Transport::Stream];
    let crowds = [a, b].map(|addr| Crowd::start(addr, &live, 2, Duration::from_secs(10)));
    wait_for(a, Duration::from_secs(5), "events flowing", |s| {
        s["last_seq"].as_u64() >= Some(5)
    })
    .await;
    assert!(
        redis.terminate(Duration::from_secs(10)).is_some(),
        "redis stopped"
    );
    let down = wait_for(a, Duration::from_secs(5), "redis seen down", |s| {
        s["cluster"]["up"] == false
    })
    .await;
    let before = down["last_seq"].as_u64().expect("last_seq");
    // A WebSocket publish hears the same error and keeps its connection.
    let mut ws = ws_publisher(a).await;
    ws.send(Message::Text("while down".into()))
        .await
        .expect("send");
    let error = next_text(&mut ws).await;
    assert_eq!(error["status"], 503, "{error}");
    let (status, answer) = post(a, "while down").await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["status"], 503);
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("unavailable") && error.contains("redis://"),
        "{error}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let restarted = start_redis(&redis_addr);
    // A restarted Redis without persistence starts at counter 0: the
    // publish script lifts it above what the nodes saw, so seqs go on.
    let after = wait_for(a, Duration::from_secs(10), "events flowing again", |s| {
        s["last_seq"].as_u64() >= Some(before + 10)
    })
    .await;
    let cluster = &after["cluster"];
    assert_eq!(cluster["up"], true, "{cluster}");
    assert!(cluster["reconnects"].as_u64() >= Some(1), "{cluster}");
    assert!(cluster["publish_errors"].as_u64() >= Some(1), "{cluster}");
    let last = after["last_seq"].as_u64().expect("last_seq");
    let event = next_text(&mut ws).await;
    assert!(
        event["seq"].as_u64() > Some(before),
        "the same WebSocket gets events again: {event}"
    );
    let mut reports = Vec::new();
    for crowd in crowds {
        crowd.caught_up(last, Duration::from_secs(10)).await;
        reports.extend(crowd.finish().await);
    }
    assert_no_loss(&reports, last);
    for (transport, report) in &reports {
        assert_eq!(report.opened, 1, "{transport}: kept its one connection");
    }
    for transport in live {
        reliability(
            "fault/cluster-redis-restart",
            &format!(
                "{transport} clients of 2 --cluster nodes while Redis is stopped and restarted empty"
            ),
            &format!(
                "kept their connections; publishes answered 503 meanwhile; seqs 1-{last} continued past the restart, 0 missed, 0 duplicated"
            ),
        );
    }
    for n in [a, b] {
        let all = seqs(&poll(n, 0).await);
        assert!(
            all.windows(2).all(|w| w[0] < w[1]),
            "seqs unique and increasing"
        );
        assert!(
            all.contains(&(before + 1)),
            "the seq after the outage is {}",
            before + 1
        );
    }
    drop(restarted);
}

#[test]
fn cluster_flags_are_checked_and_a_lone_server_is_unchanged() {
    let fails = |args: &[&str]| {
        let out = pushbench()
            .arg("serve")
            .args(args)
            .output()
            .expect("run serve");
        assert!(!out.status.success(), "{args:?} must fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let both = fails(&[
        "--cluster",
        "redis://127.0.0.1:6379",
        "--journal",
        "j.ndjson",
    ]);
    assert!(
        both.contains("--cluster") && both.contains("--journal"),
        "{both}"
    );
    let bad = fails(&["--cluster", "http://127.0.0.1:6379"]);
    assert!(
        bad.contains("--cluster") && bad.contains("redis://"),
        "{bad}"
    );
    let key = fails(&["--cluster-key", "k"]);
    assert!(key.contains("--cluster"), "{key}");
    // Nothing listens on a port just freed: the node refuses to start.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let started = Instant::now();
    let url = format!("redis://127.0.0.1:{port}");
    let down = fails(&["--addr", "127.0.0.1:0", "--cluster", &url]);
    assert!(down.contains("--cluster") && down.contains(&url), "{down}");
    assert!(started.elapsed() < Duration::from_secs(10));
    reliability(
        "input/cli",
        "pushbench serve --cluster with --journal, a non-redis:// URL, --cluster-key alone, an unreachable Redis",
        "refused, names --cluster (and --journal) and what is allowed; an unreachable Redis after 3 s of trying",
    );
    let lone = Server::start(&["--rate", "0"]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let report = runtime.block_on(stats(lone.addr));
    assert!(report.get("cluster").is_none(), "{report}");
}

/// Runs the publish script as `node` with `floor`: the seq, or Redis's
/// refusal.
async fn run(
    conn: &mut pushbench_server::redis_conn::RedisConn,
    keys: &pushbench_server::cluster::Keys,
    node: &str,
    floor: u64,
    what: pushbench_server::cluster::Publish<'_>,
) -> Result<Option<i64>, pushbench_server::redis_conn::RedisError> {
    let args = pushbench_server::cluster::publish_args(keys, node, floor, 100, what);
    let reply = conn.command(&args, Duration::from_secs(5)).await?;
    Ok(reply.as_integer())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_publish_script_keeps_one_generator_and_seqs_above_the_floor() {
    use pushbench_server::cluster::{Keys, LEASE_SCRIPT, Publish};
    use pushbench_server::redis_conn::{RedisConn, RedisError};
    if skip_unless_ready(missing_redis(), INSTALL) {
        return;
    }
    let redis = start_redis("127.0.0.1:0");
    let url = format!("redis://{}", redis.addr).parse().expect("URL");
    let limit = Duration::from_secs(5);
    let mut conn = RedisConn::connect(&url, limit).await.expect("connect");
    let keys = Keys::new("script");
    let generated = Publish::Generated {
        len: 8,
        topics: 1,
        created_us: &[1],
    };
    // No lease yet: a generator publish is refused, and uses no seq.
    let refused = run(&mut conn, &keys, "n1", 0, generated).await;
    assert!(
        matches!(&refused, Err(RedisError::Refused(m)) if m.contains("NOTLEASE")),
        "{refused:?}"
    );
    let lease = |node: &'static str| ["EVAL", LEASE_SCRIPT, "1", "script:generator", node, "60000"];
    let took = conn.command(&lease("n1"), limit).await.expect("lease");
    assert_eq!(took.as_integer(), Some(1));
    let other = conn.command(&lease("n2"), limit).await.expect("lease");
    assert_eq!(other.as_integer(), Some(0), "the lease is n1's");
    assert_eq!(
        run(&mut conn, &keys, "n1", 0, generated)
            .await
            .expect("publish"),
        Some(1)
    );
    let stale = run(&mut conn, &keys, "n2", 0, generated).await;
    assert!(
        matches!(&stale, Err(RedisError::Refused(m)) if m.contains("NOTLEASE")),
        "{stale:?}"
    );
    // Clients publish from any node; a floor above the counter (a
    // restarted Redis) lifts it, and the counter never goes back.
    let client = Publish::Client {
        topic: "c",
        payload: "p",
        created_us: 1,
    };
    assert_eq!(
        run(&mut conn, &keys, "n2", 1, client)
            .await
            .expect("publish"),
        Some(2)
    );
    assert_eq!(
        run(&mut conn, &keys, "n2", 40, client)
            .await
            .expect("publish"),
        Some(41)
    );
    assert_eq!(
        run(&mut conn, &keys, "n1", 3, client)
            .await
            .expect("publish"),
        Some(42)
    );
    let tail = conn
        .command(
            &["XREVRANGE", "script:events", "+", "-", "COUNT", "1"],
            limit,
        )
        .await
        .expect("XREVRANGE");
    let events = pushbench_server::cluster::parse_range(&tail).expect("entries");
    assert_eq!((events[0].seq, events[0].payload.as_str()), (42, "p"));
    // The generator publishes a wake-up's due events in one call: one seq
    // each, in order, each with its own creation time.
    let batch = Publish::Generated {
        len: 8,
        topics: 1,
        created_us: &[100, 200, 300],
    };
    assert_eq!(
        run(&mut conn, &keys, "n1", 0, batch)
            .await
            .expect("publish"),
        Some(45)
    );
    let tail = conn
        .command(&["XRANGE", "script:events", "43-0", "+"], limit)
        .await
        .expect("XRANGE");
    let events = pushbench_server::cluster::parse_range(&tail).expect("entries");
    let got: Vec<(u64, u64)> = events.iter().map(|e| (e.seq, e.created_us)).collect();
    assert_eq!(got, [(43, 100), (44, 200), (45, 300)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_node_loads_a_tail_longer_than_one_page() {
    use pushbench_server::cluster::{Keys, LEASE_SCRIPT, Publish};
    use pushbench_server::redis_conn::RedisConn;
    if skip_unless_ready(missing_redis(), INSTALL) {
        return;
    }
    let redis = start_redis("127.0.0.1:0");
    let url = format!("redis://{}", redis.addr).parse().expect("URL");
    let limit = Duration::from_secs(5);
    let mut conn = RedisConn::connect(&url, limit).await.expect("connect");
    let keys = Keys::new("tail");
    let lease = ["EVAL", LEASE_SCRIPT, "1", "tail:generator", "seed", "60000"];
    conn.command(&lease, limit).await.expect("lease");
    // 25,000 events, two and a half of the joining node's pages.
    let created: Vec<u64> = (1..=1_000).collect();
    for _ in 0..25 {
        let batch = Publish::Generated {
            len: 24,
            topics: 1,
            created_us: &created,
        };
        let args = pushbench_server::cluster::publish_args(&keys, "seed", 0, 100_000, batch);
        conn.command(&args, limit).await.expect("publish");
    }
    let url = format!("redis://{}", redis.addr);
    let joined = Server::start(&[
        "--cluster",
        &url,
        "--cluster-key",
        "tail",
        "--rate",
        "0",
        "--ring",
        "30000",
    ]);
    let first = poll(joined.addr, 0).await;
    assert_eq!(seqs(&first[..3]), [1, 2, 3]);
    let last = poll(joined.addr, 24_998).await;
    assert_eq!(seqs(&last), [24_999, 25_000]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_stopped_gracefully_hands_the_generator_on_at_once() {
    if skip_unless_ready(missing_redis(), INSTALL) {
        return;
    }
    let redis = start_redis("127.0.0.1:0");
    let mut first = node(&redis, "handover", "20");
    wait_for(first.addr, Duration::from_secs(5), "the lease", |s| {
        lease_held(s)
    })
    .await;
    assert!(first.terminate().success());
    // The lease lives 2 s without renewal: a node that starts now and
    // generates within 1 s found it released, not expired.
    let next = node(&redis, "handover", "20");
    wait_for(
        next.addr,
        Duration::from_secs(1),
        "the lease at once",
        lease_held,
    )
    .await;
}
