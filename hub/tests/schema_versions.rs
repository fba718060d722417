//! The registry's schema versions: a new registry records every version this build knows, one
//! made before versions were kept is brought to them, and one a later hub migrated is refused
//! before anything touches it.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use custodian_hub::registry::versions;
use custodian_hub::{Registry, demo};
use rusqlite::Connection;

fn applied(dir: &std::path::Path) -> Vec<(i64, String)> {
    let conn = Connection::open(dir.join("hub.sqlite")).unwrap();
    let mut stmt = conn
        .prepare("SELECT version, name FROM refinery_schema_history ORDER BY version")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn known() -> Vec<(i64, String)> {
    versions::known()
        .iter()
        .map(|m| (i64::from(m.version()), m.name().to_string()))
        .collect()
}

#[test]
fn a_new_registry_records_every_version_and_reopens() {
    let tmp = tempfile::tempdir().unwrap();
    let registry = Registry::open_with_key(tmp.path(), demo::issuer_key).unwrap();
    demo::seed(&registry).unwrap();
    drop(registry);
    assert!(!known().is_empty());
    assert_eq!(applied(tmp.path()), known());
    // Reopening applies nothing twice.
    drop(Registry::open(tmp.path()).unwrap());
    assert_eq!(applied(tmp.path()), known());
}

#[test]
fn a_registry_from_before_versions_is_brought_to_them_with_its_data() {
    let tmp = tempfile::tempdir().unwrap();
    let registry = Registry::open_with_key(tmp.path(), demo::issuer_key).unwrap();
    demo::seed(&registry).unwrap();
    let before = registry.counts().unwrap();
    drop(registry);
    // As a build from before versions left it: no versions recorded, and without what the
    // versions after the first add (each later migration's change is undone here).
    Connection::open(tmp.path().join("hub.sqlite"))
        .unwrap()
        .execute_batch(
            "DROP TABLE refinery_schema_history;
             ALTER TABLE devices DROP COLUMN acked_through;
             ALTER TABLE devices DROP COLUMN served_through;
             ALTER TABLE devices DROP COLUMN flag_units_served;
             DROP INDEX flag_units_by_also_org;
             DROP INDEX flag_units_by_also_flag;
             ALTER TABLE flag_units DROP COLUMN also_key;
             ALTER TABLE flag_units DROP COLUMN also_flag;
             ALTER TABLE flag_units DROP COLUMN also_org;
             DROP TABLE subscriptions;
             DROP TABLE queries;
             DROP TABLE capture_jobs;
             DROP TABLE captured_epcs;
             DROP TABLE captured_events;
             DROP TABLE audit;
             DROP TABLE credentials;
             DROP TABLE accounts;",
        )
        .unwrap();
    let registry = Registry::open(tmp.path()).unwrap();
    assert_eq!(registry.counts().unwrap(), before);
    drop(registry);
    assert_eq!(applied(tmp.path()), known());
}

#[test]
fn a_registry_a_later_hub_migrated_is_refused_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    drop(Registry::open_with_key(tmp.path(), demo::issuer_key).unwrap());
    let newest = known().last().unwrap().0;
    // A later hub applied a migration this one does not know, which dropped a table this
    // build's start-up would otherwise create again.
    let conn = Connection::open(tmp.path().join("hub.sqlite")).unwrap();
    conn.execute_batch(&format!(
        "DROP TABLE alert_clearings;
         INSERT INTO refinery_schema_history (version, name, applied_on, checksum)
             VALUES ({}, 'later', '2027-01-01T00:00:00Z', '1');",
        newest + 1
    ))
    .unwrap();
    drop(conn);
    let refused = Registry::open(tmp.path()).unwrap_err().to_string();
    assert!(
        refused.contains(&format!("schema version {} (later)", newest + 1))
            && refused.contains(&format!("knows versions up to {newest}")),
        "{refused}"
    );
    let conn = Connection::open(tmp.path().join("hub.sqlite")).unwrap();
    let recreated: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'alert_clearings')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!recreated, "the refused registry was migrated");
}

#[test]
fn a_known_version_applied_in_another_form_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    drop(Registry::open_with_key(tmp.path(), demo::issuer_key).unwrap());
    Connection::open(tmp.path().join("hub.sqlite"))
        .unwrap()
        .execute_batch("UPDATE refinery_schema_history SET checksum = '7' WHERE version = 1")
        .unwrap();
    let refused = Registry::open(tmp.path()).unwrap_err().to_string();
    assert!(
        refused.contains("in a form this hub does not know"),
        "{refused}"
    );
}

fn page_size(dir: &std::path::Path) -> i64 {
    Connection::open(dir.join("hub.sqlite"))
        .unwrap()
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_new_registry_has_large_pages_and_one_made_with_small_pages_keeps_them_and_its_data() {
    let tmp = tempfile::tempdir().unwrap();
    let registry = Registry::open_with_key(tmp.path(), demo::issuer_key).unwrap();
    demo::seed(&registry).unwrap();
    drop(registry);
    assert_eq!(
        page_size(tmp.path()),
        i64::from(custodian_hub::registry::PAGE_SIZE)
    );
    assert_ne!(custodian_hub::registry::PAGE_SIZE, 4_096);

    // A registry created before with SQLite's default pages.
    let old = tempfile::tempdir().unwrap();
    custodian_ledger::store::open_paged(&old.path().join("hub.sqlite"), Some(4_096)).unwrap();
    let registry = Registry::open_with_key(old.path(), demo::issuer_key).unwrap();
    demo::seed(&registry).unwrap();
    let before = registry.counts().unwrap();
    drop(registry);
    let registry = Registry::open(old.path()).unwrap();
    assert_eq!(registry.counts().unwrap(), before);
    drop(registry);
    assert_eq!(page_size(old.path()), 4_096);
}
