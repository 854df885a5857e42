//! See `pushbench_fuzz::event`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pushbench_fuzz::event::check(data));
