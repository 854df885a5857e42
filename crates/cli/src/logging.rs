//! Log lines on stderr through `tracing`: what `RUST_LOG` selects (the
//! `tracing-subscriber` filter syntax, e.g. `debug` or
//! `pushbench_server=debug`), `info` when it is unset or unreadable. The
//! server and the load generator log starts, limits hit and errors, one
//! line per event, never per message.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

/// The filter when `RUST_LOG` is unset: starts, limits hit, errors.
const DEFAULT_FILTER: &str = "info";

/// Installs the subscriber; a second call (tests) leaves the first in place.
pub fn init() {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) => EnvFilter::try_new(&spec).unwrap_or_else(|err| {
            eprintln!("pushbench: warning: RUST_LOG={spec:?} is not a filter ({err}); using info");
            EnvFilter::new(DEFAULT_FILTER)
        }),
        Err(_) => EnvFilter::new(DEFAULT_FILTER),
    };
    let _already_set = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
