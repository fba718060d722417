//! After-sales through the ledger's API: warranty registration and claims, repairs with part
//! genealogy, returns, counterfeit reports, corrections, and what manifests make of them.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, FixedOffset};
use custodian_ledger::custody::State;
use custodian_ledger::event::{
    Action, BizStep, BizTransaction, Disposition, ErrorReason, EventType, Photo, Text,
};
use custodian_ledger::extract::{IssuerKey, Product, Recall, RegistryExtract, signed_payload};
use custodian_ledger::{
    ClaimOutcome, Epc, Error, Event, EventBody, Ledger, Recorder, ReturnOutcome, Step, VerdictKind,
    docs,
};
use custodian_scanner::{Gtin, Sscc, check_digit, element_string};
use ed25519_dalek::{Signer, SigningKey};

const GS: char = '\u{1d}';

fn t(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

fn gtin(item: &str) -> Gtin {
    let d = format!("040123450{item}");
    Gtin::parse(&format!("{d}{}", check_digit(&d))).unwrap()
}

fn drill() -> Gtin {
    gtin("0001")
}

fn battery() -> Gtin {
    gtin("0005")
}

fn sscc(n: u32) -> Sscc {
    let d = format!("14012345{n:09}");
    Sscc::parse(&format!("{d}{}", check_digit(&d))).unwrap()
}

fn unit(g: &Gtin, serial: &str) -> Epc {
    Epc::Unit {
        gtin: g.clone(),
        serial: serial.into(),
    }
}

fn code(g: &Gtin, serial: &str) -> String {
    format!("01{g}21{serial}")
}

fn d(serial: &str) -> String {
    code(&drill(), serial)
}

fn p(serial: &str) -> String {
    code(&battery(), serial)
}

fn by(org: &str) -> Recorder {
    Recorder {
        org: org.into(),
        site: format!("{org}-site"),
        device: format!("{org}-1"),
    }
}

fn body(step: BizStep, epcs: Vec<Epc>, at: &str, org: &str) -> EventBody {
    EventBody {
        event_type: EventType::ObjectEvent,
        action: Action::Observe,
        biz_step: step,
        disposition: None,
        event_time: t(at),
        epcs,
        parent: None,
        biz_transactions: vec![],
        source: None,
        destination: None,
        recorder: by(org),
        extension: Default::default(),
    }
}

fn aggregation(step: BizStep, action: Action, parent: Epc, children: Vec<Epc>, at: &str) -> Event {
    let mut b = body(step, children, at, "acme");
    b.event_type = EventType::AggregationEvent;
    b.action = action;
    b.parent = Some(parent);
    Event::new(b)
}

struct World {
    _tmp: tempfile::TempDir,
    ledger: Ledger,
    key: SigningKey,
}

/// A service partner's device. Drills D1..D6 and batteries P1..P6 were made on 2026-01-01;
/// D1 was sold on 2026-02-01 by a shop.
fn world() -> World {
    let tmp = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(tmp.path()).unwrap();
    ledger.set_recorder(&by("svc")).unwrap();
    let key = SigningKey::from_bytes(&[7; 32]);
    ledger
        .set_extract(&RegistryExtract {
            version: 1,
            orgs: vec![],
            products: vec![
                Product {
                    gtin: drill().to_string(),
                    name: "Drill".into(),
                    warranty_months: 24,
                    markets: vec!["DE".into()],
                    claim_threshold: 2,
                    proprietary: None,
                },
                Product {
                    gtin: battery().to_string(),
                    name: "Battery pack".into(),
                    warranty_months: 6,
                    markets: vec!["DE".into()],
                    claim_threshold: 3,
                    proprietary: None,
                },
            ],
            issuer_keys: vec![IssuerKey {
                id: "k".into(),
                public_key: STANDARD.encode(key.verifying_key().to_bytes()),
            }],
            recalls: vec![Recall {
                gtin: drill().to_string(),
                lot: Some("BAD".into()),
                reason: "chuck may loosen".into(),
            }],
            alerts: vec![],
        })
        .unwrap();
    let mut made: Vec<Epc> = (1..=6).map(|i| unit(&drill(), &format!("D{i}"))).collect();
    made.extend((1..=6).map(|i| unit(&battery(), &format!("P{i}"))));
    let mut commissioning = body(
        BizStep::Commissioning,
        made,
        "2026-01-01T08:00:00+01:00",
        "acme",
    );
    commissioning.action = Action::Add;
    let mut sale = body(
        BizStep::RetailSelling,
        vec![unit(&drill(), "D1")],
        "2026-02-01T12:00:00+01:00",
        "shop",
    );
    sale.disposition = Some(Disposition::RetailSold);
    ledger
        .store_events(&[Event::new(commissioning), Event::new(sale)], false)
        .unwrap();
    World {
        _tmp: tmp,
        ledger,
        key,
    }
}

impl World {
    fn signed(&self, serial: &str, signer: &SigningKey) -> String {
        let sig = URL_SAFE_NO_PAD.encode(
            signer
                .sign(&signed_payload(drill().as_str(), serial))
                .to_bytes(),
        );
        element_string(&[("01", drill().as_str()), ("21", serial), ("8030", &sig)])
    }

    fn claim(&mut self, code: &str, defect: &str, at: &str) -> ClaimOutcome {
        self.ledger
            .claim_warranty(code, defect, None, t(at))
            .unwrap()
            .validation
            .outcome
    }

    fn state(&self, code: &str) -> State {
        self.ledger
            .history(code, t("2026-12-31T00:00:00Z"))
            .unwrap()
            .custody
            .state
    }
}

#[test]
fn warranty_registration_and_claim_validation() {
    let mut w = world();
    let before = w.ledger.event_count().unwrap();
    let at = "2026-03-01T10:00:00+01:00";
    assert_eq!(
        w.claim(&d("D2"), "battery fault", at),
        ClaimOutcome::NotSoldOrRegistered
    );
    assert_eq!(
        w.ledger.event_count().unwrap(),
        before + 1,
        "a rejected claim is still recorded"
    );
    let r = w
        .ledger
        .register_warranty(&d("D2"), "Ann Example", t("2026-03-02T10:00:00+01:00"))
        .unwrap();
    let cover = r.history.warranty.unwrap();
    assert_eq!(cover.starts_at.as_str(), "registration");
    assert_eq!(cover.registered_owner.as_deref(), Some("Ann Example"));
    assert_eq!(r.history.custody.owner.as_deref(), Some("Ann Example"));
    let at = "2026-03-03T10:00:00+01:00";
    assert_eq!(w.claim(&d("D2"), "Battery  fault", at), ClaimOutcome::Valid);
    assert_eq!(
        w.claim(&d("D2"), "battery fault", "2026-03-04T10:00:00+01:00"),
        ClaimOutcome::DuplicateDefect
    );
    assert_eq!(
        w.claim(&d("D2"), "motor noise", "2026-03-05T10:00:00+01:00"),
        ClaimOutcome::OverThreshold
    );
    let h = w.ledger.history(&d("D2"), t(at)).unwrap();
    let outcomes: Vec<&str> = h
        .claims
        .iter()
        .map(|c| c.validation.outcome.as_str())
        .collect();
    assert_eq!(
        outcomes,
        [
            "not_sold_or_registered",
            "valid",
            "duplicate_defect",
            "over_threshold"
        ]
    );

    // D1 was sold on 2026-02-01: covered for 24 months.
    assert_eq!(
        w.claim(&d("D1"), "switch", "2028-01-31T10:00:00+01:00"),
        ClaimOutcome::Valid
    );
    let late = w
        .ledger
        .claim_warranty(&d("D1"), "chuck", None, t("2028-02-02T10:00:00+01:00"))
        .unwrap();
    assert_eq!(late.validation.outcome, ClaimOutcome::OutOfPeriod);
    assert!(
        late.validation.reason.contains("ended on 2028-02-01"),
        "{}",
        late.validation.reason
    );

    // A signature that verifies confirms the unit; one that does not makes it counterfeit.
    let genuine = w.signed("D1", &w.key.clone());
    let v = w
        .ledger
        .claim_warranty(&genuine, "trigger", None, t(at))
        .unwrap()
        .validation;
    assert_eq!((v.outcome, v.provisional), (ClaimOutcome::Valid, false));
    let forged = w.signed("D1", &SigningKey::from_bytes(&[8; 32]));
    assert_eq!(w.claim(&forged, "trigger", at), ClaimOutcome::NotGenuine);

    let err = w
        .ledger
        .claim_warranty(&d("D2"), "  ", None, t(at))
        .unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err}");
    let err = w
        .ledger
        .register_warranty(&format!("00{}", sscc(1)), "Ann", t(at))
        .unwrap_err();
    assert!(err.to_string().contains("logistic unit"), "{err}");
}

