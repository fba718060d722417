//! EPCIS 2.0 JSON-LD: the ledger's events as a standard document, and standard documents as
//! events. **API Boundary:** this is how the ledger meets ERPs, WMSs and other EPCIS systems.
//!
//! Mapping choices:
//! - EPCs are GS1 Digital Link URIs on `id.gs1.org`; `urn:epc:id:sgtin:` and `urn:epc:id:sscc:`
//!   are accepted on import and converted.
//! - Business steps and dispositions are bare CBV 2.0 words on export; the `urn:epcglobal:cbv:`
//!   and `https://ref.gs1.org/cbv/` forms are accepted on import.
//! - Parties are `urn:custodian:org:<id>` (owning party); business transactions that are not
//!   URIs already become `urn:custodian:bt:<id>`.
//! - Who recorded the event travels in the extension `cust:recordedBy`.
//! - The event id is the ledger's content hash of the imported content, so re-importing a
//!   document never duplicates an event. An `eventID` in this ledger's own form
//!   (`ni:///sha-256;<hex>`, as export writes it) is a claim about the content: one that is
//!   not the content's hash (the content was changed after its id was given) is refused, naming
//!   its path. A CBV 2.0 hash id (`ni:///sha-256;<hex>?ver=CBV2.0`) is made by GS1's own
//!   canonical form ([`event_hash_id`], in `epcis/hash.rs`; the hub stores events that come
//!   without an id under it). An import does not check a given one yet: unless it is the
//!   ledger's hash with the suffix, the import reports it (see [`Imported::notes`]) and stores
//!   the event under its content id. Two events of one document under one `eventID` with different content
//!   (an error declaration repeats its event's id, and is not counted) are refused.
//! - Event and declaration times must lie in [`EARLIEST_TIME`] .. the importing device's clock
//!   plus [`FUTURE_LEEWAY_HOURS`], and a `cust:expiry` in the years a label's AI 17 can carry
//!   (1951–2050). The hard limit is the export format's: RFC 3339 has four-digit years, so a
//!   time chrono holds past 9999 (up to +262142) would be written as text no importer reads
//!   back. Nothing real is older than the ledger's serialised units or a day ahead of a device
//!   whose clock is roughly right.
//! - A document holds at most [`MAX_EVENTS`] events; a file at most [`MAX_DOCUMENT_BYTES`].
//!   Names (parties, recorders, business transactions) are at most [`MAX_NAME_CHARS`]
//!   characters and a `cust:lot` at most 20 (AI 10's length); notes and reasons are
//!   [`Text`], at most [`Text::MAX`].
//! - What the CBV has no words for travels in extension fields of the `cust:` namespace
//!   (`https://custodian.dev/epcis/`): `cust:lot` and `cust:expiry` (what the scanned label
//!   carried), `cust:warrantyRegistration {cust:owner}`, `cust:warrantyClaim {cust:defect,
//!   cust:note}`, `cust:counterfeitReport {cust:note, cust:photo {cust:reference,
//!   cust:sha256}}`, `cust:quarantine {cust:reason}` and `cust:release {cust:note}`. The
//!   business steps stay CBV words (`other`, `inspecting`, `holding`).
//! - A correction is an EPCIS error declaration: the erroneous event's content again, with the
//!   same `eventID` and an `errorDeclaration` (`declarationTime`, `reason`,
//!   `correctiveEventIDs`, and who declared it in `cust:declaredBy`).

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use custodian_scanner::{Gtin, ParseError, Sscc, check_digit};
use serde_json::{Map, Value, json};

mod hash;
mod standard;
pub mod xml;

pub use hash::{HASH_ID_VERSION, HashError, event_hash_id, pre_hash};
pub use standard::{
    BIZ_STEPS, BIZ_TRANSACTION_TYPES, DISPOSITIONS, ERROR_REASONS, EVENT_TYPES, MEASUREMENT_TYPES,
    SOURCE_DEST_TYPES, is_uri,
};

use crate::event::{
    Action, BizStep, BizTransaction, Defect, Detail, Disposition, Epc, EpcError, ErrorDeclaration,
    ErrorReason, Event, EventBody, EventId, EventType, Extension, Photo, PhotoHash, Recorder, Text,
};

const CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
const NAMESPACE: &str = "https://custodian.dev/epcis/";
const ORG_PREFIX: &str = "urn:custodian:org:";
const BT_PREFIX: &str = "urn:custodian:bt:";
const HASH_ID_PREFIX: &str = "ni:///sha-256;";

/// The largest EPCIS document imported, in bytes. An ASN of a full truck (a few tens of
/// thousands of units, each EPC some 60 bytes, grouped in a few events) is a few megabytes.
pub const MAX_DOCUMENT_BYTES: usize = 32 << 20;
/// The most events one document may hold.
pub const MAX_EVENTS: usize = 100_000;
/// The earliest event time imported: 2000-01-01T00:00:00Z (seconds since 1970).
pub const EARLIEST_TIME: i64 = 946_684_800;
/// How far past the importing device's clock an event time may lie (a partner's clock ahead).
pub const FUTURE_LEEWAY_HOURS: i64 = 24;

