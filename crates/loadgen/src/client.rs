//! The one client loop, parameterised by transport and [`Schedule`].
//!
//! Every transport runs the same loop: connect (timed), open a session
//! (send a request, or the WebSocket upgrade), read until the response or
//! the stream ends, hand every decoded message to the [`SeqTracker`] and the
//! latency histogram, then either ask again on the same connection (per the
//! schedule) or reconnect after an error. What differs per transport is
//! data: the request target and the schedule. A client that speaks HTTP/2
//! runs the same steps on a stream of a shared connection ([`crate::h2`]).

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use pushbench_net::counting::CountingStream;
use pushbench_protocol::{ContentCoding, HttpVersion, Received, Transport};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;

use crate::backoff::Backoff;
use crate::meter::{BelowTls, ConnectionTotals, MAX_LATENCY_US, Meter, Note, PhaseRecorder};
use crate::tracker::SeqTracker;

/// When a client asks again on its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Short polling: a new request every interval (fixed rate, not fixed
    /// delay, so a slow answer does not thin the polls out).
    Every(Duration),
    /// Long polling: a new request as soon as the answer arrived.
    Immediately,
    /// Streaming, SSE, WebSocket: one request, then read forever.
    Once,
}

impl Schedule {
    /// The schedule of `transport`. A zero poll interval polls back to
    /// back, each request as soon as the previous answer ended (what `wrk`
    /// does): the request rate the server can answer.
    pub fn for_transport(transport: Transport, poll_interval: Duration) -> Self {
        match transport {
            Transport::ShortPoll if poll_interval.is_zero() => Schedule::Immediately,
            Transport::ShortPoll => Schedule::Every(poll_interval),
            Transport::LongPoll => Schedule::Immediately,
            Transport::Stream | Transport::Sse | Transport::Ws => Schedule::Once,
        }
    }
}

/// What every client of a phase shares.
#[derive(Clone, Debug)]
pub struct ClientSpec {
    /// The transport.
    pub transport: Transport,
    /// The server.
    pub server: SocketAddr,
    /// The phase's start cursor: every client asks for everything after it.
    pub start_cursor: u64,
    /// When to ask again.
    pub schedule: Schedule,
    /// Long-poll hold, seconds (sent as `timeout=`).
    pub longpoll_timeout_s: u64,
    /// WebSocket binary encoding.
    pub ws_binary: bool,
    /// Clients of this phase (to spread source addresses).
    pub clients: usize,
    /// Loopback source addresses to spread the clients over (0: only when
    /// one address runs out of ports).
    pub source_addresses: u8,
    /// How long a client keeps reconnecting while every attempt fails
    /// (see [`Backoff`]).
    pub give_up_after: Duration,
    /// Header lines after `host` in every request, or added to the
    /// WebSocket upgrade: the phase's header profile for this transport
    /// ([`crate::headers::RequestProfile::headers`]).
    pub headers: Vec<(String, String)>,
    /// Speak TLS (https, wss) with this configuration, which pins the
    /// server's certificate; `None` for plaintext.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The HTTP version to speak.
    pub http: HttpVersion,
    /// The content coding to ask for (`Accept-Encoding`).
    pub coding: ContentCoding,
    /// HTTP/2: clients per connection, each on its own stream.
    pub h2_streams: u32,
}

/// Ephemeral ports one source address can use toward one server port,
/// with a margin below Linux's default range of 28,232.
pub const PORTS_PER_SOURCE: usize = 25_000;

impl ClientSpec {
    /// The source address of client `id` toward a loopback server: with
    /// `source_addresses` N set, 127.0.0.(1 + id mod N); otherwise the OS
    /// default unless the phase needs more ports than one address has,
    /// then 127.0.0.x in blocks of [`PORTS_PER_SOURCE`].
    pub fn source_ip(&self, id: usize) -> Option<IpAddr> {
        if !self.server.ip().is_loopback() {
            return None;
        }
        let octet = match self.source_addresses {
            0 if self.clients <= PORTS_PER_SOURCE => return None,
            0 => 1 + id / PORTS_PER_SOURCE,
            n => 1 + id % usize::from(n),
        };
        Some(IpAddr::from([
            127,
            0,
            0,
            u8::try_from(octet).unwrap_or(u8::MAX),
        ]))
    }

    /// The request target (path and query) asking for everything after `cursor`.
    pub fn target(&self, cursor: u64) -> String {
        let path = self.transport.path();
        match self.transport {
            Transport::LongPoll => {
                format!("{path}?since={cursor}&timeout={}", self.longpoll_timeout_s)
            }
            Transport::Ws if self.ws_binary => format!("{path}?since={cursor}&format=binary"),
            _ => format!("{path}?since={cursor}"),
        }
    }

