//! RESP2, the Redis wire protocol, as plain functions: a command is encoded
//! as an array of bulk strings ([`encode_command`]); a reply is parsed from
//! the front of a buffer ([`parse_reply`]), incrementally: `Ok(None)` until
//! the buffer holds a whole reply. No sockets here; [`crate::redis_conn`]
//! carries the bytes.

/// One RESP2 reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`.
    Simple(String),
    /// `-ERR message`: Redis refused the command.
    Error(String),
    /// `:42`.
    Integer(i64),
    /// `$3\r\nabc`; `None` is the null bulk string `$-1`.
    Bulk(Option<Vec<u8>>),
    /// `*2 ...`; `None` is the null array `*-1` (XREAD BLOCK timing out).
    Array(Option<Vec<Reply>>),
}

/// Bytes that are not a RESP2 reply: the connection cannot be trusted
/// past them.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RespError {
    /// A reply starts with a byte that is no RESP2 type.
    #[error("not a RESP2 reply: type byte 0x{0:02x}")]
    UnknownType(u8),
    /// A length or integer that does not parse.
    #[error("not a RESP2 number: {0:?}")]
    BadNumber(String),
    /// A bulk string not followed by CRLF.
    #[error("a bulk string of {0} bytes is not followed by CRLF")]
    MissingCrlf(usize),
    /// Arrays nested deeper than any Redis reply this server reads.
    #[error("a reply nested more than {MAX_DEPTH} arrays deep")]
    TooDeep,
}

/// Deepest array nesting accepted: XREAD's reply is four deep; the bound
/// keeps a hostile peer from exhausting the stack.
const MAX_DEPTH: usize = 8;

/// `args` as a RESP2 command: an array of bulk strings.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(16 + args.iter().map(|a| a.as_ref().len() + 16).sum::<usize>());
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The reply at the front of `buf` and the bytes it took, or `None` while
/// it is incomplete.
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, RespError> {
    parse_at(buf, 0)
}

/// The line at the front of `buf` (without CRLF) and the bytes it took.
fn line(buf: &[u8]) -> Option<(&[u8], usize)> {
    let end = buf.windows(2).position(|w| w == b"\r\n")?;
    Some((&buf[..end], end + 2))
}

fn number(raw: &[u8]) -> Result<i64, RespError> {
    std::str::from_utf8(raw)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| RespError::BadNumber(String::from_utf8_lossy(raw).into_owned()))
}

fn parse_at(buf: &[u8], depth: usize) -> Result<Option<(Reply, usize)>, RespError> {
    if depth > MAX_DEPTH {
        return Err(RespError::TooDeep);
    }
    let Some(&kind) = buf.first() else {
        return Ok(None);
    };
    let Some((head, head_len)) = line(&buf[1..]) else {
        return Ok(None);
    };
    let used = 1 + head_len;
    let text = || String::from_utf8_lossy(head).into_owned();
    match kind {
        b'+' => Ok(Some((Reply::Simple(text()), used))),
        b'-' => Ok(Some((Reply::Error(text()), used))),
        b':' => Ok(Some((Reply::Integer(number(head)?), used))),
        b'$' => {
            let len = number(head)?;
            let Ok(len) = usize::try_from(len) else {
                return Ok(Some((Reply::Bulk(None), used)));
            };
            let rest = &buf[used..];
            if rest.len() < len + 2 {
                return Ok(None);
            }
            if &rest[len..len + 2] != b"\r\n" {
                return Err(RespError::MissingCrlf(len));
            }
            Ok(Some((
                Reply::Bulk(Some(rest[..len].to_vec())),
                used + len + 2,
            )))
        }
        b'*' => {
            let count = number(head)?;
            let Ok(count) = usize::try_from(count) else {
                return Ok(Some((Reply::Array(None), used)));
            };
            // Not `with_capacity(count)`: the count is the peer's word.
            let mut items = Vec::new();
            let mut at = used;
            for _ in 0..count {
                match parse_at(&buf[at..], depth + 1)? {
                    Some((item, len)) => {
                        items.push(item);
                        at += len;
                    }
                    None => return Ok(None),
                }
            }
            Ok(Some((Reply::Array(Some(items)), at)))
        }
        other => Err(RespError::UnknownType(other)),
    }
}

