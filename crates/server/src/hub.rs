//! The event hub: one numbered stream that every transport reads.
//!
//! A bounded ring answers cursors ("everything after seq S") and is what
//! live subscribers read too; a watch channel carries the latest seq,
//! which wakes them and long polls. Each event is encoded once, here, and shared by every client.
//! With a [`Journal`] every event is also appended to a file, and a hub
//! started on that file again resumes where the last one stopped.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use pushbench_protocol::{Event, Gap, now_us, payload_for};
use tokio::sync::{Notify, watch};

use crate::fanout::{FanOut, ParkKey, Unparked};
use crate::journal::Journal;
use crate::push_framing::{Framing, Head, Wire};

/// One published event with its encodings, built once and shared.
#[derive(Debug)]
pub struct StoredEvent {
    /// The event's seq.
    pub seq: u64,
    /// The event itself (for the binary encoding).
    pub event: Event,
    /// The JSON text (WebSocket text frames, poll answers).
    pub json: Utf8Bytes,
    /// JSON plus a newline: one NDJSON line, one HTTP-stream chunk.
    pub line: Bytes,
    /// `id: <seq>\ndata: <json>\n\n`: one SSE event.
    pub sse: Bytes,
    /// The heads a direct writer puts before each encoding, by [`Wire`].
    heads: [Head; 3],
}

impl StoredEvent {
    /// Encodes `event` once, into one buffer that all three encodings
    /// share: `id: <seq>\ndata: <json>\n\n` is the SSE event, and the
    /// JSON and the NDJSON line (the JSON and the first newline after
    /// it) are slices of it. One allocation per event, not five.
    fn new(event: Event) -> Self {
        use std::io::Write as _;
        let mut buf = Vec::with_capacity(64 + event.topic.len() + event.payload.len() * 2);
        // Writing to a Vec cannot fail, nor can serialising an Event.
        let _ = write!(buf, "id: {}\ndata: ", event.seq);
        let start = buf.len();
        let _ = serde_json::to_writer(&mut buf, &event);
        let end = buf.len();
        buf.extend_from_slice(b"\n\n");
        let sse = Bytes::from(buf);
        let (json, line) = (sse.slice(start..end), sse.slice(start..end + 1));
        let heads = [
            Framing::WebSocketText.head(json.len()),
            Framing::Chunked.head(sse.len()),
            Framing::Chunked.head(line.len()),
        ];
        StoredEvent {
            seq: event.seq,
            json: Utf8Bytes::try_from(json).unwrap_or_default(),
            line,
            sse,
            event,
            heads,
        }
    }

    /// The head and the bytes of this event on `wire`: made once, when
    /// the event was published, for every subscriber.
    pub fn framed(&self, wire: Wire) -> (&[u8], &[u8]) {
        let bytes: &[u8] = match wire {
            Wire::WebSocket => self.json.as_bytes(),
            Wire::SseChunk => &self.sse,
            Wire::NdjsonChunk => &self.line,
        };
        (self.heads[wire_index(wire)].as_bytes(), bytes)
    }
}

/// What a live subscriber's read of the ring found ([`Hub::read_after`]).
#[derive(Debug)]
pub struct LiveRead {
    /// Seqs after the cursor that already left the ring.
    pub gap: Option<Gap>,
    /// How many seqs the newest event was past the cursor.
    pub behind: u64,
    /// The last publish whole, instead of events (see [`Hub::read_after`]).
    pub batch: Option<Arc<Batch>>,
}

/// What a cursor read returns.
#[derive(Debug, Default)]
pub struct Backlog {
    /// Events after the cursor, oldest first, at most the batch limit.
    pub events: Vec<Arc<StoredEvent>>,
    /// Seqs after the cursor that already left the ring.
    pub gap: Option<Gap>,
    /// The cursor to ask with next.
    pub next: u64,
}

struct Ring {
    events: VecDeque<Arc<StoredEvent>>,
    capacity: usize,
    last_seq: u64,
    evicted_through: u64,
    journal: Option<Journal>,
    /// The events of the last publish, for the subscribers that were up
    /// to date before it.
    batch: Option<Arc<Batch>>,
}

