//! Where the measured server comes from.
//!
//! `pushbench run` starts `pushbench serve` as a child process by default,
//! so the server's CPU and memory are its own and `/stats` reports them
//! apart from the load generator; `--target URL` measures a running server;
//! tests use an in-process server, handed in as a
//! [`StartServer`] (this crate knows no server: the server crate implements
//! it, `pushbench_server::in_process`).
//!
//! A child and an in-process server are started from the same
//! [`ServeSpec`] ([`serve_spec`]): the child gets it as `serve`'s command
//! line ([`serve_args`]).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use pushbench_net::embedding::{EmbeddedServer, ServeSpec, StartError, StartServer};
use pushbench_net::tls_config::{TlsConfigError, client_config, read_pem_certificate};
use pushbench_protocol::{ContentCoding, HttpVersion, Scenario};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::path_sides::PathSides;
use crate::{Error, Result};

/// How long a child server may take to print its URL.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);

/// Lines of a child server's stderr kept for an error message.
pub const STDERR_TAIL: usize = 20;

/// The last lines a child server wrote to stderr. Kept rather than passed
/// through, so its own messages ("pushbench: shutting down") never mix into
/// `run`'s output, and named when the child dies.
#[derive(Clone, Debug, Default)]
pub struct ChildStderr(Arc<std::sync::Mutex<std::collections::VecDeque<String>>>);

impl ChildStderr {
    pub(crate) fn push(&self, line: String) {
        let mut tail = crate::lock(&self.0);
        if tail.len() == STDERR_TAIL {
            tail.pop_front();
        }
        tail.push_back(line);
    }

    /// `; its stderr: ...` with the kept lines, or nothing.
    pub fn describe(&self) -> String {
        let tail = crate::lock(&self.0);
        if tail.is_empty() {
            return String::new();
        }
        let lines: Vec<&str> = tail.iter().map(String::as_str).collect();
        format!("; its stderr: {}", lines.join(" | "))
    }
}

/// Where the server comes from.
#[derive(Clone, Debug)]
pub enum ServerSource {
    /// A server already running at this URL (`http://host:port`); its event
    /// rate is whatever it was started with.
    Target(String),
    /// `EXE serve --addr 127.0.0.1:0 ...`, one per event rate.
    Child {
        /// The `pushbench` executable, or a peer server that takes `serve`'s
        /// command line and prints `... listening on URL` first.
        exe: PathBuf,
        /// Extra `serve` arguments (e.g. `--skip-every 7`).
        extra_args: Vec<String>,
    },
    /// A server started in this process by what is handed in (tests:
    /// `pushbench_server::in_process::InProcess`); `rate`, `payload` and
    /// `topics` come from the scenario.
    InProcess(Arc<dyn StartServer>),
}

/// A server being measured.
#[derive(Debug)]
pub struct ServerHandle {
    /// Where the clients dial it: across the path, at its server side.
    pub addr: SocketAddr,
    /// Where the runner's control calls (`/stats`) reach it from the host,
    /// without crossing the emulated link; `addr` on loopback.
    pub control_addr: SocketAddr,
    /// The network path between the clients and it.
    pub path: PathSides,
    /// Its base URL.
    pub url: String,
    /// How long it may be unreachable (refused connections, `/stats`
    /// unanswered) before the run gives up on it: clients keep reconnecting
    /// and the runner keeps asking meanwhile. A child server that exits is
    /// given up on at once: nobody restarts it.
    pub outage_grace: Duration,
    /// For TLS phases: the client configuration that pins this server's
    /// certificate (offering HTTP/1.1; a phase offers its own version,
    /// [`pushbench_net::tls_config::offering`]). `None` when the server was started without TLS (the
    /// scenario has no TLS phase). The server also answers plaintext on
    /// the same port (`serve --tls`), which the control calls use.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The nodes after the first of a `--target URL1,URL2,...` (server
    /// nodes sharing one stream); empty for one server.
    pub more_nodes: Vec<NodeAddr>,
    kind: HandleKind,
}

