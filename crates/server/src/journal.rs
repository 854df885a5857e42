//! The event journal (`serve --journal FILE`): every published event is
//! appended to a file, so a server that is killed and started again with
//! the same journal still holds the last `--ring` events and continues the
//! seq numbering. Clients then resume from their cursors with no loss.
//!
//! # Format and durability
//! One line per event, exactly the NDJSON line HTTP streaming sends
//! (`{"seq":1,...}\n`), oldest first, seqs strictly increasing.
//!
//! Each line is handed to the kernel with one `write(2)` before the publish
//! returns (under the hub's lock, so lines are in seq order). That is enough
//! for the failure this guards against, a crashed or killed *process*: the
//! written bytes are in the kernel's page cache, which outlives the process
//! and reaches the disk on its own. There is no `fsync` per event: it would
//! cost a disk flush (milliseconds) per event and only protects against a
//! crash of the whole machine, after which every client has to reconnect
//! anyway. A kill in the middle of a `write(2)` can leave a last line
//! without its newline; loading drops such a tail (that event's publish
//! never returned) and truncates it away.
//!
//! A seq that `--skip-every` uses up is not journaled (nobody ever sees
//! it), so if the very last seq before a restart was a skipped one, the
//! restarted server assigns it again.
//!
//! # Size
//! The file holds at most twice the ring: when it reaches `2 * keep` lines,
//! it is rewritten with the ring's `keep` events ([`replace_file`]: a
//! temporary file in the same folder, fsynced, renamed over the journal, so
//! a crash during the rewrite leaves the old or the new journal, never half
//! of one). The rewrite runs under the hub's lock, so publishing pauses
//! for it: about 2 MB and one disk flush at the default ring of 10,000. Rewriting
//! `keep` lines once every `keep` appends costs one extra line written per
//! event, amortised, and bounds the disk use to twice the ring's.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use pushbench_net::atomic_file::replace_file;
use pushbench_protocol::Event;

/// Why a journal could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Reading, writing or creating the file failed.
    #[error("journal {}: {source}", path.display())]
    Io {
        /// The journal file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A complete line is not an event, or its seq does not increase.
    #[error(
        "journal {}: line {line}: {message} (not a pushbench journal, or damaged; move it away to start empty)",
        path.display()
    )]
    Corrupt {
        /// The journal file.
        path: PathBuf,
        /// The line number, from 1.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
}

/// What a journal held when it was opened.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The last `keep` events, oldest first.
    pub events: Vec<Event>,
    /// The highest seq in the journal (0 when empty).
    pub last_seq: u64,
    /// Bytes of an unfinished last line that were dropped.
    pub dropped_tail: usize,
}

/// An open journal, appending.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    /// Complete lines in the file.
    lines: usize,
    /// Events kept on compaction: the ring's size.
    keep: usize,
}

impl Journal {
    /// Opens (or creates) the journal at `path`, loads its last `keep`
    /// events, and drops an unfinished last line.
    pub fn open(path: &Path, keep: usize) -> Result<(Journal, Loaded), JournalError> {
        let io_err = |source| JournalError::Io {
            path: path.to_owned(),
            source,
        };
        let keep = keep.max(1);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io_err)?;
        let (loaded, lines, complete_len) = load(&mut file, path, keep)?;
        if loaded.dropped_tail > 0 {
            file.set_len(complete_len).map_err(io_err)?;
        }
        let journal = Journal {
            path: path.to_owned(),
            file,
            lines,
            keep,
        };
        Ok((journal, loaded))
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one event line (ending in `\n`) with one `write(2)`.
    pub fn append(&mut self, line: &[u8]) -> io::Result<()> {
        self.file.write_all(line)?;
        self.lines += 1;
        Ok(())
    }

    /// Whether the file has reached twice the ring and should be compacted.
    pub fn needs_compaction(&self) -> bool {
        self.lines >= 2 * self.keep
    }

    /// Rewrites the journal as `lines` (the ring's events, oldest first)
    /// with [`replace_file`], then reopens it for appending.
    pub fn compact<'a>(&mut self, lines: impl Iterator<Item = &'a [u8]>) -> io::Result<()> {
        let mut bytes = Vec::new();
        let mut count = 0;
        for line in lines {
            bytes.extend_from_slice(line);
            count += 1;
        }
        replace_file(&self.path, &bytes)?;
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        self.lines = count;
        Ok(())
    }
}

