//! SQLite storage shared by a device ledger and the hub: the grow-only event set with its
//! indexes, Automerge documents with their per-peer sync states, and a small key-value table.
//!
//! **Architecture Invariant:** an event row is never updated or deleted; inserting an event whose
//! id is already present is a no-op. That makes the event set a grow-only set whose merge is
//! union, so replays and double uploads are harmless.
//!
//! Corrections are events too (EPCIS error declarations). The queries that feed derived views
//! (custody, containment, manifests, the hub's checks) return only *live* events: neither a
//! declaration nor an event declared erroneous. [`events_after`], which feeds sync and export,
//! returns everything.

use std::path::Path;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, FixedOffset};
use rusqlite::Connection;

use crate::sql::{AsDb, Batched, Db, params};

use crate::Error;
use crate::event::{Action, BizStep, Epc, Event, EventId, EventType};

pub mod pasts;

/// Opens (creating if needed) a database file with the durability settings every writer needs:
/// WAL and `synchronous=FULL`, so a committed transaction survives power loss.
///
/// The query planner is held stable (`SQLITE_DBCONFIG_ENABLE_QPSG`). Without it SQLite marks
/// some statements (the walk behind [`last_with_step`] among them) to be planned again whenever
/// their parameters are cleared, which the statement cache does each time it takes one back: the
/// hot statements were compiled anew on every scan and for every event a hub reconciles, a fifth
/// of the CPU of both. The plans do not depend on the values bound (no statistics are gathered).
///
/// Every transaction begins `IMMEDIATE`: it takes the write lock, waiting up to the busy timeout
/// for it, before it reads. A deferred transaction that reads first and writes later cannot wait
/// when another process (a sync beside a scan) wrote in between: SQLite fails it at once with
/// "database is locked", busy timeout or not.
pub fn open(path: &Path) -> Result<Connection, Error> {
    open_paged(path, None)
}

/// As [`open`], a file created here getting pages of `page_size` bytes (a power of two from 512
/// to 65,536; SQLite's default is 4,096). An existing file keeps the pages it was created with.
pub fn open_paged(path: &Path, page_size: Option<u32>) -> Result<Connection, Error> {
    let mut conn = Connection::open(path)?;
    conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    if let Some(size) = page_size {
        // Takes effect only before the file's first page is written (switching to WAL writes it).
        conn.pragma_update(None, "page_size", i64::from(size))?;
    }
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // A statement inside a transaction that may fail half-way (an insert that fires a trigger or
    // checks a foreign key) saves the pages it changes to a statement journal first: in memory
    // rather than in a temporary file, whose writes were a fifth of a scan's cost. It holds at
    // most the pages of one statement and is dropped with it.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    migrate(&conn)?;
    migrate_totals(&conn)?;
    migrate_event_epcs(&conn)?;
    Ok(conn)
}

/// The number of events, kept as each is stored ([`insert_event_corrected`]): a status read on
/// every scan must not count a million rows (that took 20–30 ms and held the ledger meanwhile).
/// Filled once from the rows when a ledger written before the count was kept is first opened;
/// events are never deleted, so inserts are all it sees.
///
/// A trigger kept it at first. A statement that fires a trigger may fail half-way, so SQLite
/// copied every page each insert into `events` changed into a statement journal first, in case
/// it had to undo the row: a tenth of storing an event on the hub. The insert counts instead, in
/// its own transaction; a ledger with the trigger loses it when it is first opened.
fn migrate_totals(conn: &Connection) -> Result<(), Error> {
    let shape = |conn: &Connection| -> Result<(bool, bool), Error> {
        Ok(conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'event_totals'),
                        EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'count_events')",
            )?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?)
    };
    if shape(conn)? == (true, false) {
        return Ok(());
    }
    conn.execute_batch("BEGIN IMMEDIATE")?;
    // Another connection may have done it while this one waited for the lock.
    let done = shape(conn).and_then(|(counted, trigger)| {
        if !counted {
            conn.execute_batch(
                "CREATE TABLE event_totals (
                     one    INTEGER PRIMARY KEY CHECK (one = 1),
                     events INTEGER NOT NULL
                 );
                 INSERT INTO event_totals (one, events) SELECT 1, count(*) FROM events;",
            )?;
        }
        if trigger {
            conn.execute_batch("DROP TRIGGER count_events;")?;
        }
        Ok(())
    });
    match done {
        Ok(()) => conn.execute_batch("COMMIT")?,
        Err(e) => {
            conn.execute_batch("ROLLBACK")?;
            return Err(e);
        }
    }
    Ok(())
}

/// The index behind [`last_with_step`]: `event_epcs` (one row per unit an event names, as an EPC
/// or as an aggregation parent) carries its event's business step and stored time in its key,
/// (epc, role, step, time, seq), so the latest event of a step for a unit is one probe at the end
/// of a range, however many events the unit has. (Walking the unit's rows and filtering their
/// events by step made every scan of a unit inspected 40,000 times read all 40,000 events; the
/// other plan SQLite chose walked every later event of that step in the ledger.) Carrying them
/// in the one table, rather than in an index of its own, keeps a scan's writes as they were.
///
/// The time is the event row's own (`events.time`, clock-corrected on the hub), so the key
/// orders events exactly as the rows do. A ledger written before is rebuilt into this shape
/// once, when it is first opened.
fn migrate_event_epcs(conn: &Connection) -> Result<(), Error> {
    const SHAPED: &str =
        "SELECT count(*) FROM pragma_table_info('event_epcs') WHERE name IN ('step', 'time')";
    let done = |conn: &Connection| -> Result<bool, Error> {
        Ok(conn
            .prepare(SHAPED)?
            .query_row([], |r| r.get::<_, i64>(0))?
            == 2)
    };
    if done(conn)? {
        return Ok(());
    }
    conn.execute_batch("BEGIN IMMEDIATE")?;
    // Another connection may have rebuilt it while this one waited for the lock.
    let rebuilt = done(conn).and_then(|done| {
        if done {
            return Ok(());
        }
        conn.execute_batch(&format!(
            "{EVENT_EPCS_AS}
             INSERT INTO event_epcs_shaped (epc, role, step, time, seq)
                 SELECT x.epc, x.role, e.step, e.time, x.seq
                 FROM event_epcs x JOIN events e ON e.seq = x.seq;
             DROP TABLE event_epcs;
             ALTER TABLE event_epcs_shaped RENAME TO event_epcs;
             -- An index of the same facts kept by development builds.
             DROP TRIGGER IF EXISTS index_epc_steps;
             DROP TABLE IF EXISTS epc_steps;"
        ))?;
        Ok(())
    });
    match rebuilt {
        Ok(()) => conn.execute_batch("COMMIT")?,
        Err(e) => {
            conn.execute_batch("ROLLBACK")?;
            return Err(e);
        }
    }
    Ok(())
}

