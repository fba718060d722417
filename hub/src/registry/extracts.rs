//! The registry extract devices hold offline (organisations, products, recalls, alerts, the
//! issuer's keys): whole, or as the changes since a version.

use super::*;
use crate::catalog::{PRODUCT_SELECT, product_row};

/// A device this many changes behind gets the whole extract: past that, a delta saves little.
pub(super) const MAX_DELTA_CHANGES: u64 = 2_000;

/// What a device receives about the registry extract in a sync round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExtractUpdate {
    /// The device holds the current version.
    Unchanged,
    /// The changes since the version the device holds.
    Delta(ExtractDelta),
    /// The whole extract: the device had none, is too far behind, or takes no deltas.
    Whole(RegistryExtract),
}

pub(super) fn issuer_keys(issuer: &SigningKey) -> Vec<IssuerKey> {
    vec![IssuerKey {
        id: "issuer-1".into(),
        public_key: STANDARD.encode(issuer.verifying_key().to_bytes()),
    }]
}

/// Organisations by id; with `id`, that one (if registered).
pub(super) fn read_orgs(conn: impl AsDb, id: Option<&str>) -> Result<Vec<Org>, HubError> {
    let conn = conn.db();
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, role, market, gln FROM orgs WHERE id = ?1 OR ?1 IS NULL ORDER BY id",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok(Org {
            id: r.get(0)?,
            name: r.get(1)?,
            role: r.get(2)?,
            market: r.get(3)?,
            gln: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Products by GTIN; with `gtin`, that one (if registered).
pub(super) fn read_products(conn: impl AsDb, gtin: Option<&str>) -> Result<Vec<Product>, HubError> {
    let conn = conn.db();
    let mut stmt = conn.prepare_cached(&format!(
        "{PRODUCT_SELECT} WHERE gtin = ?1 OR ?1 IS NULL ORDER BY gtin"
    ))?;
    let rows = stmt.query_map([gtin], product_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Recalls in the order they were published, with their row ids; with `key`, the one with
/// that GTIN and lot (if published).
pub(super) fn read_recalls(
    conn: impl AsDb,
    key: Option<&RecallKey>,
) -> Result<Vec<(i64, Recall)>, HubError> {
    let conn = conn.db();
    let mut stmt = conn.prepare_cached(
        "SELECT rowid, gtin, lot, reason FROM recalls
         WHERE (gtin = ?2 AND lot IS ?3) OR ?1 = 0 ORDER BY rowid",
    )?;
    let rows = stmt.query_map(
        params![
            key.is_some(),
            key.map(|k| k.gtin.as_str()),
            key.and_then(|k| k.lot.as_deref())
        ],
        |r| {
            Ok((
                r.get(0)?,
                Recall {
                    gtin: r.get(1)?,
                    lot: r.get(2)?,
                    reason: r.get(3)?,
                },
            ))
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The alert list as devices see it, by EPC; with `epc`, that unit's entry (if listed). A unit
/// partners reported says who reported it, when, and their note, for every report.
pub(super) fn read_alerts(conn: impl AsDb, epc: Option<&str>) -> Result<Vec<Alert>, HubError> {
    let conn = conn.db();
    let mut stmt = conn.prepare_cached(
        "SELECT epc, reason, reported_by IS NOT NULL FROM alerts
         WHERE epc = ?1 OR ?1 IS NULL ORDER BY epc",
    )?;
    let rows = stmt.query_map([epc], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, bool>(2)?,
        ))
    })?;
    let rows: Vec<(String, String, bool)> = rows.collect::<Result<_, _>>()?;
    let mut alerts = Vec::with_capacity(rows.len());
    for (epc, reason, reported) in rows {
        let reports = if reported {
            crate::reports::of(conn, &epc)?
        } else {
            Vec::new()
        };
        let reason = if reports.is_empty() {
            reason
        } else {
            format!(
                "reported counterfeit {}",
                crate::reports::in_words(conn, &reports, None)?
            )
        };
        alerts.push(Alert { epc, reason });
    }
    Ok(alerts)
}

/// The registry extract, for callers outside this module.
pub fn current_extract(registry: &Registry) -> Result<RegistryExtract, HubError> {
    let conn = registry.conn()?;
    Registry::extract(&conn, registry.issuer())
}

/// What a device holding version `held` of the extract is sent ([`ExtractUpdate`]).
pub fn extract_since(
    registry: &Registry,
    held: u64,
    takes_deltas: bool,
) -> Result<ExtractUpdate, HubError> {
    let conn = registry.conn()?;
    Registry::extract_update(&conn, registry.issuer(), held, takes_deltas)
}

impl Registry {
    /// The registry extract, whole (the same for every device).
    pub(crate) fn extract(
        conn: impl AsDb,
        issuer: &SigningKey,
    ) -> Result<RegistryExtract, HubError> {
        let conn = conn.db();
        Ok(RegistryExtract {
            version: crate::changes::version(conn)?,
            orgs: read_orgs(conn, None)?,
            products: read_products(conn, None)?,
            issuer_keys: issuer_keys(issuer),
            recalls: read_recalls(conn, None)?
                .into_iter()
                .map(|(_, r)| r)
                .collect(),
            alerts: read_alerts(conn, None)?,
        })
    }

    /// What a device holding version `held` of the extract needs: nothing, the changes since
    /// (when it takes deltas and the change log reaches back to its version), or the whole.
    pub(crate) fn extract_update(
        conn: impl AsDb,
        issuer: &SigningKey,
        held: u64,
        takes_deltas: bool,
    ) -> Result<ExtractUpdate, HubError> {
        let conn = conn.db();
        let current = crate::changes::version(conn)?;
        if held == current {
            return Ok(ExtractUpdate::Unchanged);
        }
        let log_from: u64 = match store::kv_get(conn, crate::changes::KV_EXTRACT_LOG_FROM)?
            .and_then(|v| v.parse().ok())
        {
            Some(v) => v,
            None => return Ok(ExtractUpdate::Whole(Self::extract(conn, issuer)?)),
        };
        // A version above the hub's is from another registry (or one restored from a backup).
        if !takes_deltas
            || held == 0
            || held > current
            || held < log_from
            || current - held > MAX_DELTA_CHANGES
        {
            return Ok(ExtractUpdate::Whole(Self::extract(conn, issuer)?));
        }
        let mut stmt = conn.prepare_cached(
            "SELECT DISTINCT kind, key FROM extract_log WHERE version > ?1 ORDER BY kind, key",
        )?;
        let changed = stmt
            .query_map([i64::try_from(held).unwrap_or(i64::MAX)], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut delta = ExtractDelta {
            from: held,
            to: current,
            ..ExtractDelta::default()
        };
        let mut recalls = Vec::new();
        for (kind, key) in changed {
            match kind.as_str() {
                "org" => delta.orgs.extend(read_orgs(conn, Some(&key))?),
                "product" => delta.products.extend(read_products(conn, Some(&key))?),
                "recall" => {
                    let k: RecallKey = serde_json::from_str(&key)
                        .map_err(|e| HubError::Internal(format!("extract log: {key}: {e}")))?;
                    let now = read_recalls(conn, Some(&k))?;
                    if now.is_empty() {
                        delta.recalls_withdrawn.push(k);
                    }
                    recalls.extend(now);
                }
                "alert" => {
                    let now = read_alerts(conn, Some(&key))?;
                    if now.is_empty() {
                        delta.alerts_cleared.push(key);
                    }
                    delta.alerts.extend(now);
                }
                other => {
                    return Err(HubError::Internal(format!(
                        "extract log: unknown kind {other:?}"
                    )));
                }
            }
        }
        recalls.sort_by_key(|(rowid, _)| *rowid);
        delta.recalls = recalls.into_iter().map(|(_, r)| r).collect();
        Ok(ExtractUpdate::Delta(delta))
    }
}
