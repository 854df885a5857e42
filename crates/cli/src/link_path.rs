//! `--link`: the profile a flag names, and the emulated network path the
//! profiles other than `loopback` run over ([`open_path`]).

use std::sync::Arc;

use anyhow::{Context, bail};
use pushbench_link::Link;
pub use pushbench_link::ServerSide;
use pushbench_net::network_path::NetworkPath;
use pushbench_protocol::LinkProfile;

/// A `--link` value: a profile name, `key=value` parts, or a name with
/// parts. The message names the part it could not read; clap puts the
/// flag in front of it.
pub fn parse_link(raw: &str) -> Result<LinkProfile, String> {
    raw.parse::<LinkProfile>().map_err(|e| e.to_string())
}

/// The emulated path for `profile` (not `loopback`), its server at
/// `server_side`: network namespaces joined by a userspace link
/// (`pushbench-link`). Namespaces a killed run left behind are removed
/// first; this run's are removed when the path is dropped, and on a
/// second Ctrl-C at the latest (`remove_on_interrupt`).
pub fn open_path(
    profile: &LinkProfile,
    server_side: ServerSide,
) -> anyhow::Result<Arc<dyn NetworkPath>> {
    if profile.is_loopback() {
        bail!("--link loopback runs over the kernel's loopback, not an emulated path");
    }
    pushbench_link::require_net_admin(profile)?;
    for left in pushbench_link::cleanup_stale() {
        tracing::info!("removed {left}, left by a pushbench run that no longer runs");
    }
    let link = Link::open(profile, server_side)
        .with_context(|| format!("--link {}: making the emulated path", profile.label()))?;
    tracing::info!(
        "link {}: clients in {}, server at {} (seed {})",
        profile.label(),
        link.client_namespace(),
        link.server_ip(),
        link.seed()
    );
    remove_on_interrupt();
    Ok(Arc::new(link))
}

/// On a second Ctrl-C, removes this process's namespaces and devices and
/// exits: the first stops the run, which writes what it measured and
/// drops its path (removing them); the second means "now".
fn remove_on_interrupt() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("link-cleanup".into())
            .spawn(|| {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                runtime.block_on(async {
                    for _ in 0..2 {
                        if tokio::signal::ctrl_c().await.is_err() {
                            return;
                        }
                    }
                    pushbench_link::cleanup_this_process();
                    std::process::exit(130);
                });
            });
        if let Err(e) = spawned {
            tracing::warn!("no Ctrl-C cleanup of the link: {e}");
        }
    });
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
    fn only_loopback_needs_no_path() {
        let lo = [LinkProfile::loopback(), LinkProfile::loopback()];
        assert!(
            emulated_path(&lo, ServerSide::Namespace)
                .expect("none")
                .is_none()
        );
        let err = open_path(&LinkProfile::loopback(), ServerSide::Host).expect_err("no path");
        assert!(err.to_string().contains("kernel's loopback"), "{err}");
    }
}
