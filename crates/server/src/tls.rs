//! TLS for `serve --tls` and for the load generator's clients: a
//! self-signed certificate made at start (`rcgen`), rustls configurations
//! for both ends (ring, TLS 1.3 only), and certificate pinning.
//!
//! Both ends live here, beside [`crate::counting`], because they must agree:
//! the load generator's byte classes assume TLS 1.3 records
//! (`pushbench_protocol::tls_records`), so the server offers and the client accepts
//! only TLS 1.3, which is also what every current browser negotiates. The
//! server offers ALPN `h2` and `http/1.1` (in that order of preference, as
//! nginx and the others do); a client offers the one HTTP version its
//! phase speaks, so the handshake has a browser's shape and the version is
//! the phase's choice.
//!
//! The client trusts exactly one certificate, the server's own (pinned as
//! the only trust anchor): there is no "accept anything" mode.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};

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
    /// A PEM certificate file could not be read.
    #[error("reading the certificate {path}: {message}")]
    Pem {
        /// The file.
        path: String,
        /// What was wrong.
        message: String,
    },
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
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
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

/// The SHA-256 fingerprint of a DER certificate, colon-separated hex.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, cert.as_ref());
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client configuration that trusts `pinned` and nothing else (TLS 1.3
/// only, offering `http` alone by ALPN: `http/1.1` or `h2`). A server presenting any other certificate fails
/// the handshake with rustls' "invalid peer certificate" error.
///
/// Session resumption is off: every load-generator client stands for a
/// browser of its own, so no client may resume with a ticket another one
/// was given (one configuration serves them all), and every connection
/// pays the full handshake of a first visit. The server still sends its
/// tickets, as a real one does; they are counted as records.
pub fn client_config(
    pinned: &CertificateDer<'_>,
    http: pushbench_protocol::HttpVersion,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pinned.clone().into_owned())?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    Ok(offering(&config, http))
}

/// `config` offering `http` alone by ALPN: a client speaks the version its
/// phase measures, never what the server would prefer.
pub fn offering(
    config: &rustls::ClientConfig,
    http: pushbench_protocol::HttpVersion,
) -> Arc<rustls::ClientConfig> {
    let mut config = config.clone();
    config.alpn_protocols = vec![http.alpn().to_vec()];
    Arc::new(config)
}

/// The name a client checks the certificate against: the server's IP
/// address (the certificate names the loopback addresses).
pub fn server_name(ip: IpAddr) -> ServerName<'static> {
    ServerName::IpAddress(ip.into())
}

/// The first certificate of a PEM file (what `serve --tls-cert-out` wrote).
pub fn read_pem_certificate(path: &Path) -> Result<CertificateDer<'static>, TlsError> {
    CertificateDer::from_pem_file(path).map_err(|e| TlsError::Pem {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
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
        let missing = read_pem_certificate(Path::new("/nonexistent/cert.pem"));
        assert!(missing.is_err_and(|e| e.to_string().contains("/nonexistent/cert.pem")));
    }
}
