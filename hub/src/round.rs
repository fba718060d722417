//! What a sync round's checks read once for the whole round.
//!
//! Each event a device uploads is checked against the units' histories, the registry's serials
//! and the open listings of out-of-sequence flags. Asked unit by unit, that is a dozen statements
//! per unit; a round brings up to 10,000 events. [`Round::read`] reads, in a few statements for
//! the round, what those questions need about the units whose answers cannot change while the
//! round is stored, and answers them from memory exactly as the store would. Any other unit is
//! asked about in the store, as each event is stored.
//!
//! On PostgreSQL a round's events are also written together: [`Round::read`] learns which of
//! them the store holds already and numbers the others, and [`Round::store`] hands their rows to
//! the transaction to write with its next statement ([`custodian_ledger::sql::Db::insert_later`]).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

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
    /// The pasts of the round's units, in a round that packs nothing and declares nothing
    /// erroneous (see [`Round::read`]), with the round's events added as they are stored.
    pasts: RefCell<Pasts>,
    /// Of those units, the ones only one event of the round names.
    once: HashSet<Epc>,
    /// Whether the round packs nothing, names no parent and declares nothing erroneous.
    plain: bool,
    /// In such a round, the containers of each unit packed before it ([`store::spans_of`]), as
    /// first asked: they cannot change during the round.
    containers: RefCell<HashMap<Epc, Containers>>,
    /// The round's units (GS1 serials named by its events), and whether the registry issued
    /// each.
    issued: HashMap<Epc, bool>,
    /// The round's products (by GTIN), and whether each is registered.
    products: HashMap<String, bool>,
    /// Of the units in `once`, those with a listing not accounted for.
    listed: HashSet<Epc>,
    /// Of the units in `once`, those listed before (accounted for or not), or flagged alone.
    known: HashSet<Epc>,
    /// Whether the round's events are written together (on PostgreSQL).
    together: bool,
    /// The ids of the round's events the store held before it.
    held: HashSet<String>,
    /// The ids of the round's events stored so far.
    stored: RefCell<HashSet<String>>,
    /// Numbers for the round's events not held, in the order they are stored.
    seqs: RefCell<VecDeque<i64>>,
    /// How many events the round stored: added to the store's count once, when it is stored.
    new: std::cell::Cell<i64>,
}

impl Round {
    /// Nothing read: every question goes to the store.
    pub fn none() -> Round {
        Round::default()
    }

