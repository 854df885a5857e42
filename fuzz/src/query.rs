//! The server's query parsing: a raw query string goes through axum's
//! `Query` extractor (what every handler and the connection-labelling
//! middleware use) and `poll::query`, then through every `params`
//! function; the bytes after the first `\n` are a `Last-Event-ID` header.
//!
//! Each function must answer `Ok` with a value inside its documented
//! bounds or a 400 (`AppError::BadParameter`) naming the parameter it was
//! asked about, and never panic.

use std::time::Duration;

use axum::extract::Query as QueryExtractor;
use axum::http::Uri;
use pushbench_server::error::AppError;
use pushbench_server::params::{self, MAX_TOPIC_LEN, Query};
use pushbench_server::poll;

/// The long-poll hold bounds used for `timeout` (the server's defaults).
const DEFAULT_HOLD: Duration = Duration::from_secs(30);
const MAX_HOLD: Duration = Duration::from_secs(300);

/// Runs the query checks on `data`.
pub fn check(data: &[u8]) {
    let (raw_query, last_event_id) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    };
    header(last_event_id);

    let mut target = b"/poll?".to_vec();
    target.extend_from_slice(raw_query);
    // hyper refuses a request line that is not a URI before any handler
    // runs, so only URIs reach the query parsing.
    let Ok(uri) = Uri::try_from(target.as_slice()) else {
        return;
    };
    let extracted = QueryExtractor::<Query>::try_from_uri(&uri);
    let Ok(query) = poll::query(extracted) else {
        return;
    };
    parameters(&query);
}

/// `Err` must be a 400 naming `name`.
fn names<T: std::fmt::Debug>(result: &Result<T, AppError>, name: &str) {
    if let Err(err) = result {
        match err {
            AppError::BadParameter { parameter, message } => {
                assert_eq!(*parameter, name, "{message}");
                assert!(!message.is_empty());
            }
            other => panic!("{name}: expected a bad parameter, got {other:?}"),
        }
    }
}

fn header(raw: Option<&[u8]>) {
    let id = params::last_event_id(raw);
    names(&id, "Last-Event-ID");
    if let (Ok(Some(id)), Some(raw)) = (&id, raw) {
        let text = std::str::from_utf8(raw).expect("an accepted id is text");
        assert_eq!(text.trim().parse::<u64>().ok(), Some(*id));
    }
}

fn parameters(query: &Query) {
    let since = params::optional_u64(query, "since");
    names(&since, "since");
    if let Ok(Some(n)) = since {
        assert_eq!(query["since"].trim().parse::<u64>().ok(), Some(n));
        for last in [0, n / 2, n, u64::MAX] {
            let cursor = params::cursor(Some(n), "since", last);
            names(&cursor, "since");
            assert_eq!(cursor.is_ok(), n <= last, "since={n} last={last}");
        }
    }

    let hold = params::timeout(query, DEFAULT_HOLD, MAX_HOLD);
    names(&hold, "timeout");
    if let Ok(hold) = hold {
        assert!(hold <= MAX_HOLD, "hold {hold:?}");
    }

    names(&params::format(query), "format");

    let topic = params::topic(query, "default");
    names(&topic, "topic");
    if let Ok(topic) = topic {
        assert!(
            (1..=MAX_TOPIC_LEN).contains(&topic.len()),
            "topic {topic:?}"
        );
    }

    let label = params::client_label(query);
    names(&label, "client");
    if let Ok(Some(label)) = label {
        assert!((1..=64).contains(&label.len()));
        assert!(
            label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
            "label {label:?}"
        );
    }

    names(&params::flag(query, "connections"), "connections");
}
