//! The kinds of server pushbench measures (`--target-kind`): its own
//! `pushbench serve`, and the servers people run (nginx with Nchan,
//! Pushpin, Socket.IO, Bun, Node with `ws`), each offering some of the
//! five techniques in its own wire dialect.
//!
//! The names (`pushbench`, `nchan`, `pushpin`, `socketio`, `bun`,
//! `node-ws`) are a contract: they appear in flags, scenario files and
//! results.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::transport::Transport;

/// A kind of server and the wire dialect it speaks.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    /// `pushbench serve`: every technique, pushbench's own event protocol.
    #[default]
    Pushbench,
    /// nginx with the Nchan module (`libnginx-mod-nchan`).
    Nchan,
    /// Pushpin, a GRIP proxy, in front of a small origin of ours.
    Pushpin,
    /// Socket.IO 4 on Node (Engine.IO v4: HTTP long polling, WebSocket).
    Socketio,
    /// A `Bun.serve` program of ours (uWebSockets pub/sub).
    Bun,
    /// Node with the `ws` library (`scripts/peers/ws-broadcast.mjs`).
    NodeWs,
}

impl TargetKind {
    /// Every kind, pushbench's own first.
    pub const ALL: [TargetKind; 6] = [
        TargetKind::Pushbench,
        TargetKind::Nchan,
        TargetKind::Pushpin,
        TargetKind::Socketio,
        TargetKind::Bun,
        TargetKind::NodeWs,
    ];

    /// The contract name.
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Pushbench => "pushbench",
            TargetKind::Nchan => "nchan",
            TargetKind::Pushpin => "pushpin",
            TargetKind::Socketio => "socketio",
            TargetKind::Bun => "bun",
            TargetKind::NodeWs => "node-ws",
        }
    }

    /// A human title for reports.
    pub fn title(self) -> &'static str {
        match self {
            TargetKind::Pushbench => "pushbench serve",
            TargetKind::Nchan => "nginx + Nchan",
            TargetKind::Pushpin => "Pushpin",
            TargetKind::Socketio => "Socket.IO",
            TargetKind::Bun => "Bun",
            TargetKind::NodeWs => "Node + ws",
        }
    }

    /// The techniques this kind of server offers, in [`Transport::ALL`]'s
    /// order. A phase of any other is refused before the run.
    pub fn offers(self) -> &'static [Transport] {
        use Transport::*;
        match self {
            TargetKind::Pushbench => &Transport::ALL,
            // Nchan: interval-poll, longpoll, http-chunked, eventsource, websocket.
            TargetKind::Nchan => &[ShortPoll, LongPoll, Stream, Sse, Ws],
            // Pushpin holds responses (long polling) and streams (HTTP
            // streaming, SSE) for the origin, and relays WebSocket-over-HTTP.
            TargetKind::Pushpin => &[LongPoll, Stream, Sse, Ws],
            // Engine.IO v4's two transports.
            TargetKind::Socketio => &[LongPoll, Ws],
            TargetKind::Bun => &[Stream, Sse, Ws],
            TargetKind::NodeWs => &[Ws],
        }
    }

    /// Whether this kind offers `transport`.
    pub fn offers_transport(self, transport: Transport) -> bool {
        self.offers().contains(&transport)
    }

    /// Whether a response with `status` is this kind's way of saying
    /// "nothing new" to a poll (not an error to reconnect over): 2xx for
    /// every kind, and Nchan's `304 Not Modified` (an interval poll with
    /// nothing newer than its validators) and `408 Request Timeout` (a
    /// long poll held to its timeout).
    pub fn answers_normally(self, status: u16) -> bool {
        (200..300).contains(&status)
            || status == 101
            || (self == TargetKind::Nchan && matches!(status, 304 | 408))
    }

    /// Whether the server assigns seqs itself and answers `/stats` (only
    /// pushbench's own server); every other kind is published into by the
    /// load generator and observed from `/proc`.
    pub fn is_pushbench(self) -> bool {
        self == TargetKind::Pushbench
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A kind name that is not one of the six.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown target kind `{0}` (expected one of: pushbench, nchan, pushpin, socketio, bun, node-ws)"
)]
pub struct UnknownTargetKind(pub String);

impl FromStr for TargetKind {
    type Err = UnknownTargetKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TargetKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| UnknownTargetKind(s.to_owned()))
    }
}

/// A phase asks a kind for a technique it does not offer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} does not offer {transport} (it offers: {offered})")]
pub struct NotOffered {
    /// The kind.
    pub kind: TargetKind,
    /// The technique asked for.
    pub transport: Transport,
    /// What it offers, comma-separated.
    pub offered: String,
}

impl TargetKind {
    /// `Ok` when this kind offers `transport`, else what it does offer.
    pub fn check(self, transport: Transport) -> Result<(), NotOffered> {
        if self.offers_transport(transport) {
            return Ok(());
        }
        let offered: Vec<&str> = self.offers().iter().map(|t| t.name()).collect();
        Err(NotOffered {
            kind: self,
            transport,
            offered: offered.join(", "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_from_str_and_serde() {
        for k in TargetKind::ALL {
            assert_eq!(k.name().parse::<TargetKind>(), Ok(k));
            let json = serde_json::to_string(&k).expect("serialize");
            assert_eq!(json, format!("\"{}\"", k.name()));
        }
        assert!("socket.io".parse::<TargetKind>().is_err());
        assert_eq!(TargetKind::default(), TargetKind::Pushbench);
    }

    #[test]
    fn a_technique_not_offered_is_named_with_what_is() {
        assert!(TargetKind::Pushbench.check(Transport::ShortPoll).is_ok());
        let err = TargetKind::Socketio
            .check(Transport::Sse)
            .expect_err("socket.io has no SSE");
        assert_eq!(
            err.to_string(),
            "socketio does not offer sse (it offers: long-poll, ws)"
        );
    }
}
