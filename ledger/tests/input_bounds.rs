//! What enters a device's ledger from outside is bounded: a scan longer than any barcode is
//! judged unreadable and logged cut, never stored whole; manifests and orders from CSV are
//! refused whole, naming the line, when they are too large, ask for too much or name an
//! organisation the registry does not know; an EPCIS document's events keep the ids they
//! claim and stay within the times the ledger can write back out. Nothing already recorded
//! is lost by a refusal.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use chrono::{DateTime, FixedOffset};
use custodian_ledger::extract::{Org, RegistryExtract};
use custodian_ledger::{Ledger, MAX_SCAN_BYTES, Recorder, ScanInput, Step, VerdictKind};
use custodian_scanner::{Gtin, check_digit, element_string};

fn t(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

fn drill() -> Gtin {
    let d = "0401234500001";
    Gtin::parse(&format!("{d}{}", check_digit(d))).unwrap()
}

fn code(serial: &str) -> String {
    element_string(&[("01", drill().as_str()), ("21", serial)])
}

fn org(id: &str) -> Org {
    Org {
        id: id.into(),
        name: id.to_uppercase(),
        role: "retailer".into(),
        market: "DE".into(),
        gln: "4012345000009".into(),
    }
}

/// An enrolled ledger of dist-a whose extract knows acme, dist-a and retail-c.
fn ledger(dir: &std::path::Path) -> Ledger {
    let l = Ledger::open(dir).unwrap();
    l.set_recorder(&Recorder {
        org: "dist-a".into(),
        site: "dc".into(),
        device: "dist-a-1".into(),
    })
    .unwrap();
    l.set_extract(&RegistryExtract {
        version: 1,
        orgs: vec![org("acme"), org("dist-a"), org("retail-c")],
        ..RegistryExtract::default()
    })
    .unwrap();
    l
}

#[test]
fn the_scan_bound_is_the_serial_readers_line_bound() {
    assert_eq!(
        MAX_SCAN_BYTES,
        custodian_scanner::serial::LineConfig::default().max_len
    );
}

#[test]
fn an_overlong_scan_is_judged_unreadable_logged_cut_and_the_next_is_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let mut l = ledger(tmp.path());
    let now = t("2026-03-01T10:00:00+01:00");
    // A valid code with a megabyte after it, as a scanner that never ended its line sends.
    let overlong = format!("{}{}", code("A1"), "9".repeat(1 << 20));
    let v = l.scan(&overlong, Step::Inspecting, None, now).unwrap();
    assert_eq!(v.verdict, VerdictKind::Unreadable, "{v:?}");
    assert!(v.event.is_none());
    assert!(
        v.reason.contains(&format!("{} bytes", overlong.len()))
            && v.reason.contains(&MAX_SCAN_BYTES.to_string()),
        "{}",
        v.reason
    );
    assert!(v.reason.len() < 400, "the reason does not carry the text");
    let next = l.scan(&code("B2"), Step::Inspecting, None, now).unwrap();
    assert_ne!(next.verdict, VerdictKind::Unreadable, "{next:?}");
    assert!(next.event.is_some());
    assert_eq!(l.event_count().unwrap(), 1);

    let log = l.recent_scans(2).unwrap();
    assert_eq!(log[0].raw, code("B2"));
    assert!(log[1].raw.len() < 100, "logged cut: {:?}", log[1].raw);
    assert!(log[1].raw.starts_with(&code("A1")[..20]));
    assert_eq!(log[1].verdict.verdict, VerdictKind::Unreadable);

    // In a batch, and at exactly the bound.
    let at_bound = "9".repeat(MAX_SCAN_BYTES);
    let c3 = code("C3");
    let inputs: Vec<ScanInput<'_>> = [overlong.as_str(), &c3, &at_bound]
        .into_iter()
        .map(|raw| ScanInput {
            raw,
            step: Step::Inspecting,
            manifest: None,
            now,
        })
        .collect();
    let verdicts = l.scan_batch(&inputs).unwrap();
    assert_eq!(verdicts[0].verdict, VerdictKind::Unreadable);
    assert_ne!(
        verdicts[1].verdict,
        VerdictKind::Unreadable,
        "{:?}",
        verdicts[1]
    );
    assert_eq!(verdicts[2].verdict, VerdictKind::Unreadable);
    let log = l.recent_scans(3).unwrap();
    assert_eq!(
        log[0].raw, at_bound,
        "text within the bound is logged whole"
    );
    assert_eq!(log[1].raw, c3);
    assert!(log[2].raw.len() < 100);

    // Picking for an order: refused as unreadable, and the order still wants its units.
    l.import_orders_csv("order,to,gtin,quantity\nSO-1,retail-c,04012345000016,2\n")
        .unwrap();
    let v = l
        .scan(&overlong, Step::Shipping, Some("SO-1"), now)
        .unwrap();
    assert_eq!(v.verdict, VerdictKind::Unreadable);
    assert_eq!(v.manifest.as_deref(), Some("SO-1"));
    assert_eq!(l.order("SO-1").unwrap().left, 2);
    let v = l
        .scan(&code("D4"), Step::Shipping, Some("SO-1"), now)
        .unwrap();
    assert_eq!(v.verdict, VerdictKind::Ok, "{v:?}");
    assert_eq!(l.order("SO-1").unwrap().left, 1);
    let db = std::fs::metadata(tmp.path().join("ledger.sqlite"))
        .unwrap()
        .len()
        + std::fs::metadata(tmp.path().join("ledger.sqlite-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    assert!(db < 1 << 20, "no megabyte was stored: {db} bytes");
}

/// A device ledger that scanned two units, and its events as an EPCIS document.
fn exported(dir: &std::path::Path) -> serde_json::Value {
    let mut l = ledger(dir);
    let now = t("2026-03-01T10:00:00+01:00");
    for serial in ["A1", "B2"] {
        l.scan(&code(serial), Step::Inspecting, None, now).unwrap();
    }
    l.export_epcis(now).unwrap()
}

/// The importing device's clock.
fn clock() -> DateTime<FixedOffset> {
    t("2026-03-02T10:00:00+01:00")
}

fn import_refused(doc: &serde_json::Value, expect: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let mut l = Ledger::open(tmp.path()).unwrap();
    let e = l.import_epcis(doc, clock()).unwrap_err().to_string();
    assert!(e.starts_with(expect), "expected {expect:?}, got {e:?}");
    assert_eq!(
        l.event_count().unwrap(),
        0,
        "nothing of the document is stored"
    );
}

#[test]
fn an_epcis_event_whose_content_changed_under_its_id_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let doc = exported(tmp.path());
    let mut changed = doc.clone();
    changed["epcisBody"]["eventList"][1]["bizStep"] = "receiving".into();
    import_refused(&changed, "epcisBody.eventList[1].eventID: ni:///sha-256;");
    let e = Ledger::open(&tmp.path().join("b"))
        .unwrap()
        .import_epcis(&changed, clock())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("is not the hash of this event's content")
            && e.contains("changed after its id was given"),
        "{e}"
    );
    // The same document as it was exported imports whole, under the same ids.
    let mut other = Ledger::open(&tmp.path().join("c")).unwrap();
    let imported = other.import_epcis(&doc, clock()).unwrap();
    assert_eq!((imported.events, imported.new), (2, 2));
    assert!(imported.notes.is_empty());
    // Without a claimed id, changed content is simply another event.
    let mut anonymous = changed.clone();
    anonymous["epcisBody"]["eventList"][1]
        .as_object_mut()
        .unwrap()
        .remove("eventID");
    assert_eq!(other.import_epcis(&anonymous, clock()).unwrap().new, 1);
}

