//! The hub's half of a sync round: authenticate the device, authorise and store what it sent,
//! merge its documents, and answer with what concerns its organisation.

use std::collections::BTreeSet;

use automerge::AutoCommit;
use automerge::sync::State;
use chrono::Utc;
use custodian_ledger::{Event, store};
use custodian_sync::docsync;
use custodian_sync::identity::RequestAuth;
use custodian_sync::protocol::{
    self, DocMessage, MAX_EVENTS_PER_ROUND, PROTOCOL_VERSION, SyncRequest, SyncResponse,
};
use rusqlite::{Connection, OptionalExtension, params};

use crate::HubError;
use crate::reconcile;
use crate::registry::{DeviceRecord, ExtractUpdate, Registry};

/// Handles one signed sync request; returns the encoded response.
pub fn handle(registry: &Registry, auth: &RequestAuth, body: &[u8]) -> Result<Vec<u8>, HubError> {
    let mut conn = registry.conn();
    let device_id = auth.device.as_str();
    let device = Registry::device(&conn, device_id)?.ok_or_else(|| {
        HubError::Unauthorized(format!("device {device_id} is not enrolled with this hub"))
    })?;
    if device.revoked {
        return Err(HubError::Unauthorized(format!(
            "device {device_id} has been revoked"
        )));
    }
    auth.verify(&device.public_key, "POST", "/v1/sync", body)
        .map_err(HubError::Unauthorized)?;
    let counter = auth.counter;
    if counter <= device.counter {
        return Err(HubError::Unauthorized(format!(
            "replayed request: counter {counter} is not above the last accepted {}",
            device.counter
        )));
    }
    // The device's clock offset, measured on this request (network delay is negligible next to
    // the skews that matter: minutes to days).
    let now = Utc::now();
    let clock_offset_ms = auth.clock_ms - now.timestamp_millis();
    let request: SyncRequest = protocol::decode(body).map_err(|e| match e {
        protocol::Error::TooLarge(_) => HubError::TooLarge(e.to_string()),
        other => HubError::BadRequest(other.to_string()),
    })?;
    if request.upload.len() > MAX_EVENTS_PER_ROUND {
        return Err(HubError::TooLarge(format!(
            "{} events in one round; the limit is {MAX_EVENTS_PER_ROUND}",
            request.upload.len()
        )));
    }
    for (i, e) in request.upload.iter().enumerate() {
        authorise(&device, i, e)?;
    }

    let tx = conn.transaction()?;
    tx.execute(
        "UPDATE devices SET counter = ?1, clock_offset_ms = ?2 WHERE id = ?3",
        params![
            i64::try_from(counter).unwrap_or(i64::MAX),
            clock_offset_ms,
            device.id
        ],
    )?;
    let mut stored = 0;
    let mut flags_raised = 0;
    // The round's flags go into their documents together, before the documents are exchanged,
    // so the device receives the flags its own upload raised in the same round.
    let mut flags = reconcile::FlagDocs::new();
    for e in &request.upload {
        let before = store::event_seq(&tx, &e.id.0)?;
        let raised = reconcile::record_corrected(&tx, &mut flags, e, now, clock_offset_ms)?;
        if before.is_none() {
            stored += 1;
        }
        flags_raised += raised.iter().filter(|f| f.org == device.org).count();
    }
    flags.write(&tx)?;
    reconcile::ensure_flags_doc(&tx, &device.org)?;
    let docs = exchange_docs(&tx, &device, &request)?;
    let (events, download_cursor, more) = download(&tx, &device, request.download_after)?;
    let extract = Registry::extract_update(
        &tx,
        registry.issuer(),
        request.extract_version,
        request.extract_deltas,
    )?;
    tx.commit()?;
    let (extract, extract_delta) = match extract {
        ExtractUpdate::Unchanged => (None, None),
        ExtractUpdate::Delta(delta) => (None, Some(delta)),
        ExtractUpdate::Whole(whole) => (Some(whole), None),
    };

    let response = SyncResponse {
        v: PROTOCOL_VERSION,
        stored,
        events,
        download_cursor,
        more,
        docs,
        extract,
        extract_delta,
        flags_raised,
        hub_time: now.to_rfc3339(),
    };
    Ok(protocol::encode(&response))
}

/// A device may only speak for its own organisation, site and identity.
fn authorise(device: &DeviceRecord, index: usize, e: &Event) -> Result<(), HubError> {
    if !e.is_sealed() {
        return Err(HubError::BadRequest(format!(
            "upload[{index}] ({}): the id does not match the content (tampered?)",
            e.id
        )));
    }
    // A correction answers to its declarer, who may only retract its own organisation's events.
    let r = e.recorded_by();
    if e.body.extension.error_declaration.is_some() && e.body.recorder.org != r.org {
        return Err(HubError::Forbidden(format!(
            "upload[{index}] ({}): declares an event of {} erroneous, but this device is of {}",
            e.id, e.body.recorder.org, device.org
        )));
    }
    if r.org != device.org || r.site != device.site || r.device != device.id {
        return Err(HubError::Forbidden(format!(
            "upload[{index}] ({}): recorded as {}/{}/{}, but this device is {}/{}/{}",
            e.id, r.org, r.site, r.device, device.org, device.site, device.id
        )));
    }
    Ok(())
}

fn in_scope(conn: &Connection, doc: &str, org: &str) -> Result<bool, HubError> {
    Ok(conn.query_row(
        "SELECT count(*) FROM doc_scope WHERE doc = ?1 AND org = ?2",
        [doc, org],
        |r| r.get::<_, i64>(0),
    )? > 0)
}

