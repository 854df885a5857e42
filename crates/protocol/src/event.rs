//! The one event encoding every transport carries.
//!
//! JSON (all transports): `{"seq":1,"topic":"t0","created_us":1732500000000000,"payload":"..."}`.
//! Binary (`/ws?format=binary`): `seq` u64 BE, `created_us` u64 BE, topic
//! length u16 BE, topic bytes, then the payload bytes to the end of the frame.
//!
//! A cursor older than the server's ring is answered with a gap marker,
//! `{"gap":{"from":A,"to":B}}`, naming the seqs that can no longer be had.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// One event of the hub's numbered stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// 1, 2, 3, ... per server run.
    pub seq: u64,
    /// The topic the event was published on.
    pub topic: String,
    /// Creation time, microseconds since the Unix epoch.
    pub created_us: u64,
    /// The payload, as text (generated payloads are ASCII letters and digits).
    pub payload: String,
}

/// A range of seqs the server can no longer deliver (they left its ring).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// First seq that is gone.
    pub from: u64,
    /// Last seq that is gone.
    pub to: u64,
}

impl Gap {
    /// How many seqs the gap covers (saturating: a peer's gap marker can
    /// name `0..=u64::MAX`, one more seq than a `u64` counts).
    pub fn len(&self) -> u64 {
        self.to.saturating_sub(self.from).saturating_add(1)
    }

    /// Never true: a gap covers at least one seq.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Fixed part of the binary encoding before the topic bytes.
pub const BINARY_HEADER_LEN: usize = 8 + 8 + 2;

impl Event {
    /// The JSON text every transport carries for this event.
    pub fn to_json(&self) -> String {
        // serde_json writes the fields in declaration order, which keeps the
        // envelope identical for every event and every transport.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The binary encoding used by `/ws?format=binary`.
    pub fn to_binary(&self) -> Vec<u8> {
        let topic = self.topic.as_bytes();
        let topic_len = u16::try_from(topic.len()).unwrap_or(u16::MAX);
        let topic = &topic[..usize::from(topic_len)];
        let mut out = Vec::with_capacity(BINARY_HEADER_LEN + topic.len() + self.payload.len());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.created_us.to_be_bytes());
        out.extend_from_slice(&topic_len.to_be_bytes());
        out.extend_from_slice(topic);
        out.extend_from_slice(self.payload.as_bytes());
        out
    }
}

/// The JSON text of a gap marker in a stream, SSE or WebSocket.
pub fn gap_json(gap: Gap) -> String {
    format!(r#"{{"gap":{{"from":{},"to":{}}}}}"#, gap.from, gap.to)
}

/// The topic a generated event `seq` goes out on when events are spread
/// over `topics` topics (0 counts as 1): `t0`, `t1`, ... in turn.
pub fn generated_topic(seq: u64, topics: u32) -> String {
    format!("t{}", seq % u64::from(topics.max(1)))
}

impl Event {
    /// Generated event `seq`, as `pushbench serve`'s generator makes it and
    /// the load generator publishes it into servers of other kinds: its
    /// [`generated_topic`], a [`payload_for`] of `len` bytes, created at
    /// `created_us`.
    pub fn generated(seq: u64, len: usize, topics: u32, created_us: u64) -> Event {
        Event {
            seq,
            topic: generated_topic(seq, topics),
            created_us,
            payload: payload_for(seq, len),
        }
    }
}

/// A deterministic payload of `len` ASCII letters and digits, different per seq.
///
/// Letters and digits need no JSON escaping, so the payload's wire length is
/// its configured length in every transport. Each character is a
/// pseudo-random pick (SplitMix64, seeded by `seq`) of the 62, so a payload
/// carries about log2(62) = 5.95 bits per character, as hashed or encrypted
/// real data does: content coding then shows what it does to the envelope,
/// framing and headers while the payload stays near its entropy, where a
/// repeating pattern would compress to almost nothing and flatter it.
pub fn payload_for(seq: u64, len: usize) -> String {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut state = seq;
    let bytes = (0..len)
        .map(|_| {
            // SplitMix64 (Steele, Lea, Flood 2014): a fast, well-mixed
            // sequence; the modulo's bias is below 2^-57.
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            ALPHABET[(z % 62) as usize]
        })
        .collect::<Vec<u8>>();
    // The alphabet is ASCII: always UTF-8.
    String::from_utf8(bytes).unwrap_or_default()
}

/// What a client needs from one received message, and how its bytes split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Received {
    /// An event.
    Event {
        /// The event's seq.
        seq: u64,
        /// Creation time, microseconds since the Unix epoch.
        created_us: u64,
        /// Bytes of the payload as carried on the wire (inside the quotes for JSON).
        payload_len: usize,
        /// Every other byte of the message: the envelope.
        envelope_len: usize,
    },
    /// A gap marker.
    Gap(Gap),
}

/// A message that is neither an event nor a gap marker.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The JSON did not parse or lacked a field.
    #[error("malformed event JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A binary event shorter than its header says.
    #[error("binary event of {0} bytes is shorter than its header")]
    ShortBinary(usize),
    /// JSON that is neither an event nor a gap.
    #[error("message is neither an event nor a gap marker")]
    Unknown,
}

