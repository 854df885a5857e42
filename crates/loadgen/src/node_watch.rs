//! A phase's view of its server nodes' `/stats` (`NodeWatch`): one
//! control client and one `Outages` per node. With one node it is that
//! node's view, unchanged; with several (`run --target URL1,URL2,...`)
//! every node is asked, their answers are combined ([`combine`]: the
//! cursor is the highest, the counts are summed) and each answer is kept
//! in the combined sample, so the phase's server figures are made per node
//! ([`cluster_cost`]). A node that stays down past the outage grace is
//! recorded in its own outage while the others answer; the run gives up
//! only when none does.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::future::join_all;
use pushbench_protocol::results::{NodeCost, Outage, ServerCost};
use pushbench_protocol::server_cost::us_per_event;

use crate::control_client::{ControlClient, ProcessStats, Stats};
use crate::outages::Outages;
use crate::target::ServerHandle;
use crate::{Error, Result};

/// How often `/stats` is asked again while no node answers.
const OUTAGE_RETRY: Duration = Duration::from_millis(250);

/// One control client and its outages per node.
#[derive(Debug)]
pub(crate) struct NodeWatch<'a> {
    nodes: Vec<(&'a ControlClient, Outages)>,
}

impl<'a> NodeWatch<'a> {
    /// The watch over `controls` (one per node, at least one), each node
    /// unreachable for at most `grace` before it counts as gone.
    pub(crate) fn new(controls: &'a [ControlClient], grace: Duration) -> Self {
        NodeWatch {
            nodes: controls
                .iter()
                .map(|c| (c, Outages::new(grace, controls.len() > 1)))
                .collect(),
        }
    }

    /// `/stats`, asked again every [`OUTAGE_RETRY`] while no node answers,
    /// until one does or every node's grace runs out.
    pub(crate) async fn stats(&mut self, server: &mut ServerHandle) -> Result<Stats> {
        loop {
            if let Some(stats) = self.try_stats(server).await? {
                return Ok(stats);
            }
            tokio::time::sleep(OUTAGE_RETRY).await;
        }
    }

    /// One `/stats` call per node: with one node, its answer (`None`
    /// within its grace); with several, the answers [`combine`]d, `None`
    /// when none answered, an error when every node is past its grace.
    pub(crate) async fn try_stats(&mut self, server: &mut ServerHandle) -> Result<Option<Stats>> {
        if let [(control, outages)] = self.nodes.as_mut_slice() {
            return outages.try_stats(control, server).await;
        }
        if let Some(reason) = server.exited() {
            return Err(Error::ServerDied(reason));
        }
        let asked = join_all(
            self.nodes
                .iter_mut()
                .map(|(control, outages)| outages.try_node_stats(control)),
        )
        .await;
        let mut answers = Vec::with_capacity(asked.len());
        let mut gone = None;
        for answer in asked {
            match answer {
                Ok(stats) => answers.push(stats),
                Err(e @ Error::ServerDied(_)) => {
                    gone.get_or_insert(e);
                    answers.push(None);
                }
                Err(e) => return Err(e),
            }
        }
        if answers.iter().all(Option::is_none) {
            return match gone {
                Some(e) if self.nodes.iter().all(|(_, o)| o.past_grace()) => Err(e),
                _ => Ok(None),
            };
        }
        Ok(Some(combine(answers)))
    }

    /// The outages of every node together: failures and restarts summed,
    /// the longest the longest.
    pub(crate) fn summary(&self) -> Outage {
        let mut all = Outage::default();
        for (_, outages) in &self.nodes {
            let node = outages.summary();
            all.stats_failures += node.stats_failures;
            all.longest_s = all.longest_s.max(node.longest_s);
            all.server_restarts += node.server_restarts;
        }
        all
    }

    /// Each node's outages, in node order.
    pub(crate) fn per_node(&self) -> Vec<Outage> {
        self.nodes.iter().map(|(_, o)| o.summary()).collect()
    }
}

