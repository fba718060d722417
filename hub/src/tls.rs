//! The hub's TLS identity: its own certificate authority (created once, kept in the data
//! directory, pinned by every device at enrollment) and a server certificate signed by it,
//! issued afresh at every start for the names the hub answers on.

use std::net::IpAddr;
use std::path::Path;

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};

/// The CA certificate (DER) and a server certificate chain and key (PEM) for `ips`.
pub struct TlsMaterial {
    pub ca_der: Vec<u8>,
    pub cert_pem: String,
    pub key_pem: String,
}

fn ca_params() -> Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "Custodian hub CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

/// Loads the CA from `dir/tls`, creating it on first use, and issues a server certificate.
pub fn load_or_create(dir: &Path, ips: &[IpAddr]) -> Result<TlsMaterial> {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).with_context(|| format!("creating {}", tls.display()))?;
    let key_path = tls.join("ca.key.pem");
    let der_path = tls.join("ca.der");
    if !key_path.exists() || !der_path.exists() {
        let key = KeyPair::generate()?;
        let cert = ca_params()?.self_signed(&key)?;
        std::fs::write(&der_path, cert.der())
            .with_context(|| format!("writing {}", der_path.display()))?;
        std::fs::write(&key_path, key.serialize_pem())
            .with_context(|| format!("writing {}", key_path.display()))?;
    }
    let ca_key_pem = std::fs::read_to_string(&key_path)
        .with_context(|| format!("reading {}", key_path.display()))?;
    let ca_key = KeyPair::from_pem(&ca_key_pem).context("the hub CA key is damaged")?;
    let ca_der =
        std::fs::read(&der_path).with_context(|| format!("reading {}", der_path.display()))?;
    let issuer = Issuer::new(ca_params()?, ca_key);

    let mut params = CertificateParams::new(vec!["localhost".to_string()])?;
    params
        .distinguished_name
        .push(DnType::CommonName, "Custodian hub");
    let mut all_ips: Vec<IpAddr> = vec!["127.0.0.1".parse()?, "::1".parse()?];
    all_ips.extend(ips.iter().filter(|ip| !ip.is_unspecified()));
    all_ips.dedup();
    for ip in all_ips {
        params.subject_alt_names.push(SanType::IpAddress(ip));
    }
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    Ok(TlsMaterial {
        ca_der,
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// A certificate given as PEM (its first `CERTIFICATE` block) or DER, as DER.
pub fn certificate_der(bytes: &[u8]) -> Result<Vec<u8>, crate::HubError> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(bytes.to_vec());
    };
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    let Some(start) = text.find(BEGIN) else {
        return Err(crate::HubError::BadRequest(
            "neither a PEM certificate nor DER".into(),
        ));
    };
    let body = &text[start + BEGIN.len()..];
    let end = body
        .find("-----END CERTIFICATE-----")
        .ok_or_else(|| crate::HubError::BadRequest("the PEM certificate has no end".into()))?;
    let b64: String = body[..end].split_whitespace().collect();
    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64)
        .map_err(|e| crate::HubError::BadRequest(format!("the PEM certificate: {e}")))
}
