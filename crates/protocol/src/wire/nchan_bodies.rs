//! Nchan's dialect (nginx with the Nchan module, `--target-kind nchan`):
//! what its answers put around the messages pushbench publishes into it.
//!
//! Nchan relays a published message's body as is, so each message is one
//! event JSON of pushbench's; what differs per technique is around it:
//! - interval-poll and longpoll: a `200` answer's body is ONE message; its
//!   `Last-Modified` and `Etag` headers are the message's id, sent back as
//!   `If-Modified-Since` / `If-None-Match` on the next poll
//!   ([`validators`]). Nothing new is a `304` (interval-poll) or a `408`
//!   when a long poll's hold runs out: control as a whole, like any poll
//!   that delivers nothing.
//! - http-chunked: each message is one chunk (chunk framing by the HTTP
//!   parser, the message ends with its chunk: [`NchanBody::end_chunk`]).
//! - eventsource: `text/event-stream` blocks read like pushbench's, plus
//!   each message's `id: <time>:<tag>` line (framing), reported as
//!   [`PeerSignal::EventId`] once its block ends, for `Last-Event-ID` on a
//!   reconnect; the `: hi` greeting and the `event: ping` keep-alive
//!   blocks are control.
//! - websocket: one text frame per message, the message as is (read by the
//!   frame parser like pushbench's own frames).

use super::emit::{Direction, Emitter, MAX_MESSAGE, PeerSignal, WireError, WireEvent};
use super::event_json::classify_ndjson_line;
use super::sse::SseParser;
use crate::ledger::ByteClass;
use crate::transport::Transport;

/// The `Etag` a fresh interval poller sends with the `Date` of its first
/// `304`: Nchan's message ids are `<time>:<tag>`, and tag -1 of a second
/// is before its first message, so the next poll gets every message from
/// that second of the server's clock on (a fresh subscriber's poll carries
/// no id, and Nchan's `nchan_subscriber_first_message newest` answers it
/// `304` however many messages follow).
pub(crate) const FRESH_ETAG: &str = "-1";

/// Longest `id:` line kept while its block is read; Nchan's are about 20
/// bytes (`id: 1796388571:0`), so a longer one is not an id to resume by.
const MAX_ID_LINE: usize = 256;

/// A 2xx body of an Nchan answer.
#[derive(Debug)]
pub(crate) enum NchanBody {
    /// A poll answer: one message, the whole body.
    Whole(Vec<u8>),
    /// http-chunked: the message of the current chunk.
    Chunks(Vec<u8>),
    /// eventsource.
    Sse(NchanSse),
}

/// `text/event-stream` with Nchan's ids: the blocks go to the
/// [`SseParser`]; the `id:` line of the block being read is kept and
/// reported when the block's blank line arrives.
#[derive(Debug, Default)]
pub(crate) struct NchanSse {
    blocks: SseParser,
    /// The start of the line being read (up to [`MAX_ID_LINE`] bytes).
    line: Vec<u8>,
    /// The line being read is longer than [`MAX_ID_LINE`].
    long_line: bool,
    /// The id of the block being read.
    id: Option<String>,
}

impl NchanBody {
    /// The body parser of a 2xx answer on a `transport` connection (`None`
    /// for a WebSocket, whose frames are not a body).
    pub(crate) fn for_transport(transport: Transport) -> Option<NchanBody> {
        match transport {
            Transport::ShortPoll | Transport::LongPoll => Some(NchanBody::Whole(Vec::new())),
            Transport::Stream => Some(NchanBody::Chunks(Vec::new())),
            Transport::Sse => Some(NchanBody::Sse(NchanSse::default())),
            Transport::Ws => None,
        }
    }

    pub(crate) fn feed<F: FnMut(WireEvent<'_>)>(
        &mut self,
        bytes: &[u8],
        em: &mut Emitter<'_, F>,
    ) -> Result<(), WireError> {
        match self {
            NchanBody::Whole(buf) | NchanBody::Chunks(buf) => {
                buf.extend_from_slice(bytes);
                if buf.len() > MAX_MESSAGE {
                    return Err(WireError::TooLarge(buf.len() as u64));
                }
                Ok(())
            }
            NchanBody::Sse(sse) => sse.feed(bytes, em),
        }
    }

