//! `pushbench serve` as a real process: the URL line, signals, bad flags.

use std::io::{Read, Write};

use crate::support::{pushbench, start_serve};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Starts `pushbench serve` on a free port; returns the child and its address.
fn serve(extra: &[&str]) -> (Child, String) {
    start_serve(extra, Stdio::piped())
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    for _ in 0..100 {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("pushbench serve did not exit within 5 s");
}

#[test]
fn sigterm_ends_open_streams_with_their_last_chunk_and_exits_cleanly() {
    for sig in ["TERM", "INT"] {
        let (mut child, addr) = serve(&["--rate", "200", "--payload", "32"]);
        let mut stream = TcpStream::connect(&addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        stream
            .write_all(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("request");
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        // Wait for a few events, then ask the server to stop.
        while got.windows(6).filter(|w| w == b"\"seq\":").count() < 3 && got.len() < 100_000 {
            let n = stream.read(&mut buf).expect("read events");
            got.extend_from_slice(&buf[..n]);
        }
        signal(&child, sig);
        loop {
            let n = stream.read(&mut buf).expect("read to the end");
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert!(
            got.ends_with(b"\r\n0\r\n\r\n"),
            "SIG{sig}: the body ends with the last chunk"
        );
        assert!(wait_exit(&mut child).success(), "SIG{sig}: exit status 0");
    }
}

#[test]
fn an_address_in_use_is_named() {
    let (mut first, addr) = serve(&["--rate", "0"]);
    let out = pushbench()
        .args(["serve", "--addr", &addr])
        .output()
        .expect("run pushbench");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--addr") && stderr.contains(&addr),
        "{stderr}"
    );
    signal(&first, "TERM");
    wait_exit(&mut first);
}
