//! Public verification: "is this unit genuine?" for anyone holding a code, by GS1 Digital Link
//! resolution, `GET /verify/…`, or a whole shipment manifest at once (`POST /verify/batch`). It
//! never reveals custody. Each client is rate limited, and every query counts toward the
//! serial's verification velocity: a genuine unit is verified from a handful of places in its
//! life, a cloned code from many.
//!
//! A code is judged as the handheld judges it ([`judge_label`], with the same signature rule,
//! [`signature_verifies`]): the AI 8030 signature it carries, then its other elements against
//! what was issued for the serial (lot, expiry), then the alert list, the recall list,
//! quarantine and expiry. `genuine` is true only for a code that shows it was issued so: its
//! signature verifies and nothing on it differs from the registry. A code without a signature
//! (a key typed in, a Digital Link without its `8030`) is not judged counterfeit for that — the
//! handheld does not either — but neither is it confirmed: it is answered for its serial, and
//! `unsigned` when nothing else is known against it.
//!
//! Verifications are reads, and reads scale: a [`Verifier`] answers them on its own threads,
//! each with its own read connection (the registry is in WAL mode, so readers run beside the
//! writer and each other) and cached statements, off the async executor. The velocity count is
//! the one write a verification causes. It is not written per query: counts add up in memory
//! and a background thread writes them every [`VELOCITY_FLUSH`] in one transaction, raising the
//! velocity flag when the number of sources (client addresses) that verified a serial in a day
//! first passes [`VELOCITY_THRESHOLD`]. Sources, not queries: one client repeating a genuine
//! unit's code cannot get it flagged. The counts live in their own file beside the registry
//! (`velocity.sqlite`): in WAL mode any commit to a database makes every other connection drop
//! its page cache, and the readers' caches of the registry are what keeps a lookup among
//! millions of serials cheap.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{NaiveDate, Utc};
use custodian_ledger::Epc;
use custodian_ledger::extract::signature_verifies;
use custodian_ledger::sql::{AsDb, Db, OptionalExtension, PgConn, params};
use custodian_ledger::verdict::{
    LabelFacts, LabelFinding, Mismatch, SignatureCheck, VerificationStatus, judge_label,
};
use custodian_scanner::{Gtin, Scan};
use ed25519_dalek::VerifyingKey;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::HubError;
use crate::registry::Registry;

/// Sources (client addresses) verifying one serial in a day (UTC) above which the hub raises a
/// velocity flag.
pub const VELOCITY_THRESHOLD: i64 = 25;

/// How often counted verifications are written and the velocity check runs. A velocity flag
/// is raised at most this long after the verification that crossed the threshold, and a crash
/// loses at most this long of counts.
pub const VELOCITY_FLUSH: Duration = Duration::from_millis(250);

/// Units and days whose counts may wait in memory for the next write. A flush normally empties
/// them every [`VELOCITY_FLUSH`]; while the counts' file cannot be written, units beyond this
/// go uncounted rather than growing the hub's memory without bound.
pub const MAX_PENDING_UNITS: usize = 250_000;

/// The most codes one `POST /verify/batch` may carry.
pub const MAX_BATCH_CODES: usize = 1_000;

/// The longest code verification reads, in bytes: a GS1 DataMatrix holds at most 2,335
/// characters, and a Digital Link URI with all of a label's attributes is far shorter.
pub const MAX_CODE_BYTES: usize = 4_096;

/// Codes of a batch that cost one request of the client's rate limit.
pub const CODES_PER_TOKEN: usize = 50;

/// What the public learns about a code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// What the code shows (never `unreadable`: a code that names no unit is refused). Who
    /// holds a quarantined unit and why stay private.
    pub status: VerificationStatus,
    /// The code shows a unit this registry issued: its signature verifies, nothing on it
    /// differs from what was issued, and it is not on the counterfeit alert list. A recalled,
    /// quarantined or expired unit may be genuine.
    pub genuine: bool,
    pub gtin: String,
    pub serial: String,
    pub product: Option<String>,
    /// The lot the serial was issued in.
    pub lot: Option<String>,
    pub message: String,
}

/// One code of a batch: anything a scanner reads, or a GTIN and serial.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum BatchCode {
    /// An element string, bracketed AIs or a Digital Link URI.
    Text(String),
    /// A GTIN (8, 12, 13 or 14 digits) and a serial.
    Key { gtin: String, serial: String },
}

/// The body of `POST /verify/batch`.
#[derive(Clone, Debug, Deserialize)]
pub struct BatchRequest {
    pub codes: Vec<BatchCode>,
}

/// Reads the body of `POST /verify/batch`: JSON holding between one and `max_codes` codes.
/// Anything else is refused with what the body should be (400), or as too large (413).
pub fn read_batch(body: &[u8], max_codes: usize) -> Result<Vec<BatchCode>, HubError> {
    let request: BatchRequest = serde_json::from_slice(body).map_err(|e| {
        HubError::BadRequest(format!(
            "batch request: {e} (expected {{\"codes\": [code or {{\"gtin\", \"serial\"}}, …]}})"
        ))
    })?;
    let n = request.codes.len();
    if n == 0 {
        return Err(HubError::BadRequest("the batch has no codes".into()));
    }
    if n > max_codes {
        return Err(HubError::TooLarge(format!(
            "a batch holds at most {max_codes} codes; this one has {n}: split it"
        )));
    }
    Ok(request.codes)
}

/// The answer for one code of a batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BatchItem {
    /// The code as sent; absent when it was sent as a GTIN and serial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// As [`Verification::status`], or `unreadable` when the code names no serialised unit.
    pub status: VerificationStatus,
    pub genuine: bool,
    pub gtin: Option<String>,
    pub serial: Option<String>,
    pub product: Option<String>,
    pub lot: Option<String>,
    /// Why, in words; for `unreadable`, what is wrong with the code.
    pub message: String,
}

/// The answer to `POST /verify/batch`: one item per code, in the order sent, and how many
/// codes had each status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BatchReport {
    pub results: Vec<BatchItem>,
    pub summary: BTreeMap<String, usize>,
}

/// A token bucket's settings: a client may make `burst` requests at once, then `per_second`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: f64,
}

impl RateLimit {
    /// The limit the public gets: 10 verifications a second per client address, bursts of 30.
    pub const PUBLIC: RateLimit = RateLimit {
        per_second: 10.0,
        burst: 30.0,
    };
}

impl Default for RateLimit {
    fn default() -> RateLimit {
        RateLimit::PUBLIC
    }
}

/// How the hub serves public verification.
#[derive(Clone, Debug, PartialEq)]
pub struct PublicOptions {
    /// The rate limit per client address; [`RateLimit::PUBLIC`] unless raised on purpose.
    pub rate: RateLimit,
    /// Threads answering verifications, each with its own read connection.
    pub readers: usize,
}

