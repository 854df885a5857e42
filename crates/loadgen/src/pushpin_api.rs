//! What the load generator's own requests to Pushpin in front of our GRIP
//! origin (`scripts/targets/pushpin/`) need beyond the other kinds': the
//! probe that tells `--target` is that pair, and its answer.
//!
//! Events are published as to the other kinds (`POST /publish` with the
//! event's JSON, [`crate::target_api::publish_request`]), through Pushpin
//! to the origin, proxied like any request: the origin keeps them in its ring (which a
//! long poll between two holds, or a stream that missed one, is answered
//! from) and relays each to Pushpin's HTTP publish endpoint, answering once
//! Pushpin has taken it. Publishing to the publish endpoint directly would
//! leave the origin nothing to recover from (docs/servers/pushpin.md).
//!
//! The clients' own requests are `pushbench serve`'s: the origin serves
//! its paths (`/longpoll`, `/stream`, `/sse`, `/ws`) and resumes from the
//! same `since=` cursor, the last seq a client has.

/// The origin's name in its `/probe` answer.
pub const ORIGIN_NAME: &str = "pushbench-grip-origin";

/// The probe before a run, `POST /probe`: the origin says who it is and
/// whether the request came through Pushpin (which signs what it proxies
/// with `Grip-Sig`), and begins a new stream. A run publishes from seq 1
/// and its first clients ask for everything after seq 0, so the ring must
/// not hold an earlier run's events (`GET /probe` only asks).
pub const PROBE: (&str, &str) = ("POST", "/probe");

/// Whether the answer to [`PROBE`] is our origin's, reached through
/// Pushpin; `Err` says what was expected.
pub fn recognise(status: u16, body: &[u8]) -> Result<(), String> {
    let answer = serde_json::from_slice::<serde_json::Value>(body).ok();
    let origin = answer.as_ref().and_then(|a| a.get("origin")?.as_str());
    if status != 200 || origin != Some(ORIGIN_NAME) {
        return Err(format!(
            "POST /probe to answer 200 with the GRIP origin's JSON (\"origin\":\"{ORIGIN_NAME}\", \
             scripts/targets/pushpin/start), got status {status}"
        ));
    }
    let via_pushpin = answer
        .as_ref()
        .and_then(|a| a.get("via_pushpin")?.as_bool());
    if via_pushpin != Some(true) {
        return Err(
            "the GRIP origin to be reached through Pushpin (the request reached it unsigned, \
             without Grip-Sig: is --target the origin's port rather than Pushpin's?)"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_answer_through_pushpin_is_recognised() {
        // The origin's answer as Pushpin relayed it (the body of a real
        // `POST /probe` through scripts/targets/pushpin/start).
        let body = br#"{"origin":"pushbench-grip-origin","via_pushpin":true,"last_seq":0}"#;
        assert_eq!(PROBE, ("POST", "/probe"));
        assert_eq!(recognise(200, body), Ok(()));
    }

    #[test]
    fn other_servers_and_the_bare_origin_are_refused_naming_what_was_expected() {
        let stats = br#"{"last_seq":12,"connections":0}"#;
        let err = recognise(200, stats).expect_err("pushbench serve is not pushpin");
        assert!(err.contains(r#""origin":"pushbench-grip-origin""#), "{err}");
        assert!(err.contains("got status 200"), "{err}");
        let err = recognise(404, b"not found").expect_err("a 404");
        assert!(err.contains("got status 404"), "{err}");
        let bare = br#"{"origin":"pushbench-grip-origin","via_pushpin":false,"last_seq":0}"#;
        let err = recognise(200, bare).expect_err("the origin without Pushpin");
        assert!(err.contains("through Pushpin"), "{err}");
    }
}
