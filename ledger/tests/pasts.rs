//! A batch's pasts ([`store::pasts::Pasts`]) answer exactly what the store's per-unit walks
//! answer: over random histories with equal times, corrected clocks, wide events, error
//! declarations and packing, for every step and bound.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use chrono::{DateTime, Duration, FixedOffset};
use custodian_ledger::event::{Action, BizStep, ErrorDeclaration, EventType};
use custodian_ledger::store::{self, Until, pasts::Pasts};
use custodian_ledger::{Epc, Event, EventBody, Recorder};
use custodian_scanner::Gtin;
#[path = "../../scanner/tests/support/seeded.rs"]
mod seeded;

use proptest::prelude::*;

const STEPS: [BizStep; 7] = [
    BizStep::Commissioning,
    BizStep::Shipping,
    BizStep::Receiving,
    BizStep::RetailSelling,
    BizStep::Inspecting,
    BizStep::Destroying,
    BizStep::Decommissioning,
];

fn unit(n: usize) -> Epc {
    Epc::Unit {
        gtin: Gtin::parse("09506000134352").unwrap(),
        serial: format!("S{n}"),
    }
}

fn pallet() -> Epc {
    Epc::parse("https://id.gs1.org/00/095060000000000015").unwrap()
}

fn recorder(org: usize) -> Recorder {
    Recorder {
        org: format!("org-{org}"),
        site: "site".into(),
        device: format!("dev-{org}"),
    }
}

fn at(minute: u8) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-03-01T08:00:00+01:00").unwrap()
        + Duration::minutes(minute.into())
}

fn object(epcs: Vec<Epc>, step: BizStep, minute: u8, org: usize) -> Event {
    Event::new(EventBody {
        event_type: EventType::ObjectEvent,
        action: Action::Observe,
        biz_step: step,
        disposition: None,
        event_time: at(minute),
        epcs,
        parent: None,
        biz_transactions: vec![],
        source: None,
        destination: Some(format!("org-{}", org + 1)),
        recorder: recorder(org),
        extension: Default::default(),
    })
}

/// One thing that happens in a history.
#[derive(Clone, Debug)]
enum Act {
    /// An event on one unit: step, minute, recorder, clock offset in minutes.
    One(usize, usize, u8, usize, i8),
    /// One event naming many units (wide: more than `store::WIDE_EVENT`), this unit among them;
    /// long enough, when the flag is set, that its body is not read with the rows.
    Wide(usize, usize, u8, bool),
    /// The unit is packed into the pallet (it leaves the pasts).
    Pack(usize, u8),
    /// The unit is taken out of the pallet.
    Unpack(usize, u8),
    /// An event on the pallet: step, minute.
    Pallet(usize, u8),
    /// The n-th event so far is declared erroneous.
    Declare(usize),
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        6 => (0usize..4, 0usize..7, 0u8..20, 0usize..3, -3i8..4)
            .prop_map(|(u, s, m, o, c)| Act::One(u, s, m, o, c)),
        1 => (0usize..4, 0usize..7, 0u8..20, any::<bool>()).prop_map(|(u, s, m, l)| Act::Wide(u, s, m, l)),
        1 => (0usize..4, 0u8..20).prop_map(|(u, m)| Act::Pack(u, m)),
        1 => (0usize..4, 0u8..20).prop_map(|(u, m)| Act::Unpack(u, m)),
        2 => (0usize..7, 0u8..20).prop_map(|(s, m)| Act::Pallet(s, m)),
        1 => (0usize..30).prop_map(Act::Declare),
    ]
}

