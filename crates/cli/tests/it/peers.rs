//! The system `curl`, a client nobody here wrote, against `pushbench serve`:
//! poll, long poll (held, then answered), HTTP streaming (`curl -N`), SSE
//! resumed with `Last-Event-ID`, and a 400's JSON body, each over HTTP/1.1,
//! HTTP/2 in the clear with prior knowledge (h2c) and HTTP/2 over TLS
//! chosen by ALPN (curl trusting the certificate the server wrote out); and
//! `curl --compressed` decoding the gzip and Brotli answers of `serve
//! --compression gzip,br`, polls and a live SSE stream, over each of them.
//!
//! Every curl runs with `--max-time`, so no test can hang on the server.
//! Without curl the tests are skipped with a note, except under CI (env `CI`
//! set), where a missing curl is a failure.

use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use std::io::{BufRead, BufReader};

use serde_json::Value;

use crate::support::{scratch, start_serve};

/// How curl speaks to the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Http {
    /// HTTP/1.1 in the clear.
    H1,
    /// HTTP/2 in the clear, prior knowledge (no upgrade dance).
    H2c,
    /// HTTP/2 over TLS, negotiated by ALPN.
    H2Tls,
}

/// Every way, in test order.
const EVERY_HTTP: [Http; 3] = [Http::H1, Http::H2c, Http::H2Tls];

impl Http {
    /// The status line curl prints for `code` (`reason` over HTTP/1.1).
    fn status_line(self, code: u16, reason: &str) -> String {
        match self {
            Http::H1 => format!("HTTP/1.1 {code} {reason}"),
            Http::H2c | Http::H2Tls => format!("HTTP/2 {code}"),
        }
    }
}

/// A `pushbench serve` process, killed when dropped.
struct Server {
    child: Child,
    base: String,
    http: Http,
    /// The certificate a TLS server wrote out, for curl to trust.
    cert: Option<PathBuf>,
}

impl Server {
    /// `curl -sS --max-time 20`, speaking this server's HTTP, then ARGS.
    fn curl(&self, args: &[&str]) -> Command {
        let mut cmd = curl(&[]);
        match self.http {
            Http::H1 => cmd.arg("--http1.1"),
            Http::H2c => cmd.arg("--http2-prior-knowledge"),
            Http::H2Tls => cmd.arg("--http2"),
        };
        if let Some(dir) = &self.cert {
            cmd.arg("--cacert").arg(dir.join("cert.pem"));
        }
        cmd.args(args);
        cmd
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server without a generator: every event comes from `publish`, so the
/// tests know each one exactly.
fn serve(http: Http) -> Server {
    serve_with(http, &[])
}

/// [`serve`] with extra flags.
fn serve_with(http: Http, extra: &[&str]) -> Server {
    static SERVERS: AtomicUsize = AtomicUsize::new(0);
    let cert = (http == Http::H2Tls)
        .then(|| scratch(&format!("curl-{}", SERVERS.fetch_add(1, Ordering::Relaxed))));
    let mut args = vec!["--rate".to_owned(), "0".to_owned()];
    if let Some(dir) = &cert {
        args.extend(["--tls".to_owned(), "--tls-cert-out".to_owned()]);
        args.push(dir.join("cert.pem").display().to_string());
    }
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (child, addr) = start_serve(&args, Stdio::inherit());
    let scheme = if cert.is_some() { "https" } else { "http" };
    Server {
        child,
        base: format!("{scheme}://{addr}"),
        http,
        cert,
    }
}

/// Whether curl can run; otherwise the skip note (or, under CI, a failure).
fn curl_available() -> bool {
    let runs = Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !runs {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but curl is missing; .ci/run installs it"
        );
        eprintln!("skipped: curl is missing (apt-get install curl)");
    }
    runs
}

/// `curl -sS --max-time 20 ARGS`, not yet started.
fn curl(args: &[&str]) -> Command {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "20"]).args(args);
    cmd
}

