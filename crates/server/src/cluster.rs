//! `serve --cluster redis://HOST:PORT`: many server nodes, one event stream.
//!
//! Redis holds three keys under the `--cluster-key` prefix: the stream
//! (`PREFIX:events`, entry ID `<seq>-0`, trimmed with `MAXLEN ~ ring`),
//! the seq counter (`PREFIX:seq`) and the generator's lease
//! (`PREFIX:generator`, the holder's node id with a TTL). Every publish, on
//! any node, runs [`PUBLISH_SCRIPT`] (INCR then XADD, atomic), so the seq
//! is assigned once for the cluster and stream IDs only ever grow; every
//! node's reader ([`crate::cluster_reader`]) XREADs the stream and hands
//! each entry to its local [`Hub::store`], so the local ring mirrors the
//! stream's tail and a cursor taken on one node resumes on another.
//!
//! This file holds the plain parts (keys, scripts, entry encoding and
//! parsing, health counters, `/stats`) and the publishing connection; the
//! reader task is in [`crate::cluster_reader`], the lease-driven generator
//! in [`crate::generator`].

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use pushbench_protocol::Event;
use serde::Serialize;

use crate::hub::Hub;
use crate::redis_conn::{RedisConn, RedisError, RedisUrl};
use crate::resp::Reply;

/// What `--cluster`, `--cluster-key` and the node's identity say.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// Where Redis is.
    pub url: RedisUrl,
    /// Prefix of every key this cluster uses, so clusters (and tests) can
    /// share one Redis without clashing.
    pub key: String,
    /// This node's id in the lease and `/stats`; unique per process.
    pub node: String,
}

/// The cluster's Redis keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    /// The stream of events.
    pub stream: String,
    /// The last seq assigned.
    pub counter: String,
    /// The generator lease: the holding node's id, with a TTL.
    pub lease: String,
}

impl Keys {
    /// The keys under `prefix`.
    pub fn new(prefix: &str) -> Self {
        Keys {
            stream: format!("{prefix}:events"),
            counter: format!("{prefix}:seq"),
            lease: format!("{prefix}:generator"),
        }
    }
}

/// Assigns the next seqs and appends the events, atomically (a script
/// runs alone in Redis). KEYS: stream, counter, lease. ARGV: node, floor
/// (the highest seq the node has seen), MAXLEN, generator flag, then for a
/// client's event `created_us topic payload`, or for generated events
/// `LEN/TOPICS` and one `created_us` per event (the generator publishes
/// every event due at a wake-up in one call; the reader rebuilds topic
/// and payload from the seq, as [`Event::generated`] does). Returns the
/// last seq assigned. A generator publish from a node that no longer
/// holds the lease is refused (`NOTLEASE`), so two generators never
/// overlap, even when a stalled holder wakes after its lease expired. A
/// Redis restarted without persistence has lost its counter: the floor
/// keeps the seqs above what the cluster already delivered.
pub const PUBLISH_SCRIPT: &str = r"
local generated = ARGV[4] == '1'
if generated and redis.call('GET', KEYS[3]) ~= ARGV[1] then
  return redis.error_reply('NOTLEASE this node does not hold the generator lease')
end
local seq = math.max(tonumber(redis.call('GET', KEYS[2]) or '0'), tonumber(ARGV[2]))
if generated then
  for i = 6, #ARGV do
    seq = seq + 1
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], string.format('%d-0', seq), 'created_us', ARGV[i], 'generated', ARGV[5])
  end
else
  seq = seq + 1
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], string.format('%d-0', seq), 'created_us', ARGV[5], 'topic', ARGV[6], 'payload', ARGV[7])
end
redis.call('SET', KEYS[2], seq)
return seq
";

/// Takes the generator lease when free, renews it when held. KEYS:
/// lease. ARGV: node, TTL in ms. Returns 1 when this node holds it.
pub const LEASE_SCRIPT: &str = r"
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
";