/// A unit returned, refurbished and sold again is covered anew from the resale; its claims stay
/// with the serial.
#[test]
fn a_refurbished_unit_sold_again_is_covered_from_the_resale() {
    let mut w = world();
    let sell = |w: &mut World, serial: &str, at: &str| {
        let v = w
            .ledger
            .scan(&d(serial), Step::RetailSelling, None, t(at))
            .unwrap();
        assert_eq!(v.verdict, VerdictKind::Provisional, "{}", v.reason);
    };
    sell(&mut w, "D3", "2026-02-10T10:00:00+01:00");
    w.ledger
        .register_warranty(&d("D3"), "Ann Example", t("2026-02-11T10:00:00+01:00"))
        .unwrap();
    assert_eq!(
        w.claim(&d("D3"), "motor noise", "2026-05-01T10:00:00+02:00"),
        ClaimOutcome::Valid
    );
    let r = w
        .ledger
        .return_unit(
            &d("D3"),
            ReturnOutcome::Refurbished,
            t("2027-01-10T10:00:00+01:00"),
        )
        .unwrap();
    // In stock, refurbished: the last cover still stands.
    let cover = r.history.warranty.unwrap();
    assert_eq!(cover.starts_at.as_str(), "sale");
    assert!(cover.start.starts_with("2026-02-10"), "{cover:?}");
    assert_eq!(cover.registered_owner.as_deref(), Some("Ann Example"));
    assert_eq!(cover.renewed_after, None);

    // Sold again after the first cover ran out: a new 24 months from the resale.
    sell(&mut w, "D3", "2028-03-01T10:00:00+01:00");
    let h = w
        .ledger
        .history(&d("D3"), t("2028-03-02T10:00:00+01:00"))
        .unwrap();
    let cover = h.warranty.unwrap();
    assert_eq!(cover.starts_at.as_str(), "sale");
    assert!(cover.start.starts_with("2028-03-01"), "{cover:?}");
    assert!(cover.end.starts_with("2030-03-01"), "{cover:?}");
    assert!(cover.in_period);
    assert_eq!(
        cover.registered_owner, None,
        "the earlier owner's registration does not carry over"
    );
    assert!(
        cover
            .renewed_after
            .as_deref()
            .is_some_and(|t| t.starts_with("2027-01-10")),
        "{cover:?}"
    );
    // The new owner registers; the cover still runs from the resale.
    let cover = w
        .ledger
        .register_warranty(&d("D3"), "Max Muster", t("2028-03-05T10:00:00+01:00"))
        .unwrap()
        .history
        .warranty
        .unwrap();
    assert_eq!(cover.registered_owner.as_deref(), Some("Max Muster"));
    assert!(cover.start.starts_with("2028-03-01"), "{cover:?}");

    // The same defect under the new cover is a new claim; the count is the serial's.
    assert_eq!(
        w.claim(&d("D3"), "motor noise", "2029-01-01T10:00:00+01:00"),
        ClaimOutcome::Valid
    );
    assert_eq!(
        w.claim(&d("D3"), "switch", "2029-02-01T10:00:00+01:00"),
        ClaimOutcome::OverThreshold
    );
    let late = w
        .ledger
        .claim_warranty(&d("D3"), "chuck", None, t("2030-03-02T10:00:00+01:00"))
        .unwrap();
    assert_eq!(late.validation.outcome, ClaimOutcome::OutOfPeriod);
    assert!(
        late.validation.reason.contains("ended on 2030-03-01")
            && late.validation.reason.contains("taken back on 2027-01-10"),
        "{}",
        late.validation.reason
    );
    let outcomes: Vec<&str> = late
        .history
        .claims
        .iter()
        .map(|c| c.validation.outcome.as_str())
        .collect();
    assert_eq!(
        outcomes,
        ["valid", "valid", "over_threshold", "out_of_period"],
        "every claim, each judged as of its time"
    );

    // A plain return, sold again: covered from the resale too.
    sell(&mut w, "D4", "2026-02-10T10:00:00+01:00");
    w.ledger
        .scan(
            &d("D4"),
            Step::Returning,
            None,
            t("2026-02-20T10:00:00+01:00"),
        )
        .unwrap();
    sell(&mut w, "D4", "2026-04-01T10:00:00+02:00");
    let cover = w
        .ledger
        .history(&d("D4"), t("2026-04-02T10:00:00+02:00"))
        .unwrap()
        .warranty
        .unwrap();
    assert!(cover.start.starts_with("2026-04-01"), "{cover:?}");
    assert!(
        cover
            .renewed_after
            .as_deref()
            .is_some_and(|t| t.starts_with("2026-02-20")),
        "{cover:?}"
    );
    // Refurbished before it was ever sold: the first sale is simply its first cover.
    w.ledger
        .return_unit(
            &d("D5"),
            ReturnOutcome::Refurbished,
            t("2026-02-01T10:00:00+01:00"),
        )
        .unwrap();
    sell(&mut w, "D5", "2026-03-01T10:00:00+01:00");
    let cover = w
        .ledger
        .history(&d("D5"), t("2026-03-02T10:00:00+01:00"))
        .unwrap()
        .warranty
        .unwrap();
    assert!(cover.start.starts_with("2026-03-01"), "{cover:?}");
    assert_eq!(cover.renewed_after, None);
}