/// One server node of a `--target` list: its URL and where the clients
/// and the control calls reach it (see [`ServerHandle::addr`] and
/// [`ServerHandle::control_addr`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeAddr {
    /// Its URL, as `--target` listed it.
    pub url: String,
    /// Where the clients dial it.
    pub addr: SocketAddr,
    /// Where the control calls reach it.
    pub control_addr: SocketAddr,
}

#[derive(Debug)]
enum HandleKind {
    External,
    Child(Child, ChildStderr),
    InProcess(Box<dyn EmbeddedServer>),
}

/// The ring the embedded server keeps: a minute of events and at least the
/// server's default, so a poll interval or a reconnect never outruns it.
pub fn ring_for(rate: f64) -> u64 {
    ((rate * 60.0).ceil() as u64).max(10_000)
}

fn tls_error(e: TlsConfigError) -> Error {
    Error::Tls(e.to_string())
}

/// What a server for `rate` events per second of `scenario` is started
/// with: TLS when any phase uses it, every coding a phase uses.
pub fn serve_spec(scenario: &Scenario, rate: f64) -> ServeSpec {
    ServeSpec {
        rate,
        burst: scenario.burst,
        payload: scenario.payload,
        topics: scenario.topics,
        ring: ring_for(rate) as usize,
        response_headers: scenario.response_headers.clone(),
        compression: ContentCoding::enabled(&scenario.coding),
        tls: scenario.tls.contains(&true),
        every_address: false,
    }
}

/// `spec` as `pushbench serve`'s arguments, after `serve --addr ADDR`
/// (without `--tls`: the caller adds it with the certificate's file).
/// The burst, the header profile and the codings are named only when not
/// the default, so an older `--server-exe` without those flags still
/// serves runs that do not use them.
pub fn serve_args(spec: &ServeSpec) -> Vec<String> {
    let mut args = vec![
        "--rate".to_owned(),
        spec.rate.to_string(),
        "--payload".to_owned(),
        spec.payload.to_string(),
        "--topics".to_owned(),
        spec.topics.to_string(),
        "--ring".to_owned(),
        spec.ring.to_string(),
    ];
    if spec.burst != 1 {
        args.push("--burst".to_owned());
        args.push(spec.burst.to_string());
    }
    if !spec.response_headers.is_minimal() {
        args.push("--response-headers".to_owned());
        args.push(spec.response_headers.to_string());
    }
    if !spec.compression.is_empty() {
        let names: Vec<&str> = spec.compression.iter().map(|c| c.name()).collect();
        args.push("--compression".to_owned());
        args.push(names.join(","));
    }
    args
}

/// The client configuration pinning `cert`, offering HTTP/1.1 (a phase
/// offers its own version).
fn pinning(cert: &rustls::pki_types::CertificateDer<'_>) -> Result<Arc<rustls::ClientConfig>> {
    client_config(cert, HttpVersion::Http1).map_err(tls_error)
}

/// A file name for the certificate a child server writes
/// (`--tls-cert-out`): unique per process and start.
fn cert_path() -> PathBuf {
    static STARTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("pushbench-run-{}-{n}.pem", std::process::id()))
}

