//! The registry extract by version: every change numbered, a device sent nothing, the changes
//! since its version, or the whole; and enrollment tokens that expire.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use chrono::{DateTime, Duration, Utc};
use custodian_hub::registry::{ExtractUpdate, current_extract, extract_since};
use custodian_hub::{Registry, demo};
use custodian_ledger::RegistryExtract;
use custodian_ledger::extract::{Org, Product, Recall};

fn registry() -> (tempfile::TempDir, Registry) {
    let tmp = tempfile::tempdir().unwrap();
    let registry = Registry::open_with_key(tmp.path(), demo::issuer_key).unwrap();
    demo::seed(&registry).unwrap();
    (tmp, registry)
}

/// One change made on the hub.
type Change<'a> = Box<dyn Fn(&Registry) + 'a>;

const DRILL: &str = "04012345000016";
const UNIT: &str = "(01)04012345000016(21)FAKE0001";

#[test]
fn a_delta_from_any_held_version_gives_the_whole_extract() {
    let (_tmp, registry) = registry();
    let mut held: Vec<RegistryExtract> = vec![current_extract(&registry).unwrap()];
    let recall = |lot: Option<&str>, reason: &str| Recall {
        gtin: DRILL.into(),
        lot: lot.map(str::to_string),
        reason: reason.into(),
    };
    let changes: Vec<Change> = vec![
        Box::new(|r| {
            r.add_recall(&recall(Some("L1"), "battery overheats"))
                .unwrap()
        }),
        Box::new(|r| r.add_alert_for(UNIT, "seized in customs").unwrap()),
        Box::new(|r| r.add_recall(&recall(None, "every lot")).unwrap()),
        // Publishing a recall with the key of one held replaces it.
        Box::new(|r| r.add_recall(&recall(Some("L1"), "charger fault")).unwrap()),
        Box::new(|r| r.withdraw_recall(DRILL, None).unwrap()),
        Box::new(|r| {
            r.add_product(&Product {
                gtin: "04012345000078".into(),
                name: "Angle grinder".into(),
                warranty_months: 12,
                markets: vec!["DE".into()],
                claim_threshold: 2,
                proprietary: None,
            })
            .unwrap();
        }),
        Box::new(|r| {
            r.add_org(&Org {
                id: "retail-paris".into(),
                name: "Outils Paris".into(),
                role: "retailer".into(),
                market: "FR".into(),
                gln: "3012345000001".into(),
            })
            .unwrap();
        }),
        Box::new(|r| {
            r.clear_alert(UNIT, "found genuine", Utc::now().fixed_offset())
                .unwrap()
        }),
    ];
    for change in &changes {
        change(&registry);
        let now = current_extract(&registry).unwrap();
        assert!(
            now.version > held.last().unwrap().version,
            "every change is a version"
        );
        for old in &held {
            match extract_since(&registry, old.version, true).unwrap() {
                ExtractUpdate::Delta(delta) => {
                    let mut applied = old.clone();
                    applied.apply(&delta).unwrap();
                    assert_eq!(applied, now, "from version {}", old.version);
                }
                other => panic!("from version {}: {other:?}", old.version),
            }
        }
        held.push(now);
    }
    let now = held.last().unwrap();
    assert_eq!(now.recalls.len(), 1);
    assert_eq!(now.recalls[0].reason, "charger fault");
    assert!(now.alerts.iter().all(|a| !a.epc.ends_with("FAKE0001")));

    // Current: nothing. No extract, a version from elsewhere, or no deltas taken: the whole.
    assert_eq!(
        extract_since(&registry, now.version, true).unwrap(),
        ExtractUpdate::Unchanged
    );
    for (version, deltas) in [(0, true), (now.version + 5, true), (held[0].version, false)] {
        assert_eq!(
            extract_since(&registry, version, deltas).unwrap(),
            ExtractUpdate::Whole(now.clone()),
            "version {version}, deltas {deltas}"
        );
    }
    // A delta that does not start where the extract is refuses to apply.
    let ExtractUpdate::Delta(delta) = extract_since(&registry, held[2].version, true).unwrap()
    else {
        panic!("a delta")
    };
    assert!(held[1].clone().apply(&delta).is_err());
}

#[test]
fn one_recall_travels_in_far_fewer_bytes_than_the_whole_extract() {
    let (_tmp, registry) = registry();
    let before = current_extract(&registry).unwrap();
    registry
        .add_recall(&Recall {
            gtin: DRILL.into(),
            lot: Some("L2611A".into()),
            reason: "battery overheats".into(),
        })
        .unwrap();
    let ExtractUpdate::Delta(delta) = extract_since(&registry, before.version, true).unwrap()
    else {
        panic!("a delta")
    };
    let whole = custodian_sync::protocol::encode(&current_extract(&registry).unwrap()).len();
    let delta = custodian_sync::protocol::encode(&delta).len();
    eprintln!("whole extract {whole} B, one recall as a delta {delta} B (zstd JSON)");
    assert!(delta < 150, "{delta} B");
    assert!(delta * 3 < whole, "delta {delta} B, whole {whole} B");
}

#[test]
fn enrollment_tokens_expire() {
    let (_tmp, registry) = registry();
    let at = DateTime::parse_from_rfc3339("2030-05-01T12:00:00Z")
        .unwrap()
        .to_utc();
    let token = registry
        .create_token_at(
            "dist-a",
            "dc-hamburg",
            "https://h",
            b"ca",
            Duration::seconds(60),
            at,
        )
        .unwrap();
    let token = custodian_sync::identity::EnrollmentToken::decode(&token).unwrap();
    assert_eq!(token.expires.as_deref(), Some("2030-05-01T12:01:00Z"));
    assert!(token.check_expiry(at + Duration::seconds(59)).is_ok());
    assert!(token.check_expiry(at + Duration::seconds(60)).is_err());
    let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [5u8; 32]);
    let err = registry
        .enroll_at(&token.secret, &key, "late", at + Duration::seconds(61))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("expired at") && err.contains("new one"),
        "{err}"
    );
    // Still unused: in time, it enrolls.
    registry
        .enroll_at(&token.secret, &key, "on time", at + Duration::seconds(30))
        .unwrap();
    assert!(
        registry
            .create_token_at("dist-a", "dc-hamburg", "u", b"ca", Duration::zero(), at)
            .is_err()
    );
}