#[test]
fn repairs_record_part_genealogy() {
    let mut w = world();
    let r = w
        .ledger
        .record_repair(
            &d("D1"),
            &[p("P1")],
            &[],
            Some("WO-1"),
            t("2026-04-01T10:00:00+02:00"),
        )
        .unwrap();
    assert_eq!(
        r.events.len(),
        2,
        "a repairing event and an installing aggregation"
    );
    let parts: Vec<&str> = r.history.parts.iter().map(|x| x.epc.as_str()).collect();
    assert_eq!(parts, [unit(&battery(), "P1").uri()]);
    assert_eq!(r.history.service.len(), 1);
    assert_eq!(r.history.service[0].order, "WO-1");
    assert_eq!(r.history.custody.state, State::InService);

    let p1 = w
        .ledger
        .history(&p("P1"), t("2026-04-02T00:00:00Z"))
        .unwrap();
    assert_eq!(p1.custody.state, State::Installed);
    assert_eq!(p1.custody.installed_in, Some(unit(&drill(), "D1").uri()));
    assert_eq!(p1.custody.custodian.as_deref(), Some("svc"));
    assert_eq!(p1.fitted_into.len(), 1);

    // The battery is swapped: P1 out, P2 in.
    let r = w
        .ledger
        .record_repair(
            &d("D1"),
            &[p("P2")],
            &[p("P1")],
            None,
            t("2026-05-01T10:00:00+02:00"),
        )
        .unwrap();
    assert_eq!(r.events.len(), 3);
    let parts: Vec<&str> = r.history.parts.iter().map(|x| x.label.as_str()).collect();
    assert_eq!(parts, [format!("GTIN {} serial P2", battery())]);
    let service: Vec<(usize, usize)> = r
        .history
        .service
        .iter()
        .map(|s| (s.parts_in.len(), s.parts_out.len()))
        .collect();
    assert_eq!(service, [(1, 0), (1, 1)]);
    assert!(r.history.service[1].order.starts_with("R-"));
    let p1 = w
        .ledger
        .history(&p("P1"), t("2026-05-02T00:00:00Z"))
        .unwrap();
    assert_eq!(p1.custody.state, State::HeldByPartner);
    assert_eq!(p1.custody.installed_in, None);
    assert!(p1.fitted_into[0].removed.is_some());

    // P1 goes into D3; P2 cannot, it is in D1.
    w.ledger
        .record_repair(
            &d("D3"),
            &[p("P1")],
            &[],
            None,
            t("2026-05-03T10:00:00+02:00"),
        )
        .unwrap();
    let p1 = w
        .ledger
        .history(&p("P1"), t("2026-05-04T00:00:00Z"))
        .unwrap();
    let hosts: Vec<&str> = p1.fitted_into.iter().map(|f| f.unit.as_str()).collect();
    assert_eq!(
        hosts,
        [unit(&drill(), "D1").uri(), unit(&drill(), "D3").uri()]
    );
    let refuse = |w: &mut World, unit_code: &str, part_in: &str, part_out: &str, expect: &str| {
        let ins: Vec<String> = [part_in]
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| s.to_string())
            .collect();
        let outs: Vec<String> = [part_out]
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| s.to_string())
            .collect();
        let before = w.ledger.event_count().unwrap();
        let err = w
            .ledger
            .record_repair(unit_code, &ins, &outs, None, t("2026-05-05T10:00:00+02:00"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(expect), "{err:?} lacks {expect:?}");
        assert_eq!(
            w.ledger.event_count().unwrap(),
            before,
            "a refused repair stores nothing"
        );
    };
    refuse(
        &mut w,
        &d("D3"),
        &p("P2"),
        "",
        "record its removal there first",
    );
    refuse(
        &mut w,
        &d("D3"),
        &p("P1"),
        "",
        "already fitted in this unit",
    );
    refuse(&mut w, &d("D3"), &d("D3"), "", "cannot be a part of itself");
    refuse(
        &mut w,
        &d("D3"),
        &p("P3"),
        &p("P3"),
        "both fitted and removed",
    );
    refuse(
        &mut w,
        &d("D3"),
        &format!("00{}", sscc(1)),
        "",
        "not a serialised unit",
    );
    refuse(&mut w, &d("D3"), "garbage", "", "");

    // A part ends with the unit it is fitted into.
    w.ledger
        .return_unit(
            &d("D3"),
            ReturnOutcome::Scrapped,
            t("2026-06-01T10:00:00+02:00"),
        )
        .unwrap();
    assert_eq!(w.state(&p("P1")), State::Destroyed);
    assert_eq!(w.state(&p("P2")), State::Installed);
}