#[derive(Deserialize)]
struct WireMessage<'a> {
    seq: Option<u64>,
    created_us: Option<u64>,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
    gap: Option<Gap>,
}

/// Decodes one JSON event or gap marker and splits its bytes.
pub fn decode_json(bytes: &[u8]) -> Result<Received, DecodeError> {
    match decode_own_event(bytes) {
        Some((received, _)) => Ok(received),
        None => decode_json_by_serde(bytes),
    }
}

/// Our own event JSON, exactly as [`Event::to_json`] writes it
/// (`{"seq":N,"topic":"T","created_us":N,"payload":"P"}`, that field
/// order, no whitespace, `T` and `P` printable ASCII without escapes), read
/// by hand in one pass: the event and where its payload bytes are (inside
/// the quotes). `None` for anything else (other servers' dialects, gap
/// markers, escapes, other orders, numbers serde would read differently):
/// [`decode_json`] then falls back to serde_json, so the two agree on
/// every input this accepts (tests prove it on a table). It exists because
/// serde_json's generic parse was the largest item of the load
/// generator's profile (about 8 % of its CPU at 5,000 events/s).
pub fn decode_own_event(json: &[u8]) -> Option<(Received, std::ops::Range<usize>)> {
    let (received, payload, len) = decode_own_event_prefix(json)?;
    (len == json.len()).then_some((received, payload))
}

/// [`decode_own_event`] of the JSON object at the start of `bytes`, which
/// may go on past it: the event, its payload's range and the object's
/// length. A line-delimited reader (SSE `data:`, NDJSON) reads the object
/// first and then checks that its line ends there, one pass over the
/// bytes where finding the line's end first took another: the object
/// holds no newline (its strings are plain, its numbers digits).
pub fn decode_own_event_prefix(bytes: &[u8]) -> Option<(Received, std::ops::Range<usize>, usize)> {
    let mut at = OwnEventCursor { json: bytes, at: 0 };
    at.literal(b"{\"seq\":")?;
    let seq = at.number()?;
    at.literal(b",\"topic\":\"")?;
    at.plain_string()?;
    at.literal(b",\"created_us\":")?;
    let created_us = at.number()?;
    at.literal(b",\"payload\":\"")?;
    let payload = at.plain_string()?;
    at.literal(b"}")?;
    let len = at.at;
    let payload_len = payload.len();
    let received = Received::Event {
        seq,
        created_us,
        payload_len,
        envelope_len: len - payload_len,
    };
    Some((received, payload, len))
}

/// A read position in [`decode_own_event`]'s input.
struct OwnEventCursor<'a> {
    json: &'a [u8],
    at: usize,
}

