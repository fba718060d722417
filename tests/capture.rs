//! Scans from a serial-port scanner and from a camera through `custodian scan`, end to end: a
//! real hub, an enrolled device ledger, and a pseudo-terminal pair as the scanner's cable.
//!
//! The serial test writes to the master end of the pair in odd pieces, as a USB or Bluetooth
//! scanner's bytes arrive, while `custodian scan --serial` reads the slave end; closing the
//! master end is the scanner being unplugged. The camera test runs on a machine without a
//! camera (or asks for one that is not there): the failure must be one clear line while the
//! wedge's scans on standard input still get their verdicts. When the binary was built
//! without the `camera` feature, it checks that `--camera` says so instead.

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError, mpsc};
use std::time::Duration;

use custodian_e2e::{HubProcess, bin, custodian, custodian_output, demo_asn};
use serialport::{SerialPort, TTYPort};

/// No step of these tests takes more than a few seconds; a hang fails instead of blocking.
const PATIENCE: Duration = Duration::from_secs(60);

/// The tests of this file run one at a time: a pseudo-terminal's master end, until it is made
/// close-on-exec, would be inherited by any process another test spawned meanwhile, and that
/// process would keep the "cable" plugged in.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A scanner's cable: the master end of a pseudo-terminal pair to write to, and the path of
/// the slave end for `--serial`. `pair()` opens both ends without close-on-exec; they are
/// swapped for close-on-exec duplicates, so that closing the master end here really
/// disconnects the port (a child holding a copy would keep it connected).
fn cable() -> (TTYPort, TTYPort, String) {
    let (master, slave) = TTYPort::pair().unwrap();
    let path = slave.name().unwrap();
    let cable = (
        master.try_clone_native().unwrap(),
        slave.try_clone_native().unwrap(),
        path,
    );
    drop((master, slave));
    cable
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// A hub with the demo data and one device of dist-a, which holds ASN-0001 after enrolling.
fn enrolled_device(tmp: &std::path::Path) -> (HubProcess, String) {
    let hub = HubProcess::start(&tmp.join("hub"), true);
    let device = tmp.join("device");
    hub.enroll(&device, "dist-a", "dc-hamburg");
    (hub, device.to_str().unwrap().to_owned())
}

fn unit(i: usize) -> String {
    demo_asn()["units"][i].as_str().unwrap().to_owned()
}

fn serial_of(element_string: &str) -> String {
    element_string
        .split('\u{1d}')
        .find_map(|e| e.strip_prefix("21"))
        .unwrap()
        .to_owned()
}

#[test]
fn a_serial_scanner_feeds_scan_and_unplugging_it_ends_the_session_cleanly() {
    let _alone = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let (_hub, device) = enrolled_device(tmp.path());
    let (mut master, _slave, port) = cable();

    let mut child = Command::new(bin("custodian"))
        .args([
            "scan",
            "--data",
            &device,
            "--step",
            "receiving",
            "--manifest",
            "ASN-0001",
            "--json",
            "--serial",
            &port,
            "--baud",
            "115200",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, verdicts) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines.send(line.unwrap()).is_err() {
                break;
            }
        }
    });

    // Three units of the ASN, the first again, and a line that is no code, framed every way a
    // scanner does it and cut across writes.
    let (u0, u1, u2) = (unit(0), unit(1), unit(2));
    let pieces: Vec<Vec<u8>> = vec![
        format!("]d2{u0}\r\n]d2{}", &u1[..10]).into_bytes(),
        format!("{}\r", &u1[10..]).into_bytes(),
        format!("\n\0\0{u2}\n]d2{u0}\r\nNOT A CODE\r\n").into_bytes(),
    ];
    for piece in &pieces {
        master.write_all(piece).unwrap();
        master.flush().unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    let got: Vec<serde_json::Value> = (0..5)
        .map(|i| {
            let line = verdicts
                .recv_timeout(PATIENCE)
                .unwrap_or_else(|_| panic!("no verdict for scan {i}"));
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"))
        })
        .collect();
    let kinds: Vec<&str> = got.iter().map(|v| v["verdict"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["ok", "ok", "ok", "duplicate", "unreadable"],
        "{got:#?}"
    );
    for (verdict, unit) in got.iter().zip([&u0, &u1, &u2, &u0]) {
        let epc = verdict["epc"].as_str().unwrap();
        assert!(epc.ends_with(&format!("/21/{}", serial_of(unit))), "{epc}");
    }

    // Unplugged with half a scan on the wire: the complete scans are recorded, the cut one is
    // named, and the session ends with a clear error.
    let cut = format!("]d2{}", &u0[..12]);
    let before = bytes_read(child.id());
    master.write_all(cut.as_bytes()).unwrap();
    master.flush().unwrap();
    // A hangup discards what the other end has not read yet, as pulling a real cable loses
    // the bytes in flight: wait until the reader has taken the cut scan (the process, idle
    // otherwise, has read that many more bytes).
    let deadline = std::time::Instant::now() + PATIENCE;
    while bytes_read(child.id()) < before + cut.len() as u64 {
        assert!(
            std::time::Instant::now() < deadline,
            "the scanner's reader did not take the cut scan's {} bytes within {PATIENCE:?}",
            cut.len()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(master);
    let status = wait(&mut child);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success(), "{stderr}");
    let messages: Vec<&str> = stderr.lines().collect();
    assert_eq!(messages.len(), 2, "{stderr}");
    assert!(
        messages[0].starts_with(&format!(
            "custodian: the scanner on {port} was disconnected ("
        )),
        "{stderr}"
    );
    assert!(
        messages[0].ends_with(&format!(
            "; its last, unterminated input \"]d2{}\" was not taken, scan it again: reconnect it and start scanning again",
            &u0[..12]
        )),
        "{stderr}"
    );
    assert_eq!(
        messages[1],
        "custodian: 1 of 2 scan sources failed (see above); every verdict printed was recorded"
    );
    assert!(
        verdicts.recv_timeout(PATIENCE).is_err(),
        "no verdict for the cut scan"
    );

    let manifests = json_lines(&custodian(&[
        "manifest", "list", "--data", &device, "--json",
    ]));
    assert_eq!(manifests[0]["progress"]["scanned"], 3, "{}", manifests[0]);
}

/// Bytes the process has read so far, by any `read` (`rchar` in `/proc/PID/io`).
fn bytes_read(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap();
    io.lines()
        .find_map(|l| l.strip_prefix("rchar: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no rchar in /proc/{pid}/io: {io}"))
}

#[test]
fn a_port_that_is_not_there_is_one_clear_line_and_the_wedge_keeps_working() {
    let _alone = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let (_hub, device) = enrolled_device(tmp.path());
    let out = custodian_output(
        &[
            "scan",
            "--data",
            &device,
            "--step",
            "receiving",
            "--manifest",
            "ASN-0001",
            "--serial",
            "/dev/ttyACM-not-here",
        ],
        Some(&format!("]d2{}\n]d2{}\n", unit(3), unit(4))),
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stdout.lines().count(), 2, "{stdout}{stderr}");
    assert!(stdout.lines().all(|l| l.starts_with("OK ")), "{stdout}");
    assert_eq!(
        stderr.lines().next().unwrap(),
        "custodian: no serial port /dev/ttyACM-not-here: plug the scanner in (USB) or pair and bind it (Bluetooth, e.g. `rfcomm bind`), and check the path (/dev/ttyACM0, /dev/ttyUSB0, /dev/rfcomm0, COM3)"
    );
    assert!(!out.status.success());
}

#[test]
fn a_missing_camera_is_one_clear_line_and_the_wedge_keeps_working() {
    let _alone = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let (_hub, device) = enrolled_device(tmp.path());
    let wedge = format!("]d2{}\n]d2{}\n", unit(5), unit(6));
    let cameras = custodian_output(&["cameras", "--json"], None);

    if !cameras.status.success() {
        // The default build has no camera stack: `--camera` refuses before anything is read.
        let stderr = String::from_utf8(cameras.stderr).unwrap();
        assert_eq!(
            stderr,
            "custodian: custodian cameras: this custodian was built without camera support; rebuild it with `cargo build -p custodian --features camera` (needs libclang-dev)\n"
        );
        // (No input is written: the command exits before it would read any.)
        let out = custodian_output(
            &["scan", "--data", &device, "--step", "receiving", "--camera"],
            None,
        );
        assert!(!out.status.success());
        assert!(out.stdout.is_empty());
        assert_eq!(
            String::from_utf8(out.stderr).unwrap(),
            "custodian: --camera 0: this custodian was built without camera support; rebuild it with `cargo build -p custodian --features camera` (needs libclang-dev)\n"
        );
        return;
    }

    // Built with cameras: ask for one that is not there (camera 0 on a machine without one).
    let listed = json_lines(&String::from_utf8(cameras.stdout).unwrap());
    let absent = listed
        .iter()
        .map(|c| c["index"].as_u64().unwrap() + 1)
        .max()
        .unwrap_or(0)
        .to_string();
    let mut args = vec![
        "scan",
        "--data",
        &device,
        "--step",
        "receiving",
        "--manifest",
        "ASN-0001",
        "--json",
        "--camera",
    ];
    if absent != "0" {
        args.push(&absent);
    }
    let out = custodian_output(&args, Some(&wedge));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let verdicts = json_lines(&stdout);
    assert_eq!(verdicts.len(), 2, "{stdout}{stderr}");
    assert!(verdicts.iter().all(|v| v["verdict"] == "ok"), "{stdout}");
    let messages: Vec<&str> = stderr.lines().collect();
    assert_eq!(messages.len(), 2, "{stderr}");
    let expected = if listed.is_empty() {
        "custodian: no camera 0: none is connected; connect a camera (`custodian cameras` lists them) or scan with a handheld scanner".to_owned()
    } else {
        format!(
            "custodian: no camera {absent}: {} other camera(s) found; connect a camera (`custodian cameras` lists them) or scan with a handheld scanner",
            listed.len()
        )
    };
    assert_eq!(messages[0], expected);
    assert_eq!(
        messages[1],
        "custodian: 1 of 2 scan sources failed (see above); every verdict printed was recorded"
    );
    assert!(!out.status.success());
}

/// Waits for `child` to exit, killing it after [`PATIENCE`].
fn wait(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("custodian scan did not end after its scanner was unplugged");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
