//! The hub's half of a sync round: authenticate the device, authorise and store what it sent,
//! merge its documents, and answer with what concerns its organisation.

use std::collections::BTreeSet;

use automerge::AutoCommit;
use automerge::sync::State;
use chrono::Utc;
use custodian_ledger::event::EventType;
use custodian_ledger::sql::{AsDb, OptionalExtension, params};
use custodian_ledger::{Event, store};
use custodian_sync::docsync;
use custodian_sync::identity::RequestAuth;
use custodian_sync::protocol::{self, DocMessage, PROTOCOL_VERSION, SyncRequest, SyncResponse};

use crate::HubError;
use crate::reconcile;
use crate::registry::{DeviceRecord, ExtractUpdate, Registry};

/// The one answer to every request that fails authentication: an unknown device, a bad
/// signature, a replayed counter, missing or malformed headers. Telling them apart would let
/// anyone probe which device ids are enrolled; the hub's log keeps the detail.
pub const REFUSED: &str = "request refused: it is not signed by an enrolled, active device, or it was replayed; if this device was revoked or its data lost, enroll it again";

/// The answer to a revoked device's request (403). Only a request its own key signed gets it,
/// so it tells nobody else which devices exist; the device learns why it is refused, stops
/// retrying, and says so. Nothing in the request is stored.
pub const REVOKED: &str = "this device was revoked by its hub: nothing it sends is accepted any more; what it recorded stays on it, and a new enrollment (a fresh data directory and a new token) brings it back";

/// A refusal of authentication: logged in full, answered with [`REFUSED`].
pub fn refused(device: &str, detail: &str) -> HubError {
    eprintln!("hub: sync refused for device {device:?}: {detail}");
    HubError::Unauthorized(REFUSED.into())
}

/// How far from the hub's clock a device's clock may read and still be believed: beyond it the
/// offset is taken as unknown (zero) and each event's time is judged by [`EVENT_WINDOW_PAST_DAYS`]
/// and [`EVENT_WINDOW_FUTURE_HOURS`] alone.
pub const MAX_CLOCK_OFFSET_DAYS: i64 = 3_660;

/// Events dated (after correcting the device's clock) more than this far before the hub's clock
/// are ordered as received, and flagged: ten years covers a device offline for as long as any
/// product is serviced.
pub const EVENT_WINDOW_PAST_DAYS: i64 = 3_660;

/// Events dated more than this far after the hub's clock (after correction) are ordered as
/// received, and flagged: nothing can have happened in the future.
pub const EVENT_WINDOW_FUTURE_HOURS: i64 = 24;

/// The device's clock offset from the hub's, in milliseconds, or zero when the reading is not
/// believable (a clock years off, or a number no clock reads).
pub fn clock_offset_ms(device_clock_ms: i64, now: chrono::DateTime<Utc>) -> i64 {
    let limit = MAX_CLOCK_OFFSET_DAYS * 86_400_000;
    device_clock_ms
        .checked_sub(now.timestamp_millis())
        .filter(|o| o.abs() <= limit)
        .unwrap_or(0)
}

/// Authenticates a request: a known, unrevoked device, a valid signature, a counter above the
/// last one accepted. Every failure is the same [`REFUSED`] answer.
fn authenticate(
    conn: impl AsDb,
    auth: &RequestAuth,
    body: &[u8],
) -> Result<DeviceRecord, HubError> {
    let conn = conn.db();
    let device_id = auth.device.as_str();
    let Some(device) = Registry::device(conn, device_id)? else {
        // Spend what a known device costs, so that timing tells no more than the answer.
        let _ = auth.verify(UNKNOWN_DEVICE_KEY, "POST", "/v1/sync", body);
        return Err(refused(device_id, "not enrolled with this hub"));
    };
    auth.verify(&device.public_key, "POST", "/v1/sync", body)
        .map_err(|e| refused(device_id, &e.to_string()))?;
    if device.revoked {
        eprintln!("hub: sync refused for device {device_id:?}: revoked");
        return Err(HubError::Forbidden(REVOKED.into()));
    }
    if auth.counter <= device.counter {
        return Err(refused(
            device_id,
            &format!(
                "replayed request: counter {} is not above the last accepted {}",
                auth.counter, device.counter
            ),
        ));
    }
    Ok(device)
}

