//! Convergence: devices working one manifest offline, merged in any order, agree exactly.
//! Each unit is counted once; units scanned on several devices are reported as duplicates.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use chrono::{DateTime, Duration, FixedOffset};
use custodian_ledger::event::{Action, BizStep, BizTransaction, Disposition, EventType};
use custodian_ledger::{Epc, Event, EventBody, Ledger, Recorder, Step};
use custodian_scanner::{Gtin, check_digit};
use proptest::prelude::*;

fn drill() -> Gtin {
    let d = "0401234500001";
    Gtin::parse(&format!("{d}{}", check_digit(d))).unwrap()
}

fn base_events() -> Vec<Event> {
    let units: Vec<Epc> = (0..8)
        .map(|i| Epc::Unit {
            gtin: drill(),
            serial: format!("U{i}"),
        })
        .collect();
    vec![Event::new(EventBody {
        event_type: EventType::ObjectEvent,
        action: Action::Observe,
        biz_step: BizStep::Shipping,
        disposition: Some(Disposition::InTransit),
        event_time: DateTime::parse_from_rfc3339("2026-01-01T08:00:00Z").unwrap(),
        epcs: units,
        parent: None,
        biz_transactions: vec![BizTransaction {
            kind: "desadv".into(),
            id: "ASN-7".into(),
        }],
        source: Some("acme".into()),
        destination: Some("dist-a".into()),
        recorder: Recorder {
            org: "acme".into(),
            site: "plant".into(),
            device: "hub".into(),
        },
    })]
}

fn device(dir: &std::path::Path, name: &str) -> Ledger {
    let mut l = Ledger::open(&dir.join(name)).unwrap();
    l.set_recorder(&Recorder {
        org: "dist-a".into(),
        site: "dc".into(),
        device: name.into(),
    })
    .unwrap();
    l.store_events(&base_events(), false).unwrap();
    l
}

fn local(l: &Ledger) -> Vec<Event> {
    l.local_events_after(0, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|(_, e)| e)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Three devices scan random units (some the same, some unexpected); every device then
    /// receives the others' events in its own order, in chunks. All end identical.
    #[test]
    fn three_devices_converge(
        scans in proptest::collection::vec(proptest::collection::vec(0u8..10, 0..8), 3),
        order in proptest::collection::vec(any::<u8>(), 3),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let mut devices: Vec<Ledger> = (0..3).map(|i| device(tmp.path(), &format!("dev-{i}"))).collect();
        let start = DateTime::<FixedOffset>::parse_from_rfc3339("2026-01-02T08:00:00+01:00").unwrap();
        for (d, units) in scans.iter().enumerate() {
            for (k, u) in units.iter().enumerate() {
                let at = start + Duration::seconds(i64::try_from(k).unwrap());
                devices[d].scan(&format!("01{}21U{u}", drill()), Step::Receiving, Some("ASN-7"), at).unwrap();
            }
        }
        let all: Vec<Vec<Event>> = devices.iter().map(local).collect();
        for (d, ledger) in devices.iter_mut().enumerate() {
            let mut incoming: Vec<Event> = all.iter().enumerate().filter(|(o, _)| *o != d).flat_map(|(_, e)| e.clone()).collect();
            // A device-specific order, delivered in two chunks, the second replaying the first.
            let n = incoming.len();
            if n > 0 {
                let r = usize::from(order[d]) % n;
                incoming.rotate_left(r);
            }
            let half = n / 2;
            ledger.store_events(&incoming[..half], false).unwrap();
            ledger.store_events(&incoming, false).unwrap();
        }
        let views: Vec<_> = devices.iter().map(|l| l.manifest("ASN-7").unwrap().progress).collect();
        prop_assert_eq!(&views[0], &views[1]);
        prop_assert_eq!(&views[1], &views[2]);

        // The merged view counts each unit once and names exactly the multiply-scanned ones.
        let mut counts = std::collections::BTreeMap::new();
        for units in &scans {
            for u in units {
                *counts.entry(*u).or_insert(0) += 1;
            }
        }
        let expected_scanned = counts.keys().filter(|u| **u < 8).count();
        prop_assert_eq!(views[0].scanned, expected_scanned);
        prop_assert_eq!(views[0].missing.len(), 8 - expected_scanned);
        prop_assert_eq!(views[0].unexpected.len(), counts.keys().filter(|u| **u >= 8).count());
        // Same-device repeats are refused as duplicates at scan time and never become events;
        // the same unit scanned on two devices becomes two events and shows as a duplicate.
        let cross_device = counts.keys().filter(|u| scans.iter().filter(|s| s.contains(u)).count() > 1).count();
        prop_assert_eq!(views[0].duplicates.len(), cross_device);
    }
}
