//! One client's view of a connection (HTTP/1.1) or of its streams on a
//! shared one (HTTP/2): the `Session` hands the meter's decoded messages
//! to the client's tracker and the latency histogram, and reads a
//! WebSocket's messages; what a client reports at the end of a phase
//! ([`ClientReport`]).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use pushbench_protocol::Received;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite;

use crate::client_spec::{ClientSpec, Schedule};
use crate::meter::{ConnectionTotals, Meter, Note};
use crate::peer_state::{PeerState, WsControl, ws_replies};
use crate::recorder::{MAX_LATENCY_US, PhaseRecorder, Shard};
use crate::tracker::SeqTracker;

/// One client's result for a phase.
#[derive(Debug, Default)]
pub struct ClientReport {
    /// Seqs received.
    pub tracker: SeqTracker,
    /// Every connection: its addresses and what it carried.
    pub connections: Vec<ClientConnection>,
    /// Connections opened.
    pub opened: u64,
    /// Connection attempts that failed.
    pub failed: u64,
    /// Connections opened on another node than the last one (its node
    /// was down).
    pub moved: u64,
}

/// One connection a client made: its local address, the server (node)
/// it reached, and what it carried.
#[derive(Debug)]
pub struct ClientConnection {
    /// The client's address.
    pub local: SocketAddr,
    /// The server's address (a node of a `--target` list: the one dialed).
    pub server: SocketAddr,
    /// What the connection carried.
    pub totals: ConnectionTotals,
}

/// Why a session ended.
pub(crate) enum SessionEnd {
    /// The runner said stop.
    Stopped,
    /// An error of this kind; reconnect.
    Failed(String),
    /// A poll was answered on a connection that is not kept (`Connection:
    /// close`): dial again for the next one, no error, no backoff.
    Answered,
}

/// Waits for a short poll's turn (fixed rate: `next_poll` moves on by the
/// interval, and after a stall to now, so polls do not burst to catch
/// up); other schedules ask at once. False when `stop` came first.
pub(crate) async fn poll_turn(
    schedule: Schedule,
    next_poll: &mut tokio::time::Instant,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    let Schedule::Every(interval) = schedule else {
        return true;
    };
    tokio::select! {
        _ = stop.changed() => return false,
        _ = tokio::time::sleep_until(*next_poll) => {}
    }
    *next_poll += interval;
    *next_poll = (*next_poll).max(tokio::time::Instant::now());
    true
}

/// Records a connection's setup time (from `started`) in client `id`'s shard.
pub(crate) fn record_setup_time(recorder: &PhaseRecorder, id: usize, started: Instant) {
    let us = u64::try_from(started.elapsed().as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_LATENCY_US);
    let _ = recorder.shard(id).setup.record(us);
}

/// One event as a client received it.
#[derive(Clone, Copy, Debug)]
pub struct Receipt {
    /// The event's seq.
    pub seq: u64,
    /// When the server created it, µs on the server's clock.
    pub created_us: u64,
    /// When its last byte was read, µs on the load generator's clock.
    pub at: u64,
}

/// Books one received event of a client: its seq in the client's
/// `tracker`, and when it is new and the phase's window is open, a
/// delivery and its latency in the client's `shard` of `recorder`. The
/// per-event step of every client's receive path (and of the `receive`
/// bench).
pub fn record_event(
    receipt: Receipt,
    tracker: &mut SeqTracker,
    recorder: &PhaseRecorder,
    shard: &mut Shard,
) {
    let new = tracker.record(receipt.seq);
    if new && recorder.measuring() {
        shard.delivered += 1;
        let latency = recorder
            .on_server_clock(receipt.at)
            .saturating_sub(receipt.created_us)
            .clamp(1, MAX_LATENCY_US);
        let _ = shard.latency.record(latency);
    }
}

