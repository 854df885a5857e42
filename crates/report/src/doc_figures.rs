//! Figures in the Markdown docs, written from the committed runs, so that no
//! figure in the README or `docs/` is typed by hand.
//!
//! Two markers, both HTML comments (invisible once rendered):
//!
//! - A table: `<!-- generated: NAME source=PATH [KEY=VALUE] -->`, the
//!   table, then `<!-- /generated -->` on a line of its own. NAME is one of
//!   [`TABLES`]; PATH a `results.json`, `peers.json` or `servers.json`; `phases` takes
//!   `columns=..`, `capacity-points` takes `points=..`, and `phases` and
//!   `phase-cost` select phases by `transport=..`, `tls=..` and the like
//!   (see [`doc_tables`]).
//! - A figure in prose: `<!--fig PATH EXPR FORMAT-->text<!--/fig-->`, e.g.
//!   `<!--fig bench-results/2026-11-25-reference/results.json
//!   phases[transport=ws].derived.bytes_per_event .1-->199.3<!--/fig-->`.
//!
//! PATH is relative to the repository root: a `results.json`, a `peers.json`
//! or a `.jsonl` file (read as an array of its lines). EXPR is a path into
//! that JSON (`a.b[2].c`; `[k=v]` keeps the list items whose `k` is `v`,
//! `[k!=v]` those whose `k` is not, `[k=v,j=w]` both (`k` may be
//! dotted: `[link.name=3g]`), `[*]` every item or field value), optionally
//! inside `min(..)`, `max(..)`, `sum(..)` or `count(..)`, and joined by
//! ` / `, ` * `, ` + ` or ` - ` to others or to numbers (left to right).
//! A path must end on one number unless an aggregate takes several.
//! FORMAT is one of `.N` (N decimals, thousands separated), `us` (a
//! latency in microseconds in the unit that suits it), `ms.N` (microseconds
//! as milliseconds), `bytes` (`30.4 kB`), `pct.N` (a fraction as percent).
//!
//! [`render`] rewrites every block from its source; the text outside the
//! markers is never touched, so writing twice changes nothing, and a check
//! is `render(doc) == doc`.
//!
//! # Layout
//! - this file: the markers and the figure expressions.
//! - [`doc_links`]: the relative links and the cited run folders of a doc,
//!   which `pushbench docs --check` resolves.
//! - [`doc_tables`]: the table kinds made for the docs (`phases`, `ramp`,
//!   `capacity-points`, `phase-cost`).

pub mod doc_links;
pub mod doc_tables;

pub use doc_links::{cited_runs, relative_links};

use std::collections::BTreeMap;

use pushbench_protocol::RunResult;
use pushbench_protocol::peer_results::PeersResult;
use pushbench_protocol::server_results::ServersResult;
use serde_json::Value;

use crate::number_format::{format_bytes, format_count, format_us};
use crate::table::Table;

/// The tables a `generated:` block may name, and what each shows.
pub const TABLES: [(&str, &str); 14] = [
    ("summary", "the run's summary table, one row per phase"),
    ("capacity", "the capacity search's highest sustained rates"),
    (
        "connections",
        "each phase's connection ramp and request rates",
    ),
    ("variants", "bytes per event by class, one row per variant"),
    ("classic-argument", "polling against pushing per variant"),
    ("peers", "pushbench beside its peers, as ratios"),
    (
        "nodes",
        "a run over server nodes: each node's connections, CPU and memory",
    ),
    (
        "servers",
        "`pushbench servers`: every technique and server (a servers.json)",
    ),
    (
        "servers-ratios",
        "`pushbench servers`: pushbench serve against each server, as ratios",
    ),
    (
        "servers-bytes",
        "`pushbench servers`: one technique's bytes per event by class (`transport=`)",
    ),
    (
        "phases",
        "one row per phase, the columns named by `columns=`",
    ),
    (
        "ramp",
        "connections accepted per second, per transport and client count",
    ),
    (
        "capacity-points",
        "a capacity search per transport at the points named by `points=`",
    ),
    (
        "phase-cost",
        "one phase's bytes per event by class, setup, latency and server cost",
    ),
];

