//! The registry: organisations, products, issued serials, devices and enrollment tokens, the
//! event store of every partner, and the flags raised by reconciliation.
//!
//! **Architecture Invariant:** issued serials and their production metadata are never altered:
//! a trigger refuses any UPDATE or DELETE on `serials`.
//!
//! Storage is embedded SQLite behind this one type; a server database can implement the same
//! operations later.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, FixedOffset, Utc};
use custodian_ledger::event::{Action, BizStep, BizTransaction, Disposition, EventType};
use custodian_ledger::extract::{
    self, Alert, ExtractDelta, IssuerKey, Org, Product, Recall, RecallKey, RegistryExtract,
};
use custodian_ledger::{Custody, Epc, Event, EventBody, Recorder, docs, store};
use custodian_scanner::Gtin;
use ed25519_dalek::{Signer, SigningKey};
use rand::{Rng, RngCore};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::HubError;

const KV_ISSUER_KEY: &str = "issuer_key";
const KV_EXTRACT_VERSION: &str = "extract_version";
/// The oldest version a delta can start from: the change log holds every change after it.
const KV_EXTRACT_LOG_FROM: &str = "extract_log_from";
/// How many changes of the extract the log keeps; a device further behind gets it whole.
const EXTRACT_LOG_KEEP: u64 = 10_000;
/// A device this many changes behind gets the whole extract: past that, a delta saves little.
const MAX_DELTA_CHANGES: u64 = 2_000;
const KV_RESOLVER: &str = "resolver";
/// The device id under which the hub records its own events (issuance, demo shipments).
pub const HUB_DEVICE: &str = "hub";
/// Characters of generated serials: unambiguous upper-case letters and digits.
const SERIAL_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// Characters in a generated serial: 50 random bits.
const SERIAL_LEN: usize = 10;
/// Serials per commissioning event.
pub const COMMISSIONING_BATCH: usize = 10_000;
/// Serials per transaction of an issuance (a whole number of commissioning batches).
pub const SERIALS_PER_TRANSACTION: usize = 20 * COMMISSIONING_BATCH;

/// A generated serial, as ASCII bytes; byte order is SQLite's text order.
type SerialText = [u8; SERIAL_LEN];

fn draw_serial(rng: &mut impl RngCore) -> SerialText {
    let mut serial = [0; SERIAL_LEN];
    for c in &mut serial {
        *c = SERIAL_ALPHABET[rng.gen_range(0..SERIAL_ALPHABET.len())];
    }
    serial
}

fn serial_str(serial: &SerialText) -> &str {
    std::str::from_utf8(serial).expect("serials are drawn from an ASCII alphabet")
}

/// The AI 8030 signature of a serial: Ed25519 over [`extract::signed_payload`], base64url.
fn sign(issuer: &SigningKey, gtin: &str, serial: &str) -> String {
    URL_SAFE_NO_PAD.encode(
        issuer
            .sign(&extract::signed_payload(gtin, serial))
            .to_bytes(),
    )
}

/// The labels of an issued serial.
fn label(
    resolver: &str,
    gtin: &Gtin,
    serial: &str,
    lot: Option<&str>,
    expiry: Option<&str>,
    signature: &str,
) -> IssuedSerial {
    let mut ais: Vec<(&str, &str)> = vec![("01", gtin.as_str())];
    if let Some(e) = expiry {
        ais.push(("17", e));
    }
    if let Some(l) = lot {
        ais.push(("10", l));
    }
    ais.push(("21", serial));
    ais.push(("8030", signature));
    let query: Vec<(&str, &str)> = ais
        .iter()
        .filter(|(ai, _)| !matches!(*ai, "01" | "21"))
        .copied()
        .collect();
    IssuedSerial {
        gtin: gtin.to_string(),
        serial: serial.to_string(),
        lot: lot.map(str::to_string),
        expiry: expiry.map(str::to_string),
        element_string: custodian_scanner::element_string(&ais),
        bracketed: custodian_scanner::bracketed(&ais),
        digital_link: custodian_scanner::digital_link(resolver, gtin, Some(serial), &query),
    }
}

/// A serial as issued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedSerial {
    pub gtin: String,
    pub serial: String,
    pub lot: Option<String>,
    pub expiry: Option<String>,
    /// The element string a label carries (GS = ASCII 29 before each following AI after a
    /// variable-length one), with the AI 8030 signature.
    pub element_string: String,
    pub bracketed: String,
    pub digital_link: String,
}

/// What an issuance did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IssueSummary {
    pub issued: usize,
    pub commissioning_events: usize,
    pub transactions: usize,
    /// Threads that signed serials.
    pub signing_threads: usize,
}

/// What `issue` needs besides the GTIN and count.
#[derive(Clone, Debug, Default)]
pub struct IssueOptions {
    pub lot: Option<String>,
    /// `YYMMDD`.
    pub expiry: Option<String>,
    pub markets: Vec<String>,
    pub facility: String,
    pub line: String,
}

/// What a registry holds, counted (`custodian hub status`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub orgs: u64,
    pub products: u64,
    pub serials: u64,
    pub devices: u64,
    pub events: u64,
    pub flags: u64,
}

/// A flag as the hub holds it: the flag as its organisation's devices hold it
/// ([`custodian_ledger::Flag`]: kind, unit, reason, status and history, listed units), and the
/// organisation it is for. One type, so the hub and the devices cannot describe a flag apart;
/// it reads and serialises as the flag itself with `org` beside its fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubFlag {
    pub org: String,
    #[serde(flatten)]
    pub flag: custodian_ledger::Flag,
}

impl std::ops::Deref for HubFlag {
    type Target = custodian_ledger::Flag;

    fn deref(&self) -> &custodian_ledger::Flag {
        &self.flag
    }
}

impl std::ops::DerefMut for HubFlag {
    fn deref_mut(&mut self) -> &mut custodian_ledger::Flag {
        &mut self.flag
    }
}

/// A unit on the counterfeit alert list, as the hub holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubAlert {
    pub epc: String,
    /// What public verification says about it.
    pub reason: String,
    /// The organisation that reported it; `None` when the manufacturer listed it.
    pub reported_by: Option<String>,
    /// When it was reported (RFC 3339).
    pub reported_at: Option<String>,
    /// The reporter's note (devices see it; public verification does not).
    pub note: Option<String>,
    /// The report's event id.
    pub event: Option<String>,
    /// Every partner's report standing behind the entry, oldest first (the fields above repeat
    /// the first). Empty when the manufacturer listed the unit and nobody reported it.
    #[serde(default)]
    pub reports: Vec<AlertReport>,
}

