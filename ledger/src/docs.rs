//! The Automerge documents people edit concurrently: a manifest's working state and an
//! organisation's flags.
//!
//! **Architecture Invariant:** only the hub creates these documents and the containers in them.
//! Devices start from an empty document that the first sync fills, and then only set scalar
//! fields of entries that already exist, or append scalars to lists that already exist (a
//! flag's history). Two replicas that each create the same container would get two objects at
//! one key after a merge, and half the data would vanish from view.
//!
//! A receipt's close is one JSON scalar per device, under the device's own key in the
//! manifest document's root (`close/<device>`): two devices closing one receipt offline write
//! different keys, so both closes survive a merge, and the status (closed once any close
//! exists) is derived from them.
//!
//! A flag's lifecycle is an append-only list of [`FlagStep`]s (status, when, which device and
//! organisation, why). Concurrent moves on two replicas both survive a merge, and the status is
//! the furthest step in the lifecycle's order, so every replica derives the same status from
//! the same steps whatever order they merged in, with no clock involved.

use automerge::{
    AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue, Value, transaction::Transactable,
};
use serde::{Deserialize, Serialize};

use crate::Error;

/// The document id of an ASN's working state: scoped by its owner, the organisation that
/// shipped under it, so that another organisation shipping under the same number gets a
/// document of its own and can never reach (or close) the owner's.
pub fn manifest_doc_id(owner: &str, asn: &str) -> String {
    format!("manifest/{owner}/{asn}")
}

/// The id an ASN's document had before ids were scoped by owner (`manifest/ASN`), if `id` is
/// one: such documents are renamed once when a ledger or registry opens
/// ([`crate::store::scope_manifest_docs`]).
pub fn unscoped_manifest_asn(id: &str) -> Option<&str> {
    id.strip_prefix("manifest/")
        .filter(|asn| !asn.contains('/'))
}

/// The document id of an organisation's flags raised before flags were kept by month.
pub fn flags_doc_id(org: &str) -> String {
    format!("flags/{org}")
}

/// The document of an organisation's flags raised in the month (UTC) of `raised_at`:
/// `flags/ORG/YYYY-MM`.
///
/// An organisation's flags are partitioned by the month they were raised in. A document takes
/// new flags for a month only, and changes afterwards only as its flags move; once they are
/// closed it never changes again, and a sync neither loads nor sends it (the hub knows each
/// device holds it whole). However many flags an organisation has had, a sync handles the
/// documents of its recent and still-open flags. A `raised_at` that is not RFC 3339 belongs to
/// the document of flags from before partitioning ([`flags_doc_id`]).
pub fn flags_month_doc_id(org: &str, raised_at: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(raised_at) {
        Ok(t) => format!(
            "{}/{}",
            flags_doc_id(org),
            t.with_timezone(&chrono::Utc).format("%Y-%m")
        ),
        Err(_) => flags_doc_id(org),
    }
}

/// Whether `id` is one of `org`'s flags documents: the one from before partitioning or a
/// month's ([`flags_month_doc_id`]).
pub fn is_flags_doc(id: &str, org: &str) -> bool {
    id.strip_prefix("flags/")
        .and_then(|rest| rest.strip_prefix(org))
        .is_some_and(|month| {
            month.is_empty()
                || month.strip_prefix('/').is_some_and(|m| {
                    m.len() == 7
                        && m.bytes().enumerate().all(|(i, c)| {
                            if i == 4 {
                                c == b'-'
                            } else {
                                c.is_ascii_digit()
                            }
                        })
                })
        })
}

fn get_str(doc: &AutoCommit, obj: &automerge::ObjId, key: &str) -> Option<String> {
    match doc.get(obj, key).ok().flatten() {
        Some((Value::Scalar(s), _)) => match s.as_ref() {
            ScalarValue::Str(t) => Some(t.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// Where a receipt stands: open until any device closes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManifestStatus {
    #[default]
    Open,
    Closed,
}

impl ManifestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ManifestStatus::Open => "open",
            ManifestStatus::Closed => "closed",
        }
    }
}

impl std::fmt::Display for ManifestStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// A manifest's shared working state, as its document holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestState {
    /// Closed once any device closed the receipt.
    pub status: ManifestStatus,
    /// Every close, one per device, earliest first (see [`read_manifest_state`]).
    pub closes: Vec<ManifestClose>,
    /// Free notes by device id.
    pub notes: Vec<(String, String)>,
}

/// One device's close of a receipt: who, when, and the discrepancies it accepted.
///
/// Each device writes its own close as one JSON scalar under its own key in the document's
/// root ([`close_key`]), so two devices closing one receipt offline never write the same
/// field: both closes survive a merge. A device closing again replaces only its own close.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestClose {
    /// The device that closed the receipt.
    pub by: String,
    /// Its organisation (closes written before closes were kept per device name none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// RFC 3339, with the closer's offset.
    pub at: String,
    /// The discrepancies accepted, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The receipt's progress as this device saw it when it closed: every missing,
    /// unexpected, wrong, duplicate, expired and recalled unit by EPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discrepancies: Option<serde_json::Value>,
}