/// Why a doc's figures could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    /// A marker that does not parse.
    #[error("line {line}: {message}")]
    Marker {
        /// The 1-based line of the marker.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// A source that exists but is not what the marker needs.
    #[error("line {line}: {source_path}: {message}")]
    Source {
        /// The 1-based line of the marker.
        line: usize,
        /// The source as the marker names it.
        source_path: String,
        /// What is wrong.
        message: String,
    },
}

/// A doc with its blocks rewritten.
#[derive(Debug, Default, PartialEq)]
pub struct Rendered {
    /// The doc's new text.
    pub text: String,
    /// Sources that could not be read, in order of first use: their blocks
    /// keep the text they had.
    pub missing: Vec<String>,
    /// Every source the doc's blocks name, in order of first use.
    pub sources: Vec<String>,
}

const TABLE_OPEN: &str = "<!-- generated:";
const TABLE_CLOSE: &str = "<!-- /generated -->";
const FIG_OPEN: &str = "<!--fig ";
const FIG_CLOSE: &str = "<!--/fig-->";

/// Rewrites every generated block of `doc`. `read` returns a source's text,
/// or `None` when it does not exist (its blocks are then left as they are
/// and the source is listed in [`Rendered::missing`]).
pub fn render(
    doc: &str,
    read: &mut dyn FnMut(&str) -> Option<String>,
) -> Result<Rendered, DocError> {
    let mut cache: BTreeMap<String, Option<Value>> = BTreeMap::new();
    let mut rendered = Rendered::default();
    let mut lines = doc.split_inclusive('\n').enumerate().peekable();
    while let Some((index, line)) = lines.next() {
        let line_no = index + 1;
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix(TABLE_OPEN) {
            let table_marker = parse_table_marker(rest, line_no)?;
            let source = &table_marker.source;
            let mut old_body = String::new();
            let mut closed = false;
            for (_, body_line) in lines.by_ref() {
                if body_line.trim() == TABLE_CLOSE {
                    closed = true;
                    rendered.text.push_str(line);
                    let value = load(source, line_no, read, &mut cache, &mut rendered)?;
                    match value {
                        Some(value) => {
                            rendered
                                .text
                                .push_str(&block(&table_marker, &value, line_no)?);
                        }
                        None => rendered.text.push_str(&old_body),
                    }
                    rendered.text.push_str(body_line);
                    break;
                }
                old_body.push_str(body_line);
            }
            if !closed {
                return Err(marker(
                    line_no,
                    "a generated block without `<!-- /generated -->`",
                ));
            }
        } else {
            render_figures(line, line_no, read, &mut cache, &mut rendered)?;
        }
    }
    Ok(rendered)
}

fn marker(line: usize, message: impl Into<String>) -> DocError {
    DocError::Marker {
        line,
        message: message.into(),
    }
}

fn source_error(line: usize, source: &str, message: impl Into<String>) -> DocError {
    DocError::Source {
        line,
        source_path: source.to_owned(),
        message: message.into(),
    }
}

/// A `generated:` marker: the table, its source and its other parameters.
struct TableMarker {
    name: String,
    source: String,
    params: BTreeMap<String, String>,
}

fn parse_table_marker(rest: &str, line: usize) -> Result<TableMarker, DocError> {
    let inner = rest
        .strip_suffix("-->")
        .ok_or_else(|| marker(line, "a generated marker must end with `-->` on its line"))?;
    let mut words = inner.split_whitespace();
    let name = words
        .next()
        .ok_or_else(|| marker(line, "a generated marker needs a table name"))?;
    if !TABLES.iter().any(|(known, _)| *known == name) {
        let names: Vec<&str> = TABLES.iter().map(|(known, _)| *known).collect();
        return Err(marker(
            line,
            format!("unknown table `{name}` (known: {})", names.join(", ")),
        ));
    }
    let mut params = BTreeMap::new();
    for word in words {
        let (key, value) = word
            .split_once('=')
            .ok_or_else(|| marker(line, format!("`{word}`: expected KEY=VALUE")))?;
        params.insert(key.to_owned(), value.to_owned());
    }
    let source = params
        .remove("source")
        .ok_or_else(|| marker(line, "a generated marker needs `source=PATH`"))?;
    // The keys each table needs, and those it may take besides.
    let (needs, may): (&[&str], &[&str]) = match name {
        "phases" => (&["columns"], &doc_tables::PHASE_KEYS),
        "capacity-points" => (&["points"], &[]),
        "phase-cost" => (&[], &doc_tables::PHASE_KEYS),
        "servers-bytes" => (&["transport"], &[]),
        _ => (&[], &[]),
    };
    if let Some(key) = needs.iter().find(|k| !params.contains_key(**k)) {
        return Err(marker(line, format!("table `{name}` needs `{key}=..`")));
    }
    if let Some(extra) = params
        .keys()
        .find(|k| !needs.contains(&k.as_str()) && !may.contains(&k.as_str()))
    {
        return Err(marker(line, format!("table `{name}` takes no `{extra}=`")));
    }
    Ok(TableMarker {
        name: name.to_owned(),
        source,
        params,
    })
}

