//! An emulated network path for pushbench: the clients in a network
//! namespace of their own, the server in another (or on the host, for a
//! `--target`), joined by a userspace link over two TUN devices that
//! holds each IP packet for its one-way delay, serializes it at the
//! direction's rate through a bounded drop-tail queue, and drops it with
//! the loss probability, the way Mahimahi's `mm-delay` and `mm-link` do.
//! The kernel's TCP on both ends sees a real path: slow start,
//! retransmission timeouts, head-of-line blocking.
//!
//! [`Link`] implements [`NetworkPath`], the seam the load generator
//! uses; the CLI opens one per run with [`Link::open`] after
//! [`require_net_admin`] and [`cleanup_stale`], and calls
//! [`cleanup_this_process`] on Ctrl-C.
//!
//! # Why TUN devices and not `netem`
//! The kernels pushbench runs on (this one and CI's) may lack the `netem`
//! qdisc (`tc qdisc add ... netem` says "unknown"); `tbf`/`htb` could
//! shape a rate but not delay or drop. TUN devices and network namespaces
//! are in every kernel that runs containers, so the link is ours: each
//! packet the kernel routes into one TUN device is read by a thread and
//! written into the other after the emulated delay. The emulation is then
//! the same everywhere, seeded (a run's loss and jitter draws are
//! reproducible from [`Link::seed`]) and counted ([`PathCounts`]).
//!
//! # Crates and commands
//! - TUN devices need the `TUNSETIFF` ioctl, which safe Rust cannot make
//!   (the workspace forbids `unsafe`): the `tun` crate wraps it, with its
//!   default features off (no async runtime); on Linux it needs only
//!   libc, nix, bytes, log and thiserror, no bindgen and no C build
//!   (`tidy-tuntap` needs bindgen and libclang).
//! - Entering a namespace is `setns(2)` from nix (`sched` only, the nix
//!   that `tun` already pulls): one thread per side enters its namespace
//!   once and runs the jobs sent to it, so a socket a job makes belongs to
//!   that namespace.
//! - Namespaces, addresses, routes and the control veth are made with
//!   iproute2's `ip` command rather than a netlink crate: about a dozen
//!   commands at setup, none on the packet path; `ip` is on every machine
//!   that has namespaces, its error text is quoted as is in
//!   [`LinkError::Ip`], and a netlink route crate (`rtnetlink`) would add
//!   an async stack and several crates for that dozen calls.
//!
//! # Address plan
//! Each link takes a /29 in 10.213.0.0/16, chosen from its pid and
//! counter and skipped while any host address or route lies in it (several
//! runs, and several links of one test process, live at once):
//! - `.1` the server side's end of the link ([`NetworkPath::server_ip`]),
//!   `.2` the clients' end, point to point (`peer`), so each side's only
//!   route to the other is its TUN device;
//! - `.5` (host) and `.6` (server namespace, [`NetworkPath::control_ip`])
//!   a veth pair, not emulated, over which the host reaches the server's
//!   control API and `/stats` without crossing the link. With
//!   [`ServerSide::Host`] there is no veth: the host's TUN device holds
//!   `.1`, and a target must listen on it (or on 0.0.0.0).
//!
//! Reverse-path filtering is turned off inside the namespaces (a packet
//! from `.2` arrives on the only device that routes to `.2`, so strict
//! filtering would pass too; the host's setting is left alone).
//!
//! # Timing precision
//! The writer thread of each direction sleeps until the head packet's
//! delivery time with `std::thread::sleep` (nanosleep, with the thread's
//! timer slack set to 1 us down from 50 us), not on tokio's timer, whose 1 ms
//! granularity would not do for a 1 ms-RTT link. Each packet costs a read
//! and a write through the kernel, a copy, and a wake-up of the writer.
//! The crate's tests (`tests/accuracy.rs`) measure what this gives on
//! RTT, rate and loss, with the margins; `max_rate` there (run
//! with `--ignored`) prints the rate an unlimited link reaches.
//!
//! # Layout
//! - [`scheduler`]: one direction as a pure function of time (loss,
//!   queue, serialization, delay, jitter, order), tested without sockets.
//! - `emulator`: the reader and writer threads per direction that drive
//!   the schedulers between the two TUN devices, and the counts.
//! - `veth_namespace`: [`VethNamespace`], a namespace one veth hop from
//!   the host (a shard's own address), and the veth pair both use.
//! - `netns`: names, the address plan, the `ip` commands, cleanup, and the
//!   thread that runs jobs inside a namespace.

