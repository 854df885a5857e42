//! The `socketio` target kind end to end: Socket.IO 4 on Node, started by
//! `scripts/targets/socketio/start`, measured by `pushbench run --target
//! URL --target-kind socketio` on both of Engine.IO's transports (HTTP
//! long polling and WebSocket): every published event delivered to every
//! client (none missed), each connection's classes adding up to its socket counts, a
//! packet capture equal to those counts, and a server of another kind
//! refused within seconds, naming what was expected.
//!
//! Needs `node` and `npm ci --prefix scripts/targets/socketio`; without
//! them the tests are skipped with a note, except under CI (env `CI`
//! set), where that is a failure.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pushbench_loadgen::runner::ConnectionRecord;
use serde_json::Value;

use crate::support::{
    StartedTarget, checked_results, pushbench, repo_root, scratch, skip_unless_ready, start_serve,
};
use crate::wire::{assert_equal_row, verify_wire};

/// What is missing to start the target, if anything.
fn missing_target() -> Option<String> {
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node {
        return Some("`node` is missing".to_owned());
    }
    let installed =
        repo_root().join("scripts/targets/socketio/node_modules/socket.io/package.json");
    (!installed.exists())
        .then(|| "socket.io of scripts/targets/socketio is not installed".to_owned())
}

/// `true` (after a note) when the target cannot start here outside CI.
fn skip() -> bool {
    skip_unless_ready(missing_target(), "npm ci --prefix scripts/targets/socketio")
}

/// Each phase: every event published reached every client once, in order;
/// the payload bytes are exactly the delivered events' payloads.
fn assert_every_event_delivered(results: &Value, clients: u64, payload: u64) {
    let phases = results["phases"].as_array().expect("phases");
    assert_eq!(phases.len(), 2, "{results}");
    for phase in phases {
        let events = &phase["events"];
        for count in ["missed", "duplicated", "out_of_order", "gaps"] {
            assert_eq!(events[count], 0, "{}: {events}", phase["transport"]);
        }
        assert_eq!(events["errors"], serde_json::json!({}), "{events}");
        let published = events["published"].as_u64().unwrap_or(0);
        assert!(published >= 5, "{events}");
        // Every client had every event, but the window's edges cut: an
        // event published inside it may reach the clients just after it
        // closed (and one before it opened), so up to one event each end
        // is not counted as delivered, at each client's own moment
        // (`missed` stays 0: the seqs follow on).
        let delivered = events["delivered"].as_u64().unwrap_or(0);
        assert!(delivered <= published * clients, "{events}");
        assert!(delivered >= (published - 2) * clients, "{events}");
        let received = &phase["traffic"]["received"];
        assert_eq!(received["payload"], delivered * payload, "{received}");
    }
}

