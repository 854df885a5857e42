//! The checks behind pushbench's fuzz targets: each target in
//! `fuzz_targets/` is one line that hands libFuzzer's bytes to a function
//! here. A check panics (which libFuzzer reports as a crash) when the code
//! under test panics or breaks the property pushbench relies on.
//!
//! # Layout
//! - [`script`]: the input format of the wire and control targets, a
//!   sequence of reads in either direction, so the fuzzer chooses the read
//!   boundaries as well as the bytes.
//! - [`wire`]: the wire classifier of one transport, both directions: every
//!   byte booked exactly once, the same classes whatever the read
//!   boundaries, and the payload bytes equal to the decoded events' payloads;
//!   in pushbench's dialect or another target kind's (`wire_socketio_*`;
//!   `wire_nchan`: the first byte picks the transport).
//! - [`h2`]: the HTTP/2 wire classifier, any transport: every byte booked
//!   exactly once, the same classes per stream whatever the read
//!   boundaries, and the payload bytes equal to the decoded events' payloads.
//! - [`event`]: the event codec (JSON and binary), decoding and round trips.
//! - [`control`]: the load generator's control connections: the control
//!   classifier and the parser of `/stats` and `/publish` answers.
//! - [`query`]: the server's query-string and `Last-Event-ID` parsing, from
//!   the raw query through axum's extractor to every `params` function.

pub mod control;
pub mod event;
pub mod h2;
pub mod query;
pub mod script;
pub mod wire;
