//! `pushbench merge`: the results of N shards (`run --segment I/N`) added
//! into one, as if one generator had run them all.
//!
//! Per phase: byte classes, events delivered/missed/duplicated/out of
//! order, gaps, errors by kind and connection counts are summed; the
//! latency histograms (each shard's HdrHistogram V2 log) are added, and
//! the percentiles recomputed from the sum, never averaged; the server's
//! figures (`published`, `server`, the rate) are the server's, taken once
//! from shard 0. Connection setup times have no histogram in a result:
//! their count, min, max and mean merge exactly, their percentiles are the
//! highest of the shards' (an upper bound, said in `merged.warnings`).
//!
//! [`merge`] is pure (results and histograms in, one result out);
//! [`read_shard`] reads a shard's folder.

use std::collections::BTreeMap;
use std::path::Path;

use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use pushbench_protocol::results::{
    Connections, EventCounts, LatencySummary, LoadGeneratorCost, Merged, MergedShard, Outage,
    PhaseResult,
};
use pushbench_protocol::server_cost::us_per_event;
use pushbench_protocol::{RunResult, Traffic};

use crate::phase_figures::{derive, summarize};
use crate::recorder::new_histogram;

/// The clock uncertainty above which `merge` flags a shard by default,
/// microseconds: 1 ms, a tenth of the smallest latency bucket the reports
/// discuss (10 ms), and what a shard on the same LAN as the server gets.
pub const DEFAULT_CLOCK_BOUND_US: u64 = 1_000;

/// One shard's result and its phases' latency histograms.
#[derive(Debug, Clone)]
pub struct ShardRun {
    /// Where it came from (its folder), for messages.
    pub origin: String,
    /// Its `results.json`.
    pub result: RunResult,
    /// Each phase's histogram, in `result.phases` order.
    pub histograms: Vec<Histogram<u64>>,
}

/// Why shards cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A file could not be read or parsed.
    #[error("{path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// Nothing to merge.
    #[error("no shards given")]
    Empty,
    /// A result that was not written by `run --segment`.
    #[error("{0}: not a shard (no `shard` section: was it run with --segment I/N?)")]
    NotAShard(String),
    /// Two shards did not measure the same thing.
    #[error("shards differ in {what}: {a} has {a_value}, {b} has {b_value}")]
    Mismatch {
        /// What differs.
        what: String,
        /// The first shard.
        a: String,
        /// Its value.
        a_value: String,
        /// The other shard.
        b: String,
        /// Its value.
        b_value: String,
    },
    /// The segments overlap or leave some out.
    #[error("segments: {0}")]
    Segments(String),
}

/// Reads the shard in `dir`: its `results.json` and the histogram log of
/// every phase.
pub fn read_shard(dir: &Path) -> Result<ShardRun, MergeError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| MergeError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    };
    let results = dir.join("results.json");
    let result: RunResult =
        serde_json::from_slice(&read(&results)?).map_err(|e| MergeError::Read {
            path: results.display().to_string(),
            message: e.to_string(),
        })?;
    let mut histograms = Vec::new();
    for (i, phase) in result.phases.iter().enumerate() {
        let name = phase
            .histogram_log
            .as_deref()
            .ok_or_else(|| MergeError::Read {
                path: results.display().to_string(),
                message: format!("phase {} has no histogram_log", i + 1),
            })?;
        let path = dir.join(name);
        let h = histogram_from_log(&read(&path)?).map_err(|message| MergeError::Read {
            path: path.display().to_string(),
            message,
        })?;
        histograms.push(h);
    }
    Ok(ShardRun {
        origin: dir.display().to_string(),
        result,
        histograms,
    })
}

