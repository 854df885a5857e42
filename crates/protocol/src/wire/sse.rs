//! Server-Sent Events: `text/event-stream` lines gathered into blocks, each
//! block booked once its blank line arrives.

use std::ops::Range;

use memchr::{memchr, memchr_iter};

use super::emit::{Direction, Emitter, MAX_MESSAGE, WireError, WireEvent};
use super::event_json::{decode_json_located, own_event_line};
use crate::event::Received;
use crate::ledger::ByteClass;

/// Reads `text/event-stream` in units: an event block (lines up to and
/// including a blank line), or a comment line outside a block (a
/// keep-alive). A unit wholly inside the bytes fed is read in place, in
/// one pass that finds its lines; only a unit cut by the end of a read is
/// gathered, a line at a time.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    /// The start of a unit the bytes so far did not complete: whole
    /// lines (terminators included), then maybe part of one.
    pending: Vec<u8>,
    /// Where the line being read starts in `pending`.
    line_start: usize,
    /// The lines of the unit being booked (kept for their capacity).
    lines: Vec<Line>,
}

/// One line of a unit, as offsets into the unit: the whole line
/// (terminator included), its field name, its value (after the colon and
/// one optional space) and where its content ends (before `\r\n` or `\n`).
#[derive(Clone, Debug)]
struct Line {
    raw: Range<usize>,
    name: Range<usize>,
    value: Range<usize>,
    content_end: usize,
}

impl Line {
    /// The line of `unit` at `raw` (which ends with its terminator).
    fn parse(unit: &[u8], raw: Range<usize>) -> Line {
        let mut content_end = raw.end;
        if unit[raw.start..content_end].ends_with(b"\n") {
            content_end -= 1;
        }
        if unit[raw.start..content_end].ends_with(b"\r") {
            content_end -= 1;
        }
        // A field name is a few bytes: a plain loop finds its colon sooner
        // than memchr's setup would.
        let colon = unit[raw.start..content_end].iter().position(|&b| b == b':');
        let (name, value) = match colon {
            Some(at) => {
                let colon = raw.start + at;
                let mut start = colon + 1;
                if unit.get(start) == Some(&b' ') && start < content_end {
                    start += 1;
                }
                (raw.start..colon, start..content_end)
            }
            None => (raw.start..content_end, content_end..content_end),
        };
        Line {
            raw,
            name,
            value,
            content_end,
        }
    }

    fn is_blank(&self) -> bool {
        self.content_end == self.raw.start
    }

    /// A comment: content that starts with a colon.
    fn is_comment(&self) -> bool {
        self.name.is_empty() && !self.is_blank()
    }

    /// Whether this line ends its unit: a blank line ends a block, and a
    /// comment that is a unit's `first` line is a unit of its own.
    fn ends_unit(&self, first: bool) -> bool {
        self.is_blank() || first && self.is_comment()
    }
}

/// Finds the first whole unit of `bytes` and its lines (into `lines`);
/// its length, or `None` when the bytes end first.
fn scan_unit(bytes: &[u8], lines: &mut Vec<Line>) -> Option<usize> {
    lines.clear();
    let mut start = 0;
    // One search for all the unit's line ends: a search per line paid
    // memchr's setup three times per event for lines of a few bytes.
    for newline in memchr_iter(b'\n', bytes) {
        let end = newline + 1;
        let line = Line::parse(bytes, start..end);
        let ends = line.ends_unit(lines.is_empty());
        lines.push(line);
        if ends {
            return Some(end);
        }
        start = end;
    }
    None
}

impl SseParser {
    pub(super) fn feed<F: FnMut(WireEvent<'_>)>(
        &mut self,
        bytes: &[u8],
        em: &mut Emitter<'_, F>,
    ) -> Result<(), WireError> {
        let mut rest = bytes;
        while !rest.is_empty() {
            if self.pending.is_empty() {
                if let Some(len) = own_block(rest, em) {
                    rest = &rest[len..];
                    continue;
                }
                if let Some(len) = scan_unit(rest, &mut self.lines) {
                    book_unit(&rest[..len], &self.lines, em);
                    rest = &rest[len..];
                    continue;
                }
                self.line_start = rest.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                self.pending.extend_from_slice(rest);
                break;
            }
            // The pending unit grows by (the rest of) one line.
            let take = memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if !self.pending.ends_with(b"\n") {
                continue;
            }
            let line = Line::parse(&self.pending, self.line_start..self.pending.len());
            if line.ends_unit(self.line_start == 0) {
                let len = scan_unit(&self.pending, &mut self.lines);
                debug_assert_eq!(len, Some(self.pending.len()));
                book_unit(&self.pending, &self.lines, em);
                self.pending.clear();
                self.line_start = 0;
            } else {
                self.line_start = self.pending.len();
            }
        }
        // Checked after the loop so all of `bytes` is booked or buffered.
        if self.pending.len() > MAX_MESSAGE {
            return Err(WireError::TooLarge(self.pending.len() as u64));
        }
        Ok(())
    }

