//! The event model: immutable, content-addressed facts about units, in EPCIS 2.0 / CBV 2.0 terms.
//!
//! An [`Event`] never changes once recorded; corrections are new events. Its [`EventId`] is a
//! SHA-256 over a canonical serialisation of its content (everything but the id), so the same
//! fact recorded or uploaded twice is recognised as one event and the event set is a grow-only
//! set merged by union.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate};
use custodian_scanner::{Gtin, Identity, Sscc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The domain under which units and logistic units are named as GS1 Digital Link URIs.
///
/// EPCIS 2.0 accepts Digital Link URIs as EPCs; the canonical `id.gs1.org` domain keeps the same
/// unit the same string whatever domain its label carried.
pub const EPC_DOMAIN: &str = "https://id.gs1.org";

/// The prefix of a proprietary unit's EPC URI: `urn:custodian:unit:<product>:<serial>`.
///
/// GS1 has no EPC for a serial in a manufacturer's own format, and EPCIS 2.0 takes any URI in
/// an `epcList`. A URN in the product's own namespace (beside `urn:custodian:org:` for parties)
/// claims no GS1 key and no web domain. Both parts are percent-encoded outside RFC 3986's
/// unreserved set (the Digital Link encoder), so `:` can only be the separator and the URI is
/// one canonical string per unit.
pub const PROPRIETARY_PREFIX: &str = "urn:custodian:unit:";

/// A unit (SGTIN), a proprietary unit (product code + serial) or a logistic unit (SSCC), the
/// things events are about.
///
/// A proprietary unit is a unit like an SGTIN for everything the ledger and the hub derive
/// (custody, verdicts, flags, after-sales); only what GS1 defines (a GTIN, a lot, AI 8030) is
/// for [`Epc::Unit`] alone.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Epc {
    /// One serialised trade item: GTIN-14 + serial.
    Unit { gtin: Gtin, serial: String },
    /// One pallet or case.
    Logistic(Sscc),
    /// One unit of a product that marks its units in its own serial format (its registered
    /// product code + the serial the product's pattern read). Both are non-empty.
    Proprietary { product: String, serial: String },
}

impl Epc {
    /// The EPC of what a scan identifies, if it names one instance (not just a product).
    pub fn from_identity(identity: &Identity) -> Option<Epc> {
        match identity {
            Identity::Unit { gtin, serial } => Some(Epc::Unit {
                gtin: gtin.clone(),
                serial: serial.clone(),
            }),
            Identity::Logistic(sscc) => Some(Epc::Logistic(sscc.clone())),
            Identity::Proprietary { product, serial }
                if !product.is_empty() && !serial.is_empty() =>
            {
                Some(Epc::Proprietary {
                    product: product.clone(),
                    serial: serial.clone(),
                })
            }
            // A product without a serial names no instance.
            _ => None,
        }
    }

    /// The canonical URI, which is also this EPC's key in storage: a GS1 Digital Link URI on
    /// [`EPC_DOMAIN`], or [`PROPRIETARY_PREFIX`] with the product code and serial.
    pub fn uri(&self) -> String {
        use custodian_scanner::percent_encode;
        match self {
            Epc::Unit { gtin, serial } => {
                format!("{EPC_DOMAIN}/01/{gtin}/21/{}", percent_encode(serial))
            }
            Epc::Logistic(sscc) => format!("{EPC_DOMAIN}/00/{sscc}"),
            Epc::Proprietary { product, serial } => format!(
                "{PROPRIETARY_PREFIX}{}:{}",
                percent_encode(product),
                percent_encode(serial)
            ),
        }
    }

    /// Parses a canonical EPC URI as produced by [`Epc::uri`] (a Digital Link URI on any
    /// domain, or a proprietary unit's URN).
    pub fn parse(uri: &str) -> Result<Epc, EpcError> {
        if let Some(rest) = uri.strip_prefix(PROPRIETARY_PREFIX) {
            let proprietary = || EpcError::Proprietary(uri.to_string());
            let (product, serial) = rest.split_once(':').ok_or_else(proprietary)?;
            let product = percent_decode(product).ok_or_else(proprietary)?;
            let serial = percent_decode(serial).ok_or_else(proprietary)?;
            if product.is_empty() || serial.is_empty() {
                return Err(proprietary());
            }
            return Ok(Epc::Proprietary { product, serial });
        }
        let scan = custodian_scanner::parse(uri).map_err(|source| EpcError::Unreadable {
            uri: uri.to_string(),
            source,
        })?;
        scan.identity()
            .as_ref()
            .and_then(Epc::from_identity)
            .ok_or_else(|| EpcError::NotAThing(uri.to_string()))
    }

