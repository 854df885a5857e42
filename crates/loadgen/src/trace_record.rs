//! One real exchange of one transport, recorded byte by byte for
//! `pushbench trace`.
//!
//! The trace client is the load generator's client in miniature: the same
//! requests ([`ClientSpec::request`]), the same WebSocket client
//! (tokio-tungstenite), a [`CountingStream`] around the socket, and the same
//! wire [`Classifier`](pushbench_protocol::Classifier) booking every byte. Instead of adding the classes up,
//! it keeps every classified segment in order, so the trace shows exactly
//! the bytes the benchmark counts.
//!
//! Against the embedded server (the default) the trace publishes the events
//! itself, one at a time, so the exchange is the same on every run apart
//! from dates, creation times, ports and WebSocket keys:
//! - short polling: one poll per event (published just before it), then one
//!   poll that finds nothing;
//! - long polling: one held poll per event (published just after it);
//! - streaming, SSE, WebSocket: one request, the events pushed live one at a
//!   time, then the client leaves (a WebSocket close handshake; a plain
//!   TCP close for the HTTP ones, which carries no HTTP bytes).
//!
//! Against `--target` the events come from that server's generator; a
//! target of another kind (`--target-kind`) is published into by the trace
//! in the background ([`Publisher`], a few events a second) once the
//! client has made its first request, and the client speaks that kind's
//! dialect ([`crate::peer_state`]). The embedded server is handed in ([`TraceServer::Embedded`]): this crate
//! knows no server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use h2::client::{ResponseFuture, SendRequest};
use h2::{RecvStream, SendStream};
use pushbench_net::counting::CountingStream;
use pushbench_net::embedding::{EmbeddedServer, ServeSpec, StartError, StartServer};
use pushbench_protocol::{ContentCoding, HeaderProfile, HttpVersion, TargetKind, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::client_spec::{ClientSpec, Schedule};
use crate::control_client::ControlClient;
use crate::lock;
use crate::path_sides::PathSides;
use crate::publisher::{PublishPlan, Publisher};
use crate::request_headers::RequestProfile;
use crate::trace_tally::Recorder;
pub use crate::trace_tally::Segment;
use crate::{Error, Result};

/// Which server the trace talks to.
#[derive(Clone, Debug)]
pub enum TraceServer {
    /// A running server (`--target`); its own generator publishes.
    Target(SocketAddr),
    /// A server started on `127.0.0.1:0` for the trace, which publishes
    /// the events itself.
    Embedded(Arc<dyn StartServer>),
}

/// What to trace.
#[derive(Clone, Debug)]
pub struct TraceOptions {
    /// The transport of the one exchange.
    pub transport: Transport,
    /// The server.
    pub server: TraceServer,
    /// Events to receive before the client leaves.
    pub events: u64,
    /// Payload bytes of the events the embedded server publishes.
    pub payload: usize,
    /// The request header profile (`minimal`, `browser`, a header file).
    pub profile: HeaderProfile,
    /// Extra request header lines (`Name: value`) added after the
    /// profile's to every request (or to the WebSocket upgrade).
    pub headers: Vec<(String, String)>,
    /// The embedded server's response header profile (a `--target`
    /// answers with its own).
    pub response_profile: HeaderProfile,
    /// Short-poll interval against `--target` (the embedded server is
    /// polled once per event it publishes).
    pub poll_interval: Duration,
    /// The whole exchange must finish within this.
    pub timeout: Duration,
    /// HTTP/1.1, or HTTP/2 with prior knowledge (h2c).
    pub http: HttpVersion,
    /// The kind of server a `--target` is (pushbench's own by default).
    pub kind: TargetKind,
    /// The network path: the client's socket is made at its client side
    /// and dials a `--target` at the host's end of it. The embedded server
    /// listens on loopback, so it runs only on the loopback path.
    pub path: PathSides,
}

impl TraceOptions {
    /// Two 16-byte events over a WebSocket from `server`, with minimal
    /// headers, over HTTP/1.1.
    pub fn new(server: TraceServer) -> Self {
        TraceOptions {
            transport: Transport::Ws,
            server,
            events: 2,
            payload: 16,
            profile: HeaderProfile::Minimal,
            headers: Vec::new(),
            response_profile: HeaderProfile::Minimal,
            poll_interval: Duration::from_millis(500),
            timeout: Duration::from_secs(30),
            http: HttpVersion::Http1,
            kind: TargetKind::Pushbench,
            path: PathSides::default(),
        }
    }
}

/// One recorded exchange.
#[derive(Clone, Debug)]
pub struct Trace {
    /// The transport.
    pub transport: Transport,
    /// The server the client talked to.
    pub server: SocketAddr,
    /// Whether that server was the embedded one.
    pub embedded: bool,
    /// Every byte of the connection, classified, in the order the
    /// classifier released it.
    pub segments: Vec<Segment>,
    /// Events delivered.
    pub delivered: u64,
    /// Bytes written to and read from the socket (must equal the segments').
    pub socket: (u64, u64),
    /// Requests sent (polls, or the one streaming request or upgrade).
    pub requests: u64,
    /// The HTTP version spoken.
    pub http: HttpVersion,
}

type Conn = CountingStream<TcpStream, Recorder>;

/// Where the events come from.
enum Source {
    /// The embedded server: the trace publishes.
    Embedded(Box<dyn EmbeddedServer>, usize),
    /// A running server's own generator.
    Target,
    /// A server of another kind, published into in the background from the
    /// first [`Source::publish`] on.
    Relay(Publisher, PublishPlan),
}

/// How fast the trace publishes into a server of another kind: a few
/// events a second, so each shows as an exchange of its own.
const RELAY_RATE: f64 = 4.0;

impl Source {
    /// Publishes the next event (the embedded server), or makes sure the
    /// background publishing runs (a server of another kind).
    async fn publish(&self) {
        match self {
            Source::Embedded(server, payload) => {
                server.publish_generated(*payload);
            }
            Source::Relay(publisher, plan) if publisher.rate() == 0.0 => {
                publisher.start(*plan).await;
            }
            Source::Relay(..) | Source::Target => {}
        }
    }

    /// Whether the trace itself decides when each event is published.
    fn in_step(&self) -> bool {
        matches!(self, Source::Embedded(..))
    }
}

/// Runs one exchange of `opts.transport` and returns every byte of it.
pub async fn record(opts: &TraceOptions) -> Result<Trace> {
    let profile = RequestProfile::resolve(&opts.profile).map_err(Error::Scenario)?;
    let (source, server, cursor) = match &opts.server {
        &TraceServer::Target(addr) if !opts.kind.is_pushbench() => {
            ControlClient::new(addr).probe(opts.kind).await?;
            let plan = PublishPlan {
                rate: RELAY_RATE,
                burst: 1,
                payload: opts.payload,
                topics: 1,
            };
            let publisher = Publisher::new(opts.kind, addr);
            let cursor = publisher.last_seq();
            let source = Source::Relay(publisher, plan);
            (source, opts.path.server_addr(addr.port()), cursor)
        }
        &TraceServer::Target(addr) => {
            let stats = ControlClient::new(addr).stats(false).await?;
            (
                Source::Target,
                opts.path.server_addr(addr.port()),
                stats.last_seq,
            )
        }
        TraceServer::Embedded(starter) => {
            let spec = ServeSpec {
                rate: 0.0,
                burst: 1,
                payload: opts.payload,
                topics: 1,
                ring: crate::target::ring_for(0.0) as usize,
                response_headers: opts.response_profile.clone(),
                compression: Vec::new(),
                tls: false,
                // Over an emulated link the clients reach it at the
                // link's host end.
                every_address: !opts.path.is_loopback(),
            };
            let running = starter.start(spec).await.map_err(|e| match e {
                StartError::ResponseHeaders(e) => Error::Scenario(e),
                StartError::Tls(e) => Error::Tls(e),
                StartError::Io(e) => Error::io("starting the embedded server", e),
            })?;
            let addr = opts.path.server_addr(running.local_addr().port());
            let cursor = running.last_seq();
            (Source::Embedded(running, opts.payload), addr, cursor)
        }
    };
    let spec = ClientSpec {
        transport: opts.transport,
        kind: opts.kind,
        server,
        start_cursor: cursor,
        schedule: Schedule::for_transport(opts.transport, opts.poll_interval),
        // Held up to 30 s against a target; the embedded server answers at once.
        longpoll_timeout_s: 30,
        ws_binary: false,
        clients: 1,
        source_addresses: 0,
        // A trace is one exchange; it never reconnects.
        give_up_after: Duration::ZERO,
        headers: profile
            .headers(opts.transport, server)
            .into_iter()
            .chain(opts.headers.iter().cloned())
            .collect(),
        // `pushbench trace` shows plaintext exchanges.
        tls: None,
        keep_alive: true,
        http: opts.http,
        coding: ContentCoding::Identity,
        h2_streams: 1,
        path: opts.path.clone(),
    };
    let recorder = Recorder::new(opts.kind, opts.transport, opts.http);
    let (tcp, _) = crate::connection::dial(&opts.path, server, None)
        .await
        .map_err(|kind| Error::Server {
            url: format!("http://{server}"),
            message: kind,
        })?;
    let _ = tcp.set_nodelay(true);
    let conn = CountingStream::new(tcp, recorder.clone());
    let exchange = Exchange {
        spec: &spec,
        opts,
        source: &source,
        recorder: &recorder,
    };
    let requests = match tokio::time::timeout(opts.timeout, exchange.run(conn, cursor)).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(Error::Server {
                url: format!("http://{server}"),
                message: format!(
                    "the exchange did not finish within {} s",
                    opts.timeout.as_secs()
                ),
            });
        }
    };
    recorder.finish();
    match source {
        Source::Embedded(running, _) => {
            let _ = running.shutdown_within(Duration::from_secs(1)).await;
        }
        Source::Relay(publisher, _) => publisher.stop().await,
        Source::Target => {}
    }
    let rec = lock(&recorder.0);
    Ok(Trace {
        transport: opts.transport,
        server,
        embedded: matches!(opts.server, TraceServer::Embedded(_)),
        segments: rec.segments.clone(),
        delivered: rec.delivered,
        socket: rec.socket,
        requests,
        http: opts.http,
    })
}

