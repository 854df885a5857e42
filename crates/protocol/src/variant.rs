//! The protocol stack a phase runs on, besides its transport: the HTTP
//! version ([`HttpVersion`]) and the content coding of response bodies
//! ([`ContentCoding`]). With TLS and the header profile they are the
//! dimensions of the measurement matrix; a scenario may sweep each.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The HTTP version a phase's clients speak.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HttpVersion {
    /// HTTP/1.1, one request at a time per connection; WebSocket by the
    /// `Upgrade` handshake (RFC 6455).
    #[default]
    Http1,
    /// HTTP/2: binary frames, HPACK header compression, many streams per
    /// connection; cleartext with prior knowledge (h2c) or over TLS by
    /// ALPN; WebSocket by extended CONNECT (RFC 8441).
    Http2,
}

impl HttpVersion {
    /// Both versions, in run order.
    pub const ALL: [HttpVersion; 2] = [HttpVersion::Http1, HttpVersion::Http2];

    /// The name in scenarios, results and flags: `1.1` or `2`.
    pub fn name(self) -> &'static str {
        match self {
            HttpVersion::Http1 => "1.1",
            HttpVersion::Http2 => "2",
        }
    }

    /// The ALPN protocol id a TLS client offers for it.
    pub fn alpn(self) -> &'static [u8] {
        match self {
            HttpVersion::Http1 => b"http/1.1",
            HttpVersion::Http2 => b"h2",
        }
    }
}

/// A content coding of response bodies (`Content-Encoding`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContentCoding {
    /// Bodies as they are.
    #[default]
    Identity,
    /// gzip (RFC 1952).
    Gzip,
    /// Brotli (RFC 7932).
    Br,
}

impl ContentCoding {
    /// Every coding, in run order.
    pub const ALL: [ContentCoding; 3] = [
        ContentCoding::Identity,
        ContentCoding::Gzip,
        ContentCoding::Br,
    ];

    /// The token in `Accept-Encoding`/`Content-Encoding`, scenarios,
    /// results and flags.
    pub fn name(self) -> &'static str {
        match self {
            ContentCoding::Identity => "identity",
            ContentCoding::Gzip => "gzip",
            ContentCoding::Br => "br",
        }
    }

    /// The codings a list of them enables (`serve --compression`, a
    /// scenario's `coding`): each once, in the list's order, identity left
    /// out (it is always allowed).
    pub fn enabled(list: &[ContentCoding]) -> Vec<ContentCoding> {
        let mut out: Vec<ContentCoding> = Vec::new();
        for &c in list {
            if c != ContentCoding::Identity && !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }
}

/// A name that is not one of a dimension's values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {given:?}: say {allowed}")]
pub struct UnknownVariant {
    what: &'static str,
    given: String,
    allowed: &'static str,
}

impl FromStr for HttpVersion {
    type Err = UnknownVariant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "1.1" | "1" | "h1" | "http/1.1" => Ok(HttpVersion::Http1),
            "2" | "h2" | "h2c" | "http/2" => Ok(HttpVersion::Http2),
            _ => Err(UnknownVariant {
                what: "HTTP version",
                given: s.to_owned(),
                allowed: "1.1 or 2",
            }),
        }
    }
}

impl FromStr for ContentCoding {
    type Err = UnknownVariant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "identity" | "off" | "none" => Ok(ContentCoding::Identity),
            "gzip" => Ok(ContentCoding::Gzip),
            "br" | "brotli" => Ok(ContentCoding::Br),
            _ => Err(UnknownVariant {
                what: "content coding",
                given: s.to_owned(),
                allowed: "identity (or off), gzip or br",
            }),
        }
    }
}

macro_rules! by_name {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

by_name!(HttpVersion);
by_name!(ContentCoding);

/// Reads a scenario key that names one value (`http = "2"`) or a list of
/// them to sweep (`http = ["1.1", "2"]`).
pub fn one_or_many<'de, T, D>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    T: FromStr + Deserialize<'de>,
    T::Err: fmt::Display,
    D: Deserializer<'de>,
{
    struct OneOrMany<T>(std::marker::PhantomData<T>);
    impl<'de, T> serde::de::Visitor<'de> for OneOrMany<T>
    where
        T: FromStr + Deserialize<'de>,
        T::Err: fmt::Display,
    {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a name or a list of names")
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
            text.parse().map(|v| vec![v]).map_err(E::custom)
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(v) = seq.next_element()? {
                out.push(v);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_any(OneOrMany(std::marker::PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_aliases_parse() {
        for v in HttpVersion::ALL {
            assert_eq!(v.name().parse::<HttpVersion>(), Ok(v));
        }
        for c in ContentCoding::ALL {
            assert_eq!(c.name().parse::<ContentCoding>(), Ok(c));
        }
        assert_eq!("h2c".parse::<HttpVersion>(), Ok(HttpVersion::Http2));
        assert_eq!("off".parse::<ContentCoding>(), Ok(ContentCoding::Identity));
        let err = "3".parse::<HttpVersion>().expect_err("no HTTP/3");
        assert!(err.to_string().contains("1.1 or 2"), "{err}");
        let err = "zstd".parse::<ContentCoding>().expect_err("no zstd");
        assert!(err.to_string().contains("gzip"), "{err}");
    }

    #[test]
    fn enabled_codings_are_each_once_in_order_without_identity() {
        use ContentCoding::{Br, Gzip, Identity};
        assert_eq!(
            ContentCoding::enabled(&[Identity, Br, Gzip, Br]),
            [Br, Gzip]
        );
        assert!(ContentCoding::enabled(&[Identity]).is_empty());
    }

    #[test]
    fn json_uses_the_names() {
        assert_eq!(
            serde_json::to_string(&HttpVersion::Http2).expect("json"),
            "\"2\""
        );
        assert_eq!(
            serde_json::from_str::<ContentCoding>("\"br\"").expect("json"),
            ContentCoding::Br
        );
    }
}