/// `event_epcs` as it is now, created under the name `event_epcs_shaped`.
const EVENT_EPCS_AS: &str = "CREATE TABLE event_epcs_shaped (
             epc  TEXT NOT NULL,
             role TEXT NOT NULL CHECK (role IN ('epc', 'parent')),
             step TEXT NOT NULL,
             time TEXT NOT NULL,
             seq  INTEGER NOT NULL REFERENCES events(seq),
             PRIMARY KEY (epc, role, step, time, seq)
         ) WITHOUT ROWID;";

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
             role TEXT NOT NULL CHECK (role IN ('epc', 'parent')),
             step TEXT NOT NULL,
             time TEXT NOT NULL,
             seq  INTEGER NOT NULL REFERENCES events(seq),
             PRIMARY KEY (epc, role, step, time, seq)
         ) WITHOUT ROWID;
         CREATE INDEX IF NOT EXISTS events_by_step ON events (step, time);
         -- The units the organisation's flags list, as the hub sent them (see docs::FlagUnit; the
         -- hub keeps its own listing in flag_units).
         CREATE TABLE IF NOT EXISTS listed_units (
             flag TEXT NOT NULL, epc TEXT NOT NULL, event TEXT NOT NULL, resolved TEXT,
             PRIMARY KEY (flag, epc)
         );
         -- What waits to be uploaded is counted on every status: from this index, not the rows.
         CREATE INDEX IF NOT EXISTS local_events ON events (seq) WHERE local = 1;
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
         -- Error declarations: `seq` (the declaring event) declares the event whose id is
         -- `declared` erroneous. The declared event may arrive before or after its declaration.
         CREATE TABLE IF NOT EXISTS declarations (
             declared TEXT NOT NULL,
             seq      INTEGER NOT NULL REFERENCES events(seq),
             PRIMARY KEY (declared, seq)
         ) WITHOUT ROWID;
         CREATE INDEX IF NOT EXISTS declarations_by_seq ON declarations (seq);
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

/// The table of standard EPCIS events imported on a device, as they came (their canonical
/// JSON, keys sorted), keyed by that text's SHA-256; `event` is the id of the event each was
/// judged as, NULL for one kept without judging. Export writes these in place of what it would
/// make. A device ledger's own (the hub takes no EPCIS file; its store has no such table).
pub(crate) const EPCIS_EVENTS: &str = "CREATE TABLE IF NOT EXISTS epcis_events (
         seq   INTEGER PRIMARY KEY AUTOINCREMENT,
         key   TEXT NOT NULL UNIQUE,
         event TEXT,
         json  TEXT NOT NULL
     );
     CREATE INDEX IF NOT EXISTS epcis_events_by_event ON epcis_events (event)
         WHERE event IS NOT NULL;";

/// Keeps a standard EPCIS event as it came (`json`, its canonical text), judged as the event
/// `judged` or not judged. Returns whether it was new.
pub fn insert_epcis(conn: impl AsDb, json: &str, judged: Option<&EventId>) -> Result<bool, Error> {
    let key = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(json.as_bytes()));
    let n = conn.db().execute(
        "INSERT INTO epcis_events (key, event, json) VALUES (?1, ?2, ?3) ON CONFLICT (key) DO NOTHING",
        params![key, judged.map(|id| id.0.as_str()), json],
    )?;
    Ok(n > 0)
}

/// The standard EPCIS events kept as they came, in the order they were kept: (the id of the
/// event each was judged as, its JSON text).
pub fn epcis_kept(conn: impl AsDb) -> Result<Vec<(Option<String>, String)>, Error> {
    Ok(conn.db().query_map(
        "SELECT event, json FROM epcis_events ORDER BY seq",
        params![],
        |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, String>(1)?)),
    )?)
}

/// Stores an event unless its id is already present. Returns the new row's sequence number, or
/// `None` for an event already held.
pub fn insert_event(conn: impl AsDb, event: &Event, local: bool) -> Result<Option<i64>, Error> {
    insert_event_corrected(conn, event, local, 0)
}

/// As [`insert_event`], ordering the event by its time minus `clock_offset_ms`: the hub corrects
/// for the recording device's measured clock offset, so that a device whose clock is wrong does
/// not appear to act before or after what it really followed.
pub fn insert_event_corrected(
    conn: impl AsDb,
    event: &Event,
    local: bool,
    clock_offset_ms: i64,
) -> Result<Option<i64>, Error> {
    insert_prepared(conn, event, &Prepared::of(event, clock_offset_ms)?, local)
}

/// What storing an event writes beside its id, computed without the connection: a hub works
/// these out for a round's next events on another thread while it stores the current one.
pub struct Prepared {
    body: String,
    time: String,
    epcs: Vec<String>,
    parent: Option<String>,
}

impl Prepared {
    /// `event`'s columns, ordered by its time less `clock_offset_ms` (see
    /// [`insert_event_corrected`]).
    pub fn of(event: &Event, clock_offset_ms: i64) -> Result<Prepared, Error> {
        Ok(Prepared {
            body: serde_json::to_string(event)?,
            time: corrected_time(event, clock_offset_ms),
            epcs: {
                // An EPC named twice is one row: the event's rows are then new keys, written
                // without a conflict check (on PostgreSQL a third of the insert's cost).
                let mut seen = std::collections::HashSet::with_capacity(event.body.epcs.len());
                let mut uris = Vec::with_capacity(event.body.epcs.len());
                for uri in event.body.epcs.iter().map(Epc::uri) {
                    if seen.insert(uri.clone()) {
                        uris.push(uri);
                    }
                }
                uris
            },
            parent: event.body.parent.as_ref().map(Epc::uri),
        })
    }

    /// The bound of `event`'s checks once it is stored ([`Until::stored`]).
    pub fn until(&self, event: &Event) -> Until {
        Until {
            time: self.time.clone(),
            except: event.id.0.clone(),
        }
    }
}

/// As [`insert_event_corrected`], with the columns prepared already; `prepared` must be
/// `event`'s.
pub fn insert_prepared(
    conn: impl AsDb,
    event: &Event,
    prepared: &Prepared,
    local: bool,
) -> Result<Option<i64>, Error> {
    let conn = conn.db();
    let seq = insert_prepared_uncounted(conn, event, prepared, local)?;
    if seq.is_some() {
        count_events(conn, 1)?;
    }
    Ok(seq)
}

/// As [`insert_prepared`], leaving the count of events to the caller ([`count_events`]): a
/// round of thousands adds them in one statement, not one per event.
pub fn insert_prepared_uncounted(
    conn: impl AsDb,
    event: &Event,
    prepared: &Prepared,
    local: bool,
) -> Result<Option<i64>, Error> {
    let conn = conn.db();
    let step = event.body.biz_step.as_str();
    let values = params![event.id.0, prepared.time, step, prepared.body, local];
    let seq = match conn {
        // SQLite runs a RETURNING clause as a trigger, which makes each insert keep a statement
        // journal of every page it touches and open a table for the returned row: a third of
        // storing an event. The row an insert made is the connection's last.
        Db::Sqlite(sqlite) => (conn.execute(
            "INSERT INTO events (id, time, step, body, local) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(id) DO NOTHING",
            values,
        )? == 1)
            .then(|| sqlite.last_insert_rowid()),
        #[cfg(feature = "postgres")]
        Db::Postgres(_) => conn.query_opt(
            "INSERT INTO events (id, time, step, body, local) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(id) DO NOTHING RETURNING seq",
            values,
            |r| r.get::<_, i64>(0),
        )?,
    };
    let Some(seq) = seq else {
        return Ok(None);
    };
    insert_rows(conn, event, prepared, seq)?;
    Ok(Some(seq))
}

/// Stores `event` (whose columns are `prepared`) at `seq`, a number no event holds, in a
/// transaction whose caller knows it holds no event of that id: its rows are written with the
/// transaction's next statement ([`Db::insert_later`]), a round's together. The caller adds the
/// events it stored so to the store's count ([`count_events`]).
pub fn insert_prepared_at(
    conn: impl AsDb,
    event: &Event,
    prepared: &Prepared,
    local: bool,
    seq: i64,
) -> Result<(), Error> {
    static EVENT: Batched = Batched {
        sql: "INSERT INTO events (seq, id, time, step, body, local) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        types: &["int8", "text", "text", "text", "text", "int8"],
    };
    let conn = conn.db();
    let step = event.body.biz_step.as_str();
    conn.insert_later(
        &EVENT,
        params![seq, event.id.0, prepared.time, step, prepared.body, local],
    )?;
    insert_rows(conn, event, prepared, seq)
}

