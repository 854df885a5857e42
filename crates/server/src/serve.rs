//! The accept loop: hyper's HTTP/1.1 connection driver with the limits axum's
//! own `serve` does not expose (a header read timeout against slowloris, a
//! cap on header size), graceful shutdown that includes upgraded WebSocket
//! connections, and connection errors counted by kind for `/stats`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tower::ServiceExt;

use crate::AppState;
use crate::listener::{Conn, CountingListener};
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
            let connection = builder
                .serve_connection(TokioIo::new(io), service)
                .with_upgrades();
            let mut connection = std::pin::pin!(connection);
            let mut shutdown = state.shutdown.clone();
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = stopped(&mut shutdown) => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(err) = result {
                state.counters.connection_error(&err);
            }
        });
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
