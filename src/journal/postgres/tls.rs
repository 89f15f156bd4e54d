//! TLS to PostgreSQL over rustls (the rustls, crypto provider and platform verifier reqwest
//! already brings), in the three strengths libpq's `sslmode` names: no verification
//! (`prefer`, `require`), the chain to the `sslrootcert` CA (`verify-ca`), the chain and the
//! host name (`verify-full`). Which strength a host gets is [`super::target`]'s to decide.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use tokio_postgres_rustls::MakeRustlsConnect;

/// What is checked of the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verify {
    /// Nothing: the connection is encrypted, but to whoever answered (`prefer`, `require`).
    Nothing,
    /// That a CA of `sslrootcert` signed it, whatever host it names (`verify-ca`).
    Chain,
    /// The chain, and that it names the host connected to (`verify-full`).
    ChainAndName,
}

/// Where the CAs that vouch for the server come from (`sslrootcert`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RootCert {
    /// Not given: the system's roots where a name is checked.
    Unset,
    /// `sslrootcert=system`: the system's roots, said explicitly.
    System,
    /// A PEM file of CA certificates.
    File(PathBuf),
}

/// The TLS connector for one strength of verification.
pub(super) fn connector(verify: Verify, roots: &RootCert) -> Result<MakeRustlsConnect, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match (verify, roots) {
        (Verify::Nothing, _) => Arc::new(Unverified(provider.clone())),
        (Verify::Chain, RootCert::File(path)) => Arc::new(ChainOnly(webpki(path, &provider)?)),
        (Verify::Chain, _) => {
            return Err("sslmode=verify-ca needs sslrootcert=FILE, the CA that signed the server's certificate".into());
        }
        (Verify::ChainAndName, RootCert::File(path)) => webpki(path, &provider)?,
        (Verify::ChainAndName, RootCert::Unset | RootCert::System) => Arc::new(
            rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|e| {
                format!("the system's CA certificates cannot be used ({e}); give the server's CA with sslrootcert=FILE")
            })?,
        ),
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS cannot be set up: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// A verifier of chain and name against the CAs in the PEM file at `path`.
fn webpki(
    path: &Path,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, String> {
    let shown = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| format!("sslrootcert `{shown}` cannot be read: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "sslrootcert `{shown}` holds no certificate (a PEM file of CA certificates is expected)"
        ));
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| {
            format!("sslrootcert `{shown}` holds a certificate that cannot be a CA: {e}")
        })?;
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("sslrootcert `{shown}` cannot be used: {e}"))
}

/// `verify-ca`: the chain must lead to a CA of `sslrootcert`; the name is not looked at.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the name only once the chain holds, so a wrong name alone is all this
        // lets through.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer` and `require`: any certificate, as libpq takes it; the handshake's signatures are
/// still checked, so the session is with whoever holds the certificate's key.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