/// Adds `n` events to the count of events the store holds.
pub fn count_events(conn: impl AsDb, n: i64) -> Result<(), Error> {
    conn.db()
        .execute("UPDATE event_totals SET events = events + ?1", params![n])?;
    Ok(())
}

/// The rows that find the event stored at `seq`: by what it names, packs, declares and
/// belongs to.
fn insert_rows(conn: Db<'_>, event: &Event, prepared: &Prepared, seq: i64) -> Result<(), Error> {
    static DECLARATION: Batched = Batched {
        sql: "INSERT OR IGNORE INTO declarations (declared, seq) VALUES (?1, ?2)",
        types: &["text", "int8"],
    };
    static EPC: Batched = Batched {
        sql: "INSERT INTO event_epcs (epc, role, step, time, seq) VALUES (?1, ?2, ?3, ?4, ?5)",
        types: &["text", "text", "text", "text", "int8"],
    };
    static CONTAINMENT: Batched = Batched {
        sql: "INSERT OR IGNORE INTO containment (child, parent, seq, time, added) VALUES (?1, ?2, ?3, ?4, ?5)",
        types: &["text", "text", "int8", "text", "int8"],
    };
    static TRANSACTION: Batched = Batched {
        sql: "INSERT OR IGNORE INTO event_transactions (kind, id, seq) VALUES (?1, ?2, ?3)",
        types: &["text", "text", "int8"],
    };
    let Prepared {
        time, epcs, parent, ..
    } = prepared;
    let step = event.body.biz_step.as_str();
    let declared = event.declared_id();
    if let Some(declared) = &declared {
        conn.insert_later(&DECLARATION, params![declared.0, seq])?;
    }
    for epc in epcs {
        conn.insert_later(&EPC, params![epc, "epc", step, time, seq])?;
    }
    if let Some(parent) = parent {
        conn.insert_later(&EPC, params![parent, "parent", step, time, seq])?;
        // A declaration repeats an aggregation to retract it; it packs nothing.
        if event.body.event_type == EventType::AggregationEvent
            && event.body.action != Action::Observe
            && declared.is_none()
        {
            let added = event.body.action == Action::Add;
            for child in epcs {
                conn.insert_later(&CONTAINMENT, params![child, parent, seq, time, added])?;
            }
        }
    }
    for t in &event.body.biz_transactions {
        conn.insert_later(&TRANSACTION, params![t.kind, t.id, seq])?;
    }
    Ok(())
}

/// UTC with fixed-width fraction, so that string order is time order whatever the offsets.
fn sortable_time(event: &Event) -> String {
    corrected_time(event, 0)
}

fn corrected_time(event: &Event, clock_offset_ms: i64) -> String {
    let at = event.body.event_time.naive_utc();
    // An offset that no time can absorb leaves the event at its own time: the caller bounds
    // offsets, and a correction never panics.
    chrono::TimeDelta::try_milliseconds(clock_offset_ms)
        .and_then(|d| at.checked_sub_signed(d))
        .unwrap_or(at)
        .format("%Y-%m-%dT%H:%M:%S%.9f")
        .to_string()
}

/// SQL condition on an `events` row aliased `e`: neither an error declaration nor declared
/// erroneous.
const LIVE: &str = "NOT EXISTS (SELECT 1 FROM declarations d WHERE d.declared = e.id)
     AND NOT EXISTS (SELECT 1 FROM declarations d WHERE d.seq = e.seq)";

/// SQL condition on a `containment` row: its aggregation was not declared erroneous.
const LIVE_CONTAINMENT: &str = "NOT EXISTS (SELECT 1 FROM declarations d JOIN events x ON x.id = d.declared WHERE x.seq = containment.seq)";

fn decode(body: String) -> Result<Event, Error> {
    Ok(serde_json::from_str(&body)?)
}

/// Events naming more things than this are read one thing at a time by the per-unit queries
/// ([`read_for`]).
pub const WIDE_EVENT: usize = 256;

/// How many wide events [`read_for`] keeps decoded.
const WIDE_EVENTS_KEPT: usize = 64;

/// Wide events, decoded once and kept without their list of things, by (database, sequence
/// number, id): stored events never change.
type WideEvents = BTreeMap<(String, i64, String), std::sync::Arc<Event>>;
static WIDE_EVENTS: std::sync::Mutex<WideEvents> = std::sync::Mutex::new(BTreeMap::new());

/// Event `seq` (id `id`) as a question about `epc` needs it: whole, unless it names more than
/// [`WIDE_EVENT`] things, in which case its list of things holds `epc` alone when it names it
/// (`names`), or nothing (its parent is kept). A commissioning or shipment of 150,000 units
/// would otherwise be read whole for every one of its units; a wide event is decoded once per
/// process and database ([`crate::sql::Db::place`]; in-memory databases: each time).
fn read_for(conn: impl AsDb, seq: i64, id: &str, epc: &Epc, names: bool) -> Result<Event, Error> {
    let conn = conn.db();
    let place = conn.place().map(str::to_string);
    let key = place.map(|p| (p, seq, id.to_string()));
    // `wide` is held without its things.
    let trimmed = |wide: &Event| {
        let mut e = wide.clone();
        if names {
            e.body.epcs.push(epc.clone());
        }
        e
    };
    if let Some(key) = &key
        && let Some(wide) = WIDE_EVENTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .cloned()
    {
        return Ok(trimmed(&wide));
    }
    let body: String = conn.query_row(
        "SELECT body FROM events WHERE seq = ?1",
        params![seq],
        |r| r.get(0),
    )?;
    let event = decode(body)?;
    if event.body.epcs.len() <= WIDE_EVENT {
        return Ok(event);
    }
    let mut header = event;
    header.body.epcs = Vec::new();
    let out = trimmed(&header);
    if let Some(key) = key {
        let mut kept = WIDE_EVENTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if kept.len() >= WIDE_EVENTS_KEPT {
            kept.clear();
        }
        kept.insert(key, std::sync::Arc::new(header));
    }
    Ok(out)
}

/// Events with a sequence number above `after`, oldest first, at most `limit`, with their seqs.
pub fn events_after(
    conn: impl AsDb,
    after: i64,
    limit: usize,
    local_only: bool,
) -> Result<Vec<(i64, Event)>, Error> {
    bodies_after(conn, after, limit, local_only)?
        .into_iter()
        .map(|(seq, body)| Ok((seq, decode(body)?)))
        .collect()
}

/// As [`events_after`], each event as it is stored: its JSON, checked to be JSON and not read
/// further. A sync uploads these as they are; decoding each to encode it again was most of
/// what reading an upload cost.
pub fn events_after_as_stored(
    conn: impl AsDb,
    after: i64,
    limit: usize,
    local_only: bool,
) -> Result<Vec<(i64, Box<serde_json::value::RawValue>)>, Error> {
    bodies_after(conn, after, limit, local_only)?
        .into_iter()
        .map(|(seq, body)| Ok((seq, serde_json::value::RawValue::from_string(body)?)))
        .collect()
}

fn bodies_after(
    conn: impl AsDb,
    after: i64,
    limit: usize,
    local_only: bool,
) -> Result<Vec<(i64, String)>, Error> {
    let sql = if local_only {
        "SELECT seq, body FROM events WHERE seq > ?1 AND local = 1 ORDER BY seq LIMIT ?2"
    } else {
        "SELECT seq, body FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2"
    };
    Ok(conn.db().query_map(sql, params![after, limit], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })?)
}

/// How many events recorded on this device come after `after` (what waits to be uploaded).
pub fn local_events_after_count(conn: impl AsDb, after: i64) -> Result<usize, Error> {
    let n: i64 = conn.db().query_row(
        "SELECT count(*) FROM events WHERE seq > ?1 AND local = 1",
        params![after],
        |r| r.get(0),
    )?;
    Ok(usize::try_from(n).unwrap_or(0))
}

