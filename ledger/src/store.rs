//! SQLite storage shared by a device ledger and the hub: the grow-only event set with its
//! indexes, Automerge documents with their per-peer sync states, and a small key-value table.
//!
//! **Architecture Invariant:** an event row is never updated or deleted; inserting an event whose
//! id is already present is a no-op. That makes the event set a grow-only set whose merge is
//! union, so replays and double uploads are harmless.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use crate::Error;
use crate::event::{Action, BizStep, Epc, Event, EventType};

/// Opens (creating if needed) a database file with the durability settings every writer needs:
/// WAL and `synchronous=FULL`, so a committed transaction survives power loss.
pub fn open(path: &Path) -> Result<Connection, Error> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrate(&conn)?;
    Ok(conn)
}

fn migrate(conn: &Connection) -> Result<(), Error> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS events (
             seq   INTEGER PRIMARY KEY AUTOINCREMENT,
             id    TEXT NOT NULL UNIQUE,
             time  TEXT NOT NULL,
             step  TEXT NOT NULL,
             body  TEXT NOT NULL,
             local INTEGER NOT NULL
         );
         CREATE TABLE IF NOT EXISTS event_epcs (
             epc  TEXT NOT NULL,
             seq  INTEGER NOT NULL REFERENCES events(seq),
             role TEXT NOT NULL CHECK (role IN ('epc', 'parent')),
             PRIMARY KEY (epc, role, seq)
         ) WITHOUT ROWID;
         CREATE INDEX IF NOT EXISTS events_by_step ON events (step, time);
         -- What aggregation events put into (ADD) or took out of (DELETE) which logistic unit.
         CREATE TABLE IF NOT EXISTS containment (
             child  TEXT NOT NULL,
             parent TEXT NOT NULL,
             seq    INTEGER NOT NULL REFERENCES events(seq),
             time   TEXT NOT NULL,
             added  INTEGER NOT NULL,
             PRIMARY KEY (child, seq)
         ) WITHOUT ROWID;
         CREATE INDEX IF NOT EXISTS containment_by_parent ON containment (parent, time);
         CREATE TABLE IF NOT EXISTS event_transactions (
             kind TEXT NOT NULL,
             id   TEXT NOT NULL,
             seq  INTEGER NOT NULL REFERENCES events(seq),
             PRIMARY KEY (kind, id, seq)
         ) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS docs (
             id    TEXT PRIMARY KEY,
             bytes BLOB NOT NULL
         );
         CREATE TABLE IF NOT EXISTS doc_sync (
             doc   TEXT NOT NULL,
             peer  TEXT NOT NULL,
             state BLOB NOT NULL,
             PRIMARY KEY (doc, peer)
         );
         CREATE TABLE IF NOT EXISTS kv (
             key   TEXT PRIMARY KEY,
             value TEXT NOT NULL
         );",
    )?;
    Ok(())
}

/// Stores an event unless its id is already present. Returns the new row's sequence number, or
/// `None` for an event already held.
pub fn insert_event(conn: &Connection, event: &Event, local: bool) -> Result<Option<i64>, Error> {
    insert_event_corrected(conn, event, local, 0)
}

/// As [`insert_event`], ordering the event by its time minus `clock_offset_ms`: the hub corrects
/// for the recording device's measured clock offset, so that a device whose clock is wrong does
/// not appear to act before or after what it really followed.
pub fn insert_event_corrected(
    conn: &Connection,
    event: &Event,
    local: bool,
    clock_offset_ms: i64,
) -> Result<Option<i64>, Error> {
    let body = serde_json::to_string(event)?;
    let inserted = conn.execute(
        "INSERT INTO events (id, time, step, body, local) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(id) DO NOTHING",
        params![event.id.0, corrected_time(event, clock_offset_ms), event.body.biz_step.as_str(), body, local],
    )?;
    if inserted == 0 {
        return Ok(None);
    }
    let seq = conn.last_insert_rowid();
    let mut epc_stmt = conn
        .prepare_cached("INSERT OR IGNORE INTO event_epcs (epc, seq, role) VALUES (?1, ?2, ?3)")?;
    for epc in &event.body.epcs {
        epc_stmt.execute(params![epc.uri(), seq, "epc"])?;
    }
    if let Some(parent) = &event.body.parent {
        epc_stmt.execute(params![parent.uri(), seq, "parent"])?;
        if event.body.event_type == EventType::AggregationEvent
            && event.body.action != Action::Observe
        {
            let mut c = conn.prepare_cached(
                "INSERT OR IGNORE INTO containment (child, parent, seq, time, added) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let added = event.body.action == Action::Add;
            for child in &event.body.epcs {
                c.execute(params![
                    child.uri(),
                    parent.uri(),
                    seq,
                    corrected_time(event, clock_offset_ms),
                    added
                ])?;
            }
        }
    }
    let mut tx_stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO event_transactions (kind, id, seq) VALUES (?1, ?2, ?3)",
    )?;
    for t in &event.body.biz_transactions {
        tx_stmt.execute(params![t.kind, t.id, seq])?;
    }
    Ok(Some(seq))
}

