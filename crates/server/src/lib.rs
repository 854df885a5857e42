//! The pushbench server: one event hub served through short polling, long
//! polling, HTTP streaming, Server-Sent Events and WebSocket, so the five
//! techniques can be compared on identical events.
//!
//! # Layout
//! - [`config`]: [`ServerConfig`], every policy and limit with its reason.
//! - [`hub`]: the numbered event stream: one ring buffer that cursors and
//!   live subscribers read, each event encoded (and framed) once; [`journal`] keeps it on
//!   disk so a restarted server resumes it (`--journal`).
//! - [`generator`]: the built-in generator's fixed schedule (`--rate`,
//!   `--burst`) and the task that publishes by it.
//! - [`cluster`] (`--cluster`): many nodes on one Redis stream; the seq is
//!   assigned in Redis, [`cluster_reader`] feeds every node's hub from the
//!   stream, and the generator runs on the node holding a lease. Redis is
//!   spoken through [`resp`] (the RESP2 codec, plain functions) and
//!   [`redis_conn`] (one async connection).
//! - [`live`]: [`live::Subscription`], backlog then live events, exactly once,
//!   with the slow-consumer policy; used by `stream`, `sse` and `ws`.
//! - [`push_framing`] and [`direct`]: the WebSocket frame and chunk heads the
//!   hub makes once per event, and the writer that sends a burst (or a
//!   whole publish's batch) to a plain connection's socket with one write.
//! - [`fanout`]: where an up-to-date subscriber's writer waits (parked) to
//!   be written each publish from the publisher's loop, instead of a task
//!   woken per subscriber; the hub offers it every batch.
//! - One module per transport: [`poll`] (short and long polling),
//!   [`stream`] (HTTP streaming and SSE), [`ws`] (WebSocket and echo);
//!   [`control_routes`] holds publish, stats and the index page; [`guard`]
//!   the Origin allow-list, publish token and publish rate limit;
//!   [`response_headers`] the response header profile, added to every
//!   response by one middleware; [`compression`] compresses push answers
//!   (gzip, Brotli) for requests that accept it, in another.
//! - [`params`]: query and header parsing as plain functions; [`error`]:
//!   [`AppError`], answered as JSON.
//! - [`route`], [`listener`], [`stats`]: what each connection serves, the
//!   counting listener (every socket in a `pushbench_net::counting`
//!   stream, counted per connection) and the `/stats` report built from
//!   both; [`serve`]: the accept loop with header and send timeouts and
//!   graceful shutdown; [`tls_identity`]: the self-signed certificate and
//!   the server's rustls configuration (the client's is in
//!   `pushbench_net::tls_config`).
//! - [`in_process`]: this server as the load generator's embedded one
//!   (`pushbench_net::embedding`'s traits), for `pushbench trace` and tests.
//!
//! [`app`] builds the router (testable without a socket); [`spawn`] binds,
//! serves with the counting listener and runs the event generator.
#![deny(missing_docs)]

pub mod cluster;
pub mod cluster_reader;
pub mod compression;
pub mod config;
pub mod control_routes;
pub mod direct;
pub mod error;
pub mod fanout;
pub mod generator;
pub mod guard;
pub mod hub;
pub mod in_process;
pub mod journal;
pub mod listener;
pub mod live;
pub mod params;
pub mod poll;
pub mod push_framing;
pub mod redis_conn;
pub mod resp;
pub mod response_headers;
pub mod route;
pub mod serve;
pub mod shared_socket;
pub mod stats;
pub mod stream;
pub mod tls_identity;
pub mod ws;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpSocket;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::ServerConfig;
pub use error::AppError;
pub use hub::Hub;
use journal::{Journal, JournalError};
use listener::{Conn, CountingListener, Registry};
use route::Route;
use stats::Counters;

/// Shared server state, cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The configuration.
    pub config: Arc<ServerConfig>,
    /// The event hub.
    pub hub: Arc<Hub>,
    /// Per-route counters.
    pub counters: Arc<Counters>,
    /// Every connection and its byte counts.
    pub registry: Arc<Registry>,
    /// Flips to true when the server shuts down; live bodies end on it.
    pub shutdown: watch::Receiver<bool>,
    /// The publish rate limit shared by `POST /publish` and WebSockets.
    pub publish_limiter: Arc<guard::RateLimiter>,
    /// The link to the cluster's Redis (`--cluster`); `None` for a lone
    /// server.
    pub cluster: Option<Arc<cluster::Cluster>>,
}

