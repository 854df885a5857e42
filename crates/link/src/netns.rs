//! The namespaces, devices and addresses of a link, made and removed with
//! iproute2's `ip`, and the threads that run jobs inside a namespace.
//!
//! Names carry the pid of the process that made them and a per-process
//! counter, so several links live side by side and a later run can tell
//! which ones a killed run left behind: namespaces `pushbench-<pid>-<n>-c`
//! (clients) and `pushbench-<pid>-<n>-s` (server), host interfaces
//! `pb<pid>-<n>h` (the control veth's host end) and `pb<pid>-<n>t` (the
//! link's TUN device when the host is the server side). Inside a namespace
//! the devices are `pblink` (the TUN end of the link) and `pbctl` (the
//! control veth's end).

use std::fs::File;
use std::io;
use std::net::Ipv4Addr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};

use nix::sched::{CloneFlags, setns};
use pushbench_net::network_path::Job;

use crate::LinkError;

/// Where `ip netns add` mounts the namespaces it makes.
const NETNS_DIR: &str = "/run/netns";
/// The first part of every namespace name of ours.
const NS_PREFIX: &str = "pushbench-";
/// The first part of every host interface name of ours.
const IF_PREFIX: &str = "pb";
/// The link's TUN device inside a namespace.
pub const NS_TUN: &str = "pblink";
/// The control veth's end inside the server namespace.
pub const NS_CONTROL: &str = "pbctl";

/// Links made by this process so far (the `<n>` of the names). Interface
/// names are at most 15 bytes: `pb` + a 7-digit pid + `-` + 4 digits +
/// one letter, so the counter wraps at 10,000.
static LINKS_MADE: AtomicU32 = AtomicU32::new(0);

/// The names of one link's namespaces and host interfaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkNames {
    /// The pid in the names.
    pub pid: u32,
    /// The per-process counter in the names.
    pub number: u32,
}

impl LinkNames {
    /// Fresh names for a link of this process.
    pub fn next() -> LinkNames {
        LinkNames {
            pid: std::process::id(),
            number: LINKS_MADE.fetch_add(1, Ordering::Relaxed) % 10_000,
        }
    }

    /// The clients' namespace.
    pub fn client_ns(&self) -> String {
        format!("{NS_PREFIX}{}-{}-c", self.pid, self.number)
    }

    /// The server's namespace.
    pub fn server_ns(&self) -> String {
        format!("{NS_PREFIX}{}-{}-s", self.pid, self.number)
    }

    /// The control veth's host end.
    pub fn host_control(&self) -> String {
        format!("{IF_PREFIX}{}-{}h", self.pid, self.number)
    }

    /// The link's TUN device on the host (server side on the host).
    pub fn host_tun(&self) -> String {
        format!("{IF_PREFIX}{}-{}t", self.pid, self.number)
    }
}

/// The pid in one of our namespace names (`pushbench-<pid>-<n>-c|s`).
pub fn pid_of_namespace(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(NS_PREFIX)?;
    let mut parts = rest.split('-');
    let pid = parts.next()?.parse().ok()?;
    parts.next()?.parse::<u32>().ok()?;
    matches!(parts.next()?, "c" | "s").then_some(pid)?;
    parts.next().is_none().then_some(pid)
}

/// The pid in one of our host interface names (`pb<pid>-<n>h|t`).
pub fn pid_of_interface(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(IF_PREFIX)?;
    let (pid, tail) = rest.split_once('-')?;
    let number = tail.strip_suffix(['h', 't'])?;
    number.parse::<u32>().ok()?;
    pid.parse().ok()
}

/// The address block of a link: a /29 in 10.213.0.0/16. `.1` is the
/// server side's end of the link, `.2` the clients' end, `.5`/`.6` the
/// control veth's host and server-namespace ends (a /30).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddressBlock {
    base: Ipv4Addr,
}

/// Blocks of 8 addresses in 10.213.0.0/16.
const BLOCKS: u32 = 8192;

impl AddressBlock {
    /// The `index`th block (modulo the 8192 blocks).
    pub fn nth(index: u32) -> AddressBlock {
        let k = index % BLOCKS;
        AddressBlock {
            base: Ipv4Addr::new(10, 213, (k / 32) as u8, ((k % 32) * 8) as u8),
        }
    }

