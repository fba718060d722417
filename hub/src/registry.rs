//! The registry: organisations, products, issued serials, devices and enrollment tokens, the
//! event store of every partner, and the flags raised by reconciliation.
//!
//! **Architecture Invariant:** issued serials and their production metadata are never altered:
//! a trigger refuses any UPDATE or DELETE on `serials`.
//!
//! Storage is embedded SQLite behind this one type; a server database can implement the same
//! operations later. By concept: `issuance` (drawing, signing and commissioning serials),
//! `alerts` (recalls, counterfeit alerts and partners' reports), `enrollment` (tokens,
//! devices, revocation), `extracts` (what devices hold offline, whole or as changes) and
//! `schema` (tables and migrations); organisations, products, custody, counts and flags here.

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
use custodian_ledger::sql::{AsDb, Db, OptionalExtension, params};
use custodian_ledger::{Custody, Epc, Event, EventBody, Recorder, docs, store};
use custodian_scanner::Gtin;
use ed25519_dalek::{Signer, SigningKey};
use rand::{Rng, RngCore};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::HubError;

mod alerts;
mod enrollment;
mod extracts;
mod issuance;
mod schema;
pub mod versions;

pub use alerts::*;
pub use enrollment::*;
pub use extracts::*;
pub use issuance::*;
use schema::migrate;

const KV_ISSUER_KEY: &str = "issuer_key";
const KV_RESOLVER: &str = "resolver";
/// The registry's own name, random, made when it is first opened: a database holding one
/// registry is not mistaken for another's (demo registries share their issuer key).
pub const KV_REGISTRY_ID: &str = "registry_id";
pub use crate::HUB_DEVICE;
pub use crate::flags::HubFlag;
pub use crate::reports::AlertReport;

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

/// The issuer key the registry signs serials with.
fn issuer_key(conn: impl AsDb) -> Result<SigningKey, HubError> {
    let b64 = store::kv_get(conn, KV_ISSUER_KEY)?
        .ok_or_else(|| HubError::Internal("the registry has no issuer key".into()))?;
    let bytes = STANDARD
        .decode(b64)
        .map_err(|_| HubError::Internal("issuer key is damaged".into()))?;
    let arr = <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| HubError::Internal("issuer key is damaged".into()))?;
    Ok(SigningKey::from_bytes(&arr))
}

/// What a code names (element string, bracketed, Digital Link, an EPC URI, or a serial in a
/// registered product's own format).
fn epc_of(conn: impl AsDb, code: &str) -> Result<Option<Epc>, HubError> {
    let conn = conn.db();
    if code.starts_with(custodian_ledger::event::PROPRIETARY_PREFIX) {
        return Epc::parse(code)
            .map(Some)
            .map_err(|e| HubError::BadRequest(e.to_string()));
    }
    let scan = custodian_scanner::parse_with(code, &crate::catalog::formats(conn)?)
        .map_err(|e| HubError::BadRequest(e.to_string()))?;
    Ok(scan.identity().as_ref().and_then(Epc::from_identity))
}

/// The unit a code names ([`epc_of`]), not a pallet or case.
fn unit_epc(conn: impl AsDb, code: &str) -> Result<Epc, HubError> {
    let conn = conn.db();
    epc_of(conn, code)?
        .filter(Epc::is_unit)
        .ok_or_else(|| HubError::BadRequest("the code names a product but no serial unit".into()))
}

/// Where a registry is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreAt {
    /// `hub.sqlite` in this directory (the embedded default).
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL database (`postgres://…`), which several hub processes may share.
    Postgres(String),
}

impl StoreAt {
    /// `--store`'s value: a `postgres://` or `postgresql://` URL, or a directory (`sqlite:DIR`
    /// or just `DIR`).
    pub fn parse(text: &str) -> StoreAt {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            StoreAt::Postgres(text.to_string())
        } else {
            StoreAt::Sqlite(text.strip_prefix("sqlite:").unwrap_or(text).into())
        }
    }
}

/// The connection a registry keeps: one SQLite connection taken in turn, or a pool of
/// PostgreSQL ones.
enum Store {
    Sqlite(Mutex<Connection>),
    Postgres(crate::pg::Pool),
}

/// A connection of the registry's store, held by one caller.
pub(crate) enum Conn<'a> {
    Sqlite(MutexGuard<'a, Connection>),
    Postgres(crate::pg::Pooled<'a>),
}

impl AsDb for Conn<'_> {
    fn db(&self) -> Db<'_> {
        match self {
            Conn::Sqlite(conn) => Db::Sqlite(conn),
            Conn::Postgres(conn) => conn.db(),
        }
    }
}

