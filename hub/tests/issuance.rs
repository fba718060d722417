//! Issuing serials: labels in draw order, bulk issuance in batches with every serial signed,
//! paging through what was issued, and redrawing serials that were issued before.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use custodian_hub::registry::{COMMISSIONING_BATCH, IssueOptions, IssuedSerial};
use custodian_hub::{Registry, demo};
use custodian_ledger::extract;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A demo registry (200 serials of its drill issued) and the drill's GTIN.
fn registry(dir: &std::path::Path) -> (Registry, String) {
    let registry = Registry::open_with_key(dir, demo::issuer_key).unwrap();
    let gtin = demo::seed(&registry).unwrap().products[0].gtin.clone();
    (registry, gtin)
}

fn options() -> IssueOptions {
    IssueOptions {
        lot: Some("B7".into()),
        expiry: None,
        markets: vec!["DE".into()],
        facility: "plant-stuttgart".into(),
        line: "line-9".into(),
    }
}

fn at() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339("2026-12-01T06:00:00+01:00").unwrap()
}

/// Every serial of `gtin`, paged through in serial order.
fn all_issued(registry: &Registry, gtin: &str) -> Vec<IssuedSerial> {
    let mut all = Vec::new();
    let mut after = String::new();
    loop {
        let page = registry.issued_after(gtin, &after, 4_000).unwrap();
        let Some(last) = page.last() else {
            return all;
        };
        after = last.serial.clone();
        all.extend(page);
    }
}

fn assert_signed(registry: &Registry, serials: &[IssuedSerial]) {
    let key = &custodian_hub::registry::current_extract(registry)
        .unwrap()
        .issuer_keys[0];
    let key: [u8; 32] = STANDARD
        .decode(&key.public_key)
        .unwrap()
        .try_into()
        .unwrap();
    let key = VerifyingKey::from_bytes(&key).unwrap();
    for s in serials {
        let scan = custodian_scanner::parse(&s.element_string).unwrap();
        let signature = scan.get("8030").unwrap();
        let signature: [u8; 64] = URL_SAFE_NO_PAD
            .decode(signature)
            .unwrap()
            .try_into()
            .unwrap();
        key.verify(
            &extract::signed_payload(&s.gtin, &s.serial),
            &Signature::from_bytes(&signature),
        )
        .unwrap_or_else(|e| panic!("{} is not signed: {e}", s.serial));
    }
}

#[test]
fn issue_returns_the_serials_in_the_order_drawn() {
    let tmp = tempfile::tempdir().unwrap();
    let (registry, gtin) = registry(tmp.path());
    let gtin = gtin.as_str();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let issued = registry
        .issue(gtin, 500, &options(), at(), &mut rng)
        .unwrap();
    // The same draws, made by hand: ten characters of the serial alphabet each.
    let alphabet = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let expected: Vec<String> = (0..500)
        .map(|_| {
            (0..10)
                .map(|_| char::from(alphabet[rand::Rng::gen_range(&mut rng, 0..32)]))
                .collect()
        })
        .collect();
    let got: Vec<String> = issued.iter().map(|s| s.serial.clone()).collect();
    assert_eq!(got, expected);
    assert_signed(&registry, &issued);
    assert!(
        issued[0].digital_link.contains("?10=B7&8030="),
        "{}",
        issued[0].digital_link
    );
}

#[test]
fn a_bulk_issuance_signs_every_serial_and_commissions_them_in_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let (registry, gtin) = registry(tmp.path());
    let gtin = gtin.as_str();
    let before = registry.issued_count(gtin).unwrap();
    let count = 2 * COMMISSIONING_BATCH + 1_234;
    let mut seen = Vec::new();
    let summary = registry
        .issue_bulk(
            gtin,
            count,
            &options(),
            at(),
            &mut ChaCha8Rng::seed_from_u64(8),
            &mut |n| seen.push(n),
        )
        .unwrap();
    assert_eq!(summary.issued, count);
    assert_eq!(summary.commissioning_events, 3);
    assert_eq!(seen, [COMMISSIONING_BATCH, 2 * COMMISSIONING_BATCH, count]);
    assert_eq!(registry.issued_count(gtin).unwrap(), before + count as u64);
    let all = all_issued(&registry, gtin);
    assert_eq!(all.len() as u64, before + count as u64);
    let distinct: BTreeSet<&str> = all.iter().map(|s| s.serial.as_str()).collect();
    assert_eq!(distinct.len(), all.len());
    assert_signed(&registry, &all);
    let counts = registry.counts().unwrap();
    assert_eq!(counts.serials, 300 + count as u64);
}

#[test]
fn serials_issued_before_are_drawn_again() {
    let tmp = tempfile::tempdir().unwrap();
    let (registry, gtin) = registry(tmp.path());
    let gtin = gtin.as_str();
    let first = registry
        .issue(
            gtin,
            300,
            &options(),
            at(),
            &mut ChaCha8Rng::seed_from_u64(9),
        )
        .unwrap();
    // The same seed draws the same serials: every one must be replaced.
    let second = registry
        .issue(
            gtin,
            300,
            &options(),
            at(),
            &mut ChaCha8Rng::seed_from_u64(9),
        )
        .unwrap();
    let first: BTreeSet<String> = first.into_iter().map(|s| s.serial).collect();
    assert_eq!(second.len(), 300);
    assert!(second.iter().all(|s| !first.contains(&s.serial)));
    let distinct: BTreeSet<&str> = second.iter().map(|s| s.serial.as_str()).collect();
    assert_eq!(distinct.len(), 300);
    assert_signed(&registry, &second);
    assert_eq!(registry.issued_count(gtin).unwrap(), 200 + 600);
}
