//! Flags through the hub's sync endpoint, in process: out-of-sequence receipts and shipments
//! raised once per cause for the organisations concerned, a batch of flags for one document,
//! and a device's move of a flag reaching the hub's view.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

use automerge::AutoCommit;
use automerge::sync::{State, SyncDoc};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::DateTime;
use custodian_hub::registry::HubFlag;
use custodian_hub::{Registry, demo, exchange};
use custodian_ledger::docs::{self, FlagStatus, FlagStep};
use custodian_ledger::event::{
    Action, BizStep, Detail, Disposition, ErrorDeclaration, EventType, Text,
};
use custodian_ledger::{Epc, Event, EventBody, Recorder};
use custodian_sync::identity::RequestAuth;
use custodian_sync::protocol::{self, DocMessage, PROTOCOL_VERSION, SyncRequest, SyncResponse};
use ed25519_dalek::SigningKey;

struct Hub {
    _tmp: tempfile::TempDir,
    registry: Registry,
    serials: Vec<custodian_hub::registry::IssuedSerial>,
    /// The two cases on the demo pallet: units 0..12 and 12..24.
    cases: Vec<Epc>,
}

/// An enrolled device, speaking to the hub in process.
struct Dev<'h> {
    hub: &'h Hub,
    recorder: Recorder,
    key: SigningKey,
    counter: Cell<u64>,
    /// The hub's clock for this device's requests; none: the real one.
    clock: Cell<Option<chrono::DateTime<chrono::Utc>>>,
}

fn hub() -> Hub {
    let tmp = tempfile::tempdir().unwrap();
    let registry = Registry::open_with_key(tmp.path(), demo::issuer_key).unwrap();
    let demo = demo::seed(&registry).unwrap();
    Hub {
        _tmp: tmp,
        registry,
        serials: demo.serials,
        cases: demo.cases.iter().map(|c| Epc::parse(c).unwrap()).collect(),
    }
}

impl Hub {
    fn device(&self, org: &str, site: &str, seed: u8) -> Dev<'_> {
        let token = self
            .registry
            .create_token(org, site, "https://127.0.0.1:1", b"ca", 1)
            .unwrap();
        let secret = custodian_sync::identity::EnrollmentToken::decode(&token)
            .unwrap()
            .secret;
        let key = SigningKey::from_bytes(&[seed; 32]);
        let d = self
            .registry
            .enroll(
                &secret,
                &STANDARD.encode(key.verifying_key().to_bytes()),
                "test",
            )
            .unwrap();
        Dev {
            hub: self,
            recorder: Recorder {
                org: org.into(),
                site: site.into(),
                device: d.id,
            },
            key,
            counter: Cell::new(0),
            clock: Cell::new(None),
        }
    }

    /// The `n`th issued demo serial (0..24 are on the pallet shipped to dist-a).
    fn unit(&self, n: usize) -> Epc {
        let s = &self.serials[n];
        Epc::parse(&format!("https://id.gs1.org/01/{}/21/{}", s.gtin, s.serial)).unwrap()
    }

    /// The manufacturer ships `unit` to `org`, which then holds it: a report it makes of the
    /// unit goes on the alert list (a report of a unit never held goes to review).
    fn hand_over(&self, unit: &Epc, org: &str, at: &str) {
        let maker = self.device("acme", "plant-stuttgart", 200);
        maker.upload(vec![maker.event(
            BizStep::Shipping,
            vec![unit.clone()],
            at,
            Some(org),
        )]);
    }

    /// (kind, org) of every flag raised, sorted.
    fn raised(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .registry
            .flags()
            .unwrap()
            .into_iter()
            .map(|f| (f.flag.kind.to_string(), f.org))
            .collect();
        v.sort();
        v
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .iter()
        .map(|(a, b)| ((*a).to_string(), (*b).to_string()))
        .collect();
    v.sort();
    v
}

impl Dev<'_> {
    fn event(&self, step: BizStep, epcs: Vec<Epc>, at: &str, dest: Option<&str>) -> Event {
        Event::new(EventBody {
            event_type: EventType::ObjectEvent,
            action: Action::Observe,
            biz_step: step,
            disposition: Some(match step {
                BizStep::Shipping => Disposition::InTransit,
                _ => Disposition::InProgress,
            }),
            event_time: DateTime::parse_from_rfc3339(at).unwrap(),
            epcs,
            parent: None,
            biz_transactions: vec![],
            source: dest.map(|_| self.recorder.org.clone()),
            destination: dest.map(str::to_string),
            recorder: self.recorder.clone(),
            extension: Default::default(),
        })
    }

    fn send(&self, upload: Vec<Event>, docs: Vec<DocMessage>, known: Vec<String>) -> SyncResponse {
        self.send_asking(upload, docs, known, None)
    }

    /// The units this device's organisation's flags list, changed after `cursor`.
    fn listed_after(&self, cursor: i64) -> SyncResponse {
        self.send_asking(vec![], vec![], vec![], Some(cursor))
    }

    fn send_asking(
        &self,
        upload: Vec<Event>,
        docs: Vec<DocMessage>,
        known: Vec<String>,
        flag_units_after: Option<i64>,
    ) -> SyncResponse {
        let body = protocol::encode(&SyncRequest {
            v: PROTOCOL_VERSION,
            upload,
            upload_through: 1,
            download_after: 0,
            extract_version: 0,
            extract_deltas: false,
            known_docs: known,
            docs,
            download_limit: None,
            flag_units_after,
            upload_after: None,
            answered: None,
        });
        self.counter.set(self.counter.get() + 1);
        let now = self.clock.get().unwrap_or_else(chrono::Utc::now);
        let auth = RequestAuth::sign(
            &self.key,
            &self.recorder.device,
            self.counter.get(),
            now.timestamp_millis(),
            "POST",
            "/v1/sync",
            &body,
        );
        protocol::decode(&exchange::handle_at(&self.hub.registry, &auth, &body, now).unwrap())
            .unwrap()
    }

    /// Syncs every document the hub has for this device's organisation with the copies in
    /// `held` (adding those it lacks) until neither side has anything more to say. Returns the
    /// documents the hub sent anything about.
    fn sync_docs(&self, held: &mut BTreeMap<String, (AutoCommit, State)>) -> BTreeSet<String> {
        let mut heard_of = BTreeSet::new();
        for (_, state) in held.values_mut() {
            *state = State::decode(&state.encode()).unwrap();
        }
        for _ in 0..10 {
            let known: Vec<String> = held
                .iter_mut()
                .filter_map(|(id, (doc, _))| (!doc.get_heads().is_empty()).then(|| id.clone()))
                .collect();
            let outgoing: Vec<DocMessage> = held
                .iter_mut()
                .filter_map(|(id, (doc, state))| {
                    doc.sync()
                        .generate_sync_message(state)
                        .map(|m| DocMessage::new(id, m))
                })
                .collect();
            let said = !outgoing.is_empty();
            let answer = self.send(vec![], outgoing, known);
            for m in &answer.docs {
                heard_of.insert(m.doc.clone());
                let (doc, state) = held
                    .entry(m.doc.clone())
                    .or_insert_with(|| (AutoCommit::new(), State::new()));
                doc.sync()
                    .receive_sync_message(state, m.decode().unwrap())
                    .unwrap();
            }
            if answer.docs.is_empty() && !said {
                return heard_of;
            }
        }
        panic!("the documents did not converge");
    }

    /// A counterfeit report of `unit` with `note`, as the Inspect screen records it.
    fn report(&self, unit: &Epc, at: &str, note: &str) -> Event {
        let mut body = self
            .event(BizStep::Inspecting, vec![unit.clone()], at, None)
            .body;
        body.disposition = Some(Disposition::NonSellableOther);
        body.extension.detail = Some(Detail::CounterfeitReport {
            note: Text::parse(note).unwrap(),
            photo: None,
        });
        Event::new(body)
    }

    /// Declares this device's `event` erroneous.
    fn withdraw(&self, event: &Event, at: &str) -> Event {
        Event::declaring_error(
            event,
            ErrorDeclaration {
                declaration_time: DateTime::parse_from_rfc3339(at).unwrap(),
                reason: None,
                corrective_event_ids: vec![],
                declared_by: self.recorder.clone(),
            },
        )
    }

    fn upload(&self, events: Vec<Event>) -> SyncResponse {
        self.send(events, vec![], vec![])
    }

    /// Syncs this device's copy of its organisation's flags document (the month's its newest
    /// flag is in) with the hub until neither side has anything more to say.
    fn sync_flags(&self, doc: &mut AutoCommit, state: &mut State) {
        let org = &self.recorder.org;
        let newest = self
            .hub
            .registry
            .flags()
            .unwrap()
            .into_iter()
            .filter(|f| &f.org == org)
            .max_by(|a, b| a.raised_at.cmp(&b.raised_at))
            .expect("the organisation has a flag");
        let id = docs::flags_month_doc_id(org, &newest.raised_at);
        // As a device does: each session starts from the persisted state.
        *state = State::decode(&state.encode()).unwrap();
        let mut outgoing = doc.sync().generate_sync_message(state);
        for _ in 0..10 {
            let known = if doc.get_heads().is_empty() {
                vec![]
            } else {
                vec![id.clone()]
            };
            let answer = self.send(
                vec![],
                outgoing
                    .take()
                    .map(|m| DocMessage::new(&id, m))
                    .into_iter()
                    .collect(),
                known,
            );
            let mut heard = false;
            for m in answer.docs.iter().filter(|m| m.doc == id) {
                doc.sync()
                    .receive_sync_message(state, m.decode().unwrap())
                    .unwrap();
                heard = true;
            }
            outgoing = doc.sync().generate_sync_message(state);
            if !heard && outgoing.is_none() {
                return;
            }
        }
        panic!("flags document did not converge");
    }
}

