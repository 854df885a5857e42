//! The clients over HTTP/2 (`run --http 2`): the same client loop as
//! over HTTP/1.1 (`client::run_client`, which hands HTTP/2 clients here), each poll, long poll, stream or WebSocket on an
//! HTTP/2 stream of a connection shared by a group of clients.
//!
//! The connection speaks h2c with prior knowledge in plaintext, `h2` by
//! ALPN over TLS, through the `h2` crate's client over the same counted
//! [`Wire`](crate::connection::Wire) as HTTP/1.1, so the [`Meter`] sees the
//! raw frames (above TLS when TLS) and its HTTP/2 classifier books them.
//! As over HTTP/1.1 the events are not decoded from what `h2` hands the
//! client: the bodies it reads are only consumed (their flow-control
//! capacity released at once, so the server is never held back by the
//! client's window); the events come from the meter's notes for the
//! client's stream, stamped at the socket read.
//!
//! Per transport: a short poll is a GET stream per poll (every interval,
//! as over HTTP/1.1); a long poll a GET stream held until answered; HTTP
//! streaming and SSE one long GET stream; WebSocket an extended CONNECT
//! (RFC 8441, `:protocol websocket`) once the server's SETTINGS enabled
//! it, the WebSocket then running over the stream ([`H2Stream`]).
//!
//! # Groups
//! With `h2_streams` K, clients `0..K` share one connection, `K..2K` the
//! next, and so on ([`Group`]). The group's first client keeps the
//! connection (`keep`): opens it, publishes it to the group, reopens it
//! with [`Backoff`] when it fails, and books its bytes (into its own shard)
//! and its [`ConnectionTotals`](crate::meter::ConnectionTotals) once. Every client of the group, the first
//! included, runs its own streams, tracker and report on the connection of
//! the moment; a stream that fails while the connection lives is retried
//! on it with the client's own backoff, a lost connection waits for the
//! next one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2::RecvStream;
use h2::SendStream;
use h2::client::SendRequest;
use pushbench_protocol::{HttpVersion, Transport};
use tokio::sync::watch;

use crate::backoff::Backoff;
use crate::client_spec::{ClientSpec, Schedule};
use crate::connection::{Attempt, CLOSE_GRACE, Conn, Dialer, backoff_wait, close, read_to_end};
use crate::h2_io::{H2Io, H2Stream};
use crate::lock;
use crate::meter::{Meter, Note};
use crate::peer_state::PeerState;
use crate::recorder::PhaseRecorder;
use crate::session::{ClientReport, Session, SessionEnd, poll_turn, record_setup_time, ws_config};
use crate::tracker::SeqTracker;

/// Most clients per HTTP/2 connection (`h2_streams`): each has at most one
/// stream open at a time, and this stays below the concurrent streams a
/// server commonly allows (hyper's default is 200, RFC 9113 recommends at
/// least 100), so no client waits for a stream slot.
pub const MAX_H2_STREAMS: u32 = 100;

/// How long a WebSocket client waits for the server's SETTINGS to enable
/// extended CONNECT: the SETTINGS come with the server's first bytes, so
/// this only bounds a server that never sends them.
pub const EXTENDED_CONNECT_WAIT: Duration = Duration::from_secs(5);

/// The phase's HTTP/2 connection groups, made as their clients start.
#[derive(Debug, Default)]
pub struct H2Groups(Mutex<HashMap<usize, Arc<Group>>>);

impl H2Groups {
    /// Group `index`, made on first use.
    pub fn get(&self, index: usize) -> Arc<Group> {
        Arc::clone(lock(&self.0).entry(index).or_default())
    }
}

/// The connection a group of clients shares.
#[derive(Debug)]
pub struct Group {
    link: watch::Sender<Link>,
    /// A stream got a good answer on the current connection: its next
    /// failure starts the keeper's backoff over.
    answered: AtomicBool,
}

impl Default for Group {
    fn default() -> Self {
        Group {
            link: watch::channel(Link::Pending).0,
            answered: AtomicBool::new(false),
        }
    }
}

/// The state of a group's connection.
#[derive(Clone, Debug)]
enum Link {
    /// Being opened (or reopened).
    Pending,
    /// Open.
    Up(Arc<Up>),
    /// No more: the keeper stopped or gave up.
    Closed,
}

/// An open shared connection.
#[derive(Debug)]
struct Up {
    send: SendRequest<Bytes>,
    meter: Meter,
    /// Counts the group's connections, so a client that lost one waits
    /// for the next.
    generation: u64,
}

