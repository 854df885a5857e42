//! `report.md` and `report.html`: the same sections, written twice. The
//! HTML carries its charts inline (the SVG text itself), so the one file is
//! the whole report.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use pushbench_protocol::{RunResult, Transport};

use crate::capacity_tables::{capacity_table, connections_table};
use crate::error::{ReportError, read_file};
use crate::figures::transports_in;
use crate::model::{self, CLASSIC_CLIENTS, Load};
use crate::node_tables::{NODES_TEXT, nodes_table};
use crate::number_format::{format_bytes, format_count};
use crate::summary::{run_notes, run_rates, summary_table, variant_table, warnings};
use crate::table::{Table, escape_html};
use crate::variant_labels::varying_in;

/// One chart as the reports show it.
#[derive(Clone, Debug)]
pub struct Figure {
    /// The SVG file.
    pub svg: PathBuf,
    /// The PNG file.
    pub png: PathBuf,
    /// What the chart shows, one or two sentences.
    pub caption: String,
}

/// The inputs of both documents.
#[derive(Debug)]
pub struct Report<'a> {
    /// The run.
    pub result: &'a RunResult,
    /// Charts drawn, in order.
    pub figures: &'a [Figure],
    /// Charts not drawn and why.
    pub skipped: &'a [String],
}

/// Bytes per second for 1,000 / 10,000 / 100,000 clients at one event per
/// second each, polled and held as this run was, from what an exchange and
/// an event cost each transport in this run ([`model::Costs::measured`]).
pub fn classic_bandwidth_table(result: &RunResult) -> Table {
    let costs = model::Costs::measured(result, "this run");
    let rows = transports_in(result).into_iter().filter_map(|transport| {
        let cost = costs.get(transport)?;
        let per =
            if model::exchanges_per_second(transport, &Load::one_event_per_second_of(result, 1))
                > 0.0
            {
                format!("{:.1} + {:.1}", cost.per_exchange, cost.per_event)
            } else {
                format!("{:.1}", cost.per_event)
            };
        Some((transport.name().to_owned(), per, (transport, cost)))
    });
    classic_clients_table(
        ["transport", "measured B/exchange + B/event"],
        rows,
        |(transport, cost), n| {
            model::bytes_per_second(*transport, cost, &Load::one_event_per_second_of(result, n))
        },
    )
}

/// A row per `(name, bytes per event, T)` and a column per classic client
/// count, holding `bandwidth(T, clients)` in bytes per second, with its
/// Mbit/s of 2^20 bits (the classic table's unit) and SI Mbit/s.
fn classic_clients_table<T>(
    columns: [&str; 2],
    rows: impl IntoIterator<Item = (String, String, T)>,
    bandwidth: impl Fn(&T, u64) -> f64,
) -> Table {
    let mut headers = columns.map(str::to_owned).to_vec();
    headers.extend(
        CLASSIC_CLIENTS
            .iter()
            .map(|n| format!("{} clients", format_count(*n))),
    );
    let mut table = Table::new(headers);
    for (name, per_event, of) in rows {
        let mut row = vec![name, per_event];
        row.extend(CLASSIC_CLIENTS.iter().map(|&n| {
            let bps = bandwidth(&of, n);
            format!(
                "{}/s ({:.3} Mbit/s of 2^20, {:.3} SI)",
                format_bytes(bps),
                model::classic_mbps(bps),
                model::megabits(bps)
            )
        }));
        table.push(row);
    }
    table
}

