//! TLS record framing, read from the ciphertext: which bytes of a TLS 1.3
//! connection are record overhead and which carry (encrypted) plaintext.
//!
//! Every TLS record is a 5-byte header (content type, legacy version,
//! length) and `length` bytes of content. A TLS 1.3 record after the
//! handshake is an encrypted `application_data` record whose content is the
//! plaintext, one inner content-type byte and the AEAD tag (16 bytes for
//! every TLS 1.3 cipher suite); rustls adds no padding. So of each record,
//! the header and the last [`TLS13_RECORD_TRAILER`] content bytes are
//! overhead, and the rest is the plaintext the layer above counts. A record
//! carrying no application data (a session ticket, a `close_notify` alert)
//! is overhead as a whole; it cannot be told apart from the ciphertext, so
//! the load generator finds those bytes as the difference between what the
//! records carried and the plaintext that came out (see
//! `pushbench_loadgen::meter`).
//!
//! [`RecordScanner`] follows the record boundaries of one direction across
//! reads of any size, with no buffering: a pure state machine.

/// Bytes of a TLS record header: type (1), legacy version (2), length (2).
pub const RECORD_HEADER: usize = 5;

/// Content bytes after the plaintext in a TLS 1.3 record: the inner content
/// type (1) and the AEAD tag (16; AES-GCM and ChaCha20-Poly1305 alike).
/// rustls sends no padding.
pub const TLS13_RECORD_TRAILER: usize = 17;

/// Largest record content: 2^14 plaintext bytes plus 256 of expansion
/// (RFC 8446 section 5.2).
pub const MAX_RECORD_CONTENT: usize = (1 << 14) + 256;

/// A TLS record content type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentType {
    /// 20: change_cipher_spec (in TLS 1.3 only the middlebox-compatibility one).
    ChangeCipherSpec,
    /// 21: alert.
    Alert,
    /// 22: handshake (unencrypted: ClientHello, ServerHello).
    Handshake,
    /// 23: application_data (in TLS 1.3 every encrypted record).
    ApplicationData,
}

impl ContentType {
    /// The content type of a record header's first byte.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            20 => Some(ContentType::ChangeCipherSpec),
            21 => Some(ContentType::Alert),
            22 => Some(ContentType::Handshake),
            23 => Some(ContentType::ApplicationData),
            _ => None,
        }
    }

    /// The name RFC 8446 gives it.
    pub fn name(self) -> &'static str {
        match self {
            ContentType::ChangeCipherSpec => "change_cipher_spec",
            ContentType::Alert => "alert",
            ContentType::Handshake => "handshake",
            ContentType::ApplicationData => "application_data",
        }
    }
}

/// Which part of a record a run of bytes is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordPart {
    /// The 5-byte header.
    Header,
    /// Content before the last [`TLS13_RECORD_TRAILER`] bytes: the
    /// encrypted plaintext of an application data record.
    Body,
    /// The last [`TLS13_RECORD_TRAILER`] content bytes (inner type and tag).
    Trailer,
}

/// A byte stream that is not TLS records.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// A header with an unknown content type.
    #[error("not a TLS record: content type {0}")]
    ContentType(u8),
    /// A header whose length exceeds what TLS allows.
    #[error("TLS record of {0} bytes, more than the 16640 allowed")]
    TooLong(usize),
}

/// One complete record header, as [`RecordScanner::feed`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// Its content type.
    pub content_type: ContentType,
    /// Its content length.
    pub length: usize,
}

/// Follows the records of one direction of a TLS connection.
#[derive(Clone, Debug, Default)]
pub struct RecordScanner {
    /// Header bytes seen of the record being read (0 to 5).
    header: [u8; RECORD_HEADER],
    header_len: usize,
    /// Content bytes of the current record still to come.
    remaining: usize,
    /// Records whose header was read.
    records: u64,
    failed: bool,
}