/// One partner's counterfeit report of a unit on the alert list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertReport {
    /// The report's event id.
    pub event: String,
    /// The reporting organisation.
    pub reported_by: String,
    /// When it was reported (RFC 3339).
    pub reported_at: String,
    pub note: String,
}

/// The public reason of an alert a partner's report raised: the reporter and their note are
/// for the channel partners' devices, not for anyone who verifies a code.
/// The longest device name a device may give itself at enrollment.
pub const MAX_DEVICE_NAME: usize = 100;

const REPORTED_REASON: &str = "reported counterfeit by a channel partner's inspection";

fn recall_key(gtin: &str, lot: Option<&str>) -> String {
    serde_json::to_string(&RecallKey {
        gtin: gtin.to_string(),
        lot: lot.map(str::to_string),
    })
    .expect("a recall key always serialises")
}

/// The unit a code names (element string, bracketed, Digital Link or an EPC URI).
fn unit_epc(code: &str) -> Result<Epc, HubError> {
    let scan = custodian_scanner::parse(code).map_err(|e| HubError::BadRequest(e.to_string()))?;
    scan.identity()
        .as_ref()
        .and_then(Epc::from_identity)
        .filter(|e| matches!(e, Epc::Unit { .. }))
        .ok_or_else(|| HubError::BadRequest("the code names a product but no serial unit".into()))
}

/// A device as enrolled.
#[derive(Clone, Debug)]
pub struct DeviceRecord {
    pub id: String,
    pub org: String,
    pub site: String,
    pub public_key: String,
    pub revoked: bool,
    pub counter: u64,
}

/// The hub's registry on one SQLite file.
pub struct Registry {
    conn: Mutex<Connection>,
    issuer: SigningKey,
    /// The most events one sync round may upload ([`Registry::set_round_events`]).
    round_events: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

impl Registry {
    /// Takes at most `events` events in one sync round (1 to the protocol's
    /// `MAX_EVENTS_PER_ROUND`, the default): a round is one transaction, which other devices'
    /// rounds wait for. A device sending more is refused as too large and sends fewer.
    pub fn set_round_events(&self, events: usize) {
        let events = events.clamp(1, custodian_sync::protocol::MAX_EVENTS_PER_ROUND);
        self.round_events
            .store(events, std::sync::atomic::Ordering::Relaxed);
    }

    /// The most events one sync round may upload.
    pub fn round_events(&self) -> usize {
        self.round_events.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Opens the registry in `dir` (creating it). A new registry gets a random issuer key.
    pub fn open(dir: &Path) -> Result<Registry, HubError> {
        Self::open_with_key(dir, || SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// Opens the registry, creating the issuer key with `new_key` if there is none yet.
    pub fn open_with_key(
        dir: &Path,
        new_key: impl FnOnce() -> SigningKey,
    ) -> Result<Registry, HubError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| HubError::Internal(format!("{}: {e}", dir.display())))?;
        let conn = store::open(&dir.join("hub.sqlite"))?;
        // 256 MiB of page cache, taken only as pages are read (SQLite's default is 2 MiB). A
        // round of a sync looks up each unit's history, listing and custody in indexes that
        // outgrow a few megabytes at a hundred thousand units: with the default every lookup
        // read its pages from the operating system again, a third of a large sync's time.
        conn.pragma_update(None, "cache_size", -262_144_i64)?;
        conn.pragma_update(None, "wal_autocheckpoint", 16_000_i64)?;
        migrate(&conn)?;
        crate::flags::add_missing_histories(&conn)?;
        crate::reconcile::scope_manifest_docs(&conn)?;
        let issuer = match store::kv_get(&conn, KV_ISSUER_KEY)? {
            Some(b64) => {
                let bytes = STANDARD
                    .decode(b64)
                    .map_err(|_| HubError::Internal("issuer key is damaged".into()))?;
                let arr = <[u8; 32]>::try_from(bytes.as_slice())
                    .map_err(|_| HubError::Internal("issuer key is damaged".into()))?;
                SigningKey::from_bytes(&arr)
            }
            None => {
                let key = new_key();
                store::kv_set(&conn, KV_ISSUER_KEY, &STANDARD.encode(key.to_bytes()))?;
                key
            }
        };
        Ok(Registry {
            conn: Mutex::new(conn),
            issuer,
            round_events: std::sync::atomic::AtomicUsize::new(
                custodian_sync::protocol::MAX_EVENTS_PER_ROUND,
            ),
        })
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn resolver(&self) -> Result<String, HubError> {
        Ok(
            store::kv_get(&self.conn(), KV_RESOLVER)?
                .unwrap_or_else(|| "https://id.gs1.org".into()),
        )
    }

    pub fn set_resolver(&self, base: &str) -> Result<(), HubError> {
        store::kv_set(&self.conn(), KV_RESOLVER, base.trim_end_matches('/'))?;
        Ok(())
    }

    /// Records a change of the extract: the next version, and what it changed (`kind` and the
    /// entry's key), so a device can be sent the changes after the version it holds.
    fn log_change(conn: &Connection, kind: &str, key: &str) -> Result<u64, HubError> {
        let v = Self::extract_version(conn)? + 1;
        conn.execute(
            "INSERT INTO extract_log (version, kind, key) VALUES (?1, ?2, ?3)",
            params![i64::try_from(v).unwrap_or(i64::MAX), kind, key],
        )?;
        store::kv_set(conn, KV_EXTRACT_VERSION, &v.to_string())?;
        if v > EXTRACT_LOG_KEEP && v % 100 == 0 {
            let keep_from = v - EXTRACT_LOG_KEEP;
            conn.execute(
                "DELETE FROM extract_log WHERE version <= ?1",
                [i64::try_from(keep_from).unwrap_or(i64::MAX)],
            )?;
            store::kv_set(conn, KV_EXTRACT_LOG_FROM, &keep_from.to_string())?;
        }
        Ok(v)
    }

    fn extract_version(conn: &Connection) -> Result<u64, HubError> {
        Ok(store::kv_get(conn, KV_EXTRACT_VERSION)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    pub fn add_org(&self, org: &Org) -> Result<(), HubError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO orgs (id, name, role, market, gln) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(id) DO UPDATE SET name = excluded.name, role = excluded.role, market = excluded.market, gln = excluded.gln",
            params![org.id, org.name, org.role, org.market, org.gln],
        )?;
        Self::log_change(&conn, "org", &org.id).map(drop)
    }

    pub fn add_site(&self, org: &str, site: &str, name: &str) -> Result<(), HubError> {
        self.conn().execute(
            "INSERT INTO sites (org, id, name) VALUES (?1, ?2, ?3) ON CONFLICT(org, id) DO UPDATE SET name = excluded.name",
            params![org, site, name],
        )?;
        Ok(())
    }

    pub fn add_product(&self, p: &Product) -> Result<(), HubError> {
        let gtin = Gtin::parse(&p.gtin).map_err(|e| HubError::BadRequest(e.to_string()))?;
        let conn = self.conn();
        conn.execute(
            "INSERT INTO products (gtin, name, warranty_months, markets, claim_threshold) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(gtin) DO UPDATE SET name = excluded.name, warranty_months = excluded.warranty_months,
                 markets = excluded.markets, claim_threshold = excluded.claim_threshold",
            params![gtin.as_str(), p.name, p.warranty_months, p.markets.join(","), p.claim_threshold],
        )?;
        Self::log_change(&conn, "product", gtin.as_str()).map(drop)
    }

    /// Publishes a recall of `r.gtin` (of one lot, or of every lot), replacing one published for
    /// the same GTIN and lot.
    pub fn add_recall(&self, r: &Recall) -> Result<(), HubError> {
        let gtin = Gtin::parse(&r.gtin).map_err(|e| HubError::BadRequest(e.to_string()))?;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM recalls WHERE gtin = ?1 AND lot IS ?2",
            params![gtin.as_str(), r.lot],
        )?;
        tx.execute(
            "INSERT INTO recalls (gtin, lot, reason) VALUES (?1, ?2, ?3)",
            params![gtin.as_str(), r.lot, r.reason],
        )?;
        Self::log_change(&tx, "recall", &recall_key(gtin.as_str(), r.lot.as_deref()))?;
        tx.commit()?;
        Ok(())
    }

    /// Withdraws the recall of `gtin` and `lot` (`None`: the recall of every lot).
    pub fn withdraw_recall(&self, gtin: &str, lot: Option<&str>) -> Result<(), HubError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = tx.execute(
            "DELETE FROM recalls WHERE gtin = ?1 AND lot IS ?2",
            params![gtin, lot],
        )?;
        if n == 0 {
            return Err(HubError::NotFound(format!(
                "a recall of {gtin}{}",
                lot.map(|l| format!(" lot {l}")).unwrap_or_default()
            )));
        }
        Self::log_change(&tx, "recall", &recall_key(gtin, lot))?;
        tx.commit()?;
        Ok(())
    }

