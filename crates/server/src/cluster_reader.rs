//! The cluster's reader: at start a node loads the stream's tail into its
//! hub ([`join`]); then one task ([`read`]) XREADs every new entry on its
//! own connection and stores it in the hub, in order. When Redis goes away
//! the task reconnects with backoff and continues after the hub's last
//! seq; if the stream was trimmed past it meanwhile, [`Hub::store`] turns
//! the jump into a gap. Subscribers never notice anything but a pause.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::cluster::{COMMAND_LIMIT, Cluster, parse_range, parse_xread};
use crate::hub::Hub;
use crate::live::stopped;
use crate::redis_conn::{RedisConn, RedisError};

/// How long a node keeps trying to reach Redis at start before it refuses
/// to start: a node that never read the stream cannot answer cursors, and
/// a few seconds cover Redis starting beside it (as in a script).
pub const JOIN_WAIT: Duration = Duration::from_secs(3);

/// How long one XREAD blocks waiting for entries. Short, so a stalled
/// Redis (one that accepts but never answers) is noticed within
/// `READ_BLOCK + COMMAND_LIMIT`; each empty wake costs one round trip.
const READ_BLOCK: Duration = Duration::from_millis(1_000);

/// Most entries one XREAD returns: bounds the reply while a node catches
/// up after an outage, at no cost when it keeps up.
const READ_COUNT: usize = 1_000;

/// First wait before reconnecting, doubled per failure up to
/// [`MAX_BACKOFF`]: quick after a blip, without a busy loop while Redis is
/// down.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// Longest wait between reconnects: the worst added delay once Redis is
/// back.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The wait after `last`: none yet gives the first wait (100 ms), then
/// each doubles up to 1 s.
pub fn next_backoff(last: Option<Duration>) -> Duration {
    last.map_or(FIRST_BACKOFF, |d| (d * 2).min(MAX_BACKOFF))
}

/// Entries per `XREVRANGE` while a joining node loads the stream's tail.
const TAIL_PAGE: usize = 10_000;

/// Connects to Redis (retrying for [`JOIN_WAIT`]) and loads the stream's
/// last `ring` entries into `hub`; returns the connection for [`read`].
pub async fn join(cluster: &Cluster, hub: &Hub) -> Result<RedisConn, RedisError> {
    let deadline = Instant::now() + JOIN_WAIT;
    let mut conn = loop {
        match cluster.connect().await {
            Ok(conn) => break conn,
            Err(_) if Instant::now() + FIRST_BACKOFF < deadline => {
                tokio::time::sleep(FIRST_BACKOFF).await;
            }
            Err(err) => return Err(err),
        }
    };
    // Newest first, a page at a time: a ring of a fast run's minute holds
    // hundreds of thousands of entries, more than one reply brings within
    // COMMAND_LIMIT.
    let stream = cluster.keys.stream.as_str();
    let mut tail = Vec::new();
    let mut end = "+".to_owned();
    while tail.len() < cluster.maxlen {
        let want = TAIL_PAGE.min(cluster.maxlen - tail.len());
        let count = want.to_string();
        let reply = conn
            .command(
                &["XREVRANGE", stream, &end, "-", "COUNT", &count],
                COMMAND_LIMIT,
            )
            .await?;
        let page = parse_range(&reply).map_err(RedisError::Unexpected)?;
        let (Some(oldest), full) = (page.last(), page.len() == want) else {
            break;
        };
        end = format!("({}-0", oldest.seq);
        tail.extend(page);
        if !full {
            break;
        }
    }
    tail.reverse();
    for event in tail {
        hub.store(event);
    }
    cluster.mark_up();
    Ok(conn)
}

/// Reads the stream into `hub` until shutdown, reconnecting as needed.
pub async fn read(
    cluster: Arc<Cluster>,
    hub: Arc<Hub>,
    first: RedisConn,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conn = Some(first);
    let mut backoff = None;
    let count = READ_COUNT.to_string();
    let block = READ_BLOCK.as_millis().to_string();
    loop {
        let Some(current) = conn.as_mut() else {
            let wait = next_backoff(backoff);
            backoff = Some(wait);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = stopped(&mut shutdown) => return,
            }
            match cluster.connect().await {
                Ok(fresh) => {
                    cluster.reconnected("reader");
                    backoff = None;
                    conn = Some(fresh);
                }
                Err(err) => cluster.mark_down("reader", &err),
            }
            continue;
        };
        let after = format!("{}-0", hub.last_seq());
        let args = [
            "XREAD",
            "COUNT",
            &count,
            "BLOCK",
            &block,
            "STREAMS",
            &cluster.keys.stream,
            &after,
        ];
        let reply = tokio::select! {
            reply = current.command(&args, COMMAND_LIMIT + READ_BLOCK) => reply,
            () = stopped(&mut shutdown) => return,
        };
        let events = reply.and_then(|r| parse_xread(&r).map_err(RedisError::Unexpected));
        match events {
            Ok(events) => {
                cluster.mark_up();
                let now = pushbench_protocol::now_us();
                for event in events {
                    cluster.set_reader_lag(now.saturating_sub(event.created_us));
                    hub.store(event);
                }
            }
            Err(err) => {
                cluster.mark_down("reader", &err);
                conn = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_first_wait_up_to_the_cap() {
        let mut waits = Vec::new();
        let mut last = None;
        for _ in 0..6 {
            let wait = next_backoff(last);
            waits.push(wait.as_millis());
            last = Some(wait);
        }
        assert_eq!(waits, [100, 200, 400, 800, 1_000, 1_000]);
    }
}
