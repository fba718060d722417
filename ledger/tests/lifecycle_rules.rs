//! The after-sales rules, one case per line: custody states, warranty cover and claim
//! validation, each folded from a unit's events written as a short script.
//!
//! A script is words separated by spaces, one event each, a day apart (`wait:N` skips N days):
//! `made` (commissioning by acme), `ship:ORG`, `recv@ORG`, `sell@ORG`, `reg:OWNER`,
//! `repair@ORG`, `return@ORG`, `refurb@ORG`, `scrap@ORG`, `claim:DEFECT` (underscores for
//! spaces), `report`, `fit:UNIT` (this unit fitted into UNIT), `remove:UNIT`, `hold:REASON`
//! (quarantine), `release:NOTE`, `holdx` (a quarantine from another EPCIS system: `holding` +
//! `non_sellable_other` without a reason).

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use chrono::{DateTime, Duration, FixedOffset};
use custodian_ledger::custody::{Custody, State};
use custodian_ledger::event::{
    Action, BizStep, Defect, Detail, Disposition, EventType, Extension, Text,
};
use custodian_ledger::extract::Product;
use custodian_ledger::warranty::{self, Genuineness};
use custodian_ledger::{Epc, Event, EventBody, Recorder};
use custodian_scanner::{Gtin, check_digit};

fn gtin() -> Gtin {
    let d = "0401234500001";
    Gtin::parse(&format!("{d}{}", check_digit(d))).unwrap()
}

fn unit(serial: &str) -> Epc {
    Epc::Unit {
        gtin: gtin(),
        serial: serial.into(),
    }
}

fn start() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-01-01T10:00:00+01:00").unwrap()
}

fn product() -> Product {
    Product {
        gtin: gtin().to_string(),
        name: "Drill".into(),
        warranty_months: 12,
        markets: vec!["DE".into()],
        claim_threshold: 3,
        proprietary: None,
    }
}

/// The events a script describes, about unit `U1`, and the time after the last one.
fn events(script: &str) -> (Vec<Event>, DateTime<FixedOffset>) {
    let u = unit("U1");
    let mut at = start();
    let mut out = Vec::new();
    for word in script.split_whitespace() {
        let (word, org) = word.split_once('@').unwrap_or((word, "acme"));
        let (verb, arg) = word.split_once(':').unwrap_or((word, ""));
        if verb == "wait" {
            at += Duration::days(arg.parse().unwrap());
            continue;
        }
        let mut b = EventBody {
            event_type: EventType::ObjectEvent,
            action: Action::Observe,
            biz_step: BizStep::Inspecting,
            disposition: None,
            event_time: at,
            epcs: vec![u.clone()],
            parent: None,
            biz_transactions: vec![],
            source: None,
            destination: None,
            recorder: Recorder {
                org: org.into(),
                site: format!("{org}-site"),
                device: format!("{org}-1"),
            },
            extension: Extension::default(),
        };
        let text = |s: &str| Text::parse(&s.replace('_', " ")).unwrap();
        match verb {
            "made" => {
                b.biz_step = BizStep::Commissioning;
                b.action = Action::Add;
                b.disposition = Some(Disposition::Active);
            }
            "ship" => {
                b.biz_step = BizStep::Shipping;
                b.disposition = Some(Disposition::InTransit);
                b.destination = Some(arg.into());
            }
            "recv" => {
                b.biz_step = BizStep::Receiving;
                b.disposition = Some(Disposition::InProgress);
                b.destination = Some(org.into());
            }
            "sell" => {
                b.biz_step = BizStep::RetailSelling;
                b.disposition = Some(Disposition::RetailSold);
            }
            "reg" => {
                b.biz_step = BizStep::Other;
                b.extension.detail = Some(Detail::WarrantyRegistration { owner: text(arg) });
            }
            "repair" => {
                b.biz_step = BizStep::Repairing;
                b.disposition = Some(Disposition::InProgress);
            }
            "return" => {
                b.biz_step = BizStep::Receiving;
                b.disposition = Some(Disposition::Returned);
            }
            "refurb" => {
                b.biz_step = BizStep::Repairing;
                b.disposition = Some(Disposition::SellableAccessible);
            }
            "scrap" => {
                b.biz_step = BizStep::Destroying;
                b.disposition = Some(Disposition::Destroyed);
            }
            "claim" => {
                b.extension.detail = Some(Detail::WarrantyClaim {
                    defect: Defect::parse(&arg.replace('_', " ")).unwrap(),
                    note: None,
                });
            }
            "report" => {
                b.disposition = Some(Disposition::NonSellableOther);
                b.extension.detail = Some(Detail::CounterfeitReport {
                    note: text("label_reprinted"),
                    photo: None,
                });
            }
            "fit" | "remove" => {
                b.event_type = EventType::AggregationEvent;
                b.parent = Some(unit(arg));
                (b.biz_step, b.action) = if verb == "fit" {
                    (BizStep::Installing, Action::Add)
                } else {
                    (BizStep::Removing, Action::Delete)
                };
            }
            "hold" | "holdx" => {
                b.biz_step = BizStep::Holding;
                b.disposition = Some(Disposition::NonSellableOther);
                if verb == "hold" {
                    b.extension.detail = Some(Detail::Quarantine { reason: text(arg) });
                }
            }
            "release" => {
                b.biz_step = BizStep::Holding;
                b.disposition = Some(Disposition::SellableAccessible);
                b.extension.detail = Some(Detail::Release { note: text(arg) });
            }
            other => panic!("unknown script word {other:?}"),
        }
        out.push(Event::new(b));
        at += Duration::days(1);
    }
    out.sort_by(Event::fold_order);
    (out, at)
}