/// Reads every line: the last `keep` events, the count of complete lines,
/// and the length of the file up to the end of its last complete line.
fn load(file: &mut File, path: &Path, keep: usize) -> Result<(Loaded, usize, u64), JournalError> {
    let io_err = |source| JournalError::Io {
        path: path.to_owned(),
        source,
    };
    let mut reader = BufReader::new(file);
    let mut kept = VecDeque::with_capacity(keep.min(65_536));
    let mut loaded = Loaded::default();
    let mut lines = 0;
    let mut complete_len = 0u64;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(io_err)?;
        if n == 0 {
            break;
        }
        if buf.last() != Some(&b'\n') {
            // An unfinished write: the process died inside it.
            loaded.dropped_tail = n;
            break;
        }
        lines += 1;
        let corrupt = |message: String| JournalError::Corrupt {
            path: path.to_owned(),
            line: lines,
            message,
        };
        let event: Event = serde_json::from_slice(&buf[..n - 1])
            .map_err(|e| corrupt(format!("not an event: {e}")))?;
        if event.seq <= loaded.last_seq {
            return Err(corrupt(format!(
                "seq {} after seq {}: seqs must increase",
                event.seq, loaded.last_seq
            )));
        }
        loaded.last_seq = event.seq;
        complete_len += n as u64;
        if kept.len() == keep {
            kept.pop_front();
        }
        kept.push_back(event);
    }
    loaded.events = kept.into();
    Ok((loaded, lines, complete_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("pushbench-journal-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir.join("events.ndjson")
    }

    fn line(seq: u64) -> Vec<u8> {
        let event = Event {
            seq,
            topic: "t".into(),
            created_us: 1,
            payload: format!("p{seq}"),
        };
        format!("{}\n", event.to_json()).into_bytes()
    }

    #[test]
    fn an_unfinished_last_line_is_dropped_and_truncated_away() {
        let path = temp("tail");
        let mut bytes = [line(1), line(2)].concat();
        bytes.extend_from_slice(br#"{"seq":3,"top"#);
        std::fs::write(&path, &bytes).expect("write");
        let (mut journal, loaded) = Journal::open(&path, 10).expect("open");
        assert_eq!(loaded.last_seq, 2);
        assert_eq!(loaded.events.len(), 2);
        assert_eq!(loaded.dropped_tail, 13);
        journal.append(&line(3)).expect("append");
        let text = std::fs::read(&path).expect("read");
        assert_eq!(text, [line(1), line(2), line(3)].concat());
    }

    #[test]
    fn a_damaged_line_or_a_seq_going_back_is_refused_with_its_line_number() {
        let path = temp("corrupt");
        std::fs::write(&path, [line(1), b"garbage\n".to_vec()].concat()).expect("write");
        let err = Journal::open(&path, 10).expect_err("garbage");
        assert!(err.to_string().contains("line 2"), "{err}");
        std::fs::write(&path, [line(2), line(1)].concat()).expect("write");
        let err = Journal::open(&path, 10).expect_err("seq going back");
        assert!(err.to_string().contains("seqs must increase"), "{err}");
    }

    #[test]
    fn only_the_last_keep_events_load_and_compaction_bounds_the_file() {
        let path = temp("compact");
        let (mut journal, loaded) = Journal::open(&path, 3).expect("open");
        assert_eq!(loaded.last_seq, 0);
        let mut ring: VecDeque<Vec<u8>> = VecDeque::new();
        for seq in 1..=20 {
            let l = line(seq);
            journal.append(&l).expect("append");
            ring.push_back(l);
            if ring.len() > 3 {
                ring.pop_front();
            }
            if journal.needs_compaction() {
                journal
                    .compact(ring.iter().map(Vec::as_slice))
                    .expect("compact");
            }
            assert!(journal.lines < 6, "the file never exceeds twice the ring");
        }
        drop(journal);
        let (_, loaded) = Journal::open(&path, 3).expect("reopen");
        assert_eq!(
            loaded.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [18, 19, 20]
        );
        assert_eq!(loaded.last_seq, 20);
        let leftovers = std::fs::read_dir(path.parent().expect("dir"))
            .expect("list")
            .count();
        assert_eq!(leftovers, 1, "no temporary file left behind");
    }
}
