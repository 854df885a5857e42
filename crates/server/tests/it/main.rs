//! Integration tests of the server over real sockets on 127.0.0.1:0.

mod bad_input;
mod coding;
mod headers;
mod helpers;
mod limits;
mod live;
mod polling;
mod stats;
mod tls;
mod websocket;
