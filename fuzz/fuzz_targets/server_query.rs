//! See `pushbench_fuzz::query`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pushbench_fuzz::query::check(data));
