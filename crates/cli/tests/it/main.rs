//! Tests of the `pushbench` binary as a user runs it.

mod browser;
mod serve;
