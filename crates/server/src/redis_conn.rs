//! A Redis URL (`redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`, parsed by a
//! plain function) and one thin async connection that sends a command and
//! reads its reply with [`crate::resp`]. No pooling, no pipelining: the
//! cluster keeps one connection per role (publishing, reading, the lease).

use std::fmt;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::resp::{self, Reply, RespError};

/// Where the Redis of `serve --cluster` is.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    /// Host name or IP address.
    pub host: String,
    /// TCP port (6379 when the URL names none).
    pub port: u16,
    /// The ACL user, with [`RedisUrl::password`] (`AUTH USER PASSWORD`).
    pub username: Option<String>,
    /// `AUTH` password; never shown (see the `Display` impl).
    pub password: Option<String>,
    /// Database number (`SELECT`), 0 when the URL names none.
    pub db: u32,
}

impl fmt::Display for RedisUrl {
    /// The URL without user or password, for logs and `/stats`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(f, "redis://{host}:{}", self.port)?;
        if self.db != 0 {
            write!(f, "/{}", self.db)?;
        }
        Ok(())
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({self})")
    }
}

impl std::str::FromStr for RedisUrl {
    type Err = String;

    /// Parses `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`; the error says
    /// what is wrong (the caller names the flag).
    fn from_str(raw: &str) -> Result<Self, String> {
        let expected = "expected redis://HOST:PORT (optionally redis://:PASSWORD@HOST:PORT/DB)";
        let rest = raw
            .strip_prefix("redis://")
            .ok_or_else(|| format!("{expected}, got `{raw}` (only the redis:// scheme; no TLS)"))?;
        let (auth, rest) = match rest.rsplit_once('@') {
            Some((auth, rest)) => (Some(auth), rest),
            None => (None, rest),
        };
        let (username, password) = match auth.map(|a| a.split_once(':').unwrap_or(("", a))) {
            Some((user, pass)) => (
                (!user.is_empty()).then(|| user.to_owned()),
                (!pass.is_empty()).then(|| pass.to_owned()),
            ),
            None => (None, None),
        };
        let (authority, db) = match rest.split_once('/') {
            Some((authority, "")) => (authority, 0),
            Some((authority, db)) => (
                authority,
                db.parse()
                    .map_err(|_| format!("{expected}: the database `{db}` is not a number"))?,
            ),
            None => (rest, 0),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("{expected}: unclosed `[` in `{raw}`"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() || host.contains(['/', '?', '#', ' ', '@']) {
            return Err(format!("{expected}: no valid host in `{raw}`"));
        }
        let port = match port {
            Some(port) => port
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| format!("{expected}: the port `{port}` is not 1 to 65535"))?,
            None => 6379,
        };
        Ok(RedisUrl {
            host: host.to_owned(),
            port,
            username,
            password,
            db,
        })
    }
}

/// Why a Redis command failed.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    /// Connecting, writing or reading failed.
    #[error("redis: {0}")]
    Io(#[from] std::io::Error),
    /// No reply within the command's time limit.
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    /// Redis closed the connection.
    #[error("redis closed the connection")]
    Closed,
    /// Bytes that are not RESP2.
    #[error("redis sent {0}")]
    Protocol(#[from] RespError),
    /// Redis answered with an error reply.
    #[error("redis refused: {0}")]
    Refused(String),
    /// A well-formed reply of an unexpected shape (a stream entry that is
    /// not ours, a script that returned no seq).
    #[error("redis answered unexpectedly: {0}")]
    Unexpected(String),
}

/// Largest reply buffered: an XREAD batch of the largest events
/// (`--max-payload` 64 MiB) fits; past it the peer is not a sane Redis.
const MAX_REPLY: usize = 256 * 1024 * 1024;

/// Room made in the reply buffer before each read: the reader's pages of
/// up to 10,000 entries arrive in few reads, and the buffer, not the
/// caller's future, holds it.
const READ_CHUNK: usize = 16 * 1024;

/// One connection to Redis.
#[derive(Debug)]
pub struct RedisConn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RedisConn {
    /// Connects to `url` within `limit`, then authenticates and selects
    /// the database the URL names.
    pub async fn connect(url: &RedisUrl, limit: Duration) -> Result<Self, RedisError> {
        let stream = tokio::time::timeout(limit, TcpStream::connect((url.host.as_str(), url.port)))
            .await
            .map_err(|_| RedisError::Timeout(limit))??;
        stream.set_nodelay(true)?;
        let mut conn = RedisConn {
            stream,
            buf: Vec::with_capacity(4096),
        };
        match (&url.username, &url.password) {
            (Some(user), Some(pass)) => {
                conn.command(&["AUTH", user, pass], limit).await?;
            }
            (None, Some(pass)) => {
                conn.command(&["AUTH", pass], limit).await?;
            }
            _ => {}
        }
        if url.db != 0 {
            conn.command(&["SELECT", &url.db.to_string()], limit)
                .await?;
        }
        Ok(conn)
    }

    /// Sends `args` and waits up to `limit` for the reply; an error reply
    /// is [`RedisError::Refused`].
    pub async fn command<A: AsRef<[u8]>>(
        &mut self,
        args: &[A],
        limit: Duration,
    ) -> Result<Reply, RedisError> {
        let request = resp::encode_command(args);
        tokio::time::timeout(limit, self.round_trip(&request))
            .await
            .map_err(|_| RedisError::Timeout(limit))?
    }

    async fn round_trip(&mut self, request: &[u8]) -> Result<Reply, RedisError> {
        self.stream.write_all(request).await?;
        loop {
            if let Some((reply, used)) = resp::parse_reply(&self.buf)? {
                self.buf.drain(..used);
                return match reply {
                    Reply::Error(message) => Err(RedisError::Refused(message)),
                    reply => Ok(reply),
                };
            }
            if self.buf.len() > MAX_REPLY {
                return Err(RedisError::Protocol(RespError::BadNumber(format!(
                    "a reply of more than {MAX_REPLY} bytes"
                ))));
            }
            // Read straight into the connection's buffer: a stack chunk
            // here would live in the future of every caller that may
            // publish (a WebSocket session holds one for its whole life).
            self.buf.reserve(READ_CHUNK);
            let n = self.stream.read_buf(&mut self.buf).await?;
            if n == 0 {
                return Err(RedisError::Closed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_command_future_holds_no_read_buffer() {
        let (stream, _server) = crate::tcp_pair().await;
        let mut conn = RedisConn {
            stream,
            buf: Vec::new(),
        };
        // Never polled: only its size matters. A WebSocket session that
        // may publish into a cluster holds such a future for its life.
        let command = conn.command(&["PING"], Duration::from_secs(1));
        crate::assert_held_under(&command, 1024, "future of one Redis command");
    }

    #[test]
    fn urls_parse_with_defaults_and_hide_the_password() {
        let url: RedisUrl = "redis://127.0.0.1:7000".parse().expect("valid");
        assert_eq!(
            (url.host.as_str(), url.port, url.db),
            ("127.0.0.1", 7000, 0)
        );
        let full: RedisUrl = "redis://me:s3cret@localhost/2".parse().expect("valid");
        assert_eq!(full.port, 6379);
        assert_eq!(full.username.as_deref(), Some("me"));
        assert_eq!(full.password.as_deref(), Some("s3cret"));
        assert_eq!(full.to_string(), "redis://localhost:6379/2");
        assert!(!format!("{full:?}").contains("s3cret"));
        let pass_only: RedisUrl = "redis://:pw@[::1]:6380".parse().expect("valid");
        assert_eq!(
            (pass_only.username.as_deref(), pass_only.password.as_deref()),
            (None, Some("pw"))
        );
        assert_eq!(pass_only.to_string(), "redis://[::1]:6380");
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (raw, says) in [
            ("http://127.0.0.1:1", "scheme"),
            ("redis://127.0.0.1:0", "port `0`"),
            ("redis://127.0.0.1:x", "port `x`"),
            ("redis://:6379", "no valid host"),
            ("redis://h:1/db", "database `db`"),
        ] {
            let err = raw.parse::<RedisUrl>().expect_err("must fail");
            assert!(err.contains(says), "{raw}: {err}");
        }
    }
}
