//! `--link`: the profile a flag names, and the emulated network path the
//! profiles other than `loopback` run over ([`open_path`]).

use std::sync::Arc;

use anyhow::bail;
use pushbench_net::network_path::NetworkPath;
use pushbench_protocol::LinkProfile;

/// A `--link` value: a profile name, `key=value` parts, or a name with
/// parts. The message names the part it could not read; clap puts the
/// flag in front of it.
pub fn parse_link(raw: &str) -> Result<LinkProfile, String> {
    raw.parse::<LinkProfile>().map_err(|e| e.to_string())
}

/// Where the server of a run over an emulated link is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerSide {
    /// A network namespace of its own, where the run starts its server.
    Namespace,
    /// The host itself: a `--target` already running here, reached at the
    /// host's end of the link.
    Host,
}

/// `CAP_NET_ADMIN`'s bit in the capability sets of `/proc/self/status`.
const CAP_NET_ADMIN: u32 = 12;

/// Whether the effective capabilities in `status` (the text of
/// `/proc/self/status`) include `CAP_NET_ADMIN`.
pub fn has_net_admin(status: &str) -> bool {
    status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_NET_ADMIN) != 0)
}

/// The emulated path for `profile` (not `loopback`), its server at
/// `server_side`: network namespaces joined by a userspace link.
///
/// MERGE POINT (link-core): construct `pushbench_link::Link` here for
/// `profile` and `server_side` once that crate is in the workspace. Until
/// then every non-loopback profile is refused after the privilege check.
pub fn open_path(
    profile: &LinkProfile,
    server_side: ServerSide,
) -> anyhow::Result<Arc<dyn NetworkPath>> {
    let label = profile.label();
    if profile.is_loopback() {
        bail!("--link loopback runs over the kernel's loopback, not an emulated path");
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if !has_net_admin(&status) {
        bail!(
            "--link {label}: an emulated link needs CAP_NET_ADMIN to make network \
             namespaces and TUN devices; run as root (or give the binary cap_net_admin), \
             or use --link loopback"
        );
    }
    let _ = server_side;
    bail!(
        "--link {label}: needs the link emulator (pushbench-link), which this build of \
         pushbench does not have yet; use --link loopback"
    )
}

/// The emulated path a scenario's links need: `None` when every link is
/// `loopback`, else one path (opened for the first emulated link and
/// reconfigured per link by the runner).
pub fn emulated_path(
    links: &[LinkProfile],
    server_side: ServerSide,
) -> anyhow::Result<Option<Arc<dyn NetworkPath>>> {
    links
        .iter()
        .find(|l| !l.is_loopback())
        .map(|first| open_path(first, server_side))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_profile_names_the_part() {
        let err = parse_link("rtt=10ms,down=fast").expect_err("bad rate");
        assert!(
            err.starts_with("could not read \"down=fast\": a rate like 10mbit"),
            "{err}"
        );
        assert_eq!(parse_link("3g").map(|l| l.name), Ok("3g".to_owned()));
    }

    #[test]
    fn net_admin_is_read_from_the_effective_set() {
        let status = |eff: &str| format!("Name:\tpushbench\nCapInh:\t0\nCapEff:\t{eff}\n");
        assert!(has_net_admin(&status("000001ffffffffff")));
        assert!(has_net_admin(&status("0000000000001000")));
        assert!(!has_net_admin(&status("0000000000000000")));
        assert!(!has_net_admin(&status("0000000000000fff")));
        assert!(!has_net_admin("Name:\tno caps line\n"));
    }

    #[test]
    fn only_loopback_needs_no_path_and_an_emulated_link_is_refused_for_now() {
        let lo = [LinkProfile::loopback()];
        assert!(
            emulated_path(&lo, ServerSide::Namespace)
                .expect("none")
                .is_none()
        );
        let links = [
            LinkProfile::loopback(),
            LinkProfile::named("3g").expect("3g"),
        ];
        let err = emulated_path(&links, ServerSide::Namespace).expect_err("refused");
        let text = err.to_string();
        assert!(text.starts_with("--link 3g: "), "{text}");
        assert!(
            text.contains("CAP_NET_ADMIN") || text.contains("link emulator"),
            "{text}"
        );
    }
}
