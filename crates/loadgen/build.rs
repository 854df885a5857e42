//! Records the compiler's version (`rustc --version`) for `results.json`'s
//! `machine.rustc`, so a run names the toolchain that built it, and the git
//! commit (`PUSHBENCH_COMMIT`, empty outside a git checkout) for a shard's
//! `shard.commit`, so `merge` can refuse shards of different builds.

use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(&rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default();
    println!("cargo:rustc-env=PUSHBENCH_RUSTC={version}");
    println!("cargo:rerun-if-env-changed=RUSTC");
    commit();
}

/// `git rev-parse HEAD`, with `-dirty` when tracked files differ from it;
/// rebuilt when HEAD or the index moves.
fn commit() {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let head = git(&["rev-parse", "HEAD"]).unwrap_or_default();
    let dirty = !head.is_empty()
        && Command::new("git")
            .args(["diff", "--quiet", "HEAD", "--"])
            .status()
            .is_ok_and(|s| s.code() == Some(1));
    let commit = if dirty { format!("{head}-dirty") } else { head };
    println!("cargo:rustc-env=PUSHBENCH_COMMIT={commit}");
    for path in ["HEAD", "index"] {
        if let Some(p) = git(&["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"])
        && let Some(p) = git(&["rev-parse", "--git-path", &r])
    {
        println!("cargo:rerun-if-changed={p}");
    }
}