#[test]
fn returns_refurbish_or_end_a_unit() {
    let mut w = world();
    w.ledger
        .record_repair(
            &d("D1"),
            &[p("P1")],
            &[],
            None,
            t("2026-03-01T10:00:00+01:00"),
        )
        .unwrap();
    let r = w
        .ledger
        .return_unit(
            &d("D1"),
            ReturnOutcome::Refurbished,
            t("2026-04-01T10:00:00+02:00"),
        )
        .unwrap();
    assert_eq!(r.events.len(), 2, "the return receipt and the refurbishing");
    let h = r.history;
    assert_eq!(h.custody.state, State::Refurbished);
    assert_eq!(h.epc, unit(&drill(), "D1").uri(), "it keeps its serial");
    assert_eq!(h.parts.len(), 1, "and its parts");
    let refurbished: Vec<bool> = h.service.iter().map(|s| s.refurbished).collect();
    assert_eq!(refurbished, [false, true]);
    let steps: Vec<&str> = h.custody.chain.iter().map(|l| l.step.as_str()).collect();
    assert_eq!(
        steps,
        [
            "commissioning",
            "retail_selling",
            "repairing",
            "receiving",
            "repairing"
        ]
    );
    // Refurbished units can be sold again.
    let v = w
        .ledger
        .scan(
            &d("D1"),
            Step::RetailSelling,
            None,
            t("2026-04-02T10:00:00+02:00"),
        )
        .unwrap();
    assert_eq!(v.verdict, VerdictKind::Provisional, "{}", v.reason);

    // A unit taken back as returned by a scan is not received twice.
    w.ledger
        .scan(
            &d("D4"),
            Step::Returning,
            None,
            t("2026-04-01T09:00:00+02:00"),
        )
        .unwrap();
    let r = w
        .ledger
        .return_unit(
            &d("D4"),
            ReturnOutcome::Scrapped,
            t("2026-04-01T10:00:00+02:00"),
        )
        .unwrap();
    assert_eq!(r.events.len(), 1);
    assert_eq!(r.history.custody.state, State::Destroyed);
    assert!(r.history.custody.ended_by.is_some());
    // Its life has ended: a code seen after is a clone, whatever the step.
    for step in [Step::RetailSelling, Step::Returning, Step::Receiving] {
        let v = w
            .ledger
            .scan(&d("D4"), step, None, t("2026-05-01T10:00:00+02:00"))
            .unwrap();
        assert_eq!(v.verdict, VerdictKind::AlreadySold, "{step:?}");
        assert!(
            v.reason.contains("scrapped or destroyed on 2026-04-01"),
            "{}",
            v.reason
        );
    }
    let h = w
        .ledger
        .history(&d("D4"), t("2026-05-02T00:00:00Z"))
        .unwrap();
    assert_eq!(h.custody.state, State::Destroyed);
    assert_eq!(h.custody.after_end.len(), 3);
    assert!(h.warranty.is_some_and(|c| !c.in_period));
}

