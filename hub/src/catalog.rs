//! What the registry knows of organisations, products and issued serials, read on the caller's
//! connection (inside its transaction): the questions reconciliation, flags and verification
//! ask of it. The [`crate::Registry`] writes them.

use custodian_ledger::extract::Product;
use rusqlite::{Connection, OptionalExtension};

use crate::HubError;

/// Whether `id` names an organisation of this registry.
pub fn org_exists(conn: &Connection, id: &str) -> Result<bool, HubError> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM orgs WHERE id = ?1)")?
        .query_row([id], |r| r.get(0))?)
}

/// The manufacturer organisation's id, if one is registered.
pub fn manufacturer_id(conn: &Connection) -> Result<Option<String>, HubError> {
    Ok(conn
        .prepare_cached("SELECT id FROM orgs WHERE role = 'manufacturer' ORDER BY id LIMIT 1")?
        .query_row([], |r| r.get(0))
        .optional()?)
}

/// Whether `gtin`+`serial` was issued here.
pub fn is_issued(conn: &Connection, gtin: &str, serial: &str) -> Result<bool, HubError> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM serials WHERE gtin = ?1 AND serial = ?2)")?
        .query_row([gtin, serial], |r| r.get(0))?)
}

/// A registered product and its policies.
pub fn product(conn: &Connection, gtin: &str) -> Result<Option<Product>, HubError> {
    Ok(conn
        .query_row(
            &format!("{PRODUCT_SELECT} WHERE gtin = ?1"),
            [gtin],
            product_row,
        )
        .optional()?)
}

pub fn is_product(conn: &Connection, gtin: &str) -> Result<bool, HubError> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM products WHERE gtin = ?1)")?
        .query_row([gtin], |r| r.get(0))?)
}

/// An organisation's name and market, for the words of a flag; its id when it has none.
pub fn org_name(conn: &Connection, id: &str) -> String {
    conn.prepare_cached("SELECT name || ' (' || market || ')' FROM orgs WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)))
        .unwrap_or_else(|_| id.to_string())
}

pub(crate) const PRODUCT_SELECT: &str =
    "SELECT gtin, name, warranty_months, markets, claim_threshold FROM products";

pub(crate) fn product_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Product> {
    let markets: String = r.get(3)?;
    Ok(Product {
        gtin: r.get(0)?,
        name: r.get(1)?,
        warranty_months: r.get(2)?,
        markets: markets
            .split(',')
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect(),
        claim_threshold: r.get(4)?,
    })
}