impl Ring {
    /// What a reader at `cursor` finds: the seqs after it that already
    /// left the ring, and the events after it still here, oldest first.
    fn after(
        &self,
        cursor: u64,
    ) -> (
        Option<Gap>,
        std::collections::vec_deque::Iter<'_, Arc<StoredEvent>>,
    ) {
        let gap = (cursor < self.evicted_through).then(|| Gap {
            from: cursor + 1,
            to: self.evicted_through,
        });
        let start = self.events.partition_point(|e| e.seq <= cursor);
        (gap, self.events.range(start..))
    }
}

/// The events of one publish (a generator tick's, or one), framed
/// together once per [`Wire`] when a subscriber first needs them: every
/// subscriber that was up to date when they were published writes the
/// same bytes, with one write and no work per event.
#[derive(Debug)]
pub struct Batch {
    /// The seq before the batch: a subscriber whose cursor is here takes
    /// the batch whole.
    pub after: u64,
    /// The last seq of the batch.
    pub last: u64,
    events: Vec<Arc<StoredEvent>>,
    framed: [OnceLock<Bytes>; 3],
}

impl Batch {
    /// How many events the batch holds.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether the batch holds no event (a publish whose seqs were all
    /// skipped makes none).
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// One encoding (`of` each event) of every event, back to back,
    /// unframed.
    pub fn joined(&self, of: impl Fn(&StoredEvent) -> &[u8]) -> Bytes {
        self.concat(|event, out| out.extend_from_slice(of(event)))
    }

    /// What `write` puts down for each event, back to back.
    fn concat(&self, mut write: impl FnMut(&StoredEvent, &mut Vec<u8>)) -> Bytes {
        let mut out = Vec::new();
        for event in &self.events {
            write(event, &mut out);
        }
        Bytes::from(out)
    }

    /// Every event of the batch on `wire`, framed; shared, so what is
    /// left after a partial write is a slice of it.
    ///
    /// - WebSocket: each event its own frame (a frame is a message);
    /// - chunked (SSE, NDJSON): the events' records in one chunk. A chunk
    ///   boundary means nothing to an SSE or NDJSON reader, so events
    ///   published together share one size line and CRLF, and a client
    ///   parses one chunk per publish rather than per event; an event
    ///   published alone is still one chunk.
    pub fn framed(&self, wire: Wire) -> &Bytes {
        self.framed[wire_index(wire)].get_or_init(|| {
            let framing = wire.framing();
            let tail = framing.tail();
            match framing {
                Framing::WebSocketText => self.concat(|event, out| {
                    let (head, bytes) = event.framed(wire);
                    out.extend_from_slice(head);
                    out.extend_from_slice(bytes);
                    out.extend_from_slice(tail);
                }),
                Framing::Chunked => {
                    let records = || self.events.iter().map(|event| event.framed(wire).1);
                    let head = framing.head(records().map(<[u8]>::len).sum());
                    let mut out = head.as_bytes().to_vec();
                    records().for_each(|record| out.extend_from_slice(record));
                    out.extend_from_slice(tail);
                    Bytes::from(out)
                }
            }
        })
    }
}

/// Where a [`Wire`]'s head (or batch) is kept.
fn wire_index(wire: Wire) -> usize {
    match wire {
        Wire::WebSocket => 0,
        Wire::SseChunk => 1,
        Wire::NdjsonChunk => 2,
    }
}

/// A live subscriber's writer as the hub offers it each publish while
/// it is parked ([`Hub::park`]).
pub trait BatchWriter: Send + std::fmt::Debug {
    /// The last seq the subscriber has.
    fn last(&self) -> u64;

    /// Writes `batch` if the subscriber was just before it; `Some` hands
    /// it back, with where it goes on.
    fn offer(&mut self, batch: &Batch) -> Option<Resume>;
}

/// A parked writer.
pub type ParkedWriter = Box<dyn BatchWriter>;

/// Where a session goes on when it leaves the fan-out.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Resume {
    /// The last seq the subscriber has: delivered, or in `rest`.
    pub last: u64,
    /// Framed bytes of a batch the socket did not take whole, to write
    /// first.
    pub rest: Option<Bytes>,
}

impl Resume {
    /// Going on after `last`, with nothing left to write.
    pub fn at(last: u64) -> Self {
        Resume { last, rest: None }
    }
}

/// The hub. Cheap to share (`Arc<Hub>`).
pub struct Hub {
    ring: Mutex<Ring>,
    /// How far a live subscriber may fall behind before it is a slow
    /// consumer ([`crate::live::Subscription`]).
    queue: u64,
    latest: watch::Sender<u64>,
    skip_every: u64,
    published: AtomicU64,
    journal_errors: AtomicU64,
    started_us: u64,
    /// Live subscribers' writers, offered each publish.
    fanout: FanOut<ParkedWriter, Resume>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("last_seq", &self.last_seq())
            .field("published", &self.published())
            .finish()
    }
}

