//! The five push techniques and their names.
//!
//! The names (`short-poll`, `long-poll`, `stream`, `sse`, `ws`) are a contract:
//! they appear in CLI flags, results JSON, CSV files and chart legends.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Longest long-poll hold (`timeout=`, seconds) `pushbench serve` grants
/// by default; beyond it is a 400. A scenario never asks for more, so a
/// client never asks for a hold the server refuses.
pub const LONGPOLL_MAX_TIMEOUT_S: u64 = 300;

/// One classic server-push technique.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// `GET /poll?since=S` at a fixed interval; answers at once, maybe empty.
    ShortPoll,
    /// `GET /longpoll?since=S&timeout=T`; held until an event or the timeout (Comet).
    LongPoll,
    /// `GET /stream?since=S`; one NDJSON line per event in an HTTP/1.1 chunked body.
    Stream,
    /// `GET /sse`; Server-Sent Events (`text/event-stream`).
    Sse,
    /// `GET /ws`; one WebSocket frame per event.
    Ws,
}

impl Transport {
    /// Every transport, in the order reports show them (oldest technique first).
    pub const ALL: [Transport; 5] = [
        Transport::ShortPoll,
        Transport::LongPoll,
        Transport::Stream,
        Transport::Sse,
        Transport::Ws,
    ];

    /// The contract name (`short-poll`, `long-poll`, `stream`, `sse`, `ws`).
    pub fn name(self) -> &'static str {
        match self {
            Transport::ShortPoll => "short-poll",
            Transport::LongPoll => "long-poll",
            Transport::Stream => "stream",
            Transport::Sse => "sse",
            Transport::Ws => "ws",
        }
    }

    /// The server path that serves this transport.
    pub fn path(self) -> &'static str {
        match self {
            Transport::ShortPoll => "/poll",
            Transport::LongPoll => "/longpoll",
            Transport::Stream => "/stream",
            Transport::Sse => "/sse",
            Transport::Ws => "/ws",
        }
    }

    /// A short human title for reports and the teaching page.
    pub fn title(self) -> &'static str {
        match self {
            Transport::ShortPoll => "Short polling",
            Transport::LongPoll => "Long polling (Comet)",
            Transport::Stream => "HTTP streaming",
            Transport::Sse => "Server-Sent Events",
            Transport::Ws => "WebSocket",
        }
    }

    /// Whether one connection carries many events without a new request.
    pub fn is_persistent(self) -> bool {
        matches!(self, Transport::Stream | Transport::Sse | Transport::Ws)
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A transport name that is not one of the five.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown transport `{0}` (expected one of: short-poll, long-poll, stream, sse, ws)")]
pub struct UnknownTransport(pub String);

impl FromStr for Transport {
    type Err = UnknownTransport;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Transport::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| UnknownTransport(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_from_str_and_serde() {
        for t in Transport::ALL {
            assert_eq!(t.name().parse::<Transport>(), Ok(t));
            let json = serde_json::to_string(&t).expect("serialize");
            assert_eq!(json, format!("\"{}\"", t.name()));
        }
        assert!("websocket".parse::<Transport>().is_err());
    }
}
