//! HTTP/1.1 on the runner's own kept-alive connections: the bytes of a
//! request ([`wire_request`]) and where an answer ends ([`answer_len`]),
//! so the next request can follow it on the same connection.

use std::net::SocketAddr;

use crate::target_api::ApiRequest;

/// `request` as HTTP/1.1 bytes for the server at `addr`.
pub fn wire_request(request: &ApiRequest, addr: SocketAddr) -> Vec<u8> {
    let mut head = format!(
        "{} {} HTTP/1.1\r\nhost: {addr}\r\n",
        request.method, request.target
    );
    for (name, value) in &request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !request.body.is_empty() || request.method == "POST" {
        head.push_str(&format!("content-length: {}\r\n", request.body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(request.body.as_bytes());
    bytes
}

/// The status and whole length of the HTTP/1.1 answer at the start of
/// `buf`: `None` while it is incomplete, an error when it is not HTTP or
/// its length cannot be known on a kept-alive connection.
pub fn answer_len(buf: &[u8]) -> Option<Result<(u16, usize), String>> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let Ok(head) = std::str::from_utf8(&buf[..head_end]) else {
        return Some(Err("answer head is not text".into()));
    };
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .filter(|l| l.starts_with("HTTP/1."))
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse::<u16>().ok());
    let Some(status) = status else {
        return Some(Err("answer is not HTTP/1.x".into()));
    };
    let header = |name: &str| header_in(head, name);
    if (100..200).contains(&status) || status == 204 || status == 304 {
        return Some(Ok((status, head_end)));
    }
    if is_chunked(head) {
        return chunked_len(buf, head_end).map(|r| r.map(|len| (status, len)));
    }
    match header("content-length").map(str::parse::<usize>) {
        Some(Ok(len)) => (buf.len() >= head_end + len).then_some(Ok((status, head_end + len))),
        Some(Err(_)) => Some(Err("malformed content-length".into())),
        None => Some(Err(
            "answer without content-length or chunked body (cannot keep the connection)".into(),
        )),
    }
}

/// The value of header `name` (case-insensitive) in an answer's `head`
/// (its status line first).
pub fn header_in<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.split("\r\n").skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Whether an answer's `head` says its body is chunked.
pub fn is_chunked(head: &str) -> bool {
    header_in(head, "transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
}

/// The end of a chunked body that starts at `at` in `buf`.
fn chunked_len(buf: &[u8], mut at: usize) -> Option<Result<usize, String>> {
    loop {
        let line_end = at + buf[at..].windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&buf[at..line_end])
            .ok()
            .and_then(|l| usize::from_str_radix(l.split(';').next()?.trim(), 16).ok());
        let Some(size) = size else {
            return Some(Err("malformed chunk size".into()));
        };
        at = line_end + 2;
        if size == 0 {
            // Trailers (none expected) end with an empty line.
            let end = at + buf[at..].windows(2).position(|w| w == b"\r\n")?;
            return Some(Ok(end + 2));
        }
        if buf.len() < at + size + 2 {
            return None;
        }
        at += size + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_measured_by_length_or_chunks() {
        let fixed = b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(answer_len(fixed), Some(Ok((201, fixed.len()))));
        assert_eq!(answer_len(&fixed[..fixed.len() - 1]), None);
        assert_eq!(answer_len(b"HTTP/1.1 200 OK\r\n"), None, "head incomplete");
        let chunked =
            b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        assert_eq!(answer_len(chunked), Some(Ok((202, chunked.len()))));
        assert_eq!(answer_len(&chunked[..chunked.len() - 2]), None);
        let empty = b"HTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(answer_len(empty), Some(Ok((204, empty.len()))));
    }

    #[test]
    fn answers_that_cannot_be_kept_are_errors() {
        assert!(matches!(answer_len(b"SSH-2.0\r\n\r\n"), Some(Err(_))));
        assert!(matches!(
            answer_len(b"HTTP/1.1 200 OK\r\n\r\nbody until close"),
            Some(Err(e)) if e.contains("content-length")
        ));
        assert!(matches!(
            answer_len(b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n"),
            Some(Err(_))
        ));
    }

    #[test]
    fn a_publish_request_has_its_length_and_host() {
        let request = ApiRequest {
            method: "POST",
            target: "/pub".into(),
            headers: vec![("content-type", "application/json".into())],
            body: "{}".into(),
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], 9));
        assert_eq!(
            wire_request(&request, addr),
            b"POST /pub HTTP/1.1\r\nhost: 127.0.0.1:9\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
        );
    }
}