/// Why a time or an expiry date lies outside what the ledger takes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("{} is before 2000-01-01T00:00:00Z, earlier than any event this ledger takes", .0.to_rfc3339())]
    TooEarly(DateTime<FixedOffset>),
    #[error("{} is more than {FUTURE_LEEWAY_HOURS} hours after this device's clock ({}): check the sender's clock or the date", .time.to_rfc3339(), .now.to_rfc3339())]
    TooLate {
        time: DateTime<FixedOffset>,
        now: DateTime<FixedOffset>,
    },
    #[error("{0}: a label's expiry (AI 17) names a year from 1951 to 2050")]
    Expiry(NaiveDate),
}

/// Whether `time` lies in the window events are imported in, relative to the device's clock
/// `now`.
pub fn check_time(
    time: DateTime<FixedOffset>,
    now: DateTime<FixedOffset>,
) -> Result<(), WindowError> {
    let latest = now
        .checked_add_signed(chrono::TimeDelta::hours(FUTURE_LEEWAY_HOURS))
        .unwrap_or(now);
    if time.timestamp() < EARLIEST_TIME {
        return Err(WindowError::TooEarly(time));
    }
    if time > latest {
        return Err(WindowError::TooLate { time, now });
    }
    Ok(())
}

/// The longest name taken from a document: a party, a recorder's organisation, site or
/// device, a business transaction and its type. EPCIS names are URIs of a few dozen characters.
pub const MAX_NAME_CHARS: usize = 256;
/// The longest `cust:lot`: AI 10 holds at most 20 characters.
const MAX_LOT_CHARS: usize = 20;

/// `s` when it has at most `max` characters; the reason, with `path`, when not.
fn short<'a>(s: &'a str, path: &str, max: usize) -> Result<&'a str, ImportError> {
    let chars = s.chars().count();
    if chars > max {
        return Err(err(
            path,
            format!("{chars} characters; at most {max} are taken here"),
        ));
    }
    Ok(s)
}

/// Whether `expiry` lies in the years a label's expiry (AI 17, YYMMDD) can name, 1951 to
/// 2050.
pub fn check_expiry(expiry: NaiveDate) -> Result<(), WindowError> {
    if (1951..=2050).contains(&expiry.year()) {
        Ok(())
    } else {
        Err(WindowError::Expiry(expiry))
    }
}

/// The events as an EPCIS 2.0 JSON-LD document.
pub fn export(events: &[Event], created: DateTime<FixedOffset>) -> Value {
    export_with(events, created, |_| None, Vec::new())
}

/// The events as an EPCIS 2.0 JSON-LD document, each written as `as_it_came` gives it (the
/// standard events it was read from) or, when that gives nothing, as the ledger writes it;
/// then `unjudged`, standard events kept as they came.
pub fn export_with(
    events: &[Event],
    created: DateTime<FixedOffset>,
    mut as_it_came: impl FnMut(&Event) -> Option<Vec<Value>>,
    unjudged: Vec<Value>,
) -> Value {
    let mut list = Vec::with_capacity(events.len() + unjudged.len());
    for e in events {
        match as_it_came(e) {
            Some(values) => list.extend(values),
            None => list.push(export_event(e)),
        }
    }
    list.extend(unjudged);
    json!({
        "@context": [CONTEXT, { "cust": NAMESPACE }],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": created.to_rfc3339(),
        "epcisBody": { "eventList": list },
    })
}

fn party(org: &str) -> String {
    format!("{ORG_PREFIX}{org}")
}

fn export_event(e: &Event) -> Value {
    let b = &e.body;
    let mut m = Map::new();
    let kind = match b.event_type {
        EventType::ObjectEvent => "ObjectEvent",
        EventType::AggregationEvent => "AggregationEvent",
    };
    m.insert("type".into(), kind.into());
    // A declaration carries the eventID of the event it declares erroneous, as EPCIS has it.
    let id = e.declared_id().unwrap_or_else(|| e.id.clone());
    m.insert("eventID".into(), id.0.into());
    m.insert("eventTime".into(), b.event_time.to_rfc3339().into());
    m.insert(
        "eventTimeZoneOffset".into(),
        b.event_time.format("%:z").to_string().into(),
    );
    let action = match b.action {
        Action::Add => "ADD",
        Action::Observe => "OBSERVE",
        Action::Delete => "DELETE",
    };
    m.insert("action".into(), action.into());
    m.insert("bizStep".into(), b.biz_step.as_str().into());
    if let Some(d) = b.disposition {
        m.insert("disposition".into(), d.as_str().into());
    }
    let epcs: Vec<Value> = b.epcs.iter().map(|x| x.uri().into()).collect();
    match b.event_type {
        EventType::ObjectEvent => {
            m.insert("epcList".into(), epcs.into());
        }
        EventType::AggregationEvent => {
            if let Some(p) = &b.parent {
                m.insert("parentID".into(), p.uri().into());
            }
            m.insert("childEPCs".into(), epcs.into());
        }
    }
    if !b.biz_transactions.is_empty() {
        let list: Vec<Value> = b
            .biz_transactions
            .iter()
            .map(|t| {
                let id = if t.id.contains(':') {
                    t.id.clone()
                } else {
                    format!("{BT_PREFIX}{}", t.id)
                };
                // A transaction read without a type has none to write.
                if t.kind.is_empty() {
                    json!({ "bizTransaction": id })
                } else {
                    json!({ "type": t.kind, "bizTransaction": id })
                }
            })
            .collect();
        m.insert("bizTransactionList".into(), list.into());
    }
    if let Some(s) = &b.source {
        m.insert(
            "sourceList".into(),
            json!([{ "type": "owning_party", "source": party(s) }]),
        );
    }
    if let Some(d) = &b.destination {
        m.insert(
            "destinationList".into(),
            json!([{ "type": "owning_party", "destination": party(d) }]),
        );
    }
    m.insert("cust:recordedBy".into(), recorder_json(&b.recorder));
    export_extension(&b.extension, &mut m);
    Value::Object(m)
}