/// Stores the history; returns the events stored.
fn store_history(conn: &rusqlite::Connection, acts: &[Act]) -> Vec<Event> {
    let mut stored: Vec<Event> = Vec::new();
    for a in acts {
        let (event, offset) = match a {
            Act::One(u, s, m, o, c) => (
                object(vec![unit(*u)], STEPS[*s], *m, *o),
                i64::from(*c) * 60_000,
            ),
            Act::Wide(u, s, m, long) => {
                let count = if *long { 1_000 } else { store::WIDE_EVENT + 5 };
                let mut epcs: Vec<Epc> = (100..100 + count).map(unit).collect();
                epcs.push(unit(*u));
                (object(epcs, STEPS[*s], *m, 0), 0)
            }
            Act::Pack(u, m) | Act::Unpack(u, m) => {
                let mut e = object(vec![unit(*u)], BizStep::Packing, *m, 0);
                e.body.event_type = EventType::AggregationEvent;
                e.body.action = if matches!(a, Act::Pack(..)) {
                    Action::Add
                } else {
                    Action::Delete
                };
                e.body.parent = Some(pallet());
                (Event::new(e.body), 0)
            }
            Act::Pallet(s, m) => (object(vec![pallet()], STEPS[*s], *m, 0), 0),
            Act::Declare(n) => {
                let Some(original) = stored.get(*n % stored.len().max(1)) else {
                    continue;
                };
                let declared = Event::declaring_error(
                    original,
                    ErrorDeclaration {
                        declaration_time: at(30),
                        reason: None,
                        corrective_event_ids: vec![],
                        declared_by: original.body.recorder.clone(),
                    },
                );
                (declared, 0)
            }
        };
        if store::insert_event_corrected(conn, &event, false, offset)
            .unwrap()
            .is_some()
        {
            stored.push(event);
        }
    }
    stored
}

proptest! {
    #![proptest_config(seeded::seeded(64))]

    #[test]
    fn pasts_answer_as_the_store_does(
        acts in proptest::collection::vec(act(), 0..24),
        probe_minute in 0u8..22,
        probe_offset in -3i8..4,
        probe_stored in any::<prop::sample::Index>(),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let conn = store::open(&tmp.path().join("pasts.db")).unwrap();
        let stored = store_history(&conn, &acts);
        let units: Vec<Epc> = (0..4).map(unit).collect();
        let mut pasts = Pasts::read(&conn, &units).unwrap();
        pasts.read_more(&conn, &[pallet()]).unwrap();
        let packed: Vec<&Epc> = acts
            .iter()
            .filter_map(|a| match a {
                Act::Pack(u, _) | Act::Unpack(u, _) => Some(&units[*u]),
                _ => None,
            })
            .collect();
        // The event being checked: a new one, or one stored already (left out of its own past).
        let mut probes = vec![(
            object(vec![units[0].clone()], BizStep::Receiving, probe_minute, 2),
            i64::from(probe_offset) * 60_000,
        )];
        if !stored.is_empty() {
            probes.push((probe_stored.get(&stored).clone(), 0));
        }
        for u in &units {
            let past = pasts.of(u);
            prop_assert_eq!(past.is_some(), !packed.contains(&u), "{:?}", u);
            // A packed unit: the events naming it, and those of what it was packed in while it
            // was inside, answer from the pasts as the store's walks do.
            let containers = store::spans_of(&conn, u).unwrap();
            for (probe, offset) in &probes {
                let until = Until::stored(probe, *offset);
                for step in STEPS {
                    let naming = store::last_with_step_until(&conn, std::slice::from_ref(u), step, &until).unwrap();
                    let got = pasts.naming(u).unwrap().last_with_step_until(&conn, step, &until).unwrap();
                    prop_assert_eq!(got.as_ref(), naming.as_ref(), "{:?} {:?} naming", u, step);
                    let touching = store::last_with_step_touching_until(&conn, u, step, &until).unwrap();
                    let got = pasts.last_touching_within(&conn, u, step, &until, &containers).unwrap();
                    prop_assert_eq!(got.as_ref().map(Option::as_ref), Some(touching.as_ref()), "{:?} {:?} touching", u, step);
                }
            }
            let Some(past) = past else { continue };
            for (probe, offset) in &probes {
                let until = Until::stored(probe, *offset);
                for step in STEPS {
                    let want = store::last_with_step_until(&conn, std::slice::from_ref(u), step, &until).unwrap();
                    let touching = store::last_with_step_touching_until(&conn, u, step, &until).unwrap();
                    let got = past.last_with_step_until(&conn, step, &until).unwrap();
                    prop_assert_eq!(got.as_ref(), want.as_ref(), "{:?} {:?}", u, step);
                    prop_assert_eq!(got.as_ref(), touching.as_ref(), "{:?} {:?} touching", u, step);
                }
                let want = store::events_touching_except(&conn, u, Some(&probe.id)).unwrap();
                let got = past.events_except(&conn, Some(&probe.id)).unwrap();
                prop_assert_eq!(got, want, "{:?}", u);
            }
            let all = store::events_touching(&conn, u).unwrap();
            prop_assert_eq!(past.events_except(&conn, None).unwrap(), all);
        }
    }
}

