//! `serve --compression`: coded answers over real sockets, decoded with the
//! classifier's decoder; bad `Accept-Encoding` values never fail a request.

use pushbench_protocol::ContentCoding::{Br, Gzip};
use pushbench_protocol::content_coding::{Decoder, decode_whole};
use pushbench_server::ServerConfig;

use crate::helpers::*;

fn compressing() -> ServerConfig {
    ServerConfig {
        compression: vec![Gzip, Br],
        ..quiet()
    }
}

#[tokio::test]
async fn polls_are_coded_whole_as_the_request_accepts() {
    let server = spawn_server(compressing()).await;
    server.publish("t", "hello");
    let addr = server.local_addr();
    for (accept, coding) in [
        ("gzip", Some(Gzip)),
        ("br;q=1, gzip;q=0.5", Some(Br)),
        ("identity", None),
    ] {
        for path in ["/poll?since=0", "/longpoll?since=0&timeout=1"] {
            let mut client = Client::connect(addr).await;
            client
                .send("GET", path, &format!("Accept-Encoding: {accept}\r\n"), b"")
                .await;
            let answer = client.read_response().await;
            assert_eq!(answer.status, 200);
            let body = match coding {
                Some(c) => {
                    assert_eq!(answer.header("content-encoding").as_deref(), Some(c.name()));
                    assert_eq!(answer.header("vary").as_deref(), Some("accept-encoding"));
                    decode_whole(c, &answer.body).expect("decodes")
                }
                None => {
                    assert_eq!(answer.header("content-encoding"), None);
                    answer.body.clone()
                }
            };
            let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
            assert_eq!(seqs(&json), vec![1], "{path} {accept}");
        }
    }
    // Errors stay uncoded.
    let mut client = Client::connect(addr).await;
    client
        .send("GET", "/poll?since=x", "Accept-Encoding: gzip\r\n", b"")
        .await;
    let answer = client.read_response().await;
    assert_eq!(
        (answer.status, answer.header("content-encoding")),
        (400, None)
    );
    server.shutdown().await.expect("shutdown");
}

/// Reads one chunk of a coded live body and decodes it: each event must
/// decode from its own chunk.
async fn next_decoded(client: &mut Client, decoder: &mut Decoder) -> Vec<u8> {
    let chunk = client.read_chunk().await.expect("a chunk");
    let mut out = Vec::new();
    decoder
        .feed(&chunk, &mut |p: &[u8]| {
            out.extend_from_slice(p);
            Ok::<(), ()>(())
        })
        .expect("decodes");
    out
}

#[tokio::test]
async fn live_bodies_are_coded_one_flush_per_event() {
    let server = spawn_server(compressing()).await;
    let addr = server.local_addr();
    for coding in [Gzip, Br] {
        for (path, extra) in [
            ("/stream?since=0", ""),
            ("/sse?since=0", "Accept: text/event-stream\r\n"),
        ] {
            let start = server.state().hub.last_seq();
            let path = path.replace("since=0", &format!("since={start}"));
            let mut client = Client::connect(addr).await;
            client
                .send(
                    "GET",
                    &path,
                    &format!("{extra}Accept-Encoding: {coding}\r\n"),
                    b"",
                )
                .await;
            let (status, head) = client.read_head().await;
            assert_eq!(status, 200);
            let lower = head.to_ascii_lowercase();
            assert!(
                lower.contains(&format!("content-encoding: {coding}")),
                "{head}"
            );
            assert!(lower.contains("transfer-encoding: chunked"), "{head}");
            assert!(!lower.contains("content-length"), "{head}");
            let mut decoder = Decoder::new(coding).expect("coded");
            for n in 1..=3u64 {
                let seq = server.publish("t", format!("event {n}"));
                let decoded = next_decoded(&mut client, &mut decoder).await;
                let text = String::from_utf8(decoded).expect("text");
                assert!(text.contains(&format!("\"seq\":{seq}")), "{path}: {text}");
                assert!(text.ends_with('\n'), "{path}: whole events only: {text:?}");
            }
        }
    }
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn malformed_accept_encoding_gets_an_uncoded_answer() {
    let server = spawn_server(compressing()).await;
    server.publish("t", "x");
    let addr = server.local_addr();
    for (value, case) in [
        ("gzip;q=2", "Accept-Encoding: gzip;q=2 (weight over 1)"),
        (
            "gzip;q=abc",
            "Accept-Encoding: gzip;q=abc (weight not a number)",
        ),
        (
            "gzip;level=9",
            "Accept-Encoding: gzip;level=9 (unknown parameter)",
        ),
        (
            "gz ip, br",
            "Accept-Encoding: gz ip, br (space inside a coding)",
        ),
        (
            "br;q=0, gzip;q=0",
            "Accept-Encoding: br;q=0, gzip;q=0 (every coding refused)",
        ),
    ] {
        for path in ["/poll?since=0", "/sse?since=0"] {
            let mut client = Client::connect(addr).await;
            client
                .send("GET", path, &format!("Accept-Encoding: {value}\r\n"), b"")
                .await;
            let (status, head) = client.read_head().await;
            assert_eq!(status, 200, "{value}");
            assert!(
                !head.to_ascii_lowercase().contains("content-encoding"),
                "{value}: {head}"
            );
        }
        reliability("input/http", case, "200 uncoded (identity), never an error");
    }
    // A value that is not text at all.
    let mut client = Client::connect(addr).await;
    client
        .send_raw(
            b"GET /poll?since=0 HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip, \xff\xfe\r\n\r\n",
        )
        .await;
    let answer = client.read_response().await;
    assert_eq!(
        (answer.status, answer.header("content-encoding")),
        (200, None)
    );
    reliability(
        "input/http",
        "Accept-Encoding with bytes that are not text (0xff 0xfe)",
        "200 uncoded (identity), never an error",
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn without_the_flag_nothing_is_coded() {
    let server = spawn_server(quiet()).await;
    server.publish("t", "x");
    let mut client = Client::connect(server.local_addr()).await;
    client
        .send("GET", "/poll?since=0", "Accept-Encoding: gzip, br\r\n", b"")
        .await;
    let answer = client.read_response().await;
    assert_eq!(answer.header("content-encoding"), None);
    assert_eq!(answer.header("vary"), None);
    server.shutdown().await.expect("shutdown");
}