/// The nodes' answers as one `/stats` (at least one answered): the
/// highest cursor (the nodes share one stream), counts and process cost
/// summed, routes summed per route, the first generator; each answer kept
/// in [`Stats::nodes`], in node order.
pub fn combine(answers: Vec<Option<Stats>>) -> Stats {
    let answered = || answers.iter().flatten();
    let mut transports = BTreeMap::new();
    for stats in answered() {
        for (name, route) in &stats.transports {
            let sum: &mut crate::control_client::RouteStats =
                transports.entry(name.clone()).or_default();
            sum.connections_open += route.connections_open;
            sum.connections_total += route.connections_total;
            sum.events_delivered += route.events_delivered;
            sum.bytes_read += route.bytes_read;
            sum.bytes_written += route.bytes_written;
        }
    }
    Stats {
        last_seq: answered().map(|s| s.last_seq).max().unwrap_or(0),
        events_published: answered().map(|s| s.events_published).max().unwrap_or(0),
        slow_consumer_drops: answered().map(|s| s.slow_consumer_drops).sum(),
        connections_open: answered().map(|s| s.connections_open).sum(),
        // No one process: the cost is made per node (`cluster_cost`).
        started_us: 0,
        process: ProcessStats {
            cpu_seconds: answered().map(|s| s.process.cpu_seconds).sum(),
            rss_bytes: answered().map(|s| s.process.rss_bytes).sum(),
        },
        generator: answered().find_map(|s| s.generator),
        transports,
        connections: answered().flat_map(|s| s.connections.clone()).collect(),
        nodes: answers,
    }
}

/// The server cost of a phase against several nodes (`urls`), from the
/// combined samples of its window (`samples`, each with its nodes'
/// answers) and `idle` (before the clients connected): each node's own
/// CPU (across its restarts), RSS and connections of `route` (all its
/// connections when it does not count per route), as it last said;
/// `outages` per node. The sums make the phase's figures; the slow
/// consumer drops are the caller's (`slow_consumer_drops`).
pub fn cluster_cost(
    urls: &[String],
    route: &str,
    idle: &Stats,
    samples: &[Stats],
    outages: &[Outage],
    delivered: u64,
    slow_consumer_drops: u64,
) -> ServerCost {
    let nodes: Vec<NodeCost> = urls
        .iter()
        .enumerate()
        .map(|(i, url)| {
            let said: Vec<Stats> = samples
                .iter()
                .filter_map(|s| s.nodes.get(i).cloned().flatten())
                .collect();
            let rss_idle = idle
                .nodes
                .get(i)
                .and_then(Option::as_ref)
                .map_or(0, |s| s.process.rss_bytes);
            let rss_max = said.iter().map(|s| s.process.rss_bytes).max().unwrap_or(0);
            let connections_open = said.last().map_or(0, |last| {
                match last.transports.get(route).map(|r| r.connections_open) {
                    Some(n) if n > 0 => n,
                    _ => last.connections_open,
                }
            });
            NodeCost {
                url: url.clone(),
                cpu_seconds: cpu_across_restarts(&said),
                rss_idle_bytes: rss_idle,
                rss_max_bytes: rss_max,
                rss_per_connection_bytes: per_connection(rss_max, rss_idle, connections_open),
                connections_open,
                outage: outages.get(i).cloned().unwrap_or_default(),
            }
        })
        .collect();
    let cpu_seconds: f64 = nodes.iter().map(|n| n.cpu_seconds).sum();
    let rss_idle_bytes = nodes.iter().map(|n| n.rss_idle_bytes).sum();
    let rss_max_bytes = nodes.iter().map(|n| n.rss_max_bytes).sum();
    let connections_open = nodes.iter().map(|n| n.connections_open).sum();
    ServerCost {
        cpu_seconds,
        cpu_us_per_event: us_per_event(cpu_seconds, delivered),
        rss_idle_bytes,
        rss_max_bytes,
        rss_per_connection_bytes: per_connection(rss_max_bytes, rss_idle_bytes, connections_open),
        connections_open,
        slow_consumer_drops,
        nodes,
    }
}

/// `(max - idle) / connections`, 0 without connections.
fn per_connection(rss_max: u64, rss_idle: u64, connections: u64) -> f64 {
    if connections > 0 {
        rss_max.saturating_sub(rss_idle) as f64 / connections as f64
    } else {
        0.0
    }
}

