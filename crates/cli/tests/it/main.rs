//! Tests of the `pushbench` binary as a user runs it.

mod serve;