fn recorder_json(r: &Recorder) -> Value {
    json!({ "cust:org": r.org, "cust:site": r.site, "cust:device": r.device })
}

fn export_extension(x: &Extension, m: &mut Map<String, Value>) {
    if let Some(lot) = &x.lot {
        m.insert("cust:lot".into(), lot.clone().into());
    }
    if let Some(expiry) = x.expiry {
        m.insert("cust:expiry".into(), expiry.to_string().into());
    }
    match &x.detail {
        None => {}
        Some(Detail::WarrantyRegistration { owner }) => {
            m.insert(
                "cust:warrantyRegistration".into(),
                json!({ "cust:owner": owner.as_str() }),
            );
        }
        Some(Detail::WarrantyClaim { defect, note }) => {
            let mut c = Map::new();
            c.insert("cust:defect".into(), defect.as_str().into());
            if let Some(n) = note {
                c.insert("cust:note".into(), n.as_str().into());
            }
            m.insert("cust:warrantyClaim".into(), c.into());
        }
        Some(Detail::CounterfeitReport { note, photo }) => {
            let mut r = Map::new();
            r.insert("cust:note".into(), note.as_str().into());
            if let Some(p) = photo {
                r.insert(
                    "cust:photo".into(),
                    json!({ "cust:reference": p.reference.as_str(), "cust:sha256": p.sha256.as_str() }),
                );
            }
            m.insert("cust:counterfeitReport".into(), r.into());
        }
        Some(Detail::Quarantine { reason }) => {
            m.insert(
                "cust:quarantine".into(),
                json!({ "cust:reason": reason.as_str() }),
            );
        }
        Some(Detail::Release { note }) => {
            m.insert("cust:release".into(), json!({ "cust:note": note.as_str() }));
        }
    }
    if let Some(d) = &x.error_declaration {
        let mut decl = Map::new();
        decl.insert(
            "declarationTime".into(),
            d.declaration_time.to_rfc3339().into(),
        );
        if let Some(r) = d.reason {
            decl.insert("reason".into(), r.as_str().into());
        }
        if !d.corrective_event_ids.is_empty() {
            decl.insert(
                "correctiveEventIDs".into(),
                d.corrective_event_ids
                    .iter()
                    .map(|i| Value::from(i.0.clone()))
                    .collect::<Vec<_>>()
                    .into(),
            );
        }
        decl.insert("cust:declaredBy".into(), recorder_json(&d.declared_by));
        m.insert("errorDeclaration".into(), decl.into());
    }
}

/// An import error: the JSON path of the first problem and what is wrong there.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ImportError {
    pub path: String,
    pub message: String,
}

fn err(path: &str, message: impl Into<String>) -> ImportError {
    ImportError {
        path: path.to_string(),
        message: message.into(),
    }
}

/// A document read: every event as it came, the events the ledger judges, and what the reader
/// could not confirm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    /// What the ledger judges (custody, verdicts, flags): the events it records, each read
    /// from one standard event of the document.
    pub events: Vec<Event>,
    /// Every event of the document as it came (its canonical JSON text, keys sorted), in its
    /// order, with the index in `events` of the event it was judged as (`None`: kept and
    /// exported, not judged).
    pub kept: Vec<(String, Option<usize>)>,
    /// One line per event whose CBV 2.0 hash `eventID` the ledger could not confirm, with its
    /// path and the id the event is stored under.
    pub notes: Vec<String>,
}

/// Reads an EPCIS 2.0 JSON-LD document into the events the ledger judges, all or nothing.
/// `fallback` records events that carry no `cust:recordedBy` (documents from other systems);
/// `now` is the device's clock, which bounds the times of the events judged.
///
/// # Errors
///
/// The first problem, with its JSON path.
pub fn import(
    doc: &Value,
    fallback: &Recorder,
    now: DateTime<FixedOffset>,
) -> Result<Vec<Event>, ImportError> {
    read(doc, fallback, now).map(|i| i.events)
}

/// Whether `doc` is a valid EPCIS 2.0 JSON-LD document (or query document, or one event with
/// its `@context`), as GS1's schema defines it: the first error, with its path, when not.
///
/// # Errors
///
/// The first problem, with its JSON path.
pub fn check(doc: &Value) -> Result<usize, ImportError> {
    let events = standard::check_document(doc)?;
    for (i, value) in events.list.iter().enumerate() {
        standard::check_event(value, &event_path(&events, i))?;
    }
    Ok(events.list.len())
}

