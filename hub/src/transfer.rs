//! Moving a registry from its SQLite files to PostgreSQL (`custodian hub migrate`).
//!
//! The target is brought to this build's PostgreSQL schema first (refused if a later hub
//! migrated it, or if it holds another registry: a different registry id). Then every table is
//! copied from one read snapshot of the source, in chunks of [`CHUNK`] rows, each chunk one
//! transaction: binary `COPY` into a staging table, then one `INSERT … ON CONFLICT DO NOTHING`
//! into the table. A copy cut half-way leaves whole chunks behind, and running it again copies
//! what is missing and skips what is there, so it is finished by running it again.
//!
//! Then both sides are counted and hashed, table by table, and the report says whether they
//! match. A table's hash is the sum (mod 2^256) of the SHA-256 of each row's typed values, so
//! it does not depend on the order either database returns rows in (their collations differ).
//!
//! The registry should not be serving while it is moved: rows written after the snapshot stay
//! behind (a second run copies them, and the hashes say whether anything is left).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use bytes::BytesMut;
use postgres::Client;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::HubError;
use crate::pg::{connect, failure, redacted};
use crate::registry::versions;

/// Rows copied per transaction.
pub const CHUNK: usize = 10_000;

/// Which of a SQLite registry's files a table lives in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum File {
    /// `hub.sqlite`.
    Registry,
    /// `velocity.sqlite`, the counted public verifications.
    Velocity,
}

/// Every table of a registry, in an order their references allow.
const TABLES: &[(&str, File)] = &[
    ("orgs", File::Registry),
    ("sites", File::Registry),
    ("products", File::Registry),
    ("serials", File::Registry),
    ("recalls", File::Registry),
    ("alerts", File::Registry),
    ("alert_clearings", File::Registry),
    ("alert_reports", File::Registry),
    ("devices", File::Registry),
    ("tokens", File::Registry),
    ("events", File::Registry),
    ("event_epcs", File::Registry),
    ("containment", File::Registry),
    ("event_transactions", File::Registry),
    ("declarations", File::Registry),
    ("event_totals", File::Registry),
    ("listed_units", File::Registry),
    ("docs", File::Registry),
    ("doc_versions", File::Registry),
    ("doc_sync", File::Registry),
    ("kv", File::Registry),
    ("audience", File::Registry),
    ("doc_scope", File::Registry),
    ("doc_current", File::Registry),
    ("extract_log", File::Registry),
    ("flags", File::Registry),
    ("flag_units", File::Registry),
    ("holds", File::Registry),
    ("holders", File::Registry),
    ("accounts", File::Registry),
    ("credentials", File::Registry),
    ("audit", File::Registry),
    ("captured_events", File::Registry),
    ("captured_epcs", File::Registry),
    ("capture_jobs", File::Registry),
    ("queries", File::Registry),
    ("subscriptions", File::Registry),
    ("verifications", File::Velocity),
    ("source_key", File::Velocity),
];

/// Tables a database keeps for itself, not the registry's (and the shared rate limits, worth
/// nothing once moved).
const NOT_MOVED: &[&str] = &["refinery_schema_history", "sqlite_sequence", "rate_limits"];

/// One table, moved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Moved {
    pub table: String,
    /// Rows in the source.
    pub source_rows: u64,
    /// Rows this run added to the target (fewer than the source's when a run before copied
    /// some).
    pub copied: u64,
    /// Rows in the target afterwards.
    pub target_rows: u64,
    pub source_hash: String,
    pub target_hash: String,
}

impl Moved {
    /// Whether the target holds exactly the source's rows.
    pub fn matches(&self) -> bool {
        self.source_rows == self.target_rows && self.source_hash == self.target_hash
    }
}

