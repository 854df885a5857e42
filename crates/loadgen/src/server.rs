//! Where the measured server comes from.
//!
//! `pushbench run` starts `pushbench serve` as a child process by default,
//! so the server's CPU and memory are its own and `/stats` reports them
//! apart from the load generator; `--target URL` measures a running server;
//! tests use an in-process server.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use pushbench_protocol::Scenario;
use pushbench_server::{RunningServer, ServerConfig};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::{Error, Result};

/// How long a child server may take to print its URL.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);

/// Lines of a child server's stderr kept for an error message.
pub const STDERR_TAIL: usize = 20;

/// The last lines a child server wrote to stderr. Kept rather than passed
/// through, so its own messages ("pushbench: shutting down") never mix into
/// `run`'s output, and named when the child dies.
#[derive(Clone, Debug, Default)]
pub struct ChildStderr(std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<String>>>);

impl ChildStderr {
    fn push(&self, line: String) {
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
    /// `pushbench_server::spawn` in this process (tests); `rate`, `payload`
    /// and `topics` come from the scenario.
    InProcess(Box<ServerConfig>),
}

/// A server being measured.
#[derive(Debug)]
pub struct ServerHandle {
    /// Its address.
    pub addr: SocketAddr,
    /// Its base URL.
    pub url: String,
    /// How long it may be unreachable (refused connections, `/stats`
    /// unanswered) before the run gives up on it: clients keep reconnecting
    /// and the runner keeps asking meanwhile. A child server that exits is
    /// given up on at once: nobody restarts it.
    pub outage_grace: Duration,
    /// For TLS phases: the client configuration that pins this server's
    /// certificate (offering HTTP/1.1; a phase offers its own version,
    /// [`pushbench_server::tls::offering`]). `None` when the server was started without TLS (the
    /// scenario has no TLS phase). The server also answers plaintext on
    /// the same port (`serve --tls`), which the control calls use.
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    kind: HandleKind,
}

#[derive(Debug)]
enum HandleKind {
    External,
    Child(Child, ChildStderr),
    InProcess(Box<RunningServer>),
}

/// The ring the embedded server keeps: a minute of events and at least the
/// server's default, so a poll interval or a reconnect never outruns it.
pub fn ring_for(rate: f64) -> u64 {
    ((rate * 60.0).ceil() as u64).max(10_000)
}

fn tls_error(e: pushbench_server::tls::TlsError) -> Error {
    Error::Tls(e.to_string())
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
    /// with TLS when any phase of `scenario` uses it.
    pub async fn start(&self, scenario: &Scenario, rate: f64) -> Result<ServerHandle> {
        let tls = scenario.tls.contains(&true);
        match self {
            ServerSource::Target(url) => {
                let addr = parse_url(url)?;
                // A `serve --tls` port answers plaintext too, so the control
                // calls stay plaintext; the TLS phases pin its certificate.
                let tls = match &scenario.target_cert {
                    Some(path) if tls => {
                        let cert = pushbench_server::tls::read_pem_certificate(Path::new(path))
                            .map_err(|e| Error::Scenario(format!("target_cert `{path}`: {e}")))?;
                        Some(
                            pushbench_server::tls::client_config(
                                &cert,
                                pushbench_protocol::HttpVersion::Http1,
                            )
                            .map_err(tls_error)?,
                        )
                    }
                    _ => None,
                };
                Ok(ServerHandle {
                    addr,
                    url: format!("http://{addr}"),
                    outage_grace: crate::backoff::DEFAULT_GIVE_UP,
                    tls,
                    kind: HandleKind::External,
                })
            }
            ServerSource::InProcess(config) => {
                let response_headers =
                    pushbench_server::headers::response_headers(&scenario.response_headers)
                        .map_err(|e| Error::Scenario(format!("response_headers: {e}")))?;
                let identity = if tls {
                    Some(pushbench_server::tls::TlsIdentity::self_signed().map_err(tls_error)?)
                } else {
                    None
                };
                let config = ServerConfig {
                    rate,
                    payload: scenario.payload,
                    topics: scenario.topics,
                    ring: config.ring.max(ring_for(rate) as usize),
                    response_headers,
                    compression: pushbench_server::coding::enabled(&scenario.coding),
                    tls: match &identity {
                        Some(id) => Some(id.server_config().map_err(tls_error)?),
                        None => config.tls.clone(),
                    },
                    ..(**config).clone()
                };
                let server = pushbench_server::spawn(config, SocketAddr::from(([127, 0, 0, 1], 0)))
                    .await
                    .map_err(|e| Error::io("starting the in-process server", e))?;
                let addr = server.local_addr();
                let scheme = if identity.is_some() { "https" } else { "http" };
                Ok(ServerHandle {
                    addr,
                    url: format!("{scheme}://{addr}"),
                    outage_grace: crate::backoff::DEFAULT_GIVE_UP,
                    tls: match &identity {
                        Some(id) => Some(
                            pushbench_server::tls::client_config(
                                &id.cert,
                                pushbench_protocol::HttpVersion::Http1,
                            )
                            .map_err(tls_error)?,
                        ),
                        None => None,
                    },
                    kind: HandleKind::InProcess(Box::new(server)),
                })
            }
            ServerSource::Child { exe, extra_args } => {
                // Named only when not minimal, so an older `--server-exe`
                // without the flag still serves minimal runs.
                let response_headers = match &scenario.response_headers {
                    p if p.is_minimal() => Vec::new(),
                    p => vec!["--response-headers".to_owned(), p.to_string()],
                };
                // The child writes its certificate where the run reads it
                // from to pin it.
                let cert_file = tls.then(cert_path);
                // Named only when a phase is coded, like the header profile.
                let codings = pushbench_server::coding::enabled(&scenario.coding);
                let compression = match codings.is_empty() {
                    true => Vec::new(),
                    false => vec![
                        "--compression".to_owned(),
                        codings
                            .iter()
                            .map(|c| c.name())
                            .collect::<Vec<_>>()
                            .join(","),
                    ],
                };
                let tls_args = match &cert_file {
                    Some(path) => vec![
                        "--tls".to_owned(),
                        "--tls-cert-out".to_owned(),
                        path.display().to_string(),
                    ],
                    None => Vec::new(),
                };
                let mut child = Command::new(exe)
                    .args(["serve", "--addr", "127.0.0.1:0"])
                    .args(["--rate", &rate.to_string()])
                    .args(["--payload", &scenario.payload.to_string()])
                    .args(["--topics", &scenario.topics.to_string()])
                    .args(["--ring", &ring_for(rate).to_string()])
                    .args(&response_headers)
                    .args(&compression)
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
                let addr = parse_url(&url.replacen("https://", "http://", 1))?;
                let tls = match cert_file {
                    Some(path) => {
                        let cert = pushbench_server::tls::read_pem_certificate(&path);
                        let _ = std::fs::remove_file(&path);
                        let cert = cert.map_err(|e| {
                            Error::ServerDied(format!(
                                "the child server wrote no certificate: {e}{}",
                                stderr.describe()
                            ))
                        })?;
                        Some(
                            pushbench_server::tls::client_config(
                                &cert,
                                pushbench_protocol::HttpVersion::Http1,
                            )
                            .map_err(tls_error)?,
                        )
                    }
                    None => None,
                };
                Ok(ServerHandle {
                    addr,
                    url,
                    outage_grace: crate::backoff::DEFAULT_GIVE_UP,
                    tls,
                    kind: HandleKind::Child(child, stderr),
                })
            }
        }
    }
}

impl ServerHandle {
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
}