    /// The GTIN of a GS1 unit; `None` for a logistic unit and for a proprietary unit (whose
    /// product is found by its code: [`crate::RegistryExtract::product_of`]).
    pub fn gtin(&self) -> Option<&Gtin> {
        match self {
            Epc::Unit { gtin, .. } => Some(gtin),
            Epc::Logistic(_) | Epc::Proprietary { .. } => None,
        }
    }

    /// Whether this names one unit (GS1 or proprietary), not a pallet or case.
    pub fn is_unit(&self) -> bool {
        !matches!(self, Epc::Logistic(_))
    }

    /// The serial of a unit, GS1 or proprietary.
    pub fn serial(&self) -> Option<&str> {
        match self {
            Epc::Unit { serial, .. } | Epc::Proprietary { serial, .. } => Some(serial),
            Epc::Logistic(_) => None,
        }
    }

    /// A short human label: `GTIN 09506000134352 serial ABC`, `SSCC 0950…` or
    /// `product ACME-DRILL serial 00012345`.
    pub fn label(&self) -> String {
        match self {
            Epc::Unit { gtin, serial } => format!("GTIN {gtin} serial {serial}"),
            Epc::Logistic(sscc) => format!("SSCC {sscc}"),
            Epc::Proprietary { product, serial } => format!("product {product} serial {serial}"),
        }
    }
}

/// Decodes `%XX` escapes (either case); `None` for a malformed escape, a byte outside RFC
/// 3986's unreserved set left unescaped, or text that is not UTF-8 once decoded.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') => {
                out.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

impl fmt::Display for Epc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri())
    }
}

impl From<Epc> for String {
    fn from(epc: Epc) -> String {
        epc.uri()
    }
}

impl TryFrom<String> for Epc {
    type Error = EpcError;
    fn try_from(s: String) -> Result<Epc, EpcError> {
        Epc::parse(&s)
    }
}

/// Why a text is not an EPC URI.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EpcError {
    /// It does not read as a GS1 key at all.
    #[error("{uri}: {source}")]
    Unreadable {
        uri: String,
        source: custodian_scanner::ParseError,
    },
    /// It reads, but names a product (a GTIN without a serial), not a unit or logistic unit.
    #[error("{0}: names a product, not a unit or logistic unit")]
    NotAThing(String),
    /// It begins as a proprietary unit's URN but is not `urn:custodian:unit:PRODUCT:SERIAL`
    /// with both parts non-empty and percent-encoded.
    #[error(
        "{0}: a proprietary unit is urn:custodian:unit:PRODUCT:SERIAL, both parts non-empty and percent-encoded"
    )]
    Proprietary(String),
}

/// EPCIS event types the product acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    ObjectEvent,
    AggregationEvent,
}

/// EPCIS action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Action {
    Add,
    Observe,
    Delete,
}

/// CBV 2.0 business steps the product records (no invented values).
///
/// A part fitted into a unit is `installing` (an aggregation that adds the part to the unit) and
/// a part taken out is `removing`; a warranty registration is `other`, the CBV's own value for a
/// step outside its list, with what it registers in the `cust:` extension. A unit put in
/// quarantine is `holding` with `non_sellable_other`, and its release is `holding` with
/// `sellable_accessible`: the latest `holding` event says whether a hold is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BizStep {
    Commissioning,
    Packing,
    Unpacking,
    Shipping,
    Receiving,
    RetailSelling,
    Inspecting,
    Holding,
    Repairing,
    Installing,
    Removing,
    Decommissioning,
    Destroying,
    Other,
}