impl Hub {
    /// A hub keeping `ring` events for cursors and letting live subscribers
    /// fall `queue` events behind.
    pub fn new(ring: usize, queue: usize, skip_every: u64) -> Self {
        Hub::restore(ring, queue, skip_every, Vec::new(), 0, None)
    }

    /// A hub that starts from `history` (the last events of an earlier run,
    /// oldest first, at most `ring` of them) and continues numbering after
    /// `last_seq`, appending every new event to `journal`. A cursor older
    /// than the first restored event gets a gap, as after an eviction.
    pub fn restore(
        ring: usize,
        queue: usize,
        skip_every: u64,
        history: Vec<Event>,
        last_seq: u64,
        journal: Option<Journal>,
    ) -> Self {
        let capacity = ring.max(1);
        let skip = history.len().saturating_sub(capacity);
        let mut events = VecDeque::with_capacity(ring.min(65_536));
        events.extend(
            history
                .into_iter()
                .skip(skip)
                .map(|e| Arc::new(StoredEvent::new(e))),
        );
        let evicted_through = events.front().map_or(last_seq, |e| e.seq - 1);
        let last_seq = last_seq.max(events.back().map_or(0, |e| e.seq));
        let (latest, _) = watch::channel(last_seq);
        Hub {
            ring: Mutex::new(Ring {
                events,
                capacity,
                last_seq,
                evicted_through,
                journal,
                batch: None,
            }),
            queue: queue.max(1) as u64,
            latest,
            skip_every,
            published: AtomicU64::new(0),
            journal_errors: AtomicU64::new(0),
            started_us: now_us(),
            fanout: FanOut::default(),
        }
    }

    /// Publishes one event now; returns its seq.
    pub fn publish(&self, topic: &str, payload: String) -> u64 {
        let mut payload = payload;
        self.publish_made(1, |_, seq| Event {
            seq,
            topic: topic.to_owned(),
            created_us: now_us(),
            payload: std::mem::take(&mut payload),
        })
    }

    /// Publishes a generated event (payload of `len` bytes, topic by seq).
    pub fn publish_generated(&self, len: usize, topics: u32) -> u64 {
        self.publish_scheduled(len, topics, None)
    }

    /// Publishes a generated event whose creation time is `scheduled_us`
    /// (µs since the epoch), the moment a fixed-rate schedule said it was
    /// due. Stamping the schedule rather than the moment of publishing means
    /// a stall in the server delays the stamp's receipt, and so shows up as
    /// latency, instead of silently postponing the stamp (coordinated
    /// omission).
    pub fn publish_scheduled(&self, len: usize, topics: u32, scheduled_us: Option<u64>) -> u64 {
        let created_us = scheduled_us.unwrap_or_else(now_us);
        self.publish_scheduled_batch(len, topics, &[created_us])
    }

    /// Publishes the generated events due at one wake-up of the
    /// generator, one per entry of `scheduled_us` (each event's creation
    /// time, as in [`Hub::publish_scheduled`]), and wakes live subscribers
    /// once, after the last: each then writes the whole batch with one
    /// write instead of being woken, and writing, per event. Returns the
    /// last seq.
    pub fn publish_scheduled_batch(&self, len: usize, topics: u32, scheduled_us: &[u64]) -> u64 {
        self.publish_made(scheduled_us.len(), |i, seq| Event {
            seq,
            topic: pushbench_protocol::event::generated_topic(seq, topics),
            created_us: scheduled_us[i],
            payload: payload_for(seq, len),
        })
    }

    /// Publishes `count` events, the `i`th built by `make(i, seq)` once its
    /// seq is assigned, under one lock, and wakes live subscribers once,
    /// after the last. Returns the last seq assigned.
    fn publish_made(&self, count: usize, mut make: impl FnMut(usize, u64) -> Event) -> u64 {
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let after = ring.last_seq;
        let mut events = Vec::with_capacity(count);
        for i in 0..count {
            ring.last_seq += 1;
            let seq = ring.last_seq;
            if self.skip_every > 0 && seq.is_multiple_of(self.skip_every) {
                // Fault injection: the seq is used up but nobody ever sees it.
                continue;
            }
            let stored = Arc::new(StoredEvent::new(make(i, seq)));
            self.append(&mut ring, Arc::clone(&stored));
            events.push(stored);
        }
        let batch = Arc::new(Batch {
            after,
            last: ring.last_seq,
            events,
            framed: Default::default(),
        });
        ring.batch = Some(Arc::clone(&batch));
        if let Some(seq) = batch.events.last().map(|e| e.seq) {
            self.announce(seq);
        }
        drop(ring);
        // Announced first, then written to the parked subscribers, out of
        // the ring's lock (see [`FanOut::park`]).
        self.fanout.offer_all(|writer| writer.offer(&batch));
        batch.last
    }