impl OwnEventCursor<'_> {
    /// Steps over `expected`, if it is next.
    fn literal(&mut self, expected: &[u8]) -> Option<()> {
        let end = self.at + expected.len();
        (self.json.get(self.at..end)? == expected).then(|| self.at = end)
    }

    /// A JSON integer that fits a u64, as serde_json reads it: digits,
    /// no leading zero (except `0` itself), no sign, fraction or exponent
    /// (those end at the next literal, which then does not match).
    fn number(&mut self) -> Option<u64> {
        let rest = &self.json[self.at..];
        let mut n: u64 = 0;
        let mut digits = 0;
        // Eight digits at a time while they last, up to sixteen (below
        // 10^16, so no overflow): a timestamp in µs has sixteen, and the
        // digit by digit loop was the load generator's largest item.
        while digits < 16 {
            let Some(eight) = rest.get(digits..digits + 8).and_then(eight_digits) else {
                break;
            };
            n = n * 100_000_000 + eight;
            digits += 8;
        }
        while let Some(&d) = rest.get(digits).filter(|d| d.is_ascii_digit()) {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            digits += 1;
        }
        if digits == 0 || (digits > 1 && rest[0] == b'0') {
            return None;
        }
        self.at += digits;
        Some(n)
    }

    /// The rest of a string up to its closing quote, which it steps over;
    /// the range of its bytes. Only printable ASCII without a backslash:
    /// anything else (an escape, a control character, UTF-8 that serde
    /// would validate) goes to serde_json.
    fn plain_string(&mut self) -> Option<std::ops::Range<usize>> {
        let start = self.at;
        // One pass: the first byte that is not plain must be the quote (an
        // escaped quote has its backslash before it).
        let len = plain_len(&self.json[start..]);
        if self.json.get(start + len) != Some(&b'"') {
            return None;
        }
        self.at = start + len + 1;
        Some(start..start + len)
    }
}

/// The value of eight ASCII digits, if all eight are digits (SWAR: one
/// word's test and three multiplications instead of eight steps).
fn eight_digits(bytes: &[u8]) -> Option<u64> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let word = u64::from_le_bytes(bytes.try_into().ok()?);
    // Each byte in 0x30..=0x39: its high nibble is 3, and adding 6 keeps it.
    let high = ONES * 0xf0;
    let digits =
        (word & high) == ONES * 0x30 && (word.wrapping_add(ONES * 6) & high) == ONES * 0x30;
    if !digits {
        return None;
    }
    // The first byte is the most significant digit: pairs, then fours,
    // then the eight.
    let v = word - ONES * 0x30;
    let v = (v * 10 + (v >> 8)) & 0x00ff_00ff_00ff_00ff;
    let v = (v * 100 + (v >> 16)) & 0x0000_ffff_0000_ffff;
    Some((v * 10_000 + (v >> 32)) & 0xffff_ffff)
}

