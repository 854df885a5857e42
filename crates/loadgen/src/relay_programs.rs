//! The relay programs of `scripts/peers/` as target kinds: `bun`
//! (`bun-broadcast.js`) and `node-ws` (`ws-broadcast.mjs`), each started in
//! `relay` mode by `scripts/targets/<kind>/start`. They speak pushbench's
//! own dialect (its event JSON, `since=` cursors, its NDJSON and SSE
//! framings), take each event at `POST /publish` (the request
//! [`crate::target_api::publish_request`] makes), and name themselves in
//! `GET /stats`, which is how [`recognise`] tells them from other servers.

use pushbench_protocol::TargetKind;

/// The probe's path: the programs' `/stats`.
pub const PROBE_PATH: &str = "/stats";

/// The program a relay kind runs, as its `/stats` names it (`server`), or
/// `None` for a kind that is not one of these relays.
fn program(kind: TargetKind) -> Option<&'static str> {
    match kind {
        TargetKind::Bun => Some("bun-broadcast"),
        TargetKind::NodeWs => Some("ws-broadcast"),
        _ => None,
    }
}

/// Whether a `GET /stats` answer (`status`, `body`) is the `kind` relay's:
/// 200, JSON naming the program in `server` and `"mode":"relay"` (in
/// `serve` mode it generates its own events and takes no publishes). `Err`
/// says what was expected and what came instead.
pub fn recognise(kind: TargetKind, status: u16, body: &[u8]) -> Result<(), String> {
    let Some(expected) = program(kind) else {
        return Err(format!("{kind} is not a relay program of scripts/peers/"));
    };
    let stats = serde_json::from_slice::<serde_json::Value>(body).ok();
    let field = |name: &str| {
        stats
            .as_ref()
            .and_then(|s| s.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let (server, mode) = (field("server"), field("mode"));
    if status == 200 && server.as_deref() == Some(expected) && mode.as_deref() == Some("relay") {
        return Ok(());
    }
    let got = match (status, server, mode) {
        (200, Some(server), Some(mode)) => format!("`{server}` in `{mode}` mode"),
        (200, _, _) => "a body without them".to_owned(),
        (status, _, _) => format!("status {status}"),
    };
    Err(format!(
        "GET {PROBE_PATH} to answer 200 with JSON naming \"server\":\"{expected}\" and \
         \"mode\":\"relay\" (scripts/targets/{kind}/start), got {got}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `/stats` body as the programs write it (peer-common.mjs
    /// `statsBody`), trimmed to what matters here.
    fn stats(server: &str, mode: &str) -> Vec<u8> {
        format!(r#"{{"server":"{server}","mode":"{mode}","last_seq":0,"transports":{{}}}}"#)
            .into_bytes()
    }

    #[test]
    fn each_relay_is_recognised_by_its_program_in_relay_mode() {
        for (kind, program) in [
            (TargetKind::Bun, "bun-broadcast"),
            (TargetKind::NodeWs, "ws-broadcast"),
        ] {
            assert_eq!(recognise(kind, 200, &stats(program, "relay")), Ok(()));
        }
    }

    #[test]
    fn another_server_is_refused_naming_what_was_expected() {
        let node = stats("ws-broadcast", "relay");
        assert_eq!(
            recognise(TargetKind::Bun, 200, &node),
            Err(
                "GET /stats to answer 200 with JSON naming \"server\":\"bun-broadcast\" and \
                 \"mode\":\"relay\" (scripts/targets/bun/start), got `ws-broadcast` in \
                 `relay` mode"
                    .to_owned()
            )
        );
        let generating = recognise(TargetKind::NodeWs, 200, &stats("ws-broadcast", "serve"));
        assert!(
            generating.is_err_and(|e| e.ends_with("got `ws-broadcast` in `serve` mode")),
            "a serving peer takes no publishes"
        );
        // pushbench serve's /stats: no `server` field.
        let pushbench = br#"{"last_seq":12,"events_published":12}"#;
        let refused = recognise(TargetKind::Bun, 200, pushbench);
        assert!(refused.is_err_and(|e| e.ends_with("got a body without them")));
        let missing = recognise(TargetKind::NodeWs, 404, b"<html>");
        assert!(missing.is_err_and(|e| e.ends_with("got status 404")));
        assert!(recognise(TargetKind::Nchan, 200, &stats("nginx", "relay")).is_err());
    }
}
