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

pub(super) fn recall_key(gtin: &str, lot: Option<&str>) -> String {
    serde_json::to_string(&RecallKey {
        gtin: gtin.to_string(),
        lot: lot.map(str::to_string),
    })
    .expect("a recall key always serialises")
}

impl Registry {
    /// Publishes a recall of `r.gtin` (of one lot, or of every lot), replacing one published for
    /// the same GTIN and lot.
    pub fn add_recall(&self, r: &Recall) -> Result<(), HubError> {
        let guard = self.conn()?;
        let tx = guard.db().transaction()?;
        add_recall_in(tx.db(), r)?;
        tx.commit()?;
        Ok(())
    }

    /// Withdraws the recall of `gtin` and `lot` (`None`: the recall of every lot).
    pub fn withdraw_recall(&self, gtin: &str, lot: Option<&str>) -> Result<(), HubError> {
        let guard = self.conn()?;
        let tx = guard.db().transaction()?;
        withdraw_recall_in(tx.db(), gtin, lot)?;
        tx.commit()?;
        Ok(())
    }

    /// Puts a unit on the counterfeit alert list as the manufacturer (replacing what the list
    /// said about it).
    /// A unit in transit: the organisation it was shipped to is flagged, so it knows before the
    /// unit arrives.
    pub fn add_alert(&self, a: &Alert) -> Result<(), HubError> {
        let guard = self.conn()?;
        let tx = guard.db().transaction()?;
        add_alert_in(tx.db(), a)?;
        tx.commit()?;
        Ok(())
    }

    /// Puts the unit `code` names on the counterfeit alert list as the manufacturer.
    pub fn add_alert_for(&self, code: &str, reason: &str) -> Result<(), HubError> {
        let alert = alert_for(self.conn()?.db(), code, reason)?;
        self.add_alert(&alert)
    }

    /// Takes a unit off the counterfeit alert list (the manufacturer found it genuine). A report
    /// made before `at` that arrives later does not put it back; a later report does.
    pub fn clear_alert(
        &self,
        code: &str,
        note: &str,
        at: DateTime<FixedOffset>,
    ) -> Result<(), HubError> {
        let guard = self.conn()?;
        let tx = guard.db().transaction()?;
        clear_alert_in(tx.db(), code, note, at)?;
        tx.commit()?;
        Ok(())
    }

    /// The counterfeit alert list, by EPC.
    pub fn alerts(&self) -> Result<Vec<HubAlert>, HubError> {
        let guard = self.conn()?;
        let conn = guard.db();
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
            a.reports = crate::reports::of(conn, &a.epc)?;
        }
        Ok(alerts)
    }
}

/// Publishes a recall inside the transaction `tx` is in ([`Registry::add_recall`]).
pub(crate) fn add_recall_in(tx: Db<'_>, r: &Recall) -> Result<(), HubError> {
    let gtin = Gtin::parse(&r.gtin).map_err(|e| HubError::BadRequest(e.to_string()))?;
    tx.execute(
        "DELETE FROM recalls WHERE gtin = ?1 AND lot IS ?2",
        params![gtin.as_str(), r.lot],
    )?;
    tx.execute(
        "INSERT INTO recalls (gtin, lot, reason) VALUES (?1, ?2, ?3)",
        params![gtin.as_str(), r.lot, r.reason],
    )?;
    crate::changes::log(tx, "recall", &recall_key(gtin.as_str(), r.lot.as_deref()))?;
    Ok(())
}

/// Withdraws a recall inside the transaction `tx` is in ([`Registry::withdraw_recall`]).
pub(crate) fn withdraw_recall_in(
    tx: Db<'_>,
    gtin: &str,
    lot: Option<&str>,
) -> Result<(), HubError> {
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
    crate::changes::log(tx, "recall", &recall_key(gtin, lot))?;
    Ok(())
}

/// Puts a unit on the alert list inside the transaction `tx` is in ([`Registry::add_alert`]).
pub(crate) fn add_alert_in(tx: Db<'_>, a: &Alert) -> Result<(), HubError> {
    tx.execute(
        "INSERT INTO alerts (epc, reason) VALUES (?1, ?2)
         ON CONFLICT (epc) DO UPDATE SET reason = excluded.reason,
             reported_by = NULL, reported_at = NULL, note = NULL, event = NULL",
        params![a.epc, a.reason],
    )?;
    crate::changes::log(tx, "alert", &a.epc)?;
    if let Ok(unit) = Epc::parse(&a.epc)
        && unit.is_unit()
    {
        let mut flags = crate::flags::FlagDocs::new();
        crate::reconcile::listed_in_transit(tx, &mut flags, &unit, &a.reason, Utc::now())?;
        flags.write(tx)?;
    }
    Ok(())
}

/// The alert for the unit `code` names, with its reason checked.
pub(crate) fn alert_for(conn: Db<'_>, code: &str, reason: &str) -> Result<Alert, HubError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(HubError::BadRequest(
            "an alert needs a reason: say why the unit is counterfeit".into(),
        ));
    }
    Ok(Alert {
        epc: unit_epc(conn, code)?.uri(),
        reason: reason.to_string(),
    })
}

/// Takes a unit off the alert list inside the transaction `tx` is in
/// ([`Registry::clear_alert`]).
pub(crate) fn clear_alert_in(
    tx: Db<'_>,
    code: &str,
    note: &str,
    at: DateTime<FixedOffset>,
) -> Result<(), HubError> {
    let epc = unit_epc(tx, code)?;
    let n = tx.execute("DELETE FROM alerts WHERE epc = ?1", [epc.uri()])?;
    if n == 0 {
        return Err(HubError::NotFound(format!(
            "{} on the counterfeit alert list",
            epc.label()
        )));
    }
    tx.execute(
        "INSERT INTO alert_clearings (epc, cleared_at, note) VALUES (?1, ?2, ?3)
         ON CONFLICT (epc) DO UPDATE SET cleared_at = excluded.cleared_at, note = excluded.note",
        params![epc.uri(), at.to_rfc3339(), note],
    )?;
    // The reports were looked into; they stay on record as events.
    tx.execute("DELETE FROM alert_reports WHERE epc = ?1", [epc.uri()])?;
    crate::changes::log(tx, "alert", &epc.uri())?;
    Ok(())
}
