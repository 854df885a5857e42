//! The runner's own HTTP calls: `GET /stats`, `POST /publish` and `GET /time`.
//!
//! Each call is one short connection (`connection: close`), counted on the
//! socket like every client connection but booked entirely as `control`
//! into [`ControlClient::traffic`], so it never mixes into a transport's
//! figures.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pushbench_net::counting::CountingStream;
use pushbench_protocol::{TargetKind, Traffic};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub use crate::control_tally::ControlConnection;
use crate::control_tally::ControlTally;
use crate::http_answer::{is_chunked, wire_request};
use crate::observed_target::ObservedTarget;
pub use crate::server_stats::{Generator, PeerStats, ProcessStats, RouteStats, Stats};
use crate::{Error, Result};
use crate::{lock, target_api};

/// How long one control call may take: `/stats` answers at once, so a
/// server that takes longer is stuck or dead.
pub const CONTROL_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest control answer read (a `/stats` with many connections listed).
const MAX_CONTROL_BODY: usize = 64 * 1024 * 1024;

/// Makes the runner's control calls to one server.
#[derive(Clone, Debug)]
pub struct ControlClient {
    addr: SocketAddr,
    traffic: ControlTally,
    connections: Arc<Mutex<Vec<ControlConnection>>>,
    /// A server of another kind: what stands in for its `/stats` (the
    /// publisher's last seq, its processes' cost from `/proc`).
    observed: Option<Arc<ObservedTarget>>,
}

