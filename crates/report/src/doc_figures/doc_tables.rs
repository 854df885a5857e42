//! The table kinds made for the docs, beside the report's own: each a pure
//! function of a run and the marker's parameters.
//!
//! - `phases columns=A,B,.. [KEY=VALUE..]`: one row per phase, the columns
//!   named from [`PHASE_COLUMNS`]; with `KEY=VALUE`s (from [`PHASE_KEYS`],
//!   e.g. `tls=true http=2`) only the phases whose fields equal them.
//! - `ramp`: one row per transport, for each client count how long until
//!   every client had connected and at what pace, and the setup latency at
//!   the largest count.
//! - `capacity-points points=A,B,..`: one row per transport of a capacity
//!   search; a point is `max` (the highest sustained rate), `deliveries`
//!   (deliveries per second there), `failing` (the lowest rate that failed),
//!   a rate the search tried (`320`), or a load point (`90%`); a rate or
//!   load point shows the server's CPU µs per delivered event with the
//!   phase's p99.
//! - `phase-cost KEY=VALUE..`: the cost of the one phase whose fields equal
//!   the given ones (from [`PHASE_KEYS`], e.g. `transport=sse`): a line
//!   naming the phase, its bytes per delivered event by class and
//!   direction, and a line with its setup bytes, overhead ratio, latency
//!   and server cost. The technique pages' "Measured cost" blocks.

use std::collections::BTreeMap;
use std::str::FromStr;

use pushbench_protocol::results::{PhaseResult, TransportCapacity};
use pushbench_protocol::server_results::ServersResult;
use pushbench_protocol::{
    ByteClass, ContentCoding, HeaderProfile, HttpVersion, LinkProfile, RunResult, Transport,
};

use super::grouped;
use crate::figures::per_event_by_class;
use crate::number_format::{format_bytes, format_count, format_cpu_us, format_decimal, format_us};
use crate::table::Table;
use crate::variant_labels::DIMENSIONS;

/// One column of a `phases` table: its name in the marker, its header, and
/// how a phase fills it.
type PhaseColumn = (&'static str, &'static str, fn(&PhaseResult) -> String);

/// The phase's value in the matrix dimension `column` (`h2`, `tls`,
/// `gzip`), as labels name it.
fn dimension_value(column: &str, phase: &PhaseResult) -> String {
    DIMENSIONS
        .iter()
        .find(|d| d.column == column)
        .map_or_else(String::new, |d| d.value(phase))
}

/// The columns a `phases` table may name.
pub const PHASE_COLUMNS: [PhaseColumn; 26] = [
    ("transport", "transport", |p| p.transport.name().to_owned()),
    ("headers", "headers", |p| p.headers.to_string()),
    ("http", "http", |p| dimension_value("http", p)),
    ("tls", "tls", |p| dimension_value("tls", p)),
    ("coding", "coding", |p| dimension_value("coding", p)),
    ("clients", "clients", |p| format_count(u64::from(p.clients))),
    ("rate", "ev/s", |p| format_decimal(p.rate)),
    ("connections", "connections", |p| {
        format_count(p.connections.opened)
    }),
    ("missed", "missed", |p| format_count(p.events.missed)),
    ("p50", "p50", |p| format_us(p.latency_us.p50 as f64)),
    ("p90", "p90", |p| format_us(p.latency_us.p90 as f64)),
    ("p99", "p99", |p| format_us(p.latency_us.p99 as f64)),
    ("max", "max", |p| format_us(p.latency_us.max as f64)),
    ("bytes-per-event", "B/event", |p| {
        grouped(p.derived.bytes_per_event, 1)
    }),
    ("tls-records", "of which tls_records", |p| {
        let records = p.traffic.sent.tls_records + p.traffic.received.tls_records;
        grouped(records as f64 / p.events.delivered.max(1) as f64, 1)
    }),
    ("setup-bytes", "setup B/conn", |p| {
        format_count(p.setup_bytes_per_connection.round() as u64)
    }),
    ("cpu-seconds", "server CPU in the window", |p| {
        format!("{:.2} s", p.server.cpu_seconds)
    }),
    ("cpu-per-event", "server CPU µs per delivered event", |p| {
        grouped(p.server.cpu_us_per_event, 1)
    }),
    (
        "lg-cpu-per-event",
        "load generator CPU µs per received event",
        |p| grouped(p.load_generator.cpu_us_per_event, 1),
    ),
    ("rss-per-connection", "server RSS per connection", |p| {
        format_bytes(p.server.rss_per_connection_bytes)
    }),
    ("link", "link", |p| p.link.label()),
    ("rtt", "RTT", |p| format_us(p.link.rtt_us as f64)),
    ("connect-p50", "TCP connect p50", |p| {
        p.link_measured
            .as_ref()
            .map_or_else(|| "-".to_owned(), |m| format_us(m.connect_us.p50 as f64))
    }),
    ("p50-rtts", "p50 in RTTs", |p| in_rtts(p, p.latency_us.p50)),
    ("p99-rtts", "p99 in RTTs", |p| in_rtts(p, p.latency_us.p99)),
    ("retransmitted-per-event", "retransmitted B/event", |p| {
        let r = p.link_measured.as_ref().map(|m| m.retransmits);
        let bytes = r.map_or(0, |r| r.sent_bytes + r.received_bytes);
        grouped(bytes as f64 / p.events.delivered.max(1) as f64, 1)
    }),
];