/// The histograms of an HdrHistogram V2 interval log, added together.
pub fn histogram_from_log(log: &[u8]) -> Result<Histogram<u64>, String> {
    use base64::Engine as _;
    let mut sum = new_histogram();
    let mut deserializer = Deserializer::new();
    for entry in IntervalLogIterator::new(log) {
        match entry {
            Ok(LogEntry::Interval(interval)) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(interval.encoded_histogram())
                    .map_err(|e| format!("histogram encoding: {e}"))?;
                let h: Histogram<u64> = deserializer
                    .deserialize(&mut bytes.as_slice())
                    .map_err(|e| format!("histogram: {e:?}"))?;
                sum.add(&h).map_err(|e| format!("histogram range: {e:?}"))?;
            }
            Ok(_) => {}
            Err(e) => return Err(format!("not an HdrHistogram log: {e:?}")),
        }
    }
    Ok(sum)
}

/// Adds `shards` into one result (and its phases' histograms), flagging
/// a shard whose clock uncertainty exceeds `clock_bound_us`.
pub fn merge(
    mut shards: Vec<ShardRun>,
    clock_bound_us: u64,
) -> Result<(RunResult, Vec<Histogram<u64>>), MergeError> {
    check_segments(&shards)?;
    shards.sort_by_key(|s| s.result.shard.as_ref().map_or(0, |i| i.index));
    let first = shards.first().ok_or(MergeError::Empty)?;
    for other in &shards[1..] {
        same(first, other)?;
    }
    let mut warnings = Vec::new();
    for s in &shards {
        match &s.result.clock {
            Some(c) if c.uncertainty_us > clock_bound_us => warnings.push(format!(
                "shard {} ({}): clock uncertainty {} µs exceeds the bound of {clock_bound_us} µs: its latencies are uncertain by as much",
                segment_of(s),
                s.origin,
                c.uncertainty_us
            )),
            Some(_) => {}
            None => warnings.push(format!(
                "shard {} ({}): no clock estimate",
                segment_of(s),
                s.origin
            )),
        }
    }
    let mut phases = Vec::new();
    let mut histograms = Vec::new();
    for i in 0..first.result.phases.len() {
        let mut histogram = new_histogram();
        for s in &shards {
            if let Some(h) = s.histograms.get(i) {
                histogram.add(h).map_err(|e| MergeError::Read {
                    path: s.origin.clone(),
                    message: format!("phase {} histogram: {e:?}", i + 1),
                })?;
            }
        }
        let parts: Vec<&PhaseResult> = shards.iter().map(|s| &s.result.phases[i]).collect();
        let phase = merge_phase(&parts, &histogram);
        phases.push(phase);
        histograms.push(histogram);
    }
    if shards.len() > 1 && phases.iter().any(|p| p.connections.setup_us.count > 0) {
        warnings.push(
            "connections.setup_us: count, min, mean and max are exact; the percentiles are the highest of the shards' (an upper bound: setup times have no histogram in results.json)"
                .to_owned(),
        );
    }
    let base = &first.result;
    let mut control_traffic = base.control_traffic;
    for s in &shards[1..] {
        control_traffic.merge(&s.result.control_traffic);
    }
    let errors: Vec<String> = shards
        .iter()
        .filter_map(|s| {
            s.result
                .error
                .as_ref()
                .map(|e| format!("shard {}: {e}", segment_of(s)))
        })
        .collect();
    let result = RunResult {
        version: base.version,
        pushbench_version: base.pushbench_version.clone(),
        started_at: shards
            .iter()
            .map(|s| s.result.started_at.clone())
            .min()
            .unwrap_or_default(),
        finished_at: shards
            .iter()
            .map(|s| s.result.finished_at.clone())
            .max()
            .unwrap_or_default(),
        complete: shards.iter().all(|s| s.result.complete),
        error: (!errors.is_empty()).then(|| errors.join("; ")),
        machine: base.machine.clone(),
        scenario: base.scenario.clone(),
        phases,
        control_traffic,
        // Shards measure pushbench's own server, which publishes itself.
        publish_traffic: Traffic::default(),
        capacity: None,
        shard: None,
        clock: None,
        merged: Some(Merged {
            shards: shards
                .iter()
                .filter_map(|s| {
                    Some(MergedShard {
                        shard: s.result.shard.clone()?,
                        clock: s.result.clock.clone(),
                        hostname: s.result.machine.hostname.clone(),
                    })
                })
                .collect(),
            clock_bound_us,
            warnings,
        }),
    };
    Ok((result, histograms))
}

