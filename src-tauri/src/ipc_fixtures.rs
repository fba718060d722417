//! What the app's commands answer, checked against the UI's types: this test runs the actions
//! behind the commands on a real ledger and writes each answer, as the command serialises it,
//! into `ui/src/ipc.fixtures.ts` as `export const NAME = {…} satisfies Type;`. The UI's build
//! type-checks that file (`tsc --noEmit`), so a field renamed, added or retyped on either side
//! fails: here when the answers no longer match the committed file, there when the file no
//! longer satisfies `ui/src/api.ts`. After a deliberate change, regenerate it with
//! `CUSTODIAN_BLESS=1 cargo test -p custodian-app ipc_fixtures`.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::path::Path;

use custodian_ledger::extract::{Org, Product, RegistryExtract};
use custodian_ledger::{Recorder, ReturnOutcome, Step};
use custodian_scanner::{HostLayout, check_digit, element_string};
use custodian_sync::{Device, Link, LinkState, Status};
use serde::Serialize;

use crate::commands::{ApiError, AppStatus};

fn at(s: &str) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(s).unwrap()
}

fn gtin() -> String {
    let d = "0401234500001";
    format!("{d}{}", check_digit(d))
}

fn code(serial: &str) -> String {
    element_string(&[("01", &gtin()), ("21", serial)])
}

fn org(id: &str, role: &str) -> Org {
    Org {
        id: id.into(),
        name: format!("{id} GmbH"),
        role: role.into(),
        market: "DE".into(),
        gln: "4012345000009".into(),
    }
}

/// A retailer's device that has received, sold, serviced and shipped units.
fn device(dir: &Path) -> Device {
    let ledger = custodian_ledger::Ledger::open(dir).unwrap();
    ledger
        .set_recorder(&Recorder {
            org: "retail-c".into(),
            site: "store-1".into(),
            device: "retail-c-1".into(),
        })
        .unwrap();
    ledger
        .set_extract(&RegistryExtract {
            version: 1,
            orgs: vec![
                org("acme", "manufacturer"),
                org("dist-a", "distributor"),
                org("retail-c", "retailer"),
                org("retail-d", "retailer"),
            ],
            products: vec![Product {
                gtin: gtin(),
                name: "Cordless drill".into(),
                warranty_months: 24,
                markets: vec!["DE".into()],
                claim_threshold: 3,
                proprietary: None,
            }],
            ..RegistryExtract::default()
        })
        .unwrap();
    drop(ledger);
    Device::open(dir).unwrap()
}

/// One TypeScript line: `export const name = <json> satisfies Type;`.
fn fixture(out: &mut String, name: &str, ts_type: &str, value: &impl Serialize) {
    let json = serde_json::to_string_pretty(value).unwrap();
    out.push_str(&format!(
        "export const {name} = {json} satisfies {ts_type};\n\n"
    ));
}