#[test]
fn a_cbv_hash_id_the_ledger_cannot_confirm_is_reported_and_its_event_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let mut doc = exported(tmp.path());
    let own = doc["epcisBody"]["eventList"][0]["eventID"]
        .as_str()
        .unwrap()
        .to_string();
    // The ledger's own hash with GS1's suffix is confirmed; another hash cannot be.
    doc["epcisBody"]["eventList"][0]["eventID"] = format!("{own}?ver=CBV2.0").into();
    doc["epcisBody"]["eventList"][1]["eventID"] =
        format!("ni:///sha-256;{}?ver=CBV2.0", "ab".repeat(32)).into();
    let mut l = Ledger::open(&tmp.path().join("b")).unwrap();
    let imported = l.import_epcis(&doc, clock()).unwrap();
    assert_eq!((imported.events, imported.new), (2, 2));
    assert_eq!(imported.notes.len(), 1, "{:?}", imported.notes);
    assert!(
        imported.notes[0].starts_with("epcisBody.eventList[1].eventID: ni:///sha-256;abab")
            && imported.notes[0].contains("stored under its content id ni:///sha-256;"),
        "{}",
        imported.notes[0]
    );
}

#[test]
fn two_events_of_one_document_under_one_id_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut doc = exported(tmp.path());
    for i in 0..2 {
        doc["epcisBody"]["eventList"][i]["eventID"] =
            "urn:uuid:2d7c4a8e-5b1f-4c3a-9e0d-7f6a5b4c3d2e".into();
    }
    import_refused(
        &doc,
        "epcisBody.eventList[1].eventID: urn:uuid:2d7c4a8e-5b1f-4c3a-9e0d-7f6a5b4c3d2e is also the eventID of epcisBody.eventList[0]",
    );
}

