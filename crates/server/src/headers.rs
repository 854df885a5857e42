//! Response header profiles (`serve --response-headers`): extra header
//! lines on every response the router answers (polls, stream and SSE heads,
//! the WebSocket 101, errors), added by one middleware ([`add_profile`]).
//!
//! `browser` is what a production push endpoint typically answers a
//! browser with, beside the content headers and `date` the server always
//! sends: the security headers the OWASP Secure Headers Project recommends
//! (HSTS, `X-Content-Type-Options`, `X-Frame-Options`, a
//! `Content-Security-Policy`, `Referrer-Policy`, the cross-origin policies;
//! values shortened to what an API endpoint needs, without its long
//! `Permissions-Policy` list), `cache-control: no-store` on answers that do
//! not set their own (streams keep `no-cache`), a `vary`, the `server` of
//! the reverse proxy such endpoints sit behind, and a request ID as proxies
//! and tracing middleware add. No `set-cookie`: the page sets the session,
//! a push endpoint does not refresh it on every answer. The heads go over
//! cleartext here, where browsers ignore HSTS; the profile models the bytes
//! of the same endpoint behind TLS.
//!
//! Headers hyper writes itself before routing (a 400 for a malformed
//! request, 431 for an oversized head) do not pass the router and carry no
//! profile.

use axum::extract::State;
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use pushbench_protocol::HeaderProfile;
use pushbench_protocol::header_profiles::load_header_file;

use crate::AppState;

/// The `browser` response headers, in the order they are sent.
pub const BROWSER: [(&str, &str); 11] = [
    ("server", "nginx"),
    ("cache-control", "no-store"),
    ("vary", "Origin, Accept-Encoding"),
    (
        "strict-transport-security",
        "max-age=63072000; includeSubDomains; preload",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    (
        "content-security-policy",
        "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'",
    ),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("x-request-id", "0f6b2c1e-8d3a-4b7e-9c5f-2a1d3e4f5a6b"),
];

/// The header lines of `profile` for every response; a header file is read
/// and checked (the message names the file and the line).
pub fn response_headers(profile: &HeaderProfile) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    let lines: Vec<(String, String)> = match profile {
        HeaderProfile::Minimal => Vec::new(),
        // The cookie size is a request matter; responses set none.
        HeaderProfile::Browser { .. } => BROWSER
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        HeaderProfile::File(path) => load_header_file(path)?,
    };
    lines
        .into_iter()
        .map(|(name, value)| {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| format!("header `{name}`: {e}"))?;
            let value =
                HeaderValue::from_str(&value).map_err(|e| format!("header `{name}`: {e}"))?;
            Ok((name, value))
        })
        .collect()
}

/// The middleware: adds the configured profile's headers whose names the
/// handler did not set itself (a stream's `cache-control: no-cache` stays;
/// a file may repeat a name, and every repetition is sent).
pub async fn add_profile(State(state): State<AppState>, mut response: Response) -> Response {
    let extra = &state.config.response_headers;
    if extra.is_empty() {
        return response;
    }
    let own: Vec<bool> = extra
        .iter()
        .map(|(name, _)| response.headers().contains_key(name))
        .collect();
    for ((name, value), own) in extra.iter().zip(own) {
        if !own {
            response.headers_mut().append(name.clone(), value.clone());
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_resolve() {
        assert!(
            response_headers(&HeaderProfile::Minimal)
                .expect("minimal")
                .is_empty()
        );
        let browser = response_headers(&HeaderProfile::BROWSER).expect("browser");
        assert_eq!(browser.len(), BROWSER.len());
        // The size the README states.
        let bytes: usize = BROWSER.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
        assert_eq!(bytes, 491);
        for (name, value) in BROWSER {
            pushbench_protocol::header_profiles::check_header(name, value).expect(name);
        }
        let err = response_headers(&HeaderProfile::File("/no/such/headers".into()))
            .expect_err("missing file");
        assert!(err.contains("/no/such/headers"), "{err}");
    }
}
