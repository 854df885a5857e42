//! The wire ledger: every byte that crosses a socket lands in exactly one class.

use serde::{Deserialize, Serialize};

/// What a byte on the wire is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ByteClass {
    /// The HTTP upgrade request and its `101 Switching Protocols` answer.
    Handshake,
    /// HTTP request line and header lines, up to the blank line.
    RequestHeaders,
    /// HTTP status line and header lines, up to the blank line.
    ResponseHeaders,
    /// Everything that wraps a payload: chunk-size lines, SSE field names and
    /// line ends, WebSocket frame headers and masks, the JSON envelope.
    Framing,
    /// The event payload bytes themselves.
    Payload,
    /// Traffic that delivers no event: ping, pong, close, keep-alive comments,
    /// empty polls, gap markers, the last chunk.
    Control,
}

impl ByteClass {
    /// Every class, in the order reports stack them.
    pub const ALL: [ByteClass; 6] = [
        ByteClass::Handshake,
        ByteClass::RequestHeaders,
        ByteClass::ResponseHeaders,
        ByteClass::Framing,
        ByteClass::Payload,
        ByteClass::Control,
    ];

    /// The snake_case name used in JSON and CSV.
    pub fn name(self) -> &'static str {
        match self {
            ByteClass::Handshake => "handshake",
            ByteClass::RequestHeaders => "request_headers",
            ByteClass::ResponseHeaders => "response_headers",
            ByteClass::Framing => "framing",
            ByteClass::Payload => "payload",
            ByteClass::Control => "control",
        }
    }
}

/// Bytes per class for one direction of one or many connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByteLedger {
    /// See [`ByteClass::Handshake`].
    pub handshake: u64,
    /// See [`ByteClass::RequestHeaders`].
    pub request_headers: u64,
    /// See [`ByteClass::ResponseHeaders`].
    pub response_headers: u64,
    /// See [`ByteClass::Framing`].
    pub framing: u64,
    /// See [`ByteClass::Payload`].
    pub payload: u64,
    /// See [`ByteClass::Control`].
    pub control: u64,
}

impl ByteLedger {
    /// Books `bytes` under `class`.
    pub fn add(&mut self, class: ByteClass, bytes: u64) {
        *self.slot(class) += bytes;
    }

    /// The bytes booked under `class`.
    pub fn get(&self, class: ByteClass) -> u64 {
        match class {
            ByteClass::Handshake => self.handshake,
            ByteClass::RequestHeaders => self.request_headers,
            ByteClass::ResponseHeaders => self.response_headers,
            ByteClass::Framing => self.framing,
            ByteClass::Payload => self.payload,
            ByteClass::Control => self.control,
        }
    }

    fn slot(&mut self, class: ByteClass) -> &mut u64 {
        match class {
            ByteClass::Handshake => &mut self.handshake,
            ByteClass::RequestHeaders => &mut self.request_headers,
            ByteClass::ResponseHeaders => &mut self.response_headers,
            ByteClass::Framing => &mut self.framing,
            ByteClass::Payload => &mut self.payload,
            ByteClass::Control => &mut self.control,
        }
    }

    /// All bytes, every class together: equals the socket count.
    pub fn total(&self) -> u64 {
        ByteClass::ALL.iter().map(|&c| self.get(c)).sum()
    }

    /// Adds another ledger into this one.
    pub fn merge(&mut self, other: &ByteLedger) {
        for class in ByteClass::ALL {
            self.add(class, other.get(class));
        }
    }
}

/// Both directions of a connection, seen from the client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    /// Client to server.
    pub sent: ByteLedger,
    /// Server to client.
    pub received: ByteLedger,
}

impl Traffic {
    /// Adds another connection's traffic into this one.
    pub fn merge(&mut self, other: &Traffic) {
        self.sent.merge(&other.sent);
        self.received.merge(&other.received);
    }

    /// All bytes in both directions.
    pub fn total(&self) -> u64 {
        self.sent.total() + self.received.total()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_has_its_own_slot_and_total_adds_them() {
        let mut ledger = ByteLedger::default();
        for (i, class) in ByteClass::ALL.into_iter().enumerate() {
            ledger.add(class, 1 << i);
        }
        for (i, class) in ByteClass::ALL.into_iter().enumerate() {
            assert_eq!(ledger.get(class), 1 << i, "{}", class.name());
        }
        assert_eq!(ledger.total(), 0b11_1111);
        let mut twice = ledger;
        twice.merge(&ledger);
        assert_eq!(twice.total(), 2 * 0b11_1111);
    }

    #[test]
    fn class_names_match_serde() {
        for class in ByteClass::ALL {
            let json = serde_json::to_string(&class).expect("serialize");
            assert_eq!(json, format!("\"{}\"", class.name()));
        }
    }
}
