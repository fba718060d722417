//! What the registry knows of organisations, products and issued serials, read on the caller's
//! connection (inside its transaction): the questions reconciliation, flags and verification
//! ask of it. The [`crate::Registry`] writes them.

use custodian_ledger::Epc;
use custodian_ledger::extract::Product;
use custodian_ledger::sql::{AsDb, Row, SqlError, params};
use custodian_scanner::{ProprietaryFormat, SerialPattern};

use crate::HubError;

/// Whether `id` names an organisation of this registry.
pub fn org_exists(conn: impl AsDb, id: &str) -> Result<bool, HubError> {
    Ok(conn.db().query_row(
        "SELECT EXISTS (SELECT 1 FROM orgs WHERE id = ?1)",
        params![id],
        |r| r.get(0),
    )?)
}

/// The manufacturer organisation's id, if one is registered.
pub fn manufacturer_id(conn: impl AsDb) -> Result<Option<String>, HubError> {
    Ok(conn.db().query_opt(
        "SELECT id FROM orgs WHERE role = 'manufacturer' ORDER BY id LIMIT 1",
        params![],
        |r| r.get(0),
    )?)
}

/// Whether `gtin`+`serial` was issued here.
pub fn is_issued(conn: impl AsDb, gtin: &str, serial: &str) -> Result<bool, HubError> {
    Ok(conn.db().query_row(
        "SELECT EXISTS (SELECT 1 FROM serials WHERE gtin = ?1 AND serial = ?2)",
        params![gtin, serial],
        |r| r.get(0),
    )?)
}

/// Whether a unit was issued here, and whether it is a serial the registry would have issued
/// but never did (an unknown serial of a registered GS1 product). The hub issues no proprietary
/// serials, so a proprietary unit is neither: the channel checks apply to it, the unknown-serial
/// check does not.
pub fn issuance(conn: impl AsDb, unit: &Epc) -> Result<(bool, bool), HubError> {
    let conn = conn.db();
    let Epc::Unit { gtin, serial } = unit else {
        return Ok((false, false));
    };
    let issued = is_issued(conn, gtin.as_str(), serial)?;
    Ok((issued, !issued && is_product(conn, gtin.as_str())?))
}

/// A registered product and its policies.
pub fn product(conn: impl AsDb, gtin: &str) -> Result<Option<Product>, HubError> {
    Ok(conn.db().query_opt(
        &format!("{PRODUCT_SELECT} WHERE gtin = ?1"),
        params![gtin],
        product_row,
    )?)
}

/// The registered product a unit belongs to: by GTIN, or by a proprietary unit's product code.
pub fn product_of(conn: impl AsDb, unit: &Epc) -> Result<Option<Product>, HubError> {
    match unit {
        Epc::Unit { gtin, .. } => product(conn, gtin.as_str()),
        Epc::Proprietary { product, .. } => product_by_code(conn, product),
        Epc::Logistic(_) => Ok(None),
    }
}

pub fn is_product(conn: impl AsDb, gtin: &str) -> Result<bool, HubError> {
    Ok(conn.db().query_row(
        "SELECT EXISTS (SELECT 1 FROM products WHERE gtin = ?1)",
        params![gtin],
        |r| r.get(0),
    )?)
}

/// Whether a unit belongs to a registered product: by GTIN, or by the product code of a
/// proprietary unit.
pub fn is_product_of(conn: impl AsDb, unit: &Epc) -> Result<bool, HubError> {
    match unit {
        Epc::Unit { gtin, .. } => is_product(conn, gtin.as_str()),
        Epc::Proprietary { product, .. } => Ok(conn.db().query_row(
            "SELECT EXISTS (SELECT 1 FROM products WHERE code = ?1)",
            params![product],
            |r| r.get(0),
        )?),
        Epc::Logistic(_) => Ok(false),
    }
}

/// An organisation's name and market, for the words of a flag; its id when it has none.
pub fn org_name(conn: impl AsDb, id: &str) -> String {
    conn.db()
        .query_row(
            "SELECT name || ' (' || market || ')' FROM orgs WHERE id = ?1",
            params![id],
            |r| r.get(0),
        )
        .unwrap_or_else(|_| id.to_string())
}

/// The serial formats of the registered products that declare one, for reading codes.
pub fn formats(conn: impl AsDb) -> Result<Vec<ProprietaryFormat>, HubError> {
    Ok(conn
        .db()
        .query_map(
            &format!("{PRODUCT_SELECT} WHERE code IS NOT NULL"),
            params![],
            product_row,
        )?
        .into_iter()
        .filter_map(|p| p.proprietary)
        .collect())
}

/// The product whose proprietary serials are registered under `code`.
pub fn product_by_code(conn: impl AsDb, code: &str) -> Result<Option<Product>, HubError> {
    Ok(conn.db().query_opt(
        &format!("{PRODUCT_SELECT} WHERE code = ?1"),
        params![code],
        product_row,
    )?)
}

pub(crate) const PRODUCT_SELECT: &str =
    "SELECT gtin, name, warranty_months, markets, claim_threshold, code, pattern FROM products";

pub(crate) fn product_row(r: &Row<'_>) -> Result<Product, SqlError> {
    let markets: String = r.get(3)?;
    let code: Option<String> = r.get(5)?;
    let pattern: Option<String> = r.get(6)?;
    // Only `Registry::add_product` writes these, from a parsed pattern.
    let proprietary = match (code, pattern) {
        (Some(product), Some(pattern)) => Some(ProprietaryFormat {
            product,
            pattern: SerialPattern::parse(&pattern).map_err(|e| SqlError::Conversion {
                column: 6,
                message: e.to_string(),
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
