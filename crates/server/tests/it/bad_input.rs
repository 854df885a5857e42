//! Every bad input gets its answer, and never a panic.

use pushbench_server::ServerConfig;

use crate::helpers::*;

async fn expect_400(addr: std::net::SocketAddr, path: &str, extra: &str, parameter: &str) {
    let mut client = Client::connect(addr).await;
    client.send("GET", path, extra, b"").await;
    let answer = client.read_response().await;
    assert_eq!(answer.status, 400, "{path}");
    assert_eq!(
        answer.header("content-type").as_deref(),
        Some("application/json")
    );
    let json = answer.json();
    assert_eq!(json["parameter"], parameter, "{path}: {json}");
    assert!(json["error"].as_str().is_some_and(|e| !e.is_empty()));
    let shown = match path.get(..40) {
        Some(start) if path.len() > 48 => format!("{start}... ({} bytes)", path.len()),
        _ => path.to_owned(),
    };
    let case = format!("{shown} {}", extra.trim_end());
    reliability(
        "input/query",
        case.trim_end(),
        &format!("400 JSON naming {parameter}"),
    );
}

#[tokio::test]
async fn malformed_and_out_of_range_parameters_get_400_naming_them() {
    let server = spawn_server(quiet()).await;
    server.publish("t", "x");
    let addr = server.local_addr();
    for path in ["/poll", "/longpoll", "/stream", "/sse", "/ws"] {
        expect_400(addr, &format!("{path}?since=abc"), "", "since").await;
        expect_400(addr, &format!("{path}?since=-1"), "", "since").await;
        expect_400(addr, &format!("{path}?since=99"), "", "since").await;
    }
    for timeout in ["x", "-3", "100000", "nan"] {
        expect_400(addr, &format!("/longpoll?timeout={timeout}"), "", "timeout").await;
    }
    expect_400(addr, "/sse", "Last-Event-ID: tomorrow\r\n", "Last-Event-ID").await;
    expect_400(addr, "/sse", "Last-Event-ID: 99\r\n", "Last-Event-ID").await;
    expect_400(addr, "/ws?format=xml", "", "format").await;
    let long_label = format!("/poll?client={}", "c".repeat(65));
    expect_400(addr, &long_label, "", "client").await;
    expect_400(addr, "/stream?client=a+b", "", "client").await;
    expect_400(addr, "/stats?connections=perhaps", "", "connections").await;
    let long_topic = "t".repeat(100);
    let mut client = Client::connect(addr).await;
    client
        .send("POST", &format!("/publish?topic={long_topic}"), "", b"x")
        .await;
    assert_eq!(client.read_response().await.json()["parameter"], "topic");
    reliability(
        "input/query",
        "/publish?topic=<100 bytes>",
        "400 JSON naming topic",
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn unknown_paths_get_a_json_404() {
    let server = spawn_server(quiet()).await;
    let answer = get(server.local_addr(), "/nope").await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.json()["error"], "no such path: /nope");
    reliability("input/http", "unknown path", "404 JSON");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn publish_answers_its_seq_and_refuses_bodies_over_the_limit() {
    let server = spawn_server(ServerConfig {
        max_payload: 100,
        ..quiet()
    })
    .await;
    let mut client = Client::connect(server.local_addr()).await;
    client
        .send("POST", "/publish?topic=news", "", b"first")
        .await;
    let answer = client.read_response().await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["seq"], 1);

    let mut client = Client::connect(server.local_addr()).await;
    client.send("POST", "/publish", "", &[b'a'; 101]).await;
    let answer = client.read_response().await;
    assert_eq!(answer.status, 413);
    assert_eq!(answer.json()["status"], 413);
    reliability(
        "security/limits",
        "publish body over --max-payload",
        "413 JSON",
    );

    let mut client = Client::connect(server.local_addr()).await;
    client.send("POST", "/publish", "", &[0xff, 0xfe]).await;
    let answer = client.read_response().await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json()["parameter"], "body");
    reliability(
        "input/http",
        "publish body not UTF-8",
        "400 JSON naming body",
    );
    let poll = get(server.local_addr(), "/poll?since=0").await.json();
    assert_eq!(poll["events"][0]["payload"], "first");
    assert_eq!(poll["events"][0]["topic"], "news");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn push_requests_past_the_connection_limit_get_503() {
    let server = spawn_server(ServerConfig {
        max_connections: 2,
        ..quiet()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut client = Client::connect(server.local_addr()).await;
        client.send("GET", "/stream", "", b"").await;
        assert_eq!(client.read_head().await.0, 200);
        held.push(client);
    }
    let answer = get(server.local_addr(), "/stream").await;
    assert_eq!(answer.status, 503);
    assert!(
        answer.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains("limit"))
    );
    let stats = get(server.local_addr(), "/stats").await.json();
    assert_eq!(stats["connections_refused"], 1);
    reliability(
        "security/limits",
        "push request past --max-connections",
        "503 JSON, counted in /stats",
    );
    server.shutdown().await.expect("shutdown");
}

/// What the server must answer to one raw request.
struct HttpCase {
    name: &'static str,
    request: Vec<u8>,
    /// The status, or 0 when the server must close without answering.
    status: u16,
    /// `Some(parameter)` when the answer is the server's own JSON error
    /// (`""` for one that names no parameter); `None` for hyper's bodiless
    /// answer to a request it could not parse.
    json: Option<&'static str>,
    /// Whether the server must close the connection after answering.
    closes: bool,
}

fn case(name: &'static str, request: impl Into<Vec<u8>>, status: u16) -> HttpCase {
    HttpCase {
        name,
        request: request.into(),
        status,
        json: None,
        closes: true,
    }
}

impl HttpCase {
    /// The answer is the server's JSON error naming `parameter`.
    fn json(self, parameter: &'static str) -> Self {
        HttpCase {
            json: Some(parameter),
            ..self
        }
    }

    /// The connection stays usable after the answer.
    fn keeps_alive(self) -> Self {
        HttpCase {
            closes: false,
            ..self
        }
    }
}

/// A POST /publish head with `extra` header lines, then `body` as sent.
fn publish(extra: &str, body: &str) -> Vec<u8> {
    format!("POST /publish HTTP/1.1\r\nHost: test\r\n{extra}\r\n{body}").into_bytes()
}

fn get_with(extra: &str) -> Vec<u8> {
    format!("GET /poll HTTP/1.1\r\nHost: test\r\n{extra}\r\n").into_bytes()
}

/// The malformed requests, by what is wrong with them. Hyper answers what it
/// cannot parse (400, 414, 431, with no body) and closes; what it parses
/// reaches the server, which answers JSON.
fn http_cases(max_payload: usize) -> Vec<HttpCase> {
    let huge_uri = format!(
        "GET /poll?x={} HTTP/1.1\r\nHost: test\r\n\r\n",
        "a".repeat(20_000)
    );
    let many_headers: String = (0..101).map(|i| format!("X-H{i}: v\r\n")).collect();
    let big_headers: String = (0..90)
        .map(|i| format!("X-H{i}: {}\r\n", "v".repeat(200)))
        .collect();
    let oversize_chunks = format!(
        "3e8\r\n{a}\r\n3e8\r\n{a}\r\n0\r\n\r\n",
        a = "a".repeat(1_000)
    );
    assert!(
        2_000 > max_payload,
        "the chunked body must exceed the limit"
    );
    vec![
        // The request line.
        case("request line without a version", "GET /poll\r\n\r\n", 400),
        case("request line with only a method", "GET\r\n\r\n", 400),
        case(
            "method with a bad token character",
            "G(T /poll HTTP/1.1\r\nHost: test\r\n\r\n",
            400,
        ),
        case(
            "HTTP/0.9 version",
            "GET /poll HTTP/0.9\r\nHost: test\r\n\r\n",
            400,
        ),
        case(
            "HTTP/1.2 version",
            "GET /poll HTTP/1.2\r\nHost: test\r\n\r\n",
            400,
        ),
        case(
            "lowercase version",
            "GET /poll http/1.1\r\nHost: test\r\n\r\n",
            400,
        ),
        case(
            "two spaces in the request line",
            "GET  /poll HTTP/1.1\r\nHost: test\r\n\r\n",
            400,
        ),
        case(
            "bare CR line endings",
            "GET /poll HTTP/1.1\rHost: test\r\r",
            400,
        ),
        case(
            "NUL byte in the path",
            "GET /po\0ll HTTP/1.1\r\nHost: test\r\n\r\n",
            400,
        ),
        case(
            "non-ASCII byte in the path",
            b"GET /poll\xff HTTP/1.1\r\nHost: test\r\n\r\n".to_vec(),
            400,
        ),
        case(
            "TLS ClientHello on the plain port",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
            400,
        ),
        // `PRI` opens HTTP/2 with prior knowledge; a `PRI` line that is not
        // the whole preface is neither HTTP/1.1 nor HTTP/2.
        case(
            "PRI request line that is not the HTTP/2 preface",
            "PRI /poll HTTP/1.1\r\nHost: test\r\n\r\n",
            0,
        ),
        case("URI longer than the head limit", huge_uri, 431),
        case(
            "lowercase method (an unknown method)",
            "get /poll HTTP/1.1\r\nHost: test\r\n\r\n",
            405,
        )
        .json("")
        .keeps_alive(),
        case(
            "bare LF line endings (allowed by RFC 9112)",
            "GET /poll HTTP/1.1\nHost: test\n\n",
            200,
        )
        .keeps_alive(),
        case(
            "an empty line before the request line (ignored)",
            "\r\nGET /poll HTTP/1.1\r\nHost: test\r\n\r\n",
            200,
        )
        .keeps_alive(),
        // The query string.
        case(
            "invalid percent-encoding in a number",
            "GET /poll?since=%zz HTTP/1.1\r\nHost: test\r\n\r\n",
            400,
        )
        .json("since")
        .keeps_alive(),
        case(
            "truncated percent-encoding",
            "GET /poll?since=1% HTTP/1.1\r\nHost: test\r\n\r\n",
            400,
        )
        .json("since")
        .keeps_alive(),
        case(
            "percent-encoded invalid UTF-8",
            "GET /poll?client=%C3%28 HTTP/1.1\r\nHost: test\r\n\r\n",
            400,
        )
        .json("client")
        .keeps_alive(),
        case(
            "percent-encoded NUL in a label",
            "GET /poll?client=a%00b HTTP/1.1\r\nHost: test\r\n\r\n",
            400,
        )
        .json("client")
        .keeps_alive(),
        case(
            "percent-encoded digits are decoded",
            "GET /poll?since=%31 HTTP/1.1\r\nHost: test\r\n\r\n",
            200,
        )
        .keeps_alive(),
        // Headers.
        case(
            "no Host header in HTTP/1.1",
            "GET /poll HTTP/1.1\r\n\r\n",
            400,
        )
        .json("Host")
        .keeps_alive(),
        case("two Host headers", get_with("Host: other\r\n"), 400)
            .json("Host")
            .keeps_alive(),
        case(
            "HTTP/1.0 without Host (allowed)",
            "GET /poll HTTP/1.0\r\n\r\n",
            200,
        ),
        case("header line without a colon", get_with("X-Broken\r\n"), 400),
        case(
            "space before the header colon",
            get_with("X-Space : v\r\n"),
            400,
        ),
        case(
            "obsolete line folding",
            get_with("X-Fold: a\r\n b\r\n"),
            400,
        ),
        case(
            "NUL byte in a header value",
            get_with("X-Nul: a\0b\r\n"),
            400,
        ),
        case(
            "101 headers (hyper allows 100)",
            get_with(&many_headers),
            431,
        ),
        case(
            "18 KB of headers over the 16 KiB limit",
            get_with(&big_headers),
            431,
        ),
        case(
            "one 20 KB header",
            get_with(&format!("X-Huge: {}\r\n", "a".repeat(20_000))),
            431,
        ),
        // Bodies of POST /publish.
        case(
            "Content-Length not a number",
            publish("Content-Length: abc\r\n", ""),
            400,
        ),
        case(
            "negative Content-Length",
            publish("Content-Length: -1\r\n", ""),
            400,
        ),
        case(
            "two different Content-Lengths",
            publish("Content-Length: 1\r\nContent-Length: 2\r\n", "x"),
            400,
        ),
        case(
            "Content-Length over 2^64",
            publish("Content-Length: 99999999999999999999\r\n", ""),
            400,
        ),
        case(
            "Content-Length over the payload limit",
            publish("Content-Length: 1000000\r\n", ""),
            413,
        )
        .json(""),
        case(
            "Transfer-Encoding other than chunked",
            publish("Transfer-Encoding: gzip\r\n", "x"),
            400,
        ),
        case(
            "Transfer-Encoding in HTTP/1.0",
            "POST /publish HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        case(
            "chunk size not hex",
            publish("Transfer-Encoding: chunked\r\n", "zz\r\nabc\r\n0\r\n\r\n"),
            400,
        )
        .json("body"),
        case(
            "chunk size over 64 bits",
            publish(
                "Transfer-Encoding: chunked\r\n",
                "fffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
            ),
            400,
        )
        .json("body"),
        case(
            "chunk without its closing CRLF",
            publish("Transfer-Encoding: chunked\r\n", "3\r\nabcX0\r\n\r\n"),
            400,
        )
        .json("body"),
        case(
            "chunk longer than its size",
            publish("Transfer-Encoding: chunked\r\n", "3\r\nabcdef\r\n0\r\n\r\n"),
            400,
        )
        .json("body"),
        // hyper reads the rest of the body, so the connection serves on.
        case(
            "chunked body over the payload limit",
            publish("Transfer-Encoding: chunked\r\n", &oversize_chunks),
            413,
        )
        .json("")
        .keeps_alive(),
        // RFC 9112 6.1: Transfer-Encoding wins, and the connection must close.
        case(
            "both Content-Length and Transfer-Encoding",
            publish(
                "Content-Length: 100\r\nTransfer-Encoding: chunked\r\n",
                "3\r\nabc\r\n0\r\n\r\n",
            ),
            200,
        ),
    ]
}

/// HTTP/2 frame types and error codes the cases below name (RFC 9113).
const H2_GOAWAY: u8 = 0x7;
const H2_PROTOCOL_ERROR: u32 = 0x1;
const H2_FRAME_SIZE_ERROR: u32 = 0x6;

/// One HTTP/2 frame: a 9-byte header, then `payload`.
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("frame length");
    let mut frame = len.to_be_bytes()[1..].to_vec();
    frame.extend([kind, flags]);
    frame.extend(stream.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// Reads a connection's frames until a GOAWAY; its error code, or `None`
/// if the connection closed (or stalled 5 s) without one.
async fn goaway_code(client: &mut Client) -> Option<u32> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while buf.len() >= 9 {
            let len = usize::from(buf[0]) << 16 | usize::from(buf[1]) << 8 | usize::from(buf[2]);
            if buf.len() < 9 + len {
                break;
            }
            let frame: Vec<u8> = buf.drain(..9 + len).collect();
            if frame[3] == H2_GOAWAY && len >= 8 {
                return Some(u32::from_be_bytes(frame[13..17].try_into().ok()?));
            }
        }
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            tokio::io::AsyncReadExt::read(&mut client.stream, &mut chunk),
        )
        .await;
        match read {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    }
}

