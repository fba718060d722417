//! The extract's change log: every change of what devices hold offline (an organisation, a
//! product, a recall, an alert) takes the next version and is logged by kind and key, so a
//! device is sent the changes after the version it holds (see `registry::extracts`).

use custodian_ledger::sql::{AsDb, params};
use custodian_ledger::store;

use crate::HubError;

pub(crate) const KV_EXTRACT_VERSION: &str = "extract_version";

/// The oldest version a delta can start from: the change log holds every change after it.
pub(crate) const KV_EXTRACT_LOG_FROM: &str = "extract_log_from";

/// How many changes of the extract the log keeps; a device further behind gets it whole.
pub(crate) const EXTRACT_LOG_KEEP: u64 = 10_000;

/// Records a change of the extract: the next version, and what it changed (`kind` and the
/// entry's key), so a device can be sent the changes after the version it holds.
pub(crate) fn log(conn: impl AsDb, kind: &str, key: &str) -> Result<u64, HubError> {
    let conn = conn.db();
    let v = version(conn)? + 1;
    conn.execute(
        "INSERT INTO extract_log (version, kind, key) VALUES (?1, ?2, ?3)",
        params![v, kind, key],
    )?;
    store::kv_set(conn, KV_EXTRACT_VERSION, &v.to_string())?;
    if v > EXTRACT_LOG_KEEP && v % 100 == 0 {
        let keep_from = v - EXTRACT_LOG_KEEP;
        conn.execute(
            "DELETE FROM extract_log WHERE version <= ?1",
            params![keep_from],
        )?;
        store::kv_set(conn, KV_EXTRACT_LOG_FROM, &keep_from.to_string())?;
    }
    Ok(v)
}

pub(crate) fn version(conn: impl AsDb) -> Result<u64, HubError> {
    Ok(store::kv_get(conn, KV_EXTRACT_VERSION)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}