/// `state custodian owner [in:HOST] [+N after end] [held:ORG:DAY:REASON]`.
fn custody(script: &str) -> String {
    let (events, _) = events(script);
    let c = Custody::derive(&unit("U1"), &events);
    let mut s = format!(
        "{} {} {}",
        c.state.as_str(),
        c.custodian.as_deref().unwrap_or("-"),
        c.owner.as_deref().unwrap_or("-")
    );
    if let Some(host) = &c.installed_in {
        s.push_str(&format!(" in:{}", host.rsplit('/').next().unwrap()));
    }
    if !c.after_end.is_empty() {
        s.push_str(&format!(" +{} after end", c.after_end.len()));
    }
    if let Some(q) = &c.quarantine {
        s.push_str(&format!(" held:{}:{}:{}", q.org, q.date(), q.reason));
    }
    assert_eq!(c.chain.len(), events.len(), "every event is in the chain");
    s
}

#[test]
fn custody_states() {
    let check = |script: &str, expect: &str| {
        assert_eq!(custody(script), expect, "script: {script}");
    };
    check("", "unknown - -");
    check("made", "issued acme acme");
    check("made ship:dist-a", "in_transit acme acme");
    check(
        "made ship:dist-a recv@dist-a",
        "held_by_partner dist-a dist-a",
    );
    check(
        "made ship:dist-a recv@dist-a sell@dist-a",
        "sold_to_consumer consumer consumer",
    );
    check(
        "made sell@shop reg:Erika_Muster",
        "sold_to_consumer consumer Erika Muster",
    );
    check(
        "made sell@shop reg:Erika repair@svc",
        "in_service svc Erika",
    );
    check("made sell@shop return@svc", "returned svc svc");
    check(
        "made sell@shop return@svc refurb@svc",
        "refurbished svc svc",
    );
    check(
        "made sell@shop return@svc refurb@svc sell@shop",
        "sold_to_consumer consumer consumer",
    );
    check("made sell@shop return@svc scrap@svc", "destroyed svc svc");
    check(
        "made return@svc scrap@svc sell@shop claim:noise",
        "destroyed svc svc +2 after end",
    );
    check("made report@insp", "issued acme acme");
    check("made fit:HOST@svc", "installed svc acme in:HOST");
    check(
        "made fit:HOST@svc remove:HOST@svc",
        "held_by_partner svc acme",
    );
    check(
        "made fit:A@svc remove:A@svc fit:B@svc2",
        "installed svc2 acme in:B",
    );
}

#[test]
fn custody_under_quarantine() {
    let check = |script: &str, expect: &str| {
        assert_eq!(custody(script), expect, "script: {script}");
    };
    // A held unit stays where its life took it, with the same custodian.
    check(
        "made ship:dist-a recv@dist-a hold:crushed_carton@dist-a",
        "held_by_partner dist-a dist-a held:dist-a:2026-01-04:crushed carton",
    );
    check(
        "made ship:dist-a recv@dist-a hold:crushed@dist-a release:carton_only@dist-a",
        "held_by_partner dist-a dist-a",
    );
    // Shipping a held unit moves it; the hold goes with it until released.
    check(
        "made ship:dist-a recv@dist-a hold:crushed@dist-a ship:shop@dist-a",
        "in_transit dist-a dist-a held:dist-a:2026-01-04:crushed",
    );
    check(
        "made hold:a@acme release:ok@acme hold:b@insp",
        "issued acme acme held:insp:2026-01-04:b",
    );
    // A second hold while held keeps the later one's words; one release lifts it.
    check(
        "made hold:a@acme hold:b@dist-a release:ok@acme",
        "issued acme acme",
    );
    check(
        "made holdx@other",
        "issued acme acme held:other:2026-01-02:no reason recorded",
    );
    // A release with no hold before it changes nothing.
    check("made release:ok", "issued acme acme");
    // The end of a unit's life ends its hold; a hold after it is a clone's.
    check("made hold:a@acme scrap@svc", "destroyed svc acme");
    check(
        "made scrap@svc hold:a@acme",
        "destroyed svc acme +1 after end",
    );
}

#[test]
fn holds_pair_each_quarantine_with_its_release() {
    let (events, _) = events("made hold:a@acme release:fine@dist-a hold:b@insp hold:c@acme");
    let holds = custodian_ledger::quarantine::holds(&events);
    let words: Vec<String> = holds
        .iter()
        .map(|h| {
            format!(
                "{}:{}",
                h.quarantine.reason,
                h.released.as_ref().map_or("held".into(), |r| format!(
                    "{}@{}",
                    r.note.clone().unwrap(),
                    r.org
                ))
            )
        })
        .collect();
    assert_eq!(words, ["a:fine@dist-a", "b:held"]);
}

