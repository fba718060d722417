//! One way to run the stores' SQL on either database: an embedded SQLite file (rusqlite, the
//! handheld's ledger and a single-machine hub) or a PostgreSQL server (the `postgres` feature,
//! a hub that outgrew one machine).
//!
//! Statements are written once, in the SQL both accept, with SQLite's numbered parameters
//! (`?1`). For PostgreSQL each is translated once per connection and prepared ([`postgres_sql`]):
//! parameters become `$1`, `INSERT OR IGNORE` becomes `INSERT … ON CONFLICT DO NOTHING`, and
//! `x IS ?1` becomes `x IS NOT DISTINCT FROM $1`. Whatever else differs is written as both
//! accept (`ON CONFLICT … DO UPDATE`, `RETURNING`, `COALESCE`), or asked of [`Db::is_postgres`].
//!
//! Values travel as [`Cell`]s, as SQLite types them: a 64-bit integer, a real, text or bytes.
//! PostgreSQL's stricter types meet them where a statement's parameter or column says: an
//! integer bound to a BOOLEAN or INTEGER parameter, a BOOLEAN or INTEGER column read as an
//! integer, as SQLite would.

use rusqlite::types::{ToSqlOutput, ValueRef};

/// What a statement failed with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[cfg(feature = "postgres")]
    #[error("{}", postgres_text(.0))]
    Postgres(#[from] postgres::Error),
    /// The server refused a statement: its words, and the statement.
    #[error("{error}, in: {sql}")]
    Refused { error: String, sql: String },
    /// A query that must return a row returned none.
    #[error("no row")]
    NoRow,
    /// A value could not be read as the type asked for.
    #[error("column {column}: {message}")]
    Conversion { column: usize, message: String },
}

impl SqlError {
    /// Whether the database could not be reached or was lost during the statement (a server
    /// stopped or restarting, a cut link) rather than refusing it: worth trying again later.
    pub fn is_unavailable(&self) -> bool {
        match self {
            #[cfg(feature = "postgres")]
            SqlError::Postgres(e) => match e.code() {
                // Connection exceptions, and a server shutting down or starting up.
                Some(code) => {
                    code.code().starts_with("08")
                        || ["57P01", "57P02", "57P03"].contains(&code.code())
                }
                // The client's own errors are about the connection: closed, I/O, connecting.
                None => e.as_db_error().is_none(),
            },
            _ => false,
        }
    }

    /// Whether the server refused a text value it cannot hold (PostgreSQL's text has no NUL
    /// character): the input was bad, not the store.
    pub fn is_invalid_text(&self) -> bool {
        match self {
            #[cfg(feature = "postgres")]
            SqlError::Postgres(e) => e
                .code()
                .is_some_and(|c| ["22021", "22P05"].contains(&c.code())),
            _ => false,
        }
    }

    /// Whether the statement broke a unique constraint (or a primary key).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            SqlError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            }
            #[cfg(feature = "postgres")]
            SqlError::Postgres(e) => e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
            _ => false,
        }
    }
}

/// A PostgreSQL error with the server's own words (the client's says only "db error").
#[cfg(feature = "postgres")]
fn postgres_text(e: &postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

pub type Result<T, E = SqlError> = std::result::Result<T, E>;

/// A value as both databases hold it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Bytes(&'a [u8]),
}

/// What may be bound to a statement's parameter.
pub trait ToCell {
    fn cell(&self) -> Cell<'_>;
}

macro_rules! int_cells {
    ($($t:ty),*) => {$(
        impl ToCell for $t {
            fn cell(&self) -> Cell<'_> {
                Cell::Int(i64::from(*self))
            }
        }
    )*};
}
int_cells!(i64, i32, u32, u16, u8, bool);

impl ToCell for usize {
    fn cell(&self) -> Cell<'_> {
        // No store holds more than i64::MAX of anything; saturate rather than wrap.
        Cell::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl ToCell for u64 {
    fn cell(&self) -> Cell<'_> {
        Cell::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl ToCell for f64 {
    fn cell(&self) -> Cell<'_> {
        Cell::Real(*self)
    }
}

impl ToCell for str {
    fn cell(&self) -> Cell<'_> {
        Cell::Text(self)
    }
}

impl ToCell for String {
    fn cell(&self) -> Cell<'_> {
        Cell::Text(self)
    }
}

impl ToCell for [u8] {
    fn cell(&self) -> Cell<'_> {
        Cell::Bytes(self)
    }
}

impl ToCell for Vec<u8> {
    fn cell(&self) -> Cell<'_> {
        Cell::Bytes(self)
    }
}

impl<const N: usize> ToCell for [u8; N] {
    fn cell(&self) -> Cell<'_> {
        Cell::Bytes(self)
    }
}

impl<T: ToCell + ?Sized> ToCell for &T {
    fn cell(&self) -> Cell<'_> {
        (**self).cell()
    }
}

impl<T: ToCell> ToCell for Option<T> {
    fn cell(&self) -> Cell<'_> {
        self.as_ref().map_or(Cell::Null, ToCell::cell)
    }
}

impl ToCell for Cell<'_> {
    fn cell(&self) -> Cell<'_> {
        *self
    }
}

/// A statement's parameters, `?1` first.
#[macro_export]
macro_rules! sql_params {
    () => { &[] as &[&dyn $crate::sql::ToCell] };
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::sql::ToCell),+] as &[&dyn $crate::sql::ToCell] };
}
pub use crate::sql_params as params;