/// A latency of `phase` in round trips of its link; `-` on loopback.
fn in_rtts(phase: &PhaseResult, latency_us: u64) -> String {
    if phase.link.rtt_us == 0 {
        return "-".to_owned();
    }
    format!("{:.2}", latency_us as f64 / phase.link.rtt_us as f64)
}

/// A `phases` table with the named columns, in order, one row per phase
/// whose fields equal every `KEY=VALUE` of `filter` (all when empty).
pub fn phases_table(
    run: &RunResult,
    columns: &str,
    filter: &BTreeMap<String, String>,
) -> Result<Table, String> {
    let picked = columns
        .split(',')
        .map(|name| {
            PHASE_COLUMNS
                .iter()
                .find(|(known, _, _)| *known == name)
                .ok_or_else(|| {
                    let known: Vec<&str> = PHASE_COLUMNS.iter().map(|c| c.0).collect();
                    format!("unknown column `{name}` (known: {})", known.join(", "))
                })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let mut table = Table::new(picked.iter().map(|(_, header, _)| *header));
    let phases = phases_where(run, filter)?;
    if phases.is_empty() {
        return Err(format!("no phase has {}", selector_text(filter)));
    }
    for phase in phases {
        table.push(picked.iter().map(|(_, _, cell)| cell(phase)));
    }
    Ok(table)
}

/// The `ramp` table: rows by transport in the run's order, a column per
/// client count.
pub fn ramp_table(run: &RunResult) -> Result<Table, String> {
    let mut transports = Vec::new();
    let mut counts: Vec<u32> = Vec::new();
    for phase in &run.phases {
        if !transports.contains(&phase.transport) {
            transports.push(phase.transport);
        }
        if !counts.contains(&phase.clients) {
            counts.push(phase.clients);
        }
    }
    counts.sort_unstable();
    let largest = *counts.last().ok_or("the run has no phases")?;
    let mut header: Vec<String> = vec!["transport".to_owned()];
    header.extend(counts.iter().map(|n| {
        format!(
            "{} clients: all connected / per second",
            format_count(u64::from(*n))
        )
    }));
    header.push(format!(
        "setup p50 / p99 at {}",
        format_count(u64::from(largest))
    ));
    let mut table = Table::new(header);
    for transport in transports {
        let phase_at = |clients: u32| {
            run.phases
                .iter()
                .find(|p| p.transport == transport && p.clients == clients)
        };
        let mut row = vec![transport.name().to_owned()];
        row.extend(counts.iter().map(|n| match phase_at(*n) {
            Some(p) => format!(
                "{} / {}",
                format_us(p.connections.all_connected_us as f64),
                format_count(p.derived.connections_per_second.round() as u64)
            ),
            None => "—".to_owned(),
        }));
        row.push(match phase_at(largest) {
            Some(p) => format!(
                "{} / {}",
                format_us(p.connections.setup_us.p50 as f64),
                format_us(p.connections.setup_us.p99 as f64)
            ),
            None => "—".to_owned(),
        });
        table.push(row);
    }
    Ok(table)
}

/// One column of a `capacity-points` table.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Point {
    Max,
    Deliveries,
    Failing,
    Rate(f64),
    Load(f64),
}

impl Point {
    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "max" => Ok(Point::Max),
            "deliveries" => Ok(Point::Deliveries),
            "failing" => Ok(Point::Failing),
            _ => {
                let number = |t: &str| {
                    t.parse::<f64>().map_err(|_| {
                        format!(
                            "unknown point `{text}` (max, deliveries, failing, a rate, a load like 90%)"
                        )
                    })
                };
                match text.strip_suffix('%') {
                    Some(pct) => Ok(Point::Load(number(pct)? / 100.0)),
                    None => Ok(Point::Rate(number(text)?)),
                }
            }
        }
    }

    fn header(self) -> String {
        match self {
            Point::Max => "highest sustained ev/s".to_owned(),
            Point::Deliveries => "deliveries/s there".to_owned(),
            Point::Failing => "lowest failing ev/s".to_owned(),
            Point::Rate(rate) => format!(
                "{} ev/s: CPU µs/delivery (p99)",
                format_count(rate.round() as u64)
            ),
            Point::Load(fraction) => {
                format!("at {:.0} %: CPU µs/delivery (p99)", fraction * 100.0)
            }
        }
    }

    fn cell(self, run: &RunResult, t: &TransportCapacity) -> String {
        let rate = |r: Option<f64>| r.map_or("—".to_owned(), |r| format_count(r.round() as u64));
        let cost = |phase: Option<usize>, past_limit: bool| {
            let Some(p) = phase.and_then(|i| run.phases.get(i)) else {
                return "—".to_owned();
            };
            let cpu = format_cpu_us(p.server.cpu_us_per_event);
            if past_limit {
                format!("{cpu} (past its limit)")
            } else {
                format!("{cpu} ({})", format_us(p.latency_us.p99 as f64))
            }
        };
        match self {
            Point::Max => rate(t.max_rate),
            Point::Deliveries => format_count(t.max_delivered_per_second.round() as u64),
            Point::Failing => rate(
                t.steps
                    .iter()
                    .filter(|s| !s.sustained)
                    .map(|s| s.rate)
                    .min_by(f64::total_cmp),
            ),
            Point::Rate(wanted) => match t.steps.iter().find(|s| s.rate == wanted) {
                Some(step) => cost(Some(step.phase), !step.sustained),
                None => "—".to_owned(),
            },
            Point::Load(fraction) => cost(
                t.load_points
                    .iter()
                    .find(|l| (l.fraction - fraction).abs() < 1e-9)
                    .map(|l| l.phase),
                false,
            ),
        }
    }
}

