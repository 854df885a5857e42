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
    /// empty polls, gap markers, the last chunk; over HTTP/2 also the
    /// connection's control frames (SETTINGS after the first, WINDOW_UPDATE,
    /// PING, RST_STREAM, GOAWAY, PRIORITY), whole.
    Control,
    /// HTTP/2: the 9-byte header (and any padding) of each HEADERS,
    /// CONTINUATION and DATA frame, whose contents go to the other classes:
    /// the HPACK block to the header classes, DATA to what it carries.
    H2Frames,
    /// A content-coded (`Content-Encoding: gzip` or `br`) response body as
    /// it crossed the wire: envelope, framing and payload compressed
    /// together, which no byte of it can be split back into. What it
    /// decodes to is booked beside it, in [`Traffic::decoded`].
    Compressed,
    /// TLS: every byte that crossed the socket before the client's TLS
    /// handshake completed (ClientHello to the client's Finished, both ways).
    TlsHandshake,
    /// TLS after the handshake: each record's header, inner content type and
    /// AEAD tag, and whole records that carry no application data (session
    /// tickets, `close_notify`).
    TlsRecords,
}

impl ByteClass {
    /// How many classes there are.
    pub const COUNT: usize = 10;

    /// The classes of the HTTP and WebSocket bytes themselves (above TLS,
    /// when there is TLS): what the wire [`Classifier`](crate::Classifier)
    /// books.
    pub const PLAINTEXT: [ByteClass; 8] = {
        let mut all = [ByteClass::H2Frames; 8];
        let mut i = 0;
        while i < ByteClass::CLASSIC.len() {
            all[i] = ByteClass::CLASSIC[i];
            i += 1;
        }
        all[7] = ByteClass::Compressed;
        all
    };

    /// The first six of [`ByteClass::PLAINTEXT`]: the classes every
    /// HTTP/1.1 and WebSocket exchange is split into. Classes added later
    /// (HTTP/2's frame headers, content-coded bodies) are only where their
    /// protocol is, so a trace shows them only when used and the CSV
    /// appends them after the older columns.
    pub const CLASSIC: [ByteClass; 6] = [
        ByteClass::Handshake,
        ByteClass::RequestHeaders,
        ByteClass::ResponseHeaders,
        ByteClass::Framing,
        ByteClass::Payload,
        ByteClass::Control,
    ];

    /// The classes of what TLS adds below the plaintext.
    pub const TLS: [ByteClass; 2] = [ByteClass::TlsHandshake, ByteClass::TlsRecords];

    /// Every class, in the order reports stack them: [`ByteClass::PLAINTEXT`]
    /// then [`ByteClass::TLS`].
    pub const ALL: [ByteClass; ByteClass::COUNT] = {
        let mut all = [ByteClass::Handshake; ByteClass::COUNT];
        let mut i = 0;
        while i < ByteClass::COUNT {
            all[i] = if i < ByteClass::PLAINTEXT.len() {
                ByteClass::PLAINTEXT[i]
            } else {
                ByteClass::TLS[i - ByteClass::PLAINTEXT.len()]
            };
            i += 1;
        }
        all
    };

    /// True for [`ByteClass::TLS`] classes.
    pub fn is_tls(self) -> bool {
        matches!(self, ByteClass::TlsHandshake | ByteClass::TlsRecords)
    }

    /// The snake_case name used in JSON and CSV.
    pub fn name(self) -> &'static str {
        match self {
            ByteClass::Handshake => "handshake",
            ByteClass::RequestHeaders => "request_headers",
            ByteClass::ResponseHeaders => "response_headers",
            ByteClass::Framing => "framing",
            ByteClass::Payload => "payload",
            ByteClass::Control => "control",
            ByteClass::H2Frames => "h2_frames",
            ByteClass::Compressed => "compressed",
            ByteClass::TlsHandshake => "tls_handshake",
            ByteClass::TlsRecords => "tls_records",
        }
    }
}

