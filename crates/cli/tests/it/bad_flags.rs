//! Every bad flag value of every subcommand, and a bad scenario file, is
//! refused with a message naming the flag (or key) and what is allowed.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{pushbench, reliability};

/// Arguments that keep a case harmless should its value wrongly be
/// accepted: a server on a free loopback port; a run against a closed
/// port (unless the case is about the target or the started server),
/// writing into a scratch folder.
fn guard(subcommand: &str, flag: &str, scratch: &str) -> Vec<String> {
    let run_out = ["--no-report", "--out", scratch].map(String::from).to_vec();
    match (subcommand, flag) {
        ("serve", "--addr") => vec![],
        ("serve", _) => vec!["--addr".into(), "127.0.0.1:0".into()],
        ("run", "--target") => run_out,
        ("run", f) if f.starts_with("--serve-arg") => run_out,
        // A capacity search starts its own servers; a wrongly accepted case
        // would be cut by the time bound of `run` below.
        ("capacity", _) => run_out,
        // A wrongly accepted peers case fails at once on the missing tools.
        ("peers", _) => [
            "--out",
            scratch,
            "--wrk",
            "/nonexistent/wrk",
            "--h2load",
            "/nonexistent/h2load",
        ]
        .map(String::from)
        .to_vec(),
        ("run", _) => [
            vec!["--target".into(), "http://127.0.0.1:9".into()],
            run_out,
        ]
        .concat(),
        _ => vec![],
    }
}