/// How many connections a hub process keeps to a PostgreSQL store.
const POSTGRES_CONNECTIONS: usize = 16;

/// The page size of a registry file created here, in bytes (SQLite's default is 4,096). A round
/// of a sync inserts units in random order into the indexes by unit (histories, listings, event
/// ids), dirtying most of their leaves whatever the page size: with pages four times larger the
/// round writes about as many bytes but in a quarter of the pages, through shallower trees, and
/// a flag storm of 150,000 receipts (`custodian bench sync --flag-storm --events 150000`)
/// converged in a median 13.0 s against 15.0 s, pair by pair over four pairs. A registry created
/// before keeps its pages.
pub const PAGE_SIZE: u32 = 16_384;

/// The hub's registry: on one SQLite file, or in a PostgreSQL database.
pub struct Registry {
    store: Store,
    issuer: SigningKey,
    /// The most events one sync round may upload ([`Registry::set_round_events`]).
    round_events: std::sync::atomic::AtomicUsize,
    /// The most bytes of events one sync answer carries ([`Registry::set_answer_bytes`]).
    answer_bytes: std::sync::atomic::AtomicUsize,
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

    /// Sends at most `bytes` of events' JSON in one sync answer, past its first event (1 to the
    /// protocol's `MAX_ANSWER_EVENT_BYTES`, the default); the device asks again for the rest.
    pub fn set_answer_bytes(&self, bytes: usize) {
        let bytes = bytes.clamp(1, custodian_sync::protocol::MAX_ANSWER_EVENT_BYTES);
        self.answer_bytes
            .store(bytes, std::sync::atomic::Ordering::Relaxed);
    }

    /// The most bytes of events' JSON one sync answer carries past its first event.
    pub fn answer_bytes(&self) -> usize {
        self.answer_bytes.load(std::sync::atomic::Ordering::Relaxed)
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
        let path = dir.join("hub.sqlite");
        versions::refuse_unknown(&path)?;
        let mut conn = store::open_paged(&path, Some(PAGE_SIZE))?;
        // 256 MiB of page cache, taken only as pages are read (SQLite's default is 2 MiB). A
        // round of a sync looks up each unit's history, listing and custody in indexes that
        // outgrow a few megabytes at a hundred thousand units: with the default every lookup
        // read its pages from the operating system again, a third of a large sync's time.
        conn.pragma_update(None, "cache_size", -262_144_i64)?;
        // Checkpoints when the log reaches 16,000 pages (256 MiB of 16 KiB pages): a round
        // rewrites the same index leaves as the round before, and each is copied back once.
        conn.pragma_update(None, "wal_autocheckpoint", 16_000_i64)?;
        migrate(&conn)?;
        crate::flags::add_missing_histories(&conn)?;
        crate::reconcile::scope_manifest_docs(&conn)?;
        versions::apply(&mut conn)?;
        if store::kv_get(&conn, KV_ISSUER_KEY)?.is_none() {
            store::kv_set(&conn, KV_ISSUER_KEY, &STANDARD.encode(new_key().to_bytes()))?;
        }
        let issuer = issuer_key(&conn)?;
        if store::kv_get(&conn, KV_REGISTRY_ID)?.is_none() {
            let mut id = [0u8; 16];
            rand::rngs::OsRng.fill_bytes(&mut id);
            store::kv_set(&conn, KV_REGISTRY_ID, &hex::encode(id))?;
        }
        Ok(Registry::with_store(
            Store::Sqlite(Mutex::new(conn)),
            issuer,
        ))
    }

    fn with_store(store: Store, issuer: SigningKey) -> Registry {
        Registry {
            store,
            issuer,
            round_events: std::sync::atomic::AtomicUsize::new(
                custodian_sync::protocol::MAX_EVENTS_PER_ROUND,
            ),
            answer_bytes: std::sync::atomic::AtomicUsize::new(
                custodian_sync::protocol::MAX_ANSWER_EVENT_BYTES,
            ),
        }
    }

