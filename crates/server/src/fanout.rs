//! Fan-out: where live subscribers wait to be written each publish from
//! the publisher's own loop.
//!
//! A push session with a direct writer ([`crate::direct`]) that is up to
//! date and has nothing to write parks its writer here
//! ([`FanOut::park`]) instead of waiting to be woken. The hub then
//! offers each publish to every parked writer in one loop
//! ([`FanOut::offer_all`], from [`crate::Hub`]): each writes the publish's
//! bytes, framed once, straight to its socket, so no task is woken,
//! scheduled and polled per delivery, which at 19,000 idle WebSocket
//! clients was a third of the server's CPU per delivery
//! (`bench-results/2026-12-05-peers-profile-19k`).
//!
//! What a writer cannot finish in the loop (a socket whose buffer is
//! full, a subscriber that is not just before the publish) it hands back:
//! its slot keeps where the session goes on, and the session is woken to
//! take it ([`FanOut::unpark`]), write the rest itself and read on from
//! the ring, and park again once it has caught up. A session that must
//! act on its own (a client's message, a keep-alive, shutdown) unparks
//! itself.
//!
//! One writer at a time: while a session is parked only the loop writes
//! to its socket, and the session writes again only after unparking,
//! which takes its slot back under the same lock.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

/// Parked writers of type `T`, and what handed-back ones go on with, `R`.
#[derive(Debug)]
pub struct FanOut<T, R> {
    slots: Mutex<Slots<T, R>>,
}

/// A parked writer's place ([`FanOut::park`]).
#[derive(Debug)]
#[must_use = "a parked writer stays in the fan-out until it is unparked"]
pub struct ParkKey(usize);

/// What a session takes back when it unparks.
#[derive(Debug, PartialEq, Eq)]
pub enum Unparked<T, R> {
    /// Its writer, still parked until now.
    Parked(T),
    /// What the loop handed back.
    HandedBack(R),
}

/// Slots offered per hold of the lock: a session that parks or unparks
/// waits for at most this many writes, not for a whole loop over tens of
/// thousands of sockets.
const CHUNK: usize = 64;

#[derive(Debug)]
enum Slot<T, R> {
    Free,
    Parked(T, Arc<Notify>),
    HandedBack(R),
}

#[derive(Debug)]
struct Slots<T, R> {
    slots: Vec<Slot<T, R>>,
    free: Vec<usize>,
}

impl<T, R> Default for FanOut<T, R> {
    fn default() -> Self {
        FanOut {
            slots: Mutex::new(Slots {
                slots: Vec::new(),
                free: Vec::new(),
            }),
        }
    }
}

impl<T, R> FanOut<T, R> {
    fn lock(&self) -> MutexGuard<'_, Slots<T, R>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Parks `writer`, to be woken through `wake` when it is handed back,
    /// if `admit` says so under the fan-out's lock; else gives it back.
    /// (The hub admits a writer that has every event announced so far:
    /// it announces before it offers, so a writer parked after the check
    /// is offered every later publish.)
    pub fn park(
        &self,
        writer: T,
        wake: Arc<Notify>,
        admit: impl FnOnce(&T) -> bool,
    ) -> Result<ParkKey, T> {
        let mut slots = self.lock();
        if !admit(&writer) {
            return Err(writer);
        }
        let slot = Slot::Parked(writer, wake);
        Ok(ParkKey(match slots.free.pop() {
            Some(i) => {
                slots.slots[i] = slot;
                i
            }
            None => {
                slots.slots.push(slot);
                slots.slots.len() - 1
            }
        }))
    }

    /// Takes a parked writer's slot back.
    pub fn unpark(&self, key: ParkKey) -> Unparked<T, R> {
        let mut slots = self.lock();
        let slot = std::mem::replace(&mut slots.slots[key.0], Slot::Free);
        slots.free.push(key.0);
        match slot {
            Slot::Parked(writer, _) => Unparked::Parked(writer),
            Slot::HandedBack(resume) => Unparked::HandedBack(resume),
            // A key is made for a slot only its holder frees.
            Slot::Free => unreachable!("a parked writer's slot is freed only by its key"),
        }
    }