/// One client's view of one connection (HTTP/1.1) or of its streams on
/// a shared one (HTTP/2).
pub(crate) struct Session<'a> {
    pub(crate) spec: &'a ClientSpec,
    pub(crate) id: usize,
    pub(crate) recorder: &'a PhaseRecorder,
    pub(crate) meter: &'a Meter,
    pub(crate) report: &'a mut ClientReport,
    pub(crate) progress: &'a AtomicU64,
    pub(crate) cursor: &'a mut u64,
    /// What the server's dialect asked the client to carry on or answer.
    pub(crate) peer: &'a mut PeerState,
    /// The server gave a good answer (a 2xx head or the 101 upgrade) on
    /// this connection: the next failure starts the backoff over.
    pub(crate) answered: bool,
    /// The HTTP/2 stream whose notes are this client's (0 over HTTP/1.1,
    /// where every note is).
    pub(crate) stream: u32,
    /// The client's first session of the phase is still to open: opening
    /// it counts in the phase's ramp.
    pub(crate) first: bool,
    /// The notes of the read being drained; kept so reads allocate nothing.
    pub(crate) notes: Vec<(u32, Note)>,
}

/// What the notes of one read amounted to.
#[derive(Default)]
pub(crate) struct Drained {
    /// A response ended with this status.
    pub(crate) ended: Option<u16>,
    /// A response head with an error status.
    pub(crate) bad_status: Option<u16>,
}

impl Session<'_> {
    /// The connection's setup ended (it began at `started`): records its
    /// time, and the session as [`Session::opened`].
    pub(crate) fn record_setup(&mut self, started: Instant) {
        record_setup_time(self.recorder, self.id, started);
        self.opened();
    }

    /// A session opened: counts it in the ramp if it is the client's first.
    pub(crate) fn opened(&mut self) {
        if std::mem::take(&mut self.first) {
            self.recorder.first_session_opened();
        }
    }

    /// Hands the meter's decoded messages to the tracker and the histogram.
    pub(crate) fn drain(&mut self) -> Drained {
        let mut drained = Drained::default();
        let mut notes = std::mem::take(&mut self.notes);
        self.meter.move_notes_for(self.stream, &mut notes);
        if notes.is_empty() {
            self.notes = notes;
            return drained;
        }
        let measuring = self.recorder.measuring();
        let mut shard = self.recorder.shard(self.id);
        for (_, note) in notes.drain(..) {
            match note {
                Note::Message(
                    Received::Event {
                        seq, created_us, ..
                    },
                    at,
                ) => {
                    let receipt = Receipt {
                        seq,
                        created_us,
                        at,
                    };
                    record_event(receipt, &mut self.report.tracker, self.recorder, &mut shard);
                }
                Note::Message(Received::Gap(_), _) => self.report.tracker.gaps += 1,
                Note::ResponseHead(status) if !self.spec.kind.answers_normally(status) => {
                    drained.bad_status = Some(status);
                }
                Note::ResponseHead(_) => self.answered = true,
                Note::ResponseEnd(status, next) => {
                    if measuring {
                        shard.responses += 1;
                    }
                    if let Some(next) = next {
                        *self.cursor = (*self.cursor).max(next);
                    }
                    drained.ended = Some(status);
                }
                Note::Peer(note) => self.peer.absorb(*note),
                Note::Malformed(reason) => {
                    *shard
                        .errors
                        .entry(format!("malformed: {reason}"))
                        .or_default() += 1
                }
            }
        }
        drop(shard);
        self.notes = notes;
        if self.spec.schedule == Schedule::Once {
            *self.cursor = (*self.cursor).max(self.report.tracker.highest());
        }
        self.progress.store(*self.cursor, Ordering::Relaxed);
        drained
    }

    /// Reads a WebSocket's messages until `stop` (then closes it properly)
    /// or an error; the events come from the meter's notes.
    pub(crate) async fn ws_messages<S>(
        &mut self,
        ws: &mut tokio_tungstenite::WebSocketStream<S>,
        stop: &mut watch::Receiver<bool>,
    ) -> SessionEnd
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        loop {
            let message = tokio::select! {
                _ = stop.changed() => {
                    // Close properly, and read the server's close frame so
                    // both sides count the same bytes.
                    let _ = ws.close(None).await;
                    let _ = tokio::time::timeout(Duration::from_secs(1), async {
                        while let Some(Ok(_)) = ws.next().await {}
                    })
                    .await;
                    self.drain();
                    return SessionEnd::Stopped;
                }
                m = ws.next() => m,
            };
            // tokio-tungstenite answers pings itself; the classifier books
            // the ping and the pong as control from the raw bytes. What the
            // server's dialect asks for at the application level (an
            // Engine.IO pong) is sent here.
            self.drain();
            self.peer.ws_control = WsControl::default();
            for reply in ws_replies(self.spec, self.peer) {
                if let Err(e) = ws.send(tungstenite::Message::text(reply)).await {
                    return SessionEnd::Failed(format!("ws: {}", ws_kind(&e)));
                }
            }
            match message {
                Some(Ok(_)) => {}
                Some(Err(e)) => return SessionEnd::Failed(format!("ws: {}", ws_kind(&e))),
                None => return SessionEnd::Failed("closed by server".into()),
            }
        }
    }
}

