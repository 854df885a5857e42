//! CPU and memory of a process and its descendants, read from `/proc`:
//! the server's own figures (`/proc/self`), and those of a server of
//! another kind (`--target-kind`), found by its pid (`--target-pid`) or by
//! the port it listens on, whose workers and helpers are its children
//! (nginx's master and workers, Pushpin's runner and its processes).
//!
//! The parsers are pure and tested on canned lines; the readers return
//! `None` where `/proc` does not have what they need.

use std::collections::{BTreeMap, BTreeSet};

/// `/proc/<pid>/stat` reports times in USER_HZ, which the kernel fixes at 100
/// for user space on every architecture we run on (it is an ABI constant,
/// unlike the kernel's internal HZ).
const USER_HZ: f64 = 100.0;

/// The fields of a `/proc/<pid>/stat` line after the command name, which
/// may hold spaces and parentheses: they resume after the last ')'.
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    Some(stat[stat.rfind(')')? + 1..].split_whitespace().collect())
}

/// utime + stime from a `/proc/<pid>/stat` line, in seconds.
pub fn parse_cpu_seconds(stat: &str) -> Option<f64> {
    let fields = stat_fields(stat)?;
    // After ')': state is field 3, so utime (14) and stime (15) are 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

/// utime + stime of this process so far, in seconds (`None` without
/// `/proc`).
pub fn own_cpu_seconds() -> Option<f64> {
    parse_cpu_seconds(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// The parent pid from a `/proc/<pid>/stat` line.
pub fn parse_ppid(stat: &str) -> Option<u32> {
    // After ')': state (3), then ppid (4).
    stat_fields(stat)?.get(1)?.parse().ok()
}

/// `VmRSS` from `/proc/<pid>/status`, in bytes.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// What a process tree costs at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TreeSample {
    /// User + system CPU seconds of every live process of the tree.
    pub cpu_seconds: f64,
    /// Their resident set sizes added (shared pages count once per process).
    pub rss_bytes: u64,
    /// How many processes the tree has.
    pub processes: usize,
}

/// `root` and every live descendant of it, from `(pid, ppid)` pairs.
pub fn descendants(root: u32, parents: &[(u32, u32)]) -> BTreeSet<u32> {
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for &(pid, ppid) in parents {
        children.entry(ppid).or_default().push(pid);
    }
    let mut tree = BTreeSet::new();
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        if tree.insert(pid) {
            todo.extend(children.get(&pid).into_iter().flatten().copied());
        }
    }
    tree
}

/// Every pid in `/proc` with its parent.
fn all_parents() -> Vec<(u32, u32)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            Some((pid, parse_ppid(&stat)?))
        })
        .collect()
}

/// The cost of `root` and its descendants now; `None` when `root` is gone.
pub fn sample_tree(root: u32) -> Option<TreeSample> {
    std::fs::metadata(format!("/proc/{root}")).ok()?;
    let mut sample = TreeSample::default();
    for pid in descendants(root, &all_parents()) {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue; // exited meanwhile
        };
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        sample.cpu_seconds += parse_cpu_seconds(&stat).unwrap_or(0.0);
        sample.rss_bytes += parse_vm_rss(&status).unwrap_or(0);
        sample.processes += 1;
    }
    Some(sample)
}

/// The socket state `/proc/net/tcp` writes for a listening socket.
const LISTEN: &str = "0A";
/// ... and for an established connection.
const ESTABLISHED: &str = "01";

/// The inodes of the sockets in `state` whose local port is `port`, in a
/// `/proc/net/tcp` or `/proc/net/tcp6` table.
fn sockets_on(table: &str, port: u16, state: &str) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = fields.get(1)?.rsplit(':').next()?;
            let in_state = *fields.get(3)? == state;
            let matches = u16::from_str_radix(local_port, 16).ok()? == port;
            (in_state && matches).then(|| fields.get(9)?.parse().ok())?
        })
        .collect()
}

/// The inodes of the sockets listening on TCP `port` in a
/// `/proc/net/tcp` or `/proc/net/tcp6` table.
pub fn listening_inodes(table: &str, port: u16) -> Vec<u64> {
    sockets_on(table, port, LISTEN)
}

/// The server's side of the established connections to `port` (in this
/// network namespace): the connections a server on that port holds open.
pub fn established_to(port: u16) -> usize {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .map(|table| {
            let text = std::fs::read_to_string(table).unwrap_or_default();
            sockets_on(&text, port, ESTABLISHED).len()
        })
        .sum()
}

/// The process listening on TCP `port` (in this network namespace): of
/// the processes holding the socket (nginx's master and its workers all
/// do), the one whose parent does not, so its tree is the whole server.
/// `None` when no process visible here holds it.
pub fn listening_pid(port: u16) -> Option<u32> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        inodes.extend(listening_inodes(&text, port));
    }
    if inodes.is_empty() {
        return None;
    }
    let wanted: BTreeSet<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    let parents = all_parents();
    let holders: BTreeSet<u32> = parents
        .iter()
        .map(|&(pid, _)| pid)
        .filter(|pid| holds_any(*pid, &wanted))
        .collect();
    let parent_of: BTreeMap<u32, u32> = parents.into_iter().collect();
    holders.iter().copied().find(|pid| {
        parent_of
            .get(pid)
            .is_none_or(|ppid| !holders.contains(ppid))
    })
}

fn holds_any(pid: u32, wanted: &BTreeSet<String>) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|target| wanted.contains(target.to_string_lossy().as_ref()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_stat_with_spaces_in_the_name() {
        let line = "1234 (my (odd) name) S 77 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 4 0 100";
        assert_eq!(parse_cpu_seconds(line), Some(3.0));
        assert_eq!(parse_ppid(line), Some(77));
        assert_eq!(parse_cpu_seconds("garbage"), None);
    }

    #[test]
    fn parses_vm_rss() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmRSS:\t    2048 kB\n";
        assert_eq!(parse_vm_rss(status), Some(2 * 1024 * 1024));
    }

    #[test]
    fn a_tree_is_its_root_and_every_descendant() {
        let parents = [(1, 0), (10, 1), (11, 10), (12, 10), (13, 11), (20, 1)];
        assert_eq!(
            descendants(10, &parents).into_iter().collect::<Vec<_>>(),
            vec![10, 11, 12, 13]
        );
        assert_eq!(descendants(99, &parents).len(), 1, "a leaf is its own tree");
    }

    #[test]
    fn listening_sockets_are_found_by_port_and_state() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 100 0 0 10 0\n\
   2: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 100 0 0 10 0\n";
        assert_eq!(listening_inodes(table, 8080), vec![4242]);
        assert_eq!(listening_inodes(table, 8081), vec![4444]);
        assert_eq!(sockets_on(table, 8080, ESTABLISHED), vec![4343]);
        assert!(listening_inodes(table, 9).is_empty());
    }

    #[test]
    fn this_process_is_found_by_its_listening_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        assert_eq!(listening_pid(port), Some(std::process::id()));
        let sample = sample_tree(std::process::id()).expect("this process");
        assert!(sample.processes >= 1 && sample.rss_bytes > 0, "{sample:?}");
    }
}
