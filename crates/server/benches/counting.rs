//! The cost of the server's byte counting: the same load pushed through a
//! socket with and without [`CountingStream`].
//!
//! The load is an HTTP-streaming (NDJSON, chunked) response of 128-byte-payload
//! events, written the way hyper writes it: one vectored write per event
//! (chunk-size line, JSON line, CRLF), so the tally is called three times per
//! event, its worst case per byte. A client reads it to EOF with the load
//! generator's 8 KiB buffer.
//!
//! - `counting/tcp/*`: a loopback TCP connection. `raw` is the server's socket
//!   exactly as production has it minus the counting (a `TimeoutStream` with
//!   the send timeout, boxed and pinned); `conn-tally` is a connection
//!   accepted by the production [`CountingListener`], so the real `ConnTally`
//!   and `Registry` do the counting. `raw-2` repeats `raw` after them: an A/A
//!   check of the noise floor, and the baseline is the mean of the two.
//! - `counting/duplex/*`: the same through `tokio::io::duplex` (no syscalls,
//!   so the counting's share is as large as it can get), with a tally doing
//!   the same atomic work as `ConnCounters::record_written`.
//! - `counting/*-paired`: raw, counted and raw again interleaved per
//!   iteration (see [`bench_paired`]); each writes `paired.json` next to
//!   criterion's results. The duplex ones also split the cost: the wrapper
//!   with a no-op tally, and a single-writer tally (relaxed load and store,
//!   no locked add).
//!
//! `scripts/bench-counting.sh` runs this and fails if counting costs 2 % or
//! more; see docs/benchmarks.md.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::serve::Listener;
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use pushbench_net::counting::{CountingStream, Tally};
use pushbench_server::listener::{CountingListener, Registry};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_io_timeout::TimeoutStream;

/// The server's default send timeout (any value: it never fires here).
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

#[path = "common/ndjson_load.rs"]
mod ndjson_load;
use ndjson_load::{Load, READ_BUF, load, write_load};
#[path = "common/bench_setup.rs"]
mod bench_setup;
use bench_setup::{median, median_ci, runtime, write_paired};

async fn read_to_end<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<u64> {
    let mut buf = vec![0u8; READ_BUF];
    let mut total = 0;
    loop {
        match r.read(&mut buf).await? {
            0 => return Ok(total),
            n => total += n as u64,
        }
    }
}

/// Pushes the load from `server` to `client`, both driven on this task.
async fn push<W, R>(mut server: W, mut client: R, load: &Load) -> Duration
where
    W: AsyncWrite + Unpin,
    R: AsyncRead + Unpin,
{
    let start = Instant::now();
    let (written, read) = tokio::join!(write_load(&mut server, load), read_to_end(&mut client));
    let elapsed = start.elapsed();
    written.expect("write");
    assert_eq!(read.expect("read"), load.bytes);
    elapsed
}

/// The same atomic work as the server's `ConnCounters::record_*` on an
/// established connection: one relaxed add, one relaxed flag load.
#[derive(Debug, Default)]
struct Counters {
    read: AtomicU64,
    written: AtomicU64,
    capturing: AtomicBool,
}

#[derive(Debug, Clone, Default)]
struct AtomicTally(Arc<Counters>);

impl Tally for AtomicTally {
    fn on_read(&self, bytes: &[u8]) {
        self.0.read.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        if self.0.capturing.load(Ordering::Relaxed) {
            unreachable!("no head capture in the benchmark");
        }
    }

    fn on_written(&self, bytes: &[u8]) {
        self.0
            .written
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        if self.0.capturing.load(Ordering::Relaxed) {
            unreachable!("no head capture in the benchmark");
        }
    }
}

/// A tally that does nothing: the cost of the wrapper alone.
#[derive(Debug, Clone, Copy)]
struct NoopTally;

impl Tally for NoopTally {
    fn on_read(&self, bytes: &[u8]) {
        std::hint::black_box(bytes.len());
    }

    fn on_written(&self, bytes: &[u8]) {
        std::hint::black_box(bytes.len());
    }
}

/// The same counters updated without a read-modify-write: a relaxed load and
/// store. Correct when one task at a time polls each direction of a stream
/// (as for a connection's `CountingStream`), and readable from other threads
/// like the atomic add; it avoids the locked instruction.
#[derive(Debug, Clone, Default)]
struct SingleWriterTally(Arc<Counters>);