/// A well-formed public key no device holds (the Ed25519 base point's encoding), checked against
/// for unknown devices.
const UNKNOWN_DEVICE_KEY: &str = "WGZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY=";

/// Handles one signed sync request; returns the encoded response.
pub fn handle(registry: &Registry, auth: &RequestAuth, body: &[u8]) -> Result<Vec<u8>, HubError> {
    handle_at(registry, auth, body, Utc::now())
}

/// As [`handle`], with the hub's clock reading `now` (tests of what happens in a year's time).
pub fn handle_at(
    registry: &Registry,
    auth: &RequestAuth,
    body: &[u8],
    now: chrono::DateTime<Utc>,
) -> Result<Vec<u8>, HubError> {
    let guard = registry.conn()?;
    let conn = guard.db();
    let device = authenticate(conn, auth, body)?;
    let counter = auth.counter;
    // The device's clock offset, measured on this request (network delay is negligible next to
    // the skews that matter: minutes to days).
    let clock_offset_ms = clock_offset_ms(auth.clock_ms, now);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let request: SyncRequest = protocol::decode_request(body, threads).map_err(|e| match e {
        protocol::Error::TooLarge(_) => HubError::TooLarge(e.to_string()),
        other => HubError::BadRequest(other.to_string()),
    })?;
    let limit = registry.round_events();
    if request.upload.len() > limit {
        return Err(HubError::TooLarge(format!(
            "{} events in one round; this hub takes at most {limit}",
            request.upload.len()
        )));
    }
    // A device ahead of what the hub acknowledged to it: the registry was restored from a
    // backup taken before that. The device sends its events again from what the hub holds;
    // this round's upload, later events, waits for them, as reconciliation goes in order.
    let upload_from = match (request.upload_after, device.acked_through) {
        (Some(after), Some(acked)) if after > acked => Some(acked),
        _ => None,
    };
    let upload: &[Event] = if upload_from.is_some() {
        &[]
    } else {
        &request.upload
    };
    // Likewise a device past the download cursor the hub last answered it with is served
    // again from there: the restored registry numbers its new events from its own last one,
    // below the device's cursor.
    let download_after = match device.served_through {
        Some(served) if request.download_after > served => served,
        _ => request.download_after,
    };
    let sealed = seals(upload);
    for (i, e) in upload.iter().enumerate() {
        authorise(&device, i, e, sealed.get(i).copied().unwrap_or(false))?;
        for party in [&e.body.source, &e.body.destination].into_iter().flatten() {
            if party != "consumer" && !crate::catalog::org_exists(conn, party)? {
                return Err(HubError::BadRequest(format!(
                    "upload[{i}] ({}): {party} is not an organisation of this registry",
                    e.id
                )));
            }
        }
    }

    let tx = conn.transaction()?;
    tx.execute(
        "UPDATE devices SET counter = ?1, clock_offset_ms = ?2 WHERE id = ?3",
        params![counter, clock_offset_ms, device.id],
    )?;
    let mut stored = 0;
    let mut flags_raised = 0;
    // The round's flags go into their documents together, before the documents are exchanged,
    // so the device receives the flags its own upload raised in the same round.
    let mut flags = crate::flags::FlagDocs::new();
    let round = crate::round::Round::read(&tx, upload)?;
    // Each event's seal is checked and its stored columns worked out on another thread, a few
    // events ahead of the one being stored and reconciled here.
    std::thread::scope(|scope| -> Result<(), HubError> {
        let (ready, next) = std::sync::mpsc::sync_channel::<Vec<_>>(2);
        scope.spawn(move || {
            for batch in upload.chunks(PREPARED_BATCH) {
                let prepared = batch
                    .iter()
                    .map(|e| prepare(e, clock_offset_ms, now))
                    .collect();
                if ready.send(prepared).is_err() {
                    // The round failed: nothing more is stored.
                    return;
                }
            }
        });
        for batch in upload.chunks(PREPARED_BATCH) {
            let prepared = next
                .recv()
                .map_err(|_| HubError::Internal("a round's events were not prepared".into()))?;
            for (e, ready) in batch.iter().zip(prepared) {
                let (believed, prepared) = ready?;
                // None: held before (a replayed upload), which raises nothing again.
                let Some(mut raised) =
                    reconcile::record_prepared(&tx, &mut flags, &round, e, &prepared, now)?
                else {
                    continue;
                };
                if !believed {
                    raised.extend(reconcile::implausible_time(
                        &tx,
                        &mut flags,
                        e,
                        clock_offset_ms,
                        now,
                    )?);
                }
                stored += 1;
                flags_raised += raised.iter().filter(|f| f.org == device.org).count();
            }
        }
        Ok(())
    })?;
    round.finish(&tx)?;
    flags.write(&tx)?;
    // The device applied an answer this registry does not remember giving: it was restored
    // from a backup taken before. What it knew then of the device's documents is out of date.
    let restored = request
        .answered
        .is_some_and(|answered| answered > device.counter);
    let docs = exchange_docs(&tx, &device, &request, restored)?;
    let (events, download_cursor, more) = download(
        &tx,
        &device,
        download_after,
        request.download_limit(),
        registry.answer_bytes(),
    )?;
    // What the device will hold once it has this answer. An upload cursor behind the one
    // acknowledged before (an answer the device never got) goes back with it.
    let acked_through = if upload_from.is_some() {
        device.acked_through
    } else {
        Some(request.upload_through)
    };
    tx.execute(
        "UPDATE devices SET acked_through = ?1, served_through = ?2 WHERE id = ?3",
        params![acked_through, download_cursor, device.id],
    )?;
    // Likewise for the flags' listed units: a device past the cursor the hub last answered it
    // with is served again from there.
    let flag_units_after = match (request.flag_units_after, device.flag_units_served) {
        (Some(after), Some(served)) if after > served => Some(served),
        (after, _) => after,
    };
    let (flag_units, flag_units_cursor, flag_units_more) = match flag_units_after {
        Some(after) => {
            let sent = crate::listing::download(
                &tx,
                &device.org,
                after,
                crate::listing::MAX_UNITS_PER_ROUND,
            )?;
            tx.execute(
                "UPDATE devices SET flag_units_served = ?1 WHERE id = ?2",
                params![sent.1, device.id],
            )?;
            sent
        }
        None => (Vec::new(), 0, false),
    };
    let extract = Registry::extract_update(
        &tx,
        registry.issuer(),
        request.extract_version,
        request.extract_deltas,
    )?;
    tx.commit()?;
    if stored > 0 {
        crate::pg::keep_statistics(conn);
    }
    let (extract, extract_delta) = match extract {
        ExtractUpdate::Unchanged => (None, None),
        ExtractUpdate::Delta(delta) => (None, Some(delta)),
        ExtractUpdate::Whole(whole) => (Some(whole), None),
    };

    // A round's request and what was read for it are tens of megabytes in thousands of
    // allocations: freed on another thread, the answer goes out without waiting for them.
    if upload.is_empty() {
        drop((round, request));
    } else {
        dispose((round, request));
    }
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
        flag_units,
        flag_units_cursor,
        flag_units_more,
        upload_from,
    };
    Ok(protocol::encode(&response))
}

