//! `run --compression` as a user runs it: the child server gets the coded
//! codings, each coding is a phase of its own, WebSocket runs at identity
//! only, and the coded phases book their bodies as `compressed`.

use pushbench_protocol::ContentCoding;

use crate::support::quick_run;

#[test]
fn a_run_sweeps_codings_through_a_child_server() {
    let dir = std::env::temp_dir().join(format!("pushbench-cli-{}-coding", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (_, result) = quick_run(
        &[
            "--transports",
            "sse,ws",
            "--compression",
            "identity,gzip,br",
            "--clients",
            "2",
            "--rate",
            "20",
            "--headers",
            "browser",
            "--no-report",
        ],
        &dir,
    );
    let phases: Vec<(String, ContentCoding)> = result
        .phases
        .iter()
        .map(|p| (p.transport.name().to_owned(), p.coding))
        .collect();
    assert_eq!(
        phases,
        [
            ("sse".to_owned(), ContentCoding::Identity),
            ("ws".to_owned(), ContentCoding::Identity),
            ("sse".to_owned(), ContentCoding::Gzip),
            ("sse".to_owned(), ContentCoding::Br),
        ]
    );
    for p in &result.phases {
        assert!(p.events.delivered > 0 && p.events.missed == 0, "{p:?}");
        let coded = p.coding != ContentCoding::Identity;
        assert_eq!(p.traffic.received.compressed > 0, coded, "{p:?}");
        assert_eq!(p.traffic.received.payload > 0, !coded, "{p:?}");
        assert_eq!(p.traffic.decoded.payload > 0, coded, "{p:?}");
        assert_eq!(p.derived.compression_ratio > 1.0, coded, "{:?}", p.derived);
    }
    // The identity phase's head says identity (the server compresses), and
    // is not bigger for it than a coded one's.
    let identity = &result.phases[0];
    let gzip = &result.phases[2];
    assert!(identity.setup_traffic.sent.request_headers > 0);
    assert!(
        identity.setup_traffic.sent.request_headers <= gzip.setup_traffic.sent.request_headers + 8,
        "{:?} {:?}",
        identity.setup_traffic.sent,
        gzip.setup_traffic.sent
    );
    let _ = std::fs::remove_dir_all(&dir);
}
