//! The summary table (one row per phase) and the warnings a reader must not
//! miss, shared by the terminal, `report.md` and `report.html`.

use pushbench_protocol::results::RateSource;
use pushbench_protocol::{ByteClass, RunResult};

use crate::figures::{
    classes_in, load_generator_measured, per_event_by_class, phase_has_losses, transports_in,
};
use crate::node_tables::unreachable_nodes;
use crate::number_format::{format_bytes, format_count, format_cpu_us, format_decimal, format_us};
use crate::table::Table;
use crate::variant_labels::{constant_in, phase_label, varying_in};

/// One row per phase: bytes per event each way, overhead, latency
/// percentiles, delivery counts, server cost.
pub fn summary_table(result: &RunResult) -> Table {
    // A dimension the whole run held at one value other than the baseline
    // (browser headers throughout, TLS throughout, HTTP/2 throughout) gets
    // a column, since no label names it; a baseline run keeps the table it
    // always had, and dimensions that vary are in the phase labels.
    let constant = constant_in(result);
    let mut titles = vec![
        "phase",
        "clients",
        "rate/s",
        "B/ev sent",
        "B/ev recv",
        "setup B/conn",
        "overhead",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max",
        "delivered",
        "missed",
        "dup",
        "ooo",
        "CPU µs/ev",
        "RSS/conn",
    ];
    // The load generator's own cost per event, beside the server's: above
    // it, the load generator, not the server, was the limit. A run from
    // before it was measured keeps the table it always had.
    let load_generator = load_generator_measured(result);
    if load_generator {
        titles.insert(titles.len() - 1, "LG µs/ev");
    }
    for (k, dimension) in constant.iter().enumerate() {
        titles.insert(VARIANT_COLUMNS + k, dimension.column);
    }
    // Over an emulated link, what the phase measured of it; a loopback
    // run keeps the table it always had.
    let links = result.phases.iter().any(|p| !p.link.is_loopback());
    if links {
        titles.extend(LINK_COLUMNS);
    }
    let mut table = Table::new(titles);
    for k in 0..constant.len() {
        table.align[VARIANT_COLUMNS + k] = crate::table::Align::Left;
    }
    for phase in &result.phases {
        let latency = &phase.latency_us;
        let events = &phase.events;
        let mut row = vec![
            phase_label(result, phase),
            format_count(u64::from(phase.clients)),
            format_decimal(phase.rate),
            format!("{:.1}", phase.derived.sent_bytes_per_event),
            format!("{:.1}", phase.derived.received_bytes_per_event),
            // The handshake cost one connection pays once (request or
            // upgrade plus response head), outside the measured window.
            format!("{:.0}", phase.setup_bytes_per_connection),
            format!("{:.2}", phase.derived.overhead_ratio),
            format_us(latency.p50 as f64),
            format_us(latency.p90 as f64),
            format_us(latency.p99 as f64),
            format_us(latency.p999 as f64),
            format_us(latency.max as f64),
            format_count(events.delivered),
            format_count(events.missed),
            format_count(events.duplicated),
            format_count(events.out_of_order),
            format_cpu_us(phase.server.cpu_us_per_event),
            format_bytes(phase.server.rss_per_connection_bytes),
        ];
        if load_generator {
            let lg = format_cpu_us(phase.load_generator.cpu_us_per_event);
            row.insert(row.len() - 1, lg);
        }
        for (k, dimension) in constant.iter().enumerate() {
            row.insert(VARIANT_COLUMNS + k, dimension.value(phase));
        }
        if links {
            row.extend(link_cells(phase));
        }
        table.push(row);
    }
    table
}

/// The summary's columns of a run over emulated links: TCP connect time
/// and the bytes TCP sent again each way (whole connections).
const LINK_COLUMNS: [&str; 4] = ["connect p50", "connect p99", "retrans sent", "retrans recv"];

/// A phase's [`LINK_COLUMNS`] (`-` for a phase from before links).
fn link_cells(phase: &pushbench_protocol::results::PhaseResult) -> Vec<String> {
    match &phase.link_measured {
        Some(m) => vec![
            format_us(m.connect_us.p50 as f64),
            format_us(m.connect_us.p99 as f64),
            format_bytes(m.retransmits.sent_bytes as f64),
            format_bytes(m.retransmits.received_bytes as f64),
        ],
        None => vec!["-".to_owned(); LINK_COLUMNS.len()],
    }
}

/// Where the summary and the variant table show variant columns (after
/// the rate).
const VARIANT_COLUMNS: usize = 3;

