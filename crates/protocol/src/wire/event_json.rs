//! Event JSON on the wire: where an event's payload bytes are in its JSON
//! (the rest is envelope), and one NDJSON line of a stream body.

use std::ops::Range;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::emit::{Direction, Emitter, WireEvent};
use crate::event::{Received, decode_json, decode_own_event, decode_own_event_prefix};
use crate::ledger::ByteClass;

#[derive(Deserialize)]
struct PayloadField<'a> {
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
}

/// Where an event JSON's payload bytes are (inside the quotes of a string).
pub fn json_payload_range(json: &[u8]) -> Option<Range<usize>> {
    let field: PayloadField<'_> = serde_json::from_slice(json).ok()?;
    let raw = field.payload?.get();
    let start = (raw.as_ptr() as usize).checked_sub(json.as_ptr() as usize)?;
    let end = start + raw.len();
    if end > json.len() {
        return None;
    }
    // The quotes of a string payload are envelope, matching `decode_json`.
    Some(if raw.len() >= 2 && raw.starts_with('"') {
        start + 1..end - 1
    } else {
        start..end
    })
}

/// Decodes one JSON message and finds its payload bytes, if it is an event.
pub(super) fn decode_json_located(json: &[u8]) -> Option<(Received, Option<Range<usize>>)> {
    if let Some((received, payload)) = decode_own_event(json) {
        return Some((received, Some(payload)));
    }
    let received = decode_json(json).ok()?;
    match received {
        Received::Event { .. } => Some((received, Some(json_payload_range(json)?))),
        Received::Gap(_) => Some((received, None)),
    }
}

/// An event JSON as pushbench writes it ([`decode_own_event_prefix`]) at
/// the start of `bytes`, ending its line with a bare `\n`: the event, its
/// payload's range and the JSON's length (the newline not counted). Read
/// in one pass, the event and then the newline after it, where finding
/// the newline first took another (SSE `data:` lines, NDJSON lines).
pub(super) fn own_event_line(bytes: &[u8]) -> Option<(Received, Range<usize>, usize)> {
    let (received, payload, len) = decode_own_event_prefix(bytes)?;
    (bytes.get(len) == Some(&b'\n')).then_some((received, payload, len))
}

/// Books the line at the start of `bytes` if it is [`own_event_line`]:
/// what [`classify_ndjson_line`] would book. Its length, or `None` (and
/// nothing booked) for anything else.
pub(super) fn own_ndjson_line<F: FnMut(WireEvent<'_>)>(
    bytes: &[u8],
    em: &mut Emitter<'_, F>,
) -> Option<usize> {
    let (received, payload, len) = own_event_line(bytes)?;
    em.split(Direction::Received, &bytes[..=len], payload);
    em.message(received);
    Some(len + 1)
}

pub(super) fn classify_ndjson_line<F: FnMut(WireEvent<'_>)>(line: &[u8], em: &mut Emitter<'_, F>) {
    const DIR: Direction = Direction::Received;
    let json = line.strip_suffix(b"\n").unwrap_or(line);
    let json = json.strip_suffix(b"\r").unwrap_or(json);
    match decode_json_located(json) {
        Some((received, Some(payload))) => {
            em.split(DIR, line, payload);
            em.message(received);
        }
        Some((received, None)) => {
            em.bytes(DIR, ByteClass::Control, line);
            em.message(received);
        }
        None => {
            em.bytes(DIR, ByteClass::Control, line);
            if !json.is_empty() {
                em.event(WireEvent::Malformed {
                    direction: DIR,
                    reason: "stream line is neither an event nor a gap",
                });
            }
        }
    }
}