/// How long a request whose cursor is ahead of this node waits for the
/// node's reader to catch up (`--cluster` only): a cursor taken on a node
/// whose reader was a moment ahead of this one's is valid here too.
const CURSOR_CATCH_UP: Duration = Duration::from_secs(2);

/// How long `POST /publish` on a cluster node waits for its event to come
/// back through the node's reader, so a client reading this node right
/// after publishing sees its event (read-your-writes), as on a lone server.
const OWN_EVENT_WAIT: Duration = Duration::from_secs(2);

/// Process-wide count of cluster nodes created, so that node ids stay
/// unique even for several nodes in one process (tests).
static NODES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A node id for the lease and `/stats`: host name, process id and a
/// per-process count.
fn node_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".to_owned());
    let n = NODES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{host}-{}-{n}", std::process::id())
}

impl AppState {
    /// Fresh state for `config`, with the sender that shuts it down; with
    /// `config.journal` the hub resumes from (and appends to) that file.
    pub fn new(config: ServerConfig) -> Result<(Self, watch::Sender<bool>), JournalError> {
        let (stop, shutdown) = watch::channel(false);
        let hub = match &config.journal {
            Some(path) => {
                let (journal, loaded) = Journal::open(path, config.ring)?;
                Hub::restore(
                    config.ring,
                    config.queue,
                    config.skip_every,
                    loaded.events,
                    loaded.last_seq,
                    Some(journal),
                )
            }
            None => Hub::new(config.ring, config.queue, config.skip_every),
        };
        let hub = Arc::new(hub);
        let cluster = config.cluster.clone().map(|mut cluster| {
            if cluster.node.is_empty() {
                cluster.node = node_id();
            }
            Arc::new(cluster::Cluster::new(cluster, config.ring))
        });
        let state = AppState {
            cluster,
            hub,
            counters: Arc::new(Counters::default()),
            registry: Arc::new(Registry::default()),
            shutdown,
            publish_limiter: Arc::new(guard::RateLimiter::new(config.publish_rate)),
            config: Arc::new(config),
        };
        Ok((state, stop))
    }

    /// Publishes a client's event (`POST /publish`, a WebSocket message):
    /// into the local hub, or with `--cluster` into the cluster's stream
    /// (then waits, briefly, for it to arrive here); returns its seq.
    pub async fn publish(&self, topic: &str, payload: String) -> Result<u64, AppError> {
        let Some(cluster) = &self.cluster else {
            return Ok(self.hub.publish(topic, payload));
        };
        let what = cluster::Publish::Client {
            topic,
            payload: &payload,
            created_us: pushbench_protocol::now_us(),
        };
        let seq = cluster
            .publish(&self.hub, what)
            .await
            .map_err(|err| AppError::Unavailable(err.to_string()))?;
        self.caught_up_to(seq, OWN_EVENT_WAIT).await;
        Ok(seq)
    }

    /// The hub's last seq for validating `cursor`: with `--cluster`, a
    /// cursor ahead of it first waits (up to 2 s) for this
    /// node's reader to get there.
    pub async fn last_seq_for(&self, cursor: Option<u64>) -> u64 {
        match cursor {
            Some(cursor) if self.cluster.is_some() => {
                self.caught_up_to(cursor, CURSOR_CATCH_UP).await
            }
            _ => self.hub.last_seq(),
        }
    }

    /// Waits up to `limit` for the hub to hold `seq`; returns its last seq.
    async fn caught_up_to(&self, seq: u64, limit: Duration) -> u64 {
        let mut latest = self.hub.watch_latest();
        // The `Ref` that `wait_for` returns holds the watch's read lock: it
        // must be gone before the ring's lock is taken (`last_seq`), since
        // a publish takes the two the other way round.
        let _caught_up = tokio::time::timeout(limit, latest.wait_for(|&last| last >= seq))
            .await
            .is_ok_and(|arrived| arrived.is_ok());
        self.hub.last_seq()
    }
}