    /// Parks a live subscriber's writer that has every event announced
    /// so far, to be offered every publish from the publisher's loop
    /// ([`crate::fanout`]) and woken through `wake` when it is handed
    /// back; else gives it back.
    pub fn park(&self, writer: ParkedWriter, wake: Arc<Notify>) -> Result<ParkKey, ParkedWriter> {
        self.fanout.park(writer, wake, |writer| {
            *self.latest.borrow() <= writer.last()
        })
    }

    /// Takes a parked writer back ([`Hub::park`]): where its session
    /// goes on.
    pub fn unpark(&self, key: ParkKey) -> Resume {
        match self.fanout.unpark(key) {
            Unparked::Parked(writer) => Resume::at(writer.last()),
            Unparked::HandedBack(resume) => resume,
        }
    }

    /// Hands back every parked writer: each session reads the ring by
    /// itself (shutdown, or events stored one by one).
    fn hand_back_all(&self) {
        self.fanout
            .offer_all(|writer| Some(Resume::at(writer.last())));
    }

    /// Stores an event whose seq was assigned elsewhere (the cluster's
    /// Redis stream, [`crate::cluster`]), encoded once here like a local
    /// one. Returns false for a seq at or below the last one (already
    /// here). A seq past the next one means the seqs between will never
    /// arrive here (the stream was trimmed past them while this node could
    /// not read): the ring drops what it held, so a cursor before the jump
    /// gets one gap up to it instead of a silent hole.
    pub fn store(&self, event: Event) -> bool {
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        if event.seq <= ring.last_seq {
            return false;
        }
        if event.seq > ring.last_seq + 1 {
            ring.events.clear();
            ring.evicted_through = event.seq - 1;
        }
        ring.last_seq = event.seq;
        // Stored events arrive one by one, maybe past a jump: subscribers
        // read them from the ring, which reports the jump as a gap.
        ring.batch = None;
        if self.skip_every > 0 && event.seq.is_multiple_of(self.skip_every) {
            return true;
        }
        let seq = event.seq;
        self.append(&mut ring, Arc::new(StoredEvent::new(event)));
        self.announce(seq);
        drop(ring);
        self.hand_back_all();
        true
    }

    /// Appends `stored` to the ring (evicting the oldest when full) and
    /// the journal, without waking anyone (see
    /// [`Hub::announce`]); `ring` is the held lock.
    fn append(&self, ring: &mut Ring, stored: Arc<StoredEvent>) {
        if ring.events.len() == ring.capacity
            && let Some(old) = ring.events.pop_front()
        {
            ring.evicted_through = old.seq;
        }
        ring.events.push_back(Arc::clone(&stored));
        self.journal(ring, &stored);
        self.published.fetch_add(1, Ordering::Relaxed);
    }

    /// Wakes everyone waiting for new events (live subscribers and long
    /// polls, through the latest-seq watch) with `seq`, the last event
    /// appended: once per publish, or per batch. Called under the ring's
    /// lock, so the watch never runs ahead of the ring.
    fn announce(&self, seq: u64) {
        self.latest.send_replace(seq);
    }

    /// Wakes every live subscriber without an event, so each looks at the
    /// shutdown flag (see [`crate::live::Subscription::next`]).
    pub fn wake_all(&self) {
        self.latest.send_modify(|_| {});
        self.hand_back_all();
    }

    /// Appends `stored` to the journal (and compacts it when due). A
    /// failing journal does not stop publishing: the event is still served
    /// from memory, and the failure is counted in `/stats`
    /// (`journal_errors`) and reported once on stderr.
    fn journal(&self, ring: &mut Ring, stored: &StoredEvent) {
        let Ring {
            journal, events, ..
        } = ring;
        let Some(journal) = journal.as_mut() else {
            return;
        };
        let mut result = journal.append(&stored.line);
        if result.is_ok() && journal.needs_compaction() {
            result = journal.compact(events.iter().map(|e| &e.line[..]));
        }
        if let Err(err) = result
            && self.journal_errors.fetch_add(1, Ordering::Relaxed) == 0
        {
            tracing::warn!(
                "writing the journal {} failed: {err}; \
                 events are still served but would not survive a restart",
                journal.path().display()
            );
        }
    }

