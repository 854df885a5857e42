//! The counting listener: every accepted socket is wrapped so `/stats` can
//! report the bytes each connection really carried.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use futures_util::task::AtomicWaker;
use pushbench_net::counting::{CountingStream, Tally};
use tokio::net::TcpListener;
use tokio_io_timeout::TimeoutStream;

use crate::route::Route;
use crate::shared_socket::SharedSocket;

/// How many closed connections `/stats?connections=1` still lists, so a
/// client can compare its counts after it hung up. Bounded: memory must not
/// grow with the number of connections ever made.
const RECENTLY_CLOSED: usize = 1_024;

/// Most bytes of a request or response head kept for the teaching page. A
/// head of a few hundred bytes fits; a hostile one is cut, not buffered.
pub const HEAD_CAPTURE: usize = 2_048;

/// The first request and response head of a connection, as they crossed the
/// socket. Kept only for connections a client labelled (`?client=ID`): every
/// other connection drops its request head once routed, so idle connections
/// cost no capture memory.
#[derive(Debug, Default)]
struct HeadCapture {
    request: Vec<u8>,
    response: Vec<u8>,
}

/// Appends `bytes` to `buf` up to the end of an HTTP head or the capture
/// limit; returns true when capturing is finished.
fn capture_head(buf: &mut Vec<u8>, bytes: &[u8]) -> bool {
    let room = HEAD_CAPTURE.saturating_sub(buf.len());
    let start = buf.len().saturating_sub(3);
    buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
    if let Some(end) = buf[start..].windows(4).position(|w| w == b"\r\n\r\n") {
        buf.truncate(start + end + 4);
        return true;
    }
    buf.len() >= HEAD_CAPTURE
}

/// Socket-level counters of one connection.
#[derive(Debug)]
pub struct ConnCounters {
    /// The client's address.
    pub peer: SocketAddr,
    /// Bytes read from the client.
    pub bytes_read: AtomicU64,
    /// Bytes written to the client.
    pub bytes_written: AtomicU64,
    route: AtomicU8,
    label: Mutex<Option<String>>,
    capturing_request: AtomicBool,
    capturing_response: AtomicBool,
    heads: Mutex<HeadCapture>,
    tls: AtomicBool,
    http2: AtomicBool,
    /// How many times the connection's writer (hyper) flushed.
    flushes: AtomicU64,
    /// Who waits for the next flush ([`ConnCounters::next_flush`]).
    flush_waiter: AtomicWaker,
}

impl ConnCounters {
    pub(crate) fn new(peer: SocketAddr) -> Self {
        ConnCounters {
            peer,
            bytes_read: AtomicU64::new(0),
            bytes_written: AtomicU64::new(0),
            route: AtomicU8::new(Route::NONE),
            label: Mutex::new(None),
            capturing_request: AtomicBool::new(true),
            capturing_response: AtomicBool::new(false),
            heads: Mutex::new(HeadCapture::default()),
            tls: AtomicBool::new(false),
            http2: AtomicBool::new(false),
            flushes: AtomicU64::new(0),
            flush_waiter: AtomicWaker::new(),
        }
    }

    fn heads(&self) -> std::sync::MutexGuard<'_, HeadCapture> {
        self.heads.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Labels the connection for `/stats?client=ID` and keeps its first
    /// request and response heads; without a label the request head is
    /// dropped. Called once, when the connection is first routed.
    pub fn label(&self, label: Option<String>) {
        match label {
            Some(label) => {
                *self.label.lock().unwrap_or_else(|e| e.into_inner()) = Some(label);
                self.capturing_response.store(true, Ordering::Relaxed);
            }
            None => {
                self.capturing_request.store(false, Ordering::Relaxed);
                *self.heads() = HeadCapture::default();
            }
        }
    }

