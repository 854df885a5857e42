//! WebSocket: `GET /ws` (one frame per event, upstream messages published)
//! and `GET /echo` (every data frame sent back unchanged).

use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{ConnectInfo, Extension, Query as QueryExtractor, State};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use futures_util::SinkExt as _;
use pushbench_protocol::{Transport, gap_json};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio_tungstenite::tungstenite;

use crate::AppState;
use crate::direct::{DirectWriter, Outgoing, WriteError};
use crate::error::AppError;
use crate::guard;
use crate::listener::Conn;
use crate::live::{LiveItem, Parking, Subscription, stopped};
use crate::params::{self, Format, Query};
use crate::poll::query;
use crate::push_framing::{Framing, Wire};
use crate::route::Route;
use crate::stats::is_timed_out;

/// The close code for a receive error: too big is 1009, invalid UTF-8 1007,
/// any other protocol violation 1002.
pub fn close_code_for(err: &tungstenite::Error) -> u16 {
    use tungstenite::error::{CapacityError, Error, ProtocolError};
    match err {
        Error::Capacity(CapacityError::MessageTooLong { .. }) => close_code::SIZE,
        Error::Capacity(_) => close_code::SIZE,
        Error::Utf8(_) => close_code::INVALID,
        Error::Protocol(ProtocolError::InvalidCloseSequence) => close_code::PROTOCOL,
        _ => close_code::PROTOCOL,
    }
}

fn receive_error_code(err: axum::Error) -> u16 {
    match err.into_inner().downcast::<tungstenite::Error>() {
        Ok(err) => close_code_for(&err),
        Err(_) => close_code::ERROR,
    }
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    // The peer may be gone already; there is nobody left to tell then.
    let _gone = socket.send(Message::Close(Some(frame))).await;
}

/// How long to wait for the peer's close reply. On loopback it takes
/// microseconds; a peer that never answers must not hold the connection.
const CLOSE_REPLY_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Waits for the peer's close reply (or the end of the socket), so the close
/// handshake completes instead of the TCP connection being cut.
async fn drain(socket: &mut WebSocket) {
    let reply = async { while let Some(Ok(_)) = socket.recv().await {} };
    let _peer_never_answered = tokio::time::timeout(CLOSE_REPLY_WAIT, reply).await;
}

/// Initial WebSocket read buffer per connection.
const WS_READ_BUFFER: usize = 4 * 1024;

/// The upgrade with the configured limits, or the rejection as JSON.
fn upgrade(
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    state: &AppState,
) -> Result<WebSocketUpgrade, AppError> {
    let ws = ws.map_err(|rejection| AppError::NotAnUpgrade {
        status: rejection.status(),
        message: rejection.body_text(),
    })?;
    // tungstenite reserves a 128 KiB read buffer per connection by default;
    // push clients send almost nothing, and the buffer still grows for a
    // large message, so 4 KiB keeps idle connections cheap.
    Ok(ws
        .read_buffer_size(WS_READ_BUFFER)
        .max_message_size(state.config.max_payload)
        .max_frame_size(state.config.max_frame))
}

/// `GET /ws[?since=S][&format=binary][&topic=T]`.
pub async fn websocket(
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<QueryExtractor<Query>, QueryRejection>,
    conn: Option<Extension<ConnectInfo<Conn>>>,
) -> Result<Response, AppError> {
    let query = query(raw)?;
    guard::check_origin(&headers, &state.config.allowed_origins)?;
    let may_publish =
        guard::has_publish_token(&headers, &query, state.config.publish_token.as_deref());
    let format = params::format(&query)?;
    let raw = params::optional_u64(&query, "since")?;
    let since = params::cursor(raw, "since", state.last_seq_for(raw).await)?;
    let topic = params::topic(&query, "upstream")?;
    // Named once, when the session ends on the send timeout: the label
    // is known by now (the connection was routed).
    let who = conn.as_ref().map_or_else(
        || "a WebSocket client".to_owned(),
        |Extension(ConnectInfo(Conn(conn, _)))| conn.describe(),
    );
    // Text frames on a plain connection go straight to the socket.
    let direct =
        conn.filter(|_| format == Format::Text)
            .and_then(|Extension(ConnectInfo(conn))| {
                DirectWriter::for_connection(&conn, state.config.send_timeout, Wire::WebSocket)
            });
    let session = Session {
        since,
        format,
        topic,
        may_publish,
        who,
        direct,
    };
    Ok(upgrade(ws, &state)?.on_upgrade(move |socket| push_session(socket, state, session)))
}

/// What a push session needs to know of its request.
struct Session {
    since: Option<u64>,
    format: Format,
    topic: String,
    may_publish: bool,
    /// The connection as a log line names it.
    who: String,
    /// Writes text frames past tungstenite (plain connections).
    direct: Option<DirectWriter>,
}

