//! A device holds its organisation's flags in one document per month they were raised in (and
//! one from before flags were kept by month): it lists them all as one, and moves a flag in
//! whichever document holds it.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use custodian_ledger::docs::{self, Flag, FlagStatus};
use custodian_ledger::{Ledger, Recorder};

fn flag(id: &str, raised_at: &str) -> Flag {
    Flag {
        id: id.into(),
        kind: "out_of_sequence".into(),
        epc: format!("https://id.gs1.org/01/04012345000016/21/{id}"),
        reason: format!("{id} was received with no shipment on record"),
        raised_at: raised_at.into(),
        event: String::new(),
        status: FlagStatus::New,
        history: Vec::new(),
        units: 1,
        open_units: 1,
    }
}

/// Saves `flags` in the document `id` of `org`, as the hub writes it and a sync brings it.
fn hold(ledger: &Ledger, org: &str, id: &str, flags: &[Flag]) {
    let mut doc = docs::new_flags_doc(org, b"hub").unwrap();
    for f in flags {
        assert!(docs::add_flag(&mut doc, f).unwrap());
    }
    ledger.save_doc(id, &mut doc).unwrap();
}

#[test]
fn flags_of_every_month_are_listed_and_moved_where_they_are() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(tmp.path()).unwrap();
    ledger
        .set_recorder(&Recorder {
            org: "dist-b".into(),
            site: "dc-oakland".into(),
            device: "dist-b-1".into(),
        })
        .unwrap();
    let old = flag("OLD1", "2026-09-14T08:00:00+00:00");
    let october = flag("OCT1", "2026-10-31T23:30:00-05:00"); // 1 November in UTC
    let november = flag("NOV1", "2026-11-02T08:00:00+00:00");
    let december = flag("DEC1", "2026-12-01T09:00:00+00:00");
    assert_eq!(
        docs::flags_month_doc_id("dist-b", &october.raised_at),
        "flags/dist-b/2026-11",
        "a flag's month is the UTC month it was raised in"
    );
    hold(&ledger, "dist-b", &docs::flags_doc_id("dist-b"), &[old]);
    let nov_id = docs::flags_month_doc_id("dist-b", &november.raised_at);
    hold(&ledger, "dist-b", &nov_id, &[october, november]);
    hold(
        &ledger,
        "dist-b",
        &docs::flags_month_doc_id("dist-b", &december.raised_at),
        &[december],
    );
    // Another organisation's document whose id begins like this one's is not this one's.
    hold(
        &ledger,
        "dist-b2",
        "flags/dist-b2/2026-11",
        &[flag("X1", "2026-11-05T08:00:00Z")],
    );
    assert!(!docs::is_flags_doc("flags/dist-b2/2026-11", "dist-b"));
    assert!(!docs::is_flags_doc("flags/dist-b/notes", "dist-b"));
    assert!(docs::is_flags_doc("flags/dist-b", "dist-b"));

    let ids: Vec<String> = ledger.flags().unwrap().into_iter().map(|f| f.id).collect();
    assert_eq!(
        ids,
        ["OLD1", "OCT1", "NOV1", "DEC1"],
        "every month's, oldest first"
    );

    let at = chrono::DateTime::parse_from_rfc3339("2026-12-02T10:00:00+01:00").unwrap();
    let moved = ledger.move_flag("NOV1", "seen", None, at).unwrap();
    assert_eq!(moved.status, "seen");
    ledger
        .move_flag("OLD1", "under_investigation", None, at)
        .unwrap();
    // Each move is in the document that holds the flag, and nowhere else.
    let nov_doc = ledger.doc(&nov_id).unwrap().unwrap();
    assert_eq!(docs::flag_status(&nov_doc, "NOV1"), Some(FlagStatus::Seen));
    assert_eq!(docs::flag_status(&nov_doc, "OLD1"), None);
    let statuses: Vec<(String, String)> = ledger
        .flags()
        .unwrap()
        .into_iter()
        .map(|f| (f.id, f.status.to_string()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("OLD1".to_string(), "under_investigation".to_string()),
            ("OCT1".into(), "new".into()),
            ("NOV1".into(), "seen".into()),
            ("DEC1".into(), "new".into()),
        ]
    );
    let e = ledger
        .move_flag("X1", "seen", None, at)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("X1"),
        "another organisation's flag is not found: {e}"
    );
}