impl BizStep {
    pub const ALL: [BizStep; 14] = [
        BizStep::Commissioning,
        BizStep::Packing,
        BizStep::Unpacking,
        BizStep::Shipping,
        BizStep::Receiving,
        BizStep::RetailSelling,
        BizStep::Inspecting,
        BizStep::Holding,
        BizStep::Repairing,
        BizStep::Installing,
        BizStep::Removing,
        BizStep::Decommissioning,
        BizStep::Destroying,
        BizStep::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BizStep::Commissioning => "commissioning",
            BizStep::Packing => "packing",
            BizStep::Unpacking => "unpacking",
            BizStep::Shipping => "shipping",
            BizStep::Receiving => "receiving",
            BizStep::RetailSelling => "retail_selling",
            BizStep::Inspecting => "inspecting",
            BizStep::Holding => "holding",
            BizStep::Repairing => "repairing",
            BizStep::Installing => "installing",
            BizStep::Removing => "removing",
            BizStep::Decommissioning => "decommissioning",
            BizStep::Destroying => "destroying",
            BizStep::Other => "other",
        }
    }

    /// The bare CBV word back to the step.
    pub fn parse(word: &str) -> Option<BizStep> {
        BizStep::ALL.into_iter().find(|s| s.as_str() == word)
    }

    /// Where a step falls among steps recorded at the same instant: a unit is made before it is
    /// packed, shipped before it is received, received back before it is refurbished or
    /// scrapped; a unit is inspected before it is held in quarantine. Only a tie-break; event
    /// time always comes first.
    pub(crate) fn phase(self) -> u8 {
        match self {
            BizStep::Commissioning => 0,
            BizStep::Packing => 1,
            BizStep::Shipping => 2,
            BizStep::Receiving => 3,
            BizStep::Unpacking => 4,
            BizStep::RetailSelling => 5,
            BizStep::Other => 6,
            BizStep::Inspecting => 7,
            BizStep::Holding => 8,
            BizStep::Removing => 9,
            BizStep::Installing => 10,
            BizStep::Repairing => 11,
            BizStep::Decommissioning => 12,
            BizStep::Destroying => 13,
        }
    }
}

/// CBV 2.0 dispositions the product records.
///
/// A refurbished unit is `repairing` with `sellable_accessible`: repaired and fit to be sold
/// again. A unit reported counterfeit is `non_sellable_other`, the reason being in the report;
/// so is a unit held in quarantine (`holding`), and its release makes it `sellable_accessible`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    Active,
    InTransit,
    InProgress,
    Returned,
    RetailSold,
    Recalled,
    Destroyed,
    Inactive,
    SellableAccessible,
    NonSellableOther,
}

impl Disposition {
    pub const ALL: [Disposition; 10] = [
        Disposition::Active,
        Disposition::InTransit,
        Disposition::InProgress,
        Disposition::Returned,
        Disposition::RetailSold,
        Disposition::Recalled,
        Disposition::Destroyed,
        Disposition::Inactive,
        Disposition::SellableAccessible,
        Disposition::NonSellableOther,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Active => "active",
            Disposition::InTransit => "in_transit",
            Disposition::InProgress => "in_progress",
            Disposition::Returned => "returned",
            Disposition::RetailSold => "retail_sold",
            Disposition::Recalled => "recalled",
            Disposition::Destroyed => "destroyed",
            Disposition::Inactive => "inactive",
            Disposition::SellableAccessible => "sellable_accessible",
            Disposition::NonSellableOther => "non_sellable_other",
        }
    }

    /// The bare CBV word back to the disposition.
    pub fn parse(word: &str) -> Option<Disposition> {
        Disposition::ALL.into_iter().find(|d| d.as_str() == word)
    }
}

/// The CBV business-transaction type of an advance shipping notice.
pub const ASN: &str = "desadv";

/// A business transaction an event belongs to (CBV `bt` types: `desadv` for an ASN, `po`, `inv`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BizTransaction {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

/// Who recorded an event: the organisation and site it speaks for, and the device.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Recorder {
    pub org: String,
    pub site: String,
    pub device: String,
}

