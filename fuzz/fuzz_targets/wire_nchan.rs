//! The wire classifier in Nchan's dialect, any transport (the first byte
//! picks it); see `pushbench_fuzz::wire::check_dialect`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushbench_protocol::TargetKind;

fuzz_target!(|data: &[u8]| pushbench_fuzz::wire::check_dialect(TargetKind::Nchan, data));
