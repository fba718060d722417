//! The registry extract a device caches for offline verdicts: the organisations it deals with,
//! products with their markets and warranty policies, the issuer's public keys, the recall and
//! counterfeit-alert lists. Versioned, so a device fetches it again only when it changed.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

/// What a serial's AI 8030 signature covers: the unit's GTIN-14 and serial, domain-separated so a
/// signature made for anything else never verifies as one.
pub fn signed_payload(gtin: &str, serial: &str) -> Vec<u8> {
    format!("custodian/sgtin/v1\u{1d}{gtin}\u{1d}{serial}").into_bytes()
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryExtract {
    pub version: u64,
    pub orgs: Vec<Org>,
    pub products: Vec<Product>,
    pub issuer_keys: Vec<IssuerKey>,
    pub recalls: Vec<Recall>,
    pub alerts: Vec<Alert>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    pub id: String,
    pub name: String,
    /// `manufacturer`, `distributor`, `retailer`, `service`.
    pub role: String,
    /// ISO 3166 country code of the market the organisation serves.
    pub market: String,
    pub gln: String,
}

/// A product and its policies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub gtin: String,
    pub name: String,
    /// Warranty cover from the sale or registration (else from manufacture).
    pub warranty_months: u32,
    /// ISO 3166 codes of the markets the product is intended for.
    pub markets: Vec<String>,
    /// Warranty claims one unit may make before each further claim is referred to the
    /// manufacturer as a quality alert; 0 for no limit. Extracts from before this policy
    /// existed read as [`DEFAULT_CLAIM_THRESHOLD`].
    #[serde(default = "default_claim_threshold")]
    pub claim_threshold: u32,
}

/// The claim threshold of a product whose policy does not state one.
pub const DEFAULT_CLAIM_THRESHOLD: u32 = 3;

fn default_claim_threshold() -> u32 {
    DEFAULT_CLAIM_THRESHOLD
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuerKey {
    pub id: String,
    /// Ed25519 public key, base64.
    pub public_key: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recall {
    pub gtin: String,
    /// `None` recalls every lot.
    pub lot: Option<String>,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// EPC URI of a unit reported counterfeit.
    pub epc: String,
    pub reason: String,
}

impl RegistryExtract {
    pub fn product(&self, gtin: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.gtin == gtin)
    }

    pub fn org(&self, id: &str) -> Option<&Org> {
        self.orgs.iter().find(|o| o.id == id)
    }

    pub fn recall(&self, gtin: &str, lot: Option<&str>) -> Option<&Recall> {
        self.recalls
            .iter()
            .find(|r| r.gtin == gtin && (r.lot.is_none() || r.lot.as_deref() == lot))
    }

    pub fn alert(&self, epc: &str) -> Option<&Alert> {
        self.alerts.iter().find(|a| a.epc == epc)
    }

    /// Whether any issuer key verifies `signature` over the unit. `false` for a malformed key or
    /// signature: a signature that cannot be checked is not a valid one.
    pub fn signature_valid(&self, gtin: &str, serial: &str, signature: &[u8]) -> bool {
        let Ok(sig) = Signature::from_slice(signature) else {
            return false;
        };
        let payload = signed_payload(gtin, serial);
        self.issuer_keys.iter().any(|k| {
            let Ok(bytes) = STANDARD.decode(&k.public_key) else {
                return false;
            };
            let Ok(arr) = <[u8; 32]>::try_from(bytes.as_slice()) else {
                return false;
            };
            VerifyingKey::from_bytes(&arr).is_ok_and(|vk| vk.verify(&payload, &sig).is_ok())
        })
    }
}