/// UTC with fixed-width fraction, so that string order is time order whatever the offsets.
fn sortable_time(event: &Event) -> String {
    corrected_time(event, 0)
}

fn corrected_time(event: &Event, clock_offset_ms: i64) -> String {
    (event.body.event_time.naive_utc() - chrono::Duration::milliseconds(clock_offset_ms))
        .format("%Y-%m-%dT%H:%M:%S%.9f")
        .to_string()
}

fn decode(body: String) -> Result<Event, Error> {
    Ok(serde_json::from_str(&body)?)
}

/// Events with a sequence number above `after`, oldest first, at most `limit`, with their seqs.
pub fn events_after(
    conn: &Connection,
    after: i64,
    limit: usize,
    local_only: bool,
) -> Result<Vec<(i64, Event)>, Error> {
    let sql = if local_only {
        "SELECT seq, body FROM events WHERE seq > ?1 AND local = 1 ORDER BY seq LIMIT ?2"
    } else {
        "SELECT seq, body FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2"
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(
        params![after, i64::try_from(limit).unwrap_or(i64::MAX)],
        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
    )?;
    rows.map(|row| {
        let (seq, body) = row?;
        Ok((seq, decode(body)?))
    })
    .collect()
}

pub fn event_seq(conn: &Connection, id: &str) -> Result<Option<i64>, Error> {
    Ok(conn
        .query_row("SELECT seq FROM events WHERE id = ?1", [id], |r| r.get(0))
        .optional()?)
}

pub fn event_count(conn: &Connection) -> Result<i64, Error> {
    Ok(conn.query_row("SELECT count(*) FROM events", [], |r| r.get(0))?)
}

/// Events that name `epc` directly (as an EPC or as an aggregation parent), in event-time order.
pub fn events_naming(conn: &Connection, epc: &Epc) -> Result<Vec<Event>, Error> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT e.body, e.time, e.seq FROM event_epcs x JOIN events e ON e.seq = x.seq
         WHERE x.epc = ?1 ORDER BY e.time, e.seq",
    )?;
    let rows = stmt.query_map([epc.uri()], |r| r.get::<_, String>(0))?;
    rows.map(|b| decode(b?)).collect()
}

/// Events belonging to a business transaction (`desadv` ASN-0001, …), oldest first.
pub fn events_in_transaction(conn: &Connection, kind: &str, id: &str) -> Result<Vec<Event>, Error> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.body FROM event_transactions t JOIN events e ON e.seq = t.seq
         WHERE t.kind = ?1 AND t.id = ?2 ORDER BY e.time, e.seq",
    )?;
    let rows = stmt.query_map([kind, id], |r| r.get::<_, String>(0))?;
    rows.map(|b| decode(b?)).collect()
}

