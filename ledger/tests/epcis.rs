//! EPCIS 2.0 JSON-LD export and import.
//!
//! The export is validated against GS1's official EPCIS 2.0 JSON schema, read from
//! `../shared/epcis-schema` beside the checkout (GS1, Apache-2.0; not copied into the project).
//! Where that directory is absent the tests that validate fail and name the file they need: a
//! schema check that is skipped would pass without checking anything.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::path::Path;

use chrono::DateTime;
use custodian_ledger::event::{Action, BizStep, BizTransaction, Disposition, EventType};
use custodian_ledger::{Epc, Event, EventBody, Ledger, Recorder, Step, epcis};
use custodian_scanner::{Gtin, Sscc, check_digit};
#[path = "../../scanner/tests/support/seeded.rs"]
mod seeded;
mod support;
use support::epcis_schema::{errors, validator};

use proptest::prelude::*;
use serde_json::{Value, json};

/// The importing device's clock: after every event of these tests.
fn clock() -> DateTime<chrono::FixedOffset> {
    DateTime::parse_from_rfc3339("2027-01-01T00:00:00Z").unwrap()
}

/// What importing `doc` into `ledger` stored: (events, new).
fn counts(ledger: &mut Ledger, doc: &Value) -> (usize, usize) {
    let imported = ledger.import_epcis(doc, clock()).unwrap();
    (imported.events, imported.new)
}

fn drill() -> Gtin {
    let d = "0401234500001";
    Gtin::parse(&format!("{d}{}", check_digit(d))).unwrap()
}

fn sscc(n: u32) -> Sscc {
    let d = format!("14012345{n:09}");
    Sscc::parse(&format!("{d}{}", check_digit(&d))).unwrap()
}

fn sample_ledger(dir: &Path) -> Ledger {
    let mut l = Ledger::open(dir).unwrap();
    l.set_recorder(&Recorder {
        org: "dist-a".into(),
        site: "dc".into(),
        device: "dev-1".into(),
    })
    .unwrap();
    let maker = Recorder {
        org: "acme".into(),
        site: "plant".into(),
        device: "hub".into(),
    };
    let units: Vec<Epc> = ["A/1", "B-2"]
        .iter()
        .map(|s| Epc::Unit {
            gtin: drill(),
            serial: (*s).into(),
        })
        .collect();
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap();
    let body = |step, etype, action, epcs, parent, time: &str| EventBody {
        event_type: etype,
        action,
        biz_step: step,
        disposition: Some(Disposition::InProgress),
        event_time: at(time),
        epcs,
        parent,
        biz_transactions: vec![],
        source: None,
        destination: None,
        recorder: maker.clone(),
        extension: Default::default(),
    };
    let mut ship = body(
        BizStep::Shipping,
        EventType::ObjectEvent,
        Action::Observe,
        vec![Epc::Logistic(sscc(1))],
        None,
        "2026-03-01T10:00:00-05:00",
    );
    ship.biz_transactions = vec![BizTransaction {
        kind: "desadv".into(),
        id: "ASN-9".into(),
    }];
    ship.source = Some("acme".into());
    ship.destination = Some("dist-a".into());
    ship.disposition = Some(Disposition::InTransit);
    let events = vec![
        Event::new(body(
            BizStep::Commissioning,
            EventType::ObjectEvent,
            Action::Add,
            units.clone(),
            None,
            "2026-03-01T08:00:00+01:00",
        )),
        Event::new(body(
            BizStep::Packing,
            EventType::AggregationEvent,
            Action::Add,
            units,
            Some(Epc::Logistic(sscc(1))),
            "2026-03-01T09:00:00+01:00",
        )),
        Event::new(ship),
    ];
    l.store_events(&events, false).unwrap();
    l.scan(
        &format!("00{}", sscc(1)),
        Step::Receiving,
        Some("ASN-9"),
        at("2026-03-03T08:00:00+09:00"),
    )
    .unwrap();
    l.scan(
        &format!("01{}21A/1", drill()),
        Step::Returning,
        None,
        at("2026-03-04T08:00:00Z"),
    )
    .unwrap();
    l
}