impl ManifestClose {
    /// The order closes are shown in: by instant, then device. Replicas agree on it whatever
    /// order the closes merged in.
    fn display_order(a: &ManifestClose, b: &ManifestClose) -> std::cmp::Ordering {
        let instant = |c: &ManifestClose| chrono::DateTime::parse_from_rfc3339(&c.at).ok();
        instant(a)
            .cmp(&instant(b))
            .then_with(|| a.at.cmp(&b.at))
            .then_with(|| a.by.cmp(&b.by))
    }
}

/// The root key a device's close is kept under: `close/<device>`.
pub fn close_key(device: &str) -> String {
    format!("{CLOSE_PREFIX}{device}")
}

const CLOSE_PREFIX: &str = "close/";

/// The single fields a close was written to before closes were kept per device. A close still
/// mirrors itself into them, for readers that predate per-device closes.
const LEGACY_CLOSE: [&str; 4] = ["closed_by", "closed_at", "closing_note", "discrepancies"];

/// Creates a manifest's document (hub only). The containers it will ever need are created here.
pub fn new_manifest_doc(asn: &str, actor: &[u8]) -> Result<AutoCommit, Error> {
    let mut doc = AutoCommit::new().with_actor(automerge::ActorId::from(actor));
    doc.put(ROOT, "kind", "manifest")?;
    doc.put(ROOT, "asn", asn)?;
    doc.put(ROOT, "status", "open")?;
    doc.put_object(ROOT, "notes", ObjType::Map)?;
    doc.commit();
    Ok(doc)
}

/// Closes written to the single fields (`closed_by`, `closed_at`, …) by devices that predate
/// per-device closes. Two such devices closing offline left conflicting values in each field;
/// Automerge keeps them all, and the values one change wrote share its actor, so each close is
/// read back whole.
fn legacy_closes(doc: &AutoCommit) -> Vec<ManifestClose> {
    let mut by_actor: Vec<(automerge::ActorId, [Option<String>; 4])> = Vec::new();
    for (i, field) in LEGACY_CLOSE.iter().enumerate() {
        for (value, id) in doc.get_all(ROOT, *field).unwrap_or_default() {
            let (Value::Scalar(s), automerge::ObjId::Id(_, actor, _)) = (value, id) else {
                continue;
            };
            let ScalarValue::Str(text) = s.as_ref() else {
                continue;
            };
            let pos = match by_actor.iter().position(|(a, _)| *a == actor) {
                Some(pos) => pos,
                None => {
                    by_actor.push((actor, Default::default()));
                    by_actor.len() - 1
                }
            };
            by_actor[pos].1[i] = Some(text.to_string());
        }
    }
    by_actor
        .into_iter()
        .filter_map(|(_, [by, at, note, discrepancies])| {
            Some(ManifestClose {
                by: by?,
                org: None,
                at: at.unwrap_or_default(),
                note,
                discrepancies: discrepancies.and_then(|d| serde_json::from_str(&d).ok()),
            })
        })
        .collect()
}

/// Reads a manifest's working state. Every device's close is read from its own key; closes
/// written the older way (single fields, see [`legacy_closes`]) are read too, unless their
/// device has a close of its own key. The status is derived: closed once any close exists.
pub fn read_manifest_state(doc: &AutoCommit) -> ManifestState {
    let mut closes: Vec<ManifestClose> = doc
        .keys(ROOT)
        .filter(|k| k.starts_with(CLOSE_PREFIX))
        .filter_map(|k| get_str(doc, &ROOT, &k))
        .filter_map(|json| serde_json::from_str(&json).ok())
        .collect();
    for old in legacy_closes(doc) {
        if !closes.iter().any(|c| c.by == old.by) {
            closes.push(old);
        }
    }
    closes.sort_by(ManifestClose::display_order);
    let legacy_status = get_str(doc, &ROOT, "status");
    let status = if !closes.is_empty() || legacy_status.as_deref() == Some("closed") {
        ManifestStatus::Closed
    } else {
        ManifestStatus::Open
    };
    let mut state = ManifestState {
        status,
        closes,
        notes: Vec::new(),
    };
    if let Ok(Some((Value::Object(ObjType::Map), notes))) = doc.get(ROOT, "notes") {
        for key in doc.keys(&notes) {
            if let Some(text) = get_str(doc, &notes, &key) {
                state.notes.push((key, text));
            }
        }
    }
    state
}

/// Closes a manifest in its working document as `close.by` (scalar writes only): its close
/// goes under its own key, so a close on another device, merged later, sits beside it.
///
/// Closes written the older way are first copied to their own keys, since this close's
/// mirror into the single fields overwrites them; two devices copying the same close write
/// the same value.
pub fn close_manifest(doc: &mut AutoCommit, close: &ManifestClose) -> Result<(), Error> {
    let state = read_manifest_state(doc);
    for old in state.closes.iter().filter(|c| c.by != close.by) {
        let key = close_key(&old.by);
        if doc.get(ROOT, key.as_str())?.is_none() {
            doc.put(ROOT, key.as_str(), serde_json::to_string(old)?)?;
        }
    }
    doc.put(
        ROOT,
        close_key(&close.by).as_str(),
        serde_json::to_string(close)?,
    )?;
    // The mirror, for readers that predate per-device closes.
    doc.put(ROOT, "status", "closed")?;
    doc.put(ROOT, "closed_by", close.by.as_str())?;
    doc.put(ROOT, "closed_at", close.at.as_str())?;
    doc.put(
        ROOT,
        "closing_note",
        close.note.as_deref().unwrap_or_default(),
    )?;
    match &close.discrepancies {
        Some(d) => doc.put(ROOT, "discrepancies", d.to_string())?,
        None => doc.put(ROOT, "discrepancies", "")?,
    }
    doc.commit();
    Ok(())
}