impl RecordScanner {
    /// Feeds bytes in stream order. `sink` gets runs of bytes by
    /// [`RecordPart`] (lengths that add up to `bytes.len()`), and each
    /// header as it completes. After an error every byte is reported as
    /// [`RecordPart::Header`] (overhead): the stream is not TLS any more.
    pub fn feed(
        &mut self,
        bytes: &[u8],
        sink: &mut dyn FnMut(RecordPart, usize, Option<RecordHeader>),
    ) -> Result<(), RecordError> {
        if self.failed {
            sink(RecordPart::Header, bytes.len(), None);
            return Ok(());
        }
        let mut rest = bytes;
        while !rest.is_empty() {
            if self.remaining == 0 {
                let take = (RECORD_HEADER - self.header_len).min(rest.len());
                self.header[self.header_len..self.header_len + take].copy_from_slice(&rest[..take]);
                self.header_len += take;
                rest = &rest[take..];
                if self.header_len < RECORD_HEADER {
                    sink(RecordPart::Header, take, None);
                    continue;
                }
                self.header_len = 0;
                let header = match self.parse_header() {
                    Ok(h) => h,
                    Err(e) => {
                        self.failed = true;
                        sink(RecordPart::Header, take + rest.len(), None);
                        return Err(e);
                    }
                };
                self.records += 1;
                self.remaining = header.length;
                sink(RecordPart::Header, take, Some(header));
                continue;
            }
            // Content: body first, then the trailer's last bytes.
            let take = self.remaining.min(rest.len());
            let body_left = self.remaining.saturating_sub(TLS13_RECORD_TRAILER);
            let body = take.min(body_left);
            if body > 0 {
                sink(RecordPart::Body, body, None);
            }
            if take > body {
                sink(RecordPart::Trailer, take - body, None);
            }
            self.remaining -= take;
            rest = &rest[take..];
        }
        Ok(())
    }

    fn parse_header(&self) -> Result<RecordHeader, RecordError> {
        let content_type = ContentType::from_byte(self.header[0])
            .ok_or(RecordError::ContentType(self.header[0]))?;
        let length = usize::from(u16::from_be_bytes([self.header[3], self.header[4]]));
        if length > MAX_RECORD_CONTENT {
            return Err(RecordError::TooLong(length));
        }
        Ok(RecordHeader {
            content_type,
            length,
        })
    }

    /// Records whose header has been read.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// True between records (no header or content half read).
    pub fn at_boundary(&self) -> bool {
        self.remaining == 0 && self.header_len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(content_type: u8, content: usize) -> Vec<u8> {
        let mut r = vec![content_type, 3, 3];
        r.extend_from_slice(&(content as u16).to_be_bytes());
        r.extend(std::iter::repeat_n(0xAB, content));
        r
    }

    /// Totals by part when `bytes` are fed in pieces of `piece` bytes.
    fn split(bytes: &[u8], piece: usize) -> ([usize; 3], u64, Vec<RecordHeader>) {
        let mut scanner = RecordScanner::default();
        let mut parts = [0; 3];
        let mut headers = Vec::new();
        for chunk in bytes.chunks(piece) {
            scanner
                .feed(chunk, &mut |part, n, header| {
                    parts[part as usize] += n;
                    headers.extend(header);
                })
                .expect("records");
        }
        assert!(scanner.at_boundary());
        (parts, scanner.records(), headers)
    }

    #[test]
    fn header_body_and_trailer_split_the_same_in_any_pieces() {
        // A ClientHello-sized handshake record, then two application data
        // records: 100 plaintext bytes and 1.
        let stream = [record(22, 300), record(23, 117), record(23, 18)].concat();
        for piece in [1, 2, 5, 7, 64, stream.len()] {
            let (parts, records, headers) = split(&stream, piece);
            assert_eq!(records, 3);
            assert_eq!(parts[RecordPart::Header as usize], 15, "piece {piece}");
            assert_eq!(parts[RecordPart::Body as usize], 283 + 100 + 1);
            assert_eq!(parts[RecordPart::Trailer as usize], 17 * 3);
            assert_eq!(parts.iter().sum::<usize>(), stream.len());
            assert_eq!(headers[0].content_type, ContentType::Handshake);
            assert_eq!(headers[2].length, 18);
        }
    }

    #[test]
    fn a_record_shorter_than_the_trailer_is_all_trailer() {
        let (parts, _, _) = split(&record(21, 2), 3);
        assert_eq!(parts, [5, 0, 2]);
    }

    #[test]
    fn plaintext_http_is_not_tls() {
        let mut scanner = RecordScanner::default();
        let mut total = 0;
        let err = scanner
            .feed(b"GET / HTTP/1.1\r\n", &mut |_, n, _| total += n)
            .expect_err("not TLS");
        assert_eq!(err, RecordError::ContentType(b'G'));
        assert_eq!(total, 16, "every byte is still reported");
        scanner
            .feed(b"more", &mut |part, n, _| {
                assert_eq!(part, RecordPart::Header);
                total += n
            })
            .expect("reported as overhead");
        assert_eq!(total, 20);
        let mut long = RecordScanner::default();
        assert_eq!(
            long.feed(&[23, 3, 3, 0xFF, 0xFF], &mut |_, _, _| {}),
            Err(RecordError::TooLong(65_535))
        );
    }
}