impl ControlClient {
    /// A client for the server at `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        ControlClient {
            addr,
            traffic: ControlTally::default(),
            connections: Arc::default(),
            observed: None,
        }
    }

    /// This client, for a server of another kind whose `/stats`
    /// `observed` stands in for, and whose events it publishes; what it
    /// sent so far (the probe) stays counted.
    pub fn observing(self, observed: Arc<ObservedTarget>) -> Self {
        ControlClient {
            observed: Some(observed),
            ..self
        }
    }

    /// The server of another kind this client observes, if it is one.
    pub fn observed(&self) -> Option<&Arc<ObservedTarget>> {
        self.observed.as_ref()
    }

    /// What the publisher into a server of another kind sent and received
    /// (every byte `control`); nothing for pushbench's own server.
    pub fn publish_traffic(&self) -> Traffic {
        self.observed
            .as_ref()
            .map(|o| o.publisher.traffic())
            .unwrap_or_default()
    }

    /// Every control connection made so far (for the wire log, so a packet
    /// capture can tell them apart from the measured clients).
    pub fn connections(&self) -> Vec<ControlConnection> {
        let mut all = lock(&self.connections).clone();
        if let Some(observed) = &self.observed {
            all.extend(observed.publisher.connections());
        }
        all
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// All control traffic so far.
    pub fn traffic(&self) -> Traffic {
        self.traffic.traffic()
    }

    /// `GET /stats` (with the per-connection list when `connections`).
    pub async fn stats(&self, connections: bool) -> Result<Stats> {
        if let Some(observed) = &self.observed {
            return observed.stats(self.addr).await;
        }
        let path = if connections {
            "/stats?connections=1"
        } else {
            "/stats"
        };
        let body = self.call("GET", path, b"").await?;
        serde_json::from_slice(&body)
            .map_err(|e| self.server_error(format!("/stats is not the expected JSON: {e}")))
    }

    /// `POST /publish?topic=T` with `payload`; returns the seq.
    pub async fn publish(&self, topic: &str, payload: &[u8]) -> Result<u64> {
        #[derive(Deserialize)]
        struct Published {
            seq: u64,
        }
        let body = self
            .call("POST", &format!("/publish?topic={topic}"), payload)
            .await?;
        let published: Published = serde_json::from_slice(&body)
            .map_err(|e| self.server_error(format!("/publish answer: {e}")))?;
        Ok(published.seq)
    }

    /// One `GET /time` exchange for the clock estimate: the server's
    /// `now_us` between this client's clock just before the request was
    /// written (the connection already open) and just after the answer
    /// was read.
    pub async fn time_sample(&self) -> Result<crate::clock_offset::ClockSample> {
        #[derive(Deserialize)]
        struct Time {
            now_us: u64,
        }
        let (body, t0_us, t3_us) = self.timed_call("GET", "/time", b"").await?;
        let time: Time = serde_json::from_slice(&body).map_err(|e| {
            self.server_error(format!(
                "/time answer: {e} (a server without GET /time cannot measure clock offsets)"
            ))
        })?;
        Ok(crate::clock_offset::ClockSample {
            t0_us,
            server_us: time.now_us,
            t3_us,
        })
    }

    /// Asks the server [`target_api::probe`]'s question and checks the
    /// answer is a `kind` server's: an unreachable server and a server of
    /// another kind are told apart, each within [`CONTROL_TIMEOUT`].
    pub async fn probe(&self, kind: TargetKind) -> Result<()> {
        let mut request = target_api::probe(kind);
        // Read to the end: the server closes after answering.
        request.headers.push(("connection", "close".to_owned()));
        let bytes = wire_request(&request, self.addr);
        let answer = self
            .raw_exchange(request.method, &request.target, &bytes)
            .await
            .map_err(|e| match e {
                Error::ServerDied(why) => {
                    self.server_error(format!("cannot be reached as a {kind} server: {why}"))
                }
                other => other,
            })?;
        let not_kind = |expected: String| {
            self.server_error(format!("is not a {kind} server: expected {expected}"))
        };
        let (status, body) =
            split_response(&answer.0).ok_or_else(|| not_kind("an HTTP/1.1 answer".to_owned()))?;
        target_api::recognise(kind, status, &body).map_err(not_kind)
    }

    fn server_error(&self, message: String) -> Error {
        Error::Server {
            url: format!("http://{}", self.addr),
            message,
        }
    }

    async fn call(&self, method: &str, path: &str, body: &[u8]) -> Result<Vec<u8>> {
        Ok(self.timed_call(method, path, body).await?.0)
    }

    /// The answer's body, with this clock (µs) as the request was written
    /// on the open connection and as the answer's end was read.
    async fn timed_call(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<(Vec<u8>, u64, u64)> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        let request = [head.as_bytes(), body].concat();
        let (answer, t0, t3) = self.raw_exchange(method, path, &request).await?;
        let Some((status, body)) = split_response(&answer) else {
            // A server killed mid-answer ends the connection before its
            // head is whole: that is the server going away (an outage,
            // within its grace), not a server answering nonsense.
            if !answer.windows(4).any(|w| w == b"\r\n\r\n") {
                return Err(Error::ServerDied(format!(
                    "{method} {path} on {}: the connection ended after {} bytes, before a whole answer head",
                    self.addr,
                    answer.len()
                )));
            }
            return Err(self.server_error(format!("{method} {path}: malformed HTTP answer")));
        };
        if !(200..300).contains(&status) {
            return Err(self.server_error(format!(
                "{method} {path}: status {status}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        Ok((body, t0, t3))
    }

    /// Writes `request` on a new connection and reads the answer to its
    /// end (the server closes: `connection: close`), with this clock (µs)
    /// as the request was written and as the answer's end was read.
    async fn raw_exchange(
        &self,
        method: &str,
        path: &str,
        request: &[u8],
    ) -> Result<(Vec<u8>, u64, u64)> {
        let exchange = async {
            let tcp = TcpStream::connect(self.addr).await?;
            let local = tcp.local_addr()?;
            let mut conn = CountingStream::new(tcp, self.traffic.clone());
            let t0 = pushbench_protocol::event::now_us();
            conn.write_all(request).await?;
            let mut answer = Vec::new();
            (&mut conn)
                .take(MAX_CONTROL_BODY as u64)
                .read_to_end(&mut answer)
                .await?;
            let t3 = pushbench_protocol::event::now_us();
            lock(&self.connections).push(ControlConnection {
                local,
                sent: request.len() as u64,
                received: answer.len() as u64,
            });
            Ok::<_, std::io::Error>((answer, t0, t3))
        };
        match tokio::time::timeout(CONTROL_TIMEOUT, exchange).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(Error::ServerDied(format!(
                "{method} {path} on {}: {e}",
                self.addr
            ))),
            Err(_) => Err(Error::ServerDied(format!(
                "{method} {path} on {} got no answer within {CONTROL_TIMEOUT:?}",
                self.addr
            ))),
        }
    }
}

/// Splits a whole `connection: close` answer into status and (de-chunked)
/// body; `None` when it is not a well-formed HTTP answer.
///
/// Public only so the fuzz target `control` (`fuzz/`) can drive it with
/// arbitrary bytes: it parses what a server sent, so it must never panic.
pub fn split_response(answer: &[u8]) -> Option<(u16, Vec<u8>)> {
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&answer[..end]).ok()?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let body = &answer[end + 4..];
    let chunked = is_chunked(head);
    if !chunked {
        return Some((status, body.to_vec()));
    }
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(
            std::str::from_utf8(&rest[..line_end])
                .ok()?
                .split(';')
                .next()?
                .trim(),
            16,
        )
        .ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some((status, out));
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_read_when_the_server_names_it() {
        let with: Stats = serde_json::from_str(
            r#"{"last_seq": 3, "process": {"cpu_seconds": 0.5, "rss_bytes": 1},
                "generator": {"rate": 37.0, "payload": 64, "topics": 2}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            with.generator,
            Some(Generator {
                rate: 37.0,
                payload: 64,
                topics: 2
            })
        );
        let without: Stats = serde_json::from_str(
            r#"{"last_seq": 3, "process": {"cpu_seconds": 0, "rss_bytes": 0}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(without.generator, None, "older servers and other peers");
    }

    #[test]
    fn answers_split_with_and_without_chunking() {
        assert_eq!(
            split_response(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"),
            Some((200, b"{}".to_vec()))
        );
        assert_eq!(
            split_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n1\r\n \r\n0\r\n\r\n"),
            Some((200, b"{} ".to_vec()))
        );
        assert_eq!(split_response(b"garbage"), None);
    }
}
