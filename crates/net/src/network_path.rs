//! The seam between the load generator and the network its clients cross:
//! the kernel's loopback, or an emulated link between two network
//! namespaces (`pushbench-link`).
//!
//! The load generator knows only [`NetworkPath`]: where a client socket is
//! made (a socket belongs to the namespace of the thread that made it),
//! where the server side's TCP facts are read, which address clients dial,
//! how a child server is started on the server side, and what the path
//! itself counted. [`Loopback`] is the path of every run without a link;
//! the link crate implements the emulated one and the CLI hands it in.

use std::fmt::Debug;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;

use pushbench_protocol::LinkProfile;

/// Which end of the path a job runs at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// Where the load generator's clients are.
    Client,
    /// Where the server is: a namespace of its own, or the host itself
    /// when the server is a `--target` already running here.
    Server,
}

/// What a path counted of the packets it carried, each direction, since
/// it was opened. Loopback counts nothing (all zero).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PathCounts {
    /// Client to server.
    pub up: DirectionCounts,
    /// Server to client.
    pub down: DirectionCounts,
}

/// One direction's packet counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirectionCounts {
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

impl PathCounts {
    /// `self - earlier`, field by field, saturating (counts only grow).
    pub fn since(self, earlier: PathCounts) -> PathCounts {
        let d = |a: DirectionCounts, b: DirectionCounts| DirectionCounts {
            packets: a.packets.saturating_sub(b.packets),
            bytes: a.bytes.saturating_sub(b.bytes),
            random_drops: a.random_drops.saturating_sub(b.random_drops),
            queue_drops: a.queue_drops.saturating_sub(b.queue_drops),
            delivered: a.delivered.saturating_sub(b.delivered),
        };
        PathCounts {
            up: d(self.up, earlier.up),
            down: d(self.down, earlier.down),
        }
    }
}

/// A job run at one side of a path.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// The network between clients and server.
pub trait NetworkPath: Send + Sync + Debug {
    /// The profile in force.
    fn profile(&self) -> LinkProfile;
    /// Changes the emulated path's parameters for the next phase (same
    /// namespaces and addresses). Refuses `loopback` on an emulated path
    /// and anything but `loopback` on [`Loopback`].
    fn configure(&self, profile: &LinkProfile) -> io::Result<()>;
    /// Runs `job` on a thread in `side`'s network namespace: a socket it
    /// makes (a client's, a listener, a `NETLINK_SOCK_DIAG` query) belongs
    /// to that namespace. Returns once the job was handed over; see
    /// [`run_at`] for a result.
    fn execute(&self, side: Side, job: Job) -> io::Result<()>;
    /// The address clients dial to reach the server side over the path.
    fn server_ip(&self) -> IpAddr;
    /// The address at which the host reaches the server side without
    /// crossing the emulated link (control calls, `/stats`): the server
    /// namespace's end of a direct pair; `server_ip` on loopback.
    fn control_ip(&self) -> IpAddr;
    /// A command that runs `program` on the server side (`ip netns exec
    /// NS program`, or `program` itself on the host).
    fn server_command(&self, program: &Path) -> Command;
    /// What the path counted since it was opened.
    fn counts(&self) -> PathCounts;
}

/// Runs `f` at `side` of `path` and waits for its result.
pub fn run_at<R, F>(path: &dyn NetworkPath, side: Side, f: F) -> io::Result<R>
where
    R: Send + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(1);
    path.execute(
        side,
        Box::new(move || {
            // The receiver waits below; a send error means it gave up.
            let _ = tx.send(f());
        }),
    )?;
    rx.recv()
        .map_err(|_| io::Error::other("the network path's thread ended before the job did"))
}

/// The kernel's loopback: both sides are this host's namespace, clients
/// dial `127.0.0.1`, jobs run on the calling thread.
#[derive(Clone, Copy, Debug, Default)]
pub struct Loopback;

impl NetworkPath for Loopback {
    fn profile(&self) -> LinkProfile {
        LinkProfile::loopback()
    }

    fn configure(&self, profile: &LinkProfile) -> io::Result<()> {
        if profile.is_loopback() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "link {} needs an emulated path; this run has only the loopback",
                    profile.label()
                ),
            ))
        }
    }

    fn execute(&self, _side: Side, job: Job) -> io::Result<()> {
        job();
        Ok(())
    }

    fn server_ip(&self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    }

    fn control_ip(&self) -> IpAddr {
        self.server_ip()
    }

    fn server_command(&self, program: &Path) -> Command {
        Command::new(program)
    }

    fn counts(&self) -> PathCounts {
        PathCounts::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_runs_jobs_here_and_refuses_an_emulated_profile() {
        let path = Loopback;
        let answer = run_at(&path, Side::Client, || 6 * 7).expect("job");
        assert_eq!(answer, 42);
        assert!(path.configure(&LinkProfile::loopback()).is_ok());
        let lan = LinkProfile::named("lan").expect("lan");
        let err = path.configure(&lan).expect_err("not emulated");
        assert!(err.to_string().contains("lan"), "{err}");
        assert_eq!(path.counts(), PathCounts::default());
    }

    #[test]
    fn counts_since_subtract_each_field() {
        let mut later = PathCounts::default();
        later.up.packets = 10;
        later.down.queue_drops = 3;
        let mut earlier = PathCounts::default();
        earlier.up.packets = 4;
        let d = later.since(earlier);
        assert_eq!((d.up.packets, d.down.queue_drops), (6, 3));
    }
}
