//! Short polling (`GET /poll`) and long polling (`GET /longpoll`).
//!
//! Both answer `{"events":[...],"next":N,"gap":null|{"from":A,"to":B}}`; a
//! long poll with nothing pending holds until an event or its timeout.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query as QueryExtractor, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};
use pushbench_protocol::Transport;

use crate::AppState;
use crate::error::AppError;
use crate::hub::Backlog;
use crate::live::stopped;
use crate::params::{self, Query};
use crate::route::Route;

/// Parses the query or answers 400 naming what is wrong.
pub fn query(query: Result<QueryExtractor<Query>, QueryRejection>) -> Result<Query, AppError> {
    query
        .map(|QueryExtractor(q)| q)
        .map_err(|e| AppError::bad("query", format!("malformed query string: {e}")))
}

/// The JSON body of a poll answer, assembled from the events' shared encodings.
pub fn poll_body(backlog: &Backlog) -> Bytes {
    let events_len: usize = backlog.events.iter().map(|e| e.json.len() + 1).sum();
    let mut body = BytesMut::with_capacity(events_len + 64);
    body.put_slice(b"{\"events\":[");
    for (i, event) in backlog.events.iter().enumerate() {
        if i > 0 {
            body.put_u8(b',');
        }
        body.put_slice(event.json.as_bytes());
    }
    body.put_slice(format!("],\"next\":{},\"gap\":", backlog.next).as_bytes());
    match backlog.gap {
        Some(gap) => {
            body.put_slice(format!("{{\"from\":{},\"to\":{}}}}}", gap.from, gap.to).as_bytes())
        }
        None => body.put_slice(b"null}"),
    }
    body.freeze()
}

fn answer(state: &AppState, route: Route, backlog: &Backlog) -> Response {
    state.counters.delivered(route, backlog.events.len() as u64);
    (
        [(header::CONTENT_TYPE, "application/json")],
        poll_body(backlog),
    )
        .into_response()
}

async fn since(state: &AppState, query: &Query) -> Result<u64, AppError> {
    let raw = params::optional_u64(query, "since")?;
    let last = state.last_seq_for(raw).await;
    Ok(params::cursor(raw, "since", last)?.unwrap_or(last))
}

/// `GET /poll?since=S`: every event after S, at once, maybe none.
pub async fn short_poll(
    State(state): State<AppState>,
    raw: Result<QueryExtractor<Query>, QueryRejection>,
) -> Result<Response, AppError> {
    let query = query(raw)?;
    let since = since(&state, &query).await?;
    let backlog = state.hub.since(since, state.config.max_batch);
    Ok(answer(
        &state,
        Route::Transport(Transport::ShortPoll),
        &backlog,
    ))
}

/// `GET /longpoll?since=S&timeout=T`: at once if events are pending, else
/// held until one arrives, `T` passes, or the server shuts down.
pub async fn long_poll(
    State(state): State<AppState>,
    raw: Result<QueryExtractor<Query>, QueryRejection>,
) -> Result<Response, AppError> {
    let query = query(raw)?;
    let since = since(&state, &query).await?;
    let hold = params::timeout(
        &query,
        state.config.longpoll_default_timeout,
        state.config.longpoll_max_timeout,
    )?;
    // Watch before reading the ring so an event between the two still wakes us.
    let mut latest = state.hub.watch_latest();
    let mut shutdown = state.shutdown.clone();
    let mut backlog = state.hub.since(since, state.config.max_batch);
    if backlog.events.is_empty() && backlog.gap.is_none() {
        tokio::select! {
            _ = tokio::time::sleep(hold) => {}
            _ = latest.wait_for(|&seq| seq > since) => {}
            () = stopped(&mut shutdown) => {}
        }
        backlog = state.hub.since(since, state.config.max_batch);
    }
    Ok(answer(
        &state,
        Route::Transport(Transport::LongPoll),
        &backlog,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Hub;

    #[test]
    fn poll_body_is_the_documented_json() {
        let hub = Hub::new(2, 4, 0);
        assert_eq!(
            &poll_body(&hub.since(0, 10))[..],
            br#"{"events":[],"next":0,"gap":null}"#
        );
        hub.publish("t", "a".into());
        hub.publish("t", "b".into());
        hub.publish("t", "c".into());
        let body = poll_body(&hub.since(0, 10));
        let v: serde_json::Value = serde_json::from_slice(&body).expect("valid JSON");
        assert_eq!(v["events"].as_array().map(Vec::len), Some(2));
        assert_eq!(v["events"][0]["seq"], 2);
        assert_eq!(v["next"], 3);
        assert_eq!(v["gap"]["from"], 1);
        assert_eq!(v["gap"]["to"], 1);
    }
}
