//! The registry's schema versions: numbered migrations (in `hub/migrations/sqlite` and
//! `hub/migrations/postgres`, one set per store), applied once each in order and recorded in the
//! registry itself, by refinery.
//!
//! A registry a later hub has migrated is refused before anything touches it: this build would
//! not know what the later migrations changed, and its own start-up steps could undo them. The
//! hub says which versions it found and which it knows, and the operator runs the later build
//! (or restores a backup from before it).
//!
//! refinery drives PostgreSQL through the `postgres` crate; for SQLite it supports rusqlite only
//! up to 0.40, and a binary links one bundled SQLite, so the registry's rusqlite connection is
//! given to refinery through its driver traits here ([`Versioned`]).

use std::path::Path;

use refinery::Migration;
use refinery_core::traits::sync::{Query, Transaction};
use rusqlite::{Connection, OpenFlags};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::HubError;

mod embedded {
    refinery::embed_migrations!("migrations/sqlite");
}

mod embedded_postgres {
    refinery::embed_migrations!("migrations/postgres");
}

/// The advisory lock hub processes take to migrate a PostgreSQL registry one at a time.
const MIGRATION_LOCK: i64 = 0x0063_7573_746f_6401;

/// Where refinery records the versions applied (its default name).
const HISTORY: &str = "refinery_schema_history";

/// The migrations this build knows, oldest first.
pub fn known() -> Vec<Migration> {
    embedded::migrations::runner().get_migrations().clone()
}

/// Refuses the registry at `path` when a migration this build does not know was applied to it
/// (or one it knows was applied in another form). A registry without versions yet, or no file,
/// passes. Reads only.
pub(super) fn refuse_unknown(path: &Path) -> Result<(), HubError> {
    if !path.exists() {
        return Ok(());
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let versioned: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
        [HISTORY],
        |r| r.get(0),
    )?;
    if !versioned {
        return Ok(());
    }
    let mut stmt = conn.prepare(&format!(
        "SELECT version, name, checksum FROM {HISTORY} ORDER BY version"
    ))?;
    let applied = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    check_applied(&applied, &known(), &path.display().to_string())
}

/// Refuses a registry (named `place` in the error) with a version in `applied` (version, name,
/// checksum) that is not one of `known`.
fn check_applied(
    applied: &[(i64, String, String)],
    known: &[Migration],
    place: &str,
) -> Result<(), HubError> {
    let newest = known.iter().map(|m| m.version()).max().unwrap_or(0);
    for (version, name, checksum) in applied {
        let ours = known.iter().find(|m| i64::from(m.version()) == *version);
        let refusal = match ours {
            None => format!(
                "schema version {version} ({name}) was applied by a later hub; this one knows versions up to {newest}"
            ),
            Some(m) if m.checksum().to_string() != *checksum || m.name() != name => format!(
                "schema version {version} ({name}) was applied in a form this hub does not know"
            ),
            Some(_) => continue,
        };
        return Err(HubError::Internal(format!(
            "{place}: {refusal}: run the hub that wrote it, or restore a backup from before it"
        )));
    }
    Ok(())
}

/// The PostgreSQL migrations this build knows, oldest first.
pub fn known_postgres() -> Vec<Migration> {
    embedded_postgres::migrations::runner()
        .get_migrations()
        .clone()
}

/// Brings a registry on PostgreSQL to this build's schema: refuses one a later hub migrated,
/// then applies the migrations not applied yet, each once. Hub processes starting together take
/// turns (an advisory lock held for the session's migration).
pub fn apply_postgres(client: &mut postgres::Client, place: &str) -> Result<(), HubError> {
    let pg = |e: postgres::Error| crate::pg::failure(place, &e);
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .map_err(pg)?;
    let applied = (|| -> Result<(), HubError> {
        let versioned: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&HISTORY])
            .map_err(pg)?
            .get(0);
        if versioned {
            let applied = client
                .query(
                    &format!(
                        "SELECT version::bigint, name, checksum FROM {HISTORY} ORDER BY version"
                    ),
                    &[],
                )
                .map_err(pg)?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect::<Vec<(i64, String, String)>>();
            check_applied(&applied, &known_postgres(), place)?;
        }
        embedded_postgres::migrations::runner()
            .set_abort_divergent(true)
            .set_abort_missing(true)
            .run(client)
            .map_err(|e| HubError::Internal(format!("{place}: registry schema: {e}")))?;
        Ok(())
    })();
    let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
    applied?;
    unlocked.map_err(pg)?;
    Ok(())
}

/// Applies the migrations not applied yet, each once, and records them.
pub(super) fn apply(conn: &mut Connection) -> Result<(), HubError> {
    embedded::migrations::runner()
        .set_abort_divergent(true)
        .set_abort_missing(true)
        .run(&mut Versioned(conn))
        .map_err(|e| HubError::Internal(format!("registry schema: {e}")))?;
    Ok(())
}

/// The registry's connection, as refinery drives a database.
struct Versioned<'a>(&'a mut Connection);

impl Transaction for Versioned<'_> {
    type Error = rusqlite::Error;

    fn execute<'a, T: Iterator<Item = &'a str>>(
        &mut self,
        queries: T,
    ) -> Result<usize, Self::Error> {
        let tx = self.0.transaction()?;
        let mut count = 0;
        for query in queries {
            tx.execute_batch(query)?;
            count += 1;
        }
        tx.commit()?;
        Ok(count)
    }
}

impl Query<Vec<Migration>> for Versioned<'_> {
    fn query(&mut self, query: &str) -> Result<Vec<Migration>, Self::Error> {
        let mut stmt = self.0.prepare(query)?;
        let rows = stmt.query_map([], |r| {
            let applied_on: String = r.get(2)?;
            let applied_on = OffsetDateTime::parse(&applied_on, &Rfc3339).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, e.into())
            })?;
            let checksum: String = r.get(3)?;
            let checksum = checksum.parse::<u64>().map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, e.into())
            })?;
            Ok(Migration::applied(
                r.get(0)?,
                r.get(1)?,
                applied_on,
                checksum,
            ))
        })?;
        rows.collect()
    }
}

impl refinery::Migrate for Versioned<'_> {}
