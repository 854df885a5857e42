//! `pushbench peers` against the real peers: Debian's `wrk` and `h2load`,
//! and the broadcast servers of `scripts/peers/` on Node's `ws` and on
//! Bun's `Bun.serve` pub/sub (`npm ci --prefix scripts/peers` installs `ws`
//! and `bun`), on a small, short load. This checks that every comparison
//! is made and written, and that each peer's run is a clean measurement
//! whose bytes add up by class, not how fast anything is: speed is for
//! `scripts/peers.sh`.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::{pushbench, repo_root, skip_unless_ready};

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
    if !ws.exists() {
        return Some("the Node `ws` package of scripts/peers is missing".to_owned());
    }
    let bun = Command::new(repo_root().join("scripts/peers/node_modules/.bin/bun"))
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    (!bun).then(|| "the `bun` binary of scripts/peers (npm package `bun`) is missing".to_owned())
}

/// A peer's common-load run: nothing missed, and its bytes add up by
/// class: exactly the payload's bytes per delivered event, one WebSocket
/// frame around one event's JSON for the rest, nothing sent, no control
/// frames (no pings).
fn assert_clean_run(results: &Path, payload: u64) {
    let run: Value =
        serde_json::from_slice(&std::fs::read(results).expect("read")).expect("results JSON");
    let phase = &run["phases"][0];
    let events = &phase["events"];
    for count in ["missed", "duplicated", "out_of_order"] {
        assert_eq!(events[count], 0, "{}: {events}", results.display());
    }
    let delivered = events["delivered"].as_u64().unwrap_or(0);
    assert!(delivered > 0, "{}: {events}", results.display());
    let received = &phase["traffic"]["received"];
    let class = |name: &str| received[name].as_u64().unwrap_or(u64::MAX);
    assert_eq!(class("payload"), delivered * payload, "{received}");
    // A 4-byte frame header (the JSON is over 125 bytes), then the
    // envelope `{"seq":S,"topic":"t0","created_us":U,"payload":""}`: 48
    // bytes, a seq of 1 to 7 digits and a 16-digit microsecond time.
    let framing = class("framing") as f64 / delivered as f64;
    assert!(
        (4.0 + 48.0 + 1.0 + 16.0..=4.0 + 48.0 + 7.0 + 16.0).contains(&framing),
        "{received}"
    );
    assert_eq!(class("control"), 0, "{received}");
    // Every class but the TCP/IP headers is what the client read.
    let sum: u64 = received
        .as_object()
        .expect("received ledger")
        .iter()
        .filter(|(k, _)| *k != "tcp_ip")
        .map(|(_, v)| v.as_u64().unwrap_or(0))
        .sum();
    let per_event = phase["derived"]["received_bytes_per_event"]
        .as_f64()
        .expect("received_bytes_per_event");
    assert!(
        (per_event * delivered as f64 - sum as f64).abs() <= delivered as f64 * 0.01,
        "{per_event} B/event x {delivered} vs {sum}: {received}"
    );
    let sent = &phase["traffic"]["sent"];
    assert!(
        sent.as_object()
            .expect("sent ledger")
            .iter()
            .all(|(k, v)| k == "tcp_ip" || v == 0),
        "{sent}"
    );
}

#[test]
fn peers_compares_with_wrk_h2load_node_ws_and_bun_and_writes_everything() {
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
            // Two rounds, servers in turn; ours on one thread like Bun.
            "--ws-rounds",
            "2",
            "--serve-arg=--workers=1",
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
    assert_eq!(comparisons.len(), 8, "{peers_named:?}");
    let fan_out_rounds = comparisons[2]["rounds"].as_array().map(Vec::len);
    assert_eq!(fan_out_rounds, Some(2), "each round's figures are kept");
    let expected = ["wrk", "h2load", "Node", "Node", "Node", "Bun", "Bun", "Bun"];
    for (c, peer) in comparisons.iter().zip(expected) {
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
        "ws-capacity-bun/results.json",
        "ws-common-pushbench-vs-node/results.json",
        "ws-common-pushbench-vs-bun/results.json",
        "ws-capacity-pushbench-2/results.json",
        "ws-capacity-bun-2/results.json",
        "ws-common-pushbench-vs-bun-2/results.json",
        "ws-common-bun-2/results.json",
    ] {
        assert!(out.join(file).exists(), "{file} missing");
    }
    // Each peer's run is a real, clean measurement (the default payload).
    for peer in ["node", "bun"] {
        assert_clean_run(&out.join(format!("ws-common-{peer}/results.json")), 128);
    }
    let _ = std::fs::remove_dir_all(&out);
}