/// A unit with no event at all has an empty past, which is read (not left to the store).
#[test]
fn a_unit_never_seen_has_an_empty_past() {
    let tmp = tempfile::tempdir().unwrap();
    let conn = store::open(&tmp.path().join("pasts.db")).unwrap();
    let pasts = Pasts::read(&conn, &[unit(7)]).unwrap();
    assert_eq!(pasts.len(), 1);
    let seven = unit(7);
    let past = pasts.of(&seven).unwrap();
    assert!(past.events_except(&conn, None).unwrap().is_empty());
    let until = Until::stored(&object(vec![unit(7)], BizStep::Receiving, 1, 0), 0);
    assert!(
        past.last_with_step_until(&conn, BizStep::Shipping, &until)
            .unwrap()
            .is_none()
    );
}

proptest! {
    #![proptest_config(seeded::seeded(24))]

    /// A round's own events, added to the pasts as they are stored (`Pasts::add`), keep the
    /// answers those of the store: units named again and again, two units to an event, the same
    /// event sent twice, clocks corrected, wide events among them.
    #[test]
    fn pasts_with_a_rounds_events_added_answer_as_the_store_does(
        acts in proptest::collection::vec(act(), 0..16),
        round in proptest::collection::vec(
            (0usize..4, proptest::option::of(0usize..4), 0usize..7, 0u8..22, -3i8..4, any::<bool>()),
            1..10,
        ),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let conn = store::open(&tmp.path().join("pasts.db")).unwrap();
        let mut stored = store_history(&conn, &acts);
        let units: Vec<Epc> = (0..4).map(unit).collect();
        let mut pasts = Pasts::read(&conn, &units).unwrap();
        for (u, also, s, minute, offset, wide) in round {
            let mut epcs = vec![unit(u)];
            epcs.extend(also.map(unit));
            if wide {
                epcs.extend((200..200 + store::WIDE_EVENT + 3).map(unit));
            }
            let event = object(epcs, STEPS[s], minute, u % 3);
            let prepared = store::Prepared::of(&event, i64::from(offset) * 60_000).unwrap();
            // The same event twice is stored (and added) once.
            for _ in 0..2 {
                if let Some(seq) = store::insert_prepared(&conn, &event, &prepared, false).unwrap() {
                    pasts.add(&event, &prepared, seq);
                    stored.push(event.clone());
                }
            }
            for u in &units {
                let Some(past) = pasts.of(u) else { continue };
                let until = prepared.until(&event);
                for step in STEPS {
                    let want = store::last_with_step_until(&conn, std::slice::from_ref(u), step, &until).unwrap();
                    let got = past.last_with_step_until(&conn, step, &until).unwrap();
                    prop_assert_eq!(got.as_ref(), want.as_ref(), "{:?} {:?}", u, step);
                }
                let want = store::events_touching_except(&conn, u, Some(&event.id)).unwrap();
                prop_assert_eq!(past.events_except(&conn, Some(&event.id)).unwrap(), want, "{:?}", u);
                prop_assert_eq!(
                    past.events_except(&conn, None).unwrap(),
                    store::events_touching(&conn, u).unwrap()
                );
            }
        }
    }
}
