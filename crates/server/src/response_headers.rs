//! Response header profiles (`serve --response-headers`): extra header
//! lines on every response the router answers (polls, stream and SSE heads,
//! the WebSocket 101, errors), added by one middleware ([`add_profile`]).
//!
//! The sets are `pushbench_protocol::header_profiles`' ([`HeaderProfile::response_lines`]),
//! which the load generator checks a scenario with too; here they become
//! header values and are added.
//!
//! Headers hyper writes itself before routing (a 400 for a malformed
//! request, 431 for an oversized head) do not pass the router and carry no
//! profile.

use axum::extract::State;
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use pushbench_protocol::HeaderProfile;

use crate::AppState;

/// The header lines of `profile` for every response; a header file is read
/// and checked (the message names the file and the line).
pub fn response_headers(profile: &HeaderProfile) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    profile
        .response_lines()?
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
    use pushbench_protocol::header_profiles::BROWSER_RESPONSE;

    #[test]
    fn profiles_resolve() {
        assert!(
            response_headers(&HeaderProfile::Minimal)
                .expect("minimal")
                .is_empty()
        );
        let browser = response_headers(&HeaderProfile::BROWSER).expect("browser");
        assert_eq!(browser.len(), BROWSER_RESPONSE.len());
        for ((name, value), (want_name, want_value)) in browser.iter().zip(BROWSER_RESPONSE) {
            assert_eq!(
                (name.as_str(), value.to_str().ok()),
                (want_name, Some(want_value))
            );
        }
        let err = response_headers(&HeaderProfile::File("/no/such/headers".into()))
            .expect_err("missing file");
        assert!(err.contains("/no/such/headers"), "{err}");
    }
}
