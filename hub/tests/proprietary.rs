//! A product with its own serial format, from the registry to a device: the declared pattern
//! travels in the registry extract (whole and as a change), a device that synced reads matching
//! text as the proprietary unit and judges it, and the hub takes the device's events about it.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use custodian_hub::registry::{ExtractUpdate, current_extract, extract_since};
use custodian_hub::{HubError, Registry, demo, exchange};
use custodian_ledger::custody::State;
use custodian_ledger::extract::Product;
use custodian_ledger::{Epc, Ledger, Recorder, Step, VerdictKind};
use custodian_scanner::ProprietaryFormat;
use custodian_sync::Session;
use custodian_sync::identity::{EnrollmentToken, RequestAuth};
use ed25519_dalek::SigningKey;

/// The demo's torque wrench, marked with Acme's own serials.
const WRENCH: &str = "ACME-TW";
const SAW: &str = "ACME-TS";

/// A product declared after the demo was seeded.
fn saw() -> Product {
    Product {
        gtin: "04012345000047".into(),
        name: "Table saw TS-10".into(),
        warranty_months: 36,
        markets: vec!["DE".into()],
        claim_threshold: 3,
        proprietary: Some(ProprietaryFormat::new(SAW, r"TS([A-Z]{2}\d{6})").unwrap()),
    }
}

fn registry() -> (tempfile::TempDir, Registry) {
    let tmp = tempfile::tempdir().unwrap();
    let registry = Registry::open_with_key(tmp.path(), demo::issuer_key).unwrap();
    demo::seed(&registry).unwrap();
    (tmp, registry)
}

/// A device of `org` enrolled with the hub, its ledger in a directory of its own.
struct Device {
    _tmp: tempfile::TempDir,
    ledger: Ledger,
    key: SigningKey,
    id: String,
    counter: u64,
}

impl Device {
    fn enroll(registry: &Registry, org: &str, site: &str) -> Device {
        let token = registry
            .create_token(org, site, "https://127.0.0.1:1", b"ca", 1)
            .unwrap();
        let secret = EnrollmentToken::decode(&token).unwrap().secret;
        let key = SigningKey::from_bytes(&[7; 32]);
        let record = registry
            .enroll(
                &secret,
                &STANDARD.encode(key.verifying_key().to_bytes()),
                "till",
            )
            .unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(tmp.path()).unwrap();
        ledger
            .set_recorder(&Recorder {
                org: org.into(),
                site: site.into(),
                device: record.id.clone(),
            })
            .unwrap();
        Device {
            _tmp: tmp,
            ledger,
            key,
            id: record.id,
            counter: 0,
        }
    }

    /// One whole sync with the hub, in process, every round signed as the device signs it.
    fn sync(&mut self, registry: &Registry) {
        let mut session = Session::begin(&self.ledger, 1_000).unwrap();
        while let Some(body) = session.next_request(&self.ledger).unwrap() {
            self.counter += 1;
            let now = Utc::now();
            let auth = RequestAuth::sign(
                &self.key,
                &self.id,
                self.counter,
                now.timestamp_millis(),
                "POST",
                "/v1/sync",
                &body,
            );
            let answer = exchange::handle_at(registry, &auth, &body, now).unwrap();
            session
                .answered(&mut self.ledger, &answer, Utc::now())
                .unwrap();
        }
        assert!(session.finish(&self.ledger, Utc::now()).unwrap().converged);
    }
}

#[test]
fn a_declared_pattern_travels_in_the_extract_whole_and_as_a_change() {
    let (_tmp, registry) = registry();
    let before = current_extract(&registry).unwrap();
    assert_eq!(
        before.product_by_code(WRENCH).map(|p| p.name.as_str()),
        Some("Torque wrench TW-200")
    );
    registry.add_product(&saw()).unwrap();
    let now = current_extract(&registry).unwrap();
    assert_eq!(now.product_by_code(SAW), Some(&saw()));
    assert_eq!(now.formats().len(), 2);
    assert!(now.formats().contains(&saw().proprietary.unwrap()));
    let ExtractUpdate::Delta(delta) = extract_since(&registry, before.version, true).unwrap()
    else {
        panic!("a delta")
    };
    assert_eq!(delta.products, vec![saw()]);
    let mut applied = before;
    applied.apply(&delta).unwrap();
    assert_eq!(applied, now);
}

#[test]
fn a_product_code_names_one_product() {
    let (_tmp, registry) = registry();
    registry.add_product(&saw()).unwrap();
    // Registering the same product again keeps its code.
    registry.add_product(&saw()).unwrap();
    let mut other = saw();
    other.gtin = "04012345000078".into();
    let refused = registry.add_product(&other).unwrap_err();
    assert!(
        matches!(&refused, HubError::BadRequest(m) if m.contains("already GTIN 04012345000047")),
        "{refused}"
    );
    other.proprietary = Some(ProprietaryFormat::new(" ", r"X(\d{4})").unwrap());
    assert!(matches!(
        registry.add_product(&other),
        Err(HubError::BadRequest(_))
    ));
}

#[test]
fn a_device_reads_a_declared_pattern_after_syncing_and_the_hub_takes_its_scans() {
    let (_tmp, registry) = registry();
    registry
        .add_alert_for("TW-00000666", "seized in customs")
        .unwrap();
    let mut till = Device::enroll(&registry, demo::RETAILER, "store-mitte");
    let at = Utc::now().fixed_offset();

    // Before its first sync the device knows no pattern: the text is no code to it.
    let v = till
        .ledger
        .scan("TW-00012345", Step::Inspecting, None, at)
        .unwrap();
    assert_eq!(v.verdict, VerdictKind::Unreadable, "{}", v.reason);

    till.sync(&registry);
    let unit = Epc::Proprietary {
        product: WRENCH.into(),
        serial: "00012345".into(),
    };
    let v = till
        .ledger
        .scan("TW-00012345", Step::Inspecting, None, at)
        .unwrap();
    assert_eq!(v.verdict, VerdictKind::Provisional, "{}", v.reason);
    assert_eq!(v.epc.as_deref(), Some(unit.uri().as_str()));
    assert_eq!(v.product.as_deref(), Some("Torque wrench TW-200"));
    let fake = till
        .ledger
        .scan("TW-00000666", Step::Inspecting, None, at)
        .unwrap();
    assert_eq!(
        fake.verdict,
        VerdictKind::ReportedCounterfeit,
        "{}",
        fake.reason
    );

    // The sale reaches the hub under the proprietary EPC, which reads the code as the device
    // does.
    let sale = till
        .ledger
        .scan("TW-00012345", Step::RetailSelling, None, at)
        .unwrap();
    assert_eq!(sale.epc.as_deref(), Some(unit.uri().as_str()));
    till.sync(&registry);
    for code in ["TW-00012345", unit.uri().as_str()] {
        let custody = registry.custody(code).unwrap();
        assert_eq!(custody.epc, unit.uri());
        assert_eq!(custody.state, State::SoldToConsumer, "{code}");
    }

    // A product declared later reaches the device with its next sync, as a change.
    registry.add_product(&saw()).unwrap();
    till.sync(&registry);
    let v = till
        .ledger
        .scan("TSAB123456", Step::Inspecting, None, at)
        .unwrap();
    assert_eq!(
        v.epc,
        Some(
            Epc::Proprietary {
                product: SAW.into(),
                serial: "AB123456".into()
            }
            .uri()
        )
    );
    assert_eq!(v.product.as_deref(), Some("Table saw TS-10"));
}