fn event_path(events: &standard::Events<'_>, i: usize) -> String {
    if events.path == "$" {
        "$".to_string()
    } else {
        format!("{}[{i}]", events.path)
    }
}

/// [`import`], with every event as it came and the notes on ids the ledger could not confirm.
///
/// # Errors
///
/// The first problem, with its JSON path.
pub fn read(
    doc: &Value,
    fallback: &Recorder,
    now: DateTime<FixedOffset>,
) -> Result<Imported, ImportError> {
    let events = standard::check_document(doc)?;
    if events.list.len() > MAX_EVENTS {
        return Err(err(
            events.path,
            format!(
                "{} events; a document holds at most {MAX_EVENTS}: split it",
                events.list.len()
            ),
        ));
    }
    // What the document's context defines beyond the standard one and this ledger's own goes
    // with each event kept, so that its prefixed names keep their meaning in any export.
    let context = doc
        .get("@context")
        .filter(|c| events.path != "$" && !is_plain_context(c));
    let mut imported = Imported {
        events: Vec::with_capacity(events.list.len()),
        kept: Vec::with_capacity(events.list.len()),
        notes: Vec::new(),
    };
    // Each claimed id of an event that declares nothing, with where it was and what it names.
    let mut claimed: std::collections::HashMap<&str, (String, EventId)> =
        std::collections::HashMap::new();
    for (i, value) in events.list.iter().copied().enumerate() {
        let path = event_path(&events, i);
        standard::check_event(value, &path)?;
        let Some(event) = import_event(value, &path, fallback, now)? else {
            imported.kept.push((as_it_came(value, context), None));
            continue;
        };
        if let Some(id) = value.get("eventID") {
            let p = format!("{path}.eventID");
            let id = id.as_str().ok_or_else(|| err(&p, "not a string"))?;
            if let Some(note) = check_event_id(id, &event, &p)? {
                imported.notes.push(note);
            }
            if event.body.extension.error_declaration.is_none() {
                match claimed.get(id) {
                    Some((other_path, other)) if *other != event.id => {
                        return Err(err(
                            &p,
                            format!(
                                "{id} is also the eventID of {other_path}, whose content differs: one id names one event"
                            ),
                        ));
                    }
                    Some(_) => {}
                    None => {
                        claimed.insert(id, (path.clone(), event.id.clone()));
                    }
                }
            }
        }
        imported
            .kept
            .push((as_it_came(value, context), Some(imported.events.len())));
        imported.events.push(event);
    }
    Ok(imported)
}

/// Whether a document's `@context` defines nothing beyond the standard context and this
/// ledger's `cust:` prefix (which every export declares).
fn is_plain_context(c: &Value) -> bool {
    let plain = |x: &Value| {
        x.as_str() == Some(CONTEXT)
            || x.as_object().is_some_and(|m| {
                m.len() == 1 && m.get("cust").and_then(Value::as_str) == Some(NAMESPACE)
            })
    };
    match c {
        Value::Array(items) => items.iter().all(plain),
        _ => plain(c),
    }
}

/// The canonical JSON text of `event` as it came, with the document's `context` before its
/// own if the document has one to carry. Text rather than a copy of the value: a copy of each
/// event of a large document doubled what an import held.
fn as_it_came(event: &Value, context: Option<&Value>) -> String {
    match context {
        None => event.to_string(),
        Some(_) => in_context(event, context).to_string(),
    }
}

/// `event` with the document's `context` before its own, if the document has one to carry.
fn in_context(event: &Value, context: Option<&Value>) -> Value {
    let mut event = event.clone();
    let (Some(context), Some(m)) = (context, event.as_object_mut()) else {
        return event;
    };
    let mut items: Vec<Value> = match context {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    match m.remove("@context") {
        Some(Value::Array(own)) => items.extend(own),
        Some(own) => items.push(own),
        None => {}
    }
    let mut unique: Vec<Value> = Vec::with_capacity(items.len());
    for item in items {
        if !unique.contains(&item) {
            unique.push(item);
        }
    }
    m.insert("@context".into(), Value::Array(unique));
    event
}

/// Checks a document's `eventID` against the event read from it. This ledger's own form must
/// be the content's hash (of the declared event, for an error declaration, as export writes
/// it); a mismatch is refused. A CBV 2.0 hash id that is not the ledger's hash with GS1's
/// suffix cannot be confirmed here and gives a note. Ids of other forms (`urn:uuid:`) claim
/// nothing about the content.
fn check_event_id(id: &str, event: &Event, path: &str) -> Result<Option<String>, ImportError> {
    let Some(rest) = id.strip_prefix(HASH_ID_PREFIX) else {
        return Ok(None);
    };
    let expected = event.declared_id().unwrap_or_else(|| event.id.clone());
    let expected_hex = expected
        .0
        .strip_prefix(HASH_ID_PREFIX)
        .unwrap_or(&expected.0);
    let (hex, query) = match rest.split_once('?') {
        Some((hex, query)) => (hex, Some(query)),
        None => (rest, None),
    };
    if hex.eq_ignore_ascii_case(expected_hex) {
        return Ok(None);
    }
    match query {
        None => Err(err(
            path,
            format!(
                "{id} is not the hash of this event's content ({expected}): the event was changed after its id was given; import it as its source wrote it"
            ),
        )),
        Some(_) => Ok(Some(format!(
            "{path}: {id} is a CBV 2.0 hash id, which this ledger does not recompute; the event is stored under its content id {}",
            event.id
        ))),
    }
}

fn field<'a>(e: &'a Map<String, Value>, path: &str, name: &str) -> Result<&'a str, ImportError> {
    e.get(name)
        .ok_or_else(|| err(&format!("{path}.{name}"), "missing"))?
        .as_str()
        .ok_or_else(|| err(&format!("{path}.{name}"), "not a string"))
}