#[test]
fn a_receipt_without_a_shipment_is_flagged_once_for_the_receiver_and_the_holder() {
    let hub = hub();
    let b1 = hub.device("dist-b", "dc-oakland", 1);
    let b2 = hub.device("dist-b", "dc-oakland", 2);
    let unit = hub.unit(150); // issued, never shipped: the manufacturer holds it
    let receipt = b1.event(
        BizStep::Receiving,
        vec![unit.clone()],
        "2026-11-10T10:00:00-08:00",
        None,
    );
    let first = b1.upload(vec![receipt.clone()]);
    assert_eq!(first.flags_raised, 1);
    // The same receipt replayed, and a second receipt of the unit by another dist-b device.
    assert_eq!(b1.upload(vec![receipt]).flags_raised, 0);
    let again = b2.event(
        BizStep::Receiving,
        vec![unit.clone()],
        "2026-11-10T11:00:00-08:00",
        None,
    );
    assert_eq!(b2.upload(vec![again]).flags_raised, 0, "one flag per cause");
    assert_eq!(
        hub.raised(),
        pairs(&[("out_of_sequence", "dist-b"), ("out_of_sequence", "acme")])
    );
    // The holder (the manufacturer) is told who holds it; the receiver is not.
    for flag in hub.registry.flags().unwrap() {
        assert!(
            flag.reason.contains("no shipment on record"),
            "{}",
            flag.reason
        );
        assert_eq!(
            flag.reason.contains("on record it is with Acme"),
            flag.org == "acme",
            "{}: {}",
            flag.org,
            flag.reason
        );
    }
}

#[test]
fn a_receipt_after_its_shipment_or_a_return_is_in_sequence() {
    let hub = hub();
    let a = hub.device("dist-a", "dc-hamburg", 1);
    // Units on the pallet shipped to dist-a, received by dist-a unit by unit.
    let units: Vec<Epc> = (0..3).map(|n| hub.unit(n)).collect();
    let receipt = a.event(
        BizStep::Receiving,
        units.clone(),
        "2026-11-20T10:00:00+01:00",
        None,
    );
    assert_eq!(a.upload(vec![receipt]).flags_raised, 0);
    // A consumer's return of a never-shipped unit is not a transfer in the channel.
    let mut ret = a.event(
        BizStep::Receiving,
        vec![hub.unit(151)],
        "2026-11-20T11:00:00+01:00",
        None,
    );
    ret.body.disposition = Some(Disposition::Returned);
    let ret = Event::new(ret.body);
    assert_eq!(a.upload(vec![ret]).flags_raised, 0);
    assert!(hub.raised().is_empty(), "{:?}", hub.raised());
}

#[test]
fn a_shipment_by_a_party_that_never_received_the_unit_is_flagged_for_everyone_concerned() {
    let hub = hub();
    let a = hub.device("dist-a", "dc-hamburg", 1);
    let b = hub.device("dist-b", "dc-oakland", 2);
    // dist-a received units 0 and 1 and ships them on: in sequence.
    let received = a.event(
        BizStep::Receiving,
        vec![hub.unit(0), hub.unit(1)],
        "2026-11-20T10:00:00+01:00",
        None,
    );
    let onward = a.event(
        BizStep::Shipping,
        vec![hub.unit(0), hub.unit(1)],
        "2026-11-21T10:00:00+01:00",
        Some(demo::RETAILER),
    );
    assert_eq!(a.upload(vec![received, onward]).flags_raised, 0);
    // dist-b ships unit 2, which went to dist-a and which dist-b never received.
    let shipped = b.event(
        BizStep::Shipping,
        vec![hub.unit(2)],
        "2026-11-22T10:00:00-08:00",
        Some(demo::RETAILER),
    );
    let r = b.upload(vec![shipped.clone()]);
    assert_eq!(r.flags_raised, 1);
    assert_eq!(
        b.upload(vec![shipped]).flags_raised,
        0,
        "replays raise nothing"
    );
    assert_eq!(
        hub.raised(),
        pairs(&[
            ("out_of_sequence", "dist-b"),
            ("out_of_sequence", demo::RETAILER),
            ("out_of_sequence", "acme"),
        ]),
        "the shipper, its destination, and the holder on record (the shipment to dist-a was \
         never received, so the manufacturer still holds it)"
    );
    let reason = &hub.registry.flags().unwrap()[0].reason;
    assert!(reason.contains("never received it"), "{reason}");
}

