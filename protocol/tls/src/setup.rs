//! Building rustls configs with the ring provider: server (with optional
//! client-certificate verification), client (webpki roots or a given root
//! store, optional client certificate), PEM loading, and a throwaway
//! self-signed localhost certificate.

use crate::error::TlsError;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::sync::Arc;

/// A certificate chain (leaf first) and its private key.
pub type CertifiedKey = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// ALPN identifier of HTTP/2.
pub const ALPN_H2: &[u8] = b"h2";
/// ALPN identifier of HTTP/1.1.
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// The crypto provider every helper uses: rustls' ring provider, with its
/// default cipher suites and key-exchange groups.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Which root certificates a client trusts.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Roots {
    /// Mozilla's root store, compiled in (the `webpki-roots` feature, on by default).
    #[cfg(feature = "webpki-roots")]
    WebPki,
    /// Exactly these roots (a private CA, a self-signed server certificate).
    Store(RootCertStore),
}

impl Roots {
    /// The root store itself.
    pub fn into_store(self) -> RootCertStore {
        match self {
            #[cfg(feature = "webpki-roots")]
            Roots::WebPki => RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() },
            Roots::Store(store) => store,
        }
    }

    /// A store holding exactly these certificates as roots; refuses one that is not a
    /// parseable X.509 certificate.
    pub fn from_certificates<'a>(
        certs: impl IntoIterator<Item = &'a CertificateDer<'static>>,
    ) -> Result<Roots, TlsError> {
        let mut store = RootCertStore::empty();
        for cert in certs {
            store.add(cert.clone()).map_err(TlsError::config)?;
        }
        Ok(Roots::Store(store))
    }
}

fn alpn_list(alpn: &[&[u8]]) -> Vec<Vec<u8>> {
    alpn.iter().map(|p| p.to_vec()).collect()
}

/// A server config: TLS 1.2 and 1.3 with the ring provider, this certificate
/// chain (leaf first) and key, these ALPN protocols in order of preference
/// (empty: no ALPN; a client that offers ALPN and shares none is refused
/// with `no_application_protocol`), and with `client_auth` every client must
/// present a certificate chaining to one of those roots (mTLS); without it
/// none is asked for.
pub fn server_config(
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    alpn: &[&[u8]],
    client_auth: Option<RootCertStore>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::config)?;
    let builder = match client_auth {
        None => builder.with_no_client_auth(),
        Some(roots) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::config(rustls::Error::General(e.to_string())))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(cert_chain, key).map_err(TlsError::config)?;
    config.alpn_protocols = alpn_list(alpn);
    Ok(Arc::new(config))
}

/// A client config: TLS 1.2 and 1.3 with the ring provider, verifying servers
/// against `roots`, offering these ALPN protocols in order of preference
/// (empty: no ALPN), and presenting `client_cert` (chain, key) when a server
/// asks for one (mTLS).
pub fn client_config(
    roots: Roots,
    alpn: &[&[u8]],
    client_cert: Option<CertifiedKey>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::config)?
        .with_root_certificates(roots.into_store());
    let mut config = match client_cert {
        None => builder.with_no_client_auth(),
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(TlsError::config)?,
    };
    config.alpn_protocols = alpn_list(alpn);
    Ok(Arc::new(config))
}

/// Every certificate in a PEM document (other sections are skipped).
pub fn certs_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::config(rustls::Error::General(format!("PEM certificates: {e}"))))
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM document.
pub fn key_from_pem(pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem)
        .map_err(|e| TlsError::config(rustls::Error::General(format!("PEM private key: {e}"))))
}

/// A fresh self-signed certificate (ECDSA P-256) for `localhost`,
/// `127.0.0.1` and `::1`, and its key: for a server started without a
/// certificate. Clients trust it by adding `chain[0]` to their roots
/// ([`Roots::from_certificates`]). Needs the `self-signed` feature (rcgen at
/// run time).
#[cfg(feature = "self-signed")]
pub fn self_signed_localhost() -> Result<CertifiedKey, TlsError> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    let certified = rcgen::generate_simple_self_signed(names)
        .map_err(|e| TlsError::config(rustls::Error::General(format!("self-signed certificate: {e}"))))?;
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    Ok((vec![certified.cert.der().clone()], key.into()))
}
