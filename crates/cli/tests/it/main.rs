//! Tests of the `pushbench` binary as a user runs it.

mod bad_flags;
mod browser;
mod burst;
mod coding;
mod conformance;
mod docs;
mod faults;
mod headers;
mod keep_alive;
mod layout;
mod link;
mod peers;
mod serve;
mod servers;
mod shards;
mod support;
mod target;
mod target_bun_node;
mod target_nchan;
mod target_nodes;
mod target_pushpin;
mod target_socketio;
mod tls;
mod trace;
mod versus;
mod wire;