#[test]
fn a_pallet_received_outside_its_channel_raises_one_flag_listing_its_units() {
    let hub = hub();
    let b = hub.device("dist-b", "dc-oakland", 1);
    let units: Vec<Epc> = (0..24).map(|n| hub.unit(n)).collect();
    let receipt = b.event(
        BizStep::Receiving,
        units.clone(),
        "2026-11-20T10:00:00-08:00",
        None,
    );
    let r = b.upload(vec![receipt]);
    assert_eq!(r.flags_raised, 1);
    // Scanned again unit by unit the same day: listed already, nothing new.
    let again: Vec<Event> = units[..5]
        .iter()
        .map(|u| {
            b.event(
                BizStep::Receiving,
                vec![u.clone()],
                "2026-11-20T11:00:00-08:00",
                None,
            )
        })
        .collect();
    assert_eq!(b.upload(again).flags_raised, 0);
    // The device's first sync of the document brings one flag, counting the units.
    let mut doc = AutoCommit::new();
    b.sync_flags(&mut doc, &mut State::new());
    let held = docs::read_flags(&doc);
    assert_eq!(held.len(), 1);
    assert_eq!(
        (held[0].kind.as_str(), held[0].status.as_str()),
        ("diversion", "new")
    );
    assert_eq!((held[0].units, held[0].open_units), (24, 24));
    assert!(
        held[0].reason.starts_with("24 units were not shipped to ")
            && held[0].reason.contains("yet received by it on 2026-11-20"),
        "{}",
        held[0].reason
    );
    // And its listing names every unit.
    let mut listed: Vec<String> = b
        .listed_after(0)
        .flag_units
        .into_iter()
        .map(|u| u.epc)
        .collect();
    listed.sort();
    let mut expected: Vec<String> = units.iter().map(Epc::uri).collect();
    expected.sort();
    assert_eq!(listed, expected);
}

#[test]
fn a_unit_taken_out_of_its_case_before_the_pallet_shipped_did_not_ship_with_it() {
    let hub = hub();
    let maker = hub.device("acme", "plant-stuttgart", 3);
    let a = hub.device("dist-a", "dc-hamburg", 1);
    let b = hub.device("dist-b", "dc-oakland", 2);
    // Unit 0 comes out of its case before the pallet leaves for dist-a (14:00), and goes to
    // dist-b on its own.
    let mut unpacking = maker.event(
        BizStep::Unpacking,
        vec![hub.unit(0)],
        "2026-11-03T11:00:00+01:00",
        None,
    );
    unpacking.body.event_type = EventType::AggregationEvent;
    unpacking.body.action = Action::Delete;
    unpacking.body.parent = Some(hub.cases[0].clone());
    let unpacking = Event::new(unpacking.body);
    let alone = maker.event(
        BizStep::Shipping,
        vec![hub.unit(0)],
        "2026-11-03T12:00:00+01:00",
        Some("dist-b"),
    );
    assert_eq!(maker.upload(vec![unpacking, alone]).flags_raised, 0);
    // dist-b receives it: the pallet's later shipment to dist-a did not carry it.
    let at_b = b.event(
        BizStep::Receiving,
        vec![hub.unit(0)],
        "2026-11-05T10:00:00-08:00",
        None,
    );
    assert_eq!(b.upload(vec![at_b]).flags_raised, 0, "{:?}", hub.raised());
    // Unit 1, still in its case on the pallet, is dist-a's to receive.
    let at_a = a.event(
        BizStep::Receiving,
        vec![hub.unit(1)],
        "2026-11-05T10:00:00+01:00",
        None,
    );
    assert_eq!(a.upload(vec![at_a]).flags_raised, 0, "{:?}", hub.raised());
    assert!(hub.raised().is_empty(), "{:?}", hub.raised());
    // Unit 0 turning up at dist-a is outside its channel: it was shipped to dist-b.
    let stray = a.event(
        BizStep::Receiving,
        vec![hub.unit(0)],
        "2026-11-06T10:00:00+01:00",
        None,
    );
    assert!(a.upload(vec![stray]).flags_raised > 0);
    let diversions = about(&hub, "diversion", &hub.unit(0));
    assert!(
        diversions.iter().any(|(org, reason)| org == "dist-a"
            && reason.contains("was not shipped to")
            && !reason.contains("Pacific")),
        "{diversions:?}"
    );
}

/// Two devices of one organisation move the same flag while offline; once both have synced, the
/// hub's view and both devices hold both steps and the furthest status.
#[test]
fn device_moves_reach_the_hub_and_the_other_devices() {
    let hub = hub();
    let b1 = hub.device("dist-b", "dc-oakland", 1);
    let b2 = hub.device("dist-b", "dc-oakland", 2);
    b1.upload(vec![b1.event(
        BizStep::Receiving,
        vec![hub.unit(3)],
        "2026-11-10T10:00:00-08:00",
        None,
    )]);
    let (mut d1, mut s1) = (AutoCommit::new(), State::new());
    let (mut d2, mut s2) = (AutoCommit::new(), State::new());
    b1.sync_flags(&mut d1, &mut s1);
    b2.sync_flags(&mut d2, &mut s2);
    let id = docs::read_flags(&d1)[0].id.clone();
    let later = |h| (chrono::Utc::now() + chrono::Duration::hours(h)).to_rfc3339();
    let step = |status, at: &str, by: &str, note: &str| FlagStep {
        status,
        at: at.into(),
        by: by.into(),
        org: Some("dist-b".into()),
        note: Some(note.into()),
    };
    docs::move_flag(
        &mut d1,
        &id,
        &step(
            FlagStatus::UnderInvestigation,
            &later(1),
            &b1.recorder.device,
            "asked A",
        ),
    )
    .unwrap();
    docs::move_flag(
        &mut d2,
        &id,
        &step(
            FlagStatus::Closed,
            &later(2),
            &b2.recorder.device,
            "A confirms the sale",
        ),
    )
    .unwrap();
    b1.sync_flags(&mut d1, &mut s1);
    b2.sync_flags(&mut d2, &mut s2);
    b1.sync_flags(&mut d1, &mut s1);

    let at_hub: Vec<HubFlag> = hub.registry.flags().unwrap();
    assert_eq!(at_hub[0].status, "closed");
    let moves: Vec<FlagStatus> = at_hub[0].history.iter().map(|s| s.status).collect();
    assert_eq!(
        moves,
        [
            FlagStatus::New,
            FlagStatus::UnderInvestigation,
            FlagStatus::Closed
        ]
    );
    assert_eq!(docs::read_flags(&d1), docs::read_flags(&d2));
    assert_eq!(docs::read_flags(&d1)[0].history, at_hub[0].history);
}

/// The flags of `kind` about `unit`, as (org, reason), sorted.
fn about(hub: &Hub, kind: &str, unit: &Epc) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = hub
        .registry
        .flags()
        .unwrap()
        .into_iter()
        .filter(|f| f.kind == kind && f.epc == unit.uri())
        .map(|f| (f.org, f.flag.reason))
        .collect();
    v.sort();
    v
}

fn orgs(flags: &[(String, String)]) -> Vec<&str> {
    flags.iter().map(|(o, _)| o.as_str()).collect()
}

