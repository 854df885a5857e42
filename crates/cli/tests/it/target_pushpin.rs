//! Pushpin as a target (`--target-kind pushpin`), end to end: Debian's
//! Pushpin in front of our GRIP origin, started by
//! `scripts/targets/pushpin/start` as a user would, measured by `pushbench
//! run` for every technique it offers, traced one exchange per technique,
//! and captured with tshark. Without `pushpin`, `node` or `curl` the tests
//! are skipped with a note, except under CI (env `CI` set), where that is a
//! failure (`.ci/run` installs them).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pushbench_loadgen::trace_record::{TraceOptions, TraceServer, record};
use pushbench_protocol::{Direction, TargetKind};

use crate::support::{
    Server, StartedTarget, checked_results, pushbench, repo_root, scratch, skip_unless_ready,
};
use crate::wire::{assert_equal_row, verify_wire};

const INSTALL: &str = "apt-get install pushpin nodejs curl";

fn missing() -> Option<String> {
    ["pushpin", "node", "curl"].into_iter().find_map(|tool| {
        let found = Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        (!found).then(|| format!("`{tool}` is missing"))
    })
}

fn offered() -> Vec<&'static str> {
    TargetKind::Pushpin
        .offers()
        .iter()
        .map(|t| t.name())
        .collect()
}

#[test]
fn pushpin_delivers_every_technique_it_offers_with_every_byte_classed() {
    if skip_unless_ready(missing(), INSTALL) {
        return;
    }
    let target = StartedTarget::start("pushpin");
    let dir = scratch("target-pushpin");
    let out = pushbench()
        .args(["run", "--target", &target.url(), "--target-kind", "pushpin"])
        .args(["--target-pid", &target.pid.to_string()])
        .args(["--transports", &offered().join(",")])
        .args(["--clients", "10", "--rate", "5", "--duration", "2"])
        .args([
            "--warmup",
            "0.5",
            "--ramp-up",
            "0.2",
            "--no-report",
            "--out",
        ])
        .arg(&dir)
        .output()
        .expect("run pushbench run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let results = checked_results(&dir);
    assert_eq!(results["scenario"]["target_kind"], "pushpin", "{stdout}");
    let phases = results["phases"].as_array().expect("phases");
    let ran: Vec<&str> = phases
        .iter()
        .filter_map(|p| p["transport"].as_str())
        .collect();
    assert_eq!(ran, offered(), "{stdout}");
    for phase in phases {
        let (transport, events) = (&phase["transport"], &phase["events"]);
        for count in ["missed", "duplicated", "out_of_order", "gaps"] {
            assert_eq!(events[count], 0, "{transport}: {events}");
        }
        // Every client had every event published in the window.
        let published = events["published"].as_u64().unwrap_or(0);
        assert!(published >= 8, "{transport}: {events}");
        assert!(
            events["delivered"].as_u64() >= Some(published * 10 - 10),
            "{transport}: {events}"
        );
        assert_eq!(phase["connections"]["failed"], 0, "{transport}");
        // The cost is Pushpin's process tree's, from /proc.
        assert!(
            phase["server"]["rss_max_bytes"].as_u64() > Some(0),
            "{transport}: {}",
            phase["server"]
        );
        let received = &phase["traffic"]["received"];
        assert!(
            received["payload"].as_u64() > Some(0),
            "{transport}: {received}"
        );
    }
    // Publishing went through Pushpin to the origin, counted apart.
    assert!(
        results["publish_traffic"]["sent"]["control"].as_u64() > Some(0),
        "{results}"
    );
    let _ = std::fs::remove_dir_all(&dir);

    // One exchange per technique, every byte classed: the classes of each
    // direction add up to what the socket carried.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for &transport in TargetKind::Pushpin.offers() {
        let options = TraceOptions {
            transport,
            kind: TargetKind::Pushpin,
            ..TraceOptions::new(TraceServer::Target(target.addr))
        };
        let trace = runtime.block_on(record(&options)).expect("trace");
        assert_eq!(trace.delivered, 2, "{transport}");
        let booked = |d: Direction| -> u64 {
            trace
                .segments
                .iter()
                .filter(|s| s.direction == d)
                .map(|s| s.bytes.len() as u64)
                .sum()
        };
        assert_eq!(
            (booked(Direction::Sent), booked(Direction::Received)),
            trace.socket,
            "{transport}"
        );
    }
}

#[test]
fn a_capture_of_pushpin_agrees_with_the_socket_counts_to_the_byte() {
    if skip_unless_ready(missing(), INSTALL) {
        return;
    }
    let transports = offered().join(",");
    let Some((stdout, comparison)) = verify_wire(
        "wire-pushpin",
        &[
            ("TARGET_KIND", "pushpin"),
            ("TRANSPORTS", &transports),
            ("CLIENTS", "3"),
            ("DURATION", "1"),
        ],
    ) else {
        return;
    };
    for transport in offered() {
        for direction in ["sent", "received"] {
            assert_equal_row(&stdout, &comparison, transport, direction);
        }
    }
}

/// `pushbench run --target-kind pushpin` against `url`: it fails within
/// seconds; its stderr.
fn refused_run(url: &str, transports: &str) -> String {
    let started = Instant::now();
    let dir = scratch("target-pushpin-refused");
    let out = pushbench()
        .args(["run", "--target", url, "--target-kind", "pushpin"])
        .args([
            "--transports",
            transports,
            "--clients",
            "1",
            "--duration",
            "1",
        ])
        .arg("--out")
        .arg(&dir)
        .output()
        .expect("run pushbench run");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success(), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_server_that_is_not_pushpin_is_refused_naming_what_was_expected() {
    // pushbench's own server answers, but not as Pushpin's origin.
    let serve = Server::start(&[]);
    let url = format!("http://{}", serve.addr);
    let stderr = refused_run(&url, "sse");
    assert!(stderr.contains("is not a pushpin server"), "{stderr}");
    assert!(
        stderr.contains(r#""origin":"pushbench-grip-origin""#),
        "{stderr}"
    );
    // A technique Pushpin does not offer is refused before any request.
    let stderr = refused_run(&url, "short-poll");
    assert!(
        stderr.contains("pushpin does not offer short-poll"),
        "{stderr}"
    );
    if skip_unless_ready(missing(), INSTALL) {
        return;
    }
    // Our origin without Pushpin in front: named as such.
    let mut origin = Command::new("node")
        .arg(repo_root().join("scripts/targets/pushpin/origin.mjs"))
        .args(["--publish", "http://127.0.0.1:9/publish/"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the origin");
    let mut line = String::new();
    BufReader::new(origin.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let bare = line
        .trim()
        .strip_prefix("origin listening on ")
        .unwrap_or_default()
        .to_owned();
    let stderr = refused_run(&bare, "sse");
    let _ = origin.kill();
    let _ = origin.wait();
    assert!(stderr.contains("through Pushpin"), "{line}: {stderr}");
}