#[test]
fn counterfeit_reports_keep_a_note_and_a_photo_record() {
    let mut w = world();
    let photo = Photo::of_bytes(Text::parse("IMG_0042.jpg").unwrap(), b"jpeg bytes");
    let r = w
        .ledger
        .report_counterfeit(
            &d("D5"),
            "hologram missing, font wrong",
            Some(photo),
            t("2026-03-01T10:00:00+01:00"),
        )
        .unwrap();
    let report = &r.history.counterfeit_reports[0];
    assert_eq!(report.note, "hologram missing, font wrong");
    assert_eq!(report.photo.as_deref(), Some("IMG_0042.jpg"));
    let expected = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"jpeg bytes"));
    assert_eq!(report.photo_sha256.as_deref(), Some(expected.as_str()));
    assert_eq!(r.history.custody.state, State::Issued);
    assert_eq!(
        r.history.custody.chain[1].detail.as_deref(),
        Some("counterfeit_report")
    );
    let err = w
        .ledger
        .report_counterfeit(&d("D5"), "", None, t("2026-03-01T10:00:00+01:00"))
        .unwrap_err();
    assert!(err.to_string().contains("note is empty"), "{err}");
}

#[test]
fn corrections_retract_an_event_without_editing_it() {
    let mut w = world();
    let sale = w
        .ledger
        .scan(
            &d("D2"),
            Step::RetailSelling,
            None,
            t("2026-03-01T10:00:00+01:00"),
        )
        .unwrap();
    assert_eq!(w.state(&d("D2")), State::SoldToConsumer);
    let before = w.ledger.event_count().unwrap();
    let c = w
        .ledger
        .declare_error(
            sale.event.as_deref().unwrap(),
            Some(ErrorReason::DidNotOccur),
            &[],
            t("2026-03-01T10:05:00+01:00"),
        )
        .unwrap();
    assert_eq!(c.declared, sale.event.clone().unwrap());
    assert_eq!(
        w.ledger.event_count().unwrap(),
        before + 1,
        "a new event, nothing edited"
    );
    let h = w
        .ledger
        .history(&d("D2"), t("2026-03-02T00:00:00Z"))
        .unwrap();
    assert_eq!(h.custody.state, State::Issued);
    assert_eq!(h.corrections.len(), 1);
    assert_eq!(h.corrections[0].reason.as_deref(), Some("did_not_occur"));
    assert_eq!(h.warranty.unwrap().starts_at.as_str(), "manufacture");
    // The unit may be sold now: the retracted sale does not make it a clone.
    let again = w
        .ledger
        .scan(
            &d("D2"),
            Step::RetailSelling,
            None,
            t("2026-03-02T10:00:00+01:00"),
        )
        .unwrap();
    assert_eq!(again.verdict, VerdictKind::Provisional, "{}", again.reason);

    let err = |w: &mut World, id: &str| {
        w.ledger
            .declare_error(id, None, &[], t("2026-03-03T10:00:00+01:00"))
            .unwrap_err()
            .to_string()
    };
    assert!(err(&mut w, sale.event.as_deref().unwrap()).contains("already declared"));
    let commissioning = w
        .ledger
        .history(&d("D2"), t("2026-03-03T00:00:00Z"))
        .unwrap()
        .custody
        .chain[0]
        .event
        .clone();
    assert!(err(&mut w, &commissioning).contains("only that organisation"));
    assert!(err(&mut w, &c.event).contains("itself an error declaration"));
    assert!(err(&mut w, "ni:///sha-256;00").contains("not found"));
}

