//! The streams of an HTTP/2 connection: each one opened by its request's
//! header block, its blocks decoded with HPACK and booked, its DATA handed
//! to the body parsers of [`crate::wire`] through its own emitter, and
//! ended by END_STREAM or RST_STREAM (a poll stream held until then).

use super::{
    Block, Body, FrameBody, H2Classifier, Half, MAX_STREAMS, Read, Stream, StreamState, book,
    on_stream,
};
use crate::ledger::ByteClass;
use crate::target_kind::TargetKind;
use crate::transport::Transport;
use crate::wire::{
    Content, Direction, Emitter, Exchange, FrameParser, WireError, WireEvent, WireOrder,
};

impl H2Classifier {
    /// Starts tracking stream `id`, first seen in direction `d`.
    pub(super) fn open_stream(&mut self, d: usize, id: u32) -> Result<(), WireError> {
        if self.streams.len() >= MAX_STREAMS {
            return Err(WireError::TooManyStreams(MAX_STREAMS));
        }
        let stream = Stream {
            exchange: Exchange::default(),
            order: WireOrder::default(),
            hold: matches!(self.transport, Transport::ShortPoll | Transport::LongPoll),
            state: StreamState {
                ws: false,
                // A stream the server opens (a pushed one) has no request.
                request: if d == 0 { Half::Head } else { Half::Ended },
                response: Half::Head,
                status: 0,
            },
        };
        self.streams.insert(id, stream);
        Ok(())
    }

    /// A header block is whole: decodes it and books it.
    pub(super) fn end_block<F: FnMut(u32, WireEvent<'_>)>(
        &mut self,
        d: usize,
        block: Block,
        sink: &mut F,
    ) -> Result<(), WireError> {
        let dir = self.sides[d].direction;
        let id = block.stream;
        let mut fields = Fields::default();
        let decoded = self.sides[d]
            .decoder
            .decode_with_cb(&block.fragment, |name, value| {
                fields.note(&name, &value);
            });
        if let Err(e) = decoded {
            book(sink, id, dir, ByteClass::Control, &block.fragment);
            return Err(WireError::Hpack(e.to_string()));
        }
        if block.push {
            book(sink, id, dir, ByteClass::Control, &block.fragment);
            return Ok(());
        }
        let transport = self.transport;
        let status = match dir {
            Direction::Received
                if self
                    .streams
                    .get(&id)
                    .is_some_and(|s| matches!(s.state.response, Half::Head)) =>
            {
                match fields.status() {
                    Some(status) => Some(status),
                    None => {
                        book(sink, id, dir, ByteClass::Control, &block.fragment);
                        return Err(WireError::BadStatusLine);
                    }
                }
            }
            _ => None,
        };
        let Some(stream) = self.streams.get_mut(&id) else {
            book(sink, id, dir, ByteClass::Control, &block.fragment);
            return Ok(());
        };
        let fragment = &block.fragment;
        on_stream(
            sink,
            id,
            stream,
            &mut self.held,
            fragment.len(),
            |st, em| match dir {
                Direction::Sent => match st.request {
                    Half::Head => {
                        st.ws = fields.is_websocket_connect();
                        if st.ws {
                            em.bytes(dir, ByteClass::Handshake, fragment);
                            st.request = Half::Body(Body::Frames(FrameParser::new(dir)));
                        } else {
                            em.bytes(dir, ByteClass::RequestHeaders, fragment);
                            st.request = Half::Body(Body::Payload);
                        }
                    }
                    // Trailers deliver nothing.
                    _ => em.bytes(dir, ByteClass::Control, fragment),
                },
                Direction::Received => match status {
                    Some(status) if (100..200).contains(&status) => {
                        // An interim answer; the final one follows.
                        em.bytes(dir, ByteClass::ResponseHeaders, fragment);
                        em.event(WireEvent::ResponseHead { status });
                    }
                    Some(status) => {
                        st.status = status;
                        if st.ws && (200..300).contains(&status) {
                            em.bytes(dir, ByteClass::Handshake, fragment);
                            st.response = Half::Body(Body::Frames(FrameParser::new(dir)));
                        } else {
                            em.bytes(dir, ByteClass::ResponseHeaders, fragment);
                            // HTTP/2 is measured against pushbench's own server only.
                            let content = Content::for_response(
                                TargetKind::Pushbench,
                                transport,
                                status,
                                fields.content_encoding.as_deref(),
                            );
                            st.response = Half::Body(Body::Content(content));
                        }
                        em.event(WireEvent::ResponseHead { status });
                    }
                    // Trailers deliver nothing.
                    None => em.bytes(dir, ByteClass::Control, fragment),
                },
            },
        );
        if block.end_stream {
            self.end_half(d, id, sink);
        }
        Ok(())
    }