/// Copies the SQLite registry in `from` to the PostgreSQL registry at `to` and compares the
/// two; `progress` is told each chunk copied (table, rows read, rows added so far).
pub fn to_postgres(
    from: &Path,
    to: &str,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<Vec<Moved>, HubError> {
    let registry_file = from.join("hub.sqlite");
    if !registry_file.is_file() {
        return Err(HubError::NotFound(format!(
            "a registry in {} (no hub.sqlite)",
            from.display()
        )));
    }
    // Brings the source to this build's shape (and refuses one a later hub wrote).
    drop(crate::Registry::open(from)?);
    let velocity_file = from.join(crate::verify::VELOCITY_FILE);
    if velocity_file.is_file() {
        drop(crate::verify::open_counts(&velocity_file)?);
    }
    let registry = snapshot(&registry_file)?;
    let velocity = if velocity_file.is_file() {
        Some(snapshot(&velocity_file)?)
    } else {
        None
    };

    let place = redacted(to);
    let pg = |e: postgres::Error| failure(&place, &e);
    let mut client = connect(to)?;
    versions::apply_postgres(&mut client, &place)?;
    same_tables(&registry, velocity.as_ref(), &mut client, &place)?;
    same_registry(&registry, &mut client, &place)?;

    let mut moved = Vec::with_capacity(TABLES.len());
    for &(table, file) in TABLES {
        let columns = columns(&mut client, table).map_err(pg)?;
        let source = match file {
            File::Registry => Some(&registry),
            File::Velocity => velocity.as_ref(),
        };
        let (source_rows, copied, source_hash) = match source {
            Some(conn) => copy_table(conn, &mut client, table, &columns, &place, progress)?,
            None => (0, 0, RowSum::default()),
        };
        let (target_rows, target_hash) = hash_target(&mut client, table, &columns).map_err(pg)?;
        moved.push(Moved {
            table: table.to_string(),
            source_rows,
            copied,
            target_rows,
            source_hash: source_hash.hex(),
            target_hash: target_hash.hex(),
        });
    }
    continue_sequences(&registry, &mut client, &place)?;
    Ok(moved)
}

/// A read-only connection to `path` inside a read transaction: every table is read as of one
/// moment.
fn snapshot(path: &Path) -> Result<Connection, HubError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch("BEGIN")?;
    // The snapshot starts with the first read.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })?;
    Ok(conn)
}

/// Refuses to move when the source or the target has a table the move does not know: a
/// table left behind would be data lost without a word.
fn same_tables(
    registry: &Connection,
    velocity: Option<&Connection>,
    client: &mut Client,
    place: &str,
) -> Result<(), HubError> {
    let known: BTreeSet<&str> = TABLES.iter().map(|(t, _)| *t).collect();
    let mut sqlite = BTreeSet::new();
    for conn in std::iter::once(registry).chain(velocity) {
        let mut stmt = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?;
        for name in stmt.query_map([], |r| r.get::<_, String>(0))? {
            sqlite.insert(name?);
        }
    }
    let target: BTreeSet<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            &[],
        )
        .map_err(|e| failure(place, &e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for (side, tables) in [("the SQLite registry", &sqlite), (place, &target)] {
        if let Some(unknown) = tables
            .iter()
            .find(|t| !known.contains(t.as_str()) && !NOT_MOVED.contains(&t.as_str()))
        {
            return Err(HubError::Internal(format!(
                "{side} has a table this hub does not move: {unknown}"
            )));
        }
    }
    if let Some(missing) = known.iter().find(|t| !target.contains(**t)) {
        return Err(HubError::Internal(format!(
            "{place} has no table {missing} after its schema was applied"
        )));
    }
    Ok(())
}

/// Refuses a target that already holds another registry.
fn same_registry(registry: &Connection, client: &mut Client, place: &str) -> Result<(), HubError> {
    let id = crate::registry::KV_REGISTRY_ID;
    let ours: Option<String> = registry
        .query_row("SELECT value FROM kv WHERE key = ?1", [id], |r| r.get(0))
        .ok();
    let theirs: Option<String> = client
        .query_opt("SELECT value FROM kv WHERE key = $1", &[&id])
        .map_err(|e| failure(place, &e))?
        .map(|r| r.get(0));
    match (ours, theirs) {
        (Some(ours), Some(theirs)) if ours != theirs => Err(HubError::BadRequest(format!(
            "{place} already holds another registry: move into an empty database"
        ))),
        _ => Ok(()),
    }
}

/// How a column's values are held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Int,
    Text,
    Bytes,
}

impl Kind {
    fn pg_type(self) -> Type {
        match self {
            Kind::Int => Type::INT8,
            Kind::Text => Type::TEXT,
            Kind::Bytes => Type::BYTEA,
        }
    }
}

/// A table's columns on PostgreSQL, in order: each one's name and kind.
fn columns(client: &mut Client, table: &str) -> Result<Vec<(String, Kind)>, postgres::Error> {
    let rows = client.query(
        "SELECT column_name::text, data_type::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        &[&table],
    )?;
    Ok(rows
        .iter()
        .map(|r| {
            let name: String = r.get(0);
            let kind = match r.get::<_, String>(1).as_str() {
                "bigint" => Kind::Int,
                "bytea" => Kind::Bytes,
                _ => Kind::Text,
            };
            (name, kind)
        })
        .collect())
}

/// One value of a row, as both databases hold it.
#[derive(Debug)]
enum Cell {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

impl ToSql for Cell {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Cell::Null => Ok(IsNull::Yes),
            Cell::Int(v) => v.to_sql(ty, out),
            Cell::Text(v) => v.to_sql(ty, out),
            Cell::Bytes(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        [Type::INT8, Type::TEXT, Type::BYTEA].contains(ty)
    }