impl Default for PublicOptions {
    fn default() -> PublicOptions {
        // Lookups are CPU work on cached pages: a reader per core.
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        PublicOptions {
            rate: RateLimit::PUBLIC,
            readers: cores.clamp(2, 16),
        }
    }
}

/// Who asked for a verification, as the velocity count tells them apart: the connection's peer
/// address (never anything the client says about itself). An IPv6 client counts as its /64
/// network, which is one subscriber's allocation: its holder has 2^64 addresses to send from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Source([u8; 16]);

impl Source {
    /// The source a client address counts as.
    pub fn address(ip: IpAddr) -> Source {
        let v6 = match ip {
            IpAddr::V4(v4) => v4.to_ipv6_mapped(),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_ipv6_mapped(),
                None => {
                    let mut network = v6.octets();
                    network[8..].fill(0);
                    return Source(network);
                }
            },
        };
        Source(v6.octets())
    }
}

/// A unit's verifications in a day not yet written: how many queries, and from which sources
/// (at most [`VELOCITY_THRESHOLD`] + 1 of them: more decide nothing).
#[derive(Debug, Default)]
struct PendingUnit {
    queries: u32,
    sources: Vec<Source>,
}

impl PendingUnit {
    fn add(&mut self, queries: u32, source: Source) {
        self.queries = self.queries.saturating_add(queries);
        if self.sources.len() as i64 <= VELOCITY_THRESHOLD && !self.sources.contains(&source) {
            self.sources.push(source);
        }
    }
}

/// The velocity count: what is counted and not yet written, and where it is written.
struct Velocity {
    /// Counted verifications not yet written, per day (UTC) and unit.
    pending: Mutex<HashMap<(NaiveDate, Epc), PendingUnit>>,
    /// Where the counts per unit and day are written.
    store: CountsAt,
    /// The key sources are hashed with before they are written: the file keeps no client
    /// addresses, and without the key its hashes cannot be tried against addresses.
    key: [u8; 32],
    /// The day old counts were last deleted.
    pruned_on: Mutex<String>,
}

impl Velocity {
    /// Counts a query of `epc` on `day` by `source`.
    fn count(&self, day: NaiveDate, epc: Epc, source: Source) {
        let mut pending = lock(&self.pending);
        if pending.len() >= MAX_PENDING_UNITS {
            if let Some(unit) = pending.get_mut(&(day, epc)) {
                unit.add(1, source);
            }
            return;
        }
        pending.entry((day, epc)).or_default().add(1, source);
    }

    /// A source as the file keeps it: 8 bytes of a keyed hash.
    fn hash(&self, source: Source) -> [u8; 8] {
        let digest = Sha256::new()
            .chain_update(self.key)
            .chain_update(source.0)
            .finalize();
        let mut out = [0; 8];
        out.copy_from_slice(&digest[..8]);
        out
    }
}

/// Where verification counts are written.
enum CountsAt {
    /// `velocity.sqlite` beside a SQLite registry.
    File(Mutex<Connection>),
    /// The registry's own PostgreSQL database, which every hub process counts into.
    Registry,
}

/// The file of velocity counts beside the registry's.
pub const VELOCITY_FILE: &str = "velocity.sqlite";

/// Opens the counts' file and reads (or makes) its key for hashing sources. Counts are not
/// worth an fsync each: `synchronous=NORMAL` keeps the file consistent, and a crash loses at
/// most the last writes, as it loses what is in memory.
///
/// `verifications` holds per unit and day the queries (`count`) and the sources that made them
/// (`sources`: their hashes, 8 bytes each, at most [`VELOCITY_THRESHOLD`] + 1). A file from
/// before sources were counted gets the column; its days start counting sources from none.
pub(crate) fn open_counts(path: &Path) -> Result<(Connection, [u8; 32]), HubError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS verifications (
             epc TEXT NOT NULL, day TEXT NOT NULL, count INTEGER NOT NULL, sources BLOB,
             PRIMARY KEY (epc, day)
         ) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS source_key (key BLOB NOT NULL);",
    )?;
    let has_sources: bool = conn.query_row(
        "SELECT count(*) > 0 FROM pragma_table_info('verifications') WHERE name = 'sources'",
        [],
        |r| r.get(0),
    )?;
    if !has_sources {
        conn.execute_batch("ALTER TABLE verifications ADD COLUMN sources BLOB")?;
    }
    let held: Option<Vec<u8>> =
        conn.db()
            .query_opt("SELECT key FROM source_key LIMIT 1", [], |r| r.get(0))?;
    let key = match held.and_then(|k| <[u8; 32]>::try_from(k).ok()) {
        Some(key) => key,
        None => {
            let key: [u8; 32] = rand::random();
            conn.execute("DELETE FROM source_key", [])?;
            conn.execute("INSERT INTO source_key (key) VALUES (?1)", [&key[..]])?;
            key
        }
    };
    Ok((conn, key))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