    /// Puts a unit on the counterfeit alert list as the manufacturer (replacing what the list
    /// said about it).
    /// A unit in transit: the organisation it was shipped to is flagged, so it knows before the
    /// unit arrives.
    pub fn add_alert(&self, a: &Alert) -> Result<(), HubError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO alerts (epc, reason) VALUES (?1, ?2)",
            params![a.epc, a.reason],
        )?;
        Self::log_change(&tx, "alert", &a.epc)?;
        if let Ok(unit @ Epc::Unit { .. }) = Epc::parse(&a.epc) {
            let mut flags = crate::flags::FlagDocs::new();
            crate::reconcile::listed_in_transit(&tx, &mut flags, &unit, &a.reason, Utc::now())?;
            flags.write(&tx)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Puts the unit `code` names on the counterfeit alert list as the manufacturer.
    pub fn add_alert_for(&self, code: &str, reason: &str) -> Result<(), HubError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(HubError::BadRequest(
                "an alert needs a reason: say why the unit is counterfeit".into(),
            ));
        }
        self.add_alert(&Alert {
            epc: unit_epc(code)?.uri(),
            reason: reason.to_string(),
        })
    }

    /// Records a partner's counterfeit report of a unit, and puts the unit on the alert list
    /// unless it is on it already: the list holds the unit once, with every report behind it.
    /// A report the manufacturer's clearing came after (it was looked into) or one declared
    /// erroneous is not recorded. Returns whether the report was recorded (new).
    pub(crate) fn add_reported_alert(
        conn: &Connection,
        report: &Event,
        epc: &Epc,
        note: &str,
    ) -> Result<bool, HubError> {
        let at = report.body.event_time;
        if store::is_declared(conn, &report.id.0)? {
            return Ok(false);
        }
        let cleared_after: bool = conn
            .query_row(
                "SELECT cleared_at FROM alert_clearings WHERE epc = ?1",
                [epc.uri()],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .and_then(|c| DateTime::parse_from_rfc3339(&c).ok())
            .is_some_and(|cleared| cleared >= at);
        if cleared_after {
            return Ok(false);
        }
        let recorded = conn.execute(
            "INSERT OR IGNORE INTO alert_reports (event, epc, reported_by, reported_at, note)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                report.id.0,
                epc.uri(),
                report.body.recorder.org,
                at.to_rfc3339(),
                note
            ],
        )?;
        if recorded == 0 {
            return Ok(false);
        }
        conn.execute(
            "INSERT OR IGNORE INTO alerts (epc, reason, reported_by, reported_at, note, event)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                epc.uri(),
                REPORTED_REASON,
                report.body.recorder.org,
                at.to_rfc3339(),
                note,
                report.id.0
            ],
        )?;
        // Devices see every report in the entry's reason: it changed either way.
        Self::log_change(conn, "alert", &epc.uri())?;
        Ok(true)
    }

    /// Withdraws the counterfeit report `event` (its reporter declared it erroneous). The unit
    /// leaves the alert list only when no report remains and the manufacturer did not list it
    /// itself. Returns the unit, when the report was on record.
    pub(crate) fn remove_reported_alert(
        conn: &Connection,
        event: &str,
    ) -> Result<Option<String>, HubError> {
        let epc: Option<String> = conn
            .query_row(
                "SELECT epc FROM alert_reports WHERE event = ?1",
                [event],
                |r| r.get(0),
            )
            .optional()?;
        let Some(epc) = epc else {
            return Ok(None);
        };
        conn.execute("DELETE FROM alert_reports WHERE event = ?1", [event])?;
        let remaining = Self::alert_reports(conn, &epc)?;
        match remaining.first() {
            None => {
                conn.execute(
                    "DELETE FROM alerts WHERE epc = ?1 AND reported_by IS NOT NULL",
                    [&epc],
                )?;
            }
            // The entry names its first report: the next one now.
            Some(first) => {
                conn.execute(
                    "UPDATE alerts SET reported_by = ?2, reported_at = ?3, note = ?4, event = ?5
                     WHERE epc = ?1 AND reported_by IS NOT NULL",
                    params![
                        epc,
                        first.reported_by,
                        first.reported_at,
                        first.note,
                        first.event
                    ],
                )?;
            }
        }
        Self::log_change(conn, "alert", &epc)?;
        Ok(Some(epc))
    }

    /// The reports standing behind a unit's alert, oldest first.
    pub(crate) fn alert_reports(
        conn: &Connection,
        epc: &str,
    ) -> Result<Vec<AlertReport>, HubError> {
        let mut stmt = conn.prepare_cached(
            "SELECT event, reported_by, reported_at, note FROM alert_reports WHERE epc = ?1
             ORDER BY reported_at, event",
        )?;
        let rows = stmt.query_map([epc], |r| {
            Ok(AlertReport {
                event: r.get(0)?,
                reported_by: r.get(1)?,
                reported_at: r.get(2)?,
                note: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Takes a unit off the counterfeit alert list (the manufacturer found it genuine). A report
    /// made before `at` that arrives later does not put it back; a later report does.
    pub fn clear_alert(
        &self,
        code: &str,
        note: &str,
        at: DateTime<FixedOffset>,
    ) -> Result<(), HubError> {
        let epc = unit_epc(code)?;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = tx.execute("DELETE FROM alerts WHERE epc = ?1", [epc.uri()])?;
        if n == 0 {
            return Err(HubError::NotFound(format!(
                "{} on the counterfeit alert list",
                epc.label()
            )));
        }
        tx.execute(
            "INSERT OR REPLACE INTO alert_clearings (epc, cleared_at, note) VALUES (?1, ?2, ?3)",
            params![epc.uri(), at.to_rfc3339(), note],
        )?;
        // The reports were looked into; they stay on record as events.
        tx.execute("DELETE FROM alert_reports WHERE epc = ?1", [epc.uri()])?;
        Self::log_change(&tx, "alert", &epc.uri())?;
        tx.commit()?;
        Ok(())
    }

    /// The counterfeit alert list, by EPC.
    pub fn alerts(&self) -> Result<Vec<HubAlert>, HubError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT epc, reason, reported_by, reported_at, note, event FROM alerts ORDER BY epc",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(HubAlert {
                epc: r.get(0)?,
                reason: r.get(1)?,
                reported_by: r.get(2)?,
                reported_at: r.get(3)?,
                note: r.get(4)?,
                event: r.get(5)?,
                reports: Vec::new(),
            })
        })?;
        let mut alerts: Vec<HubAlert> = rows.collect::<Result<_, _>>()?;
        for a in &mut alerts {
            a.reports = Self::alert_reports(&conn, &a.epc)?;
        }
        Ok(alerts)
    }

    fn manufacturer(conn: &Connection) -> Result<Org, HubError> {
        conn.query_row(
            "SELECT id, name, role, market, gln FROM orgs WHERE role = 'manufacturer' ORDER BY id LIMIT 1",
            [],
            |r| Ok(Org { id: r.get(0)?, name: r.get(1)?, role: r.get(2)?, market: r.get(3)?, gln: r.get(4)? }),
        )
        .optional()?
        .ok_or_else(|| HubError::BadRequest("the registry has no manufacturer organisation yet".into()))
    }

    /// The manufacturer organisation's id, if one is registered.
    /// Whether `id` names an organisation of this registry.
    pub fn org_exists(conn: &Connection, id: &str) -> Result<bool, HubError> {
        Ok(conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM orgs WHERE id = ?1)")?
            .query_row([id], |r| r.get(0))?)
    }

    pub(crate) fn manufacturer_id(conn: &Connection) -> Result<Option<String>, HubError> {
        Ok(conn
            .prepare_cached("SELECT id FROM orgs WHERE role = 'manufacturer' ORDER BY id LIMIT 1")?
            .query_row([], |r| r.get(0))
            .optional()?)
    }

    fn first_site(conn: &Connection, org: &str) -> Result<String, HubError> {
        Ok(conn
            .query_row(
                "SELECT id FROM sites WHERE org = ?1 ORDER BY id LIMIT 1",
                [org],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or_else(|| "main".into()))
    }

    /// Issues `count` signed serials of `gtin` and records their commissioning. Returns them in
    /// the order `rng` drew them. The work is divided as in [`Registry::issue_bulk`]; an issuance
    /// of up to [`SERIALS_PER_TRANSACTION`] serials is one transaction.
    pub fn issue(
        &self,
        gtin: &str,
        count: usize,
        options: &IssueOptions,
        at: DateTime<FixedOffset>,
        rng: &mut impl RngCore,
    ) -> Result<Vec<IssuedSerial>, HubError> {
        let mut issued = Vec::with_capacity(count);
        self.issue_core(
            gtin,
            count,
            options,
            at,
            rng,
            Some(&mut issued),
            &mut |_| {},
        )?;
        issued.sort_by_key(|(drawn, _)| *drawn);
        Ok(issued.into_iter().map(|(_, s)| s).collect())
    }

    /// Issues `count` signed serials of `gtin` without handing back their labels: the way to
    /// issue millions ([`Registry::issued_after`] pages through them later). `progress` hears
    /// the running total after each commissioning batch.
    ///
    /// `rng` draws every serial first (a duplicate is drawn again); they are then written in key
    /// order, so the serials table and the EPC index grow at their ends instead of at random
    /// pages. Each serial is signed with the issuer key, on all cores, while the previous
    /// batches are written. Every [`COMMISSIONING_BATCH`] serials are one commissioning event,
    /// and a transaction holds [`SERIALS_PER_TRANSACTION`], so a failure leaves whole batches
    /// issued and the rest not.
    pub fn issue_bulk(
        &self,
        gtin: &str,
        count: usize,
        options: &IssueOptions,
        at: DateTime<FixedOffset>,
        rng: &mut impl RngCore,
        progress: &mut dyn FnMut(usize),
    ) -> Result<IssueSummary, HubError> {
        self.issue_core(gtin, count, options, at, rng, None, progress)
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the issuance's inputs plus where its labels and progress go"
    )]
    fn issue_core(
        &self,
        gtin: &str,
        count: usize,
        options: &IssueOptions,
        at: DateTime<FixedOffset>,
        rng: &mut impl RngCore,
        mut labels: Option<&mut Vec<(usize, IssuedSerial)>>,
        progress: &mut dyn FnMut(usize),
    ) -> Result<IssueSummary, HubError> {
        let gtin = Gtin::parse(gtin).map_err(|e| HubError::BadRequest(e.to_string()))?;
        if let Some(expiry) = &options.expiry {
            custodian_scanner::parse(&format!("(01){gtin}(17){expiry}"))
                .map_err(|e| HubError::BadRequest(format!("expiry {expiry}: {e}")))?;
        }
        let resolver = self.resolver()?;
        let mut conn = self.conn();
        if !Self::is_product(&conn, gtin.as_str())? {
            return Err(HubError::BadRequest(format!(
                "GTIN {gtin} is not a registered product: register it first"
            )));
        }
        let maker = Self::manufacturer(&conn)?;
        let site = Self::first_site(&conn, &maker.id)?;

        // Draw every serial, then order them by key; a serial drawn twice is drawn again. The
        // sort moves (serial, draw index) pairs, which keeps it sequential in memory.
        if u32::try_from(count).is_err() {
            return Err(HubError::BadRequest(format!(
                "an issuance holds at most {} serials: split it",
                u32::MAX
            )));
        }
        let mut drawn: Vec<SerialText> = (0..count).map(|_| draw_serial(rng)).collect();
        let order: Vec<usize> = loop {
            let mut keyed: Vec<(SerialText, u32)> = drawn.iter().copied().zip(0..).collect();
            keyed.sort_unstable();
            let again: Vec<u32> = keyed
                .windows(2)
                .filter(|w| w[0].0 == w[1].0)
                .map(|w| w[1].1)
                .collect();
            if again.is_empty() {
                break keyed.into_iter().map(|(_, i)| i as usize).collect();
            }
            for i in again {
                drawn[i as usize] = draw_serial(rng);
            }
        };

        let batches: Vec<&[usize]> = order.chunks(COMMISSIONING_BATCH).collect();
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .clamp(1, batches.len().max(1));
        let issuer = &self.issuer;
        let drawn = &drawn;
        let order = &order;
        let batches = &batches;
        let code = gtin.as_str();
        let markets = options.markets.join(",");
        let issued_at = at.to_rfc3339();
        std::thread::scope(|scope| -> Result<IssueSummary, HubError> {
            // Signer `t` signs batches t, t + threads, …; the writer takes them back in order.
            let mut signed = Vec::with_capacity(threads);
            for t in 0..threads {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<String>>(2);
                signed.push(rx);
                scope.spawn(move || {
                    for batch in batches.iter().skip(t).step_by(threads) {
                        let signatures = batch
                            .iter()
                            .map(|&i| sign(issuer, code, serial_str(&drawn[i])))
                            .collect();
                        if tx.send(signatures).is_err() {
                            return; // the writer stopped on an error
                        }
                    }
                });
            }
            let mut summary = IssueSummary {
                issued: 0,
                commissioning_events: 0,
                transactions: 0,
                signing_threads: threads,
            };
            let mut redrawn = std::collections::HashSet::new();
            let per_transaction = SERIALS_PER_TRANSACTION / COMMISSIONING_BATCH;
            for (group_index, group) in batches.chunks(per_transaction).enumerate() {
                let tx = conn.transaction()?;
                let mut flags = crate::flags::FlagDocs::new();
                {
                    let mut insert = tx.prepare_cached(
                        "INSERT OR IGNORE INTO serials (gtin, serial, lot, expiry, markets, facility, line, issued_at, signature)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    )?;
                    for (k, batch) in group.iter().enumerate() {
                        let index = group_index * per_transaction + k;
                        let signatures = signed[index % threads].recv().map_err(|_| {
                            HubError::Internal("a signing thread stopped early".into())
                        })?;
                        let mut members = Vec::with_capacity(batch.len());
                        for (&i, signature) in batch.iter().zip(signatures) {
                            let mut serial = serial_str(&drawn[i]).to_string();
                            let mut signature = signature;
                            while insert.execute(params![
                                code,
                                serial,
                                options.lot,
                                options.expiry,
                                markets,
                                options.facility,
                                options.line,
                                issued_at,
                                signature
                            ])? == 0
                            {
                                // Issued before: draw one that is neither issued nor drawn.
                                let fresh = loop {
                                    let c = draw_serial(rng);
                                    if order.binary_search_by_key(&c, |&j| drawn[j]).is_err()
                                        && redrawn.insert(c)
                                    {
                                        break c;
                                    }
                                };
                                serial = serial_str(&fresh).to_string();
                                signature = sign(issuer, code, &serial);
                            }
                            members.push((i, serial, signature));
                        }
                        // The event lists its serials in the order they were drawn.
                        members.sort_unstable_by_key(|m| m.0);
                        let event = Event::new(EventBody {
                            event_type: EventType::ObjectEvent,
                            action: Action::Add,
                            biz_step: BizStep::Commissioning,
                            disposition: Some(Disposition::Active),
                            event_time: at,
                            epcs: members
                                .iter()
                                .map(|(_, serial, _)| Epc::Unit {
                                    gtin: gtin.clone(),
                                    serial: serial.clone(),
                                })
                                .collect(),
                            parent: None,
                            biz_transactions: Vec::new(),
                            source: None,
                            destination: None,
                            recorder: Recorder {
                                org: maker.id.clone(),
                                site: site.clone(),
                                device: HUB_DEVICE.into(),
                            },
                            extension: Default::default(),
                        });
                        crate::reconcile::record(&tx, &mut flags, &event, at.to_utc())?;
                        if let Some(out) = labels.as_deref_mut() {
                            out.extend(members.into_iter().map(|(i, serial, signature)| {
                                (
                                    i,
                                    label(
                                        &resolver,
                                        &gtin,
                                        &serial,
                                        options.lot.as_deref(),
                                        options.expiry.as_deref(),
                                        &signature,
                                    ),
                                )
                            }));
                        }
                        summary.issued += batch.len();
                        summary.commissioning_events += 1;
                        progress(summary.issued);
                    }
                }
                flags.write(&tx)?;
                tx.commit()?;
                summary.transactions += 1;
            }
            Ok(summary)
        })
    }

    /// How many serials of `gtin` were issued.
    pub fn issued_count(&self, gtin: &str) -> Result<u64, HubError> {
        let n: i64 = self.conn().query_row(
            "SELECT count(*) FROM serials WHERE gtin = ?1",
            [gtin],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Up to `limit` issued serials of `gtin` whose serial sorts after `after`, in serial
    /// order, with their labels: pages through an issuance of any size.
    pub fn issued_after(
        &self,
        gtin: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<IssuedSerial>, HubError> {
        let gtin = Gtin::parse(gtin).map_err(|e| HubError::BadRequest(e.to_string()))?;
        let resolver = self.resolver()?;
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT serial, lot, expiry, signature FROM serials
             WHERE gtin = ?1 AND serial > ?2 ORDER BY serial LIMIT ?3",
        )?;
        let rows = stmt.query_map(
            params![
                gtin.as_str(),
                after,
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                ))
            },
        )?;
        rows.map(|row| {
            let (serial, lot, expiry, signature) = row?;
            Ok(label(
                &resolver,
                &gtin,
                &serial,
                lot.as_deref(),
                expiry.as_deref(),
                &signature,
            ))
        })
        .collect()
    }

    /// Records events made by the hub itself (packing, shipping), reconciling each.
    pub fn record(&self, events: &[Event]) -> Result<(), HubError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut flags = crate::flags::FlagDocs::new();
        for e in events {
            crate::reconcile::record(&tx, &mut flags, e, Utc::now())?;
        }
        flags.write(&tx)?;
        tx.commit()?;
        Ok(())
    }

    /// Creates a one-time enrollment token for a device of `org` at `site`, valid for `hours`.
    pub fn create_token(
        &self,
        org: &str,
        site: &str,
        hub_url: &str,
        ca_der: &[u8],
        hours: i64,
    ) -> Result<String, HubError> {
        self.create_token_at(
            org,
            site,
            hub_url,
            ca_der,
            chrono::Duration::hours(hours),
            Utc::now(),
        )
    }

    /// Creates a one-time enrollment token at `now`, valid for `valid_for`. The token carries
    /// its expiry, so a device refuses an expired one before it reaches the hub; the hub
    /// refuses it too ([`Registry::enroll_at`]).
    pub fn create_token_at(
        &self,
        org: &str,
        site: &str,
        hub_url: &str,
        ca_der: &[u8],
        valid_for: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<String, HubError> {
        if valid_for <= chrono::Duration::zero() {
            return Err(HubError::BadRequest(
                "a token must be valid for some time: give a positive duration".into(),
            ));
        }
        let conn = self.conn();
        let org_known: i64 =
            conn.query_row("SELECT count(*) FROM orgs WHERE id = ?1", [org], |r| {
                r.get(0)
            })?;
        if org_known == 0 {
            return Err(HubError::BadRequest(format!(
                "organisation {org:?} is not registered"
            )));
        }
        let site_known: i64 = conn.query_row(
            "SELECT count(*) FROM sites WHERE org = ?1 AND id = ?2",
            [org, site],
            |r| r.get(0),
        )?;
        if site_known == 0 {
            return Err(HubError::BadRequest(format!(
                "site {site:?} is not a site of {org}"
            )));
        }
        let mut secret = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let secret = URL_SAFE_NO_PAD.encode(secret);
        let expires = now
            .checked_add_signed(valid_for)
            .ok_or_else(|| HubError::BadRequest("the token's validity is too long".into()))?;
        conn.execute(
            "INSERT INTO tokens (secret_hash, org, site, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![
                custodian_sync::identity::secret_hash(&secret),
                org,
                site,
                expires.to_rfc3339()
            ],
        )?;
        Ok(custodian_sync::identity::EnrollmentToken {
            hub: hub_url.to_string(),
            ca: STANDARD.encode(ca_der),
            org: org.to_string(),
            site: site.to_string(),
            secret,
            expires: Some(expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        }
        .encode())
    }

    /// Redeems a token for a new device identity.
    pub fn enroll(
        &self,
        secret: &str,
        public_key: &str,
        name: &str,
    ) -> Result<DeviceRecord, HubError> {
        self.enroll_at(secret, public_key, name, Utc::now())
    }

    /// Redeems a token at `now`: refused when unknown, used, or expired.
    pub fn enroll_at(
        &self,
        secret: &str,
        public_key: &str,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<DeviceRecord, HubError> {
        if name.chars().count() > MAX_DEVICE_NAME || name.chars().any(char::is_control) {
            return Err(HubError::BadRequest(format!(
                "the device name must be at most {MAX_DEVICE_NAME} printable characters"
            )));
        }
        let key = STANDARD.decode(public_key).ok().filter(|k| k.len() == 32);
        if key.is_none() {
            return Err(HubError::BadRequest(
                "public_key must be a base64 Ed25519 key of 32 bytes".into(),
            ));
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let hash = custodian_sync::identity::secret_hash(secret);
        let row: Option<(String, String, String, Option<String>)> = tx
            .query_row(
                "SELECT org, site, expires_at, used_by FROM tokens WHERE secret_hash = ?1",
                [&hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let (org, site, expires, used_by) =
            row.ok_or_else(|| HubError::Unauthorized("unknown enrollment token".into()))?;
        if used_by.is_some() {
            return Err(HubError::Unauthorized(
                "this enrollment token was already used: ask the hub for a new one".into(),
            ));
        }
        if DateTime::parse_from_rfc3339(&expires).map_or(true, |t| t <= now) {
            return Err(HubError::Unauthorized(format!(
                "this enrollment token expired at {expires}: ask the hub for a new one"
            )));
        }
        let mut id_bytes = [0u8; 9];
        rand::rngs::OsRng.fill_bytes(&mut id_bytes);
        let id = format!("dev-{}", hex::encode(id_bytes));
        tx.execute(
            "INSERT INTO devices (id, org, site, public_key, name, enrolled_at, revoked, counter) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, 0)",
            params![id, org, site, public_key, name, now.to_rfc3339()],
        )?;
        tx.execute(
            "UPDATE tokens SET used_by = ?1 WHERE secret_hash = ?2",
            params![id, hash],
        )?;
        tx.commit()?;
        Ok(DeviceRecord {
            id,
            org,
            site,
            public_key: public_key.to_string(),
            revoked: false,
            counter: 0,
        })
    }

    pub fn revoke(&self, device: &str) -> Result<(), HubError> {
        let n = self
            .conn()
            .execute("UPDATE devices SET revoked = 1 WHERE id = ?1", [device])?;
        if n == 0 {
            return Err(HubError::NotFound(format!("device {device}")));
        }
        Ok(())
    }

    pub(crate) fn device(conn: &Connection, id: &str) -> Result<Option<DeviceRecord>, HubError> {
        Ok(conn
            .query_row(
                "SELECT id, org, site, public_key, revoked, counter FROM devices WHERE id = ?1",
                [id],
                |r| {
                    Ok(DeviceRecord {
                        id: r.get(0)?,
                        org: r.get(1)?,
                        site: r.get(2)?,
                        public_key: r.get(3)?,
                        revoked: r.get(4)?,
                        counter: r.get::<_, i64>(5)?.try_into().unwrap_or(0),
                    })
                },
            )
            .optional()?)
    }

    /// The registry extract, whole (the same for every device).
    pub(crate) fn extract(
        conn: &Connection,
        issuer: &SigningKey,
    ) -> Result<RegistryExtract, HubError> {
        Ok(RegistryExtract {
            version: Self::extract_version(conn)?,
            orgs: read_orgs(conn, None)?,
            products: read_products(conn, None)?,
            issuer_keys: issuer_keys(issuer),
            recalls: read_recalls(conn, None)?
                .into_iter()
                .map(|(_, r)| r)
                .collect(),
            alerts: read_alerts(conn, None)?,
        })
    }

    /// What a device holding version `held` of the extract needs: nothing, the changes since
    /// (when it takes deltas and the change log reaches back to its version), or the whole.
    pub(crate) fn extract_update(
        conn: &Connection,
        issuer: &SigningKey,
        held: u64,
        takes_deltas: bool,
    ) -> Result<ExtractUpdate, HubError> {
        let current = Self::extract_version(conn)?;
        if held == current {
            return Ok(ExtractUpdate::Unchanged);
        }
        let log_from: u64 =
            match store::kv_get(conn, KV_EXTRACT_LOG_FROM)?.and_then(|v| v.parse().ok()) {
                Some(v) => v,
                None => return Ok(ExtractUpdate::Whole(Self::extract(conn, issuer)?)),
            };
        // A version above the hub's is from another registry (or one restored from a backup).
        if !takes_deltas
            || held == 0
            || held > current
            || held < log_from
            || current - held > MAX_DELTA_CHANGES
        {
            return Ok(ExtractUpdate::Whole(Self::extract(conn, issuer)?));
        }
        let mut stmt = conn.prepare_cached(
            "SELECT DISTINCT kind, key FROM extract_log WHERE version > ?1 ORDER BY kind, key",
        )?;
        let changed = stmt
            .query_map([i64::try_from(held).unwrap_or(i64::MAX)], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut delta = ExtractDelta {
            from: held,
            to: current,
            ..ExtractDelta::default()
        };
        let mut recalls = Vec::new();
        for (kind, key) in changed {
            match kind.as_str() {
                "org" => delta.orgs.extend(read_orgs(conn, Some(&key))?),
                "product" => delta.products.extend(read_products(conn, Some(&key))?),
                "recall" => {
                    let k: RecallKey = serde_json::from_str(&key)
                        .map_err(|e| HubError::Internal(format!("extract log: {key}: {e}")))?;
                    let now = read_recalls(conn, Some(&k))?;
                    if now.is_empty() {
                        delta.recalls_withdrawn.push(k);
                    }
                    recalls.extend(now);
                }
                "alert" => {
                    let now = read_alerts(conn, Some(&key))?;
                    if now.is_empty() {
                        delta.alerts_cleared.push(key);
                    }
                    delta.alerts.extend(now);
                }
                other => {
                    return Err(HubError::Internal(format!(
                        "extract log: unknown kind {other:?}"
                    )));
                }
            }
        }
        recalls.sort_by_key(|(rowid, _)| *rowid);
        delta.recalls = recalls.into_iter().map(|(_, r)| r).collect();
        Ok(ExtractUpdate::Delta(delta))
    }

    pub(crate) fn issuer(&self) -> &SigningKey {
        &self.issuer
    }

    /// A unit's custody across all partners.
    pub fn custody(&self, code: &str) -> Result<Custody, HubError> {
        let scan =
            custodian_scanner::parse(code).map_err(|e| HubError::BadRequest(e.to_string()))?;
        let epc = scan
            .identity()
            .as_ref()
            .and_then(Epc::from_identity)
            .ok_or_else(|| HubError::BadRequest("the code names a product but no serial".into()))?;
        let conn = self.conn();
        Ok(Custody::derive(&epc, &store::events_touching(&conn, &epc)?))
    }

    /// How much the registry holds.
    pub fn counts(&self) -> Result<Counts, HubError> {
        let conn = self.conn();
        let count = |table: &str| -> Result<u64, HubError> {
            let n: i64 =
                conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        Ok(Counts {
            orgs: count("orgs")?,
            products: count("products")?,
            serials: count("serials")?,
            devices: count("devices")?,
            events: count("events")?,
            flags: count("flags")?,
        })
    }

    /// The units flag `id` lists (see [`crate::listing`]), oldest change first.
    pub fn flag_units(&self, id: &str) -> Result<Vec<custodian_ledger::docs::FlagUnit>, HubError> {
        let conn = self.conn();
        let held: bool = conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM flags WHERE id = ?1)")?
            .query_row([id], |r| r.get(0))?;
        if !held {
            return Err(HubError::NotFound(format!("flag {id}")));
        }
        crate::listing::units_of(&conn, id)
    }

    /// Every flag raised, oldest first, with its status and history as the organisations'
    /// flags documents hold them (each document read once).
    pub fn flags(&self) -> Result<Vec<HubFlag>, HubError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id, kind, org, epc, reason, event, raised_at, units, open_units FROM flags ORDER BY raised_at, id",
        )?;
        let mut flags = stmt
            .query_map([], |r| {
                Ok(HubFlag {
                    org: r.get(2)?,
                    flag: custodian_ledger::Flag {
                        id: r.get(0)?,
                        kind: custodian_ledger::FlagKind::from(r.get::<_, String>(1)?),
                        epc: r.get(3)?,
                        reason: r.get(4)?,
                        event: r.get(5)?,
                        raised_at: r.get(6)?,
                        status: custodian_ledger::FlagStatus::New,
                        history: Vec::new(),
                        units: u64::try_from(r.get::<_, i64>(7)?).unwrap_or(0),
                        open_units: u64::try_from(r.get::<_, i64>(8)?).unwrap_or(0),
                    },
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut by_org: BTreeMap<String, BTreeMap<String, custodian_ledger::Flag>> =
            BTreeMap::new();
        for flag in &mut flags {
            if !by_org.contains_key(&flag.org) {
                let mut held = BTreeMap::new();
                for id in crate::flags::flags_docs_of(&conn, &flag.org)? {
                    if let Some(bytes) = store::doc_bytes(&conn, &id)? {
                        let doc = automerge::AutoCommit::load(&bytes)
                            .map_err(custodian_ledger::Error::from)?;
                        held.extend(
                            docs::read_flags(&doc)
                                .into_iter()
                                .map(|f| (f.id.clone(), f)),
                        );
                    }
                }
                by_org.insert(flag.org.clone(), held);
            }
            if let Some(held) = by_org.get_mut(&flag.org).and_then(|d| d.remove(&flag.id)) {
                flag.status = held.status;
                flag.history = held.history;
            }
        }
        Ok(flags)
    }

    /// Whether `gtin`+`serial` was issued here.
    pub(crate) fn is_issued(conn: &Connection, gtin: &str, serial: &str) -> Result<bool, HubError> {
        Ok(conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM serials WHERE gtin = ?1 AND serial = ?2)",
            )?
            .query_row([gtin, serial], |r| r.get(0))?)
    }

    /// A registered product and its policies.
    pub(crate) fn product(conn: &Connection, gtin: &str) -> Result<Option<Product>, HubError> {
        Ok(conn
            .query_row(
                &format!("{PRODUCT_SELECT} WHERE gtin = ?1"),
                [gtin],
                product_row,
            )
            .optional()?)
    }

    pub(crate) fn is_product(conn: &Connection, gtin: &str) -> Result<bool, HubError> {
        Ok(conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM products WHERE gtin = ?1)")?
            .query_row([gtin], |r| r.get(0))?)
    }

    pub(crate) fn org_name(conn: &Connection, id: &str) -> String {
        conn.prepare_cached("SELECT name || ' (' || market || ')' FROM orgs WHERE id = ?1")
            .and_then(|mut s| s.query_row([id], |r| r.get(0)))
            .unwrap_or_else(|_| id.to_string())
    }
}

/// What a device receives about the registry extract in a sync round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExtractUpdate {
    /// The device holds the current version.
    Unchanged,
    /// The changes since the version the device holds.
    Delta(ExtractDelta),
    /// The whole extract: the device had none, is too far behind, or takes no deltas.
    Whole(RegistryExtract),
}

fn issuer_keys(issuer: &SigningKey) -> Vec<IssuerKey> {
    vec![IssuerKey {
        id: "issuer-1".into(),
        public_key: STANDARD.encode(issuer.verifying_key().to_bytes()),
    }]
}

/// Organisations by id; with `id`, that one (if registered).
fn read_orgs(conn: &Connection, id: Option<&str>) -> Result<Vec<Org>, HubError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, role, market, gln FROM orgs WHERE ?1 IS NULL OR id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok(Org {
            id: r.get(0)?,
            name: r.get(1)?,
            role: r.get(2)?,
            market: r.get(3)?,
            gln: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Products by GTIN; with `gtin`, that one (if registered).
fn read_products(conn: &Connection, gtin: Option<&str>) -> Result<Vec<Product>, HubError> {
    let mut stmt = conn.prepare_cached(&format!(
        "{PRODUCT_SELECT} WHERE ?1 IS NULL OR gtin = ?1 ORDER BY gtin"
    ))?;
    let rows = stmt.query_map([gtin], product_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Recalls in the order they were published, with their row ids; with `key`, the one with
/// that GTIN and lot (if published).
fn read_recalls(
    conn: &Connection,
    key: Option<&RecallKey>,
) -> Result<Vec<(i64, Recall)>, HubError> {
    let mut stmt = conn.prepare_cached(
        "SELECT rowid, gtin, lot, reason FROM recalls
         WHERE ?1 = 0 OR (gtin = ?2 AND lot IS ?3) ORDER BY rowid",
    )?;
    let rows = stmt.query_map(
        params![
            key.is_some(),
            key.map(|k| k.gtin.as_str()),
            key.and_then(|k| k.lot.as_deref())
        ],
        |r| {
            Ok((
                r.get(0)?,
                Recall {
                    gtin: r.get(1)?,
                    lot: r.get(2)?,
                    reason: r.get(3)?,
                },
            ))
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The alert list as devices see it, by EPC; with `epc`, that unit's entry (if listed). A unit
/// partners reported says who reported it, when, and their note, for every report.
fn read_alerts(conn: &Connection, epc: Option<&str>) -> Result<Vec<Alert>, HubError> {
    let mut stmt = conn.prepare_cached(
        "SELECT epc, reason, reported_by IS NOT NULL FROM alerts
         WHERE ?1 IS NULL OR epc = ?1 ORDER BY epc",
    )?;
    let rows = stmt.query_map([epc], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, bool>(2)?,
        ))
    })?;
    let rows: Vec<(String, String, bool)> = rows.collect::<Result<_, _>>()?;
    let mut alerts = Vec::with_capacity(rows.len());
    for (epc, reason, reported) in rows {
        let reports = if reported {
            Registry::alert_reports(conn, &epc)?
        } else {
            Vec::new()
        };
        let reason = if reports.is_empty() {
            reason
        } else {
            format!(
                "reported counterfeit {}",
                reports_in_words(conn, &reports, None)?
            )
        };
        alerts.push(Alert { epc, reason });
    }
    Ok(alerts)
}

/// Reports as a sentence: "by A (market) on 2026-05-04: note; by B (market) on …". A report's
/// note is private to its reporter and the manufacturer: it is given only when `reader` is one
/// of them (`None`: for everyone, as in the registry extract every device receives).
pub(crate) fn reports_in_words(
    conn: &Connection,
    reports: &[AlertReport],
    reader: Option<&str>,
) -> Result<String, HubError> {
    let maker = Registry::manufacturer_id(conn)?;
    let reader_is_maker = reader.is_some() && reader == maker.as_deref();
    Ok(reports
        .iter()
        .map(|r| {
            let name: Option<String> = conn
                .query_row(
                    "SELECT name || ' (' || market || ')' FROM orgs WHERE id = ?1",
                    [&r.reported_by],
                    |row| row.get(0),
                )
                .optional()
                .ok()
                .flatten();
            let day = DateTime::parse_from_rfc3339(&r.reported_at)
                .map_or_else(|_| "an unknown date".into(), |t| t.date_naive().to_string());
            let may_read = reader_is_maker || reader == Some(r.reported_by.as_str());
            let note = if r.note.is_empty() || !may_read {
                String::new()
            } else {
                format!(": {}", r.note)
            };
            format!(
                "by {} on {day}{note}",
                name.unwrap_or_else(|| r.reported_by.clone())
            )
        })
        .collect::<Vec<_>>()
        .join("; "))
}

const PRODUCT_SELECT: &str =
    "SELECT gtin, name, warranty_months, markets, claim_threshold FROM products";

fn product_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Product> {
    let markets: String = r.get(3)?;
    Ok(Product {
        gtin: r.get(0)?,
        name: r.get(1)?,
        warranty_months: r.get(2)?,
        markets: markets
            .split(',')
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect(),
        claim_threshold: r.get(4)?,
    })
}

/// Hub-only tables beside the shared event store.
fn migrate(conn: &Connection) -> Result<(), HubError> {
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
    if store::kv_get(conn, KV_EXTRACT_LOG_FROM)?.is_none() {
        let v = Registry::extract_version(conn)?;
        store::kv_set(conn, KV_EXTRACT_LOG_FROM, &v.to_string())?;
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
    Ok(())
}

/// The registry extract, for callers outside this module.
pub fn current_extract(registry: &Registry) -> Result<RegistryExtract, HubError> {
    let conn = registry.conn();
    Registry::extract(&conn, registry.issuer())
}

/// What a device holding version `held` of the extract is sent ([`ExtractUpdate`]).
pub fn extract_since(
    registry: &Registry,
    held: u64,
    takes_deltas: bool,
) -> Result<ExtractUpdate, HubError> {
    let conn = registry.conn();
    Registry::extract_update(&conn, registry.issuer(), held, takes_deltas)
}

/// Builds a transaction reference for an ASN.
pub fn asn(id: &str) -> BizTransaction {
    BizTransaction {
        kind: custodian_ledger::manifest::ASN.into(),
        id: id.into(),
    }
}
