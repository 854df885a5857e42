//! The server's side of TLS (`serve --tls`): a self-signed certificate made
//! at start (`rcgen`) and the rustls server configuration (ring, TLS 1.3
//! only).
//!
//! The client's side, which must agree with it, is
//! [`pushbench_net::tls_config`] (TLS 1.3 only, the certificate pinned as
//! the only trust anchor); both use its crypto provider. The server offers
//! ALPN `h2` and `http/1.1` (in that order of preference, as nginx and the
//! others do); a client offers the one HTTP version its phase speaks, so
//! the handshake has a browser's shape and the version is the phase's
//! choice.

use std::sync::Arc;

use pushbench_net::tls_config::{crypto_provider, fingerprint};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The first byte of every TLS connection (a handshake record holding the
/// ClientHello). No HTTP request starts with it, so a server can tell a TLS
/// client from a plaintext one by peeking at one byte.
pub const FIRST_TLS_BYTE: u8 = 0x16;

/// ALPN id of HTTP/1.1.
pub const ALPN_HTTP1: &[u8] = b"http/1.1";
/// ALPN id of HTTP/2 over TLS.
pub const ALPN_H2: &[u8] = b"h2";

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate could not be made.
    #[error("making the self-signed certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// rustls refused a configuration.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// The server's certificate and key, made at start for 127.0.0.1, ::1 and
/// localhost. Its `Debug` leaves the key out.
pub struct TlsIdentity {
    /// The certificate, DER.
    pub cert: CertificateDer<'static>,
    /// The certificate, PEM (what `serve --tls-cert-out` writes).
    pub cert_pem: String,
    key: PrivatePkcs8KeyDer<'static>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("sha256", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// A new self-signed certificate (ECDSA P-256, rcgen's default) for the
    /// loopback addresses and `localhost`.
    pub fn self_signed() -> Result<Self, TlsError> {
        let names = ["127.0.0.1", "::1", "localhost"]
            .map(str::to_owned)
            .to_vec();
        let certified = rcgen::generate_simple_self_signed(names)?;
        Ok(TlsIdentity {
            cert: certified.cert.der().clone(),
            cert_pem: certified.cert.pem(),
            key: PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()),
        })
    }

    /// The SHA-256 fingerprint of the certificate, colon-separated hex (as
    /// browsers and `openssl x509 -fingerprint -sha256` show it).
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.cert)
    }

    /// The rustls server configuration: this certificate, TLS 1.3 only.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(crypto_provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_no_client_auth()
            .with_single_cert(
                vec![self.cert.clone()],
                PrivateKeyDer::Pkcs8(self.key.clone_key()),
            )?;
        config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP1.to_vec()];
        Ok(Arc::new(config))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use pushbench_net::tls_config::{client_config, read_pem_certificate};

    use super::*;

    #[test]
    fn a_self_signed_identity_makes_both_configurations() {
        let identity = TlsIdentity::self_signed().expect("certificate");
        assert!(identity.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        // 32 bytes: 64 hex digits and 31 colons.
        assert_eq!(identity.fingerprint().len(), 95);
        assert!(!format!("{identity:?}").contains("key:"));
        let server = identity.server_config().expect("server config");
        assert_eq!(
            server.alpn_protocols,
            vec![ALPN_H2.to_vec(), ALPN_HTTP1.to_vec()]
        );
        for http in pushbench_protocol::HttpVersion::ALL {
            let client = client_config(&identity.cert, http).expect("client config");
            assert_eq!(client.alpn_protocols, vec![http.alpn().to_vec()]);
        }
        let other = TlsIdentity::self_signed().expect("another");
        assert_ne!(identity.fingerprint(), other.fingerprint());
    }

    #[test]
    fn the_pem_written_is_the_pem_read() {
        let identity = TlsIdentity::self_signed().expect("certificate");
        let path = std::env::temp_dir().join(format!("pushbench-tls-{}.pem", std::process::id()));
        std::fs::write(&path, &identity.cert_pem).expect("write");
        let read = read_pem_certificate(&path).expect("read");
        let _ = std::fs::remove_file(&path);
        assert_eq!(read, identity.cert);
        let pinned = client_config(&read, pushbench_protocol::HttpVersion::Http1);
        assert!(pinned.is_ok());
        assert!(read_pem_certificate(Path::new("/nonexistent/cert.pem")).is_err());
    }
}
