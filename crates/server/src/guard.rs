//! Who may publish and open WebSockets: the `Origin` allow-list against
//! cross-site WebSocket hijacking, the optional publish token, and the
//! publish rate limit. Plain functions and one small token bucket.

use std::sync::Mutex;
use std::time::Instant;

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, HOST, ORIGIN};

use crate::error::AppError;
use crate::params::Query;

/// Whether a request's `Origin` may use this server. No `Origin` means no
/// browser (curl, load generators) and is allowed; a browser's origin must
/// be the server's own (same host and port) or on the allow-list (`*`
/// allows all).
pub fn origin_allowed(origin: Option<&str>, host: Option<&str>, allow: &[String]) -> bool {
    let Some(origin) = origin else {
        return true;
    };
    if allow
        .iter()
        .any(|a| a == "*" || a.eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    host.is_some_and(|h| h.eq_ignore_ascii_case(origin_host))
}

/// Checks the `Origin` header of a WebSocket or publish request.
pub fn check_origin(headers: &HeaderMap, allow: &[String]) -> Result<(), AppError> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
    };
    let origin = text(ORIGIN);
    if origin_allowed(origin, text(HOST), allow) {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "Origin `{}` is not allowed (see --allow-origin)",
            origin.unwrap_or_default()
        )))
    }
}

/// Whether the request carries the publish token (as `Authorization: Bearer
/// TOKEN` or, for WebSocket upgrades a browser cannot add headers to,
/// `?token=TOKEN`). Always true when no token is configured.
pub fn has_publish_token(headers: &HeaderMap, query: &Query, token: Option<&str>) -> bool {
    let Some(token) = token else {
        return true;
    };
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    constant_time_eq(bearer.unwrap_or_default(), token)
        || constant_time_eq(query.get("token").map_or("", String::as_str), token)
}

/// Compares without an early exit, so timing does not reveal how much of a
/// guessed token was right.
fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A token bucket: `rate` publishes per second, bursts of up to `rate`.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    state: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    /// A limiter allowing `rate` per second; 0 means unlimited.
    pub fn new(rate: f64) -> Self {
        RateLimiter {
            rate,
            state: Mutex::new((rate, Instant::now())),
        }
    }

    /// Takes one token at `now`; false when the bucket is empty.
    pub fn try_acquire_at(&self, now: Instant) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = *state;
        let refilled =
            (tokens + now.saturating_duration_since(last).as_secs_f64() * self.rate).min(self.rate);
        if refilled >= 1.0 {
            *state = (refilled - 1.0, now);
            true
        } else {
            *state = (refilled, now);
            false
        }
    }

    /// Takes one token now.
    pub fn try_acquire(&self) -> bool {
        self.try_acquire_at(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn origins_same_host_listed_or_absent_are_allowed() {
        let none: &[String] = &[];
        assert!(origin_allowed(None, Some("127.0.0.1:8080"), none));
        assert!(origin_allowed(
            Some("http://127.0.0.1:8080"),
            Some("127.0.0.1:8080"),
            none
        ));
        assert!(!origin_allowed(
            Some("http://evil.example"),
            Some("127.0.0.1:8080"),
            none
        ));
        assert!(!origin_allowed(
            Some("http://127.0.0.1:9090"),
            Some("127.0.0.1:8080"),
            none
        ));
        let list = ["http://app.example".to_owned()];
        assert!(origin_allowed(
            Some("http://app.example"),
            Some("127.0.0.1:8080"),
            &list
        ));
        assert!(origin_allowed(Some("http://x"), None, &["*".to_owned()]));
    }

    #[test]
    fn publish_token_by_header_or_query() {
        let mut headers = HeaderMap::new();
        let query = Query::new();
        assert!(has_publish_token(&headers, &query, None));
        assert!(!has_publish_token(&headers, &query, Some("s3cret")));
        headers.insert(AUTHORIZATION, "Bearer s3cret".parse().expect("header"));
        assert!(has_publish_token(&headers, &query, Some("s3cret")));
        assert!(!has_publish_token(&headers, &query, Some("s3cre")));
        let query: Query = [("token".to_owned(), "t".to_owned())].into();
        assert!(has_publish_token(&HeaderMap::new(), &query, Some("t")));
    }

    #[test]
    fn the_bucket_allows_bursts_up_to_the_rate_then_refills() {
        let limiter = RateLimiter::new(3.0);
        let t0 = Instant::now();
        assert!((0..3).all(|_| limiter.try_acquire_at(t0)));
        assert!(!limiter.try_acquire_at(t0));
        assert!(limiter.try_acquire_at(t0 + Duration::from_millis(400)));
        assert!(!limiter.try_acquire_at(t0 + Duration::from_millis(400)));
        assert!(RateLimiter::new(0.0).try_acquire_at(t0));
    }
}