/// `client::run_client` over HTTP/2: client `id`'s streams on its
/// group's connection, and the connection itself if `id` is the group's
/// first client.
pub async fn run_client(
    spec: &ClientSpec,
    id: usize,
    recorder: Arc<PhaseRecorder>,
    groups: Arc<H2Groups>,
    progress: Arc<AtomicU64>,
    stop: watch::Receiver<bool>,
) -> ClientReport {
    let per_connection = spec.h2_streams.max(1) as usize;
    let group = groups.get(id / per_connection);
    let mut report = ClientReport {
        tracker: SeqTracker::new(spec.start_cursor),
        ..ClientReport::default()
    };
    let client = streams(
        spec,
        id,
        &recorder,
        &group,
        &progress,
        &mut report,
        stop.clone(),
    );
    if id.is_multiple_of(per_connection) {
        let (kept, ()) = tokio::join!(keep(spec, id, &recorder, &group, stop), client);
        report.connections = kept.connections;
        report.opened = kept.opened;
        report.failed = kept.failed;
    } else {
        client.await;
    }
    report
}

/// Keeps a group's connection open until `stop`: connects, shakes hands,
/// publishes it, and when it fails closes it, books it and reconnects.
async fn keep<'a>(
    spec: &'a ClientSpec,
    id: usize,
    recorder: &'a Arc<PhaseRecorder>,
    group: &Group,
    mut stop: watch::Receiver<bool>,
) -> Dialer<'a> {
    let mut dialer = Dialer::new(spec, id, recorder);
    let mut generation = 0;
    while !*stop.borrow() {
        let meter = Meter::speaking(
            spec.transport,
            HttpVersion::Http2,
            recorder.clone(),
            id,
            spec.tls.is_some(),
        );
        let started = Instant::now();
        let (conn, local) = match dialer.attempt(&meter, &mut stop).await {
            Attempt::Stop => break,
            Attempt::Retry => continue,
            Attempt::Open(conn, local) => (conn, local),
        };
        let shared = Arc::new(Mutex::new(conn));
        let end = match h2::client::Builder::new()
            .handshake::<_, Bytes>(H2Io(Arc::clone(&shared)))
            .await
        {
            Err(e) => Some(format!("h2 handshake: {}", h2_kind(&e))),
            Ok((send, connection)) => {
                record_setup_time(recorder, id, started);
                generation += 1;
                group.link.send_replace(Link::Up(Arc::new(Up {
                    send,
                    meter: meter.clone(),
                    generation,
                })));
                let mut connection = std::pin::pin!(connection);
                let end = tokio::select! {
                    end = &mut connection => Some(match end {
                        Ok(()) => "closed by server".to_owned(),
                        Err(e) => h2_kind(&e),
                    }),
                    _ = stop.changed() => None,
                };
                // The group's handle goes; once the clients' streams have
                // ended too, h2 sends GOAWAY and the connection completes.
                group.link.send_replace(Link::Pending);
                if end.is_none() {
                    let _ = tokio::time::timeout(CLOSE_GRACE, &mut connection).await;
                }
                end
            }
        };
        // The h2 connection (and its handle on the socket) is gone now.
        let segments = match Arc::try_unwrap(shared) {
            Ok(conn) => {
                let mut conn: Conn = conn.into_inner().unwrap_or_else(|p| p.into_inner());
                if end.is_none() {
                    // The server answers the client's GOAWAY with its own
                    // and closes: read that first, so the segment counts
                    // (read next) lack only the client's FIN and its ACK,
                    // as over HTTP/1.1.
                    read_to_end(&mut conn).await;
                }
                close(&mut conn, spec, &meter).await
            }
            Err(_) => None,
        };
        for note in meter.take_notes_for(0) {
            if let Note::Malformed(reason) = note {
                recorder.error(id, format!("malformed: {reason}"));
            }
        }
        dialer.finished(local, &meter, segments);
        if group.answered.swap(false, Ordering::Relaxed) {
            dialer.succeeded();
        }
        match end {
            None => break,
            Some(kind) => {
                if !dialer.retry(kind, &mut stop).await {
                    break;
                }
            }
        }
    }
    group.link.send_replace(Link::Closed);
    dialer
}

/// Why a client's session on a shared connection ended.
enum End {
    /// Stopped, or failed on a connection that may live on.
    Session(SessionEnd),
    /// The connection failed: wait for the next one.
    Lost(String),
}

