//! `pushbench serve`: the push server in the foreground until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use pushbench_protocol::ContentCoding;
use pushbench_server::ServerConfig;

use crate::flags::{above_zero, decimal, whole};

/// Flags of `pushbench serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8080", value_parser = parse_addr)]
    pub addr: SocketAddr,
    /// Events per second from the built-in generator (0 = none; events then
    /// come only from POST /publish and WebSocket messages).
    #[arg(long, default_value_t = 10.0, value_parser = decimal(0.0, MAX_RATE, "events per second"), allow_negative_numbers = true)]
    pub rate: f64,
    /// Events the generator publishes back to back: the average rate stays
    /// --rate, in groups of N spaced N/rate seconds apart (1 = evenly spaced).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = whole::<u32>(1, MAX_BURST), allow_negative_numbers = true)]
    pub burst: u32,
    /// Payload bytes per generated event.
    #[arg(long, default_value_t = 128, value_parser = whole::<u32>(0, 16_777_216), allow_negative_numbers = true)]
    pub payload: u32,
    /// Topics the generator spreads events over.
    #[arg(long, default_value_t = 1, value_parser = whole::<u32>(1, 1_000_000), allow_negative_numbers = true)]
    pub topics: u32,
    /// Events kept for cursors (since, Last-Event-ID).
    #[arg(long, default_value_t = 10_000, value_parser = whole::<u32>(1, 10_000_000), allow_negative_numbers = true)]
    pub ring: u32,
    /// Events a live subscriber may fall behind before it is resynced from the ring.
    #[arg(long, default_value_t = 1_024, value_parser = whole::<u32>(1, 1_000_000), allow_negative_numbers = true)]
    pub queue: u32,
    /// Largest payload accepted by POST /publish or a WebSocket message (bytes).
    #[arg(long, default_value_t = 65_536, value_parser = whole::<u32>(1, 67_108_864), allow_negative_numbers = true)]
    pub max_payload: u32,
    /// Largest WebSocket frame accepted from a client (bytes).
    #[arg(long, default_value_t = 65_536, value_parser = whole::<u32>(1, 67_108_864), allow_negative_numbers = true)]
    pub max_frame: u32,
    /// Connections open at once before push requests get 503.
    #[arg(long, default_value_t = 19_500, value_parser = whole::<u32>(1, u32::MAX.into()), allow_negative_numbers = true)]
    pub max_connections: u32,
    /// Threads that run the server: its connections, the generator and the
    /// hub (default: one per core). 1 runs it all on one thread with no
    /// cross-thread wake-ups, as Node and Bun do; on a machine it shares
    /// with the load generator that is often the cheaper choice (see
    /// docs/performance.md).
    #[arg(long, value_name = "N", value_parser = whole::<usize>(1, 1_024), allow_negative_numbers = true)]
    pub workers: Option<usize>,
    /// Seconds between SSE keep-alive comments.
    #[arg(long, default_value_t = 15.0, value_parser = above_zero(3_600.0, "seconds"), allow_negative_numbers = true)]
    pub sse_keepalive: f64,
    /// Long-poll hold in seconds when a request names no timeout (at most
    /// the longest hold a request may ask for, 300).
    #[arg(long, default_value_t = 30.0, value_parser = above_zero(max_hold_s(), "seconds"), allow_negative_numbers = true)]
    pub longpoll_timeout: f64,
    /// Seconds a client has to send a whole request head (against slowloris).
    #[arg(long, default_value_t = 10.0, value_parser = above_zero(3_600.0, "seconds"), allow_negative_numbers = true)]
    pub header_timeout: f64,
    /// Largest request head accepted, in bytes (at least 8192); larger gets 431.
    #[arg(long, default_value_t = 16_384, value_parser = whole::<u32>(8_192, 1_048_576), allow_negative_numbers = true)]
    pub max_header_bytes: u32,
    /// Seconds one write to a client may stall before the connection is closed.
    #[arg(long, default_value_t = 30.0, value_parser = above_zero(3_600.0, "seconds"), allow_negative_numbers = true)]
    pub send_timeout: f64,
    /// A browser origin allowed to open WebSockets and publish, besides the
    /// server's own (repeatable; `*` allows any).
    #[arg(long = "allow-origin", value_name = "ORIGIN", value_parser = parse_origin)]
    pub allow_origins: Vec<String>,
    /// Require this token for POST /publish and upstream WebSocket messages
    /// (`Authorization: Bearer TOKEN`, or `?token=TOKEN` on the WebSocket URL).
    #[arg(long, value_name = "TOKEN", value_parser = parse_token)]
    pub publish_token: Option<String>,
    /// Client publishes per second accepted, all together (0 = no limit).
    #[arg(long, default_value_t = 0.0, value_parser = decimal(0.0, MAX_RATE, "publishes per second"), allow_negative_numbers = true)]
    pub publish_rate: f64,
    /// Fault injection for testing load generators: every Nth seq is never delivered (0 = off).
    #[arg(long, default_value_t = 0, value_parser = whole::<u64>(0, u64::MAX), allow_negative_numbers = true)]
    pub skip_every: u64,
    /// Append every event to FILE and, on start, resume from it: the last
    /// --ring events and the seq numbering survive a restart, so clients
    /// resume from their cursors with no loss (the file stays under twice the ring).
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Extra headers on every response: `minimal` (none), `browser` (a
    /// production site's security and caching headers, see README) or a
    /// file of `Name: value` lines.
    #[arg(long, value_name = "PROFILE", default_value = "minimal")]
    pub response_headers: pushbench_protocol::HeaderProfile,
    /// Serve https and wss with a self-signed certificate made at start
    /// (for 127.0.0.1, ::1 and localhost; TLS 1.3). Connections that do not
    /// open with a TLS handshake are still served plaintext on the same
    /// port. The certificate's SHA-256 fingerprint is printed on stdout.
    #[arg(long)]
    pub tls: bool,
    /// Content codings the push answers may be sent in (comma-separated:
    /// `gzip`, `br`; `off` or `identity` for none, the default): each
    /// request of /poll, /longpoll, /stream and /sse gets the one its
    /// Accept-Encoding weights highest (Brotli on a tie), at gzip level 1
    /// and Brotli quality 4, one flush per event on live bodies.
    #[arg(long, value_delimiter = ',', value_name = "CODINGS", default_value = "off", value_parser = parse_coding)]
    pub compression: Vec<ContentCoding>,
    /// Join a cluster of server nodes on one Redis stream (Redis 7's
    /// `redis://HOST:PORT`, optionally `redis://:PASSWORD@HOST:PORT/DB`):
    /// every node started with the same URL and --cluster-key serves the
    /// same events with the same seqs, a cursor taken on one node resumes
    /// on another, and the --rate generator runs on one node at a time.
    /// Refused with --journal (Redis is the history). The node refuses to
    /// start when Redis does not answer within 3 s (see docs/scaling.md).
    #[arg(long, value_name = "URL", value_parser = parse_cluster_url, conflicts_with = "journal")]
    pub cluster: Option<pushbench_server::redis_conn::RedisUrl>,
    /// Prefix of the cluster's Redis keys (`PREFIX:events`, `PREFIX:seq`,
    /// `PREFIX:generator`), so several clusters can share one Redis.
    #[arg(long, value_name = "PREFIX", default_value = "pushbench", value_parser = parse_cluster_key, requires = "cluster")]
    pub cluster_key: String,
    /// Write the certificate (PEM) to FILE, for clients to pin it.
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub tls_cert_out: Option<PathBuf>,
}

