//! `--link`: a run over the loopback records its link and what it
//! measured of it (connect times, both ends' retransmissions), in results
//! that validate against the schema and read back.

use crate::support::{can_emulate, checked_results, quick_run, reliability, scratch};

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

/// `pushbench run ARGS --out DIR` (phases of 3 s after 1 s of warm-up);
/// asserts success; the parsed results (checked against the schema).
fn link_run(args: &[&str], dir: &std::path::Path) -> pushbench_protocol::RunResult {
    let out = crate::support::pushbench()
        .arg("run")
        .args(args)
        .args([
            "--duration",
            "3",
            "--warmup",
            "1",
            "--ramp-up",
            "0.2",
            "--no-report",
        ])
        .arg("--out")
        .arg(dir)
        .output()
        .expect("run pushbench run");
    assert!(out.status.success(), "{out:?}");
    serde_json::from_value(checked_results(dir)).expect("results read back")
}

/// No namespace of a pushbench that has exited is left: each run removes
/// its own (others, of runs still going, may be listed).
fn assert_no_namespace_left() {
    let listed = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    let listed = String::from_utf8_lossy(&listed.stdout);
    let orphans: Vec<&str> = listed
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| {
            pushbench_link::pid_of_namespace(name)
                .is_some_and(|pid| !std::path::Path::new("/proc").join(pid.to_string()).exists())
        })
        .collect();
    assert!(orphans.is_empty(), "namespaces left behind: {orphans:?}");
}

