//! `pushbench peers` against the real peers: Debian's `wrk` and `h2load`,
//! and the Node `ws` broadcast server of `scripts/peers/` (`npm ci --prefix
//! scripts/peers`), on a small, short load. This checks that every
//! comparison is made and written, not how fast anything is: speed is for
//! `scripts/peers.sh`.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::{pushbench, skip_unless_ready};

fn repo_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn missing_peer() -> Option<String> {
    for tool in ["wrk", "h2load", "node"] {
        let found = Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| !o.stdout.is_empty() || !o.stderr.is_empty());
        if !found {
            return Some(format!("`{tool}` is missing"));
        }
    }
    let ws = repo_root().join("scripts/peers/node_modules/ws/package.json");
    (!ws.exists()).then(|| "the Node `ws` package of scripts/peers is missing".to_owned())
}

#[test]
fn peers_compares_with_wrk_h2load_and_node_ws_and_writes_everything() {
    if skip_unless_ready(
        missing_peer(),
        "apt-get install wrk nghttp2-client nodejs npm; npm ci --prefix scripts/peers",
    ) {
        return;
    }
    let out = std::env::temp_dir().join(format!("pushbench-peers-it-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let status = pushbench()
        .current_dir(repo_root())
        .args(["peers", "--out"])
        .arg(&out)
        .args([
            "--rounds",
            "1",
            "--connections",
            "4",
            "--poll-duration",
            "1",
            "--ws-clients",
            "4",
            "--ws-duration",
            "0.5",
            "--ws-start-rate",
            "20",
            "--ws-max-rate",
            "40",
            "--ws-refine",
            "0",
            // Generous: this checks the comparison is made, not speed.
            "--max-p99",
            "5000",
        ])
        .status()
        .expect("run pushbench peers");
    assert!(status.success(), "pushbench peers failed: {status}");
    let peers: Value =
        serde_json::from_slice(&std::fs::read(out.join("peers.json")).expect("peers.json written"))
            .expect("peers.json is JSON");
    let comparisons = peers["comparisons"].as_array().expect("comparisons");
    let peers_named: Vec<&str> = comparisons
        .iter()
        .map(|c| c["peer"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(comparisons.len(), 5, "{peers_named:?}");
    for (c, peer) in comparisons
        .iter()
        .zip(["wrk", "h2load", "Node", "Node", "Node"])
    {
        assert!(c["peer"].as_str().is_some_and(|p| p.contains(peer)), "{c}");
        // CPU is read in 10 ms ticks: this small a load may spend none.
        let floor = if c["metric"].as_str().is_some_and(|m| m.contains("CPU")) {
            -1.0
        } else {
            0.0
        };
        assert!(c["pushbench"].as_f64() > Some(floor), "{c}");
        assert!(c["peer_value"].as_f64() > Some(floor), "{c}");
        assert!(c["ratio"].as_f64() > Some(floor), "{c}");
    }
    for file in [
        "peers.md",
        "peers.svg",
        "peers.png",
        "logs/wrk-1.txt",
        "logs/h2load-1.txt",
        "poll-pushbench-1/results.json",
        "ws-capacity-pushbench/results.json",
        "ws-capacity-node/results.json",
        "ws-common-node/results.json",
    ] {
        assert!(out.join(file).exists(), "{file} missing");
    }
    // The Node server's run is a real, clean measurement: nothing missed.
    let node: Value = serde_json::from_slice(
        &std::fs::read(out.join("ws-common-node/results.json")).expect("read"),
    )
    .expect("json");
    assert_eq!(node["phases"][0]["events"]["missed"], 0);
    assert!(node["phases"][0]["events"]["delivered"].as_u64() > Some(0));
    let _ = std::fs::remove_dir_all(&out);
}