struct Exchange<'a> {
    spec: &'a ClientSpec,
    opts: &'a TraceOptions,
    source: &'a Source,
    recorder: &'a Recorder,
}

/// What carries the trace's requests: the counted connection itself over
/// HTTP/1.1, or an h2 client on it (its connection driven by a task of its
/// own) over HTTP/2, with the latest request's answer: its head still to
/// come, then its body.
enum Channel {
    Http1(Conn),
    Http2 {
        send: SendRequest<Bytes>,
        answer: Option<ResponseFuture>,
        body: Option<RecvStream>,
    },
}

impl Exchange<'_> {
    fn server_error(&self, what: &str, e: &dyn std::fmt::Display) -> Error {
        Error::Server {
            url: format!("http://{}", self.spec.server),
            message: format!("{what}: {e}"),
        }
    }

    /// Runs the exchange; returns how many requests it sent.
    async fn run(&self, conn: Conn, cursor: u64) -> Result<u64> {
        let (mut channel, driver) = match self.spec.http {
            HttpVersion::Http1 => (Channel::Http1(conn), None),
            HttpVersion::Http2 => {
                let (send, connection) = h2::client::handshake(conn)
                    .await
                    .map_err(|e| self.server_error("HTTP/2 handshake", &e))?;
                let driver = tokio::spawn(connection);
                let channel = Channel::Http2 {
                    send,
                    answer: None,
                    body: None,
                };
                (channel, Some(driver))
            }
        };
        let requests = match self.spec.transport {
            Transport::ShortPoll | Transport::LongPoll => self.polls(&mut channel, cursor).await,
            Transport::Stream | Transport::Sse => self.stream(&mut channel, cursor).await,
            Transport::Ws => self.websocket(channel, cursor).await,
        };
        if let Some(driver) = driver {
            // With every handle and stream gone, h2 ends the connection
            // (GOAWAY); its bytes belong to the trace.
            let _ = tokio::time::timeout(Duration::from_secs(2), driver).await;
        }
        requests
    }

    /// Reads until `done(delivered, ended, heads)` holds.
    async fn read_until(
        &self,
        channel: &mut Channel,
        done: impl Fn(u64, u64, u64) -> bool,
    ) -> Result<()> {
        let mut buf = vec![0u8; 8 * 1024];
        loop {
            let (delivered, ended, heads) = self.recorder.progress()?;
            if done(delivered, ended, heads) {
                return Ok(());
            }
            let more = match channel {
                Channel::Http1(conn) => {
                    conn.read(&mut buf)
                        .await
                        .map_err(|e| Error::io("reading the answer", e))?
                        > 0
                }
                // The connection's task reads the socket (and so the
                // recorder sees the bytes) before h2 hands the body here.
                Channel::Http2 { answer, body, .. } if answer.is_some() => {
                    if let Some(answer) = answer.take() {
                        let response = answer
                            .await
                            .map_err(|e| self.server_error("reading the answer", &e))?;
                        *body = Some(response.into_body());
                    }
                    true
                }
                Channel::Http2 { body, .. } => match body.as_mut() {
                    Some(body) => match body.data().await {
                        Some(Ok(chunk)) => {
                            let _ = body.flow_control().release_capacity(chunk.len());
                            true
                        }
                        Some(Err(e)) => return Err(self.server_error("reading the answer", &e)),
                        None => false,
                    },
                    None => false,
                },
            };
            if !more {
                // An HTTP/2 body ends with its stream; the classifier has
                // seen the END_STREAM by then.
                let (delivered, ended, heads) = self.recorder.progress()?;
                if done(delivered, ended, heads) {
                    return Ok(());
                }
                return Err(self.server_error("reading", &"closed the connection"));
            }
        }
    }

    async fn send(&self, channel: &mut Channel, cursor: u64) -> Result<()> {
        match channel {
            Channel::Http1(conn) => {
                let request = self
                    .recorder
                    .with_peer(|peer| crate::peer_state::request(self.spec, cursor, peer));
                conn.write_all(request.as_bytes())
                    .await
                    .map_err(|e| Error::io("sending the request", e))
            }
            // The request is queued on its stream at once (h2's task
            // writes it); its answer is awaited by `read_until`, as an
            // HTTP/1.1 answer is read there.
            Channel::Http2 { send, answer, body } => {
                let request = self
                    .spec
                    .h2_request(cursor)
                    .map_err(|e| self.server_error("request", &e))?;
                let h2_error = |e: h2::Error| self.server_error("HTTP/2", &e);
                let mut ready = send.clone().ready().await.map_err(h2_error)?;
                *answer = Some(ready.send_request(request, true).map_err(h2_error)?.0);
                *body = None;
                Ok(())
            }
        }
    }

    /// Opens a stream for `request` and waits for its response head.
    async fn h2_open(
        &self,
        send: &SendRequest<Bytes>,
        request: http::Request<()>,
    ) -> Result<(http::Response<RecvStream>, SendStream<Bytes>)> {
        let h2_error = |e: h2::Error| self.server_error("HTTP/2", &e);
        let mut send = send.clone().ready().await.map_err(h2_error)?;
        let get = request.method() == http::Method::GET;
        let (response, upstream) = send.send_request(request, get).map_err(h2_error)?;
        Ok((response.await.map_err(h2_error)?, upstream))
    }

    async fn polls(&self, channel: &mut Channel, mut cursor: u64) -> Result<u64> {
        let embedded = self.source.in_step();
        let long = self.spec.transport == Transport::LongPoll;
        let mut requests = 0;
        loop {
            let (delivered, ..) = self.recorder.progress()?;
            // Embedded short polling: one empty poll after the last event.
            let finished = delivered >= self.opts.events;
            if finished && (long || !embedded || requests > self.opts.events) {
                return Ok(requests);
            }
            if embedded && !long && !finished {
                self.source.publish().await;
            }
            self.send(channel, cursor).await?;
            requests += 1;
            if long || !embedded {
                self.source.publish().await;
            }
            self.read_until(channel, |_, ended, _| ended >= requests)
                .await?;
            cursor = self.spec.start_cursor + self.recorder.progress()?.0;
            if !embedded && !long && self.recorder.progress()?.0 < self.opts.events {
                tokio::time::sleep(self.opts.poll_interval).await;
            }
        }
    }

    async fn stream(&self, channel: &mut Channel, cursor: u64) -> Result<u64> {
        self.send(channel, cursor).await?;
        self.read_until(channel, |_, _, heads| heads >= 1).await?;
        for i in 1..=self.opts.events {
            self.source.publish().await;
            self.read_until(channel, |delivered, _, _| delivered >= i)
                .await?;
        }
        Ok(1)
    }

    async fn websocket(&self, channel: Channel, cursor: u64) -> Result<u64> {
        match channel {
            Channel::Http1(conn) => {
                let target = self
                    .recorder
                    .with_peer(|peer| crate::peer_state::ws_target(self.spec, cursor, peer));
                let request = self
                    .spec
                    .ws_request_to(&target)
                    .map_err(|e| self.server_error("ws request", &e))?;
                let (ws, _) = tokio_tungstenite::client_async(request, conn)
                    .await
                    .map_err(|e| self.server_error("ws handshake", &e))?;
                self.ws_messages(ws).await
            }
            Channel::Http2 { send, .. } => {
                let deadline =
                    tokio::time::Instant::now() + crate::h2_client::EXTENDED_CONNECT_WAIT;
                while !send.is_extended_connect_protocol_enabled() {
                    if tokio::time::Instant::now() >= deadline {
                        return Err(self.server_error(
                            "ws over HTTP/2",
                            &"the server does not enable extended CONNECT (RFC 8441)",
                        ));
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                let request = self
                    .spec
                    .h2_ws_request(cursor)
                    .map_err(|e| self.server_error("ws request", &e))?;
                let (response, upstream) = self.h2_open(&send, request).await?;
                if !response.status().is_success() {
                    return Err(self.server_error("ws handshake", &response.status()));
                }
                let stream = crate::h2_io::H2Stream::new(upstream, response.into_body());
                let ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
                    stream,
                    tokio_tungstenite::tungstenite::protocol::Role::Client,
                    None,
                )
                .await;
                self.ws_messages(ws).await
            }
        }
    }

    /// The WebSocket part of the exchange, whatever carries it.
    async fn ws_messages<S>(&self, mut ws: tokio_tungstenite::WebSocketStream<S>) -> Result<u64>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let ws_error = |what: &str, e: &dyn std::fmt::Display| self.server_error(what, e);
        for i in 1..=self.opts.events {
            self.source.publish().await;
            while self.recorder.progress()?.0 < i {
                match ws.next().await {
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(ws_error("reading", &e)),
                    None => return Err(ws_error("reading", &"closed by server")),
                }
                // What the dialect owes the server (an Engine.IO pong).
                let replies = self.recorder.with_peer(|peer| {
                    // tungstenite answers pings and closes itself.
                    peer.ws_control = Default::default();
                    crate::peer_state::ws_replies(self.spec, peer)
                });
                for reply in replies {
                    ws.send(Message::text(reply))
                        .await
                        .map_err(|e| ws_error("replying", &e))?;
                }
            }
        }
        // Leave as a browser does: close code 1000, then read the server's
        // close frame.
        let close = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        ws.send(Message::Close(Some(close)))
            .await
            .map_err(|e| ws_error("closing", &e))?;
        while let Some(Ok(_)) = ws.next().await {}
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pushbench_protocol::{ByteClass, Direction};

    fn options(transport: Transport) -> TraceOptions {
        // The real server, a dev-dependency only.
        let server = pushbench_server::in_process::InProcess::default();
        TraceOptions {
            transport,
            ..TraceOptions::new(TraceServer::Embedded(Arc::new(server)))
        }
    }

    #[tokio::test]
    async fn every_transport_delivers_and_the_segments_add_up_to_the_socket() {
        for (transport, http) in Transport::ALL
            .into_iter()
            .flat_map(|t| HttpVersion::ALL.map(|h| (t, h)))
        {
            let options = TraceOptions {
                http,
                ..options(transport)
            };
            let trace = record(&options).await.expect("trace");
            let transport = format!("{transport} over HTTP/{http}");
            assert_eq!(trace.delivered, 2, "{transport}");
            let sum = |d: Direction| {
                trace
                    .segments
                    .iter()
                    .filter(|s| s.direction == d)
                    .map(|s| s.bytes.len() as u64)
                    .sum::<u64>()
            };
            assert_eq!(
                (sum(Direction::Sent), sum(Direction::Received)),
                trace.socket,
                "{transport}"
            );
            let frames = trace
                .segments
                .iter()
                .any(|s| s.class == ByteClass::H2Frames);
            assert_eq!(frames, http == HttpVersion::Http2, "{transport}");
        }
    }

    #[tokio::test]
    async fn short_polling_ends_with_an_empty_poll_booked_as_control() {
        let trace = record(&options(Transport::ShortPoll)).await.expect("trace");
        assert_eq!(trace.requests, 3);
        let last = trace.segments.last().expect("segments");
        assert_eq!(
            (last.direction, last.class),
            (Direction::Received, ByteClass::Control)
        );
    }
}
