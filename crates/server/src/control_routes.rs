//! The control routes: `POST /publish`, `GET /stats`, `GET /time`, the index page, and
//! the JSON 404.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRequest, Query as QueryExtractor, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use crate::AppState;
use crate::error::AppError;
use crate::guard;
use crate::params::{self, Query};
use crate::poll::query;
use crate::stats;

/// `POST /publish[?topic=T]`: the body is the payload; answers `{"seq":N}`.
pub async fn publish(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<QueryExtractor<Query>, QueryRejection>,
    request: Request,
) -> Result<Response, AppError> {
    let query = query(raw)?;
    guard::check_origin(&headers, &state.config.allowed_origins)?;
    if !guard::has_publish_token(&headers, &query, state.config.publish_token.as_deref()) {
        return Err(AppError::Unauthorized);
    }
    let topic = params::topic(&query, "publish")?;
    let limit = state.config.max_payload;
    // A declared length over the limit is refused before any body is read:
    // the body limit alone would wait for bytes the client need not send.
    if params::content_length(&headers).is_some_and(|len| len > limit as u64) {
        return Err(AppError::PayloadTooLarge { limit });
    }
    let body = Bytes::from_request(request, &state).await;
    let body = body.map_err(|rejection: BytesRejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge { limit },
        _ => AppError::bad("body", rejection.body_text()),
    })?;
    if body.len() > limit {
        return Err(AppError::PayloadTooLarge { limit });
    }
    let payload = String::from_utf8(body.to_vec())
        .map_err(|_| AppError::bad("body", "the payload must be UTF-8 text"))?;
    if !state.publish_limiter.try_acquire() {
        return Err(AppError::TooManyRequests {
            rate: state.config.publish_rate,
        });
    }
    let seq = state.publish(&topic, payload).await?;
    Ok((StatusCode::OK, Json(json!({ "seq": seq }))).into_response())
}

/// `GET /stats[?connections=1]`; `GET /stats?client=ID` lists only the
/// connections labelled ID, with their first request and response heads.
pub async fn stats_json(
    State(state): State<AppState>,
    raw: Result<QueryExtractor<Query>, QueryRejection>,
) -> Result<Response, AppError> {
    let query = query(raw)?;
    if let Some(client) = params::client_label(&query)? {
        let connections = state.registry.labelled(&client);
        return Ok(Json(json!({ "client": client, "connections": connections })).into_response());
    }
    let with_connections = params::flag(&query, "connections")?;
    let report = stats::report(
        &state.counters,
        &state.registry,
        &state.hub,
        stats::GeneratorStats::of(&state.config),
        with_connections,
    );
    let report = stats::StatsReport {
        cluster: state.cluster.as_ref().map(|c| c.stats(&state.hub)),
        ..report
    };
    Ok(Json(report).into_response())
}

/// `GET /time`: the server's wall clock, `{"now_us":N}` (microseconds
/// since the Unix epoch, the clock of every event's `created_at`), for a
/// load generator on another host to estimate its clock offset.
pub async fn time() -> Response {
    Json(json!({ "now_us": pushbench_protocol::event::now_us() })).into_response()
}

/// `GET /`: what this server offers.
pub async fn index() -> Html<&'static str> {
    Html(include_str!("index.html"))
}

/// A known path asked for with another method: 405 with a JSON body (axum
/// adds the `Allow` header).
pub async fn method_not_allowed(method: axum::http::Method, uri: Uri) -> AppError {
    AppError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

/// Any unknown path: 404 with a JSON body.
pub async fn not_found(uri: Uri) -> AppError {
    AppError::NotFound(uri.path().to_owned())
}
