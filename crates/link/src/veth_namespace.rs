//! A network namespace joined to the host by a plain veth pair, no
//! emulation: its own address, so its own ephemeral ports, one hop from
//! the host. The shards of a run (`run --segment I/N`) each run in one
//! to act as load hosts of their own against one server on the host;
//! [`Link`](crate::Link) uses [`veth_to_host`] for its control veth.

use std::net::Ipv4Addr;
use std::process::Command;

use crate::netns::{AddressBlock, LinkNames, NS_CONTROL, free_block, ip};
use crate::{LinkError, Resources, in_ns, require_net_admin_for};

/// Joins namespace `ns` to the host by a veth pair: the host end
/// `names.host_control()` holds `block.control_host()`, the end inside
/// ([`NS_CONTROL`]) `block.control_server()`, a /30 between them, both up.
/// The host end is recorded in `resources` as soon as it exists.
pub(crate) fn veth_to_host(
    names: &LinkNames,
    block: AddressBlock,
    ns: &str,
    resources: &mut Resources,
) -> Result<(), LinkError> {
    let host_end = names.host_control();
    ip(&[
        "link", "add", &host_end, "type", "veth", "peer", "name", NS_CONTROL, "netns", ns,
    ])?;
    resources.interfaces.push(host_end.clone());
    let net = |addr: Ipv4Addr| format!("{addr}/30");
    ip(&["addr", "add", &net(block.control_host()), "dev", &host_end])?;
    ip(&["link", "set", &host_end, "up"])?;
    let inside = net(block.control_server());
    in_ns(Some(ns), &["addr", "add", &inside, "dev", NS_CONTROL])?;
    in_ns(Some(ns), &["link", "set", NS_CONTROL, "up"])
}

/// A namespace of its own with a veth pair to the host; dropping it
/// removes both (also when [`VethNamespace::open`] fails half way).
///
/// Its names follow the link's scheme (`pushbench-<pid>-<n>-c`,
/// `pb<pid>-<n>h`), so [`cleanup_stale`](crate::cleanup_stale) removes
/// what a killed process left.
#[derive(Debug)]
pub struct VethNamespace {
    names: LinkNames,
    block: AddressBlock,
    // Held for its `Drop`, which removes the namespace and the veth.
    _resources: Resources,
}

impl VethNamespace {
    /// Makes the namespace, its loopback and the veth pair (needs root).
    pub fn open() -> Result<VethNamespace, LinkError> {
        require_net_admin_for("a network namespace with a veth pair")?;
        let names = LinkNames::next();
        let block = free_block(&names)?;
        let mut resources = Resources::default();
        let ns = names.client_ns();
        ip(&["netns", "add", &ns])?;
        resources.namespaces.push(ns.clone());
        in_ns(Some(&ns), &["link", "set", "lo", "up"])?;
        veth_to_host(&names, block, &ns, &mut resources)?;
        Ok(VethNamespace {
            names,
            block,
            _resources: resources,
        })
    }

    /// The namespace's name (under /run/netns, as `ip netns` lists it).
    pub fn name(&self) -> String {
        self.names.client_ns()
    }

    /// The namespace's address: every connection made inside has it as
    /// its source.
    pub fn inside_ip(&self) -> Ipv4Addr {
        self.block.control_server()
    }

    /// The host end's address: what a process inside dials to reach a
    /// server on the host listening there (or on 0.0.0.0).
    pub fn host_ip(&self) -> Ipv4Addr {
        self.block.control_host()
    }

    /// The veth's host end.
    pub fn host_interface(&self) -> String {
        self.names.host_control()
    }

    /// Routes `addr` (an address of the host's, such as another
    /// namespace's host end) through this namespace's veth, so that one
    /// server address on the host serves every namespace.
    pub fn route_to(&self, addr: Ipv4Addr) -> Result<(), LinkError> {
        let (to, via) = (format!("{addr}/32"), self.host_ip().to_string());
        in_ns(Some(&self.name()), &["route", "add", &to, "via", &via])
    }

    /// `ip netns exec NAME PROGRAM`: a command that runs `program` inside.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name()]).arg(program);
        command
    }
}
