//! Ground truth: a short run of every transport, in the clear and over TLS,
//! over HTTP/1.1 and HTTP/2, against a `pushbench serve --tls` child while
//! tshark captures its port (`scripts/verify-wire.sh`), then the capture's
//! TCP payload bytes must equal the sockets' counts to the byte,
//! per transport and direction, and its packets and header bytes must match
//! the `tcp_ip` estimate (up to the teardown segments sent after TCP_INFO
//! is read, each exactly 52 bytes of header). The link variant
//! (`LINK=PROFILE`) runs the clients over an emulated link to a server on
//! the host and captures the server's side of the link: the bytes must
//! still be equal, and nothing is retransmitted on a link without loss.
//!
//! Without tshark or capture rights (or, for the link, without root) the
//! test is skipped with a note, except under CI (env `CI` set), where that
//! is a failure.

use std::path::Path;
use std::process::Command;

/// Runs `scripts/verify-wire.sh` (of `pushbench serve`, or of a target
/// kind with `TARGET_KIND` in `env`) into a scratch directory named after
/// `name` with `env` set; `None` (after a note) when no capture is
/// possible here outside CI. Returns stdout and comparison.json.
pub(crate) fn verify_wire(name: &str, env: &[(&str, &str)]) -> Option<(String, serde_json::Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::env::temp_dir().join(format!("pushbench-{name}-{}", std::process::id()));
    let output = Command::new("bash")
        .arg(root.join("scripts/verify-wire.sh"))
        .arg(&out)
        .env("PUSHBENCH", env!("CARGO_BIN_EXE_pushbench"))
        .envs(env.iter().copied())
        .output()
        .expect("run scripts/verify-wire.sh");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.code() == Some(77) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but no packet capture is possible: {stderr}; .ci/run installs tshark"
        );
        eprintln!(
            "skipped: no packet capture here ({}); install tshark and run as root",
            stderr.trim()
        );
        return None;
    }
    assert!(
        output.status.success(),
        "capture and sockets disagree:\n{stdout}\n{stderr}"
    );
    let comparison: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("comparison.json")).expect("comparison.json"),
    )
    .expect("comparison json");
    assert_eq!(comparison["ok"], true, "{stdout}");
    let _ = std::fs::remove_dir_all(&out);
    Some((stdout, comparison))
}

/// The row of `kind` and `direction`, whose socket bytes are not zero and
/// equal the capture's.
pub(crate) fn assert_equal_row(
    stdout: &str,
    comparison: &serde_json::Value,
    kind: &str,
    direction: &str,
) {
    let row = comparison["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["kind"] == kind && r["direction"] == direction)
        .unwrap_or_else(|| panic!("no row for {kind} {direction}:\n{stdout}"));
    assert!(row["socket_bytes"].as_u64() > Some(0), "{row}");
    assert_eq!(row["socket_bytes"], row["capture_bytes"], "{row}");
}

#[test]
fn a_packet_capture_agrees_with_the_socket_counts_to_the_byte() {
    let Some((stdout, comparison)) = verify_wire("wire", &[("CLIENTS", "2"), ("DURATION", "1")])
    else {
        return;
    };
    for transport in ["short-poll", "long-poll", "stream", "sse", "ws"] {
        for variant in ["", " tls", " h2", " h2 tls"] {
            for direction in ["sent", "received"] {
                assert_equal_row(
                    &stdout,
                    &comparison,
                    &format!("{transport}{variant}"),
                    direction,
                );
            }
        }
    }
}

#[test]
fn a_capture_on_the_server_side_of_a_link_agrees_with_the_socket_counts() {
    if !crate::support::can_emulate("wire-link") {
        return;
    }
    let Some((stdout, comparison)) = verify_wire(
        "wire-link",
        &[
            ("LINK", "rtt=10ms"),
            ("TRANSPORTS", "sse,ws"),
            ("CLIENTS", "3"),
            ("DURATION", "2"),
            ("HTTP", "1.1"),
        ],
    ) else {
        return;
    };
    for kind in ["sse", "ws"] {
        for direction in ["sent", "received"] {
            assert_equal_row(&stdout, &comparison, kind, direction);
        }
    }
    // No loss: nothing seen twice at the server's side, nothing counted as
    // retransmitted by either end's TCP_INFO.
    let retransmits = comparison["retransmits"].as_array().expect("retransmits");
    assert_eq!(retransmits.len(), 4, "{stdout}");
    for r in retransmits {
        assert_eq!(r["capture_retransmitted_bytes"], 0, "{r}");
        assert_eq!(r["tcp_info_retransmitted_bytes"], 0, "{r}");
    }
}
