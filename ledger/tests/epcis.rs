//! EPCIS 2.0 JSON-LD export and import.
//!
//! The export is validated against GS1's official EPCIS 2.0 JSON schema, read from
//! `../shared/epcis-schema` beside the checkout (GS1, Apache-2.0; not copied into the project).
//! Where that directory is absent the schema checks say so and are skipped; everything else runs.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::path::{Path, PathBuf};

use chrono::DateTime;
use custodian_ledger::event::{Action, BizStep, BizTransaction, Disposition, EventType};
use custodian_ledger::{Epc, Event, EventBody, Ledger, Recorder, Step, epcis};
use custodian_scanner::{Gtin, Sscc, check_digit};
use serde_json::{Value, json};

fn schema_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/epcis-schema");
    dir.join("EPCIS-JSON-Schema-root.json")
        .exists()
        .then_some(dir)
}

struct LocalSchemas(PathBuf);

impl jsonschema::Retrieve for LocalSchemas {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let rel = uri
            .as_str()
            .split("/JSON-Schema/")
            .nth(1)
            .ok_or_else(|| format!("no local copy of {}", uri.as_str()))?;
        let rel = rel.split('#').next().unwrap_or(rel);
        Ok(serde_json::from_str(&std::fs::read_to_string(
            self.0.join(rel),
        )?)?)
    }
}

fn validator() -> Option<jsonschema::Validator> {
    let Some(dir) = schema_dir() else {
        eprintln!("skipping schema validation: ../shared/epcis-schema is not beside the checkout");
        return None;
    };
    let root: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("EPCIS-JSON-Schema-root.json")).unwrap(),
    )
    .unwrap();
    Some(
        jsonschema::options()
            .with_retriever(LocalSchemas(dir))
            .should_validate_formats(true)
            .build(&root)
            .unwrap(),
    )
}

fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
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
    if let Some(v) = validator() {
        assert_eq!(errors(&v, &doc), Vec::<String>::new());
    }
    // Another ledger imports it: same events, same ids, nothing twice on a second import.
    let mut other = Ledger::open(&tmp.path().join("b")).unwrap();
    assert_eq!(other.import_epcis(&doc).unwrap(), (5, 5));
    assert_eq!(other.import_epcis(&doc).unwrap(), (5, 0));
    let again = other
        .export_epcis(DateTime::parse_from_rfc3339("2026-03-05T00:00:00Z").unwrap())
        .unwrap();
    assert_eq!(again, doc);
}

#[test]
fn the_schema_check_is_not_vacuous() {
    let Some(v) = validator() else { return };
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
    if let Some(v) = validator() {
        assert_eq!(errors(&v, &doc), Vec::<String>::new());
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut l = Ledger::open(tmp.path()).unwrap();
    assert_eq!(l.import_epcis(&doc).unwrap(), (1, 1));
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
        let err = l.import_epcis(&doc).unwrap_err().to_string();
        assert_eq!(err, expect);
        assert_eq!(l.event_count().unwrap(), 0);
    };
    let event = |e: Value| {
        let good = json!({ "type": "ObjectEvent", "eventTime": "2026-01-01T10:00:00Z", "action": "OBSERVE", "bizStep": "shipping", "epcList": [] });
        json!({ "type": "EPCISDocument", "schemaVersion": "2.0", "epcisBody": { "eventList": [good, e] } })
    };
    let base = json!({ "type": "ObjectEvent", "eventTime": "2026-01-01T10:00:00Z", "action": "OBSERVE", "bizStep": "shipping" });
    let with = |k: &str, v: Value| {
        let mut e = base.clone();
        e[k] = v;
        event(e)
    };
    check(json!([]), "$: not a JSON object");
    check(
        json!({ "type": "EPCISQueryDocument" }),
        "type: \"EPCISQueryDocument\" is not an EPCISDocument",
    );
    check(
        json!({ "type": "EPCISDocument", "schemaVersion": "1.2" }),
        "schemaVersion: \"1.2\": only EPCIS 2.x is supported",
    );
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
        "epcisBody.eventList[1].bizStep: \"dancing\" is not a CBV 2.0 business step the ledger records",
    );
    check(
        with("action", json!("SHOUT")),
        "epcisBody.eventList[1].action: \"SHOUT\" is not ADD, OBSERVE or DELETE",
    );
    check(
        with("eventTime", json!("yesterday")),
        "epcisBody.eventList[1].eventTime: \"yesterday\" is not an RFC 3339 date-time: premature end of input",
    );
    check(
        with("type", json!("TransformationEvent")),
        "epcisBody.eventList[1].type: TransformationEvent is not supported yet (ObjectEvent and AggregationEvent are)",
    );
    assert!(epcis::epc_from_uri("https://id.gs1.org/01/04012345000013/21/1").is_err());
}
