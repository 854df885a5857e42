//! The event codec (`pushbench_protocol::event`): what a peer sends is
//! decoded without a panic and split exactly, and what we encode decodes
//! back to itself.
//!
//! The input is used three ways: as a JSON message, as a binary message,
//! and as the fields of an event to encode (seq and creation time from the
//! first 16 bytes, then topic and payload, split at the first `0xff`, as
//! lossy UTF-8) and of a gap marker (the same two numbers).

use pushbench_protocol::event::BINARY_HEADER_LEN;
use pushbench_protocol::wire::json_payload_range;
use pushbench_protocol::{Event, Gap, Received, decode_binary, decode_json, gap_json};

/// Runs the codec checks on `data`.
pub fn check(data: &[u8]) {
    decoded_json(data);
    decoded_binary(data);
    round_trips(data);
}

/// A decoded message's parts add up to its bytes, and the classifier's
/// payload range agrees with the decoder's payload length.
fn decoded_json(data: &[u8]) {
    match decode_json(data) {
        Ok(Received::Event {
            payload_len,
            envelope_len,
            ..
        }) => {
            assert_eq!(payload_len + envelope_len, data.len(), "JSON split");
            let range = json_payload_range(data).expect("an event has a payload range");
            assert_eq!(range.len(), payload_len, "payload range vs payload_len");
        }
        Ok(Received::Gap(gap)) => gap_is_countable(gap),
        Err(_) => {}
    }
}

fn decoded_binary(data: &[u8]) {
    if let Ok(received) = decode_binary(data) {
        let Received::Event {
            payload_len,
            envelope_len,
            ..
        } = received
        else {
            panic!("a binary message is always an event, got {received:?}");
        };
        assert!(envelope_len >= BINARY_HEADER_LEN, "binary envelope");
        assert_eq!(payload_len + envelope_len, data.len(), "binary split");
    }
}

/// A gap names at least one seq; counting them must not overflow.
fn gap_is_countable(gap: Gap) {
    assert_ne!(gap.len(), 0, "{gap:?} covers no seq");
}

fn word(data: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    for (i, byte) in data.iter().skip(at).take(8).enumerate() {
        b[i] = *byte;
    }
    u64::from_be_bytes(b)
}

fn round_trips(data: &[u8]) {
    let (seq, created_us) = (word(data, 0), word(data, 8));
    let rest = data.get(16..).unwrap_or_default();
    let (topic, payload) = match rest.iter().position(|&b| b == 0xff) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    let event = Event {
        seq,
        topic: String::from_utf8_lossy(topic).into_owned(),
        created_us,
        payload: String::from_utf8_lossy(payload).into_owned(),
    };

    let json = event.to_json();
    let escaped = serde_json::to_string(&event.payload).expect("a string serialises");
    assert_eq!(
        decode_json(json.as_bytes()).ok(),
        Some(Received::Event {
            seq,
            created_us,
            payload_len: escaped.len() - 2,
            envelope_len: json.len() - (escaped.len() - 2),
        }),
        "JSON round trip of {json}"
    );
    let range = json_payload_range(json.as_bytes()).expect("payload range");
    assert_eq!(
        &json[range],
        &escaped[1..escaped.len() - 1],
        "payload range"
    );
    assert_eq!(
        serde_json::from_str::<Event>(&json).ok().as_ref(),
        Some(&event),
        "JSON decodes to the same event"
    );

    let binary = event.to_binary();
    let topic_len = event.topic.len().min(usize::from(u16::MAX));
    assert_eq!(
        decode_binary(&binary).ok(),
        Some(Received::Event {
            seq,
            created_us,
            payload_len: event.payload.len(),
            envelope_len: BINARY_HEADER_LEN + topic_len,
        }),
        "binary round trip"
    );

    let gap = Gap {
        from: seq,
        to: created_us,
    };
    let marker = gap_json(gap);
    assert_eq!(
        decode_json(marker.as_bytes()).ok(),
        Some(Received::Gap(gap)),
        "gap round trip of {marker}"
    );
    gap_is_countable(gap);
}
