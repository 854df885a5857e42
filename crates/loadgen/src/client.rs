//! The one client loop, parameterised by transport and [`Schedule`].
//!
//! Every transport runs the same loop: connect (timed), open a session
//! (send a request, or the WebSocket upgrade), read until the response or
//! the stream ends, hand every decoded message to the [`SeqTracker`] and the
//! latency histogram, then either ask again on the same connection (per the
//! schedule) or reconnect after an error. What differs per transport is
//! data: the request target and the schedule. A client that speaks HTTP/2
//! runs the same steps on a stream of a shared connection
//! ([`crate::h2_client`]).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use pushbench_protocol::{HttpVersion, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use crate::client_spec::{ClientSpec, Schedule};
use crate::connection::{Attempt, Conn, Dialer, close, io_kind};
use crate::h2_client::H2Groups;
use crate::meter::Meter;
use crate::nodes::Nodes;
use crate::peer_state::{PeerState, request, ws_target};
use crate::recorder::PhaseRecorder;
use crate::session::{
    ClientReport, ReadBuffer, Session, SessionEnd, poll_turn, ws_config, ws_kind,
};
use crate::tracker::SeqTracker;

/// Runs client `id` until `stop` turns true. `specs` are one per server
/// node (see [`Nodes`]): the client starts on its node and, when a
/// connection attempt fails there, moves to the next, resuming from its
/// cursor. `progress` holds the client's cursor (highest seq it has caught
/// up to) for the runner's drain; `h2_groups` are the phase's shared
/// HTTP/2 connections (unused over HTTP/1.1), each on one node, the one of
/// its group (an HTTP/2 client does not move).
pub async fn run_client(
    specs: Arc<[ClientSpec]>,
    id: usize,
    recorder: Arc<PhaseRecorder>,
    h2_groups: Arc<H2Groups>,
    progress: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) -> ClientReport {
    let nodes = Nodes::new(specs.len());
    let mut node = nodes.first_for(id);
    let mut spec = &specs[node];
    if spec.http == HttpVersion::Http2 {
        let group = id / spec.h2_streams.max(1) as usize;
        let spec = &specs[nodes.first_for(group)];
        return crate::h2_client::run_client(spec, id, recorder, h2_groups, progress, stop).await;
    }
    let mut report = ClientReport {
        tracker: SeqTracker::new(spec.start_cursor),
        ..ClientReport::default()
    };
    let mut cursor = spec.start_cursor;
    let mut peer = PeerState::default();
    let mut dialer = Dialer::new(spec, id, &recorder);
    // The node of the last connection opened, to count the moves.
    let mut last_opened = None;
    let mut next_poll = tokio::time::Instant::now();
    while !*stop.borrow() {
        // Without keep-alive a short poll's connection is dialed at its
        // turn (HTTP/1.0 style), so its setup is in the poll's time.
        if !spec.keep_alive && !poll_turn(spec.schedule, &mut next_poll, &mut stop).await {
            break;
        }
        let meter = Meter::of_kind(
            spec.kind,
            spec.transport,
            recorder.clone(),
            id,
            spec.tls.is_some(),
        );
        peer.reconnected();
        let started = Instant::now();
        let (mut conn, local) = match dialer.attempt(&meter, &mut stop).await {
            Attempt::Stop => break,
            Attempt::Retry => {
                node = nodes.after_failure(node, true);
                spec = &specs[node];
                dialer.dial_to(spec);
                continue;
            }
            Attempt::Open(conn, local) => (conn, local),
        };
        if last_opened.is_some_and(|last| last != node) {
            report.moved += 1;
        }
        last_opened = Some(node);
        let mut session = Session {
            spec,
            id,
            recorder: &recorder,
            meter: &meter,
            report: &mut report,
            progress: &progress,
            cursor: &mut cursor,
            peer: &mut peer,
            answered: false,
            stream: 0,
            first: dialer.opened == 1,
            notes: Vec::new(),
        };
        let end = match spec.transport {
            Transport::Ws => session.websocket(&mut conn, started, &mut stop).await,
            _ => {
                session.record_setup(started);
                session.http(&mut conn, &mut next_poll, &mut stop).await
            }
        };
        let segments = close(&mut conn, spec, &meter).await;
        session.drain();
        if session.answered {
            dialer.succeeded();
        }
        drop(conn);
        dialer.finished(local, &meter, segments);
        match end {
            SessionEnd::Stopped => break,
            SessionEnd::Answered => {}
            SessionEnd::Failed(kind) => {
                if !dialer.retry(kind, &mut stop).await {
                    break;
                }
            }
        }
    }
    report.connections = dialer.connections;
    report.opened = dialer.opened;
    report.failed = dialer.failed;
    report
}

