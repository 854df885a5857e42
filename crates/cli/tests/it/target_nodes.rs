//! `pushbench run --target URL1,URL2,...`: the clients are spread over the
//! server nodes (client i on node i mod n), and each node's own `/stats`
//! gives its figures in `results.json` (`server.nodes`), summed into the
//! phase's `server`. Against independent `pushbench serve` processes with
//! no generator (so no node has a seq the others lack): the spread and the
//! per-node figures, and a killed node's clients moving to the next node.
//! Then on a real cluster (`serve --cluster` on Redis): a node killed
//! mid-window, its clients resume on the next from their cursors and miss
//! nothing.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pushbench_protocol::RunResult;
use serde_json::Value;

use crate::cluster::{INSTALL, missing_redis, node, start_redis};
use crate::support::{Server, checked_results, pushbench, quick_run, scratch, skip_unless_ready};

/// Runs `clients` clients of `transports` over `servers` as one target list.
async fn run_over(
    servers: &[Server],
    clients: u32,
    transports: &str,
    out: &Path,
) -> (RunResult, Value, Vec<String>) {
    let urls: Vec<String> = servers
        .iter()
        .map(|s| format!("http://{}", s.addr))
        .collect();
    let args: Vec<String> = [
        "--target".to_owned(),
        urls.join(","),
        "--clients".to_owned(),
        clients.to_string(),
        "--transports".to_owned(),
        transports.to_owned(),
        "--no-report".to_owned(),
    ]
    .to_vec();
    let dir = out.to_owned();
    let (_, result) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        quick_run(&args, &dir)
    })
    .await
    .expect("the run's task");
    let json = checked_results(out);
    (result, json, urls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_spread_over_the_nodes_and_each_node_reports_its_own_figures() {
    let servers: Vec<Server> = (0..3).map(|_| Server::start(&["--rate", "0"])).collect();
    let out = scratch("target-nodes-spread");
    // 8 clients over 3 nodes: 3, 3 and 2 (ids 0-7 on node id % 3).
    let (result, json, urls) = run_over(&servers, 8, "ws,sse", &out).await;
    assert!(result.complete, "{:?}", result.error);
    assert_eq!(result.phases.len(), 2);
    for phase in &result.phases {
        let server = &phase.server;
        let per_node: Vec<(&str, u64)> = server
            .nodes
            .iter()
            .map(|n| (n.url.as_str(), n.connections_open))
            .collect();
        let expected: Vec<(&str, u64)> = urls.iter().map(String::as_str).zip([3, 3, 2]).collect();
        assert_eq!(per_node, expected, "{} phase", phase.transport);
        assert_eq!(server.connections_open, 8, "the sum over the nodes");
        assert_eq!(
            server.rss_max_bytes,
            server.nodes.iter().map(|n| n.rss_max_bytes).sum::<u64>()
        );
        assert!(server.nodes.iter().all(|n| n.rss_max_bytes > 0));
        assert!(
            server
                .nodes
                .iter()
                .all(|n| n.outage.stats_failures == 0 && n.outage.longest_s == 0.0)
        );
        assert_eq!(phase.connections.opened, 8, "one connection each");
        assert_eq!(phase.connections.moved_reconnects, 0);
        assert_eq!(phase.events.missed, 0);
    }
    let nodes = &json["phases"][0]["server"]["nodes"];
    assert_eq!(nodes.as_array().map(Vec::len), Some(3), "{nodes}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_target_writes_no_node_figures() {
    let servers = [Server::start(&["--rate", "0"])];
    let out = scratch("target-nodes-one");
    let (result, json, _) = run_over(&servers, 2, "ws", &out).await;
    assert!(result.complete, "{:?}", result.error);
    assert!(result.phases[0].server.nodes.is_empty());
    assert_eq!(result.phases[0].server.connections_open, 2);
    let phase = &json["phases"][0];
    assert!(phase["server"].get("nodes").is_none(), "{phase}");
    assert!(phase["connections"].get("moved_reconnects").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_nodes_clients_move_to_the_next_and_its_outage_is_its_own() {
    let mut servers: Vec<Server> = (0..3).map(|_| Server::start(&["--rate", "0"])).collect();
    let urls: Vec<String> = servers
        .iter()
        .map(|s| format!("http://{}", s.addr))
        .collect();
    let out = scratch("target-nodes-kill");
    let mut run = pushbench()
        .args(["run", "--target", &urls.join(",")])
        .args(["--clients", "6", "--transports", "ws,long-poll"])
        .args(["--duration", "2", "--warmup", "0.3", "--ramp-up", "0.1"])
        .args(["--no-report", "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .spawn()
        .expect("start pushbench run");
    // Into the first (WebSocket) phase's measured window.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    servers[1].kill();
    let status = tokio::task::spawn_blocking(move || run.wait())
        .await
        .expect("the run's task")
        .expect("the run");
    assert!(status.success(), "{status}");
    let json = checked_results(&out);
    let result: RunResult = serde_json::from_value(json).expect("results");
    assert!(result.complete, "{:?}", result.error);
    let [ws, long_poll] = &result.phases[..] else {
        panic!("two phases: {:?}", result.phases.len())
    };
    // Clients 1 and 4 were on node 1: each moved once, to node 2.
    assert_eq!(ws.connections.moved_reconnects, 2, "{:?}", ws.connections);
    assert_eq!(ws.events.missed, 0);
    let down = &ws.server.nodes[1];
    assert!(down.outage.stats_failures > 0, "{down:?}");
    assert!(ws.server.nodes[0].outage.stats_failures == 0);
    assert_eq!(ws.outage.stats_failures, down.outage.stats_failures);
    // The next phase starts with node 1 down: its clients start on node 2,
    // which is no move (a first connection), and all 6 are served.
    assert_eq!(long_poll.connections.first_sessions, 6);
    assert_eq!(long_poll.connections.moved_reconnects, 0);
    assert_eq!(long_poll.server.nodes[2].connections_open, 4);
    assert!(long_poll.server.nodes[1].outage.stats_failures > 0);
    let report = pushbench()
        .arg("report")
        .arg(out.join("results.json"))
        .output()
        .expect("run pushbench report");
    assert!(report.status.success(), "{report:?}");
    let md = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(md.contains("## Server nodes"), "{md}");
    let down = format!("server nodes unreachable: {}", urls[1]);
    assert!(md.contains(&down), "{md}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn shards_spread_their_clients_over_the_nodes_the_same_way() {
    let servers: Vec<Server> = (0..2).map(|_| Server::start(&["--rate", "0"])).collect();
    let urls: Vec<String> = servers
        .iter()
        .map(|s| format!("http://{}", s.addr))
        .collect();
    let root = scratch("target-nodes-shards");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let start_at = format!("{:.3}", now + 3.0);
    let dirs: Vec<PathBuf> = (0..2).map(|i| root.join(format!("shard-{i}"))).collect();
    let children: Vec<_> = dirs
        .iter()
        .enumerate()
        .map(|(i, dir)| {
            pushbench()
                .args(["run", "--target", &urls.join(","), "--clients", "6"])
                .args(["--transports", "ws", "--segment", &format!("{i}/2")])
                .args(["--start-at", &start_at])
                .args(["--duration", "1", "--warmup", "0.3", "--ramp-up", "0.1"])
                .args(["--no-report", "--out"])
                .arg(dir)
                .stdout(Stdio::null())
                .spawn()
                .expect("start a shard")
        })
        .collect();
    for (mut child, dir) in children.into_iter().zip(&dirs) {
        assert!(child.wait().expect("a shard").success());
        let json = checked_results(dir);
        let result: RunResult = serde_json::from_value(json).expect("results");
        let phase = &result.phases[0];
        assert_eq!(phase.clients, 3, "the shard's slice");
        // Ids 0-2 and 3-5: each shard puts clients on both nodes (node
        // i % 2: shard 0 puts 2 and 1 there, shard 1 puts 1 and 2), and
        // each node holds 3 of the 6 in all. A node's /stats is read as
        // this shard's window ends, when the other shard's clients may
        // already be closing: at least this shard's own, at most 3.
        let own: [u64; 2] = if dir.ends_with("shard-0") {
            [2, 1]
        } else {
            [1, 2]
        };
        let per_node: Vec<u64> = phase
            .server
            .nodes
            .iter()
            .map(|n| n.connections_open)
            .collect();
        assert_eq!(per_node.len(), 2, "{}", dir.display());
        for (node, (&seen, &mine)) in per_node.iter().zip(&own).enumerate() {
            assert!(
                (mine..=3).contains(&seen),
                "{}: node {node} held {seen}, this shard's own {mine}",
                dir.display()
            );
        }
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// `pushbench run` of 6 `transport` clients over `urls` for 4 s, writing
/// into `out`; started, not waited for.
fn start_run(urls: &[String], transport: &str, out: &Path) -> std::process::Child {
    pushbench()
        .args(["run", "--target", &urls.join(","), "--clients", "6"])
        .args(["--transports", transport])
        .args(["--duration", "4", "--warmup", "0.3", "--ramp-up", "0.1"])
        .args(["--no-report", "--out"])
        .arg(out)
        .stdout(Stdio::null())
        .spawn()
        .expect("start pushbench run")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_cluster_nodes_clients_resume_on_the_next_and_miss_nothing() {
    if skip_unless_ready(missing_redis(), INSTALL) {
        return;
    }
    let redis = start_redis("127.0.0.1:0");
    let mut nodes: Vec<Server> = (0..3).map(|_| node(&redis, "failover", "20")).collect();
    let urls: Vec<String> = nodes.iter().map(|s| format!("http://{}", s.addr)).collect();
    let root = scratch("target-nodes-failover");
    // One run per technique at once, so the kill lands in every window.
    let runs: Vec<(&str, PathBuf, std::process::Child)> = ["ws", "sse", "long-poll"]
        .into_iter()
        .map(|t| {
            let out = root.join(t);
            let child = start_run(&urls, t, &out);
            (t, out, child)
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    nodes[1].kill();
    for (transport, out, mut child) in runs {
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .expect("the run's task")
            .expect("the run");
        assert!(status.success(), "{transport}: {status}");
        let json = checked_results(&out);
        let result: RunResult = serde_json::from_value(json).expect("results");
        assert!(result.complete, "{transport}: {:?}", result.error);
        let phase = &result.phases[0];
        let events = &phase.events;
        assert!(events.published >= 20, "{transport}: {events:?}");
        assert_eq!(
            (events.missed, events.duplicated, events.out_of_order),
            (0, 0, 0),
            "{transport}: {events:?}"
        );
        // Clients 1 and 4 were on node 1: each resumed on node 2.
        assert_eq!(
            phase.connections.moved_reconnects, 2,
            "{transport}: {:?}",
            phase.connections
        );
        let down = &phase.server.nodes[1];
        assert!(down.outage.stats_failures > 0, "{transport}: {down:?}");
        assert_eq!(phase.server.nodes[0].outage.stats_failures, 0);
        eprintln!(
            "{transport}: {} published, {} delivered, 0 missed, {} moved; node 1 down {:.1} s",
            events.published,
            events.delivered,
            phase.connections.moved_reconnects,
            down.outage.longest_s
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}
