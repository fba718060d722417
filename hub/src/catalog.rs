//! What the registry knows of organisations, products and issued serials, read on the caller's
//! connection (inside its transaction): the questions reconciliation, flags and verification
//! ask of it. The [`crate::Registry`] writes them.

use custodian_ledger::Epc;
use custodian_ledger::extract::Product;
use custodian_scanner::{ProprietaryFormat, SerialPattern};
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

/// Whether a unit was issued here, and whether it is a serial the registry would have issued
/// but never did (an unknown serial of a registered GS1 product). The hub issues no proprietary
/// serials, so a proprietary unit is neither: the channel checks apply to it, the unknown-serial
/// check does not.
pub fn issuance(conn: &Connection, unit: &Epc) -> Result<(bool, bool), HubError> {
    let Epc::Unit { gtin, serial } = unit else {
        return Ok((false, false));
    };
    let issued = is_issued(conn, gtin.as_str(), serial)?;
    Ok((issued, !issued && is_product(conn, gtin.as_str())?))
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

/// The registered product a unit belongs to: by GTIN, or by a proprietary unit's product code.
pub fn product_of(conn: &Connection, unit: &Epc) -> Result<Option<Product>, HubError> {
    match unit {
        Epc::Unit { gtin, .. } => product(conn, gtin.as_str()),
        Epc::Proprietary { product, .. } => product_by_code(conn, product),
        Epc::Logistic(_) => Ok(None),
    }
}

pub fn is_product(conn: &Connection, gtin: &str) -> Result<bool, HubError> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM products WHERE gtin = ?1)")?
        .query_row([gtin], |r| r.get(0))?)
}

/// Whether a unit belongs to a registered product: by GTIN, or by the product code of a
/// proprietary unit.
pub fn is_product_of(conn: &Connection, unit: &Epc) -> Result<bool, HubError> {
    match unit {
        Epc::Unit { gtin, .. } => is_product(conn, gtin.as_str()),
        Epc::Proprietary { product, .. } => Ok(conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM products WHERE code = ?1)")?
            .query_row([product], |r| r.get(0))?),
        Epc::Logistic(_) => Ok(false),
    }
}

/// An organisation's name and market, for the words of a flag; its id when it has none.
pub fn org_name(conn: &Connection, id: &str) -> String {
    conn.prepare_cached("SELECT name || ' (' || market || ')' FROM orgs WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)))
        .unwrap_or_else(|_| id.to_string())
}

/// The serial formats of the registered products that declare one, for reading codes.
pub fn formats(conn: &Connection) -> Result<Vec<ProprietaryFormat>, HubError> {
    let mut stmt = conn.prepare_cached(&format!("{PRODUCT_SELECT} WHERE code IS NOT NULL"))?;
    let rows = stmt.query_map([], product_row)?;
    Ok(rows
        .filter_map(|p| p.map(|p| p.proprietary).transpose())
        .collect::<Result<_, _>>()?)
}

/// The product whose proprietary serials are registered under `code`.
pub fn product_by_code(conn: &Connection, code: &str) -> Result<Option<Product>, HubError> {
    Ok(conn
        .query_row(
            &format!("{PRODUCT_SELECT} WHERE code = ?1"),
            [code],
            product_row,
        )
        .optional()?)
}

pub(crate) const PRODUCT_SELECT: &str =
    "SELECT gtin, name, warranty_months, markets, claim_threshold, code, pattern FROM products";

pub(crate) fn product_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Product> {
    let markets: String = r.get(3)?;
    let code: Option<String> = r.get(5)?;
    let pattern: Option<String> = r.get(6)?;
    // Only `Registry::add_product` writes these, from a parsed pattern.
    let proprietary = match (code, pattern) {
        (Some(product), Some(pattern)) => Some(ProprietaryFormat {
            product,
            pattern: SerialPattern::parse(&pattern).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, e.into())
            })?,
        }),
        _ => None,
    };
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
        proprietary,
    })
}
