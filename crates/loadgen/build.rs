//! Records the compiler's version (`rustc --version`) for `results.json`'s
//! `machine.rustc`, so a run names the toolchain that built it.

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
}