#[test]
fn export_is_valid_epcis_2_and_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = sample_ledger(&tmp.path().join("a"));
    let doc = ledger
        .export_epcis(DateTime::parse_from_rfc3339("2026-03-05T00:00:00Z").unwrap())
        .unwrap();
    assert_eq!(doc["epcisBody"]["eventList"].as_array().unwrap().len(), 5);
    assert_eq!(errors(&validator(), &doc), Vec::<String>::new());
    // Another ledger imports it: same events, same ids, nothing twice on a second import.
    let mut other = Ledger::open(&tmp.path().join("b")).unwrap();
    assert_eq!(counts(&mut other, &doc), (5, 5));
    assert_eq!(counts(&mut other, &doc), (5, 0));
    let again = other
        .export_epcis(DateTime::parse_from_rfc3339("2026-03-05T00:00:00Z").unwrap())
        .unwrap();
    assert_eq!(again, doc);
}

#[test]
fn the_schema_check_is_not_vacuous() {
    let v = validator();
    let tmp = tempfile::tempdir().unwrap();
    let mut doc = sample_ledger(tmp.path())
        .export_epcis(DateTime::parse_from_rfc3339("2026-03-05T00:00:00Z").unwrap())
        .unwrap();
    doc["epcisBody"]["eventList"][0]["action"] = json!("SHOUT");
    assert!(!errors(&v, &doc).is_empty());
}

#[test]
fn foreign_documents_import_with_urns_and_cbv_uris() {
    let doc = json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-01-01T00:00:00Z",
        "epcisBody": { "eventList": [{
            "type": "ObjectEvent", "eventTime": "2026-01-01T10:00:00+01:00", "eventTimeZoneOffset": "+01:00",
            "action": "OBSERVE", "bizStep": "https://ref.gs1.org/cbv/BizStep-shipping", "disposition": "https://ref.gs1.org/cbv/Disp-in_transit",
            "epcList": ["urn:epc:id:sgtin:0614141.812345.6789", "urn:epc:id:sscc:0614141.1234567890"],
            "bizTransactionList": [{ "type": "desadv", "bizTransaction": "urn:epcglobal:cbv:bt:0614141000005:ASN77" }],
            "destinationList": [{ "type": "owning_party", "destination": "urn:custodian:org:dist-a" }]
        }]}
    });
    assert_eq!(errors(&validator(), &doc), Vec::<String>::new());
    let tmp = tempfile::tempdir().unwrap();
    let mut l = Ledger::open(tmp.path()).unwrap();
    assert_eq!(counts(&mut l, &doc), (1, 1));
    let m = l
        .manifest("urn:epcglobal:cbv:bt:0614141000005:ASN77")
        .unwrap();
    assert_eq!(m.destination.as_deref(), Some("dist-a"));
    assert_eq!(m.progress.expected, 1);
}