enum Job {
    /// Work on the reader's connection.
    Run(Box<dyn FnOnce(Db<'_>) + Send>),
    /// A code to verify: checks queued together are looked up together ([`lookup_many`]).
    Check(Box<Presented>, tokio::sync::oneshot::Sender<Checked>),
}

/// Most queued checks a reader takes at once.
const CHECKS_AT_ONCE: usize = 64;

/// Runs `job`, and with a check, the checks queued behind it (up to [`CHECKS_AT_ONCE`]): looked
/// up in one statement, then each judged and answered. A check whose lookup fails with the
/// others' is tried alone, so that each answer carries its own error.
fn run_job(conn: Db<'_>, issuer: &VerifyingKey, job: Job, queue: &Mutex<mpsc::Receiver<Job>>) {
    let (presented, reply) = match job {
        Job::Run(f) => return f(conn),
        Job::Check(presented, reply) => (*presented, reply),
    };
    let mut checks = vec![(presented, reply)];
    let mut after = None;
    // Another reader holding the queue is waiting on it for a job, so none is queued: this one
    // does not wait for it.
    let queue_held = match queue.try_lock() {
        Ok(held) => Some(held),
        Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    };
    if let Some(queue) = queue_held.filter(|_| conn.is_postgres()) {
        while checks.len() < CHECKS_AT_ONCE {
            match queue.try_recv() {
                Ok(Job::Check(presented, reply)) => checks.push((*presented, reply)),
                Ok(run) => {
                    after = Some(run);
                    break;
                }
                Err(_) => break,
            }
        }
    }
    let units: Vec<&Presented> = checks.iter().map(|(p, _)| p).collect();
    match lookup_many(conn, &units) {
        Ok(known) => {
            for ((presented, reply), known) in checks.into_iter().zip(known) {
                let _ = reply.send(Ok(judge(issuer, presented, known)));
            }
        }
        Err(_) => {
            for (presented, reply) in checks {
                let _ = reply.send(check(conn, issuer, presented));
            }
        }
    }
    if let Some(job) = after {
        run_job(conn, issuer, job, queue);
    }
}

/// A reader thread's own connection to the registry.
enum Reader {
    Sqlite(Connection),
    Postgres(PgConn),
}

impl AsDb for Reader {
    fn db(&self) -> Db<'_> {
        match self {
            Reader::Sqlite(conn) => conn.db(),
            Reader::Postgres(conn) => conn.db(),
        }
    }
}

/// What the reader threads judge with besides the registry: the issuer's key and the counts.
struct Judge {
    issuer: VerifyingKey,
    counts: Velocity,
}

/// Answers verifications on reader threads and keeps the velocity count.
pub struct Verifier {
    registry: Arc<Registry>,
    jobs: Option<mpsc::Sender<Job>>,
    readers: Vec<JoinHandle<()>>,
    judge: Arc<Judge>,
    stop_flusher: Option<mpsc::Sender<()>>,
    flusher: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("readers", &self.readers.len())
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Starts `readers` reader threads on the registry's file and the thread that writes counts.
    pub fn start(registry: Arc<Registry>, readers: usize) -> Result<Verifier, HubError> {
        let conn = registry.conn()?;
        let path = conn.db().file().map(std::path::PathBuf::from);
        if path.is_none() && !registry.is_postgres() {
            return Err(HubError::Internal(
                "verification needs a registry on disk".into(),
            ));
        }
        drop(conn);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let mut handles = Vec::with_capacity(readers.max(1));
        for n in 0..readers.max(1) {
            let mut conn = match &path {
                Some(path) => Reader::Sqlite(open_reader(path)?),
                None => Reader::Postgres(registry.connect_postgres()?),
            };
            let queue = queue.clone();
            let registry = registry.clone();
            let issuer = registry.issuer().verifying_key();
            let handle = std::thread::Builder::new()
                .name(format!("hub-verify-{n}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = lock(&queue).recv();
                        let Ok(job) = job else {
                            return; // the verifier is gone
                        };
                        // A connection the server dropped (a restart) is made again; while it
                        // cannot be, the job runs on the closed one and is answered unavailable.
                        if let Reader::Postgres(pg) = &conn
                            && pg.is_closed()
                            && let Ok(again) = registry.connect_postgres()
                        {
                            conn = Reader::Postgres(again);
                        }
                        // A job that panics answers nothing (its caller sees a dropped reply);
                        // the thread goes on serving.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            run_job(conn.db(), &issuer, job, &queue);
                        }));
                    }
                })
                .map_err(|e| HubError::Internal(format!("cannot start a verifier thread: {e}")))?;
            handles.push(handle);
        }
        let (store, key) = match &path {
            Some(path) => {
                let (file, key) = open_counts(&path.with_file_name(VELOCITY_FILE))?;
                (CountsAt::File(Mutex::new(file)), key)
            }
            None => (CountsAt::Registry, source_key(registry.conn()?.db())?),
        };
        let judge = Arc::new(Judge {
            issuer: registry.issuer().verifying_key(),
            counts: Velocity {
                pending: Mutex::default(),
                store,
                key,
                pruned_on: Mutex::default(),
            },
        });
        let (stop_flusher, stopped) = mpsc::channel::<()>();
        let flusher = {
            let registry = registry.clone();
            let judge = judge.clone();
            std::thread::Builder::new()
                .name("hub-velocity".into())
                .spawn(move || {
                    loop {
                        let last = !matches!(
                            stopped.recv_timeout(VELOCITY_FLUSH),
                            Err(RecvTimeoutError::Timeout)
                        );
                        if let Err(e) = flush_counts(&registry, &judge.counts) {
                            eprintln!("hub: verification counts kept for the next write: {e}");
                        }
                        if last {
                            return;
                        }
                    }
                })
                .map_err(|e| HubError::Internal(format!("cannot start the velocity thread: {e}")))?
        };
        Ok(Verifier {
            registry,
            jobs: Some(jobs),
            readers: handles,
            judge,
            stop_flusher: Some(stop_flusher),
            flusher: Some(flusher),
        })
    }

    /// Verifies `code` (anything a scanner reads) and counts the query as `source`'s.
    pub async fn verify(&self, code: &str, source: Source) -> Result<Verification, HubError> {
        let presented = unit_of(code)?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.send(Job::Check(Box::new(presented), reply))?;
        let (verification, issued) = answer
            .await
            .map_err(|_| HubError::Internal("a verification failed on its thread".into()))??;
        if let Some(epc) = issued {
            self.judge
                .counts
                .count(Utc::now().date_naive(), epc, source);
        }
        Ok(verification)
    }

    /// Verifies every code of a manifest on one reader. Each unit counts once per batch, as
    /// `source`'s query, however often the batch names it. Codes that name no serialised unit
    /// are answered `unreadable` with the reason.
    pub async fn verify_batch(
        &self,
        codes: Vec<BatchCode>,
        source: Source,
    ) -> Result<BatchReport, HubError> {
        if codes.len() > MAX_BATCH_CODES {
            return Err(HubError::TooLarge(format!(
                "a batch holds at most {MAX_BATCH_CODES} codes; this one has {}: split it",
                codes.len()
            )));
        }
        let held = self.judge.clone();
        self.on_reader(move |conn| {
            let day = Utc::now().date_naive();
            let parsed: Vec<(Option<String>, Result<Presented, HubError>)> = codes
                .into_iter()
                .map(|code| match code {
                    BatchCode::Text(text) => {
                        let unit = unit_of(&text);
                        (Some(text), unit)
                    }
                    BatchCode::Key { gtin, serial } => (None, unit_of_key(&gtin, &serial)),
                })
                .collect();
            let units: Vec<&Presented> =
                parsed.iter().filter_map(|(_, u)| u.as_ref().ok()).collect();
            let mut known = lookup_many(conn, &units)?.into_iter();
            let mut counted = HashSet::new();
            let mut results = Vec::with_capacity(parsed.len());
            let mut summary = BTreeMap::new();
            for (sent, unit) in parsed {
                let item = match unit {
                    Ok(presented) => {
                        let row = known.next().ok_or_else(|| {
                            HubError::Internal("a batch's lookups came back short".into())
                        })?;
                        let (v, issued) = judge(&held.issuer, presented, row);
                        if let Some(epc) = issued
                            && !counted.contains(&epc)
                        {
                            counted.insert(epc.clone());
                            held.counts.count(day, epc, source);
                        }
                        BatchItem {
                            code: sent,
                            status: v.status,
                            genuine: v.genuine,
                            gtin: Some(v.gtin),
                            serial: Some(v.serial),
                            product: v.product,
                            lot: v.lot,
                            message: v.message,
                        }
                    }
                    Err(e) => BatchItem {
                        code: sent,
                        status: VerificationStatus::Unreadable,
                        genuine: false,
                        gtin: None,
                        serial: None,
                        product: None,
                        lot: None,
                        message: e.to_string(),
                    },
                };
                *summary.entry(item.status.as_str().to_string()).or_insert(0) += 1;
                results.push(item);
            }
            Ok(BatchReport { results, summary })
        })
        .await
    }

    /// Writes the counted verifications now and raises the velocity flags they call for
    /// (the background thread does this every [`VELOCITY_FLUSH`]). Returns the flags raised.
    pub fn flush(&self) -> Result<usize, HubError> {
        flush_counts(&self.registry, &self.judge.counts)
    }

    fn send(&self, job: Job) -> Result<(), HubError> {
        self.jobs
            .as_ref()
            .ok_or_else(|| HubError::Internal("the verifier has stopped".into()))?
            .send(job)
            .map_err(|_| HubError::Internal("the verifier threads have stopped".into()))
    }

    async fn on_reader<T: Send + 'static>(
        &self,
        f: impl FnOnce(Db<'_>) -> Result<T, HubError> + Send + 'static,
    ) -> Result<T, HubError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.send(Job::Run(Box::new(move |conn: Db<'_>| {
            let _ = reply.send(f(conn));
        })))?;
        answer
            .await
            .map_err(|_| HubError::Internal("a verification failed on its thread".into()))?
    }
}