fn load(
    source: &str,
    line: usize,
    read: &mut dyn FnMut(&str) -> Option<String>,
    cache: &mut BTreeMap<String, Option<Value>>,
    rendered: &mut Rendered,
) -> Result<Option<Value>, DocError> {
    if !rendered.sources.iter().any(|s| s == source) {
        rendered.sources.push(source.to_owned());
    }
    if let Some(value) = cache.get(source) {
        return Ok(value.clone());
    }
    let value = match read(source) {
        None => {
            rendered.missing.push(source.to_owned());
            None
        }
        Some(text) => Some(parse_source(source, &text).map_err(|m| source_error(line, source, m))?),
    };
    cache.insert(source.to_owned(), value.clone());
    Ok(value)
}

fn parse_source(source: &str, text: &str) -> Result<Value, String> {
    if source.ends_with(".jsonl") {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<Result<Vec<Value>, _>>()
            .map(Value::Array)
            .map_err(|e| e.to_string())
    } else {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }
}

/// The source as a run's results.
fn run_of(value: &Value, line: usize, source: &str) -> Result<RunResult, DocError> {
    serde_json::from_value::<RunResult>(value.clone())
        .map_err(|e| source_error(line, source, format!("not a results file: {e}")))
}

/// A generated block's Markdown.
fn block(table_marker: &TableMarker, value: &Value, line: usize) -> Result<String, DocError> {
    if table_marker.name == "phase-cost" {
        let run = run_of(value, line, &table_marker.source)?;
        let at_source = |m: String| source_error(line, &table_marker.source, m);
        let phase = doc_tables::select_phase(&run, &table_marker.params).map_err(at_source)?;
        return doc_tables::phase_cost(phase).map_err(at_source);
    }
    Ok(table(table_marker, value, line)?.to_markdown())
}

fn table(table_marker: &TableMarker, value: &Value, line: usize) -> Result<Table, DocError> {
    let (name, source) = (table_marker.name.as_str(), table_marker.source.as_str());
    let param = |key: &str| table_marker.params.get(key).map_or("", String::as_str);
    let run = || run_of(value, line, source);
    let absent = |what: &str| source_error(line, source, format!("the run has no {what}"));
    Ok(match name {
        "summary" => crate::summary_table(&run()?),
        "capacity" => crate::capacity_tables::capacity_table(&run()?)
            .ok_or_else(|| absent("capacity section"))?,
        "connections" => crate::capacity_tables::connections_table(&run()?),
        "nodes" => crate::node_tables::nodes_table(&run()?).ok_or_else(|| absent("nodes"))?,
        "variants" => crate::summary::variant_table(&run()?).ok_or_else(|| absent("variants"))?,
        "classic-argument" => crate::document::classic_argument_table(&run()?)
            .ok_or_else(|| absent("polling and pushing variants"))?,
        "peers" => {
            let peers = serde_json::from_value::<PeersResult>(value.clone())
                .map_err(|e| source_error(line, source, format!("not a peers file: {e}")))?;
            crate::peer_report::peers_table(&peers)
        }
        "servers" | "servers-ratios" | "servers-bytes" => {
            let servers = serde_json::from_value::<ServersResult>(value.clone())
                .map_err(|e| source_error(line, source, format!("not a servers file: {e}")))?;
            doc_tables::servers_block(name, &servers, param("transport"))
                .map_err(|m| marker(line, m))?
        }
        "phases" => {
            let mut filter = table_marker.params.clone();
            let columns = filter.remove("columns").unwrap_or_default();
            doc_tables::phases_table(&run()?, &columns, &filter).map_err(|m| marker(line, m))?
        }
        "ramp" => doc_tables::ramp_table(&run()?).map_err(|m| source_error(line, source, m))?,
        "capacity-points" => doc_tables::capacity_points_table(&run()?, param("points"))
            .map_err(|m| source_error(line, source, m))?,
        _ => return Err(marker(line, format!("unknown table `{name}`"))),
    })
}