pub fn event_seq(conn: impl AsDb, id: &str) -> Result<Option<i64>, Error> {
    Ok(conn
        .db()
        .query_opt("SELECT seq FROM events WHERE id = ?1", params![id], |r| {
            r.get(0)
        })?)
}

pub fn event_count(conn: impl AsDb) -> Result<i64, Error> {
    Ok(conn
        .db()
        .query_row("SELECT events FROM event_totals", params![], |r| r.get(0))?)
}

/// Live events that name `epc` directly (as an EPC or as an aggregation parent), in
/// event-time order.
pub fn events_naming(conn: impl AsDb, epc: &Epc) -> Result<Vec<Event>, Error> {
    events_naming_except(conn, epc, None)
}

/// As [`events_naming`], leaving out the event `except` (unread: the caller holds it).
fn events_naming_except(
    conn: impl AsDb,
    epc: &Epc,
    except: Option<&EventId>,
) -> Result<Vec<Event>, Error> {
    // Ordered and grouped here rather than by SQLite, which builds two temporary b-trees for it
    // on every call: this is on the path of every unit the hub reconciles.
    let conn = conn.db();
    let mut rows: Vec<(String, i64, String, bool)> = conn.query_map(
        &format!(
            "SELECT e.time, e.seq, e.id, x.role = 'epc' FROM event_epcs x JOIN events e ON e.seq = x.seq
             WHERE x.epc = ?1 AND {LIVE}"
        ),
        params![epc.uri()],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    rows.sort_unstable();
    // An event naming `epc` as one of its things and as its parent is one row, naming it.
    rows.dedup_by(|later, kept| {
        let same = later.1 == kept.1;
        kept.3 |= same && later.3;
        same
    });
    rows.into_iter()
        .filter(|(_, _, id, _)| except.is_none_or(|x| x.0 != *id))
        .map(|(_, seq, id, names)| read_for(conn, seq, &id, epc, names))
        .collect()
}

/// Whether the live event `id` names `epc` among its things (not as its parent).
pub fn names(conn: impl AsDb, id: &EventId, epc: &Epc) -> Result<bool, Error> {
    Ok(conn.db().query_row(
        "SELECT EXISTS (SELECT 1 FROM event_epcs x JOIN events e ON e.seq = x.seq
         WHERE e.id = ?1 AND x.epc = ?2 AND x.role = 'epc')",
        params![id.0, epc.uri()],
        |r| r.get(0),
    )?)
}

/// The error declarations that name `epc`, oldest first.
pub fn declarations_naming(conn: impl AsDb, epc: &Epc) -> Result<Vec<Event>, Error> {
    conn.db()
        .query_map(
            "SELECT DISTINCT e.body, e.time, e.seq FROM event_epcs x JOIN events e ON e.seq = x.seq
             JOIN declarations d ON d.seq = e.seq
             WHERE x.epc = ?1 ORDER BY e.time, e.seq",
            params![epc.uri()],
            |r| r.get::<_, String>(0),
        )?
        .into_iter()
        .map(decode)
        .collect()
}

/// One event by id, live or not.
pub fn event_by_id(conn: impl AsDb, id: &str) -> Result<Option<Event>, Error> {
    conn.db()
        .query_opt("SELECT body FROM events WHERE id = ?1", params![id], |r| {
            r.get::<_, String>(0)
        })?
        .map(decode)
        .transpose()
}

/// Whether the event with this id has been declared erroneous.
pub fn is_declared(conn: impl AsDb, id: &str) -> Result<bool, Error> {
    Ok(conn
        .db()
        .query_opt(
            "SELECT 1 FROM declarations WHERE declared = ?1 LIMIT 1",
            params![id],
            |_| Ok(()),
        )?
        .is_some())
}

/// Live events belonging to a business transaction (`desadv` ASN-0001, …), oldest first.
pub fn events_in_transaction(conn: impl AsDb, kind: &str, id: &str) -> Result<Vec<Event>, Error> {
    conn.db()
        .query_map(
            &format!(
                "SELECT e.body FROM event_transactions t JOIN events e ON e.seq = t.seq
                 WHERE t.kind = ?1 AND t.id = ?2 AND {LIVE} ORDER BY e.time, e.seq"
            ),
            params![kind, id],
            |r| r.get::<_, String>(0),
        )?
        .into_iter()
        .map(decode)
        .collect()
}

/// Ids of the business transactions of one kind that have at least one event.
pub fn transaction_ids(conn: impl AsDb, kind: &str) -> Result<Vec<String>, Error> {
    Ok(conn.db().query_map(
        "SELECT DISTINCT id FROM event_transactions WHERE kind = ?1 ORDER BY id",
        params![kind],
        |r| r.get(0),
    )?)
}

/// What a logistic unit contains now: children packed into it (recursively) and not unpacked.
pub fn contents(conn: impl AsDb, parent: &Epc) -> Result<Vec<Epc>, Error> {
    contents_until(conn, parent, None)
}

/// What a logistic unit contained when `event` happened: its packings and unpackings up to that
/// moment, in fold order (recursively). A unit taken out of a pallet after the pallet shipped
/// was shipped inside it; one packed in afterwards was not.
pub fn contents_at(conn: impl AsDb, parent: &Epc, event: &Event) -> Result<Vec<Epc>, Error> {
    let conn = conn.db();
    let until = (stored_time(conn, event)?, event.body.biz_step.phase());
    contents_until(conn, parent, Some(&until))
}

/// The units `event` names: directly, and inside the logistic units it names as they were
/// packed at its moment ([`contents_at`]).
pub fn units_at(conn: impl AsDb, event: &Event) -> Result<BTreeSet<Epc>, Error> {
    let conn = conn.db();
    let mut units = BTreeSet::new();
    for epc in &event.body.epcs {
        match epc {
            Epc::Unit { .. } | Epc::Proprietary { .. } => {
                units.insert(epc.clone());
            }
            Epc::Logistic(_) => units.extend(
                contents_at(conn, epc, event)?
                    .into_iter()
                    .filter(Epc::is_unit),
            ),
        }
    }
    Ok(units)
}

/// The time `event` is stored under (on a hub, corrected for its recorder's clock), or its own
/// when it is not held.
fn stored_time(conn: impl AsDb, event: &Event) -> Result<String, Error> {
    Ok(conn
        .db()
        .query_opt(
            "SELECT time FROM events WHERE id = ?1",
            params![event.id.0],
            |r| r.get(0),
        )?
        .unwrap_or_else(|| sortable_time(event)))
}

