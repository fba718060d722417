//! Proprietary serials on a device: a product that declares its own serial pattern in the
//! registry extract has its units scanned, recorded and judged like GS1 units, under their
//! `urn:custodian:unit:` EPC; and that EPC's URI reads back to the same unit.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use chrono::{DateTime, FixedOffset};
use custodian_ledger::epcis::epc_from_uri;
use custodian_ledger::extract::{Alert, Product, Recall, RegistryExtract};
use custodian_ledger::{Epc, Ledger, Recorder, Step, VerdictKind};
use custodian_scanner::{ProprietaryFormat, check_digit};
#[path = "../../scanner/tests/support/seeded.rs"]
mod seeded;

use proptest::prelude::*;

proptest! {
    #![proptest_config(seeded::seeded(256))]

    /// Any product code and serial (any characters, `:` and `%` included) make a URI that
    /// parses back to the same unit, on its own, through JSON and through EPCIS import.
    #[test]
    fn proprietary_epc_uri_round_trips(product in "\\PC{1,24}", serial in "\\PC{1,40}") {
        let epc = Epc::Proprietary { product, serial };
        let uri = epc.uri();
        prop_assert!(uri.starts_with("urn:custodian:unit:"));
        prop_assert_eq!(uri.matches(':').count(), 4, "{}", uri);
        prop_assert_eq!(Epc::parse(&uri).unwrap(), epc.clone());
        prop_assert_eq!(epc_from_uri(&uri).unwrap(), epc.clone());
        let json = serde_json::to_string(&epc).unwrap();
        prop_assert_eq!(serde_json::from_str::<Epc>(&json).unwrap(), epc);
    }
}

const CODE: &str = "ACME-TW";

