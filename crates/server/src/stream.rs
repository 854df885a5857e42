//! HTTP streaming (`GET /stream`, NDJSON in chunked encoding) and
//! Server-Sent Events (`GET /sse`): one live body, two encodings.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query as QueryExtractor, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream;
use pushbench_protocol::{Transport, gap_json};

use crate::AppState;
use crate::error::AppError;
use crate::live::{LiveItem, Subscription};
use crate::params::{self, Query};
use crate::poll::query;
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
    }
}

/// A response whose body is `subscription` encoded item by item: hyper sends
/// each item as one chunk, and the last chunk when the subscription ends.
fn live_response(
    subscription: Subscription,
    content_type: &'static str,
    encode: Encoder,
) -> Response {
    let body = stream::unfold(subscription, move |mut sub| async move {
        loop {
            let item = sub.next().await?;
            if let Some(bytes) = encode(item) {
                return Some((Ok::<_, Infallible>(bytes), sub));
            }
        }
    });
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// `GET /stream?since=S`: chunked HTTP streaming, one chunk per event.
pub async fn http_stream(
    State(state): State<AppState>,
    raw: Result<QueryExtractor<Query>, QueryRejection>,
) -> Result<Response, AppError> {
    let query = query(raw)?;
    let raw = params::optional_u64(&query, "since")?;
    let since = params::cursor(raw, "since", state.last_seq_for(raw).await)?;
    let sub = Subscription::new(state, Route::Transport(Transport::Stream), since, None);
    Ok(live_response(sub, "application/x-ndjson", ndjson))
}

/// `GET /sse`: Server-Sent Events; `Last-Event-ID` (or `?since=`) resumes.
pub async fn server_sent_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<QueryExtractor<Query>, QueryRejection>,
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
    let sub = Subscription::new(state, Route::Transport(Transport::Sse), resume, keepalive);
    Ok(live_response(sub, "text/event-stream", sse))
}
