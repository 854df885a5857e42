//! The shared vocabulary of pushbench: events and their encoding, the five
//! transports, the wire ledger that books every byte into one class, the
//! byte-exact framing arithmetic, and the results format.
//!
//! No sockets and no async runtime live here: everything is a plain type or
//! a pure function, tested without a network.
//!
//! # Layout
//! - [`transport`]: [`Transport`], the five techniques and their contract names.
//! - [`content_coding`]: gzip and Brotli bodies: the streaming
//!   [`content_coding::Encoder`] (one flush per event) and
//!   [`content_coding::Decoder`] the classifier reads `Content-Encoding`
//!   bodies with.
//! - [`event`]: [`Event`], its JSON and binary encodings, gap markers, and
//!   [`decode_json`]/[`decode_binary`], which also split a message's bytes
//!   into payload and envelope.
//! - [`framing`]: pure framing lengths (`ws_header_len`, `chunk_framing_len`,
//!   `sse_field_overhead`) that the classifiers and the docs rely on.
//! - [`frame_head`]: the one decoder per binary frame header:
//!   [`frame_head::WsFrameHead`] (RFC 6455) and [`frame_head::H2FrameHead`]
//!   (RFC 9113), used by both classifiers and by the report's trace.
//! - [`h2_classifier`]: [`H2Classifier`], the HTTP/2 counterpart of the wire
//!   classifier: frames, HPACK-decoded header blocks and many streams per
//!   connection, each DATA body handed to [`wire`]'s body parsers.
//! - [`header_profiles`]: [`HeaderProfile`] (`minimal`, `browser`, a header
//!   file), the header-file format and the rules that keep a profile from
//!   breaking the framing.
//! - [`ledger`]: [`ByteClass`], [`ByteLedger`] (one direction) and
//!   [`Traffic`] (both directions).
//! - [`link`]: [`LinkProfile`], the network path a phase runs over (named
//!   profiles, the `--link` syntax); [`link_measured`]: what a phase
//!   measured of it (connect times, retransmissions, the link's counts).
//! - [`target_kind`]: [`TargetKind`], the kinds of server measured
//!   (`pushbench`, `nchan`, `pushpin`, `socketio`, `bun`, `node-ws`) and
//!   the techniques each offers; the classifiers read each kind's dialect.
//! - [`publish_schedule`]: when a fixed-rate publisher's events are due
//!   (the server's generator and the load generator's publisher).
//! - [`results`]: [`RunResult`] and its parts, the `results.json` contract.
//!   [`server_cost`] holds a phase's server side (cost, per node when there
//!   are several, outages), which `results` re-exports.
//! - [`peer_results`]: [`peer_results::PeersResult`], the `peers.json`
//!   contract: pushbench beside other tools, as ratios.
//! - [`server_results`]: [`server_results::ServersResult`], the
//!   `servers.json` contract: `pushbench serve` beside the servers of the
//!   other target kinds, per technique, with [`peer_results`]' ratios.
//! - [`tls_records`]: TLS record framing read from the ciphertext
//!   ([`tls_records::RecordScanner`]): which bytes are record overhead.
//! - [`variant`]: [`HttpVersion`] and [`ContentCoding`], the protocol
//!   dimensions of a phase beside TLS and the header profile.
//! - [`wire`]: [`Classifier`], the incremental parser that books every byte
//!   of a connection into one [`ByteClass`] and decodes its events; the load
//!   generator counts with it and `pushbench trace` prints with it.
#![deny(missing_docs)]

pub mod content_coding;
pub mod event;
pub mod frame_head;
pub mod framing;
pub mod h2_classifier;
pub mod header_profiles;
pub mod ledger;
pub mod link;
pub mod link_measured;
pub mod peer_results;
pub mod publish_schedule;
pub mod results;
pub mod server_cost;
pub mod server_results;
pub mod target_kind;
pub mod tls_records;
pub mod transport;
pub mod variant;
pub mod wire;

pub use event::{
    DecodeError, Event, Gap, Received, decode_binary, decode_json, gap_json, now_us, payload_for,
};
pub use h2_classifier::H2Classifier;
pub use header_profiles::HeaderProfile;
pub use ledger::{ByteClass, ByteLedger, Traffic};
pub use link::LinkProfile;
pub use results::{RESULTS_VERSION, RunResult, Scenario};
pub use target_kind::{NotOffered, TargetKind, UnknownTargetKind};
pub use transport::{Transport, UnknownTransport};
pub use variant::{ContentCoding, HttpVersion};
pub use wire::{Classifier, Direction, PeerSignal, WireError, WireEvent};

/// Prints the reliability line of one unit-test case that passed (see
/// `scripts/reliability.sh`); call it only after the case's assertions.
#[cfg(test)]
pub fn reliability(class: &str, case: &str, outcome: &str) {
    println!("reliability: {class} | {case} | {outcome}");
}
