//! What several of these tests share: starting `pushbench serve` as a real
//! process (and killing it when dropped), results checked against the
//! committed schema, the CI-aware skip for missing external tools, and running an
//! external test suite.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary under test.
pub fn pushbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pushbench"))
}

/// Starts `pushbench serve --addr 127.0.0.1:0 EXTRA...` and reads the
/// address from its first stdout line (a contract of `serve`).
pub fn start_serve(extra: &[&str], stderr: Stdio) -> (Child, String) {
    try_serve_at("127.0.0.1:0", extra, stderr).unwrap_or_else(|line| panic!("{line}"))
}

/// Starts `pushbench serve --addr ADDR EXTRA...`; the child and the address
/// it printed, or what it printed instead (it exited, e.g. the port is taken).
pub fn try_serve_at(addr: &str, extra: &[&str], stderr: Stdio) -> Result<(Child, String), String> {
    let mut child = pushbench()
        .args(["serve", "--addr", addr])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start pushbench serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    let url = line.trim().strip_prefix("pushbench listening on ");
    match url.and_then(|u| {
        u.strip_prefix("http://")
            .or_else(|| u.strip_prefix("https://"))
    }) {
        Some(addr) => Ok((child, addr.to_owned())),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err(format!(
                "unexpected first line from pushbench serve: {line:?}"
            ))
        }
    }
}

/// A `pushbench serve` process, SIGKILLed when dropped. Its stderr is the
/// test's, so a server that dies on its own says why.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Server {
    pub fn start(extra: &[&str]) -> Server {
        Server::start_at("127.0.0.1:0", extra)
    }

    /// Starts `pushbench serve --addr ADDR EXTRA...` (port 0: a free one).
    pub fn start_at(addr: &str, extra: &[&str]) -> Server {
        let (child, addr) =
            try_serve_at(addr, extra, Stdio::inherit()).unwrap_or_else(|line| panic!("{line}"));
        Server {
            child,
            addr: addr.parse().expect("address"),
        }
    }

    /// Starts a server on `addr` again, retrying for up to 5 s while the
    /// port is still held (the old process's sockets closing).
    pub fn restart_at(addr: SocketAddr, extra: &[&str]) -> Server {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match try_serve_at(&addr.to_string(), extra, Stdio::inherit()) {
                Ok((child, _)) => return Server { child, addr },
                Err(why) if Instant::now() < deadline => {
                    eprintln!("restart on {addr}: {why}; retrying");
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(why) => panic!("could not restart on {addr}: {why}"),
            }
        }
    }

    /// SIGKILL: no shutdown, no last chunk, no close frame.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, the graceful stop, and its exit status (within 10 s).
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        sigterm_within(&mut self.child, Duration::from_secs(10))
            .expect("serve did not stop within 10 s of SIGTERM")
    }
}

