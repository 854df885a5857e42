//! The accept loop: hyper's HTTP/1.1 and HTTP/2 connection drivers (the
//! version told by ALPN over TLS, by the connection preface in the clear)
//! with the limits axum's own `serve` does not expose (a header read timeout against slowloris, a
//! cap on header size), graceful shutdown that includes upgraded WebSocket
//! connections, and connection errors counted by kind for `/stats`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tower::ServiceExt;

use crate::AppState;
use crate::listener::{Conn, CountingListener, ServerIo};
use crate::live::stopped;
use crate::stats::ConnectionEnd;

/// Serves `router` on `listener` until the state's shutdown flag flips, then
/// asks every connection to finish its current exchange and stops accepting.
pub async fn serve(mut listener: CountingListener, router: Router, state: AppState) {
    let mut shutdown = state.shutdown.clone();
    loop {
        let (io, _peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stopped(&mut shutdown) => return,
        };
        let service = ConnRouter {
            conn: Conn::of(&io),
            router: router.clone(),
        };
        tokio::spawn(connection(io, service, state.clone()));
    }
}

/// The router as hyper serves it on one connection: each request carries
/// the connection (`ConnectInfo<Conn>`) for the counting and the labels.
#[derive(Clone, Debug)]
struct ConnRouter {
    conn: Conn,
    router: Router,
}

impl hyper::service::Service<hyper::Request<Incoming>> for ConnRouter {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = tower::util::Oneshot<Router, hyper::Request<Incoming>>;

    fn call(&self, mut request: hyper::Request<Incoming>) -> Self::Future {
        request
            .extensions_mut()
            .insert(ConnectInfo(self.conn.clone()));
        self.router.clone().oneshot(request)
    }
}

/// One connection's task, from its first bytes to its end. An SSE or
/// streaming connection keeps this future for its whole life, so it holds
/// only what every connection needs: the opening (a TLS handshake's
/// state) and the driver of the one HTTP version spoken are boxed, sized
/// for what this connection uses rather than for the largest of them
/// (an HTTP/2 driver over TLS).
async fn connection(io: ServerIo, service: ConnRouter, state: AppState) {
    let counters = Arc::clone(io.tally().counters());
    let Some(opened) = Box::pin(open(io, &state)).await else {
        return;
    };
    let result = match opened {
        Opened::Tls(io, version) => drive(*io, version, service, &state).await,
        Opened::Plain(io, version) => drive(io, version, service, &state).await,
    };
    if let Err(err) = result {
        let end = state.counters.connection_error(&err);
        log_connection_end(end, &counters.describe(), &err);
    }
}

/// One log line for a connection hyper ended with an error: a limit that
/// cut a client is a warning naming it; a client that just went away is
/// only worth a debug line (every benchmark ends with hundreds of those).
fn log_connection_end(end: ConnectionEnd, who: &str, err: &hyper::Error) {
    match end {
        ConnectionEnd::SendTimeout => {
            tracing::warn!("cut {who}: it stopped reading for the send timeout (--send-timeout)");
        }
        ConnectionEnd::HeaderTimeout => {
            tracing::warn!(
                "cut {who}: no request head within the header timeout (--header-timeout)"
            );
        }
        ConnectionEnd::Malformed => tracing::info!("refused {who}: malformed request: {err}"),
        ConnectionEnd::Error => tracing::debug!("connection {who} ended: {err}"),
    }
}

/// The HTTP version a connection speaks, told before hyper sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    Http1,
    Http2,
}

/// A connection after its first bytes were seen.
enum Opened {
    /// It opened with a TLS handshake, now done; ALPN chose the version.
    Tls(Box<tokio_rustls::server::TlsStream<ServerIo>>, Version),
    /// Plaintext HTTP/1.1, or HTTP/2 with prior knowledge (h2c).
    Plain(ServerIo, Version),
}

/// What a connection's first bytes say it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sniffed {
    /// A TLS ClientHello ([`crate::tls_identity::FIRST_TLS_BYTE`]).
    Tls,
    /// The start of the HTTP/2 connection preface, `PRI`.
    Http2,
    /// Anything else: HTTP/1.1 (hyper answers what is not).
    Http1,
}

/// The start of the HTTP/2 client connection preface
/// (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`). No HTTP/1.1 method is `PRI`,
/// so three bytes tell an h2c client from an HTTP/1.1 one.
const H2_PREFACE_START: &[u8] = b"PRI";