/// Where a flag is in its lifecycle, in the lifecycle's order (new → seen → under investigation
/// → escalated → closed). A flag only moves forward; steps may be skipped (a false alarm goes
/// from new to closed), and closed is final.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum FlagStatus {
    #[default]
    New,
    Seen,
    UnderInvestigation,
    Escalated,
    Closed,
}

impl FlagStatus {
    pub const ALL: [FlagStatus; 5] = [
        FlagStatus::New,
        FlagStatus::Seen,
        FlagStatus::UnderInvestigation,
        FlagStatus::Escalated,
        FlagStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FlagStatus::New => "new",
            FlagStatus::Seen => "seen",
            FlagStatus::UnderInvestigation => "under_investigation",
            FlagStatus::Escalated => "escalated",
            FlagStatus::Closed => "closed",
        }
    }

    /// Reads a status as people type it: `under_investigation`, `under investigation` and
    /// `under-investigation` are one status.
    pub fn parse(text: &str) -> Result<FlagStatus, Error> {
        let wanted = text.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        FlagStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == wanted)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "flag status {text:?} is not one of {}",
                    FlagStatus::ALL.map(FlagStatus::as_str).join(", ")
                ))
            })
    }

    /// Escalating and closing say why: whoever picks the flag up next (a regulator, an auditor)
    /// needs the reason, not only the fact.
    pub fn needs_note(self) -> bool {
        matches!(self, FlagStatus::Escalated | FlagStatus::Closed)
    }

    /// Where a flag at this status may move: forward only, so closed is the end.
    pub fn moves(self) -> Vec<FlagStatus> {
        FlagStatus::ALL.into_iter().filter(|s| *s > self).collect()
    }
}

/// One status of the flag lifecycle as front ends offer it: where a flag may move from it,
/// and whether moving *to* it needs a note. Front ends take the lifecycle from here
/// ([`flag_lifecycle`]) rather than keeping their own copy of the rules [`move_flag`] holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LifecycleStep {
    pub status: FlagStatus,
    pub moves: Vec<FlagStatus>,
    pub needs_note: bool,
}

/// The flag lifecycle, in order from new to closed.
pub fn flag_lifecycle() -> Vec<LifecycleStep> {
    FlagStatus::ALL
        .into_iter()
        .map(|status| LifecycleStep {
            status,
            moves: status.moves(),
            needs_note: status.needs_note(),
        })
        .collect()
}

/// A status equals its wire name (`"closed"`), as the app and the CLI's JSON spell it.
impl PartialEq<&str> for FlagStatus {
    fn eq(&self, name: &&str) -> bool {
        self.as_str() == *name
    }
}

impl std::fmt::Display for FlagStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// What a flag is about. The hub raises them; a kind this build does not know (raised by a
/// newer hub) is kept as its name and shown as it is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum FlagKind {
    /// A unit received, sold or seen outside its authorised channel.
    Diversion,
    /// A unit seen after its life ended: its code is on another unit.
    Clone,
    /// A partner reported the unit counterfeit.
    Counterfeit,
    /// A serial the manufacturer never issued.
    UnknownSerial,
    /// A receipt with no shipment on record, or a shipment by a party that never held the unit.
    OutOfSequence,
    /// A unit verified in places too far apart in too little time.
    Velocity,
    /// A warranty claim the rules refuse.
    Warranty,
    /// A kind this build does not know.
    Other(String),
}

impl FlagKind {
    pub const KNOWN: [FlagKind; 7] = [
        FlagKind::Diversion,
        FlagKind::Clone,
        FlagKind::Counterfeit,
        FlagKind::UnknownSerial,
        FlagKind::OutOfSequence,
        FlagKind::Velocity,
        FlagKind::Warranty,
    ];

    pub fn as_str(&self) -> &str {
        match self {
            FlagKind::Diversion => "diversion",
            FlagKind::Clone => "clone",
            FlagKind::Counterfeit => "counterfeit",
            FlagKind::UnknownSerial => "unknown_serial",
            FlagKind::OutOfSequence => "out_of_sequence",
            FlagKind::Velocity => "velocity",
            FlagKind::Warranty => "warranty",
            FlagKind::Other(name) => name,
        }
    }
}

impl From<String> for FlagKind {
    fn from(name: String) -> FlagKind {
        FlagKind::KNOWN
            .into_iter()
            .find(|k| k.as_str() == name)
            .unwrap_or(FlagKind::Other(name))
    }
}

impl From<&str> for FlagKind {
    fn from(name: &str) -> FlagKind {
        FlagKind::from(name.to_string())
    }
}

impl From<FlagKind> for String {
    fn from(kind: FlagKind) -> String {
        kind.as_str().to_string()
    }
}

impl PartialEq<&str> for FlagKind {
    fn eq(&self, name: &&str) -> bool {
        self.as_str() == *name
    }
}

impl PartialEq<str> for FlagKind {
    fn eq(&self, name: &str) -> bool {
        self.as_str() == name
    }
}

