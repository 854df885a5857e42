//! Several server nodes as one target (`run --target URL1,URL2,...`): the
//! list as the flag gives it ([`parse_targets`]), where each client starts
//! and where it goes when its node is down ([`Nodes`]), as pure functions.
//!
//! Client `id` starts on node `id % n`, so every shard of a run (`--segment`)
//! spreads its clients the same way. A client whose connection attempt
//! fails (refused, reset: the node is down) tries the next node in the
//! list; one whose connection merely ended retries its own node first, so
//! a node that closed one connection keeps its clients. With nodes sharing
//! one stream (`serve --cluster`) every node has the same seqs, so the
//! client resumes from its cursor and misses nothing.

use std::net::SocketAddr;

use crate::target::parse_url;
use crate::{Error, Result};

/// A `--target` value: one URL, or several separated by commas (server
/// nodes sharing one stream), each with its address. Every URL has the
/// same scheme; none is empty or repeated.
pub fn parse_targets(list: &str) -> Result<Vec<(String, SocketAddr)>> {
    let bad = |why: String| Error::Scenario(format!("--target `{list}`: {why}"));
    let mut nodes: Vec<(String, SocketAddr)> = Vec::new();
    for url in list.split(',').map(str::trim) {
        if url.is_empty() {
            return Err(bad("an empty URL in the list".to_owned()));
        }
        let addr = parse_url(url).map_err(|e| bad(e.to_string()))?;
        if let Some((first, _)) = nodes.first()
            && scheme(first) != scheme(url)
        {
            return Err(bad(format!(
                "every node must have the same scheme: `{first}` and `{url}` differ"
            )));
        }
        if nodes.iter().any(|(_, a)| *a == addr) {
            return Err(bad(format!("{addr} is listed twice")));
        }
        nodes.push((url.to_owned(), addr));
    }
    Ok(nodes)
}

fn scheme(url: &str) -> &str {
    url.split_once("://").map_or("", |(s, _)| s)
}

/// How many nodes a `--target` value lists (1 for a single URL).
pub fn count(list: &str) -> usize {
    list.split(',').count()
}

/// The nodes a phase's clients spread over, by index into the target list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nodes {
    count: usize,
}

impl Nodes {
    /// `count` nodes (at least one).
    pub fn new(count: usize) -> Self {
        Nodes {
            count: count.max(1),
        }
    }

    /// The node client `id` starts on: `id % n`, the same in every shard.
    pub fn first_for(self, id: usize) -> usize {
        id % self.count
    }

    /// The node a client of `node` goes to when `node` is down: the next
    /// one in the list, the first after the last.
    pub fn next_after(self, node: usize) -> usize {
        (node + 1) % self.count
    }

    /// Where a client on `node` dials next after a failure: a failed
    /// connection attempt (the node refuses or resets: it is down) moves
    /// it on; a connection that ended on its own keeps it where it is.
    pub fn after_failure(self, node: usize, connect_failed: bool) -> usize {
        if connect_failed {
            self.next_after(node)
        } else {
            node
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_spread_round_robin_and_move_to_the_next_node() {
        let nodes = Nodes::new(3);
        let first: Vec<usize> = (0..7).map(|id| nodes.first_for(id)).collect();
        assert_eq!(first, [0, 1, 2, 0, 1, 2, 0]);
        assert_eq!(
            [0, 1, 2].map(|n| nodes.next_after(n)),
            [1, 2, 0],
            "the next in order, wrapping"
        );
        assert_eq!(nodes.after_failure(2, true), 0);
        assert_eq!(nodes.after_failure(2, false), 2);
        let one = Nodes::new(1);
        assert_eq!((one.first_for(5), one.next_after(0)), (0, 0));
        assert_eq!(Nodes::new(0), one);
    }

    #[test]
    fn a_target_list_parses_or_names_what_is_wrong() {
        let nodes = parse_targets("http://127.0.0.1:8001, http://127.0.0.1:8002").expect("list");
        assert_eq!(
            nodes,
            [
                (
                    "http://127.0.0.1:8001".to_owned(),
                    SocketAddr::from(([127, 0, 0, 1], 8001))
                ),
                (
                    "http://127.0.0.1:8002".to_owned(),
                    SocketAddr::from(([127, 0, 0, 1], 8002))
                ),
            ]
        );
        assert_eq!(count("http://a:1,http://b:2"), 2);
        for (bad, says) in [
            ("http://127.0.0.1:1,https://127.0.0.1:2", "same scheme"),
            ("http://127.0.0.1:1,", "empty URL"),
            ("http://127.0.0.1:1,http://127.0.0.1:1", "listed twice"),
            ("http://127.0.0.1:1,ftp://x:2", "must start with http"),
        ] {
            let err = parse_targets(bad).expect_err(bad).to_string();
            assert!(
                err.contains("--target") && err.contains(says),
                "{bad}: {err}"
            );
        }
    }
}