    /// A chunk of a chunked body ended: an http-chunked message is whole.
    pub(crate) fn end_chunk<F: FnMut(WireEvent<'_>)>(&mut self, em: &mut Emitter<'_, F>) {
        if let NchanBody::Chunks(buf) = self {
            classify_message(&std::mem::take(buf), em);
        }
    }

    /// The body ended: a poll answer's message is whole; what any other
    /// body holds was cut short.
    pub(crate) fn end<F: FnMut(WireEvent<'_>)>(self, em: &mut Emitter<'_, F>) {
        match self {
            NchanBody::Whole(buf) => classify_message(&buf, em),
            other => other.flush_partial(em),
        }
    }

    /// The body was cut short: what it holds is control.
    pub(crate) fn flush_partial<F: FnMut(WireEvent<'_>)>(self, em: &mut Emitter<'_, F>) {
        match self {
            NchanBody::Whole(buf) | NchanBody::Chunks(buf) => {
                em.bytes(Direction::Received, ByteClass::Control, &buf);
            }
            NchanBody::Sse(sse) => sse.blocks.flush_partial(em),
        }
    }
}

/// One message as Nchan relays it: an event JSON (envelope framing,
/// payload payload), or control with a `Malformed` note. Nchan adds no
/// line end, so the NDJSON line reader reads it as a line without one.
fn classify_message<F: FnMut(WireEvent<'_>)>(message: &[u8], em: &mut Emitter<'_, F>) {
    classify_ndjson_line(message, em);
}

impl NchanSse {
    fn feed<F: FnMut(WireEvent<'_>)>(
        &mut self,
        bytes: &[u8],
        em: &mut Emitter<'_, F>,
    ) -> Result<(), WireError> {
        for piece in bytes.split_inclusive(|&b| b == b'\n') {
            self.blocks.feed(piece, em)?;
            let room = MAX_ID_LINE.saturating_sub(self.line.len());
            self.long_line |= piece.len() > room;
            self.line.extend_from_slice(&piece[..piece.len().min(room)]);
            if piece.ends_with(b"\n") {
                self.end_line(em);
            }
        }
        Ok(())
    }

    /// A whole line was read: an `id:` line names the block's id; the
    /// blank line ends the block, whose id is then reported.
    fn end_line<F: FnMut(WireEvent<'_>)>(&mut self, em: &mut Emitter<'_, F>) {
        let line = std::mem::take(&mut self.line);
        let long = std::mem::take(&mut self.long_line);
        let content = line.strip_suffix(b"\n").unwrap_or(&line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.is_empty() && !long {
            if let Some(id) = self.id.take() {
                em.event(WireEvent::Peer(PeerSignal::EventId(&id)));
            }
        } else if let Some(value) = content.strip_prefix(b"id:")
            && !long
        {
            let value = value.strip_prefix(b" ").unwrap_or(value);
            self.id = std::str::from_utf8(value).ok().map(str::to_owned);
        }
    }
}

/// What an Nchan poll answer's head tells the poller to send next: its
/// `Last-Modified` and `Etag` (the message's id, echoed by a `304` to a
/// poll that named them); a `304` without them (a fresh poller's first)
/// primes the validators with its `Date` and [`FRESH_ETAG`]. `header`
/// looks a header up in the head.
pub(crate) fn validators<'h>(
    transport: Transport,
    status: u16,
    header: impl Fn(&str) -> Option<&'h str>,
) -> Option<PeerSignal<'h>> {
    if !matches!(transport, Transport::ShortPoll | Transport::LongPoll) {
        return None;
    }
    match (header("last-modified"), header("etag")) {
        (Some(last_modified), Some(etag)) => Some(PeerSignal::Validators {
            last_modified,
            etag,
        }),
        _ if status == 304 => Some(PeerSignal::Validators {
            last_modified: header("date")?,
            etag: FRESH_ETAG,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