impl Tally for SingleWriterTally {
    fn on_read(&self, bytes: &[u8]) {
        let c = &self.0.read;
        c.store(
            c.load(Ordering::Relaxed) + bytes.len() as u64,
            Ordering::Relaxed,
        );
    }

    fn on_written(&self, bytes: &[u8]) {
        let c = &self.0.written;
        c.store(
            c.load(Ordering::Relaxed) + bytes.len() as u64,
            Ordering::Relaxed,
        );
    }
}

async fn connect(addr: std::net::SocketAddr) -> TcpStream {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    tcp
}

/// Where a connection's server side comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    Raw,
    /// TCP: the production `ConnTally`; duplex: [`AtomicTally`].
    Counted,
    /// Duplex only: the wrapper with a tally that does nothing.
    Noop,
    /// Duplex only: [`SingleWriterTally`].
    SingleWriter,
}

/// The two listeners of the TCP benchmarks.
struct Tcp {
    plain: TcpListener,
    plain_addr: std::net::SocketAddr,
    counting: CountingListener,
    counting_addr: std::net::SocketAddr,
}

impl Tcp {
    async fn new() -> Self {
        let plain = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let counted = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Tcp {
            plain_addr: plain.local_addr().expect("addr"),
            counting_addr: counted.local_addr().expect("addr"),
            plain,
            counting: CountingListener::new(counted, Arc::new(Registry::default()), SEND_TIMEOUT),
        }
    }

    /// One connection pushing the load; times the push only.
    async fn run(&mut self, variant: Variant, load: &Load) -> Duration {
        match variant {
            Variant::Raw => {
                let (client, accepted) =
                    tokio::join!(connect(self.plain_addr), self.plain.accept());
                let (tcp, _) = accepted.expect("accept");
                tcp.set_nodelay(true).expect("nodelay");
                // The production socket minus the counting.
                let mut timed = TimeoutStream::new(tcp);
                timed.set_write_timeout(Some(SEND_TIMEOUT));
                push(Box::pin(timed), client, load).await
            }
            Variant::Counted => {
                // The production path: `CountingListener` sets nodelay and
                // the send timeout, and counts into a real `ConnTally`.
                let (client, (io, _)) =
                    tokio::join!(connect(self.counting_addr), self.counting.accept());
                push(io, client, load).await
            }
            Variant::Noop | Variant::SingleWriter => unreachable!("duplex only"),
        }
    }
}

async fn run_duplex(variant: Variant, load: &Load) -> Duration {
    let (server, client) = tokio::io::duplex(64 * 1024);
    match variant {
        Variant::Raw => push(server, client, load).await,
        Variant::Counted => {
            let tally = AtomicTally::default();
            let elapsed = push(CountingStream::new(server, tally.clone()), client, load).await;
            assert_eq!(tally.0.written.load(Ordering::Relaxed), load.bytes);
            elapsed
        }
        Variant::Noop => push(CountingStream::new(server, NoopTally), client, load).await,
        Variant::SingleWriter => {
            let tally = SingleWriterTally::default();
            let elapsed = push(CountingStream::new(server, tally.clone()), client, load).await;
            assert_eq!(tally.0.written.load(Ordering::Relaxed), load.bytes);
            elapsed
        }
    }
}

/// Per-triple results of the interleaved measurement.
#[derive(Default)]
struct Triples {
    raw_a: Vec<f64>,
    counted: Vec<f64>,
    raw_b: Vec<f64>,
}

/// The three runs of a triple, in an order that rotates with `i` so no
/// variant always runs first or last.
fn triple_order(i: usize) -> [usize; 3] {
    [[0, 1, 2], [1, 2, 0], [2, 0, 1]][i % 3]
}

impl Triples {
    fn push(&mut self, times: [Duration; 3]) {
        self.raw_a.push(times[0].as_secs_f64());
        self.counted.push(times[1].as_secs_f64());
        self.raw_b.push(times[2].as_secs_f64());
    }

