//! A poll answer (`{"events": [...], "next": N, "gap": ...}`), parsed once
//! whole: each event's payload bytes, the rest framing.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::emit::{Direction, Emitter, WireEvent};
use super::event_json::decode_json_located;
use crate::event::{Gap, Received};
use crate::ledger::ByteClass;

#[derive(Deserialize)]
struct PollBody<'a> {
    #[serde(borrow)]
    events: Vec<&'a RawValue>,
    #[serde(default)]
    next: Option<u64>,
    #[serde(default)]
    gap: Option<Gap>,
}

pub(super) fn classify_poll_body<F: FnMut(WireEvent<'_>)>(
    body: &[u8],
    em: &mut Emitter<'_, F>,
) -> Option<u64> {
    const DIR: Direction = Direction::Received;
    let Ok(parsed) = serde_json::from_slice::<PollBody<'_>>(body) else {
        em.bytes(DIR, ByteClass::Control, body);
        em.event(WireEvent::Malformed {
            direction: DIR,
            reason: "poll answer is not {events, next, gap}",
        });
        return None;
    };
    if let Some(gap) = parsed.gap {
        em.message(Received::Gap(gap));
    }
    let mut at = 0;
    for raw in parsed.events {
        let text = raw.get().as_bytes();
        let Some(offset) = (text.as_ptr() as usize).checked_sub(body.as_ptr() as usize) else {
            continue;
        };
        match decode_json_located(text) {
            Some((received, Some(payload))) => {
                let payload = offset + payload.start..offset + payload.end;
                em.bytes(DIR, ByteClass::Framing, &body[at..payload.start]);
                em.bytes(DIR, ByteClass::Payload, &body[payload.clone()]);
                at = payload.end;
                em.message(received);
            }
            Some((received, None)) => em.message(received),
            None => em.event(WireEvent::Malformed {
                direction: DIR,
                reason: "poll answer holds a non-event",
            }),
        }
    }
    em.bytes(DIR, ByteClass::Framing, &body[at..]);
    parsed.next
}
