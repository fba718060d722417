//! Flags that list units: one flag per cause, not one per unit.
//!
//! A receipt of 1,500 units with no shipment on record is one problem, not 1,500: an out-of-
//! sequence flag stands for a cause (the units one organisation received from one holder under
//! one manifest, or on one day without a manifest; the units of one shipment by a party that
//! never held them; the units of one event dated where the hub does not believe it) and lists
//! its units. So does a diversion flag: the units one organisation received, sold or saw
//! outside their channel under one manifest (or on one day); an unknown-serial flag: the units
//! never issued that one organisation received, sold or saw on one occasion; and a clone flag:
//! the units whose life had ended (destroyed, decommissioned) that one organisation recorded on
//! one occasion. Each listed unit is still one
//! fact, keyed as a per-unit flag used to be (`flags::flag_id`), so a replay or a second receipt of
//! the unit lists nothing twice.
//!
//! When a late shipment or receipt shows a unit's listing unfounded, that unit alone is marked
//! accounted for, naming the event; the hub closes the flag once every unit it lists is
//! accounted for. A flag people closed while units were still open takes no more units: the
//! next unit of its cause opens a new flag.
//!
//! The listing lives in the hub's `flag_units` table, one row per unit, and reaches the
//! organisation's devices as rows after a cursor ([`download`]), not through the Automerge
//! flags document: that document holds one entry per flag with its counts (`units`,
//! `open_units`), so it stays small and cheap to sync however many units its flags list.

use chrono::{DateTime, Utc};
use custodian_ledger::docs::FlagUnit;
use custodian_ledger::sql::{AsDb, Batched, OptionalExtension, params};
use custodian_ledger::{Epc, Event, FlagKind};
use sha2::{Digest, Sha256};

use crate::HubError;
use crate::flags::{FlagDocs, HubFlag, flag_id, new_flag};

/// The most listed units one sync answer carries; more follow in the next rounds.
pub const MAX_UNITS_PER_ROUND: usize = 10_000;

pub use crate::flags::UNITS;

/// The listing tables, and the listing of every out-of-sequence flag raised before flags
/// listed units (each a listing of its one unit, under its own id).
pub(crate) fn migrate(conn: impl AsDb) -> Result<(), HubError> {
    let conn = conn.db();
    conn.execute_batch(&format!("{FLAG_UNITS};"))?;
    reshape_flag_units(conn)?;
    conn.execute_batch(FLAG_UNITS_INDEXES)?;
    let has_units: i64 = conn.query_row(
        "SELECT count(*) FROM pragma_table_info('flags') WHERE name = 'units'",
        [],
        |r| r.get(0),
    )?;
    if has_units == 0 {
        conn.execute_batch(
            "ALTER TABLE flags ADD COLUMN units INTEGER NOT NULL DEFAULT 1;
             ALTER TABLE flags ADD COLUMN open_units INTEGER NOT NULL DEFAULT 1;
             ALTER TABLE flags ADD COLUMN summary TEXT;
             ALTER TABLE flags ADD COLUMN cause TEXT;
             INSERT OR IGNORE INTO flag_units (key, flag, org, epc, event, seq)
                 SELECT id, id, org, epc, event, rowid FROM flags WHERE kind = 'out_of_sequence';",
        )?;
    }
    conn.execute_batch("CREATE INDEX IF NOT EXISTS flags_by_cause ON flags (cause);")?;
    // The document each flag is in (its month's, see `docs::flags_month_doc_id`); none: the
    // organisation's document from before flags were kept by month.
    let has_doc: i64 = conn.query_row(
        "SELECT count(*) FROM pragma_table_info('flags') WHERE name = 'doc'",
        [],
        |r| r.get(0),
    )?;
    if has_doc == 0 {
        conn.execute_batch("ALTER TABLE flags ADD COLUMN doc TEXT;")?;
    }
    Ok(())
}

/// The listing, one row per listed unit. A unit's listings are found, and a fact is listed
/// once, through one index, `(epc, key)` (a fact's key names its unit, so it is unique alone
/// too): each listed unit is one random insert into it, not two (a key index and an index of
/// open listings by unit each took one, and a storm of receipts dirtied both whole every round).
/// `seq` orders changes for devices: a row takes a new one when it changes.
const FLAG_UNITS: &str = "CREATE TABLE IF NOT EXISTS flag_units (
             seq INTEGER PRIMARY KEY, key TEXT NOT NULL, flag TEXT NOT NULL,
             org TEXT NOT NULL, epc TEXT NOT NULL, event TEXT NOT NULL, resolved TEXT
         )";

