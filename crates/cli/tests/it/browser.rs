//! The teaching page in headless chromium: runs `node --test tests/browser/`
//! against this build of `pushbench`.
//!
//! Needs node, Debian's `chromium` and `npm ci --prefix tests/browser`. Where
//! one is missing the test is skipped with a note, except under CI (env `CI`
//! set), where a missing tool is a failure: CI must not pass by skipping.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{assert_suite_passes, skip_unless_ready};

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
    let missing = (!missing.is_empty()).then(|| format!("{} missing", missing.join(", ")));
    if skip_unless_ready(
        missing,
        "apt-get install chromium nodejs npm && npm ci --prefix tests/browser",
    ) {
        return;
    }
    assert_suite_passes(
        "browser (node --test tests/browser/)",
        Command::new("node")
            .args(["--test", "tests/browser/"])
            .current_dir(&root),
    );
}
