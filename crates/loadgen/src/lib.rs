//! The pushbench load generator: many concurrent clients of one push
//! transport over byte-counting sockets, and the runner that turns a
//! [`Scenario`](pushbench_protocol::Scenario) into a
//! [`RunResult`](pushbench_protocol::RunResult).
//!
//! Every client socket is a [`CountingStream`](pushbench_net::counting::CountingStream)
//! whose tally is a [`meter::Meter`]: it feeds the raw bytes to the shared
//! wire [`Classifier`](pushbench_protocol::Classifier), so the bytes by
//! class add up to the socket count, and the events the client counts are
//! the ones the classifier decoded from those same bytes. Over TLS the
//! meter sits above TLS (the plaintext) and a second tally of it on the
//! socket below (the ciphertext, booked into the TLS classes; see
//! [`meter`]).
//!
//! # Layout
//! Dependencies point one way, from the runner down to the socket tally.
//! - [`meter`]: the per-connection tally (classifier, ledgers, decoded
//!   messages); [`setup_scan`] finds where a connection's setup ends on its
//!   raw bytes; [`recorder`] is the phase's collector the meters and the
//!   clients book into (measuring flag, per-worker shards, ramp).
//! - [`tracker`]: per-client seq bookkeeping: delivered, missed, duplicated,
//!   out of order.
//! - [`client`]: the one client loop, parameterised by transport and
//!   [`client_spec::Schedule`]; [`client_spec`] is what every client of a
//!   phase shares and the requests it makes; [`connection`] opens a
//!   client's connections over plain TCP or TLS ([`connection::Wire`]),
//!   reconnects with [`backoff`] and closes them counting every byte;
//!   [`session`] hands a connection's decoded messages to the client's
//!   tracker and histogram; [`ws_session`] is an HTTP/1.1 WebSocket's push
//!   path (raw reads, the meter's classifier parses the frames, the client
//!   answers pings and close itself). [`h2_client`] runs the same clients over
//!   HTTP/2: a connection shared by a group of clients, a stream each,
//!   WebSocket by extended CONNECT, over [`h2_io`]'s byte streams.
//! - [`peer_state`]: what a client of another kind of server
//!   (`--target-kind`) carries between requests (a resume token, a
//!   session, pings owed) and the requests that kind's clients make, each
//!   kind's in a module of its own: [`engine_io_requests`] (`socketio`),
//!   [`nchan_requests`] (nginx + Nchan, also its publish request and
//!   probe).
//! - [`request_headers`]: the request header profiles (`minimal`,
//!   Chromium's `browser` heads, a header file) per transport.
//! - [`control_client`]: the runner's own HTTP calls (`/stats`, `/publish`) on
//!   separate, separately counted connections ([`control_tally`]), the
//!   `/stats` they read ([`server_stats`]); [`http_answer`] frames the
//!   runner's requests on kept-alive connections.
//! - [`target`]: where the server comes from: a URL (or a list of server
//!   nodes, which [`nodes`] spreads the clients over), a child
//!   `pushbench serve`, or an in-process server handed in (tests, `pushbench
//!   trace`) through `pushbench_net::embedding`: this crate depends on no
//!   server.
//! - [`target_api`]: the load generator's own requests to another kind
//!   of server: publishing an event into it, and the probe that tells
//!   whether `--target` is the kind it was said to be; [`publisher`]
//!   publishes a phase's events through it at the phase's rate, and
//!   [`observed_target`] stands in for such a server's `/stats` (the
//!   publisher's cursor, its processes' cost from `/proc`).
//!   [`pushpin_api`] holds Pushpin's requests (through our GRIP origin).
//!   [`relay_programs`] holds the probe of the `bun` and `node-ws` kinds
//!   (the relay programs of `scripts/peers/`).
//! - [`runner`]: the scenario's phases in order (transport x clients x
//!   rate x [`runner::PhaseVariant`]: header profile, TLS, HTTP version,
//!   coding) into a [`RunResult`](pushbench_protocol::RunResult);
//!   [`phase`] runs one phase (its figures from what it measured:
//!   [`phase_figures`]), its stages (ramp-up, warm-up, measured
//!   window, drain, collect) the methods of one type, watching the
//!   server's [`outages`] (each node's, and their `/stats` combined, by
//!   [`node_watch`]), its clients a `phase_clients::Clients`; [`phase_rate`] decides the rate a phase
//!   records (the scenario's, a `--target`'s own, or measured).
//! - [`shard`]: one shard of a run split over several generators (`run
//!   --segment I/N`): its slice of every phase's clients and the shared
//!   wall-clock schedule; [`clock_offset`] estimates its clock against the
//!   server's (`GET /time`); [`shard_merge`] adds the shards' results into
//!   one, as if one generator had run (`pushbench merge`).
//! - [`capacity_search`]: the highest sustained rate per transport (a
//!   search over runner phases, judged by [`threshold`]s), and phases at
//!   fractions of it.
//! - [`peer_runs`]: pushbench beside `wrk`, `h2load` and a Node `ws`
//!   server, as ratios measured in one run.
//! - [`server_runs`]: `pushbench serve` beside the servers of the other
//!   target kinds, every technique each offers, each started by its start
//!   script ([`kind_process`]), as ratios measured in one run
//!   (`servers.json`); [`server_figures`] decides the order and the
//!   common load and makes the figures and ratios from the results.
//! - [`scenario`]: scenario files (TOML) and their validation.
//! - [`threshold`]: `--threshold` expressions (`p99<5ms`, `missed=0`).
//! - [`output`]: `results.json` (atomic), the CSV and the HdrHistogram logs.
//! - [`machine`]: the machine description for results.
//! - [`trace_record`]: one real exchange recorded byte by byte, classified
//!   (by [`trace_tally`]), for `pushbench trace` (its embedded server handed in by the CLI).
//! - [`tcpinfo`]: `TCP_INFO` segment and retransmission counts of both
//!   sockets of a client connection (the `tcp_ip` and `retransmitted`
//!   figures), over netlink sock_diag, read at each side of the
//!   [`path_sides::PathSides`] the clients cross (the kernel's loopback or
//!   an emulated link, a `pushbench_net::network_path::NetworkPath`).
#![deny(missing_docs)]