#[test]
fn both_transports_deliver_every_event_and_every_byte_is_classed() {
    if skip() {
        return;
    }
    // Pings every 400 ms, so Engine.IO's heartbeat (a ping in a poll
    // answer or a frame, the client's pong) runs inside the phases.
    let target = StartedTarget::start_with(
        "socketio",
        &["--addr", "127.0.0.1:0", "--ping-interval", "400"],
    );
    let dir = scratch("target-socketio");
    let wire_log = dir.join("wire.jsonl");
    let (clients, payload) = (10, 64);
    let out = pushbench()
        .args([
            "run",
            "--target",
            &target.url(),
            "--target-kind",
            "socketio",
        ])
        .args(["--target-pid", &target.pid.to_string()])
        .args([
            "--transports",
            "long-poll,ws",
            "--clients",
            "10",
            "--rate",
            "5",
        ])
        .args(["--payload", "64", "--duration", "2", "--warmup", "0.3"])
        .args(["--ramp-up", "0.1", "--no-report", "--out"])
        .arg(&dir)
        .arg("--wire-log")
        .arg(&wire_log)
        .output()
        .expect("run pushbench run");
    assert!(out.status.success(), "{out:?}");
    let results = checked_results(&dir);
    assert_eq!(results["scenario"]["target_kind"], "socketio");
    assert_every_event_delivered(&results, clients, payload);
    // Every connection's classes add up to its socket counts, each way,
    // and the heartbeat was answered: control both ways on every one.
    let text = std::fs::read_to_string(&wire_log).expect("wire log");
    let records: Vec<ConnectionRecord> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("wire log line"))
        .collect();
    let clients_seen = records.iter().filter(|r| r.phase > 0).count();
    assert_eq!(clients_seen, 2 * clients as usize, "{text}");
    for r in records.iter().filter(|r| r.phase > 0) {
        let traffic = r.traffic.as_ref().expect("a client's classes");
        assert_eq!(traffic.sent.total(), r.socket_sent, "{r:?}");
        assert_eq!(traffic.received.total(), r.socket_received, "{r:?}");
        assert!(
            traffic.sent.control > 0 && traffic.received.control > 0,
            "{r:?}"
        );
        assert!(traffic.received.payload > 0, "{r:?}");
    }
    // SIGTERM, as the contract asks: the server exits 0 within seconds.
    let mut target = target;
    let status = target.terminate(Duration::from_secs(5));
    assert!(
        status.is_some_and(|s| s.success()),
        "after SIGTERM: {status:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn trace_prints_one_real_exchange_on_either_transport() {
    if skip() {
        return;
    }
    let target = StartedTarget::start("socketio");
    for (transport, request) in [
        (
            "long-poll",
            "GET /socket.io/?EIO=4&transport=polling HTTP/1.1",
        ),
        ("ws", "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1"),
    ] {
        let out = pushbench()
            .args([
                "trace",
                "--target",
                &target.url(),
                "--target-kind",
                "socketio",
            ])
            .args(["-t", transport, "--no-color", "--redact"])
            .output()
            .expect("run pushbench trace");
        assert!(out.status.success(), "{out:?}");
        let trace = String::from_utf8_lossy(&out.stdout);
        assert!(trace.contains(request), "{trace}");
        // The open packet, the connect and its answer, then the events.
        for text in [r#"0{"sid":""#, r#"40{"sid":""#, r#"42["event",{"seq":"#] {
            assert!(trace.contains(text), "{transport}: no {text} in\n{trace}");
        }
        assert!(trace.contains("2 events delivered"), "{trace}");
    }
}

#[test]
fn a_capture_of_a_socketio_run_equals_the_socket_counts() {
    if skip() {
        return;
    }
    let Some((stdout, comparison)) = verify_wire(
        "wire-socketio",
        &[
            ("TARGET_KIND", "socketio"),
            ("TRANSPORTS", "long-poll,ws"),
            ("CLIENTS", "3"),
            ("DURATION", "2"),
        ],
    ) else {
        return;
    };
    for kind in ["long-poll", "ws", "control"] {
        for direction in ["sent", "received"] {
            assert_equal_row(&stdout, &comparison, kind, direction);
        }
    }
}

#[test]
fn a_server_of_another_kind_is_refused_naming_what_socketio_answers() {
    if skip() {
        return;
    }
    let (mut serve, addr) = start_serve(&[], Stdio::null());
    let started = Instant::now();
    let out = pushbench()
        .args(["run", "--target", &format!("http://{addr}")])
        .args([
            "--target-kind",
            "socketio",
            "--transports",
            "ws",
            "--duration",
            "1",
        ])
        .arg("--out")
        .arg(scratch("target-socketio-wrong-kind"))
        .output()
        .expect("run pushbench run");
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(!out.status.success());
    assert!(started.elapsed() < Duration::from_secs(10), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "server at http://{addr}: is not a socketio server: expected GET /socket.io/?EIO=4&transport=polling to answer 200 with an Engine.IO v4 open packet"
        )),
        "{stderr}"
    );
    // And a technique Socket.IO does not offer is refused before the run.
    let target = StartedTarget::start("socketio");
    let out = pushbench()
        .args([
            "run",
            "--target",
            &target.url(),
            "--target-kind",
            "socketio",
        ])
        .args(["--transports", "sse", "--duration", "1"])
        .output()
        .expect("run pushbench run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("socketio does not offer sse (it offers: long-poll, ws)"),
        "{stderr}"
    );
}
