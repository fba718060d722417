//! Trust between a device and its hub: the enrollment token, the device's signing key, and the
//! signature every sync request carries.
//!
//! The token carries the hub's URL, the certificate of the hub's own certificate authority (the
//! only root the device will ever trust for that hub: pinned at enrollment), the organisation and
//! site the device will speak for, and a one-time secret. Each device then signs every request
//! with its own Ed25519 key over the method, path, a strictly increasing counter and the body's
//! hash: the hub refuses unknown or revoked devices, bad signatures and replays.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const TOKEN_PREFIX: &str = "CUSTODIAN1.";

pub const HEADER_DEVICE: &str = "x-custodian-device";
pub const HEADER_COUNTER: &str = "x-custodian-counter";
pub const HEADER_SIGNATURE: &str = "x-custodian-signature";

/// What a device needs to enroll with a hub.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollmentToken {
    pub hub: String,
    /// DER of the hub's CA certificate, base64.
    pub ca: String,
    pub org: String,
    pub site: String,
    pub secret: String,
}

impl EnrollmentToken {
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("a token always serialises");
        format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(json))
    }

    pub fn decode(token: &str) -> Result<EnrollmentToken, String> {
        let body = token
            .trim()
            .strip_prefix(TOKEN_PREFIX)
            .ok_or_else(|| format!("not an enrollment token: it must start with {TOKEN_PREFIX}"))?;
        let json = URL_SAFE_NO_PAD.decode(body).map_err(|e| {
            format!("enrollment token is damaged (base64: {e}); copy it again from the hub")
        })?;
        serde_json::from_slice(&json)
            .map_err(|e| format!("enrollment token is damaged ({e}); copy it again from the hub"))
    }

    pub fn ca_der(&self) -> Result<Vec<u8>, String> {
        STANDARD
            .decode(&self.ca)
            .map_err(|e| format!("enrollment token: hub certificate is not base64: {e}"))
    }
}

/// Hash of a secret as the hub stores it (the secret itself is never stored).
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Device → hub at enrollment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EnrollRequest {
    pub secret: String,
    /// The device's Ed25519 public key, base64.
    pub public_key: String,
    pub name: String,
}

/// Hub → device at enrollment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EnrollResponse {
    pub device: String,
    pub org: String,
    pub site: String,
}

/// The bytes a request signature covers.
pub fn signed_request(method: &str, path: &str, counter: u64, body: &[u8]) -> Vec<u8> {
    format!(
        "custodian/request/v1\n{method}\n{path}\n{counter}\n{}",
        hex::encode(Sha256::digest(body))
    )
    .into_bytes()
}

pub fn sign_request(
    key: &SigningKey,
    method: &str,
    path: &str,
    counter: u64,
    body: &[u8],
) -> String {
    STANDARD.encode(
        key.sign(&signed_request(method, path, counter, body))
            .to_bytes(),
    )
}

/// Checks a request signature against a device's public key (base64).
pub fn verify_request(
    public_key: &str,
    signature: &str,
    method: &str,
    path: &str,
    counter: u64,
    body: &[u8],
) -> Result<(), String> {
    let key = STANDARD
        .decode(public_key)
        .map_err(|_| "device key on record is damaged".to_string())?;
    let key = <[u8; 32]>::try_from(key.as_slice())
        .map_err(|_| "device key on record is damaged".to_string())?;
    let key = VerifyingKey::from_bytes(&key)
        .map_err(|_| "device key on record is damaged".to_string())?;
    let sig = STANDARD
        .decode(signature)
        .map_err(|_| "request signature is not base64".to_string())?;
    let sig = Signature::from_slice(&sig)
        .map_err(|_| "request signature has the wrong length".to_string())?;
    key.verify(&signed_request(method, path, counter, body), &sig)
        .map_err(|_| {
            "request signature does not verify: the request was altered or signed by another key"
                .to_string()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trip_and_damage() {
        let t = EnrollmentToken {
            hub: "https://127.0.0.1:1".into(),
            ca: "AAAA".into(),
            org: "o".into(),
            site: "s".into(),
            secret: "x".into(),
        };
        assert_eq!(EnrollmentToken::decode(&t.encode()).unwrap(), t);
        assert!(
            EnrollmentToken::decode("hello")
                .unwrap_err()
                .contains("must start with")
        );
        let mut damaged = t.encode();
        damaged.truncate(damaged.len() - 5);
        assert!(
            EnrollmentToken::decode(&damaged)
                .unwrap_err()
                .contains("damaged")
        );
    }

    #[test]
    fn signatures_bind_every_part() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let public = STANDARD.encode(key.verifying_key().to_bytes());
        let sig = sign_request(&key, "POST", "/v1/sync", 5, b"body");
        assert!(verify_request(&public, &sig, "POST", "/v1/sync", 5, b"body").is_ok());
        assert!(verify_request(&public, &sig, "POST", "/v1/sync", 6, b"body").is_err());
        assert!(verify_request(&public, &sig, "POST", "/v1/sync", 5, b"bodx").is_err());
        assert!(verify_request(&public, &sig, "POST", "/v1/other", 5, b"body").is_err());
    }
}
