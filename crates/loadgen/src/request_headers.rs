//! The request header profiles (`run --headers`, `trace --headers`): which
//! header lines follow `host` in every request, or go into the WebSocket
//! upgrade, per transport.
//!
//! - `minimal`: nothing but what the server contract needs (`accept:
//!   text/event-stream` for SSE); the request is the request line and `host`.
//! - `browser`: what Chromium 156 sends for each kind of request, taken from
//!   the head it really sent (`request_headers/chromium.txt`, captured by
//!   `tests/browser/capture-heads.mjs`): a `fetch()` for short and long
//!   polls and streaming, an `EventSource` for SSE (with `Accept:
//!   text/event-stream` and `Cache-Control: no-cache`), a `WebSocket` for
//!   the upgrade (with `Origin` and the `permessage-deflate` offer, which
//!   the pushbench server declines, so the frames stay uncompressed and
//!   countable; a test checks the 101 carries no extension). Host, Origin,
//!   Referer and the cookie are made for the measured server.
//! - a header file: the minimal request plus the file's lines.

use std::net::SocketAddr;

use pushbench_protocol::header_profiles::{self, HeaderProfile, cookie_value};
use pushbench_protocol::{ContentCoding, Transport};

/// The captured Chromium heads, one `## transport` section each.
const CHROMIUM: &str = include_str!("request_headers/chromium.txt");

/// Header names the WebSocket client library writes itself on an upgrade.
const WS_LIBRARY_HEADERS: [&str; 5] = [
    "host",
    "connection",
    "upgrade",
    "sec-websocket-version",
    "sec-websocket-key",
];

/// A [`HeaderProfile`] ready to build requests: a header file is read once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestProfile {
    /// The smallest valid request.
    Minimal,
    /// Chromium's headers with a cookie of this many bytes.
    Browser {
        /// Bytes of the `Cookie` value; 0 sends none.
        cookie_bytes: usize,
    },
    /// These lines after the minimal request's.
    Lines(Vec<(String, String)>),
}

impl RequestProfile {
    /// Resolves `profile`, reading its header file; the message names the
    /// file and the bad line.
    pub fn resolve(profile: &HeaderProfile) -> Result<Self, String> {
        Ok(match profile {
            HeaderProfile::Minimal => RequestProfile::Minimal,
            HeaderProfile::Browser { cookie_bytes } => RequestProfile::Browser {
                cookie_bytes: *cookie_bytes,
            },
            HeaderProfile::File(path) => {
                RequestProfile::Lines(header_profiles::load_header_file(path)?)
            }
        })
    }

    /// The header lines after `host` of every request of `transport` to
    /// `server` (for WebSocket: the headers added to the library's upgrade).
    pub fn headers(&self, transport: Transport, server: SocketAddr) -> Vec<(String, String)> {
        let minimal = match transport {
            Transport::Sse => vec![("accept".to_owned(), "text/event-stream".to_owned())],
            _ => Vec::new(),
        };
        match self {
            RequestProfile::Minimal => minimal,
            RequestProfile::Lines(lines) => minimal.into_iter().chain(lines.clone()).collect(),
            RequestProfile::Browser { cookie_bytes } => {
                browser_headers(transport, server, *cookie_bytes)
            }
        }
    }
}

