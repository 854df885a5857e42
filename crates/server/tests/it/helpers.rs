//! A tiny HTTP/1.1 client over a raw socket, so tests see and count every
//! byte, and a `spawn_server` that binds 127.0.0.1:0.

use std::net::SocketAddr;
use std::time::Duration;

use pushbench_server::{RunningServer, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Starts a server with no generator unless the test asks for one.
pub async fn spawn_server(config: ServerConfig) -> RunningServer {
    pushbench_server::spawn(config, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("server binds 127.0.0.1:0")
}

/// A quiet config: no generator, so tests publish exactly what they check.
pub fn quiet() -> ServerConfig {
    ServerConfig {
        rate: 0.0,
        ..ServerConfig::default()
    }
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

/// One keep-alive connection that counts its bytes.
pub struct Client {
    pub stream: TcpStream,
    pub buf: Vec<u8>,
    pub read: u64,
    pub written: u64,
    /// How long a read may wait: long in paused-time tests, where time
    /// jumps ahead whenever the runtime is idle.
    pub timeout: Duration,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.expect("connect");
        Client {
            stream,
            buf: Vec::new(),
            read: 0,
            written: 0,
            timeout: Duration::from_secs(10),
        }
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.stream.local_addr().expect("local addr")
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
        self.written += bytes.len() as u64;
    }

    /// Sends a request with optional extra header lines and body.
    pub async fn send(&mut self, method: &str, path: &str, extra: &str, body: &[u8]) {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n{extra}");
        if !body.is_empty() || method == "POST" {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        self.send_raw(&bytes).await;
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        let n = tokio::time::timeout(self.timeout, self.stream.read(&mut chunk))
            .await
            .expect("read within the timeout")
            .expect("read");
        self.read += n as u64;
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    /// Reads the status line and headers.
    pub async fn read_head(&mut self) -> (u16, String) {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = String::from_utf8(self.buf[..end].to_vec()).expect("ASCII head");
                self.buf.drain(..end + 4);
                let status = head[9..12].parse().expect("status");
                return (status, head);
            }
            assert!(
                self.fill().await,
                "connection closed before the response head"
            );
        }
    }

    async fn read_exact_buf(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(self.fill().await, "connection closed mid-body");
        }
        self.buf.drain(..n).collect()
    }

    /// Reads one whole Content-Length response.
    pub async fn read_response(&mut self) -> Response {
        let (status, head) = self.read_head().await;
        let len = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().to_owned())
            })
            .map(|v| v.parse::<usize>().expect("length"))
            .unwrap_or(0);
        let body = self.read_exact_buf(len).await;
        Response { status, head, body }
    }

    pub async fn request(&mut self, method: &str, path: &str) -> Response {
        self.send(method, path, "", b"").await;
        self.read_response().await
    }

    /// Reads one chunk of a chunked body; `None` for the last chunk.
    pub async fn read_chunk(&mut self) -> Option<Vec<u8>> {
        let line = loop {
            if let Some(end) = find(&self.buf, b"\r\n") {
                let line = String::from_utf8(self.buf[..end].to_vec()).expect("size line");
                self.buf.drain(..end + 2);
                break line;
            }
            assert!(self.fill().await, "connection closed mid-chunk");
        };
        let size = usize::from_str_radix(line.trim(), 16).expect("hex size");
        let data = self.read_exact_buf(size + 2).await;
        assert_eq!(&data[size..], b"\r\n", "chunk ends with CRLF");
        (size > 0).then(|| data[..size].to_vec())
    }

    /// Reads the next record ended by `end` (`\n\n`: an SSE block; `\n`:
    /// an NDJSON line) from a chunked body, with `end`; `pending` keeps
    /// what the chunks held after it. A chunk holds whole records: one
    /// publish's, or a burst's when the subscriber was behind.
    pub async fn read_record(&mut self, pending: &mut Vec<u8>, end: &[u8]) -> Vec<u8> {
        loop {
            if let Some(at) = find(pending, end) {
                return pending.drain(..at + end.len()).collect();
            }
            let chunk = self.read_chunk().await.expect("stream still open");
            assert!(chunk.ends_with(end), "whole records in each chunk");
            pending.extend_from_slice(&chunk);
        }
    }

    /// The bytes buffered or next read, raw; `None` at the end.
    pub async fn read_some(&mut self) -> Option<Vec<u8>> {
        if self.buf.is_empty() && !self.fill().await {
            return None;
        }
        Some(std::mem::take(&mut self.buf))
    }

    /// True when the peer has closed the connection (reads to the end).
    pub async fn closed(&mut self) -> bool {
        !self.fill().await
    }
}

/// A client for paused-time tests: reads may wait an hour of virtual time.
pub async fn patient(addr: SocketAddr) -> Client {
    let mut client = Client::connect(addr).await;
    client.timeout = Duration::from_secs(3_600);
    client
}

/// One-shot GET on a fresh connection.
pub async fn get(addr: SocketAddr, path: &str) -> Response {
    Client::connect(addr).await.request("GET", path).await
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Seqs of the events in a poll answer.
pub fn seqs(answer: &serde_json::Value) -> Vec<u64> {
    answer["events"]
        .as_array()
        .expect("events array")
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect()
}

/// The seq in one event's JSON text.
pub fn seq_of(json: &[u8]) -> u64 {
    let v: serde_json::Value = serde_json::from_slice(json).expect("event JSON");
    v["seq"].as_u64().expect("seq")
}

/// Prints the reliability line of one case that passed (the convention of
/// `scripts/reliability.sh`, which builds `docs/reliability.md` from these
/// lines): call it only after the case's assertions.
pub fn reliability(class: &str, case: &str, outcome: &str) {
    println!("reliability: {class} | {case} | {outcome}");
}

/// Held by a test that keeps tens of megabytes of events in this
/// process, and by the one that measures this process's memory: tests
/// run in parallel threads of one process, so the measurement would
/// count the others' events.
pub async fn memory_heavy() -> tokio::sync::MutexGuard<'static, ()> {
    static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    HEAVY.lock().await
}