/// Drops `what` on a thread of its own (detached: nothing waits for it). With no thread to be
/// had, the failed spawn drops it here, as it would have been.
fn dispose<T: Send + 'static>(what: T) {
    let _ = std::thread::Builder::new()
        .name("hub-dispose".into())
        .spawn(move || drop(what));
}

/// How many events of a round are prepared at a time, on another thread, ahead of those being
/// stored (two batches ahead at most).
const PREPARED_BATCH: usize = 256;

/// Works out what storing `e` writes: whether its time was believed, and its columns at the
/// clock offset it is ordered by ([`event_offset`]).
fn prepare(
    e: &Event,
    clock_offset_ms: i64,
    now: chrono::DateTime<Utc>,
) -> Result<(bool, store::Prepared), HubError> {
    let (offset, believed) = event_offset(e, clock_offset_ms, now);
    Ok((believed, store::Prepared::of(e, offset)?))
}

/// The clock offset to order `e` by, and whether its time was believed: an event dated, after
/// correcting its device's clock, outside the window around the hub's clock (more than
/// [`EVENT_WINDOW_PAST_DAYS`] before, [`EVENT_WINDOW_FUTURE_HOURS`] after) is ordered as if it
/// happened when it arrived, so that a wrong or hostile date cannot make it the latest (or the
/// earliest) event of its units for ever.
fn event_offset(e: &Event, clock_offset_ms: i64, now: chrono::DateTime<Utc>) -> (i64, bool) {
    let at = e.body.event_time.timestamp_millis();
    let corrected = at.saturating_sub(clock_offset_ms);
    let now_ms = now.timestamp_millis();
    let earliest = now_ms - EVENT_WINDOW_PAST_DAYS * 86_400_000;
    let latest = now_ms + EVENT_WINDOW_FUTURE_HOURS * 3_600_000;
    if (earliest..=latest).contains(&corrected) {
        (clock_offset_ms, true)
    } else {
        (at.saturating_sub(now_ms), false)
    }
}