    to_sql_checked!();
}

/// The sum (mod 2^256) of the SHA-256 of each row: a hash of a set of rows, in any order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct RowSum([u64; 4]);

impl RowSum {
    fn add(&mut self, row: &[Cell]) {
        let mut h = Sha256::new();
        for cell in row {
            match cell {
                Cell::Null => h.update([0]),
                Cell::Int(v) => {
                    h.update([1]);
                    h.update(v.to_be_bytes());
                }
                Cell::Text(v) => {
                    h.update([2]);
                    h.update((v.len() as u64).to_be_bytes());
                    h.update(v.as_bytes());
                }
                Cell::Bytes(v) => {
                    h.update([3]);
                    h.update((v.len() as u64).to_be_bytes());
                    h.update(v);
                }
            }
        }
        let digest = h.finalize();
        let mut carry = false;
        for (i, limb) in self.0.iter_mut().enumerate() {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&digest[i * 8..i * 8 + 8]);
            let (sum, c1) = limb.overflowing_add(u64::from_le_bytes(bytes));
            let (sum, c2) = sum.overflowing_add(u64::from(carry));
            *limb = sum;
            carry = c1 || c2;
        }
    }

    fn hex(&self) -> String {
        self.0.iter().rev().map(|l| format!("{l:016x}")).collect()
    }
}

/// A row of `table` read from SQLite as `columns` say its values are held.
fn sqlite_row(
    row: &rusqlite::Row<'_>,
    table: &str,
    columns: &[(String, Kind)],
) -> Result<Vec<Cell>, HubError> {
    let mut cells = Vec::with_capacity(columns.len());
    for (i, (name, kind)) in columns.iter().enumerate() {
        let value = row.get_ref(i)?;
        let cell = match (value, kind) {
            (ValueRef::Null, _) => Cell::Null,
            (ValueRef::Integer(v), Kind::Int) => Cell::Int(v),
            (ValueRef::Text(v), Kind::Text) => Cell::Text(
                String::from_utf8(v.to_vec())
                    .map_err(|_| HubError::Internal(format!("{table}.{name}: text not UTF-8")))?,
            ),
            (ValueRef::Blob(v), Kind::Bytes) => Cell::Bytes(v.to_vec()),
            (other, kind) => {
                return Err(HubError::Internal(format!(
                    "{table}.{name}: a {:?} value where {kind:?} is kept",
                    other.data_type()
                )));
            }
        };
        cells.push(cell);
    }
    Ok(cells)
}

/// What to do with a row the target already has. Saving a document counts a version on
/// PostgreSQL too, so copying `docs` makes `doc_versions` rows the source's then replace.
fn on_conflict(table: &str) -> &'static str {
    match table {
        "doc_versions" => {
            "(doc) DO UPDATE SET version = EXCLUDED.version WHERE doc_versions.version <> EXCLUDED.version"
        }
        _ => "DO NOTHING",
    }
}

