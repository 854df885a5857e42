//! Setup the criterion benches share (the server's `counting.rs`, the load
//! generator's `meter.rs` and `record.rs` include this file by path): the
//! criterion configuration, a current-thread runtime, and where an
//! interleaved measurement writes its `paired.json`.

use std::path::PathBuf;
use std::time::Duration;

use criterion::Criterion;
use tokio::runtime::Runtime;

/// Criterion with `samples` samples, warmed up for `warm_up`, measured for
/// `measurement` per benchmark.
pub fn criterion(samples: usize, warm_up: Duration, measurement: Duration) -> Criterion {
    Criterion::default()
        .sample_size(samples)
        .warm_up_time(warm_up)
        .measurement_time(measurement)
}

/// A current-thread runtime: client and server of a push on one task, so
/// the timing has no scheduler hand-offs in it.
#[allow(dead_code, reason = "record.rs measures no IO")]
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Writes `json` to `paired.json` beside criterion's results of
/// `group/bench` (what `scripts/bench-counting.sh` reads); a failure is
/// printed, not fatal.
#[allow(dead_code, reason = "record.rs has no interleaved measurement")]
pub fn write_paired(group: &str, bench: &str, json: &str) {
    let dir = criterion_home().join(group).join(bench);
    let written =
        std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(dir.join("paired.json"), json));
    if let Err(e) = written {
        eprintln!("could not write {}: {e}", dir.display());
    }
}

/// The median of `v` (sorted in place).
#[allow(dead_code, reason = "record.rs reports no medians")]
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The median of `v` and a distribution-free 95 % interval for it (order
/// statistics at n/2 -+ 0.98 sqrt(n)).
#[allow(dead_code, reason = "record.rs reports no medians")]
pub fn median_ci(mut v: Vec<f64>) -> (f64, f64, f64) {
    let m = median(&mut v);
    let n = v.len() as f64;
    let half = 0.98 * n.sqrt();
    let lo = ((n / 2.0 - half).floor().max(0.0)) as usize;
    let hi = ((n / 2.0 + half).ceil() as usize).min(v.len() - 1);
    (m, v[lo], v[hi])
}

/// Criterion's output directory, found the way criterion finds it.
fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    // target/<profile>/deps/<bench>: three levels up is the target dir.
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(|t| t.join("criterion")))
        .unwrap_or_else(|| "target/criterion".into())
}
