//! The cost of the load generator's counting: the same load read through a
//! plain socket and through a [`CountingStream`] whose tally is the client's
//! [`Meter`] (every byte fed to the wire classifier as it is read).
//!
//! The load is an HTTP-streaming (NDJSON, chunked) response of 128-byte-payload
//! events, written one vectored write per event as hyper writes it, read to
//! EOF with the client's 8 KiB buffer; after each read the notes are drained,
//! as the client loop does. Raw and metered runs alternate per iteration (the
//! order flips each time), so a change in the machine's load hits both
//! alike; the overhead is the median over pairs of metered / raw.
//!
//! `cargo bench -p pushbench-loadgen --bench meter`; see docs/benchmarks.md.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use pushbench_loadgen::meter::{Meter, Note};
use pushbench_loadgen::recorder::PhaseRecorder;
use pushbench_net::counting::CountingStream;
use pushbench_protocol::Transport;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

#[path = "../../server/benches/common/ndjson_load.rs"]
mod ndjson_load;
use ndjson_load::{EVENTS, Load, READ_BUF, load, write_load};
#[path = "../../server/benches/common/bench_setup.rs"]
mod bench_setup;
use bench_setup::{median, median_ci, runtime, write_paired};

/// Reads to EOF; with a meter, drains its notes after each read and returns
/// how many events it decoded.
async fn read_to_end<R: AsyncRead + Unpin>(
    mut r: R,
    meter: Option<&Meter>,
) -> io::Result<(u64, u64)> {
    let mut buf = vec![0u8; READ_BUF];
    let (mut bytes, mut events) = (0, 0);
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            return Ok((bytes, events));
        }
        bytes += n as u64;
        if let Some(meter) = meter {
            events += meter
                .take_notes()
                .iter()
                .filter(|n| matches!(n, Note::Message(..)))
                .count() as u64;
        }
    }
}

fn new_meter() -> Meter {
    let recorder = Arc::new(PhaseRecorder::default());
    recorder.set_measuring(true);
    Meter::new(Transport::Stream, recorder, 0)
}

/// Pushes the load from `server` to `client`, metered or not; times the push.
async fn push<W, R>(mut server: W, client: R, metered: bool, load: &Load) -> Duration
where
    W: AsyncWrite + Unpin,
    R: AsyncRead + Unpin,
{
    let start = Instant::now();
    let (written, read) = if metered {
        let meter = new_meter();
        let client = CountingStream::new(client, meter.clone());
        let (w, r) = tokio::join!(
            write_load(&mut server, load),
            read_to_end(client, Some(&meter))
        );
        let r = r.expect("read");
        assert_eq!(r.1, EVENTS, "the meter decoded every event");
        (w, r)
    } else {
        let (w, r) = tokio::join!(write_load(&mut server, load), read_to_end(client, None));
        (w, r.expect("read"))
    };
    let elapsed = start.elapsed();
    written.expect("write");
    assert_eq!(read.0, load.bytes);
    elapsed
}

async fn push_tcp(listener: &TcpListener, metered: bool, load: &Load) -> Duration {
    let addr = listener.local_addr().expect("addr");
    let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (client, (server, _)) = (client.expect("connect"), accepted.expect("accept"));
    client.set_nodelay(true).expect("nodelay");
    server.set_nodelay(true).expect("nodelay");
    push(server, client, metered, load).await
}

async fn push_duplex(metered: bool, load: &Load) -> Duration {
    let (server, client) = tokio::io::duplex(64 * 1024);
    push(server, client, metered, load).await
}

/// Raw and metered times of each pair.
#[derive(Default)]
struct Pairs {
    raw: Vec<f64>,
    metered: Vec<f64>,
}

impl Pairs {
    /// Prints the overhead and writes `paired.json` next to criterion's results.
    fn report(&self, medium: &str, load: &Load) {
        let n = self.raw.len();
        if n < 10 {
            // `--test` and filtered runs: nothing to report.
            return;
        }
        let overhead: Vec<f64> = (0..n)
            .map(|i| 100.0 * (self.metered[i] / self.raw[i] - 1.0))
            .collect();
        let (o, lo, hi) = median_ci(overhead);
        let mib = load.bytes as f64 / (1024.0 * 1024.0);
        let raw_s = median(&mut self.raw.clone());
        let metered_s = median(&mut self.metered.clone());
        let per_event_ns = (metered_s - raw_s) * 1e9 / EVENTS as f64;
        println!(
            "meter/{medium}-paired: {n} pairs, raw {:.1} MiB/s, meter {:.1} MiB/s, \
             overhead {o:+.1} % (95 % CI {lo:+.1} .. {hi:+.1}), {per_event_ns:.0} ns per event",
            mib / raw_s,
            mib / metered_s,
        );
        let json = format!(
            "{{\"medium\":\"{medium}\",\"tally\":\"meter\",\"pairs\":{n},\"bytes\":{},\
             \"events\":{EVENTS},\"raw_median_s\":{raw_s:.6},\"counted_median_s\":{metered_s:.6},\
             \"raw_mib_s\":{:.1},\"counted_mib_s\":{:.1},\"overhead_pct\":{o:.3},\
             \"overhead_ci95_pct\":[{lo:.3},{hi:.3}],\"ns_per_event\":{per_event_ns:.1}}}\n",
            load.bytes,
            mib / raw_s,
            mib / metered_s,
        );
        write_paired("meter", &format!("{medium}-paired"), &json);
    }
}

fn benches(c: &mut Criterion) {
    let load = load();
    let rt = runtime();
    let listener = rt.block_on(async { TcpListener::bind("127.0.0.1:0").await.expect("bind") });
    let mut group = c.benchmark_group("meter");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.throughput(Throughput::Bytes(2 * load.bytes));

    for medium in ["tcp", "duplex"] {
        group.measurement_time(Duration::from_secs(if medium == "tcp" { 10 } else { 5 }));
        let mut pairs = Pairs::default();
        group.bench_function(format!("{medium}-paired"), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let mut times = [Duration::ZERO; 2];
                        // Alternate which variant runs first.
                        let first_metered = pairs.raw.len() % 2 == 1;
                        for metered in [first_metered, !first_metered] {
                            times[usize::from(metered)] = match medium {
                                "tcp" => push_tcp(&listener, metered, &load).await,
                                _ => push_duplex(metered, &load).await,
                            };
                        }
                        total += times[0] + times[1];
                        pairs.raw.push(times[0].as_secs_f64());
                        pairs.metered.push(times[1].as_secs_f64());
                    }
                    total
                })
            })
        });
        pairs.report(medium, &load);
    }
    group.finish();
}

criterion_group! {
    name = meter;
    // Criterion's default samples and measurement time; the group sets its own.
    config = bench_setup::criterion(100, Duration::from_secs(1), Duration::from_secs(5));
    targets = benches
}
criterion_main!(meter);
