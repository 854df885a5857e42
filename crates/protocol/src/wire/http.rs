//! HTTP/1.1 on the wire: request and response heads, `content-length`,
//! chunked and until-close bodies, and the upgrade to WebSocket frames. A
//! response body goes to the parser [`Content`] picks for it.

use super::content::Content;
use super::dialect::{self, header};
use super::emit::{Direction, Emitter, MAX_CHUNK_LINE, MAX_HEAD, WireError, WireEvent, up_to};
use super::ws::FrameParser;
use crate::ledger::ByteClass;
use crate::target_kind::TargetKind;
use crate::transport::Transport;

/// Accumulates an HTTP head until the blank line; returns how many bytes of
/// `bytes` it took and whether the head is complete.
/// On error the bytes taken so far are in `buf`.
fn take_head(buf: &mut Vec<u8>, bytes: &[u8]) -> Result<(usize, bool), (usize, WireError)> {
    for (i, &b) in bytes.iter().enumerate() {
        buf.push(b);
        if buf.ends_with(b"\r\n\r\n") {
            return Ok((i + 1, true));
        }
        if buf.len() > MAX_HEAD {
            return Err((i + 1, WireError::HeadTooLong));
        }
    }
    Ok((bytes.len(), false))
}

fn content_length(head: &[u8]) -> Result<Option<u64>, WireError> {
    header(head, "content-length")
        .map(|v| v.parse::<u64>().map_err(|_| WireError::BadContentLength))
        .transpose()
}

#[derive(Debug)]
enum RequestState {
    Head(Vec<u8>),
    Body { remaining: u64 },
    Frames(FrameParser),
    Broken,
}

#[derive(Debug)]
pub(super) struct RequestParser {
    state: RequestState,
    kind: TargetKind,
}

impl RequestParser {
    pub(super) fn new(kind: TargetKind) -> Self {
        RequestParser {
            state: RequestState::Head(Vec::new()),
            kind,
        }
    }
}

/// An HTTP/1.1 parser of one direction, fed one step at a time.
pub(super) trait Stepwise {
    /// Consumes a prefix of `bytes` and returns its length; on error, the
    /// length consumed (booked or buffered) before the error.
    fn step<F: FnMut(WireEvent<'_>)>(
        &mut self,
        bytes: &[u8],
        em: &mut Emitter<'_, F>,
    ) -> Result<usize, (usize, WireError)>;

    /// Books what the parser holds as control (a cut-off head, line or
    /// frame).
    fn flush_partial<F: FnMut(WireEvent<'_>)>(&mut self, em: &mut Emitter<'_, F>);

    /// After an error: the parser books every later byte as control.
    fn break_off(&mut self);

    /// Feeds `bytes` one [`step`](Self::step) at a time. On an error,
    /// everything consumed so far is booked or buffered: the buffers are
    /// booked (`flush_partial`), the parser breaks off (it books the rest as
    /// control), and the first error is returned once all bytes are booked.
    fn feed<F: FnMut(WireEvent<'_>)>(
        &mut self,
        mut bytes: &[u8],
        em: &mut Emitter<'_, F>,
    ) -> Result<(), WireError> {
        let mut error = None;
        while !bytes.is_empty() {
            match self.step(bytes, em) {
                Ok(n) => bytes = &bytes[n..],
                Err((n, e)) => {
                    self.flush_partial(em);
                    self.break_off();
                    bytes = &bytes[n..];
                    error.get_or_insert(e);
                }
            }
        }
        error.map_or(Ok(()), Err)
    }
}

impl Stepwise for RequestParser {
    fn break_off(&mut self) {
        self.state = RequestState::Broken;
    }