    /// Books frame bytes of stream `id` through its exchange (so a held poll
    /// stream keeps them), or directly if the stream is not tracked.
    pub(super) fn book_stream<F: FnMut(u32, WireEvent<'_>)>(
        &mut self,
        d: usize,
        id: u32,
        class: ByteClass,
        bytes: &[u8],
        sink: &mut F,
    ) {
        let dir = self.sides[d].direction;
        if bytes.is_empty() {
            return;
        }
        match self.streams.get_mut(&id) {
            Some(stream) => on_stream(sink, id, stream, &mut self.held, bytes.len(), |_, em| {
                em.bytes(dir, class, bytes)
            }),
            None => book(sink, id, dir, class, bytes),
        }
    }

    /// DATA bytes of stream `id` in direction `d`: to its body parser.
    pub(super) fn deliver<F: FnMut(u32, WireEvent<'_>)>(
        &mut self,
        d: usize,
        id: u32,
        data: &[u8],
        sink: &mut F,
    ) -> Result<(), WireError> {
        let dir = self.sides[d].direction;
        let Some(stream) = self.streams.get_mut(&id) else {
            book(sink, id, dir, ByteClass::Control, data);
            return Ok(());
        };
        on_stream(sink, id, stream, &mut self.held, data.len(), |st, em| {
            let half = match dir {
                Direction::Sent => &mut st.request,
                Direction::Received => &mut st.response,
            };
            match half {
                // A request body is what `/publish` publishes: payload.
                Half::Body(Body::Payload) => em.bytes(dir, ByteClass::Payload, data),
                Half::Body(Body::Content(content)) => return content.feed_body(data, em),
                Half::Body(Body::Frames(frames)) => frames.feed(data, em),
                // DATA before the header block or after END_STREAM.
                Half::Head | Half::Ended => em.bytes(dir, ByteClass::Control, data),
            }
            Ok(())
        })
    }

    /// END_STREAM in direction `d` on stream `id`.
    pub(super) fn end_half<F: FnMut(u32, WireEvent<'_>)>(
        &mut self,
        d: usize,
        id: u32,
        sink: &mut F,
    ) {
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        let done = on_stream(sink, id, stream, &mut self.held, 0, |st, em| {
            if d == 0 {
                if let Half::Body(body) = std::mem::replace(&mut st.request, Half::Ended) {
                    flush_body(body, em);
                }
            } else {
                let next = match std::mem::replace(&mut st.response, Half::Ended) {
                    Half::Body(Body::Content(content)) => content.end_body(em),
                    Half::Body(body) => {
                        flush_body(body, em);
                        None
                    }
                    Half::Head | Half::Ended => None,
                };
                em.release(false);
                em.event(WireEvent::ResponseEnd {
                    status: st.status,
                    next,
                });
            }
            matches!((&st.request, &st.response), (Half::Ended, Half::Ended))
        });
        if d == 1 {
            // The poll exchange is decided; later bytes go straight out.
            stream.hold = false;
        }
        if done {
            self.forget(id, sink);
        }
    }

