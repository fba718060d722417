//! A throwaway PostgreSQL server for the suites: a cluster of its own in a temporary directory,
//! listening on a loopback port the operating system chose, stopped and deleted when dropped.
//!
//! The server is Debian's (`scripts/setup.sh` installs `postgresql`), found under
//! `/usr/lib/postgresql/<version>/bin` (the newest there) or in `CUSTODIAN_PG_BIN`. PostgreSQL
//! refuses to run as root, so under root every server command runs as the `postgres` user
//! (`runuser`), in a directory handed to that user; under anyone else it runs as that user.
//! A missing server fails the test that asked for one, naming what is missing: the suites never
//! pass by skipping the database.
//!
//! The cluster is for tests: it trusts every loopback connection and runs with `fsync=off`
//! (a test's data needs to survive a stopped or restarted server, which it does, not a power
//! cut). What the hub promises about durability is measured against a server set up as a
//! manufacturer would run it, not this one.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::PATIENCE;

/// A running throwaway cluster.
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
    running: bool,
}

impl Cluster {
    /// Creates a cluster and starts its server; a database `custodian` is ready in it.
    pub fn start() -> Cluster {
        let bin = server_bin();
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("custodian-pg-")
            .tempdir()
            .expect("a temporary directory for the cluster");
        if as_postgres {
            run(
                Command::new("chown").arg("postgres:").arg(dir.path()),
                "handing the cluster's directory to the postgres user",
            );
        }
        let mut cluster = Cluster {
            dir,
            bin,
            port: 0,
            as_postgres,
            running: false,
        };
        let data = cluster.data();
        cluster.server(
            "initdb",
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        // The port is free when the OS names it; another process may take it before the server
        // binds it, so a start that fails is tried again on another.
        let mut last = String::new();
        for _ in 0..5 {
            cluster.port = free_port();
            let output = cluster.try_server("pg_ctl", &cluster.start_args());
            if output.status.success() {
                cluster.running = true;
                cluster.server(
                    "createdb",
                    &[
                        "-h",
                        "127.0.0.1",
                        "-p",
                        &cluster.port.to_string(),
                        "-U",
                        "postgres",
                        "custodian",
                    ],
                );
                return cluster;
            }
            last = format!(
                "{}{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
                std::fs::read_to_string(cluster.dir.path().join("log")).unwrap_or_default()
            );
        }
        panic!("the PostgreSQL server did not start in five tries:\n{last}");
    }

    /// The URL of database `custodian` in this cluster.
    pub fn url(&self) -> String {
        self.url_of("custodian")
    }

    /// The URL of database `name` in this cluster.
    pub fn url_of(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates another database in the cluster and returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        self.server(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                name,
            ],
        );
        self.url_of(name)
    }

