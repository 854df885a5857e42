//! Content coding of push responses (`serve --compression gzip,br`): which
//! coding a request gets ([`negotiate`], RFC 9110 section 12.5.3) and the
//! body wrapping that applies it ([`compress`], one middleware; the
//! compressors are [`pushbench_protocol::content_coding`]'s).
//!
//! - `/poll` and `/longpoll` answers are compressed whole and sent with
//!   their compressed `content-length`.
//! - `/stream` and `/sse` are live bodies: each event (each body frame the
//!   handler yields) is compressed and flushed on its own, so it reaches the
//!   client at once, with one compressor for the whole response, so later
//!   events compress against earlier ones. The coded stream is finished
//!   when the body ends (a clean shutdown).
//! - Coded answers carry `content-encoding` and `vary: accept-encoding`
//!   (unless a `vary` of the header profile already names it). Error
//!   answers, `/ws` and the control routes are never coded.
//!
//! The wrapping only changes the body's bytes, never the connection's
//! framing (no `transfer-encoding` is set here: hyper chunks an HTTP/1.1
//! body of unknown length, and HTTP/2 frames it in DATA), so it works the
//! same over both versions.

use axum::body::{Body, HttpBody as _};
use axum::extract::{Request, State};
use axum::http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, VARY};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt as _;
use pushbench_protocol::content_coding::{Encoder, encode_whole};
use pushbench_protocol::{ContentCoding, Transport};

use crate::AppState;
use crate::route::Route;

/// The codings a server may enable, in the order of preference when a
/// request accepts several equally: Brotli compresses event streams better
/// than gzip at a similar cost (see [`pushbench_protocol::content_coding`]).
pub const PREFERENCE: [ContentCoding; 2] = [ContentCoding::Br, ContentCoding::Gzip];

/// A weight (`q=`) in thousandths, 0 to 1000.
type Weight = u16;

/// One `Accept-Encoding` list: each named coding (lower case) with its
/// weight; `None` when the value is malformed.
fn parse_accept_encoding(value: &str) -> Option<Vec<(String, Weight)>> {
    let is_tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    let mut out = Vec::new();
    for element in value.split(',') {
        let element = element.trim_matches([' ', '\t']);
        // RFC 9110 5.6.1: a recipient accepts empty list elements.
        if element.is_empty() {
            continue;
        }
        let mut parts = element.split(';');
        let name = parts.next()?.trim_matches([' ', '\t']);
        if name.is_empty() || !name.chars().all(is_tchar) {
            return None;
        }
        let mut weight = 1000;
        for param in parts {
            let (key, value) = param.trim_matches([' ', '\t']).split_once('=')?;
            if !key.eq_ignore_ascii_case("q") {
                return None;
            }
            weight = parse_weight(value)?;
        }
        out.push((name.to_ascii_lowercase(), weight));
    }
    Some(out)
}

/// A qvalue (RFC 9110 12.4.2): `0[.ddd]` or `1[.000]`, in thousandths.
fn parse_weight(raw: &str) -> Option<Weight> {
    let (int, frac) = raw.split_once('.').unwrap_or((raw, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_value = format!("{frac:0<3}").parse::<Weight>().ok()?;
    match int {
        "0" => Some(frac_value),
        "1" if frac_value == 0 => Some(1000),
        _ => None,
    }
}

/// The coding a request gets: the enabled coding its `Accept-Encoding`
/// values (every line, joined) weight highest, Brotli before gzip on a tie
/// ([`PREFERENCE`]); `identity` when the request names none, accepts none
/// of the enabled ones, weights `identity` itself higher, or sends a
/// malformed value (a bad header never fails a push request: the answer is
/// just not compressed). `*` stands for every coding not named; `x-gzip` is
/// gzip (RFC 9110 8.4.1.3). A request that excludes identity too
/// (`identity;q=0`) still gets identity: RFC 9110 allows it, and a push
/// client is better served than refused.
pub fn negotiate(headers: &HeaderMap, enabled: &[ContentCoding]) -> ContentCoding {
    if enabled.is_empty() {
        return ContentCoding::Identity;
    }
    let mut text = String::new();
    for value in headers.get_all(ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else {
            return ContentCoding::Identity;
        };
        text.push_str(value);
        text.push(',');
    }
    let Some(accepted) = parse_accept_encoding(&text) else {
        return ContentCoding::Identity;
    };
    let weight = |names: &[&str]| {
        accepted
            .iter()
            .find(|(n, _)| names.contains(&n.as_str()))
            .map(|(_, w)| *w)
    };
    let any = weight(&["*"]);
    let mut best: Option<(ContentCoding, Weight)> = None;
    for coding in PREFERENCE {
        if !enabled.contains(&coding) {
            continue;
        }
        let names: &[&str] = match coding {
            ContentCoding::Gzip => &["gzip", "x-gzip"],
            _ => &[coding.name()],
        };
        let w = weight(names).or(any).unwrap_or(0);
        if w > 0 && best.is_none_or(|(_, b)| w > b) {
            best = Some((coding, w));
        }
    }
    match (best, weight(&["identity"])) {
        (Some((coding, w)), identity) if identity.is_none_or(|i| w >= i) => coding,
        _ => ContentCoding::Identity,
    }
}

/// Whether `path` is a push route whose answers may be coded.
fn coded_route(path: &str) -> bool {
    matches!(
        Route::for_path(path),
        Route::Transport(
            Transport::ShortPoll | Transport::LongPoll | Transport::Stream | Transport::Sse
        )
    )
}

/// The middleware: negotiates the coding of a push request and codes its
/// 200 answer. Outermost, so it sees the header profile's `vary`.
pub async fn compress(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let coding = if coded_route(request.uri().path()) {
        negotiate(request.headers(), &state.config.compression)
    } else {
        ContentCoding::Identity
    };
    let response = next.run(request).await;
    if coding == ContentCoding::Identity
        || response.status() != StatusCode::OK
        || response.headers().contains_key(CONTENT_ENCODING)
    {
        return response;
    }
    encode_response(coding, response).await
}

/// `vary: accept-encoding`, unless a `vary` already names it (or `*`).
fn add_vary(headers: &mut HeaderMap) {
    let named = headers.get_all(VARY).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|t| t.trim() == "*" || t.trim().eq_ignore_ascii_case("accept-encoding"))
        })
    });
    if !named {
        headers.append(VARY, HeaderValue::from_static("accept-encoding"));
    }
}

