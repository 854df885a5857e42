//! Figures the charts and tables share, computed from a [`RunResult`] and
//! nothing else (the report never re-measures).

use pushbench_protocol::results::PhaseResult;
use pushbench_protocol::{ByteClass, ByteLedger, ContentCoding, RunResult, Transport};

use crate::number_format::format_decimal;
use crate::variant_labels::variant_of;

/// Bytes of one direction per delivered event, one entry per
/// [`ByteClass::ALL`] class in that order.
pub type ClassBytes = [f64; ByteClass::COUNT];

/// The classes a run's charts and tables show: those that booked a byte
/// in some phase (window or setup, either direction), in [`ByteClass::ALL`]
/// order. A plaintext HTTP/1.1 run thus keeps the columns and legend it
/// always had, and a class a new protocol adds (TLS, HTTP/2 frames) shows
/// up in exactly the runs that have it.
pub fn classes_in(result: &RunResult) -> Vec<ByteClass> {
    ByteClass::ALL
        .into_iter()
        .filter(|&c| {
            result.phases.iter().any(|p| {
                [&p.traffic, &p.setup_traffic]
                    .iter()
                    .any(|t| t.sent.get(c) + t.received.get(c) > 0)
            })
        })
        .collect()
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
/// When the run compared variants (header profiles, TLS, HTTP versions,
/// codings), only the phases of its first variant count (mixing a
/// browser's heads with minimal ones, or TLS with plaintext, would
/// describe neither); the variant table shows the others.
pub fn transport_bytes_per_event(result: &RunResult, transport: Transport) -> Option<f64> {
    let (bytes, delivered) = primary_phases(result)
        .filter(|p| p.transport == transport)
        .fold((0u64, 0u64), |(b, d), p| {
            (b + p.traffic.total(), d + p.events.delivered)
        });
    (delivered > 0).then(|| bytes as f64 / delivered as f64)
}

/// The phases of the run's first variant (the first phase's): the ones
/// figures that stand for a transport as a whole are taken from.
pub fn primary_phases(result: &RunResult) -> impl Iterator<Item = &PhaseResult> {
    let primary = result.phases.first().map(variant_of);
    result
        .phases
        .iter()
        .filter(move |p| Some(variant_of(p)) == primary)
}

/// The transports the classic argument sets against each other: polling
/// (a request and a response per exchange) and the persistent SSE and
/// WebSocket. HTTP streaming costs what SSE does, less the field names.
pub const CLASSIC_TRANSPORTS: [Transport; 4] = [
    Transport::ShortPoll,
    Transport::LongPoll,
    Transport::Sse,
    Transport::Ws,
];

/// One transport's figures in one group of the classic comparison, per
/// delivered event, both directions.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassicBar {
    /// The transport.
    pub transport: Transport,
    /// Request plus response header bytes (over HTTP/2, the HPACK blocks).
    pub header_bytes: f64,
    /// Every byte.
    pub bytes: f64,
    /// Every byte but the payload.
    pub overhead_bytes: f64,
    /// A WebSocket bar of a content-coded variant, taken from the same
    /// variant at `identity`: WebSocket frames are not content-coded, so a
    /// coded variant runs no WebSocket phase of its own. (A closing
    /// variant's WebSocket bar is taken from the keep-alive one the same
    /// way, without this mark: it is the same measurement.)
    pub from_identity: bool,
}

/// One variant of the classic comparison (with its load, when the run
/// swept clients or rates): the [`CLASSIC_TRANSPORTS`] it measured.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassicGroup {
    /// The variant's name in the dimensions the run varied (all of them
    /// when it varied none), after the load when that varied.
    pub label: String,
    /// One bar per transport, in [`CLASSIC_TRANSPORTS`] order; a transport
    /// the variant did not measure, or that delivered nothing, has none.
    pub bars: Vec<ClassicBar>,
}

impl ClassicGroup {
    /// The bar of `transport`, if the group has one.
    pub fn bar(&self, transport: Transport) -> Option<&ClassicBar> {
        self.bars.iter().find(|b| b.transport == transport)
    }
}