impl std::fmt::Display for FlagKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One move of a flag along its lifecycle: to what, when, by whom and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagStep {
    pub status: FlagStatus,
    /// RFC 3339, with the mover's offset.
    pub at: String,
    /// The device that made the move (`hub` for the hub itself).
    pub by: String,
    /// The mover's organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// Why: required when escalating or closing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl FlagStep {
    /// The order history is shown in: by instant, then mover, then lifecycle order. Replicas
    /// agree on it whatever order the steps merged in.
    fn display_order(a: &FlagStep, b: &FlagStep) -> std::cmp::Ordering {
        let instant = |s: &FlagStep| chrono::DateTime::parse_from_rfc3339(&s.at).ok();
        instant(a)
            .cmp(&instant(b))
            .then_with(|| a.at.cmp(&b.at))
            .then_with(|| a.by.cmp(&b.by))
            .then_with(|| a.status.cmp(&b.status))
            .then_with(|| a.note.cmp(&b.note))
    }
}

/// A flag raised by the hub, as the organisation's flags document holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    pub id: String,
    /// What it is about; serialised as its name (`diversion`, `out_of_sequence`, …).
    pub kind: FlagKind,
    /// The unit concerned (EPC URI).
    pub epc: String,
    pub reason: String,
    pub raised_at: String,
    /// The event that raised it.
    pub event: String,
    /// The furthest step in [`Flag::history`] (see [`read_flags`]); serialised as `new`,
    /// `seen`, `under_investigation`, `escalated` or `closed`.
    #[serde(default)]
    pub status: FlagStatus,
    /// Every move, oldest first, the hub's raising included. Flags of documents written before
    /// flags kept a history read with none.
    #[serde(default)]
    pub history: Vec<FlagStep>,
    /// How many units the flag lists (one flag stands for one cause: a receipt, a shipment, an
    /// event), `epc` being the first; the list is kept beside the document ([`FlagUnit`]).
    #[serde(default = "one")]
    pub units: u64,
    /// How many of them the hub has not found accounted for yet (a late shipment accounts for
    /// a unit received without one); the hub closes the flag when none is left.
    #[serde(default = "one")]
    pub open_units: u64,
}

fn one() -> u64 {
    1
}

/// A unit a flag lists, as the hub sends it to the flag's organisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagUnit {
    /// The flag's id.
    pub flag: String,
    /// The unit (EPC URI).
    pub epc: String,
    /// The event that listed it.
    pub event: String,
    /// Why the hub found it accounted for (naming the event that did), if it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<String>,
}

/// Creates an organisation's flags document (hub only).
pub fn new_flags_doc(org: &str, actor: &[u8]) -> Result<AutoCommit, Error> {
    let mut doc = AutoCommit::new().with_actor(automerge::ActorId::from(actor));
    doc.put(ROOT, "kind", "flags")?;
    doc.put(ROOT, "org", org)?;
    doc.commit();
    Ok(doc)
}

/// Adds a flag (hub only) unless the document already holds one with this id: one flag per fact.
/// Its history list is created here, with the raising as its first step, so devices only ever
/// insert into it. Returns whether it was added.
pub fn add_flag(doc: &mut AutoCommit, flag: &Flag) -> Result<bool, Error> {
    if doc.get(ROOT, flag.id.as_str())?.is_some() {
        return Ok(false);
    }
    let entry = doc.put_object(ROOT, flag.id.as_str(), ObjType::Map)?;
    doc.put(&entry, "kind", flag.kind.as_str())?;
    doc.put(&entry, "epc", flag.epc.as_str())?;
    doc.put(&entry, "reason", flag.reason.as_str())?;
    doc.put(&entry, "raised_at", flag.raised_at.as_str())?;
    doc.put(&entry, "event", flag.event.as_str())?;
    doc.put(&entry, "status", flag.status.as_str())?;
    if flag.units != 1 || flag.open_units != 1 {
        put_counts(doc, &entry, flag.units, flag.open_units)?;
    }
    let history = doc.put_object(&entry, "history", ObjType::List)?;
    let raised = FlagStep {
        status: FlagStatus::New,
        at: flag.raised_at.clone(),
        by: "hub".into(),
        org: None,
        note: None,
    };
    doc.insert(&history, 0, serde_json::to_string(&raised)?)?;
    doc.commit();
    Ok(true)
}

fn put_counts(
    doc: &mut AutoCommit,
    entry: &automerge::ObjId,
    units: u64,
    open_units: u64,
) -> Result<(), Error> {
    doc.put(entry, "units", units)?;
    doc.put(entry, "open_units", open_units)?;
    Ok(())
}

/// Rewrites what the hub says of a listing flag (hub only): its reason and its counts. Returns
/// whether anything changed; a flag the document does not hold changes nothing.
pub fn restate_listing(
    doc: &mut AutoCommit,
    id: &str,
    reason: &str,
    units: u64,
    open_units: u64,
) -> Result<bool, Error> {
    let Ok(entry) = flag_entry(doc, id) else {
        return Ok(false);
    };
    let held = read_flag(doc, id);
    if held
        .as_ref()
        .is_some_and(|f| f.reason == reason && f.units == units && f.open_units == open_units)
    {
        return Ok(false);
    }
    doc.put(&entry, "reason", reason)?;
    put_counts(doc, &entry, units, open_units)?;
    doc.commit();
    Ok(true)
}