fn render_figures(
    line: &str,
    line_no: usize,
    read: &mut dyn FnMut(&str) -> Option<String>,
    cache: &mut BTreeMap<String, Option<Value>>,
    rendered: &mut Rendered,
) -> Result<(), DocError> {
    let mut rest = line;
    while let Some(start) = rest.find(FIG_OPEN) {
        let (before, from_marker) = rest.split_at(start);
        rendered.text.push_str(before);
        let end_open = from_marker
            .find("-->")
            .ok_or_else(|| marker(line_no, "a figure marker without `-->`"))?;
        let spec = &from_marker[FIG_OPEN.len()..end_open];
        let after_open = &from_marker[end_open + 3..];
        let close = after_open
            .find(FIG_CLOSE)
            .ok_or_else(|| marker(line_no, "a figure without `<!--/fig-->` on the same line"))?;
        let old = &after_open[..close];
        let figure = Figure::parse(spec).map_err(|m| marker(line_no, m))?;
        rendered.text.push_str(&from_marker[..end_open + 3]);
        match load(&figure.source, line_no, read, cache, rendered)? {
            Some(value) => {
                let number = figure
                    .expr
                    .eval(&value)
                    .map_err(|m| source_error(line_no, &figure.source, format!("`{spec}`: {m}")))?;
                rendered.text.push_str(&figure.format.apply(number));
            }
            None => rendered.text.push_str(old),
        }
        rendered.text.push_str(FIG_CLOSE);
        rest = &after_open[close + FIG_CLOSE.len()..];
    }
    rendered.text.push_str(rest);
    Ok(())
}

/// One `<!--fig PATH EXPR FORMAT-->`.
#[derive(Debug, PartialEq)]
struct Figure {
    source: String,
    expr: Expr,
    format: Format,
}

impl Figure {
    fn parse(spec: &str) -> Result<Self, String> {
        let words: Vec<&str> = spec.split_whitespace().collect();
        let [source, expr @ .., format] = words.as_slice() else {
            return Err(format!("`{spec}`: a figure needs PATH EXPR FORMAT"));
        };
        if expr.is_empty() {
            return Err(format!("`{spec}`: a figure needs PATH EXPR FORMAT"));
        }
        Ok(Figure {
            source: (*source).to_owned(),
            expr: Expr::parse(expr)?,
            format: Format::parse(format)?,
        })
    }
}

/// How a figure's number is written.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Format {
    Decimals(usize),
    Latency,
    Millis(usize),
    Bytes,
    Percent(usize),
}

impl Format {
    fn parse(text: &str) -> Result<Self, String> {
        let decimals = |digits: &str| {
            digits
                .parse::<usize>()
                .ok()
                .filter(|d| *d <= 6)
                .ok_or_else(|| format!("`{text}`: decimals must be 0 to 6"))
        };
        match text {
            "us" => Ok(Format::Latency),
            "bytes" => Ok(Format::Bytes),
            _ => {
                if let Some(d) = text.strip_prefix("ms.") {
                    Ok(Format::Millis(decimals(d)?))
                } else if let Some(d) = text.strip_prefix("pct.") {
                    Ok(Format::Percent(decimals(d)?))
                } else if let Some(d) = text.strip_prefix('.') {
                    Ok(Format::Decimals(decimals(d)?))
                } else {
                    Err(format!(
                        "unknown format `{text}` (`.N`, `us`, `ms.N`, `bytes`, `pct.N`)"
                    ))
                }
            }
        }
    }

    fn apply(self, value: f64) -> String {
        match self {
            Format::Decimals(d) => grouped(value, d),
            Format::Latency => format_us(value),
            Format::Millis(d) => grouped(value / 1_000.0, d),
            Format::Bytes => format_bytes(value),
            Format::Percent(d) => grouped(value * 100.0, d),
        }
    }
}

