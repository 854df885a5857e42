//! `/stats` as the runner reads it ([`Stats`]): from pushbench's own
//! server, or made up for a server of another kind by
//! [`crate::observed_target`].

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Deserialize;

/// `/stats`, as far as the runner needs it.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Stats {
    /// Highest seq assigned.
    pub last_seq: u64,
    /// Events published.
    #[serde(default)]
    pub events_published: u64,
    /// Events dropped for slow consumers.
    #[serde(default)]
    pub slow_consumer_drops: u64,
    /// Connections open now, all routes together.
    #[serde(default)]
    pub connections_open: u64,
    /// When the server started (µs since the epoch; 0 from servers that do
    /// not say): a change means it was restarted.
    #[serde(default)]
    pub started_us: u64,
    /// CPU and memory of the server process.
    pub process: ProcessStats,
    /// The server's built-in generator (`None` from servers that do not
    /// say, such as other implementations of the protocol).
    #[serde(default)]
    pub generator: Option<Generator>,
    /// Per transport (and `other`) counts.
    #[serde(default)]
    pub transports: BTreeMap<String, RouteStats>,
    /// Per connection counts (with `?connections=1`).
    #[serde(default)]
    pub connections: Vec<PeerStats>,
    /// Against several server nodes: each node's own answer, in node
    /// order (`None` from a node that did not answer), of which this is
    /// the combination (`crate::node_watch::combine`); empty for one server.
    #[serde(skip)]
    pub nodes: Vec<Option<Stats>>,
}

/// The server's built-in generator, as `/stats` describes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize)]
pub struct Generator {
    /// Events per second it publishes; 0 when it is off.
    pub rate: f64,
    /// Payload bytes of each event.
    #[serde(default)]
    pub payload: usize,
    /// Topics it spreads events over.
    #[serde(default)]
    pub topics: u32,
}

/// The server process's cost.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
pub struct ProcessStats {
    /// User + system CPU seconds so far.
    pub cpu_seconds: f64,
    /// Resident set size, bytes.
    pub rss_bytes: u64,
}

/// One route's counts.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
pub struct RouteStats {
    /// Connections open now.
    #[serde(default)]
    pub connections_open: u64,
    /// Connections ever.
    #[serde(default)]
    pub connections_total: u64,
    /// Events delivered.
    #[serde(default)]
    pub events_delivered: u64,
    /// Bytes read from clients.
    #[serde(default)]
    pub bytes_read: u64,
    /// Bytes written to clients.
    #[serde(default)]
    pub bytes_written: u64,
}

/// One connection as the server counted it.
#[derive(Clone, Debug, Deserialize)]
pub struct PeerStats {
    /// The client's address.
    pub peer: SocketAddr,
    /// Transport name, if it served one.
    pub transport: Option<String>,
    /// Bytes the server read.
    pub bytes_read: u64,
    /// Bytes the server wrote.
    pub bytes_written: u64,
    /// Still open.
    pub open: bool,
    /// It spoke TLS (absent from plaintext connections and older servers).
    #[serde(default)]
    pub tls: bool,
}