/// What an upstream message asks of the session.
enum Upstream {
    Publish(String),
    Ignore,
    Close(u16, &'static str),
    Ended,
}

fn upstream(message: Option<Result<Message, axum::Error>>) -> Upstream {
    match message {
        None | Some(Ok(Message::Close(_))) => Upstream::Ended,
        Some(Ok(Message::Text(text))) => Upstream::Publish(text.to_string()),
        Some(Ok(Message::Binary(data))) => match String::from_utf8(data.to_vec()) {
            Ok(text) => Upstream::Publish(text),
            Err(_) => Upstream::Close(
                close_code::UNSUPPORTED,
                "binary messages must hold UTF-8 text",
            ),
        },
        Some(Ok(Message::Ping(_) | Message::Pong(_))) => Upstream::Ignore,
        Some(Err(err)) => Upstream::Close(receive_error_code(err), "invalid message"),
    }
}

/// A live item as tungstenite sends it (`None`: nothing to send; a
/// keep-alive tick, as WebSocket clients need none: pings are theirs).
fn message(item: LiveItem, format: Format) -> Option<Message> {
    match item {
        LiveItem::Event(e) => Some(match format {
            Format::Text => Message::Text(e.json.clone()),
            Format::Binary => Message::Binary(e.event.to_binary().into()),
        }),
        LiveItem::Gap(gap) => Some(Message::Text(gap_json(gap).into())),
        // Batches are for direct writers only ([`push_session`] asks for
        // them only with one), and keep-alives for SSE.
        LiveItem::KeepAlive | LiveItem::Batch(_) => None,
    }
}

/// A live item as the direct writer sends it: an event's shared frame,
/// a gap marker framed here.
fn direct_message(item: LiveItem) -> Option<Outgoing> {
    match item {
        LiveItem::Event(e) => Some(Outgoing::Event(e)),
        LiveItem::Batch(batch) => Some(Outgoing::Batch(batch)),
        LiveItem::Gap(gap) => Some(Outgoing::own(
            Framing::WebSocketText,
            Bytes::from(gap_json(gap)),
        )),
        LiveItem::KeepAlive => None,
    }
}

/// Counts a send that failed on the send timeout (a client that stopped
/// reading) and names the client in a warning; the session ends either way.
fn count_send_error(counters: &crate::stats::Counters, who: &str, err: axum::Error) {
    if is_timed_out(&*err.into_inner()) {
        count_send_timeout(counters, who);
    }
}

fn count_send_timeout(counters: &crate::stats::Counters, who: &str) {
    tracing::warn!("cut {who}: it stopped reading for the send timeout (--send-timeout)");
    counters.send_timeouts.fetch_add(1, Ordering::Relaxed);
}

/// tungstenite's path: every message of `burst` fed, then one flush.
async fn feed_and_flush(
    socket: &mut WebSocket,
    burst: &mut Vec<Message>,
) -> Result<(), axum::Error> {
    for message in burst.drain(..) {
        socket.feed(message).await?;
    }
    socket.flush().await
}

async fn push_session(mut socket: WebSocket, state: AppState, session: Session) {
    let Session {
        since,
        format,
        topic,
        may_publish,
        who,
        direct,
    } = session;
    let upstream_policy = UpstreamPolicy {
        publisher: state.clone(),
        limiter: Arc::clone(&state.publish_limiter),
        topic,
        may_publish,
    };
    let counters = Arc::clone(&state.counters);
    let mut sub = Subscription::new(state, ROUTE, since, None);
    if direct.is_some() {
        sub = sub.with_batches();
    }
    let mut burst = Vec::new();
    let mut direct_burst = Vec::new();
    // Whether tungstenite may hold output of its own (a pong, after a
    // read): flushed before a direct write, so frames never interleave.
    let mut tungstenite_wrote = false;
    loop {
        // Up to date with a direct writer: parked in the hub's fan-out,
        // which writes each publish from its own loop, until it hands
        // the session back or the client says something.
        if let Some(direct) = &direct
            && sub.is_idle()
        {
            if let Err(err) = flush_tungstenite(&mut socket, &mut tungstenite_wrote).await {
                return count_send_error(&counters, &who, err);
            }
            match sub.park(direct, socket.recv()).await {
                Err(err) => return end_on_write_error(&counters, &who, err),
                Ok(Parking::Busy) => {}
                Ok(Parking::Resumed | Parking::KeepAlive) => continue,
                Ok(Parking::Also(message)) => {
                    tungstenite_wrote = true;
                    if upstream_policy
                        .answer(&mut socket, message)
                        .await
                        .is_break()
                    {
                        return;
                    }
                    continue;
                }
            }
        }
        // Events first (`biased`): a wake-up for events does not also
        // poll the upstream reader; the client's messages are read
        // whenever no event is ready.
        tokio::select! {
            biased;
            item = sub.next() => {
                // This event and any others already waiting go out in one
                // write: one system call per burst rather than per event,
                // and nothing that is ready is held back.
                let ended = match &direct {
                    Some(direct) => {
                        let ended = sub.take_burst(item, &mut direct_burst, direct_message);
                        if !direct_burst.is_empty() {
                            if let Err(err) = flush_tungstenite(&mut socket, &mut tungstenite_wrote).await {
                                return count_send_error(&counters, &who, err);
                            }
                            let sent = direct.write(&direct_burst).await;
                            direct_burst.clear();
                            if let Err(err) = sent {
                                return end_on_write_error(&counters, &who, err);
                            }
                        }
                        ended
                    }
                    None => {
                        let ended = sub.take_burst(item, &mut burst, |item| message(item, format));
                        if !burst.is_empty() {
                            let sent = feed_and_flush(&mut socket, &mut burst).await;
                            burst.clear();
                            if let Err(err) = sent {
                                return count_send_error(&counters, &who, err);
                            }
                        }
                        ended
                    }
                };
                if ended {
                    close(&mut socket, close_code::AWAY, "server shutting down").await;
                    return drain(&mut socket).await;
                }
            }
            message = socket.recv() => {
                tungstenite_wrote = true;
                if upstream_policy.answer(&mut socket, message).await.is_break() {
                    return;
                }
            }
        }
    }
}

/// Flushes what tungstenite may hold of its own (a pong, after a read)
/// when `wrote` says it may, before a direct write, so frames never
/// interleave.
async fn flush_tungstenite(socket: &mut WebSocket, wrote: &mut bool) -> Result<(), axum::Error> {
    if std::mem::take(wrote) {
        socket.flush().await?;
    }
    Ok(())
}

/// The route a push session's deliveries are counted for.
const ROUTE: Route = Route::Transport(Transport::Ws);

/// Ends a session whose direct write failed: a timed-out one is counted
/// and its client named.
fn end_on_write_error(counters: &crate::stats::Counters, who: &str, err: WriteError) {
    if let WriteError::TimedOut = err {
        count_send_timeout(counters, who);
    }
}

/// What a push session does with its client's messages.
struct UpstreamPolicy {
    publisher: AppState,
    limiter: Arc<guard::RateLimiter>,
    topic: String,
    may_publish: bool,
}

impl UpstreamPolicy {
    /// Answers one upstream message; `Break` when the session ends.
    async fn answer(
        &self,
        socket: &mut WebSocket,
        message: Option<Result<Message, axum::Error>>,
    ) -> ControlFlow<()> {
        match upstream(message) {
            Upstream::Publish(_) if !self.may_publish => {
                close(socket, close_code::POLICY, "publishing needs the token").await;
            }
            Upstream::Publish(_) if !self.limiter.try_acquire() => {
                close(socket, close_code::POLICY, "publish rate exceeded").await;
            }
            Upstream::Publish(payload) => {
                // Only a cluster node can fail here (Redis down): the
                // client hears why in the server's JSON error shape and
                // keeps its subscription. Boxed: a cluster publish (a
                // Redis round trip) inline would make every session's
                // future, held for the connection's life, that large.
                if let Err(err) = Box::pin(self.publisher.publish(&self.topic, payload)).await
                    && socket
                        .send(Message::Text(err.body().to_string().into()))
                        .await
                        .is_err()
                {
                    return ControlFlow::Break(());
                }
                return ControlFlow::Continue(());
            }
            Upstream::Ignore => return ControlFlow::Continue(()),
            Upstream::Close(code, reason) => close(socket, code, reason).await,
            // tungstenite answered the peer's close frame already.
            Upstream::Ended => {}
        }
        drain(socket).await;
        ControlFlow::Break(())
    }
}

/// `GET /echo`: the classic echo demo.
pub async fn echo(
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    guard::check_origin(&headers, &state.config.allowed_origins)?;
    let mut shutdown = state.shutdown.clone();
    Ok(
        upgrade(ws, &state)?.on_upgrade(move |mut socket| async move {
            loop {
                let message = tokio::select! {
                    message = socket.recv() => message,
                    () = stopped(&mut shutdown) => {
                        close(&mut socket, close_code::AWAY, "server shutting down").await;
                        return drain(&mut socket).await;
                    }
                };
                match message {
                    Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                        if socket.send(message).await.is_err() {
                            return;
                        }
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    None | Some(Ok(Message::Close(_))) => return drain(&mut socket).await,
                    Some(Err(err)) => {
                        close(&mut socket, receive_error_code(err), "invalid message").await;
                        return drain(&mut socket).await;
                    }
                }
            }
        }),
    )
}
