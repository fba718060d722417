//! Outbound orders: what a partner is to ship (by GTIN and quantity), picked by scanning.
//!
//! An order is a pick list, not a fact: importing one records no event. Each unit picked is a
//! CBV `shipping` event (`in_transit`) with the order's number as its ASN (`desadv`), source this
//! organisation and destination the order's customer, so the shipment the picking builds is the
//! ASN the customer receives against, and [`crate::Ledger::manifest_epcis`] writes it as EPCIS.
//! What has been picked is read back from those events (durable, synced), never kept beside
//! them; the order itself (lines, and whether it was closed) is kept in the device's key-value
//! store, as the pick list the ERP handed to this site.
//!
//! CSV, one row per line of the order:
//!
//! ```text
//! order,to,gtin,quantity
//! SO-1001,retail-c,04012345000016,3
//! SO-1001,retail-c,04012345000023,1
//! ```
//!
//! Bounds, so that no file can swamp the device: an order file is at most [`MAX_FILE_BYTES`]
//! and [`MAX_ROWS`] rows; a line asks for at most [`MAX_LINE_QUANTITY`] units and an order for
//! at most [`MAX_ORDER_QUANTITY`] over its lines. An order is picked on one site by scanning
//! units or pallets: a full truck of small goods is some tens of thousands of units, so a
//! hundred thousand leaves room for the largest real order while a quantity in the billions
//! is refused. The customer (`to`) must be an organisation of the device's registry extract,
//! since a shipment to anyone else could never be received. A file over any bound, or naming
//! an unknown organisation, is refused whole, naming the line.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

pub use crate::csv_manifest::{CsvError, CsvProblem};
use crate::csv_manifest::{CsvFile, fields};
use crate::epcis::MAX_NAME_CHARS;
use crate::event::{
    Action, BizStep, BizTransaction, Disposition, Epc, Event, EventBody, EventType, Extension,
};
use crate::extract::RegistryExtract;
use crate::manifest::ASN;
use crate::verdict::{self, Step, VerdictKind};
use crate::{Error, Ledger, Recorder, ScanInput, Verdict, store};

pub(crate) const COLUMNS: [&str; 4] = ["order", "to", "gtin", "quantity"];

/// The largest order file imported, in bytes: ten thousand rows fit easily.
pub const MAX_FILE_BYTES: usize = 1 << 20;
/// The most rows (header and blank lines not counted) an order file may hold.
pub const MAX_ROWS: usize = 10_000;
/// The most units one row may ask for.
pub const MAX_LINE_QUANTITY: u32 = 100_000;
/// The most units one order may ask for over all its lines.
pub const MAX_ORDER_QUANTITY: u32 = 100_000;

/// One line of an order: so many units of a product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub gtin: String,
    pub quantity: u32,
}

/// Where an order stands: open to picking, then shipped once closed.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    #[default]
    Open,
    Shipped,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Open => "open",
            OrderStatus::Shipped => "shipped",
        }
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// An order as imported, and whether it was closed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    /// The organisation it goes to.
    pub to: String,
    pub lines: Vec<OrderLine>,
    pub status: OrderStatus,
    pub closed_at: Option<String>,
}

/// One line's picking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PickLine {
    pub gtin: String,
    pub product: Option<String>,
    pub quantity: u32,
    pub picked: u32,
}

/// An order with what has been picked for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Picking {
    pub id: String,
    pub to: String,
    pub status: OrderStatus,
    pub closed_at: Option<String>,
    pub lines: Vec<PickLine>,
    /// Units still to pick, over all lines.
    pub left: u32,
    /// Units picked (EPC URIs), in the order they were scanned.
    pub units: Vec<String>,
}

fn key(id: &str) -> String {
    format!("order/{id}")
}

/// Whether `text` is an order (its header is `order,to,gtin,quantity`) rather than an ASN.
pub fn is_order_csv(text: &str) -> bool {
    text.trim_start_matches('\u{feff}')
        .lines()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|h| {
            fields(h).is_ok_and(|f| {
                f.iter()
                    .map(|c| c.trim().to_lowercase())
                    .eq(COLUMNS.iter().map(|c| (*c).to_string()))
            })
        })
}