impl rusqlite::ToSql for Cell<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            Cell::Null => ValueRef::Null,
            Cell::Int(v) => ValueRef::Integer(v),
            Cell::Real(v) => ValueRef::Real(v),
            Cell::Text(v) => ValueRef::Text(v.as_bytes()),
            Cell::Bytes(v) => ValueRef::Blob(v),
        }))
    }
}

/// What may be read from a column.
pub trait FromCell: Sized {
    fn from_cell(cell: Cell<'_>) -> Result<Self, String>;
}

fn kind(cell: Cell<'_>) -> &'static str {
    match cell {
        Cell::Null => "null",
        Cell::Int(_) => "an integer",
        Cell::Real(_) => "a real",
        Cell::Text(_) => "text",
        Cell::Bytes(_) => "bytes",
    }
}

impl FromCell for i64 {
    fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
        match cell {
            Cell::Int(v) => Ok(v),
            other => Err(format!("{} where an integer was expected", kind(other))),
        }
    }
}

macro_rules! narrow_cells {
    ($($t:ty),*) => {$(
        impl FromCell for $t {
            fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
                let v = i64::from_cell(cell)?;
                <$t>::try_from(v).map_err(|_| format!("{v} is out of range"))
            }
        }
    )*};
}
narrow_cells!(i32, u32, u64, usize, u16, u8);

impl FromCell for bool {
    fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
        Ok(i64::from_cell(cell)? != 0)
    }
}

impl FromCell for f64 {
    fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
        match cell {
            Cell::Real(v) => Ok(v),
            #[allow(
                clippy::cast_precision_loss,
                reason = "SQLite reads integers as reals alike"
            )]
            Cell::Int(v) => Ok(v as f64),
            other => Err(format!("{} where a number was expected", kind(other))),
        }
    }
}

impl FromCell for String {
    fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
        match cell {
            Cell::Text(v) => Ok(v.to_string()),
            other => Err(format!("{} where text was expected", kind(other))),
        }
    }
}

impl FromCell for Vec<u8> {
    fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
        match cell {
            Cell::Bytes(v) => Ok(v.to_vec()),
            other => Err(format!("{} where bytes were expected", kind(other))),
        }
    }
}

impl<T: FromCell> FromCell for Option<T> {
    fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
        match cell {
            Cell::Null => Ok(None),
            other => T::from_cell(other).map(Some),
        }
    }
}

/// What names a column of a row: its position, from 0.
pub trait ColumnIndex {
    fn index(self) -> usize;
}

impl ColumnIndex for usize {
    fn index(self) -> usize {
        self
    }
}

/// A query that must return a row, read as one that may not: no row is `None`.
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(SqlError::NoRow) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A row of a result.
pub struct Row<'r>(RowOf<'r>);

enum RowOf<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    #[cfg(feature = "postgres")]
    Postgres(&'r postgres::Row),
}

impl Row<'_> {
    /// Column `column` (from 0) as a `T`.
    pub fn get<I: ColumnIndex, T: FromCell>(&self, column: I) -> Result<T> {
        let column = column.index();
        let failed = |message: String| SqlError::Conversion { column, message };
        match &self.0 {
            RowOf::Sqlite(row) => {
                let cell = match row.get_ref(column)? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(v) => Cell::Int(v),
                    ValueRef::Real(v) => Cell::Real(v),
                    ValueRef::Text(v) => {
                        Cell::Text(std::str::from_utf8(v).map_err(|e| failed(e.to_string()))?)
                    }
                    ValueRef::Blob(v) => Cell::Bytes(v),
                };
                T::from_cell(cell).map_err(failed)
            }
            #[cfg(feature = "postgres")]
            RowOf::Postgres(row) => pg::get(row, column),
        }
    }
}

/// A connection to either database, as the stores' functions take it: copied freely.
#[derive(Clone, Copy)]
pub enum Db<'a> {
    Sqlite(&'a rusqlite::Connection),
    #[cfg(feature = "postgres")]
    Postgres(&'a PgConn),
}

/// What a store's functions take: a SQLite connection (or transaction, or the guard of one), a
/// PostgreSQL connection, or a [`Db`] already made; `&` of any of them too.
pub trait AsDb {
    fn db(&self) -> Db<'_>;
}

impl AsDb for Db<'_> {
    fn db(&self) -> Db<'_> {
        *self
    }
}

impl AsDb for rusqlite::Connection {
    fn db(&self) -> Db<'_> {
        Db::Sqlite(self)
    }
}

impl AsDb for rusqlite::Transaction<'_> {
    fn db(&self) -> Db<'_> {
        Db::Sqlite(self)
    }
}

impl AsDb for std::sync::MutexGuard<'_, rusqlite::Connection> {
    fn db(&self) -> Db<'_> {
        Db::Sqlite(self)
    }
}

#[cfg(feature = "postgres")]
impl AsDb for PgConn {
    fn db(&self) -> Db<'_> {
        Db::Postgres(self)
    }
}

impl<T: AsDb + ?Sized> AsDb for &T {
    fn db(&self) -> Db<'_> {
        (**self).db()
    }
}

impl<'a> From<&'a rusqlite::Connection> for Db<'a> {
    fn from(conn: &'a rusqlite::Connection) -> Db<'a> {
        Db::Sqlite(conn)
    }
}

#[cfg(feature = "postgres")]
impl<'a> From<&'a PgConn> for Db<'a> {
    fn from(conn: &'a PgConn) -> Db<'a> {
        Db::Postgres(conn)
    }
}

/// A statement's parameters: [`params!`]'s list, or an array of values of one type (`[id]`,
/// `[gtin, serial]`), or `[]` for none.
pub trait Params {
    fn cells(&self) -> Vec<Cell<'_>>;
}