/// The unit's entry in the registry extract devices receive.
fn extract_reason(hub: &Hub, unit: &Epc) -> Option<String> {
    custodian_hub::registry::current_extract(&hub.registry)
        .unwrap()
        .alerts
        .into_iter()
        .find(|a| a.epc == unit.uri())
        .map(|a| a.reason)
}

#[test]
fn every_report_of_a_unit_is_kept_and_the_unit_leaves_the_list_with_the_last() {
    let hub = hub();
    let shop = hub.device(demo::RETAILER, "store-mitte", 1);
    let depot = hub.device("dist-b", "dc-oakland", 2);
    let unit = hub.unit(150); // issued, never shipped: the manufacturer holds it
    // The manufacturer shipped it to dist-b, then (as its records say) to the shop: both
    // held it, and it is on its way to the shop.
    hub.hand_over(&unit, "dist-b", "2026-11-18T10:00:00+01:00");
    hub.hand_over(&unit, demo::RETAILER, "2026-11-19T10:00:00+01:00");
    let first = shop.report(&unit, "2026-11-20T10:00:00+01:00", "blurred print");
    let second = depot.report(&unit, "2026-11-21T10:00:00-08:00", "wrong weight");
    assert_eq!(shop.upload(vec![first.clone()]).flags_raised, 1);
    assert_eq!(depot.upload(vec![second.clone()]).flags_raised, 1);
    // Replayed, a report is neither a second report nor a new flag.
    assert_eq!(depot.upload(vec![second.clone()]).flags_raised, 0);

    // One entry on the list, with both reports behind it, oldest first.
    let alerts = hub.registry.alerts().unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let reports: Vec<(&str, &str)> = alerts[0]
        .reports
        .iter()
        .map(|r| (r.reported_by.as_str(), r.note.as_str()))
        .collect();
    assert_eq!(
        reports,
        [
            (demo::RETAILER, "blurred print"),
            ("dist-b", "wrong weight")
        ]
    );
    assert_eq!(alerts[0].reported_by.as_deref(), Some(demo::RETAILER));
    assert_eq!(alerts[0].reports[1].event, second.id.0);
    // The extract every device receives names the reporters and days, never their notes.
    let reason = extract_reason(&hub, &unit).unwrap();
    assert!(
        reason.contains("Werkzeughaus Berlin")
            && reason.contains("Pacific Tool Supply")
            && !reason.contains("blurred print")
            && !reason.contains("wrong weight"),
        "{reason}"
    );

    // One flag per organisation, each naming both reports; a note only for its reporter and
    // the manufacturer.
    let flags = about(&hub, "counterfeit", &unit);
    assert_eq!(orgs(&flags), ["acme", "dist-b", demo::RETAILER]);
    for (org, reason) in &flags {
        assert!(
            reason.contains("2 times by 2 organisations:"),
            "{org}: {reason}"
        );
        let (blurred, weight) = match org.as_str() {
            "acme" => (true, true),
            "dist-b" => (false, true),
            _ => (true, false),
        };
        assert_eq!(reason.contains("blurred print"), blurred, "{org}: {reason}");
        assert_eq!(reason.contains("wrong weight"), weight, "{org}: {reason}");
    }
    // The devices' documents say so too.
    let mut doc = AutoCommit::new();
    shop.sync_flags(&mut doc, &mut State::new());
    let held = docs::read_flags(&doc);
    assert_eq!(held.len(), 1);
    assert!(
        held[0].reason.contains("blurred print") && !held[0].reason.contains("wrong weight"),
        "{}",
        held[0].reason
    );

    // The shop withdraws its report: the unit stays listed on the depot's.
    let r = shop.upload(vec![shop.withdraw(&first, "2026-11-22T09:00:00+01:00")]);
    assert_eq!(r.flags_raised, 0);
    let alerts = hub.registry.alerts().unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].reports.len(), 1);
    assert_eq!(alerts[0].reported_by.as_deref(), Some("dist-b"));
    assert_eq!(alerts[0].note.as_deref(), Some("wrong weight"));
    let reason = extract_reason(&hub, &unit).unwrap();
    assert!(
        !reason.contains("Werkzeughaus") && reason.contains("Pacific Tool Supply"),
        "{reason}"
    );
    for (org, reason) in about(&hub, "counterfeit", &unit) {
        assert!(!reason.contains("blurred print"), "{org}: {reason}");
        assert_eq!(
            reason.contains("wrong weight"),
            org != demo::RETAILER,
            "{org}: {reason}"
        );
    }

    // The last report withdrawn, the unit leaves the list; the flags stay, saying so.
    depot.upload(vec![depot.withdraw(&second, "2026-11-22T09:00:00-08:00")]);
    assert!(hub.registry.alerts().unwrap().is_empty());
    assert_eq!(extract_reason(&hub, &unit), None);
    let flags = about(&hub, "counterfeit", &unit);
    assert_eq!(flags.len(), 3);
    assert!(
        flags.iter().all(|(_, r)| r.contains("withdrawn")),
        "{flags:?}"
    );
}

#[test]
fn a_report_withdrawn_leaves_a_unit_the_manufacturer_listed_on_the_list() {
    let hub = hub();
    let shop = hub.device(demo::RETAILER, "store-mitte", 1);
    let unit = hub.unit(151);
    hub.hand_over(&unit, demo::RETAILER, "2026-11-19T10:00:00+01:00");
    let report = shop.report(&unit, "2026-11-20T10:00:00+01:00", "no hologram");
    shop.upload(vec![report.clone()]);
    hub.registry
        .add_alert_for(&unit.uri(), "batch seized by customs")
        .unwrap();
    shop.upload(vec![shop.withdraw(&report, "2026-11-21T10:00:00+01:00")]);
    let alerts = hub.registry.alerts().unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].reason, "batch seized by customs");
    assert!(alerts[0].reports.is_empty());
}