#![deny(missing_docs)]

mod emulator;
mod netns;
pub mod scheduler;
mod veth_namespace;

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use pushbench_net::network_path::{Job, NetworkPath, PathCounts, Side};
use pushbench_protocol::LinkProfile;

use crate::emulator::Emulator;
use crate::netns::{AddressBlock, LinkNames, NS_TUN, SideThread, free_block, ip};
use crate::scheduler::DirectionParams;

pub use crate::netns::{cleanup_stale, cleanup_this_process, pid_of_namespace};
pub use crate::veth_namespace::VethNamespace;
use crate::veth_namespace::veth_to_host;

/// The MTU of both TUN devices: Ethernet's, as on the paths emulated.
const LINK_MTU: u16 = 1500;

/// What went wrong making or running a link.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Not root: no CAP_NET_ADMIN.
    #[error(
        "--link {profile} needs root (CAP_NET_ADMIN) to make network namespaces and TUN \
         devices; run as root, or use --link loopback"
    )]
    NeedsNetAdmin {
        /// The profile's label.
        profile: String,
    },
    /// Not root: no CAP_NET_ADMIN, for something other than a link.
    #[error("{0} needs root (CAP_NET_ADMIN)")]
    NeedsRoot(String),
    /// `loopback` needs no link.
    #[error("--link loopback is the kernel's loopback: it needs no emulated link")]
    Loopback,
    /// An `ip` command failed.
    #[error("`ip {args}` failed: {stderr}")]
    Ip {
        /// The command's arguments.
        args: String,
        /// What it printed.
        stderr: String,
    },
    /// `ip` could not be started.
    #[error("could not run `ip` (iproute2 is needed for --link): {0}")]
    IpMissing(#[source] io::Error),
    /// A TUN device could not be made.
    #[error("TUN device {name}: {source}")]
    Tun {
        /// The device's name.
        name: String,
        /// Why.
        #[source]
        source: tun::Error,
    },
    /// A namespace could not be entered.
    #[error("network namespace {name}: {source}")]
    Namespace {
        /// The namespace's name.
        name: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Every address block in 10.213.0.0/16 is in use.
    #[error("no free /29 in 10.213.0.0/16 for the link's addresses")]
    NoAddress,
    /// A thread of the link could not start or answer.
    #[error("the link's {0} thread: {1}")]
    Thread(String, #[source] io::Error),
}

impl From<LinkError> for io::Error {
    fn from(e: LinkError) -> io::Error {
        let kind = match e {
            LinkError::NeedsNetAdmin { .. } => io::ErrorKind::PermissionDenied,
            LinkError::Loopback => io::ErrorKind::InvalidInput,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

/// Fails with [`LinkError::NeedsNetAdmin`] unless this process holds
/// CAP_NET_ADMIN (root has it), naming `profile` in the message.
pub fn require_net_admin(profile: &LinkProfile) -> Result<(), LinkError> {
    if this_process_has_net_admin() {
        Ok(())
    } else {
        Err(LinkError::NeedsNetAdmin {
            profile: profile.label(),
        })
    }
}

/// Fails with [`LinkError::NeedsRoot`] naming `what` unless this process
/// holds CAP_NET_ADMIN.
pub(crate) fn require_net_admin_for(what: &str) -> Result<(), LinkError> {
    if this_process_has_net_admin() {
        Ok(())
    } else {
        Err(LinkError::NeedsRoot(what.to_owned()))
    }
}

fn this_process_has_net_admin() -> bool {
    has_net_admin(&std::fs::read_to_string("/proc/self/status").unwrap_or_default())
}

/// Whether the `CapEff` line of a `/proc/<pid>/status` text has
/// CAP_NET_ADMIN (bit 12).
fn has_net_admin(status: &str) -> bool {
    const CAP_NET_ADMIN: u32 = 12;
    status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_NET_ADMIN) != 0)
}

/// Where the server side of a link is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerSide {
    /// A namespace of its own (the run starts the server there), reached
    /// from the host over a direct veth pair too.
    Namespace,
    /// The host itself (`--target`: a server already running here).
    Host,
}

/// The parameters of each direction under `profile`: (up, down).
fn direction_params(profile: &LinkProfile) -> (DirectionParams, DirectionParams) {
    let one_way_ns = profile.rtt_us.saturating_mul(1000) / 2;
    let base = DirectionParams {
        one_way_ns,
        jitter_ns: profile.jitter_us.saturating_mul(1000),
        rate_bps: None,
        loss: profile.loss,
        queue_packets: profile.queue_packets,
    };
    (
        DirectionParams {
            rate_bps: profile.up_bps,
            ..base
        },
        DirectionParams {
            rate_bps: profile.down_bps,
            ..base
        },
    )
}

/// An emulated path: namespaces, TUN devices, the control veth and the
/// emulator threads. Dropping it stops the threads and removes the
/// namespaces and devices.
///
/// Each side runs its jobs ([`NetworkPath::execute`]) one after another
/// on one thread, and dropping the link waits for the job in progress:
/// a job should make its sockets (or read TCP_INFO) and return, leaving
/// the I/O to the caller's threads or runtime, which may use the sockets
/// from any namespace.
#[derive(Debug)]
pub struct Link {
    profile: Mutex<LinkProfile>,
    seed: u64,
    names: LinkNames,
    block: AddressBlock,
    server_side: ServerSide,
    // Field order is drop order: the emulator (and its TUN devices) first,
    // then the side threads, then the namespaces.
    emulator: Option<Emulator>,
    client: Option<SideThread>,
    server: Option<SideThread>,
    resources: Resources,
}

/// What a link made on the host, removed on drop (also when `open`
/// fails half way).
#[derive(Debug, Default)]
pub(crate) struct Resources {
    pub(crate) namespaces: Vec<String>,
    pub(crate) interfaces: Vec<String>,
}

impl Drop for Resources {
    fn drop(&mut self) {
        // Deleting a namespace deletes the devices in it and the veth
        // peers of those; host interfaces left are removed by name.
        for ns in self.namespaces.drain(..) {
            let _ = ip(&["netns", "del", &ns]);
        }
        for interface in self.interfaces.drain(..) {
            if ip(&["link", "show", &interface]).is_ok() {
                let _ = ip(&["link", "del", &interface]);
            }
        }
    }
}

impl Link {
    /// Opens a link with `profile`, its random draws seeded from the
    /// clock and pid (see [`Link::seed`]).
    pub fn open(profile: &LinkProfile, server_side: ServerSide) -> Result<Link, LinkError> {
        let clock = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let seed = clock ^ u64::from(std::process::id()).rotate_left(32);
        Link::open_seeded(profile, server_side, seed)
    }

    /// Opens a link with `profile` whose loss and jitter draws follow
    /// `seed`.
    pub fn open_seeded(
        profile: &LinkProfile,
        server_side: ServerSide,
        seed: u64,
    ) -> Result<Link, LinkError> {
        if profile.is_loopback() {
            return Err(LinkError::Loopback);
        }
        require_net_admin(profile)?;
        let names = LinkNames::next();
        let block = free_block(&names)?;
        let mut resources = Resources::default();

        let client_ns = names.client_ns();
        ip(&["netns", "add", &client_ns])?;
        resources.namespaces.push(client_ns.clone());
        let server_ns = match server_side {
            ServerSide::Namespace => {
                let ns = names.server_ns();
                ip(&["netns", "add", &ns])?;
                resources.namespaces.push(ns.clone());
                Some(ns)
            }
            ServerSide::Host => None,
        };

        let client = SideThread::spawn("client", Some(&client_ns))?;
        let server = SideThread::spawn("server", server_ns.as_deref())?;
        let server_tun = match server_side {
            ServerSide::Namespace => NS_TUN.to_owned(),
            ServerSide::Host => {
                resources.interfaces.push(names.host_tun());
                names.host_tun()
            }
        };
        let client_device = make_tun(&client, NS_TUN, true)?;
        let server_device = make_tun(&server, &server_tun, server_ns.is_some())?;

        let peer = |addr: Ipv4Addr| format!("{addr}/32");
        let (client_addr, server_addr) = (block.client().to_string(), block.server().to_string());
        in_ns(
            Some(&client_ns),
            &[
                "addr",
                "add",
                &client_addr,
                "peer",
                &peer(block.server()),
                "dev",
                NS_TUN,
            ],
        )?;
        in_ns(
            server_ns.as_deref(),
            &[
                "addr",
                "add",
                &server_addr,
                "peer",
                &peer(block.client()),
                "dev",
                &server_tun,
            ],
        )?;
        in_ns(Some(&client_ns), &["link", "set", "lo", "up"])?;
        client.run(|| rp_filter_off(NS_TUN)).map_err(thread_error)?;

        if let Some(ns) = &server_ns {
            in_ns(Some(ns), &["link", "set", "lo", "up"])?;
            server.run(|| rp_filter_off(NS_TUN)).map_err(thread_error)?;
            veth_to_host(&names, block, ns, &mut resources)?;
        }

        let (up, down) = direction_params(profile);
        let emulator = Emulator::start(client_device, server_device, up, down, seed)
            .map_err(|e| LinkError::Thread("emulator".into(), e))?;
        tracing::info!(
            link = %profile.label(), seed, client_ns = %client_ns,
            server = %block.server(), "emulated link open"
        );
        Ok(Link {
            profile: Mutex::new(profile.clone()),
            seed,
            names,
            block,
            server_side,
            emulator: Some(emulator),
            client: Some(client),
            server: Some(server),
            resources,
        })
    }

    /// The seed of the loss and jitter draws: a link opened with
    /// [`Link::open_seeded`] and this seed draws the same.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Where the server side is.
    pub fn server_side(&self) -> ServerSide {
        self.server_side
    }

    /// The clients' namespace.
    pub fn client_namespace(&self) -> String {
        self.names.client_ns()
    }

    /// The server's namespace; `None` when the host is the server side.
    pub fn server_namespace(&self) -> Option<String> {
        (self.server_side == ServerSide::Namespace).then(|| self.names.server_ns())
    }

    /// The control veth's host end; `None` when the host is the server
    /// side.
    pub fn control_interface(&self) -> Option<String> {
        (self.server_side == ServerSide::Namespace).then(|| self.names.host_control())
    }

    /// The clients' address on the link.
    pub fn client_ip(&self) -> IpAddr {
        IpAddr::V4(self.block.client())
    }

    fn side(&self, side: Side) -> io::Result<&SideThread> {
        match side {
            Side::Client => self.client.as_ref(),
            Side::Server => self.server.as_ref(),
        }
        .ok_or_else(|| io::Error::other("the link is closing"))
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.emulator = None;
        self.client = None;
        self.server = None;
        // Then the namespaces and host interfaces.
        drop(std::mem::take(&mut self.resources));
    }
}

/// Runs `ip args` in namespace `ns` (`ip -n NS`), or on the host.
pub(crate) fn in_ns(ns: Option<&str>, args: &[&str]) -> Result<(), LinkError> {
    match ns {
        Some(ns) => {
            let mut all = vec!["-n", ns];
            all.extend_from_slice(args);
            ip(&all)
        }
        None => ip(args),
    }
}

fn thread_error(e: io::Error) -> LinkError {
    LinkError::Thread("namespace".into(), e)
}

/// Makes the TUN device `name` (no packet information header, MTU 1500,
/// up) on `side`'s thread, so it is born in that side's namespace. IPv6
/// is turned off on it (in a namespace of ours, before it exists, so it
/// never sends router solicitations): the link carries only the run's
/// IPv4 packets, and its counts are the run's.
fn make_tun(side: &SideThread, name: &str, own_namespace: bool) -> Result<tun::Device, LinkError> {
    let device_name = name.to_owned();
    side.run(move || {
        if own_namespace {
            let _ = std::fs::write("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
        }
        let mut config = tun::Configuration::default();
        config
            .tun_name(&device_name)
            .layer(tun::Layer::L3)
            .mtu(LINK_MTU)
            .up();
        let device = tun::create(&config);
        let _ = std::fs::write(
            format!("/proc/sys/net/ipv6/conf/{device_name}/disable_ipv6"),
            "1",
        );
        device
    })
    .map_err(thread_error)?
    .map_err(|source| LinkError::Tun {
        name: name.to_owned(),
        source,
    })
}

/// Turns reverse-path filtering off for `device` and `all` in the calling
/// thread's namespace (procfs's net sysctls follow the thread's
/// namespace). Best effort: strict filtering passes on this topology too.
fn rp_filter_off(device: &str) {
    for conf in ["all", device] {
        let path = format!("/proc/sys/net/ipv4/conf/{conf}/rp_filter");
        let _ = std::fs::write(path, "0");
    }
}

impl NetworkPath for Link {
    fn profile(&self) -> LinkProfile {
        self.profile
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn configure(&self, profile: &LinkProfile) -> io::Result<()> {
        if profile.is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "link loopback needs no emulated path; this phase runs over an emulated link",
            ));
        }
        let (up, down) = direction_params(profile);
        if let Some(emulator) = &self.emulator {
            emulator.set_params(up, down);
        }
        *self.profile.lock().unwrap_or_else(PoisonError::into_inner) = profile.clone();
        Ok(())
    }

    fn execute(&self, side: Side, job: Job) -> io::Result<()> {
        self.side(side)?.execute(job)
    }

    fn server_ip(&self) -> IpAddr {
        IpAddr::V4(self.block.server())
    }

    fn control_ip(&self) -> IpAddr {
        match self.server_side {
            ServerSide::Namespace => IpAddr::V4(self.block.control_server()),
            ServerSide::Host => self.server_ip(),
        }
    }

    fn server_command(&self, program: &Path) -> Command {
        match self.server_namespace() {
            Some(ns) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", &ns]).arg(program);
                command
            }
            None => Command::new(program),
        }
    }

    fn counts(&self) -> PathCounts {
        let (up, down) = self
            .emulator
            .as_ref()
            .map(Emulator::counts)
            .unwrap_or_default();
        PathCounts { up, down }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_admin_is_bit_12_of_the_effective_set() {
        assert!(has_net_admin("Name:\tx\nCapEff:\t000001ffffffffff\n"));
        assert!(has_net_admin("CapEff:\t0000000000001000\n"));
        assert!(!has_net_admin("CapEff:\t0000000000000000\n"));
        assert!(!has_net_admin("no such line"));
    }

    #[test]
    fn the_error_without_root_says_what_it_needs() {
        let e = LinkError::NeedsNetAdmin {
            profile: "3g".into(),
        };
        assert_eq!(
            e.to_string(),
            "--link 3g needs root (CAP_NET_ADMIN) to make network namespaces and TUN \
             devices; run as root, or use --link loopback"
        );
    }

    #[test]
    fn each_direction_gets_half_the_rtt_and_its_own_rate() {
        let profile: LinkProfile = "rtt=37ms,jitter=1ms,down=4mbit,up=1mbit,loss=1%,queue=50"
            .parse()
            .expect("profile");
        let (up, down) = direction_params(&profile);
        assert_eq!(up.one_way_ns, 18_500_000);
        assert_eq!(up.jitter_ns, 1_000_000);
        assert_eq!(
            (up.rate_bps, down.rate_bps),
            (Some(1_000_000), Some(4_000_000))
        );
        assert_eq!((down.loss, down.queue_packets), (0.01, 50));
    }

    #[test]
    fn loopback_is_refused() {
        let e = Link::open(&LinkProfile::loopback(), ServerSide::Namespace).expect_err("loopback");
        assert!(matches!(e, LinkError::Loopback), "{e}");
    }
}
