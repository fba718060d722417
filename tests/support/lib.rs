//! Helpers shared by the end-to-end suites: find the built binaries, run the `custodian` CLI,
//! start a real hub on a loopback port chosen by the OS, enroll device ledgers.
//!
//! The suites drive the product only through its public interfaces (the CLI, HTTPS, the app
//! window). They need the binaries built first: `scripts/test.sh` does that (`cargo build
//! --workspace --bins` and the app).

pub mod pg;
pub mod proxy;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long one `custodian` command, or a line a process is expected to print, may take before
/// the test fails instead of hanging: far beyond any slow machine's need.
pub const PATIENCE: Duration = Duration::from_secs(300);

/// The workspace root. `cargo test` names the package's directory at run time; the path
/// compiled in is the fallback (a test binary built in another checkout that shares the
/// target directory would otherwise read and write that checkout).
pub fn workspace() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// A binary built by cargo in this workspace's target directory: the debug profile, or the
/// one `CUSTODIAN_PROFILE` names (`release` for measurements).
pub fn bin(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace().join("target"), PathBuf::from);
    let profile = std::env::var("CUSTODIAN_PROFILE").unwrap_or_else(|_| "debug".into());
    let path = target.join(profile).join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace --bins` (or scripts/test.sh) before the end-to-end tests",
        path.display()
    );
    path
}

/// Runs `custodian ARGS` with `stdin`, returning its output whatever the exit status.
pub fn custodian_output(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(bin("custodian"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("custodian starts");
    {
        use std::io::Write;
        let mut input = child.stdin.take().expect("stdin is piped");
        if let Some(text) = stdin {
            input
                .write_all(text.as_bytes())
                .expect("custodian reads its input");
        }
    }
    output_within(child, PATIENCE, &format!("custodian {}", args.join(" ")))
}

/// Waits for `child` to end and collects what it printed; a child that runs longer than
/// `patience` is killed and the test fails, naming `what`.
pub fn output_within(mut child: Child, patience: Duration, what: &str) -> Output {
    fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    }
    let (stdout, stderr) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let deadline = Instant::now() + patience;
    let mut pause = Duration::from_millis(1);
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not end within {patience:?}: killed");
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// The lines a process prints, read on a thread of their own, so that a test waits for each
/// with a deadline instead of blocking on the pipe for ever.
pub struct LinesWithin {
    lines: Receiver<String>,
    what: String,
}

impl LinesWithin {
    /// Reads `pipe` (what `what` prints) line by line.
    pub fn new(pipe: impl Read + Send + 'static, what: &str) -> LinesWithin {
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        LinesWithin {
            lines,
            what: what.to_string(),
        }
    }

    /// The next line; the test fails when none comes within `patience` or the output ends.
    pub fn next_within(&self, patience: Duration) -> String {
        match self.lines.recv_timeout(patience) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                panic!("{} printed no line within {patience:?}", self.what)
            }
            Err(RecvTimeoutError::Disconnected) => {
                panic!("{} ended its output before the line expected", self.what)
            }
        }
    }
}

/// Runs `custodian ARGS`, asserting success; returns stdout.
pub fn custodian(args: &[&str]) -> String {
    custodian_with_input(args, None)
}

/// Runs `custodian ARGS` with `stdin`, asserting success; returns stdout.
pub fn custodian_with_input(args: &[&str], stdin: Option<&str>) -> String {
    let out = custodian_output(args, stdin);
    assert!(
        out.status.success(),
        "custodian {} failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("custodian prints UTF-8")
}

/// A hub process on a loopback port; stopped when dropped.
pub struct HubProcess {
    child: Child,
    pub url: String,
    pub dir: PathBuf,
}

impl HubProcess {
    /// Starts `custodian hub serve` on `dir` (with the demo data when `demo`), waits until it
    /// listens, and returns it.
    pub fn start(dir: &Path, demo: bool) -> HubProcess {
        HubProcess::start_at(dir, demo, "127.0.0.1:0")
    }

    /// Starts a hub listening on `listen` (to restart one where its devices expect it).
    pub fn start_at(dir: &Path, demo: bool, listen: &str) -> HubProcess {
        HubProcess::start_with(dir, demo, listen, &[])
    }

    /// Starts a hub listening on `listen`, with `extra` options to `custodian hub serve`.
    pub fn start_with(dir: &Path, demo: bool, listen: &str, extra: &[&str]) -> HubProcess {
        let dir_arg = dir.to_str().expect("temp paths are UTF-8");
        let mut args = vec!["hub", "serve", "--data", dir_arg, "--listen", listen];
        // The suites' PostgreSQL pass: a new hub gets a database of its own in the cluster the
        // test command started; a hub started again on its directory finds it recorded there.
        let store = if extra.contains(&"--store") {
            None
        } else {
            pg::store_for_new_hub(dir)
        };
        if let Some(store) = &store {
            args.extend(["--store", store]);
        }
        if demo {
            args.push("--demo");
        }
        args.extend_from_slice(extra);
        let mut child = Command::new(bin("custodian"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the hub starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        // Read on a thread: a hub that never prints its URL fails the test instead of hanging it.
        let (tx, first) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let Ok(line) = first.recv_timeout(PATIENCE) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the hub printed no URL within {PATIENCE:?}: killed");
        };
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("https://"))
            .unwrap_or_else(|| panic!("the hub did not print its URL, it printed {line:?}"))
            .to_string();
        HubProcess {
            child,
            url,
            dir: dir.to_path_buf(),
        }
    }

    /// Kills the hub at once (SIGKILL), mid-request or not.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The hub's registry, read beside the running hub: its SQLite file (WAL lets a reader in),
    /// or its PostgreSQL database.
    pub fn registry_db(&self) -> RegistryDb {
        let recorded = std::fs::read_to_string(self.dir.join("store")).ok();
        match recorded.as_deref().map(str::trim) {
            Some(url) if url.starts_with("postgres") => {
                RegistryDb::Postgres(custodian_ledger::sql::PgConn::new(
                    postgres::Client::connect(url, postgres::NoTls)
                        .unwrap_or_else(|e| panic!("the hub's database {url}: {e}")),
                ))
            }
            _ => RegistryDb::Sqlite(
                rusqlite::Connection::open_with_flags(
                    self.dir.join("hub.sqlite"),
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .expect("the hub's registry file opens"),
            ),
        }
    }

    /// The `host:port` the hub listens on.
    pub fn address(&self) -> &str {
        self.url.trim_start_matches("https://")
    }

    pub fn data(&self) -> &str {
        self.dir.to_str().expect("temp paths are UTF-8")
    }

    /// A fresh enrollment token for ORG at SITE; with `url`, devices reach the hub there (a
    /// proxy in front of it) instead of where it listens.
    pub fn token(&self, org: &str, site: &str, url: Option<&str>) -> String {
        let mut args = vec![
            "hub",
            "token",
            "--data",
            self.data(),
            "--org",
            org,
            "--site",
            site,
        ];
        if let Some(url) = url {
            args.extend(["--url", url]);
        }
        custodian(&args).trim().to_string()
    }

    /// Enrolls a device ledger in `device` for ORG at SITE.
    pub fn enroll(&self, device: &Path, org: &str, site: &str) {
        self.enroll_via(device, org, site, None);
    }

    /// Enrolls a device ledger for ORG at SITE that reaches the hub at `url`, when given.
    pub fn enroll_via(&self, device: &Path, org: &str, site: &str, url: Option<&str>) {
        let token = self.token(org, site, url);
        custodian(&[
            "enroll",
            "--data",
            device.to_str().expect("UTF-8 path"),
            &token,
        ]);
    }
}

/// A number from the environment (test scale and seeds), or `default`.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A connection to a hub's registry, whichever store it is on.
pub enum RegistryDb {
    Sqlite(rusqlite::Connection),
    Postgres(custodian_ledger::sql::PgConn),
}

impl custodian_ledger::sql::AsDb for RegistryDb {
    fn db(&self) -> custodian_ledger::sql::Db<'_> {
        match self {
            RegistryDb::Sqlite(conn) => conn.db(),
            RegistryDb::Postgres(conn) => conn.db(),
        }
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `text` as JSON; the test fails naming it when it is not.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The demo's issued serial on line `n` of fixtures/demo/serials.jsonl as a scanner sends it
/// (its element string). Lines 0 to 23 are the units on the pallet shipped to distributor A;
/// the rest were never shipped.
pub fn demo_serial(n: usize) -> String {
    let text = std::fs::read_to_string(workspace().join("fixtures/demo/serials.jsonl"))
        .expect("the demo serials are in fixtures/demo");
    json(text.lines().nth(n).expect("the demo has that many serials"))["element_string"]
        .as_str()
        .expect("each demo serial has its element string")
        .to_string()
}

/// The demo ASN's summary (fixtures/demo/asn-0001.summary.json): pallet, cases, unit labels.
pub fn demo_asn() -> serde_json::Value {
    let path = workspace().join("fixtures/demo/asn-0001.summary.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("the demo ASN summary is JSON")
}

/// The element string of an SSCC given as its Digital Link URI.
pub fn sscc_element_string(uri: &str) -> String {
    format!(
        "00{}",
        uri.rsplit('/')
            .next()
            .expect("an SSCC URI ends with the SSCC")
    )
}
