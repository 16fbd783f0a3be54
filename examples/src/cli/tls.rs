//! TLS set-up for the command: certificates, client trust, and `-k`.

use super::Failure;
use sockless_tls::rustls;
use sockless_tls::rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use sockless_tls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::sync::Arc;

/// The server's config: the given PEM files, or a fresh self-signed
/// localhost certificate. Offers ALPN h2 then http/1.1.
pub fn server_config(
    cert: Option<&std::path::Path>,
    key: Option<&std::path::Path>,
) -> Result<(Arc<rustls::ServerConfig>, Vec<CertificateDer<'static>>), Failure> {
    let bad = |e: &dyn std::fmt::Display| Failure::new(35, format!("TLS setup: {e}"));
    let (chain, key) = match (cert, key) {
        (Some(c), Some(k)) => {
            let c = std::fs::read(c).map_err(|e| bad(&e))?;
            let k = std::fs::read(k).map_err(|e| bad(&e))?;
            (
                sockless_tls::certs_from_pem(&c).map_err(|e| bad(&e))?,
                sockless_tls::key_from_pem(&k).map_err(|e| bad(&e))?,
            )
        }
        _ => sockless_tls::self_signed_localhost().map_err(|e| bad(&e))?,
    };
    let alpn: [&[u8]; 2] = [sockless_tls::ALPN_H2, sockless_tls::ALPN_HTTP11];
    let config = sockless_tls::server_config(chain.clone(), key, &alpn, None).map_err(|e| bad(&e))?;
    Ok((config, chain))
}

/// A client config offering `alpn`, trusting the web's roots plus `extra`,
/// or nothing at all with `insecure` (`-k`).
pub fn client_config(
    alpn: &[&[u8]],
    extra: &[CertificateDer<'static>],
    insecure: bool,
) -> Result<Arc<rustls::ClientConfig>, Failure> {
    let bad = |e: &dyn std::fmt::Display| Failure::new(35, format!("TLS setup: {e}"));
    let mut store = sockless_tls::Roots::WebPki.into_store();
    for cert in extra {
        store.add(cert.clone()).map_err(|e| bad(&e))?;
    }
    let config = sockless_tls::client_config(sockless_tls::Roots::Store(store), alpn, None).map_err(|e| bad(&e))?;
    if !insecure {
        return Ok(config);
    }
    let mut config = (*config).clone();
    config.dangerous().set_certificate_verifier(Arc::new(AcceptAnything));
    Ok(Arc::new(config))
}

/// `-k`: no verification whatsoever.
#[derive(Debug)]
struct AcceptAnything;

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        sockless_tls::provider().signature_verification_algorithms.supported_schemes()
    }
}
