//! A server of another kind as the phases see it: what stands in for
//! pushbench's `/stats` ([`ObservedTarget::stats`]).
//!
//! Such a server assigns no seqs and reports nothing, so the load
//! generator publishes the events itself ([`Publisher`]): the last seq it
//! accepted is the cursor a phase starts and ends on, and the rate it
//! publishes is the phase's. Its cost is read from `/proc`: the process
//! tree of `--target-pid`, or of the process listening on the target's
//! port (the one whose parent does not also hold the socket, so nginx's
//! master with its workers, Pushpin's runner with its processes). A target
//! whose processes this machine cannot see (remote, or in a namespace of
//! its own) reports zero cost, and the run says so once.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pushbench_net::process_tree::{established_to, listening_pid, sample_tree};
use pushbench_protocol::{Scenario, TargetKind};
use tokio::net::TcpStream;

use crate::publisher::{PublishPlan, Publisher};
use crate::server_stats::{Generator, ProcessStats, Stats};
use crate::{Error, Result};

/// How long the liveness check of a `/stats` stand-in may take.
const REACHABLE_TIMEOUT: Duration = Duration::from_secs(2);

/// A server of another kind, published into and observed from `/proc`.
#[derive(Debug)]
pub struct ObservedTarget {
    /// The kind.
    pub kind: TargetKind,
    /// Publishes the run's events into it.
    pub publisher: Publisher,
    /// The root of its process tree, when this machine can see it.
    pub pid: Option<u32>,
    payload: usize,
    topics: u32,
    burst: u32,
    warned_gone: AtomicBool,
}

impl ObservedTarget {
    /// The `kind` server at `addr` (where its publish API listens), its
    /// processes rooted at `pid` or found by its port, published into with
    /// the scenario's event shape.
    pub fn new(kind: TargetKind, addr: SocketAddr, pid: Option<u32>, s: &Scenario) -> Self {
        let pid = pid.or_else(|| listening_pid(addr.port()));
        match pid {
            Some(pid) => tracing::info!("the {kind} server's processes: the tree of pid {pid}"),
            None => tracing::warn!(
                "no process on this machine listens on {addr}: the {kind} server's CPU and memory \
                 are not measured (give --target-pid)"
            ),
        }
        ObservedTarget {
            kind,
            publisher: Publisher::new(kind, addr),
            pid,
            payload: s.payload,
            topics: s.topics,
            burst: s.burst,
            warned_gone: AtomicBool::new(false),
        }
    }

    /// What a phase at `rate` publishes.
    pub fn plan(&self, rate: f64) -> PublishPlan {
        PublishPlan {
            rate,
            burst: self.burst,
            payload: self.payload,
            topics: self.topics,
        }
    }

    /// The stand-in for `/stats`: the publisher's cursor and rate, the
    /// process tree's cost, after checking the server still accepts
    /// connections at `addr` (an outage is seen as with `/stats`).
    pub async fn stats(&self, addr: SocketAddr) -> Result<Stats> {
        match tokio::time::timeout(REACHABLE_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(Error::ServerDied(format!("{} on {addr}: {e}", self.kind))),
            Err(_) => {
                return Err(Error::ServerDied(format!(
                    "{} on {addr}: no connection within {REACHABLE_TIMEOUT:?}",
                    self.kind
                )));
            }
        }
        let tree = self.pid.and_then(sample_tree);
        if tree.is_none() && self.pid.is_some() && !self.warned_gone.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "the {} server's process {} is gone: its cost reads as zero from now on",
                self.kind,
                self.pid.unwrap_or_default()
            );
        }
        let tree = tree.unwrap_or_default();
        let last_seq = self.publisher.last_seq();
        // The server's side of every connection to its port, less the
        // publisher's own (one while a phase publishes).
        let publishing = u64::from(self.publisher.rate() > 0.0);
        let open = (established_to(addr.port()) as u64).saturating_sub(publishing);
        Ok(Stats {
            last_seq,
            events_published: last_seq.saturating_sub(self.publisher.started_us),
            started_us: self.publisher.started_us,
            process: ProcessStats {
                cpu_seconds: tree.cpu_seconds,
                rss_bytes: tree.rss_bytes,
            },
            connections_open: open,
            generator: Some(Generator {
                rate: self.publisher.rate(),
                payload: self.payload,
                topics: self.topics,
            }),
            ..Stats::default()
        })
    }
}
