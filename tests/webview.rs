//! The real app window, driven through WebDriver: a real hub, an enrolled device ledger, the
//! app under Xvfb, `tauri-driver` + WebKitWebDriver. Scans are typed as a scanner's burst of
//! keys (GS separators, Enter) at whatever screen is in front; each journey is checked on the
//! page and then in the ledger, through the `custodian` command line.
//!
//! Needs Xvfb, WebKitWebDriver and tauri-driver (`scripts/setup.sh` installs them) and the
//! built app (`cargo build -p custodian-app`). Screenshots of every screen, at phone and desktop
//! size, go to `target/screenshots/`; `scripts/screenshots.sh` copies them into docs/.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use custodian_e2e::{
    HubProcess, bin, custodian, custodian_with_input, demo_asn, sscc_element_string, workspace,
};
use fantoccini::{ClientBuilder, Locator};

/// A child process stopped with SIGTERM (tauri-driver must not be SIGKILLed: its
/// WebKitWebDriver would be orphaned on its port), then reaped.
struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Two distinct free ports (both held until both are known).
fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

fn tool(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .chain([dirs_cargo_bin()])
        .map(|d| d.join(name))
        .find(|p| p.exists());
    found.unwrap_or_else(|| panic!("{name} is not installed: run scripts/setup.sh"))
}

fn dirs_cargo_bin() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .unwrap_or_default()
        .join("bin")
}

