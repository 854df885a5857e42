//! TCP segment and retransmission counts of a client connection, from the
//! kernel's `TCP_INFO` of both its sockets.
//!
//! `getsockopt(TCP_INFO)` needs `unsafe` (no safe wrapper in nix, rustix or
//! socket2) and the workspace forbids it, so the same `struct tcp_info` is
//! read over `NETLINK_SOCK_DIAG`: one exact-match query by the connection's
//! four-tuple, answered with `INET_DIAG_INFO`. The socket must still be in
//! the kernel's connection table (established or closing, not yet closed or
//! in TIME_WAIT), so the client reads it just before it closes.
//!
//! A socket is found only in its own network namespace: the client's is
//! read at the path's client side, the server's (the same four-tuple seen
//! from the other end) at its server side ([`read_connection`]).

use std::net::SocketAddr;

use pushbench_net::network_path::Side;
use pushbench_protocol::link_measured::Retransmits;

use crate::path_sides::PathSides;

use netlink_packet_core::{NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_packet_sock_diag::inet::nlas::Nla;
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use netlink_sys::{Socket, SocketAddr as NetlinkAddr};

/// Segments one connection carried, seen from its own socket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segments {
    /// `tcpi_segs_out`: segments sent (SYN, data, pure ACKs, retransmits).
    pub out: u64,
    /// `tcpi_segs_in`: segments received (SYN-ACK included).
    pub r#in: u64,
    /// `tcpi_total_retrans`: segments this socket sent again.
    pub retransmitted: u64,
    /// `tcpi_bytes_retrans`: payload bytes this socket sent again.
    pub retransmitted_bytes: u64,
}

impl Segments {
    /// `self - earlier`, saturating (counters only grow).
    pub fn since(self, earlier: Segments) -> Segments {
        Segments {
            out: self.out.saturating_sub(earlier.out),
            r#in: self.r#in.saturating_sub(earlier.r#in),
            retransmitted: self.retransmitted.saturating_sub(earlier.retransmitted),
            retransmitted_bytes: self
                .retransmitted_bytes
                .saturating_sub(earlier.retransmitted_bytes),
        }
    }
}

/// Both ends' counts of one connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionSegments {
    /// The client's socket.
    pub client: Segments,
    /// The server's socket, when it was found at the path's server side
    /// (a server on another host, or one that closed first, is not).
    pub server: Option<Segments>,
}

/// The retransmissions of a phase's connections, both ends, added up.
pub fn retransmits(connections: impl IntoIterator<Item = ConnectionSegments>) -> Retransmits {
    let mut sum = Retransmits::default();
    for both in connections {
        sum.client_sockets += 1;
        sum.sent_segments += both.client.retransmitted;
        sum.sent_bytes += both.client.retransmitted_bytes;
        if let Some(server) = both.server {
            sum.server_sockets += 1;
            sum.received_segments += server.retransmitted;
            sum.received_bytes += server.retransmitted_bytes;
        }
    }
    sum
}

/// The counts of the client socket `local` -> `server` read at the path's
/// client side, and of the server's socket of the same connection at its
/// server side; `None` when the client's is not found.
pub fn read_connection(
    path: &PathSides,
    local: SocketAddr,
    server: SocketAddr,
) -> Option<ConnectionSegments> {
    let client = path
        .at(Side::Client, move || segments(local, server))
        .ok()?
        .ok()?;
    let server = path
        .at(Side::Server, move || segments(server, local))
        .ok()
        .and_then(Result::ok);
    Some(ConnectionSegments { client, server })
}

/// The segment counts of the TCP socket `local` -> `peer` in this network
/// namespace. Blocking, but a local syscall pair of a few microseconds.
pub fn segments(local: SocketAddr, peer: SocketAddr) -> std::io::Result<Segments> {
    let other = |m: String| std::io::Error::other(m);
    let socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.connect(&NetlinkAddr::new(0, 0))?;
    let mut header = NetlinkHeader::default();
    // No NLM_F_DUMP: an exact lookup of one socket by its four-tuple.
    header.flags = NLM_F_REQUEST;
    let mut socket_id = if local.is_ipv4() {
        SocketId::new_v4()
    } else {
        SocketId::new_v6()
    };
    socket_id.source_port = local.port();
    socket_id.destination_port = peer.port();
    socket_id.source_address = local.ip();
    socket_id.destination_address = peer.ip();
    // All ones: "no cookie", match by addresses and ports.
    socket_id.cookie = [0xff; 8];
    let mut request = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family: if local.is_ipv4() { AF_INET } else { AF_INET6 },
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::INFO,
            states: StateFlags::all(),
            socket_id,
        })
        .into(),
    );
    request.finalize();
    let mut buf = vec![0; request.buffer_len()];
    request.serialize(&mut buf);
    socket.send(&buf, 0)?;
    let (answer, _) = socket.recv_from_full()?;
    let mut offset = 0;
    while offset < answer.len() {
        let message = NetlinkMessage::<SockDiagMessage>::deserialize(&answer[offset..])
            .map_err(|e| other(format!("sock_diag answer: {e}")))?;
        let length = message.header.length as usize;
        match message.payload {
            NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(response)) => {
                for nla in &response.nlas {
                    if let Nla::TcpInfo(info) = nla {
                        return Ok(Segments {
                            out: u64::from(info.segs_out),
                            r#in: u64::from(info.segs_in),
                            retransmitted: u64::from(info.total_retrans),
                            retransmitted_bytes: info.bytes_retrans,
                        });
                    }
                }
                return Err(other("sock_diag answer without TCP_INFO".into()));
            }
            NetlinkPayload::Error(e) => {
                return Err(e.to_io());
            }
            _ => {}
        }
        if length == 0 {
            break;
        }
        offset += length;
    }
    Err(other("no sock_diag answer".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_connection_counts_its_handshake() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let client =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (mut server, _) = listener.accept().expect("accept");
        let local = client.local_addr().expect("local");
        let peer = client.peer_addr().expect("peer");
        let before = segments(local, peer).expect("tcp info");
        // SYN and the ACK of the SYN-ACK out; the SYN-ACK in.
        assert_eq!(
            before,
            Segments {
                out: 2,
                r#in: 1,
                ..Segments::default()
            }
        );
        std::io::Write::write_all(&mut server, b"hello").expect("write");
        let mut got = [0u8; 5];
        std::io::Read::read_exact(&mut &client, &mut got).expect("read");
        let after = segments(local, peer).expect("tcp info");
        assert_eq!(after.since(before).r#in, 1);
        // Both ends through the loopback path: the server's socket is
        // found (it sent the five bytes), nothing was sent again.
        let both = read_connection(&PathSides::default(), local, peer).expect("both");
        let server_side = both.server.expect("the server's socket on loopback");
        assert!(server_side.out >= 1, "{server_side:?}");
        assert_eq!(
            (both.client.retransmitted_bytes, server_side.retransmitted),
            (0, 0)
        );
    }
}
