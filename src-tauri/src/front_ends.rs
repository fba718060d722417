//! Every user action through both front ends, on two ledgers enrolled alike with one real hub:
//! the `custodian` command line (the built binary) on one, the app's commands through Tauri's
//! IPC on the other. Tauri's mock runtime stands in for the window system alone: the commands,
//! the decoding of their arguments and their answers are the app's. Each action must answer the
//! same through both, but for what differs by nature (times, event ids, the recording device).

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on any unexpected error"
)]

use std::path::Path;
use std::sync::Arc;

use custodian_e2e::{HubProcess, custodian_with_input, demo_asn, sscc_element_string};
use serde_json::{Value, json};
use tauri::test::{
    INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets,
};

/// The app over the ledger in one directory, driven through its IPC.
struct App {
    _app: tauri::App<MockRuntime>,
    webview: tauri::WebviewWindow<MockRuntime>,
}

impl App {
    fn open(dir: &Path) -> App {
        let device = Arc::new(custodian_sync::Device::open(dir).unwrap());
        let app = crate::app(mock_builder(), crate::commands::AppState::new(device))
            .build(mock_context(noop_assets()))
            .unwrap();
        let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap();
        App { _app: app, webview }
    }

    /// Invokes `cmd` with `args` as the webview does; its answer, or what it refused with.
    fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        let request = tauri::webview::InvokeRequest {
            cmd: cmd.into(),
            callback: tauri::ipc::CallbackFn(0),
            error: tauri::ipc::CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: tauri::ipc::InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        };
        get_ipc_response(&self.webview, request).map(|b| b.deserialize::<Value>().unwrap())
    }

    fn call(&self, cmd: &str, args: Value) -> Value {
        self.invoke(cmd, args)
            .unwrap_or_else(|e| panic!("the app's {cmd} failed: {e}"))
    }
}

/// `custodian ARGS --data DATA --json` with `input`: its JSON answers, one per line (a list,
/// a scan's verdicts), or one document across lines.
fn cli(data: &Path, args: &[&str], input: Option<&str>) -> Value {
    let mut all = args.to_vec();
    all.extend(["--data", data.to_str().unwrap(), "--json"]);
    let out = custodian_with_input(&all, input);
    let lines: Result<Vec<Value>, _> = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect();
    match lines {
        Ok(lines) => Value::Array(lines),
        Err(_) => serde_json::from_str(&out).unwrap_or_else(|e| panic!("{out}: {e}")),
    }
}

/// As [`cli`], for a command that answers one document.
fn cli_one(data: &Path, args: &[&str]) -> Value {
    match cli(data, args, None) {
        Value::Array(mut lines) if lines.len() == 1 => lines.remove(0),
        other => other,
    }
}

/// One device's answers made comparable with another's: what differs by nature between two
/// devices doing the same thing becomes a placeholder. Times become `<time>`; the device's id and
/// data directory become `<device>` and `<data>`; event ids (content hashes, which include the
/// time and the device) become `<event N>`, numbered in the order they first appear, so the
/// same event named in two places is still seen to be one. A flag's event is the exception.
struct Comparable {
    device: String,
    data: String,
    events: std::collections::HashMap<String, usize>,
}

impl Comparable {
    fn of(dir: &Path, device: &Value) -> Comparable {
        Comparable {
            device: device.as_str().unwrap().to_string(),
            data: dir.to_str().unwrap().to_string(),
            events: Default::default(),
        }
    }

    fn value(&mut self, v: &Value) -> Value {
        match v {
            Value::Object(map) => {
                // A flag (or a unit it lists) names the event that raised it, which is one event
                // the hub holds, the same on both devices whichever recorded it: kept as it is.
                let flag = map.contains_key("raised_at") || map.contains_key("flag");
                map.iter()
                    .map(|(k, v)| {
                        let v = if flag && k == "event" {
                            v.clone()
                        } else {
                            self.value(v)
                        };
                        (k.clone(), v)
                    })
                    .collect::<serde_json::Map<_, _>>()
                    .into()
            }
            Value::Array(items) => items.iter().map(|v| self.value(v)).collect(),
            Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => "<time>".into(),
            Value::String(s) => {
                let mut out = s
                    .replace(&self.data, "<data>")
                    .replace(&self.device, "<device>");
                while let Some(at) = out.find("ni:///sha-256;") {
                    let end = out[at..]
                        .find(|c: char| !(c.is_ascii_alphanumeric() || ":/-;".contains(c)))
                        .map_or(out.len(), |n| at + n);
                    let next = self.events.len();
                    let n = *self.events.entry(out[at..end].to_string()).or_insert(next);
                    out.replace_range(at..end, &format!("<event {n}>"));
                }
                out.into()
            }
            other => other.clone(),
        }
    }
}

