//! Ground truth: a short run of every transport, in the clear and over TLS,
//! over HTTP/1.1 and HTTP/2, against a `pushbench serve --tls` child while
//! tshark captures its port (`scripts/verify-wire.sh`), then the capture's
//! TCP payload bytes must equal the sockets' counts to the byte,
//! per transport and direction, and its packets and header bytes must match
//! the `tcp_ip` estimate (up to the teardown segments sent after TCP_INFO
//! is read, each exactly 52 bytes of header).
//!
//! Without tshark or capture rights the test is skipped with a note, except
//! under CI (env `CI` set), where that is a failure.

use std::path::Path;
use std::process::Command;

#[test]
fn a_packet_capture_agrees_with_the_socket_counts_to_the_byte() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::env::temp_dir().join(format!("pushbench-wire-{}", std::process::id()));
    let output = Command::new("bash")
        .arg(root.join("scripts/verify-wire.sh"))
        .arg(&out)
        .env("PUSHBENCH", env!("CARGO_BIN_EXE_pushbench"))
        .env("CLIENTS", "2")
        .env("DURATION", "1")
        .output()
        .expect("run scripts/verify-wire.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
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
        return;
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
    let rows = comparison["rows"].as_array().expect("rows");
    for transport in ["short-poll", "long-poll", "stream", "sse", "ws"] {
        for (variant, direction) in [
            ("", "sent"),
            ("", "received"),
            (" tls", "sent"),
            (" tls", "received"),
            (" h2", "sent"),
            (" h2", "received"),
            (" h2 tls", "sent"),
            (" h2 tls", "received"),
        ] {
            let kind = format!("{transport}{variant}");
            let row = rows
                .iter()
                .find(|r| r["kind"] == kind.as_str() && r["direction"] == direction)
                .unwrap_or_else(|| panic!("no row for {kind} {direction}:\n{stdout}"));
            assert!(row["socket_bytes"].as_u64() > Some(0), "{row}");
            assert_eq!(row["socket_bytes"], row["capture_bytes"], "{row}");
        }
    }
    let _ = std::fs::remove_dir_all(&out);
}
