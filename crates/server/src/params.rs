//! Query-parameter and header parsing as plain functions: every malformed or
//! out-of-range value becomes an [`AppError::BadParameter`] naming it.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::header::HOST;
use axum::http::{HeaderMap, Version};

use crate::error::AppError;

/// Raw query parameters of a request.
pub type Query = HashMap<String, String>;

/// An optional unsigned integer parameter.
pub fn optional_u64(query: &Query, name: &'static str) -> Result<Option<u64>, AppError> {
    query
        .get(name)
        .map(|raw| {
            raw.trim().parse::<u64>().map_err(|_| {
                AppError::bad(
                    name,
                    format!("{name} must be a whole number >= 0, got `{raw}`"),
                )
            })
        })
        .transpose()
}

/// A cursor: events after it are wanted. It may not be ahead of the stream.
pub fn cursor(
    raw: Option<u64>,
    name: &'static str,
    last_seq: u64,
) -> Result<Option<u64>, AppError> {
    match raw {
        Some(since) if since > last_seq => Err(AppError::bad(
            name,
            format!("{name}={since} is ahead of the stream, whose last seq is {last_seq}"),
        )),
        other => Ok(other),
    }
}

/// The `Last-Event-ID` header of an SSE reconnect.
pub fn last_event_id(header: Option<&[u8]>) -> Result<Option<u64>, AppError> {
    header
        .map(|raw| {
            std::str::from_utf8(raw)
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    AppError::bad(
                        "Last-Event-ID",
                        "Last-Event-ID must be a seq (a whole number)",
                    )
                })
        })
        .transpose()
}