impl ServerSource {
    /// Starts (or finds) a server publishing `rate` events per second,
    /// with TLS when any phase of `scenario` uses it, reached by the
    /// clients across `path`: a child server is started at the path's
    /// server side, a running target is the host's side of it.
    pub async fn start(
        &self,
        scenario: &Scenario,
        rate: f64,
        path: &PathSides,
    ) -> Result<ServerHandle> {
        let spec = serve_spec(scenario, rate);
        match self {
            ServerSource::Target(list) => {
                let mut nodes = Vec::new();
                for (url, control_addr) in parse_targets(list)? {
                    let addr = if path.is_loopback() {
                        control_addr
                    } else {
                        let addr = path.server_addr(control_addr.port());
                        reachable_across(path, &url, control_addr, addr).await?;
                        addr
                    };
                    nodes.push(NodeAddr {
                        url,
                        addr,
                        control_addr,
                    });
                }
                let mut nodes = nodes.into_iter();
                let first = nodes
                    .next()
                    .ok_or_else(|| Error::Scenario("--target: no URL".to_owned()))?;
                let (addr, control_addr) = (first.addr, first.control_addr);
                // A `serve --tls` port answers plaintext too, so the control
                // calls stay plaintext; the TLS phases pin its certificate.
                let tls = match &scenario.target_cert {
                    Some(path) if spec.tls => {
                        let cert = read_pem_certificate(Path::new(path))
                            .map_err(|e| Error::Scenario(format!("target_cert `{path}`: {e}")))?;
                        Some(pinning(&cert)?)
                    }
                    _ => None,
                };
                Ok(ServerHandle {
                    addr,
                    control_addr,
                    path: path.clone(),
                    url: format!("http://{addr}"),
                    outage_grace: crate::backoff::DEFAULT_GIVE_UP,
                    tls,
                    more_nodes: nodes.collect(),
                    kind: HandleKind::External,
                })
            }
            ServerSource::InProcess(starter) => {
                if !path.is_loopback() {
                    return Err(Error::Scenario(format!(
                        "link {}: an in-process server listens on loopback only; \
                         an emulated link needs a child server or a --target",
                        path.profile().label()
                    )));
                }
                let server = starter.start(spec).await.map_err(|e| match e {
                    StartError::ResponseHeaders(e) => {
                        Error::Scenario(format!("response_headers: {e}"))
                    }
                    StartError::Tls(e) => Error::Tls(e),
                    StartError::Io(e) => Error::io("starting the in-process server", e),
                })?;
                let addr = server.local_addr();
                let tls = server.certificate().map(pinning).transpose()?;
                let scheme = if tls.is_some() { "https" } else { "http" };
                Ok(ServerHandle {
                    addr,
                    control_addr: addr,
                    path: path.clone(),
                    url: format!("{scheme}://{addr}"),
                    outage_grace: crate::backoff::DEFAULT_GIVE_UP,
                    tls,
                    more_nodes: Vec::new(),
                    kind: HandleKind::InProcess(server),
                })
            }
            ServerSource::Child { exe, extra_args } => {
                // The child writes its certificate where the run reads it
                // from to pin it.
                let cert_file = spec.tls.then(cert_path);
                let tls_args = match &cert_file {
                    Some(path) => vec![
                        "--tls".to_owned(),
                        "--tls-cert-out".to_owned(),
                        path.display().to_string(),
                    ],
                    None => Vec::new(),
                };
                // At the path's server side; off loopback it listens on
                // every address of its namespace: the link's end, which the
                // clients dial, and the direct pair the control calls use.
                let listen = if path.is_loopback() {
                    "127.0.0.1:0"
                } else {
                    "0.0.0.0:0"
                };
                let mut child = Command::from(path.path().server_command(exe))
                    .args(["serve", "--addr", listen])
                    .args(serve_args(&spec))
                    .args(&tls_args)
                    .args(extra_args)
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .kill_on_drop(true)
                    .spawn()
                    .map_err(|e| Error::io(format!("starting `{} serve`", exe.display()), e))?;
                let stderr = ChildStderr::default();
                if let Some(pipe) = child.stderr.take() {
                    let tail = stderr.clone();
                    tokio::spawn(async move {
                        let mut lines = BufReader::new(pipe).lines();
                        while let Ok(Some(line)) = lines.next_line().await {
                            tail.push(line);
                        }
                    });
                }
                let stdout = child
                    .stdout
                    .take()
                    .ok_or_else(|| Error::ServerDied("the child server has no stdout".into()))?;
                let mut lines = BufReader::new(stdout).lines();
                let first = tokio::time::timeout(STARTUP_TIMEOUT, lines.next_line()).await;
                let line = match first {
                    Ok(Ok(Some(line))) => line,
                    Ok(Ok(None)) => {
                        // Give the stderr reader a moment to collect the why.
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        return Err(Error::ServerDied(format!(
                            "the child server exited before printing its URL{}",
                            stderr.describe()
                        )));
                    }
                    Ok(Err(e)) => return Err(Error::io("reading the child server's stdout", e)),
                    Err(_) => {
                        return Err(Error::ServerDied(format!(
                            "the child server printed no URL within {STARTUP_TIMEOUT:?}"
                        )));
                    }
                };
                // `pushbench listening on URL`; a peer server that takes the
                // same command line may name itself differently.
                let url = line
                    .split_once("listening on ")
                    .map(|(_, url)| url)
                    .ok_or_else(|| {
                        Error::ServerDied(format!(
                            "unexpected first line from the child server: {line:?}{}",
                            stderr.describe()
                        ))
                    })?
                    .trim()
                    .to_owned();
                // Keep reading stdout so a chatty server never blocks on a full pipe.
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                // A `--tls` server prints https; the same port speaks http.
                let printed = parse_url(&url.replacen("https://", "http://", 1))?;
                let (addr, control_addr) = if path.is_loopback() {
                    (printed, printed)
                } else {
                    (
                        path.server_addr(printed.port()),
                        path.control_addr(printed.port()),
                    )
                };
                let tls = match cert_file {
                    Some(path) => {
                        let cert = read_pem_certificate(&path);
                        let _ = std::fs::remove_file(&path);
                        let cert = cert.map_err(|e| {
                            Error::ServerDied(format!(
                                "the child server wrote no certificate: {e}{}",
                                stderr.describe()
                            ))
                        })?;
                        Some(pinning(&cert)?)
                    }
                    None => None,
                };
                Ok(ServerHandle {
                    addr,
                    control_addr,
                    path: path.clone(),
                    url,
                    outage_grace: crate::backoff::DEFAULT_GIVE_UP,
                    tls,
                    more_nodes: Vec::new(),
                    kind: HandleKind::Child(child, stderr),
                })
            }
        }
    }
}

