//! The registry on PostgreSQL: reaching the server, a pool of connections to it, and saying
//! what went wrong there.

use std::sync::{Condvar, Mutex, PoisonError};

use custodian_ledger::sql::{AsDb, Db, PgConn};
use postgres::{Client, Config, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::HubError;

/// Connections to one PostgreSQL database, made as they are needed up to a bound and kept for
/// the next caller. A connection the server dropped (a restart) is not handed out again.
pub struct Pool {
    url: String,
    max: usize,
    state: Mutex<PoolState>,
    freed: Condvar,
}

#[derive(Default)]
struct PoolState {
    idle: Vec<PgConn>,
    open: usize,
}

impl Pool {
    /// A pool of at most `max` connections to `url` (checked by making the first one).
    pub fn new(url: &str, max: usize) -> Result<Pool, HubError> {
        let first = PgConn::to(connect(url)?, &redacted(url));
        Ok(Pool {
            url: url.to_string(),
            max: max.max(1),
            state: Mutex::new(PoolState {
                idle: vec![first],
                open: 1,
            }),
            freed: Condvar::new(),
        })
    }

    /// A connection outside the pool.
    pub fn connect(&self) -> Result<PgConn, HubError> {
        Ok(PgConn::to(connect(&self.url)?, &self.place()))
    }

    /// The database, as messages name it.
    pub fn place(&self) -> String {
        redacted(&self.url)
    }

    /// A connection, kept for this caller until the [`Pooled`] is dropped; waits while all
    /// `max` are in use.
    pub fn get(&self) -> Result<Pooled<'_>, HubError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(conn) = state.idle.pop() {
                if conn.is_closed() {
                    state.open -= 1;
                    continue;
                }
                return Ok(Pooled {
                    pool: self,
                    conn: Some(conn),
                });
            }
            if state.open < self.max {
                state.open += 1;
                drop(state);
                return match connect(&self.url) {
                    Ok(client) => Ok(Pooled {
                        pool: self,
                        conn: Some(PgConn::to(client, &self.place())),
                    }),
                    Err(e) => {
                        self.state
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .open -= 1;
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            state = self
                .freed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// A connection taken from a [`Pool`], given back when dropped.
pub struct Pooled<'a> {
    pool: &'a Pool,
    conn: Option<PgConn>,
}

impl Pooled<'_> {
    pub fn conn(&self) -> &PgConn {
        self.conn.as_ref().expect("held until dropped")
    }
}

impl AsDb for Pooled<'_> {
    fn db(&self) -> Db<'_> {
        Db::Postgres(self.conn())
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        let mut state = self
            .pool
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match self.conn.take() {
            // A transaction left open is rolled back by its own guard first.
            Some(conn) if !conn.is_closed() => state.idle.push(conn),
            _ => state.open -= 1,
        }
        drop(state);
        self.pool.freed.notify_one();
    }
}

/// Opens a connection to the PostgreSQL registry at `url` (`postgres://…` or
/// `postgresql://…`, or a libpq key=value string).
///
/// With `sslmode=require` the connection is TLS, and the server must prove itself: its
/// certificate must chain to the certificates in the PEM file `sslrootcert` names (the system's
/// trusted roots when none is named) and name the host connected to, as libpq's `verify-full`.
/// An encrypted connection to whoever answers would let anyone on the path read and rewrite
/// the registry. Otherwise (`disable`, or the default `prefer`) the hub speaks in the clear, to
/// a server on the same machine or a network the operator trusts.
pub fn connect(url: &str) -> Result<Client, HubError> {
    let (url, rootcert) = take_param(url, "sslrootcert");
    let config: Config = url
        .parse()
        .map_err(|e| HubError::BadRequest(format!("{}: {e}", redacted(&url))))?;
    let place = redacted(&url);
    let connected = if config.get_ssl_mode() == postgres::config::SslMode::Require {
        config.connect(tls(&place, rootcert.as_deref())?)
    } else if rootcert.is_some() {
        return Err(HubError::BadRequest(format!(
            "{place}: sslrootcert is named but the connection is not TLS: add sslmode=require"
        )));
    } else {
        config.connect(NoTls)
    };
    connected.map_err(|e| {
        // A server not accepting connections now (stopped, restarting) is unavailable, not
        // broken; one whose certificate is not trusted stays so until an operator acts.
        match failure(&place, &e) {
            HubError::Internal(text)
                if (e.as_db_error().is_none() && !certificate_refused(&e))
                    || e.code().is_some_and(|c| c.code() == "57P03") =>
            {
                HubError::Unavailable(text)
            }
            other => other,
        }
    })
}