/// [`contents`], counting only the aggregations at or before `until` (a stored time and a
/// business step's phase) when given.
fn contents_until(
    conn: impl AsDb,
    parent: &Epc,
    until: Option<&(String, u8)>,
) -> Result<Vec<Epc>, Error> {
    let mut out = Vec::new();
    let mut stack = vec![parent.uri()];
    let mut seen = std::collections::BTreeSet::new();
    let conn = conn.db();
    let sql = format!(
        "SELECT containment.child, containment.added, containment.time, e.step, e.id
         FROM containment JOIN events e ON e.seq = containment.seq
         WHERE containment.parent = ?1 AND {LIVE_CONTAINMENT}"
    );
    while let Some(p) = stack.pop() {
        if !seen.insert(p.clone()) {
            continue;
        }
        let mut children = std::collections::BTreeSet::new();
        let mut rows = conn.query_map(&sql, params![p], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, bool>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        // In fold order, so every replica that holds the same events agrees on what is inside
        // whatever order they arrived in.
        rows.sort_by_cached_key(|(_, _, time, step, id)| {
            (
                time.clone(),
                BizStep::parse(step).map_or(u8::MAX, BizStep::phase),
                id.clone(),
            )
        });
        for (child, added, time, step, _) in rows {
            if let Some((until_time, until_phase)) = until {
                let phase = BizStep::parse(&step).map_or(u8::MAX, BizStep::phase);
                if (&time, phase) > (until_time, *until_phase) {
                    break;
                }
            }
            if added {
                children.insert(child);
            } else {
                children.remove(&child);
            }
        }
        for c in children {
            let epc = Epc::parse(&c).map_err(|e| Error::Invalid(e.to_string()))?;
            if matches!(epc, Epc::Logistic(_)) {
                stack.push(c);
            }
            out.push(epc);
        }
    }
    Ok(out)
}

/// The logistic units (or, for a part, the unit) that `epc` is inside now, directly or through
/// nesting: packed or fitted and not unpacked or removed since (in fold order, so every replica
/// that holds the same events agrees). What it was inside at some moment is
/// [`last_with_step_touching`]'s business, through the spans of [`containment_spans`].
pub fn containers(conn: impl AsDb, epc: &Epc) -> Result<Vec<Epc>, Error> {
    Ok(containment_spans(conn.db(), epc, &mut vec![epc.clone()])?
        .into_iter()
        .filter(|(_, spans)| spans.iter().any(|s| s.until.is_none()))
        .map(|(container, _)| container)
        .collect())
}

/// The live aggregations (packing and unpacking, fitting and removal) that have `child` among
/// their children: from the `containment` table, so a unit's other events are not read. Its key,
/// (child, seq), makes each row a distinct aggregation, in order, with no temporary b-tree. Each
/// event is looked up by its number (a subquery, not a join a planner could turn into a scan of
/// every event when its statistics are behind a table that grew).
fn aggregations_of(conn: impl AsDb, child: &Epc) -> Result<Vec<Event>, Error> {
    let conn = conn.db();
    let rows: Vec<(i64, String)> = conn.query_map(
        &format!(
            "SELECT containment.seq,
                    (SELECT e.id FROM events e WHERE e.seq = containment.seq)
             FROM containment
             WHERE containment.child = ?1 AND {LIVE_CONTAINMENT}
               AND NOT EXISTS (SELECT 1 FROM declarations d WHERE d.seq = containment.seq)
             ORDER BY containment.seq"
        ),
        params![child.uri()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    rows.into_iter()
        .map(|(seq, id)| read_for(conn, seq, &id, child, true))
        .collect()
}

/// The latest event with business step `step` that names any of `epcs`; with `until`, only
/// those at or before its event time and other than it.
///
/// This is on every scan's path (sold, ended, in quarantine), so its cost must not grow with a
/// unit's history: each EPC is one descending walk of `event_epcs`'s key from `until`, stopping
/// at the first live event (see [`migrate_event_epcs`]).
pub fn last_with_step(
    conn: impl AsDb,
    epcs: &[Epc],
    step: BizStep,
    until: Option<&Event>,
) -> Result<Option<Event>, Error> {
    let conn = conn.db();
    last_with_step_until(conn, epcs, step, &Until::of(conn, until)?)
}

/// As [`last_with_step`], within a bound the caller already holds (one event's checks share
/// one).
pub fn last_with_step_until(
    conn: impl AsDb,
    epcs: &[Epc],
    step: BizStep,
    bound: &Until,
) -> Result<Option<Event>, Error> {
    let conn = conn.db();
    let mut best: Option<Event> = None;
    for epc in epcs {
        if let Some(e) = latest_where(conn, epc, step, bound, |_| true)?
            && best
                .as_ref()
                .is_none_or(|b| e.body.event_time > b.body.event_time)
        {
            best = Some(e);
        }
    }
    Ok(best)
}

/// The latest live event with business step `step` that bears on `epc` as of `until` (with
/// `until`, at or before its time and other than it): one naming it, or one naming a container
/// (a logistic unit, or the unit a part is fitted into) at a moment it was inside, from its
/// packing until its unpacking. A pallet shipped after a unit was taken out of it did not ship
/// that unit.
pub fn last_with_step_touching(
    conn: impl AsDb,
    epc: &Epc,
    step: BizStep,
    until: Option<&Event>,
) -> Result<Option<Event>, Error> {
    let conn = conn.db();
    last_with_step_touching_until(conn, epc, step, &Until::of(conn, until)?)
}

/// As [`last_with_step_touching`], within a bound the caller already holds.
pub fn last_with_step_touching_until(
    conn: impl AsDb,
    epc: &Epc,
    step: BizStep,
    bound: &Until,
) -> Result<Option<Event>, Error> {
    let conn = conn.db();
    last_with_step_touching_within(conn, epc, step, bound, &spans_of(conn, epc)?)
}

/// Every container `epc` was ever inside, however deeply nested, with when: what
/// [`last_with_step_touching_within`] takes. It changes only when something is packed or
/// unpacked, or such an event is declared erroneous.
pub fn spans_of(conn: impl AsDb, epc: &Epc) -> Result<BTreeMap<Epc, Vec<Span>>, Error> {
    containment_spans(conn.db(), epc, &mut vec![epc.clone()])
}

/// As [`last_with_step_touching_until`], with `epc`'s containers as [`spans_of`] read them.
pub fn last_with_step_touching_within(
    conn: impl AsDb,
    epc: &Epc,
    step: BizStep,
    bound: &Until,
    containers: &BTreeMap<Epc, Vec<Span>>,
) -> Result<Option<Event>, Error> {
    let conn = conn.db();
    let mut best = latest_where(conn, epc, step, bound, |_| true)?;
    for (container, spans) in containers {
        let inside = |e: &Event| spans.iter().any(|s| s.contains(e.body.event_time));
        if let Some(e) = latest_where(conn, container, step, bound, inside)?
            && best
                .as_ref()
                .is_none_or(|b| e.body.event_time > b.body.event_time)
        {
            best = Some(e);
        }
    }
    Ok(best)
}

/// Where a backwards walk through a unit's events starts: at or before a stored time, other than
/// one event.
pub struct Until {
    time: String,
    except: String,
}

impl Until {
    /// At or before `until`'s stored (possibly clock-corrected) time, other than it; with no
    /// event, everything.
    pub fn of(conn: impl AsDb, until: Option<&Event>) -> Result<Until, Error> {
        Ok(match until {
            Some(e) => Until {
                time: stored_time(conn, e)?,
                except: e.id.0.clone(),
            },
            None => Until {
                time: "9999".into(),
                except: String::new(),
            },
        })
    }

    /// At or before `event`, which [`insert_event_corrected`] just stored with
    /// `clock_offset_ms`, other than it: its stored time without reading it back.
    pub fn stored(event: &Event, clock_offset_ms: i64) -> Until {
        Until {
            time: corrected_time(event, clock_offset_ms),
            except: event.id.0.clone(),
        }
    }
}

/// The latest live event with `step` naming `epc` within `bound` that `keep` accepts: a walk
/// down `event_epcs`'s key, newest first, that stops at the first one kept.
fn latest_where(
    conn: impl AsDb,
    epc: &Epc,
    step: BizStep,
    bound: &Until,
    mut keep: impl FnMut(&Event) -> bool,
) -> Result<Option<Event>, Error> {
    let conn = conn.db();
    conn.query_first(
        &last_with_step_sql(),
        params![epc.uri(), step.as_str(), bound.time, bound.except],
        |row| {
            let e = read_for(conn, row.get(0)?, &row.get::<_, String>(1)?, epc, true)?;
            Ok(keep(&e).then_some(e))
        },
    )
}

/// The walk behind [`last_with_step`]. `CROSS JOIN` keeps SQLite's planner on the index:
/// `event_epcs` outer, each candidate's event row fetched by its sequence number, newest first;
/// the caller stops stepping at the first row it keeps.
fn last_with_step_sql() -> String {
    format!(
        "SELECT e.seq, e.id FROM event_epcs x CROSS JOIN events e ON e.seq = x.seq
         WHERE x.epc = ?1 AND x.role = 'epc' AND x.step = ?2 AND x.time <= ?3 AND e.id != ?4
           AND {LIVE}
         ORDER BY x.time DESC, x.seq DESC"
    )
}

/// Every live event that bears on `epc`: those naming it, and those naming a container (a
/// logistic unit it was packed in, or the unit a part was fitted into) while it was inside:
/// from its packing or fitting until its unpacking or removal. In fold order
/// ([`Event::fold_order`]).
pub fn events_touching(conn: impl AsDb, epc: &Epc) -> Result<Vec<Event>, Error> {
    events_touching_except(conn, epc, None)
}

/// As [`events_touching`], leaving out the event `except` (the one being checked, which the
/// caller holds: it is not read back).
pub fn events_touching_except(
    conn: impl AsDb,
    epc: &Epc,
    except: Option<&EventId>,
) -> Result<Vec<Event>, Error> {
    let conn = conn.db();
    let mut events = events_naming_except(conn, epc, except)?;
    let mut held: std::collections::BTreeSet<EventId> =
        events.iter().map(|e| e.id.clone()).collect();
    let mut path = vec![epc.clone()];
    for (container, spans) in containment_spans(conn, epc, &mut path)? {
        for mut e in events_naming_except(conn, &container, except)? {
            // The packing of a sibling into the same container says nothing about this unit.
            if e.body.event_type == EventType::AggregationEvent && !e.body.epcs.contains(epc) {
                if e.body.epcs.len() > 1 || !names(conn, &e.id, epc)? {
                    continue;
                }
                // A wide packing, read without its things (see `read_for`), that packs it.
                e.body.epcs.push(epc.clone());
            }
            if spans.iter().any(|s| s.contains(e.body.event_time)) && held.insert(e.id.clone()) {
                events.push(e);
            }
        }
    }
    events.sort_by(Event::fold_order);
    Ok(events)
}

/// A stretch of time a thing spent inside a container: from its packing (inclusive) until its
/// unpacking (exclusive), or open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub from: DateTime<FixedOffset>,
    pub until: Option<DateTime<FixedOffset>>,
}

impl Span {
    pub fn contains(&self, t: DateTime<FixedOffset>) -> bool {
        t >= self.from && self.until.is_none_or(|u| t < u)
    }

    fn intersect(&self, other: &Span) -> Option<Span> {
        let from = self.from.max(other.from);
        let until = match (self.until, other.until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        until
            .is_none_or(|u| from < u)
            .then_some(Span { from, until })
    }
}

/// When `child` was directly inside which container, from the live aggregations among
/// `events` (the events naming it) that have it as a child.
pub fn direct_spans(child: &Epc, events: &[Event]) -> BTreeMap<Epc, Vec<Span>> {
    let mut sorted: Vec<&Event> = events
        .iter()
        .filter(|e| {
            e.body.event_type == EventType::AggregationEvent
                && e.body.action != Action::Observe
                && e.body.epcs.contains(child)
                && e.body.parent.is_some()
        })
        .collect();
    sorted.sort_by(|a, b| Event::fold_order(a, b));
    let mut spans: BTreeMap<Epc, Vec<Span>> = BTreeMap::new();
    for e in sorted {
        let Some(parent) = &e.body.parent else {
            continue;
        };
        let list = spans.entry(parent.clone()).or_default();
        let open = list.last_mut().filter(|s| s.until.is_none());
        match (e.body.action, open) {
            (Action::Add, None) => list.push(Span {
                from: e.body.event_time,
                until: None,
            }),
            (Action::Delete, Some(span)) => span.until = Some(e.body.event_time),
            // Packed twice without unpacking, or unpacked while not packed: nothing changes.
            _ => {}
        }
    }
    spans.retain(|_, l| !l.is_empty());
    spans
}

/// Every container `epc` was inside, however deeply nested, with when. `path` (which starts as
/// `[epc]`) guards against a containment cycle in bad data.
fn containment_spans(
    conn: impl AsDb,
    epc: &Epc,
    path: &mut Vec<Epc>,
) -> Result<BTreeMap<Epc, Vec<Span>>, Error> {
    let conn = conn.db();
    let mut out: BTreeMap<Epc, Vec<Span>> = BTreeMap::new();
    for (parent, spans) in direct_spans(epc, &aggregations_of(conn, epc)?) {
        if path.contains(&parent) {
            continue;
        }
        out.entry(parent.clone()).or_default().extend(&spans);
        path.push(parent.clone());
        for (outer, outer_spans) in containment_spans(conn, &parent, path)? {
            let within: Vec<Span> = spans
                .iter()
                .flat_map(|s| outer_spans.iter().filter_map(|o| s.intersect(o)))
                .collect();
            if !within.is_empty() {
                out.entry(outer).or_default().extend(within);
            }
        }
        path.pop();
    }
    Ok(out)
}

pub fn kv_get(conn: impl AsDb, key: &str) -> Result<Option<String>, Error> {
    Ok(conn
        .db()
        .query_opt("SELECT value FROM kv WHERE key = ?1", params![key], |r| {
            r.get(0)
        })?)
}

/// Keys of the key-value store that start with `prefix`, in order.
pub fn kv_keys_with_prefix(conn: impl AsDb, prefix: &str) -> Result<Vec<String>, Error> {
    Ok(conn.db().query_map(
        "SELECT key FROM kv WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key",
        params![prefix],
        |r| r.get(0),
    )?)
}

pub fn kv_set(conn: impl AsDb, key: &str, value: &str) -> Result<(), Error> {
    conn.db().execute(
        "INSERT INTO kv (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

pub fn doc_bytes(conn: impl AsDb, id: &str) -> Result<Option<Vec<u8>>, Error> {
    Ok(conn
        .db()
        .query_opt("SELECT bytes FROM docs WHERE id = ?1", params![id], |r| {
            r.get(0)
        })?)
}

pub fn save_doc_bytes(conn: impl AsDb, id: &str, bytes: &[u8]) -> Result<(), Error> {
    conn.db().execute(
        "INSERT INTO docs (id, bytes) VALUES (?1, ?2) ON CONFLICT(id) DO UPDATE SET bytes = excluded.bytes",
        params![id, bytes],
    )?;
    Ok(())
}

/// Renames the working documents of ASNs kept under their number alone (`manifest/ASN`) to
/// their owner-scoped ids (`manifest/OWNER/ASN`, the owner being the organisation of the first
/// shipment under the number), once, in one transaction. Their sync states are dropped: the
/// next sync starts those documents' exchange afresh, which Automerge completes from the
/// changes both sides hold. A document whose ASN has no shipment on record is left as it was.
/// Returns the renames made, old id first.
pub fn scope_manifest_docs(conn: impl AsDb) -> Result<Vec<(String, String)>, Error> {
    let conn = conn.db();
    let old: Vec<String> = doc_ids(conn)?
        .into_iter()
        .filter(|id| crate::docs::unscoped_manifest_asn(id).is_some())
        .collect();
    if old.is_empty() {
        return Ok(Vec::new());
    }
    let mut renames = Vec::new();
    conn.execute_batch("SAVEPOINT scope_manifest_docs")?;
    let done = (|| {
        for id in old {
            let Some(asn) = crate::docs::unscoped_manifest_asn(&id) else {
                continue;
            };
            let owner = events_in_transaction(conn, crate::event::ASN, asn)?
                .into_iter()
                .find(|e| e.body.biz_step == BizStep::Shipping)
                .map(|e| e.body.recorder.org);
            let Some(owner) = owner else {
                continue;
            };
            let new = crate::docs::manifest_doc_id(&owner, asn);
            conn.execute("UPDATE docs SET id = ?2 WHERE id = ?1", params![id, new])?;
            conn.execute("DELETE FROM doc_sync WHERE doc = ?1", params![id])?;
            renames.push((id, new));
        }
        Ok::<_, Error>(())
    })();
    match done {
        Ok(()) => conn.execute_batch("RELEASE scope_manifest_docs")?,
        Err(e) => {
            conn.execute_batch("ROLLBACK TO scope_manifest_docs; RELEASE scope_manifest_docs")?;
            return Err(e);
        }
    }
    Ok(renames)
}

pub fn doc_ids(conn: impl AsDb) -> Result<Vec<String>, Error> {
    Ok(conn
        .db()
        .query_map("SELECT id FROM docs ORDER BY id", params![], |r| r.get(0))?)
}

pub fn sync_state(conn: impl AsDb, doc: &str, peer: &str) -> Result<Option<Vec<u8>>, Error> {
    Ok(conn.db().query_opt(
        "SELECT state FROM doc_sync WHERE doc = ?1 AND peer = ?2",
        params![doc, peer],
        |r| r.get(0),
    )?)
}

pub fn save_sync_state(conn: impl AsDb, doc: &str, peer: &str, state: &[u8]) -> Result<(), Error> {
    conn.db().execute(
        "INSERT INTO doc_sync (doc, peer, state) VALUES (?1, ?2, ?3)
         ON CONFLICT(doc, peer) DO UPDATE SET state = excluded.state",
        params![doc, peer, state],
    )?;
    Ok(())
}

/// Stores units flags list as the hub sent them: a unit already held takes the hub's newer word
/// (accounted for, and why).
pub fn store_flag_units(conn: impl AsDb, units: &[crate::docs::FlagUnit]) -> Result<(), Error> {
    let conn = conn.db();
    for u in units {
        conn.execute(
            "INSERT INTO listed_units (flag, epc, event, resolved) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (flag, epc) DO UPDATE SET event = excluded.event, resolved = excluded.resolved",
            params![u.flag, u.epc, u.event, u.resolved],
        )?;
    }
    Ok(())
}

/// The units flag `id` lists, as far as the hub has sent them, in the order they were listed.
pub fn flag_units(conn: impl AsDb, id: &str) -> Result<Vec<crate::docs::FlagUnit>, Error> {
    Ok(conn.db().query_map(
        "SELECT flag, epc, event, resolved FROM listed_units WHERE flag = ?1 ORDER BY rowid",
        params![id],
        |r| {
            Ok(crate::docs::FlagUnit {
                flag: r.get(0)?,
                epc: r.get(1)?,
                event: r.get(2)?,
                resolved: r.get(3)?,
            })
        },
    )?)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "tests fail loudly on any unexpected error"
    )]

    use super::*;
    use crate::Custody;
    use crate::event::{EventBody, Recorder};
    use rusqlite::{OptionalExtension, StatementStatus, params};

    fn unit(serial: &str) -> Epc {
        Epc::Unit {
            gtin: custodian_scanner::Gtin::parse("09506000134352").unwrap(),
            serial: serial.into(),
        }
    }

    fn event(epc: &Epc, step: BizStep, second: i64) -> Event {
        let base = DateTime::parse_from_rfc3339("2026-01-01T08:00:00+01:00").unwrap();
        Event::new(EventBody {
            event_type: EventType::ObjectEvent,
            action: Action::Observe,
            biz_step: step,
            disposition: None,
            event_time: base + chrono::Duration::seconds(second),
            epcs: vec![epc.clone()],
            parent: None,
            biz_transactions: vec![],
            source: None,
            destination: None,
            recorder: Recorder {
                org: "dist-a".into(),
                site: "dc".into(),
                device: "dist-a-1".into(),
            },
            extension: Default::default(),
        })
    }

    /// The virtual-machine steps and full-scan steps SQLite takes to answer [`last_with_step`]'s
    /// query, and its answer.
    fn cost(conn: &Connection, epc: &Epc, step: BizStep) -> (i32, i32, Option<String>) {
        let sql = last_with_step_sql();
        let mut stmt = conn.prepare(&sql).unwrap();
        let found = stmt
            .query_row(params![epc.uri(), step.as_str(), "9999", ""], |r| {
                r.get::<_, String>(1)
            })
            .optional()
            .unwrap();
        (
            stmt.get_status(StatementStatus::VmStep),
            stmt.get_status(StatementStatus::FullscanStep),
            found,
        )
    }

    #[test]
    fn an_event_naming_a_unit_twice_is_stored_and_found_once_by_it() {
        let tmp = tempfile::tempdir().unwrap();
        let conn = open(&tmp.path().join("l.sqlite")).unwrap();
        let (a, b) = (unit("A"), unit("B"));
        let mut e = event(&a, BizStep::Receiving, 1);
        e.body.epcs = vec![a.clone(), b.clone(), a.clone()];
        let seq = insert_event(&conn, &e, true).unwrap().unwrap();
        let rows: Vec<String> = conn
            .prepare("SELECT epc FROM event_epcs WHERE seq = ?1 ORDER BY epc")
            .unwrap()
            .query_map([seq], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, [a.uri(), b.uri()]);
    }

    #[test]
    fn an_event_stored_again_is_not_numbered_and_the_next_is_numbered_after_the_last() {
        let tmp = tempfile::tempdir().unwrap();
        let conn = open(&tmp.path().join("l.sqlite")).unwrap();
        let (a, b, c) = (
            event(&unit("A"), BizStep::Receiving, 1),
            event(&unit("B"), BizStep::Receiving, 2),
            event(&unit("C"), BizStep::Receiving, 3),
        );
        assert_eq!(insert_event(&conn, &a, false).unwrap(), Some(1));
        assert_eq!(insert_event(&conn, &b, true).unwrap(), Some(2));
        // Held already: no number, though the connection's last insert was the row before.
        assert_eq!(insert_event(&conn, &a, true).unwrap(), None);
        // (The insert that did nothing may have spent a number: numbers order, gaps are
        // allowed.)
        let seq_c = insert_event(&conn, &c, false).unwrap().unwrap();
        assert!(seq_c > 2, "C numbered {seq_c}, not after B");
        assert_eq!(event_seq(&conn, &c.id.0).unwrap(), Some(seq_c));
        assert_eq!(event_seq(&conn, &a.id.0).unwrap(), Some(1));
        assert_eq!(event_count(&conn).unwrap(), 3);
        let epcs: i64 = conn
            .query_row("SELECT count(*) FROM event_epcs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(epcs, 3, "the event stored again adds no rows that find it");
    }

    #[test]
    fn the_latest_event_of_a_step_costs_the_same_for_a_long_history() {
        let tmp = tempfile::tempdir().unwrap();
        let mut conn = open(&tmp.path().join("l.sqlite")).unwrap();
        let (long, short) = (unit("LONG"), unit("SHORT"));
        // One unit inspected 20,000 times after its sale, 20,000 other units received, and one
        // unit sold once: neither the unit's own history nor everyone's receipts may be walked.
        let tx = conn.transaction().unwrap();
        let sale = event(&long, BizStep::RetailSelling, 5);
        insert_event(&tx, &sale, false).unwrap();
        for i in 0..20_000 {
            insert_event(&tx, &event(&long, BizStep::Inspecting, 10 + i), false).unwrap();
            let other = unit(&format!("R{i}"));
            insert_event(&tx, &event(&other, BizStep::Receiving, 10 + i), false).unwrap();
        }
        let short_sale = event(&short, BizStep::RetailSelling, 5);
        insert_event(&tx, &short_sale, false).unwrap();
        tx.commit().unwrap();

        let (base, scans, found) = cost(&conn, &short, BizStep::RetailSelling);
        assert_eq!(found, Some(short_sale.id.0.clone()));
        assert_eq!(scans, 0, "no table scan");
        assert!(base < 100, "{base} steps for one probe");
        let inspected = event(&long, BizStep::Inspecting, 10 + 19_999).id.0;
        for (epc, step, expect) in [
            (&long, BizStep::RetailSelling, Some(sale.id.0.clone())),
            (&long, BizStep::Receiving, None),
            (&long, BizStep::Inspecting, Some(inspected)),
            (&short, BizStep::Receiving, None),
        ] {
            let (steps, scans, found) = cost(&conn, epc, step);
            assert_eq!(found, expect, "{step:?}");
            assert_eq!(scans, 0, "no table scan");
            // Walking 20,000 events or receipts takes hundreds of thousands of steps.
            assert!(
                steps <= base + 16,
                "{steps} steps for {} {step:?}, {base} for one sale",
                epc.uri()
            );
        }

        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", last_with_step_sql()))
            .unwrap()
            .query_map(params![long.uri(), "retail_selling", "9999", ""], |r| {
                r.get::<_, String>(3)
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan[0]
                .starts_with("SEARCH x USING PRIMARY KEY (epc=? AND role=? AND step=? AND time<?)"),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|p| p.contains("TEMP B-TREE")), "{plan:?}");
    }

    #[test]
    fn a_wide_event_is_read_for_one_unit_at_a_time_with_the_same_answers() {
        let tmp = tempfile::tempdir().unwrap();
        let conn = open(&tmp.path().join("l.sqlite")).unwrap();
        let units: Vec<Epc> = (0..1_000).map(|i| unit(&format!("U{i}"))).collect();
        let pallet = Epc::parse("https://id.gs1.org/00/106141412345678908").unwrap();
        let with = |e: Event, f: &dyn Fn(&mut EventBody)| {
            let mut body = e.body;
            f(&mut body);
            Event::new(body)
        };
        let commissioned = with(event(&units[0], BizStep::Commissioning, 1), &|b| {
            b.epcs = units.clone();
        });
        let packed = with(event(&units[0], BizStep::Packing, 10), &|b| {
            b.event_type = EventType::AggregationEvent;
            b.action = Action::Add;
            b.parent = Some(pallet.clone());
            b.epcs = units[..300].to_vec();
        });
        let shipped = with(event(&pallet, BizStep::Shipping, 20), &|b| {
            b.destination = Some("dist-b".into());
        });
        for e in [&commissioned, &packed, &shipped] {
            insert_event(&conn, e, false).unwrap();
        }
        assert!(commissioned.body.epcs.len() > WIDE_EVENT && packed.body.epcs.len() > WIDE_EVENT);

        // Read twice: decoded from the database, then from what was kept.
        for _ in 0..2 {
            let named = events_naming(&conn, &units[5]).unwrap();
            assert_eq!(named.len(), 2);
            assert!(named.iter().all(|e| e.body.epcs == [units[5].clone()]));
            assert_eq!(named[1].body.parent.as_ref(), Some(&pallet));

            // The custody read one unit at a time is the custody read from the whole events.
            let whole = [commissioned.clone(), packed.clone(), shipped.clone()];
            for (u, expect) in [(&units[5], &whole[..]), (&units[500], &whole[..1])] {
                let touching = events_touching(&conn, u).unwrap();
                let ids: Vec<&EventId> = touching.iter().map(|e| &e.id).collect();
                let expected: Vec<&EventId> = expect.iter().map(|e| &e.id).collect();
                assert_eq!(ids, expected, "{}", u.uri());
                assert_eq!(
                    Custody::derive(u, &touching),
                    Custody::derive(u, expect),
                    "{}",
                    u.uri()
                );
            }
            let last = last_with_step_touching(&conn, &units[5], BizStep::Shipping, None).unwrap();
            assert_eq!(last.map(|e| e.id), Some(shipped.id.clone()));
            assert!(
                last_with_step_touching(&conn, &units[500], BizStep::Shipping, None)
                    .unwrap()
                    .is_none()
            );
        }
    }

    #[test]
    fn the_walk_is_compiled_once_however_often_it_runs() {
        let tmp = tempfile::tempdir().unwrap();
        let conn = open(&tmp.path().join("l.sqlite")).unwrap();
        let units: Vec<Epc> = (0..20).map(|i| unit(&format!("U{i}"))).collect();
        for (i, u) in units.iter().enumerate() {
            insert_event(&conn, &event(u, BizStep::Receiving, i as i64), false).unwrap();
        }
        let later = event(&units[0], BizStep::Inspecting, 100);
        for (i, u) in units.iter().enumerate() {
            let found = last_with_step(&conn, std::slice::from_ref(u), BizStep::Receiving, None)
                .unwrap()
                .unwrap();
            assert_eq!(found.id, event(u, BizStep::Receiving, i as i64).id);
            // With a bound: other values for the time and the excepted id.
            let bounded = last_with_step(
                &conn,
                std::slice::from_ref(u),
                BizStep::Receiving,
                Some(&later),
            )
            .unwrap()
            .unwrap();
            assert_eq!(bounded.id, found.id);
        }
        // The cached statement the walk used, taken back out of the cache: every run after the
        // first was of the statement as first compiled.
        let stmt = conn.prepare_cached(&last_with_step_sql()).unwrap();
        assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0);
        assert!(stmt.get_status(StatementStatus::Run) >= 40);
    }

    #[test]
    fn the_index_follows_stored_times_and_skips_what_was_declared_erroneous() {
        let tmp = tempfile::tempdir().unwrap();
        let conn = open(&tmp.path().join("l.sqlite")).unwrap();
        let u = unit("U");
        let one = std::slice::from_ref(&u);
        let receipt = event(&u, BizStep::Receiving, 100);
        let early = event(&u, BizStep::Receiving, 50);
        // Recorded by a device whose clock ran 200 s fast: it happened 80 s before the base
        // time, before `early`, and is stored so.
        let fast = event(&u, BizStep::Receiving, 120);
        insert_event(&conn, &receipt, false).unwrap();
        insert_event(&conn, &early, false).unwrap();
        insert_event_corrected(&conn, &fast, false, 200_000).unwrap();
        let last = |until: Option<&Event>| {
            last_with_step(&conn, one, BizStep::Receiving, until)
                .unwrap()
                .map(|e| e.id)
        };
        assert_eq!(last(None), Some(receipt.id.clone()));
        assert_eq!(last(Some(&receipt)), Some(early.id.clone()));
        assert_eq!(last(Some(&early)), Some(fast.id.clone()));
        assert_eq!(last(Some(&fast)), None);
        // An event not held is bounded by its own time.
        assert_eq!(
            last(Some(&event(&u, BizStep::Shipping, 60))),
            Some(early.id.clone())
        );

        let declaration = Event::declaring_error(
            &receipt,
            crate::event::ErrorDeclaration {
                declaration_time: receipt.body.event_time,
                reason: None,
                corrective_event_ids: vec![],
                declared_by: receipt.body.recorder.clone(),
            },
        );
        insert_event(&conn, &declaration, false).unwrap();
        assert_eq!(last(None), Some(early.id.clone()));

        // Every row carries its event's step and stored time.
        let (rows, agreeing): (i64, i64) = conn
            .query_row(
                "SELECT count(*), sum(x.step = e.step AND x.time = e.time)
                 FROM event_epcs x JOIN events e ON e.seq = x.seq",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((rows, agreeing), (4, 4));
    }
}
