//! Writing a run: `results.json` (atomically), `results.csv` and one
//! HdrHistogram V2 interval log per phase.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;
use pushbench_protocol::{ByteClass, RunResult};

use crate::runner::RunOutcome;
use crate::{Error, Result};

/// Writes `path` atomically: a temporary file in the same folder, fsynced,
/// then a rename, so a reader never sees half a file even if the run is
/// killed, and a machine crash cannot leave an empty one
/// ([`replace_file`](pushbench_net::atomic_file::replace_file)).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    pushbench_net::atomic_file::replace_file(path, bytes)
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// The histogram log file name of phase `index` (from 0).
pub fn histogram_log_name(result: &RunResult, index: usize) -> String {
    let p = &result.phases[index];
    format!(
        "latency-{:02}-{}-{}c-{}eps.hlog",
        index + 1,
        p.transport,
        p.clients,
        p.rate
    )
}

/// An HdrHistogram V2 interval log holding one histogram.
pub fn histogram_log(h: &Histogram<u64>, tag: &str, duration_s: f64) -> Result<Vec<u8>> {
    let encode = |e: &dyn std::fmt::Display| Error::Encode {
        what: "histogram log",
        message: e.to_string(),
    };
    let mut out = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    let now = std::time::SystemTime::now();
    {
        let mut writer = IntervalLogWriterBuilder::new()
            .add_comment("pushbench latency, event creation to client receipt, microseconds")
            .with_start_time(now)
            .with_base_time(now)
            .with_max_value_divisor(1.0)
            .begin_log_with(&mut out, &mut serializer)
            .map_err(|e| encode(&e))?;
        let tag = hdrhistogram::serialization::interval_log::Tag::new(tag);
        writer
            .write_histogram(
                h,
                std::time::Duration::ZERO,
                std::time::Duration::from_secs_f64(duration_s.max(0.0)),
                tag,
            )
            .map_err(|e| encode(&format!("{e:?}")))?;
    }
    Ok(out)
}

/// Writes `peers.json` and the external tools' raw output (`logs/NAME`)
/// into `dir`; returns the path of `peers.json`.
pub fn write_peers(
    dir: &Path,
    result: &pushbench_protocol::peer_results::PeersResult,
    logs: &[(String, String)],
) -> Result<PathBuf> {
    let logs_dir = dir.join("logs");
    std::fs::create_dir_all(&logs_dir)
        .map_err(|e| Error::io(format!("creating {}", logs_dir.display()), e))?;
    for (name, text) in logs {
        write_atomic(&logs_dir.join(name), text.as_bytes())?;
    }
    let json = serde_json::to_vec_pretty(result).map_err(|e| Error::Encode {
        what: "peers.json",
        message: e.to_string(),
    })?;
    let path = dir.join("peers.json");
    write_atomic(&path, &json)?;
    Ok(path)
}

/// Writes `servers.json` (atomically) into `dir`; returns its path.
pub fn write_servers(
    dir: &Path,
    result: &pushbench_protocol::server_results::ServersResult,
) -> Result<PathBuf> {
    let json = serde_json::to_vec_pretty(result).map_err(|e| Error::Encode {
        what: "servers.json",
        message: e.to_string(),
    })?;
    let path = dir.join("servers.json");
    write_atomic(&path, &json)?;
    Ok(path)
}

/// Writes everything into `dir`; returns the path of `results.json`.
pub fn write_run(dir: &Path, outcome: &mut RunOutcome) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    for (index, histogram) in outcome.histograms.iter().enumerate() {
        if index >= outcome.result.phases.len() {
            break;
        }
        let name = histogram_log_name(&outcome.result, index);
        let phase = &outcome.result.phases[index];
        let tag = format!("{}-{}c", phase.transport, phase.clients);
        write_atomic(
            &dir.join(&name),
            &histogram_log(histogram, &tag, phase.duration_s)?,
        )?;
        outcome.result.phases[index].histogram_log = Some(name);
    }
    write_atomic(&dir.join("results.csv"), csv(&outcome.result).as_bytes())?;
    let json = serde_json::to_vec_pretty(&outcome.result).map_err(|e| Error::Encode {
        what: "results.json",
        message: e.to_string(),
    })?;
    let path = dir.join("results.json");
    write_atomic(&path, &json)?;
    Ok(path)
}

/// Writes the wire log: one JSON line per TCP connection of the run
/// ([`ConnectionRecord`](crate::runner::ConnectionRecord)), measured clients
/// and control calls alike, so a packet capture of the same run can be
/// attributed by local port (`scripts/verify-wire.sh`).
pub fn write_wire_log(path: &Path, records: &[crate::runner::ConnectionRecord]) -> Result<()> {
    let mut out = Vec::new();
    for record in records {
        serde_json::to_writer(&mut out, record).map_err(|e| Error::Encode {
            what: "wire log",
            message: e.to_string(),
        })?;
        out.push(b'\n');
    }
    write_atomic(path, &out)
}

