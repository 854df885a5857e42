//! The seam through which a server runs inside the load generator's process
//! (the load generator's tests, `pushbench trace`) without the load
//! generator depending on any server.
//!
//! The load generator says what it needs in a [`ServeSpec`] (what
//! `pushbench serve`'s flags would say for one event rate) and asks a
//! [`StartServer`] it was handed for an [`EmbeddedServer`]. The server
//! crate implements both traits; the CLI and the tests hand that
//! implementation in. `pushbench run` does not use this seam: it starts
//! `pushbench serve` as a child process, so the server's CPU and memory
//! stay its own.

use std::fmt::Debug;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use pushbench_protocol::{ContentCoding, HeaderProfile};
use rustls::pki_types::CertificateDer;

/// A boxed future, as the traits here return (they are used as objects).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What an embedded server is started with: what `pushbench serve --rate R
/// --burst B --payload P --topics T --ring N --response-headers H --compression C
/// [--tls]` says for one event rate of a scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct ServeSpec {
    /// Events per second from the server's own generator; 0 turns it off.
    pub rate: f64,
    /// Events the generator publishes back to back (1: evenly spaced).
    pub burst: u32,
    /// Payload bytes of each generated event.
    pub payload: usize,
    /// Topics the generator spreads events over.
    pub topics: u32,
    /// Events kept for cursors, at least.
    pub ring: usize,
    /// The response header profile.
    pub response_headers: HeaderProfile,
    /// The content codings push answers may be sent in (identity left out).
    pub compression: Vec<ContentCoding>,
    /// Whether the port also speaks TLS, with a certificate made at start.
    pub tls: bool,
    /// Listen on every address (`0.0.0.0`), not only on `127.0.0.1`: for
    /// clients that reach it over an emulated link, at the link's host end.
    pub every_address: bool,
}

/// Why an embedded server did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The response header profile could not be resolved (a header file).
    #[error("{0}")]
    ResponseHeaders(String),
    /// The TLS identity or configuration could not be made.
    #[error("{0}")]
    Tls(String),
    /// The socket could not be bound (or the journal opened).
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// A server running in this process, until [`EmbeddedServer::shutdown_within`].
pub trait EmbeddedServer: Send + Sync + Debug {
    /// The address it listens on.
    fn local_addr(&self) -> SocketAddr;
    /// The certificate it presents over TLS (the client pins it); `None`
    /// when it was started without TLS.
    fn certificate(&self) -> Option<&CertificateDer<'static>>;
    /// The highest seq it has assigned.
    fn last_seq(&self) -> u64;
    /// Publishes one event of `payload` bytes on topic `t0`, as its own
    /// generator would; returns its seq.
    fn publish_generated(&self, payload: usize) -> u64;
    /// Ends every stream properly and waits up to `grace` for connections
    /// to finish.
    fn shutdown_within(self: Box<Self>, grace: Duration) -> BoxFuture<'static, io::Result<()>>;
}

/// Starts embedded servers: one per event rate of a run.
pub trait StartServer: Send + Sync + Debug {
    /// A server on `127.0.0.1` (every address with
    /// [`ServeSpec::every_address`]), on a port of the system's choosing.
    fn start(&self, spec: ServeSpec) -> BoxFuture<'_, Result<Box<dyn EmbeddedServer>, StartError>>;
}