/// Gives the lease up on shutdown, only if still held. KEYS: lease.
/// ARGV: node.
pub const RELEASE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// What one publish puts in the stream.
#[derive(Debug, Clone, Copy)]
pub enum Publish<'a> {
    /// One event from a client (`POST /publish`, a WebSocket message).
    Client {
        /// The topic.
        topic: &'a str,
        /// The payload.
        payload: &'a str,
        /// Its creation time, µs since the epoch.
        created_us: u64,
    },
    /// Events from the generator, one per creation time (µs since the
    /// epoch), in order: payload length and topic count; the seq makes
    /// the rest.
    Generated {
        /// Payload bytes.
        len: usize,
        /// Topics spread over.
        topics: u32,
        /// Each event's scheduled creation time.
        created_us: &'a [u64],
    },
}

/// The `EVAL` arguments of [`PUBLISH_SCRIPT`].
pub fn publish_args(
    keys: &Keys,
    node: &str,
    floor: u64,
    maxlen: usize,
    what: Publish<'_>,
) -> Vec<String> {
    let mut args = vec![
        "EVAL".to_owned(),
        PUBLISH_SCRIPT.to_owned(),
        "3".to_owned(),
        keys.stream.clone(),
        keys.counter.clone(),
        keys.lease.clone(),
        node.to_owned(),
        floor.to_string(),
        maxlen.to_string(),
    ];
    match what {
        Publish::Client {
            topic,
            payload,
            created_us,
        } => {
            args.extend(["0".to_owned(), created_us.to_string()]);
            args.extend([topic.to_owned(), payload.to_owned()]);
        }
        Publish::Generated {
            len,
            topics,
            created_us,
        } => {
            args.extend(["1".to_owned(), format!("{len}/{topics}")]);
            args.extend(created_us.iter().map(u64::to_string));
        }
    }
    args
}

/// The seq of a stream entry ID `<seq>-0`.
pub fn seq_of_id(id: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(id).ok()?;
    let (ms, _) = text.split_once('-')?;
    ms.parse().ok()
}

/// One stream entry (`[id, [field, value, ...]]`) as the event it holds.
pub fn parse_entry(entry: &Reply) -> Result<Event, String> {
    let parts = entry.items().ok_or("a stream entry is not an array")?;
    let [id, fields] = parts else {
        return Err(format!("a stream entry of {} parts, not 2", parts.len()));
    };
    let id = id.as_bytes().ok_or("a stream entry ID is not a string")?;
    let seq = seq_of_id(id).ok_or_else(|| {
        format!(
            "the entry ID {:?} is not SEQ-0",
            String::from_utf8_lossy(id)
        )
    })?;
    let fields = fields
        .items()
        .ok_or("stream entry fields are not an array")?;
    let (mut created_us, mut topic, mut payload, mut generated) = (None, None, None, None);
    for pair in fields.chunks(2) {
        let [name, value] = pair else {
            return Err(format!("entry {seq}: a field without a value"));
        };
        let value = value
            .as_bytes()
            .map(|v| String::from_utf8_lossy(v).into_owned());
        match name.as_bytes() {
            Some(b"created_us") => created_us = value.and_then(|v| v.parse::<u64>().ok()),
            Some(b"topic") => topic = value,
            Some(b"payload") => payload = value,
            Some(b"generated") => generated = value,
            _ => {}
        }
    }
    let created_us = created_us.ok_or_else(|| format!("entry {seq}: no created_us"))?;
    if let Some(generated) = generated {
        let (len, topics) = generated
            .split_once('/')
            .and_then(|(l, t)| Some((l.parse().ok()?, t.parse().ok()?)))
            .ok_or_else(|| format!("entry {seq}: generated is not LEN/TOPICS"))?;
        return Ok(Event::generated(seq, len, topics, created_us));
    }
    Ok(Event {
        seq,
        topic: topic.ok_or_else(|| format!("entry {seq}: no topic"))?,
        created_us,
        payload: payload.ok_or_else(|| format!("entry {seq}: no payload"))?,
    })
}

/// The entries of an XRANGE/XREVRANGE reply, in the reply's order.
pub fn parse_range(reply: &Reply) -> Result<Vec<Event>, String> {
    reply
        .items()
        .ok_or("a range reply is not an array")?
        .iter()
        .map(parse_entry)
        .collect()
}

/// The entries of an XREAD reply on one stream (`[[key, [entries]]]`); a
/// null reply (the BLOCK timed out) is none.
pub fn parse_xread(reply: &Reply) -> Result<Vec<Event>, String> {
    let streams = reply.items().ok_or("an XREAD reply is not an array")?;
    let mut events = Vec::new();
    for stream in streams {
        match stream.items() {
            Some([_key, entries]) => events.extend(parse_range(entries)?),
            _ => return Err("an XREAD stream is not [key, entries]".to_owned()),
        }
    }
    Ok(events)
}

