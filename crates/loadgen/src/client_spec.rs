//! What every client of a phase shares ([`ClientSpec`]: the transport,
//! the server, the schedule, the header profile) and the requests it makes
//! of it: the HTTP/1.1 request, the WebSocket upgrade, and their HTTP/2
//! forms.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use pushbench_protocol::{ContentCoding, HttpVersion, TargetKind, Transport};

/// When a client asks again on its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Short polling: a new request every interval (fixed rate, not fixed
    /// delay, so a slow answer does not thin the polls out).
    Every(Duration),
    /// Long polling: a new request as soon as the answer arrived.
    Immediately,
    /// Streaming, SSE, WebSocket: one request, then read forever.
    Once,
}

impl Schedule {
    /// The schedule of `transport`. A zero poll interval polls back to
    /// back, each request as soon as the previous answer ended (what `wrk`
    /// does): the request rate the server can answer.
    pub fn for_transport(transport: Transport, poll_interval: Duration) -> Self {
        match transport {
            Transport::ShortPoll if poll_interval.is_zero() => Schedule::Immediately,
            Transport::ShortPoll => Schedule::Every(poll_interval),
            Transport::LongPoll => Schedule::Immediately,
            Transport::Stream | Transport::Sse | Transport::Ws => Schedule::Once,
        }
    }
}

/// What every client of a phase shares.
#[derive(Clone, Debug)]
pub struct ClientSpec {
    /// The transport.
    pub transport: Transport,
    /// The kind of server, whose dialect the clients speak
    /// ([`crate::peer_state`]).
    pub kind: TargetKind,
    /// The server.
    pub server: SocketAddr,
    /// The phase's start cursor: every client asks for everything after it.
    pub start_cursor: u64,
    /// When to ask again.
    pub schedule: Schedule,
    /// Long-poll hold, seconds (sent as `timeout=`).
    pub longpoll_timeout_s: u64,
    /// WebSocket binary encoding.
    pub ws_binary: bool,
    /// Clients of this phase (to spread source addresses).
    pub clients: usize,
    /// Loopback source addresses to spread the clients over (0: only when
    /// one address runs out of ports).
    pub source_addresses: u8,
    /// How long a client keeps reconnecting while every attempt fails
    /// (see [`Backoff`](crate::backoff::Backoff)).
    pub give_up_after: Duration,
    /// Header lines after `host` in every request, or added to the
    /// WebSocket upgrade: the phase's header profile for this transport
    /// ([`crate::request_headers::RequestProfile::headers`]).
    pub headers: Vec<(String, String)>,
    /// Speak TLS (https, wss) with this configuration, which pins the
    /// server's certificate; `None` for plaintext.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Keep the connection between polls (HTTP/1.1's default); false:
    /// every request says `connection: close` on a new connection, which
    /// the server closes after answering (HTTP/1.0 style).
    pub keep_alive: bool,
    /// The HTTP version to speak.
    pub http: HttpVersion,
    /// The content coding to ask for (`Accept-Encoding`).
    pub coding: ContentCoding,
    /// HTTP/2: clients per connection, each on its own stream.
    pub h2_streams: u32,
    /// The network path: sockets are made at its client side, `TCP_INFO`
    /// read at both.
    pub path: crate::path_sides::PathSides,
}

/// Ephemeral ports one source address can use toward one server port,
/// with a margin below Linux's default range of 28,232.
pub const PORTS_PER_SOURCE: usize = 25_000;

/// A WebSocket upgrade request, as the client library takes it.
pub type WsRequest = tokio_tungstenite::tungstenite::handshake::client::Request;

/// Request headers HTTP/2 forbids (RFC 9113 section 8.2.2) or carries as a
/// pseudo-header (`host` is `:authority`): dropped from a header profile.
const HTTP1_ONLY: [&str; 6] = [
    "connection",
    "upgrade",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "host",
];