/// The router: every transport, publish, stats and the index page.
pub fn app(state: AppState) -> Router {
    let router = Router::new()
        .route("/", get(control_routes::index))
        .route("/poll", get(poll::short_poll))
        .route("/longpoll", get(poll::long_poll))
        .route("/stream", get(stream::http_stream))
        .route("/sse", get(stream::server_sent_events))
        // GET: the HTTP/1.1 upgrade; CONNECT: WebSocket over HTTP/2 (RFC 8441).
        .route("/ws", get(ws::websocket).connect(ws::websocket))
        .route("/echo", get(ws::echo).connect(ws::echo))
        .route("/publish", post(control_routes::publish))
        .route("/stats", get(control_routes::stats_json))
        .route("/time", get(control_routes::time))
        .fallback(control_routes::not_found)
        .method_not_allowed_fallback(control_routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_payload))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            track_connection,
        ))
        // Outermost, so that the answers of `track_connection` (a refused
        // connection, a bad label) carry the profile too.
        .layer(middleware::map_response_with_state(
            state.clone(),
            response_headers::add_profile,
        ));
    // Only with `--compression`, so a server without it does exactly the
    // work it always did; outside the profile, so a profile's `vary` naming
    // Accept-Encoding is seen and not repeated.
    let router = if state.config.compression.is_empty() {
        router
    } else {
        router.layer(middleware::from_fn_with_state(
            state.clone(),
            compression::compress,
        ))
    };
    router.with_state(state)
}

/// Tags each connection with the route it first serves and the client's
/// label (for `/stats`), and refuses push requests past the connection limit.
async fn track_connection(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    // hyper does not check Host; RFC 9112 wants a 400 without exactly one.
    if let Err(err) = params::host(request.version(), request.headers()) {
        return err.into_response();
    }
    params::host_from_authority(&mut request);
    let route = Route::for_path(request.uri().path());
    if let Some(ConnectInfo(Conn(conn, _))) = request.extensions().get::<ConnectInfo<Conn>>() {
        let first = conn.tag(route);
        if first {
            state.counters.connection_opened(route);
        }
        // Only push requests label a connection: `/stats?client=ID` itself
        // must not count among the connections it reports.
        let query = axum::extract::Query::<params::Query>::try_from_uri(request.uri());
        let label = match query.map(|q| params::client_label(&q.0)) {
            _ if route == Route::Other => None,
            Ok(Ok(label)) => label,
            Ok(Err(err)) => {
                conn.label(None);
                return err.into_response();
            }
            Err(_) => None,
        };
        match (first, label) {
            (true, label) => conn.label(label),
            // A browser reuses kept-alive connections across fetches: the
            // newest label names the client the connection now serves.
            (false, Some(label)) => {
                conn.label_reused(label, &request_head_text(&request));
            }
            (false, _) => {}
        }
    }
    let limit = state.config.max_connections;
    if route != Route::Other && state.registry.open_count() > limit {
        tracing::warn!(
            "refused a {} request: {limit} connections open (--max-connections)",
            route.name()
        );
        state
            .counters
            .connections_refused
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return AppError::TooManyConnections { limit }.into_response();
    }
    next.run(request).await
}

