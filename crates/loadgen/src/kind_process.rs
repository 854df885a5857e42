//! A server of another kind, started by its start script
//! (`scripts/targets/<kind>/start`), one contract for every kind:
//!
//! ```text
//! scripts/targets/<kind>/start --addr 127.0.0.1:0
//! <kind> listening on http://127.0.0.1:PORT      (first stdout line)
//! pid PID                                       (second: the server's main process)
//! ```
//!
//! It runs in the foreground until SIGTERM, which stops it and its
//! children. The script runs in a process group of its own, so a Ctrl-C
//! meant for pushbench reaches it only through [`KindProcess::stop`];
//! should it outlive the grace of a SIGTERM, its group is killed, so no
//! server is left behind. The parsers of the two lines are plain
//! functions ([`parse_listening`], [`parse_pid`]).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use pushbench_protocol::TargetKind;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::target::{ChildStderr, parse_url};
use crate::{Error, Result};

/// How long a start script may take to print both lines: nginx and
/// Node start in well under a second, Pushpin (several processes) in a
/// few; a minute leaves room for a loaded machine.
pub const KIND_STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a stopped server may take to exit after SIGTERM before its
/// process group is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A running server of another kind.
#[derive(Debug)]
pub struct KindProcess {
    /// Its kind.
    pub kind: TargetKind,
    /// Its base URL, as printed.
    pub url: String,
    /// Its main process (`pid` line): the root of the process tree whose
    /// CPU and memory are its cost.
    pub pid: u32,
    /// The start script it came from.
    pub script: PathBuf,
    child: Option<Child>,
    stderr: ChildStderr,
}

/// The URL of a start script's first line, `<kind> listening on URL`.
pub fn parse_listening(kind: TargetKind, line: &str) -> std::result::Result<String, String> {
    let expected = format!("{kind} listening on ");
    let url = line.trim_end().strip_prefix(&expected).ok_or_else(|| {
        format!("its first line must be `{expected}http://127.0.0.1:PORT`, got {line:?}")
    })?;
    parse_url(url).map_err(|e| e.to_string())?;
    Ok(url.trim_end_matches('/').to_owned())
}

/// The pid of a start script's second line, `pid PID`.
pub fn parse_pid(line: &str) -> std::result::Result<u32, String> {
    line.trim_end()
        .strip_prefix("pid ")
        .and_then(|p| p.parse::<u32>().ok())
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("its second line must be `pid PID`, got {line:?}"))
}

impl KindProcess {
    /// Runs `script --addr 127.0.0.1:0` and waits for its two lines.
    pub async fn start(kind: TargetKind, script: &Path) -> Result<KindProcess> {
        let shown = script.display();
        let mut child = Command::new(script)
            .args(["--addr", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| Error::io(format!("starting {shown}"), e))?;
        let stderr = ChildStderr::default();
        if let Some(pipe) = child.stderr.take() {
            let tail = stderr.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(pipe).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tail.push(line);
                }
            });
        }
        let mut started = KindProcess {
            kind,
            url: String::new(),
            pid: 0,
            script: script.to_path_buf(),
            child: None,
            stderr,
        };
        let Some(stdout) = child.stdout.take() else {
            started.child = Some(child);
            started.stop().await;
            return Err(Error::ServerDied(format!("{shown}: no stdout")));
        };
        started.child = Some(child);
        let mut lines = BufReader::new(stdout).lines();
        let read = async {
            let first = lines.next_line().await;
            let second = lines.next_line().await;
            (first, second)
        };
        let why = match tokio::time::timeout(KIND_STARTUP_TIMEOUT, read).await {
            Err(_) => {
                format!("printed no `listening on` and `pid` lines within {KIND_STARTUP_TIMEOUT:?}")
            }
            Ok((Ok(Some(first)), Ok(Some(second)))) => {
                match parse_listening(kind, &first).and_then(|url| Ok((url, parse_pid(&second)?))) {
                    Ok((url, pid)) => {
                        started.url = url;
                        started.pid = pid;
                        // Keep reading so a chatty server never blocks on a full pipe.
                        tokio::spawn(
                            async move { while let Ok(Some(_)) = lines.next_line().await {} },
                        );
                        return Ok(started);
                    }
                    Err(e) => e,
                }
            }
            Ok((Err(e), _) | (_, Err(e))) => format!("reading its stdout: {e}"),
            Ok(_) => "exited before printing its `listening on` and `pid` lines".to_owned(),
        };
        // Give the stderr reader a moment to collect the why.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let status = started.exited().unwrap_or_default();
        let tail = started.stderr.describe();
        started.stop().await;
        Err(Error::ServerDied(format!("{shown}: {why}{status}{tail}")))
    }

    /// `; it exited (STATUS)` when the script has exited.
    fn exited(&mut self) -> Option<String> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        Some(format!("; it exited ({status})"))
    }

    /// Stops it: SIGTERM to the script, which stops its server; its whole
    /// process group is killed if it has not exited within the grace.
    pub async fn stop(mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let Some(pid) = child.id() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
        if tokio::time::timeout(STOP_GRACE, child.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "{} did not stop within {STOP_GRACE:?} of SIGTERM: killing its process group",
                self.script.display()
            );
            kill_group(pid);
            let _ = child.wait().await;
        }
    }
}

/// SIGKILL to the process group `pgid` (the script's, made for it).
fn kill_group(pgid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .status();
}

impl Drop for KindProcess {
    /// A server never stopped (a panic, an early return) is not left
    /// running: its process group is killed.
    fn drop(&mut self) {
        if let Some(pid) = self.child.as_ref().and_then(Child::id) {
            kill_group(pid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_lines_of_the_start_contract_parse() {
        assert_eq!(
            parse_listening(
                TargetKind::Nchan,
                "nchan listening on http://127.0.0.1:8080\n"
            ),
            Ok("http://127.0.0.1:8080".to_owned())
        );
        assert_eq!(
            parse_listening(
                TargetKind::NodeWs,
                "node-ws listening on http://127.0.0.1:9/"
            ),
            Ok("http://127.0.0.1:9".to_owned())
        );
        let err = parse_listening(TargetKind::Bun, "nchan listening on http://127.0.0.1:1")
            .expect_err("another kind's line");
        assert!(err.contains("bun listening on"), "{err}");
        let err =
            parse_listening(TargetKind::Bun, "bun listening on ftp://x").expect_err("no http");
        assert!(err.contains("http://"), "{err}");
        assert_eq!(parse_pid("pid 4242\n"), Ok(4242));
        for bad in ["pid", "pid x", "pid 0", "PID 12", "12"] {
            assert!(parse_pid(bad).is_err(), "{bad}");
        }
    }
}
