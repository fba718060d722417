//! The registry's tables, and the migrations of registries made by earlier builds.

use super::*;

/// Hub-only tables beside the shared event store.
pub(super) fn migrate(conn: &Connection) -> Result<(), HubError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS orgs (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, market TEXT NOT NULL, gln TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS sites (org TEXT NOT NULL REFERENCES orgs(id), id TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (org, id));
         CREATE TABLE IF NOT EXISTS products (gtin TEXT PRIMARY KEY, name TEXT NOT NULL, warranty_months INTEGER NOT NULL, markets TEXT NOT NULL,
             claim_threshold INTEGER NOT NULL DEFAULT 3);
         CREATE TABLE IF NOT EXISTS serials (
             gtin TEXT NOT NULL, serial TEXT NOT NULL, lot TEXT, expiry TEXT, markets TEXT NOT NULL,
             facility TEXT NOT NULL, line TEXT NOT NULL, issued_at TEXT NOT NULL, signature TEXT NOT NULL,
             PRIMARY KEY (gtin, serial)
         ) WITHOUT ROWID;
         CREATE TRIGGER IF NOT EXISTS serials_immutable_update BEFORE UPDATE ON serials
             BEGIN SELECT RAISE(ABORT, 'issued serials cannot be altered'); END;
         CREATE TRIGGER IF NOT EXISTS serials_immutable_delete BEFORE DELETE ON serials
             BEGIN SELECT RAISE(ABORT, 'issued serials cannot be deleted'); END;
         CREATE TABLE IF NOT EXISTS recalls (gtin TEXT NOT NULL, lot TEXT, reason TEXT NOT NULL);
         CREATE INDEX IF NOT EXISTS recalls_by_gtin ON recalls (gtin, lot);
         CREATE TABLE IF NOT EXISTS alerts (epc TEXT PRIMARY KEY, reason TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS devices (
             id TEXT PRIMARY KEY, org TEXT NOT NULL, site TEXT NOT NULL, public_key TEXT NOT NULL, name TEXT NOT NULL,
             enrolled_at TEXT NOT NULL, revoked INTEGER NOT NULL, counter INTEGER NOT NULL,
             clock_offset_ms INTEGER NOT NULL DEFAULT 0
         );
         CREATE TABLE IF NOT EXISTS tokens (
             secret_hash TEXT PRIMARY KEY, org TEXT NOT NULL, site TEXT NOT NULL, expires_at TEXT NOT NULL, used_by TEXT
         );
         -- Which organisation may see which event; the cursor devices download by.
         CREATE TABLE IF NOT EXISTS audience (
             cursor INTEGER PRIMARY KEY AUTOINCREMENT, org TEXT NOT NULL, seq INTEGER NOT NULL, UNIQUE (org, seq)
         );
         CREATE TABLE IF NOT EXISTS doc_scope (doc TEXT NOT NULL, org TEXT NOT NULL, PRIMARY KEY (doc, org));
         CREATE TABLE IF NOT EXISTS flags (
             id TEXT PRIMARY KEY, kind TEXT NOT NULL, org TEXT NOT NULL, epc TEXT NOT NULL, reason TEXT NOT NULL,
             event TEXT NOT NULL, raised_at TEXT NOT NULL
         );
         CREATE INDEX IF NOT EXISTS flags_by_epc ON flags (epc, kind);
         -- Each change of the registry extract: its version and the entry it changed.
         CREATE TABLE IF NOT EXISTS extract_log (version INTEGER PRIMARY KEY, kind TEXT NOT NULL, key TEXT NOT NULL);
         -- Units the manufacturer took off the alert list, and when.
         CREATE TABLE IF NOT EXISTS alert_clearings (epc TEXT PRIMARY KEY, cleared_at TEXT NOT NULL, note TEXT NOT NULL);
         -- Each saving of a working document counts one version (the triggers see every save; a
         -- trigger's OR REPLACE would yield to the saving statement's conflict clause).
         CREATE TABLE IF NOT EXISTS doc_versions (doc TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID;
         CREATE TRIGGER IF NOT EXISTS doc_versions_insert AFTER INSERT ON docs BEGIN
             UPDATE doc_versions SET version = version + 1 WHERE doc = NEW.id;
             INSERT INTO doc_versions (doc, version) SELECT NEW.id, 1
                 WHERE NOT EXISTS (SELECT 1 FROM doc_versions WHERE doc = NEW.id);
         END;
         CREATE TRIGGER IF NOT EXISTS doc_versions_update AFTER UPDATE ON docs BEGIN
             UPDATE doc_versions SET version = version + 1 WHERE doc = NEW.id;
             INSERT INTO doc_versions (doc, version) SELECT NEW.id, 1
                 WHERE NOT EXISTS (SELECT 1 FROM doc_versions WHERE doc = NEW.id);
         END;
         -- The version of a document a device is known to hold whole: a sync leaves it unsaid.
         CREATE TABLE IF NOT EXISTS doc_current (
             doc TEXT NOT NULL, device TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (doc, device)
         ) WITHOUT ROWID;",
    )?;
    crate::quarantine::migrate(conn)?;
    crate::access::migrate(conn)?;
    crate::listing::migrate(conn)?;
    // Alerts raised by partners' reports say who reported and when.
    let has_reporter: i64 = conn.query_row(
        "SELECT count(*) FROM pragma_table_info('alerts') WHERE name = 'reported_by'",
        [],
        |r| r.get(0),
    )?;
    if has_reporter == 0 {
        conn.execute_batch(
            "ALTER TABLE alerts ADD COLUMN reported_by TEXT;
             ALTER TABLE alerts ADD COLUMN reported_at TEXT;
             ALTER TABLE alerts ADD COLUMN note TEXT;
             ALTER TABLE alerts ADD COLUMN event TEXT;",
        )?;
    }
    // The device that recorded an event, on its organisation's audience row: it is not sent
    // back what it uploaded (rows from before this column are told apart by reading the event).
    let has_device: i64 = conn.query_row(
        "SELECT count(*) FROM pragma_table_info('audience') WHERE name = 'device'",
        [],
        |r| r.get(0),
    )?;
    if has_device == 0 {
        conn.execute_batch("ALTER TABLE audience ADD COLUMN device TEXT;")?;
    }
    // Every partner's report behind an alert (earlier registries kept only the first, in the
    // alert's own row).
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS alert_reports (
             event TEXT PRIMARY KEY, epc TEXT NOT NULL, reported_by TEXT NOT NULL,
             reported_at TEXT NOT NULL, note TEXT NOT NULL
         );
         CREATE INDEX IF NOT EXISTS alert_reports_by_epc ON alert_reports (epc, reported_at);
         INSERT OR IGNORE INTO alert_reports (event, epc, reported_by, reported_at, note)
             SELECT event, epc, reported_by, reported_at, COALESCE(note, '') FROM alerts
             WHERE event IS NOT NULL AND reported_by IS NOT NULL AND reported_at IS NOT NULL;",
    )?;
    // The change log starts complete from the version the registry is at when it is made.
    if store::kv_get(conn, crate::changes::KV_EXTRACT_LOG_FROM)?.is_none() {
        let v = crate::changes::version(conn)?;
        store::kv_set(conn, crate::changes::KV_EXTRACT_LOG_FROM, &v.to_string())?;
    }
    // Registries made before products had a claim threshold get the default one.
    let has_threshold: i64 = conn.query_row(
        "SELECT count(*) FROM pragma_table_info('products') WHERE name = 'claim_threshold'",
        [],
        |r| r.get(0),
    )?;
    if has_threshold == 0 {
        conn.execute_batch(&format!(
            "ALTER TABLE products ADD COLUMN claim_threshold INTEGER NOT NULL DEFAULT {}",
            extract::DEFAULT_CLAIM_THRESHOLD
        ))?;
    }
    // Products with their own serial format: its product code and pattern (both or neither).
    let has_code: i64 = conn.query_row(
        "SELECT count(*) FROM pragma_table_info('products') WHERE name = 'code'",
        [],
        |r| r.get(0),
    )?;
    if has_code == 0 {
        conn.execute_batch(
            "ALTER TABLE products ADD COLUMN code TEXT;
             ALTER TABLE products ADD COLUMN pattern TEXT;",
        )?;
    }
    conn.execute_batch(
        "CREATE UNIQUE INDEX IF NOT EXISTS products_by_code ON products (code) WHERE code IS NOT NULL;",
    )?;
    Ok(())
}
