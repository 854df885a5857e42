//! What a target kind's answers say beyond their events: the
//! [`PeerSignal`]s in a response head (a resume token such as Nchan's
//! `Last-Modified`/`Etag`). Each kind's body and frame parsers live in
//! their own modules; this is where the response head is read.

use super::emit::{Emitter, PeerSignal, WireEvent};
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
        // Their cursors travel in the events themselves (or in a session
        // the body opens), not in the head.
        TargetKind::Pushbench
        | TargetKind::Nchan
        | TargetKind::Pushpin
        | TargetKind::Socketio
        | TargetKind::Bun
        | TargetKind::NodeWs => {
            let _ = (transport, status, head);
            None
        }
    };
    if let Some(signal) = signal {
        em.event(WireEvent::Peer(signal));
    }
}
