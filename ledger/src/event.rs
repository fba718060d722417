//! The event model: immutable, content-addressed facts about units, in EPCIS 2.0 / CBV 2.0 terms.
//!
//! An [`Event`] never changes once recorded; corrections are new events. Its [`EventId`] is a
//! SHA-256 over a canonical serialisation of its content (everything but the id), so the same
//! fact recorded or uploaded twice is recognised as one event and the event set is a grow-only
//! set merged by union.

use std::fmt;

use chrono::{DateTime, FixedOffset};
use custodian_scanner::{Gtin, Identity, Sscc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The domain under which units and logistic units are named as GS1 Digital Link URIs.
///
/// EPCIS 2.0 accepts Digital Link URIs as EPCs; the canonical `id.gs1.org` domain keeps the same
/// unit the same string whatever domain its label carried.
pub const EPC_DOMAIN: &str = "https://id.gs1.org";

/// A unit (SGTIN) or a logistic unit (SSCC), the things events are about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Epc {
    /// One serialised trade item: GTIN-14 + serial.
    Unit { gtin: Gtin, serial: String },
    /// One pallet or case.
    Logistic(Sscc),
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
            Identity::Product(_) => None,
        }
    }

    /// The canonical GS1 Digital Link URI, which is also this EPC's key in storage.
    pub fn uri(&self) -> String {
        match self {
            Epc::Unit { gtin, serial } => {
                format!("{EPC_DOMAIN}/01/{gtin}/21/{}", percent_encode(serial))
            }
            Epc::Logistic(sscc) => format!("{EPC_DOMAIN}/00/{sscc}"),
        }
    }

    /// Parses a canonical EPC URI as produced by [`Epc::uri`] (any Digital Link domain).
    pub fn parse(uri: &str) -> Result<Epc, String> {
        let scan = custodian_scanner::parse(uri).map_err(|e| format!("{uri}: {e}"))?;
        scan.identity()
            .as_ref()
            .and_then(Epc::from_identity)
            .ok_or_else(|| format!("{uri}: names a product, not a unit or logistic unit"))
    }

    pub fn gtin(&self) -> Option<&Gtin> {
        match self {
            Epc::Unit { gtin, .. } => Some(gtin),
            Epc::Logistic(_) => None,
        }
    }

    /// A short human label: `GTIN 09506000134352 serial ABC` or `SSCC 0950…`.
    pub fn label(&self) -> String {
        match self {
            Epc::Unit { gtin, serial } => format!("GTIN {gtin} serial {serial}"),
            Epc::Logistic(sscc) => format!("SSCC {sscc}"),
        }
    }
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
    type Error = String;
    fn try_from(s: String) -> Result<Epc, String> {
        Epc::parse(&s)
    }
}

/// Percent-encodes everything outside RFC 3986's unreserved set, as Digital Link requires.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
    Repairing,
    Decommissioning,
    Destroying,
}

impl BizStep {
    pub fn as_str(self) -> &'static str {
        match self {
            BizStep::Commissioning => "commissioning",
            BizStep::Packing => "packing",
            BizStep::Unpacking => "unpacking",
            BizStep::Shipping => "shipping",
            BizStep::Receiving => "receiving",
            BizStep::RetailSelling => "retail_selling",
            BizStep::Inspecting => "inspecting",
            BizStep::Repairing => "repairing",
            BizStep::Decommissioning => "decommissioning",
            BizStep::Destroying => "destroying",
        }
    }
}

/// CBV 2.0 dispositions the product records.
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
}

impl Disposition {
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
        }
    }
}

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
}

impl Event {
    /// Seals a body into an event by computing its id.
    pub fn new(body: EventBody) -> Event {
        Event {
            id: body.content_id(),
            body,
        }
    }

    /// True when the stored id is the one the content yields (a tampered event is not).
    pub fn is_sealed(&self) -> bool {
        self.body.content_id() == self.id
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

/// Reads a JSON array of events (the ledger's own event format), all or nothing. The first
/// error is reported with its path, e.g. `[3].epcs[0]: …`. An `id`, where given, must be the one
/// the content yields.
pub fn events_from_json(text: &str) -> Result<Vec<Event>, String> {
    let values: Vec<serde_json::Value> = {
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| format!("{}: {}", e.path(), e.inner()))?
    };
    let mut events = Vec::with_capacity(values.len());
    for (i, value) in values.into_iter().enumerate() {
        let given = value.get("id").and_then(|v| v.as_str()).map(str::to_string);
        let body: EventBody = serde_path_to_error::deserialize(value)
            .map_err(|e| format!("[{i}].{}: {}", e.path(), e.inner()))?;
        let event = Event::new(body);
        if let Some(given) = given
            && given != event.id.0
        {
            return Err(format!(
                "[{i}].id: {given} is not the id of this content ({})",
                event.id
            ));
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
}