/// Client `id`'s streams on its group's connections until `stop`.
async fn streams(
    spec: &ClientSpec,
    id: usize,
    recorder: &PhaseRecorder,
    group: &Group,
    progress: &AtomicU64,
    report: &mut ClientReport,
    mut stop: watch::Receiver<bool>,
) {
    let mut links = group.link.subscribe();
    let mut backoff = Backoff::new(spec.give_up_after, id);
    let mut cursor = spec.start_cursor;
    let mut first = true;
    // The keeper says so itself when it gives up.
    let keeper = id.is_multiple_of(spec.h2_streams.max(1) as usize);
    // The generation of the last connection this client saw fail, skipped
    // until a newer one is up or, should the keeper still hold it (an error
    // taken for the connection's that was only the stream's), until
    // `retry_at`, the client's own backoff.
    let mut lost = 0;
    let mut retry_at: Option<tokio::time::Instant> = None;
    loop {
        let up = loop {
            let link = links.borrow_and_update().clone();
            match link {
                Link::Up(up) if up.generation > lost => break up,
                Link::Closed => {
                    if !*stop.borrow() && !keeper {
                        recorder.error(id, "gave up reconnecting");
                    }
                    return;
                }
                _ => {}
            }
            let retry = async {
                match retry_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stop.changed() => return,
                changed = links.changed() => if changed.is_err() { return },
                () = retry => (lost, retry_at) = (0, None),
            }
        };
        retry_at = None;
        let mut session = Session {
            spec,
            id,
            recorder,
            meter: &up.meter,
            report: &mut *report,
            progress,
            cursor: &mut cursor,
            // HTTP/2 is pushbench's own server's: nothing beyond the cursor.
            peer: &mut PeerState::default(),
            answered: false,
            stream: 0,
            first,
            notes: Vec::new(),
        };
        let end = stream_session(&mut session, &up.send, &mut stop).await;
        first = session.first;
        session.drain();
        if session.answered {
            backoff.succeeded();
            group.answered.store(true, Ordering::Relaxed);
        }
        match end {
            End::Session(SessionEnd::Stopped) => return,
            // Never over HTTP/2 (keep-alive off is refused): ask again.
            End::Session(SessionEnd::Answered) => {}
            End::Lost(kind) => {
                recorder.error(id, kind);
                lost = up.generation;
                let Some(delay) = backoff.failed(Instant::now()) else {
                    recorder.error(id, "gave up reconnecting");
                    return;
                };
                retry_at = Some(tokio::time::Instant::now() + delay);
            }
            End::Session(SessionEnd::Failed(kind)) => {
                recorder.error(id, kind);
                if !backoff_wait(&mut backoff, &mut stop, recorder, id).await {
                    return;
                }
            }
        }
    }
}

/// How an h2 error ends a session: a connection-level error loses the
/// connection; a stream-level one (a reset stream) only the session.
fn h2_end(e: &h2::Error) -> End {
    let kind = h2_kind(e);
    if e.is_io() || e.is_go_away() || e.is_library() {
        End::Lost(kind)
    } else {
        End::Session(SessionEnd::Failed(kind))
    }
}

/// The error kind of an h2 error: the I/O error's kind, or the HTTP/2
/// error code (a bounded set).
fn h2_kind(e: &h2::Error) -> String {
    if let Some(io) = e.get_io() {
        return format!("h2: {:?}", io.kind());
    }
    match e.reason() {
        Some(reason) if e.is_go_away() => format!("h2: GOAWAY {reason:?}"),
        Some(reason) if e.is_reset() => format!("h2: RST_STREAM {reason:?}"),
        Some(reason) => format!("h2: {reason:?}"),
        None => "h2: closed".to_owned(),
    }
}

fn failed(kind: impl Into<String>) -> End {
    End::Session(SessionEnd::Failed(kind.into()))
}