    /// Reads what `events` (one round's upload) will ask about.
    ///
    /// The units' pasts, and whether a listing names those only one event names, are read in a
    /// round with no aggregation, nothing named as a parent and no error declaration: then only
    /// the round's own events change what the store would answer about a unit's past, and each
    /// is added to it as it is stored ([`Round::store`]). A listing the round raises is asked of
    /// the store for a unit named again. Whether units were issued and products registered does
    /// not change within a round (issuing is another transaction), so it is read for every unit
    /// the round names.
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
        round.plain = plain;
        if plain {
            round.once = named
                .into_iter()
                .filter(|(_, n)| *n == 1)
                .map(|(u, _)| u.clone())
                .collect();
            let mut pasts = Pasts::read(conn, &units)?;
            // A packed unit's checks also walk what it was packed in: its containers (fixed for
            // the round) and their pasts are read now too.
            let packed: Vec<Epc> = pasts.packed().cloned().collect();
            let mut containers: BTreeSet<Epc> = BTreeSet::new();
            for unit in packed {
                let spans = store::spans_of(conn, &unit)?;
                containers.extend(spans.keys().cloned());
                round
                    .containers
                    .get_mut()
                    .insert(unit, std::sync::Arc::new(spans));
            }
            pasts.read_more(conn, &containers.into_iter().collect::<Vec<_>>())?;
            round.pasts = RefCell::new(pasts);
            let once: Vec<Epc> = round.once.iter().cloned().collect();
            round.read_listed(conn, &once)?;
        }
        if conn.is_postgres() {
            round.number(conn, events)?;
        }
        Ok(round)
    }

    /// Learns which of `events` the store holds and numbers the others, to be written together.
    fn number(&mut self, conn: impl AsDb, events: &[Event]) -> Result<(), HubError> {
        let conn = conn.db();
        let held = format!(
            "SELECT j.key FROM {} j CROSS JOIN events e ON e.id = j.value",
            conn.json_each("?1")
        );
        for chunk in events.chunks(CHUNK) {
            let ids: Vec<&str> = chunk.iter().map(|e| e.id.0.as_str()).collect();
            let list = json_list(&ids)?;
            for index in conn.query_map(&held, [&list], |r| r.get::<_, i64>(0))? {
                if let Some(id) = usize::try_from(index).ok().and_then(|i| ids.get(i)) {
                    self.held.insert((*id).to_string());
                }
            }
        }
        let new: HashSet<&str> = events
            .iter()
            .map(|e| e.id.0.as_str())
            .filter(|id| !self.held.contains(*id))
            .collect();
        // The round's numbers are drawn as one run: the sequence is moved past them in one
        // statement, not drawn from once per event (a twentieth of a round's time). No number
        // of the run can go to anyone else between its draw and the move: events are numbered
        // only by writing transactions, which take the writer lock in turn.
        let count = i64::try_from(new.len()).unwrap_or(i64::MAX);
        if count > 0 {
            let last: i64 = conn.query_row(
                "SELECT setval(pg_get_serial_sequence('events', 'seq'),
                     nextval(pg_get_serial_sequence('events', 'seq')) + ?1 - 1)",
                params![count],
                |r| r.get(0),
            )?;
            self.seqs = RefCell::new((last - count + 1..=last).collect());
        }
        self.together = true;
        Ok(())
    }

    /// Stores `event` (its columns `prepared`) unless the store holds it: its number, or None.
    pub fn store(
        &self,
        conn: impl AsDb,
        event: &Event,
        prepared: &store::Prepared,
    ) -> Result<Option<i64>, HubError> {
        let conn = conn.db();
        let seq = if self.together {
            if self.held.contains(&event.id.0)
                || !self.stored.borrow_mut().insert(event.id.0.clone())
            {
                return Ok(None);
            }
            let seq = self.seqs.borrow_mut().pop_front().ok_or_else(|| {
                HubError::Internal("a round stored more events than it numbered".into())
            })?;
            store::insert_prepared_at(conn, event, prepared, true, seq)?;
            seq
        } else {
            match store::insert_prepared_uncounted(conn, event, prepared, true)? {
                Some(seq) => seq,
                None => return Ok(None),
            }
        };
        self.pasts.borrow_mut().add(event, prepared, seq);
        self.new.set(self.new.get() + 1);
        Ok(Some(seq))
    }

    /// Counts the events the round stored; once, when it is stored.
    pub fn finish(&self, conn: impl AsDb) -> Result<(), HubError> {
        if self.new.get() > 0 {
            store::count_events(conn, self.new.get())?;
        }
        Ok(())
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
        let mut listings = conn.prepare_cached(&format!(
            "SELECT j.key, u.resolved FROM {} j CROSS JOIN flag_units u ON u.epc = j.value",
            conn.json_each("?1")
        ))?;
        let mut flagged = conn.prepare_cached(&format!(
            "SELECT DISTINCT j.key FROM {} j CROSS JOIN flags f ON f.epc = j.value",
            conn.json_each("?1")
        ))?;
        for chunk in units.chunks(CHUNK) {
            let uris: Vec<String> = chunk.iter().map(Epc::uri).collect();
            let list = json_list(&uris)?;
            let found = listings.query_map([&list], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
            })?;
            for row in found {
                let (index, resolved) = row?;
                if let Some(unit) = usize::try_from(index).ok().and_then(|i| chunk.get(i)) {
                    if resolved.is_none() {
                        self.listed.insert(unit.clone());
                    }
                    self.known.insert(unit.clone());
                }
            }
            for index in flagged.query_map([&list], |r| r.get::<_, i64>(0))? {
                if let Some(unit) = usize::try_from(index?).ok().and_then(|i| chunk.get(i)) {
                    self.known.insert(unit.clone());
                }
            }
        }
        Ok(())
    }

    /// Whether `unit` is known to have no listing and no flag of its own yet: one event of
    /// the round names it, and the store had neither before the round. Its first listing
    /// need not look for one first ([`listing::raise_all`]).
    pub(crate) fn never_listed(&self, unit: &Epc) -> bool {
        self.once.contains(unit) && !self.known.contains(unit)
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
        let pasts = self.pasts.borrow();
        Ok(match pasts.naming(unit) {
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
        let pasts = self.pasts.borrow();
        if let Some(past) = pasts.of(unit) {
            return Ok(past.last_with_step_until(conn, step, until)?);
        }
        if !self.plain {
            return Ok(store::last_with_step_touching_until(
                conn, unit, step, until,
            )?);
        }
        let known = self.containers.borrow().get(unit).cloned();
        let containers = match known {
            Some(known) => known,
            None => {
                let read = std::sync::Arc::new(store::spans_of(conn, unit)?);
                self.containers
                    .borrow_mut()
                    .insert(unit.clone(), read.clone());
                read
            }
        };
        if let Some(answer) = pasts.last_touching_within(conn, unit, step, until, &containers)? {
            return Ok(answer);
        }
        Ok(store::last_with_step_touching_within(
            conn,
            unit,
            step,
            until,
            &containers,
        )?)
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
        let pasts = self.pasts.borrow();
        Ok(match pasts.of(unit) {
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
        if self.once.contains(unit) && !self.listed.contains(unit) {
            return Ok(Vec::new());
        }
        listing::open_listings(conn, kind, unit)
    }
}

/// A unit's containers, with when it was inside each ([`store::spans_of`]).
type Containers = std::sync::Arc<BTreeMap<Epc, Vec<store::Span>>>;

/// A list bound as one parameter, for `json_each`.
fn json_list<T: serde::Serialize>(items: &[T]) -> Result<String, HubError> {
    serde_json::to_string(items).map_err(|e| HubError::Internal(format!("a list of units: {e}")))
}