/// Ids of the business transactions of one kind that have at least one event.
pub fn transaction_ids(conn: &Connection, kind: &str) -> Result<Vec<String>, Error> {
    let mut stmt = conn
        .prepare_cached("SELECT DISTINCT id FROM event_transactions WHERE kind = ?1 ORDER BY id")?;
    let rows = stmt.query_map([kind], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// What a logistic unit contains now: children packed into it (recursively) and not unpacked.
pub fn contents(conn: &Connection, parent: &Epc) -> Result<Vec<Epc>, Error> {
    let mut out = Vec::new();
    let mut stack = vec![parent.uri()];
    let mut seen = std::collections::BTreeSet::new();
    let mut stmt = conn.prepare_cached(
        "SELECT child, added FROM containment WHERE parent = ?1 ORDER BY time, seq",
    )?;
    while let Some(p) = stack.pop() {
        if !seen.insert(p.clone()) {
            continue;
        }
        let mut children = std::collections::BTreeSet::new();
        let rows = stmt.query_map([&p], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))?;
        for row in rows {
            let (child, added) = row?;
            if added {
                children.insert(child);
            } else {
                children.remove(&child);
            }
        }
        for c in children {
            let epc = Epc::parse(&c).map_err(Error::Invalid)?;
            if matches!(epc, Epc::Logistic(_)) {
                stack.push(c);
            }
            out.push(epc);
        }
    }
    Ok(out)
}

/// The logistic units that `epc` was packed into (directly or through nested packing).
pub fn containers(conn: &Connection, epc: &Epc) -> Result<Vec<Epc>, Error> {
    let mut out: Vec<String> = Vec::new();
    let mut frontier = vec![epc.uri()];
    let mut stmt = conn
        .prepare_cached("SELECT DISTINCT parent FROM containment WHERE child = ?1 AND added = 1")?;
    while let Some(child) = frontier.pop() {
        let parents = stmt
            .query_map([&child], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        for p in parents {
            if !out.contains(&p) {
                out.push(p.clone());
                frontier.push(p);
            }
        }
    }
    out.iter()
        .map(|u| Epc::parse(u).map_err(Error::Invalid))
        .collect()
}

/// The latest event with business step `step` that names any of `epcs`; with `until`, only
/// those at or before its event time and other than it.
pub fn last_with_step(
    conn: &Connection,
    epcs: &[Epc],
    step: BizStep,
    until: Option<&Event>,
) -> Result<Option<Event>, Error> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.body FROM event_epcs x JOIN events e ON e.seq = x.seq
         WHERE x.epc = ?1 AND x.role = 'epc' AND e.step = ?2 AND e.time <= ?3 AND e.id != ?4
         ORDER BY e.time DESC, e.seq DESC LIMIT 1",
    )?;
    // The stored (possibly clock-corrected) time of `until`, where it is held.
    let (until_time, except) = match until {
        Some(e) => {
            let stored: Option<String> = conn
                .query_row("SELECT time FROM events WHERE id = ?1", [&e.id.0], |r| {
                    r.get(0)
                })
                .optional()?;
            (stored.unwrap_or_else(|| sortable_time(e)), e.id.0.as_str())
        }
        None => ("9999".to_string(), ""),
    };
    let mut best: Option<Event> = None;
    for epc in epcs {
        let found = stmt
            .query_row(params![epc.uri(), step.as_str(), until_time, except], |r| {
                r.get::<_, String>(0)
            })
            .optional()?;
        if let Some(body) = found {
            let e = decode(body)?;
            if best
                .as_ref()
                .is_none_or(|b| e.body.event_time > b.body.event_time)
            {
                best = Some(e);
            }
        }
    }
    Ok(best)
}

/// Every event that bears on `epc`: those naming it and those naming a container it was in.
pub fn events_touching(conn: &Connection, epc: &Epc) -> Result<Vec<Event>, Error> {
    let mut events = events_naming(conn, epc)?;
    for c in containers(conn, epc)? {
        for e in events_naming(conn, &c)? {
            // The packing of a sibling into the same container says nothing about this unit.
            if e.body.event_type == EventType::AggregationEvent && !e.body.epcs.contains(epc) {
                continue;
            }
            if !events.iter().any(|x| x.id == e.id) {
                events.push(e);
            }
        }
    }
    events.sort_by_key(|a| a.body.event_time);
    Ok(events)
}

pub fn kv_get(conn: &Connection, key: &str) -> Result<Option<String>, Error> {
    Ok(conn
        .query_row("SELECT value FROM kv WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

pub fn kv_set(conn: &Connection, key: &str, value: &str) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO kv (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, value],
    )?;
    Ok(())
}

pub fn doc_bytes(conn: &Connection, id: &str) -> Result<Option<Vec<u8>>, Error> {
    Ok(conn
        .query_row("SELECT bytes FROM docs WHERE id = ?1", [id], |r| r.get(0))
        .optional()?)
}

pub fn save_doc_bytes(conn: &Connection, id: &str, bytes: &[u8]) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO docs (id, bytes) VALUES (?1, ?2) ON CONFLICT(id) DO UPDATE SET bytes = excluded.bytes",
        params![id, bytes],
    )?;
    Ok(())
}

pub fn doc_ids(conn: &Connection) -> Result<Vec<String>, Error> {
    let mut stmt = conn.prepare_cached("SELECT id FROM docs ORDER BY id")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn sync_state(conn: &Connection, doc: &str, peer: &str) -> Result<Option<Vec<u8>>, Error> {
    Ok(conn
        .query_row(
            "SELECT state FROM doc_sync WHERE doc = ?1 AND peer = ?2",
            [doc, peer],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn save_sync_state(
    conn: &Connection,
    doc: &str,
    peer: &str,
    state: &[u8],
) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO doc_sync (doc, peer, state) VALUES (?1, ?2, ?3)
         ON CONFLICT(doc, peer) DO UPDATE SET state = excluded.state",
        params![doc, peer, state],
    )?;
    Ok(())
}
