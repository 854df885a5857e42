//! The TLS both ends agree on, from the client's side: rustls with the ring
//! provider, TLS 1.3 only, a client that trusts exactly one certificate
//! (the server's own, pinned as the only trust anchor: there is no "accept
//! anything" mode) and offers the one HTTP version its phase speaks.
//!
//! The load generator's byte classes assume TLS 1.3 records
//! (`pushbench_protocol::tls`), so the server offers and the client accepts
//! only TLS 1.3, which is also what every current browser negotiates. The
//! server's self-signed identity and its configuration live with the server
//! (`pushbench_server::tls_identity`), which builds on [`crypto_provider`]
//! and [`fingerprint`] from here.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use pushbench_protocol::HttpVersion;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};

/// Why a client configuration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// rustls refused a configuration (or the pinned certificate).
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

/// The crypto provider of both ends: ring (aws-lc-rs would need a C build).
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The SHA-256 fingerprint of a DER certificate, colon-separated hex (as
/// browsers and `openssl x509 -fingerprint -sha256` show it).
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, cert.as_ref());
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
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
    http: HttpVersion,
) -> Result<Arc<rustls::ClientConfig>, TlsConfigError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pinned.clone().into_owned())?;
    let mut config = rustls::ClientConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    Ok(offering(&config, http))
}

/// `config` offering `http` alone by ALPN: a client speaks the version its
/// phase measures, never what the server would prefer.
pub fn offering(config: &rustls::ClientConfig, http: HttpVersion) -> Arc<rustls::ClientConfig> {
    let mut config = config.clone();
    config.alpn_protocols = vec![http.alpn().to_vec()];
    Arc::new(config)
}

/// The name a client checks the certificate against: a loopback server's
/// IP address (no SNI is sent for an address), else `localhost`, which
/// `pushbench serve`'s certificate names too: over an emulated link the
/// server is dialled at the link's address, which no certificate made at
/// start can name. The certificate is pinned either way.
pub fn server_name(ip: IpAddr) -> ServerName<'static> {
    if ip.is_loopback() {
        ServerName::IpAddress(ip.into())
    } else {
        ServerName::DnsName(rustls::pki_types::DnsName::try_from("localhost").expect("a DNS name"))
    }
}

/// The first certificate of a PEM file (what `serve --tls-cert-out` wrote).
pub fn read_pem_certificate(path: &Path) -> Result<CertificateDer<'static>, TlsConfigError> {
    CertificateDer::from_pem_file(path).map_err(|e| TlsConfigError::Pem {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_pem_names_its_path() {
        let missing = read_pem_certificate(Path::new("/nonexistent/cert.pem"));
        assert!(missing.is_err_and(|e| e.to_string().contains("/nonexistent/cert.pem")));
    }

    #[test]
    fn a_certificate_that_is_not_one_is_refused() {
        let junk = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00]);
        assert!(client_config(&junk, HttpVersion::Http1).is_err());
    }

    #[test]
    fn fingerprints_are_colon_separated_sha256() {
        let cert = CertificateDer::from(b"abc".to_vec());
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            fingerprint(&cert),
            "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        );
    }
}
