//! `--link`: a run over the loopback records its link and what it
//! measured of it (connect times, both ends' retransmissions), in results
//! that validate against the schema and read back.

use crate::support::{checked_results, quick_run, reliability, scratch};

#[test]
fn a_run_with_link_loopback_records_the_link_and_connect_times() {
    let dir = scratch("run-link-loopback");
    let (_, result) = quick_run(
        &[
            "--transports",
            "short-poll,ws",
            "--clients",
            "2",
            "--rate",
            "20",
            "--link",
            "loopback",
            "--no-report",
        ],
        &dir,
    );
    let json = checked_results(&dir);
    // A loopback-only scenario writes no `link` key: it reads as before.
    assert!(
        json["scenario"].get("link").is_none(),
        "{}",
        json["scenario"]
    );
    for phase in &result.phases {
        assert!(phase.link.is_loopback(), "{:?}", phase.link);
        let measured = phase.link_measured.as_ref().expect("link_measured");
        assert!(
            measured.connect_us.count >= phase.connections.opened && phase.connections.opened > 0,
            "{measured:?}"
        );
        assert!(measured.connect_us.p50 > 0 && measured.connect_us.max >= measured.connect_us.p99);
        assert!(measured.retransmits.client_sockets > 0, "{measured:?}");
        assert!(measured.path.is_none(), "loopback counts nothing");
    }
    assert_eq!(json["phases"][0]["link"]["name"], "loopback");
    let back: pushbench_protocol::RunResult = serde_json::from_value(json).expect("reads back");
    assert_eq!(back, result);
    reliability(
        "link/loopback",
        "pushbench run --link loopback",
        "phases record link loopback and connect times; results valid and read back",
    );
    let _ = std::fs::remove_dir_all(&dir);
}