    /// The HTTP/1.1 request for `cursor` (keep-alive is HTTP/1.1's default):
    /// the request line, `host`, then the profile's [`ClientSpec::headers`].
    pub fn request(&self, cursor: u64) -> String {
        let mut head = format!(
            "GET {} HTTP/1.1\r\nhost: {}\r\n",
            self.target(cursor),
            self.server
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        head
    }

    /// The WebSocket upgrade request for `cursor`: the library's handshake
    /// headers plus the profile's.
    pub fn ws_request(
        &self,
        cursor: u64,
    ) -> Result<WsRequest, tokio_tungstenite::tungstenite::Error> {
        use tokio_tungstenite::tungstenite;
        use tungstenite::client::IntoClientRequest as _;
        use tungstenite::http::{HeaderName, HeaderValue};
        let scheme = if self.tls.is_some() { "wss" } else { "ws" };
        let url = format!("{scheme}://{}{}", self.server, self.target(cursor));
        let mut request = url.into_client_request()?;
        for (name, value) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(http::Error::from)?;
            let value = HeaderValue::from_str(value).map_err(http::Error::from)?;
            request.headers_mut().append(name, value);
        }
        Ok(request)
    }
}

/// A WebSocket upgrade request, as the client library takes it.
pub type WsRequest = tokio_tungstenite::tungstenite::handshake::client::Request;

/// One client's result for a phase.
#[derive(Debug, Default)]
pub struct ClientReport {
    /// Seqs received.
    pub tracker: SeqTracker,
    /// Every connection: local address and what it carried.
    pub connections: Vec<(SocketAddr, ConnectionTotals)>,
    /// Connections opened.
    pub opened: u64,
    /// Connection attempts that failed.
    pub failed: u64,
}

/// Why a session ended.
pub(crate) enum SessionEnd {
    /// The runner said stop.
    Stopped,
    /// An error of this kind; reconnect.
    Failed(String),
}

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

/// Runs client `id` until `stop` turns true. `progress` holds the client's
/// cursor (highest seq it has caught up to) for the runner's drain.
pub async fn run_client(
    spec: Arc<ClientSpec>,
    id: usize,
    recorder: Arc<PhaseRecorder>,
    progress: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) -> ClientReport {
    if spec.http == HttpVersion::Http2 {
        return crate::h2::run_client(spec, id, recorder, progress, stop).await;
    }
    let mut report = ClientReport {
        tracker: SeqTracker::new(spec.start_cursor),
        ..ClientReport::default()
    };
    let mut cursor = spec.start_cursor;
    let mut backoff = Backoff::new(spec.give_up_after, id);
    while !*stop.borrow() {
        let meter = Meter::with_tls(spec.transport, recorder.clone(), id, spec.tls.is_some());
        let started = Instant::now();
        let (opened, failed) = (&mut report.opened, &mut report.failed);
        let (mut conn, local) = match attempt(
            &spec,
            id,
            &meter,
            &recorder,
            &mut backoff,
            &mut stop,
            opened,
            failed,
        )
        .await
        {
            Attempt::Stop => break,
            Attempt::Retry => continue,
            Attempt::Open(conn, local) => (conn, local),
        };
        let mut session = Session {
            spec: &spec,
            id,
            recorder: &recorder,
            meter: &meter,
            report: &mut report,
            progress: &progress,
            cursor: &mut cursor,
            answered: false,
            stream: 0,
        };
        let end = match spec.transport {
            Transport::Ws => session.websocket(&mut conn, started, &mut stop).await,
            _ => {
                session.record_setup(started);
                session.http(&mut conn, &mut stop).await
            }
        };
        let segments = close(&mut conn, &spec, &meter).await;
        session.drain();
        if session.answered {
            backoff.succeeded();
        }
        drop(conn);
        report.connections.push((local, meter.finish(segments)));
        if let Some(err) = meter.take_error() {
            recorder.error(id, format!("protocol: {err}"));
        }
        match end {
            SessionEnd::Stopped => break,
            SessionEnd::Failed(kind) => {
                recorder.error(id, kind);
                if !backoff_wait(&mut backoff, &mut stop, &recorder, id).await {
                    break;
                }
            }
        }
    }
    report
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

/// What one connection attempt gave.
pub(crate) enum Attempt {
    /// Stop: told to, or failing for too long.
    Stop,
    /// It failed; the backoff has been waited out.
    Retry,
    /// A connection, and its local address.
    Open(Conn, SocketAddr),
}

/// One connection attempt of client `id` counted by `meter`: connects
/// (unless `stop` comes first) and counts it in `opened` or `failed`; a
/// failure is recorded and its backoff waited out.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn attempt(
    spec: &ClientSpec,
    id: usize,
    meter: &Meter,
    recorder: &PhaseRecorder,
    backoff: &mut Backoff,
    stop: &mut watch::Receiver<bool>,
    opened: &mut u64,
    failed: &mut u64,
) -> Attempt {
    let conn = tokio::select! {
        _ = stop.changed() => return Attempt::Stop,
        conn = connect(spec, id, meter.clone()) => conn,
    };
    match conn {
        Ok(conn) => {
            *opened += 1;
            let local = conn
                .get_ref()
                .tcp()
                .local_addr()
                .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
            Attempt::Open(conn, local)
        }
        Err(kind) => {
            *failed += 1;
            recorder.error(id, kind);
            if backoff_wait(backoff, stop, recorder, id).await {
                Attempt::Retry
            } else {
                Attempt::Stop
            }
        }
    }
}