/// The largest --burst.
const MAX_BURST: u64 = pushbench_loadgen::scenario::MAX_BURST;

/// The highest rate the generator and the publish limit take.
const MAX_RATE: f64 = pushbench_loadgen::scenario::MAX_RATE;

/// The longest hold a long-poll request may ask for.
fn max_hold_s() -> f64 {
    ServerConfig::default().longpoll_max_timeout.as_secs_f64()
}

/// An `--addr`: an IP address and port (names are not resolved, so what is
/// bound is what was asked for).
fn parse_addr(raw: &str) -> Result<SocketAddr, String> {
    raw.trim().parse().map_err(|_| {
        format!("expected IP:PORT such as 127.0.0.1:8080 or [::1]:8080 (port 0 picks a free one), got `{raw}`")
    })
}

/// An `--allow-origin` value: `*`, or an origin as a browser sends it
/// (`scheme://host[:port]`, no path); anything else would never match.
fn parse_origin(raw: &str) -> Result<String, String> {
    let valid = raw == "*"
        || raw.split_once("://").is_some_and(|(scheme, host)| {
            !scheme.is_empty()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
                && !host.is_empty()
                && !host.contains(['/', '?', '#', ' '])
        });
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(format!(
            "expected `*` or an origin such as http://app.example:8080 (scheme://host[:port], \
             no path), got `{raw}`"
        ))
    }
}

/// A `--cluster` URL.
fn parse_cluster_url(raw: &str) -> Result<pushbench_server::redis_conn::RedisUrl, String> {
    raw.parse()
}

/// A `--cluster-key` prefix: visible ASCII without spaces, so it reads
/// the same in redis-cli and in logs.
fn parse_cluster_key(raw: &str) -> Result<String, String> {
    if !raw.is_empty() && raw.len() <= 200 && raw.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(raw.to_owned())
    } else {
        Err("expected a key prefix of 1 to 200 visible ASCII characters (no spaces)".to_owned())
    }
}

