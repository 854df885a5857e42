//! What a client carries between its requests for its target kind
//! ([`PeerState`]), and the requests that kind's clients make
//! ([`request`], [`ws_target`], [`ws_replies`]).
//!
//! pushbench's own server needs nothing but the client's cursor (the last
//! seq it has, sent as `since=`). Other kinds resume by what their answers
//! told the client ([`PeerNote`]s, the owned form of the classifier's
//! [`PeerSignal`]s): Nchan's message id or validators, Engine.IO's session
//! and its pings. Each kind's requests live in a module of their own.

use pushbench_protocol::{PeerSignal, TargetKind};

use crate::client_spec::ClientSpec;
use crate::engine_io_requests;
use crate::nchan_requests;

/// The owned form of a [`PeerSignal`], as a client's notes carry it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerNote {
    /// [`PeerSignal::EventId`].
    EventId(String),
    /// [`PeerSignal::Validators`].
    Validators {
        /// `Last-Modified`.
        last_modified: String,
        /// `Etag`.
        etag: String,
    },
    /// [`PeerSignal::Session`].
    Session(String),
    /// [`PeerSignal::Ping`].
    Ping,
    /// [`PeerSignal::WsPing`].
    WsPing(Vec<u8>),
    /// [`PeerSignal::WsClose`].
    WsClose(Vec<u8>),
}

impl From<PeerSignal<'_>> for PeerNote {
    fn from(signal: PeerSignal<'_>) -> Self {
        match signal {
            PeerSignal::EventId(id) => PeerNote::EventId(id.to_owned()),
            PeerSignal::Validators {
                last_modified,
                etag,
            } => PeerNote::Validators {
                last_modified: last_modified.to_owned(),
                etag: etag.to_owned(),
            },
            PeerSignal::Session(sid) => PeerNote::Session(sid.to_owned()),
            PeerSignal::Ping => PeerNote::Ping,
            PeerSignal::WsPing(payload) => PeerNote::WsPing(payload.to_vec()),
            PeerSignal::WsClose(body) => PeerNote::WsClose(body.to_vec()),
        }
    }
}

/// What one client carries between requests, beyond its seq cursor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerState {
    /// The last event id the server named (resumes an SSE or WebSocket).
    pub event_id: Option<String>,
    /// The last poll answer's validators (`Last-Modified`, `Etag`).
    pub validators: Option<(String, String)>,
    /// The session the server opened for this client.
    pub session: Option<String>,
    /// Application-level pings not yet answered.
    pub pings: u32,
    /// The client has sent what the server's session asks of it once
    /// opened (Engine.IO: the Socket.IO connect, `40`); a new session asks
    /// again.
    pub joined: bool,
    /// WebSocket control frames of the server not yet answered.
    pub ws_control: WsControl,
}

/// The server's WebSocket pings and close, for a client that answers them
/// itself (one that reads through tungstenite leaves it to tungstenite).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WsControl {
    /// Payloads of pings not yet answered, in order.
    pub pings: Vec<Vec<u8>>,
    /// The server's close frame body, once it came.
    pub close: Option<Vec<u8>>,
}

impl PeerState {
    /// Takes in what the server said.
    pub fn absorb(&mut self, note: PeerNote) {
        match note {
            PeerNote::EventId(id) => self.event_id = Some(id),
            PeerNote::Validators {
                last_modified,
                etag,
            } => self.validators = Some((last_modified, etag)),
            PeerNote::Session(sid) => self.session = Some(sid),
            PeerNote::Ping => self.pings += 1,
            PeerNote::WsPing(payload) => self.ws_control.pings.push(payload),
            PeerNote::WsClose(body) => self.ws_control.close = Some(body),
        }
    }

    /// A new connection: what belonged to the last one (a session, its
    /// unanswered pings) is gone; resume tokens stay.
    pub fn reconnected(&mut self) {
        self.session = None;
        self.pings = 0;
        self.joined = false;
        self.ws_control = WsControl::default();
    }
}

/// The HTTP/1.1 request a `spec.kind` client sends next on its
/// connection, asking for everything after `cursor` (or what `peer`
/// says to resume from).
pub fn request(spec: &ClientSpec, cursor: u64, peer: &mut PeerState) -> String {
    match spec.kind {
        TargetKind::Socketio => engine_io_requests::request(
            spec,
            peer.session.as_deref(),
            &mut peer.joined,
            &mut peer.pings,
        ),
        TargetKind::Nchan => {
            nchan_requests::request(spec, peer.validators.as_ref(), peer.event_id.as_deref())
        }
        TargetKind::Pushbench | TargetKind::Pushpin | TargetKind::Bun | TargetKind::NodeWs => {
            let _ = peer;
            spec.request(cursor)
        }
    }
}

/// The WebSocket request target (path and query) of a `spec.kind` client.
pub fn ws_target(spec: &ClientSpec, cursor: u64, peer: &PeerState) -> String {
    match spec.kind {
        TargetKind::Socketio => engine_io_requests::ws_target(),
        TargetKind::Nchan => nchan_requests::ws_target(peer.event_id.as_deref()),
        TargetKind::Pushbench | TargetKind::Pushpin | TargetKind::Bun | TargetKind::NodeWs => {
            let _ = peer;
            spec.target(cursor)
        }
    }
}

/// Text messages a `spec.kind` WebSocket client owes the server now
/// (Engine.IO's pong to a ping, its connect), taken out of `peer`.
pub fn ws_replies(spec: &ClientSpec, peer: &mut PeerState) -> Vec<String> {
    match spec.kind {
        TargetKind::Socketio => engine_io_requests::owed_packets(
            peer.session.is_some(),
            &mut peer.joined,
            &mut peer.pings,
        ),
        TargetKind::Pushbench
        | TargetKind::Nchan
        | TargetKind::Pushpin
        | TargetKind::Bun
        | TargetKind::NodeWs => {
            peer.pings = 0;
            Vec::new()
        }
    }
}