async fn connect(spec: &ClientSpec, id: usize, meter: Meter) -> Result<Conn, String> {
    let socket = if spec.server.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    };
    let socket = socket.map_err(|e| io_kind("socket", &e))?;
    if let Some(ip) = spec.source_ip(id) {
        // Bind before connect so the kernel picks a port on that address.
        socket
            .bind(SocketAddr::new(ip, 0))
            .map_err(|e| io_kind("bind", &e))?;
    }
    let tcp = socket
        .connect(spec.server)
        .await
        .map_err(|e| io_kind("connect", &e))?;
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
/// [`CLOSE_GRACE`]. Without the reading, an event the server wrote just as
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
) -> Option<crate::tcpinfo::Segments> {
    let local = conn.get_ref().tcp().local_addr().ok()?;
    let peer = conn.get_ref().tcp().peer_addr().unwrap_or(spec.server);
    let segments = crate::tcpinfo::segments(local, peer).ok();
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

/// Records a connection's setup time (from `started`) in client `id`'s shard.
pub(crate) fn record_setup_time(recorder: &PhaseRecorder, id: usize, started: Instant) {
    let us = u64::try_from(started.elapsed().as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_LATENCY_US);
    let _ = recorder.shard(id).setup.record(us);
}

pub(crate) fn io_kind(what: &str, e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(24) => format!("{what}: too many open files"),
        _ => format!("{what}: {:?}", e.kind()),
    }
}

/// One client's view of one connection (HTTP/1.1) or of its streams on
/// a shared one (HTTP/2).
pub(crate) struct Session<'a> {
    pub(crate) spec: &'a ClientSpec,
    pub(crate) id: usize,
    pub(crate) recorder: &'a PhaseRecorder,
    pub(crate) meter: &'a Meter,
    pub(crate) report: &'a mut ClientReport,
    pub(crate) progress: &'a AtomicU64,
    pub(crate) cursor: &'a mut u64,
    /// The server gave a good answer (a 2xx head or the 101 upgrade) on
    /// this connection: the next failure starts the backoff over.
    pub(crate) answered: bool,
    /// The HTTP/2 stream whose notes are this client's (0 over HTTP/1.1,
    /// where every note is).
    pub(crate) stream: u32,
}

/// What the notes of one read amounted to.
#[derive(Default)]
pub(crate) struct Drained {
    /// A response ended with this status.
    pub(crate) ended: Option<u16>,
    /// A response head with an error status.
    pub(crate) bad_status: Option<u16>,
}