/// Runs `pushbench ARGS` (killed after 20 s); returns whether it succeeded
/// and its stderr.
fn run<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(args: &[S]) -> (bool, String) {
    let mut child = pushbench()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pushbench");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pushbench {args:?} accepted its arguments and kept running");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `(subcommand and arguments, the name the message must contain, a part
/// of what it must say is allowed)`.
const CASES: &[(&[&str], &str, &str)] = &[
    // serve
    (&["serve", "--addr", "nowhere"], "--addr", "IP:PORT"),
    (&["serve", "--addr", "localhost:80"], "--addr", "IP:PORT"),
    (&["serve", "--rate", "-5"], "--rate", "from 0 to 1000000"),
    (&["serve", "--rate", "fast"], "--rate", "from 0 to 1000000"),
    (&["serve", "--rate", "NaN"], "--rate", "from 0 to 1000000"),
    (&["serve", "--rate", "2e6"], "--rate", "from 0 to 1000000"),
    (
        &["serve", "--payload", "-1"],
        "--payload",
        "from 0 to 16777216",
    ),
    (
        &["serve", "--payload", "huge"],
        "--payload",
        "from 0 to 16777216",
    ),
    (
        &["serve", "--payload", "20000000"],
        "--payload",
        "from 0 to 16777216",
    ),
    (&["serve", "--topics", "0"], "--topics", "from 1 to 1000000"),
    (&["serve", "--ring", "0"], "--ring", "from 1 to 10000000"),
    (&["serve", "--queue", "0"], "--queue", "from 1 to 1000000"),
    (
        &["serve", "--max-payload", "0"],
        "--max-payload",
        "from 1 to 67108864",
    ),
    (
        &["serve", "--max-frame", "1e9"],
        "--max-frame",
        "from 1 to 67108864",
    ),
    (
        &["serve", "--max-connections", "0"],
        "--max-connections",
        "from 1 to",
    ),
    (
        &["serve", "--sse-keepalive", "0"],
        "--sse-keepalive",
        "greater than 0",
    ),
    (
        &["serve", "--sse-keepalive", "-1"],
        "--sse-keepalive",
        "greater than 0",
    ),
    (
        &["serve", "--longpoll-timeout", "400"],
        "--longpoll-timeout",
        "at most 300",
    ),
    (
        &["serve", "--header-timeout", "inf"],
        "--header-timeout",
        "at most 3600",
    ),
    (
        &["serve", "--max-header-bytes", "100"],
        "--max-header-bytes",
        "from 8192 to 1048576",
    ),
    (
        &["serve", "--send-timeout", "nan"],
        "--send-timeout",
        "greater than 0",
    ),
    (
        &["serve", "--allow-origin", "app.example"],
        "--allow-origin",
        "scheme://host[:port]",
    ),
    (
        &["serve", "--allow-origin", "http://app.example/page"],
        "--allow-origin",
        "no path",
    ),
    (
        &["serve", "--publish-token", ""],
        "--publish-token",
        "non-empty",
    ),
    (
        &["serve", "--publish-token", "a b"],
        "--publish-token",
        "no spaces",
    ),
    (
        &["serve", "--publish-rate", "-1"],
        "--publish-rate",
        "from 0 to 1000000",
    ),
    (
        &["serve", "--skip-every", "-1"],
        "--skip-every",
        "at least 0",
    ),
    (&["serve", "--bogus", "1"], "--bogus", "Usage:"),
    // run
    (
        &["run", "--transports", "websocket"],
        "--transports",
        "short-poll, long-poll, stream, sse, ws",
    ),
    (
        &["run", "--transports", ""],
        "--transports",
        "short-poll, long-poll, stream, sse, ws",
    ),
    (&["run", "--tls", "maybe"], "--tls", "`on` or `off`"),
    (&["run", "--http", "3"], "--http", "`1.1` or `2`"),
    (&["run", "--http", "1.1,3"], "--http", "`1.1` or `2`"),
    (
        &["run", "--h2-streams", "0"],
        "--h2-streams",
        "from 1 to 100",
    ),
    (&["run", "--h2-streams", "5"], "h2_streams", "needs HTTP/2"),
    (&["run", "--http", "2,2"], "http", "each version once"),
    (
        &["serve", "--compression", "zstd"],
        "--compression",
        "gzip or br",
    ),
    (
        &["serve", "--compression", "gzip,"],
        "--compression",
        "gzip or br",
    ),
    (
        &["run", "--compression", "deflate"],
        "--compression",
        "gzip or br",
    ),
    // The guard adds a --target, whose certificate cannot be pinned.
    (&["run", "--tls", "on"], "tls", "need its certificate"),
    (
        &["serve", "--tls-cert-out", "cert.pem"],
        "--tls-cert-out",
        "--tls",
    ),
    (&["run", "--clients", "0"], "--clients", "from 1 to"),
    (&["run", "--clients", "5,0"], "--clients", "from 1 to"),
    (&["run", "--clients", "-1"], "--clients", "from 1 to"),
    (&["run", "--clients", "many"], "--clients", "from 1 to"),
    (&["run", "--rate", "-1"], "--rate", "from 0 to 1000000"),
    (&["run", "--rate", "nan"], "--rate", "from 0 to 1000000"),
    (&["run", "--rate", "2e6"], "--rate", "from 0 to 1000000"),
    (
        &["run", "--payload", "-1"],
        "--payload",
        "from 0 to 16777216",
    ),
    (
        &["run", "--payload", "20000000"],
        "--payload",
        "from 0 to 16777216",
    ),
    (&["run", "--topics", "0"], "--topics", "from 1 to 1000000"),
    (&["run", "--duration", "0"], "--duration", "greater than 0"),
    (&["run", "--duration", "-1"], "--duration", "greater than 0"),
    (
        &["run", "--duration", "NaN"],
        "--duration",
        "greater than 0",
    ),
    (
        &["run", "--duration", "100000"],
        "--duration",
        "at most 86400",
    ),
    (&["run", "--warmup", "-1"], "--warmup", "from 0 to 86400"),
    (&["run", "--ramp-up", "inf"], "--ramp-up", "from 0 to 86400"),
    (
        &["run", "--poll-interval", "3600001"],
        "--poll-interval",
        "from 0 to 3600000",
    ),
    (
        &["run", "--source-addresses", "255"],
        "--source-addresses",
        "from 0 to 254",
    ),
    (
        &["run", "--longpoll-timeout", "0"],
        "--longpoll-timeout",
        "from 1 to 300",
    ),
    (
        &["run", "--longpoll-timeout", "301"],
        "--longpoll-timeout",
        "from 1 to 300",
    ),
    (
        &["run", "--target", "ftp://x"],
        "--target",
        "must start with http://",
    ),
    (
        &["run", "--target", "http://127.0.0.1:1/stats"],
        "--target",
        "no path",
    ),
    (
        &["run", "--target", "http://127.0.0.1:1,https://127.0.0.1:2"],
        "--target",
        "same scheme",
    ),
    (
        &["run", "--target", "http://127.0.0.1:1,"],
        "--target",
        "an empty URL",
    ),
    (
        &["run", "--target", "http://127.0.0.1:1,http://127.0.0.1:1"],
        "--target",
        "listed twice",
    ),
    (
        &[
            "run",
            "--target",
            "http://127.0.0.1:1,http://127.0.0.1:2",
            "--target-kind",
            "nchan",
            "--transports",
            "long-poll",
        ],
        "target",
        "a nchan target is one URL",
    ),
    (
        &["run", "--threshold", "bogus"],
        "--threshold",
        "METRIC OP VALUE",
    ),
    (
        &["run", "--threshold", "p99<5 parsecs"],
        "--threshold",
        "(units: us, ms, s)",
    ),
    (
        &["run", "--scenario", "/nonexistent/s.toml"],
        "/nonexistent/s.toml",
        "No such file",
    ),
    (&["run", "--bogus"], "--bogus", "Usage:"),
    (
        &["run", "--server-exe", "/nonexistent/pushbench"],
        "--server-exe",
        "is no file",
    ),
    // A bad --serve-arg is refused by the started server, whose message
    // the run passes on.
    (
        &["run", "--serve-arg=--bogus"],
        "--bogus",
        "the server died",
    ),
    (
        &["run", "--link", "rtt=10ms,down=fast"],
        "--link",
        "could not read \"down=fast\": a rate like 10mbit",
    ),
    (
        &["run", "--link", "wifi"],
        "--link",
        "a profile name (loopback, lan",
    ),
    (
        &["run", "--link", "loopback;rtt=10ms,jitter=6ms"],
        "--link",
        "no larger than half the RTT",
    ),
    // capacity (the run flags above are its own too)
    (
        &["capacity", "--link", "loopback;lan"],
        "--link",
        "over one link",
    ),
    (
        &["capacity", "--max-rate", "0"],
        "--max-rate",
        "greater than 0",
    ),
    (
        &["capacity", "--max-rate", "-5"],
        "--max-rate",
        "greater than 0",
    ),
    (&["capacity", "--refine", "-1"], "--refine", "from 0 to 30"),
    (
        &["capacity", "--max-p99", "NaN"],
        "--max-p99",
        "greater than 0",
    ),
    (
        &["capacity", "--load-points", "0.5,1.5"],
        "--load-points",
        "at most 1",
    ),
    (
        &["capacity", "--load-points", "-0.5"],
        "--load-points",
        "greater than 0",
    ),
    (
        &["capacity", "--load-duration", "0"],
        "--load-duration",
        "from 0.1 to 86400",
    ),
    (
        &["capacity", "--target", "http://127.0.0.1:9"],
        "--target",
        "drop --target",
    ),
    (&["capacity", "--rate", "1,2"], "--rate", "one rate above 0"),
    // peers
    (
        &["peers", "--connections", "0"],
        "--connections",
        "at least 1",
    ),
    (
        &["peers", "--connections", "-1"],
        "--connections",
        "is not in 0..",
    ),
    (&["peers", "--rounds", "0"], "--rounds", "at least 1"),
    (
        &["peers", "--poll-duration", "-1"],
        "--poll-duration",
        "between 1 and 1e9",
    ),
    (
        &["peers", "--ws-duration", "NaN"],
        "--ws-duration",
        "between 0.1 and 1e9",
    ),
    (
        &["peers", "--ws-start-rate", "100", "--ws-max-rate", "10"],
        "--ws-max-rate",
        "at least --ws-start-rate",
    ),
    (
        &["peers", "--max-p99", "0"],
        "--max-p99",
        "between 0.001 and 1e9",
    ),
    (
        &["peers", "--payload", "-1"],
        "--payload",
        "from 0 to 16777216",
    ),
    (
        &["peers", "--node-server", "/nonexistent/ws.mjs"],
        "--node-server",
        "does not exist",
    ),
    (
        &[
            "peers",
            "--ws-peers",
            "bun",
            "--bun-server",
            "/nonexistent/bun-broadcast",
        ],
        "--bun-server",
        "does not exist",
    ),
    (
        &["peers", "--ws-peers", "node,deno"],
        "--ws-peers",
        "known: node, bun",
    ),
    // report and compare
    (
        &["report", "/nonexistent/results.json"],
        "/nonexistent/results.json",
        "No such file",
    ),
    (
        &["compare", "/nonexistent/a.json", "/nonexistent/b.json"],
        "run A",
        "No such file",
    ),
    (
        &["compare", "a", "b", "--fail-over", "-1"],
        "--fail-over",
        "from 0 to 1000000",
    ),
    (
        &["compare", "a", "b", "--fail-over", "NaN"],
        "--fail-over",
        "from 0 to 1000000",
    ),
    // model
    (&["model", "--clients", "0"], "--clients", "at least 1"),
    (&["model", "--clients", "x"], "--clients", "at least 1"),
    (&["model", "--rate", "-1"], "--rate", "from 0 to 1000000"),
    (&["model", "--rate", "nan"], "--rate", "from 0 to 1000000"),
    (
        &["model", "--header-bytes", "-1"],
        "--header-bytes",
        "at least 0",
    ),
    (&["model", "--payload", "-1"], "--payload", "at least 0"),
    (
        &["model", "--poll-interval-ms", "0"],
        "--poll-interval-ms",
        "at least 1",
    ),
    (
        &["model", "--results", "/nonexistent/r.json"],
        "/nonexistent/r.json",
        "No such file",
    ),
    // trace
    (
        &["trace", "--transport", "websocket"],
        "--transport",
        "short-poll, long-poll, stream, sse, ws",
    ),
    (
        &["trace", "-t", "ws", "--events", "0"],
        "--events",
        "from 1 to 1000000",
    ),
    (
        &["trace", "-t", "ws", "--payload", "-1"],
        "--payload",
        "from 0 to 16777216",
    ),
    (
        &["trace", "-t", "ws", "--timeout", "0"],
        "--timeout",
        "from 1 to 3600",
    ),
    (
        &["trace", "-t", "ws", "--header", "no colon"],
        "--header",
        "Name: value",
    ),
    (
        &["trace", "-t", "ws", "--target", "nowhere"],
        "--target",
        "host:port",
    ),
    (&["trace", "-t", "sse", "--http", "3"], "--http", "1.1 or 2"),
    (
        &["trace", "-t", "ws", "--link", "rtt=37"],
        "--link",
        "a duration",
    ),
];

