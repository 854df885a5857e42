//! Figures the charts and tables share, computed from a [`RunResult`] and
//! nothing else (the report never re-measures), and how they are written.

use pushbench_protocol::results::PhaseResult;
use pushbench_protocol::{ByteClass, ByteLedger, RunResult, Transport};

/// Bytes of one direction per delivered event, one entry per
/// [`ByteClass::ALL`] class in that order.
pub type ClassBytes = [f64; ByteClass::COUNT];

/// What a phase varies besides transport and load, one entry per
/// dimension, each as its label shows it: the header profile, then TLS
/// (`tls` or `plain`). A new dimension is one more entry here, and the
/// labels, keys and the variant table follow.
fn variants(phase: &PhaseResult) -> [String; 2] {
    [
        phase.headers.to_string(),
        if phase.tls { "tls" } else { "plain" }.to_owned(),
    ]
}

/// Which variant dimensions (see [`variants`]) differ among `phases`.
fn varying(phases: &[&PhaseResult]) -> [bool; 2] {
    let mut out = [false; 2];
    if let Some(first) = phases.first() {
        let first = variants(first);
        for phase in phases {
            for (slot, (a, b)) in out.iter_mut().zip(first.iter().zip(variants(phase))) {
                *slot |= *a != b;
            }
        }
    }
    out
}

/// A name for a phase that is unique within its run: the transport alone
/// when the run measured it once, else with what tells its phases apart:
/// clients and rate (`ws 50c@20/s`), the header profile (`ws browser`),
/// TLS (`ws tls`, `ws plain`), or several (`ws 50c@20/s browser tls`).
pub fn phase_label(result: &RunResult, phase: &PhaseResult) -> String {
    let siblings: Vec<&PhaseResult> = result
        .phases
        .iter()
        .filter(|p| p.transport == phase.transport)
        .collect();
    let mut label = phase.transport.name().to_owned();
    if siblings.len() <= 1 {
        return label;
    }
    let load_varies = siblings
        .iter()
        .any(|p| p.clients != phase.clients || p.rate != phase.rate);
    let varies = varying(&siblings);
    if load_varies || !varies.contains(&true) {
        label.push_str(&format!(
            " {}c@{}/s",
            phase.clients,
            format_rate(phase.rate)
        ));
    }
    for (value, vary) in variants(phase).into_iter().zip(varies) {
        if vary {
            label.push_str(&format!(" {value}"));
        }
    }
    label
}

/// A key that names the same phase in two runs: transport, clients, rate,
/// the header profile unless it is `minimal` and `tls` when it spoke TLS
/// (so keys of runs from before header profiles and TLS still match).
pub fn phase_key(phase: &PhaseResult) -> String {
    let mut key = format!(
        "{} {}c@{}/s",
        phase.transport.name(),
        phase.clients,
        format_rate(phase.rate)
    );
    if !phase.headers.is_minimal() {
        key.push_str(&format!(" {}", phase.headers));
    }
    if phase.tls {
        key.push_str(" tls");
    }
    key
}

/// True when some phase of the run sent other than minimal headers.
pub fn has_header_profiles(result: &RunResult) -> bool {
    result.phases.iter().any(|p| !p.headers.is_minimal())
}

/// True when some phase of the run spoke TLS.
pub fn has_tls(result: &RunResult) -> bool {
    result.phases.iter().any(|p| p.tls)
}

/// The classes a run's charts and tables show: the plaintext ones always,
/// the TLS ones when a phase spoke TLS (a plaintext report keeps the
/// columns and legend it always had).
pub fn classes_in(result: &RunResult) -> Vec<ByteClass> {
    ByteClass::ALL
        .into_iter()
        .filter(|c| !c.is_tls() || has_tls(result))
        .collect()
}

/// The variant table's columns: (title, value of a phase) for each
/// variant dimension that differs among the run's phases; empty when none
/// does (then there is no variant table).
pub fn varying_columns(result: &RunResult) -> Vec<(&'static str, usize)> {
    let phases: Vec<&PhaseResult> = result.phases.iter().collect();
    ["headers", "tls"]
        .into_iter()
        .enumerate()
        .zip(varying(&phases))
        .filter(|(_, vary)| *vary)
        .map(|((i, title), _)| (title, i))
        .collect()
}

/// The value of variant dimension `index` of `phase` (see
/// [`varying_columns`]).
pub fn variant_value(phase: &PhaseResult, index: usize) -> String {
    variants(phase)[index].clone()
}

