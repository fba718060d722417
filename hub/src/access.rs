//! Who may learn what about a unit: the hub's record of custody as the organisations' own acts
//! establish it, which every disclosure to a partner is checked against.
//!
//! An organisation *holds* an item (a unit or a logistic unit) when it brought the item into
//! the registry — the first event stored that names it is its own: a unit's commissioning, a
//! pallet's packing — or when an organisation that held it shipped it there. Nothing else makes
//! a holder: a receipt, a packing into someone else's pallet or a shipment of an item one does
//! not hold claims custody, and the hub does not take the claim's word for it.
//!
//! **Invariant:** a shipment discloses to its destination (the packing events of its logistic
//! units, the holds its units are under) only what its shipper holds, and only that is passed
//! on as held. A partner that names another organisation's pallet or unit in an event of its
//! own learns nothing about it from the hub.

use std::collections::{BTreeSet, HashMap};

use custodian_ledger::event::BizStep;
use custodian_ledger::sql::{AsDb, Batched, OptionalExtension, params};
use custodian_ledger::{Epc, Event, store};

use crate::HubError;

/// Creates `holders`, the items organisations were shipped by those who held them, and fills
/// it once from the shipments already stored.
pub(crate) fn migrate(conn: impl AsDb) -> Result<(), HubError> {
    let conn = conn.db();
    let exists: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'holders'",
        [],
        |r| r.get(0),
    )?;
    if exists == 1 {
        return Ok(());
    }
    let tx = conn.transaction()?;
    tx.execute_batch(
        "-- Items an organisation came to hold by a shipment from one that held them.
         CREATE TABLE holders (epc TEXT NOT NULL, org TEXT NOT NULL, PRIMARY KEY (epc, org)) WITHOUT ROWID;",
    )?;
    let shipments: Vec<String> = {
        let mut stmt =
            tx.prepare("SELECT body FROM events WHERE step = 'shipping' ORDER BY seq")?;
        stmt.query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    for body in shipments {
        let event: Event = serde_json::from_str(&body).map_err(custodian_ledger::Error::from)?;
        disclosed_by_shipment(&tx, &event)?;
    }
    tx.commit()?;
    Ok(())
}

/// Whether `org` holds (or held) `epc`: the first event stored that names it is `org`'s, or a
/// holder shipped it to `org`.
pub fn held_by(conn: impl AsDb, epc: &Epc, org: &str) -> Result<bool, HubError> {
    let conn = conn.db();
    let granted: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM holders WHERE epc = ?1 AND org = ?2)")?
        .query_row(params![epc.uri(), org], |r| r.get(0))?;
    if granted {
        return Ok(true);
    }
    Ok(originator(conn, epc)?.as_deref() == Some(org))
}

/// Which of `items` `org` holds, as [`held_by`] answers for each, in a statement per
/// [`CHUNK`] items: a shipment can name thousands.
fn holding(conn: impl AsDb, items: &[Epc], org: &str) -> Result<Vec<bool>, HubError> {
    let conn = conn.db();
    let sql = format!(
        "SELECT j.key, EXISTS (SELECT 1 FROM holders h WHERE h.epc = j.value AND h.org = ?2),
                (SELECT x.seq FROM event_epcs x WHERE x.epc = j.value ORDER BY x.seq LIMIT 1)
         FROM {} j",
        conn.json_each("?1")
    );
    let mut known = Originators::new();
    let mut held = vec![false; items.len()];
    for (c, chunk) in items.chunks(CHUNK).enumerate() {
        let uris: Vec<String> = chunk.iter().map(Epc::uri).collect();
        let list = serde_json::to_string(&uris).map_err(custodian_ledger::Error::from)?;
        let rows = conn.query_map(&sql, params![list, org], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, bool>(1)?,
                r.get::<_, Option<i64>>(2)?,
            ))
        })?;
        for (key, granted, first) in rows {
            let yes = granted
                || match first {
                    Some(seq) => recorder_of(conn, seq, &mut known)? == org,
                    None => false,
                };
            if let Some(slot) = usize::try_from(key)
                .ok()
                .and_then(|k| held.get_mut(c * CHUNK + k))
            {
                *slot = yes;
            }
        }
    }
    Ok(held)
}

/// The most items one statement of [`holding`] asks about.
const CHUNK: usize = 500;

/// The recorders of events read by [`recorder_of`], by sequence number: the units of one
/// shipment mostly came into the registry through the same few events (one commissioning event
/// names thousands), each then read once rather than once per unit.
type Originators = HashMap<i64, String>;

/// The organisation that recorded the event stored at `seq`.
fn recorder_of(conn: impl AsDb, seq: i64, known: &mut Originators) -> Result<String, HubError> {
    if let Some(org) = known.get(&seq) {
        return Ok(org.clone());
    }
    let body: String = conn
        .db()
        .prepare_cached("SELECT body FROM events WHERE seq = ?1")?
        .query_row([seq], |r| r.get(0))?;
    let event: Event = serde_json::from_str(&body).map_err(custodian_ledger::Error::from)?;
    known.insert(seq, event.body.recorder.org.clone());
    Ok(event.body.recorder.org)
}

/// The organisation that brought `epc` into the registry: the recorder of the first event
/// stored that names it. Arrival order, not event time, decides, so that no one can claim an
/// item by dating an event of theirs before its real origin.
pub fn originator(conn: impl AsDb, epc: &Epc) -> Result<Option<String>, HubError> {
    let conn = conn.db();
    let first: Option<i64> = conn
        .prepare_cached("SELECT x.seq FROM event_epcs x WHERE x.epc = ?1 ORDER BY x.seq LIMIT 1")?
        .query_row([epc.uri()], |r| r.get(0))
        .optional()?;
    first
        .map(|seq| recorder_of(conn, seq, &mut Originators::new()))
        .transpose()
}

/// What `shipment` may disclose to its destination: of the items it names and what its logistic
/// units held as it shipped, those its shipper holds. Each of them is now held by the
/// destination too. Empty for a shipment without a destination, to the consumer or to the
/// shipper itself.
pub fn disclosed_by_shipment(conn: impl AsDb, shipment: &Event) -> Result<BTreeSet<Epc>, HubError> {
    let conn = conn.db();
    let b = &shipment.body;
    let shipper = b.recorder.org.as_str();
    let Some(dest) = b.destination.as_deref() else {
        return Ok(BTreeSet::new());
    };
    if b.biz_step != BizStep::Shipping || dest == shipper || dest == "consumer" {
        return Ok(BTreeSet::new());
    }
    let mut items = BTreeSet::new();
    for epc in &b.epcs {
        items.insert(epc.clone());
        if matches!(epc, Epc::Logistic(_)) {
            items.extend(store::contents_at(conn, epc, shipment)?);
        }
    }
    static GRANT: Batched = Batched {
        sql: "INSERT OR IGNORE INTO holders (epc, org) VALUES (?1, ?2)",
        types: &["text", "text"],
    };
    let items: Vec<Epc> = items.into_iter().collect();
    let held = holding(conn, &items, shipper)?;
    let mut disclosed = BTreeSet::new();
    for (item, held) in items.into_iter().zip(held) {
        if held {
            conn.insert_later(&GRANT, params![item.uri(), dest])?;
            disclosed.insert(item);
        }
    }
    Ok(disclosed)
}