    fn step<F: FnMut(WireEvent<'_>)>(
        &mut self,
        bytes: &[u8],
        em: &mut Emitter<'_, F>,
    ) -> Result<usize, (usize, WireError)> {
        const DIR: Direction = Direction::Sent;
        match &mut self.state {
            RequestState::Head(buf) => {
                let (n, done) = take_head(buf, bytes)?;
                if !done {
                    return Ok(n);
                }
                let head = std::mem::take(buf);
                let upgrade =
                    header(&head, "upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
                if upgrade {
                    em.bytes(DIR, ByteClass::Handshake, &head);
                    self.state = RequestState::Frames(FrameParser::for_target(self.kind, DIR));
                    return Ok(n);
                }
                em.bytes(DIR, ByteClass::RequestHeaders, &head);
                match content_length(&head) {
                    Ok(Some(len)) if len > 0 => self.state = RequestState::Body { remaining: len },
                    Ok(_) => {}
                    Err(e) => return Err((n, e)),
                }
                Ok(n)
            }
            RequestState::Body { remaining } => {
                let n = up_to(bytes, *remaining);
                let class = match self.kind {
                    // Engine.IO's POSTs carry the client's answers (its
                    // connect, its pongs): they deliver nothing.
                    TargetKind::Socketio => ByteClass::Control,
                    // A request body is what `/publish` publishes: payload.
                    _ => ByteClass::Payload,
                };
                em.bytes(DIR, class, &bytes[..n]);
                *remaining -= n as u64;
                if *remaining == 0 {
                    self.state = RequestState::Head(Vec::new());
                }
                Ok(n)
            }
            RequestState::Frames(frames) => {
                frames.feed(bytes, em);
                Ok(bytes.len())
            }
            RequestState::Broken => {
                em.bytes(DIR, ByteClass::Control, bytes);
                Ok(bytes.len())
            }
        }
    }

    fn flush_partial<F: FnMut(WireEvent<'_>)>(&mut self, em: &mut Emitter<'_, F>) {
        match &mut self.state {
            RequestState::Head(buf) => {
                em.bytes(Direction::Sent, ByteClass::Control, &std::mem::take(buf))
            }
            RequestState::Frames(frames) => frames.flush_partial(em),
            RequestState::Body { .. } | RequestState::Broken => {}
        }
    }
}

/// The size a whole chunk-size line (`hex[;ext]\r\n`) announces.
pub(super) fn chunk_size(line: &[u8]) -> Option<u64> {
    // What servers send: hex digits and CRLF, read without the string
    // handling below (which was a tenth of an SSE client's classifying).
    if let Some(hex) = line.strip_suffix(b"\r\n")
        && (1..=15).contains(&hex.len())
        && hex.iter().all(u8::is_ascii_hexdigit)
    {
        let digit = |b: u8| u64::from(char::from(b).to_digit(16).unwrap_or(0));
        return Some(hex.iter().fold(0, |size, &b| size << 4 | digit(b)));
    }
    let text = std::str::from_utf8(line).ok()?;
    let hex = text
        .trim_end_matches(['\r', '\n'])
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    u64::from_str_radix(hex, 16).ok()
}

#[derive(Debug)]
enum ChunkState {
    /// Reading `hex[;ext]\r\n`.
    SizeLine(Vec<u8>),
    /// Inside a chunk's data.
    Data { remaining: u64 },
    /// Reading the CRLF after a chunk's data.
    DataEnd(Vec<u8>),
    /// After the last chunk's size line: trailer lines up to the blank line.
    Trailer(Vec<u8>),
}

#[derive(Debug)]
enum ResponseState {
    Head(Vec<u8>),
    Fixed { remaining: u64 },
    Chunked(ChunkState),
    UntilClose,
    Frames(FrameParser),
    Broken,
}

#[derive(Debug)]
pub(super) struct ResponseParser {
    transport: Transport,
    kind: TargetKind,
    state: ResponseState,
    status: u16,
    content: Content,
}

impl ResponseParser {
    pub(super) fn new(kind: TargetKind, transport: Transport) -> Self {
        ResponseParser {
            transport,
            kind,
            state: ResponseState::Head(Vec::new()),
            status: 0,
            content: Content::Opaque,
        }
    }
}

impl Stepwise for ResponseParser {
    fn break_off(&mut self) {
        self.state = ResponseState::Broken;
    }

