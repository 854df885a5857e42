//! The push path of an HTTP/1.1 WebSocket client: after tungstenite's
//! handshake the client reads the socket's raw bytes into one buffer and
//! lets the meter's classifier, which sees every byte anyway, parse the
//! frames once; it takes from the notes only what it must act on (events,
//! the server's pings and close, its dialect's replies) and writes its
//! answers as masked frames itself ([`answers`]).
//!
//! Why not tungstenite's reader: it zero-filled its read chunk before
//! every read, parsed every frame and validated its UTF-8, and the meter
//! then parsed the same bytes again; the messages it returned were thrown
//! away. In a 100-client fan-out that made the load generator cost more
//! per event than the server it measured.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use pushbench_protocol::framing::ws_client_frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use crate::connection::Conn;
use crate::peer_state::{WsControl, ws_replies};
use crate::session::{ReadBuffer, Session, SessionEnd};

/// WebSocket opcodes a client writes (RFC 6455 section 11.8).
const TEXT: u8 = 0x1;
const CLOSE: u8 = 0x8;
const PONG: u8 = 0xA;

/// How long a stopping client waits for the server's close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// What a client owes the server after a read: the frames to write (pongs
/// carrying each ping's payload, then `texts` from its dialect, then the
/// reply to a close, which echoes its body as tungstenite does), each
/// masked with a key from `key`; and whether the server closed.
pub fn answers(
    control: WsControl,
    texts: Vec<String>,
    mut key: impl FnMut() -> [u8; 4],
) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    for ping in &control.pings {
        out.extend(ws_client_frame(PONG, ping, key()));
    }
    for text in &texts {
        out.extend(ws_client_frame(TEXT, text.as_bytes(), key()));
    }
    let closed = control.close.is_some();
    if let Some(body) = control.close {
        out.extend(ws_client_frame(CLOSE, &body, key()));
    }
    (out, closed)
}

/// A masking key: unpredictable, as RFC 6455 asks, from the standard
/// library's randomly seeded hasher (a fresh seed per call).
fn mask_key() -> [u8; 4] {
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let [a, b, c, d, ..] = bits.to_le_bytes();
    [a, b, c, d]
}

impl Session<'_> {
    /// Reads a WebSocket's frames until `stop` (then closes it properly),
    /// the server's close, or an error; the events come from the meter's
    /// notes.
    pub(crate) async fn ws_frames(
        &mut self,
        conn: &mut Conn,
        stop: &mut watch::Receiver<bool>,
    ) -> SessionEnd {
        // The bytes themselves are the meter's, read as they passed.
        let mut buf = ReadBuffer::new();
        loop {
            let read = tokio::select! {
                _ = stop.changed() => return self.ws_close(conn, buf.space()).await,
                n = conn.read(buf.space()) => n,
            };
            match read {
                Ok(0) => {
                    self.drain();
                    return SessionEnd::Failed(self.ws_end_kind());
                }
                Ok(n) => buf.filled(n),
                Err(e) => return SessionEnd::Failed(format!("ws: {:?}", e.kind())),
            }
            self.drain();
            let control = std::mem::take(&mut self.peer.ws_control);
            let texts = ws_replies(self.spec, self.peer);
            let (frames, closed) = answers(control, texts, mask_key);
            if !frames.is_empty() {
                let written = conn.write_all(&frames).await;
                if let Err(e) = written.and(conn.flush().await) {
                    return SessionEnd::Failed(format!("ws: {:?}", e.kind()));
                }
            }
            if closed {
                // `close` reads to the server's end of the stream.
                return SessionEnd::Failed("closed by server".into());
            }
        }
    }

    /// The server ended the stream: after its close frame, as tungstenite
    /// said it; without one, tungstenite's protocol error.
    fn ws_end_kind(&self) -> String {
        if self.peer.ws_control.close.is_some() {
            "closed by server".into()
        } else {
            "ws: protocol: Connection reset without closing handshake".into()
        }
    }

    /// Closes properly (a close frame without a body, as tungstenite's
    /// `close(None)`), and reads until the server's close frame so both
    /// sides count the same bytes.
    async fn ws_close(&mut self, conn: &mut Conn, buf: &mut [u8]) -> SessionEnd {
        let frame = ws_client_frame(CLOSE, &[], mask_key());
        if conn.write_all(&frame).await.is_ok() && conn.flush().await.is_ok() {
            let _ = tokio::time::timeout(CLOSE_WAIT, async {
                while let Ok(n @ 1..) = conn.read(buf).await {
                    let _ = n;
                    self.drain();
                    if self.peer.ws_control.close.is_some() {
                        break;
                    }
                }
            })
            .await;
        }
        self.drain();
        SessionEnd::Stopped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pushbench_protocol::frame_head::WsFrameHead;

    /// The frames of `bytes`: (opcode, unmasked payload), each masked.
    fn frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let head = WsFrameHead::parse(bytes).expect("a whole header");
            let key = head.mask.expect("client frames are masked");
            let end = head.header_len + head.payload_len as usize;
            let payload = bytes[head.header_len..end]
                .iter()
                .zip(key.iter().cycle())
                .map(|(b, k)| b ^ k)
                .collect();
            out.push((head.opcode, payload));
            bytes = &bytes[end..];
        }
        out
    }

    #[test]
    fn pings_are_ponged_replies_sent_and_a_close_echoed() {
        let control = WsControl {
            pings: vec![b"a".to_vec(), Vec::new()],
            close: Some(vec![0x03, 0xe8]),
        };
        let (bytes, closed) = answers(control, vec!["3".into()], mask_key);
        assert!(closed);
        assert_eq!(
            frames(&bytes),
            [
                (PONG, b"a".to_vec()),
                (PONG, Vec::new()),
                (TEXT, b"3".to_vec()),
                (CLOSE, vec![0x03, 0xe8]),
            ]
        );
        let (nothing, closed) = answers(WsControl::default(), Vec::new(), mask_key);
        assert!(nothing.is_empty() && !closed);
    }
}