#[test]
fn the_destination_of_a_counterfeit_unit_in_transit_is_flagged() {
    let hub = hub();
    let shop = hub.device(demo::RETAILER, "store-mitte", 1);
    let maker = hub.device("acme", "plant-stuttgart", 2);
    let depot_b = hub.device("dist-b", "dc-oakland", 3);

    // Unit 0 is on the demo pallet shipped to dist-a, not yet received. A clone of it turns
    // up at the shop, which never held the unit: its report goes to the manufacturer for
    // review and lists nothing, so dist-a hears nothing yet.
    let unit = hub.unit(0);
    shop.upload(vec![shop.report(
        &unit,
        "2026-11-20T10:00:00+01:00",
        "clone",
    )]);
    let review = about(&hub, "counterfeit", &unit);
    assert_eq!(orgs(&review), ["acme", demo::RETAILER]);
    assert!(
        review.iter().all(|(_, r)| r.contains("review")),
        "{review:?}"
    );
    assert!(hub.registry.alerts().unwrap().is_empty());
    // The manufacturer confirms it: dist-a, which will receive the unit, hears of it then.
    hub.registry
        .add_alert_for(&unit.uri(), "clone confirmed")
        .unwrap();
    assert_eq!(
        orgs(&about(&hub, "counterfeit", &unit)),
        ["acme", "dist-a", demo::RETAILER]
    );

    // Unit 150 is reported at the maker's by the maker itself, then shipped to dist-b anyway:
    // dist-b is flagged when the shipment reaches the hub, once however often it is uploaded.
    let unit = hub.unit(150);
    maker.upload(vec![maker.report(
        &unit,
        "2026-11-20T11:00:00+01:00",
        "odd label",
    )]);
    assert_eq!(orgs(&about(&hub, "counterfeit", &unit)), ["acme"]);
    let shipment = maker.event(
        BizStep::Shipping,
        vec![unit.clone()],
        "2026-11-21T08:00:00+01:00",
        Some("dist-b"),
    );
    assert_eq!(maker.upload(vec![shipment.clone()]).flags_raised, 0);
    maker.upload(vec![shipment]);
    let flags = about(&hub, "counterfeit", &unit);
    assert_eq!(orgs(&flags), ["acme", "dist-b"]);
    let (_, reason) = flags.iter().find(|(o, _)| o == "dist-b").unwrap();
    assert!(
        reason.contains("Acme Power Tools") && reason.contains("shipped to"),
        "{reason}"
    );
    assert!(
        !reason.contains("odd label"),
        "the note is acme's: {reason}"
    );
    // dist-b's device gets it on its next sync.
    let mut doc = AutoCommit::new();
    depot_b.sync_flags(&mut doc, &mut State::new());
    let held = docs::read_flags(&doc);
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(
        (held[0].kind.as_str(), held[0].epc.as_str()),
        ("counterfeit", unit.uri().as_str())
    );

    // A unit the manufacturer listed itself, shipped: its destination is flagged as well.
    let listed = hub.unit(152);
    hub.registry
        .add_alert_for(&listed.uri(), "serial range printed twice")
        .unwrap();
    maker.upload(vec![maker.event(
        BizStep::Shipping,
        vec![listed.clone()],
        "2026-11-21T09:00:00+01:00",
        Some("dist-b"),
    )]);
    let flags = about(&hub, "counterfeit", &listed);
    assert_eq!(orgs(&flags), ["dist-b"]);
    assert!(
        flags[0].1.contains("serial range printed twice"),
        "{flags:?}"
    );
    // Listed while on its way (unit 1 is on the demo pallet to dist-a): dist-a is flagged.
    let on_the_way = hub.unit(1);
    hub.registry
        .add_alert_for(&on_the_way.uri(), "label printed off-site")
        .unwrap();
    let flags = about(&hub, "counterfeit", &on_the_way);
    assert_eq!(orgs(&flags), ["dist-a"]);
    assert!(flags[0].1.contains("on its way to"), "{flags:?}");
    // Listed while held (not in transit): nobody is flagged; the extract carries the listing.
    hub.registry
        .add_alert_for(&hub.unit(154).uri(), "label printed off-site")
        .unwrap();
    assert!(about(&hub, "counterfeit", &hub.unit(154)).is_empty());
    // An unlisted unit shipped raises nothing.
    maker.upload(vec![maker.event(
        BizStep::Shipping,
        vec![hub.unit(153)],
        "2026-11-21T09:00:00+01:00",
        Some("dist-b"),
    )]);
    assert!(about(&hub, "counterfeit", &hub.unit(153)).is_empty());
}