    /// The first block to try for a link: spread by pid and counter so
    /// that concurrent processes rarely start at the same one.
    pub fn first_for(names: &LinkNames) -> u32 {
        names.pid.wrapping_mul(977).wrapping_add(names.number) % BLOCKS
    }

    fn host(&self, n: u8) -> Ipv4Addr {
        let [a, b, c, d] = self.base.octets();
        Ipv4Addr::new(a, b, c, d + n)
    }

    /// The server side's end of the link: what clients dial.
    pub fn server(&self) -> Ipv4Addr {
        self.host(1)
    }

    /// The clients' end of the link.
    pub fn client(&self) -> Ipv4Addr {
        self.host(2)
    }

    /// The control veth's host end.
    pub fn control_host(&self) -> Ipv4Addr {
        self.host(5)
    }

    /// The control veth's server-namespace end.
    pub fn control_server(&self) -> Ipv4Addr {
        self.host(6)
    }

    /// Whether `addr` lies in this block.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & !7 == u32::from(self.base)
    }
}

/// Whether any address or route of the host's lies in `block`, judged
/// from the text of `ip -o -4 addr show` and `ip -4 route show`.
pub fn block_in_use(block: AddressBlock, ip_output: &str) -> bool {
    ip_output
        .split(|c: char| c.is_whitespace())
        .filter_map(|word| word.split('/').next()?.parse::<Ipv4Addr>().ok())
        .any(|addr| block.contains(addr))
}

/// The first block from `names`'s starting point that the host does not use.
pub fn free_block(names: &LinkNames) -> Result<AddressBlock, LinkError> {
    let mut used = ip_output(&["-o", "-4", "addr", "show"])?;
    used.push_str(&ip_output(&["-4", "route", "show", "table", "all"])?);
    let first = AddressBlock::first_for(names);
    (0..BLOCKS)
        .map(|i| AddressBlock::nth(first + i))
        .find(|block| !block_in_use(*block, &used))
        .ok_or(LinkError::NoAddress)
}

/// Runs `ip` with `args`; its error output becomes the error.
pub fn ip(args: &[&str]) -> Result<(), LinkError> {
    ip_output(args).map(drop)
}

/// Runs `ip` with `args` and returns its standard output.
pub fn ip_output(args: &[&str]) -> Result<String, LinkError> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(LinkError::IpMissing)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(LinkError::Ip {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

/// Removes the namespaces and host interfaces of our naming scheme whose
/// pid `remove` picks; returns what it removed. Errors are skipped: a
/// name another process removes meanwhile is not a failure.
fn remove_where(remove: impl Fn(u32) -> bool) -> Vec<String> {
    let mut removed = Vec::new();
    if let Ok(entries) = std::fs::read_dir(NETNS_DIR) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if pid_of_namespace(&name).is_some_and(&remove) && ip(&["netns", "del", &name]).is_ok()
            {
                removed.push(name);
            }
        }
    }
    if let Ok(links) = ip_output(&["-o", "link", "show"]) {
        for line in links.lines() {
            // `7: pb123-0h@if6: <BROADCAST,...`
            let Some(name) = line.split(": ").nth(1) else {
                continue;
            };
            let name = name.split('@').next().unwrap_or(name);
            if pid_of_interface(name).is_some_and(&remove) && ip(&["link", "del", name]).is_ok() {
                removed.push(name.to_owned());
            }
        }
    }
    removed
}

/// Removes what killed runs left: our namespaces and host interfaces whose
/// pid no longer runs. Returns their names.
pub fn cleanup_stale() -> Vec<String> {
    remove_where(|pid| !Path::new(&format!("/proc/{pid}")).exists())
}

/// Removes every namespace and host interface this process made, at once
/// (the Ctrl-C path, where `Drop` will not run). Returns their names.
pub fn cleanup_this_process() -> Vec<String> {
    let me = std::process::id();
    remove_where(|pid| pid == me)
}