/// Where flag `id` stands, if the document holds it.
pub fn flag_status(doc: &AutoCommit, id: &str) -> Option<FlagStatus> {
    let entry = flag_entry(doc, id).ok()?;
    let history = read_history(doc, &entry)
        .map(|(_, h)| h)
        .unwrap_or_default();
    Some(derived_status(doc, &entry, &history))
}

/// Gives every flag entry that lacks one its history list (hub only): documents written before
/// flags kept a history. Returns whether anything changed.
pub fn add_missing_histories(doc: &mut AutoCommit) -> Result<bool, Error> {
    let mut changed = false;
    for key in doc.keys(ROOT).collect::<Vec<_>>() {
        if let Some((Value::Object(ObjType::Map), entry)) = doc.get(ROOT, key.as_str())?
            && doc.get(&entry, "history")?.is_none()
        {
            doc.put_object(&entry, "history", ObjType::List)?;
            changed = true;
        }
    }
    if changed {
        doc.commit();
    }
    Ok(changed)
}

fn flag_entry(doc: &AutoCommit, id: &str) -> Result<automerge::ObjId, Error> {
    match doc.get(ROOT, id)? {
        Some((Value::Object(ObjType::Map), entry)) => Ok(entry),
        _ => Err(Error::NotFound(format!("flag {id}"))),
    }
}

fn read_history(
    doc: &AutoCommit,
    entry: &automerge::ObjId,
) -> Option<(automerge::ObjId, Vec<FlagStep>)> {
    let Ok(Some((Value::Object(ObjType::List), list))) = doc.get(entry, "history") else {
        return None;
    };
    let steps = (0..doc.length(&list))
        .filter_map(|i| match doc.get(&list, i).ok().flatten() {
            // A step this version cannot read (a status added later) is skipped, not fatal.
            Some((Value::Scalar(s), _)) => match s.as_ref() {
                ScalarValue::Str(t) => serde_json::from_str(t).ok(),
                _ => None,
            },
            _ => None,
        })
        .collect();
    Some((list, steps))
}

/// The status a flag's entry stands at: the furthest step of its history, or of the status
/// scalar that documents written before flags kept a history carry.
///
/// Taking the furthest step (not the latest by clock) makes the status a max-register: merging
/// is commutative, associative and idempotent, needs no clock (a device's may be hours off),
/// and a merge can never move a flag backwards, which the lifecycle forbids anyway.
fn derived_status(doc: &AutoCommit, entry: &automerge::ObjId, history: &[FlagStep]) -> FlagStatus {
    let scalar = get_str(doc, entry, "status")
        .and_then(|s| FlagStatus::parse(&s).ok())
        .unwrap_or(FlagStatus::New);
    history
        .iter()
        .map(|s| s.status)
        .fold(scalar, FlagStatus::max)
}

/// Moves a flag along its lifecycle by appending `step` to its history (an insert into a list
/// the hub created): two replicas moving one flag offline keep both steps when they merge.
///
/// The move must go forward from the flag's status as this replica sees it, and escalating or
/// closing needs a note.
pub fn move_flag(doc: &mut AutoCommit, id: &str, step: &FlagStep) -> Result<Flag, Error> {
    let entry = flag_entry(doc, id)?;
    let (list, history) = read_history(doc, &entry).ok_or_else(|| {
        Error::Invalid(format!(
            "flag {id} was raised before flags kept a history: sync with the hub, then move it"
        ))
    })?;
    let current = derived_status(doc, &entry, &history);
    if current == FlagStatus::Closed {
        return Err(Error::Invalid(format!(
            "flag {id} is closed, and a closed flag stays closed"
        )));
    }
    if step.status <= current {
        let next: Vec<&str> = current
            .moves()
            .into_iter()
            .map(FlagStatus::as_str)
            .collect();
        return Err(Error::Invalid(format!(
            "flag {id} is {current}; it can only move forward, to {}",
            next.join(", ")
        )));
    }
    let note = step
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if step.status.needs_note() && note.is_none() {
        return Err(Error::Invalid(format!(
            "{} flag {id} needs a note saying why",
            if step.status == FlagStatus::Closed {
                "closing"
            } else {
                "escalating"
            }
        )));
    }
    let step = FlagStep {
        note: note.map(str::to_string),
        ..step.clone()
    };
    doc.insert(&list, doc.length(&list), serde_json::to_string(&step)?)?;
    // The scalar mirrors the status for readers that predate the history; the history decides.
    doc.put(&entry, "status", step.status.as_str())?;
    doc.put(&entry, "status_by", step.by.as_str())?;
    doc.commit();
    read_flag(doc, id).ok_or_else(|| Error::NotFound(format!("flag {id}")))
}

fn read_flag(doc: &AutoCommit, id: &str) -> Option<Flag> {
    let Ok(Some((Value::Object(ObjType::Map), entry))) = doc.get(ROOT, id) else {
        return None;
    };
    let field = |name: &str| get_str(doc, &entry, name).unwrap_or_default();
    let mut history = read_history(doc, &entry)
        .map(|(_, h)| h)
        .unwrap_or_default();
    history.sort_by(FlagStep::display_order);
    let status = derived_status(doc, &entry, &history);
    let count = |name: &str| match doc.get(&entry, name).ok().flatten() {
        Some((Value::Scalar(s), _)) => match s.as_ref() {
            ScalarValue::Uint(n) => Some(*n),
            ScalarValue::Int(n) => u64::try_from(*n).ok(),
            _ => None,
        },
        _ => None,
    };
    let units = count("units").unwrap_or(1);
    Some(Flag {
        id: id.to_string(),
        kind: FlagKind::from(field("kind")),
        epc: field("epc"),
        reason: field("reason"),
        raised_at: field("raised_at"),
        event: field("event"),
        status,
        history,
        units,
        open_units: count("open_units").unwrap_or(units),
    })
}

