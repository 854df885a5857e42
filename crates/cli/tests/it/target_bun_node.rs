//! The `bun` and `node-ws` target kinds end to end: the relay programs of
//! `scripts/peers/` (Bun.serve, Node with `ws`), started for real by
//! `scripts/targets/<kind>/start`, measured by `pushbench run --target URL
//! --target-kind KIND` on every technique each offers while the load
//! generator publishes into them: nothing missed, every byte of every
//! connection in one class, a packet capture equal to the socket counts,
//! and the start scripts' contract. Without node, the `ws` package or the
//! `bun` binary (`npm ci --prefix scripts/peers`) each test says why and
//! passes, except under CI, where that is a failure.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use pushbench_protocol::{TargetKind, Traffic, Transport};
use serde_json::Value;

use crate::support::{
    StartedTarget, checked_results, pushbench, repo_root, scratch, skip_unless_ready,
};
use crate::wire::{assert_equal_row, verify_wire};

/// How `.ci/run` installs what these tests need.
const INSTALL: &str = "apt-get install nodejs npm; npm ci --prefix scripts/peers";

/// Why `kind`'s server cannot start here, if it cannot.
fn missing_runtime(kind: TargetKind) -> Option<String> {
    let answers = |program: &Path| {
        Command::new(program)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let peers = repo_root().join("scripts/peers");
    match kind {
        TargetKind::NodeWs if !answers(Path::new("node")) => Some("`node` is missing".to_owned()),
        TargetKind::NodeWs if !peers.join("node_modules/ws/package.json").exists() => {
            Some("the Node `ws` package of scripts/peers is missing".to_owned())
        }
        TargetKind::Bun if !answers(&peers.join("node_modules/.bin/bun")) => {
            Some("the `bun` binary of scripts/peers (npm package `bun`) is missing".to_owned())
        }
        _ => None,
    }
}

/// The two kinds, each with what it offers as `--transports` takes it.
fn kinds() -> [(TargetKind, String); 2] {
    [TargetKind::Bun, TargetKind::NodeWs].map(|kind| {
        let offered: Vec<&str> = kind.offers().iter().map(|t| t.name()).collect();
        (kind, offered.join(","))
    })
}

/// A run's JSON lines of the wire log.
fn wire_log(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("the wire log")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a wire log line"))
        .collect()
}

const CLIENTS: u64 = 10;
const PAYLOAD: u64 = 32;

#[test]
fn every_technique_of_bun_and_node_ws_delivers_every_event_and_books_every_byte() {
    for (kind, transports) in kinds() {
        if skip_unless_ready(missing_runtime(kind), INSTALL) {
            continue;
        }
        let target = StartedTarget::start(kind.name());
        let out = scratch(&format!("target-{kind}"));
        let wire = out.join("wire.jsonl");
        let run = pushbench()
            .args([
                "run",
                "--target",
                &target.url(),
                "--target-kind",
                kind.name(),
            ])
            .args([
                "--transports",
                &transports,
                "--clients",
                &CLIENTS.to_string(),
            ])
            .args(["--rate", "8", "--payload", &PAYLOAD.to_string()])
            .args(["--duration", "2", "--warmup", "0.3", "--ramp-up", "0.1"])
            .arg("--wire-log")
            .arg(&wire)
            .arg("--out")
            .arg(&out)
            .output()
            .expect("run pushbench run");
        assert!(run.status.success(), "{kind}: {run:?}");
        let results = checked_results(&out);
        assert_eq!(results["scenario"]["target_kind"], kind.name());
        let phases = results["phases"].as_array().expect("phases");
        assert_eq!(phases.len(), kind.offers().len(), "{kind}");
        for phase in phases {
            let transport = phase["transport"].as_str().expect("transport");
            let events = &phase["events"];
            for count in ["missed", "duplicated", "out_of_order", "gaps"] {
                assert_eq!(events[count], 0, "{kind} {transport}: {events}");
            }
            assert!(events["errors"].as_object().is_some_and(|e| e.is_empty()));
            let delivered = events["delivered"].as_u64().unwrap_or(0);
            assert!(delivered >= CLIENTS * 8, "{kind} {transport}: {events}");
            // Every delivered event's payload, decoded from the relay's
            // framing: the payload class is exactly theirs.
            let received = &phase["traffic"]["received"];
            assert_eq!(received["payload"], delivered * PAYLOAD, "{received}");
            // Control: at most Bun's opener of a stream or SSE body (an
            // empty line, a 3-byte comment), if it fell in the window.
            let control = received["control"].as_u64().unwrap_or(u64::MAX);
            assert!(control <= 3 * CLIENTS, "{kind} {transport}: {received}");
            // The server's cost, from /proc of the start script's process.
            assert!(
                phase["server"]["rss_max_bytes"].as_u64() > Some(0),
                "{phase}"
            );
            assert_eq!(phase["server"]["connections_open"], CLIENTS, "{phase}");
        }
        // Publishing is reported apart from the clients' and control bytes.
        assert!(results["publish_traffic"]["sent"]["control"].as_u64() > Some(0));
        // Every byte of every client connection landed in exactly one class.
        let connections = wire_log(&wire);
        for (index, phase) in phases.iter().enumerate() {
            let mine: Vec<&Value> = connections
                .iter()
                .filter(|c| c["phase"] == index + 1)
                .collect();
            assert_eq!(mine.len() as u64, CLIENTS, "{kind}: {phase}");
            for c in mine {
                let traffic: Traffic =
                    serde_json::from_value(c["traffic"].clone()).expect("a connection's traffic");
                assert_eq!(Some(traffic.sent.total()), c["socket_sent"].as_u64(), "{c}");
                let received = traffic.received.total();
                assert_eq!(Some(received), c["socket_received"].as_u64(), "{c}");
            }
        }
        let _ = std::fs::remove_dir_all(&out);
    }
}

#[test]
fn a_capture_of_bun_and_node_ws_equals_the_socket_counts_and_the_classes() {
    for (kind, transports) in kinds() {
        if skip_unless_ready(missing_runtime(kind), INSTALL) {
            continue;
        }
        let env = [
            ("TARGET_KIND", kind.name()),
            ("TRANSPORTS", &transports),
            ("CLIENTS", "3"),
            ("DURATION", "1"),
        ];
        let Some((stdout, comparison)) = verify_wire(&format!("target-{kind}"), &env) else {
            return;
        };
        for transport in kind.offers() {
            for direction in ["sent", "received"] {
                assert_equal_row(&stdout, &comparison, transport.name(), direction);
            }
        }
    }
}

#[test]
fn a_wrong_kind_or_technique_is_refused_within_seconds_naming_what_was_expected() {
    if skip_unless_ready(missing_runtime(TargetKind::NodeWs), INSTALL) {
        return;
    }
    let node = StartedTarget::start("node-ws");
    let out = scratch("target-wrong-kind");
    let started = Instant::now();
    let run = pushbench()
        .args(["run", "--target", &node.url(), "--target-kind", "bun"])
        .args(["--transports", "ws", "--clients", "1", "--duration", "1"])
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run pushbench run");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}: is not a bun server: expected GET /stats to answer 200 with JSON naming \
             \"server\":\"bun-broadcast\" and \"mode\":\"relay\" (scripts/targets/bun/start), \
             got `ws-broadcast` in `relay` mode",
            node.url()
        )),
        "{stderr}"
    );
    let sse = pushbench()
        .args(["run", "--target", &node.url(), "--target-kind", "node-ws"])
        .args(["--transports", "sse", "--clients", "1", "--duration", "1"])
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run pushbench run");
    let stderr = String::from_utf8_lossy(&sse.stderr);
    assert!(!sse.status.success(), "{stderr}");
    assert!(
        stderr.contains("node-ws does not offer sse (it offers: ws)"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn each_start_script_keeps_the_contract_and_stops_cleanly_on_sigterm() {
    for (kind, _) in kinds() {
        if skip_unless_ready(missing_runtime(kind), INSTALL) {
            continue;
        }
        // A port named in --addr is the one it binds and prints.
        let free = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = free.local_addr().expect("addr").port();
        drop(free);
        let addr = format!("127.0.0.1:{port}");
        let mut target = StartedTarget::start_with(kind.name(), &["--addr", &addr]);
        assert_eq!(target.addr.port(), port, "{kind}");
        // The script execs the runtime: the pid it prints is its own.
        assert_eq!(target.pid, target.child_id(), "{kind}");
        let status = target.terminate(Duration::from_secs(5));
        assert!(
            status.is_some_and(|s| s.success()),
            "{kind}: SIGTERM gave {status:?}"
        );
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "{kind}: still listening after SIGTERM"
        );
    }
}

#[test]
fn a_trace_shows_one_real_exchange_of_each_bun_technique() {
    if skip_unless_ready(missing_runtime(TargetKind::Bun), INSTALL) {
        return;
    }
    for transport in TargetKind::Bun.offers() {
        // A fresh relay each: its ring is the trace's alone.
        let bun = StartedTarget::start("bun");
        let trace = pushbench()
            .args(["trace", "--target", &bun.url(), "--target-kind", "bun"])
            .args(["--transport", transport.name(), "--redact", "--no-color"])
            .output()
            .expect("run pushbench trace");
        let text = String::from_utf8_lossy(&trace.stdout);
        assert!(trace.status.success(), "{transport}: {trace:?}");
        assert!(text.contains("2 events delivered"), "{transport}:\n{text}");
        // The events' own bytes are payload; control is the WebSocket
        // close handshake (6 + 2 bytes sent, 4 received), or at most the
        // opener of a stream or SSE body (see bun-broadcast.js).
        let total = |class: &str| {
            let row = text.lines().find(|l| l.starts_with(&format!("{class} ")));
            row.and_then(|r| r.split_whitespace().nth(3)?.parse::<u64>().ok())
        };
        assert_eq!(total("payload"), Some(2 * 16), "{transport}:\n{text}");
        let control = total("control");
        match transport {
            Transport::Ws => assert_eq!(control, Some(12), "{text}"),
            _ => assert!(control <= Some(3), "{transport}:\n{text}"),
        }
    }
}

#[test]
fn the_relay_programs_shared_protocol_passes_its_unit_tests() {
    if skip_unless_ready(missing_runtime(TargetKind::NodeWs), INSTALL) {
        return;
    }
    crate::support::assert_suite_passes(
        "scripts/peers/peer-common.test.mjs",
        Command::new("node")
            .arg("--test")
            .arg(repo_root().join("scripts/peers/peer-common.test.mjs")),
    );
}