/// Reads an order CSV, all or nothing; errors name the line. Returns the orders in it. Each
/// customer must be one of `extract`'s organisations; a device with no extract yet cannot
/// check them, and is told to sync first.
pub fn parse_csv(text: &str, extract: Option<&RegistryExtract>) -> Result<Vec<Order>, CsvError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(CsvProblem::TooLarge {
            file: CsvFile::Order,
            bytes: text.len(),
        }
        .into());
    }
    let mut rows = text
        .trim_start_matches('\u{feff}')
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = rows.next().ok_or(CsvProblem::Empty)?;
    let found: Vec<String> = fields(header)
        .map_err(|e| e.at_line(1))?
        .iter()
        .map(|c| c.trim().to_lowercase())
        .collect();
    if found != COLUMNS {
        return Err(CsvError::on_line(
            1,
            CsvProblem::Header {
                file: CsvFile::Order,
                found,
            },
        ));
    }
    // Counted before any row is read, so an oversized file costs no parsing.
    if let Some((i, _)) = rows.clone().nth(MAX_ROWS) {
        return Err(CsvError::on_line(
            i + 1,
            CsvProblem::TooManyRows {
                file: CsvFile::Order,
            },
        ));
    }
    let mut orders: BTreeMap<String, Order> = BTreeMap::new();
    for (i, row) in rows {
        let n = i + 1;
        // Fields may be quoted, as spreadsheets write them (`"ORD,7"`, `""` for a quote).
        let owned = fields(row).map_err(|e| e.at_line(n))?;
        let f: Vec<&str> = owned.iter().map(|s| s.trim()).collect();
        let [id, to, gtin, quantity] = f[..] else {
            return Err(CsvError::on_line(
                n,
                CsvProblem::FieldCount {
                    found: f.len(),
                    expected: COLUMNS.len(),
                },
            ));
        };
        if id.is_empty() || to.is_empty() {
            return Err(CsvError::on_line(n, CsvProblem::EmptyOrder));
        }
        if id.chars().count() > MAX_NAME_CHARS {
            return Err(CsvError::in_cell(n, "order", CsvProblem::LongOrderNumber));
        }
        let gtin = custodian_scanner::Gtin::parse(gtin)
            .map_err(|e| CsvError::in_cell(n, "gtin", CsvProblem::Unreadable(e)))?
            .to_string();
        let quantity: u64 = quantity.parse().ok().filter(|q| *q > 0).ok_or_else(|| {
            CsvError::in_cell(
                n,
                "quantity",
                CsvProblem::NotAQuantity {
                    text: quantity.to_string(),
                },
            )
        })?;
        let quantity = u32::try_from(quantity)
            .ok()
            .filter(|q| *q <= MAX_LINE_QUANTITY)
            .ok_or_else(|| {
                CsvError::in_cell(n, "quantity", CsvProblem::LineTooLarge { quantity })
            })?;
        if !orders.contains_key(id) {
            let known = extract.ok_or_else(|| {
                CsvError::in_cell(
                    n,
                    "to",
                    CsvProblem::NoExtract {
                        org: to.to_string(),
                    },
                )
            })?;
            if known.org(to).is_none() {
                return Err(CsvError::in_cell(
                    n,
                    "to",
                    CsvProblem::UnknownCustomer {
                        org: to.to_string(),
                    },
                ));
            }
        }
        let order = orders.entry(id.to_string()).or_insert_with(|| Order {
            id: id.to_string(),
            to: to.to_string(),
            lines: Vec::new(),
            status: OrderStatus::Open,
            closed_at: None,
        });
        if order.to != to {
            return Err(CsvError::on_line(
                n,
                CsvProblem::OtherCustomer {
                    order: id.to_string(),
                    first: order.to.clone(),
                    to: to.to_string(),
                },
            ));
        }
        let total: u32 = order.lines.iter().map(|l| l.quantity).sum();
        if total + quantity > MAX_ORDER_QUANTITY {
            return Err(CsvError::in_cell(
                n,
                "quantity",
                CsvProblem::OrderTooLarge {
                    order: id.to_string(),
                    quantity: u64::from(total) + u64::from(quantity),
                },
            ));
        }
        match order.lines.iter_mut().find(|l| l.gtin == gtin) {
            Some(line) => line.quantity += quantity,
            None => order.lines.push(OrderLine { gtin, quantity }),
        }
    }
    if orders.is_empty() {
        return Err(CsvProblem::NoRows.into());
    }
    Ok(orders.into_values().collect())
}