fn t(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

fn wrench_gtin() -> String {
    let d = "0401234500003";
    format!("{d}{}", check_digit(d))
}

fn extract(alerts: Vec<Alert>, recalls: Vec<Recall>) -> RegistryExtract {
    RegistryExtract {
        version: 1,
        orgs: vec![],
        products: vec![Product {
            gtin: wrench_gtin(),
            name: "Torque wrench TW-200".into(),
            warranty_months: 24,
            markets: vec!["DE".into()],
            claim_threshold: 3,
            proprietary: Some(ProprietaryFormat::new(CODE, r"TW-(\d{8})").unwrap()),
        }],
        issuer_keys: vec![],
        recalls,
        alerts,
    }
}

fn device() -> (tempfile::TempDir, Ledger) {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(tmp.path()).unwrap();
    ledger
        .set_recorder(&Recorder {
            org: "retail-berlin".into(),
            site: "store".into(),
            device: "till-1".into(),
        })
        .unwrap();
    ledger.set_extract(&extract(vec![], vec![])).unwrap();
    (tmp, ledger)
}

fn wrench(serial: &str) -> Epc {
    Epc::Proprietary {
        product: CODE.into(),
        serial: serial.into(),
    }
}

#[test]
fn a_proprietary_unit_is_scanned_recorded_and_judged() {
    let (_tmp, mut ledger) = device();
    let at = t("2026-11-10T10:00:00+01:00");

    // Nothing known against it: provisional, as an unissued GS1 serial is on a device.
    let v = ledger
        .scan("TW-00012345\r\n", Step::Inspecting, None, at)
        .unwrap();
    assert_eq!(v.verdict, VerdictKind::Provisional, "{}", v.reason);
    assert_eq!(v.epc.as_deref(), Some(wrench("00012345").uri().as_str()));
    assert_eq!(v.label.as_deref(), Some("product ACME-TW serial 00012345"));
    assert_eq!(v.product.as_deref(), Some("Torque wrench TW-200"));
    assert!(v.reason.contains("Torque wrench TW-200"), "{}", v.reason);
    assert!(v.event.is_some());

    // Sold, then its code seen at a till again: a clone.
    let sale = ledger
        .scan(
            "TW-00012345",
            Step::RetailSelling,
            None,
            t("2026-11-10T10:05:00+01:00"),
        )
        .unwrap();
    assert_eq!(sale.verdict, VerdictKind::Provisional, "{}", sale.reason);
    let again = ledger
        .scan(
            "TW-00012345",
            Step::RetailSelling,
            None,
            t("2026-11-10T10:06:00+01:00"),
        )
        .unwrap();
    assert_eq!(again.verdict, VerdictKind::AlreadySold, "{}", again.reason);

    // Its biography: the events named the proprietary EPC, and the product's warranty applies.
    let h = ledger
        .history("TW-00012345", t("2026-11-11T10:00:00+01:00"))
        .unwrap();
    assert_eq!(h.epc, wrench("00012345").uri());
    assert_eq!(h.product.as_deref(), Some("Torque wrench TW-200"));
    assert_eq!(
        h.custody.state,
        custodian_ledger::custody::State::SoldToConsumer
    );
    assert_eq!(h.warranty.map(|w| w.months), Some(24));

    // After-sales actions read the code the same way.
    let claim = ledger
        .claim_warranty(
            "TW-00012345",
            "ratchet",
            None,
            t("2026-11-12T10:00:00+01:00"),
        )
        .unwrap();
    assert_eq!(claim.history.claims.len(), 1);

    // Text no pattern and no GS1 reading explains stays unreadable, and records nothing.
    let v = ledger.scan("TW-1234", Step::Inspecting, None, at).unwrap();
    assert_eq!(v.verdict, VerdictKind::Unreadable, "{}", v.reason);
    assert_eq!(v.event, None);
}

#[test]
fn the_alert_and_recall_lists_apply_to_proprietary_units() {
    let (_tmp, mut ledger) = device();
    let at = t("2026-11-10T10:00:00+01:00");
    ledger
        .set_extract(&extract(
            vec![Alert {
                epc: wrench("00000666").uri(),
                reason: "seized in customs".into(),
            }],
            vec![Recall {
                gtin: wrench_gtin(),
                lot: None,
                reason: "ratchet slips".into(),
            }],
        ))
        .unwrap();
    let fake = ledger
        .scan("TW-00000666", Step::Inspecting, None, at)
        .unwrap();
    assert_eq!(
        fake.verdict,
        VerdictKind::ReportedCounterfeit,
        "{}",
        fake.reason
    );
    let recalled = ledger
        .scan("TW-00000001", Step::Inspecting, None, at)
        .unwrap();
    assert_eq!(
        recalled.verdict,
        VerdictKind::Recalled,
        "{}",
        recalled.reason
    );
    assert!(
        recalled.reason.contains("ratchet slips"),
        "{}",
        recalled.reason
    );
}

#[test]
fn without_a_declared_pattern_the_text_is_unreadable() {
    let (_tmp, mut ledger) = device();
    ledger.set_extract(&RegistryExtract::default()).unwrap();
    let v = ledger
        .scan(
            "TW-00012345",
            Step::Inspecting,
            None,
            t("2026-11-10T10:00:00+01:00"),
        )
        .unwrap();
    assert_eq!(v.verdict, VerdictKind::Unreadable, "{}", v.reason);
}

#[test]
fn an_order_line_picks_proprietary_units_by_their_products_gtin() {
    let (_tmp, mut ledger) = device();
    let mut x = extract(vec![], vec![]);
    x.orgs.push(custodian_ledger::extract::Org {
        id: "retail-hamburg".into(),
        name: "Werkzeug Hamburg".into(),
        role: "retailer".into(),
        market: "DE".into(),
        gln: "4012345000009".into(),
    });
    ledger.set_extract(&x).unwrap();
    ledger
        .import_orders_csv(&format!(
            "order,to,gtin,quantity\nSO-7,retail-hamburg,{},1\n",
            wrench_gtin()
        ))
        .unwrap();
    let at = t("2026-11-10T10:00:00+01:00");
    let picked = ledger
        .scan("TW-00000001", Step::Shipping, Some("SO-7"), at)
        .unwrap();
    assert_eq!(picked.verdict, VerdictKind::Ok, "{}", picked.reason);
    assert!(picked.event.is_some());
    let order = ledger.order("SO-7").unwrap();
    assert_eq!(order.lines[0].picked, 1);
    assert_eq!(order.units, vec![wrench("00000001").uri()]);
    let more = ledger
        .scan("TW-00000002", Step::Shipping, Some("SO-7"), at)
        .unwrap();
    assert_eq!(more.verdict, VerdictKind::NotOnManifest, "{}", more.reason);
    assert!(more.reason.contains("needs no more"), "{}", more.reason);
}