impl Session<'_> {
    fn record_setup(&self, started: Instant) {
        record_setup_time(self.recorder, self.id, started);
        if self.report.opened == 1 {
            self.recorder.first_session_opened();
        }
    }

    /// Hands the meter's decoded messages to the tracker and the histogram.
    pub(crate) fn drain(&mut self) -> Drained {
        let mut drained = Drained::default();
        let notes = self.meter.take_notes_for(self.stream);
        if notes.is_empty() {
            return drained;
        }
        let measuring = self.recorder.measuring();
        let mut shard = self.recorder.shard(self.id);
        for note in notes {
            match note {
                Note::Message(
                    Received::Event {
                        seq, created_us, ..
                    },
                    at,
                ) => {
                    let new = self.report.tracker.record(seq);
                    if new && measuring {
                        shard.delivered += 1;
                        let latency = at.saturating_sub(created_us).clamp(1, MAX_LATENCY_US);
                        let _ = shard.latency.record(latency);
                    }
                }
                Note::Message(Received::Gap(_), _) => self.report.tracker.gaps += 1,
                Note::ResponseHead(status) if !(200..300).contains(&status) && status != 101 => {
                    drained.bad_status = Some(status);
                }
                Note::ResponseHead(_) => self.answered = true,
                Note::ResponseEnd(status, next) => {
                    if measuring {
                        shard.responses += 1;
                    }
                    if let Some(next) = next {
                        *self.cursor = (*self.cursor).max(next);
                    }
                    drained.ended = Some(status);
                }
                Note::Malformed(reason) => {
                    *shard
                        .errors
                        .entry(format!("malformed: {reason}"))
                        .or_default() += 1
                }
            }
        }
        drop(shard);
        if self.spec.schedule == Schedule::Once {
            *self.cursor = (*self.cursor).max(self.report.tracker.highest());
        }
        self.progress.store(*self.cursor, Ordering::Relaxed);
        drained
    }

    async fn http(&mut self, conn: &mut Conn, stop: &mut watch::Receiver<bool>) -> SessionEnd {
        let mut buf = vec![0u8; 8 * 1024];
        let mut next_poll = tokio::time::Instant::now();
        loop {
            if let Schedule::Every(interval) = self.spec.schedule {
                tokio::select! {
                    _ = stop.changed() => return SessionEnd::Stopped,
                    _ = tokio::time::sleep_until(next_poll) => {}
                }
                next_poll += interval;
                // After a stall, poll at once but do not burst to catch up.
                next_poll = next_poll.max(tokio::time::Instant::now());
            }
            let request = self.spec.request(*self.cursor);
            if let Err(e) = conn.write_all(request.as_bytes()).await {
                return SessionEnd::Failed(io_kind("write", &e));
            }
            loop {
                let n = if let Schedule::Every(_) = self.spec.schedule {
                    // A short poll is answered at once: finish reading it so
                    // client and server count the same bytes.
                    conn.read(&mut buf).await
                } else {
                    tokio::select! {
                        _ = stop.changed() => return SessionEnd::Stopped,
                        n = conn.read(&mut buf) => n,
                    }
                };
                match n {
                    Ok(0) => return SessionEnd::Failed("closed by server".into()),
                    Ok(_) => {}
                    Err(e) => return SessionEnd::Failed(io_kind("read", &e)),
                }
                let drained = self.drain();
                if let Some(status) = drained.bad_status {
                    return SessionEnd::Failed(format!("status {status}"));
                }
                if drained.ended.is_some() {
                    if self.spec.schedule == Schedule::Once {
                        return SessionEnd::Failed("stream ended by server".into());
                    }
                    break;
                }
            }
        }
    }

    async fn websocket(
        &mut self,
        conn: &mut Conn,
        started: Instant,
        stop: &mut watch::Receiver<bool>,
    ) -> SessionEnd {
        let request = match self.spec.ws_request(*self.cursor) {
            Ok(request) => request,
            Err(e) => return SessionEnd::Failed(format!("ws request: {}", ws_kind(&e))),
        };
        let handshake = tokio::select! {
            _ = stop.changed() => return SessionEnd::Stopped,
            h = tokio_tungstenite::client_async_with_config(
                request,
                conn,
                Some(ws_config()),
            ) => h,
        };
        let mut ws = match handshake {
            Ok((ws, _response)) => {
                self.answered = true;
                ws
            }
            Err(e) => return SessionEnd::Failed(format!("ws handshake: {}", ws_kind(&e))),
        };
        self.record_setup(started);
        self.drain();
        self.ws_messages(&mut ws, stop).await
    }

    /// Reads a WebSocket's messages until `stop` (then closes it properly)
    /// or an error; the events come from the meter's notes.
    pub(crate) async fn ws_messages<S>(
        &mut self,
        ws: &mut tokio_tungstenite::WebSocketStream<S>,
        stop: &mut watch::Receiver<bool>,
    ) -> SessionEnd
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        loop {
            let message = tokio::select! {
                _ = stop.changed() => {
                    // Close properly, and read the server's close frame so
                    // both sides count the same bytes.
                    let _ = ws.close(None).await;
                    let _ = tokio::time::timeout(Duration::from_secs(1), async {
                        while let Some(Ok(_)) = ws.next().await {}
                    })
                    .await;
                    self.drain();
                    return SessionEnd::Stopped;
                }
                m = ws.next() => m,
            };
            // tokio-tungstenite answers pings itself; the classifier books
            // the ping and the pong as control from the raw bytes.
            self.drain();
            match message {
                Some(Ok(_)) => {}
                Some(Err(e)) => return SessionEnd::Failed(format!("ws: {}", ws_kind(&e))),
                None => return SessionEnd::Failed("closed by server".into()),
            }
        }
    }
}

