//! `--burst` as a user runs it: `serve --burst N` publishes its events in
//! groups of N stamped with one scheduled time, and `run --burst N` hands
//! the shape to its child server and records it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::support::{Server, checked_results, quick_run, scratch};

/// The body of `GET path` from the server at `addr` (HTTP/1.1, one request).
fn get_body(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    let (_, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    body.to_owned()
}

#[test]
fn serve_publishes_groups_of_n_at_one_scheduled_time() {
    let server = Server::start(&["--rate", "100", "--burst", "5"]);
    let stats: serde_json::Value =
        serde_json::from_str(&get_body(server.addr, "/stats")).expect("stats json");
    assert_eq!(stats["generator"]["burst"], 5, "{stats}");
    std::thread::sleep(Duration::from_millis(300));
    let poll: serde_json::Value =
        serde_json::from_str(&get_body(server.addr, "/poll?since=0")).expect("poll json");
    let events: Vec<(u64, u64)> = poll["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["seq"].as_u64().expect("seq"),
                e["created_us"].as_u64().expect("created_us"),
            )
        })
        .collect();
    assert!(events.len() >= 10, "two groups in 300 ms: {poll}");
    for pair in events.windows(2) {
        let [(seq_a, at_a), (seq_b, at_b)] = [pair[0], pair[1]];
        if seq_a.div_ceil(5) == seq_b.div_ceil(5) {
            assert_eq!(at_a, at_b, "one group, one stamp: {pair:?}");
        } else {
            // The next group is due 5 / 100 s later.
            assert_eq!(at_b - at_a, 50_000, "{pair:?}");
        }
    }
}

#[test]
fn a_run_in_bursts_misses_nothing_and_records_the_burst() {
    let dir = scratch("burst");
    let (_, result) = quick_run(
        &[
            "--transports",
            "long-poll,ws",
            "--clients",
            "2",
            "--rate",
            "50",
            "--burst",
            "5",
            "--no-report",
        ],
        &dir,
    );
    assert_eq!(result.scenario.burst, 5);
    assert_eq!(checked_results(&dir)["scenario"]["burst"], 5);
    for p in &result.phases {
        assert!(p.events.published >= 25, "{p:?}");
        assert!(p.events.delivered > 0, "{p:?}");
        assert_eq!((p.events.missed, p.events.duplicated), (0, 0), "{p:?}");
    }
}