/// The classic argument, measured per variant: for each polling transport
/// its header bytes and all bytes per delivered event beside WebSocket's
/// (the same variant and load), and the ratios; `None` when the run
/// measured no polling.
pub fn classic_argument_table(result: &RunResult) -> Option<Table> {
    let groups = crate::figures::classic_groups(result);
    let mut table = Table::new([
        "variant",
        "poll",
        "poll headers B/ev",
        "poll B/ev",
        "ws B/ev",
        "ws overhead B/ev",
        "poll headers ÷ ws B/ev",
        "poll ÷ ws B/ev",
    ]);
    table.align[1] = crate::table::Align::Left;
    let ratio = |a: f64, b: Option<f64>| match b {
        Some(b) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "–".to_owned(),
    };
    for group in &groups {
        let ws = group.bar(Transport::Ws);
        for poll in [Transport::ShortPoll, Transport::LongPoll] {
            let Some(bar) = group.bar(poll) else {
                continue;
            };
            table.push([
                group.label.clone(),
                poll.name().to_owned(),
                format!("{:.1}", bar.header_bytes),
                format!("{:.1}", bar.bytes),
                ws.map_or("–".to_owned(), |w| {
                    let identity = if w.from_identity { " (identity)" } else { "" };
                    format!("{:.1}{identity}", w.bytes)
                }),
                ws.map_or("–".to_owned(), |w| format!("{:.1}", w.overhead_bytes)),
                ratio(bar.header_bytes, ws.map(|w| w.bytes)),
                ratio(bar.bytes, ws.map(|w| w.bytes)),
            ]);
        }
    }
    (!table.rows.is_empty()).then_some(table)
}

/// The classic claim, from the model alone: 871 header bytes per poll
/// against a 2-byte WebSocket frame, one message per second, no payload.
pub fn classic_model_table() -> Table {
    let costs = model::Costs::classic();
    let rows = [Transport::ShortPoll, Transport::Ws]
        .into_iter()
        .filter_map(|transport| {
            let cost = costs.get(transport)?;
            let per_event =
                model::bytes_per_event(transport, &cost, &Load::classic(1)).unwrap_or(0.0);
            Some((
                transport.title().to_owned(),
                format!("{per_event:.0}"),
                (transport, cost),
            ))
        });
    classic_clients_table(["technique", "B/event"], rows, |(transport, cost), n| {
        model::bytes_per_second(*transport, cost, &Load::classic(n))
    })
}

/// Every knob of the scenario, one row each.
pub fn scenario_table(result: &RunResult) -> Table {
    let s = &result.scenario;
    let list = |items: Vec<String>| items.join(", ");
    let mut table = Table::new(["setting", "value"]);
    table.align[1] = crate::table::Align::Left;
    let rows: [(&str, String); 18] = [
        (
            "transports",
            list(s.transports.iter().map(|t| t.name().to_owned()).collect()),
        ),
        (
            "clients",
            list(
                s.clients
                    .iter()
                    .map(|c| format_count(u64::from(*c)))
                    .collect(),
            ),
        ),
        ("rates (events/s)", run_rates(result)),
        ("payload (bytes)", s.payload.to_string()),
        ("topics", s.topics.to_string()),
        ("duration (s)", s.duration_s.to_string()),
        ("warm-up (s)", s.warmup_s.to_string()),
        ("ramp-up (s)", s.ramp_up_s.to_string()),
        ("short-poll interval (ms)", s.poll_interval_ms.to_string()),
        ("long-poll timeout (s)", s.longpoll_timeout_s.to_string()),
        (
            "WebSocket encoding",
            if s.ws_binary { "binary" } else { "JSON text" }.to_owned(),
        ),
        (
            "request headers",
            list(s.headers.iter().map(ToString::to_string).collect()),
        ),
        ("response headers", s.response_headers.to_string()),
        (
            "TLS",
            list(
                s.tls
                    .iter()
                    .map(|&t| if t { "on" } else { "off" }.to_owned())
                    .collect(),
            ),
        ),
        (
            "HTTP versions",
            list(s.http.iter().map(ToString::to_string).collect()),
        ),
        ("HTTP/2 streams per connection", s.h2_streams.to_string()),
        (
            "content codings",
            list(s.coding.iter().map(ToString::to_string).collect()),
        ),
        (
            "target",
            s.target
                .clone()
                .unwrap_or_else(|| "embedded server".to_owned()),
        ),
    ];
    for (name, value) in rows {
        table.push([name.to_owned(), value]);
        if name == "rates (events/s)" && s.burst != 1 {
            // Only runs in bursts say so: older reports stay as they were.
            table.push(["events per burst".to_owned(), s.burst.to_string()]);
        }
    }
    table
}