    /// Writes `paired.json` next to criterion's results and prints it.
    fn report(&self, medium: &str, tally: &str, load: &Load) {
        let n = self.counted.len();
        if n < 10 {
            // `cargo bench -- --test` and filtered runs: nothing to report.
            return;
        }
        let overhead: Vec<f64> = (0..n)
            .map(|i| 100.0 * (2.0 * self.counted[i] / (self.raw_a[i] + self.raw_b[i]) - 1.0))
            .collect();
        let aa: Vec<f64> = (0..n)
            .map(|i| 100.0 * (self.raw_b[i] / self.raw_a[i] - 1.0))
            .collect();
        let (o, o_lo, o_hi) = median_ci(overhead);
        let (a, a_lo, a_hi) = median_ci(aa);
        let raw_s = median(&mut [self.raw_a.clone(), self.raw_b.clone()].concat());
        let counted_s = median(&mut self.counted.clone());
        let mib = load.bytes as f64 / (1024.0 * 1024.0);
        let json = format!(
            "{{\"medium\":\"{medium}\",\"tally\":\"{tally}\",\"triples\":{n},\"bytes\":{},\
             \"raw_median_s\":{raw_s:.6},\"counted_median_s\":{counted_s:.6},\
             \"raw_mib_s\":{:.1},\"counted_mib_s\":{:.1},\
             \"overhead_pct\":{o:.3},\"overhead_ci95_pct\":[{o_lo:.3},{o_hi:.3}],\
             \"aa_pct\":{a:.3},\"aa_ci95_pct\":[{a_lo:.3},{a_hi:.3}]}}\n",
            load.bytes,
            mib / raw_s,
            mib / counted_s,
        );
        println!(
            "counting/{medium}-paired: {n} triples, raw {:.1} MiB/s, {tally} {:.1} MiB/s, \
             overhead {o:+.2} % (95 % CI {o_lo:+.2} .. {o_hi:+.2}), A/A {a:+.2} % \
             (95 % CI {a_lo:+.2} .. {a_hi:+.2})",
            mib / raw_s,
            mib / counted_s,
        );
        write_paired("counting", &format!("{medium}-paired"), &json);
    }
}

/// Raw and counted, each measured on its own (criterion's usual estimates).
fn bench_separate(c: &mut Criterion, load: &Load) {
    let rt = runtime();
    let mut tcp = rt.block_on(Tcp::new());
    let mut group = c.benchmark_group("counting");
    group.throughput(Throughput::Bytes(load.bytes));
    for (medium, variant, name) in [
        ("tcp", Variant::Raw, "raw"),
        ("tcp", Variant::Counted, "conn-tally"),
        ("duplex", Variant::Raw, "raw"),
        ("duplex", Variant::Counted, "atomic-tally"),
    ] {
        group.bench_function(BenchmarkId::new(medium, name), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += match medium {
                            "tcp" => tcp.run(variant, load).await,
                            _ => run_duplex(variant, load).await,
                        };
                    }
                    total
                })
            })
        });
    }
    group.finish();
}

/// Raw, counted and raw again, interleaved per iteration, so a change in the
/// machine's load hits all three alike: the overhead is the median over
/// triples of counted / mean(raw, raw again), and raw again / raw is an A/A
/// check of the method's noise.
fn bench_paired(c: &mut Criterion, load: &Load) {
    let rt = runtime();
    let mut tcp = rt.block_on(Tcp::new());
    let mut group = c.benchmark_group("counting");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Bytes(3 * load.bytes));
    group.sample_size(10);
    for (medium, counted, tally, seconds) in [
        ("tcp", Variant::Counted, "conn-tally", 12),
        ("duplex", Variant::Counted, "atomic-tally", 5),
        (
            "duplex-single-writer",
            Variant::SingleWriter,
            "single-writer-tally",
            5,
        ),
        ("duplex-noop", Variant::Noop, "noop-tally", 5),
    ] {
        group.measurement_time(Duration::from_secs(seconds));
        let variants = [Variant::Raw, counted, Variant::Raw];
        let mut triples = Triples::default();
        group.bench_function(format!("{medium}-paired"), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for i in 0..iters as usize {
                        let mut times = [Duration::ZERO; 3];
                        for k in triple_order(triples.counted.len() + i) {
                            times[k] = match medium {
                                "tcp" => tcp.run(variants[k], load).await,
                                _ => run_duplex(variants[k], load).await,
                            };
                        }
                        total += times.iter().sum::<Duration>();
                        triples.push(times);
                    }
                    total
                })
            })
        });
        triples.report(medium, tally, load);
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    let load = load();
    bench_separate(c, &load);
    bench_paired(c, &load);
}

criterion_group! {
    name = counting;
    config = bench_setup::criterion(20, Duration::from_secs(1), Duration::from_secs(4));
    targets = benches
}
criterion_main!(counting);