#[tokio::test]
async fn malformed_http2_gets_a_goaway_naming_the_error_and_the_server_stays_up() {
    let server = spawn_server(quiet()).await;
    let addr = server.local_addr();
    let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let settings = h2_frame(0x4, 0, 0, &[]);
    // `:method GET` (static index 2), then index 70: past the 61 entries
    // of the static table, with the dynamic table still empty.
    let bad_hpack = [0x82, 0x80 | 70];
    let cases: Vec<(&str, Vec<u8>, u32)> = vec![
        (
            "a DATA frame over SETTINGS_MAX_FRAME_SIZE (16,384)",
            h2_frame(0x0, 0, 1, &[0; 20_000]),
            H2_FRAME_SIZE_ERROR,
        ),
        // RFC 9113 (6.5, 6.7) asks for FRAME_SIZE_ERROR on these two; h2
        // 0.4.20, which hyper serves HTTP/2 with, sends PROTOCOL_ERROR.
        (
            "SETTINGS whose length is not a multiple of 6 (h2 says PROTOCOL_ERROR, RFC 9113 FRAME_SIZE_ERROR)",
            h2_frame(0x4, 0, 0, &[0; 5]),
            H2_PROTOCOL_ERROR,
        ),
        (
            "PING of 7 bytes (h2 says PROTOCOL_ERROR, RFC 9113 FRAME_SIZE_ERROR)",
            h2_frame(0x6, 0, 0, &[0; 7]),
            H2_PROTOCOL_ERROR,
        ),
        (
            "DATA on stream 0",
            h2_frame(0x0, 0, 0, b"x"),
            H2_PROTOCOL_ERROR,
        ),
        (
            "HEADERS on an even (server) stream id",
            h2_frame(0x1, 0x4 | 0x1, 2, &[0x82]),
            H2_PROTOCOL_ERROR,
        ),
        (
            "connection WINDOW_UPDATE of 0",
            h2_frame(0x8, 0, 0, &[0; 4]),
            H2_PROTOCOL_ERROR,
        ),
        // RFC 9113 (4.3) asks for COMPRESSION_ERROR; h2 0.4.20 maps every
        // HPACK decoding error to PROTOCOL_ERROR.
        (
            "HEADERS with an HPACK index past both tables (h2 says PROTOCOL_ERROR, RFC 9113 COMPRESSION_ERROR)",
            h2_frame(0x1, 0x4 | 0x1, 1, &bad_hpack),
            H2_PROTOCOL_ERROR,
        ),
        (
            "HTTP/1.1 text after the preface",
            b"GET /poll HTTP/1.1\r\nHost: test\r\n\r\n".to_vec(),
            H2_FRAME_SIZE_ERROR,
        ),
    ];
    for (name, bad, expected) in cases {
        let mut client = Client::connect(addr).await;
        let mut bytes = preface.to_vec();
        bytes.extend_from_slice(&settings);
        bytes.extend_from_slice(&bad);
        let _ = tokio::io::AsyncWriteExt::write_all(&mut client.stream, &bytes).await;
        assert_eq!(goaway_code(&mut client).await, Some(expected), "{name}");
        assert!(
            closes_soon(&mut client).await,
            "{name}: the connection closes"
        );
        assert_eq!(get(addr, "/poll").await.status, 200, "{name}: server up");
        reliability(
            "input/http2",
            name,
            &format!("GOAWAY with error {expected:#x}, closed, server up"),
        );
    }
    server.shutdown().await.expect("shutdown");
}