/// Bytes per class for one direction of one or many connections.
///
/// The classes of [`ByteClass::ALL`] split the bytes that crossed the
/// socket (the TCP payload): they add up to the socket count, and
/// [`ByteLedger::total`] is that sum. [`ByteLedger::tcp_ip`] is different in
/// kind: the IP and TCP headers the kernel wrapped those bytes in, which
/// never pass through the socket API. It is estimated from segment counts
/// (`TCP_INFO`), reported beside the classes and never added to `total()`.
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
    /// See [`ByteClass::H2Frames`]. Absent (0) in older results and left
    /// out of HTTP/1.1 ones.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub h2_frames: u64,
    /// See [`ByteClass::Compressed`]. Absent (0) in older results and left
    /// out of identity ones.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub compressed: u64,
    /// See [`ByteClass::TlsHandshake`]. Absent (0) in older results and
    /// left out of plaintext ones, which thus read as they always did.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tls_handshake: u64,
    /// See [`ByteClass::TlsRecords`]. Absent (0) in older results and left
    /// out of plaintext ones.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tls_records: u64,
    /// IPv4 + TCP header bytes of the segments that carried this direction
    /// (pure ACKs, SYN and FIN included), estimated from `TCP_INFO` segment
    /// counts with [`tcp_ip_header_bytes`]. Not a class of socket bytes:
    /// excluded from [`ByteLedger::total`]. Absent (0) in older results.
    #[serde(default)]
    pub tcp_ip: u64,
    /// TCP payload bytes this direction's sender sent again
    /// (`tcpi_bytes_retrans` of the sending socket: the client's for
    /// `sent`, the server's for `received`). On-the-wire extra like
    /// `tcp_ip`, never socket bytes: excluded from [`ByteLedger::total`].
    /// Absent (0) in older results and when nothing was retransmitted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retransmitted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// IPv4 (20) + TCP (20) header bytes of every segment.
pub const IPV4_TCP_HEADER: u64 = 40;
/// TCP options on every segment after the handshake when timestamps are
/// on (Linux's default): NOP, NOP, timestamp (10) = 12 bytes.
pub const TCP_TIMESTAMP_OPTIONS: u64 = 12;
/// Extra option bytes on a SYN or SYN-ACK beyond [`TCP_TIMESTAMP_OPTIONS`]:
/// Linux sends MSS (4), SACK-permitted (2), timestamp (10), NOP and window
/// scale (4) = 20 bytes, 8 more than a data segment.
pub const TCP_SYN_EXTRA_OPTIONS: u64 = 8;

/// IP + TCP header bytes of `segments` segments in one direction of one
/// IPv4 connection, `syns` of which (0 or 1) were a SYN or SYN-ACK: 52 bytes
/// per segment on Linux with timestamps, 60 for the SYN. A lossless
/// loopback sends no SACK blocks, so this is exact there; on a lossy
/// network it is a lower bound.
pub fn tcp_ip_header_bytes(segments: u64, syns: u64) -> u64 {
    segments * (IPV4_TCP_HEADER + TCP_TIMESTAMP_OPTIONS)
        + syns.min(segments) * TCP_SYN_EXTRA_OPTIONS
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
            ByteClass::H2Frames => self.h2_frames,
            ByteClass::Compressed => self.compressed,
            ByteClass::TlsHandshake => self.tls_handshake,
            ByteClass::TlsRecords => self.tls_records,
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
            ByteClass::H2Frames => &mut self.h2_frames,
            ByteClass::Compressed => &mut self.compressed,
            ByteClass::TlsHandshake => &mut self.tls_handshake,
            ByteClass::TlsRecords => &mut self.tls_records,
        }
    }

    /// All bytes, every class together: equals the socket count.
    pub fn total(&self) -> u64 {
        ByteClass::ALL.iter().map(|&c| self.get(c)).sum()
    }

    /// Adds another ledger into this one (the classes, `tcp_ip` and
    /// `retransmitted`).
    pub fn merge(&mut self, other: &ByteLedger) {
        for class in ByteClass::ALL {
            self.add(class, other.get(class));
        }
        self.tcp_ip += other.tcp_ip;
        self.retransmitted += other.retransmitted;
    }

    /// True when nothing is booked (no class, no `tcp_ip`, nothing
    /// retransmitted).
    pub fn is_empty(&self) -> bool {
        self.total() == 0 && self.tcp_ip == 0 && self.retransmitted == 0
    }
}