/// The order `id`, if this device holds one.
pub(crate) fn load(conn: &Connection, id: &str) -> Result<Option<Order>, Error> {
    store::kv_get(conn, &key(id))?
        .map(|json| serde_json::from_str(&json).map_err(Error::from))
        .transpose()
}

fn save(conn: &Connection, order: &Order) -> Result<(), Error> {
    store::kv_set(conn, &key(&order.id), &serde_json::to_string(order)?)
}

/// Units shipped under the order so far (logistic units counted by what they held when they
/// shipped).
fn picked(conn: &Connection, id: &str) -> Result<Vec<Epc>, Error> {
    let mut units = Vec::new();
    for e in store::events_in_transaction(conn, ASN, id)? {
        if e.body.biz_step != BizStep::Shipping {
            continue;
        }
        for u in store::units_at(conn, &e)? {
            if !units.contains(&u) {
                units.push(u);
            }
        }
    }
    Ok(units)
}

/// The GTIN an order line names `unit` by: its own, or for a proprietary unit its product's
/// (from the extract; `None` when the extract does not know the product).
fn line_gtin<'a>(unit: &'a Epc, extract: Option<&'a RegistryExtract>) -> Option<&'a str> {
    match unit.gtin() {
        Some(gtin) => Some(gtin.as_str()),
        None => extract
            .and_then(|x| x.product_of(unit))
            .map(|p| p.gtin.as_str()),
    }
}

fn picking(
    conn: &Connection,
    order: &Order,
    extract: Option<&RegistryExtract>,
) -> Result<Picking, Error> {
    let units = picked(conn, &order.id)?;
    let lines: Vec<PickLine> = order
        .lines
        .iter()
        .map(|l| PickLine {
            gtin: l.gtin.clone(),
            product: extract
                .and_then(|x| x.product(&l.gtin))
                .map(|p| p.name.clone()),
            quantity: l.quantity,
            picked: u32::try_from(
                units
                    .iter()
                    .filter(|u| line_gtin(u, extract) == Some(l.gtin.as_str()))
                    .count(),
            )
            .unwrap_or(u32::MAX),
        })
        .collect();
    Ok(Picking {
        id: order.id.clone(),
        to: order.to.clone(),
        status: order.status,
        closed_at: order.closed_at.clone(),
        left: lines
            .iter()
            .map(|l| l.quantity.saturating_sub(l.picked))
            .sum(),
        lines,
        units: units.iter().map(Epc::uri).collect(),
    })
}