fn cbv_word(value: &str) -> &str {
    value
        .strip_prefix("urn:epcglobal:cbv:bizstep:")
        .or_else(|| value.strip_prefix("urn:epcglobal:cbv:disp:"))
        .or_else(|| value.strip_prefix("https://ref.gs1.org/cbv/BizStep-"))
        .or_else(|| value.strip_prefix("https://ref.gs1.org/cbv/Disp-"))
        .unwrap_or(value)
}

/// The event the ledger judges, read from a standard event already checked; `None` for an
/// event it keeps without judging: another event type, a business step or disposition the
/// verdict engine does not act on, or one that names no unit or logistic unit it tracks.
fn import_event(
    value: &Value,
    path: &str,
    fallback: &Recorder,
    now: DateTime<FixedOffset>,
) -> Result<Option<Event>, ImportError> {
    let e = value
        .as_object()
        .ok_or_else(|| err(path, "not a JSON object"))?;
    let event_type = match field(e, path, "type")? {
        "ObjectEvent" => EventType::ObjectEvent,
        "AggregationEvent" => EventType::AggregationEvent,
        _ => return Ok(None),
    };
    let Some(biz_step) = e
        .get("bizStep")
        .and_then(Value::as_str)
        .and_then(|s| BizStep::parse(cbv_word(s)))
    else {
        return Ok(None);
    };
    let disposition = match e.get("disposition").and_then(Value::as_str) {
        None => None,
        Some(d) => match Disposition::parse(cbv_word(d)) {
            Some(d) => Some(d),
            None => return Ok(None),
        },
    };
    let time = field(e, path, "eventTime")?;
    let event_time = DateTime::parse_from_rfc3339(time).map_err(|x| {
        err(
            &format!("{path}.eventTime"),
            format!("{time:?} is not an RFC 3339 date-time: {x}"),
        )
    })?;
    check_time(event_time, now).map_err(|m| err(&format!("{path}.eventTime"), m.to_string()))?;
    let action = match field(e, path, "action")? {
        "ADD" => Action::Add,
        "OBSERVE" => Action::Observe,
        "DELETE" => Action::Delete,
        other => {
            return Err(err(
                &format!("{path}.action"),
                format!("{other:?} is not ADD, OBSERVE or DELETE"),
            ));
        }
    };
    let list_name = if event_type == EventType::ObjectEvent {
        "epcList"
    } else {
        "childEPCs"
    };
    let mut epcs = Vec::new();
    if let Some(v) = e.get(list_name) {
        let list = v
            .as_array()
            .ok_or_else(|| err(&format!("{path}.{list_name}"), "not an array"))?;
        for (i, x) in list.iter().enumerate() {
            let p = format!("{path}.{list_name}[{i}]");
            let s = x.as_str().ok_or_else(|| err(&p, "not a string"))?;
            if let Some(epc) = tracked_epc(s).map_err(|m| err(&p, m.to_string()))? {
                epcs.push(epc);
            }
        }
    }
    let parent = match e.get("parentID") {
        None => None,
        Some(v) => {
            let p = format!("{path}.parentID");
            let s = v.as_str().ok_or_else(|| err(&p, "not a string"))?;
            match tracked_epc(s).map_err(|m| err(&p, m.to_string()))? {
                Some(epc) => Some(epc),
                // Packed into something the ledger does not track (a returnable asset).
                None => return Ok(None),
            }
        }
    };
    if epcs.is_empty() && parent.is_none() {
        return Ok(None);
    }
    // An aggregation that adds or observes children, none of them tracked here (a class-level
    // quantity, other identifiers): as the ledger writes its events it would name no child,
    // which EPCIS refuses. There is nothing to judge in it.
    if event_type == EventType::AggregationEvent && epcs.is_empty() && action != Action::Delete {
        return Ok(None);
    }
    if event_type == EventType::AggregationEvent && parent.is_none() && action != Action::Observe {
        return Err(err(
            &format!("{path}.parentID"),
            "an aggregation that adds or deletes needs its parent",
        ));
    }
    let mut biz_transactions = Vec::new();
    if let Some(v) = e.get("bizTransactionList") {
        let list = v
            .as_array()
            .ok_or_else(|| err(&format!("{path}.bizTransactionList"), "not an array"))?;
        for (i, t) in list.iter().enumerate() {
            let p = format!("{path}.bizTransactionList[{i}]");
            let id = t
                .get("bizTransaction")
                .and_then(Value::as_str)
                .ok_or_else(|| err(&format!("{p}.bizTransaction"), "missing"))?;
            let id = short(id, &format!("{p}.bizTransaction"), MAX_NAME_CHARS)?;
            let kind = t.get("type").and_then(Value::as_str).unwrap_or("");
            let kind = short(kind, &format!("{p}.type"), MAX_NAME_CHARS)?;
            let kind = kind
                .strip_prefix("urn:epcglobal:cbv:btt:")
                .or_else(|| kind.strip_prefix("https://ref.gs1.org/cbv/BTT-"))
                .unwrap_or(kind);
            biz_transactions.push(BizTransaction {
                kind: kind.to_string(),
                id: id.strip_prefix(BT_PREFIX).unwrap_or(id).to_string(),
            });
        }
    }
    let party_of = |list: &str, key: &str| -> Result<Option<String>, ImportError> {
        let Some(v) = e.get(list) else {
            return Ok(None);
        };
        let arr = v
            .as_array()
            .ok_or_else(|| err(&format!("{path}.{list}"), "not an array"))?;
        let owning = arr.iter().find(|x| {
            x.get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.ends_with("owning_party") || t.ends_with("SDT-owning_party"))
        });
        owning
            .and_then(|x| x.get(key))
            .and_then(Value::as_str)
            .map(|s| {
                short(s, &format!("{path}.{list}"), MAX_NAME_CHARS)
                    .map(|s| s.strip_prefix(ORG_PREFIX).unwrap_or(s).to_string())
            })
            .transpose()
    };
    let source = party_of("sourceList", "source")?;
    let destination = party_of("destinationList", "destination")?;
    let recorder = match e.get("cust:recordedBy") {
        Some(r) => recorder_from(r, &format!("{path}.cust:recordedBy"))?,
        None => fallback.clone(),
    };
    let extension = import_extension(e, path, &recorder, now)?;
    Ok(Some(Event::new(EventBody {
        event_type,
        action,
        biz_step,
        disposition,
        event_time,
        epcs,
        parent,
        biz_transactions,
        source,
        destination,
        recorder,
        extension,
    })))
}