struct Both<'a> {
    by_cli: &'a Path,
    app: &'a App,
    cli: std::cell::RefCell<Comparable>,
    by_app: std::cell::RefCell<Comparable>,
}

impl Both<'_> {
    /// Runs one action through both front ends and asserts the answers agree; returns the
    /// command line's.
    fn same(
        &self,
        action: &str,
        cli_args: &[&str],
        input: Option<&str>,
        cmd: &str,
        args: Value,
    ) -> Value {
        let through_cli = cli(self.by_cli, cli_args, input);
        let through_app = self.app.call(cmd, args);
        let through_cli = match (&through_cli, &through_app) {
            // The command line answers a verdict per input line.
            (Value::Array(lines), app)
                if lines.len() == 1 && (!app.is_array() || lines[0].is_array()) =>
            {
                lines[0].clone()
            }
            _ => through_cli,
        };
        let (c, a) = (
            self.cli.borrow_mut().value(&through_cli),
            self.by_app.borrow_mut().value(&through_app),
        );
        assert_eq!(
            c,
            a,
            "{action} answers differently through the command line and the app:\ncli: {}\napp: {}",
            serde_json::to_string_pretty(&c).unwrap(),
            serde_json::to_string_pretty(&a).unwrap()
        );
        through_cli
    }
}

