//! The HTTP/2 wire classifier, every transport; see `pushbench_fuzz::h2`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pushbench_fuzz::h2::check(data));
