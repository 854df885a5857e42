//! The load generator's control connections (`GET /stats`, `POST
//! /publish`): the control classifier books every byte as `control`, and
//! the answer parser (`split_response`) takes whatever the server sent.
//!
//! The input is a [`crate::script`] exchange; the answer parsed is every
//! byte the server sent.

use pushbench_loadgen::control_client::split_response;
use pushbench_protocol::wire::{Classifier, Direction, WireEvent};
use pushbench_protocol::{ByteClass, ByteLedger};

use crate::script;

/// Runs the control checks on `data`.
pub fn check(data: &[u8]) {
    let reads = script::reads(data);
    let mut classifier = Classifier::control();
    let mut ledgers = [ByteLedger::default(), ByteLedger::default()];
    let mut sink = |event: WireEvent<'_>| {
        let Some((direction, class, bytes)) = script::segment(&event) else {
            panic!("the control classifier only books bytes, got {event:?}");
        };
        assert_eq!(class, ByteClass::Control, "control connections are control");
        ledgers[usize::from(direction == Direction::Received)].add(class, bytes.len() as u64);
    };
    for read in &reads {
        classifier.feed(read.direction, read.bytes, &mut sink);
    }
    for (i, direction) in [Direction::Sent, Direction::Received]
        .into_iter()
        .enumerate()
    {
        let fed = script::stream(&reads, direction).len() as u64;
        assert_eq!(ledgers[i].get(ByteClass::Control), fed, "{direction:?}");
    }

    let answer = script::stream(&reads, Direction::Received);
    if let Some((_status, body)) = split_response(&answer) {
        // A body is the answer's bytes after the head, de-chunked: never more.
        assert!(body.len() < answer.len(), "body longer than the answer");
    }
}