#[test]
fn epcis_times_outside_the_window_are_refused_with_their_path() {
    let tmp = tempfile::tempdir().unwrap();
    let doc = exported(tmp.path());
    let with = |path: &[&str], value: &str| {
        let mut d = doc.clone();
        let mut at = &mut d["epcisBody"]["eventList"][0];
        for key in path {
            at = &mut at[*key];
        }
        *at = value.into();
        // A claimed id would be refused first; these documents claim none.
        d["epcisBody"]["eventList"][0]
            .as_object_mut()
            .unwrap()
            .remove("eventID");
        d
    };
    for (path, value, expect) in [
        (
            &["eventTime"][..],
            "9999-12-31T23:59:59Z",
            "more than 24 hours after this device's clock",
        ),
        (
            &["eventTime"],
            "2026-03-03T10:00:01+01:00",
            "more than 24 hours after",
        ),
        (
            &["eventTime"],
            "1999-12-31T23:59:59Z",
            "before 2000-01-01T00:00:00Z",
        ),
        (
            &["eventTime"],
            "0000-01-01T00:00:00Z",
            "before 2000-01-01T00:00:00Z",
        ),
        (
            &["eventTime"],
            "+262142-01-01T00:00:00Z",
            "\"+262142-01-01T00:00:00Z\" is not an RFC 3339 date-time",
        ),
        (
            &["cust:expiry"],
            "9999-01-01",
            "9999-01-01: a label's expiry (AI 17) names a year from 1951 to 2050",
        ),
    ] {
        let p = format!("epcisBody.eventList[0].{}: ", path.join("."));
        import_refused(&with(path, value), &p);
        let e = Ledger::open(&tmp.path().join("x"))
            .unwrap()
            .import_epcis(&with(path, value), clock())
            .unwrap_err()
            .to_string();
        assert!(e.contains(expect), "{value}: {e}");
    }
    // A day ahead of the device's clock is still taken (a partner's clock may run ahead).
    let mut l = Ledger::open(&tmp.path().join("y")).unwrap();
    let ahead = with(&["eventTime"], "2026-03-03T10:00:00+01:00");
    assert_eq!(l.import_epcis(&ahead, clock()).unwrap().new, 2);
    // And what was stored exports and reads back.
    let again = l.export_epcis(clock()).unwrap();
    let mut m = Ledger::open(&tmp.path().join("z")).unwrap();
    assert_eq!(m.import_epcis(&again, clock()).unwrap().new, 2);
}

#[test]
fn an_error_declarations_time_is_held_to_the_window_too() {
    let tmp = tempfile::tempdir().unwrap();
    let mut doc = exported(tmp.path());
    let event = &mut doc["epcisBody"]["eventList"][0];
    event["errorDeclaration"] = serde_json::json!({ "declarationTime": "9999-01-01T00:00:00Z" });
    import_refused(
        &doc,
        "epcisBody.eventList[0].errorDeclaration.declarationTime: 9999-01-01T00:00:00+00:00 is more than 24 hours after",
    );
}