#[test]
fn a_declaration_that_arrives_before_its_event_still_retracts_it() {
    let tmp = tempfile::tempdir().unwrap();
    let mut other = Ledger::open(tmp.path()).unwrap();
    let mut sale = body(
        BizStep::RetailSelling,
        vec![unit(&drill(), "D6")],
        "2026-03-01T10:00:00+01:00",
        "shop",
    );
    sale.disposition = Some(Disposition::RetailSold);
    let sale = Event::new(sale);
    let declaration = Event::declaring_error(
        &sale,
        custodian_ledger::event::ErrorDeclaration {
            declaration_time: t("2026-03-01T11:00:00+01:00"),
            reason: None,
            corrective_event_ids: vec![],
            declared_by: by("shop"),
        },
    );
    assert_eq!(declaration.declared_id(), Some(sale.id.clone()));
    other.store_events(&[declaration], false).unwrap();
    other
        .store_events(std::slice::from_ref(&sale), false)
        .unwrap();
    let h = other.history(&d("D6"), t("2026-03-02T00:00:00Z")).unwrap();
    assert_eq!(h.custody.state, State::Unknown);
    assert!(h.custody.chain.is_empty());
}

#[test]
fn containment_holds_only_until_unpacking() {
    let mut w = world();
    let pallet = Epc::Logistic(sscc(1));
    let (d2, d3) = (unit(&drill(), "D2"), unit(&drill(), "D3"));
    let mut ship = body(
        BizStep::Shipping,
        vec![pallet.clone()],
        "2026-01-03T08:00:00Z",
        "acme",
    );
    ship.destination = Some("svc".into());
    ship.biz_transactions = vec![BizTransaction {
        kind: "desadv".into(),
        id: "ASN-5".into(),
    }];
    let mut inspect = body(
        BizStep::Inspecting,
        vec![pallet.clone()],
        "2026-01-05T08:00:00Z",
        "acme",
    );
    inspect.disposition = Some(Disposition::Active);
    w.ledger
        .store_events(
            &[
                aggregation(
                    BizStep::Packing,
                    Action::Add,
                    pallet.clone(),
                    vec![d2.clone(), d3.clone()],
                    "2026-01-02T08:00:00Z",
                ),
                Event::new(ship),
                aggregation(
                    BizStep::Unpacking,
                    Action::Delete,
                    pallet.clone(),
                    vec![d2.clone()],
                    "2026-01-04T08:00:00Z",
                ),
                Event::new(inspect),
            ],
            false,
        )
        .unwrap();
    let steps = |code: &str| -> Vec<String> {
        w.ledger
            .history(code, t("2026-02-01T00:00:00Z"))
            .unwrap()
            .custody
            .chain
            .iter()
            .map(|l| l.step.clone())
            .collect()
    };
    assert_eq!(
        steps(&d("D2")),
        ["commissioning", "packing", "shipping", "unpacking"]
    );
    assert_eq!(
        steps(&d("D3")),
        ["commissioning", "packing", "shipping", "inspecting"]
    );
}

