//! What both ends of a pushbench connection share, below the server and the
//! load generator alike, so that neither depends on the other: a load agent
//! compiles no server, and the server no client.
//!
//! # Layout
//! - [`counting`]: [`CountingStream`](counting::CountingStream), which hands
//!   every byte crossing a socket to a [`Tally`](counting::Tally): the
//!   server's per-connection counts and the load generator's meter both sit
//!   in one.
//! - [`tls_config`]: the client side of the TLS both ends agree on (TLS 1.3,
//!   ring, ALPN of one HTTP version, the server's certificate pinned), and
//!   the crypto provider and fingerprint the server's identity uses too.
//! - [`atomic_file`]: whole-file replacement a crash cannot leave half done
//!   (the server's journal, the load generator's `results.json`).
//! - [`embedding`]: the traits through which a server runs in the load
//!   generator's process ([`StartServer`](embedding::StartServer),
//!   [`EmbeddedServer`](embedding::EmbeddedServer)), implemented by the
//!   server crate and handed in by the CLI and the tests.
//! - [`network_path`]: the network the clients cross
//!   ([`NetworkPath`](network_path::NetworkPath)): the kernel's loopback, or
//!   the emulated link of `pushbench-link`, handed in by the CLI.
//! - [`process_tree`]: CPU and RSS of a process and its descendants from
//!   `/proc` (the server's own figures; a server of another kind found by
//!   pid or listening port).
//!
//! No HTTP stack lives here (no axum, hyper or tower): only tokio's IO
//! traits, rustls and the shared vocabulary of `pushbench-protocol`.
#![deny(missing_docs)]

pub mod atomic_file;
pub mod counting;
pub mod embedding;
pub mod network_path;
pub mod process_tree;
pub mod tls_config;