/// The server's CPU seconds over consecutive `/stats` samples, summed per
/// server process: a sample from a restarted process (another
/// `started_us`) counts its own CPU since it started, since the old
/// process's counter is gone. What a killed process spent after its last
/// sample cannot be known and is not counted.
pub fn cpu_across_restarts(samples: &[Stats]) -> f64 {
    samples
        .windows(2)
        .map(|pair| {
            let (a, b) = (&pair[0], &pair[1]);
            if a.started_us == b.started_us {
                (b.process.cpu_seconds - a.process.cpu_seconds).max(0.0)
            } else {
                b.process.cpu_seconds
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control_client::RouteStats;

    fn sample(started_us: u64, cpu_seconds: f64) -> Stats {
        Stats {
            started_us,
            process: ProcessStats {
                cpu_seconds,
                rss_bytes: 0,
            },
            ..Stats::default()
        }
    }

    #[test]
    fn server_cpu_is_summed_per_process_across_a_restart() {
        let samples = [
            sample(1, 10.0),
            sample(1, 10.5),
            sample(2, 0.25),
            sample(2, 0.75),
        ];
        assert!((cpu_across_restarts(&samples) - 1.25).abs() < 1e-9);
        assert_eq!(cpu_across_restarts(&samples[..1]), 0.0);
    }

    /// A node's `/stats`: cursor, CPU, RSS and open WebSocket connections.
    fn node(last_seq: u64, cpu: f64, rss: u64, ws: u64) -> Stats {
        Stats {
            last_seq,
            started_us: 7,
            connections_open: ws,
            process: ProcessStats {
                cpu_seconds: cpu,
                rss_bytes: rss,
            },
            transports: BTreeMap::from([(
                "ws".to_owned(),
                RouteStats {
                    connections_open: ws,
                    ..RouteStats::default()
                },
            )]),
            ..Stats::default()
        }
    }

    #[test]
    fn answers_combine_to_the_highest_cursor_and_summed_counts() {
        let all = combine(vec![
            Some(node(10, 1.0, 100, 3)),
            None,
            Some(node(12, 2.0, 50, 4)),
        ]);
        assert_eq!(all.last_seq, 12);
        assert_eq!(all.connections_open, 7);
        assert_eq!(all.transports["ws"].connections_open, 7);
        assert_eq!(all.process.rss_bytes, 150);
        assert_eq!(all.nodes.len(), 3);
        assert!(all.nodes[1].is_none());
    }

    #[test]
    fn the_cost_is_made_per_node_and_a_dead_node_gives_what_it_last_said() {
        let urls = ["http://a:1".to_owned(), "http://b:2".to_owned()];
        let idle = combine(vec![
            Some(node(0, 0.0, 1000, 0)),
            Some(node(0, 0.0, 2000, 0)),
        ]);
        let samples = [
            combine(vec![
                Some(node(1, 1.0, 1500, 5)),
                Some(node(1, 3.0, 2600, 6)),
            ]),
            // Node b is down from here on.
            combine(vec![Some(node(2, 1.5, 1800, 9)), None]),
            combine(vec![Some(node(3, 2.0, 1900, 10)), None]),
        ];
        let outages = [
            Outage::default(),
            Outage {
                stats_failures: 2,
                longest_s: 0.5,
                server_restarts: 0,
            },
        ];
        let cost = cluster_cost(&urls, "ws", &idle, &samples, &outages, 1000, 4);
        let [a, b] = &cost.nodes[..] else {
            panic!("two nodes: {:?}", cost.nodes)
        };
        assert_eq!(
            (a.cpu_seconds, a.rss_max_bytes, a.connections_open),
            (1.0, 1900, 10)
        );
        assert_eq!(a.rss_per_connection_bytes, 90.0);
        // b's CPU over its one sample in the window is none; it said 6
        // connections and 2600 bytes last.
        assert_eq!(
            (b.cpu_seconds, b.rss_max_bytes, b.connections_open),
            (0.0, 2600, 6)
        );
        assert_eq!(b.outage.stats_failures, 2);
        assert_eq!(cost.connections_open, 16);
        assert_eq!((cost.rss_idle_bytes, cost.rss_max_bytes), (3000, 4500));
        assert_eq!(cost.rss_per_connection_bytes, 1500.0 / 16.0);
        assert_eq!(cost.cpu_us_per_event, 1000.0);
        assert_eq!(cost.slow_consumer_drops, 4);
    }
}