#[test]
fn every_action_answers_the_same_through_the_command_line_and_the_app() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&tmp.path().join("hub"), true);
    let by_cli = tmp.path().join("cli");
    let by_app = tmp.path().join("app");
    let app = App::open(&by_app);

    // Enrollment, and the first sync it runs: two docks of dist-a.
    let (cli_token, app_token) = (
        hub.token("dist-a", "dc-hamburg", None),
        hub.token("dist-a", "dc-hamburg", None),
    );
    let enrolled = cli_one(&by_cli, &["enroll", &cli_token]);
    assert_eq!(enrolled["enrolled"], true, "{enrolled}");
    let through_app = app.call("enroll", json!({ "token": app_token }));
    let both = Both {
        by_cli: &by_cli,
        app: &app,
        cli: Comparable::of(&by_cli, &enrolled["device"]).into(),
        by_app: Comparable::of(&by_app, &through_app["device"]).into(),
    };
    assert_eq!(
        both.cli.borrow_mut().value(&enrolled),
        both.by_app.borrow_mut().value(&through_app)
    );
    let mut status = app.call("status", json!({}));
    assert_eq!(status["link"]["state"], "online", "{status}");
    status.as_object_mut().unwrap().remove("link");
    assert_eq!(
        both.cli.borrow_mut().value(&cli_one(&by_cli, &["status"])),
        both.by_app.borrow_mut().value(&status)
    );

    let asn = demo_asn();
    let pallet = sscc_element_string(asn["pallet"].as_str().unwrap());
    let unit = |i: usize| asn["units"][i].as_str().unwrap().to_string();

    // Receiving against the ASN: the pallet, a unit twice.
    let found = both.same(
        "find a manifest",
        &["manifest", "find", &pallet],
        None,
        "find_manifest",
        json!({ "code": pallet }),
    );
    assert_eq!(found, "ASN-0001");
    both.same(
        "manifests",
        &["manifest", "list"],
        None,
        "manifests",
        json!({}),
    );
    for (code, step) in [
        (&pallet, "receiving"),
        (&unit(0), "receiving"),
        (&unit(0), "receiving"),
    ] {
        let v = both.same(
            "scan",
            &["scan", "--step", step, "--manifest", "ASN-0001"],
            Some(&format!("{code}\r\n")),
            "scan",
            json!({ "raw": code, "step": step, "manifest": "ASN-0001" }),
        );
        assert!(v["verdict"].is_string(), "{v}");
    }
    both.same(
        "manifest",
        &["manifest", "show", "ASN-0001"],
        None,
        "manifest",
        json!({ "id": "ASN-0001" }),
    );
    let closed = both.same(
        "close a manifest",
        &["manifest", "close", "ASN-0001"],
        None,
        "close_manifest",
        json!({ "id": "ASN-0001" }),
    );
    assert!(closed.to_string().contains("closed"), "{closed}");

    // After-sales on three units.
    let (u1, u2, u3) = (unit(1), unit(2), unit(3));
    both.same(
        "register a warranty",
        &["warranty", "register", &u1, "--owner", "J. Doe"],
        None,
        "register_warranty",
        json!({ "code": u1, "owner": "J. Doe" }),
    );
    both.same(
        "claim a warranty",
        &[
            "warranty",
            "claim",
            &u1,
            "--defect",
            "battery fault",
            "--note",
            "dead on arrival",
        ],
        None,
        "claim_warranty",
        json!({ "code": u1, "defect": "battery fault", "note": "dead on arrival" }),
    );
    both.same(
        "repair",
        &["repair", "--unit", &u1, "--order", "RO-7"],
        None,
        "record_repair",
        json!({ "code": u1, "partsIn": [], "partsOut": [], "order": "RO-7" }),
    );
    both.same(
        "quarantine",
        &["quarantine", &u2, "--reason", "seal broken"],
        None,
        "quarantine",
        json!({ "code": u2, "reason": "seal broken" }),
    );
    both.same(
        "release",
        &["release", &u2, "--note", "resealed at the factory"],
        None,
        "release",
        json!({ "code": u2, "note": "resealed at the factory" }),
    );
    both.same(
        "report a counterfeit",
        &["report-counterfeit", &u3, "--note", "logo misprinted"],
        None,
        "report_counterfeit",
        json!({ "code": u3, "note": "logo misprinted" }),
    );
    both.same(
        "return",
        &["return", &unit(4), "--outcome", "refurbished"],
        None,
        "return_unit",
        json!({ "code": unit(4), "outcome": "refurbished" }),
    );
    let history = both.same(
        "history",
        &["history", &u1],
        None,
        "history",
        json!({ "code": u1 }),
    );
    assert!(history.to_string().contains("RO-7"), "{history}");

    // An order, picked and shipped (orders are imported from a file on either device).
    let order = tmp.path().join("so-1001.csv");
    std::fs::write(
        &order,
        "order,to,gtin,quantity\nSO-1001,retail-berlin,04012345000016,1\n",
    )
    .unwrap();
    for dir in [&by_cli, &by_app] {
        custodian_e2e::custodian(&[
            "manifest",
            "import",
            "--data",
            dir.to_str().unwrap(),
            order.to_str().unwrap(),
        ]);
    }
    let picked = unit(5);
    both.same(
        "pick",
        &["scan", "--step", "shipping", "--manifest", "SO-1001"],
        Some(&format!("{picked}\r\n")),
        "scan",
        json!({ "raw": picked, "step": "shipping", "manifest": "SO-1001" }),
    );
    let shipped = both.same(
        "close an order",
        &["manifest", "close", "SO-1001"],
        None,
        "close_order",
        json!({ "id": "SO-1001" }),
    );
    assert_eq!(shipped["order"]["status"], "shipped", "{shipped}");

    // What reaches the hub, and the flags it raises in answer.
    let cli_sync = cli_one(&by_cli, &["sync"]);
    let app_sync = app.call("sync_now", json!({}));
    assert_eq!(
        cli_sync["stored_by_hub"], app_sync["stored_by_hub"],
        "{cli_sync}\n{app_sync}"
    );
    assert!(
        cli_sync["stored_by_hub"].as_u64().unwrap() > 0,
        "{cli_sync}"
    );
    // Both devices hold the flags their organisation's events raised once each has synced after
    // the other (the app's reports and claims repeat the command line's, and the hub says so).
    cli_one(&by_cli, &["sync"]);
    let flags = both.same("flags", &["flags"], None, "flags", json!({}));
    let counterfeit = flags
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "counterfeit")
        .unwrap_or_else(|| panic!("no counterfeit flag: {flags}"));
    let id = counterfeit["id"].as_str().unwrap();
    both.same(
        "a flag's units",
        &["flags", "units", id],
        None,
        "flag_units",
        json!({ "id": id }),
    );
    let moved = both.same(
        "move a flag",
        &[
            "flags",
            "move",
            id,
            "under_investigation",
            "--note",
            "photos requested",
        ],
        None,
        "move_flag",
        json!({ "id": id, "status": "under_investigation", "note": "photos requested" }),
    );
    assert_eq!(moved["status"], "under_investigation", "{moved}");
}