/// `value` with `decimals` decimals and thousands separators: `1,113.0`.
fn grouped(value: f64, decimals: usize) -> String {
    let text = format!("{:.decimals$}", value.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let whole = whole
        .parse::<u64>()
        .map_or_else(|_| whole.to_owned(), format_count);
    let sign = if value < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    if fraction.is_empty() {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{fraction}")
    }
}

/// Operands joined left to right by arithmetic.
#[derive(Debug, PartialEq)]
struct Expr {
    first: Operand,
    rest: Vec<(char, Operand)>,
}

impl Expr {
    fn parse(words: &[&str]) -> Result<Self, String> {
        let first = Operand::parse(words[0])?;
        let mut rest = Vec::new();
        for pair in words[1..].chunks(2) {
            let [op, operand] = pair else {
                return Err(format!(
                    "`{}`: an operator needs an operand after it",
                    words.join(" ")
                ));
            };
            let op = match *op {
                "/" => '/',
                "*" => '*',
                "+" => '+',
                "-" => '-',
                other => return Err(format!("`{other}`: expected one of / * + -")),
            };
            rest.push((op, Operand::parse(operand)?));
        }
        Ok(Expr { first, rest })
    }

    fn eval(&self, root: &Value) -> Result<f64, String> {
        let mut value = self.first.eval(root)?;
        for (op, operand) in &self.rest {
            let right = operand.eval(root)?;
            value = match op {
                '/' if right == 0.0 => return Err("division by zero".to_owned()),
                '/' => value / right,
                '*' => value * right,
                '+' => value + right,
                _ => value - right,
            };
        }
        Ok(value)
    }
}

#[derive(Debug, PartialEq)]
enum Aggregate {
    One,
    Min,
    Max,
    Sum,
    Count,
}

#[derive(Debug, PartialEq)]
enum Operand {
    Number(f64),
    Path(Aggregate, Vec<Step>),
}

impl Operand {
    fn parse(word: &str) -> Result<Self, String> {
        if let Ok(number) = word.parse::<f64>() {
            return Ok(Operand::Number(number));
        }
        for (name, aggregate) in [
            ("min(", Aggregate::Min),
            ("max(", Aggregate::Max),
            ("sum(", Aggregate::Sum),
            ("count(", Aggregate::Count),
        ] {
            if let Some(inner) = word.strip_prefix(name) {
                let inner = inner
                    .strip_suffix(')')
                    .ok_or_else(|| format!("`{word}`: no closing parenthesis"))?;
                return Ok(Operand::Path(aggregate, parse_path(inner)?));
            }
        }
        Ok(Operand::Path(Aggregate::One, parse_path(word)?))
    }

    fn eval(&self, root: &Value) -> Result<f64, String> {
        let (aggregate, steps) = match self {
            Operand::Number(n) => return Ok(*n),
            Operand::Path(aggregate, steps) => (aggregate, steps),
        };
        let values = walk(root, steps);
        if *aggregate == Aggregate::Count {
            return Ok(values.len() as f64);
        }
        let numbers = values
            .iter()
            .map(|v| v.as_f64().ok_or_else(|| format!("{v} is not a number")))
            .collect::<Result<Vec<f64>, String>>()?;
        match (aggregate, numbers.as_slice()) {
            (_, []) => Err("the path matches nothing".to_owned()),
            (Aggregate::One, [one]) => Ok(*one),
            (Aggregate::One, many) => Err(format!(
                "the path matches {} values; use min, max or sum",
                many.len()
            )),
            (Aggregate::Min, all) => Ok(all.iter().copied().fold(f64::INFINITY, f64::min)),
            (Aggregate::Max, all) => Ok(all.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
            (_, all) => Ok(all.iter().sum()),
        }
    }
}

/// One step of a path: a key, or a selection from a list.
#[derive(Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
    All,
    Where(Vec<(String, bool, String)>),
}

fn parse_path(text: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let end = after
                .find(']')
                .ok_or_else(|| format!("`{text}`: `[` without `]`"))?;
            steps.push(parse_selector(&after[..end]).map_err(|m| format!("`{text}`: {m}"))?);
            rest = &after[end + 1..];
        } else {
            let rest_key = rest.strip_prefix('.').unwrap_or(rest);
            let end = rest_key.find(['.', '[']).unwrap_or(rest_key.len());
            if end == 0 {
                return Err(format!("`{text}`: an empty key"));
            }
            steps.push(Step::Key(rest_key[..end].to_owned()));
            rest = &rest_key[end..];
        }
    }
    if steps.is_empty() {
        return Err("an empty path".to_owned());
    }
    Ok(steps)
}