fn recorder_from(r: &Value, path: &str) -> Result<Recorder, ImportError> {
    for k in ["cust:org", "cust:site", "cust:device"] {
        if let Some(v) = r.get(k).and_then(Value::as_str) {
            short(v, &format!("{path}.{k}"), MAX_NAME_CHARS)?;
        }
    }
    let get = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_string);
    match (get("cust:org"), get("cust:site"), get("cust:device")) {
        (Some(org), Some(site), Some(device)) => Ok(Recorder { org, site, device }),
        _ => Err(err(path, "needs cust:org, cust:site and cust:device")),
    }
}

/// A string member `key` of `obj`, if present.
fn opt_str<'a>(
    obj: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<Option<&'a str>, ImportError> {
    match obj.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_str()
            .map(Some)
            .ok_or_else(|| err(&format!("{path}.{key}"), "not a string")),
    }
}

/// A JSON object member and its path.
type Member<'a> = (&'a Map<String, Value>, String);

fn object_at<'a>(
    e: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<Option<Member<'a>>, ImportError> {
    match e.get(key) {
        None => Ok(None),
        Some(v) => {
            let p = format!("{path}.{key}");
            let o = v.as_object().ok_or_else(|| err(&p, "not a JSON object"))?;
            Ok(Some((o, p)))
        }
    }
}

fn text_at(obj: &Map<String, Value>, path: &str, key: &str) -> Result<Text, ImportError> {
    let p = format!("{path}.{key}");
    let s = opt_str(obj, path, key)?.ok_or_else(|| err(&p, "missing"))?;
    Text::parse(s).map_err(|m| err(&p, m.to_string()))
}