impl Drop for Verifier {
    fn drop(&mut self) {
        // Closing the queue ends the readers; closing the stop channel makes the flusher write
        // what is left and end.
        drop(self.jobs.take());
        drop(self.stop_flusher.take());
        for handle in self.readers.drain(..) {
            let _ = handle.join();
        }
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
    }
}

/// A read connection with a page cache large enough for the upper levels of the serials'
/// B-tree: a lookup among millions of serials then reads one leaf page.
///
/// No memory map: a commit by another connection makes SQLite unmap the whole file before the
/// next read, which for a registry of gigabytes costs more than the reads it saves. The query
/// planner is held stable: otherwise the lookup, which names its parameters more than once,
/// would be planned again for every new set of values.
fn open_reader(path: &Path) -> Result<Connection, HubError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "query_only", true)?;
    conn.pragma_update(None, "mmap_size", 0_i64)?;
    conn.pragma_update(None, "cache_size", -65_536_i64)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(conn)
}

/// A code as presented: the unit it names and everything else it says.
struct Presented {
    gtin: Gtin,
    serial: String,
    scan: Scan,
}

impl Presented {
    fn epc(&self) -> Epc {
        Epc::Unit {
            gtin: self.gtin.clone(),
            serial: self.serial.clone(),
        }
    }
}

/// The unit a code names, or why it names none.
fn unit_of(code: &str) -> Result<Presented, HubError> {
    if code.len() > MAX_CODE_BYTES {
        return Err(HubError::BadRequest(format!(
            "a code is at most {MAX_CODE_BYTES} bytes long; this one has {}",
            code.len()
        )));
    }
    let scan = custodian_scanner::parse(code).map_err(|e| HubError::BadRequest(e.to_string()))?;
    match scan.identity().as_ref().and_then(Epc::from_identity) {
        Some(Epc::Unit { gtin, serial }) => Ok(Presented { gtin, serial, scan }),
        _ => Err(HubError::BadRequest(
            "verification needs a serialised unit (GTIN and serial)".into(),
        )),
    }
}

/// The unit a GTIN and serial name, checked as a scanned element string would be.
fn unit_of_key(gtin: &str, serial: &str) -> Result<Presented, HubError> {
    if gtin.len() > MAX_CODE_BYTES || serial.len() > MAX_CODE_BYTES {
        return Err(HubError::BadRequest(format!(
            "a GTIN or serial is at most {MAX_CODE_BYTES} bytes long"
        )));
    }
    let gtin = Gtin::parse(gtin).map_err(|e| HubError::BadRequest(format!("gtin: {e}")))?;
    unit_of(&custodian_scanner::element_string(&[
        ("01", gtin.as_str()),
        ("21", serial),
    ]))
}

/// Everything verification reads, in one statement: the product, the issued serial with its
/// lot, expiry and signature, an alert on the unit, a recall of its product or lot, and the
/// hold it is under. Each is a primary-key or index lookup (a test checks the plan).
pub(crate) const LOOKUP: &str = "SELECT p.name, s.serial IS NOT NULL, s.lot, s.expiry, s.signature,
        (SELECT reason FROM alerts WHERE epc = ?3),
        (SELECT reason FROM recalls r WHERE r.gtin = ?1 AND (r.lot IS NULL OR r.lot = s.lot) LIMIT 1),
        (SELECT since FROM holds h WHERE h.epc = ?3)
     FROM (SELECT 1) AS one
     LEFT JOIN products p ON p.gtin = ?1
     LEFT JOIN serials s ON s.gtin = ?1 AND s.serial = ?2";

/// What the registry holds about a unit, as [`LOOKUP`] reads it.
struct Known {
    product: Option<String>,
    issued: bool,
    lot: Option<String>,
    expiry: Option<String>,
    signature: Option<String>,
    alert: Option<String>,
    recall: Option<String>,
    held: Option<String>,
}

impl Known {
    /// [`LOOKUP`]'s columns, from column `at` of `row` on.
    fn read(r: &custodian_ledger::sql::Row<'_>, at: usize) -> custodian_ledger::sql::Result<Known> {
        Ok(Known {
            product: r.get(at)?,
            issued: r.get::<_, Option<bool>>(at + 1)?.unwrap_or(false),
            lot: r.get(at + 2)?,
            expiry: r.get(at + 3)?,
            signature: r.get(at + 4)?,
            alert: r.get(at + 5)?,
            recall: r.get(at + 6)?,
            held: r.get(at + 7)?,
        })
    }
}

/// Whether the code's signature verifies for the unit. A signature equal to the one issued
/// verifies without the Ed25519 check: the registry signed it with its issuer key over the
/// same payload, so [`signature_verifies`] would say yes, and the comparison costs a fraction
/// of the check. Anything else goes through the check itself.
fn signature_of(
    issuer: &VerifyingKey,
    gtin: &Gtin,
    serial: &str,
    issued: &str,
    sig: &[u8],
) -> bool {
    let mut buf = [0_u8; 64];
    let same = matches!(URL_SAFE_NO_PAD.decode_slice(issued, &mut buf), Ok(n) if buf.get(..n) == Some(sig));
    same || signature_verifies(issuer, gtin.as_str(), serial, sig)
}

/// The first element of the code that the registry knows and the code gives otherwise: its
/// lot (AI 10) and its expiry (AI 17). An element the code does not carry is no mismatch; one
/// the serial was issued without is.
fn mismatch<'a>(scan: &'a Scan, lot: Option<&str>, expiry: Option<&str>) -> Option<Mismatch<'a>> {
    [("10", lot), ("17", expiry)]
        .into_iter()
        .find_map(|(ai, issued)| match scan.get(ai) {
            Some(on_label) if Some(on_label) != issued => Some(Mismatch { ai, on_label }),
            _ => None,
        })
}