/// `ledger`'s bytes per class divided by `delivered` events (zeros when
/// nothing was delivered: there is no per-event cost to show).
pub fn per_event_by_class(ledger: &ByteLedger, delivered: u64) -> ClassBytes {
    let mut out = [0.0; ByteClass::COUNT];
    if delivered == 0 {
        return out;
    }
    for (slot, class) in out.iter_mut().zip(ByteClass::ALL) {
        *slot = ledger.get(class) as f64 / delivered as f64;
    }
    out
}

/// All bytes (both directions) per delivered event of every phase of
/// `transport` together, or `None` when the run has no such phase or none
/// delivered anything.
/// When the run compared header profiles or TLS, only the phases of its
/// first variant count (mixing a browser's heads with minimal ones, or TLS
/// with plaintext, would describe neither); the variant table shows the
/// others.
pub fn transport_bytes_per_event(result: &RunResult, transport: Transport) -> Option<f64> {
    let primary = result.phases.first().map(variants);
    let (bytes, delivered) = result
        .phases
        .iter()
        .filter(|p| p.transport == transport && Some(variants(p)) == primary)
        .fold((0u64, 0u64), |(b, d), p| {
            (b + p.traffic.total(), d + p.events.delivered)
        });
    (delivered > 0).then(|| bytes as f64 / delivered as f64)
}

/// The transports a run measured, in [`Transport::ALL`] order.
pub fn transports_in(result: &RunResult) -> Vec<Transport> {
    Transport::ALL
        .into_iter()
        .filter(|t| result.phases.iter().any(|p| p.transport == *t))
        .collect()
}

/// Bytes per second a phase moved (both directions), normalised to one
/// event per second per client: the measured counterpart of the bandwidth
/// model's `bytes/event × clients × 1/s`.
pub fn measured_bandwidth_at_one_event_per_second(phase: &PhaseResult) -> Option<f64> {
    if phase.duration_s <= 0.0 || phase.rate <= 0.0 {
        return None;
    }
    Some(phase.traffic.total() as f64 / phase.duration_s / phase.rate)
}

/// Whether a phase lost events: seqs missed or skipped by a gap marker.
pub fn phase_has_losses(phase: &PhaseResult) -> bool {
    phase.events.missed > 0 || phase.events.gaps > 0
}

/// An event rate without needless decimals: `20`, `0.5`.
pub fn format_rate(rate: f64) -> String {
    if rate.fract() == 0.0 {
        format!("{rate:.0}")
    } else {
        let text = format!("{rate:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// A latency in microseconds in the unit that suits it: `850 µs`,
/// `12.3 ms`, `1.25 s`.
pub fn format_us(us: f64) -> String {
    if us < 1_000.0 {
        format!("{us:.0} µs")
    } else if us < 1_000_000.0 {
        let ms = us / 1_000.0;
        if ms < 10.0 {
            format!("{ms:.2} ms")
        } else {
            format!("{ms:.1} ms")
        }
    } else {
        format!("{:.2} s", us / 1_000_000.0)
    }
}

/// A byte count with a binary-free decimal unit: `512 B`, `1.5 kB`, `2.0 MB`.
pub fn format_bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes;
    let mut unit = 0;
    while value.abs() >= 1_000.0 && unit < UNITS.len() - 1 {
        value /= 1_000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// An integer with thousands separators: `100,000`.
pub fn format_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_read_well() {
        assert_eq!(format_rate(20.0), "20");
        assert_eq!(format_rate(0.5), "0.5");
        assert_eq!(format_us(850.0), "850 µs");
        assert_eq!(format_us(1_234.0), "1.23 ms");
        assert_eq!(format_us(12_345.0), "12.3 ms");
        assert_eq!(format_us(1_250_000.0), "1.25 s");
        assert_eq!(format_bytes(512.0), "512 B");
        assert_eq!(format_bytes(871_000.0), "871.0 kB");
        assert_eq!(format_count(100_000), "100,000");
        assert_eq!(format_count(999), "999");
        assert_eq!(format_count(1_000), "1,000");
    }

    #[test]
    fn per_event_divides_each_class() {
        let ledger = ByteLedger {
            framing: 20,
            payload: 100,
            ..ByteLedger::default()
        };
        let per_event = per_event_by_class(&ledger, 10);
        assert_eq!(per_event, [0.0, 0.0, 0.0, 2.0, 10.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(per_event_by_class(&ledger, 0), [0.0; ByteClass::COUNT]);
    }
}
