//! `--tls`: https on the same port as plaintext, counted below TLS.

use std::sync::Arc;
use std::time::Duration;

use pushbench_net::tls_config::{client_config, server_name};
use pushbench_server::ServerConfig;
use pushbench_server::tls_identity::TlsIdentity;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{get, quiet, reliability, spawn_server};

fn tls_config(identity: &TlsIdentity) -> ServerConfig {
    ServerConfig {
        tls: Some(identity.server_config().expect("server config")),
        ..quiet()
    }
}

#[tokio::test]
async fn one_port_serves_https_and_plaintext_and_counts_the_ciphertext() {
    let identity = TlsIdentity::self_signed().expect("certificate");
    let server = spawn_server(tls_config(&identity)).await;
    let addr = server.local_addr();
    server.publish("t0", "hello");

    let tcp = TcpStream::connect(addr).await.expect("connect");
    let connector = tokio_rustls::TlsConnector::from(
        client_config(&identity.cert, pushbench_protocol::HttpVersion::Http1).expect("config"),
    );
    let mut tls = connector
        .connect(server_name(addr.ip()), tcp)
        .await
        .expect("handshake with the pinned certificate");
    let local = tls.get_ref().0.local_addr().expect("local");
    tls.write_all(b"GET /poll?since=0 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .expect("request");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut answer))
        .await
        .expect("in time")
        .expect("read");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.contains("hello"), "{text}");
    drop(tls);

    // The same port answers plaintext, and lists the TLS connection with
    // its socket counts: more than the plaintext it carried.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stats = get(addr, "/stats?connections=1").await.json();
    let conn = stats["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .find(|c| c["peer"] == local.to_string())
        .unwrap_or_else(|| panic!("{local} not listed: {stats}"))
        .clone();
    assert_eq!(conn["tls"], true, "{conn}");
    assert!(
        conn["bytes_written"].as_u64() > Some(answer.len() as u64 + 500),
        "{conn}"
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_client_pinning_another_certificate_or_sending_junk_is_cut_off() {
    let identity = TlsIdentity::self_signed().expect("certificate");
    let server = spawn_server(tls_config(&identity)).await;
    let addr = server.local_addr();

    let stranger = TlsIdentity::self_signed().expect("another certificate");
    let connector = tokio_rustls::TlsConnector::from(Arc::clone(
        &client_config(&stranger.cert, pushbench_protocol::HttpVersion::Http1).expect("config"),
    ));
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let err = connector
        .connect(server_name(addr.ip()), tcp)
        .await
        .expect_err("the certificate is not the pinned one");
    assert!(
        err.to_string().contains("invalid peer certificate"),
        "{err}"
    );

    // A handshake record that is no ClientHello: the handshake fails, the
    // connection is closed and counted, the server stays up.
    let mut junk = TcpStream::connect(addr).await.expect("connect");
    junk.write_all(&[0x16, 3, 1, 0, 4, 0xde, 0xad, 0xbe, 0xef])
        .await
        .expect("write");
    let mut buf = [0u8; 256];
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match junk.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the connection stayed open");
    let stats = get(addr, "/stats").await;
    assert_eq!(stats.status, 200);
    assert!(
        stats.json()["connection_errors"].as_u64() >= Some(2),
        "{}",
        stats.json()
    );
    reliability(
        "input/http",
        "TLS record that is no ClientHello on a --tls server",
        "connection closed and counted, server up",
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn an_http2_client_that_stalls_after_its_tls_handshake_is_cut_at_the_header_timeout() {
    let identity = TlsIdentity::self_signed().expect("certificate");
    let server = spawn_server(ServerConfig {
        header_timeout: Duration::from_secs(1),
        ..tls_config(&identity)
    })
    .await;
    let addr = server.local_addr();
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let connector = tokio_rustls::TlsConnector::from(
        client_config(&identity.cert, pushbench_protocol::HttpVersion::Http2).expect("config"),
    );
    let mut tls = connector
        .connect(server_name(addr.ip()), tcp)
        .await
        .expect("handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    // No preface: the handshake's bytes do not count as HTTP/2's opening.
    let started = std::time::Instant::now();
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(n) = tls.read(&mut buf).await
            && n > 0
        {}
    })
    .await;
    assert!(closed.is_ok(), "still open after 10 s");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    let stats = get(addr, "/stats").await.json();
    assert_eq!(stats["header_timeouts"], 1, "{stats}");
    server.shutdown().await.expect("shutdown");
    reliability(
        "fault/slow-client",
        "HTTP/2 over TLS: handshake done, then no preface",
        "closed by the header timeout, counted in header_timeouts",
    );
}