/// The request line and headers as text, for a connection labelled on a
/// later request, whose raw head was no longer being captured.
fn request_head_text(request: &Request) -> String {
    let mut head = format!(
        "{} {} {:?}\r\n",
        request.method(),
        request.uri(),
        request.version()
    );
    for (name, value) in request.headers() {
        head.push_str(&format!(
            "{name}: {}\r\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    head.push_str("\r\n");
    head
}

/// A cluster node could not reach its Redis at start (after
/// [`cluster_reader::JOIN_WAIT`] of trying): the inner error of
/// [`spawn`]'s `NotConnected` error.
#[derive(Debug, thiserror::Error)]
#[error("could not join the cluster on {url} within {wait:?}: {source}")]
pub struct JoinError {
    url: String,
    wait: Duration,
    source: redis_conn::RedisError,
}

impl JoinError {
    fn new(cluster: &cluster::Cluster, source: redis_conn::RedisError) -> Self {
        JoinError {
            url: cluster.config.url.to_string(),
            wait: cluster_reader::JOIN_WAIT,
            source,
        }
    }
}

/// A server running in the background of the current tokio runtime.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    state: AppState,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    /// A `--cluster` node's generator: awaited on shutdown, so it gives
    /// the cluster's generator lease up before the process exits (the
    /// next node then generates at once, not after the lease expires).
    generator: Option<JoinHandle<()>>,
}

/// Backlog for the listening socket: a load generator ramping thousands of
/// connections at once overflows the usual 128 or 1,024.
const LISTEN_BACKLOG: u32 = 8_192;

/// Binds `addr`, serves [`app`] through the counting listener, and starts
/// the event generator when `config.rate > 0`. A journal that cannot be
/// opened is an error of kind `InvalidData` whose inner error is the
/// [`JournalError`].
pub async fn spawn(config: ServerConfig, addr: SocketAddr) -> io::Result<RunningServer> {
    if config.cluster.is_some() && config.journal.is_some() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a cluster node keeps no journal: Redis is the history",
        ));
    }
    let (state, stop) =
        AppState::new(config).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    // Joined before listening: a node that never read the stream cannot
    // answer cursors, so it refuses to start rather than serve wrong ones.
    let reader =
        match &state.cluster {
            Some(cluster) => Some(cluster_reader::join(cluster, &state.hub).await.map_err(
                |e| io::Error::new(io::ErrorKind::NotConnected, JoinError::new(cluster, e)),
            )?),
            None => None,
        };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let listener = socket.listen(LISTEN_BACKLOG)?;
    let addr = listener.local_addr()?;
    let config = &state.config;
    tracing::info!(
        "listening on {addr}: {} events/s ({} at a time) of {} B on {} topic(s); limits: {} connections, \
         queue {} and ring {} events, {} B payload, send timeout {:?}, header timeout {:?}",
        config.rate,
        config.burst,
        config.payload,
        config.topics,
        config.max_connections,
        config.queue,
        config.ring,
        config.max_payload,
        config.send_timeout,
        config.header_timeout,
    );
    let mut generator = None;
    if let (Some(cluster), Some(reader)) = (&state.cluster, reader) {
        tracing::info!(
            "cluster node {} on {} (key {}), from seq {}",
            cluster.config.node,
            cluster.config.url,
            cluster.config.key,
            state.hub.last_seq()
        );
        tokio::spawn(cluster_reader::read(
            Arc::clone(cluster),
            Arc::clone(&state.hub),
            reader,
            state.shutdown.clone(),
        ));
        if state.config.rate > 0.0 {
            generator = Some(tokio::spawn(generator::generate_clustered(
                state.clone(),
                Arc::clone(cluster),
            )));
        }
    } else if state.config.rate > 0.0 {
        tokio::spawn(generator::generate(state.clone()));
    }
    let listener = CountingListener::new(
        listener,
        Arc::clone(&state.registry),
        state.config.send_timeout,
    );
    let task = tokio::spawn(serve::serve(listener, app(state.clone()), state.clone()));
    Ok(RunningServer {
        addr,
        state,
        stop,
        task,
        generator,
    })
}

impl RunningServer {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's state (hub, counters, registry).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Publishes one event into the local hub; returns its seq. For tests
    /// and the embedded server; a `--cluster` node publishes through
    /// [`AppState::publish`].
    pub fn publish(&self, topic: &str, payload: impl Into<String>) -> u64 {
        self.state.hub.publish(topic, payload.into())
    }

    /// Ends every stream properly (last chunk, WebSocket close frame),
    /// answers held long polls, and waits up to `grace` for connections to
    /// finish.
    pub async fn shutdown_within(self, grace: Duration) -> io::Result<()> {
        self.stop.send_replace(true);
        self.state.hub.wake_all();
        self.task.await.map_err(io::Error::other)?;
        if let Some(generator) = self.generator {
            // The release is one Redis command within COMMAND_LIMIT.
            let _released_or_gave_up = tokio::time::timeout(grace, generator).await;
        }
        serve::drain(&self.state, grace).await;
        Ok(())
    }

    /// [`RunningServer::shutdown_within`] five seconds.
    pub async fn shutdown(self) -> io::Result<()> {
        self.shutdown_within(Duration::from_secs(5)).await
    }
}

/// Prints the reliability line of one unit-test case that passed (see
/// `scripts/reliability.sh`); call it only after the case's assertions.
#[cfg(test)]
pub fn reliability(class: &str, case: &str, outcome: &str) {
    println!("reliability: {class} | {case} | {outcome}");
}

/// Asserts that `held`, something the server keeps for every open
/// connection (a future, never polled here), is under `limit` bytes, and
/// prints its reliability line: idle connections must stay cheap.
#[cfg(test)]
pub fn assert_held_under<T>(held: &T, limit: usize, case: &str) {
    let size = size_of_val(held);
    assert!(size < limit, "{case}: {size} bytes");
    reliability(
        "security/limits",
        case,
        &format!("under {limit} bytes, not a buffer"),
    );
}

/// A connected loopback TCP pair: (client, server).
#[cfg(test)]
pub async fn tcp_pair() -> (tokio::net::TcpStream, tokio::net::TcpStream) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let client = tokio::net::TcpStream::connect(listener.local_addr().expect("addr"))
        .await
        .expect("connect");
    let (server, _) = listener.accept().await.expect("accept");
    (client, server)
}