/// A unit unpacked from a case, and a case unpacked from a pallet, are no longer inside: the
/// pallet received afterwards receives neither, and their histories end outside it.
#[test]
fn a_unit_unpacked_before_its_pallet_is_received_is_not_received_with_it() {
    let mut w = world();
    let (pallet, case) = (Epc::Logistic(sscc(7)), Epc::Logistic(sscc(8)));
    let (d2, d3, d4) = (
        unit(&drill(), "D2"),
        unit(&drill(), "D3"),
        unit(&drill(), "D4"),
    );
    let mut ship = body(
        BizStep::Shipping,
        vec![pallet.clone()],
        "2026-01-03T08:00:00Z",
        "acme",
    );
    ship.source = Some("acme".into());
    ship.destination = Some("svc".into());
    ship.biz_transactions = vec![BizTransaction {
        kind: "desadv".into(),
        id: "ASN-7".into(),
    }];
    w.ledger
        .store_events(
            &[
                aggregation(
                    BizStep::Packing,
                    Action::Add,
                    case.clone(),
                    vec![d2.clone(), d3.clone()],
                    "2026-01-02T08:00:00Z",
                ),
                aggregation(
                    BizStep::Packing,
                    Action::Add,
                    pallet.clone(),
                    vec![case.clone(), d4.clone()],
                    "2026-01-02T08:10:00Z",
                ),
                aggregation(
                    BizStep::Unpacking,
                    Action::Delete,
                    case.clone(),
                    vec![d2.clone()],
                    "2026-01-02T09:00:00Z",
                ),
                aggregation(
                    BizStep::Unpacking,
                    Action::Delete,
                    pallet.clone(),
                    vec![d4.clone()],
                    "2026-01-02T09:10:00Z",
                ),
                Event::new(ship),
            ],
            false,
        )
        .unwrap();
    let conn = custodian_ledger::store::open(&w._tmp.path().join("ledger.sqlite")).unwrap();
    let inside = |epc: &Epc| custodian_ledger::store::containers(&conn, epc).unwrap();
    assert_eq!(inside(&d3), [pallet.clone(), case.clone()]);
    assert_eq!(inside(&case), std::slice::from_ref(&pallet));
    assert!(inside(&d2).is_empty(), "{:?}", inside(&d2));
    assert!(inside(&d4).is_empty(), "{:?}", inside(&d4));

    let v = w
        .ledger
        .scan(
            &format!("00{}", sscc(7)),
            Step::Receiving,
            Some("ASN-7"),
            t("2026-01-05T10:00:00+01:00"),
        )
        .unwrap();
    assert_eq!(v.verdict, VerdictKind::Ok, "{}", v.reason);
    let p = w.ledger.manifest("ASN-7").unwrap().progress;
    assert_eq!((p.expected, p.scanned), (1, 1), "{p:?}");
    assert!(p.is_clean(), "{p:?}");
    for (serial, received) in [("D2", false), ("D3", true), ("D4", false)] {
        let h = w
            .ledger
            .history(&d(serial), t("2026-02-01T00:00:00Z"))
            .unwrap();
        let steps: Vec<&str> = h.custody.chain.iter().map(|l| l.step.as_str()).collect();
        assert_eq!(
            steps.contains(&"receiving"),
            received,
            "{serial}: {steps:?}"
        );
        assert_eq!(
            steps.last() == Some(&"unpacking"),
            !received,
            "{serial}: {steps:?}"
        );
        assert_eq!(
            h.custody.custodian.as_deref() == Some("svc"),
            received,
            "{serial}: {:?}",
            h.custody
        );
    }
    // Unpacked from the case and packed again into another: inside that one only.
    let other = Epc::Logistic(sscc(9));
    w.ledger
        .store_events(
            &[aggregation(
                BizStep::Packing,
                Action::Add,
                other.clone(),
                vec![d2.clone()],
                "2026-01-06T08:00:00Z",
            )],
            false,
        )
        .unwrap();
    assert_eq!(inside(&d2), [other]);
}