const FLAG_UNITS_INDEXES: &str =
    "CREATE UNIQUE INDEX IF NOT EXISTS flag_units_by_epc ON flag_units (epc, key);
     CREATE INDEX IF NOT EXISTS flag_units_by_org ON flag_units (org, seq);
     CREATE INDEX IF NOT EXISTS flag_units_by_flag ON flag_units (flag, seq);";

/// Rebuilds a listing kept in its first shape (`key` unique on its own, and an index of open
/// listings by unit) into [`FLAG_UNITS`]'s, rows and sequence numbers unchanged.
fn reshape_flag_units(conn: impl AsDb) -> Result<(), HubError> {
    let conn = conn.db();
    let first_shape: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'flag_units_open')",
        [],
        |r| r.get(0),
    )?;
    if !first_shape {
        return Ok(());
    }
    let tx = conn.transaction()?;
    tx.execute_batch(&format!(
        "{};
         INSERT INTO flag_units_reshaped (seq, key, flag, org, epc, event, resolved)
             SELECT seq, key, flag, org, epc, event, resolved FROM flag_units;
         DROP TABLE flag_units;
         ALTER TABLE flag_units_reshaped RENAME TO flag_units;",
        FLAG_UNITS.replace("IF NOT EXISTS flag_units", "flag_units_reshaped")
    ))?;
    tx.commit()?;
    Ok(())
}

/// The id of the flag for a cause: its `generation`-th flag (0 first; a later one opens when
/// people closed the one before while units were still open).
fn cause_id(cause: &str, generation: i64) -> String {
    let digest = Sha256::digest(format!("cause\u{1d}{cause}\u{1d}{generation}").as_bytes());
    format!("flag-{}", &hex::encode(digest)[..24])
}

/// A unit to list under a flag.
pub(crate) struct Listed<'a> {
    pub kind: FlagKind,
    pub org: &'a str,
    pub unit: &'a Epc,
    /// The unit's fact ([`flags::flag_id`]): the id a flag about it alone has.
    pub key: String,
    /// What the flag stands for; `None`: the unit alone (its flag lists it and nothing else).
    pub cause: Option<String>,
    pub event: Option<&'a Event>,
    /// What the flag says, written only when this unit raises it.
    pub words: &'a dyn Fn() -> Result<Words, HubError>,
}

/// What a flag that lists units says.
pub(crate) struct Words {
    /// The flag's reason while it lists one unit.
    pub reason: String,
    /// The flag's reason once it lists more, with [`UNITS`] where the count goes.
    pub summary: String,
}

/// Lists `listed.unit` under the open flag of its cause, raising that flag when there is none.
/// Returns the flag when this raised it; a unit listed before (or flagged alone before flags
/// listed units) lists nothing.
pub(crate) fn raise(
    conn: impl AsDb,
    flags: &mut FlagDocs,
    listed: Listed<'_>,
    now: DateTime<Utc>,
) -> Result<Option<HubFlag>, HubError> {
    let conn = conn.db();
    let key = listed.key.clone();
    if flagged_alone(conn, &[&key])? {
        return Ok(None);
    }
    let event = listed.event.map(|e| e.id.0.clone()).unwrap_or_default();
    let uri = listed.unit.uri();
    let cause = cause_of(&listed);
    if let Some(id) = flags.open_for_cause(&cause).map(str::to_string) {
        // Listed before, or listed now: the one probe of the listing's index decides.
        if insert_unit(conn, &Row::alone(&key, &id, listed.org, &uri, &event))? {
            flags.listed(listed.org, &id);
        }
        return Ok(None);
    }
    let seen: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM flag_units WHERE epc = ?1 AND key = ?2)")?
        .query_row(params![uri, key], |r| r.get(0))?;
    if seen {
        return Ok(None);
    }
    let (id, raised) = flag_for(conn, flags, &listed, &cause, &event, now)?;
    if insert_unit(conn, &Row::alone(&key, &id, listed.org, &uri, &event))? && raised.is_none() {
        flags.listed(listed.org, &id);
    }
    Ok(raised)
}

