//! nginx + Nchan as a target (`--target-kind nchan`), started for real by
//! `scripts/targets/nchan/start`: every technique end to end (nothing
//! missed, every connection's classes adding up to its socket counts), a
//! packet capture equal to the socket counts, and a server of another
//! kind refused within seconds, naming what was expected.
//!
//! Needs Debian's nginx-light and libnginx-mod-nchan (.ci/run installs
//! them): without them the tests are skipped with a note, except under
//! CI, where that is a failure.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Server, StartedTarget, pushbench, scratch, skip_unless_ready};

const INSTALL: &str = "apt-get install nginx-light libnginx-mod-nchan";

/// What is missing to start nginx with Nchan here, if anything.
fn missing_nchan() -> Option<String> {
    let nginx = std::env::var("NGINX").unwrap_or_else(|_| "/usr/sbin/nginx".to_owned());
    let module = std::env::var("NCHAN_MODULE")
        .unwrap_or_else(|_| "/usr/lib/nginx/modules/ngx_nchan_module.so".to_owned());
    if !Path::new(&nginx).exists() {
        return Some(format!("nginx is missing ({nginx})"));
    }
    (!Path::new(&module).exists()).then(|| format!("the Nchan module is missing ({module})"))
}

fn events(phase: &Value, count: &str) -> u64 {
    phase["events"][count].as_u64().unwrap_or(u64::MAX)
}

#[test]
fn every_technique_runs_against_nchan_with_nothing_missed() {
    if skip_unless_ready(missing_nchan(), INSTALL) {
        return;
    }
    let nchan = StartedTarget::start("nchan");
    let dir = scratch("target-nchan");
    let clients = 10;
    // 3 events/s: under the 4 polls/s of a short poller, which Nchan
    // answers one message per poll.
    let out = pushbench()
        .args(["run", "--target", &nchan.url(), "--target-kind", "nchan"])
        .args(["--transports", "short-poll,long-poll,stream,sse,ws"])
        .args(["--clients", &clients.to_string(), "--rate", "3"])
        .args(["--duration", "2", "--warmup", "0.5", "--ramp-up", "0.2"])
        .args(["--target-pid", &nchan.pid.to_string(), "--no-report"])
        .arg("--wire-log")
        .arg(dir.join("wire.jsonl"))
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .expect("run pushbench run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "pushbench run failed: {stderr}");
    let results = crate::support::checked_results(&dir.join("out"));
    assert_eq!(results["scenario"]["target_kind"], "nchan", "{results}");
    let phases = results["phases"].as_array().expect("phases");
    assert_eq!(phases.len(), 5);
    for phase in phases {
        let transport = &phase["transport"];
        for count in ["missed", "duplicated", "out_of_order", "gaps"] {
            assert_eq!(events(phase, count), 0, "{transport}: {}", phase["events"]);
        }
        // Nothing missed: every client got every seq from the phase's start
        // cursor to its end cursor (the runner drains them to it).
        assert!(
            events(phase, "published") > 0,
            "{transport}: {}",
            phase["events"]
        );
        assert!(
            events(phase, "delivered") > 0,
            "{transport}: {}",
            phase["events"]
        );
        assert_eq!(
            phase["events"]["errors"],
            serde_json::json!({}),
            "{transport}"
        );
        let payload = phase["traffic"]["received"]["payload"].as_u64();
        assert!(payload > Some(0), "{transport}: {}", phase["traffic"]);
    }
    // Every byte of every connection booked once: its classes add up to
    // its socket counts (the capture test checks those against tshark).
    let log = std::fs::read_to_string(dir.join("wire.jsonl")).expect("wire log");
    let mut logged = 0;
    for line in log.lines() {
        let c: Value = serde_json::from_str(line).expect("wire log line");
        assert_eq!(c["classes_sent"], c["socket_sent"], "{c}");
        assert_eq!(c["classes_received"], c["socket_received"], "{c}");
        logged += 1;
    }
    // Each phase's clients, and the probe and publishers' connections.
    assert!(logged >= 5 * clients, "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_capture_of_a_run_against_nchan_equals_the_socket_counts() {
    if skip_unless_ready(missing_nchan(), INSTALL) {
        return;
    }
    let Some((stdout, comparison)) = crate::wire::verify_wire(
        "wire-nchan",
        &[
            ("TARGET_KIND", "nchan"),
            ("TRANSPORTS", "short-poll,long-poll,stream,sse,ws"),
            ("CLIENTS", "3"),
            ("DURATION", "1"),
            ("RATE", "3"),
        ],
    ) else {
        return;
    };
    for transport in ["short-poll", "long-poll", "stream", "sse", "ws"] {
        for direction in ["sent", "received"] {
            crate::wire::assert_equal_row(&stdout, &comparison, transport, direction);
        }
    }
}

#[test]
fn a_server_of_another_kind_is_refused_naming_nchan() {
    let pushbench_serve = Server::start(&[]);
    let dir = scratch("target-nchan-wrong-kind");
    let started = Instant::now();
    let out = pushbench()
        .args([
            "run",
            "--target",
            &format!("http://{}", pushbench_serve.addr),
        ])
        .args([
            "--target-kind",
            "nchan",
            "--transports",
            "sse",
            "--clients",
            "1",
        ])
        .arg("--out")
        .arg(&dir)
        .output()
        .expect("run pushbench run");
    assert!(!out.status.success(), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is not a nchan server")
            && stderr.contains("GET /nchan_status to answer 200 with Nchan's stub status"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn trace_prints_a_real_exchange_of_every_technique() {
    if skip_unless_ready(missing_nchan(), INSTALL) {
        return;
    }
    let nchan = StartedTarget::start("nchan");
    for (transport, marks) in [
        ("short-poll", &["If-None-Match: -1", "Etag: "][..]),
        ("long-poll", &["Last-Modified: "][..]),
        ("stream", &["TE: chunked", "chunk-size line"][..]),
        ("sse", &["id: ", "Last-Event-ID"][..]),
        ("ws", &["opcode=0x1 (text)"][..]),
    ] {
        let out = pushbench()
            .args(["trace", "--target", &nchan.url(), "--target-kind", "nchan"])
            .args(["-t", transport, "--no-color", "--timeout", "20"])
            .output()
            .expect("run pushbench trace");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{transport}: {out:?}");
        assert!(
            stdout.contains("2 events delivered"),
            "{transport}:\n{stdout}"
        );
        for mark in marks {
            assert!(
                stdout.contains(mark),
                "{transport}: no {mark:?} in\n{stdout}"
            );
        }
    }
}
