//! The teaching page in headless chromium: runs `node --test tests/browser/`
//! against this build of `pushbench`.
//!
//! Needs node, Debian's `chromium` and `npm ci --prefix tests/browser`. Where
//! one is missing the test is skipped with a note, except under CI (env `CI`
//! set), where a missing tool is a failure: CI must not pass by skipping.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The chromium the browser test drives (`CHROMIUM` overrides, as in the test).
fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// What is missing to run the browser test, if anything.
fn missing_prerequisites(root: &Path) -> Vec<String> {
    let mut missing = Vec::new();
    let node_runs = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !node_runs {
        missing.push("node".to_owned());
    }
    if !chromium().is_file() {
        missing.push(format!("chromium ({})", chromium().display()));
    }
    if !root
        .join("tests/browser/node_modules/playwright-core")
        .is_dir()
    {
        missing.push("tests/browser/node_modules".to_owned());
    }
    missing
}

#[test]
fn teaching_page_receives_every_event_in_headless_chromium() {
    let root = repo_root();
    let missing = missing_prerequisites(&root);
    if !missing.is_empty() {
        let what = missing.join(", ");
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but the browser test cannot run: missing {what}; .ci/run installs them"
        );
        eprintln!(
            "skipped: {what} missing, run `npm ci --prefix tests/browser` (and install node and chromium)"
        );
        return;
    }
    let out = Command::new("node")
        .args(["--test", "tests/browser/"])
        .current_dir(&root)
        .env("PUSHBENCH_BIN", env!("CARGO_BIN_EXE_pushbench"))
        .output()
        .expect("run node --test");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "node --test tests/browser/ failed ({}):\n{report}",
        out.status
    );
}