/// Lists one unit, for one event, under the flags of several organisations' causes (each as
/// [`raise`] would): the first two share one row of the listing, which they then keep as
/// one, accounted for together (they list the same fact seen by two organisations, the
/// receiver and the manufacturer, and a later event accounts for both at once). A storm of
/// receipts thus writes one row per unit, not one per organisation told. When either fact is
/// listed already, each is listed on its own, as before. `fresh`: the unit is known to have no
/// listing and no flag yet ([`crate::round::Round::never_listed`]), so none is looked for.
/// Returns the flags raised.
pub(crate) fn raise_all(
    conn: impl AsDb,
    flags: &mut FlagDocs,
    mut listed: Vec<Listed<'_>>,
    fresh: bool,
    now: DateTime<Utc>,
) -> Result<Vec<HubFlag>, HubError> {
    let conn = conn.db();
    let mut raised = Vec::new();
    let shared = listed.len() >= 2
        && listed[0].unit == listed[1].unit
        && listed[0].cause.is_some()
        && listed[1].cause.is_some()
        && listed[0].org != listed[1].org;
    if shared {
        let rest = listed.split_off(2);
        let mut pair = listed.into_iter();
        if let (Some(lead), Some(with)) = (pair.next(), pair.next()) {
            raised.extend(raise_shared(conn, flags, lead, with, fresh, now)?);
        }
        listed = rest;
    }
    for one in listed {
        raised.extend(raise(conn, flags, one, now)?);
    }
    Ok(raised)
}