fn run(mut cmd: Command) -> Output {
    let out = cmd.output().expect("run curl");
    assert!(
        out.status.success(),
        "curl failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Publishes `payload` on topic `peers` with curl; its seq.
fn publish(server: &Server, payload: &str) -> u64 {
    let out = run(server.curl(&[
        "-X",
        "POST",
        "--data-binary",
        payload,
        &format!("{}/publish?topic=peers", server.base),
    ]));
    let answer: Value = serde_json::from_slice(&out.stdout).expect("publish answers JSON");
    answer["seq"].as_u64().expect("seq")
}

/// A response as `curl -i` prints it: status line, headers, body.
#[derive(Debug)]
struct Response {
    status_line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn parse(raw: &[u8]) -> Response {
        let text = String::from_utf8(raw.to_vec()).expect("UTF-8 response");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default().trim_end().to_owned();
        Response {
            status_line,
            headers: lines.filter_map(header).collect(),
            body: body.to_owned(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

fn header(line: &str) -> Option<(String, String)> {
    let (name, value) = line.split_once(':')?;
    Some((name.trim().to_ascii_lowercase(), value.trim().to_owned()))
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Checks one event object: its seq, topic and payload.
fn assert_event(event: &Value, seq: u64, payload: &str) {
    assert_eq!(event["seq"], seq, "{event}");
    assert_eq!(event["topic"], "peers", "{event}");
    assert_eq!(event["payload"], payload, "{event}");
    assert!(
        event["created_us"].as_u64().is_some_and(|us| us > 0),
        "{event}"
    );
}

/// The events of `/poll?since=0`, as the reference for the live transports.
fn poll_events(server: &Server) -> Vec<Value> {
    let out = run(server.curl(&[&format!("{}/poll?since=0", server.base)]));
    let body: Value = serde_json::from_slice(&out.stdout).expect("poll JSON");
    body["events"].as_array().expect("events").clone()
}

/// A live response read line by line from a running `curl -N -i`.
struct LiveBody {
    curl: Child,
    lines: BufReader<ChildStdout>,
}

impl LiveBody {
    fn start(server: &Server, args: &[&str]) -> (LiveBody, Vec<(String, String)>, String) {
        let mut curl = server
            .curl(args)
            .args(["-N", "-i"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start curl");
        let lines = BufReader::new(curl.stdout.take().expect("stdout"));
        let mut live = LiveBody { curl, lines };
        let status_line = live.line().trim_end().to_owned();
        let mut headers = Vec::new();
        for _ in 0..50 {
            let line = live.line();
            if line.is_empty() {
                return (live, headers, status_line);
            }
            headers.extend(header(&line));
        }
        panic!("no end of headers within 50 lines: {headers:?}");
    }

    /// The next line without its line ending; curl's `--max-time` bounds
    /// the wait.
    fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self.lines.read_line(&mut line).expect("read from curl");
        assert!(n > 0, "curl's output ended early");
        line.trim_end_matches(['\r', '\n']).to_owned()
    }
}

impl Drop for LiveBody {
    fn drop(&mut self) {
        let _ = self.curl.kill();
        let _ = self.curl.wait();
    }
}

#[test]
fn curl_short_poll_returns_exactly_the_published_events() {
    if !curl_available() {
        return;
    }
    for http in EVERY_HTTP {
        short_poll(&serve(http));
    }
}

fn short_poll(server: &Server) {
    for (i, payload) in ["one", "two", "three"].into_iter().enumerate() {
        assert_eq!(publish(server, payload), i as u64 + 1);
    }
    let out = run(server.curl(&["-i", &format!("{}/poll?since=1", server.base)]));
    let response = Response::parse(&out.stdout);
    assert_eq!(response.status_line, server.http.status_line(200, "OK"));
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(
        response.header("content-length"),
        Some(response.body.len().to_string().as_str())
    );
    let body = response.json();
    let events = body["events"].as_array().expect("events");
    assert_eq!(events.len(), 2, "{body}");
    assert_event(&events[0], 2, "two");
    assert_event(&events[1], 3, "three");
    assert_eq!(body["next"], 3);
    assert_eq!(body["gap"], Value::Null);

    // Nothing after the last seq: an empty answer at once.
    let empty = Response::parse(
        &run(server.curl(&["-i", &format!("{}/poll?since=3", server.base)])).stdout,
    );
    assert_eq!(
        empty.body, r#"{"events":[],"next":3,"gap":null}"#,
        "{empty:?}"
    );
}

#[test]
fn curl_long_poll_is_held_until_an_event_then_answered_with_it() {
    if !curl_available() {
        return;
    }
    for http in EVERY_HTTP {
        long_poll_held(&serve(http));
    }
}

fn long_poll_held(server: &Server) {
    publish(server, "before");
    let started = Instant::now();
    let held = server
        .curl(&[
            "-i",
            &format!("{}/longpoll?since=1&timeout=15", server.base),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start curl");
    let mut held = KillOnDrop(Some(held));
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        held.child().try_wait().expect("poll curl").is_none(),
        "the long poll is held while nothing is published"
    );
    assert_eq!(publish(server, "awaited"), 2);
    let out = held.take().wait_with_output().expect("wait for curl");
    let elapsed = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        elapsed >= Duration::from_millis(500) && elapsed < Duration::from_secs(10),
        "answered on the event, not on the timeout: {elapsed:?}"
    );
    let response = Response::parse(&out.stdout);
    assert_eq!(response.status_line, server.http.status_line(200, "OK"));
    assert_eq!(response.header("content-type"), Some("application/json"));
    let body = response.json();
    let events = body["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{body}");
    assert_event(&events[0], 2, "awaited");
    assert_eq!(body["next"], 2);
}

#[test]
fn curl_long_poll_times_out_with_an_empty_answer() {
    if !curl_available() {
        return;
    }
    for http in EVERY_HTTP {
        long_poll_timeout(&serve(http));
    }
}

fn long_poll_timeout(server: &Server) {
    let started = Instant::now();
    let out = run(server.curl(&["-i", &format!("{}/longpoll?since=0&timeout=1", server.base)]));
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(10),
        "held for the 1 s timeout: {elapsed:?}"
    );
    let response = Response::parse(&out.stdout);
    assert_eq!(response.status_line, server.http.status_line(200, "OK"));
    assert_eq!(response.body, r#"{"events":[],"next":0,"gap":null}"#);
}

/// Kills (and reaps) a child that a failing test leaves running.
struct KillOnDrop(Option<Child>);

impl KillOnDrop {
    fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("still held")
    }

    fn take(&mut self) -> Child {
        self.0.take().expect("still held")
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn curl_streams_ndjson_lines_live_in_chunked_encoding() {
    if !curl_available() {
        return;
    }
    for http in EVERY_HTTP {
        stream_lines(&serve(http));
    }
}

fn stream_lines(server: &Server) {
    publish(server, "one");
    publish(server, "two");
    let (mut live, headers, status_line) =
        LiveBody::start(server, &[&format!("{}/stream?since=0", server.base)]);
    assert_eq!(status_line, server.http.status_line(200, "OK"));
    assert_eq!(
        find_header(&headers, "content-type"),
        Some("application/x-ndjson")
    );
    // HTTP/2 has no chunked coding: its DATA frames delimit the body.
    let chunked = (server.http == Http::H1).then_some("chunked");
    assert_eq!(find_header(&headers, "transfer-encoding"), chunked);
    assert_eq!(find_header(&headers, "cache-control"), Some("no-cache"));
    // Two from the backlog, then two published while curl is connected.
    let mut lines = vec![live.line(), live.line()];
    publish(server, "three");
    publish(server, "four");
    lines.push(live.line());
    lines.push(live.line());
    drop(live);

    let reference = poll_events(server);
    assert_eq!(reference.len(), 4);
    for (i, (line, payload)) in lines
        .iter()
        .zip(["one", "two", "three", "four"])
        .enumerate()
    {
        let event: Value = serde_json::from_str(line).expect("one JSON event per line");
        assert_event(&event, i as u64 + 1, payload);
        assert_eq!(
            event, reference[i],
            "the stream carries the same event as /poll"
        );
    }
}

#[test]
fn curl_sse_resumes_after_last_event_id() {
    if !curl_available() {
        return;
    }
    for http in EVERY_HTTP {
        sse_resumes(&serve(http));
    }
}

fn sse_resumes(server: &Server) {
    for payload in ["one", "two", "three"] {
        publish(server, payload);
    }
    let (mut live, headers, status_line) = LiveBody::start(
        server,
        &["-H", "Last-Event-ID: 1", &format!("{}/sse", server.base)],
    );
    assert_eq!(status_line, server.http.status_line(200, "OK"));
    assert_eq!(
        find_header(&headers, "content-type"),
        Some("text/event-stream")
    );
    assert_eq!(find_header(&headers, "cache-control"), Some("no-cache"));
    let mut records = Vec::new();
    for i in 0..3 {
        if i == 2 {
            publish(server, "four");
        }
        let id = live.line();
        let data = live.line();
        let blank = live.line();
        records.push((id, data, blank));
    }
    drop(live);

    let reference = poll_events(server);
    for ((id, data, blank), seq) in records.iter().zip([2u64, 3, 4]) {
        assert_eq!(id, &format!("id: {seq}"));
        assert_eq!(blank, "", "an empty line ends each event");
        let json = data.strip_prefix("data: ").expect("a data: line");
        let event: Value = serde_json::from_str(json).expect("JSON data");
        assert_eq!(event, reference[seq as usize - 1], "seq {seq}");
    }
    assert_event(
        &serde_json::from_str(&records[2].1["data: ".len()..]).expect("JSON"),
        4,
        "four",
    );
}

#[test]
fn curl_gets_400_with_a_json_body_naming_the_parameter() {
    if !curl_available() {
        return;
    }
    for http in EVERY_HTTP {
        bad_parameters(&serve(http));
    }
}

fn bad_parameters(server: &Server) {
    for (path, extra, parameter) in [
        ("/poll?since=abc", None, "since"),
        ("/longpoll?timeout=soon", None, "timeout"),
        ("/stream?since=-1", None, "since"),
        ("/sse", Some("Last-Event-ID: x"), "Last-Event-ID"),
    ] {
        let url = format!("{}{path}", server.base);
        let mut args = vec!["-i"];
        if let Some(h) = extra {
            args.extend(["-H", h]);
        }
        args.push(&url);
        let response = Response::parse(&run(server.curl(&args)).stdout);
        assert_eq!(
            response.status_line,
            server.http.status_line(400, "Bad Request"),
            "{path}"
        );
        assert_eq!(
            response.header("content-type"),
            Some("application/json"),
            "{path}"
        );
        let body = response.json();
        assert_eq!(body["status"], 400, "{path}: {body}");
        assert_eq!(body["parameter"], parameter, "{path}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{path}: {body}"
        );
    }
}

#[test]
fn curl_compressed_decodes_coded_polls_and_a_live_sse_stream() {
    if !curl_available() {
        return;
    }
    for http in EVERY_HTTP {
        let server = serve_with(http, &["--compression", "gzip,br"]);
        publish(&server, "one");
        publish(&server, "two");
        let reference = poll_events(&server);
        // curl --compressed offers deflate, gzip, br and zstd; a header of
        // our own narrows it to one coding, which curl still decodes.
        for (accept, coding) in [(None, "br"), (Some("Accept-Encoding: gzip"), "gzip")] {
            let url = format!("{}/poll?since=0", server.base);
            let mut args = vec!["--compressed", "-i"];
            if let Some(h) = accept {
                args.extend(["-H", h]);
            }
            args.push(&url);
            let response = Response::parse(&run(server.curl(&args)).stdout);
            assert_eq!(
                response.header("content-encoding"),
                Some(coding),
                "{http:?}"
            );
            assert_eq!(response.header("vary"), Some("accept-encoding"), "{http:?}");
            assert_eq!(
                response.json()["events"].as_array().expect("events"),
                &reference,
                "{http:?} {coding}"
            );
        }
        // A live SSE body: curl decodes each event as its flush arrives,
        // while the stream stays open.
        for coding in ["gzip", "br"] {
            let last = poll_events(&server).len() as u64;
            let (mut live, headers, status_line) = LiveBody::start(
                &server,
                &[
                    "--compressed",
                    "-H",
                    &format!("Accept-Encoding: {coding}"),
                    &format!("{}/sse?since={}", server.base, last - 1),
                ],
            );
            assert_eq!(status_line, http.status_line(200, "OK"));
            assert_eq!(find_header(&headers, "content-encoding"), Some(coding));
            // The backlog's last event, then one published while curl
            // waits: it only shows if the server flushed the compressor.
            assert_eq!(live.line(), format!("id: {last}"), "{http:?} {coding}");
            live.line();
            assert_eq!(live.line(), "");
            let seq = publish(&server, &format!("live {coding}"));
            assert_eq!(live.line(), format!("id: {seq}"), "{http:?} {coding}");
            let data = live.line();
            assert_eq!(live.line(), "");
            let event: Value = serde_json::from_str(&data["data: ".len()..]).expect("JSON data");
            assert_event(&event, seq, &format!("live {coding}"));
        }
    }
}
