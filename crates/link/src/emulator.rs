//! The link's threads: per direction a reader that takes each IP packet
//! from one TUN device and asks the direction's [`Scheduler`] what becomes
//! of it, and a writer that holds the packets the scheduler lets through
//! until their delivery time and writes them to the other TUN device.
//!
//! Std threads, not tokio: tokio's timer wheel has a 1 ms granularity,
//! while a packet's delivery time is kept to the precision of the thread
//! sleep (nanosleep; the writers set their timer slack to 1 us, down
//! from the default 50 us).

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use pushbench_net::network_path::DirectionCounts;
use tracing::warn;

use crate::scheduler::{DirectionParams, Scheduler, Verdict};

/// How often an idle reader or writer looks whether the link is closing:
/// it bounds how long `Drop` waits for them.
const STOP_POLL: Duration = Duration::from_millis(50);

/// The timer slack of the writer threads, nanoseconds: how late the
/// kernel may wake them past a packet's delivery time to batch timers.
const DELIVERY_TIMER_SLACK_NS: u64 = 1_000;

/// Room for the largest packet a 1500-byte MTU device hands over.
const PACKET_BUFFER: usize = 2048;

/// One direction's scheduler and counts, shared by its reader, its writer
/// and the link.
#[derive(Debug)]
struct DirectionState {
    scheduler: Scheduler,
    counts: DirectionCounts,
}

#[derive(Debug)]
struct Direction {
    state: Mutex<DirectionState>,
}

impl Direction {
    fn lock(&self) -> MutexGuard<'_, DirectionState> {
        // The state stays consistent under a panic (plain counters).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running emulated link between two TUN devices.
#[derive(Debug)]
pub struct Emulator {
    stop: Arc<AtomicBool>,
    up: Arc<Direction>,
    down: Arc<Direction>,
    threads: Vec<JoinHandle<()>>,
}

/// The two ends of one direction and its name for the thread names.
struct Ends {
    name: &'static str,
    from: tun::Reader,
    to: tun::Writer,
}

impl Emulator {
    /// Starts carrying packets between `client` (the clients' TUN device)
    /// and `server` (the server side's): `up` is client to server, `down`
    /// server to client, each direction's draws seeded from `seed`.
    pub fn start(
        client: tun::Device,
        server: tun::Device,
        up: DirectionParams,
        down: DirectionParams,
        seed: u64,
    ) -> io::Result<Emulator> {
        let (client_reader, client_writer) = client.split();
        let (server_reader, server_writer) = server.split();
        let epoch = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let direction = |params, seed| {
            Arc::new(Direction {
                state: Mutex::new(DirectionState {
                    scheduler: Scheduler::new(params, seed),
                    counts: DirectionCounts::default(),
                }),
            })
        };
        let mut emulator = Emulator {
            stop,
            up: direction(up, seed),
            down: direction(down, seed ^ 0x9e37_79b9_7f4a_7c15),
            threads: Vec::new(),
        };
        let plan = [
            (
                Ends {
                    name: "up",
                    from: client_reader,
                    to: server_writer,
                },
                Arc::clone(&emulator.up),
            ),
            (
                Ends {
                    name: "down",
                    from: server_reader,
                    to: client_writer,
                },
                Arc::clone(&emulator.down),
            ),
        ];
        for (ends, direction) in plan {
            // On an error `emulator` drops here and stops what started.
            emulator.spawn_direction(ends, direction, epoch)?;
        }
        Ok(emulator)
    }

    fn spawn_direction(
        &mut self,
        ends: Ends,
        direction: Arc<Direction>,
        epoch: Instant,
    ) -> io::Result<()> {
        let (packets, held) = mpsc::channel::<(u64, Vec<u8>)>();
        let Ends { name, from, to } = ends;
        let stop = Arc::clone(&self.stop);
        let reader_direction = Arc::clone(&direction);
        self.threads.push(
            thread::Builder::new()
                .name(format!("link-{name}-in"))
                .spawn(move || read_packets(&from, &reader_direction, &packets, epoch, &stop))?,
        );
        let stop = Arc::clone(&self.stop);
        self.threads.push(
            thread::Builder::new()
                .name(format!("link-{name}-out"))
                .spawn(move || deliver_packets(to, &direction, &held, epoch, &stop))?,
        );
        Ok(())
    }

    /// New parameters for each direction, from the next packet on.
    pub fn set_params(&self, up: DirectionParams, down: DirectionParams) {
        self.up.lock().scheduler.set_params(up);
        self.down.lock().scheduler.set_params(down);
    }

    /// The counts so far: (up, down).
    pub fn counts(&self) -> (DirectionCounts, DirectionCounts) {
        (self.up.lock().counts, self.down.lock().counts)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// The reader: each packet read from `from` is counted and scheduled;
/// the ones to deliver go to the writer with their delivery time.
fn read_packets(
    from: &tun::Reader,
    direction: &Direction,
    packets: &mpsc::Sender<(u64, Vec<u8>)>,
    epoch: Instant,
    stop: &AtomicBool,
) {
    let mut buffer = [0u8; PACKET_BUFFER];
    while !stop.load(Ordering::Relaxed) {
        let size = match from.recv_timeout(&mut buffer, STOP_POLL) {
            Ok(size) => size,
            Err(e) if e.kind() == io::ErrorKind::TimedOut => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                warn!(error = %e, "link: reading from a TUN device failed; direction stopped");
                return;
            }
        };
        let now = nanos_since(epoch);
        let verdict = {
            let mut state = direction.lock();
            state.counts.packets += 1;
            state.counts.bytes += size as u64;
            let verdict = state.scheduler.arrive(now, size);
            match verdict {
                Verdict::RandomDrop => state.counts.random_drops += 1,
                Verdict::QueueDrop => state.counts.queue_drops += 1,
                Verdict::Deliver(_) => {}
            }
            verdict
        };
        if let Verdict::Deliver(at) = verdict
            && packets.send((at, buffer[..size].to_vec())).is_err()
        {
            return;
        }
    }
}

/// The writer: holds each packet until its delivery time (they come in
/// delivery order) and writes it to `to`.
fn deliver_packets(
    mut to: tun::Writer,
    direction: &Direction,
    held: &mpsc::Receiver<(u64, Vec<u8>)>,
    epoch: Instant,
    stop: &AtomicBool,
) {
    // The kernel may fire a sleeping thread's timer up to its timer slack
    // late (50 us by default) to batch wake-ups; a link's delay should not
    // carry that. Best effort: without it packets are only that much late.
    let _ = nix::sys::prctl::set_timerslack(DELIVERY_TIMER_SLACK_NS);
    while !stop.load(Ordering::Relaxed) {
        let (at, packet) = match held.recv_timeout(STOP_POLL) {
            Ok(next) => next,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        loop {
            let now = nanos_since(epoch);
            if now >= at || stop.load(Ordering::Relaxed) {
                break;
            }
            thread::sleep(Duration::from_nanos(at - now).min(STOP_POLL));
        }
        // A packet the kernel refuses (the device went down while the
        // link closes) is lost like one on a wire that was cut.
        let written = loop {
            match to.write(&packet) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                result => break result,
            }
        };
        if written.is_ok() {
            direction.lock().counts.delivered += 1;
        }
    }
}

fn nanos_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}
