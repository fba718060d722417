//! The registry on PostgreSQL: reaching the server, a pool of connections to it, and saying
//! what went wrong there.

use std::sync::{Condvar, Mutex, PoisonError};

use custodian_ledger::sql::{AsDb, Db, PgConn};
use postgres::{Client, Config, NoTls};

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
        let first = PgConn::new(connect(url)?);
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
        Ok(PgConn::new(connect(&self.url)?))
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
                        conn: Some(PgConn::new(client)),
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
pub fn connect(url: &str) -> Result<Client, HubError> {
    let config: Config = url
        .parse()
        .map_err(|e| HubError::BadRequest(format!("{}: {e}", redacted(url))))?;
    if config.get_ssl_mode() == postgres::config::SslMode::Require {
        return Err(HubError::BadRequest(format!(
            "{}: sslmode=require: the hub reaches PostgreSQL over a local socket or a trusted network, without TLS",
            redacted(url)
        )));
    }
    config.connect(NoTls).map_err(|e| {
        // A server not accepting connections now (stopped, restarting) is unavailable, not
        // broken.
        match failure(&redacted(url), &e) {
            HubError::Internal(text)
                if e.as_db_error().is_none() || e.code().is_some_and(|c| c.code() == "57P03") =>
            {
                HubError::Unavailable(text)
            }
            other => other,
        }
    })
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

#[cfg(test)]
mod tests {
    use super::*;

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
