//! HTTP streaming (`GET /stream`, NDJSON in chunked encoding) and
//! Server-Sent Events (`GET /sse`): one live body, two encodings. On a plain
//! HTTP/1.1 connection the body's chunks go straight to the socket
//! ([`crate::direct`]); hyper still writes the head and the last chunk.

use std::convert::Infallible;
use std::io;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Extension, Query as QueryExtractor, State};
use axum::http::{HeaderMap, Method, Version, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::{StreamExt as _, future, stream};
use pushbench_protocol::{Transport, gap_json};

use crate::AppState;
use crate::direct::{DirectWriter, Outgoing};
use crate::error::AppError;
use crate::listener::Conn;
use crate::live::{LiveItem, Parking, Subscription};
use crate::params::{self, Query};
use crate::poll::query;
use crate::push_framing::{Framing, Wire};
use crate::route::Route;

/// How a live body writes each item; `None` writes nothing.
type Encoder = fn(LiveItem) -> Option<Bytes>;

/// One NDJSON line per event, a gap marker as a line of its own. Keep-alives
/// are not written: a blank line is not valid NDJSON.
fn ndjson(item: LiveItem) -> Option<Bytes> {
    match item {
        LiveItem::Event(e) => Some(e.line.clone()),
        LiveItem::Gap(gap) => Some(Bytes::from(format!("{}\n", gap_json(gap)))),
        LiveItem::KeepAlive => None,
        LiveItem::Batch(batch) => Some(batch.joined(|e| &e.line)),
    }
}

/// `id:`/`data:` per event, `event: gap` for gaps, a comment to keep alive.
fn sse(item: LiveItem) -> Option<Bytes> {
    match item {
        LiveItem::Event(e) => Some(e.sse.clone()),
        LiveItem::Gap(gap) => Some(Bytes::from(format!(
            "event: gap\ndata: {{\"from\":{},\"to\":{}}}\n\n",
            gap.from, gap.to
        ))),
        LiveItem::KeepAlive => Some(Bytes::from_static(b": keep-alive\n\n")),
        LiveItem::Batch(batch) => Some(batch.joined(|e| &e.sse)),
    }
}

/// A response whose body is `subscription` encoded item by item, one
/// chunk per item: through hyper, which sends each item as a chunk and the
/// last chunk when the subscription ends; or, with a `direct` writer,
/// past it ([`direct_chunks`]).
fn live_response(
    subscription: Subscription,
    content_type: &'static str,
    encode: Encoder,
    direct: Option<DirectWriter>,
) -> Response {
    let body = match direct {
        None => Body::from_stream(stream::unfold(subscription, move |mut sub| async move {
            loop {
                let item = sub.next().await?;
                if let Some(bytes) = encode(item) {
                    return Some((Ok::<_, Infallible>(bytes), sub));
                }
            }
        })),
        // hyper gets no data: it writes the head, then waits for the end
        // of this body to write the last chunk (or drops the connection
        // on its error).
        Some(writer) => Body::from_stream(
            stream::once(write_chunks(subscription.with_batches(), encode, writer))
                .filter_map(|written| future::ready(written.err().map(Err::<Bytes, _>))),
        ),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// A writer of chunks straight to the socket, when hyper would send this
/// response chunked over a plain connection: a GET (a HEAD has no body)
/// over HTTP/1.1 (HTTP/1.0 has no chunks), uncompressed (a compressed
/// body's bytes are not the hub's).
fn direct_chunks(
    state: &AppState,
    wire: Wire,
    method: &Method,
    version: Version,
    conn: Option<Extension<ConnectInfo<Conn>>>,
) -> Option<DirectWriter> {
    let Extension(ConnectInfo(conn)) = conn?;
    let chunked = method == Method::GET && version == Version::HTTP_11;
    (chunked && state.config.compression.is_empty())
        .then(|| DirectWriter::for_connection(&conn, state.config.send_timeout, wire))
        .flatten()
}

/// Writes `sub`'s items as chunks with `writer` until the subscription
/// ends (`Ok`) or a write fails: each wake-up's items go out together,
/// up to [`crate::direct::MAX_BURST`] in one write; an event as the chunk the hub made
/// for everyone, anything else as `encode` has it.
async fn write_chunks(
    mut sub: Subscription,
    encode: Encoder,
    writer: DirectWriter,
) -> io::Result<()> {
    // hyper polls this body first with the response head buffered; the
    // chunks may follow once it has flushed the head.
    writer.counters().next_flush().await;
    let chunk = |item| match item {
        LiveItem::Event(event) => Some(Outgoing::Event(event)),
        LiveItem::Batch(batch) => Some(Outgoing::Batch(batch)),
        // A chunk of no bytes would end the body: none is written.
        other => encode(other)
            .filter(|bytes| !bytes.is_empty())
            .map(|bytes| Outgoing::own(Framing::Chunked, bytes)),
    };
    let mut burst = Vec::new();
    loop {
        // Up to date: parked in the hub's fan-out, which writes each
        // publish from its own loop, until it hands the body back.
        match sub.park(&writer, std::future::pending::<()>()).await? {
            Parking::Busy => {}
            Parking::Resumed | Parking::Also(()) => continue,
            Parking::KeepAlive => {
                if let Some(outgoing) = chunk(LiveItem::KeepAlive) {
                    writer.write(&[outgoing]).await?;
                }
                continue;
            }
        }
        let first = sub.next().await;
        let ended = sub.take_burst(first, &mut burst, chunk);
        if !burst.is_empty() {
            writer.write(&burst).await?;
            burst.clear();
        }
        if ended {
            return Ok(());
        }
    }
}

/// `GET /stream?since=S`: chunked HTTP streaming, an NDJSON line per event
/// (one chunk per publish on the direct path, [`crate::hub::Batch::framed`]).
pub async fn http_stream(
    State(state): State<AppState>,
    method: Method,
    version: Version,
    raw: Result<QueryExtractor<Query>, QueryRejection>,
    conn: Option<Extension<ConnectInfo<Conn>>>,
) -> Result<Response, AppError> {
    let query = query(raw)?;
    let raw = params::optional_u64(&query, "since")?;
    let since = params::cursor(raw, "since", state.last_seq_for(raw).await)?;
    let direct = direct_chunks(&state, Wire::NdjsonChunk, &method, version, conn);
    let sub = Subscription::new(state, Route::Transport(Transport::Stream), since, None);
    Ok(live_response(sub, "application/x-ndjson", ndjson, direct))
}

/// `GET /sse`: Server-Sent Events; `Last-Event-ID` (or `?since=`) resumes.
pub async fn server_sent_events(
    State(state): State<AppState>,
    method: Method,
    version: Version,
    headers: HeaderMap,
    raw: Result<QueryExtractor<Query>, QueryRejection>,
    conn: Option<Extension<ConnectInfo<Conn>>>,
) -> Result<Response, AppError> {
    let query = query(raw)?;
    // A browser's EventSource sends Last-Event-ID only on reconnects, so a
    // first connection can name its cursor in the query instead.
    let resume = match params::last_event_id(headers.get("last-event-id").map(|v| v.as_bytes()))? {
        Some(id) => {
            let last = state.last_seq_for(Some(id)).await;
            params::cursor(Some(id), "Last-Event-ID", last)?
        }
        None => {
            let raw = params::optional_u64(&query, "since")?;
            params::cursor(raw, "since", state.last_seq_for(raw).await)?
        }
    };
    let keepalive = Some(state.config.sse_keepalive);
    let direct = direct_chunks(&state, Wire::SseChunk, &method, version, conn);
    let sub = Subscription::new(state, Route::Transport(Transport::Sse), resume, keepalive);
    Ok(live_response(sub, "text/event-stream", sse, direct))
}