/// The longest business transaction id (an ASN or order number) the hub takes: EDI and GS1
/// document numbers are far shorter, and ids become parts of document ids.
pub const MAX_TRANSACTION_ID: usize = 80;

/// The years an event's time may fall in: what EPCIS (`xsd:dateTime` as RFC 3339, four-digit
/// years) can carry and every partner's system can read back.
const EVENT_YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// Whether each event's id matches its content, worked out on as many threads as the machine
/// has cores (up to four): hashing every event of a round is the costliest of the checks.
fn seals(events: &[Event]) -> Vec<bool> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let chunk = events.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = events
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(Event::is_sealed).collect::<Vec<_>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().unwrap_or_default())
            .collect()
    })
}

/// A device may only speak for its own organisation, site and identity; `sealed`: whether the
/// event's id matches its content ([`seals`]).
fn authorise(device: &DeviceRecord, index: usize, e: &Event, sealed: bool) -> Result<(), HubError> {
    let year = chrono::Datelike::year(&e.body.event_time.naive_utc());
    if !EVENT_YEARS.contains(&year) {
        return Err(HubError::BadRequest(format!(
            "upload[{index}] ({}): event time {} is not a date EPCIS can carry (years 1 to 9999): check the device's clock",
            e.id,
            e.body.event_time.to_rfc3339()
        )));
    }
    for t in &e.body.biz_transactions {
        if t.id.is_empty()
            || t.id.chars().count() > MAX_TRANSACTION_ID
            || t.id.chars().any(char::is_control)
        {
            return Err(HubError::BadRequest(format!(
                "upload[{index}] ({}): a business transaction id must be 1 to {MAX_TRANSACTION_ID} printable characters",
                e.id
            )));
        }
    }
    if !sealed {
        return Err(HubError::BadRequest(format!(
            "upload[{index}] ({}): the id does not match the content (tampered?)",
            e.id
        )));
    }
    // What the hub stores, it must be able to give back as EPCIS; no device records this.
    if e.body.event_type == EventType::ObjectEvent && e.body.parent.is_some() {
        return Err(HubError::BadRequest(format!(
            "upload[{index}] ({}): an ObjectEvent has no parent (a parent belongs to an AggregationEvent)",
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

fn in_scope(conn: impl AsDb, doc: &str, org: &str) -> Result<bool, HubError> {
    let conn = conn.db();
    Ok(conn.query_row(
        "SELECT count(*) FROM doc_scope WHERE doc = ?1 AND org = ?2",
        [doc, org],
        |r| r.get::<_, i64>(0),
    )? > 0)
}

fn scope_docs(conn: impl AsDb, org: &str) -> Result<Vec<String>, HubError> {
    let conn = conn.db();
    let mut stmt = conn.prepare_cached("SELECT doc FROM doc_scope WHERE org = ?1 ORDER BY doc")?;
    let rows = stmt.query_map([org], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn load_doc(conn: impl AsDb, id: &str) -> Result<AutoCommit, HubError> {
    let conn = conn.db();
    let bytes = store::doc_bytes(conn, id)?
        .ok_or_else(|| HubError::Internal(format!("document {id} is in scope but missing")))?;
    Ok(AutoCommit::load(&bytes).map_err(custodian_ledger::Error::from)?)
}

fn load_state(conn: impl AsDb, doc: &str, device: &str) -> Result<State, HubError> {
    let conn = conn.db();
    Ok(store::sync_state(conn, doc, device)?
        .and_then(|b| State::decode(&b).ok())
        .unwrap_or_else(State::new))
}

/// Answers the device's document messages and speaks first about the documents it said
/// nothing about but lacks something of (see `custodian_sync::docsync`). A document the device
/// is known to hold whole, unchanged since, costs no message and is not even loaded.
///
/// Once the registry was `restored`, what it kept of each document's sync with the device is
/// out of date: the device may hold changes this registry acknowledged and lost, and be sure it
/// holds them. Every document is asked about afresh ([`docsync::probe`]), and the device
/// answers with what the registry lacks.
fn exchange_docs(
    conn: impl AsDb,
    device: &DeviceRecord,
    request: &SyncRequest,
    restored: bool,
) -> Result<Vec<DocMessage>, HubError> {
    let conn = conn.db();
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
        if known && !restored && is_current(conn, &id, &device.id)? {
            continue;
        }
        let mut doc = load_doc(conn, &id)?;
        // A document the device lacks starts from nothing, whatever was persisted before.
        let mut state = if known {
            load_state(conn, &id, &device.id)?
        } else {
            State::new()
        };
        let first = if known && restored {
            docsync::probe(&mut doc, &mut state)
        } else {
            docsync::offer(&mut doc, &mut state)
        };
        match first {
            Some(first) => replies.push(DocMessage::new(&id, first)),
            None => mark_current(conn, &id, &device.id)?,
        }
        store::save_sync_state(conn, &id, &device.id, &state.encode())?;
    }
    Ok(replies)
}

/// The document's version: a trigger counts its saves (`doc_versions`).
fn doc_version(conn: impl AsDb, doc: &str) -> Result<i64, HubError> {
    let conn = conn.db();
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
fn mark_current(conn: impl AsDb, doc: &str, device: &str) -> Result<(), HubError> {
    let conn = conn.db();
    conn.execute(
        "INSERT INTO doc_current (doc, device, version) VALUES (?1, ?2, ?3)
         ON CONFLICT (doc, device) DO UPDATE SET version = excluded.version",
        params![doc, device, doc_version(conn, doc)?],
    )?;
    Ok(())
}

/// Whether the device holds the document as it is now: it did at some version, and the
/// document has not been saved since.
fn is_current(conn: impl AsDb, doc: &str, device: &str) -> Result<bool, HubError> {
    let conn = conn.db();
    let at: Option<i64> = conn
        .query_row(
            "SELECT version FROM doc_current WHERE doc = ?1 AND device = ?2",
            [doc, device],
            |r| r.get(0),
        )
        .optional()?;
    Ok(at == Some(doc_version(conn, doc)?))
}

/// Events shared with the device's organisation after its cursor, at most `limit` of them,
/// and as many as fit in `bytes` of their JSON (the first always goes).
fn download(
    conn: impl AsDb,
    device: &DeviceRecord,
    after: i64,
    limit: usize,
    bytes: usize,
) -> Result<(Vec<Event>, i64, bool), HubError> {
    let conn = conn.db();
    // What the device recorded itself is passed over unread (it counts towards the limit, so a
    // round stays bounded however much the device uploaded).
    let mut stmt = conn.prepare_cached(
        "SELECT a.cursor, CASE WHEN a.device IS ?4 THEN NULL ELSE e.body END
         FROM audience a JOIN events e ON e.seq = a.seq
         WHERE a.org = ?1 AND a.cursor > ?2 ORDER BY a.cursor LIMIT ?3",
    )?;
    let rows = stmt.query_map(
        params![
            device.org,
            after,
            i64::try_from(limit + 1).unwrap_or(i64::MAX),
            device.id,
        ],
        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?)),
    )?;
    let mut rows: Vec<(i64, Option<String>)> = rows.collect::<Result<_, _>>()?;
    let mut more = rows.len() > limit;
    rows.truncate(limit);
    let mut taken = 0;
    let mut sent = 0;
    for (_, body) in &rows {
        let size = body.as_ref().map_or(0, String::len);
        if sent > 0 && sent + size > bytes {
            more = true;
            break;
        }
        sent += size;
        taken += 1;
    }
    rows.truncate(taken);
    let cursor = rows.last().map_or(after, |(c, _)| *c);
    let mut events = Vec::with_capacity(rows.len());
    for (_, body) in rows {
        let Some(body) = body else {
            continue;
        };
        let e: Event = serde_json::from_str(&body).map_err(custodian_ledger::Error::from)?;
        // The device already holds what it recorded itself; another organisation's private
        // words stay with it.
        if e.body.recorder.device == device.id {
            continue;
        }
        events.push(if e.body.recorder.org == device.org {
            e
        } else {
            e.disclosed()
        });
    }
    Ok((events, cursor, more))
}