/// The HTTP/1.1 sessions: requests on the connection, or its WebSocket.
impl Session<'_> {
    /// Polls on `conn` (a short poll at its turn, `next_poll`) until `stop`
    /// or an error; without keep-alive one poll, then
    /// [`SessionEnd::Answered`].
    async fn http(
        &mut self,
        conn: &mut Conn,
        next_poll: &mut tokio::time::Instant,
        stop: &mut watch::Receiver<bool>,
    ) -> SessionEnd {
        let mut buf = ReadBuffer::new();
        loop {
            if self.spec.keep_alive && !poll_turn(self.spec.schedule, next_poll, stop).await {
                return SessionEnd::Stopped;
            }
            let request = request(self.spec, *self.cursor, self.peer);
            if let Err(e) = conn.write_all(request.as_bytes()).await {
                return SessionEnd::Failed(io_kind("write", &e));
            }
            loop {
                let n = if let Schedule::Every(_) = self.spec.schedule {
                    // A short poll is answered at once: finish reading it so
                    // client and server count the same bytes.
                    conn.read(buf.space()).await
                } else {
                    tokio::select! {
                        _ = stop.changed() => return SessionEnd::Stopped,
                        n = conn.read(buf.space()) => n,
                    }
                };
                match n {
                    Ok(0) => return SessionEnd::Failed("closed by server".into()),
                    Ok(n) => buf.filled(n),
                    Err(e) => return SessionEnd::Failed(io_kind("read", &e)),
                }
                let drained = self.drain();
                if let Some(status) = drained.bad_status {
                    return SessionEnd::Failed(format!("status {status}"));
                }
                if drained.ended.is_some() {
                    if self.spec.schedule == Schedule::Once {
                        return SessionEnd::Failed("stream ended by server".into());
                    }
                    if !self.spec.keep_alive {
                        // The server closes after this answer; `close`
                        // reads (and counts) to its end of the stream.
                        return SessionEnd::Answered;
                    }
                    break;
                }
            }
        }
    }

    async fn websocket(
        &mut self,
        conn: &mut Conn,
        started: Instant,
        stop: &mut watch::Receiver<bool>,
    ) -> SessionEnd {
        let target = ws_target(self.spec, *self.cursor, self.peer);
        let request = match self.spec.ws_request_to(&target) {
            Ok(request) => request,
            Err(e) => return SessionEnd::Failed(format!("ws request: {}", ws_kind(&e))),
        };
        let handshake = tokio::select! {
            _ = stop.changed() => return SessionEnd::Stopped,
            h = tokio_tungstenite::client_async_with_config(
                request,
                &mut *conn,
                Some(ws_config()),
            ) => h,
        };
        match handshake {
            // Its reader is not used on the push path (`ws_session`): the
            // bytes it read past the 101 were counted and classified as
            // they passed.
            Ok((_ws, _response)) => self.answered = true,
            Err(e) => return SessionEnd::Failed(format!("ws handshake: {}", ws_kind(&e))),
        }
        self.record_setup(started);
        self.drain();
        self.ws_frames(conn, stop).await
    }
}
