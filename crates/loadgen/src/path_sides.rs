//! The network path as a phase's clients use it ([`PathSides`]): where
//! their sockets are made and their `TCP_INFO` read, with the loopback's
//! work done on the calling thread at no cost.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use pushbench_net::network_path::{
    DirectionCounts, Loopback, NetworkPath, PathCounts, Side, run_at,
};
use pushbench_protocol::LinkProfile;
use pushbench_protocol::link_measured::{DirectionDelta, PathDelta};

/// A [`NetworkPath`] and whether it is the kernel's loopback (read once:
/// the loopback runs a job in place, without the thread hop and channel
/// of [`run_at`]).
#[derive(Clone, Debug)]
pub struct PathSides {
    path: Arc<dyn NetworkPath>,
    loopback: bool,
}

impl PathSides {
    /// The sides of `path`.
    pub fn new(path: Arc<dyn NetworkPath>) -> Self {
        let loopback = path.profile().is_loopback();
        PathSides { path, loopback }
    }

    /// Runs `f` at `side` (a socket it makes belongs to that side's
    /// network namespace) and returns its result.
    pub fn at<R, F>(&self, side: Side, f: F) -> io::Result<R>
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        if self.loopback {
            Ok(f())
        } else {
            run_at(self.path.as_ref(), side, f)
        }
    }

    /// Whether this is the kernel's loopback.
    pub fn is_loopback(&self) -> bool {
        self.loopback
    }

    /// The profile in force.
    pub fn profile(&self) -> LinkProfile {
        self.path.profile()
    }

    /// The path itself.
    pub fn path(&self) -> &Arc<dyn NetworkPath> {
        &self.path
    }

    /// Where clients reach a server listening on `port` at the server side.
    pub fn server_addr(&self, port: u16) -> SocketAddr {
        SocketAddr::new(self.path.server_ip(), port)
    }

    /// Where the host's control calls reach the same server.
    pub fn control_addr(&self, port: u16) -> SocketAddr {
        SocketAddr::new(self.path.control_ip(), port)
    }

    /// The address clients dial.
    pub fn server_ip(&self) -> IpAddr {
        self.path.server_ip()
    }
}

/// A path's counts over a phase as results record them.
pub fn path_delta_of(counts: PathCounts) -> PathDelta {
    let direction = |d: DirectionCounts| DirectionDelta {
        packets: d.packets,
        bytes: d.bytes,
        random_drops: d.random_drops,
        queue_drops: d.queue_drops,
        delivered: d.delivered,
    };
    PathDelta {
        up: direction(counts.up),
        down: direction(counts.down),
    }
}

impl Default for PathSides {
    /// The kernel's loopback.
    fn default() -> Self {
        PathSides::new(Arc::new(Loopback))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loopback_runs_in_place_and_dials_localhost() {
        let sides = PathSides::default();
        assert!(sides.is_loopback());
        let here = std::thread::current().id();
        let there = sides
            .at(Side::Client, move || std::thread::current().id() == here)
            .expect("job");
        assert!(there);
        assert_eq!(
            sides.server_addr(80),
            SocketAddr::from(([127, 0, 0, 1], 80))
        );
        assert_eq!(sides.control_addr(80), sides.server_addr(80));
    }
}