/// Sends `child` SIGTERM and waits up to `within` for it to exit: its
/// status, or `None` when it is still running.
fn sigterm_within(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `true` when the test must be skipped because `missing` is; under CI (env
/// `CI` set) a missing tool is a failure instead: CI must not pass by
/// skipping.
pub fn skip_unless_ready(missing: Option<String>, install: &str) -> bool {
    let Some(what) = missing else {
        return false;
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but this test cannot run: {what}; .ci/run installs it with `{install}`"
    );
    eprintln!("skipped: {what}; install with `{install}`");
    true
}

/// Runs an external suite with `PUSHBENCH_BIN` set; fails with its whole
/// output when it fails, and returns that output when it passes.
pub fn assert_suite_passes(name: &str, command: &mut Command) -> String {
    let out = command
        .env("PUSHBENCH_BIN", env!("CARGO_BIN_EXE_pushbench"))
        .output()
        .unwrap_or_else(|err| panic!("run the {name} suite: {err}"));
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the {name} suite failed ({}):\n{report}",
        out.status
    );
    report
}

/// Prints the reliability line of one case that passed (the convention of
/// `scripts/reliability.sh`, which builds `docs/reliability.md` from these
/// lines): call it only after the case's assertions.
pub fn reliability(class: &str, case: &str, outcome: &str) {
    println!("reliability: {class} | {case} | {outcome}");
}

/// `pushbench run ARGS` with short phases (1 s measured, 0.3 s warm-up,
/// 0.1 s ramp-up) writing into `dir`; asserts it succeeded and returns its
/// stdout (the summary) and `results.json`.
pub fn quick_run(args: &[&str], dir: &Path) -> (String, pushbench_protocol::RunResult) {
    let out = pushbench()
        .arg("run")
        .args(args)
        .args(["--duration", "1", "--warmup", "0.3", "--ramp-up", "0.1"])
        .arg("--out")
        .arg(dir)
        .output()
        .expect("run pushbench run");
    assert!(out.status.success(), "{out:?}");
    let results = std::fs::read(dir.join("results.json")).expect("results.json");
    let result = serde_json::from_slice(&results).expect("results");
    (String::from_utf8_lossy(&out.stdout).into_owned(), result)
}

/// A fresh scratch folder for one test, under the system's temp dir, named
/// by the process and `name` (unique per test).
pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("pushbench-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// The run's results.json: parsed, checked against the committed schema,
/// and alone in its folder with the other outputs (no temporary file left).
pub fn checked_results(out: &Path) -> Value {
    let text = std::fs::read(out.join("results.json")).expect("results.json written");
    let results: Value = serde_json::from_slice(&text).expect("results.json parses");
    let schema: Value =
        serde_json::from_str(include_str!("../../../protocol/schema/results.schema.json"))
            .expect("schema");
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    let errors: Vec<String> = validator
        .iter_errors(&results)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "results.json vs schema: {errors:#?}");
    for entry in std::fs::read_dir(out).expect("list") {
        let name = entry.expect("entry").file_name();
        assert!(
            !name.to_string_lossy().contains(".tmp"),
            "temporary file left: {name:?}"
        );
    }
    results
}

/// Whether this process may make namespaces and TUN devices
/// (CAP_NET_ADMIN, which root has), as `pushbench_link` decides it. When
/// it may not, a test prints why and passes, except under `CI=true`,
/// where CI runs as root and a skip would hide a broken test.
pub fn can_emulate(test: &str) -> bool {
    let lan = pushbench_protocol::LinkProfile::named("lan").expect("lan");
    let net_admin = pushbench_link::require_net_admin(&lan).is_ok();
    if !net_admin {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: CI must run as root (CAP_NET_ADMIN) for the emulated link"
        );
        eprintln!("{test}: skipped: needs root (CAP_NET_ADMIN) for namespaces and TUN devices");
    }
    net_admin
}

/// The repository's root (scripts/ and docs/ live there).
pub fn repo_root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A server of another kind, started by `scripts/targets/KIND/start
/// --addr ADDR` as a user would (the contract of every start script:
/// first stdout line `KIND listening on http://127.0.0.1:PORT`, second
/// `pid PID`), stopped with SIGTERM when dropped (the script stops the
/// server and its children and removes its temporary files), SIGKILLed
/// if that takes over 10 s.
pub struct StartedTarget {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The server's main process, as the script's second line names it.
    pub pid: u32,
}

impl StartedTarget {
    /// Starts `kind`'s server on a free loopback port.
    pub fn start(kind: &str) -> StartedTarget {
        StartedTarget::start_with(kind, &["--addr", "127.0.0.1:0"])
    }

    /// Starts `kind`'s server with the start script's arguments `args`
    /// (`--addr ADDR` and any the kind's script takes).
    pub fn start_with(kind: &str, args: &[&str]) -> StartedTarget {
        let script = repo_root().join("scripts/targets").join(kind).join("start");
        StartedTarget::start_script(&script, &format!("{kind} listening on http://"), args)
    }

    /// Starts `script ARGS` whose first line is `PREFIX` then the
    /// address (`kind listening on http://`, or `redis listening on
    /// redis://` for `scripts/lib/redis-start`).
    pub fn start_script(script: &Path, prefix: &str, args: &[&str]) -> StartedTarget {
        let mut child = Command::new(script)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", script.display()));
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut line = || lines.next().and_then(Result::ok).unwrap_or_default();
        let (first, second) = (line(), line());
        let addr = first.strip_prefix(prefix).and_then(|a| a.parse().ok());
        let pid = second.strip_prefix("pid ").and_then(|p| p.parse().ok());
        match (addr, pid) {
            (Some(addr), Some(pid)) => StartedTarget { child, addr, pid },
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{}: unexpected first lines {first:?}, {second:?}",
                    script.display()
                )
            }
        }
    }

    /// `http://ADDR`, as `--target` takes it.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The start script's own process id (the server's, when it execs).
    pub fn child_id(&self) -> u32 {
        self.child.id()
    }

    /// Sends the start script SIGTERM and waits up to `within` for it to
    /// exit: its exit status, or `None` if it is still running.
    pub fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        sigterm_within(&mut self.child, within)
    }
}

impl Drop for StartedTarget {
    fn drop(&mut self) {
        if self.terminate(Duration::from_secs(10)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