    /// Opens the registry kept at `at`, creating it (and, with a new registry, a random issuer
    /// key).
    pub fn open_at(at: &StoreAt) -> Result<Registry, HubError> {
        Self::open_at_with_key(at, || SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// As [`Registry::open_at`], making a new registry's issuer key with `new_key`.
    pub fn open_at_with_key(
        at: &StoreAt,
        new_key: impl FnOnce() -> SigningKey,
    ) -> Result<Registry, HubError> {
        match at {
            StoreAt::Sqlite(dir) => Self::open_with_key(dir, new_key),
            StoreAt::Postgres(url) => Self::open_postgres(url, new_key),
        }
    }

    /// Opens the registry in the PostgreSQL database at `url`: brings its schema to this
    /// build's (refusing one a later hub migrated), and makes its issuer key and id if it is
    /// new. Processes starting together agree on one key: the first one stored is kept.
    fn open_postgres(
        url: &str,
        new_key: impl FnOnce() -> SigningKey,
    ) -> Result<Registry, HubError> {
        let pool = crate::pg::Pool::new(url, POSTGRES_CONNECTIONS)?;
        let place = pool.place();
        let conn = pool.get()?;
        versions::apply_postgres(&mut conn.conn().client(), &place)?;
        let db = conn.db();
        let key = new_key();
        let mut id = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut id);
        // A new registry's change log is complete from its first version.
        for (name, value) in [
            (KV_ISSUER_KEY, STANDARD.encode(key.to_bytes())),
            (KV_REGISTRY_ID, hex::encode(id)),
            (crate::changes::KV_EXTRACT_LOG_FROM, "0".to_string()),
        ] {
            db.execute(
                "INSERT INTO kv (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
                params![name, value],
            )?;
        }
        db.execute(
            "INSERT INTO event_totals (one, events) VALUES (1, 0) ON CONFLICT (one) DO NOTHING",
            params![],
        )?;
        let issuer = issuer_key(db)?;
        drop(conn);
        Ok(Registry::with_store(Store::Postgres(pool), issuer))
    }

    /// A connection of its own to the registry's PostgreSQL database, outside the pool (a
    /// reader thread keeps one).
    pub(crate) fn connect_postgres(&self) -> Result<custodian_ledger::sql::PgConn, HubError> {
        match &self.store {
            Store::Postgres(pool) => pool.connect(),
            Store::Sqlite(_) => Err(HubError::Internal(
                "the registry is not on PostgreSQL".into(),
            )),
        }
    }

    /// Whether the registry is kept in PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self.store, Store::Postgres(_))
    }

