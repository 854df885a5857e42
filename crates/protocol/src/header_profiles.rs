//! Header profiles: which extra HTTP header lines the load generator sends
//! on every request (`run --headers`) and the server on every response
//! (`serve --response-headers`), and header files (`Name: value` lines).
//!
//! A profile is named `minimal` (the smallest valid request or response),
//! `browser` (what a current Chromium sends, or what a production site
//! answers; `browser:N` sets the request's cookie to N bytes), or is the
//! path of a header file. The request sets live with the load generator
//! (its `headers` module); the response set is here ([`BROWSER_RESPONSE`],
//! [`HeaderProfile::response_lines`]), since the server sends it and the
//! load generator checks a scenario's profile before starting one. Here too
//! are the names, the file format and the rules that keep a header from
//! breaking the framing.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bytes of the `Cookie` header value the `browser` profile sends when no
/// size is named. 256 bytes is a session ID and a handful of analytics IDs:
/// the HTTP Archive's median cookie (name and value) was 36 bytes in June
/// 2020 (Paul Calvano, "An Analysis of Cookie Sizes on the Web"), and a
/// first-party request typically carries several; `browser:0` sends no
/// cookie, `browser:4096` one near the per-cookie limit browsers enforce.
pub const DEFAULT_COOKIE_BYTES: usize = 256;

/// Largest cookie a profile may name: beyond it the request head outgrows
/// the server's default 16 KiB head limit (and every browser's cookie limit).
pub const MAX_COOKIE_BYTES: usize = 8_192;

/// Which headers go on every request (or response).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum HeaderProfile {
    /// The smallest valid message (the load generator's request line and
    /// `host`; the server's status line, content headers and `date`).
    #[default]
    Minimal,
    /// A browser's request headers (or a production site's response
    /// headers); requests carry a cookie of `cookie_bytes`.
    Browser {
        /// Bytes of the `Cookie` header value; 0 sends none.
        cookie_bytes: usize,
    },
    /// The header lines of this file, added to the minimal message.
    File(String),
}

impl HeaderProfile {
    /// The `browser` profile with the default cookie.
    pub const BROWSER: HeaderProfile = HeaderProfile::Browser {
        cookie_bytes: DEFAULT_COOKIE_BYTES,
    };

    /// True for [`HeaderProfile::Minimal`].
    pub fn is_minimal(&self) -> bool {
        *self == HeaderProfile::Minimal
    }

    /// The header lines a server adds to every response under this profile:
    /// none for `minimal`, [`BROWSER_RESPONSE`] for `browser` (the cookie
    /// size is a request matter; responses set none), a header file's lines
    /// (read and [`check_header`]ed; the message names the file and the line).
    pub fn response_lines(&self) -> Result<Vec<(String, String)>, String> {
        match self {
            HeaderProfile::Minimal => Ok(Vec::new()),
            HeaderProfile::Browser { .. } => Ok(BROWSER_RESPONSE
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect()),
            HeaderProfile::File(path) => load_header_file(path),
        }
    }
}

impl fmt::Display for HeaderProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderProfile::Minimal => f.write_str("minimal"),
            HeaderProfile::Browser { cookie_bytes } if *cookie_bytes == DEFAULT_COOKIE_BYTES => {
                f.write_str("browser")
            }
            HeaderProfile::Browser { cookie_bytes } => write!(f, "browser:{cookie_bytes}"),
            HeaderProfile::File(path) => f.write_str(path),
        }
    }
}

impl FromStr for HeaderProfile {
    type Err = String;

    /// `minimal`, `browser`, `browser:N` (a cookie of N bytes) or a file path.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "" => Err("a header profile is `minimal`, `browser`, `browser:N` or a file".into()),
            "minimal" => Ok(HeaderProfile::Minimal),
            "browser" => Ok(HeaderProfile::BROWSER),
            _ => match s.strip_prefix("browser:") {
                Some(n) => match n.parse::<usize>() {
                    Ok(cookie_bytes) if cookie_bytes <= MAX_COOKIE_BYTES => {
                        Ok(HeaderProfile::Browser { cookie_bytes })
                    }
                    _ => Err(format!(
                        "`{s}`: the cookie size after `browser:` must be bytes from 0 to \
                         {MAX_COOKIE_BYTES}"
                    )),
                },
                None => Ok(HeaderProfile::File(s.to_owned())),
            },
        }
    }
}