/// Judges a scan picked for `order` and, when it may go, records its shipping event in `tx`.
/// Nothing is shipped that the order does not ask for, that was picked already, or that the
/// verdict engine says must not move (recalled, expired, reported counterfeit, in quarantine,
/// sold, ended).
pub(crate) fn pick(
    tx: &Connection,
    recorder: &Recorder,
    extract: Option<&RegistryExtract>,
    order: &Order,
    input: &ScanInput<'_>,
) -> Result<Verdict, Error> {
    let mut verdict = Verdict {
        verdict: VerdictKind::Unreadable,
        reason: String::new(),
        provisional: false,
        epc: None,
        label: None,
        product: None,
        manifest: Some(order.id.clone()),
        event: None,
    };
    let scan = match crate::extract::read(extract, input.raw) {
        Ok(s) => s,
        Err(e) => {
            verdict.reason = e.to_string();
            return Ok(verdict);
        }
    };
    let Some(epc) = scan.identity().as_ref().and_then(Epc::from_identity) else {
        verdict.reason =
            "the code names a product but no serial: scan the unit's serialised code".into();
        return Ok(verdict);
    };
    verdict.epc = Some(epc.uri());
    verdict.label = Some(epc.label());
    verdict.product = extract
        .and_then(|x| x.product_of(&epc))
        .map(|p| p.name.clone());
    let label = epc.label();
    if order.status != OrderStatus::Open {
        verdict.verdict = VerdictKind::NotOnManifest;
        verdict.reason = format!("order {} was closed: nothing more ships under it", order.id);
        return Ok(verdict);
    }
    let units = match &epc {
        Epc::Unit { .. } | Epc::Proprietary { .. } => vec![epc.clone()],
        Epc::Logistic(_) => store::contents(tx, &epc)?
            .into_iter()
            .filter(Epc::is_unit)
            .collect(),
    };
    if units.is_empty() {
        verdict.verdict = VerdictKind::NotOnManifest;
        verdict.reason =
            format!("{label}: this device knows nothing packed in it; scan its units instead");
        return Ok(verdict);
    }
    let before = picking(tx, order, extract)?;
    let mut wanted: BTreeMap<&str, u32> = before
        .lines
        .iter()
        .map(|l| (l.gtin.as_str(), l.quantity.saturating_sub(l.picked)))
        .collect();
    for unit in &units {
        let name = unit.label();
        if before.units.contains(&unit.uri()) {
            verdict.verdict = VerdictKind::Duplicate;
            verdict.reason = format!("{name} is already picked for {}", order.id);
            return Ok(verdict);
        }
        let gtin = line_gtin(unit, extract).unwrap_or_default().to_string();
        match wanted.get_mut(gtin.as_str()) {
            None => {
                verdict.verdict = VerdictKind::WrongProduct;
                verdict.reason = format!(
                    "{name}: order {} asks for no GTIN {gtin}; leave it",
                    order.id
                );
                return Ok(verdict);
            }
            Some(0) => {
                verdict.verdict = VerdictKind::NotOnManifest;
                verdict.reason = format!(
                    "{name}: order {} needs no more of GTIN {gtin}; all are picked",
                    order.id
                );
                return Ok(verdict);
            }
            Some(left) => *left -= 1,
        }
        let sold = crate::is_sold(tx, unit)?;
        let held = crate::quarantine::current(tx, unit)?;
        let facts = verdict::Facts {
            scan: &scan,
            epc: unit,
            step: Step::Shipping,
            extract,
            manifest: None,
            contents: &[],
            sold,
            quarantine: held.as_ref(),
            today: input.now.date_naive(),
        };
        let (kind, reason) = verdict::judge(&facts);
        if !matches!(kind, VerdictKind::Ok | VerdictKind::Provisional) {
            verdict.verdict = kind;
            // A quarantine's reason already says not to ship it.
            verdict.reason = if kind == VerdictKind::Quarantined {
                reason
            } else {
                format!("{reason}: do not ship it")
            };
            return Ok(verdict);
        }
    }
    let event = Event::new(EventBody {
        event_type: EventType::ObjectEvent,
        action: Action::Observe,
        biz_step: BizStep::Shipping,
        disposition: Some(Disposition::InTransit),
        event_time: input.now,
        epcs: vec![epc.clone()],
        parent: None,
        biz_transactions: vec![BizTransaction {
            kind: ASN.into(),
            id: order.id.clone(),
        }],
        source: Some(recorder.org.clone()),
        destination: Some(order.to.clone()),
        recorder: recorder.clone(),
        extension: Extension {
            lot: scan.lot().map(str::to_string),
            expiry: scan.expiry(),
            ..Extension::default()
        },
    });
    store::insert_event(tx, &event, true)?;
    verdict.event = Some(event.id.0);
    // Every unit shipped took one of what its line still wanted.
    let left: u32 = wanted.values().sum();
    verdict.verdict = VerdictKind::Ok;
    verdict.reason = if left == 0 {
        format!(
            "{label} picked: order {} is complete, close it to ship",
            order.id
        )
    } else {
        format!("{label} picked for {}: {left} still to pick", order.id)
    };
    Ok(verdict)
}