/// The closing steps of the out-of-sequence flags about `unit`, as (org, status, closing
/// notes).
fn out_of_sequence(hub: &Hub, unit: &Epc) -> Vec<(String, String, Vec<String>)> {
    let mut v: Vec<(String, String, Vec<String>)> = hub
        .registry
        .flags()
        .unwrap()
        .into_iter()
        .filter(|f| f.kind == "out_of_sequence" && f.epc == unit.uri())
        .map(|f| {
            let closings = f
                .history
                .iter()
                .filter(|s| s.status == FlagStatus::Closed)
                .map(|s| format!("{}: {}", s.by, s.note.clone().unwrap_or_default()))
                .collect();
            (f.org, f.flag.status.to_string(), closings)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_late_shipment_closes_the_flag_its_receipt_raised() {
    let hub = hub();
    let maker = hub.device("acme", "plant-stuttgart", 1);
    let b = hub.device("dist-b", "dc-oakland", 2);
    let unit = hub.unit(150);
    let shipment = maker.event(
        BizStep::Shipping,
        vec![unit.clone()],
        "2026-11-09T10:00:00+01:00",
        Some("dist-b"),
    );
    let receipt = b.event(
        BizStep::Receiving,
        vec![unit.clone()],
        "2026-11-10T10:00:00-08:00",
        None,
    );
    // The receiver syncs first: the receipt has no shipment on record yet.
    assert_eq!(b.upload(vec![receipt.clone()]).flags_raised, 1);
    let raised = out_of_sequence(&hub, &unit);
    assert_eq!(
        raised,
        [
            ("acme".into(), "new".into(), vec![]),
            ("dist-b".into(), "new".into(), vec![])
        ]
    );
    // The receiver's device holds its flag.
    let mut doc = AutoCommit::new();
    let mut state = State::new();
    b.sync_flags(&mut doc, &mut state);
    assert_eq!(docs::read_flags(&doc)[0].status, "new");

    // The maker syncs late: its shipment came first, so the flags close themselves.
    assert_eq!(maker.upload(vec![shipment.clone()]).flags_raised, 0);
    let why = format!("hub: matching shipment arrived: {}", shipment.id);
    let closed = [
        ("acme".to_string(), "closed".to_string(), vec![why.clone()]),
        ("dist-b".to_string(), "closed".to_string(), vec![why]),
    ];
    assert_eq!(out_of_sequence(&hub, &unit), closed);

    // Replays raise nothing and close nothing twice; nor does a second receipt.
    maker.upload(vec![shipment]);
    b.upload(vec![receipt]);
    let again = b.event(
        BizStep::Receiving,
        vec![unit.clone()],
        "2026-11-10T11:00:00-08:00",
        None,
    );
    assert_eq!(b.upload(vec![again]).flags_raised, 0);
    assert_eq!(out_of_sequence(&hub, &unit), closed);

    // The receiver's device sees its flag closed, with the hub's reason.
    b.sync_flags(&mut doc, &mut state);
    let held = docs::read_flags(&doc);
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].status, "closed");
    assert!(
        held[0].history.iter().any(|s| s.by == "hub"
            && s.note
                .as_deref()
                .unwrap_or("")
                .contains("matching shipment")),
        "{:?}",
        held[0].history
    );

    // In the right order, nothing is raised at all.
    let other = hub.unit(151);
    maker.upload(vec![maker.event(
        BizStep::Shipping,
        vec![other.clone()],
        "2026-11-09T10:00:00+01:00",
        Some("dist-b"),
    )]);
    b.upload(vec![b.event(
        BizStep::Receiving,
        vec![other.clone()],
        "2026-11-10T10:00:00-08:00",
        None,
    )]);
    assert!(out_of_sequence(&hub, &other).is_empty());
}

#[test]
fn a_shipment_that_does_not_match_the_receipt_leaves_its_flag_open() {
    let hub = hub();
    let maker = hub.device("acme", "plant-stuttgart", 1);
    let b = hub.device("dist-b", "dc-oakland", 2);
    let unit = hub.unit(150);
    b.upload(vec![b.event(
        BizStep::Receiving,
        vec![unit.clone()],
        "2026-11-10T10:00:00-08:00",
        None,
    )]);
    // A shipment to someone else, and one to the receiver made after its receipt.
    maker.upload(vec![
        maker.event(
            BizStep::Shipping,
            vec![unit.clone()],
            "2026-11-09T10:00:00+01:00",
            Some(demo::RETAILER),
        ),
        maker.event(
            BizStep::Shipping,
            vec![unit.clone()],
            "2026-11-12T10:00:00+01:00",
            Some("dist-b"),
        ),
    ]);
    assert!(
        out_of_sequence(&hub, &unit)
            .iter()
            .all(|(_, status, closings)| status == "new" && closings.is_empty()),
        "{:?}",
        out_of_sequence(&hub, &unit)
    );
}

#[test]
fn a_late_receipt_closes_the_flag_its_onward_shipment_raised() {
    let hub = hub();
    let a = hub.device("dist-a", "dc-hamburg", 1);
    // Unit 0 is on the demo pallet shipped to dist-a. dist-a's device uploads its onward
    // shipment before the receipt it recorded first.
    let unit = hub.unit(0);
    let received = a.event(
        BizStep::Receiving,
        vec![unit.clone()],
        "2026-11-20T10:00:00+01:00",
        None,
    );
    let onward = a.event(
        BizStep::Shipping,
        vec![unit.clone()],
        "2026-11-21T10:00:00+01:00",
        Some(demo::RETAILER),
    );
    assert_eq!(a.upload(vec![onward.clone()]).flags_raised, 1);
    let opened = out_of_sequence(&hub, &unit);
    assert_eq!(opened.len(), 3, "{opened:?}");
    assert!(opened.iter().all(|(_, s, _)| s == "new"));

    assert_eq!(a.upload(vec![received.clone()]).flags_raised, 0);
    let why = format!("hub: matching receipt arrived: {}", received.id);
    let closed = out_of_sequence(&hub, &unit);
    assert_eq!(
        closed,
        ["acme", "dist-a", demo::RETAILER].map(|o| (
            o.to_string(),
            "closed".to_string(),
            vec![why.clone()]
        ))
    );
    // Replayed, in either order: nothing new, one closing each.
    a.upload(vec![received, onward]);
    assert_eq!(out_of_sequence(&hub, &unit), closed);
}

/// The out-of-sequence flags raised for `org`.
/// The rows of the hub's listing of flagged units.
fn listing_rows(hub: &Hub) -> i64 {
    let conn = rusqlite::Connection::open(hub._tmp.path().join("hub.sqlite")).unwrap();
    conn.query_row("SELECT count(*) FROM flag_units", [], |r| r.get(0))
        .unwrap()
}

fn out_of_sequence_of(hub: &Hub, org: &str) -> Vec<HubFlag> {
    hub.registry
        .flags()
        .unwrap()
        .into_iter()
        .filter(|f| f.kind == "out_of_sequence" && f.org == org)
        .collect()
}

#[test]
fn units_received_with_no_shipment_raise_one_flag_per_receipt_listing_them() {
    let hub = hub();
    let maker = hub.device("acme", "plant-stuttgart", 1);
    let b = hub.device("dist-b", "dc-oakland", 2);
    // Twenty units received one scan at a time on one day, five on the next: no shipment to B
    // is on record for any of them yet.
    let day_one: Vec<Event> = (150..170)
        .map(|n| {
            b.event(
                BizStep::Receiving,
                vec![hub.unit(n)],
                &format!("2026-11-10T10:{:02}:00-08:00", n - 150),
                None,
            )
        })
        .collect();
    let day_two: Vec<Event> = (170..175)
        .map(|n| {
            b.event(
                BizStep::Receiving,
                vec![hub.unit(n)],
                "2026-11-11T09:00:00-08:00",
                None,
            )
        })
        .collect();
    assert_eq!(b.upload(day_one[..7].to_vec()).flags_raised, 1);
    assert_eq!(b.upload(day_one[7..].to_vec()).flags_raised, 0);
    assert_eq!(b.upload(day_two.clone()).flags_raised, 1);
    // Replays and a second scan of a listed unit list nothing twice.
    b.upload(day_one.clone());
    b.upload(vec![b.event(
        BizStep::Receiving,
        vec![hub.unit(150)],
        "2026-11-10T16:00:00-08:00",
        None,
    )]);

    let counts = |org: &str| -> Vec<(u64, u64, String)> {
        let mut v: Vec<(u64, u64, String)> = out_of_sequence_of(&hub, org)
            .into_iter()
            .map(|f| (f.units, f.open_units, f.flag.status.to_string()))
            .collect();
        v.sort();
        v
    };
    let both_open = vec![(5, 5, "new".to_string()), (20, 20, "new".to_string())];
    assert_eq!(counts("dist-b"), both_open);
    assert_eq!(
        counts("acme"),
        both_open,
        "the manufacturer holds the units"
    );
    let day_one_flag = out_of_sequence_of(&hub, "dist-b")
        .into_iter()
        .find(|f| f.units == 20)
        .unwrap();
    assert!(
        day_one_flag
            .reason
            .starts_with("20 units were received by ")
            && day_one_flag
                .reason
                .contains("on 2026-11-10 with no shipment on record"),
        "{}",
        day_one_flag.reason
    );
    // The receiver is not told who holds the units; the manufacturer is.
    assert!(!day_one_flag.reason.contains("on record it is with"));

    // The receiver's devices get the listing of its own flags, and nothing of the
    // manufacturer's, after a cursor.
    let listed = b.listed_after(0);
    assert_eq!(listed.flag_units.len(), 25);
    assert!(!listed.flag_units_more);
    let b_flags: Vec<String> = out_of_sequence_of(&hub, "dist-b")
        .into_iter()
        .map(|f| f.flag.id)
        .collect();
    assert!(listed.flag_units.iter().all(|u| b_flags.contains(&u.flag)));
    let mut units: Vec<&str> = listed
        .flag_units
        .iter()
        .filter(|u| u.flag == day_one_flag.id)
        .map(|u| u.epc.as_str())
        .collect();
    units.sort_unstable();
    let mut expected: Vec<String> = (150..170).map(|n| hub.unit(n).uri()).collect();
    expected.sort();
    assert_eq!(units, expected);
    assert!(listed.flag_units.iter().all(|u| u.resolved.is_none()));
    let cursor = listed.flag_units_cursor;
    assert!(b.listed_after(cursor).flag_units.is_empty());

    // The manufacturer's devices get the same units under the manufacturer's own flags, though
    // the hub keeps one row of its listing per unit for both organisations.
    let maker_listed = maker.listed_after(0);
    assert_eq!(maker_listed.flag_units.len(), 25);
    let acme_flags: Vec<String> = out_of_sequence_of(&hub, "acme")
        .into_iter()
        .map(|f| f.flag.id)
        .collect();
    assert!(
        maker_listed
            .flag_units
            .iter()
            .all(|u| acme_flags.contains(&u.flag))
    );
    let acme_day_one = out_of_sequence_of(&hub, "acme")
        .into_iter()
        .find(|f| f.units == 20)
        .unwrap();
    let mut maker_units: Vec<String> = hub
        .registry
        .flag_units(&acme_day_one.id)
        .unwrap()
        .into_iter()
        .map(|u| {
            assert_eq!(u.flag, acme_day_one.id);
            u.epc
        })
        .collect();
    maker_units.sort();
    assert_eq!(maker_units, expected);
    assert_eq!(listing_rows(&hub), 25, "one row per unit listed for both");
    let maker_cursor = maker_listed.flag_units_cursor;

    // The maker's shipment of half of day one arrives late: those ten units are accounted for,
    // the flag stays open for the rest.
    let first_half = maker.event(
        BizStep::Shipping,
        (150..160).map(|n| hub.unit(n)).collect(),
        "2026-11-09T10:00:00+01:00",
        Some("dist-b"),
    );
    maker.upload(vec![first_half.clone()]);
    assert_eq!(
        counts("dist-b"),
        vec![(5, 5, "new".to_string()), (20, 10, "new".to_string())]
    );
    let changed = b.listed_after(cursor);
    assert_eq!(changed.flag_units.len(), 10);
    let why = format!("matching shipment arrived: {}", first_half.id);
    assert!(
        changed
            .flag_units
            .iter()
            .all(|u| u.resolved.as_deref() == Some(why.as_str())),
        "{:?}",
        changed.flag_units
    );
    // Accounted for under both organisations' flags at once.
    assert_eq!(
        counts("acme"),
        vec![(5, 5, "new".to_string()), (20, 10, "new".to_string())]
    );
    let maker_changed = maker.listed_after(maker_cursor);
    assert_eq!(maker_changed.flag_units.len(), 10);
    assert!(
        maker_changed
            .flag_units
            .iter()
            .all(|u| { u.flag == acme_day_one.id && u.resolved.as_deref() == Some(why.as_str()) })
    );

    // The rest arrives: the hub closes the flag, saying every unit is accounted for; the other
    // day's flag stays open.
    let second_half = maker.event(
        BizStep::Shipping,
        (160..170).map(|n| hub.unit(n)).collect(),
        "2026-11-09T11:00:00+01:00",
        Some("dist-b"),
    );
    maker.upload(vec![second_half.clone()]);
    assert_eq!(
        counts("dist-b"),
        vec![(5, 5, "new".to_string()), (20, 0, "closed".to_string())]
    );
    assert_eq!(
        counts("acme"),
        vec![(5, 5, "new".to_string()), (20, 0, "closed".to_string())]
    );
    let closed = out_of_sequence_of(&hub, "dist-b")
        .into_iter()
        .find(|f| f.id == day_one_flag.id)
        .unwrap();
    let closing = closed.history.last().unwrap();
    assert_eq!(closing.by, "hub");
    assert_eq!(
        closing.note.as_deref(),
        Some(
            format!(
                "every one of its 20 units is accounted for; the last: matching shipment arrived: {}",
                second_half.id
            )
            .as_str()
        )
    );

    // The receiver's device holds one entry per flag, with the counts.
    let mut doc = AutoCommit::new();
    let mut state = State::new();
    b.sync_flags(&mut doc, &mut state);
    let mut held: Vec<(u64, u64, String)> = docs::read_flags(&doc)
        .into_iter()
        .map(|f| (f.units, f.open_units, f.status.to_string()))
        .collect();
    held.sort();
    assert_eq!(
        held,
        vec![(5, 5, "new".to_string()), (20, 0, "closed".to_string())]
    );
}

/// `dev`'s receipt of `unit` on 10 November.
fn received_on_the_tenth(dev: &Dev<'_>, unit: Epc) -> Event {
    dev.event(
        BizStep::Receiving,
        vec![unit],
        "2026-11-10T10:00:00-08:00",
        None,
    )
}

/// The units each out-of-sequence flag of `org` lists, and its status, in order.
fn units_and_status(hub: &Hub, org: &str) -> Vec<(u64, String)> {
    let mut flags: Vec<(u64, String)> = out_of_sequence_of(hub, org)
        .into_iter()
        .map(|f| (f.units, f.flag.status.to_string()))
        .collect();
    flags.sort();
    flags
}

/// `dev`'s people (of `org`) close the first flag in its flags document, saying `note`; its id.
fn close_first_flag(dev: &Dev<'_>, org: &str, note: &str) -> String {
    let mut doc = AutoCommit::new();
    let mut state = State::new();
    dev.sync_flags(&mut doc, &mut state);
    let id = docs::read_flags(&doc)[0].id.clone();
    docs::move_flag(
        &mut doc,
        &id,
        &FlagStep {
            status: FlagStatus::Closed,
            at: "2026-11-10T12:00:00-08:00".into(),
            by: format!("dev-{org}"),
            org: Some(org.into()),
            note: Some(note.into()),
        },
    )
    .unwrap();
    dev.sync_flags(&mut doc, &mut state);
    id
}

#[test]
fn a_flag_people_closed_takes_no_more_units() {
    let hub = hub();
    let b = hub.device("dist-b", "dc-oakland", 2);
    let receipt = |n: usize| received_on_the_tenth(&b, hub.unit(n));
    b.upload(vec![receipt(150), receipt(151)]);
    close_first_flag(&b, "dist-b", "counted twice, paperwork found");

    // Another unit of the same day's receipts: a flag of its own, not hidden in a closed one.
    assert_eq!(b.upload(vec![receipt(152)]).flags_raised, 1);
    assert_eq!(
        units_and_status(&hub, "dist-b"),
        vec![(1, "new".to_string()), (2, "closed".to_string())]
    );
}

#[test]
fn a_flag_the_manufacturer_closed_takes_no_more_units_while_the_receivers_goes_on() {
    let hub = hub();
    let maker = hub.device("acme", "plant-stuttgart", 1);
    let b = hub.device("dist-b", "dc-oakland", 2);
    let receipt = |n: usize| received_on_the_tenth(&b, hub.unit(n));
    b.upload(vec![receipt(150), receipt(151)]);
    let closed_id = close_first_flag(&maker, "acme", "shipping paperwork found");

    // The manufacturer's next unit of the cause opens a flag of its own; the receiver's flag,
    // open, lists it beside the first two.
    b.upload(vec![receipt(152)]);
    let summary = |org: &str| units_and_status(&hub, org);
    assert_eq!(
        summary("acme"),
        vec![(1, "new".to_string()), (2, "closed".to_string())]
    );
    assert_eq!(summary("dist-b"), vec![(3, "new".to_string())]);
    let units = |id: &str| -> Vec<String> {
        let mut v: Vec<String> = hub
            .registry
            .flag_units(id)
            .unwrap()
            .into_iter()
            .map(|u| u.epc)
            .collect();
        v.sort();
        v
    };
    let mut first_two = vec![hub.unit(150).uri(), hub.unit(151).uri()];
    first_two.sort();
    assert_eq!(units(&closed_id), first_two);
    let open_id = out_of_sequence_of(&hub, "acme")
        .into_iter()
        .find(|f| f.id != closed_id)
        .unwrap()
        .flag
        .id;
    assert_eq!(units(&open_id), vec![hub.unit(152).uri()]);
    assert_eq!(maker.listed_after(0).flag_units.len(), 3);

    // The late shipment accounts for all three under both organisations' flags.
    maker.upload(vec![maker.event(
        BizStep::Shipping,
        (150..153).map(|n| hub.unit(n)).collect(),
        "2026-11-09T10:00:00+01:00",
        Some("dist-b"),
    )]);
    assert_eq!(
        summary("acme"),
        vec![(1, "closed".to_string()), (2, "closed".to_string())]
    );
    assert_eq!(summary("dist-b"), vec![(3, "closed".to_string())]);
    let open = |org: &str| -> Vec<u64> {
        out_of_sequence_of(&hub, org)
            .into_iter()
            .map(|f| f.open_units)
            .collect()
    };
    assert_eq!(open("acme"), vec![0, 0]);
    assert_eq!(open("dist-b"), vec![0]);
}

/// An organisation's flags are kept by the month they were raised in: once a month's flags are
/// closed its document never changes, and neither new flags nor a device's syncs touch it again,
/// however many flags it holds.
#[test]
fn flags_are_kept_by_month_and_a_month_whose_flags_are_closed_is_never_sent_again() {
    let hub = hub();
    let maker = hub.device("acme", "plant-stuttgart", 1);
    let b = hub.device("dist-b", "dc-oakland", 2);
    let at = |t: &str| Some(DateTime::parse_from_rfc3339(t).unwrap().to_utc());
    // November: nine receipts with no shipment on record, one a day, each its own cause.
    b.clock.set(at("2026-11-30T20:00:00Z"));
    maker.clock.set(at("2026-11-30T21:00:00Z"));
    let units: Vec<Epc> = (150..159).map(|n| hub.unit(n)).collect();
    for (day, unit) in units.iter().enumerate() {
        let received = format!("2026-11-{:02}T10:00:00Z", day + 21);
        assert_eq!(
            b.upload(vec![b.event(
                BizStep::Receiving,
                vec![unit.clone()],
                &received,
                None
            )])
            .flags_raised,
            1
        );
    }
    let november = docs::flags_month_doc_id("dist-b", "2026-11-30T20:00:00Z");
    let mut held = BTreeMap::new();
    let heard = b.sync_docs(&mut held);
    assert!(heard.contains(&november), "{heard:?}");
    assert_eq!(docs::read_flags(&held[&november].0).len(), 9);
    // The manufacturer's shipments arrive late: the hub closes every November flag.
    for (day, unit) in units.iter().enumerate() {
        let shipped = format!("2026-11-{:02}T08:00:00Z", day + 21);
        maker.upload(vec![maker.event(
            BizStep::Shipping,
            vec![unit.clone()],
            &shipped,
            Some("dist-b"),
        )]);
    }
    b.sync_docs(&mut held);
    let statuses: Vec<FlagStatus> = docs::read_flags(&held[&november].0)
        .into_iter()
        .map(|f| f.status)
        .collect();
    assert!(
        statuses.iter().all(|s| *s == FlagStatus::Closed),
        "{statuses:?}"
    );
    // December: a new receipt with no shipment raises a flag in December's document alone.
    b.clock.set(at("2026-12-02T09:00:00Z"));
    let late = hub.unit(190);
    assert_eq!(
        b.upload(vec![b.event(
            BizStep::Receiving,
            vec![late.clone()],
            "2026-12-01T10:00:00Z",
            None
        )])
        .flags_raised,
        1
    );
    let december = docs::flags_month_doc_id("dist-b", "2026-12-02T09:00:00Z");
    let heard = b.sync_docs(&mut held);
    assert_eq!(
        heard,
        BTreeSet::from([december.clone()]),
        "only the month with news is sent; November's closed flags are not"
    );
    let in_december = docs::read_flags(&held[&december].0);
    assert_eq!(in_december.len(), 1);
    assert_eq!(in_december[0].epc, late.uri());
    assert_eq!(docs::read_flags(&held[&november].0).len(), 9);
    // The hub's list holds every month's flags with their status.
    let of_b: Vec<HubFlag> = hub
        .registry
        .flags()
        .unwrap()
        .into_iter()
        .filter(|f| f.org == "dist-b")
        .collect();
    assert_eq!(of_b.len(), 10);
    assert_eq!(of_b.iter().filter(|f| f.status == "closed").count(), 9);
}

/// A carton of fakes is one problem: the units one organisation received on one occasion that
/// the manufacturer never issued are one flag listing them, not one flag each.
#[test]
fn serials_never_issued_received_together_are_one_flag_listing_them() {
    let hub = hub();
    let b = hub.device("dist-b", "dc-oakland", 2);
    let gtin = hub.serials[0].gtin.clone();
    let fake = |s: &str| Epc::parse(&format!("https://id.gs1.org/01/{gtin}/21/{s}")).unwrap();
    let carton: Vec<Epc> = ["FAKE01", "FAKE02", "FAKE03", "FAKE04", "FAKE05"]
        .iter()
        .map(|s| fake(s))
        .collect();
    let receipt = b.event(
        BizStep::Receiving,
        carton.clone(),
        "2026-11-24T10:00:00Z",
        None,
    );
    assert_eq!(b.upload(vec![receipt.clone()]).flags_raised, 1);
    let unknown = |hub: &Hub| -> Vec<HubFlag> {
        hub.registry
            .flags()
            .unwrap()
            .into_iter()
            .filter(|f| f.kind == "unknown_serial")
            .collect()
    };
    let flags = unknown(&hub);
    assert_eq!(flags.len(), 1, "{flags:?}");
    assert_eq!(flags[0].org, "dist-b");
    assert_eq!((flags[0].units, flags[0].open_units), (5, 5));
    assert!(
        flags[0].reason.starts_with(
            "5 units received by Pacific Tool Supply Inc. (US) on 2026-11-24 were never issued"
        ),
        "{}",
        flags[0].reason
    );
    let listed: BTreeSet<String> = hub
        .registry
        .flag_units(&flags[0].id)
        .unwrap()
        .into_iter()
        .map(|u| u.epc)
        .collect();
    assert_eq!(listed, carton.iter().map(Epc::uri).collect());
    // A replay, and a second scan of a listed unit the same day, list nothing twice.
    assert_eq!(b.upload(vec![receipt]).flags_raised, 0);
    let again = b.event(
        BizStep::Receiving,
        vec![carton[0].clone()],
        "2026-11-24T11:00:00Z",
        None,
    );
    assert_eq!(b.upload(vec![again]).flags_raised, 0);
    assert_eq!(unknown(&hub)[0].units, 5);
    // Another day's fakes are another occasion: a flag of their own.
    let later = b.event(
        BizStep::Receiving,
        vec![fake("FAKE06")],
        "2026-11-25T10:00:00Z",
        None,
    );
    assert_eq!(b.upload(vec![later]).flags_raised, 1);
    let flags = unknown(&hub);
    assert_eq!(flags.len(), 2);
    assert!(flags[1].reason.contains("FAKE06"), "{}", flags[1].reason);
}
