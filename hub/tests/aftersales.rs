//! After-sales events reaching the hub through a sync round: warranty claims checked against
//! everyone's events and flagged once per fact, corrections authorised to their declarer's
//! organisation only, and any event on a unit after its life ended flagged as a clone.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, FixedOffset};
use custodian_hub::{HubError, Registry, demo, exchange};
use custodian_ledger::event::{
    Action, BizStep, Defect, Detail, Disposition, ErrorDeclaration, EventType, Extension,
};
use custodian_ledger::{Epc, Event, EventBody, Recorder};
use custodian_sync::identity::RequestAuth;
use custodian_sync::protocol::{self, PROTOCOL_VERSION, SyncRequest, SyncResponse};
use ed25519_dalek::SigningKey;

struct Shop {
    _tmp: tempfile::TempDir,
    registry: Registry,
    device: String,
    key: SigningKey,
    counter: std::cell::Cell<u64>,
    serials: Vec<custodian_hub::registry::IssuedSerial>,
}

/// The demo hub and an enrolled device of the Berlin retailer.
fn shop() -> Shop {
    let tmp = tempfile::tempdir().unwrap();
    let registry = Registry::open_with_key(tmp.path(), demo::issuer_key).unwrap();
    let serials = demo::seed(&registry).unwrap().serials;
    let token = registry
        .create_token(
            demo::RETAILER,
            "store-mitte",
            "https://127.0.0.1:1",
            b"ca",
            1,
        )
        .unwrap();
    let secret = custodian_sync::identity::EnrollmentToken::decode(&token)
        .unwrap()
        .secret;
    let key = SigningKey::from_bytes(&[11; 32]);
    let device = registry
        .enroll(
            &secret,
            &STANDARD.encode(key.verifying_key().to_bytes()),
            "till",
        )
        .unwrap();
    Shop {
        _tmp: tmp,
        registry,
        device: device.id,
        key,
        counter: std::cell::Cell::new(0),
        serials,
    }
}

/// What the hub's clock reads in these tests: after every event they record.
const HUB_NOW: &str = "2029-02-03T10:00:00+01:00";