fn parse_selector(text: &str) -> Result<Step, String> {
    if text == "*" {
        return Ok(Step::All);
    }
    if let Ok(index) = text.parse::<usize>() {
        return Ok(Step::Index(index));
    }
    text.split(',')
        .map(|condition| {
            let (key, equal, value) = match condition.split_once("!=") {
                Some((key, value)) => (key, false, value),
                None => {
                    let (key, value) = condition.split_once('=').ok_or_else(|| {
                        format!("`{condition}`: expected KEY=VALUE or KEY!=VALUE")
                    })?;
                    (key, true, value)
                }
            };
            Ok((key.to_owned(), equal, value.to_owned()))
        })
        .collect::<Result<Vec<_>, String>>()
        .map(Step::Where)
}

/// Whether a JSON value reads as `text`: strings as themselves, numbers by
/// value (`20` is `20.0`), booleans and null by name; absent as `null`.
fn value_is(value: Option<&Value>, text: &str) -> bool {
    match value {
        None | Some(Value::Null) => text == "null",
        Some(Value::String(s)) => s == text,
        Some(Value::Number(n)) => text.parse::<f64>().ok() == n.as_f64(),
        Some(Value::Bool(b)) => text == if *b { "true" } else { "false" },
        // Lists and objects never equal a selector's text.
        Some(_) => false,
    }
}