/// The machine and the software versions.
pub fn machine_table(result: &RunResult) -> Table {
    let m = &result.machine;
    let mut table = Table::new(["", ""]);
    table.headers = vec!["what".into(), "value".into()];
    table.align[1] = crate::table::Align::Left;
    for (name, value) in [
        ("pushbench", result.pushbench_version.clone()),
        ("results format", format!("version {}", result.version)),
        ("rustc", m.rustc.clone()),
        ("host", m.hostname.clone()),
        ("OS", m.os.clone()),
        ("CPU", m.cpu_model.clone()),
        ("logical CPUs", m.cores.to_string()),
        ("memory", format_bytes(m.memory_bytes as f64)),
        ("started", result.started_at.clone()),
        ("finished", result.finished_at.clone()),
    ] {
        table.push([name.to_owned(), value]);
    }
    table
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

const CLASSIC_TEXT: &str = "The classic comparison (Lubbers and Greco): a poll carries about \
871 bytes of HTTP headers, a WebSocket frame 2 bytes of framing; at one message per second per \
client, in Mbit/s of 2^20 bits as the paper counts them (6.6 / 66 / 665 against 0.015 / 0.153 / \
1.526) and SI:";

const CLASSIC_ARGUMENT_TEXT: &str = "The classic argument, measured: a poll's request and \
response heads (over HTTP/2 the HPACK blocks) per delivered event, beside all bytes per \
delivered event of the poll and of a WebSocket in the same variant and load (both directions; \
ws overhead is every byte but the payload). The classic figures are 871 header bytes per poll \
against 2 bytes of WebSocket framing; see docs/matrix.md for how to read the ratios. WebSocket frames are not content-coded, so a gzip or br variant runs no WebSocket phase: its ws figures (marked identity) are the same variant's at identity.";

const CAPACITY_TEXT: &str = "The highest event rate each transport sustained (doubling \
from a start rate, then bisecting, one fresh server per rate): a phase held when it met every \
criterion (nothing missed, duplicated, reordered or failed, at least 98 % of the window's events \
delivered within it (for short polling, less the share of the window one poll interval is), \
p99 under the bound), then latency measured at fractions of that rate. \
Deliveries per second are events × clients. CPU µs/ev is the server's CPU per delivered event \
and LG µs/ev the load generator's per received event: on one machine the two share its cores, so \
where the load generator costs more the limit found is the pair's, not the server's alone. Search \
steps above the limit break the criteria by design, so the warnings above leave them out.";

/// The variant section's title: the one dimension the run compared, or
/// all of them.
fn variants_title(result: &RunResult) -> String {
    let varying = varying_in(result);
    match varying.as_slice() {
        [only] => only.section.to_owned(),
        _ => format!(
            "Variants: {}",
            varying
                .iter()
                .map(|d| d.noun)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The variant section's explanation: what the table shows, then one
/// paragraph per dimension compared.
fn variants_text(result: &RunResult) -> String {
    let mut text =
        vec!["What each variant costs per delivered event, by class, both directions.".to_owned()];
    text.extend(
        varying_in(result)
            .iter()
            .map(|d| format!("{}: {}", capitalised(d.noun), d.explanation)),
    );
    text.join(" ")
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

const CONNECTIONS_TEXT: &str = "Setup is the TCP connect (and, for WebSocket, the upgrade) of \
each connection; \"all connected after\" is the time from the phase's start until every client \
had its first session, and connections/s that count over that time: with a zero ramp-up, the \
pace at which the server accepted them. Responses/s is the polling transports' request rate.";

const MEASURED_TEXT: &str = "The same arithmetic with what an exchange and an event cost \
in this run (both directions, every class: a poll's heads and empty answer per exchange; \
framing, JSON envelope and payload per event), at one event per second per client, polled \
and held as this run was: a short poll pays its exchange at every poll interval, whether it \
brings an event or not; a long poll one exchange per event; the persistent transports their \
framing per event (when the run compared variants, with the first variant's phases):";

impl Report<'_> {
    fn title(&self) -> String {
        format!("pushbench report: {}", self.result.started_at)
    }

    fn lead(&self) -> String {
        let transports: Vec<&str> = transports_in(self.result)
            .iter()
            .map(|t| t.name())
            .collect();
        format!(
            "{} phases over {} transports ({}), measured by pushbench {}.",
            self.result.phases.len(),
            transports.len(),
            transports.join(", "),
            self.result.pushbench_version
        )
    }

    /// The sections after the summary that only some runs have, in order:
    /// (title, explanation, table).
    fn table_sections(&self) -> Vec<(String, String, Table)> {
        let r = self.result;
        [
            variant_table(r).map(|t| (variants_title(r), variants_text(r), t)),
            classic_argument_table(r).map(|t| {
                (
                    "The classic argument, measured".to_owned(),
                    CLASSIC_ARGUMENT_TEXT.to_owned(),
                    t,
                )
            }),
            capacity_table(r).map(|t| ("Capacity".to_owned(), CAPACITY_TEXT.to_owned(), t)),
            nodes_table(r).map(|t| ("Server nodes".to_owned(), NODES_TEXT.to_owned(), t)),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The Markdown report; charts are linked as the SVG files beside it.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# {}\n\n{}\n", self.title(), self.lead());
        let warnings = warnings(self.result);
        if !warnings.is_empty() {
            let _ = writeln!(out, "## ⚠️ WARNING: THIS RESULT IS NOT CLEAN\n");
            for warning in &warnings {
                let _ = writeln!(out, "- **{warning}**");
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "## Summary\n\n{}",
            summary_table(self.result).to_markdown()
        );
        let _ = writeln!(
            out,
            "Bytes per event count both directions of every connection, divided by the \
             events delivered; latency is event creation to client receipt.\n"
        );
        for note in run_notes(self.result) {
            let _ = writeln!(out, "**Note:** {note}\n");
        }
        for (title, text, table) in self.table_sections() {
            let _ = writeln!(out, "## {title}\n\n{text}\n\n{}", table.to_markdown());
        }
        let _ = writeln!(
            out,
            "## Connections\n\n{CONNECTIONS_TEXT}\n\n{}",
            connections_table(self.result).to_markdown()
        );
        let _ = writeln!(out, "## Charts\n");
        for figure in self.figures {
            let _ = writeln!(
                out,
                "![{alt}]({svg})\n\n{caption} ([PNG]({png}))\n",
                alt = figure
                    .svg
                    .file_stem()
                    .map(|s| s.to_string_lossy().replace('_', " "))
                    .unwrap_or_default(),
                caption = figure.caption,
                svg = file_name(&figure.svg),
                png = file_name(&figure.png)
            );
        }
        for note in self.skipped {
            let _ = writeln!(out, "_{note}_\n");
        }
        let _ = writeln!(out, "## Bandwidth for 1,000 to 100,000 clients\n");
        let _ = writeln!(
            out,
            "{CLASSIC_TEXT}\n\n{}",
            classic_model_table().to_markdown()
        );
        let _ = writeln!(
            out,
            "{MEASURED_TEXT}\n\n{}",
            classic_bandwidth_table(self.result).to_markdown()
        );
        let _ = writeln!(
            out,
            "## Scenario\n\n{}",
            scenario_table(self.result).to_markdown()
        );
        let _ = writeln!(
            out,
            "## Machine and versions\n\n{}",
            machine_table(self.result).to_markdown()
        );
        let control = self.result.control_traffic.total();
        let _ = writeln!(
            out,
            "The load generator's own control traffic (stats, publishing), {}, is kept out \
             of every figure above.",
            format_bytes(control as f64)
        );
        out
    }

    /// The HTML report, with every chart's SVG inline; reads the SVG files
    /// from `dir`.
    pub fn html(&self, dir: &Path) -> Result<String, ReportError> {
        let mut out = String::new();
        let title = escape_html(&self.title());
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
             <h1>{title}</h1>\n<p>{}</p>\n",
            escape_html(&self.lead())
        );
        let warnings = warnings(self.result);
        if !warnings.is_empty() {
            out.push_str(
                "<section class=\"warning\">\n<h2>⚠️ WARNING: THIS RESULT IS NOT CLEAN</h2>\n<ul>\n",
            );
            for warning in &warnings {
                let _ = writeln!(out, "<li>{}</li>", escape_html(warning));
            }
            out.push_str("</ul>\n</section>\n");
        }
        let _ = write!(
            out,
            "<h2>Summary</h2>\n{}<p>Bytes per event count both directions of every \
             connection, divided by the events delivered; latency is event creation to \
             client receipt.</p>\n",
            summary_table(self.result).to_html()
        );
        for note in run_notes(self.result) {
            let _ = writeln!(out, "<p><strong>Note:</strong> {}</p>", escape_html(&note));
        }
        for (title, text, table) in self.table_sections() {
            let _ = write!(
                out,
                "<h2>{}</h2>\n<p>{}</p>\n{}",
                escape_html(&title),
                escape_html(&text),
                table.to_html()
            );
        }
        let _ = write!(
            out,
            "<h2>Connections</h2>\n<p>{}</p>\n{}<h2>Charts</h2>\n",
            escape_html(CONNECTIONS_TEXT),
            connections_table(self.result).to_html()
        );
        for figure in self.figures {
            let svg = read_file(&dir.join(file_name(&figure.svg)))?;
            let svg = match svg.find("<svg") {
                Some(start) => &svg[start..],
                None => svg.as_str(),
            };
            let _ = write!(
                out,
                "<figure>\n{svg}\n<figcaption>{}</figcaption>\n</figure>\n",
                escape_html(&figure.caption)
            );
        }
        for note in self.skipped {
            let _ = writeln!(out, "<p><em>{}</em></p>", escape_html(note));
        }
        let _ = write!(
            out,
            "<h2>Bandwidth for 1,000 to 100,000 clients</h2>\n<p>{}</p>\n{}<p>{}</p>\n{}",
            escape_html(CLASSIC_TEXT),
            classic_model_table().to_html(),
            escape_html(MEASURED_TEXT),
            classic_bandwidth_table(self.result).to_html()
        );
        let _ = write!(
            out,
            "<h2>Scenario</h2>\n{}<h2>Machine and versions</h2>\n{}",
            scenario_table(self.result).to_html(),
            machine_table(self.result).to_html()
        );
        let _ = write!(
            out,
            "<p>The load generator's own control traffic (stats, publishing), {}, is kept \
             out of every figure above.</p>\n</body>\n</html>\n",
            escape_html(&format_bytes(self.result.control_traffic.total() as f64))
        );
        Ok(out)
    }
}

const STYLE: &str = "body{font-family:'DejaVu Sans',system-ui,sans-serif;max-width:1200px;\
margin:2em auto;padding:0 1em;color:#222}table{border-collapse:collapse;margin:1em 0;\
font-size:.9em}th,td{border:1px solid #ccc;padding:.25em .5em}th{background:#f3f3f3}\
td.r{text-align:right;font-variant-numeric:tabular-nums}td.l{text-align:left}\
figure{margin:1.5em 0}figure svg{max-width:100%;height:auto}figcaption{color:#555}\
.warning{border:4px solid #c00;background:#fee;padding:.5em 1em;margin:1em 0}\
.warning h2{color:#c00;margin-top:.3em}.warning li{font-weight:bold}";