impl ServerHandle {
    /// Every node the clients spread over: this server, then
    /// [`ServerHandle::more_nodes`].
    pub fn nodes(&self) -> Vec<NodeAddr> {
        let first = NodeAddr {
            url: self.url.clone(),
            addr: self.addr,
            control_addr: self.control_addr,
        };
        std::iter::once(first)
            .chain(self.more_nodes.iter().cloned())
            .collect()
    }

    /// `Some(reason)` when a child server has exited.
    pub fn exited(&mut self) -> Option<String> {
        match &mut self.kind {
            HandleKind::Child(child, stderr) => match child.try_wait() {
                Ok(Some(status)) => Some(format!(
                    "the server process exited ({status}){}",
                    stderr.describe()
                )),
                _ => None,
            },
            _ => None,
        }
    }

    /// Stops a server this run started (SIGTERM first, for a clean end).
    pub async fn stop(self) {
        match self.kind {
            HandleKind::External => {}
            HandleKind::InProcess(server) => {
                let _ = server.shutdown_within(Duration::from_secs(2)).await;
            }
            HandleKind::Child(mut child, _) => {
                if let Some(pid) = child.id() {
                    let _ = Command::new("kill")
                        .args(["-TERM", &pid.to_string()])
                        .status()
                        .await;
                }
                if tokio::time::timeout(Duration::from_secs(5), child.wait())
                    .await
                    .is_err()
                {
                    let _ = child.start_kill();
                    let _ = child.wait().await;
                }
            }
        }
    }
}

/// How long the check that a `--target` answers across the link waits.
pub const REACH_TIMEOUT: Duration = Duration::from_secs(3);

