//! Service history and part genealogy.
//!
//! A repair is recorded as EPCIS events sharing one business transaction of type [`REPAIR`]
//! (the repair order): a `repairing` object event on the unit, an `installing` aggregation
//! (ADD, parent = the unit, children = the parts fitted) and a `removing` aggregation (DELETE,
//! the parts taken out). Containment is therefore the same mechanism as packing: a fitted part's
//! container is the unit, its custody follows the unit until it is removed, and the unit's
//! current parts are its contents.
//!
//! Pure: the functions here take the live events naming a unit or a part.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::{Action, BizStep, Disposition, Epc, Event, EventType};

/// The business-transaction type of a repair order (an extension URI; the CBV has none).
pub const REPAIR: &str = "urn:custodian:btt:repair";

/// One repair of a unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repair {
    /// The repair order.
    pub order: String,
    pub time: String,
    pub org: String,
    pub site: String,
    /// The `repairing` event, when the repair recorded one.
    pub event: Option<String>,
    /// Repaired after a return and fit to be sold again.
    pub refurbished: bool,
    pub parts_in: Vec<String>,
    pub parts_out: Vec<String>,
}

/// A part fitted into a unit now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub epc: String,
    pub label: String,
    pub since: String,
    /// The repair order that fitted it.
    pub order: Option<String>,
}

/// A unit a part was fitted into.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fitting {
    pub unit: String,
    pub label: String,
    pub installed: String,
    pub removed: Option<String>,
}

fn order_of(e: &Event) -> Option<&str> {
    e.transaction(REPAIR)
}

/// Whether `e` fits parts into (ADD) or takes them out of (DELETE) `unit`.
fn changes_parts_of(e: &Event, unit: &Epc) -> bool {
    e.body.event_type == EventType::AggregationEvent
        && e.body.parent.as_ref() == Some(unit)
        && matches!(e.body.biz_step, BizStep::Installing | BizStep::Removing)
}

/// The repairs of `unit`, oldest first, from the live events naming it (in fold order).
pub fn service_history(unit: &Epc, events: &[Event]) -> Vec<Repair> {
    let mut repairs: Vec<Repair> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for e in events {
        let repairing = e.body.biz_step == BizStep::Repairing && e.body.epcs.contains(unit);
        if !repairing && !changes_parts_of(e, unit) {
            continue;
        }
        let key = order_of(e).map_or_else(|| e.id.0.clone(), str::to_string);
        let i = *index.entry(key.clone()).or_insert_with(|| {
            repairs.push(Repair {
                order: key,
                time: e.body.event_time.to_rfc3339(),
                org: e.body.recorder.org.clone(),
                site: e.body.recorder.site.clone(),
                event: None,
                refurbished: false,
                parts_in: Vec::new(),
                parts_out: Vec::new(),
            });
            repairs.len() - 1
        });
        let r = &mut repairs[i];
        if repairing {
            r.event = Some(e.id.0.clone());
            r.refurbished = e.body.disposition == Some(Disposition::SellableAccessible);
        } else {
            let list = if e.body.action == Action::Add {
                &mut r.parts_in
            } else {
                &mut r.parts_out
            };
            list.extend(e.body.epcs.iter().map(Epc::uri));
        }
    }
    repairs
}

/// The parts fitted into `unit` now, from the live events naming it (in fold order).
pub fn current_parts(unit: &Epc, events: &[Event]) -> Vec<Part> {
    let mut parts: BTreeMap<Epc, Part> = BTreeMap::new();
    for e in events.iter().filter(|e| changes_parts_of(e, unit)) {
        for p in &e.body.epcs {
            match e.body.action {
                Action::Add => {
                    parts.entry(p.clone()).or_insert_with(|| Part {
                        epc: p.uri(),
                        label: p.label(),
                        since: e.body.event_time.to_rfc3339(),
                        order: order_of(e).map(str::to_string),
                    });
                }
                Action::Delete => {
                    parts.remove(p);
                }
                Action::Observe => {}
            }
        }
    }
    parts.into_values().collect()
}

/// The units `part` was fitted into, oldest first, from the live events naming it.
pub fn fittings(part: &Epc, events: &[Event]) -> Vec<Fitting> {
    let fitted: Vec<&Event> = events
        .iter()
        .filter(|e| {
            e.body.epcs.contains(part)
                && e.body
                    .parent
                    .as_ref()
                    .is_some_and(|p| changes_parts_of(e, p))
        })
        .collect();
    let mut out: Vec<Fitting> = Vec::new();
    for e in fitted {
        let Some(unit) = &e.body.parent else {
            continue;
        };
        let open = out
            .iter_mut()
            .rev()
            .find(|f| f.unit == unit.uri() && f.removed.is_none());
        match (e.body.action, open) {
            (Action::Add, None) => out.push(Fitting {
                unit: unit.uri(),
                label: unit.label(),
                installed: e.body.event_time.to_rfc3339(),
                removed: None,
            }),
            (Action::Delete, Some(f)) => f.removed = Some(e.body.event_time.to_rfc3339()),
            _ => {}
        }
    }
    out
}