/// Bytes per delivered event by class (both directions), one row per phase
/// of every transport, so the variants of one transport (header profiles,
/// plaintext and TLS, HTTP versions, codings) stand side by side, with a
/// column for each dimension that varies; `None` unless the run compared
/// variants.
pub fn variant_table(result: &RunResult) -> Option<Table> {
    let columns = varying_in(result);
    if columns.is_empty() {
        return None;
    }
    let classes = classes_in(result);
    let mut titles = vec!["transport".to_owned(), "clients".into(), "rate/s".into()];
    titles.extend(columns.iter().map(|d| d.column.to_owned()));
    titles.extend(classes.iter().map(|c| c.name().to_owned()));
    titles.extend(["B/ev".to_owned(), "setup B/conn".to_owned()]);
    let mut table = Table::new(titles);
    for k in 0..columns.len() {
        table.align[VARIANT_COLUMNS + k] = crate::table::Align::Left;
    }
    for transport in transports_in(result) {
        for phase in result.phases.iter().filter(|p| p.transport == transport) {
            let delivered = phase.events.delivered;
            let sent = per_event_by_class(&phase.traffic.sent, delivered);
            let received = per_event_by_class(&phase.traffic.received, delivered);
            let mut row = vec![
                transport.name().to_owned(),
                format_count(u64::from(phase.clients)),
                format_decimal(phase.rate),
            ];
            row.extend(columns.iter().map(|d| d.value(phase)));
            row.extend(
                ByteClass::ALL
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| classes.contains(c))
                    .map(|(k, _)| format!("{:.1}", sent[k] + received[k])),
            );
            row.push(format!("{:.1}", phase.derived.bytes_per_event));
            row.push(format!("{:.0}", phase.setup_bytes_per_connection));
            table.push(row);
        }
    }
    Some(table)
}

/// Everything that makes a result untrustworthy or incomplete, one sentence
/// each; empty when the run is clean.
pub fn warnings(result: &RunResult) -> Vec<String> {
    let mut out = Vec::new();
    if !result.complete {
        out.push(format!(
            "The run did not complete: {}. Phases after the failure are missing.",
            result.error.as_deref().unwrap_or("no reason recorded")
        ));
    } else if let Some(error) = &result.error {
        out.push(format!("The run reported an error: {error}."));
    }
    // Capacity search steps above the limit break the criteria by design
    // (that is how the limit is found); the capacity table says how.
    for (index, phase) in result.phases.iter().enumerate() {
        let label = phase_label(result, phase);
        // Also for a failed search step: a slewed clock may be why it
        // failed.
        if let Some(slew) = phase.notable_clock_slew_us() {
            out.push(format!(
                "{label}: the load generator's wall clock moved {:.1} ms against its monotonic \
                 clock during the phase (slewed or stepped): its latencies are shifted by up to that.",
                slew as f64 / 1e3
            ));
        }
        if crate::capacity_tables::is_failed_search_step(result, index) {
            continue;
        }
        if phase.incomplete {
            out.push(format!(
                "{label}: cut short; its figures are partial measurements."
            ));
        }
        let e = &phase.events;
        if phase_has_losses(phase) {
            out.push(format!(
                "{label}: {} events MISSED and {} gap markers received ({} delivered of {} published): \
                 its latency and bytes per event describe an incomplete delivery.",
                format_count(e.missed),
                format_count(e.gaps),
                format_count(e.delivered),
                format_count(e.published)
            ));
        }
        if e.duplicated > 0 || e.out_of_order > 0 {
            out.push(format!(
                "{label}: {} duplicated and {} out-of-order events.",
                format_count(e.duplicated),
                format_count(e.out_of_order)
            ));
        }
        if phase.connections.failed > 0 {
            out.push(format!(
                "{label}: {} connection attempts failed.",
                format_count(phase.connections.failed)
            ));
        }
        let outage = &phase.outage;
        if let Some(nodes) = unreachable_nodes(&label, phase) {
            out.push(nodes);
        } else if outage.server_restarts > 0 || outage.stats_failures > 0 {
            out.push(format!(
                "{label}: the server was unreachable for up to {:.1} s and restarted {} time(s); \
                 clients reconnected {} time(s); its server cost misses what the old process \
                 spent after its last sample.",
                outage.longest_s,
                outage.server_restarts,
                format_count(phase.connections.reconnects)
            ));
        }
        if !e.errors.is_empty() {
            let kinds: Vec<String> = e.errors.iter().map(|(k, n)| format!("{k}: {n}")).collect();
            out.push(format!("{label}: client errors ({}).", kinds.join(", ")));
        }
        if phase.server.slow_consumer_drops > 0 {
            out.push(format!(
                "{label}: the server dropped {} events for slow consumers.",
                format_count(phase.server.slow_consumer_drops)
            ));
        }
        if e.delivered == 0 {
            out.push(format!("{label}: no event was delivered."));
        }
    }
    out
}