/// Bytes tungstenite reads per socket read on a client connection. Its
/// default, 128 KiB, is zero-filled before every read: at a few hundred
/// bytes per event that memset was the load generator's largest cost (17 %
/// of its CPU in a 100-client fan-out, by `perf`). Events are small and the
/// buffer still grows for a large message, so 8 KiB costs nothing else.
pub const WS_READ_CHUNK: usize = 8 * 1024;

/// The WebSocket settings of every load-generator client.
pub fn ws_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(WS_READ_CHUNK)
}

fn ws_kind(e: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error as E;
    match e {
        E::ConnectionClosed | E::AlreadyClosed => "closed".into(),
        E::Io(io) => format!("{:?}", io.kind()),
        E::Http(response) => format!("status {}", response.status().as_u16()),
        E::Protocol(p) => format!("protocol: {p}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(transport: Transport, clients: usize) -> ClientSpec {
        ClientSpec {
            transport,
            server: SocketAddr::from(([127, 0, 0, 1], 8080)),
            start_cursor: 0,
            schedule: Schedule::for_transport(transport, Duration::from_millis(250)),
            longpoll_timeout_s: 30,
            ws_binary: true,
            clients,
            source_addresses: 0,
            give_up_after: Duration::from_secs(10),
            headers: crate::headers::RequestProfile::Minimal
                .headers(transport, SocketAddr::from(([127, 0, 0, 1], 8080))),
            tls: None,
            http: HttpVersion::Http1,
            coding: ContentCoding::Identity,
            h2_streams: 1,
        }
    }

    #[test]
    fn requests_follow_the_server_contract() {
        // The minimal requests, byte for byte.
        let host = "host: 127.0.0.1:8080\r\n";
        for (transport, cursor, line, extra) in [
            (Transport::ShortPoll, 7, "GET /poll?since=7", ""),
            (
                Transport::Sse,
                3,
                "GET /sse?since=3",
                "accept: text/event-stream\r\n",
            ),
            (Transport::Stream, 3, "GET /stream?since=3", ""),
        ] {
            assert_eq!(
                spec(transport, 1).request(cursor),
                format!("{line} HTTP/1.1\r\n{host}{extra}\r\n")
            );
        }
        assert_eq!(
            spec(Transport::LongPoll, 1).target(7),
            "/longpoll?since=7&timeout=30"
        );
        assert_eq!(
            spec(Transport::Ws, 1).target(0),
            "/ws?since=0&format=binary"
        );
        let ws = spec(Transport::Ws, 1).ws_request(0).expect("ws request");
        assert_eq!(ws.headers().len(), 5, "{:?}", ws.headers());
        assert_eq!(
            Schedule::for_transport(Transport::Sse, Duration::ZERO),
            Schedule::Once
        );
    }

    #[test]
    fn profile_headers_follow_host() {
        let mut spec = spec(Transport::ShortPoll, 1);
        spec.headers = vec![
            ("User-Agent".into(), "x/1".into()),
            ("Cookie".into(), "a=b".into()),
        ];
        assert_eq!(
            spec.request(0),
            "GET /poll?since=0 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nUser-Agent: x/1\r\nCookie: a=b\r\n\r\n"
        );
        spec.transport = Transport::Ws;
        let ws = spec.ws_request(0).expect("ws request");
        assert_eq!(
            ws.headers().get("cookie").map(|v| v.as_bytes()),
            Some(&b"a=b"[..])
        );
    }

    #[test]
    fn source_addresses_spread_round_robin_when_asked() {
        let spread = ClientSpec {
            source_addresses: 4,
            ..spec(Transport::Ws, 100)
        };
        let octets: Vec<Option<IpAddr>> = (0..5).map(|id| spread.source_ip(id)).collect();
        assert_eq!(
            octets,
            [1, 2, 3, 4, 1].map(|o| Some(IpAddr::from([127, 0, 0, o])))
        );
        let remote = ClientSpec {
            server: SocketAddr::from(([10, 0, 0, 1], 80)),
            ..spread
        };
        assert_eq!(remote.source_ip(1), None);
    }

    #[test]
    fn source_addresses_spread_only_when_needed() {
        assert_eq!(spec(Transport::Ws, 100).source_ip(99), None);
        let big = spec(Transport::Ws, 60_000);
        assert_eq!(big.source_ip(0), Some(IpAddr::from([127, 0, 0, 1])));
        assert_eq!(
            big.source_ip(PORTS_PER_SOURCE),
            Some(IpAddr::from([127, 0, 0, 2]))
        );
    }
}