/// The day an issued expiry (`YYMMDD`) falls on, read by the scanner's own rules for AI 17.
fn expiry_day(gtin: &Gtin, yymmdd: &str) -> Option<NaiveDate> {
    custodian_scanner::parse(&custodian_scanner::element_string(&[
        ("01", gtin.as_str()),
        ("17", yymmdd),
    ]))
    .ok()?
    .expiry()
}

/// Looks the unit up and judges it. Returns the answer and, when the serial was issued, its
/// unit, which the caller counts.
fn check(conn: Db<'_>, issuer: &VerifyingKey, presented: Presented) -> Checked {
    let known = lookup(conn, &presented)?;
    Ok(judge(issuer, presented, known))
}

/// A verification's answer and, when the serial was issued, its unit (which the caller counts).
type Checked = Result<(Verification, Option<Epc>), HubError>;

/// What the registry holds about the unit `presented` names ([`LOOKUP`]).
fn lookup(conn: Db<'_>, presented: &Presented) -> Result<Known, HubError> {
    let epc = presented.epc();
    Ok(conn.prepare_cached(LOOKUP)?.query_row(
        params![presented.gtin.as_str(), presented.serial, epc.uri()],
        |r| Known::read(r, 0),
    )?)
}

/// Most codes one statement looks up ([`lookup_many`]).
const LOOKUP_CHUNK: usize = 500;

/// [`LOOKUP`] for many units at once on PostgreSQL, `?1` a JSON array of `{k, g, s, e}` (index,
/// GTIN, serial, unit URI): a row per unit, with its index first.
const LOOKUP_MANY: &str = "SELECT j.k, p.name, s.serial IS NOT NULL, s.lot, s.expiry, s.signature,
        (SELECT reason FROM alerts WHERE epc = j.e),
        (SELECT reason FROM recalls r WHERE r.gtin = j.g AND (r.lot IS NULL OR r.lot = s.lot) LIMIT 1),
        (SELECT since FROM holds h WHERE h.epc = j.e)
     FROM json_to_recordset(?1::json) AS j(k int8, g text, s text, e text)
     LEFT JOIN products p ON p.gtin = j.g
     LEFT JOIN serials s ON s.gtin = j.g AND s.serial = j.s";

/// What the registry holds about each of `units`, in order: on PostgreSQL in one statement per
/// [`LOOKUP_CHUNK`] (one trip to the server rather than one per code), on SQLite one lookup
/// each (in this process, where a statement costs no trip).
fn lookup_many(conn: Db<'_>, units: &[&Presented]) -> Result<Vec<Known>, HubError> {
    if !conn.is_postgres() {
        return units.iter().map(|p| lookup(conn, p)).collect();
    }
    let mut known = Vec::with_capacity(units.len());
    for chunk in units.chunks(LOOKUP_CHUNK) {
        let list: Vec<serde_json::Value> = chunk
            .iter()
            .enumerate()
            .map(|(k, p)| {
                serde_json::json!({"k": k, "g": p.gtin.as_str(), "s": p.serial, "e": p.epc().uri()})
            })
            .collect();
        let list = serde_json::Value::Array(list).to_string();
        let mut rows: Vec<Option<Known>> = (0..chunk.len()).map(|_| None).collect();
        for (k, row) in conn.query_map(LOOKUP_MANY, [&list], |r| {
            Ok((r.get::<_, i64>(0)?, Known::read(r, 1)?))
        })? {
            if let Some(slot) = usize::try_from(k).ok().and_then(|k| rows.get_mut(k)) {
                *slot = Some(row);
            }
        }
        for row in rows {
            known.push(row.ok_or_else(|| {
                HubError::Internal("a unit looked up in a batch came back without its row".into())
            })?);
        }
    }
    Ok(known)
}

/// Judges `presented` by what the registry holds of it.
fn judge(issuer: &VerifyingKey, presented: Presented, known: Known) -> (Verification, Option<Epc>) {
    let epc = presented.epc();
    let Presented { gtin, serial, scan } = presented;
    let (status, genuine, message) = match (&known.product, known.issued) {
        (None, _) => (
            VerificationStatus::UnknownProduct,
            false,
            format!("GTIN {gtin} is not a product of this registry"),
        ),
        (Some(_), false) => (
            VerificationStatus::UnknownSerial,
            false,
            format!("serial {serial} was never issued for GTIN {gtin}: counterfeit"),
        ),
        (Some(product), true) => judge_issued(issuer, &gtin, &serial, &scan, product, &known),
    };
    let verification = Verification {
        status,
        genuine,
        gtin: gtin.to_string(),
        serial,
        product: known.product,
        lot: known.lot,
        message,
    };
    (verification, known.issued.then_some(epc))
}

/// Judges a code of an issued serial: the label-level checks the handheld makes, in its order,
/// with what the registry knows of the unit. Returns the status, whether the code is genuine,
/// and why in words.
fn judge_issued(
    issuer: &VerifyingKey,
    gtin: &Gtin,
    serial: &str,
    scan: &Scan,
    product: &str,
    known: &Known,
) -> (VerificationStatus, bool, String) {
    let issued_signature = known.signature.as_deref().unwrap_or_default();
    let signature = SignatureCheck::of(scan, |sig| {
        signature_of(issuer, gtin, serial, issued_signature, sig)
    });
    // A serial issued without a signature is shown by its code alone.
    let authentic = signature == SignatureCheck::Verified
        || (signature == SignatureCheck::Absent && issued_signature.is_empty());
    let expiry = scan.expiry().or_else(|| {
        known
            .expiry
            .as_deref()
            .and_then(|yymmdd| expiry_day(gtin, yymmdd))
    });
    let facts = LabelFacts {
        signature,
        mismatch: mismatch(scan, known.lot.as_deref(), known.expiry.as_deref()),
        alert: known.alert.as_deref(),
        recall: known.recall.as_deref(),
        held: known.held.is_some(),
        expiry,
        today: Utc::now().date_naive(),
    };
    // What a genuine unit is called in a message, and what an unsigned code adds to it.
    let (unit, unsigned) = if authentic {
        (format!("genuine {product}"), "")
    } else {
        (
            product.to_string(),
            "; this code carries no signature, so it does not show that the label is genuine",
        )
    };
    let Some(finding) = judge_label(&facts) else {
        return if authentic {
            (VerificationStatus::Genuine, true, unit)
        } else {
            (
                VerificationStatus::Unsigned,
                false,
                format!(
                    "serial {serial} of {product} was issued and nothing is known against it, but this code carries no signature, so it does not show that the label is genuine: verify the label's full code (its DataMatrix or QR code)"
                ),
            )
        };
    };
    let message = match finding {
        LabelFinding::SignatureInvalid => format!(
            "the AI 8030 signature of this code does not verify for serial {serial} of GTIN {gtin}: treat as counterfeit"
        ),
        LabelFinding::LabelMismatch(m) => format!(
            "this code's {} is {}, which is not what serial {serial} of GTIN {gtin} was issued with: treat as counterfeit",
            m.element(),
            m.on_label
        ),
        LabelFinding::ReportedCounterfeit(reason) => {
            format!("this code is on the counterfeit alert list: {reason}")
        }
        LabelFinding::Recalled(reason) => format!("{unit}, but recalled: {reason}{unsigned}"),
        LabelFinding::Quarantined => {
            let since = known.held.as_deref().unwrap_or_default();
            format!(
                "{unit}, but in quarantine since {}: not to be sold until it is released{unsigned}",
                since.get(..10).unwrap_or(since)
            )
        }
        LabelFinding::Expired(on) => {
            format!("{unit}, but expired on {on}: not to be sold{unsigned}")
        }
    };
    (
        finding.status(),
        authentic && !finding.is_counterfeit(),
        message,
    )
}

