//! The audit trail: every change made through the API or the hub's command line — who, when,
//! what, from where — appended in the same transaction as the change itself, so a change is
//! never on record without having happened, nor the other way round.
//!
//! **Invariant:** the trail is append-only. The store refuses any UPDATE or DELETE of it (a
//! trigger on SQLite and on PostgreSQL); nothing in the hub offers one.

use chrono::{DateTime, SecondsFormat, Utc};
use custodian_ledger::sql::{AsDb, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::HubError;
use crate::accounts::Caller;

/// The most entries one page of the trail holds.
pub const MAX_PAGE: usize = 1000;

/// One change on record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Entry {
    /// Its place in the trail, from 1.
    pub seq: i64,
    /// When, RFC 3339 in UTC.
    pub at: String,
    /// The account that made it, or `cli:<user>` for the hub's command line.
    pub actor: String,
    pub role: String,
    /// The client's address, or `cli`.
    pub origin: String,
    /// What was done: `account.create`, `epcis.capture`, …
    pub action: String,
    /// What it was done to: an account, a capture job, a flag…
    pub target: String,
    /// The change's particulars (never a secret).
    #[schema(value_type = Object)]
    pub detail: Value,
}

/// Appends what `caller` did. Call it inside the transaction that makes the change.
pub fn append(
    conn: impl AsDb,
    caller: &Caller,
    action: &str,
    target: &str,
    detail: &Value,
    now: DateTime<Utc>,
) -> Result<(), HubError> {
    conn.db().execute(
        "INSERT INTO audit (at, actor, role, origin, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            now.to_rfc3339_opts(SecondsFormat::Millis, true),
            caller.account,
            caller.role.as_str(),
            caller.origin,
            action,
            target,
            detail.to_string()
        ],
    )?;
    Ok(())
}

/// Which entries to read.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Filter {
    /// Entries after this place in the trail (a page's last `seq`).
    pub after: Option<i64>,
    /// At most this many (1 to 1000; default 100).
    pub limit: Option<usize>,
    /// Only this actor's.
    pub actor: Option<String>,
    /// Only this action's.
    pub action: Option<String>,
}

/// Entries in order, as `filter` selects.
pub fn read(conn: impl AsDb, filter: &Filter) -> Result<Vec<Entry>, HubError> {
    let limit = filter.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(HubError::BadRequest(format!("limit is 1 to {MAX_PAGE}")));
    }
    Ok(conn.db().query_map(
        "SELECT seq, at, actor, role, origin, action, target, detail FROM audit
         WHERE seq > ?1 AND (CAST(?2 AS TEXT) IS NULL OR actor = ?2) AND (CAST(?3 AS TEXT) IS NULL OR action = ?3)
         ORDER BY seq LIMIT ?4",
        params![
            filter.after.unwrap_or(0),
            filter.actor.as_deref(),
            filter.action.as_deref(),
            limit as i64
        ],
        |r| {
            let detail: String = r.get(7)?;
            Ok(Entry {
                seq: r.get(0)?,
                at: r.get(1)?,
                actor: r.get(2)?,
                role: r.get(3)?,
                origin: r.get(4)?,
                action: r.get(5)?,
                target: r.get(6)?,
                detail: serde_json::from_str(&detail).unwrap_or(Value::String(detail)),
            })
        },
    )?)
}