impl ClientSpec {
    /// The source address of client `id` toward a loopback server: with
    /// `source_addresses` N set, 127.0.0.(1 + id mod N); otherwise the OS
    /// default unless the phase needs more ports than one address has,
    /// then 127.0.0.x in blocks of [`PORTS_PER_SOURCE`].
    pub fn source_ip(&self, id: usize) -> Option<IpAddr> {
        if !self.server.ip().is_loopback() {
            return None;
        }
        let octet = match self.source_addresses {
            0 if self.clients <= PORTS_PER_SOURCE => return None,
            0 => 1 + id / PORTS_PER_SOURCE,
            n => 1 + id % usize::from(n),
        };
        Some(IpAddr::from([
            127,
            0,
            0,
            u8::try_from(octet).unwrap_or(u8::MAX),
        ]))
    }

    /// The request target (path and query) asking for everything after `cursor`.
    pub fn target(&self, cursor: u64) -> String {
        let path = self.transport.path();
        match self.transport {
            Transport::LongPoll => {
                format!("{path}?since={cursor}&timeout={}", self.longpoll_timeout_s)
            }
            Transport::Ws if self.ws_binary => format!("{path}?since={cursor}&format=binary"),
            _ => format!("{path}?since={cursor}"),
        }
    }

    /// The HTTP/1.1 request for `cursor` (keep-alive is HTTP/1.1's default):
    /// the request line, `host`, then the profile's [`ClientSpec::headers`],
    /// then `connection: close` when the spec does not keep the connection
    /// (a header profile may not set `connection` itself).
    pub fn request(&self, cursor: u64) -> String {
        self.http_request("GET", &self.target(cursor), &[], "")
    }

    /// An HTTP/1.1 request of any kind of server: `method target`, `host`,
    /// the profile's headers, then `extra` (a resume header such as
    /// `If-None-Match`), `connection: close` when the spec does not keep
    /// the connection, and `body` with its `content-length` when not empty.
    pub fn http_request(
        &self,
        method: &str,
        target: &str,
        extra: &[(&str, &str)],
        body: &str,
    ) -> String {
        let mut head = format!("{method} {target} HTTP/1.1\r\nhost: {}\r\n", self.server);
        let profile = self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
        for (name, value) in profile.chain(extra.iter().copied()) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if !self.keep_alive {
            head.push_str("connection: close\r\n");
        }
        if !body.is_empty() {
            head.push_str(&format!("content-length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        head.push_str(body);
        head
    }

    /// The WebSocket upgrade request for `cursor`: the library's handshake
    /// headers plus the profile's.
    pub fn ws_request(
        &self,
        cursor: u64,
    ) -> Result<WsRequest, tokio_tungstenite::tungstenite::Error> {
        self.ws_request_to(&self.target(cursor))
    }

    /// The WebSocket upgrade request for `target` (path and query).
    pub fn ws_request_to(
        &self,
        target: &str,
    ) -> Result<WsRequest, tokio_tungstenite::tungstenite::Error> {
        use tokio_tungstenite::tungstenite;
        use tungstenite::client::IntoClientRequest as _;
        use tungstenite::http::{HeaderName, HeaderValue};
        let scheme = if self.tls.is_some() { "wss" } else { "ws" };
        let url = format!("{scheme}://{}{target}", self.server);
        let mut request = url.into_client_request()?;
        for (name, value) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(http::Error::from)?;
            let value = HeaderValue::from_str(value).map_err(http::Error::from)?;
            request.headers_mut().append(name, value);
        }
        Ok(request)
    }

    /// The request URI: the scheme, the server and [`ClientSpec::target`].
    fn h2_uri(&self, cursor: u64) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}{}", self.server, self.target(cursor))
    }

