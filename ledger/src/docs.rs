//! The Automerge documents people edit concurrently: a manifest's working state and an
//! organisation's flags.
//!
//! **Architecture Invariant:** only the hub creates these documents and the containers in them.
//! Devices start from an empty document that the first sync fills, and then only set scalar
//! fields of entries that already exist. Two replicas that each create the same container would
//! get two objects at one key after a merge, and half the data would vanish from view.

use automerge::{
    AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue, Value, transaction::Transactable,
};
use serde::{Deserialize, Serialize};

use crate::Error;

/// The document id of an ASN's working state.
pub fn manifest_doc_id(asn: &str) -> String {
    format!("manifest/{asn}")
}

/// The document id of an organisation's flags.
pub fn flags_doc_id(org: &str) -> String {
    format!("flags/{org}")
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

/// A manifest's shared working state, as its document holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestState {
    /// `open` or `closed`.
    pub status: String,
    pub closed_by: Option<String>,
    pub closed_at: Option<String>,
    /// The discrepancies accepted at closing, in words.
    pub closing_note: Option<String>,
    /// The receipt's progress when it was closed, as JSON: every missing, unexpected, wrong,
    /// duplicate, expired and recalled unit by EPC.
    pub discrepancies: Option<String>,
    /// Free notes by device id.
    pub notes: Vec<(String, String)>,
}

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

pub fn read_manifest_state(doc: &AutoCommit) -> ManifestState {
    let mut state = ManifestState {
        status: get_str(doc, &ROOT, "status").unwrap_or_else(|| "open".into()),
        closed_by: get_str(doc, &ROOT, "closed_by"),
        closed_at: get_str(doc, &ROOT, "closed_at"),
        closing_note: get_str(doc, &ROOT, "closing_note"),
        discrepancies: get_str(doc, &ROOT, "discrepancies"),
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

/// Closes a manifest in its working document (scalar writes only): who, when, the
/// discrepancies in words and, as one JSON scalar, unit by unit.
pub fn close_manifest(
    doc: &mut AutoCommit,
    device: &str,
    at: &str,
    note: &str,
    discrepancies: &str,
) -> Result<(), Error> {
    doc.put(ROOT, "status", "closed")?;
    doc.put(ROOT, "closed_by", device)?;
    doc.put(ROOT, "closed_at", at)?;
    doc.put(ROOT, "closing_note", note)?;
    doc.put(ROOT, "discrepancies", discrepancies)?;
    doc.commit();
    Ok(())
}

/// A flag raised by the hub, as the organisation's flags document holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    pub id: String,
    /// `diversion`, `clone`, `unknown_serial`, `out_of_sequence`, `velocity`, `warranty`.
    pub kind: String,
    /// The unit concerned (EPC URI).
    pub epc: String,
    pub reason: String,
    pub raised_at: String,
    /// The event that raised it.
    pub event: String,
    /// `new`, `seen`, `under_investigation`, `escalated`, `closed`.
    pub status: String,
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
/// Returns whether it was added.
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
    doc.commit();
    Ok(true)
}

/// Moves a flag along its lifecycle (a scalar write on an existing entry).
pub fn set_flag_status(
    doc: &mut AutoCommit,
    id: &str,
    status: &str,
    by: &str,
) -> Result<(), Error> {
    let entry = match doc.get(ROOT, id)? {
        Some((Value::Object(ObjType::Map), entry)) => entry,
        _ => return Err(Error::NotFound(format!("flag {id}"))),
    };
    doc.put(&entry, "status", status)?;
    doc.put(&entry, "status_by", by)?;
    doc.commit();
    Ok(())
}

pub fn read_flags(doc: &AutoCommit) -> Vec<Flag> {
    let mut flags = Vec::new();
    for key in doc.keys(ROOT) {
        if let Ok(Some((Value::Object(ObjType::Map), entry))) = doc.get(ROOT, key.as_str()) {
            let field = |name: &str| get_str(doc, &entry, name).unwrap_or_default();
            flags.push(Flag {
                id: key.clone(),
                kind: field("kind"),
                epc: field("epc"),
                reason: field("reason"),
                raised_at: field("raised_at"),
                event: field("event"),
                status: field("status"),
            });
        }
    }
    flags.sort_by(|a, b| a.raised_at.cmp(&b.raised_at).then(a.id.cmp(&b.id)));
    flags
}

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

    #[test]
    fn device_edits_of_hub_created_flags_merge() {
        let mut hub = new_flags_doc("dist-b", b"hub").unwrap();
        let flag = Flag {
            id: "f1".into(),
            kind: "diversion".into(),
            epc: "https://id.gs1.org/01/09506000134352/21/1".into(),
            reason: "r".into(),
            raised_at: "2026-01-01T00:00:00Z".into(),
            event: "e".into(),
            status: "new".into(),
        };
        assert!(add_flag(&mut hub, &flag).unwrap());
        assert!(!add_flag(&mut hub, &flag).unwrap(), "one flag per fact");
        let mut d1 = AutoCommit::new();
        let mut d2 = AutoCommit::new();
        sync_pair(&mut hub, &mut d1);
        sync_pair(&mut hub, &mut d2);
        set_flag_status(&mut d1, "f1", "seen", "dev1").unwrap();
        sync_pair(&mut d1, &mut hub);
        sync_pair(&mut hub, &mut d2);
        assert_eq!(read_flags(&d2), read_flags(&hub));
        assert_eq!(read_flags(&d2)[0].status, "seen");
    }

    #[test]
    fn manifest_close_round_trips() {
        let mut hub = new_manifest_doc("ASN-1", b"hub").unwrap();
        let mut dev = AutoCommit::new();
        sync_pair(&mut hub, &mut dev);
        assert_eq!(read_manifest_state(&dev).status, "open");
        close_manifest(
            &mut dev,
            "dev",
            "2026-01-01T00:00:00Z",
            "1 missing",
            "{\"missing\":[\"u\"]}",
        )
        .unwrap();
        sync_pair(&mut dev, &mut hub);
        let s = read_manifest_state(&hub);
        assert_eq!(s.status, "closed");
        assert_eq!(s.closed_by.as_deref(), Some("dev"));
        assert_eq!(s.discrepancies.as_deref(), Some("{\"missing\":[\"u\"]}"));
    }
}
