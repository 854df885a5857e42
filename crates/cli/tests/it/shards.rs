//! A run split over shards (`run --segment I/N --start-at T`, each a
//! process of its own) against one `pushbench serve`, then `merge`d: the
//! merged result has every client once, loses nothing, validates against
//! the schema, and `report` and `compare` take it unchanged.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use pushbench_protocol::RunResult;

use pushbench_link::VethNamespace;

use crate::support::{Server, can_emulate, checked_results, pushbench, scratch};

const SHARDS: u32 = 3;
const CLIENTS: u32 = 10;

fn read(dir: &Path) -> RunResult {
    let bytes = std::fs::read(dir.join("results.json")).expect("results.json");
    serde_json::from_slice(&bytes).expect("results")
}

fn output(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `pushbench merge DIRS --out OUT --no-report`.
fn merge(dirs: &[PathBuf], out: &Path) -> Output {
    pushbench()
        .arg("merge")
        .args(dirs)
        .arg("--out")
        .arg(out)
        .arg("--no-report")
        .output()
        .expect("run pushbench merge")
}

/// Seconds since the Unix epoch, `ahead` seconds from now, as
/// `--start-at` takes them.
fn start_in(ahead: f64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    format!("{:.3}", now + ahead)
}

/// `pushbench run` shard `index` of `count` with [`CLIENTS`] clients
/// over SSE and WebSocket, short phases, into `dir`: `command` is the
/// binary, or `ip netns exec NS` and the binary.
fn shard_run(
    mut command: Command,
    target: &str,
    start_at: &str,
    (index, count): (usize, u32),
    dir: &Path,
) -> Command {
    command
        .args(["run", "--target", target, "--clients", &CLIENTS.to_string()])
        .args(["--transports", "sse,ws", "--segment"])
        .arg(format!("{index}/{count}"))
        .args(["--start-at", start_at])
        .args(["--duration", "2", "--warmup", "0.3", "--ramp-up", "0.1"])
        .arg("--no-report")
        .arg("--out")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Waits for the shard processes `children` (writing into `dirs`), checks
/// each result and the clocks and windows they agree on, merges them into
/// `merged_dir` and checks that every client ran once and lost nothing.
/// The shards' results and the merged one.
fn collect_and_merge(
    children: Vec<Child>,
    dirs: &[PathBuf],
    merged_dir: &Path,
) -> (Vec<RunResult>, RunResult) {
    let mut shards = Vec::new();
    for (child, dir) in children.into_iter().zip(dirs) {
        let out = child.wait_with_output().expect("run a shard");
        assert!(out.status.success(), "{}", output(&out));
        checked_results(dir);
        shards.push(read(dir));
    }
    for (i, shard) in shards.iter().enumerate() {
        let info = shard.shard.as_ref().expect("shard section");
        assert_eq!((info.index, info.count), (i as u32, SHARDS));
        let clock = shard.clock.as_ref().expect("clock section");
        assert!(clock.samples > 1);
        // One host, one clock: the estimate is 0 within its uncertainty
        // (plus a margin for a reading taken between the two clocks).
        assert!(
            clock.offset_us.unsigned_abs() <= clock.uncertainty_us + 1_000,
            "{clock:?}"
        );
    }
    // The windows are aligned: every shard saw the same events published.
    for p in 0..shards[0].phases.len() {
        let published: Vec<u64> = shards
            .iter()
            .map(|s| s.phases[p].events.published)
            .collect();
        let (lo, hi) = (
            published.iter().min().copied().unwrap_or(0),
            published.iter().max().copied().unwrap_or(0),
        );
        assert!(hi - lo <= 2, "phase {p}: published {published:?}");
    }

    let out = merge(dirs, merged_dir);
    assert!(out.status.success(), "{}", output(&out));
    checked_results(merged_dir);
    let merged = read(merged_dir);
    assert_eq!(merged.phases.len(), 2);
    for (p, phase) in merged.phases.iter().enumerate() {
        let parts: Vec<_> = shards.iter().map(|s| &s.phases[p]).collect();
        assert_eq!(phase.clients, CLIENTS, "every client once");
        assert_eq!(
            parts.iter().map(|x| x.clients).collect::<Vec<_>>(),
            vec![3, 3, 4]
        );
        assert_eq!(phase.events.missed, 0, "{:?}", phase.events);
        assert_eq!(phase.events.duplicated + phase.events.out_of_order, 0);
        let delivered: u64 = parts.iter().map(|x| x.events.delivered).sum();
        assert_eq!(phase.events.delivered, delivered);
        assert_eq!(phase.latency_us.count, delivered, "the histograms added");
        assert_eq!(
            phase.traffic.total(),
            parts.iter().map(|x| x.traffic.total()).sum::<u64>()
        );
        assert_eq!(
            phase.connections.first_sessions,
            u64::from(CLIENTS),
            "{:?}",
            phase.connections
        );
        // Every client got every event of its window: about clients x
        // published, within the events of a window edge per client.
        let expected = u64::from(CLIENTS) * phase.events.published;
        assert!(
            delivered.abs_diff(expected) <= 2 * u64::from(CLIENTS),
            "phase {p}: delivered {delivered}, expected about {expected}"
        );
        assert!(phase.events.published >= 30, "{:?}", phase.events);
    }
    (shards, merged)
}

#[test]
fn three_shards_merge_into_one_run_with_every_client_once() {
    let server = Server::start(&["--rate", "20", "--payload", "32"]);
    let target = format!("http://{}", server.addr);
    let root = scratch("shards");
    // Far enough ahead for three processes to start and measure their
    // clocks on a loaded machine.
    let start_at = start_in(3.0);
    let dirs: Vec<PathBuf> = (0..SHARDS)
        .map(|i| root.join(format!("shard-{i}")))
        .collect();
    let children: Vec<_> = dirs
        .iter()
        .enumerate()
        .map(|(i, dir)| {
            shard_run(pushbench(), &target, &start_at, (i, SHARDS), dir)
                .spawn()
                .expect("start a shard")
        })
        .collect();
    let (_, merged) = collect_and_merge(children, &dirs, &root.join("merged"));
    let merged_dir = root.join("merged");
    let info = merged.merged.as_ref().expect("merged section");
    assert_eq!(info.shards.len(), SHARDS as usize);

    let report = pushbench()
        .arg("report")
        .arg(merged_dir.join("results.json"))
        .output()
        .expect("run pushbench report");
    assert!(report.status.success(), "{}", output(&report));
    let md = std::fs::read_to_string(merged_dir.join("report.md")).expect("report.md");
    assert!(md.contains("Merged from 3 shards"), "the report says so");
    let compare = pushbench()
        .arg("compare")
        .arg(&dirs[0])
        .arg(&merged_dir)
        .output()
        .expect("run pushbench compare");
    assert!(compare.status.success(), "{}", output(&compare));

    // A segment left out, or given twice, is refused by name.
    let out = merge(&dirs[..2], &root.join("partial"));
    assert!(!out.status.success());
    assert!(output(&out).contains("missing 2/3"), "{}", output(&out));
    let twice = [dirs[0].clone(), dirs[1].clone(), dirs[1].clone()];
    let out = merge(&twice, &root.join("twice"));
    assert!(!out.status.success());
    assert!(output(&out).contains("appears twice"), "{}", output(&out));
    let _ = std::fs::remove_dir_all(&root);
}

/// Shards as load hosts of their own: each in a network namespace with a
/// veth pair to the host (its own address, so its own ephemeral ports),
/// all against one `pushbench serve` on the host at the first veth's host
/// end, which every namespace routes to over its own veth. Needs root
/// (skipped with a note otherwise, never under `CI=true`); the namespaces
/// and veths are removed when the test ends, passed or failed
/// ([`VethNamespace`]'s `Drop`, which a panic runs too).
#[test]
fn shards_in_network_namespaces_of_their_own_merge_into_one_run() {
    if !can_emulate("shards_in_network_namespaces") {
        return;
    }
    let namespaces: Vec<VethNamespace> = (0..SHARDS)
        .map(|_| VethNamespace::open().expect("a namespace with a veth pair"))
        .collect();
    let server_ip = namespaces[0].host_ip();
    for ns in &namespaces[1..] {
        ns.route_to(server_ip).expect("a route to the server");
    }
    let server = Server::start_at(
        &format!("{server_ip}:0"),
        &["--rate", "20", "--payload", "32"],
    );
    let target = format!("http://{}", server.addr);
    let root = scratch("shards-netns");
    let start_at = start_in(3.0);
    let dirs: Vec<PathBuf> = (0..SHARDS)
        .map(|i| root.join(format!("shard-{i}")))
        .collect();
    let children: Vec<_> = namespaces
        .iter()
        .zip(&dirs)
        .enumerate()
        .map(|(i, (ns, dir))| {
            let mut command = shard_run(
                ns.command(env!("CARGO_BIN_EXE_pushbench")),
                &target,
                &start_at,
                (i, SHARDS),
                dir,
            );
            command.arg("--wire-log").arg(dir.join("wire.jsonl"));
            command.spawn().expect("start a shard in its namespace")
        })
        .collect();
    let (shards, merged) = collect_and_merge(children, &dirs, &root.join("merged"));

    // Each shard's connections, measured and control alike, left from its
    // namespace's address, to the one server.
    for ((ns, dir), shard) in namespaces.iter().zip(&dirs).zip(&shards) {
        let log = std::fs::read_to_string(dir.join("wire.jsonl")).expect("wire log");
        let records: Vec<serde_json::Value> = log
            .lines()
            .map(|line| serde_json::from_str(line).expect("a wire log line"))
            .collect();
        let clients: u64 = shard.phases.iter().map(|p| u64::from(p.clients)).sum();
        let measured = records.iter().filter(|r| r["kind"] != "control").count();
        assert!(measured as u64 >= clients, "{measured} connections logged");
        for record in &records {
            let local: std::net::SocketAddr = record["local"]
                .as_str()
                .expect("local")
                .parse()
                .expect("addr");
            assert_eq!(local.ip(), ns.inside_ip(), "{record}");
            assert_eq!(record["server"], server.addr.to_string(), "{record}");
        }
    }
    let info = merged.merged.as_ref().expect("merged section");
    assert_eq!(info.shards.len(), SHARDS as usize);
    drop(server);
    let names: Vec<(String, String)> = namespaces
        .iter()
        .map(|ns| (ns.name(), ns.host_interface()))
        .collect();
    drop(namespaces);
    let netns = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    let listed = String::from_utf8_lossy(&netns.stdout);
    for (ns, interface) in names {
        assert!(!listed.contains(&ns), "{ns} removed");
        let link = Command::new("ip")
            .args(["link", "show", &interface])
            .output()
            .expect("ip link show");
        assert!(!link.status.success(), "{interface} removed");
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// `compare --equivalence` on real runs: a 2-shard run, merged, against a
/// 1-process run (`--segment 0/1`) of the same scenario on the same
/// schedule and server, is the same in every count and byte figure; a
/// merged result with one event missed is not.
#[test]
fn a_merged_run_is_equivalent_to_a_1_process_run() {
    let server = Server::start(&["--rate", "20", "--payload", "32"]);
    let target = format!("http://{}", server.addr);
    let root = scratch("shards-equivalence");
    let start_at = start_in(3.0);
    let runs = [("single", (0, 1)), ("shard-0", (0, 2)), ("shard-1", (1, 2))];
    let children: Vec<Child> = runs
        .iter()
        .map(|(name, segment)| {
            shard_run(pushbench(), &target, &start_at, *segment, &root.join(name))
                .spawn()
                .expect("start a run")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("a run");
        assert!(out.status.success(), "{}", output(&out));
    }
    let merged = root.join("merged");
    let out = merge(&[root.join("shard-0"), root.join("shard-1")], &merged);
    assert!(out.status.success(), "{}", output(&out));
    let compare = |b: &Path, md: &Path| {
        pushbench()
            .arg("compare")
            .arg(root.join("single"))
            .arg(b)
            .arg("--equivalence")
            .arg("--out")
            .arg(md)
            .output()
            .expect("run pushbench compare")
    };
    let md = root.join("equivalence.md");
    let out = compare(&merged, &md);
    assert!(out.status.success(), "{}", output(&out));
    let text = std::fs::read_to_string(&md).expect("equivalence.md");
    for phase in ["sse", "ws"] {
        assert!(
            text.contains(&format!(
                "- {phase} {CLIENTS}c@20/s: counts and bytes: the same"
            )),
            "{text}"
        );
    }
    assert!(text.contains("| payload received / event |"), "{text}");

    let mut lossy = read(&merged);
    lossy.phases[0].events.missed = 1;
    let lossy_dir = root.join("lossy");
    std::fs::create_dir_all(&lossy_dir).expect("mkdir");
    std::fs::write(
        lossy_dir.join("results.json"),
        serde_json::to_vec(&lossy).expect("json"),
    )
    .expect("write");
    let out = compare(&lossy_dir, &root.join("lossy.md"));
    assert!(!out.status.success());
    assert!(output(&out).contains("not the same"), "{}", output(&out));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_shard_needs_a_target_and_a_start_time() {
    let run = |args: &[&str]| {
        let out = pushbench()
            .arg("run")
            .args(args)
            .output()
            .expect("run pushbench run");
        assert!(!out.status.success());
        output(&out)
    };
    let e = run(&["--segment", "3/3"]);
    assert!(e.contains("--segment") && e.contains("0-based"), "{e}");
    let e = run(&["--segment", "0/2", "--start-at", "1"]);
    assert!(e.contains("--target"), "{e}");
    let e = run(&["--segment", "0/2", "--target", "http://127.0.0.1:9"]);
    assert!(e.contains("--start-at"), "{e}");
    let e = run(&["--start-at", "1"]);
    assert!(e.contains("--segment"), "{e}");
    let e = run(&["--segment", "0/2", "--start-at", "tomorrow"]);
    assert!(e.contains("--start-at") && e.contains("RFC 3339"), "{e}");
}