/// A byte a plain string holds: printable ASCII but the quote and the
/// backslash.
fn is_plain(b: u8) -> bool {
    (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'
}

/// How many bytes at the start of `bytes` are [`is_plain`]: sixteen at a
/// time by a test of every byte without an early exit, which the compiler
/// turns into vector instructions, then byte by byte in the sixteen that
/// hold the first other byte (the payload's scan, with a search for its
/// quote before it, was the largest item of the load generator's profile
/// once serde_json was gone).
fn plain_len(bytes: &[u8]) -> usize {
    let mut clean = 0;
    for chunk in bytes.chunks_exact(16) {
        if chunk.iter().fold(false, |bad, &b| bad | !is_plain(b)) {
            break;
        }
        clean += 16;
    }
    let rest = &bytes[clean..];
    clean
        + rest
            .iter()
            .position(|&b| !is_plain(b))
            .unwrap_or(rest.len())
}

/// [`decode_json`] by serde_json: every JSON the spec allows.
fn decode_json_by_serde(bytes: &[u8]) -> Result<Received, DecodeError> {
    let msg: WireMessage<'_> = serde_json::from_slice(bytes)?;
    if let Some(gap) = msg.gap {
        return Ok(Received::Gap(gap));
    }
    match (msg.seq, msg.created_us, msg.payload) {
        (Some(seq), Some(created_us), Some(payload)) => {
            let raw = payload.get();
            // A string payload's wire bytes are those inside its quotes.
            let payload_len = if raw.starts_with('"') {
                raw.len().saturating_sub(2)
            } else {
                raw.len()
            };
            Ok(Received::Event {
                seq,
                created_us,
                payload_len,
                envelope_len: bytes.len() - payload_len,
            })
        }
        _ => Err(DecodeError::Unknown),
    }
}

/// Decodes one binary event and splits its bytes.
pub fn decode_binary(bytes: &[u8]) -> Result<Received, DecodeError> {
    let short = || DecodeError::ShortBinary(bytes.len());
    let word = |at: usize| -> Result<u64, DecodeError> {
        let b: [u8; 8] = bytes
            .get(at..at + 8)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(short)?;
        Ok(u64::from_be_bytes(b))
    };
    let seq = word(0)?;
    let created_us = word(8)?;
    let topic_len = bytes
        .get(16..18)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        .ok_or_else(short)?;
    let envelope_len = BINARY_HEADER_LEN + topic_len;
    if bytes.len() < envelope_len {
        return Err(short());
    }
    Ok(Received::Event {
        seq,
        created_us,
        payload_len: bytes.len() - envelope_len,
        envelope_len,
    })
}

/// Microseconds since the Unix epoch, now.
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Event {
        Event {
            seq: 42,
            topic: "t3".into(),
            created_us: 1_732_500_000_000_000,
            payload: payload_for(42, 16),
        }
    }

    #[test]
    fn json_encoding_is_the_documented_envelope() {
        let e = sample();
        assert_eq!(
            e.to_json(),
            format!(
                r#"{{"seq":42,"topic":"t3","created_us":1732500000000000,"payload":"{}"}}"#,
                e.payload
            )
        );
    }

    #[test]
    fn json_decode_splits_payload_from_envelope_exactly() {
        let e = sample();
        let json = e.to_json();
        let got = decode_json(json.as_bytes()).expect("decode");
        assert_eq!(
            got,
            Received::Event {
                seq: 42,
                created_us: 1_732_500_000_000_000,
                payload_len: 16,
                envelope_len: json.len() - 16,
            }
        );
    }

    /// What serde_json alone makes of `json`: the event (or gap) and its
    /// payload's range, as the classifier finds them without the fast path.
    fn by_serde(json: &[u8]) -> Option<(Received, Option<std::ops::Range<usize>>)> {
        let received = decode_json_by_serde(json).ok()?;
        let range = crate::wire::json_payload_range(json);
        Some((received, range))
    }

    #[test]
    fn numbers_of_every_length_read_as_serde_reads_them() {
        let patterns = ["1234567890", "9999999999", "0987654321", "1000000000"];
        for len in 1..=21 {
            for pattern in patterns {
                let text: String = pattern.chars().cycle().take(len).collect();
                for end in ["", ",", "x", "/", ":"] {
                    let json = format!("{text}{end}");
                    let mut cursor = OwnEventCursor {
                        json: json.as_bytes(),
                        at: 0,
                    };
                    let expected = serde_json::from_str::<u64>(&text).ok();
                    assert_eq!(cursor.number(), expected, "{json}");
                    let at = if expected.is_some() { len } else { 0 };
                    assert_eq!(cursor.at, at, "{json}");
                }
            }
        }
    }

    #[test]
    fn own_event_fast_path_agrees_with_serde() {
        let e = sample();
        let own = e.to_json();
        let escaped = r#"{"seq":1,"topic":"t0","created_us":5,"payload":"a\"b\u0041"}"#;
        let table: Vec<(String, bool)> = vec![
            // (input, taken by the fast path)
            (own.clone(), true),
            (Event::generated(u64::MAX, 0, 3, 0).to_json(), true),
            (Event::generated(0, 300, 1, u64::MAX).to_json(), true),
            (
                r#"{"seq":7,"topic":"","created_us":1,"payload":"x y!~"}"#.into(),
                true,
            ),
            (escaped.into(), false),
            (
                r#"{"seq":1,"topic":"t\"0","created_us":5,"payload":"p"}"#.into(),
                false,
            ),
            (
                r#"{"topic":"t0","seq":1,"created_us":5,"payload":"p"}"#.into(),
                false,
            ),
            (
                r#"{"seq":1,"topic":"t0","payload":"p","created_us":5}"#.into(),
                false,
            ),
            (
                r#"{ "seq":1,"topic":"t0","created_us":5,"payload":"p"}"#.into(),
                false,
            ),
            (
                r#"{"seq":1,"topic":"t0","created_us":5,"payload":"p"} "#.into(),
                false,
            ),
            (
                r#"{"seq":01,"topic":"t0","created_us":5,"payload":"p"}"#.into(),
                false,
            ),
            (
                r#"{"seq":1.5,"topic":"t0","created_us":5,"payload":"p"}"#.into(),
                false,
            ),
            (
                r#"{"seq":-1,"topic":"t0","created_us":5,"payload":"p"}"#.into(),
                false,
            ),
            (
                r#"{"seq":18446744073709551616,"topic":"t","created_us":5,"payload":"p"}"#.into(),
                false,
            ),
            (
                r#"{"seq":1,"topic":"t0","created_us":5,"payload":"p","x":1}"#.into(),
                false,
            ),
            (
                r#"{"seq":1,"topic":"t0","created_us":5,"payload":12}"#.into(),
                false,
            ),
            (
                r#"{"seq":1,"topic":"t0","created_us":5,"payload":"é"}"#.into(),
                false,
            ),
            (
                r#"{"seq":1,"topic":"t0","created_us":5,"payload":"p"#.into(),
                false,
            ),
            (r#"{"seq":1,"topic":"t0","created_us":5}"#.into(), false),
            (gap_json(Gap { from: 1, to: 2 }), false),
            ("not json".into(), false),
            (String::new(), false),
        ];
        for (json, fast) in table {
            let bytes = json.as_bytes();
            let own = decode_own_event(bytes);
            assert_eq!(own.is_some(), fast, "{json}");
            if let Some((received, range)) = own {
                assert_eq!(by_serde(bytes), Some((received, Some(range))), "{json}");
            }
            // Whichever path takes it, decode_json says what serde says.
            assert_eq!(
                decode_json(bytes).ok(),
                decode_json_by_serde(bytes).ok(),
                "{json}"
            );
        }
    }

    #[test]
    fn plain_strings_end_at_the_first_byte_that_is_not_plain() {
        for at in 0..24 {
            for stop in [b'"', b'\\', 0x00, 0x1f, 0x7f, 0x80, 0xff] {
                let mut bytes = vec![b'a'; at];
                bytes.push(stop);
                bytes.extend_from_slice(b"bcdefghijklmnop\"");
                let mut cursor = OwnEventCursor {
                    json: &bytes,
                    at: 0,
                };
                let got = cursor.plain_string();
                let expected = (stop == b'"').then_some(0..at);
                assert_eq!(got, expected, "{at} {stop:#x}");
            }
        }
        for b in 0..=255u8 {
            let expected = if is_plain(b) { 20 } else { 0 };
            assert_eq!(plain_len(&[b; 20]), expected, "{b:#x}");
        }
    }

    #[test]
    fn binary_round_trip_splits_exactly() {
        let e = sample();
        let bin = e.to_binary();
        assert_eq!(bin.len(), BINARY_HEADER_LEN + 2 + 16);
        assert_eq!(
            decode_binary(&bin).expect("decode"),
            Received::Event {
                seq: 42,
                created_us: e.created_us,
                payload_len: 16,
                envelope_len: BINARY_HEADER_LEN + 2,
            }
        );
        assert!(decode_binary(&bin[..10]).is_err());
    }

    #[test]
    fn gap_marker_decodes() {
        let gap = Gap { from: 3, to: 9 };
        assert_eq!(gap.len(), 7);
        let got = decode_json(gap_json(gap).as_bytes()).expect("decode");
        assert_eq!(got, Received::Gap(gap));
    }

    /// Found by `fuzz/` (target `event_codec`, input minimized by `cargo
    /// fuzz tmin`): a gap from seq 0 to `u64::MAX` overflowed `Gap::len`.
    #[test]
    fn gap_of_every_seq_counts_without_overflow() {
        const FUZZ_INPUT: [u8; 16] = [
            0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        let from = u64::from_be_bytes(FUZZ_INPUT[..8].try_into().expect("8 bytes"));
        let to = u64::from_be_bytes(FUZZ_INPUT[8..].try_into().expect("8 bytes"));
        assert_eq!(Gap { from, to }.len(), u64::MAX);
        // The same gap as a peer sends it.
        let marker = br#"{"gap":{"from":0,"to":18446744073709551615}}"#;
        let Ok(Received::Gap(gap)) = decode_json(marker) else {
            panic!("a gap marker");
        };
        assert_eq!(gap.len(), u64::MAX);
        crate::reliability(
            "input/http",
            "gap marker naming seqs 0 to u64::MAX (fuzz: event_codec)",
            "decoded, its length saturates at u64::MAX",
        );
    }

    #[test]
    fn payload_is_plain_ascii_and_sized() {
        let p = payload_for(7, 100);
        assert_eq!(p.len(), 100);
        assert!(p.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(payload_for(8, 10), payload_for(7, 10));
        // Deterministic, and the same prefix whatever the length.
        assert_eq!(payload_for(7, 100), p);
        assert_eq!(&payload_for(7, 10)[..], &p[..10]);
        // Spread over the whole alphabet, no run of one character.
        let long = payload_for(1, 6_200);
        let distinct: std::collections::BTreeSet<u8> = long.bytes().collect();
        assert_eq!(distinct.len(), 62);
        assert!(decode_json(b"{}").is_err());
        assert!(decode_json(b"not json").is_err());
    }
}