/// Why a publish into the cluster failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Redis is unreachable or failed.
    #[error("the cluster's redis ({url}) is unavailable: {source}")]
    Unavailable {
        /// Where Redis is (no password).
        url: String,
        /// What failed.
        source: RedisError,
    },
    /// Redis failed a moment ago; not tried again yet (see
    /// [`RETRY_GAP`]).
    #[error("the cluster's redis ({url}) is unavailable: {last_error}")]
    Down {
        /// Where Redis is (no password).
        url: String,
        /// The failure a moment ago.
        last_error: String,
    },
    /// A generator publish from a node whose lease has expired.
    #[error("this node no longer holds the generator lease")]
    NotLeaseHolder,
}

/// The `cluster` object of `/stats`.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterStats {
    /// This node's id.
    pub node: String,
    /// The Redis URL, without user or password.
    pub redis: String,
    /// The key prefix (`--cluster-key`).
    pub key: String,
    /// Whether the last Redis command of any role succeeded.
    pub up: bool,
    /// Connections re-established after a failure (reader, publisher,
    /// lease).
    pub reconnects: u64,
    /// Publishes (client or generator) that failed because Redis did.
    pub publish_errors: u64,
    /// Events this node put into the stream.
    pub published_here: u64,
    /// The last Redis failure, if any.
    pub last_error: Option<String>,
    /// The stream ID the reader continues after.
    pub reader_last_id: String,
    /// How old the reader's latest entry was when it read it (µs from
    /// creation to this node's hub): the Redis hop plus any backlog.
    pub reader_lag_us: u64,
    /// Whether this node holds the generator lease (runs the `--rate`
    /// generator for the cluster).
    pub generator_lease_held: bool,
}

/// How long one command to Redis may take (the reader's blocking XREAD
/// adds its block time). On loopback a command takes well under a
/// millisecond; a second means Redis is stalled, and publishers are
/// better told so than held.
pub const COMMAND_LIMIT: Duration = Duration::from_secs(1);

/// After a failed publish, how long the next ones fail at once instead of
/// trying Redis again: publishes queue on one connection, so against a
/// stalled Redis each would otherwise wait out [`COMMAND_LIMIT`] behind
/// the one before it.
pub const RETRY_GAP: Duration = Duration::from_millis(250);

/// A node's link to the cluster: its publishing connection, and health
/// that the reader and generator update.
#[derive(Debug)]
pub struct Cluster {
    /// Where and who.
    pub config: ClusterConfig,
    /// The keys under the prefix.
    pub keys: Keys,
    /// Entries kept in the stream (`MAXLEN ~`): the ring.
    pub maxlen: usize,
    publisher: tokio::sync::Mutex<Option<RedisConn>>,
    /// When a publish last failed on Redis.
    publish_failed_at: Mutex<Option<std::time::Instant>>,
    up: AtomicBool,
    /// Whether a connection of some role has failed since it last
    /// connected, so the next connect counts as a reconnect.
    reconnects: AtomicU64,
    publish_errors: AtomicU64,
    published_here: AtomicU64,
    /// The highest seq Redis gave this node's publishes: with the hub's
    /// last seq, the floor of the next publish, so a seq this node was
    /// told of but never read back (Redis died in between) is not reused.
    highest_assigned: AtomicU64,
    last_error: Mutex<Option<String>>,
    reader_lag_us: AtomicU64,
    lease_held: AtomicBool,
}

impl Cluster {
    /// A cluster link keeping `maxlen` entries, not yet connected.
    pub fn new(config: ClusterConfig, maxlen: usize) -> Self {
        Cluster {
            keys: Keys::new(&config.key),
            config,
            maxlen: maxlen.max(1),
            publisher: tokio::sync::Mutex::new(None),
            publish_failed_at: Mutex::new(None),
            up: AtomicBool::new(false),
            reconnects: AtomicU64::new(0),
            publish_errors: AtomicU64::new(0),
            published_here: AtomicU64::new(0),
            highest_assigned: AtomicU64::new(0),
            last_error: Mutex::new(None),
            reader_lag_us: AtomicU64::new(0),
            lease_held: AtomicBool::new(false),
        }
    }