impl Params for &[&dyn ToCell] {
    fn cells(&self) -> Vec<Cell<'_>> {
        self.iter().map(|p| p.cell()).collect()
    }
}

impl Params for [&dyn ToCell; 0] {
    fn cells(&self) -> Vec<Cell<'_>> {
        Vec::new()
    }
}

macro_rules! array_params {
    ($($n:literal),*) => {$(
        impl<T: ToCell> Params for [T; $n] {
            fn cells(&self) -> Vec<Cell<'_>> {
                self.iter().map(ToCell::cell).collect()
            }
        }
    )*};
}
array_params!(1, 2, 3, 4, 5, 6, 7, 8);

fn cells<P: Params>(params: &P) -> Vec<Cell<'_>> {
    params.cells()
}

impl<'a> Db<'a> {
    /// Whether this is a PostgreSQL server (for the few statements written twice).
    pub fn is_postgres(self) -> bool {
        !matches!(self, Db::Sqlite(_))
    }

    /// Runs a statement; returns the rows it changed.
    pub fn execute(self, sql: &str, params: impl Params) -> Result<usize> {
        match self {
            Db::Sqlite(conn) => Ok(conn
                .prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(cells(&params)))?),
            #[cfg(feature = "postgres")]
            Db::Postgres(conn) => conn.execute(sql, &params),
        }
    }

    /// Runs statements separated by semicolons, without parameters.
    pub fn execute_batch(self, sql: &str) -> Result<()> {
        match self {
            Db::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            #[cfg(feature = "postgres")]
            Db::Postgres(conn) => conn.execute_batch(sql),
        }
    }

    /// Each row of a query, as `f` makes it.
    pub fn query_map<T>(
        self,
        sql: &str,
        params: impl Params,
        mut f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        self.query_each(sql, params, |row| {
            out.push(f(row)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Hands each row of a query to `f`, in turn (read as they come from SQLite).
    pub fn query_each(
        self,
        sql: &str,
        params: impl Params,
        mut f: impl FnMut(&Row<'_>) -> Result<()>,
    ) -> Result<()> {
        match self {
            Db::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(cells(&params)))?;
                while let Some(row) = rows.next()? {
                    f(&Row(RowOf::Sqlite(row)))?;
                }
                Ok(())
            }
            #[cfg(feature = "postgres")]
            Db::Postgres(conn) => {
                for row in conn.query(sql, &params)? {
                    f(&Row(RowOf::Postgres(&row)))?;
                }
                Ok(())
            }
        }
    }

    /// The first row of a query that `f` makes something of, reading no further (on SQLite).
    /// `f` may fail with the caller's own error.
    pub fn query_first<T, E: From<SqlError>>(
        self,
        sql: &str,
        params: impl Params,
        mut f: impl FnMut(&Row<'_>) -> Result<Option<T>, E>,
    ) -> Result<Option<T>, E> {
        match self {
            Db::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql).map_err(SqlError::from)?;
                let mut rows = stmt
                    .query(rusqlite::params_from_iter(cells(&params)))
                    .map_err(SqlError::from)?;
                while let Some(row) = rows.next().map_err(SqlError::from)? {
                    if let Some(found) = f(&Row(RowOf::Sqlite(row)))? {
                        return Ok(Some(found));
                    }
                }
                Ok(None)
            }
            #[cfg(feature = "postgres")]
            Db::Postgres(conn) => {
                for row in conn.query(sql, &params).map_err(E::from)? {
                    if let Some(found) = f(&Row(RowOf::Postgres(&row)))? {
                        return Ok(Some(found));
                    }
                }
                Ok(None)
            }
        }
    }

    /// A table of the elements of the JSON array bound to `param` (`?1`), for a FROM clause:
    /// each element's position from 0 as `key` and its text as `value` (SQLite's `json_each`).
    /// A list bound as one parameter is one statement however long it is.
    pub fn json_each(self, param: &str) -> String {
        if self.is_postgres() {
            format!(
                "(SELECT value, ordinality - 1 AS key FROM json_array_elements_text({param}::json) WITH ORDINALITY)"
            )
        } else {
            format!("json_each({param})")
        }
    }

    /// The SQLite file's path (none for a database in memory or on a server).
    pub fn file(self) -> Option<&'a str> {
        match self {
            Db::Sqlite(conn) => conn.path().filter(|p| !p.is_empty()),
            #[cfg(feature = "postgres")]
            Db::Postgres(_) => None,
        }
    }

    /// Names the database, to key what is kept of it in memory: the SQLite file's path, or a
    /// PostgreSQL database's place when the connection was made knowing it ([`PgConn::to`]).
    /// None for a database in memory.
    pub fn place(self) -> Option<&'a str> {
        match self {
            Db::Sqlite(_) => self.file(),
            #[cfg(feature = "postgres")]
            Db::Postgres(conn) => conn.place(),
        }
    }

    /// The first row of a query, if there is one.
    pub fn query_opt<T>(
        self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        match self {
            Db::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(cells(&params)))?;
                match rows.next()? {
                    Some(row) => f(&Row(RowOf::Sqlite(row))).map(Some),
                    None => Ok(None),
                }
            }
            #[cfg(feature = "postgres")]
            Db::Postgres(conn) => match conn.query(sql, &params)?.first() {
                Some(row) => f(&Row(RowOf::Postgres(row))).map(Some),
                None => Ok(None),
            },
        }
    }

    /// The first row of a query, which must return one.
    pub fn query_row<T>(
        self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        self.query_opt(sql, params, f)?.ok_or(SqlError::NoRow)
    }
}

