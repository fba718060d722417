//! Public verification: "is this unit genuine?" for anyone holding a code, by GS1 Digital Link
//! resolution, `GET /verify/…`, or a whole shipment manifest at once (`POST /verify/batch`). It
//! never reveals custody. Each client is rate limited, and every query counts toward the
//! serial's verification velocity: a genuine unit is verified a handful of times in its life, a
//! cloned code hundreds of times.
//!
//! Verifications are reads, and reads scale: a [`Verifier`] answers them on its own threads,
//! each with its own read connection (the registry is in WAL mode, so readers run beside the
//! writer and each other) and cached statements, off the async executor. The velocity count is
//! the one write a verification causes. It is not written per query: counts add up in memory
//! and a background thread writes them every [`VELOCITY_FLUSH`] in one transaction, raising the
//! velocity flag when a serial's total for the day first passes [`VELOCITY_THRESHOLD`]. The
//! counts live in their own file beside the registry (`velocity.sqlite`): in WAL mode any
//! commit to a database makes every other connection drop its page cache, and the readers'
//! caches of the registry are what keeps a lookup among millions of serials cheap.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::Utc;
use custodian_ledger::Epc;
use custodian_scanner::Gtin;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::HubError;
use crate::registry::Registry;

/// Verifications of one serial in a day (UTC) above which the hub raises a velocity flag.
pub const VELOCITY_THRESHOLD: i64 = 25;

/// How often counted verifications are written and the velocity check runs. A velocity flag
/// is raised at most this long after the verification that crossed the threshold, and a crash
/// loses at most this long of counts.
pub const VELOCITY_FLUSH: Duration = Duration::from_millis(250);

/// The most codes one `POST /verify/batch` may carry.
pub const MAX_BATCH_CODES: usize = 1_000;

/// Codes of a batch that cost one request of the client's rate limit.
pub const CODES_PER_TOKEN: usize = 50;

/// What the public learns about a code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// `genuine`, `unknown_serial` (never issued: counterfeit), `unknown_product`, `recalled`,
    /// `reported_counterfeit`, `quarantined` (genuine, but held by a partner: not to be sold
    /// until released; who holds it and why stay private).
    pub status: String,
    pub genuine: bool,
    pub gtin: String,
    pub serial: String,
    pub product: Option<String>,
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

/// The answer for one code of a batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BatchItem {
    /// The code as sent; absent when it was sent as a GTIN and serial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// As [`Verification::status`], or `unreadable` when the code names no serialised unit.
    pub status: String,
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

/// The velocity count: what is counted and not yet written, and where it is written.
#[derive(Debug)]
struct Velocity {
    /// Counted verifications not yet written, per day (UTC) and unit.
    pending: Mutex<HashMap<(String, Epc), u32>>,
    /// `velocity.sqlite`: the counts per unit and day.
    store: Mutex<Connection>,
    /// The day old counts were last deleted.
    pruned_on: Mutex<String>,
}

/// The file of velocity counts beside the registry's.
pub const VELOCITY_FILE: &str = "velocity.sqlite";

/// Opens the counts' file. Counts are not worth an fsync each: `synchronous=NORMAL` keeps the
/// file consistent, and a crash loses at most the last writes, as it loses what is in memory.
fn open_counts(path: &Path) -> Result<Connection, HubError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS verifications (
             epc TEXT NOT NULL, day TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (epc, day)
         ) WITHOUT ROWID;",
    )?;
    Ok(conn)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

type Job = Box<dyn FnOnce(&Connection) + Send>;