/// The content of an event, everything its id is computed from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventBody {
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub action: Action,
    pub biz_step: BizStep,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<Disposition>,
    /// Event time with the recording device's time zone offset.
    pub event_time: DateTime<FixedOffset>,
    /// The units or logistic units (for an aggregation: the children).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub epcs: Vec<Epc>,
    /// The logistic unit an aggregation packs into or unpacks from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Epc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub biz_transactions: Vec<BizTransaction>,
    /// Owning party a transfer comes from (organisation id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Owning party a transfer goes to (organisation id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    pub recorder: Recorder,
    /// What the event says beyond the CBV words (EPCIS extension fields). Left out of the JSON
    /// when empty, so an event without extensions keeps the id it always had.
    #[serde(default, skip_serializing_if = "Extension::is_empty")]
    pub extension: Extension,
}

/// What an event says beyond the CBV words, carried in EPCIS extension fields of the `cust:`
/// namespace (see [`crate::epcis`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    /// The lot (AI 10) the scanned code carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
    /// The expiry date (AI 17) the scanned code carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<NaiveDate>,
    /// A warranty registration, a warranty claim, a counterfeit report, a quarantine or a
    /// release from quarantine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Detail>,
    /// Present when this event declares an earlier one erroneous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_declaration: Option<ErrorDeclaration>,
}

impl Extension {
    pub fn is_empty(&self) -> bool {
        *self == Extension::default()
    }
}

/// The after-sales facts the CBV has no words for. Each rides on an event whose business step
/// is a CBV one: a registration on `other`, a claim and a counterfeit report on `inspecting`, a
/// quarantine and its release on `holding`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detail {
    /// The unit's owner registered it for warranty; coverage starts here if it was not sold.
    WarrantyRegistration { owner: Text },
    /// A warranty claim for one defect.
    WarrantyClaim {
        defect: Defect,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<Text>,
    },
    /// Someone who held the unit believes it counterfeit.
    CounterfeitReport {
        note: Text,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        photo: Option<Photo>,
    },
    /// The unit is held: it must not be sold or shipped until it is released.
    Quarantine { reason: Text },
    /// A hold is lifted, with what was found.
    Release { note: Text },
}

/// Why a value a person entered, or a record holds, is not a [`Text`], [`Defect`] or
/// [`PhotoHash`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("is empty")]
    Empty,
    #[error("is longer than {max} characters")]
    TooLong { max: usize },
    #[error("the defect is empty: say what is wrong (e.g. \"battery fault\")")]
    NoDefect,
    #[error("the defect is longer than {max} characters")]
    DefectTooLong { max: usize },
    #[error("{0:?} is not a SHA-256 in hex (64 digits)")]
    NotSha256(String),
}

/// Free text a person entered: trimmed, not empty, at most [`Text::MAX`] characters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Text(String);

impl Text {
    pub const MAX: usize = 2000;

    /// What stands in for words another organisation keeps private (see [`Event::disclosed`]).
    pub const WITHHELD: &'static str = "(withheld: private to the organisation that recorded it)";

    /// [`Text::WITHHELD`] as a text.
    pub fn withheld() -> Text {
        Text(Text::WITHHELD.to_string())
    }

