//! Units in quarantine, as the hub sees them over every partner's events.
//!
//! A unit's hold is its latest live `holding` event (see `custodian_ledger::quarantine`).
//! The hub keeps the answer in `holds`, one row per unit in quarantine, recomputed from the
//! events whenever a `holding` event, an error declaration of one, or the end of a unit's life
//! arrives, whatever order they come in. Public verification reads it with one primary-key
//! lookup beside the alert list, instead of searching a unit's events on its hottest path.
//!
//! A hold travels with its unit: a shipment shares the hold its units are under with the
//! recipient, a hold or release is shared with the destination of the unit's last shipment
//! (where it is, or is going), and every `holding` event of a unit is shared with every
//! organisation that sees one, so whoever was warned also learns of the release.

use std::collections::BTreeSet;

use custodian_ledger::event::BizStep;
use custodian_ledger::quarantine;
use custodian_ledger::sql::{AsDb, OptionalExtension, params};
use custodian_ledger::{Epc, Event, store};

use crate::HubError;

/// Creates the `holds` table.
pub(crate) fn migrate(conn: impl AsDb) -> Result<(), HubError> {
    let conn = conn.db();
    conn.execute_batch(
        "-- Units in quarantine now: the hold's event, since when and by whom.
         CREATE TABLE IF NOT EXISTS holds (
             epc TEXT PRIMARY KEY, event TEXT NOT NULL, since TEXT NOT NULL, org TEXT NOT NULL
         ) WITHOUT ROWID;",
    )?;
    Ok(())
}

/// Brings the holds up to date after `event` was stored (at `seq`), and shares holding events
/// where they must go. Called for every new event; does nothing for most.
pub(crate) fn on_event(conn: impl AsDb, event: &Event, seq: i64) -> Result<(), HubError> {
    let conn = conn.db();
    let b = &event.body;
    match b.biz_step {
        BizStep::Holding => {
            for unit in b.epcs.iter().filter(|e| e.is_unit()) {
                refresh(conn, unit)?;
                share_with_destination(conn, unit, seq)?;
                share_with_watchers(conn, unit, seq)?;
            }
        }
        BizStep::Destroying | BizStep::Decommissioning => {
            for unit in &b.epcs {
                refresh(conn, unit)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Recomputes whether `unit` is in quarantine. A unit whose life ended is not.
fn refresh(conn: impl AsDb, unit: &Epc) -> Result<(), HubError> {
    let conn = conn.db();
    let one = std::slice::from_ref(unit);
    let mut ended = false;
    for step in [BizStep::Destroying, BizStep::Decommissioning] {
        ended |= store::last_with_step(conn, one, step, None)?.is_some();
    }
    let hold = if ended {
        None
    } else {
        quarantine::current(conn, unit)?
    };
    match hold {
        Some(q) => conn.execute(
            "INSERT INTO holds (epc, event, since, org) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (epc) DO UPDATE SET event = excluded.event, since = excluded.since, org = excluded.org",
            params![unit.uri(), q.event, q.since, q.org],
        )?,
        None => conn.execute("DELETE FROM holds WHERE epc = ?1", [unit.uri()])?,
    };
    Ok(())
}

/// Shares the holding event at `seq` with the destination of `unit`'s last shipment (of the
/// unit, or of a container while it was packed in it), if that shipment made it a holder: a
/// shipment by someone who did not hold the unit tells its destination nothing about it.
fn share_with_destination(conn: impl AsDb, unit: &Epc, seq: i64) -> Result<(), HubError> {
    let conn = conn.db();
    if let Some(shipment) = store::last_with_step_touching(conn, unit, BizStep::Shipping, None)?
        && let Some(dest) = &shipment.body.destination
        && crate::access::held_by(conn, unit, dest)?
    {
        conn.prepare_cached("INSERT OR IGNORE INTO audience (org, seq) VALUES (?1, ?2)")?
            .execute(params![dest, seq])?;
    }
    Ok(())
}

/// Shares the holding event at `seq` with every organisation that sees another holding event
/// of `unit`.
fn share_with_watchers(conn: impl AsDb, unit: &Epc, seq: i64) -> Result<(), HubError> {
    let conn = conn.db();
    conn.prepare_cached(
        "INSERT OR IGNORE INTO audience (org, seq)
         SELECT DISTINCT a.org, CAST(?2 AS BIGINT) FROM event_epcs x
         JOIN events e ON e.seq = x.seq
         JOIN audience a ON a.seq = x.seq
         WHERE x.epc = ?1 AND x.role = 'epc' AND e.step = 'holding'",
    )?
    .execute(params![unit.uri(), seq])?;
    Ok(())
}

/// Shares the holds that the units a shipment discloses (see [`crate::access`]) are under with
/// `org`, its recipient.
pub(crate) fn share_with_recipient(
    conn: impl AsDb,
    disclosed: &BTreeSet<Epc>,
    org: &str,
) -> Result<(), HubError> {
    let conn = conn.db();
    let any: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM holds)")?
        .query_row([], |r| r.get(0))?;
    if !any {
        return Ok(());
    }
    let mut find = conn.prepare_cached("SELECT event FROM holds WHERE epc = ?1")?;
    for unit in disclosed.iter().filter(|e| e.is_unit()) {
        let Some(event) = find
            .query_row([unit.uri()], |r| r.get::<_, String>(0))
            .optional()?
        else {
            continue;
        };
        if let Some(seq) = store::event_seq(conn, &event)? {
            conn.prepare_cached("INSERT OR IGNORE INTO audience (org, seq) VALUES (?1, ?2)")?
                .execute(params![org, seq])?;
        }
    }
    Ok(())
}