    /// Connects a new connection of any role.
    pub async fn connect(&self) -> Result<RedisConn, RedisError> {
        RedisConn::connect(&self.config.url, COMMAND_LIMIT).await
    }

    /// Books a command that worked.
    pub fn mark_up(&self) {
        self.up.store(true, Ordering::Relaxed);
    }

    /// Books a Redis failure: logs it when Redis was up until now (once
    /// per outage, not per attempt).
    pub fn mark_down(&self, role: &str, err: &RedisError) {
        let was_up = self.up.swap(false, Ordering::Relaxed);
        let message = format!("{role}: {err}");
        if was_up {
            tracing::warn!("cluster redis {} down: {message}", self.config.url);
        }
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(message);
    }

    /// Books a connection re-established after a failure.
    pub fn reconnected(&self, role: &str) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
        if !self.up.swap(true, Ordering::Relaxed) {
            tracing::info!("cluster redis {} back ({role})", self.config.url);
        }
    }

    /// Sets how old the reader's latest entry was when read.
    pub fn set_reader_lag(&self, lag_us: u64) {
        self.reader_lag_us.store(lag_us, Ordering::Relaxed);
    }

    /// Sets whether this node holds the generator lease.
    pub fn set_lease_held(&self, held: bool) {
        self.lease_held.store(held, Ordering::Relaxed);
    }

    /// Publishes `what` into the stream; returns its (last) seq. The floor
    /// (see [`PUBLISH_SCRIPT`]) is the highest seq this node knows of: the
    /// hub's last, or one Redis assigned it. The event reaches the hub
    /// through the reader, like everyone else's.
    pub async fn publish(&self, hub: &Hub, what: Publish<'_>) -> Result<u64, ClusterError> {
        let args = publish_args(
            &self.keys,
            &self.config.node,
            hub.last_seq()
                .max(self.highest_assigned.load(Ordering::Relaxed)),
            self.maxlen,
            what,
        );
        let mut publisher = self.publisher.lock().await;
        let failed_at = *self
            .publish_failed_at
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if publisher.is_none() && failed_at.is_some_and(|at| at.elapsed() < RETRY_GAP) {
            self.publish_errors.fetch_add(1, Ordering::Relaxed);
            return Err(ClusterError::Down {
                url: self.config.url.to_string(),
                last_error: self.stats_last_error().unwrap_or_default(),
            });
        }
        // Taken out for the command and put back only after its reply: a
        // publish whose caller goes away mid-command (a client hanging
        // up) drops the connection with it, rather than leaving its reply
        // to be read as the next publish's.
        let result = match publisher.take() {
            Some(conn) => Ok(conn),
            None => self.connect().await.inspect(|_| {
                if self.last_error_is_set() {
                    self.reconnected("publisher");
                }
            }),
        };
        let result = match result {
            Ok(mut conn) => {
                let reply = conn.command(&args, COMMAND_LIMIT).await;
                if reply.is_ok() || matches!(reply, Err(RedisError::Refused(_))) {
                    *publisher = Some(conn);
                }
                reply
            }
            Err(err) => Err(err),
        };
        match result {
            Ok(reply) => {
                self.mark_up();
                self.published_here.fetch_add(1, Ordering::Relaxed);
                let seq = reply.as_integer().and_then(|n| u64::try_from(n).ok());
                if let Some(seq) = seq {
                    self.highest_assigned.fetch_max(seq, Ordering::Relaxed);
                }
                seq.ok_or_else(|| self.unavailable(RedisError::Unexpected(format!("{reply:?}"))))
            }
            Err(RedisError::Refused(message)) if message.starts_with("NOTLEASE") => {
                Err(ClusterError::NotLeaseHolder)
            }
            Err(err) => {
                *self
                    .publish_failed_at
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Some(std::time::Instant::now());
                self.publish_errors.fetch_add(1, Ordering::Relaxed);
                self.mark_down("publish", &err);
                Err(self.unavailable(err))
            }
        }
    }

    fn last_error_is_set(&self) -> bool {
        self.stats_last_error().is_some()
    }

    fn stats_last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn unavailable(&self, source: RedisError) -> ClusterError {
        ClusterError::Unavailable {
            url: self.config.url.to_string(),
            source,
        }
    }

    /// The `cluster` object of `/stats`; `hub` gives the reader's position.
    pub fn stats(&self, hub: &Hub) -> ClusterStats {
        ClusterStats {
            node: self.config.node.clone(),
            redis: self.config.url.to_string(),
            key: self.config.key.clone(),
            up: self.up.load(Ordering::Relaxed),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            publish_errors: self.publish_errors.load(Ordering::Relaxed),
            published_here: self.published_here.load(Ordering::Relaxed),
            last_error: self.stats_last_error(),
            reader_last_id: format!("{}-0", hub.last_seq()),
            reader_lag_us: self.reader_lag_us.load(Ordering::Relaxed),
            generator_lease_held: self.lease_held.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::parse_reply;

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(Some(s.as_bytes().to_vec()))
    }

    fn entry(id: &str, fields: &[&str]) -> Reply {
        Reply::Array(Some(vec![
            bulk(id),
            Reply::Array(Some(fields.iter().map(|f| bulk(f)).collect())),
        ]))
    }

    #[test]
    fn keys_live_under_the_prefix() {
        let keys = Keys::new("t1");
        assert_eq!(
            (
                keys.stream.as_str(),
                keys.counter.as_str(),
                keys.lease.as_str()
            ),
            ("t1:events", "t1:seq", "t1:generator")
        );
    }

    #[test]
    fn publish_args_carry_the_floor_and_either_shape() {
        let keys = Keys::new("p");
        let client = publish_args(
            &keys,
            "n1",
            7,
            100,
            Publish::Client {
                topic: "news",
                payload: "hi",
                created_us: 5,
            },
        );
        assert_eq!(
            &client[2..],
            [
                "3",
                "p:events",
                "p:seq",
                "p:generator",
                "n1",
                "7",
                "100",
                "0",
                "5",
                "news",
                "hi"
            ]
        );
        let generated = publish_args(
            &keys,
            "n1",
            0,
            100,
            Publish::Generated {
                len: 16,
                topics: 3,
                created_us: &[5, 6],
            },
        );
        assert_eq!(&generated[9..], ["1", "16/3", "5", "6"]);
    }

    #[test]
    fn entries_become_events_client_or_generated() {
        let client = entry(
            "12-0",
            &["created_us", "99", "topic", "news", "payload", "hi"],
        );
        let event = parse_entry(&client).expect("valid");
        assert_eq!(
            (
                event.seq,
                event.topic.as_str(),
                event.created_us,
                event.payload.as_str()
            ),
            (12, "news", 99, "hi")
        );
        let generated =
            parse_entry(&entry("13-0", &["created_us", "5", "generated", "8/2"])).expect("valid");
        assert_eq!(generated, Event::generated(13, 8, 2, 5));
        for (bad, says) in [
            (entry("x-0", &["created_us", "1"]), "not SEQ-0"),
            (
                entry("1-0", &["topic", "t", "payload", "p"]),
                "no created_us",
            ),
            (
                entry("1-0", &["created_us", "1", "generated", "8"]),
                "LEN/TOPICS",
            ),
            (
                entry("1-0", &["created_us", "1", "topic"]),
                "without a value",
            ),
            (bulk("1-0"), "not an array"),
        ] {
            let err = parse_entry(&bad).expect_err("must fail");
            assert!(err.contains(says), "{err}");
        }
    }

    #[test]
    fn an_xread_reply_off_the_wire_parses_and_a_timeout_is_empty() {
        let raw = b"*1\r\n*2\r\n$8\r\nk:events\r\n*1\r\n*2\r\n$3\r\n4-0\r\n*4\r\n$10\r\ncreated_us\r\n$1\r\n1\r\n$9\r\ngenerated\r\n$3\r\n2/1\r\n";
        let (reply, used) = parse_reply(raw).expect("valid").expect("valid");
        assert_eq!(used, raw.len());
        let events = parse_xread(&reply).expect("valid");
        assert_eq!(events, [Event::generated(4, 2, 1, 1)]);
        assert!(parse_xread(&Reply::Array(None)).expect("valid").is_empty());
        assert_eq!(seq_of_id(b"18446744073709551615-0"), Some(u64::MAX));
        assert_eq!(seq_of_id(b"17"), None);
    }
}