    pub fn parse(s: &str) -> Result<Text, ValueError> {
        let t = s.trim();
        if t.is_empty() {
            return Err(ValueError::Empty);
        }
        if t.chars().count() > Text::MAX {
            return Err(ValueError::TooLong { max: Text::MAX });
        }
        Ok(Text(t.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        t.0
    }
}

impl TryFrom<String> for Text {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Text, ValueError> {
        Text::parse(&s)
    }
}

/// A defect as claimed: lower case, single spaces, so that "Battery  fault" and "battery fault"
/// are one defect when a claim is checked for a duplicate.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Defect(String);

impl Defect {
    pub const MAX: usize = 200;

    pub fn parse(s: &str) -> Result<Defect, ValueError> {
        let words: Vec<String> = s.split_whitespace().map(str::to_lowercase).collect();
        let d = words.join(" ");
        if d.is_empty() {
            return Err(ValueError::NoDefect);
        }
        if d.chars().count() > Defect::MAX {
            return Err(ValueError::DefectTooLong { max: Defect::MAX });
        }
        Ok(Defect(d))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Defect> for String {
    fn from(d: Defect) -> String {
        d.0
    }
}

impl TryFrom<String> for Defect {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Defect, ValueError> {
        Defect::parse(&s)
    }
}

/// A photo taken as evidence: where it is kept and the SHA-256 of its bytes, so the photo
/// itself never travels with the event but can be proven to be the one taken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Photo {
    pub reference: Text,
    pub sha256: PhotoHash,
}

impl Photo {
    /// A photo's record from its bytes.
    pub fn of_bytes(reference: Text, bytes: &[u8]) -> Photo {
        Photo {
            reference,
            sha256: PhotoHash(hex::encode(Sha256::digest(bytes))),
        }
    }
}

/// 64 lower-case hex digits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhotoHash(String);

impl PhotoHash {
    pub fn parse(s: &str) -> Result<PhotoHash, ValueError> {
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(PhotoHash(s.to_ascii_lowercase()))
        } else {
            Err(ValueError::NotSha256(s.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<PhotoHash> for String {
    fn from(h: PhotoHash) -> String {
        h.0
    }
}

impl TryFrom<String> for PhotoHash {
    type Error = ValueError;
    fn try_from(s: String) -> Result<PhotoHash, ValueError> {
        PhotoHash::parse(&s)
    }
}

/// An EPCIS error declaration: the event carrying it repeats an earlier event's content and
/// declares that event erroneous. Derived views (custody, manifests, warranty, the hub's checks)
/// then ignore both. The earlier event's id is the content id of this one without the
/// declaration ([`Event::declared_id`]), so the declaration names it without a separate field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDeclaration {
    pub declaration_time: DateTime<FixedOffset>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<ErrorReason>,
    /// Events recorded to replace the erroneous one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub corrective_event_ids: Vec<EventId>,
    /// Who declared the error (the event itself keeps its original recorder).
    pub declared_by: Recorder,
}

/// The CBV 2.0 error reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorReason {
    DidNotOccur,
    IncorrectData,
}

impl ErrorReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorReason::DidNotOccur => "did_not_occur",
            ErrorReason::IncorrectData => "incorrect_data",
        }
    }

    pub fn parse(word: &str) -> Option<ErrorReason> {
        [ErrorReason::DidNotOccur, ErrorReason::IncorrectData]
            .into_iter()
            .find(|r| r.as_str() == word)
    }
}

/// A content-derived event id: `ni:///sha-256;<hex>`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub String);

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An immutable event and its content id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    #[serde(flatten)]
    pub body: EventBody,
    /// Present when the hub passed the event on to another organisation with its recorder's
    /// private words left out (see [`Event::disclosed`]): the id is still the original's, which
    /// the content no longer yields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withheld: Option<Withheld>,
}

/// What a receiver needs of an event whose private words were left out: its content no longer
/// yields its id, nor, for an error declaration, the id of the event it declares.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withheld {
    /// The event this one declares erroneous, when it is an error declaration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declares: Option<EventId>,
}

impl Event {
    /// Seals a body into an event by computing its id.
    pub fn new(body: EventBody) -> Event {
        Event {
            id: body.content_id(),
            body,
            withheld: None,
        }
    }

    /// True when the stored id is the one the content yields (a tampered event is not, nor one
    /// whose private words were withheld).
    pub fn is_sealed(&self) -> bool {
        self.withheld.is_none() && self.body.content_id() == self.id
    }

    /// The event as an organisation other than its recorder may see it: the free text its
    /// recorder's people wrote and the customer data it carries (a quarantine's reason, a
    /// release's note, a counterfeit report's note and photo, a warranty claim's note, the owner
    /// a unit was registered to) are replaced by [`Text::withheld`]. Everything a rule needs
    /// (which unit, what step, when, who, the kind of detail, a claim's defect) stays. An event
    /// with nothing private is returned as it is, still sealed.
    pub fn disclosed(&self) -> Event {
        let Some(detail) = &self.body.extension.detail else {
            return self.clone();
        };
        let withheld = Text::withheld();
        let private = match detail {
            Detail::WarrantyRegistration { .. } => Detail::WarrantyRegistration { owner: withheld },
            Detail::WarrantyClaim { defect, note } => Detail::WarrantyClaim {
                defect: defect.clone(),
                note: note.as_ref().map(|_| withheld),
            },
            Detail::CounterfeitReport { .. } => Detail::CounterfeitReport {
                note: withheld,
                photo: None,
            },
            Detail::Quarantine { .. } => Detail::Quarantine { reason: withheld },
            Detail::Release { .. } => Detail::Release { note: withheld },
        };
        if &private == detail {
            return self.clone();
        }
        let mut shown = self.clone();
        shown.withheld = Some(Withheld {
            declares: self.declared_id(),
        });
        shown.body.extension.detail = Some(private);
        shown
    }

