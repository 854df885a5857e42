//! The built-in event generator (`serve --rate R --burst N`): a fixed
//! schedule (`pushbench_protocol::publish_schedule::PublishSchedule`, pure,
//! shared with the load generator's publisher) and the task that follows it.
//!
//! Events come in groups of `burst`, published back to back, the groups
//! spaced `burst / rate` seconds apart, so the average rate stays `rate`.
//! A burst of 1 is the even spacing of `1 / rate`; a larger one gives
//! several events within one round trip, the case where long polling must
//! re-issue its request before it can see the later events (RFC 6202,
//! section 2.2).

use std::time::{Duration, Instant};

use pushbench_protocol::publish_schedule::PublishSchedule;

use crate::{AppState, live};

/// Publishes by [`PublishSchedule`] at fixed times (a schedule, not a sleep
/// after each event), so a slow moment is caught up rather than silently
/// lowering the rate; each event is stamped with the time the schedule said
/// it was due (see [`crate::Hub::publish_scheduled`]), which keeps the
/// latencies free of coordinated omission.
pub(crate) async fn generate(state: AppState) {
    let config = &state.config;
    let schedule = PublishSchedule::new(config.rate, config.burst);
    let mut shutdown = state.shutdown.clone();
    let start = Instant::now();
    let start_us = pushbench_protocol::now_us();
    let mut sent: u64 = 0;
    loop {
        let due = schedule.due_by(start.elapsed().as_secs_f64());
        while sent < due {
            sent += 1;
            let scheduled_us = start_us + (schedule.due_at_s(sent) * 1e6) as u64;
            state
                .hub
                .publish_scheduled(config.payload, config.topics, Some(scheduled_us));
        }
        let next_at = start + Duration::from_secs_f64(schedule.due_at_s(sent + 1));
        tokio::select! {
            _ = tokio::time::sleep_until(next_at.into()) => {}
            () = live::stopped(&mut shutdown) => return,
        }
    }
}