impl Reply {
    /// The integer of an integer reply, or of a bulk string holding one.
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Reply::Integer(n) => Some(*n),
            Reply::Bulk(Some(raw)) => number(raw).ok(),
            _ => None,
        }
    }

    /// The bytes of a bulk or simple string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Bulk(Some(raw)) => Some(raw),
            Reply::Simple(text) => Some(text.as_bytes()),
            _ => None,
        }
    }

    /// The items of an array; a null array is empty.
    pub fn items(&self) -> Option<&[Reply]> {
        match self {
            Reply::Array(Some(items)) => Some(items),
            Reply::Array(None) => Some(&[]),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        assert_eq!(
            encode_command(&["SET", "k", ""]),
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"
        );
        let binary: [&[u8]; 2] = [b"ECHO", b"a\r\nb"];
        assert_eq!(
            encode_command(&binary),
            b"*2\r\n$4\r\nECHO\r\n$4\r\na\r\nb\r\n"
        );
    }

    #[test]
    fn every_reply_type_parses_with_its_length() {
        let cases: [(&[u8], Reply); 7] = [
            (b"+OK\r\n", Reply::Simple("OK".into())),
            (b"-ERR no\r\n", Reply::Error("ERR no".into())),
            (b":-42\r\n", Reply::Integer(-42)),
            (b"$3\r\na\r\n\r\n", Reply::Bulk(Some(b"a\r\n".to_vec()))),
            (b"$-1\r\n", Reply::Bulk(None)),
            (b"*-1\r\n", Reply::Array(None)),
            (
                b"*2\r\n:1\r\n*1\r\n$0\r\n\r\n",
                Reply::Array(Some(vec![
                    Reply::Integer(1),
                    Reply::Array(Some(vec![Reply::Bulk(Some(Vec::new()))])),
                ])),
            ),
        ];
        for (raw, want) in cases {
            let mut with_more = raw.to_vec();
            with_more.extend_from_slice(b"+NEXT\r\n");
            assert_eq!(
                parse_reply(&with_more),
                Ok(Some((want, raw.len()))),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn a_partial_reply_waits_for_more_at_every_cut() {
        let raw = b"*2\r\n$5\r\nhello\r\n*1\r\n:7\r\n";
        for cut in 0..raw.len() {
            assert_eq!(parse_reply(&raw[..cut]), Ok(None), "cut at {cut}");
        }
        assert_eq!(
            parse_reply(raw).map(|r| r.map(|(_, n)| n)),
            Ok(Some(raw.len()))
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert_eq!(parse_reply(b"?x\r\n"), Err(RespError::UnknownType(b'?')));
        assert_eq!(
            parse_reply(b":x1\r\n"),
            Err(RespError::BadNumber("x1".into()))
        );
        assert_eq!(parse_reply(b"$1\r\nab\r\n"), Err(RespError::MissingCrlf(1)));
        let deep = "*1\r\n".repeat(MAX_DEPTH + 2);
        assert_eq!(parse_reply(deep.as_bytes()), Err(RespError::TooDeep));
        // A huge declared count costs nothing until its items arrive.
        assert_eq!(parse_reply(b"*999999999999\r\n"), Ok(None));
    }

    #[test]
    fn accessors_read_integers_strings_and_arrays() {
        assert_eq!(Reply::Bulk(Some(b"12".to_vec())).as_integer(), Some(12));
        assert_eq!(Reply::Simple("OK".into()).as_bytes(), Some(&b"OK"[..]));
        assert_eq!(Reply::Array(None).items().map(<[Reply]>::len), Some(0));
        assert_eq!(Reply::Integer(1).items(), None);
    }
}
