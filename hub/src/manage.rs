//! The manufacturer's operations as its systems and people call them, through the API or the
//! hub's command line: recalls, the counterfeit alert list, flags, unit histories, products
//! and partners. Each checks the caller's role, and writes the change and its audit entry in
//! one transaction; the rules themselves stay where they live (`registry/alerts.rs`,
//! `reconcile.rs`, `custodian_ledger::Custody`).

use chrono::{DateTime, Utc};
use custodian_ledger::extract::{Org, Product, Recall};
use custodian_ledger::sql::{AsDb, Db};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::accounts::{Action, Caller};
use crate::registry::HubAlert;
use crate::{HubError, Registry, audit};

/// A recall to publish: a GTIN, one lot of it or every lot, and why.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecallRequest {
    /// The GTIN (14 digits).
    pub gtin: String,
    /// One lot; absent: every lot.
    pub lot: Option<String>,
    /// Why, in words.
    pub reason: String,
}

/// A recall to withdraw.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecallKey {
    pub gtin: String,
    pub lot: Option<String>,
}

/// A unit to list as counterfeit, or to clear.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertRequest {
    /// The unit: an element string, bracketed text or Digital Link.
    pub code: String,
    /// Listing: why it is counterfeit. Clearing: what the investigation found.
    pub reason: String,
}

/// The longest reason or note a call may give.
pub const MAX_REASON_CHARS: usize = 2000;

/// What the audit trail names a recall by: the GTIN, and `/lot` for one lot.
fn recall_target(gtin: &str, lot: Option<&str>) -> String {
    match lot {
        Some(lot) => format!("{gtin}/{lot}"),
        None => gtin.to_string(),
    }
}

fn reason(text: &str) -> Result<&str, HubError> {
    let t = text.trim();
    if t.is_empty() || t.chars().count() > MAX_REASON_CHARS || t.contains('\0') {
        return Err(HubError::BadRequest(format!(
            "a reason is 1 to {MAX_REASON_CHARS} characters"
        )));
    }
    Ok(t)
}

impl Registry {
    fn audited_change<T>(
        &self,
        caller: &Caller,
        action: &str,
        target: &str,
        detail: serde_json::Value,
        now: DateTime<Utc>,
        f: impl FnOnce(Db<'_>) -> Result<T, HubError>,
    ) -> Result<T, HubError> {
        let guard = self.conn()?;
        let tx = guard.db().transaction()?;
        let out = f(tx.db())?;
        audit::append(tx.db(), caller, action, target, &detail, now)?;
        tx.commit()?;
        Ok(out)
    }

    /// Publishes a recall (replacing one of the same GTIN and lot); devices learn of it with
    /// their next sync.
    pub fn publish_recall(
        &self,
        caller: &Caller,
        r: &RecallRequest,
        now: DateTime<Utc>,
    ) -> Result<(), HubError> {
        caller.require(Action::Recall)?;
        let recall = Recall {
            gtin: r.gtin.clone(),
            lot: r.lot.clone(),
            reason: reason(&r.reason)?.to_string(),
        };
        let target = recall_target(&r.gtin, r.lot.as_deref());
        self.audited_change(
            caller,
            "recall.publish",
            &target,
            json!({ "reason": recall.reason }),
            now,
            |tx| crate::registry::add_recall_in(tx, &recall),
        )
    }

    /// Withdraws a recall.
    pub fn withdraw_recall_as(
        &self,
        caller: &Caller,
        r: &RecallKey,
        now: DateTime<Utc>,
    ) -> Result<(), HubError> {
        caller.require(Action::Recall)?;
        let target = recall_target(&r.gtin, r.lot.as_deref());
        self.audited_change(caller, "recall.withdraw", &target, json!({}), now, |tx| {
            crate::registry::withdraw_recall_in(tx, &r.gtin, r.lot.as_deref())
        })
    }

    /// Lists a unit as counterfeit; the organisation it is shipped to is flagged at once.
    pub fn list_counterfeit(
        &self,
        caller: &Caller,
        a: &AlertRequest,
        now: DateTime<Utc>,
    ) -> Result<(), HubError> {
        caller.require(Action::Alerts)?;
        let why = reason(&a.reason)?;
        self.audited_change(
            caller,
            "alert.list",
            &a.code,
            json!({ "reason": why }),
            now,
            |tx| {
                let alert = crate::registry::alert_for(tx, &a.code, why)?;
                crate::registry::add_alert_in(tx, &alert)
            },
        )
    }

    /// Takes a unit off the alert list: the investigation found it genuine.
    pub fn clear_counterfeit(
        &self,
        caller: &Caller,
        a: &AlertRequest,
        now: DateTime<Utc>,
    ) -> Result<(), HubError> {
        caller.require(Action::Alerts)?;
        let note = reason(&a.reason)?;
        self.audited_change(
            caller,
            "alert.clear",
            &a.code,
            json!({ "note": note }),
            now,
            |tx| crate::registry::clear_alert_in(tx, &a.code, note, now.fixed_offset()),
        )
    }

    /// The counterfeit alert list.
    pub fn alert_list(&self, caller: &Caller) -> Result<Vec<HubAlert>, HubError> {
        caller.require(Action::Alerts)?;
        self.alerts()
    }

    /// Every flag raised, for every organisation.
    pub fn flag_list(&self, caller: &Caller) -> Result<Vec<crate::flags::HubFlag>, HubError> {
        caller.require(Action::ReadFlags)?;
        self.flags()
    }

    /// A unit's custody across all partners.
    pub fn unit_history(
        &self,
        caller: &Caller,
        code: &str,
    ) -> Result<custodian_ledger::Custody, HubError> {
        caller.require(Action::Histories)?;
        self.custody(code)
    }

    /// The products the registry knows and its partners (organisations).
    pub fn master_data(&self, caller: &Caller) -> Result<(Vec<Product>, Vec<Org>), HubError> {
        caller.require(Action::ReadMasterData)?;
        let extract = crate::registry::current_extract(self)?;
        Ok((extract.products, extract.orgs))
    }
}