/// The distinct rates of the phases whose rate came from `source`, in run
/// order.
fn rates_from(result: &RunResult, source: RateSource) -> Vec<f64> {
    let mut rates: Vec<f64> = Vec::new();
    for phase in result.phases.iter().filter(|p| p.rate_source == source) {
        if !rates.contains(&phase.rate) {
            rates.push(phase.rate);
        }
    }
    rates
}

/// Where the phases' rates come from when not from the scenario (a run
/// against a `--target`, which publishes at its own rate), one sentence per
/// source; empty when every rate is the scenario's.
pub fn rate_notes(result: &RunResult) -> Vec<String> {
    let mut out = Vec::new();
    let target = rates_from(result, RateSource::Target);
    if !target.is_empty() {
        let rates: Vec<String> = target.iter().map(|r| format_decimal(*r)).collect();
        out.push(format!(
            "Rates are the target's own generator rate ({} ev/s), read from its /stats: \
             a running target publishes at the rate it was started with, not the scenario's.",
            rates.join(", ")
        ));
    }
    if !rates_from(result, RateSource::Measured).is_empty() {
        out.push(
            "Rates are the measured publish rate of each phase's window (events published \
             divided by its length): the target has no generator of its own, its events \
             came from publishers."
                .to_owned(),
        );
    }
    out
}

/// The notes a reader of any run needs: [`rate_notes`], then whether the
/// result is one shard of a run or shards merged (with the merge's
/// warnings, e.g. a shard's clock uncertainty over the bound).
pub fn run_notes(result: &RunResult) -> Vec<String> {
    let mut out = rate_notes(result);
    if let Some(shard) = &result.shard {
        let clock = result.clock.as_ref().map_or(String::new(), |c| {
            format!(
                " Its latencies are on the server's clock (offset {} µs ± {} µs).",
                c.offset_us, c.uncertainty_us
            )
        });
        out.push(format!(
            "This is shard {}/{} of a run: its slice of every phase's clients;              `pushbench merge` adds the shards into one.{clock}",
            shard.index, shard.count
        ));
    }
    if let Some(merged) = &result.merged {
        out.push(format!(
            "Merged from {} shards (pushbench merge): counts and bytes summed, latency              histograms added, server figures taken once.",
            merged.shards.len()
        ));
        for warning in &merged.warnings {
            out.push(format!("Merge: {warning}"));
        }
    }
    out
}