/// [`raise_all`]'s two organisations sharing a row.
fn raise_shared(
    conn: impl AsDb,
    flags: &mut FlagDocs,
    lead: Listed<'_>,
    with: Listed<'_>,
    fresh: bool,
    now: DateTime<Utc>,
) -> Result<Vec<HubFlag>, HubError> {
    let conn = conn.db();
    let uri = lead.unit.uri();
    // Either fact listed before (alone, or shared with another organisation): each goes its
    // own way, and a fact listed already lists nothing.
    let keys: Vec<(String, Option<String>)> = if fresh {
        Vec::new()
    } else {
        conn.prepare_cached("SELECT key, also_key FROM flag_units WHERE epc = ?1")?
            .query_map([&uri], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    let known = |key: &str| {
        keys.iter()
            .any(|(k, also)| k == key || also.as_deref() == Some(key))
    };
    if !keys.is_empty() || (!fresh && flagged_alone(conn, &[&lead.key, &with.key])?) {
        let mut raised = Vec::new();
        for one in [lead, with] {
            if !known(&one.key) {
                raised.extend(raise(conn, flags, one, now)?);
            }
        }
        return Ok(raised);
    }
    let event = lead.event.map(|e| e.id.0.clone()).unwrap_or_default();
    let mut ids = Vec::with_capacity(2);
    let mut raised = Vec::new();
    for one in [&lead, &with] {
        let cause = cause_of(one);
        match flags.open_for_cause(&cause).map(str::to_string) {
            Some(id) => {
                flags.listed(one.org, &id);
                ids.push(id);
            }
            None => {
                let (id, new) = flag_for(conn, flags, one, &cause, &event, now)?;
                match new {
                    Some(flag) => raised.push(flag),
                    None => flags.listed(one.org, &id),
                }
                ids.push(id);
            }
        }
    }
    // Neither fact is listed: the row is new, and may wait to be written with the round's
    // other rows (on PostgreSQL, one statement for many instead of a trip per unit).
    static SHARED_ROW: Batched = Batched {
        sql: "INSERT INTO flag_units (key, flag, org, epc, event, also_key, also_flag, also_org)
              VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
              ON CONFLICT (epc, key) DO NOTHING",
        types: &[
            "text", "text", "text", "text", "text", "text", "text", "text",
        ],
    };
    conn.insert_later(
        &SHARED_ROW,
        params![
            lead.key, ids[0], lead.org, uri, event, with.key, ids[1], with.org
        ],
    )?;
    Ok(raised)
}

/// Whether any of `keys` is a unit flagged alone before flags listed units.
fn flagged_alone(conn: impl AsDb, keys: &[&str]) -> Result<bool, HubError> {
    let conn = conn.db();
    let mut probe = conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM flags WHERE id = ?1)")?;
    for key in keys {
        if probe.query_row([key], |r| r.get::<_, bool>(0))? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The cause `listed` is listed under, as the flags table keeps it.
fn cause_of(listed: &Listed<'_>) -> String {
    match &listed.cause {
        Some(c) => format!("{}\u{1d}{}\u{1d}{c}", listed.kind, listed.org),
        None => listed.key.clone(),
    }
}

/// The open flag of `cause` for `listed`, raising it (listing no unit yet, counting one) when
/// there is none: its id, and the flag when this raised it.
fn flag_for(
    conn: impl AsDb,
    flags: &mut FlagDocs,
    listed: &Listed<'_>,
    cause: &str,
    event: &str,
    now: DateTime<Utc>,
) -> Result<(String, Option<HubFlag>), HubError> {
    let conn = conn.db();
    flags.count_listed(conn)?;
    let current: Option<(String, i64, i64)> = conn
        .prepare_cached(
            "SELECT id, open_units, (SELECT count(*) FROM flags WHERE cause = ?1) FROM flags WHERE cause = ?1 ORDER BY rowid DESC LIMIT 1",
        )?
        .query_row([cause], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let open = match &current {
        Some((id, open_units, _)) if *open_units > 0 => !flags.is_closed(conn, listed.org, id)?,
        _ => false,
    };
    if let (true, Some((id, _, _))) = (open, &current) {
        if listed.cause.is_some() {
            flags.set_open_for_cause(cause, id);
        }
        return Ok((id.clone(), None));
    }
    let words = (listed.words)()?;
    let id = match &listed.cause {
        None => listed.key.clone(),
        Some(_) => cause_id(cause, current.as_ref().map_or(0, |c| c.2)),
    };
    let flag = HubFlag {
        org: listed.org.into(),
        flag: custodian_ledger::Flag {
            id: id.clone(),
            kind: listed.kind.clone(),
            epc: listed.unit.uri(),
            reason: words.reason,
            event: event.to_string(),
            raised_at: now.to_rfc3339(),
            status: custodian_ledger::docs::FlagStatus::New,
            units: 1,
            open_units: 1,
            history: Vec::new(),
        },
    };
    let raised = flags.store(conn, flag)?;
    conn.prepare_cached("UPDATE flags SET summary = ?2, cause = ?3 WHERE id = ?1")?
        .execute(params![id, words.summary, cause])?;
    if listed.cause.is_some() && raised.is_some() {
        flags.set_open_for_cause(cause, &id);
    }
    Ok((id, raised))
}

/// One row of the listing for one organisation: a fact `key` of the unit `epc` listed under
/// `flag` of `org`, found by `event` (a row two organisations share is written by
/// [`raise_shared`]).
struct Row<'a> {
    key: &'a str,
    flag: &'a str,
    org: &'a str,
    epc: &'a str,
    event: &'a str,
}

impl<'a> Row<'a> {
    fn alone(key: &'a str, flag: &'a str, org: &'a str, epc: &'a str, event: &'a str) -> Row<'a> {
        Row {
            key,
            flag,
            org,
            epc,
            event,
        }
    }
}

/// Lists `row`; false when its fact is listed already.
fn insert_unit(conn: impl AsDb, row: &Row<'_>) -> Result<bool, HubError> {
    let conn = conn.db();
    let inserted = conn
        .prepare_cached(
            "INSERT INTO flag_units (key, flag, org, epc, event) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (epc, key) DO NOTHING",
        )?
        .execute(params![row.key, row.flag, row.org, row.epc, row.event])?;
    Ok(inserted == 1)
}

/// A unit's listings of `kind` that are not accounted for yet.
pub(crate) struct OpenListing {
    pub epc: String,
    /// The unit's fact ([`flags::flag_id`]).
    pub key: String,
    pub flag: String,
    pub org: String,
    /// The event that listed it.
    pub event: String,
    /// The other organisation's flag sharing this row (see [`raise_all`]), and that
    /// organisation: accounted for with it.
    pub also: Option<(String, String)>,
}

pub(crate) fn open_listings(
    conn: impl AsDb,
    kind: &FlagKind,
    unit: &Epc,
) -> Result<Vec<OpenListing>, HubError> {
    let conn = conn.db();
    let mut stmt = conn.prepare_cached(
        "SELECT u.epc, u.key, u.flag, u.org, u.event, u.also_flag, u.also_org
         FROM flag_units u JOIN flags f ON f.id = u.flag
         WHERE u.epc = ?1 AND u.resolved IS NULL AND f.kind = ?2",
    )?;
    let rows = stmt
        .query_map(params![unit.uri(), kind.as_str()], |r| {
            let also_flag: Option<String> = r.get(5)?;
            let also_org: Option<String> = r.get(6)?;
            Ok(OpenListing {
                epc: r.get(0)?,
                key: r.get(1)?,
                flag: r.get(2)?,
                org: r.get(3)?,
                event: r.get(4)?,
                also: also_flag.zip(also_org),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Marks a listed unit accounted for, saying why, under its flag and the flag sharing its row;
/// the hub closes a flag when it was the last unit open. Returns whether a flag closed.
pub(crate) fn account_for(
    conn: impl AsDb,
    flags: &mut FlagDocs,
    listing: &OpenListing,
    note: &str,
    now: DateTime<Utc>,
) -> Result<bool, HubError> {
    let conn = conn.db();
    let changed = conn
        .prepare_cached(
            "UPDATE flag_units SET resolved = ?2, seq = (SELECT max(seq) + 1 FROM flag_units)
             WHERE epc = ?3 AND key = ?1 AND resolved IS NULL",
        )?
        .execute(params![listing.key, note, listing.epc])?;
    if changed == 0 {
        return Ok(false);
    }
    flags.count_listed(conn)?;
    let mut closed = false;
    let also = listing.also.as_ref().map(|(flag, org)| (flag, org));
    for (flag, org) in std::iter::once((&listing.flag, &listing.org)).chain(also) {
        let (units, open): (i64, i64) = conn
            .prepare_cached(
                "UPDATE flags SET open_units = CASE WHEN open_units > 0 THEN open_units - 1 ELSE 0 END WHERE id = ?1 RETURNING units, open_units",
            )?
            .query_row([flag], |r| Ok((r.get(0)?, r.get(1)?)))?;
        flags.touch(org, flag);
        if open > 0 {
            continue;
        }
        let note = if units == 1 {
            note.to_string()
        } else {
            format!("every one of its {units} units is accounted for; the last: {note}")
        };
        closed |= flags.close(conn, org, flag, &note, now)?;
    }
    Ok(closed)
}

/// The listed units of `org`'s flags changed after `after` (a cursor of this hub's), at most
/// `limit`, oldest change first: with the cursor to ask after next, and whether more wait.
/// A row two organisations share reaches each under its own flag.
pub fn download(
    conn: impl AsDb,
    org: &str,
    after: i64,
    limit: usize,
) -> Result<(Vec<FlagUnit>, i64, bool), HubError> {
    let conn = conn.db();
    let limit = limit.clamp(1, MAX_UNITS_PER_ROUND);
    let mut stmt = conn.prepare_cached(
        "SELECT seq, flag, epc, event, resolved FROM flag_units WHERE org = ?1 AND seq > ?2
         UNION ALL
         SELECT seq, also_flag, epc, event, resolved FROM flag_units
             WHERE also_org = ?1 AND seq > ?2
         ORDER BY 1 LIMIT ?3",
    )?;
    let mut rows: Vec<(i64, FlagUnit)> = stmt
        .query_map(params![org, after, limit as i64 + 1], |r| {
            Ok((
                r.get(0)?,
                FlagUnit {
                    flag: r.get(1)?,
                    epc: r.get(2)?,
                    event: r.get(3)?,
                    resolved: r.get(4)?,
                },
            ))
        })?
        .collect::<Result<_, _>>()?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let cursor = rows.last().map_or(after, |(seq, _)| *seq);
    let rows = rows.into_iter().map(|(_, unit)| unit).collect();
    Ok((rows, cursor, more))
}

/// The units flag `id` lists, in the order they were listed or last changed.
pub fn units_of(conn: impl AsDb, id: &str) -> Result<Vec<FlagUnit>, HubError> {
    let conn = conn.db();
    let mut stmt = conn.prepare_cached(
        "SELECT seq, flag, epc, event, resolved FROM flag_units WHERE flag = ?1
         UNION ALL
         SELECT seq, also_flag, epc, event, resolved FROM flag_units WHERE also_flag = ?1
         ORDER BY 1",
    )?;
    let rows = stmt
        .query_map([id], |r| {
            Ok(FlagUnit {
                flag: r.get(1)?,
                epc: r.get(2)?,
                event: r.get(3)?,
                resolved: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// A flag about one unit and one fact, before it is raised (see [`raise_draft`]).
pub struct Draft<'a> {
    pub kind: FlagKind,
    pub unit: &'a Epc,
    /// What tells this fact apart from others of its kind about the unit at `org` (a day, the
    /// event, who received it): the flag's id derives from it, so the fact is flagged once.
    pub fact: String,
    /// The event that revealed the fact, if one did.
    pub event: Option<&'a Event>,
    pub org: &'a str,
    pub reason: String,
}

/// Raises `draft` once, into its organisation's flags document; returns the flag when it is
/// new. An out-of-sequence draft lists its unit alone (those flags are accounted for unit by
/// unit, see [`crate::listing`]).
pub fn raise_draft(
    conn: impl AsDb,
    flags: &mut FlagDocs,
    draft: Draft<'_>,
    now: DateTime<Utc>,
) -> Result<Option<HubFlag>, HubError> {
    let conn = conn.db();
    let Draft {
        kind,
        unit,
        fact,
        event,
        org,
        reason,
    } = draft;
    let id = flag_id(&kind, unit, &format!("{org}\u{1d}{fact}"));
    if kind == FlagKind::OutOfSequence {
        let listed = Listed {
            kind,
            org,
            unit,
            key: id,
            cause: None,
            event,
            words: &|| {
                Ok(Words {
                    reason: reason.clone(),
                    summary: reason.clone(),
                })
            },
        };
        return raise(conn, flags, listed, now);
    }
    let flag = new_flag(id, kind, org, unit, reason, event, now);
    flags.store(conn, flag)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The listing as hubs kept it before: `key` unique on its own, and open listings by unit.
    const FIRST_SHAPE: &str = "CREATE TABLE flag_units (
             seq INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, flag TEXT NOT NULL,
             org TEXT NOT NULL, epc TEXT NOT NULL, event TEXT NOT NULL, resolved TEXT
         );
         CREATE INDEX flag_units_open ON flag_units (epc) WHERE resolved IS NULL;
         CREATE INDEX flag_units_by_org ON flag_units (org, seq);
         CREATE INDEX flag_units_by_flag ON flag_units (flag, seq);";

    fn indexes(conn: impl AsDb) -> Vec<String> {
        let conn = conn.db();
        let mut stmt = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'flag_units'
                 ORDER BY name",
            )
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn a_listing_kept_in_its_first_shape_is_rebuilt_with_its_rows_and_lists_a_fact_once() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(FIRST_SHAPE).unwrap();
        conn.execute_batch(
            "INSERT INTO flag_units (seq, key, flag, org, epc, event, resolved) VALUES
                 (7, 'k1', 'flag-a', 'dist-a', 'urn:u:1', 'e1', NULL),
                 (9, 'k2', 'flag-a', 'dist-a', 'urn:u:2', 'e2', 'shipped late');",
        )
        .unwrap();

        conn.execute_batch(&format!("{FLAG_UNITS};")).unwrap();
        reshape_flag_units(&conn).unwrap();
        conn.execute_batch(FLAG_UNITS_INDEXES).unwrap();
        conn.execute_batch(include_str!("../migrations/sqlite/V4__shared_listing.sql"))
            .unwrap();
        // Opening again changes nothing.
        reshape_flag_units(&conn).unwrap();

        assert_eq!(
            indexes(&conn),
            [
                "flag_units_by_also_flag",
                "flag_units_by_also_org",
                "flag_units_by_epc",
                "flag_units_by_flag",
                "flag_units_by_org"
            ]
        );
        let rows: Vec<(i64, String, String, Option<String>)> = conn
            .prepare("SELECT seq, key, epc, resolved FROM flag_units ORDER BY seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                (7, "k1".into(), "urn:u:1".into(), None),
                (
                    9,
                    "k2".into(),
                    "urn:u:2".into(),
                    Some("shipped late".into())
                ),
            ]
        );

        // A fact listed before is not listed again; a new one is, after the last sequence number.
        let unit = Epc::parse("https://id.gs1.org/01/09506000134352/21/1001").unwrap();
        let uri = unit.uri();
        assert!(insert_unit(&conn, &Row::alone("k3", "flag-a", "dist-a", &uri, "e3")).unwrap());
        assert!(!insert_unit(&conn, &Row::alone("k3", "flag-b", "dist-b", &uri, "e4")).unwrap());
        let (seq, flag): (i64, String) = conn
            .query_row(
                "SELECT seq, flag FROM flag_units WHERE epc = ?1 AND key = 'k3'",
                [&uri],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((seq, flag.as_str()), (10, "flag-a"));
    }
}