/// Largest poll answer compressed whole: far above any answer (a batch is
/// at most `max_batch` events), it only bounds a bug.
const MAX_WHOLE_BODY: usize = 256 * 1024 * 1024;

/// `response` with its body coded in `coding` (not identity): a body of
/// known length whole, a live body event by event.
pub async fn encode_response(coding: ContentCoding, response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let coded = if body.size_hint().exact().is_some() {
        let whole = match axum::body::to_bytes(body, MAX_WHOLE_BODY).await {
            Ok(bytes) => bytes,
            Err(_) => return internal_error(),
        };
        match encode_whole(coding, &whole) {
            Ok(coded) => Body::from(coded),
            Err(_) => return internal_error(),
        }
    } else {
        match Encoder::new(coding) {
            Some(encoder) => Body::from_stream(live_body(body, encoder)),
            None => body,
        }
    };
    parts
        .headers
        .insert(CONTENT_ENCODING, HeaderValue::from_static(coding.name()));
    parts.headers.remove(CONTENT_LENGTH);
    add_vary(&mut parts.headers);
    Response::from_parts(parts, coded)
}

fn internal_error() -> Response {
    use axum::response::IntoResponse as _;
    crate::AppError::Internal("compressing the response failed".to_owned()).into_response()
}

/// A live body coded frame by frame: each frame compressed and flushed,
/// then, when the body ends, the coded stream's end.
fn live_body(
    body: Body,
    encoder: Encoder,
) -> impl futures_util::Stream<Item = Result<Bytes, axum::Error>> + Send {
    futures_util::stream::unfold(
        (body.into_data_stream(), Some(encoder)),
        |(mut frames, mut encoder)| async move {
            let active = encoder.as_mut()?;
            let item = match frames.next().await {
                Some(Ok(frame)) => active.event(&frame).map(Bytes::from),
                Some(Err(e)) => return Some((Err(e), (frames, None))),
                None => encoder.take()?.finish().map(Bytes::from),
            };
            Some((item.map_err(axum::Error::new), (frames, encoder)))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ContentCoding::{Br, Gzip, Identity};

    fn pick(values: &[&[u8]], enabled: &[ContentCoding]) -> ContentCoding {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(
                ACCEPT_ENCODING,
                HeaderValue::from_bytes(v).expect("header value"),
            );
        }
        negotiate(&headers, enabled)
    }

    const BOTH: &[ContentCoding] = &[Gzip, Br];

    #[test]
    fn accept_encoding_negotiation() {
        let table: &[(&str, &[ContentCoding], ContentCoding)] = &[
            // Chromium's value: Brotli first when both are enabled.
            ("gzip, deflate, br, zstd", BOTH, Br),
            ("gzip, deflate, br, zstd", &[Gzip], Gzip),
            ("gzip, deflate, br, zstd", &[], Identity),
            ("gzip", BOTH, Gzip),
            ("br", &[Gzip], Identity),
            ("GZIP", BOTH, Gzip),
            ("x-gzip", BOTH, Gzip),
            ("identity", BOTH, Identity),
            ("", BOTH, Identity),
            (" , ,gzip,", BOTH, Gzip),
            // Weights.
            ("gzip;q=1, br;q=0.5", BOTH, Gzip),
            ("gzip;q=0.5, br;q=0.5", BOTH, Br),
            ("gzip ; Q=0.9 , br;q=0.8", BOTH, Gzip),
            ("br;q=0, gzip", BOTH, Gzip),
            ("br;q=0", BOTH, Identity),
            ("gzip;q=0.000", &[Gzip], Identity),
            ("gzip;q=0.001", &[Gzip], Gzip),
            ("gzip;q=0.5, identity;q=1", BOTH, Identity),
            ("gzip;q=0.5, identity;q=0.5", BOTH, Gzip),
            ("gzip, identity;q=0", BOTH, Gzip),
            // `*` covers the codings not named.
            ("*", BOTH, Br),
            ("*;q=0.5, br;q=0", BOTH, Gzip),
            ("*;q=0", BOTH, Identity),
            ("deflate, *;q=0.1", &[Gzip], Gzip),
            // Nothing acceptable, identity excluded too: identity anyway.
            ("zstd, identity;q=0", BOTH, Identity),
            // Malformed: identity, never an error.
            ("gzip;q=2", BOTH, Identity),
            ("gzip;q=abc", BOTH, Identity),
            ("gzip;q=0.1234", BOTH, Identity),
            ("gzip;q=", BOTH, Identity),
            ("gzip;level=9", BOTH, Identity),
            ("gzip;q", BOTH, Identity),
            ("gz ip", BOTH, Identity),
            ("br, \"gzip\"", BOTH, Identity),
            (";q=1", BOTH, Identity),
        ];
        for (value, enabled, want) in table {
            assert_eq!(
                pick(&[value.as_bytes()], enabled),
                *want,
                "{value:?} with {enabled:?}"
            );
        }
        // No header at all.
        assert_eq!(pick(&[], BOTH), Identity);
        // Several lines are one list.
        assert_eq!(pick(&[b"deflate", b"gzip;q=0.5"], BOTH), Gzip);
        // Bytes that are not text: malformed.
        assert_eq!(pick(&[b"gzip, \xff"], BOTH), Identity);
    }

    #[test]
    fn qvalues_parse_as_rfc_9110_says() {
        for (raw, want) in [
            ("0", Some(0)),
            ("1", Some(1000)),
            ("0.5", Some(500)),
            ("0.05", Some(50)),
            ("0.123", Some(123)),
            ("1.000", Some(1000)),
            ("1.", Some(1000)),
            ("1.001", None),
            ("0.1234", None),
            ("-0", None),
            ("", None),
            (".5", None),
            ("0.x", None),
        ] {
            assert_eq!(parse_weight(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn vary_is_added_once() {
        let mut headers = HeaderMap::new();
        add_vary(&mut headers);
        add_vary(&mut headers);
        assert_eq!(headers.get_all(VARY).iter().count(), 1);
        let mut profile = HeaderMap::new();
        profile.insert(VARY, HeaderValue::from_static("Origin, Accept-Encoding"));
        add_vary(&mut profile);
        assert_eq!(profile.get_all(VARY).iter().count(), 1);
        let mut origin = HeaderMap::new();
        origin.insert(VARY, HeaderValue::from_static("Origin"));
        add_vary(&mut origin);
        assert_eq!(origin.get_all(VARY).iter().count(), 2);
    }

    #[tokio::test]
    async fn live_bodies_are_coded_frame_by_frame() {
        use pushbench_protocol::content_coding::Decoder;
        let frames: Vec<Result<Bytes, std::convert::Infallible>> = (1..=3)
            .map(|i| Ok(Bytes::from(format!("data: event {i}\n\n"))))
            .collect();
        for coding in [Gzip, Br] {
            let response = Response::new(Body::from_stream(futures_util::stream::iter(
                frames.clone(),
            )));
            let coded = encode_response(coding, response).await;
            assert_eq!(
                coded.headers().get(CONTENT_ENCODING).map(|v| v.as_bytes()),
                Some(coding.name().as_bytes())
            );
            let mut stream = coded.into_body().into_data_stream();
            let mut decoder = Decoder::new(coding).expect("coded");
            let mut decoded = Vec::new();
            let mut pieces = 0;
            while let Some(piece) = stream.next().await {
                let piece = piece.expect("frame");
                pieces += 1;
                decoder
                    .feed(&piece, &mut |p: &[u8]| {
                        decoded.extend_from_slice(p);
                        Ok::<(), ()>(())
                    })
                    .expect("decodes");
                // Each event decodes as soon as its frame arrived.
                if pieces <= 3 {
                    assert!(
                        decoded.ends_with(format!("event {pieces}\n\n").as_bytes()),
                        "{coding}"
                    );
                }
            }
            assert_eq!(pieces, 4, "three events and the coded stream's end");
            assert!(decoder.is_done());
        }
    }
}