fn scope_docs(conn: &Connection, org: &str) -> Result<Vec<String>, HubError> {
    let mut stmt = conn.prepare_cached("SELECT doc FROM doc_scope WHERE org = ?1 ORDER BY doc")?;
    let rows = stmt.query_map([org], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn load_doc(conn: &Connection, id: &str) -> Result<AutoCommit, HubError> {
    let bytes = store::doc_bytes(conn, id)?
        .ok_or_else(|| HubError::Internal(format!("document {id} is in scope but missing")))?;
    Ok(AutoCommit::load(&bytes).map_err(custodian_ledger::Error::from)?)
}

fn load_state(conn: &Connection, doc: &str, device: &str) -> Result<State, HubError> {
    Ok(store::sync_state(conn, doc, device)?
        .and_then(|b| State::decode(&b).ok())
        .unwrap_or_else(State::new))
}

/// Answers the device's document messages and speaks first about the documents it said
/// nothing about but lacks something of (see `custodian_sync::docsync`). A document the device
/// is known to hold whole, unchanged since, costs no message and is not even loaded.
fn exchange_docs(
    conn: &Connection,
    device: &DeviceRecord,
    request: &SyncRequest,
) -> Result<Vec<DocMessage>, HubError> {
    let mut replies = Vec::new();
    let mut heard = BTreeSet::new();
    for m in &request.docs {
        if !in_scope(conn, &m.doc, &device.org)? {
            return Err(HubError::Forbidden(format!(
                "document {} does not belong to {}",
                m.doc, device.org
            )));
        }
        heard.insert(m.doc.as_str());
        let message = m
            .decode()
            .map_err(|e| HubError::BadRequest(e.to_string()))?;
        let mut doc = load_doc(conn, &m.doc)?;
        let mut state = load_state(conn, &m.doc, &device.id)?;
        let before = doc.get_heads();
        let reply = docsync::answer(&mut doc, &mut state, message)
            .map_err(|e| HubError::BadRequest(format!("document {}: {e}", m.doc)))?;
        if doc.get_heads() != before {
            store::save_doc_bytes(conn, &m.doc, &doc.save())?;
        }
        match reply {
            Some(reply) => replies.push(DocMessage::new(&m.doc, reply)),
            // Both sides hold the same changes, and the device knows it.
            None => mark_current(conn, &m.doc, &device.id)?,
        }
        store::save_sync_state(conn, &m.doc, &device.id, &state.encode())?;
    }
    for id in scope_docs(conn, &device.org)? {
        if heard.contains(id.as_str()) {
            continue;
        }
        let known = request.known_docs.contains(&id);
        if known && is_current(conn, &id, &device.id)? {
            continue;
        }
        let mut doc = load_doc(conn, &id)?;
        // A document the device lacks starts from nothing, whatever was persisted before.
        let mut state = if known {
            load_state(conn, &id, &device.id)?
        } else {
            State::new()
        };
        match docsync::offer(&mut doc, &mut state) {
            Some(first) => replies.push(DocMessage::new(&id, first)),
            None => mark_current(conn, &id, &device.id)?,
        }
        store::save_sync_state(conn, &id, &device.id, &state.encode())?;
    }
    Ok(replies)
}

/// The document's version: a trigger counts its saves (`doc_versions`).
fn doc_version(conn: &Connection, doc: &str) -> Result<i64, HubError> {
    Ok(conn
        .query_row(
            "SELECT version FROM doc_versions WHERE doc = ?1",
            [doc],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0))
}

/// Records that the device holds the document as it is now.
fn mark_current(conn: &Connection, doc: &str, device: &str) -> Result<(), HubError> {
    conn.execute(
        "INSERT OR REPLACE INTO doc_current (doc, device, version) VALUES (?1, ?2, ?3)",
        params![doc, device, doc_version(conn, doc)?],
    )?;
    Ok(())
}

/// Whether the device holds the document as it is now: it did at some version, and the
/// document has not been saved since.
fn is_current(conn: &Connection, doc: &str, device: &str) -> Result<bool, HubError> {
    let at: Option<i64> = conn
        .query_row(
            "SELECT version FROM doc_current WHERE doc = ?1 AND device = ?2",
            [doc, device],
            |r| r.get(0),
        )
        .optional()?;
    Ok(at == Some(doc_version(conn, doc)?))
}

/// Events shared with the device's organisation after its cursor (bounded).
fn download(
    conn: &Connection,
    device: &DeviceRecord,
    after: i64,
) -> Result<(Vec<Event>, i64, bool), HubError> {
    let limit = MAX_EVENTS_PER_ROUND;
    let mut stmt = conn.prepare_cached(
        "SELECT a.cursor, e.body FROM audience a JOIN events e ON e.seq = a.seq
         WHERE a.org = ?1 AND a.cursor > ?2 ORDER BY a.cursor LIMIT ?3",
    )?;
    let rows = stmt.query_map(
        params![
            device.org,
            after,
            i64::try_from(limit + 1).unwrap_or(i64::MAX)
        ],
        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
    )?;
    let mut rows: Vec<(i64, String)> = rows.collect::<Result<_, _>>()?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let cursor = rows.last().map_or(after, |(c, _)| *c);
    let mut events = Vec::with_capacity(rows.len());
    for (_, body) in rows {
        let e: Event = serde_json::from_str(&body).map_err(custodian_ledger::Error::from)?;
        // The device already holds what it recorded itself.
        if e.body.recorder.device != device.id {
            events.push(e);
        }
    }
    Ok((events, cursor, more))
}