#[test]
fn bad_documents_name_the_path_of_the_first_error_and_store_nothing() {
    let check = |doc: Value, expect: &str| {
        let tmp = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(tmp.path()).unwrap();
        let err = l.import_epcis(&doc, clock()).unwrap_err().to_string();
        assert_eq!(err, expect);
        assert_eq!(l.event_count().unwrap(), 0);
    };
    let doc = |events: Vec<Value>| {
        json!({ "@context": "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
                "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-01-01T00:00:00Z",
                "epcisBody": { "eventList": events } })
    };
    let base = json!({ "type": "ObjectEvent", "eventTime": "2026-01-01T10:00:00Z", "eventTimeZoneOffset": "+00:00",
                       "action": "OBSERVE", "bizStep": "shipping", "epcList": [] });
    let with = |k: &str, v: Value| {
        let mut e = base.clone();
        e[k] = v;
        doc(vec![base.clone(), e])
    };
    check(json!([]), "$: not a JSON object");
    check(json!({ "type": "EPCISQueryDocument" }), "@context: missing");
    let mut old = doc(vec![]);
    old["schemaVersion"] = json!("1.2");
    check(old, "schemaVersion: \"1.2\": only EPCIS 2.x is read here");
    check(
        with(
            "epcList",
            json!([
                "https://id.gs1.org/01/04012345000016/21/1",
                "urn:epc:id:sgtin:bad"
            ]),
        ),
        "epcisBody.eventList[1].epcList[1]: \"urn:epc:id:sgtin:bad\" is not an SGTIN URI (urn:epc:id:sgtin:CompanyPrefix.IndicatorItemRef.Serial)",
    );
    check(
        with("bizStep", json!("dancing")),
        "epcisBody.eventList[1].bizStep: \"dancing\" is not a business step: a CBV 2.0 word (e.g. \"accepting\") or a URI of your own vocabulary (a CBV URN is written as its bare word in JSON-LD)",
    );
    check(
        with("action", json!("SHOUT")),
        "epcisBody.eventList[1].action: \"SHOUT\" is not ADD, OBSERVE or DELETE",
    );
    check(
        with("eventTime", json!("yesterday")),
        "epcisBody.eventList[1].eventTime: \"yesterday\" is not an RFC 3339 date-time",
    );
    check(
        with("type", json!("TransformationEvent")),
        "epcisBody.eventList[1].action: is neither a field of this element nor an extension (a URI or a prefixed name, e.g. cust:note)",
    );
    check(
        with("type", json!("Dancing")),
        "epcisBody.eventList[1].type: \"Dancing\" is neither an EPCIS event type (ObjectEvent, AggregationEvent, AssociationEvent, TransactionEvent, TransformationEvent) nor the URI of an extension event type",
    );
    check(
        with("eventTime", json!("1999-12-31T23:00:00Z")),
        "epcisBody.eventList[1].eventTime: 1999-12-31T23:00:00+00:00 is before 2000-01-01T00:00:00Z, earlier than any event this ledger takes",
    );
    assert!(epcis::epc_from_uri("https://id.gs1.org/01/04012345000013/21/1").is_err());
}

/// A service partner's ledger holding every after-sales shape: a scan with lot and expiry, a
/// registration, claims, a counterfeit report with a photo, a repair with parts in and out,
/// returns refurbished and scrapped, a quarantine released and one still held, and an error
/// declaration with a corrective event.
fn aftersales_ledger(dir: &Path) -> Ledger {
    let mut l = sample_ledger(dir);
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap();
    let unit = |s: &str| format!("01{}21{s}", drill());
    let part = |s: &str| {
        let d = "0401234500005";
        format!("01{d}{}21{s}", check_digit(d))
    };
    l.scan(
        &format!("01{}10L7\u{1d}17270101\u{1d}21B-2", drill()),
        Step::Inspecting,
        None,
        at("2026-03-05T08:00:00+01:00"),
    )
    .unwrap();
    l.register_warranty(&unit("B-2"), "Ann Example", at("2026-03-05T09:00:00+01:00"))
        .unwrap();
    l.claim_warranty(
        &unit("B-2"),
        "battery fault",
        Some("stops after a minute"),
        at("2026-03-06T09:00:00+01:00"),
    )
    .unwrap();
    l.claim_warranty(
        &unit("B-2"),
        "switch",
        None,
        at("2026-03-06T10:00:00+01:00"),
    )
    .unwrap();
    let photo = custodian_ledger::event::Photo::of_bytes(
        custodian_ledger::event::Text::parse("IMG_1.jpg").unwrap(),
        b"photo",
    );
    l.report_counterfeit(
        &unit("C3"),
        "wrong font",
        Some(photo),
        at("2026-03-06T11:00:00+01:00"),
    )
    .unwrap();
    l.record_repair(
        &unit("B-2"),
        &[part("P1")],
        &[],
        Some("WO-7"),
        at("2026-03-07T09:00:00+01:00"),
    )
    .unwrap();
    l.record_repair(
        &unit("B-2"),
        &[part("P2")],
        &[part("P1")],
        None,
        at("2026-03-08T09:00:00+01:00"),
    )
    .unwrap();
    l.quarantine(
        &unit("C3"),
        "held for the brand's inspection",
        at("2026-03-06T12:00:00+01:00"),
    )
    .unwrap();
    l.quarantine(
        &unit("C6"),
        "carton crushed",
        at("2026-03-06T12:00:00+01:00"),
    )
    .unwrap();
    l.release(
        &unit("C6"),
        "unit undamaged",
        at("2026-03-06T15:00:00+01:00"),
    )
    .unwrap();
    l.return_unit(
        &unit("B-2"),
        custodian_ledger::ReturnOutcome::Refurbished,
        at("2026-03-09T09:00:00+01:00"),
    )
    .unwrap();
    l.return_unit(
        &unit("A/1"),
        custodian_ledger::ReturnOutcome::Scrapped,
        at("2026-03-09T10:00:00+01:00"),
    )
    .unwrap();
    let wrong = l
        .scan(
            &unit("C4"),
            Step::RetailSelling,
            None,
            at("2026-03-10T09:00:00+01:00"),
        )
        .unwrap()
        .event
        .unwrap();
    let right = l
        .scan(
            &unit("C5"),
            Step::RetailSelling,
            None,
            at("2026-03-10T09:00:00+01:00"),
        )
        .unwrap()
        .event
        .unwrap();
    l.declare_error(
        &wrong,
        Some(custodian_ledger::event::ErrorReason::IncorrectData),
        &[right],
        at("2026-03-10T09:05:00+01:00"),
    )
    .unwrap();
    l
}

