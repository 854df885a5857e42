//! What a connection is used for ([`Route`]): the key of the per-route
//! counters in `/stats` and of each connection's tag in the registry. Apart
//! from both so that the registry ([`crate::listener`]) and the report
//! ([`crate::stats`]) depend on it and not on each other.

use pushbench_protocol::Transport;

/// What a connection is used for: one of the five transports, the echo demo,
/// or anything else (publish, stats, the page).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// One of the five push transports.
    Transport(Transport),
    /// `GET /echo`.
    Echo,
    /// Every other path.
    Other,
}

impl Route {
    /// Number of routes (5 transports, echo, other).
    pub const COUNT: usize = 7;
    /// The tag of a connection that has served no request yet.
    pub const NONE: u8 = u8::MAX;

    /// Every route, in index order.
    pub fn all() -> [Route; Self::COUNT] {
        let t = Transport::ALL;
        [
            Route::Transport(t[0]),
            Route::Transport(t[1]),
            Route::Transport(t[2]),
            Route::Transport(t[3]),
            Route::Transport(t[4]),
            Route::Echo,
            Route::Other,
        ]
    }

    /// The route serving a request path.
    pub fn for_path(path: &str) -> Route {
        Transport::ALL
            .into_iter()
            .find(|t| t.path() == path)
            .map(Route::Transport)
            .unwrap_or(if path == "/echo" {
                Route::Echo
            } else {
                Route::Other
            })
    }

    /// The name in `/stats` (a transport's contract name, `echo` or `other`).
    pub fn name(self) -> &'static str {
        match self {
            Route::Transport(t) => t.name(),
            Route::Echo => "echo",
            Route::Other => "other",
        }
    }

    /// Position in [`Route::all`].
    pub fn index_usize(self) -> usize {
        match self {
            Route::Transport(t) => Transport::ALL.iter().position(|&x| x == t).unwrap_or(0),
            Route::Echo => 5,
            Route::Other => 6,
        }
    }

    /// Position in [`Route::all`], as stored in a connection's tag.
    pub fn index(self) -> u8 {
        self.index_usize() as u8
    }

    /// The route at `index`, `None` for [`Route::NONE`].
    pub fn from_index(index: u8) -> Option<Route> {
        Route::all().get(usize::from(index)).copied()
    }

    /// The route named `name` in `/stats` ([`Route::name`]); `other` for
    /// any name that is none of them.
    pub fn for_name(name: &str) -> Route {
        Route::all()
            .into_iter()
            .find(|r| r.name() == name)
            .unwrap_or(Route::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_round_trip_through_indexes_and_paths() {
        for r in Route::all() {
            assert_eq!(Route::from_index(r.index()), Some(r));
        }
        assert_eq!(Route::from_index(Route::NONE), None);
        assert_eq!(Route::for_path("/sse"), Route::Transport(Transport::Sse));
        assert_eq!(Route::for_path("/echo"), Route::Echo);
        assert_eq!(Route::for_path("/stats"), Route::Other);
        for r in Route::all() {
            assert_eq!(Route::for_name(r.name()), r);
        }
    }
}
