//! The server nodes of a run against several (`run --target URL1,URL2,...`):
//! one row per phase and node, from each node's own `/stats`
//! (`server.nodes`), and the warning when a node was unreachable.

use pushbench_protocol::RunResult;
use pushbench_protocol::results::PhaseResult;

use crate::number_format::{format_bytes, format_count};
use crate::table::Table;
use crate::variant_labels::phase_label;

/// What the server-nodes table says above it.
pub const NODES_TEXT: &str = "Each server node's own figures, from its own /stats: the \
connections it held at the end of the window (a node that went down: when it last \
answered), its CPU and memory, and how long it could not be reached. The summary's server \
figures are their sums; moved reconnects are clients that resumed on another node.";

/// One row per phase and node; `None` when the run had one server.
pub fn nodes_table(result: &RunResult) -> Option<Table> {
    if result.phases.iter().all(|p| p.server.nodes.is_empty()) {
        return None;
    }
    let mut table = Table::new([
        "phase",
        "node",
        "connections",
        "CPU s",
        "RSS max",
        "RSS/conn",
        "unreachable s",
        "moved reconnects",
    ]);
    for phase in &result.phases {
        let label = phase_label(result, phase);
        for (i, node) in phase.server.nodes.iter().enumerate() {
            table.push([
                if i == 0 { label.clone() } else { String::new() },
                node.url.clone(),
                format_count(node.connections_open),
                format!("{:.2}", node.cpu_seconds),
                format_bytes(node.rss_max_bytes as f64),
                format_bytes(node.rss_per_connection_bytes),
                format!("{:.1}", node.outage.longest_s),
                if i == 0 {
                    format_count(phase.connections.moved_reconnects)
                } else {
                    String::new()
                },
            ]);
        }
    }
    Some(table)
}

/// The nodes of `phase` that could not be reached, one sentence, or
/// `None` when every node always answered (or the run had one server).
pub fn unreachable_nodes(label: &str, phase: &PhaseResult) -> Option<String> {
    let down: Vec<String> = phase
        .server
        .nodes
        .iter()
        .filter(|n| n.outage.stats_failures > 0 || n.outage.server_restarts > 0)
        .map(|n| format!("{} for up to {:.1} s", n.url, n.outage.longest_s))
        .collect();
    if down.is_empty() {
        return None;
    }
    Some(format!(
        "{label}: server nodes unreachable: {}; {} client reconnects moved to another node.",
        down.join(", "),
        format_count(phase.connections.moved_reconnects)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pushbench_protocol::results::{NodeCost, Outage};

    #[test]
    fn a_row_per_node_and_a_warning_naming_the_down_one() {
        let mut result: RunResult =
            serde_json::from_str(include_str!("../tests/fixtures/results.json"))
                .expect("the fixture");
        assert!(nodes_table(&result).is_none(), "one server: no table");
        let phase = &mut result.phases[0];
        phase.connections.moved_reconnects = 4;
        phase.server.nodes = vec![
            NodeCost {
                url: "http://127.0.0.1:1".into(),
                connections_open: 7,
                ..NodeCost::default()
            },
            NodeCost {
                url: "http://127.0.0.1:2".into(),
                outage: Outage {
                    stats_failures: 3,
                    longest_s: 1.25,
                    server_restarts: 0,
                },
                ..NodeCost::default()
            },
        ];
        let table = nodes_table(&result).expect("a table");
        assert_eq!(table.rows.len(), 2);
        assert_eq!(table.rows[0][2], "7");
        assert_eq!(table.rows[1][6], "1.2");
        let warning = unreachable_nodes("ws", &result.phases[0]).expect("a warning");
        assert_eq!(
            warning,
            "ws: server nodes unreachable: http://127.0.0.1:2 for up to 1.2 s; \
             4 client reconnects moved to another node."
        );
    }
}