fn import_extension(
    e: &Map<String, Value>,
    path: &str,
    recorder: &Recorder,
    now: DateTime<FixedOffset>,
) -> Result<Extension, ImportError> {
    let lot = opt_str(e, path, "cust:lot")?
        .map(|l| short(l, &format!("{path}.cust:lot"), MAX_LOT_CHARS))
        .transpose()?;
    let mut x = Extension {
        lot: lot.map(str::to_string),
        ..Extension::default()
    };
    if let Some(d) = opt_str(e, path, "cust:expiry")? {
        let p = format!("{path}.cust:expiry");
        let expiry = NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| err(&p, format!("{d:?} is not a date (YYYY-MM-DD)")))?;
        check_expiry(expiry).map_err(|m| err(&p, m.to_string()))?;
        x.expiry = Some(expiry);
    }
    let mut details = Vec::new();
    if let Some((o, p)) = object_at(e, path, "cust:warrantyRegistration")? {
        details.push(Detail::WarrantyRegistration {
            owner: text_at(o, &p, "cust:owner")?,
        });
    }
    if let Some((o, p)) = object_at(e, path, "cust:warrantyClaim")? {
        let defect = opt_str(o, &p, "cust:defect")?
            .ok_or_else(|| err(&format!("{p}.cust:defect"), "missing"))?;
        details.push(Detail::WarrantyClaim {
            defect: Defect::parse(defect)
                .map_err(|m| err(&format!("{p}.cust:defect"), m.to_string()))?,
            note: o
                .contains_key("cust:note")
                .then(|| text_at(o, &p, "cust:note"))
                .transpose()?,
        });
    }
    if let Some((o, p)) = object_at(e, path, "cust:counterfeitReport")? {
        let photo = match object_at(o, &p, "cust:photo")? {
            None => None,
            Some((ph, pp)) => {
                let hash = opt_str(ph, &pp, "cust:sha256")?
                    .ok_or_else(|| err(&format!("{pp}.cust:sha256"), "missing"))?;
                Some(Photo {
                    reference: text_at(ph, &pp, "cust:reference")?,
                    sha256: PhotoHash::parse(hash)
                        .map_err(|m| err(&format!("{pp}.cust:sha256"), m.to_string()))?,
                })
            }
        };
        details.push(Detail::CounterfeitReport {
            note: text_at(o, &p, "cust:note")?,
            photo,
        });
    }
    if let Some((o, p)) = object_at(e, path, "cust:quarantine")? {
        details.push(Detail::Quarantine {
            reason: text_at(o, &p, "cust:reason")?,
        });
    }
    if let Some((o, p)) = object_at(e, path, "cust:release")? {
        details.push(Detail::Release {
            note: text_at(o, &p, "cust:note")?,
        });
    }
    if details.len() > 1 {
        return Err(err(
            path,
            "carries more than one of cust:warrantyRegistration, cust:warrantyClaim, cust:counterfeitReport, cust:quarantine and cust:release",
        ));
    }
    x.detail = details.pop();
    if let Some((o, p)) = object_at(e, path, "errorDeclaration")? {
        let t = opt_str(o, &p, "declarationTime")?
            .ok_or_else(|| err(&format!("{p}.declarationTime"), "missing"))?;
        let declaration_time = DateTime::parse_from_rfc3339(t).map_err(|x| {
            err(
                &format!("{p}.declarationTime"),
                format!("{t:?} is not an RFC 3339 date-time: {x}"),
            )
        })?;
        check_time(declaration_time, now)
            .map_err(|m| err(&format!("{p}.declarationTime"), m.to_string()))?;
        let reason = match opt_str(o, &p, "reason")? {
            None => None,
            Some(r) => {
                let word = r
                    .strip_prefix("urn:epcglobal:cbv:er:")
                    .or_else(|| r.strip_prefix("https://ref.gs1.org/cbv/ER-"))
                    .unwrap_or(r);
                Some(ErrorReason::parse(word).ok_or_else(|| {
                    err(
                        &format!("{p}.reason"),
                        format!(
                            "{r:?} is not a CBV 2.0 error reason (did_not_occur, incorrect_data)"
                        ),
                    )
                })?)
            }
        };
        let corrective_event_ids = match o.get("correctiveEventIDs") {
            None => Vec::new(),
            Some(v) => v
                .as_array()
                .ok_or_else(|| err(&format!("{p}.correctiveEventIDs"), "not an array"))?
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    id.as_str()
                        .map(|s| EventId(s.to_string()))
                        .ok_or_else(|| err(&format!("{p}.correctiveEventIDs[{i}]"), "not a string"))
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let declared_by = match o.get("cust:declaredBy") {
            Some(r) => recorder_from(r, &format!("{p}.cust:declaredBy"))?,
            None => recorder.clone(),
        };
        x.error_declaration = Some(ErrorDeclaration {
            declaration_time,
            reason,
            corrective_event_ids,
            declared_by,
        });
    }
    Ok(x)
}

/// Why a text is not an EPC the ledger takes: neither a Digital Link URI nor a pure-identity
/// EPC URN of one unit (`urn:epc:id:sgtin:`) or one logistic unit (`urn:epc:id:sscc:`). Each
/// names the text as given.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EpcUriError {
    /// An SGTIN URN without its three parts: company prefix, indicator and item reference,
    /// serial.
    #[error("{0:?} is not an SGTIN URI (urn:epc:id:sgtin:CompanyPrefix.IndicatorItemRef.Serial)")]
    SgtinParts(String),
    /// An SGTIN URN whose company prefix and item reference are not 13 digits together.
    #[error(
        "{0:?} is not an SGTIN URI: company prefix and item reference must be 13 digits together"
    )]
    SgtinDigits(String),
    /// An SSCC URN without its two parts: company prefix and serial reference.
    #[error("{0:?} is not an SSCC URI (urn:epc:id:sscc:CompanyPrefix.SerialReference)")]
    SsccParts(String),
    /// An SSCC URN whose company prefix and serial reference are not 17 digits together.
    #[error(
        "{0:?} is not an SSCC URI: company prefix and serial reference must be 17 digits together"
    )]
    SsccDigits(String),
    /// An EPC URN of another scheme (a returnable asset, a location…): the ledger tracks units
    /// and logistic units only.
    #[error("{0:?} is not an SGTIN or SSCC URI")]
    OtherUrn(String),
    /// A URN whose GTIN or SSCC, once its check digit is added, is still not a valid key.
    #[error("{uri:?}: {key}")]
    Key { uri: String, key: ParseError },
    /// An SGTIN URN whose serial is not one a label could carry (AI 21): empty, too long, or
    /// with characters outside the GS1 set. `epc` tells why, on the Digital Link URI.
    #[error("{uri:?}: {epc}")]
    Serial { uri: String, epc: Box<EpcError> },
    /// A text that is no URN and does not read as a Digital Link URI of a unit or logistic
    /// unit.
    #[error(transparent)]
    Epc(#[from] EpcError),
}

