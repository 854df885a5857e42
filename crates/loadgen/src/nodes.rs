//! Several server nodes as one target (`run --target URL1,URL2,...`, read
//! by [`crate::target::parse_targets`]): where each client starts and where
//! it goes when its node is down ([`Nodes`]), as pure functions.
//!
//! Client `id` starts on node `id % n`, so every shard of a run (`--segment`)
//! spreads its clients the same way. A client whose connection attempt
//! fails (refused, reset: the node is down) tries the next node in the
//! list; one whose connection merely ended retries its own node first, so
//! a node that closed one connection keeps its clients. With nodes sharing
//! one stream (`serve --cluster`) every node has the same seqs, so the
//! client resumes from its cursor and misses nothing.

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
}