    fn step<F: FnMut(WireEvent<'_>)>(
        &mut self,
        bytes: &[u8],
        em: &mut Emitter<'_, F>,
    ) -> Result<usize, (usize, WireError)> {
        const DIR: Direction = Direction::Received;
        match &mut self.state {
            ResponseState::Head(buf) => {
                let (n, done) = take_head(buf, bytes)?;
                if done {
                    let head = std::mem::take(buf);
                    self.start_response(head, em).map_err(|e| (n, e))?;
                }
                Ok(n)
            }
            ResponseState::Fixed { remaining } => {
                let n = up_to(bytes, *remaining);
                *remaining -= n as u64;
                let done = *remaining == 0;
                self.feed_content(&bytes[..n], em).map_err(|e| (n, e))?;
                if done {
                    self.end_response(em);
                }
                Ok(n)
            }
            ResponseState::Chunked(chunk) => match chunk {
                ChunkState::SizeLine(line) => {
                    let end = memchr::memchr(b'\n', bytes);
                    let taken = end.map_or(bytes.len(), |pos| pos + 1);
                    // Checked on the line so far, complete or not, so a
                    // long line is refused wherever the reads were cut.
                    if end.is_none() || line.len() + taken > MAX_CHUNK_LINE {
                        line.extend_from_slice(&bytes[..taken]);
                        if line.len() > MAX_CHUNK_LINE {
                            return Err((taken, WireError::BadChunkSize));
                        }
                        return Ok(taken);
                    }
                    // A whole line in this read is read in place; only one
                    // cut by a read was gathered.
                    let whole: &[u8] = if line.is_empty() {
                        &bytes[..taken]
                    } else {
                        line.extend_from_slice(&bytes[..taken]);
                        line
                    };
                    let Some(size) = chunk_size(whole) else {
                        // Kept, to be booked as control with the rest.
                        if line.is_empty() {
                            line.extend_from_slice(&bytes[..taken]);
                        }
                        return Err((taken, WireError::BadChunkSize));
                    };
                    if size == 0 {
                        // The last chunk ends the body: it delivers nothing.
                        em.bytes(DIR, ByteClass::Control, whole);
                        *chunk = ChunkState::Trailer(Vec::new());
                        return Ok(taken);
                    }
                    em.bytes(DIR, ByteClass::Framing, whole);
                    line.clear();
                    // A chunk whose data and CRLF this read holds too (a
                    // pushed event, typically) is read in this one step.
                    let data_end = usize::try_from(size)
                        .ok()
                        .and_then(|n| n.checked_add(taken));
                    if let Some(end) = data_end
                        && bytes.get(end..end + 2) == Some(b"\r\n")
                    {
                        self.feed_content(&bytes[taken..end], em)
                            .map_err(|e| (end, e))?;
                        self.content.end_chunk(em);
                        em.bytes(DIR, ByteClass::Framing, b"\r\n");
                        return Ok(end + 2);
                    }
                    *chunk = ChunkState::Data { remaining: size };
                    Ok(taken)
                }
                ChunkState::Data { remaining } => {
                    let n = up_to(bytes, *remaining);
                    *remaining -= n as u64;
                    let chunk_done = *remaining == 0;
                    if chunk_done {
                        *chunk = ChunkState::DataEnd(Vec::new());
                    }
                    self.feed_content(&bytes[..n], em).map_err(|e| (n, e))?;
                    if chunk_done {
                        self.content.end_chunk(em);
                    }
                    Ok(n)
                }
                ChunkState::DataEnd(crlf) if crlf.is_empty() && bytes.starts_with(b"\r\n") => {
                    em.bytes(DIR, ByteClass::Framing, b"\r\n");
                    *chunk = ChunkState::SizeLine(Vec::new());
                    Ok(2)
                }
                ChunkState::DataEnd(crlf) => {
                    let n = bytes.len().min(2 - crlf.len());
                    crlf.extend_from_slice(&bytes[..n]);
                    if crlf.len() == 2 {
                        if crlf != b"\r\n" {
                            return Err((n, WireError::BadChunkEnd));
                        }
                        em.bytes(DIR, ByteClass::Framing, crlf);
                        *chunk = ChunkState::SizeLine(Vec::new());
                    }
                    Ok(n)
                }
                ChunkState::Trailer(buf) => {
                    // An empty trailer is just "\r\n"; otherwise lines up to "\r\n\r\n".
                    for (i, &b) in bytes.iter().enumerate() {
                        buf.push(b);
                        if buf == b"\r\n" || buf.ends_with(b"\r\n\r\n") {
                            em.bytes(DIR, ByteClass::Control, buf);
                            self.end_response(em);
                            return Ok(i + 1);
                        }
                        if buf.len() > MAX_HEAD {
                            return Err((i + 1, WireError::HeadTooLong));
                        }
                    }
                    Ok(bytes.len())
                }
            },
            ResponseState::UntilClose => {
                self.feed_content(bytes, em).map_err(|e| (bytes.len(), e))?;
                Ok(bytes.len())
            }
            ResponseState::Frames(frames) => {
                frames.feed(bytes, em);
                Ok(bytes.len())
            }
            ResponseState::Broken => {
                em.bytes(DIR, ByteClass::Control, bytes);
                Ok(bytes.len())
            }
        }
    }

