//! What a sync round's checks read once for the whole round.
//!
//! Each event a device uploads is checked against the units' histories, the registry's serials
//! and the open listings of out-of-sequence flags. Asked unit by unit, that is a dozen statements
//! per unit; a round brings up to 10,000 events. [`Round::read`] reads, in a few statements for
//! the round, what those questions need about the units whose answers cannot change while the
//! round is stored, and answers them from memory exactly as the store would. Any other unit is
//! asked about in the store, as each event is stored.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use custodian_ledger::event::{BizStep, EventType};
use custodian_ledger::sql::{AsDb, params};
use custodian_ledger::store::pasts::Pasts;
use custodian_ledger::{Epc, Event, EventId, FlagKind, store};

use crate::HubError;
use crate::listing::{self, OpenListing};

/// The most units one statement looks up.
const CHUNK: usize = 500;

/// What one round's checks read once.
#[derive(Default)]
pub struct Round {
    /// The pasts of the units only one event of the round names, in a round that packs nothing
    /// and declares nothing erroneous (see [`Round::read`]).
    pasts: Pasts,
    /// The round's units (GS1 serials named by its events), and whether the registry issued
    /// each.
    issued: HashMap<Epc, bool>,
    /// The round's products (by GTIN), and whether each is registered.
    products: HashMap<String, bool>,
    /// Of the units in `pasts`, those with a listing not accounted for.
    listed: HashSet<Epc>,
}

impl Round {
    /// Nothing read: every question goes to the store.
    pub fn none() -> Round {
        Round::default()
    }

    /// Reads what `events` (one round's upload) will ask about.
    ///
    /// A unit's past, and whether a listing names it, are read when one event of the round names
    /// it and no other, in a round with no aggregation, nothing named as a parent and no error
    /// declaration: then nothing stored before that unit's event changes what the store would
    /// answer for it. Whether units were issued and products registered does not change within a
    /// round (issuing is another transaction), so it is read for every unit the round names.
    pub fn read(conn: impl AsDb, events: &[Event]) -> Result<Round, HubError> {
        let conn = conn.db();
        let mut round = Round::none();
        let mut named: HashMap<&Epc, usize> = HashMap::new();
        for e in events {
            let units: BTreeSet<&Epc> = e.body.epcs.iter().filter(|u| u.is_unit()).collect();
            for unit in units {
                *named.entry(unit).or_default() += 1;
            }
        }
        let units: Vec<Epc> = named.keys().map(|u| (*u).clone()).collect();
        round.read_catalog(conn, &units)?;
        let plain = events.iter().all(|e| {
            e.body.event_type != EventType::AggregationEvent
                && e.body.parent.is_none()
                && e.body.extension.error_declaration.is_none()
        });
        if plain {
            let once: Vec<Epc> = named
                .into_iter()
                .filter(|(_, n)| *n == 1)
                .map(|(u, _)| u.clone())
                .collect();
            round.pasts = Pasts::read(conn, &once)?;
            round.read_listed(conn, &once)?;
        }
        Ok(round)
    }

    fn read_catalog(&mut self, conn: impl AsDb, units: &[Epc]) -> Result<(), HubError> {
        let conn = conn.db();
        let mut issued = conn.prepare_cached(&format!(
            "SELECT j.key FROM {} j CROSS JOIN serials s
             ON s.gtin = ?1 AND s.serial = j.value",
            conn.json_each("?2")
        ))?;
        // A round is mostly of a few products: their serials are looked up product by product.
        let mut by_product: BTreeMap<&str, Vec<(&Epc, &str)>> = BTreeMap::new();
        for unit in units {
            if let Epc::Unit { gtin, serial } = unit {
                by_product
                    .entry(gtin.as_str())
                    .or_default()
                    .push((unit, serial.as_str()));
            }
        }
        for (gtin, serials) in by_product {
            let registered = crate::catalog::is_product(conn, gtin)?;
            self.products.insert(gtin.to_string(), registered);
            for chunk in serials.chunks(CHUNK) {
                let list = json_list(&chunk.iter().map(|(_, s)| *s).collect::<Vec<_>>())?;
                for (unit, _) in chunk {
                    self.issued.insert((*unit).clone(), false);
                }
                let found = issued.query_map(params![gtin, list], |r| r.get::<_, i64>(0))?;
                for index in found {
                    if let Some((unit, _)) = usize::try_from(index?).ok().and_then(|i| chunk.get(i))
                    {
                        self.issued.insert((*unit).clone(), true);
                    }
                }
            }
        }
        Ok(())
    }