impl Serialize for HeaderProfile {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HeaderProfile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The `browser` response headers, in the order they are sent.
///
/// `browser` is what a production push endpoint typically answers a
/// browser with, beside the content headers and `date` the server always
/// sends: the security headers the OWASP Secure Headers Project recommends
/// (HSTS, `X-Content-Type-Options`, `X-Frame-Options`, a
/// `Content-Security-Policy`, `Referrer-Policy`, the cross-origin policies;
/// values shortened to what an API endpoint needs, without its long
/// `Permissions-Policy` list), `cache-control: no-store` on answers that do
/// not set their own (streams keep `no-cache`), a `vary`, the `server` of
/// the reverse proxy such endpoints sit behind, and a request ID as proxies
/// and tracing middleware add. No `set-cookie`: the page sets the session,
/// a push endpoint does not refresh it on every answer. The heads go over
/// cleartext here, where browsers ignore HSTS; the profile models the bytes
/// of the same endpoint behind TLS. Headers hyper writes itself before
/// routing (a 400 for a malformed request, 431 for an oversized head) carry
/// no profile.
pub const BROWSER_RESPONSE: [(&str, &str); 11] = [
    ("server", "nginx"),
    ("cache-control", "no-store"),
    ("vary", "Origin, Accept-Encoding"),
    (
        "strict-transport-security",
        "max-age=63072000; includeSubDomains; preload",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    (
        "content-security-policy",
        "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'",
    ),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("x-request-id", "0f6b2c1e-8d3a-4b7e-9c5f-2a1d3e4f5a6b"),
];

/// Header names a profile may not set, because the request line and the
/// framing depend on them: a second `Host`, a `Content-Length` or
/// `Transfer-Encoding` on a body-less GET, or a `Connection`/`Upgrade`
/// that changes what happens to the connection would make the server read
/// a different message than the one counted. The WebSocket handshake's own
/// headers are written by the client library and the server.
pub const FORBIDDEN: [&str; 10] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "keep-alive",
    "te",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-accept",
];

/// Checks one header: the name an RFC 9110 token not in [`FORBIDDEN`], the
/// value visible ASCII, spaces and tabs only (no CR or LF, which would end
/// the line or the head early; no other control bytes).
pub fn check_header(name: &str, value: &str) -> Result<(), String> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(format!(
            "`{name}` is not a header name (letters, digits and !#$%&'*+-.^_`|~ only)"
        ));
    }
    if FORBIDDEN.iter().any(|f| f.eq_ignore_ascii_case(name)) {
        return Err(format!(
            "`{name}` may not be set: Host, Content-Length, Transfer-Encoding, Connection, \
             Upgrade, Keep-Alive, TE and the Sec-WebSocket-Key/-Version/-Accept handshake \
             headers decide the framing and are written by pushbench itself"
        ));
    }
    if let Some(bad) = value
        .bytes()
        .find(|&b| !(b == b'\t' || (0x20..0x7f).contains(&b)))
    {
        let what = match bad {
            b'\r' => "a CR".to_owned(),
            b'\n' => "an LF".to_owned(),
            b => format!("the byte 0x{b:02x}"),
        };
        return Err(format!(
            "the value of `{name}` contains {what}; values are visible ASCII, spaces and tabs, \
             so that a value cannot end the header line or the head"
        ));
    }
    Ok(())
}

/// A bad line of a header file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct HeaderLineError {
    /// The line, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// Parses a header file: one `Name: value` per line; blank lines and lines
/// starting with `#` are ignored; the value is trimmed of spaces and tabs.
/// Every header is [`check_header`]ed.
pub fn parse_header_lines(text: &str) -> Result<Vec<(String, String)>, HeaderLineError> {
    let mut headers = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let bad = |message: String| HeaderLineError {
            line: i + 1,
            message,
        };
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad(format!("`{line}` is not `Name: value`")))?;
        if name != name.trim() {
            return Err(bad(format!(
                "`{name}`: no space is allowed before the colon or the name"
            )));
        }
        let value = value.trim_matches([' ', '\t']);
        check_header(name, value).map_err(bad)?;
        headers.push((name.to_owned(), value.to_owned()));
    }
    Ok(headers)
}