/// The classic comparison of a run: one group per variant (and load), in
/// matrix order (HTTP version, then TLS, coding, header profile, each from
/// its baseline up; see [`crate::variant_labels::variant_order`]). Phases of one
/// transport in one group (a scenario that lists a value twice) are added
/// together.
pub fn classic_groups(result: &RunResult) -> Vec<ClassicGroup> {
    use crate::variant_labels::{DIMENSIONS, variant_name, variant_order, varying_in};
    let phases: Vec<&PhaseResult> = result
        .phases
        .iter()
        .filter(|p| CLASSIC_TRANSPORTS.contains(&p.transport))
        .collect();
    let load_varies = phases
        .iter()
        .any(|p| (p.clients, p.rate) != (phases[0].clients, phases[0].rate));
    let mut dimensions = varying_in(result);
    if dimensions.is_empty() {
        // One variant, named in full; the loopback, where every run before
        // links ran, goes unnamed so such names read as they always did.
        dimensions = DIMENSIONS
            .into_iter()
            .filter(|d| d.column != "link" || phases.iter().any(|p| !d.is_baseline(p)))
            .collect();
    }
    let group_of = |p: &PhaseResult| (variant_order(p), p.clients, p.rate.to_bits());
    let mut keys: Vec<_> = phases.iter().map(|p| group_of(p)).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|key| {
            let members: Vec<&PhaseResult> = phases
                .iter()
                .copied()
                .filter(|p| group_of(p) == key)
                .collect();
            let first = members[0];
            let mut label = variant_name(first, &dimensions);
            if load_varies {
                label = format!(
                    "{}c@{}/s {label}",
                    first.clients,
                    format_decimal(first.rate)
                )
                .trim_end()
                .to_owned();
            }
            let mut bars: Vec<ClassicBar> = CLASSIC_TRANSPORTS
                .into_iter()
                .filter_map(|transport| classic_bar(transport, &members))
                .collect();
            // A coded or closing variant runs no WebSocket phase of its
            // own: WebSocket is measured at identity and keep-alive.
            let coded = first.coding != ContentCoding::Identity;
            if (coded || !first.keep_alive) && !bars.iter().any(|b| b.transport == Transport::Ws) {
                let identity = PhaseResult {
                    coding: ContentCoding::Identity,
                    keep_alive: true,
                    ..first.clone()
                };
                let sibling: Vec<&PhaseResult> = phases
                    .iter()
                    .copied()
                    .filter(|p| group_of(p) == group_of(&identity))
                    .collect();
                if let Some(ws) = classic_bar(Transport::Ws, &sibling) {
                    bars.push(ClassicBar {
                        from_identity: coded,
                        ..ws
                    });
                }
            }
            ClassicGroup { label, bars }
        })
        .collect()
}

/// The figures of `transport` over `members` (one group's phases), per
/// delivered event; `None` when it delivered nothing there.
fn classic_bar(transport: Transport, members: &[&PhaseResult]) -> Option<ClassicBar> {
    let of: Vec<&&PhaseResult> = members
        .iter()
        .filter(|p| p.transport == transport)
        .collect();
    let delivered: u64 = of.iter().map(|p| p.events.delivered).sum();
    if delivered == 0 {
        return None;
    }
    let sum = |f: &dyn Fn(&PhaseResult) -> u64| -> f64 {
        of.iter().map(|p| f(p)).sum::<u64>() as f64 / delivered as f64
    };
    let both = |p: &PhaseResult, c: ByteClass| p.traffic.sent.get(c) + p.traffic.received.get(c);
    let bytes = sum(&|p| p.traffic.total());
    Some(ClassicBar {
        transport,
        header_bytes: sum(&|p| {
            both(p, ByteClass::RequestHeaders) + both(p, ByteClass::ResponseHeaders)
        }),
        bytes,
        overhead_bytes: bytes - sum(&|p| both(p, ByteClass::Payload)),
        from_identity: false,
    })
}

/// The transports a run measured, in [`Transport::ALL`] order.
pub fn transports_in(result: &RunResult) -> Vec<Transport> {
    Transport::ALL
        .into_iter()
        .filter(|t| result.phases.iter().any(|p| p.transport == *t))
        .collect()
}

/// Whether the run measured its load generator's CPU (runs from before
/// that have none): the tables then show its cost per event beside the
/// server's.
pub fn load_generator_measured(result: &RunResult) -> bool {
    result
        .phases
        .iter()
        .any(|p| p.load_generator.cpu_seconds > 0.0)
}

/// Whether a phase lost events: seqs missed or skipped by a gap marker.
pub fn phase_has_losses(phase: &PhaseResult) -> bool {
    phase.events.missed > 0 || phase.events.gaps > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_event_divides_each_class() {
        let ledger = ByteLedger {
            framing: 20,
            payload: 100,
            ..ByteLedger::default()
        };
        let per_event = per_event_by_class(&ledger, 10);
        assert_eq!(
            per_event,
            [0.0, 0.0, 0.0, 2.0, 10.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        );
        assert_eq!(per_event_by_class(&ledger, 0), [0.0; ByteClass::COUNT]);
    }
}