impl Ledger {
    /// Imports orders from CSV (see the module documentation), all or nothing. An order
    /// already held is replaced only while nothing has been picked for it.
    pub fn import_orders_csv(&mut self, text: &str) -> Result<Vec<Picking>, Error> {
        let orders = parse_csv(text, self.extract()?.as_ref())?;
        let tx = self.conn.transaction()?;
        for order in &orders {
            if !picked(&tx, &order.id)?.is_empty() {
                return Err(Error::Invalid(format!(
                    "order {} is being picked already: it cannot be replaced",
                    order.id
                )));
            }
            save(&tx, order)?;
        }
        tx.commit()?;
        orders.iter().map(|o| self.order(&o.id)).collect()
    }

    /// The orders this device holds, with their picking, open ones first.
    pub fn orders(&self) -> Result<Vec<Picking>, Error> {
        let mut out = Vec::new();
        for id in store::kv_keys_with_prefix(&self.conn, "order/")? {
            out.push(self.order(&id["order/".len()..])?);
        }
        out.sort_by(|a, b| (a.status, &a.id).cmp(&(b.status, &b.id)));
        Ok(out)
    }

    /// One order and what has been picked for it.
    pub fn order(&self, id: &str) -> Result<Picking, Error> {
        let order = load(&self.conn, id)?.ok_or_else(|| Error::NotFound(format!("order {id}")))?;
        picking(&self.conn, &order, self.extract()?.as_ref())
    }

