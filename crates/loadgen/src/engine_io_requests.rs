//! What a `socketio` client sends: Engine.IO v4 and Socket.IO 4 on both
//! transports, as a Socket.IO client does, without the library.
//!
//! Long polling, all in sequence on one keep-alive connection (a new
//! connection starts a new session, see
//! [`PeerState::reconnected`](crate::peer_state::PeerState::reconnected)):
//! `GET /socket.io/?EIO=4&transport=polling` opens a session (its answer,
//! `0{"sid":...}`, is the open packet the classifier reports as the
//! session); `POST ...&sid=SID` with `40` connects to the default
//! namespace; then `GET ...&sid=SID` polls, each answered with the packets
//! the server had (events, the connect's answer) or, after the ping
//! interval, a ping, which the next request answers: `POST ...&sid=SID`
//! with `3`. A real client posts on a second connection while its poll is
//! held; one connection in sequence carries the same packets, and the
//! server holds what it emits between polls for the next one.
//!
//! WebSocket: `GET /socket.io/?EIO=4&transport=websocket` (straight to the
//! WebSocket transport, no polling first), then the text frame `40` once
//! the open packet came, and `3` for every ping.
//!
//! Socket.IO has no resume across sessions (its connection state recovery
//! is off by default): a client that reconnects misses what was emitted
//! meanwhile, which the seq tracker counts as missed.
//!
//! The functions take the parts of the client's
//! [`PeerState`](crate::peer_state::PeerState) they read and update: the
//! session the open packet named, whether the client has connected in it
//! (`joined`), and the pings it owes a pong.

use crate::client_spec::ClientSpec;

/// Engine.IO's path, the Socket.IO default.
const PATH: &str = "/socket.io/";
/// What a client sends to join the default namespace (Socket.IO connect).
const CONNECT: &str = "40";
/// Engine.IO's pong.
const PONG: &str = "3";
/// What separates packets in a polling payload.
const SEPARATOR: char = '\u{1e}';

/// The long-polling target of a session (`sid`), or of the handshake
/// that opens one.
pub fn polling_target(sid: Option<&str>) -> String {
    match sid {
        Some(sid) => format!("{PATH}?EIO=4&transport=polling&sid={sid}"),
        None => format!("{PATH}?EIO=4&transport=polling"),
    }
}

/// The next HTTP/1.1 request of a long-polling client in `session`: the
/// handshake, its connect, the pongs owed, or the next poll.
pub fn request(
    spec: &ClientSpec,
    session: Option<&str>,
    joined: &mut bool,
    pings: &mut u32,
) -> String {
    let Some(sid) = session else {
        return spec.http_request("GET", &polling_target(None), &[], "");
    };
    let target = polling_target(Some(sid));
    let owed = owed_packets(true, joined, pings);
    if owed.is_empty() {
        spec.http_request("GET", &target, &[], "")
    } else {
        let body = owed.join(&SEPARATOR.to_string());
        spec.http_request("POST", &target, &[], &body)
    }
}

/// The WebSocket target: Engine.IO's WebSocket transport, directly.
pub fn ws_target() -> String {
    format!("{PATH}?EIO=4&transport=websocket")
}

/// The packets a client owes the server now (a WebSocket client sends
/// one text frame each): the connect once its session is open (and
/// `joined` was false), a pong per ping; `joined` and `pings` are updated.
pub fn owed_packets(session_open: bool, joined: &mut bool, pings: &mut u32) -> Vec<String> {
    let mut owed = Vec::new();
    if session_open && !*joined {
        *joined = true;
        owed.push(CONNECT.to_owned());
    }
    owed.extend((0..std::mem::take(pings)).map(|_| PONG.to_owned()));
    owed
}

/// Whether the answer to the probe (`GET` [`polling_target`]`(None)`) is
/// an Engine.IO v4 server's: 200 and an open packet naming a session.
/// `Err` says what was expected and what came.
pub fn recognise(status: u16, body: &[u8]) -> Result<(), String> {
    let sid = body
        .strip_prefix(b"0")
        .and_then(|json| serde_json::from_slice::<serde_json::Value>(json).ok())
        .is_some_and(|open| open.get("sid").is_some_and(serde_json::Value::is_string));
    if status == 200 && sid {
        return Ok(());
    }
    let shown: String = String::from_utf8_lossy(body).chars().take(60).collect();
    Err(format!(
        "GET {} to answer 200 with an Engine.IO v4 open packet (`0{{\"sid\":...`), got status {status} and {shown:?}",
        polling_target(None)
    ))
}

#[cfg(test)]
mod tests {
    use pushbench_protocol::{TargetKind, Transport};

    use super::*;

    fn spec(transport: Transport) -> ClientSpec {
        ClientSpec {
            kind: TargetKind::Socketio,
            ..crate::client_spec::test_spec(transport, 1)
        }
    }

    #[test]
    fn a_polling_client_opens_connects_polls_and_answers_pings() {
        let spec = spec(Transport::LongPoll);
        let (mut joined, mut pings) = (false, 0);
        let mut next =
            |session: Option<&str>, pings: &mut u32| request(&spec, session, &mut joined, pings);
        let host = "host: 127.0.0.1:8080\r\n";
        assert_eq!(
            next(None, &mut pings),
            format!("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\n{host}\r\n")
        );
        let sid = Some("abc");
        let session = "/socket.io/?EIO=4&transport=polling&sid=abc";
        assert_eq!(
            next(sid, &mut pings),
            format!("POST {session} HTTP/1.1\r\n{host}content-length: 2\r\n\r\n40")
        );
        let poll = format!("GET {session} HTTP/1.1\r\n{host}\r\n");
        assert_eq!(next(sid, &mut pings), poll);
        assert_eq!(next(sid, &mut pings), poll);
        pings = 2;
        assert_eq!(
            next(sid, &mut pings),
            format!("POST {session} HTTP/1.1\r\n{host}content-length: 3\r\n\r\n3\u{1e}3")
        );
        assert_eq!(pings, 0);
        assert_eq!(next(sid, &mut pings), poll);
    }

    #[test]
    fn a_websocket_client_connects_once_and_pongs_every_ping() {
        assert_eq!(ws_target(), "/socket.io/?EIO=4&transport=websocket");
        let (mut joined, mut pings) = (false, 1);
        assert_eq!(owed_packets(false, &mut joined, &mut pings), ["3"]);
        assert!(!joined, "no connect before the open packet");
        pings = 1;
        assert_eq!(owed_packets(true, &mut joined, &mut pings), ["40", "3"]);
        assert!(owed_packets(true, &mut joined, &mut pings).is_empty());
        pings = 1;
        assert_eq!(owed_packets(true, &mut joined, &mut pings), ["3"]);
    }

    #[test]
    fn only_an_open_packet_is_recognised() {
        let open = br#"0{"sid":"3aP0a7QDpRAkLsf7AAAA","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
        assert_eq!(recognise(200, open), Ok(()));
        let err = recognise(404, b"Not Found").expect_err("not engine.io");
        assert!(
            err.starts_with(
                "GET /socket.io/?EIO=4&transport=polling to answer 200 with an Engine.IO v4 open packet"
            ),
            "{err}"
        );
        assert!(err.contains("got status 404 and \"Not Found\""), "{err}");
        assert!(recognise(200, br#"{"last_seq":3}"#).is_err());
        assert!(recognise(200, br#"0{"sid":3}"#).is_err());
    }
}
