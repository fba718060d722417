//! A batch's pasts: what the store holds about the units a batch of events names, read in a few
//! statements for the whole batch instead of a walk per unit and question.
//!
//! The hub checks every event it receives against each unit's history: whether the unit was
//! sold, destroyed or decommissioned before, its last shipment, who held it. Asked one unit at a
//! time, that is half a dozen statements per unit, and a round brings 10,000 events. [`Pasts`]
//! reads the rows of a round's units once, before the round is stored, and answers the same
//! questions from memory, exactly as [`super::last_with_step_until`],
//! [`super::last_with_step_touching_until`] and [`super::events_touching_except`] do.
//!
//! It holds only units whose past those answers can be read from: units never packed into
//! anything (no `containment` row names them as a child), so nothing reaches them through a
//! container. The caller decides which events may use it (see `Pasts::read`).

use std::collections::{HashMap, HashSet};

use crate::sql::{AsDb, params};

use super::{LIVE, Until, WIDE_EVENT, decode, read_for};
use crate::Error;
use crate::event::{BizStep, Epc, Event, EventId};

/// The most EPCs one statement looks up.
const CHUNK: usize = 500;

/// Bodies longer than this are not read with the rows: a wide event is read (once per process)
/// through [`read_for`], which keeps it decoded.
const BODY_INLINE: i64 = 16_384;

/// One event naming a unit, as the `event_epcs` walk sees it.
struct Row {
    /// The stored (clock-corrected) time.
    time: String,
    seq: i64,
    id: String,
    /// Names the unit among its things (rather than as its parent).
    names: bool,
    step: String,
    /// The event's body, unless it is long.
    body: Option<String>,
}

/// The live events naming each of a batch's units (and of what they were packed in).
#[derive(Default)]
pub struct Pasts {
    units: HashMap<Epc, Vec<Row>>,
    /// Of those, the units a `containment` row names as a child: their pasts run through their
    /// containers too.
    packed: HashSet<Epc>,
}

impl Pasts {
    /// Nothing read: every question goes to the store.
    pub fn none() -> Pasts {
        Pasts::default()
    }

    /// Reads the pasts of `units` as the store holds them now. Units a `containment` row names
    /// as a child are read, but [`Pasts::of`] leaves them out (their pasts run through their
    /// containers): only [`Pasts::naming`] and [`Pasts::last_touching_within`] answer for them.
    /// The answers stay true while nothing is packed or unpacked and no event is declared
    /// erroneous, with each event stored that names a unit added ([`Pasts::add`]).
    pub fn read(conn: impl AsDb, units: &[Epc]) -> Result<Pasts, Error> {
        let mut pasts = Pasts::none();
        pasts.read_more(conn, units)?;
        Ok(pasts)
    }

    /// Reads the pasts of `units` too (those read already are left as they are).
    pub fn read_more(&mut self, conn: impl AsDb, units: &[Epc]) -> Result<(), Error> {
        let conn = conn.db();
        let units: Vec<Epc> = units
            .iter()
            .filter(|u| !self.units.contains_key(*u))
            .cloned()
            .collect();
        let units = units.as_slice();
        let out = &mut self.units;
        let packed_units = &mut self.packed;
        let rows_sql = format!(
            "SELECT j.key, x.time, e.seq, e.id, x.role = 'epc', x.step,
                    CASE WHEN octet_length(e.body) <= ?2 THEN e.body END
             FROM {} j CROSS JOIN event_epcs x ON x.epc = j.value
             CROSS JOIN events e ON e.seq = x.seq
             WHERE {LIVE}",
            conn.json_each("?1")
        );
        let mut packed_stmt = conn.prepare_cached(&format!(
            "SELECT DISTINCT j.key FROM {} j CROSS JOIN containment c ON c.child = j.value",
            conn.json_each("?1")
        ))?;
        for chunk in units.chunks(CHUNK) {
            let uris: Vec<String> = chunk.iter().map(Epc::uri).collect();
            let list = serde_json::to_string(&uris)?;
            let packed: HashSet<usize> = packed_stmt
                .query_map([&list], |r| r.get::<_, i64>(0))?
                .map(|k| Ok(usize::try_from(k?).unwrap_or(usize::MAX)))
                .collect::<Result<_, Error>>()?;
            for (i, unit) in chunk.iter().enumerate() {
                out.entry(unit.clone()).or_default();
                if packed.contains(&i) {
                    packed_units.insert(unit.clone());
                }
            }
            conn.query_each(&rows_sql, params![list, BODY_INLINE], |r| {
                let index = usize::try_from(r.get::<_, i64>(0)?).unwrap_or(usize::MAX);
                let Some(unit) = chunk.get(index) else {
                    return Ok(());
                };
                out.entry(unit.clone()).or_default().push(Row {
                    time: r.get(1)?,
                    seq: r.get(2)?,
                    id: r.get(3)?,
                    names: r.get(4)?,
                    step: r.get(5)?,
                    body: r.get(6)?,
                });
                Ok(())
            })?;
        }
        Ok(())
    }

    /// Adds `event`, just stored at `seq` with the columns `prepared`, to the pasts of the units
    /// it names whose pasts were read: the answers stay those of the store after it. For an
    /// event that packs nothing and declares nothing erroneous (a packing changes what reaches
    /// a unit through its container; a declaration, which events are live).
    pub fn add(&mut self, event: &Event, prepared: &super::Prepared, seq: i64) {
        let step = event.body.biz_step.as_str();
        let body = i64::try_from(prepared.body.len())
            .is_ok_and(|n| n <= BODY_INLINE)
            .then(|| prepared.body.clone());
        let named = event.body.epcs.iter().map(|u| (u, true));
        let parent = event.body.parent.iter().map(|p| (p, false));
        let mut seen = HashSet::new();
        for (unit, names) in named.chain(parent) {
            if !seen.insert((unit, names)) {
                continue;
            }
            if let Some(rows) = self.units.get_mut(unit) {
                rows.push(Row {
                    time: prepared.time.clone(),
                    seq,
                    id: event.id.0.clone(),
                    names,
                    step: step.to_string(),
                    body: body.clone(),
                });
            }
        }
    }