/// One CSV row per phase. The TLS classes and the `tls` flag come last, so
/// the columns before them are where they were before TLS.
pub fn csv(result: &RunResult) -> String {
    let mut out = String::from(
        "transport,clients,rate,duration_s,published,delivered,missed,duplicated,out_of_order,gaps,errors,connections_opened,connections_failed",
    );
    let class_columns = |out: &mut String, classes: &[ByteClass]| {
        for dir in ["sent", "received"] {
            for class in classes {
                let _ = write!(out, ",{dir}_{}", class.name());
            }
        }
    };
    // Column order is a contract: the classic classes, the summary, TLS
    // and `tls`, then every class added since, so older readers keep
    // their columns.
    let later: Vec<ByteClass> = ByteClass::PLAINTEXT
        .into_iter()
        .filter(|c| !ByteClass::CLASSIC.contains(c))
        .collect();
    class_columns(&mut out, &ByteClass::CLASSIC);
    out.push_str(",bytes_per_event,overhead_ratio,events_per_second,latency_p50_us,latency_p90_us,latency_p99_us,latency_p999_us,latency_max_us,setup_p50_us,server_cpu_s,cpu_us_per_event,rss_idle_bytes,rss_max_bytes,rss_per_connection_bytes,connections_open,slow_consumer_drops");
    class_columns(&mut out, &ByteClass::TLS);
    out.push_str(",tls");
    class_columns(&mut out, &later);
    // Content-coded phases: what the `compressed` bytes decoded to.
    out.push_str(",http,coding,decoded_framing,decoded_payload,decoded_control,compression_ratio");
    // The link (quoted: a custom one's text has commas) and what the
    // phase measured of it.
    out.push_str(",link,connect_p50_us,connect_p99_us,retrans_sent_bytes,retrans_received_bytes");
    // Whether the polls kept their connection; then the load generator's
    // own CPU.
    out.push_str(",keep_alive,loadgen_cpu_s,loadgen_cpu_us_per_event\n");
    let class_values =
        |out: &mut String, p: &pushbench_protocol::results::PhaseResult, classes: &[ByteClass]| {
            for ledger in [&p.traffic.sent, &p.traffic.received] {
                for &class in classes {
                    let _ = write!(out, ",{}", ledger.get(class));
                }
            }
        };
    for p in &result.phases {
        let e = &p.events;
        let _ = write!(
            out,
            "{},{},{},{:.3},{},{},{},{},{},{},{},{},{}",
            p.transport,
            p.clients,
            p.rate,
            p.duration_s,
            e.published,
            e.delivered,
            e.missed,
            e.duplicated,
            e.out_of_order,
            e.gaps,
            e.errors.values().sum::<u64>(),
            p.connections.opened,
            p.connections.failed
        );
        class_values(&mut out, p, &ByteClass::CLASSIC);
        let (l, s, d) = (&p.latency_us, &p.server, &p.derived);
        let _ = write!(
            out,
            ",{:.2},{:.4},{:.2},{},{},{},{},{},{},{:.4},{:.2},{},{},{:.0},{},{}",
            d.bytes_per_event,
            d.overhead_ratio,
            d.events_per_second,
            l.p50,
            l.p90,
            l.p99,
            l.p999,
            l.max,
            p.connections.setup_us.p50,
            s.cpu_seconds,
            s.cpu_us_per_event,
            s.rss_idle_bytes,
            s.rss_max_bytes,
            s.rss_per_connection_bytes,
            s.connections_open,
            s.slow_consumer_drops
        );
        class_values(&mut out, p, &ByteClass::TLS);
        let _ = write!(out, ",{}", p.tls);
        class_values(&mut out, p, &later);
        let decoded = &p.traffic.decoded;
        let _ = write!(
            out,
            ",{},{},{},{},{},{:.4}",
            p.http,
            p.coding,
            decoded.framing,
            decoded.payload,
            decoded.control,
            d.compression_ratio
        );
        let measured = p.link_measured.clone().unwrap_or_default();
        let _ = writeln!(
            out,
            ",\"{}\",{},{},{},{},{},{:.4},{:.2}",
            p.link.label(),
            measured.connect_us.p50,
            measured.connect_us.p99,
            measured.retransmits.sent_bytes,
            measured.retransmits.received_bytes,
            p.keep_alive,
            p.load_generator.cpu_seconds,
            p.load_generator.cpu_us_per_event
        );
    }
    out
}