/// Answers verifications on reader threads and keeps the velocity count.
pub struct Verifier {
    registry: Arc<Registry>,
    jobs: Option<mpsc::Sender<Job>>,
    readers: Vec<JoinHandle<()>>,
    counts: Arc<Velocity>,
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
        let path = registry
            .conn()
            .path()
            .filter(|p| !p.is_empty())
            .map(std::path::PathBuf::from)
            .ok_or_else(|| HubError::Internal("verification needs a registry on disk".into()))?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let mut handles = Vec::with_capacity(readers.max(1));
        for n in 0..readers.max(1) {
            let conn = open_reader(&path)?;
            let queue = queue.clone();
            let handle = std::thread::Builder::new()
                .name(format!("hub-verify-{n}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = lock(&queue).recv();
                        let Ok(job) = job else {
                            return; // the verifier is gone
                        };
                        // A job that panics answers nothing (its caller sees a dropped reply);
                        // the thread goes on serving.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            job(&conn);
                        }));
                    }
                })
                .map_err(|e| HubError::Internal(format!("cannot start a verifier thread: {e}")))?;
            handles.push(handle);
        }
        let counts = Arc::new(Velocity {
            pending: Mutex::default(),
            store: Mutex::new(open_counts(&path.with_file_name(VELOCITY_FILE))?),
            pruned_on: Mutex::default(),
        });
        let (stop_flusher, stopped) = mpsc::channel::<()>();
        let flusher = {
            let registry = registry.clone();
            let counts = counts.clone();
            std::thread::Builder::new()
                .name("hub-velocity".into())
                .spawn(move || {
                    loop {
                        let last = !matches!(
                            stopped.recv_timeout(VELOCITY_FLUSH),
                            Err(RecvTimeoutError::Timeout)
                        );
                        if let Err(e) = flush_counts(&registry, &counts) {
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
            counts,
            stop_flusher: Some(stop_flusher),
            flusher: Some(flusher),
        })
    }

    /// Verifies `code` (anything a scanner reads) and counts the query.
    pub async fn verify(&self, code: &str) -> Result<Verification, HubError> {
        let (gtin, serial) = unit_of(code)?;
        let counts = self.counts.clone();
        self.on_reader(move |conn| check(conn, &counts, gtin, serial))
            .await
    }

    /// Verifies every code of a manifest on one reader, counting each query. Codes that name
    /// no serialised unit are answered `unreadable` with the reason.
    pub async fn verify_batch(&self, codes: Vec<BatchCode>) -> Result<BatchReport, HubError> {
        if codes.len() > MAX_BATCH_CODES {
            return Err(HubError::TooLarge(format!(
                "a batch holds at most {MAX_BATCH_CODES} codes; this one has {}: split it",
                codes.len()
            )));
        }
        let counts = self.counts.clone();
        self.on_reader(move |conn| {
            let mut results = Vec::with_capacity(codes.len());
            let mut summary = BTreeMap::new();
            for code in codes {
                let (sent, unit) = match code {
                    BatchCode::Text(text) => {
                        let unit = unit_of(&text);
                        (Some(text), unit)
                    }
                    BatchCode::Key { gtin, serial } => (None, unit_of_key(&gtin, &serial)),
                };
                let item = match unit {
                    Ok((gtin, serial)) => {
                        let v = check(conn, &counts, gtin, serial)?;
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
                        status: "unreadable".into(),
                        genuine: false,
                        gtin: None,
                        serial: None,
                        product: None,
                        lot: None,
                        message: e.to_string(),
                    },
                };
                *summary.entry(item.status.clone()).or_insert(0) += 1;
                results.push(item);
            }
            Ok(BatchReport { results, summary })
        })
        .await
    }

    /// Writes the counted verifications now and raises the velocity flags they call for
    /// (the background thread does this every [`VELOCITY_FLUSH`]). Returns the flags raised.
    pub fn flush(&self) -> Result<usize, HubError> {
        flush_counts(&self.registry, &self.counts)
    }

    async fn on_reader<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, HubError> + Send + 'static,
    ) -> Result<T, HubError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.jobs
            .as_ref()
            .ok_or_else(|| HubError::Internal("the verifier has stopped".into()))?
            .send(Box::new(move |conn: &Connection| {
                let _ = reply.send(f(conn));
            }))
            .map_err(|_| HubError::Internal("the verifier threads have stopped".into()))?;
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

/// The unit a code names, or why it names none.
fn unit_of(code: &str) -> Result<(Gtin, String), HubError> {
    let scan = custodian_scanner::parse(code).map_err(|e| HubError::BadRequest(e.to_string()))?;
    match scan.identity().as_ref().and_then(Epc::from_identity) {
        Some(Epc::Unit { gtin, serial }) => Ok((gtin, serial)),
        _ => Err(HubError::BadRequest(
            "verification needs a serialised unit (GTIN and serial)".into(),
        )),
    }
}

/// The unit a GTIN and serial name, checked as a scanned element string would be.
fn unit_of_key(gtin: &str, serial: &str) -> Result<(Gtin, String), HubError> {
    let gtin = Gtin::parse(gtin).map_err(|e| HubError::BadRequest(format!("gtin: {e}")))?;
    unit_of(&custodian_scanner::element_string(&[
        ("01", gtin.as_str()),
        ("21", serial),
    ]))
}

/// Everything verification reads, in one statement: the product, the issued serial and its lot,
/// an alert on the unit, a recall of its product or lot, and the hold it is under. Each is a
/// primary-key or index lookup (a test checks the plan).
pub(crate) const LOOKUP: &str = "SELECT p.name, s.serial IS NOT NULL, s.lot,
        (SELECT reason FROM alerts WHERE epc = ?3),
        (SELECT reason FROM recalls r WHERE r.gtin = ?1 AND (r.lot IS NULL OR r.lot = s.lot) LIMIT 1),
        (SELECT since FROM holds h WHERE h.epc = ?3)
     FROM (SELECT 1)
     LEFT JOIN products p ON p.gtin = ?1
     LEFT JOIN serials s ON s.gtin = ?1 AND s.serial = ?2";

/// Looks the unit up and judges it, counting the query if the serial was issued.
fn check(
    conn: &Connection,
    counts: &Velocity,
    gtin: Gtin,
    serial: String,
) -> Result<Verification, HubError> {
    let epc = Epc::Unit {
        gtin: gtin.clone(),
        serial: serial.clone(),
    };
    let (product, issued, lot, alert, recall, held) =
        conn.prepare_cached(LOOKUP)?
            .query_row(params![gtin.as_str(), serial, epc.uri()], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, Option<bool>>(1)?.unwrap_or(false),
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })?;
    let (status, genuine, message) = match (&product, issued, &alert, &recall) {
        (None, _, _, _) => (
            "unknown_product",
            false,
            format!("GTIN {gtin} is not a product of this registry"),
        ),
        (Some(_), false, _, _) => (
            "unknown_serial",
            false,
            format!("serial {serial} was never issued for GTIN {gtin}: counterfeit"),
        ),
        (Some(_), true, Some(reason), _) => (
            "reported_counterfeit",
            false,
            format!("this code is on the counterfeit alert list: {reason}"),
        ),
        (Some(_), true, None, Some(reason)) => {
            ("recalled", true, format!("genuine, but recalled: {reason}"))
        }
        (Some(p), true, None, None) => match &held {
            Some(since) => (
                "quarantined",
                true,
                format!(
                    "genuine {p}, but in quarantine since {}: not to be sold until it is released",
                    since.get(..10).unwrap_or(since)
                ),
            ),
            None => ("genuine", true, format!("genuine {p}")),
        },
    };
    if issued {
        let day = Utc::now().format("%Y-%m-%d").to_string();
        *lock(&counts.pending).entry((day, epc)).or_insert(0) += 1;
    }
    Ok(Verification {
        status: status.into(),
        genuine,
        gtin: gtin.to_string(),
        serial,
        product,
        lot,
        message,
    })
}

