//! A client's connections: opening one (TCP, then TLS over the counted
//! socket when the phase speaks TLS), the reconnect policy around the
//! attempts (`Dialer`), and closing one so every byte the server sent is
//! counted (`close`).

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pushbench_net::counting::CountingStream;
use pushbench_net::network_path::Side;
use pushbench_protocol::{HttpVersion, Transport};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;

use crate::backoff::Backoff;
use crate::client_spec::ClientSpec;
use crate::meter::{BelowTls, Meter};
use crate::path_sides::PathSides;
use crate::recorder::PhaseRecorder;
use crate::session::ClientConnection;
use crate::tcpinfo::{ConnectionSegments, read_connection};

/// A client connection: the meter above whatever carries the HTTP bytes.
pub(crate) type Conn = CountingStream<Wire, Meter>;

/// What carries a connection's HTTP bytes: the TCP socket itself, or TLS
/// over it, with the socket under TLS counted by the meter's
/// [`BelowTls`] tally (the ciphertext) while the meter above counts the
/// plaintext.
#[derive(Debug)]
pub enum Wire {
    /// Plaintext.
    Plain(TcpStream),
    /// TLS over the counted socket.
    Tls(Box<tokio_rustls::client::TlsStream<CountingStream<TcpStream, BelowTls>>>),
}

impl Wire {
    /// The TCP socket underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Wire::Plain(tcp) => tcp,
            Wire::Tls(tls) => tls.get_ref().0.get_ref(),
        }
    }
}

/// Forwards one `AsyncRead`/`AsyncWrite` call to whichever stream a
/// [`Wire`] holds.
macro_rules! forward {
    ($self:ident, $s:ident => $call:expr) => {
        match $self.get_mut() {
            Wire::Plain($s) => {
                let $s = Pin::new($s);
                $call
            }
            Wire::Tls(tls) => {
                let $s = Pin::new(tls.as_mut());
                $call
            }
        }
    };
}