/// `headers` (a profile's lines for `transport`) asking for `coding`.
///
/// - gzip or br: one `Accept-Encoding: <coding>` line, in place of the
///   profile's own (at its position, under its spelling) or after the
///   profile's lines: the phase measures that one coding, as a server would
///   pick it for a browser that offers it first.
/// - identity, when the run's server compresses (`server_compresses`: the
///   scenario has a coded phase): the profile's own line says `identity`,
///   so the identity phase is the uncompressed baseline; a profile without
///   the line gets none, since a request without `Accept-Encoding` is
///   answered uncoded (by pushbench, and by nginx, Apache and Caddy, which
///   compress only on request), and the minimal request stays the one runs
///   without compression send.
/// - identity otherwise: the profile as it is, byte for byte.
///
/// WebSocket upgrades keep the profile's line: their frames are never
/// content-coded (no permessage-deflate on this stack, see
/// `docs/methodology.md`).
pub fn with_coding(
    mut headers: Vec<(String, String)>,
    transport: Transport,
    coding: ContentCoding,
    server_compresses: bool,
) -> Vec<(String, String)> {
    if transport == Transport::Ws || (coding == ContentCoding::Identity && !server_compresses) {
        return headers;
    }
    let is_accept = |name: &str| name.eq_ignore_ascii_case("accept-encoding");
    match headers.iter().position(|(n, _)| is_accept(n)) {
        Some(at) => {
            headers[at].1 = coding.name().to_owned();
            let mut index = 0;
            headers.retain(|(n, _)| {
                index += 1;
                index - 1 == at || !is_accept(n)
            });
        }
        None if coding != ContentCoding::Identity => {
            headers.push(("accept-encoding".to_owned(), coding.name().to_owned()));
        }
        None => {}
    }
    headers
}

/// The captured head of `transport`: its header lines, request line dropped.
fn captured(transport: Transport) -> impl Iterator<Item = (&'static str, &'static str)> {
    let marker = format!("## {}", transport.name());
    CHROMIUM
        .lines()
        .skip_while(move |line| *line != marker)
        .skip(2)
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split_once(": "))
}