    fn flush_partial<F: FnMut(WireEvent<'_>)>(&mut self, em: &mut Emitter<'_, F>) {
        const DIR: Direction = Direction::Received;
        // The body's partial line or block came off the wire before the
        // framing bytes buffered after it (a chunk's CRLF or the next
        // chunk-size line), so it is booked first: segments stay in wire
        // order.
        let content = std::mem::replace(&mut self.content, Content::Opaque);
        content.flush_body(em);
        match &mut self.state {
            ResponseState::Head(buf) => em.bytes(DIR, ByteClass::Control, &std::mem::take(buf)),
            ResponseState::Chunked(
                ChunkState::SizeLine(b) | ChunkState::DataEnd(b) | ChunkState::Trailer(b),
            ) => {
                em.bytes(DIR, ByteClass::Control, &std::mem::take(b));
            }
            ResponseState::Frames(frames) => frames.flush_partial(em),
            _ => {}
        }
    }
}

impl ResponseParser {
    fn start_response<F: FnMut(WireEvent<'_>)>(
        &mut self,
        head: Vec<u8>,
        em: &mut Emitter<'_, F>,
    ) -> Result<(), WireError> {
        const DIR: Direction = Direction::Received;
        let status = match parse_status(&head) {
            Ok(s) => s,
            Err(e) => {
                em.bytes(DIR, ByteClass::Control, &head);
                return Err(e);
            }
        };
        self.status = status;
        if status == 101 {
            em.bytes(DIR, ByteClass::Handshake, &head);
            em.event(WireEvent::ResponseHead { status });
            self.state = ResponseState::Frames(FrameParser::for_target(self.kind, DIR));
            return Ok(());
        }
        let length = match content_length(&head) {
            Ok(l) => l,
            Err(e) => {
                em.bytes(DIR, ByteClass::Control, &head);
                return Err(e);
            }
        };
        let chunked = header(&head, "transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        em.bytes(DIR, ByteClass::ResponseHeaders, &head);
        em.event(WireEvent::ResponseHead { status });
        dialect::response_head(self.kind, self.transport, status, &head, em);
        self.content = Content::for_response(
            self.kind,
            self.transport,
            status,
            header(&head, "content-encoding"),
        );
        if (100..200).contains(&status) || status == 204 || status == 304 {
            self.end_response(em);
        } else if chunked {
            self.state = ResponseState::Chunked(ChunkState::SizeLine(Vec::new()));
        } else if let Some(n) = length {
            if n == 0 {
                self.end_response(em);
            } else {
                self.state = ResponseState::Fixed { remaining: n };
            }
        } else {
            self.state = ResponseState::UntilClose;
        }
        Ok(())
    }

    /// Hands body bytes to the body parser.
    fn feed_content<F: FnMut(WireEvent<'_>)>(
        &mut self,
        bytes: &[u8],
        em: &mut Emitter<'_, F>,
    ) -> Result<(), WireError> {
        self.content.feed_body(bytes, em)
    }

    fn end_response<F: FnMut(WireEvent<'_>)>(&mut self, em: &mut Emitter<'_, F>) {
        let content = std::mem::replace(&mut self.content, Content::Opaque);
        let next = content.end_body(em);
        self.state = ResponseState::Head(Vec::new());
        em.release(false);
        em.event(WireEvent::ResponseEnd {
            status: self.status,
            next,
        });
    }
}

fn parse_status(head: &[u8]) -> Result<u16, WireError> {
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with(b"HTTP/1.") {
        return Err(WireError::BadStatusLine);
    }
    std::str::from_utf8(parts.next().unwrap_or_default())
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(WireError::BadStatusLine)
}