#[test]
fn every_after_sales_shape_exports_valid_and_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = aftersales_ledger(&tmp.path().join("a"));
    let created = DateTime::parse_from_rfc3339("2026-03-11T00:00:00Z").unwrap();
    let doc = ledger.export_epcis(created).unwrap();
    let list = doc["epcisBody"]["eventList"].as_array().unwrap();
    for key in [
        "cust:lot",
        "cust:expiry",
        "cust:warrantyRegistration",
        "cust:warrantyClaim",
        "cust:counterfeitReport",
        "cust:quarantine",
        "cust:release",
        "errorDeclaration",
    ] {
        assert!(
            list.iter().any(|e| e.get(key).is_some()),
            "no event has {key}"
        );
    }
    for step in ["other", "installing", "removing", "destroying", "holding"] {
        assert!(list.iter().any(|e| e["bizStep"] == step), "no {step} event");
    }
    // The declaration carries the eventID of the event it declares erroneous.
    let declared = list
        .iter()
        .find(|e| e.get("errorDeclaration").is_some())
        .unwrap();
    assert_eq!(
        list.iter()
            .filter(|e| e["eventID"] == declared["eventID"])
            .count(),
        2
    );
    assert_eq!(errors(&validator(), &doc), Vec::<String>::new());
    let mut other = Ledger::open(&tmp.path().join("b")).unwrap();
    let n = list.len();
    assert_eq!(counts(&mut other, &doc), (n, n));
    assert_eq!(counts(&mut other, &doc), (n, 0));
    assert_eq!(other.export_epcis(created).unwrap(), doc);
}

#[test]
fn the_outbound_manifest_is_an_epcis_document_of_the_shipment_and_its_packing() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = sample_ledger(&tmp.path().join("a"));
    let created = DateTime::parse_from_rfc3339("2026-03-05T00:00:00Z").unwrap();
    let doc = ledger.manifest_epcis("ASN-9", created).unwrap();
    let steps: Vec<&str> = doc["epcisBody"]["eventList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["bizStep"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        ["packing", "shipping"],
        "no commissioning, no receipt"
    );
    assert_eq!(errors(&validator(), &doc), Vec::<String>::new());
    // The recipient imports it and knows what to expect.
    let mut recipient = Ledger::open(&tmp.path().join("b")).unwrap();
    assert_eq!(counts(&mut recipient, &doc), (2, 2));
    let m = recipient.manifest("ASN-9").unwrap();
    assert_eq!((m.progress.expected, m.logistic_units), (2, 1));
    assert!(matches!(
        ledger.manifest_epcis("ASN-404", created),
        Err(custodian_ledger::Error::NotFound(_))
    ));
}

fn arb_text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9 ,.'-]{0,30}"
}