/// Both directions of a connection, seen from the client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    /// Client to server.
    pub sent: ByteLedger,
    /// Server to client.
    pub received: ByteLedger,
    /// The content-coded response bodies (`received.compressed`) decoded:
    /// the classes the body parser gives the decoded bytes, exactly as it
    /// would for the same body uncoded (`framing`, `payload`, `control`;
    /// an empty poll's body is `control`, as on the wire). Not socket
    /// bytes: beside the ledgers, never in [`Traffic::total`]; the
    /// compression ratio is `decoded.total() / received.compressed`.
    /// Absent (empty) in older results and identity ones.
    #[serde(default, skip_serializing_if = "ByteLedger::is_empty")]
    pub decoded: ByteLedger,
}

impl Traffic {
    /// Adds another connection's traffic into this one.
    pub fn merge(&mut self, other: &Traffic) {
        self.sent.merge(&other.sent);
        self.received.merge(&other.received);
        self.decoded.merge(&other.decoded);
    }

    /// All bytes in both directions.
    pub fn total(&self) -> u64 {
        self.sent.total() + self.received.total()
    }

    /// Event payload bytes delivered or published, both directions: the
    /// `payload` classes, plus the payload inside content-coded bodies
    /// (whose wire bytes are `compressed`). The denominator of the overhead
    /// ratio, so a coded phase compares with an identity one.
    pub fn payload(&self) -> u64 {
        self.sent.payload + self.received.payload + self.decoded.payload
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
        assert_eq!(ledger.total(), 0b11_1111_1111);
        let mut twice = ledger;
        twice.merge(&ledger);
        assert_eq!(twice.total(), 2 * 0b11_1111_1111);
        assert_eq!(
            ByteClass::PLAINTEXT.len() + ByteClass::TLS.len(),
            ByteClass::ALL.len()
        );
        assert!(ByteClass::TLS.iter().all(|c| c.is_tls()));
        assert!(!ByteClass::PLAINTEXT.iter().any(|c| c.is_tls()));
    }

    #[test]
    fn plaintext_ledgers_serialize_as_they_always_did() {
        let plain = ByteLedger {
            payload: 3,
            ..ByteLedger::default()
        };
        let json = serde_json::to_string(&plain).expect("json");
        assert!(!json.contains("tls"), "{json}");
        let tls = ByteLedger {
            tls_records: 22,
            ..plain
        };
        let json = serde_json::to_string(&tls).expect("json");
        let back: ByteLedger = serde_json::from_str(&json).expect("parse");
        assert_eq!((back, back.total()), (tls, 25));
    }

    #[test]
    fn tcp_ip_is_beside_the_classes_not_in_the_total() {
        let mut ledger = ByteLedger {
            payload: 10,
            tcp_ip: 520,
            retransmitted: 7,
            ..ByteLedger::default()
        };
        assert_eq!(ledger.total(), 10);
        ledger.merge(&ledger.clone());
        assert_eq!(
            (ledger.total(), ledger.tcp_ip, ledger.retransmitted),
            (20, 1040, 14)
        );
        // Nothing retransmitted: the field is left out.
        let json = serde_json::to_string(&ByteLedger::default()).expect("json");
        assert!(!json.contains("retransmitted"), "{json}");
        // Old results without the field still parse.
        let old: ByteLedger = serde_json::from_str(
            r#"{"handshake":0,"request_headers":1,"response_headers":0,"framing":0,"payload":0,"control":0}"#,
        )
        .expect("old ledger");
        assert_eq!((old.total(), old.tcp_ip), (1, 0));
    }

    #[test]
    fn header_bytes_per_segment_match_linux_loopback() {
        // A SYN on lo: 74-byte frame = 14 Ethernet + 20 IP + 40 TCP.
        assert_eq!(tcp_ip_header_bytes(1, 1), 60);
        // A data segment or pure ACK: 66-byte frame minus 14 = 52 + payload.
        assert_eq!(tcp_ip_header_bytes(1, 0), 52);
        assert_eq!(tcp_ip_header_bytes(10, 1), 528);
        assert_eq!(tcp_ip_header_bytes(0, 1), 0);
    }

    #[test]
    fn class_names_match_serde() {
        for class in ByteClass::ALL {
            let json = serde_json::to_string(&class).expect("serialize");
            assert_eq!(json, format!("\"{}\"", class.name()));
        }
    }
}