/// The scenario's rates as the report lists them: the rates the phases
/// really ran at, and from where, when they are not the scenario's.
pub fn run_rates(result: &RunResult) -> String {
    let list = |rates: &[f64]| {
        rates
            .iter()
            .map(|r| format_decimal(*r))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let target = rates_from(result, RateSource::Target);
    let measured = !rates_from(result, RateSource::Measured).is_empty();
    match (target.is_empty(), measured) {
        (true, false) => list(&result.scenario.rates),
        (false, false) => format!("{} (the target's own, from /stats)", list(&target)),
        (true, true) => "measured per phase (the target has no generator)".to_owned(),
        (false, true) => format!(
            "{} (the target's own, from /stats) and measured per phase",
            list(&target)
        ),
    }
}

/// The summary for a terminal: the aligned table, the rate notes, then the
/// warnings in capitals so they stand out in a scrolling log.
pub fn terminal_summary(result: &RunResult) -> String {
    let mut out = summary_table(result).to_text();
    for note in run_notes(result) {
        out.push_str("note: ");
        out.push_str(&note);
        out.push('\n');
    }
    if let Some(capacity) = crate::capacity_tables::capacity_table(result) {
        out.push_str(
            "\ncapacity (highest sustained rate, and latency at fractions of it; search steps \
             above the limit broke the criteria by design, so their own warnings are left out):\n",
        );
        out.push_str(&capacity.to_text());
    }
    let warnings = warnings(result);
    if !warnings.is_empty() {
        out.push_str("\n!!! WARNING: THIS RESULT IS NOT CLEAN !!!\n");
        for warning in warnings {
            out.push_str("  - ");
            out.push_str(&warning);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The report's fixture: a real run against a server it started.
    fn run() -> RunResult {
        serde_json::from_str(include_str!("../tests/fixtures/results.json"))
            .unwrap_or_else(|e| panic!("the fixture: {e}"))
    }

    fn against_target(source: RateSource, rate: f64) -> RunResult {
        let mut run = run();
        for phase in &mut run.phases {
            phase.rate = rate;
            phase.rate_source = source;
        }
        run
    }

    #[test]
    fn a_phase_whose_wall_clock_slewed_is_warned_about() {
        let mut run = run();
        // The fixture predates the measurement: no warning, as before.
        assert!(warnings(&run).iter().all(|w| !w.contains("wall clock")));
        run.phases[0].clock_slew_us = Some(800);
        run.phases[1].clock_slew_us = Some(-34_500);
        let slewed: Vec<String> = warnings(&run)
            .into_iter()
            .filter(|w| w.contains("wall clock"))
            .collect();
        assert_eq!(slewed.len(), 1, "{slewed:?}");
        assert!(slewed[0].contains("moved -34.5 ms"), "{slewed:?}");
    }

    #[test]
    fn load_generator_cost_is_a_column_when_measured() {
        // The fixture predates the measurement: no column, as before.
        let old = summary_table(&run());
        assert!(!old.headers.iter().any(|h| h == "LG µs/ev"));
        let mut run = run();
        for phase in &mut run.phases {
            phase.load_generator.cpu_seconds = 0.25;
            phase.load_generator.cpu_us_per_event = 0.5;
        }
        let table = summary_table(&run);
        let at = table.headers.iter().position(|h| h == "LG µs/ev");
        let cpu = table.headers.iter().position(|h| h == "CPU µs/ev");
        assert_eq!(at, cpu.map(|c| c + 1), "{:?}", table.headers);
        let at = at.unwrap_or_default();
        assert!(
            table.rows.iter().all(|r| r[at] == "0.50"),
            "{:?}",
            table.rows
        );
    }

    #[test]
    fn shards_and_merged_runs_say_so() {
        use pushbench_protocol::results::{ClockEstimate, Merged, ShardInfo};
        let mut run = run();
        assert!(run_notes(&run).is_empty());
        let info = ShardInfo {
            index: 1,
            count: 3,
            start_at: "2026-12-04T10:30:00.000000Z".to_owned(),
            commit: "abc".to_owned(),
        };
        run.shard = Some(info);
        run.clock = Some(ClockEstimate {
            offset_us: -12,
            uncertainty_us: 80,
            samples: 16,
        });
        let notes = run_notes(&run);
        assert!(
            notes[0].contains("shard 1/3") && notes[0].contains("-12 µs ± 80 µs"),
            "{notes:?}"
        );
        run.shard = None;
        run.clock = None;
        run.merged = Some(Merged {
            shards: Vec::new(),
            clock_bound_us: 1_000,
            warnings: vec!["shard 2/3 (x): clock uncertainty 2500 µs".to_owned()],
        });
        let summary = terminal_summary(&run);
        assert!(summary.contains("note: Merged from 0 shards"), "{summary}");
        assert!(
            summary.contains("note: Merge: shard 2/3 (x): clock uncertainty"),
            "{summary}"
        );
    }

    #[test]
    fn scenario_rates_need_no_note() {
        let run = run();
        assert!(rate_notes(&run).is_empty());
        assert_eq!(run_rates(&run), "20");
        assert!(!terminal_summary(&run).contains("note:"));
        let phase = serde_json::to_value(&run.phases[0]).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            phase.get("rate_source").is_none(),
            "left out when scenario, so such results stay as they were"
        );
    }

    #[test]
    fn a_targets_generator_rate_is_named_with_its_source() {
        let run = against_target(RateSource::Target, 37.0);
        let notes = rate_notes(&run);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].contains("target's own generator rate (37 ev/s), read from its /stats"),
            "{notes:?}"
        );
        assert_eq!(run_rates(&run), "37 (the target's own, from /stats)");
        assert!(terminal_summary(&run).contains("note: Rates are the target's own"));
        assert!(warnings(&run).iter().all(|w| !w.contains("Rates")));
    }

    #[test]
    fn a_measured_rate_says_so() {
        let run = against_target(RateSource::Measured, 19.87);
        let notes = rate_notes(&run);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("measured publish rate"), "{notes:?}");
        assert_eq!(
            run_rates(&run),
            "measured per phase (the target has no generator)"
        );
    }
}