    /// A connection of the store, this caller's until dropped.
    pub(crate) fn conn(&self) -> Result<Conn<'_>, HubError> {
        Ok(match &self.store {
            Store::Sqlite(conn) => Conn::Sqlite(
                conn.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            ),
            Store::Postgres(pool) => Conn::Postgres(pool.get()?),
        })
    }

    pub fn resolver(&self) -> Result<String, HubError> {
        Ok(store::kv_get(&self.conn()?, KV_RESOLVER)?
            .unwrap_or_else(|| "https://id.gs1.org".into()))
    }

    pub fn set_resolver(&self, base: &str) -> Result<(), HubError> {
        store::kv_set(&self.conn()?, KV_RESOLVER, base.trim_end_matches('/'))?;
        Ok(())
    }

    pub fn add_org(&self, org: &Org) -> Result<(), HubError> {
        let guard = self.conn()?;
        // One transaction: the change and its version in the extract's log, which other hub
        // processes number after.
        let tx = guard.db().transaction()?;
        let conn = *tx;
        conn.execute(
            "INSERT INTO orgs (id, name, role, market, gln) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(id) DO UPDATE SET name = excluded.name, role = excluded.role, market = excluded.market, gln = excluded.gln",
            params![org.id, org.name, org.role, org.market, org.gln],
        )?;
        crate::changes::log(conn, "org", &org.id)?;
        Ok(tx.commit()?)
    }

    pub fn add_site(&self, org: &str, site: &str, name: &str) -> Result<(), HubError> {
        self.conn()?.db().execute(
            "INSERT INTO sites (org, id, name) VALUES (?1, ?2, ?3) ON CONFLICT(org, id) DO UPDATE SET name = excluded.name",
            params![org, site, name],
        )?;
        Ok(())
    }

    /// Registers a product or replaces its policies. A product with its own serial format
    /// (`proprietary`) needs a product code that no other product has.
    pub fn add_product(&self, p: &Product) -> Result<(), HubError> {
        let gtin = Gtin::parse(&p.gtin).map_err(|e| HubError::BadRequest(e.to_string()))?;
        let guard = self.conn()?;
        let tx = guard.db().transaction()?;
        let conn = *tx;
        let (code, pattern) = match &p.proprietary {
            Some(f) => {
                if f.product.trim().is_empty() || f.product.chars().any(char::is_control) {
                    return Err(HubError::BadRequest(format!(
                        "product code {:?}: give a code of printable characters",
                        f.product
                    )));
                }
                if let Some(other) = crate::catalog::product_by_code(conn, &f.product)?
                    .filter(|other| other.gtin != gtin.as_str())
                {
                    return Err(HubError::BadRequest(format!(
                        "product code {} is already GTIN {}'s",
                        f.product, other.gtin
                    )));
                }
                (
                    Some(f.product.as_str()),
                    Some(String::from(f.pattern.clone())),
                )
            }
            None => (None, None),
        };
        conn.execute(
            "INSERT INTO products (gtin, name, warranty_months, markets, claim_threshold, code, pattern)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(gtin) DO UPDATE SET name = excluded.name, warranty_months = excluded.warranty_months,
                 markets = excluded.markets, claim_threshold = excluded.claim_threshold,
                 code = excluded.code, pattern = excluded.pattern",
            params![gtin.as_str(), p.name, p.warranty_months, p.markets.join(","), p.claim_threshold, code, pattern],
        )?;
        crate::changes::log(conn, "product", gtin.as_str())?;
        Ok(tx.commit()?)
    }

    fn manufacturer(conn: impl AsDb) -> Result<Org, HubError> {
        let conn = conn.db();
        conn.query_row(
            "SELECT id, name, role, market, gln FROM orgs WHERE role = 'manufacturer' ORDER BY id LIMIT 1",
            [],
            |r| Ok(Org { id: r.get(0)?, name: r.get(1)?, role: r.get(2)?, market: r.get(3)?, gln: r.get(4)? }),
        )
        .optional()?
        .ok_or_else(|| HubError::BadRequest("the registry has no manufacturer organisation yet".into()))
    }

    fn first_site(conn: impl AsDb, org: &str) -> Result<String, HubError> {
        let conn = conn.db();
        Ok(conn
            .query_row(
                "SELECT id FROM sites WHERE org = ?1 ORDER BY id LIMIT 1",
                [org],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or_else(|| "main".into()))
    }

    /// Records events made by the hub itself (packing, shipping), reconciling each.
    pub fn record(&self, events: &[Event]) -> Result<(), HubError> {
        let guard = self.conn()?;
        let conn = guard.db();
        let tx = conn.transaction()?;
        let mut flags = crate::flags::FlagDocs::new();
        for e in events {
            crate::reconcile::record(&tx, &mut flags, e, Utc::now())?;
        }
        flags.write(&tx)?;
        tx.commit()?;
        Ok(())
    }

    pub(crate) fn issuer(&self) -> &SigningKey {
        &self.issuer
    }

    /// A unit's custody across all partners.
    pub fn custody(&self, code: &str) -> Result<Custody, HubError> {
        let guard = self.conn()?;
        let conn = guard.db();
        let epc = epc_of(conn, code)?
            .ok_or_else(|| HubError::BadRequest("the code names a product but no serial".into()))?;
        Ok(Custody::derive(&epc, &store::events_touching(conn, &epc)?))
    }

    /// How much the registry holds.
    pub fn counts(&self) -> Result<Counts, HubError> {
        let guard = self.conn()?;
        let conn = guard.db();
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

    /// The registry's size in its store: the SQLite file's pages, or the PostgreSQL database's
    /// size (tables, indexes and all).
    pub fn stored_bytes(&self) -> Result<u64, HubError> {
        let guard = self.conn()?;
        let sql = if self.is_postgres() {
            "SELECT pg_database_size(current_database())"
        } else {
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
        };
        let n: i64 = guard.db().query_row(sql, [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The units flag `id` lists (see [`crate::listing`]), oldest change first.
    pub fn flag_units(&self, id: &str) -> Result<Vec<custodian_ledger::docs::FlagUnit>, HubError> {
        let guard = self.conn()?;
        let conn = guard.db();
        let held: bool = conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM flags WHERE id = ?1)")?
            .query_row([id], |r| r.get(0))?;
        if !held {
            return Err(HubError::NotFound(format!("flag {id}")));
        }
        crate::listing::units_of(conn, id)
    }

    /// Every flag raised, oldest first, with its status and history as the organisations'
    /// flags documents hold them (each document read once).
    pub fn flags(&self) -> Result<Vec<HubFlag>, HubError> {
        let guard = self.conn()?;
        let conn = guard.db();
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
                for id in crate::flags::flags_docs_of(conn, &flag.org)? {
                    if let Some(bytes) = store::doc_bytes(conn, &id)? {
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
}

/// Builds a transaction reference for an ASN.
pub fn asn(id: &str) -> BizTransaction {
    BizTransaction {
        kind: custodian_ledger::manifest::ASN.into(),
        id: id.into(),
    }
}