/// A `capacity-points` table, or why not.
pub fn capacity_points_table(run: &RunResult, points: &str) -> Result<Table, String> {
    let capacity = run
        .capacity
        .as_ref()
        .ok_or("the run has no capacity section")?;
    let points = points
        .split(',')
        .map(Point::parse)
        .collect::<Result<Vec<Point>, String>>()?;
    let mut header = vec!["transport".to_owned()];
    header.extend(points.iter().map(|p| p.header()));
    let mut table = Table::new(header);
    for t in &capacity.transports {
        let mut row = vec![t.transport.name().to_owned()];
        row.extend(points.iter().map(|p| p.cell(run, t)));
        table.push(row);
    }
    Ok(table)
}

/// The fields a `phase-cost` marker may select its phase by.
pub const PHASE_KEYS: [&str; 8] = [
    "transport",
    "clients",
    "rate",
    "headers",
    "tls",
    "http",
    "coding",
    "link",
];

/// A `pushbench servers` table: every technique and server (`servers`),
/// serve against each server as ratios (`servers-ratios`), or one
/// technique's bytes per event by class (`servers-bytes`, `transport`).
pub fn servers_block(
    name: &str,
    servers: &ServersResult,
    transport: &str,
) -> Result<Table, String> {
    Ok(match name {
        "servers" => crate::server_report::servers_table(servers),
        "servers-ratios" => {
            crate::peer_report::peers_table(&crate::server_report::as_peers(servers))
        }
        _ => {
            let technique = servers
                .techniques
                .iter()
                .find(|t| t.transport.name() == transport)
                .ok_or("servers-bytes needs transport=T of a measured technique")?;
            crate::server_report::bytes_table(technique)
        }
    })
}

