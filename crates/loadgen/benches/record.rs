//! HdrHistogram recording as the load generator does it: one latency value
//! per delivered event into a shard's histogram, and the merge of the 16
//! shards at the end of a phase.
//!
//! `cargo bench -p pushbench-loadgen --bench record`; see docs/benchmarks.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hdrhistogram::Histogram;
use pushbench_loadgen::recorder::{SHARDS, new_histogram};

#[path = "../../server/benches/common/bench_setup.rs"]
mod bench_setup;

/// Values recorded per iteration.
const VALUES: usize = 10_000;

/// Latency-like values, µs: log-uniform from 50 µs to 500 ms (a LAN
/// delivery to a stalled client), from a fixed-seed generator.
fn latencies(n: usize, seed: u64) -> Vec<u64> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            // xorshift64*
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let u = (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
            (50.0 * 10_000f64.powf(u)) as u64
        })
        .collect()
}

fn bench_record(c: &mut Criterion) {
    let values = latencies(VALUES, 42);
    let mut group = c.benchmark_group("histogram");
    // Pure, steady code: 30 samples of 2 s after half a second's warm-up.
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group.throughput(Throughput::Elements(VALUES as u64));
    group.bench_function("record/10k", |b| {
        let mut h = new_histogram();
        b.iter(|| {
            for &v in black_box(&values) {
                // As the client does: out-of-range values are an error it ignores.
                let _ = h.record(v);
            }
        });
        black_box(h.len());
    });

    let shards: Vec<Histogram<u64>> = (0..SHARDS)
        .map(|i| {
            let mut h = new_histogram();
            for v in latencies(VALUES, i as u64 + 1) {
                h.record(v).expect("in range");
            }
            h
        })
        .collect();
    group.throughput(Throughput::Elements(SHARDS as u64));
    group.bench_function(format!("merge/{SHARDS}x10k"), |b| {
        b.iter(|| {
            // As `PhaseRecorder::merged` does: a fresh histogram, `add` each shard.
            let mut all = new_histogram();
            for shard in black_box(&shards) {
                all.add(shard).expect("same bounds");
            }
            all
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = bench_setup::criterion(30, Duration::from_millis(500), Duration::from_secs(2));
    targets = bench_record
}
criterion_main!(benches);
