//! A run split over shards (`run --segment I/N --start-at T`, each a
//! process of its own) against one `pushbench serve`, then `merge`d: the
//! merged result has every client once, loses nothing, validates against
//! the schema, and `report` and `compare` take it unchanged.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use pushbench_protocol::RunResult;

use crate::support::{Server, checked_results, pushbench, scratch};

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

#[test]
fn three_shards_merge_into_one_run_with_every_client_once() {
    let server = Server::start(&["--rate", "20", "--payload", "32"]);
    let target = format!("http://{}", server.addr);
    let root = scratch("shards");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    // Far enough ahead for three processes to start and measure their
    // clocks on a loaded machine.
    let start_at = format!("{:.3}", now + 3.0);
    let clients = CLIENTS.to_string();
    let dirs: Vec<PathBuf> = (0..SHARDS)
        .map(|i| root.join(format!("shard-{i}")))
        .collect();
    let children: Vec<_> = dirs
        .iter()
        .enumerate()
        .map(|(i, dir)| {
            pushbench()
                .args(["run", "--target", &target, "--clients", &clients])
                .args(["--transports", "sse,ws", "--segment"])
                .arg(format!("{i}/{SHARDS}"))
                .args(["--start-at", &start_at])
                .args(["--duration", "2", "--warmup", "0.3", "--ramp-up", "0.1"])
                .arg("--no-report")
                .arg("--out")
                .arg(dir)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start a shard")
        })
        .collect();
    let mut shards = Vec::new();
    for (child, dir) in children.into_iter().zip(&dirs) {
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

    let merged_dir = root.join("merged");
    let out = merge(&dirs, &merged_dir);
    assert!(out.status.success(), "{}", output(&out));
    checked_results(&merged_dir);
    let merged = read(&merged_dir);
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