fn walk<'a>(root: &'a Value, steps: &[Step]) -> Vec<&'a Value> {
    let mut current = vec![root];
    for step in steps {
        current = current
            .into_iter()
            .flat_map(|value| -> Vec<&Value> {
                match step {
                    Step::Key(key) => value.get(key).into_iter().collect(),
                    Step::Index(index) => value.get(index).into_iter().collect(),
                    Step::All => match value {
                        Value::Array(items) => items.iter().collect(),
                        Value::Object(fields) => fields.values().collect(),
                        _ => Vec::new(),
                    },
                    Step::Where(conditions) => value
                        .as_array()
                        .map(|items| {
                            items
                                .iter()
                                .filter(|item| {
                                    conditions.iter().all(|(key, equal, text)| {
                                        // `link.name=3g`: a dotted key reads a nested field.
                                        let field =
                                            item.pointer(&format!("/{}", key.replace('.', "/")));
                                        value_is(field, text) == *equal
                                    })
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                }
            })
            .collect();
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: &str = r#"{"phases":[
        {"transport":"sse","rate":20.0,"derived":{"bytes_per_event":217.04},"latency_us":{"p50":619}},
        {"transport":"ws","rate":20.0,"derived":{"bytes_per_event":199.3},"latency_us":{"p50":810}},
        {"transport":"short-poll","rate":20.0,"derived":{"bytes_per_event":1235.24},"latency_us":{"p50":127487}}
    ]}"#;

    fn render_with(doc: &str, source: Option<&str>) -> Result<Rendered, DocError> {
        render(doc, &mut |path| {
            assert_eq!(path, "bench-results/x/results.json");
            source.map(str::to_owned)
        })
    }

    #[test]
    fn figures_are_rewritten_from_their_source() {
        let doc = "WebSocket <!--fig bench-results/x/results.json phases[transport=ws].derived.bytes_per_event .1-->1<!--/fig--> B, \
                   polls <!--fig bench-results/x/results.json phases[transport=short-poll].derived.bytes_per_event / phases[transport=ws].derived.bytes_per_event .2-->?<!--/fig-->x, \
                   p50 <!--fig bench-results/x/results.json max(phases[transport!=short-poll].latency_us.p50) us-->?<!--/fig--> \
                   of <!--fig bench-results/x/results.json count(phases[*]) .0-->?<!--/fig--> \
                   poll <!--fig bench-results/x/results.json phases[transport=short-poll,rate=20].derived.bytes_per_event .0-->?<!--/fig-->\n";
        let rendered = render_with(doc, Some(RUN)).expect("renders");
        assert_eq!(
            rendered.text,
            "WebSocket <!--fig bench-results/x/results.json phases[transport=ws].derived.bytes_per_event .1-->199.3<!--/fig--> B, \
             polls <!--fig bench-results/x/results.json phases[transport=short-poll].derived.bytes_per_event / phases[transport=ws].derived.bytes_per_event .2-->6.20<!--/fig-->x, \
             p50 <!--fig bench-results/x/results.json max(phases[transport!=short-poll].latency_us.p50) us-->810 µs<!--/fig--> \
             of <!--fig bench-results/x/results.json count(phases[*]) .0-->3<!--/fig--> \
             poll <!--fig bench-results/x/results.json phases[transport=short-poll,rate=20].derived.bytes_per_event .0-->1,235<!--/fig-->\n"
        );
        assert!(rendered.missing.is_empty());
        assert_eq!(rendered.sources, ["bench-results/x/results.json"]);
        // Writing twice changes nothing.
        assert_eq!(
            render_with(&rendered.text, Some(RUN))
                .expect("renders")
                .text,
            rendered.text
        );
    }

    #[test]
    fn a_missing_source_leaves_its_blocks_as_they_are() {
        let doc = "a <!--fig bench-results/x/results.json phases[0].rate .0-->(pending)<!--/fig-->\n\
                   <!-- generated: summary source=bench-results/x/results.json -->\nold\n<!-- /generated -->\n";
        let rendered = render_with(doc, None).expect("renders");
        assert_eq!(rendered.text, doc);
        assert_eq!(rendered.missing, ["bench-results/x/results.json"]);
    }

    #[test]
    fn bad_markers_and_paths_are_named() {
        let bad = [
            "<!--fig bench-results/x/results.json phases[transport=ws].nope .1-->1<!--/fig-->",
            "<!--fig bench-results/x/results.json phases[*].rate .1-->1<!--/fig-->",
            "<!--fig bench-results/x/results.json phases[0].rate zz-->1<!--/fig-->",
            "<!--fig bench-results/x/results.json phases[0].rate .1-->1",
            "<!-- generated: nope source=bench-results/x/results.json -->\n<!-- /generated -->",
            "<!-- generated: summary source=bench-results/x/results.json -->\nno end",
            "<!-- generated: phases source=bench-results/x/results.json -->\n<!-- /generated -->",
            "<!-- generated: summary source=bench-results/x/results.json columns=p50 -->\n<!-- /generated -->",
            "<!-- generated: ramp bench-results/x/results.json -->\n<!-- /generated -->",
            "<!-- generated: phase-cost source=bench-results/x/results.json -->\n<!-- /generated -->",
            "<!-- generated: phase-cost source=bench-results/x/results.json colour=red -->\n<!-- /generated -->",
            "<!-- generated: phase-cost source=bench-results/x/results.json rate=20 -->\n<!-- /generated -->",
        ];
        for doc in bad {
            let error = render_with(doc, Some(RUN)).expect_err("the marker is refused");
            assert!(error.to_string().starts_with("line "), "{doc}: {error}");
        }
    }

    #[test]
    fn jsonl_sources_read_as_arrays() {
        let mut read = |_: &str| {
            Some("{\"cookie\":256,\"sent\":74.2}\n{\"cookie\":0,\"sent\":73.0}\n".to_owned())
        };
        let doc = "<!--fig c.jsonl [cookie=256].sent .0-->?<!--/fig-->";
        assert_eq!(
            render(doc, &mut read).expect("renders").text,
            "<!--fig c.jsonl [cookie=256].sent .0-->74<!--/fig-->"
        );
        let doc = "<!--fig c.jsonl sum([0][*]) - [0].cookie .1-->?<!--/fig-->";
        assert_eq!(
            render(doc, &mut read).expect("renders").text,
            "<!--fig c.jsonl sum([0][*]) - [0].cookie .1-->74.2<!--/fig-->"
        );
    }

    #[test]
    fn formats_write_numbers_as_the_docs_do() {
        assert_eq!(
            Format::parse(".1").expect("renders").apply(1113.04),
            "1,113.0"
        );
        assert_eq!(
            Format::parse(".0").expect("renders").apply(2_323_341.2),
            "2,323,341"
        );
        assert_eq!(
            Format::parse("ms.2").expect("renders").apply(3_340.0),
            "3.34"
        );
        assert_eq!(Format::parse("us").expect("renders").apply(868.0), "868 µs");
        assert_eq!(
            Format::parse("bytes").expect("renders").apply(30_392.0),
            "30.4 kB"
        );
        assert_eq!(Format::parse("pct.0").expect("renders").apply(0.93), "93");
        assert_eq!(grouped(-0.04, 1), "0.0");
        assert!(Format::parse("ms.9").is_err());
    }
}