/// Whether the connection failed because TLS refused the server (its certificate, or the
/// protocol it offered), not because the server could not be reached.
fn certificate_refused(e: &postgres::Error) -> bool {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .and_then(|io| io.get_ref())
        .is_some_and(|inner| inner.is::<rustls::Error>())
}

/// The TLS the hub connects to `place` with: trusting the certificates in the PEM file
/// `rootcert`, or the system's roots.
fn tls(place: &str, rootcert: Option<&str>) -> Result<MakeRustlsConnect, HubError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match rootcert {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| HubError::BadRequest(format!("{place}: sslrootcert {path}: {e}")))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(HubError::BadRequest(format!(
                    "{place}: sslrootcert {path} holds no certificate"
                )));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(HubError::BadRequest(format!(
                    "{place}: sslmode=require and no trusted root certificate on this system: name the server's CA with sslrootcert"
                )));
            }
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HubError::Internal(format!("{place}: TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// `url` without the parameter `name`, and that parameter's value: parameters the hub reads
/// itself, which the PostgreSQL client would refuse. In a URL it is a query parameter
/// (percent-decoded); in a key=value string, an unquoted `name=value` word.
fn take_param(url: &str, name: &str) -> (String, Option<String>) {
    let prefix = format!("{name}=");
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return (url.to_string(), None);
        };
        let mut value = None;
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| match pair.strip_prefix(&prefix) {
                Some(v) => {
                    value = Some(custodian_ledger::epcis::percent_decode(v));
                    false
                }
                None => true,
            })
            .collect();
        let url = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        (url, value)
    } else {
        let mut value = None;
        let kept: Vec<&str> = url
            .split_whitespace()
            .filter(|word| match word.strip_prefix(&prefix) {
                Some(v) => {
                    value = Some(v.to_string());
                    false
                }
                None => true,
            })
            .collect();
        (kept.join(" "), value)
    }
}

/// `url` without its password, to name a database in messages.
pub fn redacted(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((user, host)) => {
                let user = user.split(':').next().unwrap_or_default();
                format!("{scheme}://{user}@{host}")
            }
            None => url.to_string(),
        },
        None => "the PostgreSQL registry".to_string(),
    }
}