    /// Journal writes that failed (see [`Hub::restore`]).
    pub fn journal_errors(&self) -> u64 {
        self.journal_errors.load(Ordering::Relaxed)
    }

    /// When this hub was created, µs since the Unix epoch: a client that
    /// sees it change knows the server was restarted.
    pub fn started_us(&self) -> u64 {
        self.started_us
    }

    /// Events after `cursor`, at most `limit`, with any gap.
    pub fn since(&self, cursor: u64, limit: usize) -> Backlog {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let (gap, after) = ring.after(cursor);
        let events: Vec<_> = after.take(limit).cloned().collect();
        let next = match events.last() {
            Some(last) if events.len() == limit => last.seq,
            _ => ring.last_seq.max(cursor),
        };
        Backlog { events, gap, next }
    }

    /// The highest seq assigned so far (0 before the first event).
    pub fn last_seq(&self) -> u64 {
        self.ring.lock().unwrap_or_else(|e| e.into_inner()).last_seq
    }

    /// Events actually published (skipped seqs excluded).
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// What a live subscriber at `cursor` reads next: the last publish's
    /// [`Batch`] whole, when `batches` are wanted and the cursor is just
    /// before it; else up to `limit` events after it, appended to `out`
    /// (a subscriber's backlog, so no list is made per read), and the
    /// seqs after it that left the ring. Either way, how far behind the
    /// newest event it was.
    pub fn read_after(
        &self,
        cursor: u64,
        limit: usize,
        batches: bool,
        out: &mut VecDeque<Arc<StoredEvent>>,
    ) -> LiveRead {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let behind = ring.last_seq.saturating_sub(cursor);
        if batches
            && let Some(batch) = ring
                .batch
                .as_ref()
                .filter(|b| b.after == cursor && !b.is_empty())
        {
            return LiveRead {
                gap: None,
                behind,
                batch: Some(Arc::clone(batch)),
            };
        }
        let (gap, after) = ring.after(cursor);
        out.extend(after.take(limit).cloned());
        LiveRead {
            gap,
            behind,
            batch: None,
        }
    }

    /// How far (in events) a live subscriber may fall behind the newest
    /// event before it counts as a slow consumer (`serve --queue`).
    pub fn queue(&self) -> u64 {
        self.queue
    }

    /// The latest delivered seq, for waiting on new events.
    pub fn watch_latest(&self) -> watch::Receiver<u64> {
        self.latest.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish_n(hub: &Hub, n: usize) {
        for _ in 0..n {
            hub.publish_generated(8, 2);
        }
    }

    #[test]
    fn seqs_count_from_one_and_since_returns_everything_after() {
        let hub = Hub::new(100, 10, 0);
        publish_n(&hub, 5);
        let b = hub.since(2, 100);
        assert_eq!(
            b.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [3, 4, 5]
        );
        assert_eq!(b.next, 5);
        assert!(b.gap.is_none());
        assert_eq!(hub.since(5, 100).events.len(), 0);
        assert_eq!(hub.since(5, 100).next, 5);
        assert_eq!(b.events[0].event.topic, "t1");
    }

    #[test]
    fn an_old_cursor_gets_what_is_left_and_an_explicit_gap() {
        let hub = Hub::new(3, 10, 0);
        publish_n(&hub, 10);
        let b = hub.since(2, 100);
        assert_eq!(b.gap, Some(Gap { from: 3, to: 7 }));
        assert_eq!(
            b.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [8, 9, 10]
        );
        assert!(hub.since(7, 100).gap.is_none());
    }

    #[test]
    fn batches_are_bounded_and_next_continues_them() {
        let hub = Hub::new(100, 10, 0);
        publish_n(&hub, 10);
        let first = hub.since(0, 4);
        assert_eq!(first.next, 4);
        let second = hub.since(first.next, 4);
        assert_eq!(second.events[0].seq, 5);
    }

    #[test]
    fn skip_every_uses_up_seqs_silently() {
        let hub = Hub::new(100, 10, 3);
        publish_n(&hub, 7);
        let seqs: Vec<_> = hub.since(0, 100).events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [1, 2, 4, 5, 7]);
        assert_eq!(hub.published(), 5);
        assert_eq!(hub.last_seq(), 7);
    }