impl AsyncRead for Wire {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        forward!(self, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for Wire {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        forward!(self, s => s.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        forward!(self, s => s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Wire::Plain(tcp) => tcp.is_write_vectored(),
            Wire::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        forward!(self, s => s.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        forward!(self, s => s.poll_shutdown(cx))
    }
}

/// What one connection attempt gave.
pub(crate) enum Attempt {
    /// Stop: told to, or failing for too long.
    Stop,
    /// It failed; the backoff has been waited out.
    Retry,
    /// A connection, and its local address.
    Open(Conn, SocketAddr),
}

/// The connections one client opens over a phase (over HTTP/2, the group's
/// keeper of a shared connection): each attempt, their counts, what each
/// finished connection carried, and the reconnect [`Backoff`] around them.
pub(crate) struct Dialer<'a> {
    spec: &'a ClientSpec,
    id: usize,
    recorder: &'a PhaseRecorder,
    backoff: Backoff,
    /// Every connection: its addresses and what it carried.
    pub(crate) connections: Vec<ClientConnection>,
    /// Connections opened.
    pub(crate) opened: u64,
    /// Connection attempts that failed.
    pub(crate) failed: u64,
}

impl<'a> Dialer<'a> {
    /// The dialer of client `id`, recording its errors in `recorder`.
    pub(crate) fn new(spec: &'a ClientSpec, id: usize, recorder: &'a PhaseRecorder) -> Self {
        Dialer {
            spec,
            id,
            recorder,
            backoff: Backoff::new(spec.give_up_after, id),
            connections: Vec::new(),
            opened: 0,
            failed: 0,
        }
    }

    /// One connection attempt counted by `meter`: connects (unless `stop`
    /// comes first) and counts it in `opened` or `failed`; a failure is
    /// recorded and its backoff waited out.
    pub(crate) async fn attempt(
        &mut self,
        meter: &Meter,
        stop: &mut watch::Receiver<bool>,
    ) -> Attempt {
        let conn = tokio::select! {
            _ = stop.changed() => return Attempt::Stop,
            conn = connect(self.spec, self.id, meter.clone(), self.recorder) => conn,
        };
        match conn {
            Ok(conn) => {
                self.opened += 1;
                let local = conn
                    .get_ref()
                    .tcp()
                    .local_addr()
                    .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
                Attempt::Open(conn, local)
            }
            Err(kind) => {
                self.failed += 1;
                if self.retry(kind, stop).await {
                    Attempt::Retry
                } else {
                    Attempt::Stop
                }
            }
        }
    }

    /// Dials `spec`'s server from now on (another node of the same phase).
    pub(crate) fn dial_to(&mut self, spec: &'a ClientSpec) {
        self.spec = spec;
    }

    /// A connection from `local` ended and is closed: books what `meter`
    /// counted on it (`segments` its `TCP_INFO` counts, both ends) and the
    /// protocol error its classifier met, if any.
    pub(crate) fn finished(
        &mut self,
        local: SocketAddr,
        meter: &Meter,
        segments: Option<ConnectionSegments>,
    ) {
        self.connections.push(ClientConnection {
            local,
            server: self.spec.server,
            totals: meter.finish(segments),
        });
        if let Some(err) = meter.take_error() {
            self.recorder.error(self.id, format!("protocol: {err}"));
        }
    }

    /// The server answered well on the last connection: the next failure
    /// starts the backoff over.
    pub(crate) fn succeeded(&mut self) {
        self.backoff.succeeded();
    }

    /// A failure of `kind`: records it and waits out its backoff; false
    /// when the client should stop (see [`backoff_wait`]).
    pub(crate) async fn retry(&mut self, kind: String, stop: &mut watch::Receiver<bool>) -> bool {
        self.recorder.error(self.id, kind);
        backoff_wait(&mut self.backoff, stop, self.recorder, self.id).await
    }
}

/// Waits out a failure's backoff; false when the client should stop (the
/// runner said so, or it has been failing for too long).
pub(crate) async fn backoff_wait(
    backoff: &mut Backoff,
    stop: &mut watch::Receiver<bool>,
    recorder: &PhaseRecorder,
    id: usize,
) -> bool {
    let Some(delay) = backoff.failed(Instant::now()) else {
        recorder.error(id, "gave up reconnecting");
        return false;
    };
    tokio::select! {
        _ = stop.changed() => false,
        () = tokio::time::sleep(delay) => true,
    }
}

async fn connect(
    spec: &ClientSpec,
    id: usize,
    meter: Meter,
    recorder: &PhaseRecorder,
) -> Result<Conn, String> {
    let (tcp, took) = dial(&spec.path, spec.server, spec.source_ip(id)).await?;
    recorder.connected(id, took);
    // With nothing listening on a loopback port in the ephemeral range, the
    // kernel may pick that very port as the source and connect the socket
    // to itself (TCP simultaneous open): a restarting server's port would
    // then be held by its own client. Treat it as the refusal it stands for.
    if tcp.local_addr().ok() == Some(spec.server) {
        return Err("connect: connected to itself (nothing listening)".into());
    }
    // Events are small and latency is measured: no Nagle delay.
    let _ = tcp.set_nodelay(true);
    let wire = match &spec.tls {
        None => Wire::Plain(tcp),
        Some(config) => {
            let below = CountingStream::new(tcp, meter.below_tls());
            let name = pushbench_net::tls_config::server_name(spec.server.ip());
            let tls = tokio_rustls::TlsConnector::from(Arc::clone(config))
                .connect(name, below)
                .await
                .map_err(|e| tls_kind(&e))?;
            meter.tls_handshake_done();
            Wire::Tls(Box::new(tls))
        }
    };
    Ok(CountingStream::new(wire, meter))
}

/// A TCP connection to `server` from a socket made at the path's client
/// side (bound to `source` when given), and how long the connect took
/// (SYN out to SYN-ACK in). The error is the failure's kind.
pub async fn dial(
    path: &PathSides,
    server: SocketAddr,
    source: Option<IpAddr>,
) -> Result<(TcpStream, Duration), String> {
    let v4 = server.is_ipv4();
    let socket = path
        .at(Side::Client, move || {
            if v4 {
                TcpSocket::new_v4()
            } else {
                TcpSocket::new_v6()
            }
        })
        .and_then(|made| made)
        .map_err(|e| io_kind("socket", &e))?;
    if let Some(ip) = source {
        // Bind before connect so the connection leaves from that address.
        // IP_BIND_ADDRESS_NO_PORT: the port is chosen at connect, unique
        // per 4-tuple, not at bind, where it must be free toward every
        // destination (a bind-time port cannot reuse one in TIME_WAIT: a
        // phase after one of tens of thousands of connections then finds
        // the address's ports nearly all taken, and connects crawl).
        if v4 {
            nix::sys::socket::setsockopt(
                &socket,
                nix::sys::socket::sockopt::IpBindAddressNoPort,
                &true,
            )
            .map_err(|e| io_kind("setsockopt", &std::io::Error::from(e)))?;
        }
        socket
            .bind(SocketAddr::new(ip, 0))
            .map_err(|e| io_kind("bind", &e))?;
    }
    let start = Instant::now();
    let tcp = socket
        .connect(server)
        .await
        .map_err(|e| io_kind("connect", &e))?;
    Ok((tcp, start.elapsed()))
}

/// The error kind of a failed TLS handshake: rustls' own words (e.g.
/// `invalid peer certificate: BadSignature` when the server's certificate
/// is not the pinned one), which name a bounded set of causes.
fn tls_kind(e: &std::io::Error) -> String {
    match e.get_ref() {
        Some(inner) => format!("tls: {inner}"),
        None => io_kind("tls", e),
    }
}

/// How long a closing client waits for the server's end of the stream.
pub const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Closes a connection so that every byte the server sent is read (and
/// counted) before the socket goes: reads the `TCP_INFO` segment counts,
/// shuts down the sending side (FIN; over TLS a `close_notify` first), then
/// reads until the server's FIN (over TLS its `close_notify`) or
/// [`CLOSE_GRACE`]. The server's socket of the connection is read too, at
/// the path's server side: its retransmissions are the received
/// direction's. Without the reading, an event the server wrote just as
/// the client left would be on the wire (and in a packet capture) but never
/// in the client's counts. The segment counts are read first because a
/// socket that has seen both FINs leaves the kernel's table; the
/// teardown's own segments (FIN, ACK) are therefore not in them.
///
/// Over TLS the client sends no `close_notify` to a server that has closed
/// first: it would cross the wire into a socket nobody reads, counted by
/// the client and never by the server (a plaintext FIN carries no bytes).
/// A WebSocket server closes first by the protocol (after the close
/// handshake), so a WebSocket client over TLS waits for that before
/// deciding; over HTTP/2 the WebSocket is one stream and the connection
/// stays the client's to close.
pub(crate) async fn close(
    conn: &mut Conn,
    spec: &ClientSpec,
    meter: &Meter,
) -> Option<ConnectionSegments> {
    let local = conn.get_ref().tcp().local_addr().ok()?;
    let peer = conn.get_ref().tcp().peer_addr().unwrap_or(spec.server);
    let segments = read_connection(&spec.path, local, peer);
    let tls = spec.tls.is_some();
    if tls && spec.transport == Transport::Ws && spec.http == HttpVersion::Http1 {
        read_to_end(conn).await;
    }
    if !(tls && meter.peer_closed_under_tls()) {
        let _ = conn.shutdown().await;
    }
    read_to_end(conn).await;
    segments
}

/// Reads (and so counts) until the server's end of the stream, for at
/// most [`CLOSE_GRACE`].
pub(crate) async fn read_to_end(conn: &mut Conn) {
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while let Ok(n) = conn.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

pub(crate) fn io_kind(what: &str, e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(24) => format!("{what}: too many open files"),
        _ => format!("{what}: {:?}", e.kind()),
    }
}