/// A PostgreSQL error as the operator needs it: where, what, and the server's own words (the
/// client's error says only "db error" without them).
pub fn failure(place: &str, e: &postgres::Error) -> HubError {
    let mut text = format!("{place}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    HubError::Internal(text)
}

/// The registry's tables a sync round or an issuance grows by thousands of rows, whose
/// statistics the planner's choices for the round's reads depend on, with the columns
/// sampled (an event's body is never planned on, and sampling it cost half a second a time).
const GROWING: &[(&str, &str)] = &[
    ("events", "(seq, id, time, step, local)"),
    ("event_epcs", ""),
    ("audience", ""),
    ("flag_units", ""),
    ("serials", "(gtin, serial)"),
    ("containment", ""),
    ("holds", ""),
];

/// Brings the planner's statistics up to date for each of the registry's [`GROWING`] tables
/// that changed by half its rows (and at least a thousand) since they were last taken; does
/// nothing on SQLite. Call it after a commit, outside a transaction.
///
/// The server's own autovacuum takes them too, but no more than once a minute: a device back
/// from a month offline, or an issuance of millions of serials, grows a table from thousands
/// of rows to hundreds of thousands within that minute, and every round's reads are planned
/// for the small table meanwhile (a flag storm of 150,000 receipts took 50 s instead of 24 s).
/// Taken as a table doubles, the statistics cost a few samples per doubling.
///
/// What was committed stands whatever becomes of this: a failure is said on standard error
/// and left to the server's autovacuum.
pub(crate) fn keep_statistics(conn: impl AsDb) {
    if let Err(e) = take_statistics(conn) {
        eprintln!("hub: statistics left for the server to take: {e}");
    }
}

fn take_statistics(conn: impl AsDb) -> Result<(), HubError> {
    let conn = conn.db();
    if !conn.is_postgres() {
        return Ok(());
    }
    // A server reports a connection's changes at most once a second; from PostgreSQL 15 on,
    // this connection's are reported before the look below (an older server's lag a round).
    if flushes_on_demand(conn)? {
        conn.query_row("SELECT pg_stat_force_next_flush()", [], |_| Ok(()))?;
    }
    let stale: Vec<String> = conn.query_map(
        "SELECT relname::text FROM pg_stat_user_tables
         WHERE schemaname = current_schema() AND relname::text = ANY (string_to_array(?1, ','))
           AND n_mod_since_analyze >= greatest(1000, n_live_tup / 2)",
        [GROWING
            .iter()
            .map(|(t, _)| *t)
            .collect::<Vec<_>>()
            .join(",")],
        |r| r.get(0),
    )?;
    for (table, columns) in GROWING.iter().filter(|(t, _)| stale.iter().any(|s| s == t)) {
        conn.execute_batch(&format!("ANALYZE {table} {columns}"))?;
    }
    Ok(())
}

/// Whether the server has `pg_stat_force_next_flush` (PostgreSQL 15 and later); asked once.
fn flushes_on_demand(conn: Db<'_>) -> Result<bool, HubError> {
    static KNOWN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if let Some(known) = KNOWN.get() {
        return Ok(*known);
    }
    let version: String = conn.query_row("SHOW server_version_num", [], |r| r.get(0))?;
    let flushes = version.trim().parse::<u32>().is_ok_and(|v| v >= 150_000);
    Ok(*KNOWN.get_or_init(|| flushes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_servers_authority_is_taken_out_of_the_url_for_the_hub_to_read() {
        assert_eq!(
            take_param(
                "postgres://hub@db:5432/reg?sslmode=require&sslrootcert=%2Fetc%2Fdb%20ca.pem&application_name=hub",
                "sslrootcert"
            ),
            (
                "postgres://hub@db:5432/reg?sslmode=require&application_name=hub".to_string(),
                Some("/etc/db ca.pem".to_string())
            )
        );
        assert_eq!(
            take_param("postgresql://db/reg?sslrootcert=/ca.pem", "sslrootcert"),
            (
                "postgresql://db/reg".to_string(),
                Some("/ca.pem".to_string())
            )
        );
        assert_eq!(
            take_param("postgres://db/reg?sslmode=require", "sslrootcert"),
            ("postgres://db/reg?sslmode=require".to_string(), None)
        );
        assert_eq!(
            take_param(
                "host=db dbname=reg sslmode=require sslrootcert=/ca.pem",
                "sslrootcert"
            ),
            (
                "host=db dbname=reg sslmode=require".to_string(),
                Some("/ca.pem".to_string())
            )
        );
    }

    #[test]
    fn a_url_is_named_without_its_password() {
        assert_eq!(
            redacted("postgres://hub:s3cret@db.example:5432/registry"),
            "postgres://hub@db.example:5432/registry"
        );
        assert_eq!(
            redacted("postgresql://db.example/registry"),
            "postgresql://db.example/registry"
        );
        assert_eq!(
            redacted("host=/run/postgresql password=x"),
            "the PostgreSQL registry"
        );
    }
}
