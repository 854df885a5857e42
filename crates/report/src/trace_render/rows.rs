//! What every row of a trace is made of: the segments it is laid out
//! from, the style, a [`Row`], and how bytes print (escaped text, hex,
//! redacted).

use std::fmt::Write as _;

use pushbench_protocol::{ByteClass, Direction};

/// A run of bytes of one class in one direction, as the classifier booked it.
#[derive(Clone, Copy, Debug)]
pub struct WireSegment<'a> {
    /// Which way the bytes went.
    pub direction: Direction,
    /// What they are for.
    pub class: ByteClass,
    /// The bytes, as on the wire.
    pub bytes: &'a [u8],
}

/// How to print.
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceStyle {
    /// ANSI colors per class (for a terminal).
    pub color: bool,
    /// Replace what differs between runs (dates, `created_us` values, the
    /// server port, WebSocket keys, masking keys and masked bytes) with
    /// placeholders; byte counts are left as measured.
    pub redact: bool,
}

/// Longest escaped payload shown whole; longer ones are shortened in the
/// middle (the row's byte count is always the full one).
const PAYLOAD_SHOWN: usize = 64;

/// One printed row.
pub(super) struct Row {
    pub(super) bytes: usize,
    pub(super) class: ByteClass,
    pub(super) text: String,
    pub(super) note: Option<String>,
}

/// An escaped payload row's text, shortened in the middle past
/// [`PAYLOAD_SHOWN`]; other classes are shown whole.
pub(super) fn shorten_payload(text: String, class: ByteClass) -> String {
    if class != ByteClass::Payload || text.len() <= PAYLOAD_SHOWN {
        return text;
    }
    let head: String = text.chars().take(PAYLOAD_SHOWN / 2).collect();
    let tail: String = text.chars().skip(text.len() - PAYLOAD_SHOWN / 4).collect();
    format!("{head}…{tail}")
}

/// The text of `bytes` with everything but printable ASCII escaped.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One row of binary bytes: the first `shown` of them in hex.
pub(super) fn hex_row_of(
    bytes: &[u8],
    class: ByteClass,
    note: Option<String>,
    shown: usize,
) -> Row {
    let more = if bytes.len() > shown { " …" } else { "" };
    let shown = &bytes[..bytes.len().min(shown)];
    Row {
        bytes: bytes.len(),
        class,
        text: format!("{}{more}", hex(shown)),
        note,
    }
}

/// Replaces what differs between runs in one escaped row.
pub(super) fn redact(text: &str, port: u16) -> String {
    let lower = text.to_ascii_lowercase();
    for (name, placeholder) in [
        ("date:", "<date>"),
        ("sec-websocket-key:", "<key>"),
        ("sec-websocket-accept:", "<accept>"),
    ] {
        if lower.starts_with(name) {
            let end = if text.ends_with("\\r\\n") {
                "\\r\\n"
            } else {
                ""
            };
            return format!("{} {placeholder}{end}", &text[..name.len()]);
        }
    }
    let mut text = text.to_owned();
    if port != 0 {
        text = text.replace(&format!(":{port}"), ":PORT");
    }
    const CREATED: &str = "\"created_us\":";
    if let Some(at) = text.find(CREATED) {
        let digits_at = at + CREATED.len();
        let digits = text[digits_at..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        text.replace_range(digits_at..digits_at + digits, "<created_us>");
    }
    text
}
