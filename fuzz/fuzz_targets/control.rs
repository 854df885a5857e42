//! See `pushbench_fuzz::control`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pushbench_fuzz::control::check(data));
