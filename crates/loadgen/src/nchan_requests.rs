//! What a client of an Nchan server (`--target-kind nchan`: nginx with
//! the config in `scripts/targets/nchan/`) asks, and how it resumes; and
//! how the load generator publishes into it and recognises it.
//!
//! The config has one channel and pushbench's paths, one Nchan subscriber
//! type each: `/poll` interval-poll, `/longpoll` longpoll, `/stream`
//! http-chunked, `/sse` eventsource, `/ws` websocket; `/pub` publishes.
//! - Polls resume by the last answer's validators (`If-Modified-Since`,
//!   `If-None-Match`: Nchan's message id). A fresh subscriber's first poll
//!   names none: Nchan then waits for the next message (a long poll
//!   holds; an interval poll is answered `304`, whose `Date` the
//!   classifier turns into validators for the next poll).
//! - SSE resumes by `Last-Event-ID` (the last `id:` Nchan sent).
//! - http-chunked and WebSocket messages carry no id: a reconnect starts
//!   at the newest message, so what was published while the client was
//!   away is missed (and counted so).

use pushbench_protocol::Transport;

use crate::client_spec::ClientSpec;

/// The publisher location of our config: `POST` publishes the body as one
/// message of the channel.
pub const PUBLISH_PATH: &str = "/pub";

/// The location of Nchan's stub status in our config: server-wide counters
/// in a text format only Nchan answers.
pub const STATUS_PATH: &str = "/nchan_status";

/// The next HTTP/1.1 request of an Nchan client that has the last poll
/// answer's `validators` (`Last-Modified`, `Etag`) and the last SSE
/// `event_id`, if any.
pub(crate) fn request(
    spec: &ClientSpec,
    validators: Option<&(String, String)>,
    event_id: Option<&str>,
) -> String {
    let path = spec.transport.path();
    let mut extra: Vec<(&str, &str)> = Vec::new();
    match spec.transport {
        Transport::ShortPoll | Transport::LongPoll => {
            if let Some((last_modified, etag)) = validators {
                extra.push(("If-Modified-Since", last_modified));
                extra.push(("If-None-Match", etag));
            }
        }
        // Nchan's http-chunked answers 403 to a client that does not say
        // it takes chunks.
        Transport::Stream => extra.push(("TE", "chunked")),
        Transport::Sse => {
            if let Some(id) = event_id {
                extra.push(("Last-Event-ID", id));
            }
        }
        Transport::Ws => {}
    }
    spec.http_request("GET", path, &extra, "")
}

/// The WebSocket request target of an Nchan client: `/ws`, resumed after
/// `event_id` when the client has one (a WebSocket's own messages name
/// none).
pub(crate) fn ws_target(event_id: Option<&str>) -> String {
    match event_id {
        Some(id) => format!("{}?last_event_id={id}", Transport::Ws.path()),
        None => Transport::Ws.path().to_owned(),
    }
}

/// Whether the answer to the probe (`GET` [`STATUS_PATH`]) is Nchan's
/// stub status.
pub(crate) fn recognise(status: u16, body: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(body);
    let is_status = text.lines().any(|l| l.starts_with("nchan version: "))
        && text
            .lines()
            .any(|l| l.starts_with("total published messages: "));
    if status == 200 && is_status {
        Ok(())
    } else {
        Err(format!(
            "GET {STATUS_PATH} to answer 200 with Nchan's stub status \
             (`total published messages: N`, `nchan version: V`), got status {status}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use pushbench_protocol::TargetKind;

    use super::*;
    use crate::client_spec::test_spec;

    fn spec(transport: Transport) -> ClientSpec {
        ClientSpec {
            kind: TargetKind::Nchan,
            ..test_spec(transport, 1)
        }
    }

    const HOST: &str = "host: 127.0.0.1:8080\r\n";

    #[test]
    fn polls_send_back_the_last_answers_validators() {
        let poll = spec(Transport::ShortPoll);
        assert_eq!(
            request(&poll, None, None),
            format!("GET /poll HTTP/1.1\r\n{HOST}\r\n")
        );
        let validators = ("Fri, 04 Dec 2026 12:49:28 GMT".to_owned(), "1".to_owned());
        let conditional = "If-Modified-Since: Fri, 04 Dec 2026 12:49:28 GMT\r\n\
                           If-None-Match: 1\r\n";
        assert_eq!(
            request(&poll, Some(&validators), None),
            format!("GET /poll HTTP/1.1\r\n{HOST}{conditional}\r\n")
        );
        assert_eq!(
            request(&spec(Transport::LongPoll), Some(&validators), None),
            format!("GET /longpoll HTTP/1.1\r\n{HOST}{conditional}\r\n")
        );
    }

    #[test]
    fn streams_ask_for_chunks_and_sse_resumes_by_last_event_id() {
        let id = Some("1796388571:1");
        assert_eq!(
            request(&spec(Transport::Stream), None, id),
            format!("GET /stream HTTP/1.1\r\n{HOST}TE: chunked\r\n\r\n")
        );
        let sse = spec(Transport::Sse);
        let accept = "accept: text/event-stream\r\n";
        assert_eq!(
            request(&sse, None, None),
            format!("GET /sse HTTP/1.1\r\n{HOST}{accept}\r\n")
        );
        assert_eq!(
            request(&sse, None, id),
            format!("GET /sse HTTP/1.1\r\n{HOST}{accept}Last-Event-ID: 1796388571:1\r\n\r\n")
        );
        assert_eq!(ws_target(id), "/ws?last_event_id=1796388571:1");
        assert_eq!(ws_target(None), "/ws");
    }

    #[test]
    fn the_stub_status_is_recognised_and_anything_else_named() {
        let status = "total published messages: 4\nstored messages: 4\nnchan version: 1.3.6\n";
        assert_eq!(recognise(200, status.as_bytes()), Ok(()));
        let err = recognise(404, b"").expect_err("not nchan");
        assert!(err.contains("GET /nchan_status to answer 200"), "{err}");
        assert!(err.contains("got status 404"), "{err}");
        assert!(recognise(200, br#"{"last_seq": 3}"#).is_err());
    }
}
