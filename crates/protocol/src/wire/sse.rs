//! Server-Sent Events: `text/event-stream` lines gathered into blocks, each
//! block booked once its blank line arrives.

use std::ops::Range;

use super::emit::{Direction, Emitter, MAX_MESSAGE, WireError, WireEvent};
use super::event_json::decode_json_located;
use crate::event::Received;
use crate::ledger::ByteClass;

#[derive(Debug, Default)]
pub(crate) struct SseParser {
    /// The line being read, terminator included once complete.
    line: Vec<u8>,
    /// The lines of the current event block (terminators included).
    block: Vec<Vec<u8>>,
}

/// One parsed SSE line: name range, value range, terminator start.
struct SseLine<'a> {
    raw: &'a [u8],
    name: &'a [u8],
    value: Range<usize>,
    content_end: usize,
}

fn parse_sse_line(raw: &[u8]) -> SseLine<'_> {
    let mut content_end = raw.len();
    if raw[..content_end].ends_with(b"\n") {
        content_end -= 1;
    }
    if raw[..content_end].ends_with(b"\r") {
        content_end -= 1;
    }
    let content = &raw[..content_end];
    match content.iter().position(|&b| b == b':') {
        Some(colon) => {
            let mut start = colon + 1;
            if content.get(start) == Some(&b' ') {
                start += 1;
            }
            SseLine {
                raw,
                name: &content[..colon],
                value: start..content_end,
                content_end,
            }
        }
        None => SseLine {
            raw,
            name: content,
            value: content_end..content_end,
            content_end,
        },
    }
}

impl SseParser {
    pub(super) fn feed<F: FnMut(WireEvent<'_>)>(
        &mut self,
        bytes: &[u8],
        em: &mut Emitter<'_, F>,
    ) -> Result<(), WireError> {
        for piece in bytes.split_inclusive(|&b| b == b'\n') {
            self.line.extend_from_slice(piece);
            if !piece.ends_with(b"\n") {
                continue;
            }
            let line = std::mem::take(&mut self.line);
            let parsed = parse_sse_line(&line);
            if parsed.content_end == 0 {
                self.block.push(line);
                self.end_block(em);
            } else if parsed.name.is_empty() && self.block.is_empty() {
                // A comment outside an event (a keep-alive): control at once.
                em.bytes(Direction::Received, ByteClass::Control, &line);
            } else {
                self.block.push(line);
            }
        }
        // Checked after the loop so all of `bytes` is booked or buffered.
        let buffered = self.line.len() + self.block.iter().map(Vec::len).sum::<usize>();
        if buffered > MAX_MESSAGE {
            return Err(WireError::TooLarge(buffered as u64));
        }
        Ok(())
    }

    /// The body was cut short: books the partial block and line as control.
    pub(super) fn flush_partial<F: FnMut(WireEvent<'_>)>(self, em: &mut Emitter<'_, F>) {
        for line in self.block {
            em.bytes(Direction::Received, ByteClass::Control, &line);
        }
        em.bytes(Direction::Received, ByteClass::Control, &self.line);
    }

    /// A blank line ended the block (which includes it as its last line).
    fn end_block<F: FnMut(WireEvent<'_>)>(&mut self, em: &mut Emitter<'_, F>) {
        const DIR: Direction = Direction::Received;
        let block = std::mem::take(&mut self.block);
        let lines: Vec<SseLine<'_>> = block.iter().map(|l| parse_sse_line(l)).collect();
        let data: Vec<&SseLine<'_>> = lines.iter().filter(|l| l.name == b"data").collect();
        let event_type = lines
            .iter()
            .find(|l| l.name == b"event")
            .map(|l| &l.raw[l.value.clone()]);
        let decoded = match data.as_slice() {
            [one] => decode_json_located(&one.raw[one.value.clone()]),
            _ => None,
        };
        let is_message = event_type.is_none_or(|t| t == b"message");
        match decoded {
            Some((received, Some(payload))) if is_message => {
                for line in &lines {
                    if line.name == b"data" {
                        let p = line.value.start + payload.start..line.value.start + payload.end;
                        em.split(DIR, line.raw, p);
                    } else if line.name.is_empty() && line.content_end > 0 || line.name == b"retry"
                    {
                        em.bytes(DIR, ByteClass::Control, line.raw);
                    } else {
                        em.bytes(DIR, ByteClass::Framing, line.raw);
                    }
                }
                em.message(received);
            }
            other => {
                for line in &lines {
                    em.bytes(DIR, ByteClass::Control, line.raw);
                }
                match other {
                    Some((received @ Received::Gap(_), _)) => em.message(received),
                    _ if !data.is_empty() => {
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
}
