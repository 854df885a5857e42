//! `pushbench servers`: `pushbench serve` beside the servers of the other
//! target kinds, each started by its real start script
//! (`scripts/targets/<kind>/start`), on a small, short load. This checks
//! that the runs are made and written (`servers.json` against its
//! committed schema, the ratios, a chart per technique, `servers.md`) and
//! that a kind that cannot start is reported as skipped, not how fast
//! anything is: speed is for `scripts/servers.sh`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{pushbench, scratch, skip_unless_ready};

fn repo_root() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).to_path_buf()
}

/// `servers.json` in `out`: parsed and checked against the committed schema.
fn checked_servers(out: &Path) -> Value {
    let text = std::fs::read(out.join("servers.json")).expect("servers.json written");
    let servers: Value = serde_json::from_slice(&text).expect("servers.json parses");
    let schema: Value =
        serde_json::from_str(include_str!("../../../protocol/schema/servers.schema.json"))
            .expect("schema");
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    let errors: Vec<String> = validator
        .iter_errors(&servers)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "servers.json vs schema: {errors:#?}");
    servers
}

/// The measure of `kind` in technique `transport`.
fn measure<'a>(servers: &'a Value, transport: &str, kind: &str) -> &'a Value {
    let technique = servers["techniques"]
        .as_array()
        .expect("techniques")
        .iter()
        .find(|t| t["transport"] == transport)
        .unwrap_or_else(|| panic!("no {transport} technique: {servers}"));
    technique["servers"]
        .as_array()
        .expect("servers")
        .iter()
        .find(|s| s["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {transport}: {technique}"))
}