pub mod backoff;
pub mod capacity_search;
pub mod client;
pub mod client_spec;
pub mod clock_offset;
pub mod connection;
pub mod control_client;
pub mod control_tally;
pub mod engine_io_requests;
pub mod h2_client;
pub mod h2_io;
pub mod http_answer;
pub mod kind_process;
pub mod machine;
pub mod meter;
pub mod nchan_requests;
pub mod node_watch;
pub mod nodes;
pub mod observed_target;
pub mod outages;
pub mod output;
pub mod path_sides;
pub mod peer_runs;
pub mod peer_state;
pub mod phase;
pub mod phase_clients;
pub mod phase_figures;
pub mod phase_rate;
pub mod publisher;
pub mod pushpin_api;
pub mod recorder;
pub mod relay_programs;
pub mod request_headers;
pub mod runner;
pub mod scenario;
pub mod server_figures;
pub mod server_runs;
pub mod server_stats;
pub mod session;
pub mod setup_scan;
pub mod shard;
pub mod shard_merge;
pub mod target;
pub mod target_api;
pub mod tcpinfo;
pub mod threshold;
pub mod trace_record;
pub mod trace_tally;
pub mod tracker;
pub mod ws_session;

pub use phase::Progress;
pub use runner::{RunOptions, run_scenario};
pub use target::ServerSource;
pub use threshold::Threshold;

/// Why a run or a part of it failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A socket or file operation failed.
    // The OS error is part of the message, not a `source`: results keep
    // `to_string()` alone, and a chain printer would say it twice.
    #[error("{context}: {error}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        error: std::io::Error,
    },
    /// The server answered something unexpected.
    #[error("server at {url}: {message}")]
    Server {
        /// The server's base URL.
        url: String,
        /// What was wrong.
        message: String,
    },
    /// The server process exited or stopped answering.
    #[error("the server died: {0}")]
    ServerDied(String),
    /// The run was interrupted (Ctrl-C).
    #[error("interrupted")]
    Interrupted,
    /// The scenario asks for something impossible.
    #[error("invalid scenario: {0}")]
    Scenario(String),
    /// A scenario file could not be read or parsed.
    #[error("scenario file {path}: {message}")]
    ScenarioFile {
        /// The file.
        path: String,
        /// What was wrong (names the offending key).
        message: String,
    },
    /// The run needs more open files than the process may hold.
    #[error(
        "{clients} clients need about {needed} open files but this process may hold {limit} \
         (raise `ulimit -n`, or use fewer clients)"
    )]
    TooManyClients {
        /// Clients asked for.
        clients: u64,
        /// Files needed.
        needed: u64,
        /// The soft limit.
        limit: u64,
    },
    /// TLS could not be set up (certificate, configuration, pinning).
    #[error("TLS: {0}")]
    Tls(String),
    /// Results could not be serialized.
    #[error("encoding {what}: {message}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The encoder's message.
        message: String,
    },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, error: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            error,
        }
    }
}

/// Locks a mutex, ignoring poisoning: the data are plain counters, still
/// meaningful after a panicking holder.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Prints the reliability line of one unit-test case that passed (see
/// `scripts/reliability.sh`); call it only after the case's assertions.
#[cfg(test)]
pub fn reliability(class: &str, case: &str, outcome: &str) {
    println!("reliability: {class} | {case} | {outcome}");
}