    /// Offers every parked writer to `offer`, 64 slots per hold
    /// of the lock; one it answers `Some` for is handed back with that
    /// and woken.
    pub fn offer_all(&self, mut offer: impl FnMut(&mut T) -> Option<R>) {
        let mut start = 0;
        loop {
            let mut slots = self.lock();
            let end = slots.slots.len().min(start + CHUNK);
            for slot in slots.slots.get_mut(start..end).unwrap_or_default() {
                let Slot::Parked(writer, wake) = slot else {
                    continue;
                };
                if let Some(resume) = offer(writer) {
                    wake.notify_one();
                    *slot = Slot::HandedBack(resume);
                }
            }
            if end >= slots.slots.len() {
                return;
            }
            start = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A fan-out of writers that are their last seq, handing back seqs.
    type Seqs = FanOut<u64, u64>;

    /// How many writers are parked now.
    fn parked(fanout: &Seqs) -> usize {
        fanout
            .lock()
            .slots
            .iter()
            .filter(|slot| matches!(slot, Slot::Parked(..)))
            .count()
    }

    #[test]
    fn a_writer_parks_only_when_admitted() {
        let fanout = Seqs::default();
        let refused = fanout.park(4, Arc::default(), |&last| last >= 5);
        assert_eq!(refused.expect_err("behind"), 4);
        let key = fanout
            .park(4, Arc::default(), |&last| last >= 4)
            .expect("parked");
        assert_eq!(parked(&fanout), 1);
        assert_eq!(fanout.unpark(key), Unparked::Parked(4));
        assert_eq!(parked(&fanout), 0);
    }

    #[test]
    fn every_parked_writer_is_offered_and_the_handed_back_leave_the_loop() {
        let fanout = Seqs::default();
        // More than a chunk, so the loop takes the lock several times.
        let keys: Vec<ParkKey> = (0..3 * CHUNK as u64)
            .map(|last| fanout.park(last, Arc::default(), |_| true).expect("parked"))
            .collect();
        let mut offered = 0;
        fanout.offer_all(|last| {
            offered += 1;
            *last += 1000;
            // The odd ones are handed back with their new last.
            (*last % 2 == 1).then_some(*last)
        });
        assert_eq!(offered, 3 * CHUNK);
        assert_eq!(parked(&fanout), 3 * CHUNK / 2);
        // The handed back are not offered again.
        let mut again = 0;
        fanout.offer_all(|_| {
            again += 1;
            None
        });
        assert_eq!(again, 3 * CHUNK / 2);
        for (i, key) in keys.into_iter().enumerate() {
            let last = 1000 + i as u64;
            let want = match i % 2 {
                1 => Unparked::HandedBack(last),
                _ => Unparked::Parked(last),
            };
            assert_eq!(fanout.unpark(key), want);
        }
    }

    #[test]
    fn a_freed_slot_is_taken_by_the_next_to_park() {
        let fanout = Seqs::default();
        let first = fanout.park(1, Arc::default(), |_| true).expect("parked");
        let second = fanout.park(2, Arc::default(), |_| true).expect("parked");
        assert_eq!(fanout.unpark(first), Unparked::Parked(1));
        let third = fanout.park(3, Arc::default(), |_| true).expect("parked");
        assert_eq!(third.0, 0);
        assert_eq!(fanout.unpark(second), Unparked::Parked(2));
        assert_eq!(fanout.unpark(third), Unparked::Parked(3));
    }

    #[tokio::test]
    async fn a_handed_back_writer_is_woken() {
        let fanout = Seqs::default();
        let wake = Arc::new(Notify::new());
        let key = fanout.park(7, Arc::clone(&wake), |_| true).expect("parked");
        fanout.offer_all(|&mut last| Some(last));
        tokio::time::timeout(Duration::from_secs(5), wake.notified())
            .await
            .expect("woken");
        assert_eq!(fanout.unpark(key), Unparked::HandedBack(7));
    }
}