/// The flags of a document, oldest first.
pub fn read_flags(doc: &AutoCommit) -> Vec<Flag> {
    let mut flags: Vec<Flag> = doc
        .keys(ROOT)
        .filter_map(|key| read_flag(doc, &key))
        .collect();
    flags.sort_by(|a, b| a.raised_at.cmp(&b.raised_at).then(a.id.cmp(&b.id)));
    flags
}

/// The property tests' one configuration (shared with the scanner's): a fixed seed, nothing
/// persisted.
#[cfg(test)]
#[path = "../../scanner/tests/support/seeded.rs"]
mod seeded;

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::sync::{self, SyncDoc};

    fn sync_pair(a: &mut AutoCommit, b: &mut AutoCommit) {
        let (mut sa, mut sb) = (sync::State::new(), sync::State::new());
        for _ in 0..10 {
            let ma = a.sync().generate_sync_message(&mut sa);
            if let Some(m) = ma.clone() {
                b.sync().receive_sync_message(&mut sb, m).unwrap();
            }
            let mb = b.sync().generate_sync_message(&mut sb);
            if let Some(m) = mb.clone() {
                a.sync().receive_sync_message(&mut sa, m).unwrap();
            }
            if ma.is_none() && mb.is_none() {
                break;
            }
        }
    }

    fn raised(id: &str) -> Flag {
        Flag {
            id: id.into(),
            kind: "diversion".into(),
            epc: "https://id.gs1.org/01/09506000134352/21/1".into(),
            reason: "r".into(),
            raised_at: "2026-01-01T00:00:00Z".into(),
            event: "e".into(),
            status: FlagStatus::New,
            history: Vec::new(),
            units: 1,
            open_units: 1,
        }
    }

    fn step(status: FlagStatus, at: &str, by: &str, note: Option<&str>) -> FlagStep {
        FlagStep {
            status,
            at: at.into(),
            by: by.into(),
            org: Some("dist-b".into()),
            note: note.map(str::to_string),
        }
    }

    /// The hub's document with flag `f1`, and two devices that synced it.
    fn hub_and_two_devices() -> (AutoCommit, AutoCommit, AutoCommit) {
        let mut hub = new_flags_doc("dist-b", b"hub").unwrap();
        assert!(add_flag(&mut hub, &raised("f1")).unwrap());
        assert!(
            !add_flag(&mut hub, &raised("f1")).unwrap(),
            "one flag per fact"
        );
        let mut d1 = AutoCommit::new();
        let mut d2 = AutoCommit::new();
        sync_pair(&mut hub, &mut d1);
        sync_pair(&mut hub, &mut d2);
        (hub, d1, d2)
    }

    #[test]
    fn device_edits_of_hub_created_flags_merge() {
        let (mut hub, mut d1, mut d2) = hub_and_two_devices();
        move_flag(
            &mut d1,
            "f1",
            &step(FlagStatus::Seen, "2026-01-02T09:00:00+01:00", "dev1", None),
        )
        .unwrap();
        sync_pair(&mut d1, &mut hub);
        sync_pair(&mut hub, &mut d2);
        assert_eq!(read_flags(&d2), read_flags(&hub));
        let flag = &read_flags(&d2)[0];
        assert_eq!(flag.status, "seen");
        let moves: Vec<(FlagStatus, &str)> = flag
            .history
            .iter()
            .map(|s| (s.status, s.by.as_str()))
            .collect();
        assert_eq!(
            moves,
            [(FlagStatus::New, "hub"), (FlagStatus::Seen, "dev1")]
        );
    }

    #[test]
    fn two_devices_moving_one_flag_offline_keep_both_steps() {
        let (mut hub, mut d1, mut d2) = hub_and_two_devices();
        // Offline: one escalates, the other closes it with an earlier clock.
        move_flag(
            &mut d1,
            "f1",
            &step(
                FlagStatus::Escalated,
                "2026-01-03T10:00:00Z",
                "dev1",
                Some("reported to the authority"),
            ),
        )
        .unwrap();
        move_flag(
            &mut d2,
            "f1",
            &step(
                FlagStatus::Closed,
                "2026-01-02T10:00:00Z",
                "dev2",
                Some("the shipment was mislabelled"),
            ),
        )
        .unwrap();
        sync_pair(&mut d1, &mut hub);
        sync_pair(&mut d2, &mut hub);
        sync_pair(&mut hub, &mut d1);
        let flags = read_flags(&hub);
        assert_eq!(flags, read_flags(&d1));
        assert_eq!(flags, read_flags(&d2));
        // The furthest step decides, whatever the clocks said.
        assert_eq!(flags[0].status, "closed");
        let moves: Vec<(FlagStatus, &str)> = flags[0]
            .history
            .iter()
            .map(|s| (s.status, s.by.as_str()))
            .collect();
        assert_eq!(
            moves,
            [
                (FlagStatus::New, "hub"),
                (FlagStatus::Closed, "dev2"),
                (FlagStatus::Escalated, "dev1")
            ],
            "both steps kept, in time order"
        );
    }

    #[test]
    fn moves_go_forward_and_escalating_or_closing_says_why() {
        let (_, mut d1, _) = hub_and_two_devices();
        let at = "2026-01-02T00:00:00Z";
        let check = |doc: &mut AutoCommit, s: FlagStatus, note: Option<&str>, expect: &str| {
            let got = move_flag(doc, "f1", &step(s, at, "dev1", note))
                .map(|f| f.status.to_string())
                .unwrap_or_else(|e| e.to_string());
            assert_eq!(got, expect);
        };
        check(
            &mut d1,
            FlagStatus::New,
            None,
            "flag f1 is new; it can only move forward, to seen, under_investigation, escalated, closed",
        );
        check(
            &mut d1,
            FlagStatus::Escalated,
            None,
            "escalating flag f1 needs a note saying why",
        );
        check(
            &mut d1,
            FlagStatus::Closed,
            Some("  "),
            "closing flag f1 needs a note saying why",
        );
        check(
            &mut d1,
            FlagStatus::UnderInvestigation,
            None,
            "under_investigation",
        );
        check(
            &mut d1,
            FlagStatus::Seen,
            None,
            "flag f1 is under_investigation; it can only move forward, to escalated, closed",
        );
        check(&mut d1, FlagStatus::Closed, Some("false alarm"), "closed");
        check(
            &mut d1,
            FlagStatus::Escalated,
            Some("x"),
            "flag f1 is closed, and a closed flag stays closed",
        );
        assert!(matches!(
            move_flag(&mut d1, "nope", &step(FlagStatus::Seen, at, "dev1", None)),
            Err(Error::NotFound(_))
        ));
        let history = &read_flags(&d1)[0].history;
        assert_eq!(history.len(), 3, "refused moves leave no trace");
        assert_eq!(history[2].note.as_deref(), Some("false alarm"));
    }

    #[test]
    fn statuses_read_as_people_type_them() {
        assert_eq!(
            FlagStatus::parse("Under investigation").unwrap(),
            FlagStatus::UnderInvestigation
        );
        assert_eq!(
            FlagStatus::parse("under-investigation").unwrap(),
            FlagStatus::UnderInvestigation
        );
        assert_eq!(
            FlagStatus::parse("done").unwrap_err().to_string(),
            "flag status \"done\" is not one of new, seen, under_investigation, escalated, closed"
        );
    }

    #[test]
    fn flags_written_before_histories_read_and_are_upgraded_by_the_hub() {
        let mut hub = new_flags_doc("dist-b", b"hub").unwrap();
        let entry = hub.put_object(ROOT, "old", ObjType::Map).unwrap();
        for (k, v) in [
            ("kind", "clone"),
            ("epc", "u"),
            ("reason", "r"),
            ("raised_at", "2025-01-01T00:00:00Z"),
            ("event", "e"),
            ("status", "seen"),
        ] {
            hub.put(&entry, k, v).unwrap();
        }
        hub.commit();
        let mut dev = AutoCommit::new();
        sync_pair(&mut hub, &mut dev);
        let flag = &read_flags(&dev)[0];
        assert_eq!((flag.status.as_str(), flag.history.len()), ("seen", 0));
        let moving = step(
            FlagStatus::Closed,
            "2026-01-02T00:00:00Z",
            "dev1",
            Some("ok"),
        );
        assert!(
            move_flag(&mut dev, "old", &moving)
                .unwrap_err()
                .to_string()
                .contains("sync with the hub")
        );
        assert!(add_missing_histories(&mut hub).unwrap());
        assert!(!add_missing_histories(&mut hub).unwrap());
        sync_pair(&mut hub, &mut dev);
        assert_eq!(
            move_flag(&mut dev, "old", &moving).unwrap().status,
            "closed"
        );
        // Old JSON (without a history) still deserialises.
        let old: Flag = serde_json::from_str(
            r#"{"id":"f","kind":"clone","epc":"u","reason":"r","raised_at":"t","event":"e","status":"new"}"#,
        )
        .unwrap();
        assert!(old.history.is_empty());
    }

    #[test]
    fn a_flag_kind_is_its_name_and_a_kind_this_build_does_not_know_is_kept() {
        for kind in FlagKind::KNOWN {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
            assert_eq!(serde_json::from_str::<FlagKind>(&json).unwrap(), kind);
        }
        assert_eq!(FlagKind::from("out_of_sequence"), FlagKind::OutOfSequence);
        // A newer hub's kind travels through an older device's document and JSON unchanged.
        let newer: FlagKind = serde_json::from_str("\"recall_sighting\"").unwrap();
        assert_eq!(newer, FlagKind::Other("recall_sighting".into()));
        assert_eq!(
            serde_json::to_string(&newer).unwrap(),
            "\"recall_sighting\""
        );
        let mut hub = new_flags_doc("dist-b", b"hub").unwrap();
        let mut flag = raised("n1");
        flag.kind = newer.clone();
        add_flag(&mut hub, &flag).unwrap();
        add_flag(&mut hub, &raised("d1")).unwrap();
        let mut dev = AutoCommit::new();
        sync_pair(&mut hub, &mut dev);
        let kinds: Vec<FlagKind> = read_flags(&dev).into_iter().map(|f| f.kind).collect();
        assert!(kinds.contains(&newer), "{kinds:?}");
        assert!(kinds.contains(&FlagKind::Diversion), "{kinds:?}");
    }

    mod convergence {
        use super::*;
        use proptest::prelude::*;

        /// One replica's attempted move: which replica, which flag, to what, at which minute.
        fn moves() -> impl Strategy<Value = Vec<(usize, usize, usize, u8)>> {
            proptest::collection::vec((0..3usize, 0..2usize, 1..5usize, 0..60u8), 0..24)
        }

        proptest! {
            #![proptest_config(crate::docs::seeded::seeded(64))]
            /// Three replicas move two flags offline (each move valid in its own view), syncing
            /// now and then in a generated order; after a full merge in any order they agree,
            /// every accepted step is kept, and each status is the furthest step taken.
            #[test]
            fn replicas_converge(program in moves(), syncs in proptest::collection::vec((0..3usize, 0..3usize), 0..8), order in Just(vec![0usize, 1, 2]).prop_shuffle()) {
                let mut hub = new_flags_doc("dist-b", b"hub").unwrap();
                add_flag(&mut hub, &raised("f0")).unwrap();
                add_flag(&mut hub, &raised("f1")).unwrap();
                let mut replicas: Vec<AutoCommit> = (0..3).map(|_| AutoCommit::new()).collect();
                for r in &mut replicas {
                    sync_pair(&mut hub, r);
                }
                let mut accepted = [Vec::new(), Vec::new()];
                for (i, (who, flag, status, minute)) in program.iter().enumerate() {
                    let id = format!("f{flag}");
                    let s = step(
                        FlagStatus::ALL[*status],
                        &format!("2026-01-02T10:{minute:02}:00Z"),
                        &format!("dev{who}"),
                        Some("why"),
                    );
                    if move_flag(&mut replicas[*who], &id, &s).is_ok() {
                        accepted[*flag].push(s.status);
                    }
                    if let Some(&(a, b)) = syncs.get(i) && a != b {
                        let (x, y) = if a < b { let (l, r) = replicas.split_at_mut(b); (&mut l[a], &mut r[0]) } else { let (l, r) = replicas.split_at_mut(a); (&mut r[0], &mut l[b]) };
                        sync_pair(x, y);
                    }
                }
                for &i in &order {
                    sync_pair(&mut replicas[i], &mut hub);
                }
                for &i in order.iter().rev() {
                    sync_pair(&mut hub, &mut replicas[i]);
                }
                let view = read_flags(&hub);
                for r in &replicas {
                    prop_assert_eq!(&read_flags(r), &view);
                }
                for (flag, steps) in view.iter().zip(&accepted) {
                    prop_assert_eq!(flag.history.len(), steps.len() + 1);
                    let furthest = steps.iter().copied().fold(FlagStatus::New, FlagStatus::max);
                    prop_assert_eq!(flag.status.as_str(), furthest.as_str());
                }
            }
        }
    }

    #[test]
    fn manifest_close_round_trips() {
        let mut hub = new_manifest_doc("ASN-1", b"hub").unwrap();
        let mut dev = AutoCommit::new();
        sync_pair(&mut hub, &mut dev);
        assert_eq!(read_manifest_state(&dev).status, ManifestStatus::Open);
        let close = ManifestClose {
            by: "dev".into(),
            org: Some("dist-a".into()),
            at: "2026-01-01T00:00:00Z".into(),
            note: Some("1 missing".into()),
            discrepancies: Some(serde_json::json!({"missing": ["u"]})),
        };
        close_manifest(&mut dev, &close).unwrap();
        sync_pair(&mut dev, &mut hub);
        let s = read_manifest_state(&hub);
        assert_eq!(s.status, ManifestStatus::Closed);
        assert_eq!(s.closes, [close]);
        // Readers that predate per-device closes still find the single fields.
        assert_eq!(get_str(&hub, &ROOT, "closed_by").as_deref(), Some("dev"));
        assert_eq!(
            get_str(&hub, &ROOT, "discrepancies").as_deref(),
            Some("{\"missing\":[\"u\"]}")
        );
    }

    #[test]
    fn two_devices_closing_offline_keep_both_closes() {
        let mut hub = new_manifest_doc("ASN-1", b"hub").unwrap();
        let (mut d1, mut d2) = (AutoCommit::new(), AutoCommit::new());
        sync_pair(&mut hub, &mut d1);
        sync_pair(&mut hub, &mut d2);
        let close = |by: &str, at: &str| ManifestClose {
            by: by.into(),
            org: None,
            at: at.into(),
            note: Some(format!("closed by {by}")),
            discrepancies: None,
        };
        close_manifest(&mut d2, &close("dev2", "2026-01-01T10:00:00+01:00")).unwrap();
        close_manifest(&mut d1, &close("dev1", "2026-01-01T09:30:00Z")).unwrap();
        sync_pair(&mut d1, &mut hub);
        sync_pair(&mut d2, &mut hub);
        sync_pair(&mut hub, &mut d1);
        let s = read_manifest_state(&hub);
        assert_eq!(s, read_manifest_state(&d1));
        assert_eq!(s, read_manifest_state(&d2));
        let by: Vec<&str> = s.closes.iter().map(|c| c.by.as_str()).collect();
        assert_eq!(by, ["dev2", "dev1"], "both kept, by instant");
    }
}