    /// The profile's headers that HTTP/2 carries ([`HTTP1_ONLY`] dropped),
    /// as regular (lowercase) headers.
    fn h2_headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers
            .iter()
            .filter(|(name, _)| !HTTP1_ONLY.iter().any(|h| name.eq_ignore_ascii_case(h)))
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// The HTTP/2 GET for `cursor`: the same target and profile headers as
    /// [`ClientSpec::request`], `host` as `:authority`.
    pub fn h2_request(&self, cursor: u64) -> Result<http::Request<()>, http::Error> {
        let mut request = http::Request::get(self.h2_uri(cursor));
        for (name, value) in self.h2_headers() {
            request = request.header(name, value);
        }
        request.body(())
    }

    /// The extended CONNECT for a WebSocket over HTTP/2 (RFC 8441):
    /// `:protocol websocket`, `sec-websocket-version: 13` and the profile's
    /// headers (no key: the stream is the handshake's proof).
    pub fn h2_ws_request(&self, cursor: u64) -> Result<http::Request<()>, http::Error> {
        let mut request = http::Request::builder()
            .method(http::Method::CONNECT)
            .uri(self.h2_uri(cursor))
            .extension(h2::ext::Protocol::from_static("websocket"))
            .header("sec-websocket-version", "13");
        for (name, value) in self.h2_headers() {
            request = request.header(name, value);
        }
        request.body(())
    }
}