    /// Closes an order: what was picked is shipped, and the outbound manifest (the shipment as
    /// an EPCIS 2.0 document) is returned. A short order closes too; the shortfall is in the
    /// picking returned.
    pub fn close_order(
        &mut self,
        id: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<(Picking, serde_json::Value), Error> {
        let mut order =
            load(&self.conn, id)?.ok_or_else(|| Error::NotFound(format!("order {id}")))?;
        if picked(&self.conn, id)?.is_empty() {
            return Err(Error::Invalid(format!(
                "nothing has been picked for order {id}: there is nothing to ship"
            )));
        }
        if order.status == OrderStatus::Open {
            order.status = OrderStatus::Shipped;
            order.closed_at = Some(now.to_rfc3339());
            save(&self.conn, &order)?;
        }
        let manifest = self.manifest_epcis(id, now)?;
        Ok((self.order(id)?, manifest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An extract that knows the customers `c`, `d` and `retail-c`.
    fn extract() -> RegistryExtract {
        let org = |id: &str| crate::extract::Org {
            id: id.into(),
            name: id.into(),
            role: "retailer".into(),
            market: "DE".into(),
            gln: "4012345000009".into(),
        };
        RegistryExtract {
            orgs: vec![org("c"), org("d"), org("retail-c")],
            ..RegistryExtract::default()
        }
    }

    #[test]
    fn reads_an_order_and_sums_repeated_lines() {
        let orders = parse_csv(
            "order,to,gtin,quantity\nSO-1,retail-c,04012345000016,2\nSO-1,retail-c,04012345000016,1\nSO-1,retail-c,04012345000023,1\n",
            Some(&extract()),
        )
        .unwrap();
        assert_eq!(orders.len(), 1);
        assert_eq!(
            orders[0].lines,
            vec![
                OrderLine {
                    gtin: "04012345000016".into(),
                    quantity: 3
                },
                OrderLine {
                    gtin: "04012345000023".into(),
                    quantity: 1
                },
            ]
        );
        assert!(is_order_csv("\u{feff}order, to ,gtin,quantity\n"));
        assert!(!is_order_csv("asn,from,to,shipped_at,parent,code\n"));
    }

    #[test]
    fn reads_quoted_fields_as_spreadsheets_write_them() {
        let orders = parse_csv(
            "\"order\",\"to\",\"gtin\",\"quantity\"\n\"SO-1, rush\",\"retail-c\",\"04012345000016\",\"2\"\n\"SO \"\"7\"\"\",c,04012345000016,1\n",
            Some(&extract()),
        )
        .unwrap();
        let ids: Vec<&str> = orders.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["SO \"7\"", "SO-1, rush"]);
        assert_eq!(orders[1].lines[0].quantity, 2);
        assert!(is_order_csv("\"order\",\"to\",\"gtin\",\"quantity\"\n"));
        let e = parse_csv(
            "order,to,gtin,quantity\n\"SO-1,c,04012345000016,1\n",
            Some(&extract()),
        )
        .unwrap_err();
        assert_eq!(
            (e.line, e.column, &e.problem),
            (Some(2), None, &CsvProblem::UnclosedQuote)
        );
        assert_eq!(e.to_string(), "line 2: a quoted field is not closed");
    }

    #[test]
    fn says_where_an_order_is_wrong() {
        for (text, want) in [
            ("order,to,gtin\n", "line 1: the header"),
            (
                "order,to,gtin,quantity\nSO-1,c,04012345000013,1\n",
                "line 2, gtin",
            ),
            (
                "order,to,gtin,quantity\nSO-1,c,04012345000016,0\n",
                "line 2, quantity",
            ),
            (
                "order,to,gtin,quantity\nSO-1,c,04012345000016,1\nSO-1,d,04012345000016,1\n",
                "line 3: order SO-1 goes to c",
            ),
            ("order,to,gtin,quantity\n", "no rows"),
            (
                "order,to,gtin,quantity\nSO-1,c,04012345000016,1\nSO-2,nobody,04012345000016,1\n",
                "line 3, to: \"nobody\" is no organisation of the registry",
            ),
            (
                "order,to,gtin,quantity\nSO-1,c,04012345000016,2000000000\n",
                "line 2, quantity: 2000000000 units on one line; a line asks for at most 100000",
            ),
            (
                "order,to,gtin,quantity\nSO-1,c,04012345000016,99999999999999999999\n",
                "line 2, quantity",
            ),
            (
                "order,to,gtin,quantity\nSO-1,c,04012345000016,60000\nSO-1,c,04012345000023,40001\n",
                "line 3, quantity: order SO-1 asks for 100001 units with this line; an order asks for at most 100000",
            ),
        ] {
            let e = parse_csv(text, Some(&extract())).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
        let e = parse_csv("order,to,gtin,quantity\nSO-1,c,04012345000016,1\n", None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 2, to: this device holds no registry extract"),
            "{e}"
        );
    }

    #[test]
    fn an_order_file_past_its_bounds_is_refused_before_its_rows_are_read() {
        let row = "SO-1,c,04012345000016,1\n";
        let mut text = String::from("order,to,gtin,quantity\n");
        text.push_str(&row.repeat(MAX_ROWS + 1));
        let e = parse_csv(&text, Some(&extract())).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("line {}: more than {MAX_ROWS} rows", MAX_ROWS + 2)),
            "{e}"
        );
        text.push_str(&row.repeat(MAX_FILE_BYTES / row.len()));
        let e = parse_csv(&text, Some(&extract())).unwrap_err().to_string();
        assert!(
            e.contains("an order file holds at most 1048576 bytes"),
            "{e}"
        );
        // Exactly at the bounds is fine.
        let mut text = String::from("order,to,gtin,quantity\n");
        let rest = u32::try_from(MAX_ROWS - 1).unwrap();
        text.push_str(&format!(
            "SO-1,c,04012345000016,{}\n",
            MAX_ORDER_QUANTITY - rest
        ));
        text.push_str(&row.repeat(MAX_ROWS - 1));
        let orders = parse_csv(&text, Some(&extract())).unwrap();
        assert_eq!(orders[0].lines[0].quantity, MAX_ORDER_QUANTITY);
    }
}