fn segment_of(s: &ShardRun) -> String {
    s.result
        .shard
        .as_ref()
        .map_or_else(|| "?".to_owned(), |i| format!("{}/{}", i.index, i.count))
}

/// Every segment `0..N` exactly once, all of the same N.
fn check_segments(shards: &[ShardRun]) -> Result<(), MergeError> {
    let mut by_index: BTreeMap<u32, &str> = BTreeMap::new();
    let mut count = None;
    for s in shards {
        let Some(info) = &s.result.shard else {
            return Err(MergeError::NotAShard(s.origin.clone()));
        };
        match count {
            None => count = Some((info.count, s.origin.as_str())),
            Some((n, origin)) if n != info.count => {
                return Err(MergeError::Segments(format!(
                    "{origin} is one of {n} shards, {} one of {}",
                    s.origin, info.count
                )));
            }
            Some(_) => {}
        }
        if let Some(prior) = by_index.insert(info.index, &s.origin) {
            return Err(MergeError::Segments(format!(
                "segment {}/{} appears twice ({prior} and {}): overlapping shards",
                info.index, info.count, s.origin
            )));
        }
    }
    let Some((n, _)) = count else {
        return Err(MergeError::Empty);
    };
    let missing: Vec<String> = (0..n)
        .filter(|i| !by_index.contains_key(i))
        .map(|i| format!("{i}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Segments(format!(
            "missing {} (every segment 0/{n} to {}/{n} must be given)",
            missing.join(", "),
            n - 1
        )));
    }
    Ok(())
}

/// Whether `b` measured what `a` did: same scenario, start, commit,
/// version, and phases.
fn same(a: &ShardRun, b: &ShardRun) -> Result<(), MergeError> {
    let differ = |what: &str, x: String, y: String| {
        if x == y {
            Ok(())
        } else {
            Err(MergeError::Mismatch {
                what: what.to_owned(),
                a: a.origin.clone(),
                a_value: x,
                b: b.origin.clone(),
                b_value: y,
            })
        }
    };
    let (ra, rb) = (&a.result, &b.result);
    let (sa, sb) = (ra.shard.as_ref(), rb.shard.as_ref());
    differ(
        "commit",
        sa.map(|s| s.commit.clone()).unwrap_or_default(),
        sb.map(|s| s.commit.clone()).unwrap_or_default(),
    )?;
    differ(
        "pushbench version",
        ra.pushbench_version.clone(),
        rb.pushbench_version.clone(),
    )?;
    differ(
        "results version",
        ra.version.to_string(),
        rb.version.to_string(),
    )?;
    differ(
        "start time (--start-at)",
        sa.map(|s| s.start_at.clone()).unwrap_or_default(),
        sb.map(|s| s.start_at.clone()).unwrap_or_default(),
    )?;
    let scenario = |r: &RunResult| serde_json::to_string(&r.scenario).unwrap_or_default();
    differ("scenario", scenario(ra), scenario(rb))?;
    differ(
        "phase count",
        ra.phases.len().to_string(),
        rb.phases.len().to_string(),
    )?;
    if ra.capacity.is_some() || rb.capacity.is_some() {
        return Err(MergeError::NotAShard(format!(
            "{} (a capacity search is not a shard)",
            a.origin
        )));
    }
    for (i, (pa, pb)) in ra.phases.iter().zip(&rb.phases).enumerate() {
        differ(
            &format!("phase {}", i + 1),
            phase_identity(pa),
            phase_identity(pb),
        )?;
    }
    Ok(())
}

/// What makes two shards' phases the same phase.
fn phase_identity(p: &PhaseResult) -> String {
    format!(
        "{} {} {} tls={} keep_alive={} http={} coding={} link={} rate source {}",
        p.transport,
        p.headers,
        if p.rate_source == Default::default() {
            format!("{} ev/s", p.rate)
        } else {
            String::new()
        },
        p.tls,
        p.keep_alive,
        p.http.name(),
        p.coding.name(),
        p.link.label(),
        p.rate_source.name()
    )
}

