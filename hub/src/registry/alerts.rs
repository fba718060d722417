//! Recalls and counterfeit alerts: what the manufacturer lists, what partners report, and
//! their clearing.

use super::*;

/// A unit on the counterfeit alert list, as the hub holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubAlert {
    pub epc: String,
    /// What public verification says about it.
    pub reason: String,
    /// The organisation that reported it; `None` when the manufacturer listed it.
    pub reported_by: Option<String>,
    /// When it was reported (RFC 3339).
    pub reported_at: Option<String>,
    /// The reporter's note (devices see it; public verification does not).
    pub note: Option<String>,
    /// The report's event id.
    pub event: Option<String>,
    /// Every partner's report standing behind the entry, oldest first (the fields above repeat
    /// the first). Empty when the manufacturer listed the unit and nobody reported it.
    #[serde(default)]
    pub reports: Vec<AlertReport>,
}

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

pub(super) const REPORTED_REASON: &str = "reported counterfeit by a channel partner's inspection";

pub(super) fn recall_key(gtin: &str, lot: Option<&str>) -> String {
    serde_json::to_string(&RecallKey {
        gtin: gtin.to_string(),
        lot: lot.map(str::to_string),
    })
    .expect("a recall key always serialises")
}

/// Reports as a sentence: "by A (market) on 2026-05-04: note; by B (market) on …". A report's
/// note is private to its reporter and the manufacturer: it is given only when `reader` is one
/// of them (`None`: for everyone, as in the registry extract every device receives).
pub(crate) fn reports_in_words(
    conn: &Connection,
    reports: &[AlertReport],
    reader: Option<&str>,
) -> Result<String, HubError> {
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

impl Registry {
    /// Publishes a recall of `r.gtin` (of one lot, or of every lot), replacing one published for
    /// the same GTIN and lot.
    pub fn add_recall(&self, r: &Recall) -> Result<(), HubError> {
        let gtin = Gtin::parse(&r.gtin).map_err(|e| HubError::BadRequest(e.to_string()))?;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM recalls WHERE gtin = ?1 AND lot IS ?2",
            params![gtin.as_str(), r.lot],
        )?;
        tx.execute(
            "INSERT INTO recalls (gtin, lot, reason) VALUES (?1, ?2, ?3)",
            params![gtin.as_str(), r.lot, r.reason],
        )?;
        Self::log_change(&tx, "recall", &recall_key(gtin.as_str(), r.lot.as_deref()))?;
        tx.commit()?;
        Ok(())
    }

    /// Withdraws the recall of `gtin` and `lot` (`None`: the recall of every lot).
    pub fn withdraw_recall(&self, gtin: &str, lot: Option<&str>) -> Result<(), HubError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = tx.execute(
            "DELETE FROM recalls WHERE gtin = ?1 AND lot IS ?2",
            params![gtin, lot],
        )?;
        if n == 0 {
            return Err(HubError::NotFound(format!(
                "a recall of {gtin}{}",
                lot.map(|l| format!(" lot {l}")).unwrap_or_default()
            )));
        }
        Self::log_change(&tx, "recall", &recall_key(gtin, lot))?;
        tx.commit()?;
        Ok(())
    }

    /// Puts a unit on the counterfeit alert list as the manufacturer (replacing what the list
    /// said about it).
    /// A unit in transit: the organisation it was shipped to is flagged, so it knows before the
    /// unit arrives.
    pub fn add_alert(&self, a: &Alert) -> Result<(), HubError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO alerts (epc, reason) VALUES (?1, ?2)",
            params![a.epc, a.reason],
        )?;
        Self::log_change(&tx, "alert", &a.epc)?;
        if let Ok(unit @ Epc::Unit { .. }) = Epc::parse(&a.epc) {
            let mut flags = crate::flags::FlagDocs::new();
            crate::reconcile::listed_in_transit(&tx, &mut flags, &unit, &a.reason, Utc::now())?;
            flags.write(&tx)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Puts the unit `code` names on the counterfeit alert list as the manufacturer.
    pub fn add_alert_for(&self, code: &str, reason: &str) -> Result<(), HubError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(HubError::BadRequest(
                "an alert needs a reason: say why the unit is counterfeit".into(),
            ));
        }
        self.add_alert(&Alert {
            epc: unit_epc(code)?.uri(),
            reason: reason.to_string(),
        })
    }

    /// Records a partner's counterfeit report of a unit, and puts the unit on the alert list
    /// unless it is on it already: the list holds the unit once, with every report behind it.
    /// A report the manufacturer's clearing came after (it was looked into) or one declared
    /// erroneous is not recorded. Returns whether the report was recorded (new).
    pub(crate) fn add_reported_alert(
        conn: &Connection,
        report: &Event,
        epc: &Epc,
        note: &str,
    ) -> Result<bool, HubError> {
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
        Self::log_change(conn, "alert", &epc.uri())?;
        Ok(true)
    }

    /// Withdraws the counterfeit report `event` (its reporter declared it erroneous). The unit
    /// leaves the alert list only when no report remains and the manufacturer did not list it
    /// itself. Returns the unit, when the report was on record.
    pub(crate) fn remove_reported_alert(
        conn: &Connection,
        event: &str,
    ) -> Result<Option<String>, HubError> {
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
        let remaining = Self::alert_reports(conn, &epc)?;
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
        Self::log_change(conn, "alert", &epc)?;
        Ok(Some(epc))
    }

    /// The reports standing behind a unit's alert, oldest first.
    pub(crate) fn alert_reports(
        conn: &Connection,
        epc: &str,
    ) -> Result<Vec<AlertReport>, HubError> {
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

    /// Takes a unit off the counterfeit alert list (the manufacturer found it genuine). A report
    /// made before `at` that arrives later does not put it back; a later report does.
    pub fn clear_alert(
        &self,
        code: &str,
        note: &str,
        at: DateTime<FixedOffset>,
    ) -> Result<(), HubError> {
        let epc = unit_epc(code)?;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = tx.execute("DELETE FROM alerts WHERE epc = ?1", [epc.uri()])?;
        if n == 0 {
            return Err(HubError::NotFound(format!(
                "{} on the counterfeit alert list",
                epc.label()
            )));
        }
        tx.execute(
            "INSERT OR REPLACE INTO alert_clearings (epc, cleared_at, note) VALUES (?1, ?2, ?3)",
            params![epc.uri(), at.to_rfc3339(), note],
        )?;
        // The reports were looked into; they stay on record as events.
        tx.execute("DELETE FROM alert_reports WHERE epc = ?1", [epc.uri()])?;
        Self::log_change(&tx, "alert", &epc.uri())?;
        tx.commit()?;
        Ok(())
    }

    /// The counterfeit alert list, by EPC.
    pub fn alerts(&self) -> Result<Vec<HubAlert>, HubError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT epc, reason, reported_by, reported_at, note, event FROM alerts ORDER BY epc",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(HubAlert {
                epc: r.get(0)?,
                reason: r.get(1)?,
                reported_by: r.get(2)?,
                reported_at: r.get(3)?,
                note: r.get(4)?,
                event: r.get(5)?,
                reports: Vec::new(),
            })
        })?;
        let mut alerts: Vec<HubAlert> = rows.collect::<Result<_, _>>()?;
        for a in &mut alerts {
            a.reports = Self::alert_reports(&conn, &a.epc)?;
        }
        Ok(alerts)
    }
}