/// Bytes a WebSocket client reads per socket read: tungstenite's chunk
/// (handshakes, and the HTTP/2 clients' messages) and the first size of
/// the HTTP/1.1 push paths' buffer (`ReadBuffer`).
/// tungstenite zero-fills its chunk before every read: its default, 128
/// KiB, made that memset the load generator's largest cost (17 % of its
/// CPU in a 100-client fan-out, by `perf`). Events are small and the
/// buffer still grows for a large message, so 8 KiB costs nothing else.
pub const WS_READ_CHUNK: usize = 8 * 1024;

/// Most bytes a client's push path reads at once (`ReadBuffer`).
pub const MAX_READ: usize = 64 * 1024;

/// The read buffer of a client's HTTP/1.1 push path (its socket's raw
/// bytes, which the meter sees as they pass): zeroed once, it starts at
/// [`WS_READ_CHUNK`] and grows once to [`MAX_READ`] when a read fills it.
/// Under a fan-out at its limit a client's socket holds more than 8 KiB
/// at half of its reads (`perf` of `sys_exit_recvfrom`, 100 clients at
/// 36,000 events/s), and each read costs a system call, a wake-up and the
/// meter's per-read work; an idle client (19,000 of them at one event a
/// second) keeps the small one.
#[derive(Debug)]
pub(crate) struct ReadBuffer(Vec<u8>);

impl ReadBuffer {
    pub(crate) fn new() -> Self {
        ReadBuffer(vec![0u8; WS_READ_CHUNK])
    }

    /// The room to read into.
    pub(crate) fn space(&mut self) -> &mut [u8] {
        &mut self.0
    }

    /// A read put `n` bytes in: a full buffer grows.
    pub(crate) fn filled(&mut self, n: usize) {
        if n == self.0.len() && n < MAX_READ {
            self.0.resize(MAX_READ, 0);
        }
    }
}

/// The WebSocket settings of every load-generator client.
pub fn ws_config() -> tungstenite::protocol::WebSocketConfig {
    tungstenite::protocol::WebSocketConfig::default().read_buffer_size(WS_READ_CHUNK)
}

pub(crate) fn ws_kind(e: &tungstenite::Error) -> String {
    use tungstenite::Error as E;
    match e {
        E::ConnectionClosed | E::AlreadyClosed => "closed".into(),
        E::Io(io) => format!("{:?}", io.kind()),
        E::Http(response) => format!("status {}", response.status().as_u16()),
        E::Protocol(p) => format!("protocol: {p}"),
        other => other.to_string(),
    }
}