#[test]
fn manifests_count_expired_and_recalled_receipts_and_record_discrepancies_at_closing() {
    let mut w = world();
    let units: Vec<Epc> = ["D2", "D3", "D4"]
        .iter()
        .map(|s| unit(&drill(), s))
        .collect();
    let mut ship = body(BizStep::Shipping, units, "2026-01-03T08:00:00Z", "acme");
    ship.destination = Some("svc".into());
    ship.source = Some("acme".into());
    ship.biz_transactions = vec![BizTransaction {
        kind: "desadv".into(),
        id: "ASN-9".into(),
    }];
    w.ledger.store_events(&[Event::new(ship)], false).unwrap();
    let now = t("2026-06-01T10:00:00+02:00");
    let scans = [
        (
            format!("01{}17260101{GS}21D2", drill()),
            VerdictKind::Expired,
        ),
        (format!("01{}10BAD{GS}21D3", drill()), VerdictKind::Recalled),
    ];
    for (raw, expect) in &scans {
        let v = w
            .ledger
            .scan(raw, Step::Receiving, Some("ASN-9"), now)
            .unwrap();
        assert_eq!(v.verdict, *expect, "{}", v.reason);
    }
    let m = w.ledger.manifest("ASN-9").unwrap();
    let p = &m.progress;
    assert_eq!((p.expected, p.scanned), (3, 2));
    assert_eq!(p.expired, [unit(&drill(), "D2").uri()]);
    assert_eq!(p.recalled, [unit(&drill(), "D3").uri()]);
    assert_eq!(p.discrepancy_note(), "1 missing, 1 expired, 1 recalled");

    let err = w.ledger.close_manifest("ASN-9", now).unwrap_err();
    assert!(err.to_string().contains("no working document"), "{err}");
    let id = docs::manifest_doc_id("acme", "ASN-9");
    w.ledger
        .save_doc(&id, &mut docs::new_manifest_doc("ASN-9", b"hub").unwrap())
        .unwrap();
    let closed = w.ledger.close_manifest("ASN-9", now).unwrap();
    assert_eq!(closed.status, custodian_ledger::ManifestStatus::Closed);
    assert_eq!(closed.closed_at, Some(now.to_rfc3339()));
    assert_eq!(
        closed.closing_note.as_deref(),
        Some("1 missing, 1 expired, 1 recalled")
    );
    let kept = closed.discrepancies.unwrap();
    assert_eq!(kept.missing, [unit(&drill(), "D4").uri()]);
    assert_eq!(kept, closed.progress);
}