/// Reads and parses the header file of a [`HeaderProfile::File`]; the
/// message names the file (and the line).
pub fn load_header_file(path: &str) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("header file {path}: {e}"))?;
    parse_header_lines(&text).map_err(|e| format!("header file {path}: {e}"))
}

/// A `Cookie` header value of exactly `bytes` bytes (`session=` and
/// hexadecimal filler), so a profile's cookie size is what it says; empty
/// for 0.
pub fn cookie_value(bytes: usize) -> String {
    const NAME: &str = "session=";
    if bytes == 0 {
        return String::new();
    }
    let mut value = String::with_capacity(bytes);
    value.push_str(&NAME[..bytes.min(NAME.len())]);
    let hex = b"0123456789abcdef";
    while value.len() < bytes {
        value.push(hex[value.len() % 16] as char);
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_profiles_resolve_to_checked_lines() {
        assert!(
            HeaderProfile::Minimal
                .response_lines()
                .expect("minimal")
                .is_empty()
        );
        let browser = HeaderProfile::BROWSER.response_lines().expect("browser");
        assert_eq!(browser.len(), BROWSER_RESPONSE.len());
        // The size the README states.
        let bytes: usize = browser.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
        assert_eq!(bytes, 491);
        for (name, value) in BROWSER_RESPONSE {
            check_header(name, value).expect(name);
        }
        let err = HeaderProfile::File("/no/such/headers".into())
            .response_lines()
            .expect_err("missing file");
        assert!(err.contains("/no/such/headers"), "{err}");
    }

    #[test]
    fn profiles_parse_and_print_back() {
        for text in [
            "minimal",
            "browser",
            "browser:0",
            "browser:1024",
            "my headers.txt",
        ] {
            let profile: HeaderProfile = text.parse().expect(text);
            assert_eq!(profile.to_string(), text);
        }
        assert_eq!(
            "browser:256".parse::<HeaderProfile>(),
            Ok(HeaderProfile::BROWSER)
        );
        assert!("browser:x".parse::<HeaderProfile>().is_err());
        assert!("browser:100000".parse::<HeaderProfile>().is_err());
        assert!("".parse::<HeaderProfile>().is_err());
        let json = serde_json::to_string(&HeaderProfile::BROWSER).expect("json");
        assert_eq!(json, "\"browser\"");
        assert_eq!(
            serde_json::from_str::<HeaderProfile>("\"minimal\"").expect("json"),
            HeaderProfile::Minimal
        );
    }

    #[test]
    fn header_files_parse_with_comments_and_name_the_bad_line() {
        let text =
            "# a comment\n\nUser-Agent: x/1.0\r\nAccept:*/*  \n  # indented comment\nX-Empty:\n";
        assert_eq!(
            parse_header_lines(text).expect("parse"),
            vec![
                ("User-Agent".to_owned(), "x/1.0".to_owned()),
                ("Accept".to_owned(), "*/*".to_owned()),
                ("X-Empty".to_owned(), String::new()),
            ]
        );
        let err = parse_header_lines("Accept: */*\nno colon here\n").expect_err("bad");
        assert_eq!(err.line, 2);
        let err = parse_header_lines("A: b\n\nHost: evil\n").expect_err("host");
        assert_eq!(err.line, 3);
        assert!(err.message.contains("may not be set"), "{err}");
        for name in [
            "content-length",
            "Transfer-Encoding",
            "CONNECTION",
            "Upgrade",
        ] {
            assert!(parse_header_lines(&format!("{name}: 1")).is_err(), "{name}");
        }
        let err = parse_header_lines("X-A: one\rInjected: two").expect_err("cr");
        assert!(err.message.contains("a CR"), "{err}");
        assert!(parse_header_lines("Bad Name: x").is_err());
        assert!(parse_header_lines(" Leading: x").is_err());
        assert!(parse_header_lines("X-Nul: a\0b").is_err());
    }

    #[test]
    fn cookies_have_the_size_they_name() {
        assert_eq!(cookie_value(0), "");
        assert_eq!(cookie_value(3), "ses");
        assert_eq!(cookie_value(12), "session=89ab");
        for n in [1, 8, 9, 256, 4096] {
            assert_eq!(cookie_value(n).len(), n);
        }
        assert!(check_header("Cookie", &cookie_value(256)).is_ok());
    }
}