/// Writes the pending counts in one transaction. On failure they stay pending, so no query
/// goes uncounted.
fn flush_counts(registry: &Registry, velocity: &Velocity) -> Result<usize, HubError> {
    let pending = std::mem::take(&mut *lock(&velocity.pending));
    if pending.is_empty() {
        return Ok(0);
    }
    let mut store = lock(&velocity.store);
    let raised = write_counts(registry, &mut store, &pending).inspect_err(|_| {
        let mut counts = lock(&velocity.pending);
        for (key, n) in &pending {
            *counts.entry(key.clone()).or_insert(0) += n;
        }
    })?;
    // Only today's and yesterday's counts matter: once a day, older ones go.
    let today = Utc::now().format("%Y-%m-%d").to_string();
    let mut pruned = lock(&velocity.pruned_on);
    if *pruned != today {
        store.execute(
            "DELETE FROM verifications WHERE day < date(?1, '-1 day')",
            [&today],
        )?;
        *pruned = today;
    }
    Ok(raised)
}

/// Adds `pending` to the stored counts and raises the velocity flags of the units whose day
/// total passes the threshold with this write. The flags are committed before the counts: if
/// the counts then fail to commit, they are written again later and the crossing is seen
/// again, and a flag's id makes raising it twice a no-op.
fn write_counts(
    registry: &Registry,
    store: &mut Connection,
    pending: &HashMap<(String, Epc), u32>,
) -> Result<usize, HubError> {
    let tx = store.transaction()?;
    let mut crossed = Vec::new();
    {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO verifications (epc, day, count) VALUES (?1, ?2, ?3)
             ON CONFLICT(epc, day) DO UPDATE SET count = count + excluded.count
             RETURNING count",
        )?;
        for ((day, epc), &n) in pending {
            let total: i64 = upsert.query_row(params![epc.uri(), day, n], |r| r.get(0))?;
            if total > VELOCITY_THRESHOLD && total - i64::from(n) <= VELOCITY_THRESHOLD {
                crossed.push((day, epc));
            }
        }
    }
    let raised = if crossed.is_empty() {
        0
    } else {
        raise_velocity(registry, &crossed)?
    };
    tx.commit()?;
    Ok(raised)
}

