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

use crate::support::{assert_suite_passes, skip_unless_ready};
use std::path::{Path, PathBuf};
use std::process::Command;

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

/// Runs a suite in the conformance folder and prints its summary line,
/// so a passing run still says what it ran.
fn assert_conformance_passes(name: &str, command: &mut Command) {
    let report = assert_suite_passes(name, command.current_dir(conformance_dir()));
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
    assert_conformance_passes(
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
    assert_conformance_passes("Node ws", Command::new("node").args(["--test", "node/"]));
}