    #[test]
    fn a_restored_hub_continues_the_seqs_and_marks_what_it_no_longer_has() {
        let old = Hub::new(100, 10, 0);
        publish_n(&old, 6);
        let history: Vec<Event> = old
            .since(0, 100)
            .events
            .iter()
            .map(|e| e.event.clone())
            .collect();
        let hub = Hub::restore(4, 10, 0, history, 6, None);
        assert_eq!(hub.last_seq(), 6);
        assert_eq!(*hub.watch_latest().borrow(), 6);
        let b = hub.since(0, 100);
        assert_eq!(b.gap, Some(Gap { from: 1, to: 2 }));
        assert_eq!(
            b.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [3, 4, 5, 6]
        );
        assert_eq!(&b.events[0].line[..], &old.since(2, 1).events[0].line[..]);
        assert_eq!(hub.publish_generated(8, 1), 7);
        let empty = Hub::restore(4, 10, 0, Vec::new(), 9, None);
        assert_eq!(empty.since(0, 10).gap, Some(Gap { from: 1, to: 9 }));
        assert_eq!(empty.publish_generated(8, 1), 10);
    }

    #[test]
    fn stored_events_keep_their_seqs_and_a_jump_is_one_gap() {
        let hub = Hub::new(100, 10, 0);
        assert!(hub.store(Event::generated(1, 4, 1, 0)));
        assert!(hub.store(Event::generated(2, 4, 1, 0)));
        assert!(
            !hub.store(Event::generated(2, 4, 1, 0)),
            "a duplicate is ignored"
        );
        let mut live = VecDeque::new();
        let read = hub.read_after(0, 10, false, &mut live);
        assert_eq!(live.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
        assert_eq!((read.gap, read.behind), (None, 2));
        assert!(hub.store(Event::generated(6, 4, 1, 0)));
        assert_eq!(hub.last_seq(), 6);
        live.clear();
        let read = hub.read_after(2, 10, false, &mut live);
        assert_eq!((read.gap, read.behind), (Some(Gap { from: 3, to: 5 }), 4));
        let b = hub.since(1, 100);
        assert_eq!(b.gap, Some(Gap { from: 2, to: 5 }));
        assert_eq!(b.events.iter().map(|e| e.seq).collect::<Vec<_>>(), [6]);
        assert_eq!(hub.published(), 3);
        assert_eq!(&b.events[0].event.payload, &payload_for(6, 4));
    }

    #[test]
    fn encodings_are_shared_and_exact() {
        let hub = Hub::new(10, 10, 0);
        hub.publish("news", "hi".into());
        let e = &hub.since(0, 1).events[0];
        assert_eq!(&e.line[..], format!("{}\n", e.json.as_str()).as_bytes());
        assert_eq!(
            &e.sse[..],
            format!("id: 1\ndata: {}\n\n", e.json.as_str()).as_bytes()
        );
    }

    #[test]
    fn a_batch_is_a_frame_per_event_or_one_chunk() {
        let hub = Hub::new(10, 10, 0);
        hub.publish_scheduled_batch(4, 1, &[1, 2, 3]);
        let mut backlog = VecDeque::new();
        let read = hub.read_after(0, 10, true, &mut backlog);
        let batch = read.batch.expect("the last publish, whole");
        let events = hub.since(0, 10).events;
        let records = |of: fn(&StoredEvent) -> &[u8]| -> Vec<u8> {
            events.iter().flat_map(|e| of(e).to_vec()).collect()
        };
        let mut frames = Vec::new();
        for e in &events {
            frames.extend_from_slice(Framing::WebSocketText.head(e.json.len()).as_bytes());
            frames.extend_from_slice(e.json.as_bytes());
        }
        assert_eq!(&batch.framed(Wire::WebSocket)[..], &frames[..]);
        for (wire, body) in [
            (Wire::SseChunk, records(|e| &e.sse)),
            (Wire::NdjsonChunk, records(|e| &e.line)),
        ] {
            let chunk = [format!("{:X}\r\n", body.len()).as_bytes(), &body, b"\r\n"].concat();
            assert_eq!(&batch.framed(wire)[..], &chunk[..], "{wire:?}");
        }
    }
}
