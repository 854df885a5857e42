//! What a phase measured of the network path it ran over
//! ([`LinkMeasured`]): TCP connect times, retransmissions from both ends'
//! `TCP_INFO`, and what the emulated link itself counted. The path's
//! parameters are the phase's [`LinkProfile`](crate::LinkProfile); these
//! are the facts.

use serde::{Deserialize, Serialize};

/// A phase's measured facts of its path.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkMeasured {
    /// Time from `connect()` to the connection being established (SYN out
    /// to SYN-ACK in: one round trip plus the server's accept), every
    /// client connection of the phase, microseconds. Before TLS or any
    /// HTTP byte.
    pub connect_us: ConnectTimes,
    /// Retransmissions of the phase's client connections, both ends.
    pub retransmits: Retransmits,
    /// What the emulated link counted over the phase (its counters'
    /// difference from the phase's start to its end). Absent on loopback,
    /// which counts nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathDelta>,
}

/// Percentiles of TCP connect times, microseconds (all zero when no
/// connection was made).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectTimes {
    /// Connections timed.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Longest.
    pub max: u64,
}

/// TCP retransmissions of the phase's client connections, whole
/// connections (setup and teardown included, like `setup_traffic`, not
/// only the measured window), read from `TCP_INFO` just before each
/// client closed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retransmits {
    /// Client sockets whose `TCP_INFO` was read.
    pub client_sockets: u64,
    /// Server sockets of the same connections whose `TCP_INFO` was read
    /// (at the server's side of the path; a server elsewhere, or one that
    /// closed first, is not found).
    pub server_sockets: u64,
    /// Segments the clients sent again (`tcpi_total_retrans`).
    pub sent_segments: u64,
    /// Payload bytes the clients sent again (`tcpi_bytes_retrans`).
    pub sent_bytes: u64,
    /// Segments the server sent again to the clients.
    pub received_segments: u64,
    /// Payload bytes the server sent again to the clients.
    pub received_bytes: u64,
}

/// What the emulated link counted over a phase, each direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathDelta {
    /// Client to server.
    pub up: DirectionDelta,
    /// Server to client.
    pub down: DirectionDelta,
}

/// One direction of a [`PathDelta`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectionDelta {
    /// IP packets that entered the link.
    pub packets: u64,
    /// IP bytes that entered the link (IP headers included).
    pub bytes: u64,
    /// Packets dropped by the random loss.
    pub random_drops: u64,
    /// Packets dropped because the bottleneck queue was full.
    pub queue_drops: u64,
    /// Packets delivered out the other end.
    pub delivered: u64,
}

impl LinkMeasured {
    /// The facts of several shards of one phase as one: counts summed;
    /// connect-time percentiles the highest of the parts' (no histogram is
    /// kept of them, so an upper bound, like merged setup times).
    pub fn merged<'a>(parts: impl IntoIterator<Item = &'a LinkMeasured>) -> Option<LinkMeasured> {
        let parts: Vec<&LinkMeasured> = parts.into_iter().collect();
        let first = parts.first()?;
        let mut out = LinkMeasured {
            path: first.path.map(|_| PathDelta::default()),
            ..LinkMeasured::default()
        };
        for p in &parts {
            let (c, o) = (&p.connect_us, &mut out.connect_us);
            o.count += c.count;
            o.p50 = o.p50.max(c.p50);
            o.p90 = o.p90.max(c.p90);
            o.p99 = o.p99.max(c.p99);
            o.max = o.max.max(c.max);
            let (r, o) = (&p.retransmits, &mut out.retransmits);
            o.client_sockets += r.client_sockets;
            o.server_sockets += r.server_sockets;
            o.sent_segments += r.sent_segments;
            o.sent_bytes += r.sent_bytes;
            o.received_segments += r.received_segments;
            o.received_bytes += r.received_bytes;
            if let (Some(sum), Some(d)) = (out.path.as_mut(), p.path) {
                for (s, d) in [(&mut sum.up, d.up), (&mut sum.down, d.down)] {
                    s.packets += d.packets;
                    s.bytes += d.bytes;
                    s.random_drops += d.random_drops;
                    s.queue_drops += d.queue_drops;
                    s.delivered += d.delivered;
                }
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_left_out_when_absent_and_reads_back() {
        let mut measured = LinkMeasured {
            connect_us: ConnectTimes {
                count: 3,
                p50: 40,
                p90: 55,
                p99: 60,
                max: 61,
            },
            ..LinkMeasured::default()
        };
        let json = serde_json::to_string(&measured).expect("json");
        assert!(!json.contains("path"), "{json}");
        measured.path = Some(PathDelta {
            down: DirectionDelta {
                packets: 9,
                queue_drops: 1,
                ..DirectionDelta::default()
            },
            ..PathDelta::default()
        });
        let json = serde_json::to_string(&measured).expect("json");
        let back: LinkMeasured = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, measured);
    }
}