/// An insert whose rows may be held and written together ([`Db::insert_later`]).
pub struct Batched {
    /// The insert of one row, as [`Db::execute`] takes it: `INSERT [OR IGNORE] INTO t (…)
    /// VALUES (?1, …)`, perhaps with an `ON CONFLICT` clause after.
    pub sql: &'static str,
    /// Each parameter's PostgreSQL type, in order: `text`, `int8`, `float8` or `bytea`.
    pub types: &'static [&'static str],
}

impl Db<'_> {
    /// Inserts one row of `insert`. SQLite inserts it at once. A PostgreSQL connection inside a
    /// [`Transaction`] holds it, and writes each insert's held rows in one statement before it
    /// runs any other statement or commits (and drops them with a rollback): what a transaction
    /// reads, it reads after its own writes, and a round of a thousand events costs a few
    /// statements rather than thousands of trips to the server. An error in a held row is
    /// reported by the statement that wrote it, and the transaction fails with it.
    pub fn insert_later(self, insert: &'static Batched, params: impl Params) -> Result<()> {
        match self {
            Db::Sqlite(_) => self.execute(insert.sql, params).map(drop),
            #[cfg(feature = "postgres")]
            Db::Postgres(conn) => conn.insert_later(insert, &params),
        }
    }
}

/// The advisory lock a PostgreSQL store's writing transactions take in turn.
pub const WRITER_LOCK: i64 = 0x0063_7573_746f_6402;

/// A transaction: rolled back when dropped uncommitted. On SQLite it takes the write lock at
/// once (`BEGIN IMMEDIATE`, see `store::open`).
pub struct Transaction<'a> {
    db: Db<'a>,
    open: bool,
}

impl<'a> Db<'a> {
    /// Begins a transaction that writes. On PostgreSQL it takes the store's writer lock (an
    /// advisory lock held until it ends), as SQLite's `BEGIN IMMEDIATE` does: writers take
    /// turns, whichever process they run in, and read what the one before committed.
    pub fn transaction(self) -> Result<Transaction<'a>> {
        if self.is_postgres() {
            self.execute_batch(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock({WRITER_LOCK})"
            ))?;
            #[cfg(feature = "postgres")]
            if let Db::Postgres(conn) = self {
                conn.hold_inserts(true);
            }
        } else {
            self.execute_batch("BEGIN IMMEDIATE")?;
        }
        Ok(Transaction {
            db: self,
            open: true,
        })
    }
}

impl Transaction<'_> {
    /// Commits. A commit that fails (a held row refused, a busy database) leaves the
    /// transaction to be rolled back when it is dropped.
    pub fn commit(mut self) -> Result<()> {
        // Held rows are written first (every statement writes them before it runs).
        self.db.execute_batch("COMMIT")?;
        self.open = false;
        self.db.stop_holding();
        Ok(())
    }
}

impl<'a> std::ops::Deref for Transaction<'a> {
    type Target = Db<'a>;

    fn deref(&self) -> &Db<'a> {
        &self.db
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open {
            self.db.stop_holding();
            // A transaction the connection lost is gone with it.
            let _ = self.db.execute_batch("ROLLBACK");
        }
    }
}

impl Db<'_> {
    /// Inserts are no longer held; those held are dropped (written already after a commit).
    fn stop_holding(self) {
        #[cfg(feature = "postgres")]
        if let Db::Postgres(conn) = self {
            conn.hold_inserts(false);
        }
    }
}

impl AsDb for Transaction<'_> {
    fn db(&self) -> Db<'_> {
        self.db
    }
}

/// A statement to run, perhaps many times, on one connection (each database keeps it prepared).
pub struct Statement<'a> {
    db: Db<'a>,
    sql: String,
}

impl<'a> Db<'a> {
    /// `sql`, to run with parameters ([`Statement`]).
    pub fn prepare_cached(self, sql: &str) -> Result<Statement<'a>> {
        Ok(Statement {
            db: self,
            sql: sql.to_string(),
        })
    }

    /// As [`Db::prepare_cached`].
    pub fn prepare(self, sql: &str) -> Result<Statement<'a>> {
        self.prepare_cached(sql)
    }
}

impl Statement<'_> {
    pub fn execute(&mut self, params: impl Params) -> Result<usize> {
        self.db.execute(&self.sql, params)
    }

    pub fn query_row<T>(
        &mut self,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        self.db.query_row(&self.sql, params, f)
    }

    /// Each row as `f` makes it, read whole first.
    pub fn query_map<T>(
        &mut self,
        params: impl Params,
        f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<std::vec::IntoIter<Result<T>>> {
        Ok(self
            .db
            .query_map(&self.sql, params, f)?
            .into_iter()
            .map(Ok)
            .collect::<Vec<_>>()
            .into_iter())
    }

    /// Whether the query returns a row.
    pub fn exists(&mut self, params: impl Params) -> Result<bool> {
        Ok(self.db.query_opt(&self.sql, params, |_| Ok(()))?.is_some())
    }
}