/// Writes the pending counts in one transaction. On failure they stay pending, so no query
/// goes uncounted.
fn flush_counts(registry: &Registry, velocity: &Velocity) -> Result<usize, HubError> {
    let pending = std::mem::take(&mut *lock(&velocity.pending));
    if pending.is_empty() {
        return Ok(0);
    }
    let written = match &velocity.store {
        CountsAt::File(file) => {
            let file = lock(file);
            write_counts(registry, velocity, file.db(), &pending)
        }
        CountsAt::Registry => {
            let conn = registry.conn()?;
            write_counts(registry, velocity, conn.db(), &pending)
        }
    };
    let raised = written.inspect_err(|_| {
        let mut counts = lock(&velocity.pending);
        for (key, unit) in &pending {
            let held = counts.entry(key.clone()).or_default();
            for &source in &unit.sources {
                held.add(0, source);
            }
            held.queries = held.queries.saturating_add(unit.queries);
        }
    })?;
    // Only today's and yesterday's counts matter: once a day, older ones go.
    let today = Utc::now().date_naive();
    let mut pruned = lock(&velocity.pruned_on);
    if *pruned != today.to_string() {
        let yesterday = today
            .pred_opt()
            .unwrap_or(today)
            .format("%Y-%m-%d")
            .to_string();
        let delete = "DELETE FROM verifications WHERE day < ?1";
        match &velocity.store {
            CountsAt::File(file) => lock(file).db().execute(delete, [&yesterday])?,
            CountsAt::Registry => registry.conn()?.db().execute(delete, [&yesterday])?,
        };
        *pruned = today.to_string();
    }
    Ok(raised)
}

/// Units whose counts one statement reads.
const COUNTS_CHUNK: usize = 1_000;

/// A unit's count for a day, added to what is held.
const COUNT_ROW: custodian_ledger::sql::Batched = custodian_ledger::sql::Batched {
    sql: "INSERT INTO verifications (epc, day, count, sources) VALUES (?1, ?2, ?3, ?4)
          ON CONFLICT(epc, day) DO UPDATE SET count = verifications.count + excluded.count, sources = excluded.sources",
    types: &["text", "text", "int8", "bytea"],
};

/// Adds `pending` to the stored counts and raises the velocity flags of the units whose day's
/// sources pass the threshold with this write. The flags are committed before the counts: if
/// the counts then fail to commit, they are written again later and the crossing is seen
/// again, and a flag's id makes raising it twice a no-op.
fn write_counts(
    registry: &Registry,
    velocity: &Velocity,
    store: Db<'_>,
    pending: &HashMap<(NaiveDate, Epc), PendingUnit>,
) -> Result<usize, HubError> {
    let tx = store.transaction()?;
    // What is held of the units, read a chunk at a time (a trip to the server each on
    // PostgreSQL, not one per unit), and written with one held insert.
    let units: Vec<(String, String, &PendingUnit, &Epc)> = pending
        .iter()
        .map(|((day, epc), unit)| (epc.uri(), day.format("%Y-%m-%d").to_string(), unit, epc))
        .collect();
    let read = format!(
        "SELECT v.epc, v.day, v.sources FROM {} j CROSS JOIN verifications v ON v.epc = j.value",
        tx.json_each("?1")
    );
    let mut held: HashMap<(String, String), Vec<u8>> = HashMap::new();
    for chunk in units.chunks(COUNTS_CHUNK) {
        let uris: Vec<&str> = chunk.iter().map(|(uri, ..)| uri.as_str()).collect();
        let list = serde_json::to_string(&uris)
            .map_err(|e| HubError::Internal(format!("a list of units: {e}")))?;
        for (uri, day, sources) in tx.query_map(&read, [&list], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<Vec<u8>>>(2)?,
            ))
        })? {
            held.insert((uri, day), sources.unwrap_or_default());
        }
    }
    let threshold = usize::try_from(VELOCITY_THRESHOLD).unwrap_or(usize::MAX);
    let mut crossed = Vec::new();
    for (uri, day, unit, epc) in units {
        let mut sources = held.remove(&(uri.clone(), day.clone())).unwrap_or_default();
        let before = sources.len() / 8;
        for &source in &unit.sources {
            if sources.len() / 8 > threshold {
                break;
            }
            let hash = velocity.hash(source);
            if !sources.chunks_exact(8).any(|held| held == hash) {
                sources.extend_from_slice(&hash);
            }
        }
        let after = sources.len() / 8;
        tx.insert_later(&COUNT_ROW, params![uri, day, unit.queries, sources])?;
        if before <= threshold && after > threshold {
            crossed.push((day, epc));
        }
    }
    let raised = if crossed.is_empty() {
        0
    } else {
        match velocity.store {
            CountsAt::File(_) => {
                let conn = registry.conn()?;
                let flags = conn.db().transaction()?;
                let raised = raise_velocity(*flags, &crossed)?;
                flags.commit()?;
                raised
            }
            // The counts are in the registry's database: its flags go in the same transaction.
            CountsAt::Registry => raise_velocity(*tx, &crossed)?,
        }
    };
    tx.commit()?;
    Ok(raised)
}

/// Raises one velocity flag per unit and day, for the manufacturer.
fn raise_velocity(tx: Db<'_>, crossed: &[(String, &Epc)]) -> Result<usize, HubError> {
    let maker = tx
        .query_row(
            "SELECT id FROM orgs WHERE role = 'manufacturer' ORDER BY id LIMIT 1",
            [],
            |r| r.get::<_, String>(0),
        )
        .optional()?
        .unwrap_or_else(|| "manufacturer".into());
    let mut raised = 0;
    let mut flags = crate::flags::FlagDocs::new();
    for (day, epc) in crossed {
        let reason = format!(
            "{} was verified from more than {VELOCITY_THRESHOLD} addresses on {day}: a genuine unit is not; its code may be cloned",
            epc.label()
        );
        let flag = crate::listing::raise_draft(
            tx,
            &mut flags,
            crate::listing::Draft {
                kind: custodian_ledger::FlagKind::Velocity,
                unit: epc,
                fact: format!("{maker}/{day}"),
                event: None,
                org: &maker,
                reason,
            },
            Utc::now(),
        )?;
        raised += usize::from(flag.is_some());
    }
    flags.write(tx)?;
    Ok(raised)
}

