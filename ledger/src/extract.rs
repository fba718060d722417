//! The registry extract a device caches for offline verdicts: the organisations it deals with,
//! products with their markets and warranty policies, the issuer's public keys, the recall and
//! counterfeit-alert lists.
//!
//! Versioned: the hub numbers every change (an organisation or product added or changed, a
//! recall published or withdrawn, an alert raised or cleared) with the next version. A device
//! tells the hub the version it holds, and the hub answers with nothing (unchanged), an
//! [`ExtractDelta`] from that version, or the whole extract when the device is too far behind.
//! [`RegistryExtract::apply`] applies a delta, and gives the same extract the hub would send
//! whole at the delta's version.
//!
//! It also holds the rule for a serial's AI 8030 signature ([`signed_payload`],
//! [`signature_verifies`]), which the hub's public verification applies too.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use custodian_scanner::{ParseError, ProprietaryFormat, Scan};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::Epc;

/// Replaces the entries of `held` that `new` has a key for, adds the others, and keeps the list
/// sorted by key.
fn upsert<T: Clone>(held: &mut Vec<T>, new: &[T], key: impl Fn(&T) -> String) {
    if new.is_empty() {
        return;
    }
    held.retain(|h| !new.iter().any(|n| key(n) == key(h)));
    held.extend(new.iter().cloned());
    held.sort_by_key(|t| key(t));
}

/// What a serial's AI 8030 signature covers: the unit's GTIN-14 and serial, domain-separated so a
/// signature made for anything else never verifies as one.
pub fn signed_payload(gtin: &str, serial: &str) -> Vec<u8> {
    format!("custodian/sgtin/v1\u{1d}{gtin}\u{1d}{serial}").into_bytes()
}

/// Whether `signature` (AI 8030's decoded bytes) is `issuer`'s signature over the unit's
/// [`signed_payload`]. This is the one rule for a serial's signature: the device checks it with
/// the extract's keys ([`RegistryExtract::signature_valid`]) and the hub with its own key.
/// `false` for a malformed signature: a signature that cannot be checked is not a valid one.
pub fn signature_verifies(
    issuer: &VerifyingKey,
    gtin: &str,
    serial: &str,
    signature: &[u8],
) -> bool {
    Signature::from_slice(signature)
        .is_ok_and(|sig| issuer.verify(&signed_payload(gtin, serial), &sig).is_ok())
}

/// Reads what a scanner sent as this device reads every code: GS1 first, and text that is not
/// GS1 by the serial patterns the extract's products declare
/// ([`custodian_scanner::parse_with`]). Without an extract only GS1 is read.
///
/// # Errors
///
/// The text is no GS1 code and matches no declared pattern (or matches several products').
pub fn read(extract: Option<&RegistryExtract>, raw: &str) -> Result<Scan, ParseError> {
    match extract.map(RegistryExtract::formats) {
        Some(formats) if !formats.is_empty() => custodian_scanner::parse_with(raw, &formats),
        _ => custodian_scanner::parse(raw),
    }
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
    /// For a product that marks its units with serials of its own format: its product code
    /// (unique in the registry) and the pattern its serials follow. Its units are
    /// [`Epc::Proprietary`] under that code; the product keeps its GTIN as its key in the
    /// registry (recalls, orders). Left out of the JSON when absent, so extracts of GS1-only
    /// products read and hash as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proprietary: Option<ProprietaryFormat>,
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

impl IssuerKey {
    /// The Ed25519 key, or `None` if `public_key` is not one.
    pub fn verifying_key(&self) -> Option<VerifyingKey> {
        let bytes = STANDARD.decode(&self.public_key).ok()?;
        VerifyingKey::from_bytes(&<[u8; 32]>::try_from(bytes.as_slice()).ok()?).ok()
    }
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
    /// Why, in words: for a unit a partner reported, who reported it, when, and their note.
    pub reason: String,
}

/// What names a recall: its GTIN and lot (`None`: every lot). Publishing a recall with the key
/// of one held replaces it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RecallKey {
    pub gtin: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
}

impl Recall {
    pub fn key(&self) -> RecallKey {
        RecallKey {
            gtin: self.gtin.clone(),
            lot: self.lot.clone(),
        }
    }
}

/// The changes between two versions of the extract: what to put (replacing an entry with the
/// same key) and what to take away. Empty lists are left out of the JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractDelta {
    /// The version the delta applies to.
    pub from: u64,
    /// The version the extract has after it.
    pub to: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orgs: Vec<Org>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<Product>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issuer_keys: Vec<IssuerKey>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recalls: Vec<Recall>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recalls_withdrawn: Vec<RecallKey>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<Alert>,
    /// EPC URIs taken off the alert list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts_cleared: Vec<String>,
}

/// A delta that does not fit the extract it was applied to.
#[derive(Debug, thiserror::Error)]
#[error("the registry extract is at version {held}, but the update starts from version {from}")]
pub struct VersionMismatch {
    pub held: u64,
    pub from: u64,
}

impl RegistryExtract {
    /// Applies `delta` to this extract, which must be at `delta.from`. Entries keep the order
    /// the hub lists them in: organisations by id, products by GTIN, keys by id, alerts by EPC,
    /// recalls in the order they were published (a replaced one moves to the end).
    pub fn apply(&mut self, delta: &ExtractDelta) -> Result<(), VersionMismatch> {
        if self.version != delta.from {
            return Err(VersionMismatch {
                held: self.version,
                from: delta.from,
            });
        }
        upsert(&mut self.orgs, &delta.orgs, |o| o.id.clone());
        upsert(&mut self.products, &delta.products, |p| p.gtin.clone());
        upsert(&mut self.issuer_keys, &delta.issuer_keys, |k| k.id.clone());
        self.recalls.retain(|r| {
            let key = r.key();
            !delta.recalls_withdrawn.contains(&key) && !delta.recalls.iter().any(|n| n.key() == key)
        });
        self.recalls.extend(delta.recalls.iter().cloned());
        self.alerts
            .retain(|a| !delta.alerts_cleared.contains(&a.epc));
        upsert(&mut self.alerts, &delta.alerts, |a| a.epc.clone());
        self.version = delta.to;
        Ok(())
    }

    pub fn product(&self, gtin: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.gtin == gtin)
    }

    /// The product whose proprietary serials are registered under `code`.
    pub fn product_by_code(&self, code: &str) -> Option<&Product> {
        self.products
            .iter()
            .find(|p| p.proprietary.as_ref().is_some_and(|f| f.product == code))
    }

    /// The product a unit belongs to: by GTIN for a GS1 unit, by product code for a proprietary
    /// one; `None` for a logistic unit or a product not in the extract.
    pub fn product_of(&self, epc: &Epc) -> Option<&Product> {
        match epc {
            Epc::Unit { gtin, .. } => self.product(gtin.as_str()),
            Epc::Proprietary { product, .. } => self.product_by_code(product),
            Epc::Logistic(_) => None,
        }
    }

    /// The serial formats the products declare, for [`read`].
    pub fn formats(&self) -> Vec<ProprietaryFormat> {
        self.products
            .iter()
            .filter_map(|p| p.proprietary.clone())
            .collect()
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
        self.issuer_keys
            .iter()
            .filter_map(IssuerKey::verifying_key)
            .any(|key| signature_verifies(&key, gtin, serial, signature))
    }
}