/// A statement in PostgreSQL's words: `?N` parameters as `$N` (a bare `?` as the next number),
/// `INSERT OR IGNORE` as `INSERT … ON CONFLICT DO NOTHING`, `IS ?N` as `IS NOT DISTINCT FROM
/// $N` (and `IS NOT ?N` as `IS DISTINCT FROM $N`), `BEGIN IMMEDIATE` as `BEGIN`, `CROSS JOIN`
/// (always with `ON` in the stores' SQL) as `JOIN`. Text in quotes
/// and comments is left as it is.
pub fn postgres_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 32);
    let bytes = sql.as_bytes();
    let mut next_param = 1;
    let mut ignore = false;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\'' | b'"' => {
                let end = sql[i + 1..]
                    .find(c as char)
                    .map_or(sql.len(), |e| i + 2 + e);
                out.push_str(&sql[i..end]);
                i = end;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                let end = sql[i..].find('\n').map_or(sql.len(), |e| i + e);
                out.push_str(&sql[i..end]);
                i = end;
            }
            b'?' => {
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                if digits == 0 {
                    out.push_str(&format!("${next_param}"));
                    next_param += 1;
                } else {
                    out.push('$');
                    out.push_str(&sql[i + 1..i + 1 + digits]);
                }
                i += 1 + digits;
            }
            b'C' | b'c' if word_at(sql, i, "CROSS JOIN").is_some() => {
                // SQLite's order of joins, held by `CROSS JOIN … ON`; PostgreSQL takes no ON
                // after CROSS JOIN and plans the order itself.
                out.push_str("JOIN");
                i += word_at(sql, i, "CROSS JOIN").unwrap_or(1);
            }
            b'I' | b'i' | b'B' | b'b' => {
                // The `?` of `IS ?` is left to be numbered.
                if let Some(len) = word_at(sql, i, "INSERT OR IGNORE") {
                    out.push_str("INSERT");
                    ignore = true;
                    i += len;
                } else if let Some(len) = word_at(sql, i, "BEGIN IMMEDIATE") {
                    out.push_str("BEGIN");
                    i += len;
                } else if let Some(len) = word_at(sql, i, "IS NOT ?") {
                    out.push_str("IS DISTINCT FROM ");
                    i += len - 1;
                } else if let Some(len) = word_at(sql, i, "IS ?") {
                    out.push_str("IS NOT DISTINCT FROM ");
                    i += len - 1;
                } else {
                    out.push(c as char);
                    i += 1;
                }
            }
            _ => {
                let len = sql[i..].chars().next().map_or(1, char::len_utf8);
                out.push_str(&sql[i..i + len]);
                i += len;
            }
        }
    }
    if ignore {
        let body = out.trim_end().trim_end_matches(';').trim_end().to_string();
        out = match find_word(&body, "RETURNING") {
            Some(at) => format!(
                "{} ON CONFLICT DO NOTHING {}",
                body[..at].trim_end(),
                &body[at..]
            ),
            None => format!("{body} ON CONFLICT DO NOTHING"),
        };
    }
    out
}

/// The length of `word` at byte `at` of `sql`, if it starts there on a word boundary (any
/// case; each space in `word` stands for any run of whitespace).
fn word_at(sql: &str, at: usize, word: &str) -> Option<usize> {
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = sql.as_bytes();
    if at > 0 && is_word(bytes[at - 1]) {
        return None;
    }
    let mut i = at;
    for (n, part) in word.split(' ').enumerate() {
        if n > 0 {
            let spaces = bytes[i..]
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
            if spaces == 0 {
                return None;
            }
            i += spaces;
        }
        let end = i + part.len();
        if !bytes.get(i..end)?.eq_ignore_ascii_case(part.as_bytes()) {
            return None;
        }
        i = end;
    }
    let last = *word.as_bytes().last()?;
    if is_word(last) && bytes.get(i).is_some_and(|b| is_word(*b)) {
        return None;
    }
    Some(i - at)
}

/// The byte where `word` starts in `sql` outside quotes, if it does.
fn find_word(sql: &str, word: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in sql.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, _) if word_at(sql, i, word).is_some() => return Some(i),
            _ => {}
        }
    }
    None
}

#[cfg(feature = "postgres")]
pub use pg::PgConn;

#[cfg(feature = "postgres")]
mod pg {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::*;
    use bytes::BytesMut;
    use postgres::types::{IsNull, ToSql, Type, to_sql_checked};

    /// A connection to a PostgreSQL server, with each statement translated and prepared once.
    ///
    /// The client blocks on a runtime of its own: it is used on threads that may block (never
    /// an async task's), and one dropped on an async runtime's thread is closed on a thread of
    /// its own.
    pub struct PgConn {
        /// Boxed: the connection is moved about and held in enums beside small ones.
        inner: Box<Inner>,
    }

    struct Inner {
        /// Present until dropped.
        client: RefCell<Option<postgres::Client>>,
        /// The database, for what is kept of it in memory ([`Db::place`]).
        place: Option<String>,
        prepared: RefCell<HashMap<String, postgres::Statement>>,
        /// Whether inserts are held ([`Db::insert_later`]): inside a transaction.
        holding: std::cell::Cell<bool>,
        /// The rows held, by insert, in the order each insert was first held (a row that
        /// refers to another's is held after it, so the inserts are written in that order).
        held: RefCell<Vec<Held>>,
    }

    struct Held {
        insert: &'static Batched,
        rows: Vec<Vec<Owned>>,
    }

    /// A held row's value.
    enum Owned {
        Null,
        Int(i64),
        Real(f64),
        Text(String),
        Bytes(Vec<u8>),
    }

