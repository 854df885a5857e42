//! The frames of an HTTP/2 connection, by type: a frame header checked
//! and booked as it arrives, DATA payloads handed to their stream, header
//! block fragments gathered, SETTINGS applied to the other side's limits.

use super::{
    Block, CONTINUATION, DATA, FLAG_ACK, FLAG_END_HEADERS, FLAG_END_STREAM, FLAG_PADDED,
    FLAG_PRIORITY, Frame, FrameBody, H2Classifier, HEADERS, MAX_HEADERS_OVERHEAD, MAX_TABLE_SIZE,
    PUSH_PROMISE, RST_STREAM, SETTINGS, SETTINGS_HEADER_TABLE_SIZE, SETTINGS_MAX_FRAME_SIZE, book,
};
use crate::frame_head::{H2_FRAME_HEAD_LEN, H2FrameHead};
use crate::ledger::ByteClass;
use crate::wire::{MAX_HEAD, WireError, WireEvent};

impl H2Classifier {
    /// A frame header arrived: checks it and books what is known already.
    /// On error nothing is booked (the header stays buffered).
    pub(super) fn start_frame<F: FnMut(u32, WireEvent<'_>)>(
        &mut self,
        d: usize,
        header: [u8; H2_FRAME_HEAD_LEN],
        head: H2FrameHead,
        sink: &mut F,
    ) -> Result<Frame, WireError> {
        let H2FrameHead {
            len,
            kind,
            flags,
            stream,
        } = head;
        let side = &mut self.sides[d];
        let dir = side.direction;
        if len > side.max_frame {
            return Err(WireError::FrameTooLarge {
                len,
                max: side.max_frame,
            });
        }
        match &side.block {
            Some(block) if kind != CONTINUATION || stream != block.stream => {
                return Err(WireError::BadFrame(
                    "a header block is interrupted by another frame",
                ));
            }
            None if kind == CONTINUATION => {
                return Err(WireError::BadFrame("CONTINUATION without a header block"));
            }
            _ => {}
        }
        let mut frame = Frame {
            header,
            len,
            kind,
            flags,
            stream,
            seen: 0,
            header_booked: false,
            body: FrameBody::Control,
        };
        match kind {
            DATA | HEADERS | CONTINUATION | PUSH_PROMISE if stream == 0 => {
                return Err(WireError::BadFrame("a stream frame on stream 0"));
            }
            DATA => {
                let padded = flags & FLAG_PADDED != 0;
                if padded && len == 0 {
                    return Err(WireError::BadFrame("padded DATA without a pad length"));
                }
                let only_end = len == 0 && flags & FLAG_END_STREAM != 0;
                frame.body = FrameBody::Data {
                    data_end: len,
                    only_end,
                };
                // A padded frame's class waits for its pad length.
                if !padded {
                    let class = if only_end {
                        ByteClass::Control
                    } else {
                        ByteClass::H2Frames
                    };
                    self.book_stream(d, stream, class, &header, sink);
                    frame.header_booked = true;
                }
            }
            HEADERS | CONTINUATION | PUSH_PROMISE => {
                let so_far = side.block.as_ref().map_or(0, |b| b.fragment.len());
                let most = so_far.saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
                if most > MAX_HEAD + MAX_HEADERS_OVERHEAD {
                    return Err(WireError::HeadTooLong);
                }
                frame.body = FrameBody::Block(Vec::with_capacity(len as usize));
            }
            SETTINGS => {
                if stream != 0 {
                    return Err(WireError::BadFrame("SETTINGS on a stream"));
                }
                let class = if flags & FLAG_ACK != 0 {
                    if len != 0 {
                        return Err(WireError::BadFrame("SETTINGS ACK with a body"));
                    }
                    ByteClass::Control
                } else {
                    if !len.is_multiple_of(6) {
                        return Err(WireError::BadFrame("SETTINGS length not a multiple of 6"));
                    }
                    if side.settings_seen {
                        ByteClass::Control
                    } else {
                        side.settings_seen = true;
                        ByteClass::Handshake
                    }
                };
                book(sink, 0, dir, class, &header);
                frame.header_booked = true;
                frame.body = FrameBody::Settings {
                    class,
                    entry: Vec::with_capacity(6),
                };
            }
            _ => {
                book(sink, stream, dir, ByteClass::Control, &header);
                frame.header_booked = true;
            }
        }
        Ok(frame)
    }

    /// Part of a frame's payload (`chunk`, at offset `frame.seen`). On
    /// error, the length booked or buffered before it.
    pub(super) fn payload<F: FnMut(u32, WireEvent<'_>)>(
        &mut self,
        d: usize,
        frame: &mut Frame,
        chunk: &[u8],
        sink: &mut F,
    ) -> Result<(), (usize, WireError)> {
        let dir = self.sides[d].direction;
        match &mut frame.body {
            FrameBody::Data { data_end, only_end } => {
                let mut at = 0;
                let padded = frame.flags & FLAG_PADDED != 0;
                if padded && frame.seen == 0 {
                    let pad = u32::from(chunk[0]);
                    if pad + 1 > frame.len {
                        book(sink, frame.stream, dir, ByteClass::Control, &chunk[..1]);
                        return Err((1, WireError::BadFrame("padding longer than the frame")));
                    }
                    *data_end = frame.len - pad;
                    *only_end = *data_end == 1 && frame.flags & FLAG_END_STREAM != 0;
                    let class = if *only_end {
                        ByteClass::Control
                    } else {
                        ByteClass::H2Frames
                    };
                    let mut overhead = frame.header.to_vec();
                    overhead.push(chunk[0]);
                    self.book_stream(d, frame.stream, class, &overhead, sink);
                    frame.header_booked = true;
                    at = 1;
                }
                let pad_class = if *only_end {
                    ByteClass::Control
                } else {
                    ByteClass::H2Frames
                };
                let offset = frame.seen + at as u32;
                let data_left = usize::try_from(data_end.saturating_sub(offset)).unwrap_or(0);
                let n = (chunk.len() - at).min(data_left);
                if n > 0 {
                    self.deliver(d, frame.stream, &chunk[at..at + n], sink)
                        .map_err(|e| (at + n, e))?;
                }
                at += n;
                self.book_stream(d, frame.stream, pad_class, &chunk[at..], sink);
            }
            FrameBody::Block(buf) => buf.extend_from_slice(chunk),
            FrameBody::Settings { class, entry } => {
                book(sink, 0, dir, *class, chunk);
                for &b in chunk {
                    entry.push(b);
                    if entry.len() == 6 {
                        let id = u16::from_be_bytes([entry[0], entry[1]]);
                        let value = u32::from_be_bytes([entry[2], entry[3], entry[4], entry[5]]);
                        entry.clear();
                        self.apply_setting(d, id, value);
                    }
                }
            }
            FrameBody::Control => book(sink, frame.stream, dir, ByteClass::Control, chunk),
        }
        Ok(())
    }

