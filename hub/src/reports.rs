//! Partners' counterfeit reports: each one behind a unit's entry on the alert list, recorded,
//! withdrawn when declared erroneous, and told in words (a report's note only to its reporter and
//! the manufacturer).

use chrono::DateTime;
use custodian_ledger::sql::{AsDb, OptionalExtension, params};
use custodian_ledger::{Epc, Event, store};
use serde::{Deserialize, Serialize};

use crate::HubError;

/// One partner's counterfeit report of a unit on the alert list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertReport {
    /// The report's event id.
    pub event: String,
    /// The reporting organisation.
    pub reported_by: String,
    /// When it was reported (RFC 3339).
    pub reported_at: String,
    pub note: String,
}

pub(crate) const REPORTED_REASON: &str = "reported counterfeit by a channel partner's inspection";

/// Records a partner's counterfeit report of a unit, and puts the unit on the alert list
/// unless it is on it already: the list holds the unit once, with every report behind it.
/// A report the manufacturer's clearing came after (it was looked into) or one declared
/// erroneous is not recorded. Returns whether the report was recorded (new).
pub(crate) fn add(
    conn: impl AsDb,
    report: &Event,
    epc: &Epc,
    note: &str,
) -> Result<bool, HubError> {
    let conn = conn.db();
    let at = report.body.event_time;
    if store::is_declared(conn, &report.id.0)? {
        return Ok(false);
    }
    let cleared_after: bool = conn
        .query_row(
            "SELECT cleared_at FROM alert_clearings WHERE epc = ?1",
            [epc.uri()],
            |r| r.get::<_, String>(0),
        )
        .optional()?
        .and_then(|c| DateTime::parse_from_rfc3339(&c).ok())
        .is_some_and(|cleared| cleared >= at);
    if cleared_after {
        return Ok(false);
    }
    let recorded = conn.execute(
        "INSERT OR IGNORE INTO alert_reports (event, epc, reported_by, reported_at, note)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            report.id.0,
            epc.uri(),
            report.body.recorder.org,
            at.to_rfc3339(),
            note
        ],
    )?;
    if recorded == 0 {
        return Ok(false);
    }
    conn.execute(
        "INSERT OR IGNORE INTO alerts (epc, reason, reported_by, reported_at, note, event)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            epc.uri(),
            REPORTED_REASON,
            report.body.recorder.org,
            at.to_rfc3339(),
            note,
            report.id.0
        ],
    )?;
    // Devices see every report in the entry's reason: it changed either way.
    crate::changes::log(conn, "alert", &epc.uri())?;
    Ok(true)
}

/// Withdraws the counterfeit report `event` (its reporter declared it erroneous). The unit
/// leaves the alert list only when no report remains and the manufacturer did not list it
/// itself. Returns the unit, when the report was on record.
pub(crate) fn remove(conn: impl AsDb, event: &str) -> Result<Option<String>, HubError> {
    let conn = conn.db();
    let epc: Option<String> = conn
        .query_row(
            "SELECT epc FROM alert_reports WHERE event = ?1",
            [event],
            |r| r.get(0),
        )
        .optional()?;
    let Some(epc) = epc else {
        return Ok(None);
    };
    conn.execute("DELETE FROM alert_reports WHERE event = ?1", [event])?;
    let remaining = of(conn, &epc)?;
    match remaining.first() {
        None => {
            conn.execute(
                "DELETE FROM alerts WHERE epc = ?1 AND reported_by IS NOT NULL",
                [&epc],
            )?;
        }
        // The entry names its first report: the next one now.
        Some(first) => {
            conn.execute(
                "UPDATE alerts SET reported_by = ?2, reported_at = ?3, note = ?4, event = ?5
                 WHERE epc = ?1 AND reported_by IS NOT NULL",
                params![
                    epc,
                    first.reported_by,
                    first.reported_at,
                    first.note,
                    first.event
                ],
            )?;
        }
    }
    crate::changes::log(conn, "alert", &epc)?;
    Ok(Some(epc))
}

/// The reports standing behind a unit's alert, oldest first.
pub(crate) fn of(conn: impl AsDb, epc: &str) -> Result<Vec<AlertReport>, HubError> {
    let conn = conn.db();
    let mut stmt = conn.prepare_cached(
        "SELECT event, reported_by, reported_at, note FROM alert_reports WHERE epc = ?1
         ORDER BY reported_at, event",
    )?;
    let rows = stmt.query_map([epc], |r| {
        Ok(AlertReport {
            event: r.get(0)?,
            reported_by: r.get(1)?,
            reported_at: r.get(2)?,
            note: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Reports as a sentence: "by A (market) on 2026-05-04: note; by B (market) on …". A report's
/// note is private to its reporter and the manufacturer: it is given only when `reader` is one
/// of them (`None`: for everyone, as in the registry extract every device receives).
pub(crate) fn in_words(
    conn: impl AsDb,
    reports: &[AlertReport],
    reader: Option<&str>,
) -> Result<String, HubError> {
    let conn = conn.db();
    let maker = crate::catalog::manufacturer_id(conn)?;
    let reader_is_maker = reader.is_some() && reader == maker.as_deref();
    Ok(reports
        .iter()
        .map(|r| {
            let name: Option<String> = conn
                .query_row(
                    "SELECT name || ' (' || market || ')' FROM orgs WHERE id = ?1",
                    [&r.reported_by],
                    |row| row.get(0),
                )
                .optional()
                .ok()
                .flatten();
            let day = DateTime::parse_from_rfc3339(&r.reported_at)
                .map_or_else(|_| "an unknown date".into(), |t| t.date_naive().to_string());
            let may_read = reader_is_maker || reader == Some(r.reported_by.as_str());
            let note = if r.note.is_empty() || !may_read {
                String::new()
            } else {
                format!(": {}", r.note)
            };
            format!(
                "by {} on {day}{note}",
                name.unwrap_or_else(|| r.reported_by.clone())
            )
        })
        .collect::<Vec<_>>()
        .join("; "))
}