/// Copies one table in chunks; returns the rows read, the rows added and their hash.
fn copy_table(
    source: &Connection,
    client: &mut Client,
    table: &str,
    columns: &[(String, Kind)],
    place: &str,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<(u64, u64, RowSum), HubError> {
    let pg = |e: postgres::Error| failure(&format!("{place}: {table}"), &e);
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let list = names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    // `rowid` is SQLite's own name for the row's key, which the PostgreSQL table carries as a
    // column of that name.
    let select = names
        .iter()
        .map(|n| {
            if *n == "rowid" {
                "rowid".to_string()
            } else {
                format!("\"{n}\"")
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut stmt = source
        .prepare(&format!("SELECT {select} FROM \"{table}\""))
        .map_err(|e| HubError::Internal(format!("the SQLite registry's {table}: {e}")))?;
    let types: Vec<Type> = columns.iter().map(|(_, k)| k.pg_type()).collect();
    let mut rows = stmt.query([])?;
    let mut sum = RowSum::default();
    let (mut read, mut added) = (0u64, 0u64);
    let mut chunk: Vec<Vec<Cell>> = Vec::with_capacity(CHUNK);
    loop {
        let row = rows.next()?;
        if let Some(row) = row {
            let cells = sqlite_row(row, table, columns)?;
            sum.add(&cells);
            chunk.push(cells);
            read += 1;
        }
        if chunk.len() == CHUNK || (row.is_none() && !chunk.is_empty()) {
            let mut tx = client.transaction().map_err(pg)?;
            tx.batch_execute(&format!(
                "CREATE TEMPORARY TABLE staged (LIKE \"{table}\") ON COMMIT DROP"
            ))
            .map_err(pg)?;
            let sink = tx
                .copy_in(&format!("COPY staged ({list}) FROM STDIN BINARY"))
                .map_err(pg)?;
            let mut writer = BinaryCopyInWriter::new(sink, &types);
            for cells in chunk.drain(..) {
                let values: Vec<&(dyn ToSql + Sync)> =
                    cells.iter().map(|c| c as &(dyn ToSql + Sync)).collect();
                writer.write(&values).map_err(pg)?;
            }
            writer.finish().map_err(pg)?;
            added += tx
                .execute(
                    &format!(
                        "INSERT INTO \"{table}\" ({list}) SELECT {list} FROM staged ON CONFLICT {}",
                        on_conflict(table)
                    ),
                    &[],
                )
                .map_err(pg)?;
            tx.commit().map_err(pg)?;
            progress(table, read, added);
        }
        if row.is_none() {
            break;
        }
    }
    Ok((read, added, sum))
}

/// Counts and hashes a table on PostgreSQL, read row by row.
fn hash_target(
    client: &mut Client,
    table: &str,
    columns: &[(String, Kind)],
) -> Result<(u64, RowSum), postgres::Error> {
    let list = columns
        .iter()
        .map(|(n, _)| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let mut tx = client.transaction()?;
    let mut rows = tx.query_raw(
        &format!("SELECT {list} FROM \"{table}\""),
        std::iter::empty::<&(dyn ToSql + Sync)>(),
    )?;
    let mut sum = RowSum::default();
    let mut count = 0;
    while let Some(row) = rows.next()? {
        let mut cells = Vec::with_capacity(columns.len());
        for (i, (_, kind)) in columns.iter().enumerate() {
            cells.push(match kind {
                Kind::Int => row
                    .try_get::<_, Option<i64>>(i)?
                    .map_or(Cell::Null, Cell::Int),
                Kind::Text => row
                    .try_get::<_, Option<String>>(i)?
                    .map_or(Cell::Null, Cell::Text),
                Kind::Bytes => row
                    .try_get::<_, Option<Vec<u8>>>(i)?
                    .map_or(Cell::Null, Cell::Bytes),
            });
        }
        sum.add(&cells);
        count += 1;
    }
    drop(rows);
    tx.commit()?;
    Ok((count, sum))
}

/// Sets each generated key on PostgreSQL to continue after the highest one copied (and after
/// any SQLite had handed out and not kept, so no number is used twice).
fn continue_sequences(
    source: &Connection,
    client: &mut Client,
    place: &str,
) -> Result<(), HubError> {
    // SQLite keeps what AUTOINCREMENT handed out in `sqlite_sequence`, there from the first
    // such table on.
    let mut stmt = source.prepare("SELECT name, seq FROM sqlite_sequence")?;
    let handed_out = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
        .collect::<Result<BTreeMap<_, _>, _>>()?;
    let pg = |e: postgres::Error| failure(place, &e);
    let identities = client
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND is_identity = 'YES'",
            &[],
        )
        .map_err(pg)?;
    for row in identities {
        let (table, column): (String, String) = (row.get(0), row.get(1));
        let floor = handed_out.get(&table).copied().unwrap_or(0);
        client
            .execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence($1, $2),
                               GREATEST(COALESCE(max(\"{column}\"), 0), $3) + 1, false)
                 FROM \"{table}\""
                ),
                &[&format!("\"{table}\""), &column, &floor],
            )
            .map_err(pg)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_sum_does_not_depend_on_order_but_on_every_value() {
        let rows = [
            vec![Cell::Int(1), Cell::Text("a".into())],
            vec![Cell::Int(2), Cell::Null],
            vec![Cell::Bytes(vec![0, 1]), Cell::Text(String::new())],
        ];
        let mut forward = RowSum::default();
        rows.iter().for_each(|r| forward.add(r));
        let mut backward = RowSum::default();
        rows.iter().rev().for_each(|r| backward.add(r));
        assert_eq!(forward, backward);

        let mut changed = RowSum::default();
        changed.add(&[Cell::Int(1), Cell::Text("b".into())]);
        changed.add(&rows[1]);
        changed.add(&rows[2]);
        assert_ne!(forward, changed);
        // A null and an empty text, or a number and its digits, are different values.
        let one = |c: Cell| {
            let mut s = RowSum::default();
            s.add(&[c]);
            s
        };
        assert_ne!(one(Cell::Null), one(Cell::Text(String::new())));
        assert_ne!(one(Cell::Int(7)), one(Cell::Text("7".into())));
        assert_ne!(one(Cell::Text("7".into())), one(Cell::Bytes(b"7".to_vec())));
        // A row twice is not the row once: the sum counts rows.
        let mut twice = RowSum::default();
        twice.add(&rows[0]);
        twice.add(&rows[0]);
        assert_ne!(twice, one_of(&rows[0]));
    }

    fn one_of(row: &[Cell]) -> RowSum {
        let mut s = RowSum::default();
        s.add(row);
        s
    }
}