/// Whether `phase`'s field `key` equals `value`, read as that field's type
/// reads it (`http=2` is `http=h2`), or why the selector is wrong.
fn phase_has(phase: &PhaseResult, key: &str, value: &str) -> Result<bool, String> {
    fn parsed<T: FromStr>(value: &str, key: &str) -> Result<T, String>
    where
        T::Err: std::fmt::Display,
    {
        value
            .parse::<T>()
            .map_err(|e| format!("`{key}={value}`: {e}"))
    }
    Ok(match key {
        "transport" => phase.transport == parsed::<Transport>(value, key)?,
        "clients" => phase.clients == parsed::<u32>(value, key)?,
        "rate" => phase.rate == parsed::<f64>(value, key)?,
        "headers" => phase.headers == parsed::<HeaderProfile>(value, key)?,
        "tls" => phase.tls == parsed::<bool>(value, key)?,
        "http" => phase.http == parsed::<HttpVersion>(value, key)?,
        "coding" => phase.coding == parsed::<ContentCoding>(value, key)?,
        "link" => phase.link.label() == parsed::<LinkProfile>(value, key)?.label(),
        _ => {
            return Err(format!(
                "unknown phase field `{key}` (known: {})",
                PHASE_KEYS.join(", ")
            ));
        }
    })
}

/// The phases of `run` whose fields equal every `KEY=VALUE` of `wanted`,
/// in run order, or why a selector is wrong.
fn phases_where<'a>(
    run: &'a RunResult,
    wanted: &BTreeMap<String, String>,
) -> Result<Vec<&'a PhaseResult>, String> {
    let mut matching = Vec::new();
    for phase in &run.phases {
        let mut all = true;
        for (key, value) in wanted {
            all &= phase_has(phase, key, value)?;
        }
        if all {
            matching.push(phase);
        }
    }
    Ok(matching)
}

fn selector_text(wanted: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = wanted.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join(" ")
}

/// The one phase of `run` whose fields equal every `KEY=VALUE` of
/// `wanted`, or why there is not exactly one.
pub fn select_phase<'a>(
    run: &'a RunResult,
    wanted: &BTreeMap<String, String>,
) -> Result<&'a PhaseResult, String> {
    match phases_where(run, wanted)?.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("no phase has {}", selector_text(wanted))),
        many => Err(format!(
            "{} phases have {}; name more fields ({})",
            many.len(),
            selector_text(wanted),
            PHASE_KEYS.join(", ")
        )),
    }
}