/// Tells what the first bytes of a connection are, from as many as have
/// arrived: `None` while they could still be either.
fn sniff(first: &[u8], tls_enabled: bool) -> Option<Sniffed> {
    match first {
        [] => None,
        [b, ..] if tls_enabled && *b == crate::tls_identity::FIRST_TLS_BYTE => Some(Sniffed::Tls),
        _ if first.len() >= H2_PREFACE_START.len() => {
            Some(if first.starts_with(H2_PREFACE_START) {
                Sniffed::Http2
            } else {
                Sniffed::Http1
            })
        }
        _ if H2_PREFACE_START.starts_with(first) => None,
        _ => Some(Sniffed::Http1),
    }
}

/// Peeks at a connection's first bytes (within the header timeout, as for
/// a request head) and opens it accordingly: a TLS ClientHello (on a
/// `--tls` server) is answered with the handshake and ALPN picks HTTP/2 or
/// HTTP/1.1; in the clear, the HTTP/2 preface means h2c with prior
/// knowledge and anything else HTTP/1.1. One port thus serves all four, so
/// a run that compares them measures one server process (same hub, same
/// baseline memory), and the load generator's control calls stay plaintext
/// HTTP/1.1. `None` when the client left or stalled, or the handshake
/// failed: the connection is dropped. The peek reads nothing, so the
/// counting below sees every byte once; with TLS it counts the ciphertext
/// (what crossed the socket).
async fn open(io: ServerIo, state: &AppState) -> Option<Opened> {
    let timeout = state.config.header_timeout;
    let tls = state.config.tls.clone();
    let sniffed = tokio::time::timeout(timeout, async {
        let mut first = [0u8; 3];
        loop {
            let n = io.get_ref().get_ref().0.peek(&mut first).await.ok()?;
            if n == 0 {
                return None;
            }
            if let Some(sniffed) = sniff(&first[..n], tls.is_some()) {
                return Some(sniffed);
            }
            // A client that sent part of "PRI" and paused: look again
            // shortly (a peek of the same bytes returns at once).
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let sniffed = match sniffed {
        Ok(Some(s)) => s,
        // Silent for the header timeout: what hyper counts as one in the clear.
        Err(_) => {
            tracing::warn!(
                "cut {}: no request within the header timeout (--header-timeout)",
                io.tally().counters().describe()
            );
            state
                .counters
                .header_timeouts
                .fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Ok(None) => return None,
    };
    let tls = match (sniffed, tls) {
        (Sniffed::Tls, Some(tls)) => tls,
        (Sniffed::Http2, _) => {
            io.tally().counters().set_http2();
            return Some(Opened::Plain(io, Version::Http2));
        }
        _ => return Some(Opened::Plain(io, Version::Http1)),
    };
    // The raw capture would hold ciphertext: heads of TLS connections
    // are not kept.
    io.tally().counters().set_tls();
    let io_peer = io.tally().counters().peer;
    let accept = tokio_rustls::TlsAcceptor::from(tls).accept(io);
    match tokio::time::timeout(timeout, accept).await {
        Ok(Ok(stream)) => {
            let version =
                if stream.get_ref().1.alpn_protocol() == Some(crate::tls_identity::ALPN_H2) {
                    stream.get_ref().0.tally().counters().set_http2();
                    Version::Http2
                } else {
                    Version::Http1
                };
            Some(Opened::Tls(Box::new(stream), version))
        }
        // A failed or stalled handshake is a connection error like a
        // reset: `/stats` counts it there.
        Ok(Err(_)) | Err(_) => {
            tracing::info!("TLS handshake with {io_peer} failed or stalled");
            state
                .counters
                .connection_errors
                .fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

/// The HTTP/2 frames a client must have sent before the header timeout:
/// the 24-byte preface and a SETTINGS frame header. hyper's HTTP/2 server
/// has no timeout for the preface, so without this a client that sends
/// `PRI` (or completes a TLS handshake) and stalls would hold its
/// connection for ever (the HTTP/2 form of slowloris).
const H2_OPENING_BYTES: u64 = 24 + 9;

/// Counts the bytes hyper reads: the HTTP/2 bytes themselves, above TLS
/// when there is TLS (the connection's own counters count the socket).
#[derive(Clone, Debug, Default)]
struct ReadCount(Arc<std::sync::atomic::AtomicU64>);

impl pushbench_net::counting::Tally for ReadCount {
    fn on_read(&self, bytes: &[u8]) {
        self.0.fetch_add(bytes.len() as u64, Ordering::Relaxed);
    }

    fn on_written(&self, _bytes: &[u8]) {}
}

/// The future of a connection's HTTP driver, boxed (see [`connection`]).
type Driving<'a> = std::pin::Pin<Box<dyn Future<Output = Result<(), hyper::Error>> + Send + 'a>>;

/// Serves one connection with hyper until it ends or the server shuts down.
fn drive<I>(io: I, version: Version, service: ConnRouter, state: &AppState) -> Driving<'_>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    match version {
        Version::Http1 => Box::pin(drive_http1(io, service, state)),
        Version::Http2 => Box::pin(drive_http2(io, service, state)),
    }
}

/// HTTP/1.1, upgrades (WebSocket) included.
async fn drive_http1<I>(io: I, service: ConnRouter, state: &AppState) -> Result<(), hyper::Error>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut shutdown = state.shutdown.clone();
    let config = &state.config;
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .max_buf_size(config.max_header_bytes);
    let connection = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => result,
        () = stopped(&mut shutdown) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    }
}

/// HTTP/2, with a deadline for the client's opening frames.
async fn drive_http2<I>(io: I, service: ConnRouter, state: &AppState) -> Result<(), hyper::Error>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut shutdown = state.shutdown.clone();
    let config = &state.config;
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        // WebSocket over HTTP/2 (RFC 8441): announce
        // SETTINGS_ENABLE_CONNECT_PROTOCOL so clients may send an
        // extended CONNECT with `:protocol websocket` to `/ws`.
        .enable_connect_protocol()
        .max_header_list_size(u32::try_from(config.max_header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(H2_MAX_STREAMS);
    let read = ReadCount::default();
    let io = pushbench_net::counting::CountingStream::new(io, read.clone());
    let connection = builder.serve_connection(TokioIo::new(io), service);
    let mut connection = std::pin::pin!(connection);
    let opening = tokio::time::sleep(config.header_timeout);
    let mut opening = std::pin::pin!(opening);
    let mut opened = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => return result,
            () = stopped(&mut shutdown) => {
                connection.as_mut().graceful_shutdown();
                return connection.await;
            }
            () = opening.as_mut(), if !opened => {
                if read.0.load(Ordering::Relaxed) < H2_OPENING_BYTES {
                    tracing::warn!(
                        "cut an HTTP/2 connection: no preface within the header timeout \
                         (--header-timeout)"
                    );
                    state.counters.header_timeouts.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                opened = true;
            }
        }
    }
}

/// Streams one HTTP/2 connection may have open at once (SETTINGS_MAX_
/// CONCURRENT_STREAMS): hyper's default is 200; a load generator that
/// puts many clients on one connection (`run --h2-streams`) may need more,
/// and 1,000 still bounds what one connection can make the server hold.
pub const H2_MAX_STREAMS: u32 = 1000;

/// Waits until every connection, upgraded ones included, has closed, or
/// `grace` passes.
pub async fn drain(state: &AppState, grace: Duration) {
    let deadline = tokio::time::Instant::now() + grace;
    while state.registry.open_count() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_connection_task_holds_no_driver_inline() {
        let (state, _stop) = AppState::new(crate::config::ServerConfig::default()).expect("state");
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = socket.local_addr().expect("addr");
        let mut listener =
            CountingListener::new(socket, Arc::clone(&state.registry), Duration::from_secs(1));
        let _client = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (io, _peer) = listener.accept().await;
        let service = ConnRouter {
            conn: Conn::of(&io),
            router: Router::new(),
        };
        // Never polled: only its size matters. An SSE or streaming client
        // keeps this future for its connection's life; hyper's drivers
        // (HTTP/2 over TLS the largest) are several KiB each.
        let task = connection(io, service, state);
        crate::assert_held_under(&task, 512, "task future of one open connection");
    }

    #[test]
    fn first_bytes_tell_tls_h2c_and_http1_apart() {
        let tls = [crate::tls_identity::FIRST_TLS_BYTE, 3, 1];
        for (first, tls_enabled, expected) in [
            (&b""[..], true, None),
            (&tls[..1], true, Some(Sniffed::Tls)),
            // Without --tls a ClientHello is just bytes hyper refuses.
            (&tls[..], false, Some(Sniffed::Http1)),
            (b"P", true, None),
            (b"PR", false, None),
            (b"PRI", false, Some(Sniffed::Http2)),
            (b"PRI * HTTP/2.0", true, Some(Sniffed::Http2)),
            (b"POS", false, Some(Sniffed::Http1)),
            (b"PUT", false, Some(Sniffed::Http1)),
            (b"PA", false, Some(Sniffed::Http1)),
            (b"GET", true, Some(Sniffed::Http1)),
            (b"G", false, Some(Sniffed::Http1)),
        ] {
            assert_eq!(sniff(first, tls_enabled), expected, "{first:?}");
        }
    }
}