fn t(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

impl Shop {
    /// The `n`th issued demo serial (0..24 were shipped to distributor A).
    fn unit(&self, n: usize) -> Epc {
        let s = &self.serials[n];
        Epc::parse(&format!("https://id.gs1.org/01/{}/21/{}", s.gtin, s.serial)).unwrap()
    }

    fn me(&self) -> Recorder {
        Recorder {
            org: demo::RETAILER.into(),
            site: "store-mitte".into(),
            device: self.device.clone(),
        }
    }

    fn event(&self, step: BizStep, unit: &Epc, at: &str, detail: Option<Detail>) -> Event {
        Event::new(EventBody {
            event_type: EventType::ObjectEvent,
            action: Action::Observe,
            biz_step: step,
            disposition: match step {
                BizStep::RetailSelling => Some(Disposition::RetailSold),
                BizStep::Destroying => Some(Disposition::Destroyed),
                _ => None,
            },
            event_time: t(at),
            epcs: vec![unit.clone()],
            parent: None,
            biz_transactions: vec![],
            source: None,
            destination: None,
            recorder: self.me(),
            extension: Extension {
                detail,
                ..Extension::default()
            },
        })
    }

    fn claim(&self, unit: &Epc, defect: &str, at: &str) -> Event {
        self.event(
            BizStep::Inspecting,
            unit,
            at,
            Some(Detail::WarrantyClaim {
                defect: Defect::parse(defect).unwrap(),
                note: None,
            }),
        )
    }

    fn send(&self, upload: Vec<Event>) -> Result<SyncResponse, HubError> {
        self.counter.set(self.counter.get() + 1);
        let body = protocol::encode(&SyncRequest {
            v: PROTOCOL_VERSION,
            upload,
            upload_through: i64::try_from(self.counter.get()).unwrap(),
            download_after: 0,
            extract_version: 0,
            extract_deltas: false,
            known_docs: vec![],
            docs: vec![],
            download_limit: None,
            flag_units_after: None,
            upload_after: None,
            answered: None,
        });
        // The shop's claims run into 2029: the hub's clock and the device's read a day after
        // the last of them, so every event is in the past the hub believes.
        let now = t(HUB_NOW).to_utc();
        let auth = RequestAuth::sign(
            &self.key,
            &self.device,
            self.counter.get(),
            now.timestamp_millis(),
            "POST",
            "/v1/sync",
            &body,
        );
        exchange::handle_at(&self.registry, &auth, &body, now)
            .map(|b| protocol::decode(&b).unwrap())
    }

    /// The warranty flags about `unit`, as `org: reason` lines.
    fn flags(&self, kind: &str, unit: &Epc) -> Vec<String> {
        self.registry
            .flags()
            .unwrap()
            .into_iter()
            .filter(|f| f.kind == kind && f.epc == unit.uri())
            .map(|f| format!("{}: {}", f.org, f.reason))
            .collect()
    }
}

#[test]
fn warranty_claims_are_flagged_once_per_fact_to_the_claimant_and_the_maker() {
    let s = shop();
    // Unit 150 was issued and never sold.
    let unsold = s.unit(150);
    let claim = s.claim(&unsold, "battery fault", "2027-01-10T10:00:00+01:00");
    let r = s.send(vec![claim.clone()]).unwrap();
    assert_eq!(r.flags_raised, 1);
    let flags = s.flags("warranty", &unsold);
    assert_eq!(flags.len(), 2);
    assert!(
        flags[0].contains("never sold to a consumer nor registered"),
        "{flags:?}"
    );
    assert!(flags.iter().any(|f| f.starts_with("acme: ")));
    assert!(flags.iter().any(|f| f.starts_with("retail-berlin: ")));
    // A replay, or another claim of the same kind, raises nothing new.
    assert_eq!(s.send(vec![claim]).unwrap().flags_raised, 0);
    let again = s.claim(&unsold, "motor", "2027-01-11T10:00:00+01:00");
    assert_eq!(s.send(vec![again]).unwrap().flags_raised, 0);

    // Unit 151 is sold, then claimed: covered, no flag, and no diversion either (a claim is
    // not a channel movement, and a sold unit has left the channel).
    let sold = s.unit(151);
    let sale = s.event(
        BizStep::RetailSelling,
        &sold,
        "2027-02-01T10:00:00+01:00",
        None,
    );
    let first = s.claim(&sold, "battery fault", "2027-03-01T10:00:00+01:00");
    assert_eq!(s.send(vec![sale, first]).unwrap().flags_raised, 0);
    // The same defect again: a duplicate.
    let dup = s.claim(&sold, "Battery fault", "2027-03-02T10:00:00+01:00");
    assert_eq!(s.send(vec![dup]).unwrap().flags_raised, 1);
    assert!(s.flags("warranty", &sold)[0].contains("already claimed on 2027-03-01"));
    // Drills allow three claims per unit: the fourth is a quality alert.
    let more = vec![
        s.claim(&sold, "switch", "2027-03-03T10:00:00+01:00"),
        s.claim(&sold, "chuck", "2027-03-04T10:00:00+01:00"),
    ];
    assert_eq!(s.send(more).unwrap().flags_raised, 1);
    assert!(
        s.flags("warranty", &sold)
            .iter()
            .any(|f| f.contains("over the product's threshold of 3"))
    );
    // Out of period: 24 months from the sale.
    let late = s.claim(&sold, "gearbox", "2029-02-02T10:00:00+01:00");
    assert_eq!(s.send(vec![late]).unwrap().flags_raised, 1);
    assert!(
        s.flags("warranty", &sold)
            .iter()
            .any(|f| f.contains("the warranty ended on 2029-02-01"))
    );
    assert_eq!(s.flags("diversion", &sold), Vec::<String>::new());
}

#[test]
fn corrections_are_authorised_to_their_organisation_and_retract_the_event() {
    let s = shop();
    let unit = s.unit(160);
    let sale = s.event(
        BizStep::RetailSelling,
        &unit,
        "2027-02-01T10:00:00+01:00",
        None,
    );
    s.send(vec![sale.clone()]).unwrap();
    let declaration = Event::declaring_error(
        &sale,
        ErrorDeclaration {
            declaration_time: t("2027-02-01T10:05:00+01:00"),
            reason: None,
            corrective_event_ids: vec![],
            declared_by: s.me(),
        },
    );
    let r = s.send(vec![declaration]).unwrap();
    assert_eq!((r.stored, r.flags_raised), (1, 0));
    // With its sale retracted, a claim is on an unsold unit.
    let claim = s.claim(&unit, "battery fault", "2027-03-01T10:00:00+01:00");
    assert_eq!(s.send(vec![claim]).unwrap().flags_raised, 1);
    assert_eq!(
        s.registry.custody(&unit.uri()).unwrap().state,
        custodian_ledger::custody::State::Issued
    );

    // The manufacturer's commissioning is not the retailer's to retract.
    let made = Event::new(EventBody {
        event_type: EventType::ObjectEvent,
        action: Action::Add,
        biz_step: BizStep::Commissioning,
        disposition: Some(Disposition::Active),
        event_time: t("2026-11-02T07:00:00+01:00"),
        epcs: vec![unit.clone()],
        parent: None,
        biz_transactions: vec![],
        source: None,
        destination: None,
        recorder: Recorder {
            org: demo::MANUFACTURER.into(),
            site: "plant-stuttgart".into(),
            device: "hub".into(),
        },
        extension: Extension::default(),
    });
    let foreign = Event::declaring_error(
        &made,
        ErrorDeclaration {
            declaration_time: t("2027-02-01T10:05:00+01:00"),
            reason: None,
            corrective_event_ids: vec![],
            declared_by: s.me(),
        },
    );
    let err = s.send(vec![foreign]).unwrap_err();
    assert!(
        matches!(&err, HubError::Forbidden(m) if m.contains("declares an event of acme erroneous")),
        "{err}"
    );
}

#[test]
fn scrapped_units_sold_together_are_one_clone_flag_listing_them() {
    let s = shop();
    let units: Vec<Epc> = (171..174).map(|n| s.unit(n)).collect();
    let scraps = units
        .iter()
        .map(|u| s.event(BizStep::Destroying, u, "2027-02-01T10:00:00+01:00", None))
        .collect();
    assert_eq!(s.send(scraps).unwrap().flags_raised, 0);
    let sales = units
        .iter()
        .enumerate()
        .map(|(i, u)| {
            s.event(
                BizStep::RetailSelling,
                u,
                &format!("2027-03-01T1{i}:00:00+01:00"),
                None,
            )
        })
        .collect();
    assert_eq!(s.send(sales).unwrap().flags_raised, 1);
    let clones: Vec<_> = s
        .registry
        .flags()
        .unwrap()
        .into_iter()
        .filter(|f| f.kind == "clone")
        .collect();
    assert_eq!(clones.len(), 1, "{clones:?}");
    assert!(
        clones[0].reason.starts_with(
            "3 units destroyed or decommissioned before were sold by Werkzeughaus Berlin (DE) on 2027-03-01"
        ),
        "{clones:?}"
    );
    let mut listed: Vec<String> = s
        .registry
        .flag_units(&clones[0].id)
        .unwrap()
        .into_iter()
        .map(|u| u.epc)
        .collect();
    listed.sort();
    let mut expected: Vec<String> = units.iter().map(Epc::uri).collect();
    expected.sort();
    assert_eq!(listed, expected);
    // A second sale of one of them the same day (a replay, or a second till) lists nothing more.
    let again = s.event(
        BizStep::RetailSelling,
        &units[0],
        "2027-03-01T15:00:00+01:00",
        None,
    );
    assert_eq!(s.send(vec![again]).unwrap().flags_raised, 0);
    assert_eq!(s.registry.flag_units(&clones[0].id).unwrap().len(), 3);
}

#[test]
fn an_event_on_a_scrapped_unit_is_a_clone() {
    let s = shop();
    let unit = s.unit(170);
    let scrap = s.event(
        BizStep::Destroying,
        &unit,
        "2027-02-01T10:00:00+01:00",
        None,
    );
    assert_eq!(s.send(vec![scrap]).unwrap().flags_raised, 0);
    let sale = s.event(
        BizStep::RetailSelling,
        &unit,
        "2027-03-01T10:00:00+01:00",
        None,
    );
    assert_eq!(s.send(vec![sale]).unwrap().flags_raised, 1);
    let flags = s.flags("clone", &unit);
    assert!(
        flags[0].contains("was destroyed by Werkzeughaus Berlin (DE) on 2027-02-01"),
        "{flags:?}"
    );
}