/// Opens a stream for `request` (a GET ends the request side at once, a
/// CONNECT keeps it open) once `send` has a slot, makes it the session's,
/// and waits for the response head, giving up on `stop` if
/// `stoppable`.
async fn open_stream(
    session: &mut Session<'_>,
    send: &SendRequest<Bytes>,
    request: http::Request<()>,
    stoppable: bool,
    stop: &mut watch::Receiver<bool>,
) -> Result<(http::Response<RecvStream>, SendStream<Bytes>), End> {
    let stopped = || End::Session(SessionEnd::Stopped);
    let mut send = tokio::select! {
        _ = stop.changed() => return Err(stopped()),
        ready = send.clone().ready() => ready.map_err(|e| h2_end(&e))?,
    };
    let get = request.method() == http::Method::GET;
    let (response, upstream) = send.send_request(request, get).map_err(|e| h2_end(&e))?;
    session.stream = response.stream_id().into();
    let response = if stoppable {
        tokio::select! {
            _ = stop.changed() => return Err(stopped()),
            response = response => response,
        }
    } else {
        response.await
    };
    Ok((response.map_err(|e| h2_end(&e))?, upstream))
}

/// One client's requests on one connection until it stops or fails.
async fn stream_session(
    session: &mut Session<'_>,
    send: &SendRequest<Bytes>,
    stop: &mut watch::Receiver<bool>,
) -> End {
    if session.spec.transport == Transport::Ws {
        return websocket(session, send, stop).await;
    }
    session.opened();
    let schedule = session.spec.schedule;
    // A short poll is answered at once: read it to its end whatever
    // happens, so client and server count the same bytes.
    let polling = matches!(schedule, Schedule::Every(_));
    let mut next_poll = tokio::time::Instant::now();
    loop {
        if !poll_turn(schedule, &mut next_poll, stop).await {
            return End::Session(SessionEnd::Stopped);
        }
        let request = match session.spec.h2_request(*session.cursor) {
            Ok(request) => request,
            Err(e) => return failed(format!("request: {e}")),
        };
        let (response, _) = match open_stream(session, send, request, !polling, stop).await {
            Ok(opened) => opened,
            Err(end) => return end,
        };
        let status = response.status();
        let mut body = response.into_body();
        loop {
            let chunk = if polling {
                body.data().await
            } else {
                tokio::select! {
                    _ = stop.changed() => return End::Session(SessionEnd::Stopped),
                    chunk = body.data() => chunk,
                }
            };
            match chunk {
                Some(Ok(bytes)) => {
                    let _ = body.flow_control().release_capacity(bytes.len());
                }
                Some(Err(e)) => return h2_end(&e),
                None => break,
            }
            if let Some(status) = session.drain().bad_status {
                return failed(format!("status {status}"));
            }
        }
        session.drain();
        if !status.is_success() {
            return failed(format!("status {}", status.as_u16()));
        }
        session.answered = true;
        if schedule == Schedule::Once {
            return failed("stream ended by server");
        }
    }
}

/// A WebSocket over an extended CONNECT stream (RFC 8441).
async fn websocket(
    session: &mut Session<'_>,
    send: &SendRequest<Bytes>,
    stop: &mut watch::Receiver<bool>,
) -> End {
    // The server's SETTINGS arrive with its first bytes, read by the
    // connection's keeper; until then the flag is false.
    let deadline = Instant::now() + EXTENDED_CONNECT_WAIT;
    while !send.is_extended_connect_protocol_enabled() {
        if Instant::now() >= deadline {
            return failed("h2: server does not enable extended CONNECT (RFC 8441)");
        }
        tokio::select! {
            _ = stop.changed() => return End::Session(SessionEnd::Stopped),
            () = tokio::time::sleep(Duration::from_millis(1)) => {}
        }
    }
    let request = match session.spec.h2_ws_request(*session.cursor) {
        Ok(request) => request,
        Err(e) => return failed(format!("ws request: {e}")),
    };
    let (response, upstream) = match open_stream(session, send, request, true, stop).await {
        Ok(opened) => opened,
        Err(end) => return end,
    };
    if !response.status().is_success() {
        session.drain();
        return failed(format!(
            "ws handshake: status {}",
            response.status().as_u16()
        ));
    }
    session.answered = true;
    session.opened();
    session.drain();
    let stream = H2Stream::new(upstream, response.into_body());
    let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
        stream,
        tokio_tungstenite::tungstenite::protocol::Role::Client,
        Some(ws_config()),
    )
    .await;
    // A WebSocket that ends is its stream's end; a lost connection shows
    // at the next stream's `ready`.
    End::Session(session.ws_messages(&mut ws, stop).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_shared_by_index() {
        let groups = H2Groups::default();
        assert!(Arc::ptr_eq(&groups.get(1), &groups.get(1)));
        assert!(!Arc::ptr_eq(&groups.get(0), &groups.get(1)));
    }
}