    /// RST_STREAM (either way): the stream ends where it is.
    pub(super) fn reset<F: FnMut(u32, WireEvent<'_>)>(&mut self, id: u32, sink: &mut F) {
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        on_stream(sink, id, stream, &mut self.held, 0, |st, em| {
            if let Half::Body(body) = std::mem::replace(&mut st.request, Half::Ended) {
                flush_body(body, em);
            }
            let open = !matches!(st.response, Half::Ended);
            if let Half::Body(body) = std::mem::replace(&mut st.response, Half::Ended) {
                flush_body(body, em);
            }
            if open {
                // A poll reset before it delivered anything is overhead.
                em.release(false);
                em.event(WireEvent::ResponseEnd {
                    status: st.status,
                    next: None,
                });
            }
        });
        self.forget(id, sink);
    }

    /// Stops tracking a stream that ended both ways; anything it still
    /// held (nothing, normally) is booked first.
    pub(super) fn forget<F: FnMut(u32, WireEvent<'_>)>(&mut self, id: u32, sink: &mut F) {
        if let Some(mut stream) = self.streams.remove(&id) {
            on_stream(sink, id, &mut stream, &mut self.held, 0, |_, em| {
                em.release(true)
            });
        }
    }

    /// Books what direction `d` holds as control: its partial frame or
    /// header block, and each stream's partial body in that direction.
    pub(super) fn flush_side<F: FnMut(u32, WireEvent<'_>)>(&mut self, d: usize, sink: &mut F) {
        let side = &mut self.sides[d];
        let dir = side.direction;
        match std::mem::replace(&mut side.read, Read::Broken) {
            Read::Preface(buf) | Read::Header(buf) => book(sink, 0, dir, ByteClass::Control, &buf),
            Read::Payload(frame) => {
                if !frame.header_booked {
                    book(sink, frame.stream, dir, ByteClass::Control, &frame.header);
                }
                if let FrameBody::Block(buf) = &frame.body {
                    book(sink, frame.stream, dir, ByteClass::Control, buf);
                }
            }
            Read::Broken => {}
        }
        if let Some(block) = side.block.take() {
            book(sink, block.stream, dir, ByteClass::Control, &block.fragment);
        }
        let mut ids: Vec<u32> = self.streams.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let Some(stream) = self.streams.get_mut(&id) else {
                continue;
            };
            on_stream(sink, id, stream, &mut self.held, 0, |st, em| {
                let half = if d == 0 {
                    &mut st.request
                } else {
                    &mut st.response
                };
                if let Half::Body(body) = std::mem::replace(half, Half::Ended) {
                    flush_body(body, em);
                }
            });
        }
    }
}

/// Books what a body parser holds as control (a cut-off body).
fn flush_body<F: FnMut(WireEvent<'_>)>(body: Body, em: &mut Emitter<'_, F>) {
    match body {
        Body::Payload => {}
        Body::Content(content) => content.flush_body(em),
        Body::Frames(mut frames) => frames.flush_partial(em),
    }
}

/// The header fields the classifier needs from a decoded block.
#[derive(Debug, Default)]
struct Fields {
    status: Option<Vec<u8>>,
    method: Option<Vec<u8>>,
    protocol: Option<Vec<u8>>,
    content_encoding: Option<String>,
}

impl Fields {
    fn note(&mut self, name: &[u8], value: &[u8]) {
        let slot = match name {
            b":status" => &mut self.status,
            b":method" => &mut self.method,
            b":protocol" => &mut self.protocol,
            b"content-encoding" => {
                self.content_encoding = std::str::from_utf8(value).ok().map(str::to_owned);
                return;
            }
            _ => return,
        };
        *slot = Some(value.to_vec());
    }

    fn status(&self) -> Option<u16> {
        let text = std::str::from_utf8(self.status.as_deref()?).ok()?;
        text.parse().ok().filter(|s| (100..1000).contains(s))
    }

    /// RFC 8441: `CONNECT` with `:protocol: websocket`.
    fn is_websocket_connect(&self) -> bool {
        self.method.as_deref() == Some(b"CONNECT")
            && self
                .protocol
                .as_deref()
                .is_some_and(|p| p.eq_ignore_ascii_case(b"websocket"))
    }
}