prop_compose! {
    fn arb_body()(
        step in 0..BizStep::ALL.len(),
        disposition in proptest::option::of(0..Disposition::ALL.len()),
        lot in proptest::option::of("[A-Z0-9]{1,10}"),
        expiry in proptest::option::of(0u32..3000),
        detail in 0u8..6,
        words in (arb_text(), arb_text(), proptest::option::of(arb_text())),
        photo in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16)),
        declared in proptest::option::of((0u8..3, 0u32..1000)),
        minutes in 0i64..100_000,
        offset_h in -12i32..14,
    ) -> EventBody {
        use custodian_ledger::event::{Defect, Detail, ErrorDeclaration, ErrorReason, Extension, Photo, Text};
        let zone = chrono::FixedOffset::east_opt(offset_h * 3600).unwrap();
        let time = (DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap()
            + chrono::Duration::minutes(minutes))
        .with_timezone(&zone);
        let (a, b, c) = words;
        let detail = match detail {
            0 => None,
            1 => Some(Detail::WarrantyRegistration { owner: Text::parse(&a).unwrap() }),
            2 => Some(Detail::WarrantyClaim {
                defect: Defect::parse(&a).unwrap(),
                note: c.map(|c| Text::parse(&c).unwrap()),
            }),
            4 => Some(Detail::Quarantine { reason: Text::parse(&b).unwrap() }),
            5 => Some(Detail::Release { note: Text::parse(&a).unwrap() }),
            _ => Some(Detail::CounterfeitReport {
                note: Text::parse(&b).unwrap(),
                photo: photo.map(|p| Photo::of_bytes(Text::parse(&a).unwrap(), &p)),
            }),
        };
        let error_declaration = declared.map(|(r, m)| ErrorDeclaration {
            declaration_time: time + chrono::Duration::minutes(i64::from(m)),
            reason: [None, Some(ErrorReason::DidNotOccur), Some(ErrorReason::IncorrectData)][usize::from(r)],
            corrective_event_ids: if m % 2 == 0 { vec![custodian_ledger::EventId(format!("ni:///sha-256;{m:064x}"))] } else { vec![] },
            declared_by: Recorder { org: "o".into(), site: "s".into(), device: format!("d{m}") },
        });
        let step = BizStep::ALL[step];
        let aggregation = matches!(step, BizStep::Packing | BizStep::Unpacking | BizStep::Installing | BizStep::Removing);
        EventBody {
            event_type: if aggregation { EventType::AggregationEvent } else { EventType::ObjectEvent },
            action: match step {
                BizStep::Commissioning | BizStep::Packing | BizStep::Installing => Action::Add,
                BizStep::Unpacking | BizStep::Removing => Action::Delete,
                _ => Action::Observe,
            },
            biz_step: step,
            disposition: disposition.map(|d| Disposition::ALL[d]),
            event_time: time,
            epcs: vec![Epc::Unit { gtin: drill(), serial: "X1".into() }],
            parent: aggregation.then(|| Epc::Logistic(sscc(3))),
            biz_transactions: vec![],
            source: None,
            destination: None,
            recorder: Recorder { org: "o".into(), site: "s".into(), device: "d".into() },
            extension: Extension {
                lot,
                expiry: expiry.map(|d| chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Duration::days(i64::from(d))),
                detail,
                error_declaration,
            },
        }
    }
}

proptest! {
    #![proptest_config(seeded::seeded(64))]

    /// Any event the ledger can hold exports as valid EPCIS 2.0 and imports as itself, id and
    /// all.
    #[test]
    fn any_event_round_trips_through_epcis(body in arb_body()) {
        let event = Event::new(body);
        let created = DateTime::parse_from_rfc3339("2026-03-05T00:00:00Z").unwrap();
        let doc = epcis::export(std::slice::from_ref(&event), created);
        let fallback = Recorder { org: "x".into(), site: "x".into(), device: "x".into() };
        let back = epcis::import(&doc, &fallback, clock()).unwrap();
        prop_assert_eq!(&back, &vec![event]);
        prop_assert_eq!(errors(&VALIDATOR, &doc), Vec::<String>::new());
    }
}

static VALIDATOR: std::sync::LazyLock<jsonschema::Validator> = std::sync::LazyLock::new(validator);
