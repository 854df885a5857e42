//! The progress display of `run`, `capacity` and `peers`: on a terminal an
//! `indicatif` bar per stage under a line naming the phase; otherwise (a
//! log, CI) one plain line when a phase starts and one when it ends, so the
//! log is not a wall of `\r` updates.

use std::io::Write as _;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pushbench_loadgen::phase::Progress;
use pushbench_protocol::{ContentCoding, HttpVersion};

/// The bar counts tenths of a second of the stage.
const TICKS_PER_SECOND: f64 = 10.0;

/// What to draw on a terminal: the phase line, the bar, seconds done of the
/// stage's length.
const TEMPLATE: &str = "{msg} [{bar:20}] {prefix}";

/// A printer for the runner's progress callbacks; `terminal` says whether
/// stderr is one.
pub(crate) fn progress_printer(terminal: bool) -> impl FnMut(&Progress) + Send {
    let mut last_stage: Option<(usize, &'static str)> = None;
    let bar = terminal.then(|| {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(TEMPLATE)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("#> ");
        bar.set_style(style);
        bar
    });
    move |p: &Progress| {
        let Some(bar) = &bar else {
            let edge = matches!(p.stage, "connecting" | "done");
            if edge && last_stage != Some((p.phase, p.stage)) {
                last_stage = Some((p.phase, p.stage));
                let _ = writeln!(std::io::stderr().lock(), "{}", progress_line(p));
            }
            return;
        };
        if p.stage == "done" {
            bar.println(progress_line(p));
            if p.phase == p.phases {
                bar.finish_and_clear();
            }
            return;
        }
        bar.set_length((p.stage_length_s * TICKS_PER_SECOND).round() as u64);
        bar.set_position((p.stage_elapsed_s * TICKS_PER_SECOND).round() as u64);
        bar.set_message(progress_line(p));
        bar.set_prefix(format!(
            "{:>5.1}/{:.1}s",
            p.stage_elapsed_s, p.stage_length_s
        ));
    }
}

/// One phase and stage as a line: `[2/4] sse  20 clients  10 ev/s tls h2
/// over 3g  measuring` (the link named unless it is the loopback).
pub(crate) fn progress_line(p: &Progress) -> String {
    let headers = match &p.headers {
        h if h.is_minimal() => String::new(),
        h => format!(" {h} headers"),
    };
    let tls = if p.tls { " tls" } else { "" };
    let close = if p.keep_alive { "" } else { " close" };
    let h2 = match (p.http, p.h2_streams) {
        (HttpVersion::Http1, _) => String::new(),
        (HttpVersion::Http2, 0 | 1) => " h2".to_owned(),
        (HttpVersion::Http2, k) => format!(" h2 x{k} streams"),
    };
    let coding = match p.coding {
        ContentCoding::Identity => String::new(),
        c => format!(" {c}"),
    };
    let link = match p.link.as_str() {
        "loopback" | "" => String::new(),
        l => format!(" over {l}"),
    };
    format!(
        "[{}/{}] {:<10} {:>5} clients {:>11}{headers}{tls}{close}{h2}{coding}{link}  {:<10}",
        p.phase,
        p.phases,
        p.transport.name(),
        p.clients,
        p.rate.to_string(),
        p.stage
    )
}
