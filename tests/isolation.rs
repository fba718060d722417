//! Partners see and change only what is theirs: a real hub over HTTPS with devices enrolled for
//! dist-a, dist-b and retail-berlin, tried as a hostile partner and an anonymous caller would.
//! Where the CLI cannot produce an attack, the test signs a request by hand with a device's own
//! key, exactly as the device would send it.
//!
//! Each test walks one kind of data of the access model in ARCHITECTURE.md and asserts what each
//! organisation may and may not receive.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::path::Path;

use automerge::sync::SyncDoc as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, FixedOffset};
use custodian_e2e::{HubProcess, custodian, custodian_output, custodian_with_input, demo_asn};
use custodian_ledger::event::{Action, BizStep, BizTransaction, Disposition, EventType, Extension};
use custodian_ledger::sql::AsDb;
use custodian_ledger::{Epc, Event, EventBody, Ledger, Recorder};
use custodian_sync::identity::RequestAuth;
use custodian_sync::protocol::{self, PROTOCOL_VERSION, SyncRequest, SyncResponse};
use custodian_sync::transport::HubClient;
use ed25519_dalek::SigningKey;
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The hub with the demo data, and a device each for dist-a, dist-b and retail-berlin. dist-a
/// has received ASN-0001's pallet; everyone has synced.
struct World {
    _tmp: tempfile::TempDir,
    hub: HubProcess,
    a: String,
    b: String,
    r: String,
}

fn world() -> World {
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&tmp.path().join("hub"), true);
    let dir = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    let (a, b, r) = (dir("dist-a"), dir("dist-b"), dir("retail"));
    hub.enroll(a.as_ref(), "dist-a", "dc-hamburg");
    hub.enroll(b.as_ref(), "dist-b", "dc-oakland");
    hub.enroll(r.as_ref(), "retail-berlin", "store-mitte");
    let pallet = custodian_e2e::sscc_element_string(demo_asn()["pallet"].as_str().unwrap());
    let received = scan(&a, "receiving", Some("ASN-0001"), &pallet);
    assert_eq!(received["verdict"], "ok", "{received}");
    for d in [&a, &b, &r] {
        custodian(&["sync", "--data", d]);
    }
    for org in ["acme", "dist-a", "dist-b", "retail-berlin"] {
        assert!(
            hub_flags(&hub, org).is_empty(),
            "a receipt in sequence raises nothing: {org}: {:?}",
            hub_flags(&hub, org)
        );
    }
    World {
        _tmp: tmp,
        hub,
        a,
        b,
        r,
    }
}

/// One scan through `custodian scan --json`.
fn scan(data: &str, step: &str, manifest: Option<&str>, code: &str) -> Value {
    let mut args = vec!["scan", "--data", data, "--step", step, "--json"];
    if let Some(m) = manifest {
        args.extend(["--manifest", m]);
    }
    json(custodian_with_input(&args, Some(&format!("{code}\r\n"))).trim())
}

fn unit_code(i: usize) -> String {
    demo_asn()["units"][i].as_str().unwrap().to_string()
}

fn unit_epc(i: usize) -> Epc {
    let code = unit_code(i);
    let parsed = json(&custodian(&["parse", &code, "--json"]));
    let gtin = parsed["gtin"].as_str().unwrap();
    let serial = parsed["serial"].as_str().unwrap();
    Epc::parse(&format!("https://id.gs1.org/01/{gtin}/21/{serial}")).unwrap()
}

fn pallet_epc() -> Epc {
    Epc::parse(demo_asn()["pallet"].as_str().unwrap()).unwrap()
}

/// Everything `data`'s device can show about the unit, as one string: its history and flags.
fn seen_by(data: &str, code: &str) -> String {
    format!(
        "{}\n{}",
        custodian(&["history", "--data", data, code, "--json"]),
        custodian(&["flags", "--data", data, "--json"])
    )
}

/// The hub's registry, read beside the running hub.
fn registry(hub: &HubProcess) -> custodian_e2e::RegistryDb {
    hub.registry_db()
}