fn render(dir: &Path) -> String {
    let d = device(dir);
    let now = at("2026-11-02T10:00:00+01:00");
    let asn = format!(
        "asn,from,to,shipped_at,parent,code\nASN-7,dist-a,retail-c,2026-11-01T08:00:00+01:00,,{}\nASN-7,dist-a,retail-c,2026-11-01T08:00:00+01:00,,{}\n",
        code("R1"),
        code("R2")
    );
    d.import(&asn, now).unwrap();
    let received = d
        .scan(
            &code("R1"),
            Step::Receiving,
            Some("ASN-7"),
            HostLayout::default(),
            now,
        )
        .unwrap();
    let sold = d
        .scan(
            &code("R1"),
            Step::RetailSelling,
            None,
            HostLayout::default(),
            at("2026-11-02T11:00:00+01:00"),
        )
        .unwrap();
    let registered = d
        .register_warranty(&code("R1"), "J. Doe", at("2026-11-02T11:05:00+01:00"))
        .unwrap();
    let claimed = d
        .claim_warranty(
            &code("R1"),
            "battery fault",
            Some("will not charge"),
            at("2026-11-03T09:00:00+01:00"),
        )
        .unwrap();
    let repaired = d
        .record_repair(
            &code("R1"),
            &[code("P1")],
            &[],
            Some("WO-1"),
            at("2026-11-03T10:00:00+01:00"),
        )
        .unwrap();
    let photo = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/photos/formats/qrcode-4-01.jpg"),
    )
    .unwrap();
    let reported = d
        .report_counterfeit(
            &code("F1"),
            "hologram missing",
            Some(&photo),
            at("2026-11-03T11:00:00+01:00"),
        )
        .unwrap();
    let held = d
        .quarantine(
            &code("R2"),
            "carton crushed",
            at("2026-11-03T12:00:00+01:00"),
        )
        .unwrap();
    let released = d
        .release(&code("R2"), "unit fine", at("2026-11-03T13:00:00+01:00"))
        .unwrap();
    let returned = d
        .return_unit(
            &code("T1"),
            ReturnOutcome::Refurbished,
            at("2026-11-03T14:00:00+01:00"),
        )
        .unwrap();
    let order = format!("order,to,gtin,quantity\nSO-9,retail-d,{},1\n", gtin());
    d.import(&order, now).unwrap();
    d.scan(
        &code("R2"),
        Step::Shipping,
        Some("SO-9"),
        HostLayout::default(),
        at("2026-11-04T09:00:00+01:00"),
    )
    .unwrap();
    let orders = d.orders().unwrap();
    let mut shipped = d
        .close_order("SO-9", at("2026-11-04T10:00:00+01:00"))
        .unwrap();
    shipped.manifest_file = "outbound/SO-9.epcis.json".into();
    let flag = custodian_ledger::Flag {
        id: "flag-0123456789abcdef01234567".into(),
        kind: custodian_ledger::FlagKind::OutOfSequence,
        epc: format!("https://id.gs1.org/01/{}/21/R1", gtin()),
        reason: "2 units were received by retail-c GmbH under ASN-7 with no shipment on record: out of sequence".into(),
        event: received.event.clone().unwrap_or_default(),
        raised_at: "2026-11-02T09:00:01+00:00".into(),
        status: custodian_ledger::FlagStatus::New,
        units: 2,
        open_units: 1,
        history: Vec::new(),
    };
    let unit = custodian_ledger::docs::FlagUnit {
        flag: flag.id.clone(),
        epc: flag.epc.clone(),
        event: flag.event.clone(),
        resolved: Some("shipped by dist-a under ASN-7".into()),
    };
    let status: Status = d.status().unwrap();
    let app_status = AppStatus::new(
        status.clone(),
        Link {
            state: LinkState::Offline,
            detail: Some("hub unreachable, working offline: connection refused".into()),
        },
    );

    let mut out = String::from(
        "// What the app's commands answer, written by src-tauri/src/ipc_fixtures.rs from a real\n\
         // ledger and type-checked against api.ts by the build. Do not edit: regenerate it.\n\
         import type {\n  ApiError, ClaimRecorded, Flag, FlagUnit, History, LifecycleStep, LoggedScan, Manifest,\n  Picking, Recorded, Shipped, Status, Verdict,\n} from \"./api\";\n\n",
    );
    fixture(&mut out, "verdictReceived", "Verdict", &received);
    fixture(&mut out, "verdictSold", "Verdict", &sold);
    fixture(&mut out, "manifests", "Manifest[]", &d.manifests().unwrap());
    fixture(
        &mut out,
        "recentScans",
        "LoggedScan[]",
        &d.recent_scans(3).unwrap(),
    );
    fixture(&mut out, "registered", "Recorded", &registered);
    fixture(&mut out, "claimed", "ClaimRecorded", &claimed);
    fixture(&mut out, "repaired", "Recorded", &repaired);
    fixture(&mut out, "reported", "Recorded", &reported);
    fixture(&mut out, "held", "Recorded", &held);
    fixture(&mut out, "released", "Recorded", &released);
    fixture(&mut out, "returned", "Recorded", &returned);
    fixture(
        &mut out,
        "history",
        "History",
        &d.history(&code("R1"), now).unwrap(),
    );
    fixture(&mut out, "orders", "Picking[]", &orders);
    fixture(&mut out, "shipped", "Shipped", &shipped);
    fixture(&mut out, "flag", "Flag", &flag);
    fixture(&mut out, "flagUnit", "FlagUnit", &unit);
    fixture(
        &mut out,
        "lifecycle",
        "LifecycleStep[]",
        &custodian_ledger::docs::flag_lifecycle(),
    );
    fixture(&mut out, "status", "Status", &app_status);
    let error: ApiError = custodian_ledger::Error::NotFound("manifest ASN-404".into()).into();
    fixture(&mut out, "notFound", "ApiError", &error);
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

#[test]
fn ipc_fixtures_match_what_the_commands_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let rendered = render(tmp.path());
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/ipc.fixtures.ts");
    if std::env::var_os("CUSTODIAN_BLESS").is_some() {
        std::fs::write(&path, &rendered).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == rendered,
        "the app's commands answer otherwise than ui/src/ipc.fixtures.ts says: check ui/src/api.ts \
         against the change, then regenerate the file with \
         `CUSTODIAN_BLESS=1 cargo test -p custodian-app ipc_fixtures`"
    );
}