    /// The past of `unit`, if it was read and `unit` was never packed into anything.
    pub fn of<'a>(&'a self, unit: &'a Epc) -> Option<Past<'a>> {
        if self.packed.contains(unit) {
            return None;
        }
        self.naming(unit)
    }

    /// The events naming `epc` (packed or not), if they were read: what
    /// [`Past::last_with_step_until`] answers from them is [`super::last_with_step_until`]'s
    /// answer for `epc` alone, whatever it was packed in.
    pub fn naming<'a>(&'a self, epc: &'a Epc) -> Option<Past<'a>> {
        self.units.get(epc).map(|rows| Past { unit: epc, rows })
    }

    /// As [`super::last_with_step_touching_within`] for a unit whose containers are
    /// `containers` ([`super::spans_of`]), if the events naming it and each container were
    /// read; None if any was not.
    pub fn last_touching_within(
        &self,
        conn: impl AsDb,
        unit: &Epc,
        step: BizStep,
        bound: &Until,
        containers: &std::collections::BTreeMap<Epc, Vec<super::Span>>,
    ) -> Result<Option<Option<Event>>, Error> {
        let conn = conn.db();
        if containers.keys().any(|c| !self.units.contains_key(c)) {
            return Ok(None);
        }
        let Some(own) = self.naming(unit) else {
            return Ok(None);
        };
        let mut best = own.last_with_step_until(conn, step, bound)?;
        for (container, spans) in containers {
            let Some(past) = self.naming(container) else {
                return Ok(None);
            };
            let inside = |e: &Event| spans.iter().any(|s| s.contains(e.body.event_time));
            if let Some(e) = past.last_with_step_until_where(conn, step, bound, inside)?
                && best
                    .as_ref()
                    .is_none_or(|b| e.body.event_time > b.body.event_time)
            {
                best = Some(e);
            }
        }
        Ok(Some(best))
    }

    /// The units read that were packed into something.
    pub fn packed(&self) -> impl Iterator<Item = &Epc> {
        self.packed.iter()
    }

    /// How many units' pasts were read.
    pub fn len(&self) -> usize {
        self.units.len()
    }

    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }
}

/// One unit's past, as read by [`Pasts::read`].
pub struct Past<'a> {
    unit: &'a Epc,
    rows: &'a [Row],
}

impl Past<'_> {
    /// As [`super::last_with_step_until`] (and, for a unit never packed,
    /// [`super::last_with_step_touching_until`]) for this unit alone.
    pub fn last_with_step_until(
        &self,
        conn: impl AsDb,
        step: BizStep,
        bound: &Until,
    ) -> Result<Option<Event>, Error> {
        self.last_with_step_until_where(conn, step, bound, |_| true)
    }

    /// The latest of the events [`Past::last_with_step_until`] walks that `keep` accepts:
    /// newest first, stopping at the first kept.
    pub fn last_with_step_until_where(
        &self,
        conn: impl AsDb,
        step: BizStep,
        bound: &Until,
        mut keep: impl FnMut(&Event) -> bool,
    ) -> Result<Option<Event>, Error> {
        let conn = conn.db();
        let mut rows: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| {
                r.names && r.step == step.as_str() && r.time <= bound.time && r.id != bound.except
            })
            .collect();
        rows.sort_unstable_by(|a, b| (b.time.as_str(), b.seq).cmp(&(a.time.as_str(), a.seq)));
        for row in rows {
            let event = self.event(conn, row, true)?;
            if keep(&event) {
                return Ok(Some(event));
            }
        }
        Ok(None)
    }

    /// As [`super::events_touching_except`]: every live event naming the unit, but `except`, in
    /// fold order.
    pub fn events_except(
        &self,
        conn: impl AsDb,
        except: Option<&EventId>,
    ) -> Result<Vec<Event>, Error> {
        let conn = conn.db();
        let mut rows: Vec<(&str, i64, &str, bool, &Row)> = self
            .rows
            .iter()
            .map(|r| (r.time.as_str(), r.seq, r.id.as_str(), r.names, r))
            .collect();
        rows.sort_unstable_by(|a, b| (a.0, a.1, a.2, a.3).cmp(&(b.0, b.1, b.2, b.3)));
        // An event naming the unit as one of its things and as its parent is one, naming it.
        rows.dedup_by(|later, kept| {
            let same = later.1 == kept.1;
            kept.3 |= same && later.3;
            same
        });
        let mut events = rows
            .into_iter()
            .filter(|(_, _, id, _, _)| except.is_none_or(|x| x.0 != *id))
            .map(|(_, _, _, names, row)| self.event(conn, row, names))
            .collect::<Result<Vec<_>, _>>()?;
        events.sort_by(Event::fold_order);
        Ok(events)
    }

    /// A row's event as a question about this unit reads it ([`read_for`]): a wide event holds
    /// this unit alone among its things when it names it.
    fn event(&self, conn: impl AsDb, row: &Row, names: bool) -> Result<Event, Error> {
        let conn = conn.db();
        let Some(body) = &row.body else {
            return read_for(conn, row.seq, &row.id, self.unit, names);
        };
        let mut event = decode(body.clone())?;
        if event.body.epcs.len() > WIDE_EVENT {
            event.body.epcs = if names {
                vec![self.unit.clone()]
            } else {
                Vec::new()
            };
        }
        Ok(event)
    }
}