/// The key sources are hashed with, kept in the registry's PostgreSQL database: made by the
/// first hub process that needs it, read by the others.
fn source_key(db: Db<'_>) -> Result<[u8; 32], HubError> {
    // Under the writer lock: one process makes it.
    let tx = db.transaction()?;
    let held: Option<Vec<u8>> =
        tx.query_opt("SELECT key FROM source_key LIMIT 1", [], |r| r.get(0))?;
    let key = match held {
        Some(key) => key,
        None => {
            let made: [u8; 32] = rand::random();
            tx.execute("INSERT INTO source_key (key) VALUES (?1)", [&made[..]])?;
            made.to_vec()
        }
    };
    tx.commit()?;
    <[u8; 32]>::try_from(key)
        .map_err(|_| HubError::Internal("the verification source key is damaged".into()))
}

/// A token bucket per client ([`Source`]: an address, an IPv6 client's /64 network, which it
/// could otherwise step through to start afresh at each request).
///
/// The buckets live in this process, or, with the registry on PostgreSQL, in its `rate_limits`
/// table, which every hub process on that database shares: a client spreading its requests
/// over the processes behind a balancer is held to the one limit, not one per process. There a
/// bucket is taken in one statement ([`SHARED_TAKE`], the rule [`RateLimiter::allow_n`] applies
/// here, at the database's clock, which all processes read alike), a lease of several tokens at
/// a time ([`RateLimiter::lease_size`]) which the process then spends without asking again: a
/// client never gets more than its one bucket grants, whichever processes it asks, and a
/// process asks the database once per lease rather than once per verification. Tokens leased to
/// a process the client stops asking are not handed back: a client spreading its requests may
/// be refused a lease's worth early, never allowed more. A process whose database
/// does not take the write (a read-only replica) or is unreachable limits in-process instead;
/// the verification that follows reports an outage itself.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<Source, (f64, Instant)>>,
    shared: Option<Arc<Registry>>,
    /// Shared takes so far: every [`SHARED_SWEEP_EVERY`]th also forgets idle clients.
    taken: std::sync::atomic::AtomicU64,
    /// Tokens this process was granted from clients' shared buckets and has not spent, and
    /// when each lease was last topped up.
    leases: Mutex<HashMap<Source, (f64, Instant)>>,
}

/// Leases kept before those idle for a minute are dropped (with their tokens).
const MAX_LEASES: usize = 100_000;

/// Takes at least `?3` and at most `?5` tokens from client `?1`'s bucket of at most `?2`,
/// refilled at `?4` a second since it was last taken from; a new client's bucket is full.
/// Returns how many were granted: none when `?3` were not there (a refusal takes nothing).
const SHARED_TAKE: &str = "
    INSERT INTO rate_limits AS r (client, tokens, at, allowed, granted)
    VALUES (?1::bytea,
            CASE WHEN ?2::float8 >= ?3::float8 THEN ?2::float8 - least(?5::float8, ?2::float8) ELSE ?2::float8 END,
            now(), ?2::float8 >= ?3::float8,
            CASE WHEN ?2::float8 >= ?3::float8 THEN least(?5::float8, ?2::float8) ELSE 0 END)
    ON CONFLICT (client) DO UPDATE SET
        tokens = least(?2::float8, r.tokens + extract(epoch FROM now() - r.at)::float8 * ?4::float8)
            - CASE WHEN least(?2::float8, r.tokens + extract(epoch FROM now() - r.at)::float8 * ?4::float8)
                        >= ?3::float8
              THEN least(?5::float8, ?2::float8, r.tokens + extract(epoch FROM now() - r.at)::float8 * ?4::float8)
              ELSE 0 END,
        granted = CASE WHEN least(?2::float8, r.tokens + extract(epoch FROM now() - r.at)::float8 * ?4::float8)
                        >= ?3::float8
              THEN least(?5::float8, ?2::float8, r.tokens + extract(epoch FROM now() - r.at)::float8 * ?4::float8)
              ELSE 0 END,
        allowed = least(?2::float8, r.tokens + extract(epoch FROM now() - r.at)::float8 * ?4::float8)
            >= ?3::float8,
        at = now()
    RETURNING granted";

/// How often a shared take also deletes the buckets of clients idle long enough to be full
/// again (as good as absent): the table holds recent clients only.
const SHARED_SWEEP_EVERY: u64 = 1_000;