/// Reads until the peer closes (or resets); false when it keeps the
/// connection open for a second.
async fn closes_soon(client: &mut Client) -> bool {
    let mut chunk = [0u8; 1024];
    loop {
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            tokio::io::AsyncReadExt::read(&mut client.stream, &mut chunk),
        )
        .await;
        match read {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn malformed_http_gets_its_status_and_the_server_stays_up() {
    let server = spawn_server(ServerConfig {
        max_payload: 1_000,
        ..quiet()
    })
    .await;
    server.publish("t", "x");
    let addr = server.local_addr();
    let mut hyper_refusals = 0;
    for case in http_cases(1_000) {
        let name = case.name;
        let mut client = Client::connect(addr).await;
        // The server may answer and close before it read everything.
        let _ = tokio::io::AsyncWriteExt::write_all(&mut client.stream, &case.request).await;
        if case.status == 0 {
            assert!(closes_soon(&mut client).await, "{name}: closed");
            assert!(client.buf.is_empty(), "{name}: no answer");
            hyper_refusals += 1;
        } else {
            let answer = client.read_response().await;
            assert_eq!(answer.status, case.status, "{name}: {}", answer.head);
            match case.json {
                Some(parameter) => {
                    let json = answer.json();
                    assert_eq!(json["status"], case.status, "{name}: {json}");
                    assert!(
                        json["error"].as_str().is_some_and(|e| !e.is_empty()),
                        "{name}"
                    );
                    if !parameter.is_empty() {
                        assert_eq!(json["parameter"], parameter, "{name}: {json}");
                    }
                }
                None if case.status >= 400 => {
                    assert!(answer.body.is_empty(), "{name}: hyper's answer has no body");
                    hyper_refusals += 1;
                }
                None => {}
            }
            if case.closes {
                assert!(
                    closes_soon(&mut client).await,
                    "{name}: the connection closes"
                );
            } else {
                let next = client.request("GET", "/poll").await;
                assert_eq!(next.status, 200, "{name}: the connection serves on");
            }
        }
        assert_eq!(get(addr, "/poll").await.status, 200, "{name}: server up");
        let answer = match (case.status, case.json) {
            (0, _) => "closed without an answer".to_owned(),
            (status, Some(_)) => format!("{status} JSON"),
            (status, None) if status >= 400 => format!("{status} (hyper, no body)"),
            (status, None) => status.to_string(),
        };
        let closed = if case.closes {
            ", closed"
        } else {
            ", kept alive"
        };
        reliability("input/http", name, &format!("{answer}{closed}, server up"));
    }
    let stats = get(addr, "/stats").await.json();
    assert_eq!(stats["malformed_requests"], hyper_refusals, "{stats}");
    // Of the requests that reached the server, only the CL+TE publish did.
    let poll = get(addr, "/poll?since=1").await.json();
    assert_eq!(seqs(&poll), vec![2], "{poll}");
    assert_eq!(poll["events"][0]["payload"], "abc");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_uri_over_the_http_crate_limit_gets_414() {
    // With a head limit above 64 KiB, the URI limit of the `http` crate
    // (65,534 bytes) is the one a long URI meets first.
    let server = spawn_server(ServerConfig {
        max_header_bytes: 128 * 1024,
        ..quiet()
    })
    .await;
    let addr = server.local_addr();
    let mut client = Client::connect(addr).await;
    let request = format!(
        "GET /poll?x={} HTTP/1.1\r\nHost: test\r\n\r\n",
        "a".repeat(70_000)
    );
    client.send_raw(request.as_bytes()).await;
    assert_eq!(client.read_response().await.status, 414);
    assert_eq!(get(addr, "/poll").await.status, 200);
    reliability(
        "input/http",
        "URI over 64 KiB (head limit 128 KiB)",
        "414 (hyper, no body), server up",
    );
    server.shutdown().await.expect("shutdown");
}