    /// Relabels a connection on a later request than its first: a browser
    /// reuses kept-alive connections across fetches, and the newest label
    /// names the client the connection now serves (its earlier bytes stay
    /// in its counts). The raw request head is gone by now, so `head` (the
    /// request as parsed) stands in for it; the next response head is
    /// captured as usual.
    pub fn label_reused(&self, label: String, head: &str) {
        let mut current = self.label.lock().unwrap_or_else(|e| e.into_inner());
        if current.as_deref() == Some(label.as_str()) {
            return;
        }
        *current = Some(label);
        drop(current);
        let mut heads = self.heads();
        // The parsed head may be as long as the head limit; keep what the
        // raw capture would have kept.
        heads.request = head.as_bytes()[..head.len().min(HEAD_CAPTURE)].to_vec();
        heads.response.clear();
        self.capturing_response.store(true, Ordering::Relaxed);
    }

    /// Marks the connection as TLS: its socket bytes are ciphertext, so no
    /// head is captured from them.
    pub fn set_tls(&self) {
        self.tls.store(true, Ordering::Relaxed);
        self.capturing_request.store(false, Ordering::Relaxed);
        *self.heads() = HeadCapture::default();
    }

    /// Whether the connection speaks TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.load(Ordering::Relaxed)
    }

    /// Marks the connection as HTTP/2: its bytes are binary frames, so no
    /// head is captured from them (`/stats?client=ID` then shows counts
    /// without heads, as for TLS).
    pub fn set_http2(&self) {
        self.http2.store(true, Ordering::Relaxed);
        self.capturing_request.store(false, Ordering::Relaxed);
        *self.heads() = HeadCapture::default();
    }

    /// Whether the connection speaks HTTP/2.
    pub fn is_http2(&self) -> bool {
        self.http2.load(Ordering::Relaxed)
    }

    /// The connection as a log line names it: the peer's address, the
    /// client's label and the route, as far as they are known.
    pub fn describe(&self) -> String {
        let mut text = self.peer.to_string();
        if let Some(client) = self.client() {
            text.push_str(&format!(" (client {client})"));
        }
        if let Some(route) = self.route() {
            text.push_str(&format!(" on {}", route.name()));
        }
        text
    }

    /// The label a client gave this connection.
    pub fn client(&self) -> Option<String> {
        self.label.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn record_read(&self, bytes: &[u8]) {
        self.bytes_read
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        if self.capturing_request.load(Ordering::Relaxed)
            && capture_head(&mut self.heads().request, bytes)
        {
            self.capturing_request.store(false, Ordering::Relaxed);
        }
    }

    /// Books `bytes` written to the client (the counting stream's tally,
    /// or a push session writing past it).
    pub fn record_written(&self, bytes: &[u8]) {
        self.bytes_written
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        if self.capturing_response.load(Ordering::Relaxed) {
            self.capture_response(bytes);
        }
    }

    /// Keeps the response head's bytes for the teaching page (plain
    /// HTTP/1.1 only); rare, so kept out of the hot path above.
    #[cold]
    fn capture_response(&self, bytes: &[u8]) {
        if !self.is_tls() && !self.is_http2() && capture_head(&mut self.heads().response, bytes) {
            self.capturing_response.store(false, Ordering::Relaxed);
        }
    }
    fn record_flush(&self) {
        self.flushes.fetch_add(1, Ordering::Release);
        self.flush_waiter.wake();
    }

    /// Resolves at the connection's first flush after this future is
    /// first polled. hyper flushes only once it has written everything it
    /// buffered, so a response body that waits here when hyper first
    /// polls it (with the response head buffered, not yet written) knows
    /// the head is on the socket: what it writes past hyper then follows
    /// the head ([`crate::direct`]).
    pub async fn next_flush(&self) {
        let seen = self.flushes.load(Ordering::Acquire);
        std::future::poll_fn(|cx| {
            self.flush_waiter.register(cx.waker());
            if self.flushes.load(Ordering::Acquire) == seen {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
    }

    /// The route this connection was first used for (`None` before any request).
    pub fn route(&self) -> Option<Route> {
        Route::from_index(self.route.load(Ordering::Relaxed))
    }

    /// Tags the connection with its first route; later requests keep the first.
    /// Returns true when this call set the tag.
    pub fn tag(&self, route: Route) -> bool {
        self.route
            .compare_exchange(
                Route::NONE,
                route.index(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_ok()
    }
}

/// A snapshot of one connection's counts.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ConnSnapshot {
    /// The client's address.
    pub peer: SocketAddr,
    /// The route it was first used for.
    pub transport: Option<&'static str>,
    /// Bytes read from the client.
    pub bytes_read: u64,
    /// Bytes written to the client.
    pub bytes_written: u64,
    /// Whether it is still open.
    pub open: bool,
    /// Whether it speaks TLS (absent when not).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls: bool,
    /// Whether it speaks HTTP/2 (absent when not).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub http2: bool,
    /// The label a client gave it (`?client=ID`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The first request head as it crossed the socket (labelled connections).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_head: Option<String>,
    /// The first response head as it crossed the socket (labelled connections).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_head: Option<String>,
}

impl ConnCounters {
    fn snapshot(&self, open: bool) -> ConnSnapshot {
        ConnSnapshot {
            peer: self.peer,
            transport: self.route().map(Route::name),
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
            bytes_written: self.bytes_written.load(Ordering::Relaxed),
            open,
            tls: self.is_tls(),
            http2: self.is_http2(),
            client: self.client(),
            request_head: None,
            response_head: None,
        }
    }

    /// A snapshot with the captured heads, for `/stats?client=ID`.
    fn snapshot_with_heads(&self, open: bool) -> ConnSnapshot {
        let text = |b: &[u8]| (!b.is_empty()).then(|| String::from_utf8_lossy(b).into_owned());
        let heads = self.heads();
        ConnSnapshot {
            request_head: text(&heads.request),
            response_head: text(&heads.response),
            ..self.snapshot(open)
        }
    }
}

/// Totals of closed connections, per route.
#[derive(Debug, Default, Clone, Copy)]
pub struct ClosedTotals {
    /// Bytes read from closed connections.
    pub bytes_read: u64,
    /// Bytes written to closed connections.
    pub bytes_written: u64,
}

#[derive(Debug, Default)]
struct RegistryInner {
    next_id: u64,
    open: HashMap<u64, Arc<ConnCounters>>,
    recently_closed: VecDeque<ConnSnapshot>,
    closed_totals: [ClosedTotals; Route::COUNT],
}

/// Every connection the server holds, and the totals of those it held.
#[derive(Debug, Default)]
pub struct Registry {
    inner: Mutex<RegistryInner>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, RegistryInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn open(&self, peer: SocketAddr) -> (u64, Arc<ConnCounters>) {
        let counters = Arc::new(ConnCounters::new(peer));
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        inner.open.insert(id, Arc::clone(&counters));
        drop(inner);
        tracing::debug!(conn = id, %peer, "connection opened");
        (id, counters)
    }

    fn close(&self, id: u64) {
        let mut inner = self.lock();
        if let Some(conn) = inner.open.remove(&id) {
            let snap = if conn.client().is_some() {
                conn.snapshot_with_heads(false)
            } else {
                conn.snapshot(false)
            };
            let slot =
                &mut inner.closed_totals[conn.route().map_or(Route::COUNT - 1, Route::index_usize)];
            slot.bytes_read += snap.bytes_read;
            slot.bytes_written += snap.bytes_written;
            tracing::debug!(
                conn = id,
                peer = %snap.peer,
                transport = snap.transport.unwrap_or("-"),
                client = snap.client.as_deref().unwrap_or("-"),
                bytes_read = snap.bytes_read,
                bytes_written = snap.bytes_written,
                "connection closed"
            );
            if inner.recently_closed.len() == RECENTLY_CLOSED {
                inner.recently_closed.pop_front();
            }
            inner.recently_closed.push_back(snap);
        }
    }

    /// Connections open now.
    pub fn open_count(&self) -> usize {
        self.lock().open.len()
    }

    /// Open connections and closed totals, for `/stats`.
    pub fn snapshot(&self) -> (Vec<ConnSnapshot>, [ClosedTotals; Route::COUNT]) {
        let inner = self.lock();
        let open = inner.open.values().map(|c| c.snapshot(true)).collect();
        (open, inner.closed_totals)
    }

    /// Open and recently closed connections labelled `client`, with heads.
    pub fn labelled(&self, client: &str) -> Vec<ConnSnapshot> {
        let inner = self.lock();
        let open = inner
            .open
            .values()
            .filter(|c| c.client().as_deref() == Some(client))
            .map(|c| c.snapshot_with_heads(true));
        let closed = inner
            .recently_closed
            .iter()
            .filter(|c| c.client.as_deref() == Some(client))
            .cloned();
        open.chain(closed).collect()
    }

    /// Recently closed connections, oldest first.
    pub fn recently_closed(&self) -> Vec<ConnSnapshot> {
        self.lock().recently_closed.iter().cloned().collect()
    }
}

/// The tally a [`CountingStream`] reports to; leaving the registry when the
/// connection's stream is dropped.
#[derive(Debug)]
pub struct ConnTally {
    id: u64,
    counters: Arc<ConnCounters>,
    registry: Arc<Registry>,
}

impl ConnTally {
    /// The counters of this connection.
    pub fn counters(&self) -> &Arc<ConnCounters> {
        &self.counters
    }
}

impl Tally for ConnTally {
    fn on_read(&self, bytes: &[u8]) {
        self.counters.record_read(bytes);
    }

    fn on_written(&self, bytes: &[u8]) {
        self.counters.record_written(bytes);
    }

    fn on_flush(&self) {
        self.counters.record_flush();
    }
}

impl Drop for ConnTally {
    fn drop(&mut self) {
        self.registry.close(self.id);
    }
}

/// The socket under the counting: writes that stall longer than the send
/// timeout fail, so a client that stops reading cannot hold a connection
/// (and its buffers) forever.
pub type TimedSocket = std::pin::Pin<Box<TimeoutStream<SharedSocket>>>;

/// One accepted connection as the server sees it.
pub type ServerIo = CountingStream<TimedSocket, ConnTally>;

/// A TCP listener whose connections count their bytes into a [`Registry`].
#[derive(Debug)]
pub struct CountingListener {
    inner: TcpListener,
    registry: Arc<Registry>,
    send_timeout: std::time::Duration,
}

impl CountingListener {
    /// Wraps a bound listener; writes stalled for `send_timeout` fail.
    pub fn new(
        inner: TcpListener,
        registry: Arc<Registry>,
        send_timeout: std::time::Duration,
    ) -> Self {
        CountingListener {
            inner,
            registry,
            send_timeout,
        }
    }
}

impl Listener for CountingListener {
    type Io = ServerIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // axum's accept retries on errors such as EMFILE after a pause.
        let (stream, peer) = Listener::accept(&mut self.inner).await;
        // Push traffic is many small writes; Nagle would add up to 40 ms.
        let _best_effort = stream.set_nodelay(true);
        let (id, counters) = self.registry.open(peer);
        let tally = ConnTally {
            id,
            counters,
            registry: Arc::clone(&self.registry),
        };
        let mut timed = TimeoutStream::new(SharedSocket(Arc::new(stream)));
        timed.set_write_timeout(Some(self.send_timeout));
        (CountingStream::new(Box::pin(timed), tally), peer)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// The connection a request arrived on, as request extension
/// (`ConnectInfo<Conn>`): its counters and its socket (for a WebSocket
/// push session that writes straight to a plain connection, see
/// [`crate::direct`]).
#[derive(Clone, Debug)]
pub struct Conn(pub Arc<ConnCounters>, pub SharedSocket);

impl Conn {
    /// The counters and socket of `io`.
    pub fn of(io: &ServerIo) -> Self {
        Conn(
            Arc::clone(&io.tally().counters),
            io.get_ref().get_ref().clone(),
        )
    }
}

impl Connected<IncomingStream<'_, CountingListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, CountingListener>) -> Self {
        Conn::of(stream.io())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_capture_stops_at_the_blank_line_even_across_reads() {
        let mut buf = Vec::new();
        assert!(!capture_head(&mut buf, b"GET / HTTP/1.1\r\nHost: x\r"));
        assert!(capture_head(&mut buf, b"\n\r\nbody bytes"));
        assert_eq!(buf, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    }

    #[test]
    fn head_capture_is_bounded() {
        let mut buf = Vec::new();
        assert!(capture_head(&mut buf, &[b'a'; 5_000]));
        assert_eq!(buf.len(), HEAD_CAPTURE);
        crate::reliability(
            "security/limits",
            "captured head of a 5,000-byte request",
            "cut at 2048 bytes",
        );
    }

    #[test]
    fn a_reused_connection_keeps_a_bounded_head() {
        let conn = ConnCounters::new("127.0.0.1:1".parse().expect("addr"));
        conn.label(Some("a".into()));
        conn.label_reused("b".into(), &"x".repeat(10 * HEAD_CAPTURE));
        let snap = conn.snapshot_with_heads(true);
        assert_eq!(snap.request_head.map(|h| h.len()), Some(HEAD_CAPTURE));
        crate::reliability(
            "security/limits",
            "stored request head of a relabelled connection",
            "cut at 2048 bytes",
        );
    }

    #[test]
    fn the_table_of_closed_connections_keeps_only_the_newest() {
        let registry = Registry::default();
        let peer: SocketAddr = "127.0.0.1:1".parse().expect("addr");
        for _ in 0..RECENTLY_CLOSED + 100 {
            let (id, conn) = registry.open(peer);
            conn.record_read(b"GET /poll?client=c HTTP/1.1\r\n\r\n");
            conn.label(Some("c".into()));
            registry.close(id);
        }
        assert_eq!(registry.open_count(), 0);
        assert_eq!(registry.recently_closed().len(), RECENTLY_CLOSED);
        assert_eq!(registry.labelled("c").len(), RECENTLY_CLOSED);
        let (_, totals) = registry.snapshot();
        let read: u64 = totals.iter().map(|t| t.bytes_read).sum();
        assert_eq!(
            read,
            (RECENTLY_CLOSED as u64 + 100) * 31,
            "totals keep every byte"
        );
        crate::reliability(
            "security/limits",
            "table of closed connections after 1,124 closed",
            "newest 1024 kept, totals exact",
        );
    }

    #[test]
    fn unlabelled_connections_drop_their_capture() {
        let conn = ConnCounters::new("127.0.0.1:1".parse().expect("addr"));
        conn.record_read(b"GET /poll HTTP/1.1\r\n\r\n");
        conn.label(None);
        conn.record_written(b"HTTP/1.1 200 OK\r\n\r\n");
        let snap = conn.snapshot_with_heads(true);
        assert_eq!((snap.request_head, snap.response_head), (None, None));

        let labelled = ConnCounters::new("127.0.0.1:2".parse().expect("addr"));
        labelled.record_read(b"GET /poll?client=a HTTP/1.1\r\n\r\n");
        labelled.label(Some("a".into()));
        labelled.record_written(b"HTTP/1.1 200 OK\r\n\r\n{}");
        let snap = labelled.snapshot_with_heads(true);
        assert_eq!(
            snap.response_head.as_deref(),
            Some("HTTP/1.1 200 OK\r\n\r\n")
        );
        assert_eq!(snap.client.as_deref(), Some("a"));
    }
}