#[test]
fn servers_sets_serve_beside_node_ws_with_ratios_charts_and_a_table() {
    let script = repo_root().join("scripts/targets/node-ws/start");
    let ws = repo_root().join("scripts/peers/node_modules/ws/package.json");
    let missing = if !script.is_file() {
        Some(format!("{} is missing", script.display()))
    } else {
        (!ws.is_file()).then(|| "the `ws` package of scripts/peers is missing".to_owned())
    };
    if skip_unless_ready(missing, "npm ci --prefix scripts/peers") {
        return;
    }
    let out = scratch("servers-node-ws");
    let output = pushbench()
        .current_dir(repo_root())
        .args(["servers", "--kinds", "node-ws", "--transports", "ws"])
        .args(["--clients", "4", "--duration", "1", "--refine", "0"])
        // Rates high enough that one event at a window's edge is under
        // the 2 % a sustained phase may miss; the p99 bound generous:
        // this checks the comparison is made, not speed.
        .args([
            "--start-rate",
            "100",
            "--max-rate",
            "200",
            "--max-p99",
            "5000",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run pushbench servers");
    assert!(
        output.status.success(),
        "pushbench servers failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let servers = checked_servers(&out);
    assert_eq!(servers["complete"], true, "{servers}");
    let node = servers["servers"]
        .as_array()
        .expect("servers")
        .iter()
        .find(|s| s["kind"] == "node-ws")
        .expect("node-ws entry");
    assert!(node["skipped"].is_null(), "{node}");
    let ceiling = node["publisher_ceiling"]["events_per_second"]
        .as_f64()
        .expect("the publisher's ceiling was measured");
    assert!(ceiling > 0.0, "{node}");
    for kind in ["pushbench", "node-ws"] {
        let m = measure(&servers, "ws", kind);
        assert!(m["capacity"]["max_rate"].as_f64() >= Some(100.0), "{m}");
        let common = &m["common"];
        assert_eq!(common["missed"], 0, "{m}");
        assert!(common["delivered"].as_u64() > Some(0), "{m}");
        // The same event, the same WebSocket frames: the payload, to the
        // byte, but for a window edge: an event whose bytes arrive as the
        // window opens or closes may be counted in the bytes and not in
        // `delivered` (at most one per client, as `compare --equivalence`
        // allows; docs/scaling.md).
        let payload = common["bytes_per_event"]["payload"]
            .as_f64()
            .expect("payload");
        let delivered = common["delivered"].as_f64().expect("delivered");
        let clients = common["clients"].as_f64().expect("clients");
        let extra_events = (payload - 128.0) * delivered / 128.0;
        assert!(
            (-1e-6..=clients + 1e-6).contains(&extra_events),
            "payload per event {payload}: {extra_events} events' payload beyond the delivered: {m}"
        );
        assert!(common["rss_per_connection_bytes"].as_f64().is_some(), "{m}");
    }
    let publish = measure(&servers, "ws", "node-ws")["common"]["publish_bytes"].as_u64();
    assert!(publish > Some(0), "the publisher's bytes are counted apart");
    let comparisons = servers["comparisons"].as_array().expect("comparisons");
    let metrics: Vec<&str> = comparisons
        .iter()
        .map(|c| c["metric"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        metrics,
        ["deliveries/s", "p99 ms", "CPU µs/delivery"],
        "{comparisons:#?}"
    );
    for c in comparisons {
        assert_eq!(c["peer"], "Node + ws", "{c}");
        // CPU is read in 10 ms ticks: this small a load may spend none.
        if c["metric"] != "CPU µs/delivery" {
            assert!(c["ratio"].as_f64() > Some(0.0), "{c}");
        }
    }
    for file in [
        "servers.md",
        "servers-ws.svg",
        "servers-ws.png",
        "servers-ratios.svg",
        "ceiling-node-ws/results.json",
        "capacity-ws-pushbench/results.json",
        "capacity-ws-node-ws/results.json",
        "common-ws-pushbench/results.json",
        "common-ws-node-ws/results.json",
    ] {
        assert!(out.join(file).exists(), "{file} missing");
    }
    let md = std::fs::read_to_string(out.join("servers.md")).expect("servers.md");
    assert!(md.contains("| ws | Node + ws |"), "{md}");
    assert!(md.contains("one publish request per event"), "{md}");
    let _ = std::fs::remove_dir_all(&out);
}

/// Writes an executable start script `dir/<kind>/start`.
fn start_script(dir: &Path, kind: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(kind).join("start");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn kinds_that_cannot_start_are_skipped_with_the_reason_and_left_stopped() {
    let dir = scratch("servers-skips");
    let targets = dir.join("targets");
    start_script(
        &targets,
        "nchan",
        "echo 'nginx: [emerg] no such module' >&2\nexit 3",
    );
    // Starts, but says it is another kind: it must be stopped, not left.
    let pid_file = dir.join("bun.pid");
    start_script(
        &targets,
        "bun",
        &format!(
            "echo $$ > {}\necho 'nchan listening on http://127.0.0.1:9'\necho \"pid $$\"\nexec sleep 60",
            pid_file.display()
        ),
    );
    let out = dir.join("out");
    let output = pushbench()
        .args([
            "servers",
            "--kinds",
            "nchan,bun,socketio",
            "--transports",
            "ws,sse",
        ])
        .args([
            "--no-capacity",
            "--rate",
            "20",
            "--clients",
            "2",
            "--duration",
            "0.5",
        ])
        .arg("--targets-dir")
        .arg(&targets)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run pushbench servers");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "nothing was compared");
    assert!(stderr.contains("no server could be compared"), "{stderr}");
    let servers = checked_servers(&out);
    let skipped = |kind: &str| {
        servers["servers"]
            .as_array()
            .expect("servers")
            .iter()
            .find(|s| s["kind"] == kind)
            .and_then(|s| s["skipped"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let nchan = skipped("nchan");
    assert!(
        nchan.contains("exit status: 3") && nchan.contains("no such module"),
        "{nchan}"
    );
    let bun = skipped("bun");
    assert!(bun.contains("bun listening on"), "{bun}");
    assert!(skipped("socketio").contains("no start script"), "{servers}");
    let pid = std::fs::read_to_string(&pid_file).expect("the bun script ran");
    assert!(
        !Path::new(&format!("/proc/{}", pid.trim())).exists(),
        "the misbehaving start script {pid} was left running"
    );
    // pushbench serve itself was measured, and every output written.
    for transport in ["ws", "sse"] {
        let m = measure(&servers, transport, "pushbench");
        assert!(m["common"]["delivered"].as_u64() > Some(0), "{m}");
        assert!(out.join(format!("servers-{transport}.svg")).exists());
    }
    let md = std::fs::read_to_string(out.join("servers.md")).expect("servers.md");
    assert!(md.contains("**not measured**: no start script"), "{md}");
    let _ = std::fs::remove_dir_all(&dir);
}
