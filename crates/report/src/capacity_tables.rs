//! The capacity search's tables (`pushbench capacity`) and the connection
//! figures every run has: how fast clients got connected, and the request
//! rate of the polling transports.

use pushbench_protocol::RunResult;
use pushbench_protocol::results::PhaseResult;

use crate::figures::load_generator_measured;
use crate::number_format::{format_count, format_cpu_us, format_decimal, format_us};
use crate::table::Table;
use crate::variant_labels::phase_label;

/// One row per transport searched: the highest sustained rate, the first
/// rate that broke a criterion and why, and the latency at each load
/// point; `None` for a plain run.
pub fn capacity_table(result: &RunResult) -> Option<Table> {
    let capacity = result.capacity.as_ref()?;
    let fractions: Vec<f64> = capacity
        .transports
        .iter()
        .flat_map(|t| t.load_points.iter().map(|l| l.fraction))
        .fold(Vec::new(), |mut all, f| {
            if !all.contains(&f) {
                all.push(f);
            }
            all
        });
    let mut header: Vec<String> = [
        "transport",
        "clients",
        "max sustained ev/s",
        "deliveries/s",
        "first failing ev/s",
        "why it failed",
    ]
    .map(str::to_owned)
    .to_vec();
    // The load generator's cost beside the server's: where it is the
    // higher, the limit found is the pair's (see the capacity text).
    let load_generator = load_generator_measured(result);
    let per_point = if load_generator { 5 } else { 4 };
    for f in &fractions {
        let pct = f * 100.0;
        header.extend([
            format!("{pct:.0} %: p50"),
            format!("{pct:.0} %: p90"),
            format!("{pct:.0} %: p99"),
            format!("{pct:.0} %: CPU µs/ev"),
        ]);
        if load_generator {
            header.push(format!("{pct:.0} %: LG µs/ev"));
        }
    }
    let mut table = Table::new(header);
    for t in &capacity.transports {
        let first_failure = t
            .steps
            .iter()
            .filter(|s| !s.sustained && t.max_rate.is_none_or(|m| s.rate > m))
            .min_by(|a, b| a.rate.total_cmp(&b.rate));
        let mut row = vec![
            t.transport.name().to_owned(),
            format_count(u64::from(capacity.clients)),
            t.max_rate.map_or("none".to_owned(), format_decimal),
            format_count(t.max_delivered_per_second.round() as u64),
            first_failure.map_or("none up to the ceiling".to_owned(), |s| {
                format_decimal(s.rate)
            }),
            first_failure.map_or(String::new(), |s| s.failed.join("; ")),
        ];
        for f in &fractions {
            match t
                .load_points
                .iter()
                .find(|l| l.fraction == *f)
                .and_then(|l| result.phases.get(l.phase))
            {
                Some(p) => {
                    row.extend([
                        format_us(p.latency_us.p50 as f64),
                        format_us(p.latency_us.p90 as f64),
                        format_us(p.latency_us.p99 as f64),
                        format_cpu_us(p.server.cpu_us_per_event),
                    ]);
                    if load_generator {
                        row.push(format_cpu_us(p.load_generator.cpu_us_per_event));
                    }
                }
                None => row.extend(std::iter::repeat_n("n/a".to_owned(), per_point)),
            }
        }
        table.push(row);
    }
    Some(table)
}

/// Whether `phase` (by index) is a capacity search step that broke its
/// criteria: expected above the limit, so not a warning of its own.
pub fn is_failed_search_step(result: &RunResult, index: usize) -> bool {
    result.capacity.as_ref().is_some_and(|c| {
        c.transports
            .iter()
            .flat_map(|t| &t.steps)
            .any(|s| s.phase == index && !s.sustained)
    })
}

/// One row per phase: connections opened and failed, setup time, how long
/// until every client had its first session and at what pace, and the
/// request rate of the polling transports.
pub fn connections_table(result: &RunResult) -> Table {
    let mut table = Table::new([
        "phase",
        "opened",
        "failed",
        "setup p50",
        "setup p99",
        "all connected after",
        "connections/s",
        "responses/s",
    ]);
    for phase in &result.phases {
        table.push(connection_row(result, phase));
    }
    table
}

fn connection_row(result: &RunResult, phase: &PhaseResult) -> Vec<String> {
    let c = &phase.connections;
    vec![
        phase_label(result, phase),
        format_count(c.opened),
        format_count(c.failed),
        format_us(c.setup_us.p50 as f64),
        format_us(c.setup_us.p99 as f64),
        if c.all_connected_us > 0 {
            format_us(c.all_connected_us as f64)
        } else {
            "n/a".to_owned()
        },
        format_count(phase.derived.connections_per_second.round() as u64),
        format_count(phase.derived.responses_per_second.round() as u64),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use pushbench_protocol::Transport;
    use pushbench_protocol::results::{Capacity, CapacityStep, LoadPoint, TransportCapacity};

    /// A one-step search of ws whose 90 % point is the fixture's first
    /// phase; with the load generator's cost measured, or not (older runs).
    fn searched(load_generator: bool) -> RunResult {
        let mut run: RunResult =
            serde_json::from_str(include_str!("../tests/fixtures/results.json"))
                .expect("the fixture");
        run.phases.truncate(1);
        let phase = &mut run.phases[0];
        phase.server.cpu_us_per_event = 0.134;
        phase.load_generator.cpu_seconds = 0.0;
        if load_generator {
            phase.load_generator.cpu_seconds = 1.0;
            phase.load_generator.cpu_us_per_event = 0.221;
        }
        run.capacity = Some(Capacity {
            clients: 100,
            transports: vec![TransportCapacity {
                transport: Transport::Ws,
                criteria: Vec::new(),
                steps: vec![CapacityStep {
                    rate: 1000.0,
                    phase: 0,
                    sustained: true,
                    failed: Vec::new(),
                }],
                max_rate: Some(1000.0),
                max_delivered_per_second: 100_000.0,
                load_points: vec![LoadPoint {
                    fraction: 0.9,
                    rate: 900.0,
                    phase: 0,
                }],
            }],
        });
        run
    }

    #[test]
    fn load_points_show_the_load_generator_beside_the_server_when_measured() {
        let older = capacity_table(&searched(false)).expect("a search");
        assert!(!older.headers.iter().any(|h| h.contains("LG")));
        let table = capacity_table(&searched(true)).expect("a search");
        let at = |name: &str| table.headers.iter().position(|h| h == name);
        let (cpu, lg) = (at("90 %: CPU µs/ev"), at("90 %: LG µs/ev"));
        assert_eq!(lg, cpu.map(|c| c + 1), "{:?}", table.headers);
        let row = &table.rows[0];
        assert_eq!(row.len(), table.headers.len());
        assert_eq!(cpu.map(|c| row[c].as_str()), Some("0.13"));
        assert_eq!(lg.map(|c| row[c].as_str()), Some("0.22"));
    }
}