    /// The event this one declares erroneous, if it is an error declaration.
    pub fn declared_id(&self) -> Option<EventId> {
        self.body.extension.error_declaration.as_ref()?;
        if let Some(w) = &self.withheld {
            return w.declares.clone();
        }
        let mut original = self.body.clone();
        original.extension.error_declaration = None;
        Some(original.content_id())
    }

    /// Declares `original` erroneous: the same content with an error declaration.
    pub fn declaring_error(original: &Event, declaration: ErrorDeclaration) -> Event {
        let mut body = original.body.clone();
        body.extension.error_declaration = Some(declaration);
        Event::new(body)
    }

    /// Who answers for this event: the declarer of an error declaration, else the recorder.
    pub fn recorded_by(&self) -> &Recorder {
        self.body
            .extension
            .error_declaration
            .as_ref()
            .map_or(&self.body.recorder, |d| &d.declared_by)
    }

    /// The after-sales detail the event carries, if any.
    pub fn detail(&self) -> Option<&Detail> {
        self.body.extension.detail.as_ref()
    }

    /// The order events are folded in: by event time, then by business step where two share
    /// an instant (a return before the refurbishing it led to), then by id. Every replica sorts
    /// the same events the same way, whatever order they arrived in.
    pub fn fold_order(a: &Event, b: &Event) -> std::cmp::Ordering {
        a.body
            .event_time
            .cmp(&b.body.event_time)
            .then(a.body.biz_step.phase().cmp(&b.body.biz_step.phase()))
            .then(a.id.cmp(&b.id))
    }

    /// Whether this event names `epc` itself, among its things or as its parent, rather than
    /// reaching it through a container it was in: a unit's own history (its warranty, claims,
    /// repairs) is made of these.
    pub fn names(&self, epc: &Epc) -> bool {
        self.body.epcs.contains(epc) || self.body.parent.as_ref() == Some(epc)
    }

    /// The ASN / order this event belongs to, if any.
    pub fn transaction(&self, kind: &str) -> Option<&str> {
        self.body
            .biz_transactions
            .iter()
            .find(|t| t.kind == kind)
            .map(|t| t.id.as_str())
    }
}

impl EventBody {
    /// SHA-256 over the canonical JSON of the body (struct field order is fixed, maps are not
    /// used), as a named-information URI.
    pub fn content_id(&self) -> EventId {
        let canonical = serde_json::to_vec(self).expect("an event body always serialises");
        EventId(format!(
            "ni:///sha-256;{}",
            hex::encode(Sha256::digest(&canonical))
        ))
    }
}

/// Why a JSON file of events (the ledger's own event format) was refused, all of it: the first
/// problem, with its JSON path, e.g. `[3].epcs[0]: …`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventsJsonError {
    /// The text is not a JSON array: not JSON at all, cut short, or another kind of value.
    /// `path` is where reading stopped (`.` for the top) and `reason` what the JSON reader
    /// said, kept as text so that the error can be cloned and compared.
    #[error("{path}: {reason}")]
    NotAnArray { path: String, reason: String },
    /// The event at `index` (from 0) is not an event of the ledger's format: a field missing
    /// or of the wrong type, or an EPC that does not read. `path` is the place inside it.
    #[error("[{index}].{path}: {reason}")]
    NotAnEvent {
        index: usize,
        path: String,
        reason: String,
    },
    /// The event at `index` gives an `id` other than the one its content hashes to: it was
    /// changed after it was recorded, or the id belongs to another event.
    #[error("[{index}].id: {given} is not the id of this content ({actual})")]
    WrongId {
        index: usize,
        given: String,
        actual: EventId,
    },
}