impl RateLimiter {
    /// Buckets in this process.
    pub fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
            shared: None,
            taken: std::sync::atomic::AtomicU64::new(0),
            leases: Mutex::new(HashMap::new()),
        }
    }

    /// Buckets shared through `registry`'s database when it is PostgreSQL; in this process
    /// otherwise (one process serves a SQLite registry).
    pub fn for_registry(limit: RateLimit, registry: Arc<Registry>) -> RateLimiter {
        let shared = registry.is_postgres().then_some(registry);
        RateLimiter {
            shared,
            ..RateLimiter::new(limit)
        }
    }

    /// The most a client may spend at once.
    pub fn burst(&self) -> f64 {
        self.limit.burst
    }

    /// Takes one token for `client` at `now`; `false` when the client must slow down.
    pub fn allow(&self, client: IpAddr, now: Instant) -> bool {
        self.allow_n(client, 1.0, now)
    }

    /// Takes `cost` tokens for `client` at `now`, or none and `false`; in this process.
    pub fn allow_n(&self, client: IpAddr, cost: f64, now: Instant) -> bool {
        let RateLimit { per_second, burst } = self.limit;
        let mut buckets = lock(&self.buckets);
        if buckets.len() > 100_000 {
            // Forget idle clients rather than grow without bound.
            buckets.retain(|_, (tokens, at)| {
                *tokens < burst || now.duration_since(*at).as_secs() < 60
            });
        }
        let (tokens, at) = buckets
            .entry(Source::address(client))
            .or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * per_second).min(burst);
        *at = now;
        if *tokens >= cost {
            *tokens -= cost;
            true
        } else {
            false
        }
    }

    /// Tokens a process takes from a shared bucket at once: an eighth of the burst (3 of the
    /// public's 30), at least one and at most 100.
    pub fn lease_size(&self) -> f64 {
        (self.limit.burst / 8.0).floor().clamp(1.0, 100.0)
    }

    /// Takes `cost` tokens for `client` now: from this process's lease of the shared bucket
    /// when there is one, topping the lease up from the bucket when it runs short (on a
    /// blocking thread: it is a statement on the database); else from this process's bucket.
    pub async fn admit(self: &Arc<Self>, client: IpAddr, cost: f64) -> bool {
        if self.shared.is_some() {
            let source = Source::address(client);
            if self.spend_lease(source, cost) {
                return true;
            }
            let want = cost.max(self.lease_size());
            let this = self.clone();
            let taken =
                tokio::task::spawn_blocking(move || this.take_shared(client, cost, want)).await;
            if let Ok(Ok(granted)) = taken {
                if granted < cost {
                    return false;
                }
                self.keep_lease(source, granted - cost);
                return true;
            }
        }
        self.allow_n(client, cost, Instant::now())
    }

    /// Spends `cost` of `source`'s lease, if it holds that much.
    fn spend_lease(&self, source: Source, cost: f64) -> bool {
        let mut leases = lock(&self.leases);
        match leases.get_mut(&source) {
            Some((tokens, _)) if *tokens >= cost => {
                *tokens -= cost;
                true
            }
            _ => false,
        }
    }

    /// Adds `tokens` granted and not yet spent to `source`'s lease.
    fn keep_lease(&self, source: Source, tokens: f64) {
        let now = Instant::now();
        let mut leases = lock(&self.leases);
        if leases.len() >= MAX_LEASES {
            leases.retain(|_, (_, at)| now.duration_since(*at).as_secs() < 60);
        }
        let lease = leases.entry(source).or_insert((0.0, now));
        lease.0 += tokens;
        lease.1 = now;
    }

    /// Takes at least `cost` and at most `want` tokens from `client`'s shared bucket: how many
    /// were granted (none when `cost` were not there).
    fn take_shared(&self, client: IpAddr, cost: f64, want: f64) -> Result<f64, HubError> {
        let Some(registry) = &self.shared else {
            return Err(HubError::Internal("no shared rate limit".into()));
        };
        let RateLimit { per_second, burst } = self.limit;
        let conn = registry.conn()?;
        let db = conn.db();
        let n = self
            .taken
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n % SHARED_SWEEP_EVERY == SHARED_SWEEP_EVERY - 1 {
            let full_after = if per_second > 0.0 {
                (burst / per_second).ceil()
            } else {
                f64::from(u32::MAX)
            };
            db.execute(
                "DELETE FROM rate_limits WHERE at < now() - make_interval(secs => ?1::float8)",
                params![full_after],
            )?;
        }
        let client = Source::address(client).0.to_vec();
        Ok(db.query_row(
            SHARED_TAKE,
            params![client, burst, cost, per_second, want],
            |r| r.get::<_, f64>(0),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 2.0,
            burst: 3.0,
        });
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        assert!((0..3).all(|_| limiter.allow(ip, t0)));
        assert!(!limiter.allow(ip, t0));
        assert!(limiter.allow(ip, t0 + Duration::from_millis(500)));
        assert!(!limiter.allow(ip, t0 + Duration::from_millis(500)));
        assert!(
            limiter.allow("127.0.0.2".parse().unwrap(), t0),
            "buckets are per client"
        );
    }

    #[test]
    fn an_ipv6_client_is_limited_as_its_network_not_each_address() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 1.0,
            burst: 2.0,
        });
        let t0 = Instant::now();
        // Stepping through the addresses of its /64 does not refill its bucket.
        assert!(limiter.allow("2001:db8:1:2::1".parse().unwrap(), t0));
        assert!(limiter.allow("2001:db8:1:2::2".parse().unwrap(), t0));
        assert!(!limiter.allow("2001:db8:1:2:ffff::3".parse().unwrap(), t0));
        assert!(
            limiter.allow("2001:db8:1:3::1".parse().unwrap(), t0),
            "another network is another client"
        );
    }

    #[test]
    fn a_costly_request_takes_several_tokens_or_none() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 10.0,
            burst: 30.0,
        });
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        assert!(limiter.allow_n(ip, 20.0, t0));
        assert!(!limiter.allow_n(ip, 20.0, t0), "10 tokens left");
        assert!(limiter.allow_n(ip, 10.0, t0), "a refusal took nothing");
        assert!(limiter.allow_n(ip, 20.0, t0 + Duration::from_secs(2)));
    }

    #[test]
    fn a_signature_equal_to_the_issued_one_is_what_the_signature_rule_verifies() {
        let tmp = tempfile::tempdir().unwrap();
        let registry = Registry::open_with_key(tmp.path(), crate::demo::issuer_key).unwrap();
        let data = crate::demo::seed(&registry).unwrap();
        let issuer = registry.issuer().verifying_key();
        for s in data.serials.iter().step_by(10) {
            let scan = custodian_scanner::parse(&s.element_string).unwrap();
            let (gtin, issued, sig) = (
                scan.gtin().unwrap(),
                scan.get("8030").unwrap(),
                scan.signature().unwrap(),
            );
            assert!(signature_verifies(&issuer, gtin.as_str(), &s.serial, sig));
            assert!(signature_of(&issuer, gtin, &s.serial, issued, sig));
            assert!(
                signature_of(&issuer, gtin, &s.serial, "", sig),
                "without the issued signature the rule decides, and agrees"
            );
            let mut forged = sig.to_vec();
            forged[7] ^= 0x20;
            assert!(!signature_verifies(
                &issuer,
                gtin.as_str(),
                &s.serial,
                &forged
            ));
            assert!(!signature_of(&issuer, gtin, &s.serial, issued, &forged));
        }
    }

    #[test]
    fn a_counts_file_from_before_sources_were_counted_gets_their_column_and_keeps_its_key() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(VELOCITY_FILE);
        {
            let old = Connection::open(&path).unwrap();
            old.execute_batch(
                "CREATE TABLE verifications (
                     epc TEXT NOT NULL, day TEXT NOT NULL, count INTEGER NOT NULL,
                     PRIMARY KEY (epc, day)
                 ) WITHOUT ROWID;
                 INSERT INTO verifications VALUES ('x', '2026-12-01', 40);",
            )
            .unwrap();
        }
        let (conn, key) = open_counts(&path).unwrap();
        let row: (i64, Option<Vec<u8>>) = conn
            .query_row("SELECT count, sources FROM verifications", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(row, (40, None), "old counts stay, with no sources yet");
        drop(conn);
        assert_eq!(open_counts(&path).unwrap().1, key, "the key is kept");
    }

    #[test]
    fn the_lookup_uses_keys_and_indexes_only() {
        let tmp = tempfile::tempdir().unwrap();
        let registry = Registry::open(tmp.path()).unwrap();
        let conn = registry.conn().unwrap();
        let mut stmt = conn
            .db()
            .prepare(&format!("EXPLAIN QUERY PLAN {LOOKUP}"))
            .unwrap();
        let plan: Vec<String> = stmt
            .query_map(params!["09506000134352", "A", "x"], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for line in &plan {
            let scanned = line.strip_prefix("SCAN ").and_then(|t| t.split(' ').next());
            assert!(
                !matches!(scanned, Some("s" | "p" | "r" | "h" | "alerts")),
                "a table is scanned: {plan:#?}"
            );
        }
        let plan = plan.join("\n");
        assert!(plan.contains("SEARCH s USING PRIMARY KEY"), "{plan}");
        assert!(
            plan.contains("SEARCH r USING INDEX recalls_by_gtin"),
            "{plan}"
        );
        assert!(plan.contains("SEARCH h USING PRIMARY KEY"), "{plan}");
    }
}