fn docs_of(hub: &HubProcess, org: &str) -> Vec<String> {
    let conn = registry(hub);
    let conn = conn.db();
    let mut stmt = conn
        .prepare("SELECT doc FROM doc_scope WHERE org = ?1 ORDER BY doc")
        .unwrap();
    stmt.query_map([org], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Flags the hub holds for `org`: (kind, unit, reason), one row per unit a flag names or lists.
fn hub_flags(hub: &HubProcess, org: &str) -> Vec<(String, String, String)> {
    let conn = registry(hub);
    let conn = conn.db();
    let mut stmt = conn
        .prepare(
            "SELECT f.kind, coalesce(u.epc, f.epc) AS unit, f.reason
             FROM flags f LEFT JOIN flag_units u ON u.flag = f.id
             WHERE f.org = ?1 ORDER BY unit",
        )
        .unwrap();
    stmt.query_map([org], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A device's credentials, read from its ledger as the device itself reads them.
struct Credentials {
    device: String,
    org: String,
    site: String,
    hub: String,
    ca: Vec<u8>,
    key: SigningKey,
}

impl Credentials {
    fn of(data: &str) -> Credentials {
        let ledger = Ledger::open(Path::new(data)).unwrap();
        let id = json(&ledger.kv_get("identity").unwrap().unwrap());
        let recorder = ledger.recorder().unwrap();
        let key: [u8; 32] = STANDARD
            .decode(id["key"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        Credentials {
            device: id["device"].as_str().unwrap().into(),
            org: recorder.org,
            site: recorder.site,
            hub: id["hub"].as_str().unwrap().into(),
            ca: STANDARD.decode(id["ca"].as_str().unwrap()).unwrap(),
            key: SigningKey::from_bytes(&key),
        }
    }

    fn recorder(&self) -> Recorder {
        Recorder {
            org: self.org.clone(),
            site: self.site.clone(),
            device: self.device.clone(),
        }
    }
}

/// What a hand-made request gets: the decoded answer, or the status and body of a refusal.
type Answer = Result<SyncResponse, (u16, String)>;

/// Sends a sync request signed with `key` as `device`, with `counter` and `clock_ms` as given.
fn send_as(
    hub: &str,
    ca: &[u8],
    key: &SigningKey,
    device: &str,
    counter: u64,
    clock_ms: i64,
    request: &SyncRequest,
) -> Answer {
    let body = protocol::encode(request);
    let auth = RequestAuth::sign(key, device, counter, clock_ms, "POST", "/v1/sync", &body);
    let mut headers = vec![("content-type", "application/octet-stream".to_string())];
    headers.extend(auth.headers());
    send_raw(hub, ca, body, &headers)
}

fn send_raw(hub: &str, ca: &[u8], body: Vec<u8>, headers: &[(&str, String)]) -> Answer {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = HubClient::pinned(hub, ca).unwrap();
        match client.post("/v1/sync", body, headers).await {
            Ok(bytes) => Ok(protocol::decode(&bytes).unwrap()),
            Err(custodian_sync::Error::Refused { status, message }) => Err((status, message)),
            Err(e) => panic!("the hub could not be reached: {e}"),
        }
    })
}

/// A counter above anything the device used (its own syncs count from 1 up), for a device
/// that will not sync again.
fn fresh_counter() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap() * 1_000
}

/// The device's next request counter, taken as the device takes it (kept in its ledger), so
/// that its own syncs go on after a hand-made request.
fn next_counter(data: &str) -> u64 {
    let ledger = Ledger::open(Path::new(data)).unwrap();
    let mut id = json(&ledger.kv_get("identity").unwrap().unwrap());
    let counter = id["counter"].as_u64().unwrap() + 1;
    id["counter"] = counter.into();
    ledger.kv_set("identity", &id.to_string()).unwrap();
    counter
}

fn upload(events: Vec<Event>) -> SyncRequest {
    SyncRequest {
        v: PROTOCOL_VERSION,
        upload: events,
        upload_through: 0,
        download_after: 0,
        extract_version: 0,
        extract_deltas: true,
        known_docs: Vec::new(),
        docs: Vec::new(),
        download_limit: None,
        flag_units_after: None,
        upload_after: None,
        answered: None,
    }
}

fn at(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).unwrap()
}

fn shipment(by: &Credentials, epcs: Vec<Epc>, to: &str, asn: &str, when: &str) -> Event {
    Event::new(EventBody {
        event_type: EventType::ObjectEvent,
        action: Action::Observe,
        biz_step: BizStep::Shipping,
        disposition: Some(Disposition::InTransit),
        event_time: at(when),
        epcs,
        parent: None,
        biz_transactions: vec![BizTransaction {
            kind: "desadv".into(),
            id: asn.into(),
        }],
        source: Some(by.org.clone()),
        destination: Some(to.into()),
        recorder: by.recorder(),
        extension: Extension::default(),
    })
}

fn inspection(by: &Credentials, unit: Epc, when: DateTime<FixedOffset>) -> Event {
    Event::new(EventBody {
        event_type: EventType::ObjectEvent,
        action: Action::Observe,
        biz_step: BizStep::Inspecting,
        disposition: Some(Disposition::Active),
        event_time: when,
        epcs: vec![unit],
        parent: None,
        biz_transactions: Vec::new(),
        source: None,
        destination: None,
        recorder: by.recorder(),
        extension: Extension::default(),
    })
}

fn now_iso() -> String {
    chrono::Utc::now().to_rfc3339()
}

#[test]
fn another_organisation_shipping_under_the_same_number_neither_joins_nor_closes_the_manifest() {
    let w = world();
    let gtin = unit_epc(0);
    let Epc::Unit { gtin, .. } = gtin else {
        unreachable!()
    };
    // retail-berlin and dist-b each ship an order they numbered ASN-0001, pick a unit of it and
    // close it, with the CLI alone.
    for (data, to) in [(&w.r, "dist-b"), (&w.b, "retail-berlin")] {
        let csv = Path::new(data).join("order.csv");
        std::fs::write(
            &csv,
            format!("order,to,gtin,quantity\nASN-0001,{to},{gtin},1\n"),
        )
        .unwrap();
        custodian(&["manifest", "import", "--data", data, csv.to_str().unwrap()]);
        let picked = scan(data, "shipping", Some("ASN-0001"), &unit_code(3));
        assert!(picked["verdict"].is_string(), "{picked}");
        custodian(&["manifest", "close", "--data", data, "ASN-0001"]);
        custodian(&["sync", "--data", data]);
    }
    custodian(&["sync", "--data", &w.a]);

    // Each has a document of its own; dist-a's stays dist-a's and acme's.
    let scope = |org: &str| docs_of(&w.hub, org);
    assert!(
        scope("retail-berlin").contains(&"manifest/retail-berlin/ASN-0001".to_string()),
        "{:?}",
        scope("retail-berlin")
    );
    for org in ["retail-berlin", "dist-b"] {
        assert!(
            !scope(org).contains(&"manifest/acme/ASN-0001".to_string()),
            "{org} joined acme's ASN-0001: {:?}",
            scope(org)
        );
    }
    assert!(scope("dist-a").contains(&"manifest/acme/ASN-0001".to_string()));
    let shown = json(&custodian(&[
        "manifest", "show", "--data", &w.a, "ASN-0001", "--json",
    ]));
    assert_eq!(shown["status"], "open", "{shown}");
    assert!(shown["closed_by"].is_null(), "{shown}");
    assert_eq!(shown["progress"]["expected"], 24, "{shown}");

    // Nor can a partner write acme's document by hand, under its new id or its old one.
    let b = Credentials::of(&w.b);
    for id in ["manifest/acme/ASN-0001", "manifest/ASN-0001"] {
        let mut doc = automerge::AutoCommit::new();
        automerge::transaction::Transactable::put(&mut doc, automerge::ROOT, "status", "closed")
            .unwrap();
        let message = doc
            .sync()
            .generate_sync_message(&mut automerge::sync::State::new())
            .unwrap();
        let mut request = upload(Vec::new());
        request.docs = vec![custodian_sync::protocol::DocMessage::new(id, message)];
        let refused = send_as(
            &b.hub,
            &b.ca,
            &b.key,
            &b.device,
            next_counter(&w.b),
            chrono::Utc::now().timestamp_millis(),
            &request,
        )
        .unwrap_err();
        assert_eq!(refused.0, 403, "{id}: {refused:?}");
    }

    // dist-a can still close its own.
    custodian(&["manifest", "close", "--data", &w.a, "ASN-0001"]);
    custodian(&["sync", "--data", &w.a]);
    let closed = json(&custodian(&[
        "manifest", "show", "--data", &w.a, "ASN-0001", "--json",
    ]));
    assert_eq!(closed["status"], "closed", "{closed}");
}

#[test]
fn a_partner_naming_another_organisations_pallet_learns_nothing_about_it() {
    let w = world();
    let held = unit_code(1);
    custodian(&[
        "quarantine",
        "--data",
        &w.a,
        &held,
        "--reason",
        "secret: dented housing, supplier claim 4711",
    ]);
    custodian(&["sync", "--data", &w.a]);

    // dist-b signs a shipment to itself of dist-a's pallet and held unit, under dist-a's ASN.
    let b = Credentials::of(&w.b);
    let forged = shipment(
        &b,
        vec![pallet_epc(), unit_epc(1)],
        "dist-b",
        "ASN-0001",
        &now_iso(),
    );
    let answer = send_as(
        &b.hub,
        &b.ca,
        &b.key,
        &b.device,
        next_counter(&w.b),
        chrono::Utc::now().timestamp_millis(),
        &upload(vec![forged.clone()]),
    )
    .unwrap_or_else(|e| panic!("the hub refused the upload: {e:?}"));
    assert_eq!(answer.stored, 1);
    let foreign: Vec<&Event> = answer
        .events
        .iter()
        .filter(|e| e.body.recorder.org != "dist-b")
        .collect();
    assert!(
        foreign.is_empty(),
        "dist-b received {} events of other organisations: {:?}",
        foreign.len(),
        foreign
            .iter()
            .map(|e| (&e.body.recorder.org, e.body.biz_step))
            .collect::<Vec<_>>()
    );
    assert!(
        !docs_of(&w.hub, "dist-b").contains(&"manifest/acme/ASN-0001".to_string()),
        "{:?}",
        docs_of(&w.hub, "dist-b")
    );

    // After a full sync, dist-b's device knows nothing of the pallet's contents, the hold or
    // who holds the unit.
    custodian(&["sync", "--data", &w.b]);
    let seen = seen_by(&w.b, &held);
    for secret in ["dented housing", "Nordlager", "dist-a", "packing"] {
        assert!(!seen.contains(secret), "dist-b sees {secret:?}: {seen}");
    }
    let b_flags = hub_flags(&w.hub, "dist-b");
    let named: Vec<String> = [pallet_epc(), unit_epc(1)].iter().map(Epc::uri).collect();
    for (kind, epc, reason) in &b_flags {
        assert!(
            named.contains(epc),
            "dist-b was told about {epc} ({kind}: {reason}), which it never named"
        );
        assert!(!reason.contains("Nordlager"), "{reason}");
    }
    assert!(
        b_flags
            .iter()
            .any(|(k, e, _)| k == "out_of_sequence" && *e == pallet_epc().uri()),
        "the shipper is told its shipment is out of sequence: {b_flags:?}"
    );
    // The owners hear of it: the holder of the unit and the manufacturer, with who holds it.
    let unit = unit_epc(1).uri();
    for owner in ["dist-a", "acme"] {
        let flags = hub_flags(&w.hub, owner);
        assert!(
            flags
                .iter()
                .any(|(k, e, r)| k == "out_of_sequence" && *e == unit && r.contains("Nordlager")),
            "{owner}: {flags:?}"
        );
    }
    // And no stranger's flags name the pallet's other units.
    assert!(
        hub_flags(&w.hub, "retail-berlin").is_empty(),
        "{:?}",
        hub_flags(&w.hub, "retail-berlin")
    );
}

#[test]
fn private_words_stay_with_their_organisation_and_the_manufacturer() {
    let w = world();
    // dist-a ships two units to retail-berlin, then holds one of them with a private reason.
    let csv = Path::new(&w.a).join("order.csv");
    let Epc::Unit { gtin, .. } = unit_epc(0) else {
        unreachable!()
    };
    std::fs::write(
        &csv,
        format!("order,to,gtin,quantity\nSO-77,retail-berlin,{gtin},2\n"),
    )
    .unwrap();
    custodian(&["manifest", "import", "--data", &w.a, csv.to_str().unwrap()]);
    for i in [0, 2] {
        assert_eq!(
            scan(&w.a, "shipping", Some("SO-77"), &unit_code(i))["verdict"],
            "ok"
        );
    }
    custodian(&["manifest", "close", "--data", &w.a, "SO-77"]);
    custodian(&[
        "quarantine",
        "--data",
        &w.a,
        &unit_code(2),
        "--reason",
        "private: customer 4411 returned it wet",
    ]);
    custodian(&["sync", "--data", &w.a]);
    custodian(&["sync", "--data", &w.r]);

    // The retailer learns that the unit is held, since when and by whom, not why.
    let v = scan(&w.r, "inspecting", None, &unit_code(2));
    assert_eq!(v["verdict"], "quarantined", "{v}");
    let seen = seen_by(&w.r, &unit_code(2));
    assert!(!seen.contains("customer 4411"), "{seen}");
    assert!(seen.contains("withheld"), "{seen}");
    // dist-a's own device still has its words.
    assert!(seen_by(&w.a, &unit_code(2)).contains("customer 4411"));

    // The retailer reports the other unit (which it holds) counterfeit, with a private note.
    custodian_with_input(
        &[
            "scan",
            "--data",
            &w.r,
            "--step",
            "receiving",
            "--manifest",
            "SO-77",
        ],
        Some(&format!("{}\r\n", unit_code(0))),
    );
    custodian(&[
        "report-counterfeit",
        "--data",
        &w.r,
        &unit_code(0),
        "--note",
        "private: hologram missing, seller Mr X",
    ]);
    custodian(&["sync", "--data", &w.r]);
    custodian(&["sync", "--data", &w.a]);
    custodian(&["sync", "--data", &w.b]);
    // Listed for everyone (the reporter held the unit); the note reaches no other partner.
    for data in [&w.a, &w.b] {
        let v = scan(data, "inspecting", None, &unit_code(0));
        assert_eq!(v["verdict"], "reported_counterfeit", "{v}");
        let seen = format!("{v}\n{}", seen_by(data, &unit_code(0)));
        assert!(!seen.contains("hologram"), "{seen}");
    }
    // The reporter's own flag and the manufacturer keep it.
    assert!(
        hub_flags(&w.hub, "retail-berlin")
            .iter()
            .any(|(k, _, r)| k == "counterfeit" && r.contains("hologram")),
        "{:?}",
        hub_flags(&w.hub, "retail-berlin")
    );
    let alerts = custodian(&["hub", "alerts", "--data", w.hub.data(), "--json"]);
    assert!(alerts.contains("hologram"), "{alerts}");
    for (k, _, r) in hub_flags(&w.hub, "dist-a") {
        assert!(!r.contains("hologram"), "{k}: {r}");
    }
}

#[test]
fn a_counterfeit_report_on_a_unit_never_held_goes_to_the_manufacturer_for_review() {
    let w = world();
    custodian(&[
        "report-counterfeit",
        "--data",
        &w.b,
        &unit_code(4),
        "--note",
        "competitor says fake",
    ]);
    custodian(&["sync", "--data", &w.b]);
    custodian(&["sync", "--data", &w.a]);

    // Not on the list: dist-a's device and the public still take it for genuine.
    let v = scan(&w.a, "inspecting", None, &unit_code(4));
    assert_ne!(v["verdict"], "reported_counterfeit", "{v}");
    let alerts = custodian(&["hub", "alerts", "--data", w.hub.data(), "--json"]);
    assert!(!alerts.contains(&unit_epc(4).uri()), "{alerts}");
    // The manufacturer reviews it, with the note; the reporter is told where it went.
    let acme = hub_flags(&w.hub, "acme");
    assert!(
        acme.iter().any(|(k, e, r)| k == "counterfeit"
            && *e == unit_epc(4).uri()
            && r.contains("review")
            && r.contains("competitor says fake")),
        "{acme:?}"
    );
    let b = hub_flags(&w.hub, "dist-b");
    assert!(
        b.iter()
            .any(|(k, _, r)| k == "counterfeit" && r.contains("for review")),
        "{b:?}"
    );
    for (_, _, r) in hub_flags(&w.hub, "dist-a") {
        assert!(!r.contains("competitor"), "{r}");
    }
    // Once the manufacturer lists it, every device hears of it.
    custodian(&[
        "hub",
        "alert",
        "--data",
        w.hub.data(),
        &unit_code(4),
        "--reason",
        "confirmed by inspection",
    ]);
    custodian(&["sync", "--data", &w.a]);
    let v = scan(&w.a, "inspecting", None, &unit_code(4));
    assert_eq!(v["verdict"], "reported_counterfeit", "{v}");
}

#[test]
fn every_authentication_failure_gets_the_same_answer() {
    let w = world();
    let b = Credentials::of(&w.b);
    let request = upload(Vec::new());
    let clock = chrono::Utc::now().timestamp_millis();
    let stranger = SigningKey::from_bytes(&[7; 32]);
    let mut answers = vec![
        (
            "unknown device",
            send_as(
                &b.hub,
                &b.ca,
                &b.key,
                "device-does-not-exist",
                fresh_counter(),
                clock,
                &request,
            ),
        ),
        (
            "another key",
            send_as(
                &b.hub,
                &b.ca,
                &stranger,
                &b.device,
                fresh_counter(),
                clock,
                &request,
            ),
        ),
        (
            "replayed counter",
            send_as(&b.hub, &b.ca, &b.key, &b.device, 1, clock, &request),
        ),
        (
            "missing headers",
            send_raw(&b.hub, &b.ca, protocol::encode(&request), &[]),
        ),
    ];
    // Each header missing alone, and each unreadable: signed properly otherwise.
    let body = protocol::encode(&request);
    let signed = RequestAuth::sign(
        &b.key,
        &b.device,
        fresh_counter(),
        clock,
        "POST",
        "/v1/sync",
        &body,
    )
    .headers();
    for (i, (name, _)) in signed.iter().enumerate() {
        let without: Vec<(&str, String)> = signed
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, (n, v))| (*n, v.clone()))
            .collect();
        answers.push((
            "a header missing",
            send_raw(&b.hub, &b.ca, body.clone(), &without),
        ));
        let unreadable: Vec<(&str, String)> = signed
            .iter()
            .map(|(n, v)| {
                (
                    *n,
                    if n == name {
                        "not*a*value".to_string()
                    } else {
                        v.clone()
                    },
                )
            })
            .collect();
        answers.push((
            "a header unreadable",
            send_raw(&b.hub, &b.ca, body.clone(), &unreadable),
        ));
    }
    let mut truncated: Vec<(&str, String)> = signed.iter().map(|(n, v)| (*n, v.clone())).collect();
    if let Some((_, signature)) = truncated
        .iter_mut()
        .find(|(n, _)| *n == "x-custodian-signature")
    {
        signature.truncate(signature.len() / 2);
    }
    answers.push((
        "a signature cut short",
        send_raw(&b.hub, &b.ca, body, &truncated),
    ));
    // A revoked device's id with a key that is not its own: the same answer. (The device
    // itself, signing with its key, is told it was revoked: the revocation suite.)
    let revoked = Credentials::of(&w.r);
    custodian(&["hub", "revoke", "--data", w.hub.data(), &revoked.device]);
    answers.push((
        "revoked device's id, another key",
        send_as(
            &revoked.hub,
            &revoked.ca,
            &stranger,
            &revoked.device,
            fresh_counter(),
            clock,
            &request,
        ),
    ));
    let first = answers[0].1.clone().unwrap_err();
    assert_eq!(first.0, 401);
    for (what, answer) in &answers {
        assert_eq!(answer.as_ref().unwrap_err(), &first, "{what}");
    }
    // The device itself still gets in.
    custodian(&["sync", "--data", &w.b]);
}