/// A `--compression` value: a coding name (`off` and `identity` mean none).
fn parse_coding(raw: &str) -> Result<ContentCoding, String> {
    raw.parse::<ContentCoding>().map_err(|e| e.to_string())
}

/// A `--publish-token`: an empty token would let every request through,
/// and one with spaces or control characters cannot be sent in a header.
fn parse_token(raw: &str) -> Result<String, String> {
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(raw.to_owned())
    } else {
        Err("expected a non-empty token of visible ASCII characters (no spaces)".to_owned())
    }
}

impl Args {
    /// The server configuration these flags describe; fails on a bad
    /// `--response-headers` file.
    pub fn config(&self) -> anyhow::Result<ServerConfig> {
        let response_headers =
            pushbench_server::response_headers::response_headers(&self.response_headers)
                .map_err(|e| anyhow::anyhow!("--response-headers: {e}"))?;
        Ok(ServerConfig {
            rate: self.rate,
            burst: self.burst,
            payload: self.payload as usize,
            topics: self.topics,
            ring: self.ring as usize,
            queue: self.queue as usize,
            max_payload: self.max_payload as usize,
            max_frame: self.max_frame as usize,
            max_connections: self.max_connections as usize,
            sse_keepalive: Duration::from_secs_f64(self.sse_keepalive),
            longpoll_default_timeout: Duration::from_secs_f64(self.longpoll_timeout),
            header_timeout: Duration::from_secs_f64(self.header_timeout),
            max_header_bytes: self.max_header_bytes as usize,
            send_timeout: Duration::from_secs_f64(self.send_timeout),
            allowed_origins: self.allow_origins.clone(),
            publish_token: self.publish_token.clone(),
            publish_rate: self.publish_rate,
            skip_every: self.skip_every,
            journal: self.journal.clone(),
            response_headers,
            compression: ContentCoding::enabled(&self.compression),
            cluster: self
                .cluster
                .clone()
                .map(|url| pushbench_server::cluster::ClusterConfig {
                    url,
                    key: self.cluster_key.clone(),
                    node: String::new(),
                }),
            ..ServerConfig::default()
        })
    }
}

/// The server's runtime: `workers` threads, one per core by default, or
/// for 1 a single-threaded runtime (no work-stealing, no wake-ups across
/// threads).
fn runtime(workers: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    match workers {
        Some(1) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        Some(n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
        None => tokio::runtime::Runtime::new(),
    }
}

/// Runs the server until Ctrl-C or SIGTERM, then shuts it down cleanly.
pub fn run(args: Args) -> anyhow::Result<()> {
    crate::raise_open_files_limit();
    let mut config = args.config()?;
    let identity = if args.tls {
        let identity =
            pushbench_server::tls_identity::TlsIdentity::self_signed().context("--tls")?;
        config.tls = Some(identity.server_config().context("--tls")?);
        if let Some(path) = &args.tls_cert_out {
            std::fs::write(path, &identity.cert_pem)
                .with_context(|| format!("writing {} (--tls-cert-out)", path.display()))?;
        }
        Some(identity)
    } else {
        None
    };
    let runtime = runtime(args.workers).context("starting the tokio runtime")?;
    runtime.block_on(async {
        let server = pushbench_server::spawn(config, args.addr)
            .await
            .map_err(|err| {
                let inner = err.get_ref();
                let journal = inner
                    .is_some_and(|inner| inner.is::<pushbench_server::journal::JournalError>());
                let cluster = inner.is_some_and(|inner| inner.is::<pushbench_server::JoinError>());
                if journal {
                    anyhow::Error::new(err).context("opening --journal")
                } else if cluster {
                    anyhow::Error::new(err).context("joining the cluster (--cluster)")
                } else {
                    anyhow::Error::new(err).context(format!("listening on {} (--addr)", args.addr))
                }
            })?;
        let addr = server.local_addr();
        if !addr.ip().is_loopback() {
            eprintln!(
                "pushbench: warning: listening on {addr}, reachable from other machines; \
                 use --addr 127.0.0.1:PORT to keep it local"
            );
        }
        // The first stdout line is a contract: `pushbench run` reads the URL
        // from it (and, with --tls, the certificate from --tls-cert-out,
        // written before it). A reader that stops after that line (a test,
        // `| head -1`) must not take the server down: write errors on
        // stdout are ignored rather than panicking as `println!` would.
        let banner = match &identity {
            Some(identity) => format!(
                "pushbench listening on https://{addr}\npushbench TLS certificate SHA-256 {}\n",
                identity.fingerprint()
            ),
            None => format!("pushbench listening on http://{addr}\n"),
        };
        {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
        }
        wait_for_signal().await?;
        eprintln!("pushbench: shutting down");
        server.shutdown().await.context("shutting down")
    })
}

async fn wait_for_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("waiting for Ctrl-C"),
        _ = term.recv() => Ok(()),
    }
}
