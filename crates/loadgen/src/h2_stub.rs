//! A stand-in for `pushbench_protocol::h2::H2Classifier` (branch `h2wire`)
//! with its API, until it lands: books every byte as `control` on stream 0.
//! Replaced by the real classifier at the merge.

use pushbench_protocol::{ByteClass, Direction, Transport, WireError, WireEvent};

/// The HTTP/2 classifier's stand-in.
#[derive(Debug)]
pub struct H2Classifier {
    _transport: Transport,
}

impl H2Classifier {
    /// A classifier for one HTTP/2 connection of `transport`.
    pub fn new(transport: Transport) -> Self {
        H2Classifier {
            _transport: transport,
        }
    }

    /// Feeds bytes.
    pub fn feed<F: FnMut(u32, WireEvent<'_>)>(
        &mut self,
        direction: Direction,
        bytes: &[u8],
        sink: &mut F,
    ) -> Result<(), WireError> {
        sink(
            0,
            WireEvent::Bytes {
                direction,
                class: ByteClass::Control,
                bytes,
            },
        );
        Ok(())
    }

    /// The connection ended.
    pub fn finish<F: FnMut(u32, WireEvent<'_>)>(&mut self, _sink: &mut F) {}
}
