//! The wire classifier of a `LongPoll` connection to a Socket.IO server
//! (Engine.IO v4); see `pushbench_fuzz::wire`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushbench_protocol::{TargetKind, Transport};

fuzz_target!(|data: &[u8]| pushbench_fuzz::wire::check_kind(
    TargetKind::Socketio,
    Transport::LongPoll,
    data
));
