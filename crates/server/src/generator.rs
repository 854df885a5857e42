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
//!
//! With `--cluster` the schedule runs on one node at a time, the holder of
//! a lease in Redis (`generate_clustered`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use pushbench_protocol::publish_schedule::PublishSchedule;

use crate::cluster::{COMMAND_LIMIT, Cluster, ClusterError, LEASE_SCRIPT, Publish, RELEASE_SCRIPT};
use crate::redis_conn::RedisConn;
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
    let mut batch = Vec::new();
    loop {
        // The events due by now go out as one batch: subscribers are woken
        // once for all of them, and write them with one write each.
        let due = schedule.due_by(start.elapsed().as_secs_f64());
        batch.clear();
        while sent < due && batch.len() < BATCH as usize {
            sent += 1;
            batch.push(start_us + (schedule.due_at_s(sent) * 1e6) as u64);
        }
        if !batch.is_empty() {
            state
                .hub
                .publish_scheduled_batch(config.payload, config.topics, &batch);
        }
        let next_at = start + Duration::from_secs_f64(schedule.due_at_s(sent + 1));
        tokio::select! {
            _ = tokio::time::sleep_until(next_at.into()) => {}
            () = live::stopped(&mut shutdown) => return,
        }
    }
}

/// How long the generator lease lives without renewal: when its holder
/// dies, another node takes over within about this long (plus one renew
/// interval).
const LEASE_TTL: Duration = Duration::from_millis(2_000);

/// How often the holder renews the lease and the others try to take it: a
/// quarter of the TTL, so three renewals may fail before it lapses.
const LEASE_RENEW: Duration = Duration::from_millis(500);

/// Most generated events published in one script call: a second of
/// events at 1,000 ev/s, a few hundred KiB of arguments at most.
const BATCH: u64 = 1_000;

/// A schedule this node runs while it holds the lease.
#[derive(Debug)]
struct Run {
    start: Instant,
    start_us: u64,
    sent: u64,
}

/// The generator of a `--cluster` node: runs the schedule only while this
/// node holds the cluster's generator lease (see
/// [`crate::cluster::LEASE_SCRIPT`]), so the cluster has one generator at
/// `--rate`, whichever node it runs on. A node taking over starts a fresh
/// schedule; seqs continue from Redis's counter. While Redis is down the
/// due events are dropped unpublished (they get no seq, so no client
/// misses them), with one warning per outage.
pub(crate) async fn generate_clustered(state: AppState, cluster: Arc<Cluster>) {
    let config = &state.config;
    let schedule = PublishSchedule::new(config.rate, config.burst);
    let mut shutdown = state.shutdown.clone();
    let mut lease_conn: Option<RedisConn> = None;
    let mut run: Option<Run> = None;
    let mut renew = tokio::time::interval(LEASE_RENEW);
    renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut warned = false;
    loop {
        let next_at = run
            .as_ref()
            .map(|r| r.start + Duration::from_secs_f64(schedule.due_at_s(r.sent + 1)));
        let due = async move {
            match next_at {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = renew.tick() => {
                let held = take_lease(&cluster, &mut lease_conn).await;
                cluster.set_lease_held(held);
                match (held, run.is_some()) {
                    (true, false) => {
                        tracing::info!("this node took the cluster's generator lease: generating");
                        run = Some(Run { start: Instant::now(), start_us: pushbench_protocol::now_us(), sent: 0 });
                    }
                    (false, true) => {
                        tracing::info!("this node lost the cluster's generator lease: stopped generating");
                        run = None;
                    }
                    _ => {}
                }
            }
            () = due => {
                let lost = match run.as_mut() {
                    Some(r) => publish_due(&state, &cluster, &schedule, r, &mut warned).await,
                    None => false,
                };
                if lost {
                    cluster.set_lease_held(false);
                    run = None;
                }
            }
            () = live::stopped(&mut shutdown) => {
                if let Some(conn) = lease_conn.as_mut() {
                    let keys = &cluster.keys;
                    let release = ["EVAL", RELEASE_SCRIPT, "1", &keys.lease, &cluster.config.node];
                    let _best_effort = conn.command(&release, COMMAND_LIMIT).await;
                }
                cluster.set_lease_held(false);
                return;
            }
        }
    }
}

/// Publishes every event of `run` due by now, in one script call (at
/// most [`BATCH`] events a call: a call per event would cap the cluster's
/// rate at one Redis round trip per event); true when the lease turned
/// out lost (the publish script refused).
async fn publish_due(
    state: &AppState,
    cluster: &Cluster,
    schedule: &PublishSchedule,
    run: &mut Run,
    warned: &mut bool,
) -> bool {
    let config = &state.config;
    let due = schedule.due_by(run.start.elapsed().as_secs_f64());
    while run.sent < due {
        let created_us: Vec<u64> = (run.sent + 1..=due.min(run.sent + BATCH))
            .map(|n| run.start_us + (schedule.due_at_s(n) * 1e6) as u64)
            .collect();
        let what = Publish::Generated {
            len: config.payload,
            topics: config.topics,
            created_us: &created_us,
        };
        match cluster.publish(&state.hub, what).await {
            Ok(_) => {
                run.sent += created_us.len() as u64;
                *warned = false;
            }
            Err(ClusterError::NotLeaseHolder) => return true,
            Err(err) => {
                if !*warned {
                    tracing::warn!("the generator could not publish ({err}); retrying on schedule");
                    *warned = true;
                }
                // Everything due now is dropped, not queued: no seq, no miss.
                run.sent = due;
            }
        }
    }
    false
}

/// Takes or renews the lease on `conn` (connecting it when needed); true
/// when this node holds it. Any failure counts as not held.
async fn take_lease(cluster: &Cluster, conn: &mut Option<RedisConn>) -> bool {
    if conn.is_none() {
        match cluster.connect().await {
            Ok(fresh) => *conn = Some(fresh),
            Err(err) => {
                cluster.mark_down("lease", &err);
                return false;
            }
        }
    }
    let Some(current) = conn.as_mut() else {
        return false;
    };
    let ttl = LEASE_TTL.as_millis().to_string();
    let keys = &cluster.keys;
    let args = [
        "EVAL",
        LEASE_SCRIPT,
        "1",
        &keys.lease,
        &cluster.config.node,
        &ttl,
    ];
    match current.command(&args, COMMAND_LIMIT).await {
        Ok(reply) => {
            cluster.mark_up();
            reply.as_integer() == Some(1)
        }
        Err(err) => {
            cluster.mark_down("lease", &err);
            *conn = None;
            false
        }
    }
}