/// A JSON file of events refused is input the ledger does not accept.
impl From<EventsJsonError> for crate::Error {
    fn from(e: EventsJsonError) -> crate::Error {
        crate::Error::Invalid(e.to_string())
    }
}

/// Reads a JSON array of events (the ledger's own event format), all or nothing. The first
/// error is reported with its path, e.g. `[3].epcs[0]: …`. An `id`, where given, must be the one
/// the content yields.
pub fn events_from_json(text: &str) -> Result<Vec<Event>, EventsJsonError> {
    let values: Vec<serde_json::Value> = {
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| EventsJsonError::NotAnArray {
            path: e.path().to_string(),
            reason: e.inner().to_string(),
        })?
    };
    let mut events = Vec::with_capacity(values.len());
    for (index, value) in values.into_iter().enumerate() {
        let given = value.get("id").and_then(|v| v.as_str()).map(str::to_string);
        let body: EventBody =
            serde_path_to_error::deserialize(value).map_err(|e| EventsJsonError::NotAnEvent {
                index,
                path: e.path().to_string(),
                reason: e.inner().to_string(),
            })?;
        let event = Event::new(body);
        if let Some(given) = given
            && given != event.id.0
        {
            return Err(EventsJsonError::WrongId {
                index,
                given,
                actual: event.id,
            });
        }
        events.push(event);
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> EventBody {
        EventBody {
            event_type: EventType::ObjectEvent,
            action: Action::Observe,
            biz_step: BizStep::Receiving,
            disposition: Some(Disposition::InProgress),
            event_time: DateTime::parse_from_rfc3339("2026-11-02T10:00:00+01:00").unwrap(),
            epcs: vec![Epc::parse("https://id.gs1.org/01/09506000134352/21/A%2F1").unwrap()],
            parent: None,
            biz_transactions: vec![BizTransaction {
                kind: "desadv".into(),
                id: "ASN-1".into(),
            }],
            source: None,
            destination: None,
            recorder: Recorder {
                org: "o".into(),
                site: "s".into(),
                device: "d".into(),
            },
            extension: Extension::default(),
        }
    }

    #[test]
    fn same_content_same_id_and_any_change_changes_it() {
        let a = Event::new(body());
        let b = Event::new(body());
        assert_eq!(a.id, b.id);
        assert!(a.id.0.starts_with("ni:///sha-256;"));
        let mut changed = body();
        changed.recorder.device = "other".into();
        assert_ne!(Event::new(changed).id, a.id);
    }

    #[test]
    fn json_round_trip_keeps_the_id_valid() {
        let e = Event::new(body());
        let json = serde_json::to_string(&e).unwrap();
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e);
        assert!(back.is_sealed());
        let tampered = json.replace("\"device\":\"d\"", "\"device\":\"x\"");
        let t: Event = serde_json::from_str(&tampered).unwrap();
        assert!(!t.is_sealed());
    }

    #[test]
    fn epc_uri_round_trips_with_escaped_serial() {
        let epc = Epc::parse("https://example.com/01/09506000134352/21/A%2F1").unwrap();
        assert_eq!(epc.uri(), "https://id.gs1.org/01/09506000134352/21/A%2F1");
        assert_eq!(Epc::parse(&epc.uri()).unwrap(), epc);
    }

    #[test]
    fn proprietary_uri_escapes_both_parts() {
        let epc = Epc::Proprietary {
            product: "ACME:DRILL".into(),
            serial: "A/1 ü".into(),
        };
        assert_eq!(epc.uri(), "urn:custodian:unit:ACME%3ADRILL:A%2F1%20%C3%BC");
        assert_eq!(Epc::parse(&epc.uri()).unwrap(), epc);
        assert!(epc.is_unit());
        assert_eq!(epc.gtin(), None);
        for bad in [
            "urn:custodian:unit:ACME",
            "urn:custodian:unit::1",
            "urn:custodian:unit:ACME:",
            "urn:custodian:unit:A:B:C",
            "urn:custodian:unit:A:%C3",
            "urn:custodian:unit:A:%G1",
        ] {
            assert_eq!(
                Epc::parse(bad),
                Err(EpcError::Proprietary(bad.into())),
                "{bad}"
            );
        }
    }
}