#[test]
fn an_order_too_large_or_for_an_unknown_customer_is_refused_and_nothing_is_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let mut l = ledger(tmp.path());
    l.import_orders_csv("order,to,gtin,quantity\nSO-1,retail-c,04012345000016,2\n")
        .unwrap();
    for (text, expect) in [
        (
            "order,to,gtin,quantity\nSO-2,retail-c,04012345000016,1\nSO-3,nowhere-gmbh,04012345000016,1\n".to_string(),
            "line 3, to: \"nowhere-gmbh\" is no organisation of the registry",
        ),
        (
            "order,to,gtin,quantity\nSO-2,retail-c,04012345000016,2000000000\n".to_string(),
            "line 2, quantity: 2000000000 units on one line; a line asks for at most 100000",
        ),
        (
            format!(
                "order,to,gtin,quantity\n{}",
                "SO-2,retail-c,04012345000016,1\n".repeat(custodian_ledger::order::MAX_ROWS + 1)
            ),
            "line 10002: more than 10000 rows",
        ),
    ] {
        let e = l.import_orders_csv(&text).unwrap_err().to_string();
        assert!(e.starts_with(expect), "{e}");
        let held: Vec<String> = l.orders().unwrap().into_iter().map(|o| o.id).collect();
        assert_eq!(held, ["SO-1"], "nothing of a refused file is imported");
    }
    assert_eq!(l.order("SO-1").unwrap().left, 2);

    // A device that never synced cannot tell a customer from a typo.
    let bare = tempfile::tempdir().unwrap();
    let mut bare = Ledger::open(bare.path()).unwrap();
    let e = bare
        .import_orders_csv("order,to,gtin,quantity\nSO-1,retail-c,04012345000016,2\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("holds no registry extract yet"), "{e}");
}

#[test]
fn an_asn_csv_too_large_or_naming_unknown_organisations_is_refused_whole() {
    const HEADER: &str = "asn,from,to,shipped_at,parent,code\n";
    let row =
        |from: &str, to: &str, at: &str, code: &str| format!("ASN-9,{from},{to},{at},,{code}\n");
    let at = "2026-03-01T08:00:00+01:00";
    let tmp = tempfile::tempdir().unwrap();
    let mut l = ledger(tmp.path());
    for (text, expect) in [
        (
            format!("{HEADER}{}", row("acme", "nobody", at, &code("A1"))),
            "line 2, to: \"nobody\" is no organisation of the registry",
        ),
        (
            format!("{HEADER}{}", row("someone", "dist-a", at, &code("A1"))),
            "line 2, from: \"someone\" is no organisation",
        ),
        (
            format!(
                "{HEADER}{}",
                row("acme", "dist-a", "9999-01-01T00:00:00Z", &code("A1"))
            ),
            "line 2, shipped_at: 9999-01-01T00:00:00+00:00 is more than 24 hours after",
        ),
        (
            format!(
                "{HEADER}{}",
                row("acme", "dist-a", at, &code("A1"))
                    .repeat(custodian_ledger::csv_manifest::MAX_ROWS + 1)
            ),
            "line 100002: more than 100000 rows",
        ),
    ] {
        let e = l
            .import_csv_manifest(&text, clock())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(expect), "{e}");
        assert_eq!(l.event_count().unwrap(), 0);
    }
    let good = format!(
        "{HEADER}{}{}",
        row("acme", "dist-a", at, &code("A1")),
        row("acme", "dist-a", at, &code("B2"))
    );
    assert_eq!(l.import_csv_manifest(&good, clock()).unwrap(), (1, 1));
    assert_eq!(l.manifest("ASN-9").unwrap().progress.expected, 2);
}

#[test]
fn a_flag_note_longer_than_any_entered_text_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut l = ledger(tmp.path());
    let long = "x".repeat(custodian_ledger::event::Text::MAX + 1);
    let e = l
        .move_flag("flag-1", "closed", Some(&long), clock())
        .unwrap_err()
        .to_string();
    assert!(e.contains("longer than 2000 characters"), "{e}");
    // Within the bound, the move goes on to find the flag (which this ledger does not hold).
    let e = l
        .move_flag("flag-1", "closed", Some("checked on site"), clock())
        .unwrap_err()
        .to_string();
    assert!(e.contains("flag-1"), "{e}");
}