/// Raises one velocity flag per unit and day, for the manufacturer.
fn raise_velocity(registry: &Registry, crossed: &[(&String, &Epc)]) -> Result<usize, HubError> {
    let mut conn = registry.conn();
    let tx = conn.transaction()?;
    let maker = tx
        .query_row(
            "SELECT id FROM orgs WHERE role = 'manufacturer' ORDER BY id LIMIT 1",
            [],
            |r| r.get::<_, String>(0),
        )
        .optional()?
        .unwrap_or_else(|| "manufacturer".into());
    let mut raised = 0;
    let mut flags = crate::reconcile::FlagDocs::new();
    for (day, epc) in crossed {
        let reason = format!(
            "{} was verified more than {VELOCITY_THRESHOLD} times on {day}: a genuine unit is not; its code may be cloned",
            epc.label()
        );
        let flag = crate::reconcile::raise_fact(
            &tx,
            &mut flags,
            "velocity",
            epc,
            &format!("{maker}/{day}"),
            &maker,
            reason,
            Utc::now(),
        )?;
        raised += usize::from(flag.is_some());
    }
    flags.write(&tx)?;
    tx.commit()?;
    Ok(raised)
}

/// A token bucket per client address.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
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

    /// Takes `cost` tokens for `client` at `now`, or none and `false`.
    pub fn allow_n(&self, client: IpAddr, cost: f64, now: Instant) -> bool {
        let RateLimit { per_second, burst } = self.limit;
        let mut buckets = lock(&self.buckets);
        if buckets.len() > 100_000 {
            // Forget idle clients rather than grow without bound.
            buckets.retain(|_, (tokens, at)| {
                *tokens < burst || now.duration_since(*at).as_secs() < 60
            });
        }
        let (tokens, at) = buckets.entry(client).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * per_second).min(burst);
        *at = now;
        if *tokens >= cost {
            *tokens -= cost;
            true
        } else {
            false
        }
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
    fn the_lookup_uses_keys_and_indexes_only() {
        let tmp = tempfile::tempdir().unwrap();
        let registry = Registry::open(tmp.path()).unwrap();
        let conn = registry.conn();
        let mut stmt = conn
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