/// `starts_at start..end in_period remaining_days owner`, as of the end of the script.
fn cover(script: &str) -> String {
    let (events, now) = events(script);
    match warranty::status(Some(&product()), &events, now) {
        None => "none".into(),
        Some(w) => format!(
            "{} {}..{} {} {}d {}",
            w.starts_at.as_str(),
            &w.start[..10],
            &w.end[..10],
            if w.in_period { "covered" } else { "ended" },
            w.remaining_days,
            w.registered_owner.as_deref().unwrap_or("-")
        ),
    }
}

#[test]
fn warranty_cover() {
    let check = |script: &str, expect: &str| {
        assert_eq!(cover(script), expect, "script: {script}");
    };
    check("", "none");
    check("made", "manufacture 2026-01-01..2027-01-01 covered 364d -");
    check(
        "made wait:30 sell@shop",
        "sale 2026-02-01..2027-02-01 covered 364d -",
    );
    check(
        "made wait:30 reg:Ann",
        "registration 2026-02-01..2027-02-01 covered 364d Ann",
    );
    check(
        "made sell@shop wait:10 reg:Ann",
        "sale 2026-01-02..2027-01-02 covered 353d Ann",
    );
    check(
        "made sell@shop wait:400",
        "sale 2026-01-02..2027-01-02 ended 0d -",
    );
    check(
        "made sell@shop scrap@svc",
        "sale 2026-01-02..2027-01-02 ended 0d -",
    );
}

/// The outcome of each claim in the script, in order.
fn claims(script: &str, genuine: &Genuineness, policy: Option<&Product>) -> String {
    let (events, _) = events(script);
    warranty::claims(&unit("U1"), policy, genuine, &events)
        .iter()
        .map(|c| {
            assert!(!c.validation.reason.is_empty());
            assert_eq!(c.validation.accepted, c.validation.outcome.accepted());
            c.validation.outcome.as_str()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn claim_validation() {
    let ok = Genuineness::Confirmed;
    let p = product();
    let check = |script: &str, expect: &str| {
        assert_eq!(claims(script, &ok, Some(&p)), expect, "script: {script}");
    };
    check("made claim:battery", "not_sold_or_registered");
    check("made sell@shop claim:battery", "valid");
    check("made reg:Ann claim:battery", "valid");
    check("made sell@shop wait:365 claim:battery", "out_of_period");
    check("made sell@shop wait:362 claim:battery", "valid");
    check(
        "made sell@shop claim:battery claim:Battery",
        "valid duplicate_defect",
    );
    check(
        "made sell@shop claim:battery claim:motor_noise",
        "valid valid",
    );
    check(
        "made sell@shop claim:a claim:b claim:c claim:d",
        "valid valid valid over_threshold",
    );
    // A rejected claim does not make the next one for the same defect a duplicate.
    check(
        "made claim:battery reg:Ann claim:battery",
        "not_sold_or_registered valid",
    );
    check("made sell@shop return@svc scrap@svc claim:battery", "ended");
    assert_eq!(
        claims(
            "made sell@shop claim:battery",
            &Genuineness::Counterfeit("the AI 8030 signature does not verify".into()),
            Some(&p)
        ),
        "not_genuine"
    );
    assert_eq!(
        claims("made sell@shop claim:battery", &ok, None),
        "no_policy"
    );
    let unlimited = Product {
        claim_threshold: 0,
        ..product()
    };
    assert_eq!(
        claims(
            "made sell@shop claim:a claim:b claim:c claim:d claim:e",
            &ok,
            Some(&unlimited)
        ),
        "valid valid valid valid valid"
    );
}

#[test]
fn a_claim_without_confirmed_genuineness_is_provisional() {
    let (events, _) = events("made sell@shop claim:battery");
    let c = warranty::claims(
        &unit("U1"),
        Some(&product()),
        &Genuineness::Unconfirmed,
        &events,
    );
    assert!(c[0].validation.provisional && c[0].validation.accepted);
    assert!(
        c[0].validation
            .reason
            .contains("\"battery\" is covered until 2027-01-02")
    );
}

#[test]
fn the_fold_order_does_not_depend_on_arrival() {
    // A return and the scrapping it led to, recorded at one instant, arriving either way.
    let (mut events, _) = events("made sell@shop return@svc scrap@svc");
    let t = events[2].body.event_time;
    let mut scrap = events[3].clone();
    scrap.body.event_time = t;
    let scrap = Event::new(scrap.body);
    events[3] = scrap;
    let forward = Custody::derive(&unit("U1"), &events);
    events.swap(2, 3);
    events.sort_by(Event::fold_order);
    assert_eq!(Custody::derive(&unit("U1"), &events), forward);
    assert_eq!(forward.state, State::Destroyed);
}
