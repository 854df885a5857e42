//! The shared vocabulary of pushbench: events and their encoding, the five
//! transports, the wire ledger that books every byte into one class, the
//! byte-exact framing arithmetic, and the results format.
//!
//! No sockets and no async runtime live here: everything is a plain type or
//! a pure function, tested without a network.
//!
//! # Layout
//! - [`transport`]: [`Transport`], the five techniques and their contract names.
//! - [`coding`]: gzip and Brotli bodies: the streaming [`coding::Encoder`]
//!   (one flush per event) and [`coding::Decoder`] the classifier reads
//!   `Content-Encoding` bodies with.
//! - [`event`]: [`Event`], its JSON and binary encodings, gap markers, and
//!   [`decode_json`]/[`decode_binary`], which also split a message's bytes
//!   into payload and envelope.
//! - [`framing`]: pure framing lengths (`ws_header_len`, `chunk_framing_len`,
//!   `sse_field_overhead`) that the classifiers and the docs rely on.
//! - [`h2`]: [`H2Classifier`], the HTTP/2 counterpart of the wire
//!   classifier: frames, HPACK-decoded header blocks and many streams per
//!   connection, each DATA body handed to [`wire`]'s body parsers.
//! - [`headers`]: [`HeaderProfile`] (`minimal`, `browser`, a header
//!   file), the header-file format and the rules that keep a profile from
//!   breaking the framing.
//! - [`ledger`]: [`ByteClass`], [`ByteLedger`] (one direction) and
//!   [`Traffic`] (both directions).
//! - [`results`]: [`RunResult`] and its parts, the `results.json` contract.
//! - [`peers`]: [`peers::PeersResult`], the `peers.json` contract: pushbench
//!   beside other tools, as ratios.
//! - [`tls`]: TLS record framing read from the ciphertext
//!   ([`tls::RecordScanner`]): which bytes are record overhead.
//! - [`variant`]: [`HttpVersion`] and [`ContentCoding`], the protocol
//!   dimensions of a phase beside TLS and the header profile.
//! - [`wire`]: [`Classifier`], the incremental parser that books every byte
//!   of a connection into one [`ByteClass`] and decodes its events; the load
//!   generator counts with it and `pushbench trace` prints with it.
#![deny(missing_docs)]

pub mod coding;
pub mod event;
pub mod framing;
pub mod h2;
pub mod headers;
pub mod ledger;
pub mod peers;
pub mod results;
pub mod tls;
pub mod transport;
pub mod variant;
pub mod wire;

pub use event::{
    DecodeError, Event, Gap, Received, decode_binary, decode_json, gap_json, now_us, payload_for,
};
pub use h2::H2Classifier;
pub use headers::HeaderProfile;
pub use ledger::{ByteClass, ByteLedger, Traffic};
pub use results::{RESULTS_VERSION, RunResult, Scenario};
pub use transport::{Transport, UnknownTransport};
pub use variant::{ContentCoding, HttpVersion};
pub use wire::{Classifier, Direction, WireError, WireEvent};

/// Prints the reliability line of one unit-test case that passed (see
/// `scripts/reliability.sh`); call it only after the case's assertions.
#[cfg(test)]
pub fn reliability(class: &str, case: &str, outcome: &str) {
    println!("reliability: {class} | {case} | {outcome}");
}
