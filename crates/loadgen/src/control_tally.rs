//! The tally of the runner's own connections (control calls, and the
//! publisher's into a server of another kind): every byte `control`, kept
//! apart from the clients' figures, and each connection's totals for the
//! wire log.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use pushbench_net::counting::Tally;
use pushbench_protocol::{Direction, Traffic, wire::ControlClassifier};

use crate::lock;

/// The tally of control connections: every byte `control`.
#[derive(Clone, Debug, Default)]
pub(crate) struct ControlTally(Arc<Mutex<Traffic>>);

impl ControlTally {
    /// Everything counted so far.
    pub(crate) fn traffic(&self) -> Traffic {
        *lock(&self.0)
    }
}

impl Tally for ControlTally {
    fn on_read(&self, bytes: &[u8]) {
        let mut traffic = lock(&self.0);
        ControlClassifier.feed(Direction::Received, bytes, &mut |e| {
            if let pushbench_protocol::WireEvent::Bytes { class, bytes, .. } = e {
                traffic.received.add(class, bytes.len() as u64);
            }
        });
    }

    fn on_written(&self, bytes: &[u8]) {
        let mut traffic = lock(&self.0);
        ControlClassifier.feed(Direction::Sent, bytes, &mut |e| {
            if let pushbench_protocol::WireEvent::Bytes { class, bytes, .. } = e {
                traffic.sent.add(class, bytes.len() as u64);
            }
        });
    }
}

/// One control connection: where it came from and what crossed its socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlConnection {
    /// The client end of the connection.
    pub local: SocketAddr,
    /// Bytes written.
    pub sent: u64,
    /// Bytes read.
    pub received: u64,
}