/// A thread whose network namespace is one side of the link: it runs the
/// jobs sent to it, one after another.
#[derive(Debug)]
pub struct SideThread {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl SideThread {
    /// A thread in namespace `ns` (a name under /run/netns), or in the
    /// namespace of the caller when `ns` is `None`.
    pub fn spawn(label: &str, ns: Option<&str>) -> Result<SideThread, LinkError> {
        let netns = match ns {
            Some(name) => {
                let path = Path::new(NETNS_DIR).join(name);
                Some(File::open(&path).map_err(|source| LinkError::Namespace {
                    name: name.to_owned(),
                    source,
                })?)
            }
            None => None,
        };
        let (jobs, receiver) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let thread = thread::Builder::new()
            .name(format!("link-{label}"))
            .spawn(move || {
                if let Some(file) = netns {
                    let entered = setns(&file, CloneFlags::CLONE_NEWNET).map_err(io::Error::from);
                    let failed = entered.is_err();
                    let _ = ready_tx.send(entered);
                    if failed {
                        return;
                    }
                } else {
                    let _ = ready_tx.send(Ok(()));
                }
                while let Ok(job) = receiver.recv() {
                    // A job that panics ends itself, not the side: its
                    // caller sees the dropped reply.
                    let _ = catch_unwind(AssertUnwindSafe(job));
                }
            })
            .map_err(|e| LinkError::Thread(label.to_owned(), e))?;
        let entered = ready_rx
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("ended before entering")));
        entered.map_err(|source| LinkError::Namespace {
            name: ns.unwrap_or("host").to_owned(),
            source,
        })?;
        Ok(SideThread {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Hands `job` to the thread.
    pub fn execute(&self, job: Job) -> io::Result<()> {
        self.jobs
            .as_ref()
            .ok_or_else(|| io::Error::other("the link is closing"))?
            .send(job)
            .map_err(|_| io::Error::other("the link's namespace thread has ended"))
    }

    /// Runs `f` on the thread and waits for its result.
    pub fn run<R, F>(&self, f: F) -> io::Result<R>
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        self.execute(Box::new(move || {
            let _ = tx.send(f());
        }))?;
        rx.recv()
            .map_err(|_| io::Error::other("the job on the link's namespace thread failed"))
    }
}

impl Drop for SideThread {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_in_an_interface_name_and_parse_back() {
        let names = LinkNames {
            pid: 4_194_304,
            number: 9_999,
        };
        assert_eq!(names.client_ns(), "pushbench-4194304-9999-c");
        assert_eq!(pid_of_namespace(&names.client_ns()), Some(4_194_304));
        assert_eq!(pid_of_namespace(&names.server_ns()), Some(4_194_304));
        for interface in [names.host_control(), names.host_tun()] {
            assert!(interface.len() <= 15, "{interface}");
            assert_eq!(pid_of_interface(&interface), Some(4_194_304));
        }
    }

    #[test]
    fn foreign_names_are_not_ours() {
        for name in [
            "pushbench",
            "pushbench-12-c",
            "pushbench-x-1-c",
            "pushbench-1-2-d",
        ] {
            assert_eq!(pid_of_namespace(name), None, "{name}");
        }
        for name in ["pblink", "pbctl", "pb12-3", "eth0", "pb1-2x"] {
            assert_eq!(pid_of_interface(name), None, "{name}");
        }
    }

    #[test]
    fn blocks_hold_the_four_addresses_and_do_not_overlap() {
        let block = AddressBlock::nth(33);
        assert_eq!(block.server(), Ipv4Addr::new(10, 213, 1, 9));
        assert_eq!(block.client(), Ipv4Addr::new(10, 213, 1, 10));
        assert_eq!(block.control_host(), Ipv4Addr::new(10, 213, 1, 13));
        assert_eq!(block.control_server(), Ipv4Addr::new(10, 213, 1, 14));
        assert!(!AddressBlock::nth(34).contains(block.control_server()));
        assert_eq!(AddressBlock::nth(BLOCKS + 33), block);
        let last = AddressBlock::nth(BLOCKS - 1);
        assert_eq!(last.control_server(), Ipv4Addr::new(10, 213, 255, 254));
    }

    #[test]
    fn a_block_is_in_use_when_an_address_or_route_lies_in_it() {
        let output = "2: eth0    inet 192.168.1.4/24 brd 192.168.1.255 scope global eth0\n\
                      10.213.1.8/29 dev pb1-0h proto kernel scope link src 10.213.1.13\n";
        assert!(block_in_use(AddressBlock::nth(33), output));
        assert!(!block_in_use(AddressBlock::nth(34), output));
    }
}