/// Checks, before a run against `url` (at `host_addr` on the host) over an
/// emulated link, that a TCP connection from the path's client side to
/// `addr` (the host's end of the link) is accepted. A target on
/// `127.0.0.1` that does not answer there listens on loopback only.
async fn reachable_across(
    path: &PathSides,
    url: &str,
    host_addr: SocketAddr,
    addr: SocketAddr,
) -> Result<()> {
    if !host_addr.ip().is_loopback() {
        return Ok(());
    }
    let sides = path.clone();
    let tried = tokio::task::spawn_blocking(move || {
        sides.at(pushbench_net::network_path::Side::Client, move || {
            std::net::TcpStream::connect_timeout(&addr, REACH_TIMEOUT).map(drop)
        })
    })
    .await
    .map_err(|e| Error::Scenario(format!("checking target `{url}`: {e}")))?;
    match tried.and_then(|connected| connected) {
        Ok(()) => Ok(()),
        Err(e) => Err(Error::Scenario(target_on_loopback_only(
            url,
            &path.profile().label(),
            addr,
            &e,
        ))),
    }
}

/// Why a `--target` on `127.0.0.1` cannot be measured over link `link`,
/// and how to start it so it can.
pub fn target_on_loopback_only(
    url: &str,
    link: &str,
    addr: SocketAddr,
    error: &std::io::Error,
) -> String {
    format!(
        "target `{url}` listens only on loopback: clients behind --link {link} reach the \
         host at {addr}, where it does not answer ({error}); start it on every address, \
         e.g. `pushbench serve --addr 0.0.0.0:{port}`, and keep --target {url}",
        port = addr.port()
    )
}

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
pub fn node_count(list: &str) -> usize {
    list.split(',').count()
}

/// `http://host:port[/]` (or `https://`, a `serve --tls` port, which
/// answers both) to a socket address.
pub fn parse_url(url: &str) -> Result<SocketAddr> {
    let bad = |why: &str| Error::Scenario(format!("target `{url}`: {why}"));
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| bad("must start with http:// or https://"))?;
    let hostport = rest.trim_end_matches('/');
    if hostport.contains('/') {
        return Err(bad("must be http://host:port with no path"));
    }
    hostport
        .to_socket_addrs()
        .map_err(|e| bad(&e.to_string()))?
        .next()
        .ok_or_else(|| bad("resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_told_the_spec_and_only_non_default_profiles() {
        let scenario = Scenario {
            payload: 64,
            topics: 3,
            ..Scenario::default()
        };
        let spec = serve_spec(&scenario, 250.0);
        assert_eq!(
            serve_args(&spec),
            [
                "--rate",
                "250",
                "--payload",
                "64",
                "--topics",
                "3",
                "--ring",
                "15000"
            ]
        );
        let scenario = Scenario {
            response_headers: pushbench_protocol::HeaderProfile::BROWSER,
            coding: vec![
                ContentCoding::Identity,
                ContentCoding::Br,
                ContentCoding::Gzip,
            ],
            tls: vec![false, true],
            burst: 5,
            ..scenario
        };
        let spec = serve_spec(&scenario, 0.5);
        assert!(spec.tls);
        assert_eq!(
            serve_args(&spec)[8..],
            [
                "--burst",
                "5",
                "--response-headers",
                "browser",
                "--compression",
                "br,gzip"
            ]
        );
        assert_eq!(serve_args(&spec)[7], "10000");
    }

    #[test]
    fn urls_parse_to_addresses() {
        assert_eq!(
            parse_url("http://127.0.0.1:8080").ok(),
            Some(SocketAddr::from(([127, 0, 0, 1], 8080)))
        );
        assert_eq!(
            parse_url("http://127.0.0.1:8080/").ok(),
            Some(SocketAddr::from(([127, 0, 0, 1], 8080)))
        );
        assert_eq!(
            parse_url("https://127.0.0.1:8443").ok(),
            Some(SocketAddr::from(([127, 0, 0, 1], 8443)))
        );
        assert!(parse_url("ftp://127.0.0.1:1").is_err());
        assert!(parse_url("http://127.0.0.1:8080/stats").is_err());
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
        assert_eq!(node_count("http://a:1,http://b:2"), 2);
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
