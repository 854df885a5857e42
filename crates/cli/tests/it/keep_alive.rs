//! Polling without keep-alive as a user runs it: `run --keep-alive off`
//! opens a connection per poll through a child server, delivers every
//! event once and writes results the schema accepts.

use crate::support::{checked_results, pushbench, quick_run, scratch};

#[test]
fn polls_without_keep_alive_open_a_connection_per_poll() {
    let dir = scratch("keep-alive-off");
    let wire = dir.join("wire.jsonl");
    let (stdout, result) = quick_run(
        &[
            "--transports",
            "short-poll,long-poll,ws",
            "--keep-alive",
            "off",
            "--clients",
            "3",
            "--rate",
            "20",
            "--poll-interval",
            "100",
            "--wire-log",
            wire.to_str().expect("utf-8 path"),
        ],
        &dir,
    );
    let json = checked_results(&dir);
    assert_eq!(json["scenario"]["keep_alive"], serde_json::json!([false]));
    assert!(stdout.contains("long-poll"), "{stdout}");
    // The report's variant table names each phase's keep-alive.
    let report = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    assert!(
        report.contains("| long-poll | 3 | 20 | close |"),
        "{report}"
    );
    assert!(report.contains("| ws | 3 | 20 | keep-alive |"), "{report}");
    let kept: Vec<(String, bool)> = result
        .phases
        .iter()
        .map(|p| (p.transport.name().to_owned(), p.keep_alive))
        .collect();
    assert_eq!(
        kept,
        [
            ("short-poll".to_owned(), false),
            ("long-poll".to_owned(), false),
            ("ws".to_owned(), true)
        ]
    );
    let log: Vec<serde_json::Value> = std::fs::read_to_string(&wire)
        .expect("wire log")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a wire log line"))
        .collect();
    for (number, p) in result.phases.iter().enumerate() {
        let e = &p.events;
        assert!(
            e.delivered > 0 && e.missed == 0 && e.duplicated == 0,
            "{p:?}"
        );
        let c = &p.connections;
        let conns: Vec<&serde_json::Value> =
            log.iter().filter(|r| r["phase"] == number + 1).collect();
        assert_eq!(
            conns.len() as u64,
            c.opened,
            "{}: a wire log line per connection",
            p.transport
        );
        if p.keep_alive {
            assert_eq!(c.opened, 3, "{p:?}");
            continue;
        }
        // A connection per poll: every answer of the window had its own
        // (the others are the ramp's, warm-up's and drain's), and each
        // connection carried one request only, its setup request.
        assert!(c.opened >= c.responses && c.responses > 6, "{c:?}");
        assert_eq!(c.reconnects, c.opened - 3, "{c:?}");
        for r in &conns {
            assert_eq!(r["socket_sent"], r["setup_sent"], "{r}");
        }
        // Each was answered, but for a client's last, whose poll the end
        // of the phase cut off.
        let answered = conns
            .iter()
            .filter(|r| r["socket_received"].as_u64() > r["setup_received"].as_u64())
            .count() as u64;
        assert!(answered >= c.opened - 3, "{answered} of {c:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn keep_alive_off_over_http2_is_refused_by_name() {
    let out = pushbench()
        .args([
            "run",
            "--keep-alive",
            "off",
            "--http",
            "2",
            "--transports",
            "long-poll",
        ])
        .output()
        .expect("run pushbench");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("keep_alive") && stderr.contains("HTTP/1.1 only"),
        "{stderr}"
    );
}
