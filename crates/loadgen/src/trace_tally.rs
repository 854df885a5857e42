//! The trace's [`Tally`] (`Recorder`): every byte of the traced
//! connection classified, in the order the classifier released it, and
//! what the exchange has got so far (events, answers, what the dialect
//! asked the client to carry on).

use std::sync::{Arc, Mutex};

use pushbench_net::counting::Tally;
use pushbench_protocol::{
    ByteClass, Classifier, Direction, H2Classifier, HttpVersion, Received, TargetKind, Transport,
    WireEvent,
};

use crate::lock;
use crate::peer_state::{PeerNote, PeerState};
use crate::{Error, Result};

/// A run of bytes of one class, in one direction, as the classifier
/// reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Which way the bytes went.
    pub direction: Direction,
    /// What they are for.
    pub class: ByteClass,
    /// The bytes, as on the wire.
    pub bytes: Vec<u8>,
}

/// The classifier of the trace's connection, by HTTP version. A trace is
/// one client on one connection, so HTTP/2's stream ids are not needed:
/// the connection's own frames and the client's stream come out in order.
#[derive(Debug)]
enum TraceClassifier {
    Http1(Box<Classifier>),
    Http2(Box<H2Classifier>),
}

impl TraceClassifier {
    fn new(kind: TargetKind, transport: Transport, http: HttpVersion) -> Self {
        match http {
            HttpVersion::Http1 => {
                TraceClassifier::Http1(Box::new(Classifier::for_target(kind, transport)))
            }
            HttpVersion::Http2 => TraceClassifier::Http2(Box::new(H2Classifier::new(transport))),
        }
    }

    fn feed(&mut self, direction: Direction, bytes: &[u8], sink: &mut impl FnMut(WireEvent<'_>)) {
        // A protocol error books the rest as control; the trace shows that.
        let _ = match self {
            TraceClassifier::Http1(c) => c.feed(direction, bytes, sink),
            TraceClassifier::Http2(c) => c.feed(direction, bytes, &mut |_, e| sink(e)),
        };
    }

    fn finish(&mut self, sink: &mut impl FnMut(WireEvent<'_>)) {
        match self {
            TraceClassifier::Http1(c) => c.finish(sink),
            TraceClassifier::Http2(c) => c.finish(&mut |_, e| sink(e)),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Recording {
    kind: TargetKind,
    classifier: TraceClassifier,
    /// What the server's dialect asked the client to carry on or answer.
    peer: PeerState,
    pub(crate) segments: Vec<Segment>,
    pub(crate) socket: (u64, u64),
    pub(crate) delivered: u64,
    responses_ended: u64,
    heads: u64,
    bad_status: Option<u16>,
}

/// The trace's [`Tally`]: classifies and keeps every byte.
#[derive(Clone, Debug)]
pub(crate) struct Recorder(pub(crate) Arc<Mutex<Recording>>);

impl Recorder {
    pub(crate) fn new(kind: TargetKind, transport: Transport, http: HttpVersion) -> Self {
        Recorder(Arc::new(Mutex::new(Recording {
            kind,
            classifier: TraceClassifier::new(kind, transport, http),
            peer: PeerState::default(),
            segments: Vec::new(),
            socket: (0, 0),
            delivered: 0,
            responses_ended: 0,
            heads: 0,
            bad_status: None,
        })))
    }

    fn on_bytes(&self, direction: Direction, bytes: &[u8]) {
        let mut rec = lock(&self.0);
        let Recording {
            classifier, socket, ..
        } = &mut *rec;
        match direction {
            Direction::Sent => socket.0 += bytes.len() as u64,
            Direction::Received => socket.1 += bytes.len() as u64,
        }
        let mut events = Vec::new();
        classifier.feed(direction, bytes, &mut |e| events.push(owned(e)));
        for e in events {
            rec.note(e);
        }
    }

    pub(crate) fn finish(&self) {
        let mut rec = lock(&self.0);
        let mut events = Vec::new();
        rec.classifier.finish(&mut |e| events.push(owned(e)));
        for e in events {
            rec.note(e);
        }
    }

    /// Runs `f` on what the client carries for its dialect.
    pub(crate) fn with_peer<R>(&self, f: impl FnOnce(&mut PeerState) -> R) -> R {
        f(&mut lock(&self.0).peer)
    }

    /// `(events delivered, responses ended, response heads)` so far.
    pub(crate) fn progress(&self) -> Result<(u64, u64, u64)> {
        let rec = lock(&self.0);
        if let Some(status) = rec.bad_status {
            return Err(Error::Server {
                url: String::new(),
                message: format!("answered status {status}"),
            });
        }
        Ok((rec.delivered, rec.responses_ended, rec.heads))
    }
}

/// A [`WireEvent`] that owns its bytes.
enum Owned {
    Bytes(Segment),
    Event,
    Head(u16),
    End,
    Peer(PeerNote),
    Other,
}

fn owned(e: WireEvent<'_>) -> Owned {
    match e {
        WireEvent::Bytes {
            direction,
            class,
            bytes,
        } => Owned::Bytes(Segment {
            direction,
            class,
            bytes: bytes.to_vec(),
        }),
        WireEvent::Message(Received::Event { .. }) => Owned::Event,
        WireEvent::ResponseHead { status } => Owned::Head(status),
        WireEvent::ResponseEnd { .. } => Owned::End,
        WireEvent::Peer(signal) => Owned::Peer(PeerNote::from(signal)),
        // A trace shows the wire; decoded bytes of a coded body are not on it.
        WireEvent::Message(Received::Gap(_))
        | WireEvent::Malformed { .. }
        | WireEvent::Decoded { .. } => Owned::Other,
    }
}

impl Recording {
    fn note(&mut self, e: Owned) {
        match e {
            Owned::Bytes(segment) => self.segments.push(segment),
            Owned::Event => self.delivered += 1,
            Owned::Head(status) => {
                self.heads += 1;
                if !self.kind.answers_normally(status) {
                    self.bad_status.get_or_insert(status);
                }
            }
            Owned::End => self.responses_ended += 1,
            Owned::Peer(note) => self.peer.absorb(note),
            Owned::Other => {}
        }
    }
}

impl Tally for Recorder {
    fn on_read(&self, bytes: &[u8]) {
        self.on_bytes(Direction::Received, bytes);
    }

    fn on_written(&self, bytes: &[u8]) {
        self.on_bytes(Direction::Sent, bytes);
    }
}