    impl From<Cell<'_>> for Owned {
        fn from(cell: Cell<'_>) -> Owned {
            match cell {
                Cell::Null => Owned::Null,
                Cell::Int(v) => Owned::Int(v),
                Cell::Real(v) => Owned::Real(v),
                Cell::Text(v) => Owned::Text(v.to_string()),
                Cell::Bytes(v) => Owned::Bytes(v.to_vec()),
            }
        }
    }

    /// The most rows of one insert written by one statement.
    const HELD_ROWS: usize = 5_000;

    /// `insert` as one statement for many rows: each column bound as an array and unnested.
    fn unnested(insert: &Batched) -> Result<String> {
        let bad = || SqlError::Refused {
            error: "not an INSERT … VALUES (…) of one row".into(),
            sql: insert.sql.to_string(),
        };
        let values = find_word(insert.sql, "VALUES").ok_or_else(bad)?;
        let close = insert.sql[values..].find(')').ok_or_else(bad)? + values;
        let columns: Vec<String> = insert
            .types
            .iter()
            .enumerate()
            .map(|(i, ty)| format!("${}::{ty}[]", i + 1))
            .collect();
        Ok(postgres_sql(&format!(
            "{}SELECT * FROM unnest({}){}",
            &insert.sql[..values],
            columns.join(", "),
            &insert.sql[close + 1..]
        )))
    }

    /// Column `column` of `rows` as an array of `ty`.
    fn column(
        rows: &[Vec<Owned>],
        column: usize,
        ty: &str,
    ) -> Result<Box<dyn ToSql + Sync>, String> {
        fn each<T>(
            rows: &[Vec<Owned>],
            column: usize,
            f: impl Fn(&Owned) -> Option<Option<T>>,
        ) -> Result<Vec<Option<T>>, String> {
            rows.iter()
                .map(|row| {
                    let value = row.get(column).ok_or("a row short of parameters")?;
                    f(value).ok_or_else(|| format!("parameter {} is of another type", column + 1))
                })
                .collect()
        }
        Ok(match ty {
            "text" => Box::new(each(rows, column, |v| match v {
                Owned::Null => Some(None),
                Owned::Text(t) => Some(Some(t.clone())),
                Owned::Int(i) => Some(Some(i.to_string())),
                _ => None,
            })?),
            "int8" => Box::new(each(rows, column, |v| match v {
                Owned::Null => Some(None),
                Owned::Int(i) => Some(Some(*i)),
                _ => None,
            })?),
            "float8" => Box::new(each(rows, column, |v| match v {
                Owned::Null => Some(None),
                Owned::Real(r) => Some(Some(*r)),
                #[allow(clippy::cast_precision_loss, reason = "as SQLite compares them")]
                Owned::Int(i) => Some(Some(*i as f64)),
                _ => None,
            })?),
            "bytea" => Box::new(each(rows, column, |v| match v {
                Owned::Null => Some(None),
                Owned::Bytes(b) => Some(Some(b.clone())),
                _ => None,
            })?),
            other => return Err(format!("no arrays of {other}")),
        })
    }

    impl PgConn {
        pub fn new(client: postgres::Client) -> PgConn {
            PgConn::of(client, None)
        }

        /// A connection to the database `place` names (its URL without credentials): what is
        /// kept in memory of one database is kept apart from another's.
        pub fn to(client: postgres::Client, place: &str) -> PgConn {
            PgConn::of(client, Some(place.to_string()))
        }

        fn of(client: postgres::Client, place: Option<String>) -> PgConn {
            PgConn {
                inner: Box::new(Inner {
                    place,
                    client: RefCell::new(Some(client)),
                    prepared: RefCell::new(HashMap::new()),
                    holding: std::cell::Cell::new(false),
                    held: RefCell::new(Vec::new()),
                }),
            }
        }

        /// The database, when the connection was made knowing it.
        pub(super) fn place(&self) -> Option<&str> {
            self.inner.place.as_deref()
        }

        /// Holds inserts from now on, or no longer (dropping those held).
        pub(super) fn hold_inserts(&self, holding: bool) {
            self.inner.holding.set(holding);
            self.inner.held.borrow_mut().clear();
        }

        pub(super) fn insert_later(
            &self,
            insert: &'static Batched,
            params: &impl Params,
        ) -> Result<()> {
            let row: Vec<Owned> = cells(params).into_iter().map(Owned::from).collect();
            {
                let mut held = self.inner.held.borrow_mut();
                match held.iter_mut().find(|h| std::ptr::eq(h.insert, insert)) {
                    Some(h) => h.rows.push(row),
                    None => held.push(Held {
                        insert,
                        rows: vec![row],
                    }),
                }
            }
            let full = self
                .inner
                .held
                .borrow()
                .iter()
                .any(|h| h.rows.len() >= HELD_ROWS);
            if !self.inner.holding.get() || full {
                self.write_held()?;
            }
            Ok(())
        }

        /// Writes the rows held, each insert's in one statement per [`HELD_ROWS`].
        ///
        /// Each insert keeps its place after its rows are written, so that inserts are always
        /// written in the order each was first held in the transaction.
        fn write_held(&self) -> Result<()> {
            let held: Vec<(&'static Batched, Vec<Vec<Owned>>)> = self
                .inner
                .held
                .borrow_mut()
                .iter_mut()
                .filter(|h| !h.rows.is_empty())
                .map(|h| (h.insert, std::mem::take(&mut h.rows)))
                .collect();
            for (insert, rows) in held {
                let key = format!("unnest: {}", insert.sql);
                let cached = self.inner.prepared.borrow().get(&key).cloned();
                let stmt = match cached {
                    Some(stmt) => stmt,
                    None => {
                        let sql = unnested(insert)?;
                        let stmt = self.client().prepare(&sql).map_err(|e| SqlError::Refused {
                            error: postgres_text(&e),
                            sql: sql.clone(),
                        })?;
                        self.inner.prepared.borrow_mut().insert(key, stmt.clone());
                        stmt
                    }
                };
                for chunk in rows.chunks(HELD_ROWS) {
                    let columns = (0..insert.types.len())
                        .map(|i| column(chunk, i, insert.types[i]))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|error| SqlError::Refused {
                            error,
                            sql: insert.sql.to_string(),
                        })?;
                    let refs: Vec<&(dyn ToSql + Sync)> = columns
                        .iter()
                        .map(|c| c.as_ref() as &(dyn ToSql + Sync))
                        .collect();
                    self.client()
                        .execute(&stmt, &refs)
                        .map_err(|e| SqlError::Refused {
                            error: postgres_text(&e),
                            sql: insert.sql.to_string(),
                        })?;
                }
            }
            Ok(())
        }

        /// The client itself, for what the stores' SQL does not cover (binary `COPY`). Rows
        /// held by [`Db::insert_later`] are not written first: use it outside transactions that
        /// hold any.
        pub fn client(&self) -> std::cell::RefMut<'_, postgres::Client> {
            std::cell::RefMut::map(self.inner.client.borrow_mut(), |c| {
                c.as_mut().expect("present until dropped")
            })
        }

        /// Whether the connection to the server is lost.
        pub fn is_closed(&self) -> bool {
            self.inner
                .client
                .borrow()
                .as_ref()
                .is_none_or(postgres::Client::is_closed)
        }

        fn statement(&self, sql: &str) -> Result<postgres::Statement> {
            if let Some(stmt) = self.inner.prepared.borrow().get(sql) {
                return Ok(stmt.clone());
            }
            let stmt =
                self.client()
                    .prepare(&postgres_sql(sql))
                    .map_err(|e| SqlError::Refused {
                        error: postgres_text(&e),
                        sql: sql.split_whitespace().collect::<Vec<_>>().join(" "),
                    })?;
            self.inner
                .prepared
                .borrow_mut()
                .insert(sql.to_string(), stmt.clone());
            Ok(stmt)
        }

        pub(super) fn execute(&self, sql: &str, params: &impl Params) -> Result<usize> {
            self.write_held()?;
            let stmt = self.statement(sql)?;
            let values = cells(params);
            let refs: Vec<&(dyn ToSql + Sync)> =
                values.iter().map(|c| c as &(dyn ToSql + Sync)).collect();
            let changed = self.client().execute(&stmt, &refs)?;
            Ok(usize::try_from(changed).unwrap_or(usize::MAX))
        }

        pub(super) fn execute_batch(&self, sql: &str) -> Result<()> {
            self.write_held()?;
            Ok(self.client().batch_execute(&postgres_sql(sql))?)
        }

        pub(super) fn query(&self, sql: &str, params: &impl Params) -> Result<Vec<postgres::Row>> {
            self.write_held()?;
            let stmt = self.statement(sql)?;
            let values = cells(params);
            let refs: Vec<&(dyn ToSql + Sync)> =
                values.iter().map(|c| c as &(dyn ToSql + Sync)).collect();
            Ok(self.client().query(&stmt, &refs)?)
        }
    }

    impl Drop for PgConn {
        fn drop(&mut self) {
            if tokio::runtime::Handle::try_current().is_ok()
                && let Some(client) = self.inner.client.get_mut().take()
            {
                let _ = std::thread::Builder::new()
                    .name("postgres-close".into())
                    .spawn(move || drop(client));
            }
        }
    }

    /// `Cell` is `Sync` (it holds shared references and numbers), as the client's parameters
    /// must be.
    impl ToSql for Cell<'_> {
        fn to_sql(
            &self,
            ty: &Type,
            out: &mut BytesMut,
        ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
            match (*self, ty) {
                (Cell::Null, _) => Ok(IsNull::Yes),
                (Cell::Int(v), &Type::INT8) => v.to_sql(ty, out),
                (Cell::Int(v), &Type::INT4) => i32::try_from(v)?.to_sql(ty, out),
                (Cell::Int(v), &Type::INT2) => i16::try_from(v)?.to_sql(ty, out),
                (Cell::Int(v), &Type::BOOL) => (v != 0).to_sql(ty, out),
                #[allow(clippy::cast_precision_loss, reason = "as SQLite compares them")]
                (Cell::Int(v), &Type::FLOAT8) => (v as f64).to_sql(ty, out),
                (Cell::Int(v), &Type::TEXT | &Type::VARCHAR) => v.to_string().to_sql(ty, out),
                (Cell::Real(v), &Type::FLOAT8) => v.to_sql(ty, out),
                (Cell::Text(v), &Type::JSONB) => {
                    out.extend_from_slice(&[1]);
                    out.extend_from_slice(v.as_bytes());
                    Ok(IsNull::No)
                }
                (Cell::Text(v), &Type::JSON) => {
                    out.extend_from_slice(v.as_bytes());
                    Ok(IsNull::No)
                }
                (Cell::Text(v), _) => v.to_sql(ty, out),
                (Cell::Bytes(v), _) => v.to_sql(ty, out),
                (cell, ty) => {
                    Err(format!("{} cannot be bound to a {ty} parameter", kind(cell)).into())
                }
            }
        }

        fn accepts(_: &Type) -> bool {
            true
        }

        to_sql_checked!();
    }

    /// Column `column` of a PostgreSQL row, read by its type as SQLite would hold it.
    pub(super) fn get<T: FromCell>(row: &postgres::Row, column: usize) -> Result<T> {
        let failed = |message: String| SqlError::Conversion { column, message };
        let ty = row
            .columns()
            .get(column)
            .ok_or_else(|| failed("no such column".into()))?
            .type_()
            .clone();
        let cell = match ty {
            Type::INT8 => row
                .try_get::<_, Option<i64>>(column)?
                .map_or(Cell::Null, Cell::Int),
            Type::INT4 => row
                .try_get::<_, Option<i32>>(column)?
                .map_or(Cell::Null, |v| Cell::Int(v.into())),
            Type::INT2 => row
                .try_get::<_, Option<i16>>(column)?
                .map_or(Cell::Null, |v| Cell::Int(v.into())),
            Type::BOOL => row
                .try_get::<_, Option<bool>>(column)?
                .map_or(Cell::Null, |v| Cell::Int(v.into())),
            Type::FLOAT8 => row
                .try_get::<_, Option<f64>>(column)?
                .map_or(Cell::Null, Cell::Real),
            Type::FLOAT4 => row
                .try_get::<_, Option<f32>>(column)?
                .map_or(Cell::Null, |v| Cell::Real(v.into())),
            Type::BYTEA => {
                return T::from_cell(
                    row.try_get::<_, Option<&[u8]>>(column)?
                        .map_or(Cell::Null, Cell::Bytes),
                )
                .map_err(failed);
            }
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                return T::from_cell(
                    row.try_get::<_, Option<&str>>(column)?
                        .map_or(Cell::Null, Cell::Text),
                )
                .map_err(failed);
            }
            other => {
                return Err(failed(format!(
                    "a {other} column (cast it to BIGINT, TEXT or BYTEA)"
                )));
            }
        };
        T::from_cell(cell).map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_put_in_postgresql_words() {
        assert_eq!(
            postgres_sql("SELECT a FROM t WHERE b = ?1 AND c = ?12"),
            "SELECT a FROM t WHERE b = $1 AND c = $12"
        );
        assert_eq!(postgres_sql("VALUES (?, ?)"), "VALUES ($1, $2)");
        assert_eq!(
            postgres_sql("INSERT OR IGNORE INTO holders (epc, org) VALUES (?1, ?2)"),
            "INSERT INTO holders (epc, org) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        );
        assert_eq!(
            postgres_sql("insert or ignore into t (a) values (?1) RETURNING a;"),
            "INSERT into t (a) values ($1) ON CONFLICT DO NOTHING RETURNING a"
        );
        assert_eq!(
            postgres_sql("INSERT OR IGNORE INTO a (x)\n    SELECT x FROM b WHERE y = ?1"),
            "INSERT INTO a (x)\n    SELECT x FROM b WHERE y = $1 ON CONFLICT DO NOTHING"
        );
        assert_eq!(
            postgres_sql("DELETE FROM recalls WHERE gtin = ?1 AND lot IS ?2"),
            "DELETE FROM recalls WHERE gtin = $1 AND lot IS NOT DISTINCT FROM $2"
        );
        assert_eq!(
            postgres_sql("SELECT 1 WHERE a IS NOT ?3 AND b IS NULL AND c IS NOT NULL"),
            "SELECT 1 WHERE a IS DISTINCT FROM $3 AND b IS NULL AND c IS NOT NULL"
        );
        assert_eq!(postgres_sql("BEGIN IMMEDIATE"), "BEGIN");
        assert_eq!(
            postgres_sql("FROM a x CROSS JOIN b y ON y.k = x.k"),
            "FROM a x JOIN b y ON y.k = x.k"
        );
        // Quoted text and comments are the statement's own.
        assert_eq!(
            postgres_sql("SELECT '?1', \"IS ?\" -- why ?2\nFROM t WHERE x = ?2"),
            "SELECT '?1', \"IS ?\" -- why ?2\nFROM t WHERE x = $2"
        );
        // A word ending in the keyword is not the keyword.
        assert_eq!(postgres_sql("SELECT THIS ?1"), "SELECT THIS $1");
    }

    #[test]
    fn values_go_in_and_come_out_of_sqlite_as_they_were() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let db = Db::from(&conn);
        db.execute_batch("CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n TEXT)")
            .unwrap();
        let changed = db
            .execute(
                "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)",
                params![42_i64, 2.5, "text", vec![1u8, 2], None::<String>],
            )
            .unwrap();
        assert_eq!(changed, 1);
        let row = db
            .query_row("SELECT i, r, s, b, n FROM t", params![], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, f64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })
            .unwrap();
        assert_eq!(row, (42, 2.5, "text".into(), vec![1, 2], None));
        assert!(matches!(
            db.query_row("SELECT s FROM t", params![], |r| r.get::<_, i64>(0)),
            Err(SqlError::Conversion { column: 0, .. })
        ));
        assert!(matches!(
            db.query_row("SELECT s FROM t WHERE i = 0", params![], |r| r
                .get::<_, String>(0)),
            Err(SqlError::NoRow)
        ));
        assert_eq!(
            db.query_opt("SELECT s FROM t WHERE i = ?1", params![7], |r| r
                .get::<_, String>(0))
                .unwrap(),
            None
        );
        db.execute_batch("CREATE UNIQUE INDEX t_i ON t (i)")
            .unwrap();
        let twice = db
            .execute("INSERT INTO t (i) VALUES (42)", params![])
            .unwrap_err();
        assert!(twice.is_unique_violation(), "{twice}");
        let ignored = db
            .execute("INSERT OR IGNORE INTO t (i) VALUES (?1)", params![42])
            .unwrap();
        assert_eq!(ignored, 0);
    }
}
