//! WebSocket conformance: runs the suites in `tests/conformance/` against this
//! build of `pushbench`, each a client nobody here wrote:
//! - Python `websockets` (pytest), plus Autobahn's case files through kosoku;
//! - Node `ws` (`node --test`).
//!
//! Install their dependencies with
//! `python3 -m venv tests/conformance/.venv && tests/conformance/.venv/bin/pip
//! install -r tests/conformance/requirements.txt` and
//! `npm ci --prefix tests/conformance`. Where one is missing its test is
//! skipped with a note, except under CI (env `CI` set), where a missing tool is
//! a failure: CI must not pass by skipping.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance")
}

/// The venv's Python when there is one, else the system's `python3`.
fn python(dir: &Path) -> PathBuf {
    let venv = dir.join(".venv/bin/python");
    if venv.is_file() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// Fails under CI, else prints the skip note; `true` means skipped.
fn skip_unless_ready(missing: Option<String>, install: &str) -> bool {
    let Some(what) = missing else {
        return false;
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but the conformance suite cannot run: {what}; .ci/run installs it with `{install}`"
    );
    eprintln!("skipped: {what}; install with `{install}`");
    true
}

/// Runs a suite and fails with its whole output when it fails.
fn assert_suite_passes(name: &str, command: &mut Command) {
    let out: Output = command
        .current_dir(conformance_dir())
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
        "the {name} conformance suite failed ({}):\n{report}",
        out.status
    );
    // The runner's summary, so a passing run still says what it ran.
    let summary: Vec<&str> = report
        .lines()
        .filter(|l| l.contains("passed") || l.starts_with("# pass") || l.starts_with("# fail"))
        .collect();
    eprintln!("{name}: {}", summary.join(" / "));
}

#[test]
fn python_websockets_and_autobahn_cases_pass() {
    let dir = conformance_dir();
    let python = python(&dir);
    let ready = Command::new(&python)
        .args(["-c", "import websockets, pytest, kosoku"])
        .output()
        .is_ok_and(|out| out.status.success());
    let install = "python3 -m venv tests/conformance/.venv && \
                   tests/conformance/.venv/bin/pip install -r tests/conformance/requirements.txt";
    let missing = (!ready).then(|| {
        format!(
            "{} cannot import websockets, pytest and kosoku",
            python.display()
        )
    });
    if skip_unless_ready(missing, install) {
        return;
    }
    assert_suite_passes(
        "Python websockets",
        Command::new(&python).args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "python"]),
    );
}

#[test]
fn node_ws_cases_pass() {
    let dir = conformance_dir();
    let node_runs = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    let missing = if !node_runs {
        Some("node is missing".to_owned())
    } else if !dir.join("node_modules/ws").is_dir() {
        Some("tests/conformance/node_modules is missing".to_owned())
    } else {
        None
    };
    if skip_unless_ready(missing, "npm ci --prefix tests/conformance") {
        return;
    }
    assert_suite_passes("Node ws", Command::new("node").args(["--test", "node/"]));
}
