//! How the load generator talks to a kind of server outside the clients'
//! own connections: the request that publishes one event into it
//! ([`publish_request`]), and the probe that tells, within seconds, whether
//! the server at `--target` is the kind it was said to be ([`probe`],
//! [`recognise`]).
//!
//! Against any kind but pushbench's own server, the load generator
//! publishes every event itself, at the scenario's rate, with the event's
//! seq and creation time in its JSON, so loss, order and latency are
//! measured the same way whoever relays the event. Each kind's publish
//! request goes to its own publish API (Nchan's publisher location, the
//! origin or publish endpoint of Pushpin, our Socket.IO and Bun programs'
//! `/publish`), on the runner's control connections, counted apart.

use pushbench_protocol::{Event, TargetKind};

use crate::engine_io_requests;
use crate::nchan_requests;
use crate::pushpin_api;
use crate::relay_programs;

/// One HTTP/1.1 request of the load generator's own (not a client's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiRequest {
    /// `GET`, `POST`.
    pub method: &'static str,
    /// Path and query.
    pub target: String,
    /// Header lines beyond `host` and `content-length`.
    pub headers: Vec<(&'static str, String)>,
    /// The body (empty for none).
    pub body: String,
}

/// The request that publishes `event` into a `kind` server, or `None` for
/// pushbench's own server, whose generator publishes (`serve --rate`).
pub fn publish_request(kind: TargetKind, event: &Event) -> Option<ApiRequest> {
    let target = match kind {
        TargetKind::Pushbench => return None,
        // Nchan relays the body as is: subscribers get the event JSON.
        TargetKind::Nchan => nchan_requests::PUBLISH_PATH,
        TargetKind::Pushpin | TargetKind::Socketio | TargetKind::Bun | TargetKind::NodeWs => {
            "/publish"
        }
    };
    Some(ApiRequest {
        method: "POST",
        target: target.into(),
        headers: vec![("content-type", "application/json".into())],
        body: event.to_json(),
    })
}

/// The request that tells a `kind` server from others.
pub fn probe(kind: TargetKind) -> ApiRequest {
    let (method, target) = match kind {
        TargetKind::Pushbench => ("GET", "/stats".to_owned()),
        TargetKind::Nchan => ("GET", nchan_requests::STATUS_PATH.to_owned()),
        TargetKind::Pushpin => (pushpin_api::PROBE.0, pushpin_api::PROBE.1.to_owned()),
        // A handshake: only Engine.IO answers it with an open packet.
        TargetKind::Socketio => ("GET", engine_io_requests::polling_target(None)),
        TargetKind::Bun | TargetKind::NodeWs => ("GET", relay_programs::PROBE_PATH.to_owned()),
    };
    ApiRequest {
        method,
        target,
        headers: Vec::new(),
        body: String::new(),
    }
}

/// Whether the answer to [`probe`] (`status` and body) is a `kind`
/// server's; `Err` says what was expected, for the
/// "not a KIND server" error.
pub fn recognise(kind: TargetKind, status: u16, body: &[u8]) -> Result<(), String> {
    match kind {
        TargetKind::Pushbench => {
            let stats = serde_json::from_slice::<serde_json::Value>(body).ok();
            if status == 200 && stats.is_some_and(|s| s.get("last_seq").is_some()) {
                Ok(())
            } else {
                Err(format!(
                    "GET /stats to answer 200 with pushbench's JSON (`last_seq`), got status {status}"
                ))
            }
        }
        TargetKind::Nchan => nchan_requests::recognise(status, body),
        TargetKind::Pushpin => pushpin_api::recognise(status, body),
        TargetKind::Socketio => engine_io_requests::recognise(status, body),
        TargetKind::Bun | TargetKind::NodeWs => relay_programs::recognise(kind, status, body),
    }
}