    /// Backs database `name` up as an operator would while hubs run (`pg_dump --format=custom`:
    /// one consistent snapshot), into a file in the cluster's directory; returns its path.
    pub fn dump(&self, name: &str, file: &str) -> PathBuf {
        let path = self.dir.path().join(file);
        let port = self.port.to_string();
        let out = path.to_str().expect("a temporary path is UTF-8");
        self.server(
            "pg_dump",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "--format=custom",
                "-f",
                out,
                name,
            ],
        );
        path
    }

    /// Puts database `name` back as the backup at `path` holds it: dropped, created anew and
    /// filled by `pg_restore`. Nothing may be connected to it.
    pub fn restore(&self, name: &str, path: &Path) {
        let port = self.port.to_string();
        let at = ["-h", "127.0.0.1", "-p", port.as_str(), "-U", "postgres"];
        self.server("dropdb", &[&at[..], &[name]].concat());
        self.server("createdb", &[&at[..], &[name]].concat());
        let backup = path.to_str().expect("a temporary path is UTF-8");
        self.server(
            "pg_restore",
            &[&at[..], &["--exit-on-error", "-d", name, backup]].concat(),
        );
    }

    /// Stops the server as an operator's restart would (`fast`: connections are cut, open
    /// transactions roll back, committed ones stay).
    pub fn stop(&mut self) {
        if self.running {
            let data = self.data();
            self.server("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]);
            self.running = false;
        }
    }

    /// Starts a stopped server again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.server("pg_ctl", &self.start_args());
        self.running = true;
    }

    /// Has the server speak TLS only, with the certificate chain `cert_pem` and its key: the
    /// server's own settings (`ssl = on`) and access rules (`hostssl` for loopback, every
    /// unencrypted connection over TCP refused), then a restart.
    pub fn require_tls(&mut self, cert_pem: &str, key_pem: &str) {
        let data = self.dir.path().join("data");
        let write = |name: &str, text: &str| {
            let path = data.join(name);
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            // The server refuses a key others may read.
            let mode = std::fs::Permissions::from_mode(0o600);
            std::fs::set_permissions(&path, mode).expect("the file's mode is set");
            if self.as_postgres {
                run(
                    Command::new("chown").arg("postgres:").arg(&path),
                    "handing the file to the postgres user",
                );
            }
        };
        write("server.crt", cert_pem);
        write("server.key", key_pem);
        write(
            "pg_hba.conf",
            "local all all trust\n\
             hostssl all all 127.0.0.1/32 trust\n\
             hostnossl all all 0.0.0.0/0 reject\n",
        );
        let conf = data.join("postgresql.conf");
        let mut settings = std::fs::read_to_string(&conf).expect("the server's settings are read");
        settings
            .push_str("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        std::fs::write(&conf, settings).expect("the server's settings are written");
        self.restart();
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn start_args(&self) -> Vec<String> {
        let dir = self.dir.path().display().to_string();
        vec![
            "-D".into(),
            self.data(),
            "-l".into(),
            format!("{dir}/log"),
            "-w".into(),
            "-t".into(),
            PATIENCE.as_secs().to_string(),
            "-o".into(),
            format!(
                "-p {} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off",
                self.port
            ),
            "start".into(),
        ]
    }

    fn server<S: AsRef<str>>(&self, program: &str, args: &[S]) -> Output {
        let output = self.try_server(program, args);
        assert!(
            output.status.success(),
            "{program} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    fn try_server<S: AsRef<str>>(&self, program: &str, args: &[S]) -> Output {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        command.args(args.iter().map(AsRef::as_ref));
        // The server's own commands are run from a directory the postgres user may read.
        command.current_dir(self.dir.path());
        command
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.running {
            let data = self.data();
            // Immediate: the directory is deleted next, nothing in it needs to be kept.
            let _ = self.try_server("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
        }
    }
}

/// The directory holding the server's programs.
fn server_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("CUSTODIAN_PG_BIN") {
        return PathBuf::from(dir);
    }
    let root = Path::new("/usr/lib/postgresql");
    let newest = std::fs::read_dir(root)
        .ok()
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version);
    match newest {
        Some((_, bin)) => bin,
        None => panic!(
            "no PostgreSQL server in {} (scripts/setup.sh installs Debian's postgresql), and \
             CUSTODIAN_PG_BIN names none",
            root.display()
        ),
    }
}

fn is_root() -> bool {
    let output = Command::new("id")
        .arg("-u")
        .output()
        .expect("`id -u` names the user");
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn run(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The cluster of the suites' PostgreSQL pass, when the test command started one: the URL of
/// its `postgres` database, in `CUSTODIAN_E2E_PG`.
pub fn suite_cluster() -> Option<String> {
    std::env::var("CUSTODIAN_E2E_PG")
        .ok()
        .filter(|u| !u.is_empty())
}

/// In the PostgreSQL pass, a database of its own for a hub about to start on `dir` for the
/// first time (none recorded there yet): its URL. Otherwise none.
pub fn store_for_new_hub(dir: &Path) -> Option<String> {
    let admin = suite_cluster()?;
    if dir.join("store").exists() {
        return None;
    }
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let name = format!(
        "hub_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let mut client = postgres::Client::connect(&admin, postgres::NoTls)
        .unwrap_or_else(|e| panic!("the suites' PostgreSQL cluster at {admin}: {e}"));
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap_or_else(|e| panic!("creating database {name}: {e}"));
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    Some(format!("{base}/{name}"))
}