/// The accuracy checks through a real emulated path: TCP connects
/// take the set RTT; a WebSocket event takes half of it; in bursts, long
/// polling's later events wait for the re-issued request (RFC 6202's
/// worst case), so its p99 is well above WebSocket's; nothing is missed
/// or duplicated without loss, and with 5 % loss nothing is missed either
/// (TCP recovers, later), while the link drops and TCP_INFO retransmits.
#[test]
fn an_emulated_link_delays_drops_and_loses_nothing() {
    if !can_emulate("an_emulated_link_delays_drops_and_loses_nothing") {
        return;
    }
    let dir = scratch("run-link-emulated");
    let result = link_run(
        &[
            "--transports",
            "long-poll,ws",
            "--clients",
            "3",
            "--rate",
            // Bursts every 25 ms, faster than the 37 ms round trip: a
            // burst often finds the long poll's answer in flight.
            "200",
            "--burst",
            "5",
            "--link",
            "rtt=37ms;rtt=20ms,loss=5%",
        ],
        &dir,
    );
    assert_eq!(result.phases.len(), 4);
    for phase in &result.phases {
        let name = format!("{} over {}", phase.transport, phase.link.label());
        let e = &phase.events;
        assert!(e.delivered > 0, "{name}: {e:?}");
        assert_eq!((e.missed, e.duplicated), (0, 0), "{name}: {e:?}");
        let measured = phase.link_measured.as_ref().expect("link_measured");
        let path = measured.path.expect("an emulated path counts");
        assert!(
            path.up.packets > 0 && path.down.delivered > 0,
            "{name}: {path:?}"
        );
        let rtt_ms = phase.link.rtt_us as f64 / 1e3;
        let connect_ms = measured.connect_us.p50 as f64 / 1e3;
        if phase.link.loss == 0.0 {
            // Within 10 % or 2 ms of the set RTT.
            let margin = (rtt_ms * 0.1).max(2.0);
            assert!(
                (connect_ms - rtt_ms).abs() <= margin,
                "{name}: connect p50 {connect_ms} ms, RTT {rtt_ms} ms"
            );
            assert_eq!(path.up.random_drops + path.down.random_drops, 0, "{name}");
        }
    }
    let at = |transport: &str, lossy: bool| {
        result
            .phases
            .iter()
            .find(|p| p.transport.name() == transport && (p.link.loss > 0.0) == lossy)
            .expect("phase")
    };
    let (ws, long_poll) = (at("ws", false), at("long-poll", false));
    let half_rtt_us = ws.link.rtt_us / 2;
    // About half the RTT, plus the loopback figure (well under 10 ms here).
    assert!(
        ws.latency_us.p50 >= half_rtt_us && ws.latency_us.p50 <= half_rtt_us + 10_000,
        "ws p50 {} us at RTT {} us",
        ws.latency_us.p50,
        ws.link.rtt_us
    );
    // Events that come while the answer is in flight wait for the
    // re-issued poll: up to 1.5 RTT, where WebSocket stays at 0.5.
    assert!(
        long_poll.latency_us.p99 >= ws.latency_us.p99 + half_rtt_us,
        "long-poll p99 {} us against ws p99 {} us at RTT {} us",
        long_poll.latency_us.p99,
        ws.latency_us.p99,
        ws.link.rtt_us
    );
    // Over the two lossy phases together (a few hundred packets in the
    // windows, more over whole connections): at 5 % the chance of no drop
    // and no retransmission is below 1e-4.
    let lossy: Vec<_> = result
        .phases
        .iter()
        .filter(|p| p.link.loss > 0.0)
        .filter_map(|p| p.link_measured.as_ref())
        .collect();
    let drops: u64 = lossy
        .iter()
        .filter_map(|m| m.path)
        .map(|p| p.up.random_drops + p.down.random_drops)
        .sum();
    assert!(drops > 0, "5 % loss dropped nothing: {lossy:?}");
    let retransmitted: u64 = lossy
        .iter()
        .map(|m| m.retransmits.sent_segments + m.retransmits.received_segments)
        .sum();
    assert!(
        retransmitted > 0,
        "TCP_INFO shows no retransmission over 5 % loss: {lossy:?}"
    );
    reliability(
        "link/emulated",
        "pushbench run --link 'rtt=37ms;rtt=20ms,loss=5%' --burst 5",
        "connect at the RTT, ws at RTT/2, long-poll p99 a round trip above ws, 0 missed with and without loss",
    );
    assert_no_namespace_left();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Without CAP_NET_ADMIN an emulated link is refused at once, naming what
/// it needs; `setpriv` drops the capability from this root process's child.
#[test]
fn an_emulated_link_without_net_admin_is_refused_at_once() {
    if !can_emulate("an_emulated_link_without_net_admin_is_refused_at_once") {
        return;
    }
    let dir = scratch("run-link-no-cap");
    let started = std::time::Instant::now();
    let out = std::process::Command::new("setpriv")
        .args(["--inh-caps=-net_admin", "--bounding-set=-net_admin", "--"])
        .arg(env!("CARGO_BIN_EXE_pushbench"))
        .args(["run", "--link", "3g", "--out"])
        .arg(&dir)
        .output()
        .expect("setpriv");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("--link 3g") && stderr.contains("CAP_NET_ADMIN"),
        "{stderr}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "not at once"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A target listening on 127.0.0.1 cannot be reached over the link: the
/// run says so before it starts, with how to bind it; one listening on
/// every address is measured through the link.
#[test]
fn a_target_is_reached_at_the_hosts_end_of_the_link() {
    if !can_emulate("a_target_is_reached_at_the_hosts_end_of_the_link") {
        return;
    }
    let dir = scratch("run-link-target");
    let (mut local, addr) =
        crate::support::start_serve(&["--rate", "20"], std::process::Stdio::null());
    let out = crate::support::pushbench()
        .args([
            "run",
            "--target",
            &format!("http://{addr}"),
            "--link",
            "rtt=10ms",
        ])
        .args([
            "--transports",
            "ws",
            "--clients",
            "1",
            "--duration",
            "1",
            "--out",
        ])
        .arg(&dir)
        .output()
        .expect("run");
    let _ = local.kill();
    let _ = local.wait();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("0.0.0.0"), "{stderr}");

    let (mut every, addr) =
        crate::support::try_serve_at("0.0.0.0:0", &["--rate", "20"], std::process::Stdio::null())
            .expect("serve on every address");
    let port = addr.rsplit(':').next().expect("port");
    let result = link_run(
        &[
            "--target",
            &format!("http://127.0.0.1:{port}"),
            "--link",
            "rtt=10ms",
            "--transports",
            "sse",
            "--clients",
            "2",
        ],
        &dir,
    );
    let _ = every.kill();
    let _ = every.wait();
    let phase = &result.phases[0];
    assert_eq!(phase.events.missed, 0, "{:?}", phase.events);
    assert!(phase.events.delivered > 0);
    assert!(phase.latency_us.p50 >= 5_000, "{:?}", phase.latency_us);
    let _ = std::fs::remove_dir_all(&dir);
}

/// TLS over an emulated link: the server is dialled at the link's address,
/// which its certificate cannot name; the client checks the pinned
/// certificate against `localhost` instead, and every event arrives.
#[test]
fn tls_crosses_an_emulated_link() {
    if !can_emulate("tls_crosses_an_emulated_link") {
        return;
    }
    let dir = scratch("run-link-tls");
    let result = link_run(
        &[
            "--link",
            "rtt=5ms",
            "--tls",
            "on",
            "--http",
            "1.1,2",
            "--transports",
            "long-poll,ws",
            "--clients",
            "2",
            "--rate",
            "20",
        ],
        &dir,
    );
    for phase in &result.phases {
        assert!(phase.tls);
        let e = &phase.events;
        assert!(
            e.delivered > 0 && e.missed == 0,
            "{} {}: {e:?}",
            phase.transport,
            phase.http
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `trace --link`: the embedded server listens on every address and the
/// traced client reaches it at the link's host end.
#[test]
fn trace_crosses_an_emulated_link() {
    if !can_emulate("trace_crosses_an_emulated_link") {
        return;
    }
    let out = crate::support::pushbench()
        .args(["trace", "-t", "ws", "--link", "rtt=20ms", "--events", "2"])
        .output()
        .expect("trace");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("2 events delivered"), "{stdout}");
    assert_no_namespace_left();
}
