//! `pushbench run --target URL1,URL2,...`: the clients are spread over the
//! server nodes (client i on node i mod n), and each node's own `/stats`
//! gives its figures in `results.json` (`server.nodes`), summed into the
//! phase's `server`. Against independent `pushbench serve` processes with
//! no generator (so no node has a seq the others lack): the spread and the
//! per-node figures, not the failover (see the cluster tests for that).

use std::path::Path;

use pushbench_protocol::RunResult;
use serde_json::Value;

use crate::support::{Server, checked_results, quick_run, scratch};

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
