//! Server configuration: every policy the server applies, with why.

use std::path::PathBuf;
use std::time::Duration;

/// Everything `pushbench serve` can be told. [`Default`] is what the flags
/// default to.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Events per second from the built-in generator; 0 turns it off (events
    /// then come only from `POST /publish` and WebSocket messages).
    pub rate: f64,
    /// Events the generator publishes back to back, the groups spaced
    /// `burst / rate` apart (see [`crate::generator`]); 1 spaces every
    /// event `1 / rate` apart.
    pub burst: u32,
    /// Payload bytes of each generated event.
    pub payload: usize,
    /// Topics the generator spreads events over (`t0`, `t1`, ...).
    pub topics: u32,
    /// Events kept for cursors (`since`, `Last-Event-ID`). 10,000 keeps 100 s
    /// of history at 100 ev/s: enough for a reconnecting client, while the
    /// ring stays a few MiB at the largest payloads a benchmark uses.
    pub ring: usize,
    /// How far (in events) a live subscriber may fall behind the stream
    /// before it counts as a slow consumer (`slow_consumer_resyncs`). Live
    /// subscribers read the one ring with a cursor each and hold at most a
    /// burst of events of their own, so server memory stays bounded
    /// whatever clients do; what leaves the ring before a slow subscriber
    /// read it reaches it as a gap marker (`slow_consumer_drops`).
    pub queue: usize,
    /// Largest payload `POST /publish` or an upstream WebSocket message may
    /// carry; larger gets 413 or close code 1009.
    pub max_payload: usize,
    /// Largest single WebSocket frame accepted from a client.
    pub max_frame: usize,
    /// Connections open at once before new requests get 503. The default
    /// sits just under this machine's 20,000 open-file hard limit.
    pub max_connections: usize,
    /// Interval of SSE keep-alive comments (and HTTP-stream idle newlines are
    /// not sent: a bare newline would break NDJSON readers). Proxies commonly
    /// cut idle connections after 30 to 60 s, hence 15 s.
    pub sse_keepalive: Duration,
    /// Long-poll hold when the request names no `timeout`.
    pub longpoll_default_timeout: Duration,
    /// Longest hold a client may ask for; beyond it is a 400.
    pub longpoll_max_timeout: Duration,
    /// Most events in one poll or long-poll answer; the answer's `next`
    /// cursor lets the client fetch the rest. Bounds response size.
    pub max_batch: usize,
    /// Time a client has to send a whole request head. Slowloris clients
    /// trickle headers to hold connections; 10 s is far beyond any real
    /// client on a working network.
    pub header_timeout: Duration,
    /// Largest request head accepted (hyper's read buffer, at least 8 KiB);
    /// beyond it the request gets 431. Real browser heads are 0.5 to 2 KiB
    /// plus cookies.
    pub max_header_bytes: usize,
    /// How long one write to a client may stall before the connection is
    /// closed: a client that stops reading must not hold a connection and
    /// its buffers forever, while a slow but live one keeps up in far less.
    pub send_timeout: Duration,
    /// Browser origins allowed to open WebSockets and publish besides the
    /// server's own (`*` allows any). Requests without `Origin` are not
    /// from a browser page and are allowed.
    pub allowed_origins: Vec<String>,
    /// When set, `POST /publish` and upstream WebSocket messages need it.
    pub publish_token: Option<String>,
    /// Publishes per second accepted from clients, all together (0 = no
    /// limit); the built-in generator is not limited.
    pub publish_rate: f64,
    /// Fault injection for testing the load generator: when N > 0, every
    /// Nth seq is assigned but never stored or delivered.
    pub skip_every: u64,
    /// The event journal: every event is appended to this file, and a
    /// server started on it again keeps the last `ring` events and the seq
    /// numbering, so clients resume after a restart (see [`crate::journal`]).
    pub journal: Option<PathBuf>,
    /// Extra headers on every response the router answers (the response
    /// header profile, [`crate::response_headers`]); empty is the minimal head.
    pub response_headers: Vec<(axum::http::HeaderName, axum::http::HeaderValue)>,
    /// TLS (`serve --tls`): connections that open with a TLS handshake are
    /// served over it (https, wss); the others stay plaintext on the same
    /// port (see [`crate::serve`]). `None` serves plaintext only.
    pub tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    /// Content codings the push answers may be sent in (`serve
    /// --compression gzip,br`), chosen per request by its `Accept-Encoding`
    /// ([`crate::compression`]). Empty (the default) never compresses, so runs
    /// without the flag measure exactly what they always did.
    pub compression: Vec<pushbench_protocol::ContentCoding>,
    /// `serve --cluster`: publish into and read from one Redis stream
    /// shared with other nodes ([`crate::cluster`]); `None` is a lone
    /// server, exactly as without the flag. Excludes `journal` (Redis is
    /// the history).
    pub cluster: Option<crate::cluster::ClusterConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            rate: 10.0,
            burst: 1,
            payload: 128,
            topics: 1,
            ring: 10_000,
            queue: 1_024,
            max_payload: 64 * 1024,
            max_frame: 64 * 1024,
            max_connections: 19_500,
            sse_keepalive: Duration::from_secs(15),
            longpoll_default_timeout: Duration::from_secs(30),
            longpoll_max_timeout: Duration::from_secs(
                pushbench_protocol::transport::LONGPOLL_MAX_TIMEOUT_S,
            ),
            max_batch: 1_000,
            header_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            send_timeout: Duration::from_secs(30),
            allowed_origins: Vec::new(),
            publish_token: None,
            publish_rate: 0.0,
            skip_every: 0,
            journal: None,
            response_headers: Vec::new(),
            tls: None,
            compression: Vec::new(),
            cluster: None,
        }
    }
}
