//! This server as the load generator's embedded one: [`InProcess`] starts
//! it for a [`ServeSpec`] (what `pushbench serve`'s flags would say), and a
//! running one answers the load generator through
//! [`EmbeddedServer`]. The traits are `pushbench_net::embedding`'s, so the
//! load generator knows them and not this crate; the CLI (`pushbench
//! trace`) and the load generator's tests hand an [`InProcess`] in.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use pushbench_net::embedding::{BoxFuture, EmbeddedServer, ServeSpec, StartError, StartServer};
use rustls::pki_types::CertificateDer;

use crate::response_headers::response_headers;
use crate::tls_identity::TlsIdentity;
use crate::{RunningServer, ServerConfig, spawn};

/// Starts servers in this process: `base` with the spec's rate, burst, payload,
/// topics, response headers, codings and TLS, and a ring of at least the
/// spec's.
#[derive(Clone, Debug, Default)]
pub struct InProcess {
    /// Every other setting (limits, `skip_every`, ...); its own `tls` stays
    /// when the spec asks for none.
    pub base: ServerConfig,
}

impl InProcess {
    /// Servers like `base` otherwise.
    pub fn new(base: ServerConfig) -> Self {
        InProcess { base }
    }

    async fn start_embedded(&self, spec: ServeSpec) -> Result<Embedded, StartError> {
        let tls_error = |e: crate::tls_identity::TlsError| StartError::Tls(e.to_string());
        let response_headers =
            response_headers(&spec.response_headers).map_err(StartError::ResponseHeaders)?;
        let identity = match spec.tls {
            true => Some(TlsIdentity::self_signed().map_err(tls_error)?),
            false => None,
        };
        let config = ServerConfig {
            rate: spec.rate,
            burst: spec.burst,
            payload: spec.payload,
            topics: spec.topics,
            ring: self.base.ring.max(spec.ring),
            response_headers,
            compression: spec.compression,
            tls: match &identity {
                Some(id) => Some(id.server_config().map_err(tls_error)?),
                None => self.base.tls.clone(),
            },
            ..self.base.clone()
        };
        let ip = if spec.every_address {
            [0, 0, 0, 0]
        } else {
            [127, 0, 0, 1]
        };
        let server = spawn(config, SocketAddr::from((ip, 0))).await?;
        Ok(Embedded {
            server,
            certificate: identity.map(|id| id.cert),
        })
    }
}

impl StartServer for InProcess {
    fn start(&self, spec: ServeSpec) -> BoxFuture<'_, Result<Box<dyn EmbeddedServer>, StartError>> {
        Box::pin(async move {
            let embedded: Box<dyn EmbeddedServer> = Box::new(self.start_embedded(spec).await?);
            Ok(embedded)
        })
    }
}

/// A server [`InProcess`] started, with the certificate it presents.
#[derive(Debug)]
pub struct Embedded {
    server: RunningServer,
    certificate: Option<CertificateDer<'static>>,
}

impl EmbeddedServer for Embedded {
    fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    fn certificate(&self) -> Option<&CertificateDer<'static>> {
        self.certificate.as_ref()
    }

    fn last_seq(&self) -> u64 {
        self.server.state().hub.last_seq()
    }

    fn publish_generated(&self, payload: usize) -> u64 {
        self.server.state().hub.publish_generated(payload, 1)
    }

    fn shutdown_within(self: Box<Self>, grace: Duration) -> BoxFuture<'static, io::Result<()>> {
        Box::pin(self.server.shutdown_within(grace))
    }
}

#[cfg(test)]
mod tests {
    use pushbench_protocol::{ContentCoding, HeaderProfile};

    use super::*;

    fn spec(tls: bool) -> ServeSpec {
        ServeSpec {
            rate: 0.0,
            burst: 1,
            payload: 16,
            topics: 1,
            ring: 100,
            response_headers: HeaderProfile::BROWSER,
            compression: vec![ContentCoding::Gzip],
            tls,
            every_address: false,
        }
    }

    #[tokio::test]
    async fn a_started_server_takes_the_spec_and_publishes_on_demand() {
        let starter: &dyn StartServer = &InProcess::default();
        let server = starter.start(spec(true)).await.expect("start");
        assert!(server.local_addr().ip().is_loopback());
        assert!(server.certificate().is_some(), "TLS was asked for");
        assert_eq!(server.last_seq(), 0);
        assert_eq!(server.publish_generated(16), 1);
        assert_eq!(server.last_seq(), 1);
        server
            .shutdown_within(Duration::from_secs(1))
            .await
            .expect("shutdown");
        let plain = starter.start(spec(false)).await.expect("start");
        assert!(plain.certificate().is_none());
        plain
            .shutdown_within(Duration::from_secs(1))
            .await
            .expect("shutdown");
    }

    #[tokio::test]
    async fn a_missing_header_file_is_named() {
        let starter = InProcess::default();
        let spec = ServeSpec {
            response_headers: HeaderProfile::File("/no/such/headers".into()),
            ..spec(false)
        };
        match starter.start(spec).await {
            Err(StartError::ResponseHeaders(e)) => assert!(e.contains("/no/such/headers"), "{e}"),
            other => panic!("expected a header error, got {other:?}"),
        }
    }
}
