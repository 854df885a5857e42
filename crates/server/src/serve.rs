//! The accept loop: hyper's HTTP/1.1 connection driver with the limits axum's
//! own `serve` does not expose (a header read timeout against slowloris, a
//! cap on header size), graceful shutdown that includes upgraded WebSocket
//! connections, and connection errors counted by kind for `/stats`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tower::ServiceExt;

use crate::AppState;
use crate::listener::{Conn, CountingListener, ServerIo};
use crate::live::stopped;

/// Serves `router` on `listener` until the state's shutdown flag flips, then
/// asks every connection to finish its current exchange and stops accepting.
pub async fn serve(mut listener: CountingListener, router: Router, state: AppState) {
    let mut shutdown = state.shutdown.clone();
    loop {
        let (io, _peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stopped(&mut shutdown) => return,
        };
        let conn = Conn(Arc::clone(io.tally().counters()));
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(conn.clone()));
            router.clone().oneshot(request)
        });
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(state.config.header_timeout)
            .max_buf_size(state.config.max_header_bytes);
        let state = state.clone();
        tokio::spawn(async move {
            let result = match state.config.tls.clone() {
                Some(tls) => match open_tls(io, tls, &state).await {
                    Some(Opened::Tls(io)) => drive(*io, builder, service, &state).await,
                    Some(Opened::Plain(io)) => drive(io, builder, service, &state).await,
                    None => return,
                },
                None => drive(io, builder, service, &state).await,
            };
            if let Err(err) = result {
                state.counters.connection_error(&err);
            }
        });
    }
}

/// A connection of a `--tls` server after its first byte was seen.
enum Opened {
    /// It opened with a TLS handshake, now done.
    Tls(Box<tokio_rustls::server::TlsStream<ServerIo>>),
    /// It opened with something else: plaintext HTTP.
    Plain(ServerIo),
}

/// Peeks at a connection's first byte (within the header timeout, as for
/// a request head): a TLS ClientHello ([`crate::tls::FIRST_TLS_BYTE`]) is
/// answered with the handshake, anything else is served as plaintext HTTP.
/// One port thus serves both, so a run that compares plaintext with TLS
/// measures one server process (same hub, same baseline memory), and the
/// load generator's control calls stay plaintext. `None` when the client
/// left or stalled, or the handshake failed: the connection is dropped.
/// The peek reads nothing, so the counting below sees every byte once;
/// with TLS it counts the ciphertext (what crossed the socket).
async fn open_tls(
    io: ServerIo,
    tls: Arc<rustls::ServerConfig>,
    state: &AppState,
) -> Option<Opened> {
    let timeout = state.config.header_timeout;
    let mut first = [0u8; 1];
    let peeked = tokio::time::timeout(timeout, io.get_ref().get_ref().peek(&mut first)).await;
    match peeked {
        Ok(Ok(1)) => {}
        // Silent for the header timeout: what hyper counts as one in the clear.
        Err(_) => {
            state
                .counters
                .header_timeouts
                .fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Ok(_) => return None,
    }
    if first[0] != crate::tls::FIRST_TLS_BYTE {
        return Some(Opened::Plain(io));
    }
    // The raw capture would hold ciphertext: heads of TLS connections
    // are not kept.
    io.tally().counters().set_tls();
    let accept = tokio_rustls::TlsAcceptor::from(tls).accept(io);
    match tokio::time::timeout(timeout, accept).await {
        Ok(Ok(stream)) => Some(Opened::Tls(Box::new(stream))),
        // A failed or stalled handshake is a connection error like a
        // reset: `/stats` counts it there.
        Ok(Err(_)) | Err(_) => {
            state
                .counters
                .connection_errors
                .fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

/// Serves one connection with hyper until it ends or the server shuts down.
async fn drive<I, S>(
    io: I,
    builder: http1::Builder,
    service: S,
    state: &AppState,
) -> Result<(), hyper::Error>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming> + Send + 'static,
    S::Future: Send + 'static,
    S::ResBody: Send + 'static,
    <S::ResBody as hyper::body::Body>::Data: Send,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let connection = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    let mut connection = std::pin::pin!(connection);
    let mut shutdown = state.shutdown.clone();
    tokio::select! {
        result = connection.as_mut() => result,
        () = stopped(&mut shutdown) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    }
}

/// Waits until every connection, upgraded ones included, has closed, or
/// `grace` passes.
pub async fn drain(state: &AppState, grace: Duration) {
    let deadline = tokio::time::Instant::now() + grace;
    while state.registry.open_count() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
