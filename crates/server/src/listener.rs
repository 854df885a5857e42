//! The counting listener: every accepted socket is wrapped so `/stats` can
//! report the bytes each connection really carried.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::net::{TcpListener, TcpStream};

use crate::counting::{CountingStream, Tally};
use crate::stats::Route;

/// How many closed connections `/stats?connections=1` still lists, so a
/// client can compare its counts after it hung up. Bounded: memory must not
/// grow with the number of connections ever made.
const RECENTLY_CLOSED: usize = 1_024;

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
}

impl ConnCounters {
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
}

impl ConnCounters {
    fn snapshot(&self, open: bool) -> ConnSnapshot {
        ConnSnapshot {
            peer: self.peer,
            transport: self.route().map(Route::name),
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
            bytes_written: self.bytes_written.load(Ordering::Relaxed),
            open,
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
        let counters = Arc::new(ConnCounters {
            peer,
            bytes_read: AtomicU64::new(0),
            bytes_written: AtomicU64::new(0),
            route: AtomicU8::new(Route::NONE),
        });
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        inner.open.insert(id, Arc::clone(&counters));
        (id, counters)
    }

    fn close(&self, id: u64) {
        let mut inner = self.lock();
        if let Some(conn) = inner.open.remove(&id) {
            let snap = conn.snapshot(false);
            let slot =
                &mut inner.closed_totals[conn.route().map_or(Route::COUNT - 1, Route::index_usize)];
            slot.bytes_read += snap.bytes_read;
            slot.bytes_written += snap.bytes_written;
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

impl Tally for ConnTally {
    fn on_read(&self, bytes: &[u8]) {
        self.counters
            .bytes_read
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    }

    fn on_written(&self, bytes: &[u8]) {
        self.counters
            .bytes_written
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    }
}

impl Drop for ConnTally {
    fn drop(&mut self) {
        self.registry.close(self.id);
    }
}

/// A TCP listener whose connections count their bytes into a [`Registry`].
#[derive(Debug)]
pub struct CountingListener {
    inner: TcpListener,
    registry: Arc<Registry>,
}

impl CountingListener {
    /// Wraps a bound listener.
    pub fn new(inner: TcpListener, registry: Arc<Registry>) -> Self {
        CountingListener { inner, registry }
    }
}

impl Listener for CountingListener {
    type Io = CountingStream<TcpStream, ConnTally>;
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
        (CountingStream::new(stream, tally), peer)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// The connection a request arrived on, as request extension
/// (`ConnectInfo<Conn>`).
#[derive(Clone, Debug)]
pub struct Conn(pub Arc<ConnCounters>);

impl Connected<IncomingStream<'_, CountingListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, CountingListener>) -> Self {
        Conn(Arc::clone(&stream.io().tally().counters))
    }
}