/// Starts Xvfb on a free display number.
fn xvfb() -> (Service, String) {
    for n in 90..140 {
        if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
            || Path::new(&format!("/tmp/.X{n}-lock")).exists()
        {
            continue;
        }
        let child = Command::new(tool("Xvfb"))
            .args([
                format!(":{n}"),
                "-screen".into(),
                "0".into(),
                "1280x900x24".into(),
                "-nolisten".into(),
                "tcp".into(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let socket = format!("/tmp/.X11-unix/X{n}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !Path::new(&socket).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(Path::new(&socket).exists(), "Xvfb :{n} did not start");
        return (Service(child), format!(":{n}"));
    }
    panic!("no free X display number between :90 and :139");
}

async fn text_of(c: &fantoccini::Client, id: &str) -> String {
    c.find(Locator::Id(id)).await.unwrap().text().await.unwrap()
}

/// Waits until the element `id` shows `want` (or panics with what it showed).
async fn wait_for_text(c: &fantoccini::Client, id: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(e) = c.find(Locator::Id(id)).await {
            last = e.text().await.unwrap_or_default();
            if last == want {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("#{id} shows {last:?}, expected {want:?}");
}

/// The app, running under Xvfb behind tauri-driver, with a WebDriver session on it.
struct App {
    client: fantoccini::Client,
    _driver: Service,
    _x: Service,
}

impl App {
    /// The app on `device`'s ledger; `frames` is a directory of images it offers as a camera.
    async fn launch(device: &Path, frames: Option<&Path>) -> App {
        let app = bin("custodian-app");
        let (x, display) = xvfb();
        let (port, native_port) = free_ports();
        let driver = Service(
            Command::new(tool("tauri-driver"))
                .args([
                    "--port",
                    &port.to_string(),
                    "--native-port",
                    &native_port.to_string(),
                ])
                .env("DISPLAY", &display)
                .env("CUSTODIAN_DATA", device)
                .env(
                    "CUSTODIAN_CAMERA_FRAMES",
                    frames.map(Path::as_os_str).unwrap_or_default(),
                )
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap(),
        );
        let mut caps = serde_json::Map::new();
        caps.insert(
            "tauri:options".into(),
            serde_json::json!({ "application": app }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            match ClientBuilder::rustls()
                .unwrap()
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => panic!("cannot start a WebDriver session on {url}: {e}"),
            }
        };
        App {
            client,
            _driver: driver,
            _x: x,
        }
    }

    /// A scanner's burst at the page, no field focused: the text, then Enter.
    /// Types `code` and Enter as a scanner would. WebDriver on a loaded machine now and then
    /// delivers the keys at a person's pace, and the wedge rightly takes them for typing: such
    /// a burst is sent again (at most three times in all). A burst taken for a scan returns.
    async fn scan(&self, code: &str) {
        for _ in 0..3 {
            let before = self.wedge().await["ended"].as_u64().unwrap();
            self.burst(code).await;
            let deadline = Instant::now() + Duration::from_secs(10);
            let wedge = loop {
                let w = self.wedge().await;
                if w["ended"].as_u64().unwrap() > before || Instant::now() > deadline {
                    break w;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            if wedge["last"]["scan"] == true {
                return;
            }
            eprintln!("a burst of {code:?} was not taken for a scan ({wedge}); sending it again");
            // The wedge's pause before a new burst.
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        panic!("three bursts of {code:?} were not taken for a scan");
    }

    /// Types `code` and Enter into the page, unchecked.
    async fn burst(&self, code: &str) {
        self.client
            .find(Locator::Css("body"))
            .await
            .unwrap()
            .send_keys(&format!("{code}\u{E007}"))
            .await
            .unwrap();
    }

    /// What the wedge made of the last burst it ended.
    async fn wedge(&self) -> serde_json::Value {
        self.client
            .execute("return window.custodianWedge()", vec![])
            .await
            .unwrap()
    }

    async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
            .click()
            .await
            .unwrap();
    }

    async fn go(&self, screen: &str) {
        self.click(&format!("#nav [data-screen='{screen}']")).await;
        wait_for_js(
            &self.client,
            &format!("return document.body.dataset.screen === '{screen}'"),
        )
        .await;
    }

    /// Types into a field as a person would (a burst without Enter, which the wedge hands
    /// to the field once it stops).
    async fn type_into(&self, css: &str, text: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.click().await.unwrap();
        field.send_keys(text).await.unwrap();
        let script = format!("return document.querySelector(\"{css}\").value");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let value = self.client.execute(&script, vec![]).await.unwrap();
            if value == text {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{css} holds {value}, expected {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Screenshots of the page at phone and desktop size.
    async fn pictures(&self, name: &str) {
        let shots = workspace().join("target/screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        for (size, w, h) in [("phone", 390, 844), ("desktop", 1280, 860)] {
            self.client.set_window_size(w, h).await.unwrap();
            tokio::time::sleep(Duration::from_millis(500)).await;
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(shots.join(format!("{name}-{size}.png")), png).unwrap();
        }
    }
}

/// Waits until a script returns `true`.
async fn wait_for_js(c: &fantoccini::Client, script: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if c.execute(script, vec![]).await.ok() == Some(serde_json::Value::Bool(true)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for: {script}");
}

/// Waits until the element `css` contains `want` (or panics with what it showed).
async fn wait_for_contains(c: &fantoccini::Client, css: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            last = e.text().await.unwrap_or_default();
            if last.contains(want) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = c
        .execute("return document.body.innerText", vec![])
        .await
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .unwrap_or_default();
    let wedge = c
        .execute("return window.custodianWedge()", vec![])
        .await
        .unwrap_or_default();
    panic!(
        "{css} shows {last:?}, expected it to contain {want:?}\nthe wedge's last burst: {wedge}\nthe page:\n{page}"
    );
}

/// A unit of the demo's second product (the laser level), as its label's element string.
fn laser_level() -> String {
    let text = std::fs::read_to_string(workspace().join("fixtures/demo/serials.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|s| s["gtin"] == "04012345000023")
        .unwrap()["element_string"]
        .as_str()
        .unwrap()
        .to_string()
}

fn ledger_json(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&custodian(args)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wedge_scan_in_the_real_window_shows_its_verdict_and_is_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&tmp.path().join("hub"), true);
    let device = tmp.path().join("device");
    let data = device.to_str().unwrap();
    hub.enroll(&device, "dist-a", "dc-hamburg");
    let order = tmp.path().join("so-1001.csv");
    std::fs::write(
        &order,
        "order,to,gtin,quantity\nSO-1001,retail-berlin,04012345000016,1\n",
    )
    .unwrap();
    custodian(&[
        "manifest",
        "import",
        "--data",
        data,
        order.to_str().unwrap(),
    ]);
    // The camera: a recorded frame of a shelf with four labels (two drills, two laser levels).
    let frames = tmp.path().join("frames");
    std::fs::create_dir_all(&frames).unwrap();
    std::fs::copy(
        workspace().join("fixtures/labels/multi/frame-0.png"),
        frames.join("frame-0.png"),
    )
    .unwrap();
    let app = App::launch(&device, Some(&frames)).await;
    let client = &app.client;
    let asn = demo_asn();
    let unit = |i: usize| asn["units"][i].as_str().unwrap().to_string();

    // --- Receive. The open manifest is shown with its counts.
    wait_for_text(client, "count-expected", "24").await;
    assert_eq!(text_of(client, "count-scanned").await, "0");

    // With no ASN picked, scanning the pallet's SSCC finds its ASN.
    client
        .execute(
            "const s = document.getElementById('manifest'); s.value = ''; s.dispatchEvent(new Event('change')); return true",
            vec![],
        )
        .await
        .unwrap();
    wait_for_text(client, "count-expected", "0").await;
    let pallet = sscc_element_string(asn["pallet"].as_str().unwrap());
    app.scan(&pallet).await;
    wait_for_text(client, "verdict-word", "ASN-0001 opened").await;
    wait_for_text(client, "count-expected", "24").await;

    // A scanner's burst: the element string with its GS separators, then Enter, typed at the
    // page without focusing any field.
    assert!(unit(0).contains('\u{1d}'));
    app.scan(&unit(0)).await;
    wait_for_text(client, "verdict-word", "OK").await;
    let reason = text_of(client, "verdict-reason").await;
    assert!(reason.contains("is on ASN-0001"), "{reason}");
    wait_for_text(client, "count-scanned", "1").await;

    // The same unit again is a duplicate; a damaged code is unreadable, with the reason.
    app.scan(&unit(0)).await;
    wait_for_text(client, "verdict-word", "Duplicate").await;
    app.scan("0104012345000013\u{1d}21BROKEN").await;
    wait_for_text(client, "verdict-word", "Unreadable").await;
    assert!(
        text_of(client, "verdict-reason")
            .await
            .contains("check digit")
    );

    // A burst typed while a field has the focus is still a scan, and never lands in the field.
    let manual = client.find(Locator::Id("manual-code")).await.unwrap();
    manual.click().await.unwrap();
    manual
        .send_keys(&format!("{}\u{E007}", unit(0)))
        .await
        .unwrap();
    wait_for_text(client, "verdict-word", "Duplicate").await;
    let value = client
        .execute(
            "return document.getElementById('manual-code').value",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(value, "", "a burst typed into a field never lands in it");

    app.scan(&unit(1)).await;
    wait_for_text(client, "count-scanned", "2").await;
    wait_for_contains(client, "#discrepancies", "Still missing: 22").await;
    app.pictures("receive").await;

    // Closing with discrepancies asks first, then records them on the receipt.
    app.click("#close-manifest").await;
    wait_for_contains(client, "#close-summary", "22 still missing").await;
    app.click("#close-accept").await;
    wait_for_text(client, "verdict-word", "ASN-0001 closed").await;
    let shown = ledger_json(&["manifest", "show", "--data", data, "ASN-0001", "--json"]);
    assert_eq!(shown["progress"]["scanned"], 2);
    assert_eq!(shown["status"], "closed");
    assert_eq!(
        shown["discrepancies"]["missing"].as_array().unwrap().len(),
        22
    );

    // --- Ship: the retailer's order picked by scanning, a wrong product refused, then shipped.
    app.go("ship").await;
    wait_for_text(client, "pick-left", "1").await;
    app.scan(&laser_level()).await;
    wait_for_text(client, "verdict-word", "Wrong product").await;
    app.scan(&unit(0)).await;
    wait_for_text(client, "verdict-word", "OK").await;
    wait_for_contains(client, "#verdict-reason", "order SO-1001 is complete").await;
    wait_for_text(client, "pick-left", "0").await;
    wait_for_contains(client, "#pick-lines", "1 of 1").await;
    app.pictures("ship").await;
    app.click("#close-order").await;
    wait_for_text(client, "verdict-word", "SO-1001 shipped").await;
    let shipped = ledger_json(&["manifest", "show", "--data", data, "SO-1001", "--json"]);
    assert_eq!(shipped["status"], "shipped", "{shipped}");
    assert_eq!(shipped["units"].as_array().unwrap().len(), 1);
    let outbound: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(device.join("outbound/SO-1001.epcis.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(outbound["type"], "EPCISDocument");

    // --- Sell: a received unit is sold and its 24-month warranty starts now. Offline, a
    // genuine unit's verdict is provisional until the hub confirms it.
    app.go("sell").await;
    app.scan(&unit(1)).await;
    wait_for_text(client, "verdict-word", "Provisional").await;
    wait_for_contains(client, "#verdict-reason", "signature verified").await;
    let cover = wait_for_contains(client, "#sale-warranty", "Covered until").await;
    assert!(cover.contains("24 months from the sale"), "{cover}");
    app.pictures("sell").await;

    // --- Service: the sold unit on the bench; a claim validated; a repair with a part.
    app.go("service").await;
    app.scan(&unit(1)).await;
    wait_for_text(client, "verdict-word", "Under warranty").await;
    wait_for_contains(client, "#unit-warranty", "Covered until").await;
    app.type_into("#claim-defect", "battery fault").await;
    app.click("#claim button[type=submit]").await;
    wait_for_text(client, "verdict-word", "Claim valid").await;
    app.click("#parts-in-mode").await;
    app.scan(&unit(5)).await;
    wait_for_text(client, "verdict-word", "Part to fit").await;
    app.click("#repair button[type=submit]").await;
    wait_for_text(client, "verdict-word", "Recorded").await;
    wait_for_contains(client, "#unit-card", "fitted 1, removed 0").await;
    wait_for_contains(client, "#unit-card", "battery fault · valid").await;
    app.type_into("#register-owner", "Erika Mustermann").await;
    app.click("#register button[type=submit]").await;
    wait_for_contains(
        client,
        "#verdict-reason",
        "Warranty registered to Erika Mustermann",
    )
    .await;
    wait_for_contains(client, "#unit-owner", "Erika Mustermann").await;
    app.pictures("service").await;

    // --- Inspect: an unknown serial on the shelf, reported counterfeit with a note.
    app.go("inspect").await;
    let fake = "0104012345000016\u{1d}21FAKE000001";
    app.scan(fake).await;
    wait_for_contains(client, "#inspected li", "FAKE000001").await;
    app.click("#inspected li button").await;
    app.type_into("#report-note", "label print is blurred")
        .await;
    app.click("#report button[type=submit]").await;
    wait_for_text(client, "verdict-word", "Counterfeit reported").await;

    // A suspect unit put in quarantine with a reason: scanned again, it is stopped with the
    // reason; released with a note, it is provisional again.
    let listed = client
        .execute(
            "return document.querySelectorAll('#inspected li').length",
            vec![],
        )
        .await
        .unwrap();
    app.scan(&unit(3)).await;
    wait_for_text(client, "verdict-word", "Provisional").await;
    // The verdict is drawn first and the list item a frame later: wait for the item, or the
    // click lands on the previous scan's.
    wait_for_js(
        client,
        &format!("return document.querySelectorAll('#inspected li').length > {listed}"),
    )
    .await;
    app.click("#inspected li:first-child button[data-hold='quarantine']")
        .await;
    app.type_into("#hold-text", "carton crushed, contents unchecked")
        .await;
    app.click("#hold-submit").await;
    wait_for_text(client, "verdict-word", "Quarantined").await;
    // A scanner's burst comes more than the wedge's 300 ms pause after the last typed key.
    tokio::time::sleep(Duration::from_millis(400)).await;
    app.scan(&unit(3)).await;
    wait_for_contains(
        client,
        "#inspected li:first-child",
        "carton crushed, contents unchecked — do not sell or ship",
    )
    .await;
    wait_for_js(
        client,
        "return document.getElementById('verdict').dataset.verdict === 'quarantined' && document.getElementById('verdict').dataset.tone === 'bad'",
    )
    .await;
    app.click("#inspected li:first-child button[data-hold='release']")
        .await;
    app.type_into("#hold-text", "contents checked, all fine")
        .await;
    app.click("#hold-submit").await;
    wait_for_text(client, "verdict-word", "Released").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    app.scan(&unit(3)).await;
    wait_for_js(
        client,
        "return document.getElementById('verdict').dataset.verdict === 'provisional'",
    )
    .await;

    // Shelf scanning with the camera: every code in the frame gets its own verdict, once.
    app.click("#camera-toggle").await;
    wait_for_contains(
        client,
        "#viewfinder-status",
        "hold the code inside the frame",
    )
    .await;
    wait_for_contains(client, "#inspected", "WSQKUSJ3W6").await;
    wait_for_contains(client, "#inspected", "5FNRJRW2M5").await;
    wait_for_contains(client, "#inspected", "6XVJKGAC2H").await;
    wait_for_js(
        client,
        "return document.getElementById('viewfinder-img').naturalWidth > 0",
    )
    .await;
    app.pictures("inspect").await;
    // The frame stays in view: no code is scanned twice. Count the previews drawn from now on
    // (each is sent before its frame is decoded, so a later preview follows whatever the frames
    // before it scanned), wait for several, then for a scan typed after them to be listed: any
    // second scan of a code in view was under way before it.
    client
        .execute(
            "window.framesSince = 0; new MutationObserver(() => window.framesSince++).observe(document.getElementById('viewfinder-img'), { attributes: true, attributeFilter: ['src'] }); return true",
            vec![],
        )
        .await
        .unwrap();
    wait_for_js(client, "return window.framesSince >= 6").await;
    app.scan("AFTER THE FRAMES").await;
    wait_for_contains(client, "#inspected", "AFTER THE FRAMES").await;
    let seen = client
        .execute(
            "return [...document.querySelectorAll('#inspected li')].filter(li => li.textContent.includes('WSQKUSJ3W6')).length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(seen, 1, "a code held in view is one scan");
    // A counterfeit report from the camera keeps the frame as its photo.
    client
        .find(Locator::XPath(
            "//ol[@id='inspected']/li[contains(., 'WSQKUSJ3W6')]//button",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    app.type_into("#report-note", "hologram missing").await;
    app.click("#report button[type=submit]").await;
    wait_for_contains(client, "#verdict-reason", "WSQKUSJ3W6").await;
    wait_for_text(client, "verdict-word", "Counterfeit reported").await;
    app.click("#camera-toggle").await;
    wait_for_js(
        client,
        "return document.getElementById('viewfinder').hidden",
    )
    .await;

    // --- Look up: the unit's biography, from receipt through sale to the bench.
    app.go("lookup").await;
    app.scan(&unit(1)).await;
    wait_for_contains(client, "#bio-custody", "In service").await;
    let bio = wait_for_contains(client, "#bio", "Receiving").await;
    assert!(
        bio.contains("Retail selling") && bio.contains("Repairing"),
        "{bio}"
    );
    app.pictures("lookup").await;
    // Look up puts a unit in quarantine too; the biography then says why.
    app.scan(&unit(4)).await;
    let serial = unit(4)
        .split('\u{1d}')
        .find_map(|e| e.strip_prefix("21"))
        .unwrap()
        .to_string();
    wait_for_contains(client, "#bio", &format!("serial {serial}")).await;
    app.click("#biography button[data-hold='quarantine']").await;
    app.type_into("#hold-text", "water damage on the pallet")
        .await;
    app.click("#hold-submit").await;
    wait_for_text(client, "verdict-word", "Quarantined").await;
    wait_for_contains(client, "#bio-quarantine", "water damage on the pallet").await;
    wait_for_js(
        client,
        "return !!document.querySelector(\"#biography button[data-hold='release']\")",
    )
    .await;

    // --- Service again: the unit comes back and is refurbished; it keeps its serial.
    app.go("service").await;
    app.scan(&unit(1)).await;
    wait_for_text(client, "verdict-word", "Under warranty").await;
    app.click("#return-refurbished").await;
    wait_for_contains(client, "#verdict-reason", "Returned and refurbished").await;
    wait_for_contains(client, "#unit-card", "Refurbished").await;

    // --- Flags: after a sync the hub's flag about the unknown serial is in the inbox; it is
    // moved along its lifecycle from the app.
    // Two units nobody shipped, received at the dock with the CLI beside the app: the hub
    // raises one flag for the receipt, listing both.
    let unshipped: Vec<String> =
        std::fs::read_to_string(workspace().join("fixtures/demo/serials.jsonl"))
            .unwrap()
            .lines()
            .skip(150)
            .take(2)
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["element_string"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
    custodian_with_input(
        &["scan", "--data", data, "--step", "receiving", "--json"],
        Some(&format!("{}\n", unshipped.join("\n"))),
    );
    app.click("#sync").await;
    app.go("flags").await;
    wait_for_contains(client, "#flags", "Unknown serial").await;
    let listing = "#flags li[data-kind='out_of_sequence']";
    wait_for_contains(client, listing, "2 units · none accounted for yet").await;
    app.click(&format!("{listing} details.flag-units summary"))
        .await;
    let listed = wait_for_contains(client, &format!("{listing} ol.flag-units"), "— open").await;
    assert_eq!(listed.matches("— open").count(), 2, "{listed}");
    app.pictures("flags").await;
    let flag = "#flags li[data-kind='unknown_serial']";
    app.click(&format!("{flag} button[data-to='seen']")).await;
    wait_for_contains(client, flag, "Unknown serial · Seen").await;
    // Closing needs a note saying why.
    app.click(&format!("{flag} button[data-to='closed']")).await;
    wait_for_contains(client, &format!("{flag} .error"), "Say why").await;
    app.type_into(&format!("{flag} .flag-note"), "reported to the brand owner")
        .await;
    app.click(&format!("{flag} button[data-to='closed']")).await;
    wait_for_contains(client, flag, "Unknown serial · Closed").await;
    wait_for_contains(client, flag, "reported to the brand owner").await;

    // --- Device: status and the scanner timing test.
    app.go("device").await;
    wait_for_contains(client, "#device-status", "dist-a").await;
    wait_for_contains(client, "#timing", "Last verdict on screen").await;
    app.pictures("device").await;
    let latencies = client
        .execute("return window.custodianLatencies", vec![])
        .await
        .unwrap();
    eprintln!("scan-to-verdict times in this run (ms): {latencies}");
    eprintln!("last burst: {}", text_of(client, "timing").await);
    app.client.clone().close().await.unwrap();
    drop(app);

    // The ledger holds what the pages showed.
    let life = ledger_json(&["history", "--data", data, &unit(1), "--json"]);
    assert_eq!(life["custody"]["state"], "refurbished", "{life}");
    // Taken back, the unit is the distributor's again; its warranty keeps the registration.
    assert_eq!(life["custody"]["owner"], "dist-a", "{life}");
    assert_eq!(
        life["warranty"]["registered_owner"], "Erika Mustermann",
        "{life}"
    );
    assert!(life["warranty"]["in_period"].as_bool().unwrap(), "{life}");
    assert_eq!(life["claims"][0]["validation"]["accepted"], true, "{life}");
    assert_eq!(life["service"][0]["parts_in"].as_array().unwrap().len(), 1);
    let held = ledger_json(&["history", "--data", data, &unit(3), "--json"]);
    let hold = &held["quarantines"][0];
    assert_eq!(
        hold["reason"], "carton crushed, contents unchecked",
        "{held}"
    );
    assert_eq!(
        hold["released"]["note"], "contents checked, all fine",
        "{held}"
    );
    assert!(held["custody"]["quarantine"].is_null(), "{held}");
    let held = ledger_json(&["history", "--data", data, &unit(4), "--json"]);
    assert_eq!(
        held["custody"]["quarantine"]["reason"], "water damage on the pallet",
        "{held}"
    );
    let fake_life = ledger_json(&["history", "--data", data, fake, "--json"]);
    assert_eq!(
        fake_life["counterfeit_reports"][0]["note"],
        "label print is blurred"
    );
    let laser = ledger_json(&[
        "history",
        "--data",
        data,
        "(01)04012345000023(21)WSQKUSJ3W6",
        "--json",
    ]);
    let report = &laser["counterfeit_reports"][0];
    assert_eq!(report["note"], "hologram missing", "{laser}");
    let photo = report["photo"].as_str().unwrap();
    assert!(device.join(photo).exists(), "{photo} is kept");
    let flags = ledger_json(&["flags", "--data", data, "--json"]);
    let flag = flags
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "unknown_serial")
        .unwrap_or_else(|| panic!("no unknown-serial flag in {flags}"));
    assert_eq!(flag["status"], "closed");
    let steps = flag["history"].as_array().unwrap();
    assert_eq!(steps.last().unwrap()["note"], "reported to the brand owner");
    assert!(steps.iter().any(|s| s["status"] == "seen"), "{flag}");
}

/// Proportional set size of a process and all its descendants, in bytes (from
/// `/proc/PID/smaps_rollup`, so pages shared between them are counted once).
fn memory_of_tree(root: u32) -> u64 {
    descendants(root)
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok())
        .filter_map(|text| {
            text.lines()
                .find(|l| l.starts_with("Pss:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .sum::<u64>()
        * 1024
}

/// A process and all its descendants.
fn descendants(root: u32) -> Vec<u32> {
    let mut pids = vec![root];
    let mut i = 0;
    while i < pids.len() {
        let parent = pids[i];
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // The parent pid is the second field after the command's closing parenthesis.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(parent) && !pids.contains(&pid) {
                pids.push(pid);
            }
        }
        i += 1;
    }
    pids
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Figures, not a check: the time from a scan's last key to its verdict on screen, over
/// `CUSTODIAN_SCANS` scans (default 300) at the Inspect screen, and the memory of the running
/// app (the app process and its web processes) with a ledger of `CUSTODIAN_LEDGER_EVENTS`
/// events (default 0; filled through `custodian scan` before the app starts). Run by
/// `scripts/app-figures.sh` against release builds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by scripts/app-figures.sh"]
async fn verdict_latency_and_memory_of_the_real_app() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&tmp.path().join("hub"), true);
    let device = tmp.path().join("device");
    let data = device.to_str().unwrap();
    hub.enroll(&device, "dist-a", "dc-hamburg");
    let asn = demo_asn();
    let units: Vec<String> = asn["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_string())
        .collect();
    let events = custodian_e2e::env_number("CUSTODIAN_LEDGER_EVENTS", 0);
    let filled = Instant::now();
    let mut left = events;
    while left > 0 {
        let n = left.min(100_000);
        let mut lines = String::new();
        // Inspections of a large population of units (200,000 serials, five times each), as a
        // busy site accumulates; the units scanned below are the demo's own.
        for i in events - left..events - left + n {
            lines.push_str(&format!("0104012345000016\u{1d}21H{}\n", i % 200_000));
        }
        let out = custodian_e2e::custodian_output(
            &["scan", "--data", data, "--step", "inspecting"],
            Some(&lines),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        left -= n;
    }
    let held = ledger_json(&["status", "--data", data, "--json"]);
    eprintln!(
        "ledger filled with {} events in {:.0} s",
        held["events"],
        filled.elapsed().as_secs_f64()
    );

    // Offline, as a handheld mostly is: the hub is gone, so no background sync runs meanwhile.
    drop(hub);
    let app = App::launch(&device, None).await;
    let client = &app.client;
    wait_for_text(client, "count-expected", "24").await;
    app.go("inspect").await;
    let scans = usize::try_from(custodian_e2e::env_number("CUSTODIAN_SCANS", 300)).unwrap();
    for i in 0..scans {
        // Unchecked, so nothing but the page runs between a scan's last key and its verdict;
        // a burst the wedge did not take for a scan would stop the count below.
        app.burst(&units[i % units.len()]).await;
        wait_for_js(
            client,
            &format!("return window.custodianLatencies.length >= {}", i + 1),
        )
        .await;
    }
    let measured = client
        .execute("return window.custodianLatencies", vec![])
        .await
        .unwrap();
    let mut ms: Vec<f64> = measured
        .as_array()
        .unwrap()
        .iter()
        .filter_map(serde_json::Value::as_f64)
        .collect();
    ms.sort_by(f64::total_cmp);
    let mut answered: Vec<f64> = client
        .execute("return window.custodianAnswered", vec![])
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .filter_map(serde_json::Value::as_f64)
        .collect();
    answered.sort_by(f64::total_cmp);
    // The app runs under tauri-driver's WebKitWebDriver; measure it and its web processes.
    let app_pid = descendants(app._driver.0.id())
        .into_iter()
        .find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "custodian-app")
        })
        .expect("the app's process is running");
    let memory = memory_of_tree(app_pid);
    println!(
        "{}",
        serde_json::json!({
            "ledger_events": held["events"],
            "scans": ms.len(),
            "verdict_p50_ms": percentile(&ms, 50.0),
            "verdict_p99_ms": percentile(&ms, 99.0),
            "verdict_max_ms": ms.last(),
            "recorded_p50_ms": percentile(&answered, 50.0),
            "recorded_p99_ms": percentile(&answered, 99.0),
            "app_memory_pss_mb": memory as f64 / 1_048_576.0,
        })
    );
    app.client.clone().close().await.unwrap();
}

/// A fresh handheld enrolls by scanning the hub's enrollment code (here typed as the scanner's
/// burst, on whatever screen is showing) and is then ready to receive its ASN.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_handheld_enrolls_by_scanning_the_hubs_code() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&tmp.path().join("hub"), true);
    let device = tmp.path().join("device");
    let app = App::launch(&device, None).await;
    let client = &app.client;
    wait_for_js(client, "return document.body.dataset.screen === 'device'").await;
    wait_for_contains(client, "#device-status", "not enrolled").await;
    let token = hub.token("dist-a", "dc-hamburg", None);
    app.scan(&token).await;
    wait_for_js(client, "return document.body.dataset.screen === 'receive'").await;
    wait_for_text(client, "count-expected", "24").await;
    wait_for_contains(client, "#where", "dist-a").await;
    app.client.clone().close().await.unwrap();
    drop(app);
    let status = ledger_json(&["status", "--data", device.to_str().unwrap(), "--json"]);
    assert_eq!(status["org"], "dist-a", "{status}");
}