    fn read_listed(&mut self, conn: impl AsDb, units: &[Epc]) -> Result<(), HubError> {
        let conn = conn.db();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT DISTINCT j.key FROM {} j CROSS JOIN flag_units u ON u.epc = j.value
             WHERE u.resolved IS NULL",
            conn.json_each("?1")
        ))?;
        for chunk in units.chunks(CHUNK) {
            let uris: Vec<String> = chunk.iter().map(Epc::uri).collect();
            let list = json_list(&uris)?;
            let found = stmt.query_map([&list], |r| r.get::<_, i64>(0))?;
            for index in found {
                if let Some(unit) = usize::try_from(index?).ok().and_then(|i| chunk.get(i)) {
                    self.listed.insert(unit.clone());
                }
            }
        }
        Ok(())
    }

    /// The latest live event with `step` naming `unit` within `until`
    /// ([`store::last_with_step_until`]).
    pub fn last_naming(
        &self,
        conn: impl AsDb,
        unit: &Epc,
        step: BizStep,
        until: &store::Until,
    ) -> Result<Option<Event>, HubError> {
        let conn = conn.db();
        Ok(match self.pasts.of(unit) {
            Some(past) => past.last_with_step_until(conn, step, until)?,
            None => store::last_with_step_until(conn, std::slice::from_ref(unit), step, until)?,
        })
    }

    /// As [`Round::last_naming`], counting the events of the containers `unit` was in while it
    /// was inside ([`store::last_with_step_touching_until`]; a unit whose past was read was
    /// never packed).
    pub fn last_touching(
        &self,
        conn: impl AsDb,
        unit: &Epc,
        step: BizStep,
        until: &store::Until,
    ) -> Result<Option<Event>, HubError> {
        let conn = conn.db();
        Ok(match self.pasts.of(unit) {
            Some(past) => past.last_with_step_until(conn, step, until)?,
            None => store::last_with_step_touching_until(conn, unit, step, until)?,
        })
    }

    /// Every live event bearing on `unit` but `except`, in fold order
    /// ([`store::events_touching_except`]).
    pub fn events_touching_except(
        &self,
        conn: impl AsDb,
        unit: &Epc,
        except: &EventId,
    ) -> Result<Vec<Event>, HubError> {
        let conn = conn.db();
        Ok(match self.pasts.of(unit) {
            Some(past) => past.events_except(conn, Some(except))?,
            None => store::events_touching_except(conn, unit, Some(except))?,
        })
    }

    /// Whether `unit` was issued, and whether it is an unknown serial of a registered product
    /// ([`crate::catalog::issuance`]).
    pub fn issuance(&self, conn: impl AsDb, unit: &Epc) -> Result<(bool, bool), HubError> {
        let conn = conn.db();
        if let Epc::Unit { gtin, .. } = unit
            && let Some(issued) = self.issued.get(unit)
            && let Some(registered) = self.products.get(gtin.as_str())
        {
            return Ok((*issued, !issued && *registered));
        }
        crate::catalog::issuance(conn, unit)
    }

    /// `unit`'s listings of `kind` not accounted for ([`listing::open_listings`]).
    pub(crate) fn open_listings(
        &self,
        conn: impl AsDb,
        kind: &FlagKind,
        unit: &Epc,
    ) -> Result<Vec<OpenListing>, HubError> {
        let conn = conn.db();
        if self.pasts.of(unit).is_some() && !self.listed.contains(unit) {
            return Ok(Vec::new());
        }
        listing::open_listings(conn, kind, unit)
    }
}

/// A list bound as one parameter, for `json_each`.
fn json_list<T: serde::Serialize>(items: &[T]) -> Result<String, HubError> {
    serde_json::to_string(items).map_err(|e| HubError::Internal(format!("a list of units: {e}")))
}
