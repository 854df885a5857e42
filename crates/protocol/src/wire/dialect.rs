//! What a target kind's answers say beyond their events: the
//! [`PeerSignal`]s in a response head (a resume token such as Nchan's
//! `Last-Modified`/`Etag`). Each kind's body and frame parsers live in
//! their own modules; this is where the response head is read.

use super::emit::{Emitter, PeerSignal, WireEvent};
use super::nchan_bodies;
use crate::target_kind::TargetKind;
use crate::transport::Transport;

/// Reads what a `kind` server's response head (with `status`, on a
/// `transport` connection) tells the client to carry on, reporting it as
/// [`WireEvent::Peer`].
pub(super) fn response_head<F: FnMut(WireEvent<'_>)>(
    kind: TargetKind,
    transport: Transport,
    status: u16,
    head: &[u8],
    em: &mut Emitter<'_, F>,
) {
    let signal: Option<PeerSignal<'_>> = match kind {
        TargetKind::Nchan => nchan_bodies::validators(transport, status, |name| header(head, name)),
        // Their cursors travel in the events themselves (or in a session
        // the body opens), not in the head.
        TargetKind::Pushbench
        | TargetKind::Pushpin
        | TargetKind::Socketio
        | TargetKind::Bun
        | TargetKind::NodeWs => None,
    };
    if let Some(signal) = signal {
        em.event(WireEvent::Peer(signal));
    }
}

/// The value of header `name` (case-insensitive) in a complete head.
pub(super) fn header<'h>(head: &'h [u8], name: &str) -> Option<&'h str> {
    let text = std::str::from_utf8(head).ok()?;
    text.split("\r\n").skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}