/// The long-poll hold, in seconds (fractions allowed), at most `max`.
pub fn timeout(query: &Query, default: Duration, max: Duration) -> Result<Duration, AppError> {
    let Some(raw) = query.get("timeout") else {
        return Ok(default);
    };
    let secs: f64 = raw
        .trim()
        .parse()
        .map_err(|_| AppError::bad("timeout", format!("timeout must be seconds, got `{raw}`")))?;
    if !secs.is_finite() || secs < 0.0 || secs > max.as_secs_f64() {
        return Err(AppError::bad(
            "timeout",
            format!(
                "timeout must be between 0 and {} seconds, got `{raw}`",
                max.as_secs_f64()
            ),
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// WebSocket event encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON text frame per event.
    Text,
    /// One binary frame per event (see `pushbench_protocol::event`).
    Binary,
}

/// The `format` parameter of `/ws`.
pub fn format(query: &Query) -> Result<Format, AppError> {
    match query.get("format").map(String::as_str) {
        None | Some("text") | Some("json") => Ok(Format::Text),
        Some("binary") => Ok(Format::Binary),
        Some(other) => Err(AppError::bad(
            "format",
            format!("format must be `text` or `binary`, got `{other}`"),
        )),
    }
}

/// Topic names are short labels; a bound keeps every event's envelope small.
pub const MAX_TOPIC_LEN: usize = 64;

/// The `topic` parameter of a publish, or `default`.
pub fn topic(query: &Query, default: &str) -> Result<String, AppError> {
    match query.get("topic") {
        None => Ok(default.to_owned()),
        Some(t) if t.is_empty() || t.len() > MAX_TOPIC_LEN => Err(AppError::bad(
            "topic",
            format!("topic must be 1 to {MAX_TOPIC_LEN} bytes"),
        )),
        Some(t) => Ok(t.clone()),
    }
}

/// The `client` label of a request: 1 to 64 letters, digits, `_` or `-`.
pub fn client_label(query: &Query) -> Result<Option<String>, AppError> {
    match query.get("client") {
        None => Ok(None),
        Some(id)
            if (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            Ok(Some(id.clone()))
        }
        Some(_) => Err(AppError::bad(
            "client",
            "client must be 1 to 64 letters, digits, `_` or `-`",
        )),
    }
}

/// RFC 9112 3.2: an HTTP/1.1 request needs exactly one `Host` header (an
/// HTTP/1.0 one may have none); anything else is a 400.
pub fn host(version: Version, headers: &HeaderMap) -> Result<(), AppError> {
    let count = headers.get_all(HOST).iter().count();
    match count {
        // HTTP/1.0 may leave it out; HTTP/2 names the host in `:authority`.
        0 if version != Version::HTTP_11 => Ok(()),
        1 => Ok(()),
        0 => Err(AppError::bad(
            "Host",
            "an HTTP/1.1 request needs a Host header",
        )),
        _ => Err(AppError::bad(
            "Host",
            "a request may carry only one Host header",
        )),
    }
}

/// Gives an HTTP/2 request without `Host` one from its `:authority`
/// (which hyper puts in the URI), so the checks that read `Host` (the
/// Origin rule, the teaching page) see HTTP/2 requests as HTTP/1.1 ones.
pub fn host_from_authority<B>(request: &mut axum::http::Request<B>) {
    if request.headers().contains_key(HOST) {
        return;
    }
    let authority = request
        .uri()
        .authority()
        .and_then(|a| axum::http::HeaderValue::from_str(a.as_str()).ok());
    if let Some(value) = authority {
        request.headers_mut().insert(HOST, value);
    }
}

/// The declared `Content-Length` (hyper has already refused malformed or
/// conflicting ones).
pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// A boolean flag parameter (`1`, `true`, `yes`; absent is false).
pub fn flag(query: &Query, name: &'static str) -> Result<bool, AppError> {
    match query.get(name).map(String::as_str) {
        None | Some("0") | Some("false") | Some("no") => Ok(false),
        Some("") | Some("1") | Some("true") | Some("yes") => Ok(true),
        Some(other) => Err(AppError::bad(
            name,
            format!("{name} must be true or false, got `{other}`"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Query {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    fn parameter_of(err: AppError) -> &'static str {
        match err {
            AppError::BadParameter { parameter, .. } => parameter,
            other => panic!("expected a bad parameter, got {other:?}"),
        }
    }

    #[test]
    fn since_parses_and_rejects_by_name() {
        assert_eq!(optional_u64(&q(&[]), "since").ok(), Some(None));
        assert_eq!(
            optional_u64(&q(&[("since", "7")]), "since").ok(),
            Some(Some(7))
        );
        for bad in ["-1", "x", "1.5", ""] {
            let err = optional_u64(&q(&[("since", bad)]), "since").expect_err(bad);
            assert_eq!(parameter_of(err), "since");
        }
        assert!(cursor(Some(5), "since", 5).is_ok());
        assert_eq!(
            parameter_of(cursor(Some(6), "since", 5).expect_err("ahead")),
            "since"
        );
    }

    #[test]
    fn timeout_is_bounded() {
        let d = Duration::from_secs(30);
        let max = Duration::from_secs(300);
        assert_eq!(timeout(&q(&[]), d, max).ok(), Some(d));
        assert_eq!(
            timeout(&q(&[("timeout", "0.5")]), d, max).ok(),
            Some(Duration::from_millis(500))
        );
        for bad in ["-1", "301", "NaN", "inf", "soon"] {
            assert_eq!(
                parameter_of(timeout(&q(&[("timeout", bad)]), d, max).expect_err(bad)),
                "timeout"
            );
        }
    }

    #[test]
    fn http_11_needs_exactly_one_host() {
        let mut headers = HeaderMap::new();
        assert!(host(Version::HTTP_10, &headers).is_ok());
        let err = host(Version::HTTP_11, &headers).expect_err("no Host");
        assert_eq!(parameter_of(err), "Host");
        headers.append(HOST, "a".parse().expect("value"));
        assert!(host(Version::HTTP_11, &headers).is_ok());
        headers.append(HOST, "b".parse().expect("value"));
        assert!(host(Version::HTTP_10, &headers).is_err());
    }

    #[test]
    fn last_event_id_format_topic_and_flags() {
        assert_eq!(last_event_id(Some(b"12")).ok(), Some(Some(12)));
        assert_eq!(last_event_id(None).ok(), Some(None));
        assert_eq!(
            parameter_of(last_event_id(Some(b"abc")).expect_err("abc")),
            "Last-Event-ID"
        );
        assert_eq!(
            format(&q(&[("format", "binary")])).ok(),
            Some(Format::Binary)
        );
        assert_eq!(
            parameter_of(format(&q(&[("format", "xml")])).expect_err("xml")),
            "format"
        );
        assert_eq!(topic(&q(&[]), "d").ok().as_deref(), Some("d"));
        assert_eq!(
            parameter_of(topic(&q(&[("topic", "")]), "d").expect_err("empty")),
            "topic"
        );
        assert_eq!(
            flag(&q(&[("connections", "1")]), "connections").ok(),
            Some(true)
        );
        assert_eq!(
            parameter_of(flag(&q(&[("connections", "maybe")]), "connections").expect_err("m")),
            "connections"
        );
    }
}