/// One phase from its shards' parts (`parts[0]` is shard 0) and the sum
/// of their histograms.
fn merge_phase(parts: &[&PhaseResult], latency: &Histogram<u64>) -> PhaseResult {
    let base = parts[0];
    let mut events = EventCounts {
        published: base.events.published,
        ..EventCounts::default()
    };
    let mut connections = Connections::default();
    let mut traffic = base.traffic;
    let mut setup_traffic = base.setup_traffic;
    let mut outage = Outage::default();
    traffic = parts[1..].iter().fold(traffic, |mut t, p| {
        t.merge(&p.traffic);
        t
    });
    setup_traffic = parts[1..].iter().fold(setup_traffic, |mut t, p| {
        t.merge(&p.setup_traffic);
        t
    });
    for p in parts {
        let e = &p.events;
        events.delivered += e.delivered;
        events.missed += e.missed;
        events.duplicated += e.duplicated;
        events.out_of_order += e.out_of_order;
        events.gaps += e.gaps;
        for (kind, n) in &e.errors {
            *events.errors.entry(kind.clone()).or_default() += n;
        }
        let c = &p.connections;
        connections.opened += c.opened;
        connections.failed += c.failed;
        connections.reconnects += c.reconnects;
        connections.moved_reconnects += c.moved_reconnects;
        connections.responses += c.responses;
        connections.first_sessions += c.first_sessions;
        connections.all_connected_us = connections.all_connected_us.max(c.all_connected_us);
        outage.stats_failures += p.outage.stats_failures;
        outage.longest_s = outage.longest_s.max(p.outage.longest_s);
        outage.server_restarts = outage.server_restarts.max(p.outage.server_restarts);
    }
    connections.setup_us = bound_summaries(parts.iter().map(|p| &p.connections.setup_us));
    let duration_s = parts.iter().map(|p| p.duration_s).fold(0.0, f64::max);
    let mut server = base.server.clone();
    server.cpu_us_per_event = us_per_event(server.cpu_seconds, events.delivered);
    // Each shard is its own process: their CPU adds up.
    let load_generator = LoadGeneratorCost::of(
        parts.iter().map(|p| p.load_generator.cpu_seconds).sum(),
        events.delivered,
    );
    PhaseResult {
        transport: base.transport,
        clients: parts.iter().map(|p| p.clients).sum(),
        rate: base.rate,
        rate_source: base.rate_source,
        headers: base.headers.clone(),
        tls: base.tls,
        keep_alive: base.keep_alive,
        http: base.http,
        coding: base.coding,
        duration_s,
        derived: derive(&traffic, &events, &connections, duration_s),
        setup_bytes_per_connection: if connections.opened > 0 {
            setup_traffic.total() as f64 / connections.opened as f64
        } else {
            0.0
        },
        connections,
        traffic,
        events,
        latency_us: summarize(latency),
        server,
        load_generator,
        histogram_log: None,
        setup_traffic,
        incomplete: parts.iter().any(|p| p.incomplete),
        outage,
        // Each shard's own clock; the merged phase keeps the largest move.
        clock_slew_us: parts
            .iter()
            .filter_map(|p| p.clock_slew_us)
            .max_by_key(|slew| slew.unsigned_abs()),
        link: base.link.clone(),
        link_measured: pushbench_protocol::link_measured::LinkMeasured::merged(
            parts.iter().filter_map(|p| p.link_measured.as_ref()),
        ),
    }
}