/// A phase's spec for unit tests: `clients` clients of `transport` to
/// pushbench's server on 127.0.0.1:8080, the minimal header profile.
#[cfg(test)]
pub(crate) fn test_spec(transport: Transport, clients: usize) -> ClientSpec {
    ClientSpec {
        transport,
        kind: TargetKind::Pushbench,
        server: SocketAddr::from(([127, 0, 0, 1], 8080)),
        start_cursor: 0,
        schedule: Schedule::for_transport(transport, Duration::from_millis(250)),
        longpoll_timeout_s: 30,
        ws_binary: true,
        clients,
        source_addresses: 0,
        give_up_after: Duration::from_secs(10),
        headers: crate::request_headers::RequestProfile::Minimal
            .headers(transport, SocketAddr::from(([127, 0, 0, 1], 8080))),
        tls: None,
        keep_alive: true,
        http: HttpVersion::Http1,
        coding: ContentCoding::Identity,
        h2_streams: 1,
        path: crate::path_sides::PathSides::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(transport: Transport, clients: usize) -> ClientSpec {
        test_spec(transport, clients)
    }

    #[test]
    fn requests_follow_the_server_contract() {
        // The minimal requests, byte for byte.
        let host = "host: 127.0.0.1:8080\r\n";
        for (transport, cursor, line, extra) in [
            (Transport::ShortPoll, 7, "GET /poll?since=7", ""),
            (
                Transport::Sse,
                3,
                "GET /sse?since=3",
                "accept: text/event-stream\r\n",
            ),
            (Transport::Stream, 3, "GET /stream?since=3", ""),
        ] {
            assert_eq!(
                spec(transport, 1).request(cursor),
                format!("{line} HTTP/1.1\r\n{host}{extra}\r\n")
            );
        }
        assert_eq!(
            spec(Transport::LongPoll, 1).target(7),
            "/longpoll?since=7&timeout=30"
        );
        assert_eq!(
            spec(Transport::Ws, 1).target(0),
            "/ws?since=0&format=binary"
        );
        let ws = spec(Transport::Ws, 1).ws_request(0).expect("ws request");
        assert_eq!(ws.headers().len(), 5, "{:?}", ws.headers());
        assert_eq!(
            Schedule::for_transport(Transport::Sse, Duration::ZERO),
            Schedule::Once
        );
    }

    #[test]
    fn profile_headers_follow_host() {
        let mut spec = spec(Transport::ShortPoll, 1);
        spec.headers = vec![
            ("User-Agent".into(), "x/1".into()),
            ("Cookie".into(), "a=b".into()),
        ];
        assert_eq!(
            spec.request(0),
            "GET /poll?since=0 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nUser-Agent: x/1\r\nCookie: a=b\r\n\r\n"
        );
        spec.transport = Transport::Ws;
        let ws = spec.ws_request(0).expect("ws request");
        assert_eq!(
            ws.headers().get("cookie").map(|v| v.as_bytes()),
            Some(&b"a=b"[..])
        );
    }

    #[test]
    fn without_keep_alive_every_request_says_close() {
        let mut spec = spec(Transport::LongPoll, 1);
        spec.keep_alive = false;
        spec.headers = vec![("User-Agent".into(), "x/1".into())];
        assert_eq!(
            spec.request(9),
            "GET /longpoll?since=9&timeout=30 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\n\
             User-Agent: x/1\r\nconnection: close\r\n\r\n"
        );
        spec.keep_alive = true;
        assert!(!spec.request(9).contains("connection"));
    }

    #[test]
    fn source_addresses_spread_round_robin_when_asked() {
        let spread = ClientSpec {
            source_addresses: 4,
            ..spec(Transport::Ws, 100)
        };
        let octets: Vec<Option<IpAddr>> = (0..5).map(|id| spread.source_ip(id)).collect();
        assert_eq!(
            octets,
            [1, 2, 3, 4, 1].map(|o| Some(IpAddr::from([127, 0, 0, o])))
        );
        let remote = ClientSpec {
            server: SocketAddr::from(([10, 0, 0, 1], 80)),
            ..spread
        };
        assert_eq!(remote.source_ip(1), None);
    }

    #[test]
    fn source_addresses_spread_only_when_needed() {
        assert_eq!(spec(Transport::Ws, 100).source_ip(99), None);
        let big = spec(Transport::Ws, 60_000);
        assert_eq!(big.source_ip(0), Some(IpAddr::from([127, 0, 0, 1])));
        assert_eq!(
            big.source_ip(PORTS_PER_SOURCE),
            Some(IpAddr::from([127, 0, 0, 2]))
        );
    }

    /// An HTTP/2 client's spec with the browser profile.
    fn h2_spec(transport: Transport) -> ClientSpec {
        let server = SocketAddr::from(([127, 0, 0, 1], 8080));
        ClientSpec {
            ws_binary: false,
            headers: crate::request_headers::RequestProfile::Browser { cookie_bytes: 8 }
                .headers(transport, server),
            http: HttpVersion::Http2,
            ..spec(transport, 1)
        }
    }

    #[test]
    fn requests_carry_the_http1_target_and_headers_minus_the_http1_only_ones() {
        let mut poll = h2_spec(Transport::LongPoll);
        poll.headers
            .push(("Connection".into(), "keep-alive".into()));
        poll.headers.push(("Host".into(), "elsewhere".into()));
        let request = poll.h2_request(7).expect("request");
        assert_eq!(request.method(), http::Method::GET);
        assert_eq!(
            request.uri().to_string(),
            "http://127.0.0.1:8080/longpoll?since=7&timeout=30"
        );
        assert!(request.headers().get("connection").is_none());
        assert!(request.headers().get("host").is_none());
        assert!(request.headers().get("cookie").is_some());
        // Names are lowercase, as HTTP/2 requires.
        assert!(
            request
                .headers()
                .keys()
                .all(|k| k.as_str() == k.as_str().to_lowercase())
        );
        // The browser profile's own `Connection: keep-alive` goes too.
        assert_eq!(
            request.headers().len(),
            poll.headers.len() - 3,
            "{:?}",
            poll.headers
        );

        let ws = h2_spec(Transport::Ws).h2_ws_request(3).expect("ws request");
        assert_eq!(ws.method(), http::Method::CONNECT);
        assert_eq!(
            ws.uri().path_and_query().map(|p| p.as_str()),
            Some("/ws?since=3")
        );
        assert_eq!(
            ws.extensions()
                .get::<h2::ext::Protocol>()
                .map(|p| p.as_str()),
            Some("websocket")
        );
        assert_eq!(ws.headers()["sec-websocket-version"], "13");
        assert!(ws.headers().get("sec-websocket-key").is_none());
        assert!(ws.headers().get("upgrade").is_none());
    }
}