    /// The body was cut short: books the partial unit as control, a line
    /// at a time.
    pub(super) fn flush_partial<F: FnMut(WireEvent<'_>)>(self, em: &mut Emitter<'_, F>) {
        for line in self.pending.split_inclusive(|&b| b == b'\n') {
            em.bytes(Direction::Received, ByteClass::Control, line);
        }
    }
}

/// Books the unit at the start of `bytes` if it is a block as pushbench's
/// server writes it, `id: <digits>\n` `data: <event JSON>\n` `\n`, whole,
/// its data line an [`own_event_line`]: the classes [`end_block`] would
/// give it, without its general line handling (which cost an SSE client
/// half again a WebSocket client's classifying). Its length, or `None`
/// (and nothing booked) for anything else.
fn own_block<F: FnMut(WireEvent<'_>)>(bytes: &[u8], em: &mut Emitter<'_, F>) -> Option<usize> {
    const DIR: Direction = Direction::Received;
    const ID: &[u8] = b"id: ";
    const DATA: &[u8] = b"data: ";
    let digits = bytes
        .get(ID.len()..)?
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let id_end = ID.len() + digits + 1;
    if !bytes.starts_with(ID) || digits == 0 || bytes.get(id_end - 1) != Some(&b'\n') {
        return None;
    }
    let data = bytes.get(id_end..)?.strip_prefix(DATA)?;
    let (received, payload, value_len) = own_event_line(data)?;
    let data_end = id_end + DATA.len() + value_len + 1;
    if bytes.get(data_end) != Some(&b'\n') {
        return None;
    }
    // The id line, `data: ` and the JSON before the payload are one run
    // of framing, and the JSON after it runs on into the blank line: the
    // same classes as a segment per line, in three bookings, not five.
    let shift = id_end + DATA.len();
    em.split(
        DIR,
        &bytes[..=data_end],
        shift + payload.start..shift + payload.end,
    );
    em.message(received);
    Some(data_end + 1)
}

/// Books one whole unit with its `lines`: a comment as control, a block
/// by [`end_block`].
fn book_unit<F: FnMut(WireEvent<'_>)>(unit: &[u8], lines: &[Line], em: &mut Emitter<'_, F>) {
    match lines {
        [only] if only.is_comment() => em.bytes(Direction::Received, ByteClass::Control, unit),
        _ => end_block(unit, lines, em),
    }
}

/// A blank line ended `block` (whose last line it is).
fn end_block<F: FnMut(WireEvent<'_>)>(block: &[u8], lines: &[Line], em: &mut Emitter<'_, F>) {
    const DIR: Direction = Direction::Received;
    let named = |line: &Line, name: &[u8]| &block[line.name.clone()] == name;
    let mut data = lines.iter().filter(|l| named(l, b"data"));
    let (first_data, more_data) = (data.next(), data.next().is_some());
    let event_type = lines
        .iter()
        .find(|l| named(l, b"event"))
        .map(|l| &block[l.value.clone()]);
    let decoded = match first_data {
        Some(line) if !more_data => decode_json_located(&block[line.value.clone()]),
        _ => None,
    };
    let is_message = event_type.is_none_or(|t| t == b"message");
    match decoded {
        Some((received, Some(payload))) if is_message => {
            for line in lines {
                let raw = &block[line.raw.clone()];
                if named(line, b"data") {
                    let start = line.value.start - line.raw.start;
                    em.split(DIR, raw, start + payload.start..start + payload.end);
                } else if line.is_comment() || named(line, b"retry") {
                    em.bytes(DIR, ByteClass::Control, raw);
                } else {
                    em.bytes(DIR, ByteClass::Framing, raw);
                }
            }
            em.message(received);
        }
        other => {
            for line in lines {
                em.bytes(DIR, ByteClass::Control, &block[line.raw.clone()]);
            }
            match other {
                Some((received @ Received::Gap(_), _)) => em.message(received),
                _ if first_data.is_some() => {
                    em.event(WireEvent::Malformed {
                        direction: DIR,
                        reason: "SSE data is neither an event nor a gap",
                    });
                }
                _ => {}
            }
        }
    }
}
