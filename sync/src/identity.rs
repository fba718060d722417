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
pub const HEADER_CLOCK: &str = "x-custodian-clock";

/// Why an enrollment token cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("not an enrollment token: it must start with {TOKEN_PREFIX}")]
    NotAToken,
    /// The text is cut or altered: what failed to read.
    #[error("enrollment token is damaged ({0}); copy it again from the hub")]
    Damaged(String),
    #[error("this enrollment token expired at {0}: ask the hub for a new one")]
    Expired(String),
    #[error("enrollment token: hub certificate is not base64: {0}")]
    Certificate(String),
}

/// Why a request's signature is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("device key on record is damaged")]
    KeyOnRecord,
    #[error("request signature is not base64")]
    NotBase64,
    #[error("request signature has the wrong length")]
    Length,
    #[error("request signature does not verify: the request was altered or signed by another key")]
    Mismatch,
}

/// What a device needs to enroll with a hub.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollmentToken {
    pub hub: String,
    /// DER of the hub's CA certificate, base64.
    pub ca: String,
    pub org: String,
    pub site: String,
    pub secret: String,
    /// When the hub stops accepting the token (RFC 3339). Tokens from before expiries were
    /// carried have none; the hub still checks its own record of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

impl EnrollmentToken {
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("a token always serialises");
        format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(json))
    }

    pub fn decode(token: &str) -> Result<EnrollmentToken, TokenError> {
        let body = token
            .trim()
            .strip_prefix(TOKEN_PREFIX)
            .ok_or(TokenError::NotAToken)?;
        let json = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|e| TokenError::Damaged(format!("base64: {e}")))?;
        serde_json::from_slice(&json).map_err(|e| TokenError::Damaged(e.to_string()))
    }

    /// Refuses a token whose expiry has passed at `now`, saying when it expired.
    pub fn check_expiry(&self, now: chrono::DateTime<chrono::Utc>) -> Result<(), TokenError> {
        let Some(expires) = &self.expires else {
            return Ok(());
        };
        let at = chrono::DateTime::parse_from_rfc3339(expires)
            .map_err(|e| TokenError::Damaged(format!("expiry {expires:?}: {e}")))?;
        if at <= now {
            return Err(TokenError::Expired(expires.clone()));
        }
        Ok(())
    }

    pub fn ca_der(&self) -> Result<Vec<u8>, TokenError> {
        STANDARD
            .decode(&self.ca)
            .map_err(|e| TokenError::Certificate(e.to_string()))
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
pub fn signed_request(
    method: &str,
    path: &str,
    counter: u64,
    clock_ms: i64,
    body: &[u8],
) -> Vec<u8> {
    format!(
        "custodian/request/v2\n{method}\n{path}\n{counter}\n{clock_ms}\n{}",
        hex::encode(Sha256::digest(body))
    )
    .into_bytes()
}

/// What authenticates one device request: who sends it, a strictly increasing counter (no
/// replays), the device's clock at sending (the hub measures the device's clock offset from
/// it), and the signature over all of that and the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestAuth {
    pub device: String,
    pub counter: u64,
    /// Unix time in milliseconds by the device's clock.
    pub clock_ms: i64,
    /// Ed25519 signature, base64.
    pub signature: String,
}

impl RequestAuth {
    pub fn sign(
        key: &SigningKey,
        device: &str,
        counter: u64,
        clock_ms: i64,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> RequestAuth {
        let signature = STANDARD.encode(
            key.sign(&signed_request(method, path, counter, clock_ms, body))
                .to_bytes(),
        );
        RequestAuth {
            device: device.to_string(),
            counter,
            clock_ms,
            signature,
        }
    }

    /// The HTTP headers that carry it.
    pub fn headers(&self) -> [(&'static str, String); 4] {
        [
            (HEADER_DEVICE, self.device.clone()),
            (HEADER_COUNTER, self.counter.to_string()),
            (HEADER_CLOCK, self.clock_ms.to_string()),
            (HEADER_SIGNATURE, self.signature.clone()),
        ]
    }

    /// Checks the signature against a device's public key (base64).
    pub fn verify(
        &self,
        public_key: &str,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<(), SignatureError> {
        let damaged = |_| SignatureError::KeyOnRecord;
        let key = STANDARD
            .decode(public_key)
            .map_err(|_| SignatureError::KeyOnRecord)?;
        let key = <[u8; 32]>::try_from(key.as_slice()).map_err(|_| SignatureError::KeyOnRecord)?;
        let key = VerifyingKey::from_bytes(&key).map_err(damaged)?;
        let sig = STANDARD
            .decode(&self.signature)
            .map_err(|_| SignatureError::NotBase64)?;
        let sig = Signature::from_slice(&sig).map_err(|_| SignatureError::Length)?;
        key.verify(
            &signed_request(method, path, self.counter, self.clock_ms, body),
            &sig,
        )
        .map_err(|_| SignatureError::Mismatch)
    }
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
            expires: Some("2030-01-01T00:00:00Z".into()),
        };
        assert_eq!(EnrollmentToken::decode(&t.encode()).unwrap(), t);
        let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        assert!(t.check_expiry(at("2029-12-31T23:59:59Z")).is_ok());
        let err = t.check_expiry(at("2030-01-01T00:00:00Z")).unwrap_err();
        assert_eq!(err, TokenError::Expired("2030-01-01T00:00:00Z".into()));
        assert!(
            err.to_string().contains("expired at 2030-01-01T00:00:00Z"),
            "{err}"
        );
        let old = EnrollmentToken {
            expires: None,
            ..t.clone()
        };
        assert!(old.check_expiry(at("2099-01-01T00:00:00Z")).is_ok());
        assert_eq!(
            EnrollmentToken::decode("hello").unwrap_err(),
            TokenError::NotAToken
        );
        let mut damaged = t.encode();
        damaged.truncate(damaged.len() - 5);
        let err = EnrollmentToken::decode(&damaged).unwrap_err();
        assert!(matches!(err, TokenError::Damaged(_)), "{err}");
        assert!(
            err.to_string().contains("copy it again from the hub"),
            "{err}"
        );
    }

    #[test]
    fn signatures_bind_every_part() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let public = STANDARD.encode(key.verifying_key().to_bytes());
        let auth = RequestAuth::sign(&key, "dev", 5, 1_000, "POST", "/v1/sync", b"body");
        assert!(auth.verify(&public, "POST", "/v1/sync", b"body").is_ok());
        for altered in [
            RequestAuth {
                counter: 6,
                ..auth.clone()
            },
            RequestAuth {
                clock_ms: 999,
                ..auth.clone()
            },
        ] {
            assert!(
                altered
                    .verify(&public, "POST", "/v1/sync", b"body")
                    .is_err()
            );
        }
        assert!(auth.verify(&public, "POST", "/v1/sync", b"bodx").is_err());
        assert!(auth.verify(&public, "POST", "/v1/other", b"body").is_err());
    }
}