    /// A SETTINGS entry from side `d` limits the other side's frames and
    /// encoder.
    pub(super) fn apply_setting(&mut self, d: usize, id: u16, value: u32) {
        let other = &mut self.sides[1 - d];
        match id {
            SETTINGS_HEADER_TABLE_SIZE => {
                let size = usize::try_from(value)
                    .unwrap_or(usize::MAX)
                    .min(MAX_TABLE_SIZE);
                if size > other.table_size {
                    other.table_size = size;
                    other.decoder.set_max_allowed_table_size(size);
                }
            }
            SETTINGS_MAX_FRAME_SIZE => {
                // RFC 9113 section 6.5.2: at most 2^24 - 1.
                other.max_frame = other.max_frame.max(value.min(0x00ff_ffff));
            }
            _ => {}
        }
    }

    /// A frame's payload is complete.
    pub(super) fn end_frame<F: FnMut(u32, WireEvent<'_>)>(
        &mut self,
        d: usize,
        frame: Frame,
        sink: &mut F,
    ) -> Result<(), WireError> {
        match frame.body {
            FrameBody::Data { .. } => {
                if frame.flags & FLAG_END_STREAM != 0 {
                    self.end_half(d, frame.stream, sink);
                }
                Ok(())
            }
            FrameBody::Block(_) => self.end_block_frame(d, frame, sink),
            FrameBody::Settings { .. } => Ok(()),
            FrameBody::Control => {
                if frame.kind == RST_STREAM {
                    self.reset(frame.stream, sink);
                }
                Ok(())
            }
        }
    }

    /// A HEADERS, CONTINUATION or PUSH_PROMISE frame is complete: books its
    /// own fields, keeps its fragment, and decodes the block once it is
    /// whole.
    pub(super) fn end_block_frame<F: FnMut(u32, WireEvent<'_>)>(
        &mut self,
        d: usize,
        frame: Frame,
        sink: &mut F,
    ) -> Result<(), WireError> {
        let Frame {
            header,
            kind,
            flags,
            stream,
            body: FrameBody::Block(buf),
            ..
        } = frame
        else {
            return Ok(());
        };
        let header = &header;
        let dir = self.sides[d].direction;
        let mut start = 0usize;
        let mut pad = 0usize;
        if kind != CONTINUATION && flags & FLAG_PADDED != 0 {
            pad = buf.first().map_or(usize::MAX, |&p| usize::from(p));
            start = 1;
        }
        if kind == HEADERS && flags & FLAG_PRIORITY != 0 {
            start += 5;
        }
        if kind == PUSH_PROMISE {
            start += 4;
        }
        if start.saturating_add(pad) > buf.len() {
            book(sink, stream, dir, ByteClass::Control, header);
            book(sink, stream, dir, ByteClass::Control, &buf);
            return Err(WireError::BadFrame(
                "header block frame fields longer than the frame",
            ));
        }
        let end = buf.len() - pad;
        let push = match &self.sides[d].block {
            Some(block) => block.push,
            None => kind == PUSH_PROMISE,
        };
        if push {
            book(sink, stream, dir, ByteClass::Control, header);
            book(sink, stream, dir, ByteClass::Control, &buf[..start]);
            book(sink, stream, dir, ByteClass::Control, &buf[end..]);
        } else {
            if kind == HEADERS
                && !self.streams.contains_key(&stream)
                && let Err(e) = self.open_stream(d, stream)
            {
                book(sink, stream, dir, ByteClass::Control, header);
                book(sink, stream, dir, ByteClass::Control, &buf);
                return Err(e);
            }
            let mut overhead = header.to_vec();
            overhead.extend_from_slice(&buf[..start]);
            self.book_stream(d, stream, ByteClass::H2Frames, &overhead, sink);
            self.book_stream(d, stream, ByteClass::H2Frames, &buf[end..], sink);
        }
        let fragment = &buf[start..end];
        let block = self.sides[d].block.get_or_insert_with(|| Block {
            stream,
            push,
            end_stream: kind == HEADERS && flags & FLAG_END_STREAM != 0,
            fragment: Vec::new(),
        });
        block.fragment.extend_from_slice(fragment);
        if block.fragment.len() > MAX_HEAD {
            if let Some(block) = self.sides[d].block.take() {
                book(sink, stream, dir, ByteClass::Control, &block.fragment);
            }
            return Err(WireError::HeadTooLong);
        }
        if flags & FLAG_END_HEADERS != 0
            && let Some(block) = self.sides[d].block.take()
        {
            self.end_block(d, block, sink)?;
        }
        Ok(())
    }
}