/// Summaries without their histograms: count, min, max and mean exact;
/// each percentile the highest of the parts' (an upper bound).
fn bound_summaries<'a>(parts: impl Iterator<Item = &'a LatencySummary>) -> LatencySummary {
    let parts: Vec<&LatencySummary> = parts.filter(|s| s.count > 0).collect();
    let count: u64 = parts.iter().map(|s| s.count).sum();
    if count == 0 {
        return LatencySummary::default();
    }
    let top = |f: fn(&LatencySummary) -> u64| parts.iter().map(|s| f(s)).max().unwrap_or(0);
    let mut distribution: Vec<(f64, u64)> = Vec::new();
    for s in &parts {
        for (i, &(p, v)) in s.distribution.iter().enumerate() {
            match distribution.get_mut(i) {
                Some(slot) if slot.0 == p => slot.1 = slot.1.max(v),
                Some(_) => {}
                None => distribution.push((p, v)),
            }
        }
    }
    LatencySummary {
        count,
        min: parts.iter().map(|s| s.min).min().unwrap_or(0),
        mean: parts.iter().map(|s| s.mean * s.count as f64).sum::<f64>() / count as f64,
        p50: top(|s| s.p50),
        p90: top(|s| s.p90),
        p99: top(|s| s.p99),
        p999: top(|s| s.p999),
        max: top(|s| s.max),
        distribution,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pushbench_protocol::ByteClass;
    use pushbench_protocol::results::{ClockEstimate, ShardInfo};

    /// The report's fixture run as shard `index` of `count`: its phases
    /// scaled to `share` of the clients, `delivered` events each, and a
    /// histogram of `latencies`.
    fn shard(index: u32, count: u32, delivered: u64, latencies: &[u64]) -> ShardRun {
        let mut result: RunResult =
            serde_json::from_str(include_str!("../../report/tests/fixtures/results.json"))
                .unwrap_or_else(|e| panic!("fixture: {e}"));
        result.shard = Some(ShardInfo {
            index,
            count,
            start_at: "2026-12-04T10:30:00.000000Z".to_owned(),
            commit: "abc".to_owned(),
        });
        result.clock = Some(ClockEstimate {
            offset_us: 7,
            uncertainty_us: 40,
            samples: 16,
        });
        let mut histogram = new_histogram();
        for &v in latencies {
            histogram.record(v).unwrap_or_else(|e| panic!("{e}"));
        }
        for p in &mut result.phases {
            p.clients = 10;
            p.events.delivered = delivered;
            p.events.missed = u64::from(index);
            p.events.errors = BTreeMap::from([("reset".to_owned(), 1)]);
            p.connections.opened = 10;
            p.load_generator = LoadGeneratorCost::of(0.1, delivered);
            p.latency_us = summarize(&histogram);
        }
        ShardRun {
            origin: format!("shard-{index}"),
            histograms: vec![histogram; result.phases.len()],
            result,
        }
    }

    fn merged(shards: Vec<ShardRun>) -> Result<(RunResult, Vec<Histogram<u64>>), MergeError> {
        merge(shards, DEFAULT_CLOCK_BOUND_US)
    }

    #[test]
    fn counts_and_bytes_are_summed_and_the_server_taken_once() {
        let (a, b) = (shard(0, 2, 100, &[1_000]), shard(1, 2, 300, &[3_000]));
        let (pa, pb) = (a.result.phases[0].clone(), b.result.phases[0].clone());
        let (run, histograms) = merged(vec![b, a]).expect("merge");
        let p = &run.phases[0];
        assert_eq!(p.clients, 20);
        assert_eq!(p.events.delivered, 400);
        assert_eq!(p.events.missed, 1);
        assert_eq!(p.events.errors["reset"], 2);
        assert_eq!(
            p.events.published, pa.events.published,
            "server figure once"
        );
        assert_eq!(p.server.cpu_seconds, pa.server.cpu_seconds);
        // Each shard's process spent its own CPU: summed, per merged event.
        assert!((p.load_generator.cpu_seconds - 0.2).abs() < 1e-12);
        assert!((p.load_generator.cpu_us_per_event - 500.0).abs() < 1e-9);
        assert_eq!(p.connections.opened, 20);
        for class in ByteClass::ALL {
            assert_eq!(
                p.traffic.received.get(class),
                pa.traffic.received.get(class) + pb.traffic.received.get(class),
                "{class:?}"
            );
        }
        assert_eq!(p.traffic.total(), pa.traffic.total() + pb.traffic.total());
        assert!((p.derived.bytes_per_event - p.traffic.total() as f64 / 400.0).abs() < 1e-9);
        assert_eq!(histograms.len(), run.phases.len());
        let merged = run.merged.expect("merged section");
        assert_eq!(merged.shards.len(), 2);
        assert_eq!(merged.shards[0].shard.index, 0, "in segment order");
        assert!(run.shard.is_none() && run.clock.is_none());
    }

    #[test]
    fn histograms_are_added_and_percentiles_recomputed_not_averaged() {
        // Shard 0: 90 fast events; shard 1: 10 slow ones. The p50 of the
        // whole is fast, the p99 slow; an average of the shards' p50s
        // would be neither.
        let (run, histograms) = merged(vec![
            shard(0, 2, 90, &[1_000; 90]),
            shard(1, 2, 10, &[50_000; 10]),
        ])
        .expect("merge");
        let l = &run.phases[0].latency_us;
        assert_eq!(l.count, 100);
        assert_eq!(histograms[0].len(), 100);
        assert!((999..=1_001).contains(&l.p50), "{l:?}");
        assert!((49_950..=50_050).contains(&l.p99), "{l:?}");
        assert!((l.mean - 5_900.0).abs() < 30.0, "{l:?}");
    }

    #[test]
    fn a_histogram_survives_its_log() {
        let mut h = new_histogram();
        for v in [1u64, 10, 100, 1_000, 123_456] {
            h.record(v).unwrap_or_else(|e| panic!("{e}"));
        }
        let log = crate::output::histogram_log(&h, "t", 1.0).expect("log");
        assert_eq!(histogram_from_log(&log).expect("read"), h);
    }

    #[test]
    fn overlapping_missing_and_foreign_shards_are_refused() {
        let err = |shards| merged(shards).expect_err("refused").to_string();
        let e = err(vec![shard(0, 2, 1, &[1]), shard(0, 2, 1, &[1])]);
        assert!(e.contains("appears twice"), "{e}");
        let e = err(vec![shard(0, 3, 1, &[1]), shard(2, 3, 1, &[1])]);
        assert!(e.contains("missing 1/3"), "{e}");
        let e = err(vec![shard(0, 2, 1, &[1]), shard(1, 3, 1, &[1])]);
        assert!(e.contains("one of 2 shards"), "{e}");
        let mut other = shard(1, 2, 1, &[1]);
        other.result.scenario.payload = 1;
        let e = err(vec![shard(0, 2, 1, &[1]), other]);
        assert!(e.contains("differ in scenario"), "{e}");
        let mut other = shard(1, 2, 1, &[1]);
        if let Some(s) = other.result.shard.as_mut() {
            s.commit = "def".to_owned();
        }
        let e = err(vec![shard(0, 2, 1, &[1]), other]);
        assert!(
            e.contains("differ in commit") && e.contains("abc") && e.contains("def"),
            "{e}"
        );
        let mut whole = shard(1, 2, 1, &[1]);
        whole.result.shard = None;
        let e = err(vec![shard(0, 2, 1, &[1]), whole]);
        assert!(e.contains("not a shard"), "{e}");
        assert!(err(vec![]).contains("no shards"));
    }

    #[test]
    fn a_shard_with_an_uncertain_clock_is_flagged() {
        let mut late = shard(1, 2, 1, &[1]);
        late.result.clock = Some(ClockEstimate {
            offset_us: 0,
            uncertainty_us: 2_500,
            samples: 16,
        });
        let (run, _) = merged(vec![shard(0, 2, 1, &[1]), late]).expect("merged anyway");
        let merged = run.merged.expect("merged");
        assert_eq!(merged.clock_bound_us, DEFAULT_CLOCK_BOUND_US);
        let flagged: Vec<&String> = merged
            .warnings
            .iter()
            .filter(|w| w.contains("clock uncertainty"))
            .collect();
        assert_eq!(flagged.len(), 1, "{:?}", merged.warnings);
        assert!(flagged[0].contains("shard 1/2") && flagged[0].contains("2500"));
    }
}