#[test]
fn every_bad_flag_is_refused_naming_the_flag_and_what_is_allowed() {
    let scratch = std::env::temp_dir().join(format!("pushbench-bad-flags-{}", std::process::id()));
    let scratch_arg = scratch.to_string_lossy().into_owned();
    for (args, named, allowed) in CASES {
        let flag = args
            .iter()
            .find(|a| a.starts_with("--"))
            .copied()
            .unwrap_or("");
        let mut argv: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        argv.extend(guard(args[0], flag, &scratch_arg));
        let (ok, stderr) = run(&argv);
        let case = args.join(" ");
        assert!(!ok, "`pushbench {case}` is refused");
        assert!(stderr.contains(named), "`{case}` names {named}: {stderr}");
        assert!(
            stderr.contains(allowed),
            "`{case}` says {allowed:?}: {stderr}"
        );
        reliability(
            "input/cli",
            &format!("pushbench {case}"),
            "refused, names the flag (or file) and what is allowed",
        );
    }
    let _ = std::fs::remove_dir_all(&scratch);
}

#[test]
fn a_bad_scenario_file_is_refused_naming_the_file_and_the_key() {
    let dir = std::env::temp_dir().join(format!("pushbench-bad-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("bad.toml");
    let path = file.to_string_lossy().into_owned();
    for (text, key) in [
        ("clients = [5]\nclientz = [1]\n", "clientz"),
        ("duration_s = -1.0\n", "duration_s"),
        ("longpoll_timeout_s = 600\n", "longpoll_timeout_s"),
        ("http = \"1.1\"\nh2_streams = 5\n", "h2_streams"),
        ("link = [\"3g\", \"rtt=9ms,loss=x\"]\n", "loss=x"),
    ] {
        std::fs::write(&file, text).expect("write");
        let out = dir.join("out").to_string_lossy().into_owned();
        let (ok, stderr) = run(&["run", "--scenario", &path, "--no-report", "--out", &out]);
        assert!(!ok, "{text}");
        assert!(stderr.contains(key), "{text}: {stderr}");
        let case = format!(
            "pushbench run --scenario FILE with {}",
            text.trim().replace('\n', "; ")
        );
        reliability("input/scenario", &case, "refused, names the key");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serve_binds_loopback_by_default_and_warns_on_a_public_address() {
    let help = pushbench()
        .args(["serve", "--help"])
        .output()
        .expect("run pushbench");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("[default: 127.0.0.1:8080]"), "{help}");
    reliability(
        "security/bind",
        "pushbench serve without --addr",
        "binds 127.0.0.1:8080",
    );
    for (addr, warns) in [
        ("0.0.0.0:0", true),
        ("[::]:0", true),
        ("127.0.0.1:0", false),
        ("[::1]:0", false),
    ] {
        let mut child = pushbench()
            .args(["serve", "--rate", "0", "--addr", addr])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start pushbench serve");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut line).expect("first line");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let out = child.wait_with_output().expect("exit");
        let stderr = String::from_utf8_lossy(&out.stderr);
        if line.is_empty() && stderr.contains("Address family not supported") {
            eprintln!("skipped {addr}: no IPv6 here");
            continue;
        }
        assert!(
            line.starts_with("pushbench listening on http://"),
            "{addr}: {line:?} {stderr}"
        );
        assert_eq!(
            stderr.contains("warning: listening on"),
            warns,
            "{addr}: {stderr}"
        );
        if warns {
            assert!(stderr.contains("reachable from other machines"), "{stderr}");
        }
        let outcome = if warns {
            "listens, warns on stderr"
        } else {
            "listens, no warning"
        };
        reliability(
            "security/bind",
            &format!("pushbench serve --addr {addr}"),
            outcome,
        );
    }
}
