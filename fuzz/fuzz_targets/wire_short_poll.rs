//! The wire classifier of a `ShortPoll` connection; see `pushbench_fuzz::wire`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushbench_protocol::Transport;

fuzz_target!(|data: &[u8]| pushbench_fuzz::wire::check(Transport::ShortPoll, data));
