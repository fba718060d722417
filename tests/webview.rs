//! The real app window, driven through WebDriver: a real hub, an enrolled device ledger, the
//! app under Xvfb, `tauri-driver` + WebKitWebDriver. A scan typed as a scanner's burst of keys
//! (GS separators, Enter) must show its verdict on the page and land in the ledger.
//!
//! Needs Xvfb, WebKitWebDriver and tauri-driver (`scripts/setup.sh` installs them) and the
//! built app (`cargo build -p custodian-app`). The screenshot goes to
//! `target/screenshots/receive.png`; `scripts/screenshots.sh` copies it into docs/.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use custodian_e2e::{HubProcess, bin, custodian, demo_asn, workspace};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wedge_scan_in_the_real_window_shows_its_verdict_and_is_recorded() {
    let app = bin("custodian-app");
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&tmp.path().join("hub"), true);
    let device = tmp.path().join("device");
    hub.enroll(&device, "dist-a", "dc-hamburg");

    let (_x, display) = xvfb();
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
            .env("CUSTODIAN_DATA", &device)
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
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => panic!("cannot start a WebDriver session on {url}: {e}"),
        }
    };

    // The open manifest is shown with its counts.
    wait_for_text(&client, "count-expected", "24").await;
    assert_eq!(text_of(&client, "count-scanned").await, "0");

    // A scanner's burst: the element string with its GS separators, then Enter, typed at the
    // page without focusing any field.
    let unit = demo_asn()["units"][0].as_str().unwrap().to_string();
    assert!(unit.contains('\u{1d}'));
    let body = client.find(Locator::Css("body")).await.unwrap();
    body.send_keys(&format!("{unit}\u{E007}")).await.unwrap();
    wait_for_text(&client, "verdict-word", "OK").await;
    let reason = text_of(&client, "verdict-reason").await;
    assert!(reason.contains("is on ASN-0001"), "{reason}");
    wait_for_text(&client, "count-scanned", "1").await;

    // The same unit again is a duplicate; a damaged code is unreadable, with the reason.
    body.send_keys(&format!("{unit}\u{E007}")).await.unwrap();
    wait_for_text(&client, "verdict-word", "Duplicate").await;
    body.send_keys("0104012345000013\u{1d}21BROKEN\u{E007}")
        .await
        .unwrap();
    wait_for_text(&client, "verdict-word", "Unreadable").await;
    assert!(
        text_of(&client, "verdict-reason")
            .await
            .contains("check digit")
    );

    // A burst typed while a field has the focus is still a scan, and never lands in the field.
    let manual = client.find(Locator::Id("manual-code")).await.unwrap();
    manual.click().await.unwrap();
    manual.send_keys(&format!("{unit}\u{E007}")).await.unwrap();
    wait_for_text(&client, "verdict-word", "Duplicate").await;
    let value = client
        .execute(
            "return document.getElementById('manual-code').value",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(value, "", "a burst typed into a field never lands in it");

    // Back to the OK verdict for the picture.
    let second = demo_asn()["units"][1].as_str().unwrap().to_string();
    body.send_keys(&format!("{second}\u{E007}")).await.unwrap();
    wait_for_text(&client, "count-scanned", "2").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let png = client.screenshot().await.unwrap();
    let shots = workspace().join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    std::fs::write(shots.join("receive.png"), png).unwrap();
    client.close().await.unwrap();
    drop(driver);

    // The ledger holds what the page showed.
    let shown: serde_json::Value = serde_json::from_str(&custodian(&[
        "manifest",
        "show",
        "--data",
        device.to_str().unwrap(),
        "ASN-0001",
        "--json",
    ]))
    .unwrap();
    assert_eq!(shown["progress"]["scanned"], 2);
}