/// Chromium's headers for `transport`, made for `server`.
fn browser_headers(
    transport: Transport,
    server: SocketAddr,
    cookie_bytes: usize,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, value) in captured(transport) {
        let lower = name.to_ascii_lowercase();
        if lower == "host" || (transport == Transport::Ws && WS_LIBRARY_HEADERS.contains(&&*lower))
        {
            continue;
        }
        let value = match lower.as_str() {
            "origin" => format!("http://{server}"),
            // The app's page; the capture's page was /stats.
            "referer" => format!("http://{server}/"),
            "cookie" if cookie_bytes == 0 => continue,
            "cookie" => cookie_value(cookie_bytes),
            // A headful Chromium says Chrome/; headless adds `Headless`.
            "user-agent" => value.replace("HeadlessChrome/", "Chrome/"),
            _ => value.to_owned(),
        };
        out.push((name.to_owned(), value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 8080))
    }

    fn names(headers: &[(String, String)]) -> Vec<&str> {
        headers.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn every_transport_has_a_captured_head() {
        for transport in Transport::ALL {
            let headers = RequestProfile::BROWSER.headers(transport, server());
            assert!(headers.len() >= 8, "{transport}: {headers:?}");
            for (name, value) in &headers {
                // The built-in profile may say `Connection: keep-alive` (as
                // Chromium does); everything else obeys the file rules.
                if name != "Connection" {
                    header_profiles::check_header(name, value).expect(name);
                }
            }
        }
    }

    impl RequestProfile {
        const BROWSER: RequestProfile = RequestProfile::Browser { cookie_bytes: 256 };
    }

    #[test]
    fn browser_fetch_headers_are_chromiums_in_order() {
        let headers = RequestProfile::BROWSER.headers(Transport::ShortPoll, server());
        assert_eq!(
            names(&headers),
            [
                "Connection",
                "sec-ch-ua-platform",
                "User-Agent",
                "sec-ch-ua",
                "sec-ch-ua-mobile",
                "Accept",
                "Sec-Fetch-Site",
                "Sec-Fetch-Mode",
                "Sec-Fetch-Dest",
                "Referer",
                "Accept-Encoding",
                "Accept-Language",
                "Cookie"
            ]
        );
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or_default()
        };
        assert_eq!(get("Referer"), "http://127.0.0.1:8080/");
        assert_eq!(get("Cookie").len(), 256);
        assert_eq!(
            get("User-Agent"),
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/156.0.0.0 Safari/537.36"
        );
    }

    #[test]
    fn browser_event_source_and_websocket_differ_as_chromium_does() {
        let sse = RequestProfile::BROWSER.headers(Transport::Sse, server());
        assert!(sse.contains(&("Accept".into(), "text/event-stream".into())));
        assert!(sse.contains(&("Cache-Control".into(), "no-cache".into())));
        let ws = RequestProfile::BROWSER.headers(Transport::Ws, server());
        assert_eq!(
            names(&ws),
            [
                "Pragma",
                "Cache-Control",
                "User-Agent",
                "Origin",
                "Accept-Encoding",
                "Accept-Language",
                "Cookie",
                "Sec-WebSocket-Extensions"
            ]
        );
        assert!(ws.contains(&("Origin".into(), "http://127.0.0.1:8080".into())));
        let no_cookie =
            RequestProfile::Browser { cookie_bytes: 0 }.headers(Transport::Ws, server());
        assert!(!names(&no_cookie).contains(&"Cookie"));
    }

    #[test]
    fn the_phase_coding_sets_accept_encoding() {
        use ContentCoding::{Br, Gzip, Identity};
        let browser = RequestProfile::BROWSER.headers(Transport::Sse, server());
        let value = |h: &[(String, String)]| {
            h.iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("accept-encoding"))
                .map(|(n, v)| format!("{n}: {v}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            value(&browser),
            ["Accept-Encoding: gzip, deflate, br, zstd"]
        );
        let coded = with_coding(browser.clone(), Transport::Sse, Br, true);
        assert_eq!(value(&coded), ["Accept-Encoding: br"]);
        // In place: the other lines keep their order.
        assert_eq!(names(&coded), names(&browser));
        assert_eq!(
            value(&with_coding(
                browser.clone(),
                Transport::Sse,
                Identity,
                true
            )),
            ["Accept-Encoding: identity"]
        );
        assert_eq!(
            with_coding(browser.clone(), Transport::Sse, Identity, false),
            browser
        );
        // The minimal profile: a line when coded, none for identity.
        let minimal = RequestProfile::Minimal.headers(Transport::ShortPoll, server());
        assert_eq!(
            value(&with_coding(
                minimal.clone(),
                Transport::ShortPoll,
                Gzip,
                true
            )),
            ["accept-encoding: gzip"]
        );
        assert_eq!(
            with_coding(minimal.clone(), Transport::ShortPoll, Identity, true),
            minimal
        );
        // A file repeating the line: one is left.
        let twice = vec![
            ("Accept-Encoding".to_owned(), "gzip".to_owned()),
            ("X-A".to_owned(), "1".to_owned()),
            ("accept-encoding".to_owned(), "br".to_owned()),
        ];
        assert_eq!(
            with_coding(twice, Transport::Stream, Gzip, true),
            vec![
                ("Accept-Encoding".to_owned(), "gzip".to_owned()),
                ("X-A".to_owned(), "1".to_owned()),
            ]
        );
        // WebSocket upgrades are never coded.
        let ws = RequestProfile::BROWSER.headers(Transport::Ws, server());
        assert_eq!(with_coding(ws.clone(), Transport::Ws, Gzip, true), ws);
    }

    #[test]
    fn minimal_and_file_profiles() {
        assert!(
            RequestProfile::Minimal
                .headers(Transport::Ws, server())
                .is_empty()
        );
        assert_eq!(
            RequestProfile::Minimal.headers(Transport::Sse, server()),
            vec![("accept".to_owned(), "text/event-stream".to_owned())]
        );
        let file = RequestProfile::Lines(vec![("X-A".into(), "1".into())]);
        assert_eq!(file.headers(Transport::Sse, server()).len(), 2);
        let dir = std::env::temp_dir().join(format!("pushbench-headers-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("bad.txt");
        std::fs::write(&path, "# ok\nX-A: 1\nContent-Length: 5\n").expect("write");
        let path = path.to_string_lossy().into_owned();
        let err = RequestProfile::resolve(&HeaderProfile::File(path.clone())).expect_err("bad");
        assert!(err.contains(&path) && err.contains("line 3"), "{err}");
        let err = RequestProfile::resolve(&HeaderProfile::File("/no/such/file".into()))
            .expect_err("missing");
        assert!(err.contains("/no/such/file"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