/// An EPC from a Digital Link URI, a pure-identity EPC URN (`urn:epc:id:sgtin:` / `sscc:`) or
/// a proprietary unit's URN ([`crate::event::PROPRIETARY_PREFIX`]).
pub fn epc_from_uri(s: &str) -> Result<Epc, EpcUriError> {
    if let Some(rest) = s.strip_prefix("urn:epc:id:sgtin:") {
        let mut parts = rest.splitn(3, '.');
        let (Some(cp), Some(ir), Some(serial)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(EpcUriError::SgtinParts(s.to_string()));
        };
        if cp.len() + ir.len() != 13
            || ir.is_empty()
            || !cp.bytes().chain(ir.bytes()).all(|b| b.is_ascii_digit())
        {
            return Err(EpcUriError::SgtinDigits(s.to_string()));
        }
        let digits = format!("{}{cp}{}", &ir[..1], &ir[1..]);
        let gtin = Gtin::parse(&format!("{digits}{}", check_digit(&digits))).map_err(|key| {
            EpcUriError::Key {
                uri: s.to_string(),
                key,
            }
        })?;
        // Through the canonical URI, so the serial is checked like any scanned one.
        let unit = Epc::Unit {
            gtin,
            serial: percent_decode(serial),
        };
        return Epc::parse(&unit.uri()).map_err(|epc| EpcUriError::Serial {
            uri: s.to_string(),
            epc: Box::new(epc),
        });
    }
    if let Some(rest) = s.strip_prefix("urn:epc:id:sscc:") {
        let Some((cp, sr)) = rest.split_once('.') else {
            return Err(EpcUriError::SsccParts(s.to_string()));
        };
        if cp.len() + sr.len() != 17
            || sr.is_empty()
            || !cp.bytes().chain(sr.bytes()).all(|b| b.is_ascii_digit())
        {
            return Err(EpcUriError::SsccDigits(s.to_string()));
        }
        let digits = format!("{}{cp}{}", &sr[..1], &sr[1..]);
        let sscc = Sscc::parse(&format!("{digits}{}", check_digit(&digits))).map_err(|key| {
            EpcUriError::Key {
                uri: s.to_string(),
                key,
            }
        })?;
        return Ok(Epc::Logistic(sscc));
    }
    if s.starts_with(crate::event::PROPRIETARY_PREFIX) {
        return Ok(Epc::parse(s)?);
    }
    if s.starts_with("urn:") {
        return Err(EpcUriError::OtherUrn(s.to_string()));
    }
    Ok(Epc::parse(s)?)
}

/// The EPC the ledger tracks that `s` names: `None` for an identifier of another kind (a
/// returnable asset's or a location's EPC, any URI that is not a GS1 Digital Link URI of a
/// unit or logistic unit), which an event may name beside the units it is about. A text that
/// claims to be a unit or logistic unit (an SGTIN or SSCC URN, a proprietary unit's URN, a
/// Digital Link URI with a GTIN or SSCC) must be a valid one.
///
/// # Errors
///
/// Why a claimed unit or logistic unit is not valid.
pub fn tracked_epc(s: &str) -> Result<Option<Epc>, EpcUriError> {
    let claims_key = s.starts_with("urn:epc:id:sgtin:")
        || s.starts_with("urn:epc:id:sscc:")
        || s.starts_with(crate::event::PROPRIETARY_PREFIX)
        || ((s.starts_with("https://") || s.starts_with("http://"))
            && (s.contains("/01/") || s.contains("/00/")));
    match epc_from_uri(s) {
        Ok(epc) => Ok(Some(epc)),
        Err(_) if !claims_key => Ok(None),
        Err(e) => Err(e),
    }
}

/// `%XX` escapes decoded, leniently: a malformed escape is kept as written, and bytes that do
/// not form UTF-8 become U+FFFD.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok())
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        if let Some(b) = hex {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urns_convert_to_digital_link_epcs() {
        let e = epc_from_uri("urn:epc:id:sgtin:0614141.812345.6789").unwrap();
        assert_eq!(e.uri(), "https://id.gs1.org/01/80614141123458/21/6789");
        let s = epc_from_uri("urn:epc:id:sscc:0614141.1234567890").unwrap();
        assert_eq!(s.uri(), "https://id.gs1.org/00/106141412345678908");
        assert_eq!(
            epc_from_uri("urn:epc:id:sgtin:0614141.812345.A%2FB")
                .unwrap()
                .uri(),
            "https://id.gs1.org/01/80614141123458/21/A%2FB"
        );
        let e = epc_from_uri("urn:epc:id:sgtin:0614141.81234.1").unwrap_err();
        assert!(matches!(e, EpcUriError::SgtinDigits(_)), "{e:?}");
        assert!(e.to_string().contains("13 digits"), "{e}");
        let e = epc_from_uri("urn:epc:id:grai:1").unwrap_err();
        assert_eq!(e, EpcUriError::OtherUrn("urn:epc:id:grai:1".into()));
        assert!(e.to_string().contains("not an SGTIN or SSCC"), "{e}");
    }
}
