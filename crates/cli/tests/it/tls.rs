//! TLS as a user runs it: `serve --tls` prints an https URL and the
//! certificate it pins, and `run --tls off,on` measures both through a
//! child server.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::support::{pushbench, quick_run, scratch};

#[test]
fn serve_tls_prints_an_https_url_and_the_certificate_it_wrote() {
    let dir = scratch("serve-tls");
    let pem = dir.join("cert.pem");
    let mut child = pushbench()
        .args(["serve", "--addr", "127.0.0.1:0", "--rate", "0", "--tls"])
        .arg("--tls-cert-out")
        .arg(&pem)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start pushbench serve");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let url = lines.next().and_then(Result::ok).unwrap_or_default();
    let fingerprint = lines.next().and_then(Result::ok).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        url.starts_with("pushbench listening on https://127.0.0.1:"),
        "{url}"
    );
    let cert = pushbench_net::tls_config::read_pem_certificate(&pem).expect("the PEM it wrote");
    assert_eq!(
        fingerprint,
        format!(
            "pushbench TLS certificate SHA-256 {}",
            pushbench_net::tls_config::fingerprint(&cert)
        )
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_run_compares_plaintext_and_tls_through_a_child_server() {
    let dir = scratch("run-tls");
    let (stdout, result) = quick_run(
        &[
            "--transports",
            "sse,ws",
            "--tls",
            "off,on",
            "--clients",
            "2",
            "--rate",
            "20",
        ],
        &dir,
    );
    assert!(
        stdout.contains("ws tls") && stdout.contains("ws plain"),
        "{stdout}"
    );
    let tls: Vec<bool> = result.phases.iter().map(|p| p.tls).collect();
    assert_eq!(tls, [false, false, true, true]);
    for p in &result.phases {
        assert!(p.events.delivered > 0 && p.events.missed == 0, "{p:?}");
        assert_eq!(p.setup_traffic.received.tls_handshake > 0, p.tls, "{p:?}");
        assert_eq!(p.traffic.received.tls_records > 0, p.tls, "{p:?}");
    }
    let report = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    assert!(report.contains("## Plaintext and TLS"), "{report}");
    let _ = std::fs::remove_dir_all(&dir);
}