#[test]
fn hostile_clocks_and_dates_are_bounded_and_never_break_the_hub() {
    let w = world();
    let b = Credentials::of(&w.b);
    let unit = unit_epc(5);
    // Clock readings no clock gives: each request is answered, nothing panics.
    for clock in [10_000_000_000_000_000, i64::MIN, i64::MAX, -1] {
        let sighting = inspection(&b, unit.clone(), at(&now_iso()));
        let answer = send_as(
            &b.hub,
            &b.ca,
            &b.key,
            &b.device,
            next_counter(&w.b),
            clock,
            &upload(vec![sighting]),
        );
        assert!(answer.is_ok(), "clock {clock}: {answer:?}");
    }
    // An event dated in the year 9999 is stored, ordered as received and flagged.
    let far = inspection(&b, unit.clone(), at("9999-12-31T23:59:59+00:00"));
    let answer = send_as(
        &b.hub,
        &b.ca,
        &b.key,
        &b.device,
        next_counter(&w.b),
        chrono::Utc::now().timestamp_millis(),
        &upload(vec![far.clone()]),
    );
    assert_eq!(answer.unwrap().stored, 1);
    let stored_time: String = registry(&w.hub)
        .db()
        .query_row("SELECT time FROM events WHERE id = ?1", [&far.id.0], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(
        stored_time.starts_with(&chrono::Utc::now().format("%Y-").to_string()),
        "{stored_time}"
    );
    for org in ["dist-b", "acme"] {
        assert!(
            hub_flags(&w.hub, org)
                .iter()
                .any(|(k, e, r)| k == "out_of_sequence" && *e == unit.uri() && r.contains("9999")),
            "{org}: {:?}",
            hub_flags(&w.hub, org)
        );
    }
    // A date EPCIS cannot carry is refused with the reason, and nothing is stored.
    let beyond_time = chrono::NaiveDate::from_ymd_opt(262_142, 12, 31)
        .unwrap()
        .and_hms_opt(23, 59, 59)
        .unwrap()
        .and_utc()
        .fixed_offset();
    let beyond = inspection(&b, unit.clone(), beyond_time);
    let refused = send_as(
        &b.hub,
        &b.ca,
        &b.key,
        &b.device,
        next_counter(&w.b),
        chrono::Utc::now().timestamp_millis(),
        &upload(vec![beyond.clone()]),
    )
    .unwrap_err();
    assert_eq!(refused.0, 400, "{refused:?}");
    assert!(refused.1.contains("years 1 to 9999"), "{refused:?}");
    let held: i64 = registry(&w.hub)
        .db()
        .query_row(
            "SELECT count(*) FROM events WHERE id = ?1",
            [&beyond.id.0],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(held, 0);
    // The device's own sync still works, and its export reads back.
    custodian(&["sync", "--data", &w.b]);
    let out = custodian_output(&["epcis", "export", "--data", &w.b], None);
    assert!(out.status.success());
}