/// The `phase-cost` block of one phase, as Markdown: a line naming the
/// phase and its window, the bytes per delivered event by class and
/// direction (the six classes every exchange has, then any other class
/// the phase booked a byte in, the sum, and the estimated TCP/IP headers
/// beside them), and a line with the phase's setup bytes per connection,
/// overhead ratio, latency and server cost.
pub fn phase_cost(phase: &PhaseResult) -> Result<String, String> {
    let delivered = phase.events.delivered;
    if delivered == 0 {
        return Err(format!(
            "phase `{}` delivered no event: there is no cost per event",
            phase.transport
        ));
    }
    let sent = per_event_by_class(&phase.traffic.sent, delivered);
    let received = per_event_by_class(&phase.traffic.received, delivered);
    let per_event = |bytes: u64| grouped(bytes as f64 / delivered as f64, 1);
    let mut table = Table::new(["class", "client to server", "server to client"]);
    for (i, class) in ByteClass::ALL.into_iter().enumerate() {
        if ByteClass::CLASSIC.contains(&class) || sent[i] + received[i] > 0.0 {
            table.push([
                class.name().to_owned(),
                grouped(sent[i], 1),
                grouped(received[i], 1),
            ]);
        }
    }
    table.push([
        "**all classes**".to_owned(),
        format!("**{}**", per_event(phase.traffic.sent.total())),
        format!("**{}**", per_event(phase.traffic.received.total())),
    ]);
    table.push([
        "tcp_ip (beside the classes, estimated)".to_owned(),
        per_event(phase.traffic.sent.tcp_ip),
        per_event(phase.traffic.received.tcp_ip),
    ]);
    Ok(format!(
        "Phase `{transport}`: {clients} clients, {rate} events/s, {delivered} events delivered \
         in the {window:.1} s window, {missed} missed. Bytes per delivered event (window bytes \
         / events):\n\n{table}\nSetup per connection (first request and response head, or the \
         upgrade): {setup} bytes. Overhead ratio {ratio:.2}. Latency p50 {p50}, p99 {p99}, max \
         {max}. Server CPU {cpu} µs per event, RSS {rss} per connection.\n",
        transport = phase.transport,
        clients = format_count(u64::from(phase.clients)),
        rate = format_decimal(phase.rate),
        delivered = format_count(delivered),
        window = phase.duration_s,
        missed = format_count(phase.events.missed),
        table = table.to_markdown(),
        setup = format_count(phase.setup_bytes_per_connection.round() as u64),
        ratio = phase.derived.overhead_ratio,
        p50 = format_us(phase.latency_us.p50 as f64),
        p99 = format_us(phase.latency_us.p99 as f64),
        max = format_us(phase.latency_us.max as f64),
        cpu = grouped(phase.server.cpu_us_per_event, 1),
        rss = format_bytes(phase.server.rss_per_connection_bytes),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pushbench_protocol::Transport;
    use pushbench_protocol::results::{Capacity, CapacityStep, LoadPoint};

    /// The report's fixture (a real run) made into two transports at two
    /// client counts, with a capacity search of one.
    fn run() -> RunResult {
        let mut run: RunResult =
            serde_json::from_str(include_str!("../../tests/fixtures/results.json"))
                .unwrap_or_else(|e| panic!("the fixture: {e}"));
        let template = run.phases[3].clone();
        let phase = |transport: Transport, clients: u32, cpu: f64, p99: u64| {
            let mut p = template.clone();
            p.transport = transport;
            p.clients = clients;
            p.connections.all_connected_us = 72_600;
            p.connections.setup_us.p50 = 3_020;
            p.connections.setup_us.p99 = 729_100;
            p.derived.connections_per_second = 13_771.2;
            p.server.cpu_us_per_event = cpu;
            p.server.rss_per_connection_bytes = 4_100.0;
            p.latency_us.p99 = p99;
            p
        };
        run.phases = vec![
            phase(Transport::Sse, 1000, 15.0, 3_591),
            phase(Transport::Ws, 1000, 10.94, 3_125),
            phase(Transport::Sse, 5000, 0.24, 1_654_783),
            phase(Transport::Ws, 5000, 0.2439, 26_879),
        ];
        let step = |rate: f64, phase: usize, sustained: bool| CapacityStep {
            rate,
            phase,
            sustained,
            failed: Vec::new(),
        };
        run.capacity = Some(Capacity {
            clients: 100,
            transports: vec![TransportCapacity {
                transport: Transport::Ws,
                criteria: Vec::new(),
                steps: vec![
                    step(320.0, 1, true),
                    step(5120.0, 2, false),
                    step(25600.0, 3, false),
                ],
                max_rate: Some(23000.0),
                max_delivered_per_second: 2_323_341.4,
                load_points: vec![LoadPoint {
                    fraction: 0.9,
                    rate: 20700.0,
                    phase: 3,
                }],
            }],
        });
        run
    }

    #[test]
    fn phases_tables_pick_their_columns() {
        let all = BTreeMap::new();
        let table = phases_table(
            &run(),
            "transport,p99,cpu-per-event,rss-per-connection",
            &all,
        )
        .expect("known columns");
        assert_eq!(
            table.to_markdown().lines().take(3).collect::<Vec<_>>(),
            [
                "| transport | p99 | server CPU µs per delivered event | server RSS per connection |",
                "| :--- | ---: | ---: | ---: |",
                "| sse | 3.59 ms | 15.0 | 4.1 kB |",
            ]
        );
        let error = phases_table(&run(), "transport,nope", &all).expect_err("refused");
        assert!(error.starts_with("unknown column `nope`"), "{error}");
        let tls_only = BTreeMap::from([("tls".to_owned(), "true".to_owned())]);
        let markdown = phases_table(
            &short_poll_run(),
            "transport,http,tls,coding,bytes-per-event,tls-records",
            &tls_only,
        )
        .expect("a tls phase")
        .to_markdown();
        assert_eq!(
            markdown.lines().skip(2).collect::<Vec<_>>(),
            ["| short-poll | h1 | tls | identity | 234.5 | 22.0 |"]
        );
        let none = BTreeMap::from([("transport".to_owned(), "ws".to_owned())]);
        assert!(phases_table(&short_poll_run(), "transport", &none).is_err());
    }

    #[test]
    fn the_ramp_table_has_a_column_per_client_count() {
        let markdown = ramp_table(&run()).expect("a ramp").to_markdown();
        let lines: Vec<&str> = markdown.lines().collect();
        assert_eq!(
            lines[0],
            "| transport | 1,000 clients: all connected / per second | 5,000 clients: all connected / per second | setup p50 / p99 at 5,000 |"
        );
        assert_eq!(
            lines[2],
            "| sse | 72.6 ms / 13,771 | 72.6 ms / 13,771 | 3.02 ms / 729.1 ms |"
        );
    }

    #[test]
    fn capacity_points_read_steps_and_load_points() {
        let markdown = capacity_points_table(&run(), "max,deliveries,failing,320,5120,90%,40")
            .expect("known points")
            .to_markdown();
        assert_eq!(
            markdown.lines().nth(2),
            Some(
                "| ws | 23,000 | 2,323,341 | 5,120 | 10.9 (3.12 ms) | 0.24 (past its limit) | 0.24 (26.9 ms) | — |"
            )
        );
        assert!(capacity_points_table(&run(), "max,half").is_err());
        let mut without = run();
        without.capacity = None;
        assert!(capacity_points_table(&without, "max").is_err());
    }

    /// The fixture's short-poll phase, and the same over TLS.
    fn short_poll_run() -> RunResult {
        let mut run: RunResult =
            serde_json::from_str(include_str!("../../tests/fixtures/results.json"))
                .unwrap_or_else(|e| panic!("the fixture: {e}"));
        let mut plain = run.phases[0].clone();
        plain.setup_bytes_per_connection = 162.4;
        let mut tls = plain.clone();
        tls.tls = true;
        tls.traffic.received.tls_records = 22 * tls.events.delivered;
        run.phases = vec![plain, tls];
        run
    }

    fn select(run: &RunResult, pairs: &[(&str, &str)]) -> Result<PhaseResult, String> {
        let wanted = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        select_phase(run, &wanted).cloned()
    }

    #[test]
    fn a_phase_cost_block_reads_as_the_technique_pages_do() {
        let run = short_poll_run();
        let plain =
            select(&run, &[("transport", "short-poll"), ("tls", "false")]).expect("one phase");
        assert_eq!(
            phase_cost(&plain).expect("a cost"),
            "Phase `short-poll`: 20 clients, 20 events/s, 1,600 events delivered in the 4.0 s \
             window, 0 missed. Bytes per delivered event (window bytes / events):\n\
             \n\
             | class | client to server | server to client |\n\
             | :--- | ---: | ---: |\n\
             | handshake | 0.0 | 0.0 |\n\
             | request_headers | 10.8 | 0.0 |\n\
             | response_headers | 0.0 | 22.0 |\n\
             | framing | 0.0 | 73.7 |\n\
             | payload | 0.0 | 128.0 |\n\
             | control | 0.0 | 0.0 |\n\
             | **all classes** | **10.8** | **223.7** |\n\
             | tcp_ip (beside the classes, estimated) | 0.0 | 0.0 |\n\
             \n\
             Setup per connection (first request and response head, or the upgrade): 162 bytes. \
             Overhead ratio 1.83. Latency p50 107.5 ms, p99 232.1 ms, max 234.6 ms. Server CPU \
             18.8 µs per event, RSS 33.4 kB per connection.\n"
        );
        // A class beyond the six shows when the phase booked a byte in it.
        let tls = select(&run, &[("transport", "short-poll"), ("tls", "true")]).expect("one");
        let block = phase_cost(&tls).expect("a cost");
        assert!(
            block.contains("| control | 0.0 | 0.0 |\n| tls_records | 0.0 | 22.0 |\n"),
            "{block}"
        );
        assert!(
            block.contains("| **all classes** | **10.8** | **245.7** |"),
            "{block}"
        );
        let mut silent = plain;
        silent.events.delivered = 0;
        assert!(phase_cost(&silent).is_err());
    }

    #[test]
    fn a_phase_is_selected_by_its_fields_or_refused() {
        let run = short_poll_run();
        let many = select(&run, &[("transport", "short-poll")]).expect_err("two match");
        assert!(
            many.starts_with("2 phases have transport=short-poll"),
            "{many}"
        );
        let none = select(&run, &[("transport", "ws")]).expect_err("none match");
        assert_eq!(none, "no phase has transport=ws");
        let h1 = select(&run, &[("http", "1.1"), ("tls", "true"), ("rate", "20")]);
        assert!(h1.is_ok_and(|p| p.tls));
        assert!(select(&run, &[("transport", "carrier-pigeon")]).is_err());
        assert!(select(&run, &[("colour", "blue")]).is_err());
    }
}
