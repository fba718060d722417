//! The ledger: a device's (and the hub's) memory and judgement.
//!
//! Events go in; custody, manifest progress, flags and verdicts come out. The key design
//! decision is the split of state by how it merges:
//!
//! - **Facts are immutable, content-addressed events** in SQLite ([`store`]). Their id is a hash
//!   of their content, so the event set is a grow-only set merged by union: replays, double
//!   uploads and two devices recording the same fact never double count.
//! - **What people edit concurrently** — a manifest's working state, the lifecycle of flags —
//!   lives in small Automerge documents ([`docs`]), created by the hub and merged by Automerge.
//!
//! ```no_run
//! use custodian_ledger::{Ledger, Step};
//! let mut ledger = Ledger::open(std::path::Path::new("/tmp/device"))?;
//! let now = chrono::Local::now().fixed_offset();
//! let verdict = ledger.scan("]d2\u{1d}0109506000134352\u{1d}21ABC", Step::Receiving, Some("ASN-0001"), now)?;
//! println!("{}: {}", verdict.verdict.as_str(), verdict.reason);
//! # Ok::<(), custodian_ledger::Error>(())
//! ```

mod checkpoint;
pub mod csv_manifest;
pub mod custody;
pub mod docs;
pub mod epcis;
pub mod event;
pub mod extract;
pub mod hold;
pub mod import;
mod lifecycle;
pub mod manifest;
pub mod order;
pub mod quarantine;
pub mod repair;
pub mod sql;
pub mod store;
pub mod verdict;
pub mod warranty;

use std::path::{Path, PathBuf};

use automerge::AutoCommit;
use chrono::{DateTime, FixedOffset};
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

pub use checkpoint::{Checkpoints, Durability};
pub use custody::Custody;
pub use docs::{Flag, FlagKind, FlagStatus, FlagStep, ManifestStatus};
pub use event::{Epc, EpcError, Event, EventBody, EventId, Recorder};
pub use extract::RegistryExtract;
pub use lifecycle::{
    ClaimRecorded, Correction, CounterfeitNote, MAX_PHOTO_BYTES, Recorded, ReturnOutcome,
};
pub use manifest::{AfterClose, Close, Manifest, ManifestView, Progress, Receipt};
pub use order::{Order, OrderLine, OrderStatus, PickLine, Picking};
pub use quarantine::Quarantine;
pub use verdict::{Step, VerdictKind, VerificationStatus};
pub use warranty::{ClaimOutcome, ClaimValidation, Warranty};

use event::{Action, BizStep, BizTransaction, EventType};

/// Errors of the ledger. Each says what is wrong; none loses data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The SQLite file could not be read or written.
    #[error("ledger storage: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The store's database could not be read or written.
    #[error("ledger storage: {0}")]
    Sql(#[from] crate::sql::SqlError),
    /// A stored or received record is not valid JSON of the expected shape.
    #[error("ledger record: {0}")]
    Json(#[from] serde_json::Error),
    /// An Automerge document could not be loaded or changed.
    #[error("working document: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    /// The data directory could not be created or read.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The device has not been enrolled with a hub yet.
    #[error(
        "this device is not enrolled: run `custodian enroll --data DIR TOKEN` with a token from the hub"
    )]
    NotEnrolled,
    /// A named thing (manifest, flag, unit) is not in the ledger.
    #[error("{0} not found")]
    NotFound(String),
    /// Input that is not acceptable, with the reason.
    #[error("{0}")]
    Invalid(String),
}

/// A scan's outcome, as shown to the user and printed by `custodian scan`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub verdict: VerdictKind,
    pub reason: String,
    /// Decided offline and not yet confirmed by the hub.
    pub provisional: bool,
    pub epc: Option<String>,
    pub label: Option<String>,
    pub product: Option<String>,
    pub manifest: Option<String>,
    /// The event the scan recorded, if it recorded one.
    pub event: Option<String>,
}

/// A unit's biography.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub epc: String,
    pub label: String,
    pub product: Option<String>,
    pub custody: Custody,
    /// Cover as of now, when the product's policy is known.
    pub warranty: Option<Warranty>,
    /// Warranty claims, each validated as of its time.
    pub claims: Vec<warranty::Claim>,
    /// Repairs, oldest first, with the parts fitted and removed.
    pub service: Vec<repair::Repair>,
    /// Parts fitted into the unit now.
    pub parts: Vec<repair::Part>,
    /// For a part: the units it was fitted into.
    pub fitted_into: Vec<repair::Fitting>,
    pub counterfeit_reports: Vec<CounterfeitNote>,
    /// Times it was put in quarantine, oldest first, each with its release if released.
    #[serde(default)]
    pub quarantines: Vec<quarantine::Hold>,
    /// Events about the unit that were declared erroneous, and by whom.
    pub corrections: Vec<Correction>,
    pub contents: Vec<String>,
    pub flags: Vec<Flag>,
}

/// What an import stored: its events, how many of them were new, and what the reader could
/// not confirm (one line each).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Imported {
    pub events: usize,
    pub new: usize,
    pub notes: Vec<String>,
}

/// A scan as logged, whatever its verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedScan {
    pub at: String,
    pub step: String,
    pub raw: String,
    pub verdict: Verdict,
}

/// The longest raw scan text the ledger judges, in bytes: the serial reader's line bound
/// (`scanner::serial::LineConfig::default().max_len`), above what any symbol the product reads
/// can hold (a version 40 QR code, the largest, holds 7,089 digits; a GS1 element string or
/// Digital Link URI on a real label is a few hundred characters). Longer text is no barcode (a
/// scanner that never sent its terminator, a pasted file): it is judged unreadable and logged
/// cut to [`LOGGED_OVERLONG_BYTES`], never stored whole.
pub const MAX_SCAN_BYTES: usize = 8192;

/// How much of an overlong scan's text the scan log keeps, to recognise it.
pub const LOGGED_OVERLONG_BYTES: usize = 64;

const KV_RECORDER: &str = "recorder";
const KV_EXTRACT: &str = "extract";

/// One device's ledger in a data directory (`ledger.sqlite` inside it).
pub struct Ledger {
    conn: Connection,
    checkpointer: checkpoint::Checkpointer,
    dir: PathBuf,
    cache: Cache,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Ledger {
    /// Opens the ledger in `dir`, creating the directory and the database if needed.
    pub fn open(dir: &Path) -> Result<Ledger, Error> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join("ledger.sqlite");
        let mut conn = store::open(&path)?;
        // 16 MiB of page cache (SQLite's default is 2 MiB): a batch of a thousand scans changes
        // a few thousand pages of the indexes; with less, changed pages spill into the log
        // before the commit and are read back. Taken only as pages are read.
        conn.pragma_update(None, "cache_size", -16_384_i64)?;
        store::scope_manifest_docs(&conn)?;
        let checkpointer = checkpoint::Checkpointer::install(&mut conn, &path)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS scans (
                 seq      INTEGER PRIMARY KEY AUTOINCREMENT,
                 at       TEXT NOT NULL,
                 step     TEXT NOT NULL,
                 raw      TEXT NOT NULL,
                 verdict  TEXT NOT NULL
             );",
        )?;
        conn.execute_batch(store::EPCIS_EVENTS)?;
        Ok(Ledger {
            conn,
            checkpointer,
            dir: dir.to_path_buf(),
            cache: Cache::default(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Checkpoints run since the ledger was opened: off the scanning path, and by the writer
    /// itself when the log outgrew them (see the `checkpoint` module).
    pub fn checkpoints(&self) -> Checkpoints {
        self.checkpointer.counts()
    }

    /// Who this device records as; set at enrollment.
    pub fn recorder(&self) -> Result<Recorder, Error> {
        let json = store::kv_get(&self.conn, KV_RECORDER)?.ok_or(Error::NotEnrolled)?;
        Ok(serde_json::from_str(&json)?)
    }

    pub fn set_recorder(&self, recorder: &Recorder) -> Result<(), Error> {
        store::kv_set(&self.conn, KV_RECORDER, &serde_json::to_string(recorder)?)
    }

    pub fn extract(&self) -> Result<Option<RegistryExtract>, Error> {
        store::kv_get(&self.conn, KV_EXTRACT)?
            .map(|j| serde_json::from_str(&j).map_err(Error::from))
            .transpose()
    }

    pub fn set_extract(&self, extract: &RegistryExtract) -> Result<(), Error> {
        store::kv_set(&self.conn, KV_EXTRACT, &serde_json::to_string(extract)?)
    }

    pub fn kv_get(&self, key: &str) -> Result<Option<String>, Error> {
        store::kv_get(&self.conn, key)
    }

    pub fn kv_set(&self, key: &str, value: &str) -> Result<(), Error> {
        store::kv_set(&self.conn, key, value)
    }

    /// Records one scan: raw scanner text in, verdict out. The event (if any) and the scan log
    /// entry are committed in one fsynced transaction before this returns, so a verdict that
    /// was shown is never lost.
    pub fn scan(
        &mut self,
        raw: &str,
        step: Step,
        manifest: Option<&str>,
        now: DateTime<FixedOffset>,
    ) -> Result<Verdict, Error> {
        let mut verdicts = self.scan_batch(&[ScanInput {
            raw,
            step,
            manifest,
            now,
        }])?;
        verdicts
            .pop()
            .ok_or_else(|| Error::Invalid("a batch of one scan gave no verdict".into()))
    }

    /// Records several scans as one group commit: each is judged in order (a later scan sees
    /// the earlier ones, so a unit scanned twice in the batch is a duplicate), and all are
    /// committed in one fsynced transaction before any verdict is returned. Either every scan
    /// of the batch is durable or none is, so no verdict is shown for a scan that was lost.
    ///
    /// Scanners deliver bursts faster than one fsync each; batching what arrived while the
    /// previous commit was in flight keeps every scan durable before its verdict at a fraction
    /// of the cost.
    pub fn scan_batch(&mut self, scans: &[ScanInput<'_>]) -> Result<Vec<Verdict>, Error> {
        let recorder = self.recorder()?;
        self.cache.validate(&self.conn)?;
        let extract = self.cached_extract()?;
        let result = self.record_batch(&recorder, extract.as_deref(), scans);
        match result {
            Ok(verdicts) => {
                self.cache.committed(&self.conn)?;
                Ok(verdicts)
            }
            Err(e) => {
                // The cached views may hold receipts of the transaction that was rolled back.
                self.cache = Cache::default();
                Err(e)
            }
        }
    }

    fn record_batch(
        &mut self,
        recorder: &Recorder,
        extract: Option<&RegistryExtract>,
        scans: &[ScanInput<'_>],
    ) -> Result<Vec<Verdict>, Error> {
        let tx = self.conn.transaction()?;
        let mut verdicts = Vec::with_capacity(scans.len());
        for input in scans {
            if input.raw.len() > MAX_SCAN_BYTES {
                verdicts.push(record_overlong(&tx, input)?);
                continue;
            }
            // Shipping against an order picks for it; any other manifest is an ASN.
            if input.step == Step::Shipping
                && let Some(id) = input.manifest
                && let Some(order) = order::load(&tx, id)?
            {
                verdicts.push(order::pick(&tx, recorder, extract, &order, input)?);
                continue;
            }
            let view = match input.manifest {
                Some(id) => Some(self.cache.view(&tx, id)?),
                None => None,
            };
            verdicts.push(record_scan(&tx, recorder, extract, view, input)?);
        }
        tx.commit()?;
        Ok(verdicts)
    }

    /// The registry extract, parsed once and reused until the ledger changes it.
    fn cached_extract(&mut self) -> Result<Option<std::sync::Arc<RegistryExtract>>, Error> {
        if self.cache.extract.is_none() {
            self.cache.extract = Some(self.extract()?.map(std::sync::Arc::new));
        }
        Ok(self.cache.extract.clone().flatten())
    }

    /// The most recent scans, newest first.
    pub fn recent_scans(&self, limit: usize) -> Result<Vec<LoggedScan>, Error> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT at, step, raw, verdict FROM scans ORDER BY seq DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (at, step, raw, verdict) = row?;
            Ok(LoggedScan {
                at,
                step,
                raw,
                verdict: serde_json::from_str(&verdict)?,
            })
        })
        .collect()
    }

    /// Stores events from elsewhere (an EPCIS file, another ledger), all or nothing. Each must
    /// carry the id its content yields. Returns how many were new.
    pub fn store_events(&mut self, events: &[Event], local: bool) -> Result<usize, Error> {
        if let Some(bad) = events.iter().find(|e| !e.is_sealed()) {
            return Err(Error::Invalid(format!(
                "event {}: its id does not match its content",
                bad.id
            )));
        }
        self.insert_events(events, local)
    }

    /// Stores events the hub sent, all or nothing: as [`Ledger::store_events`], except that an
    /// event of another organisation may come with its private words withheld (see
    /// [`Event::disclosed`]), under its original id. Returns how many were new.
    pub fn store_shared_events(&mut self, events: &[Event]) -> Result<usize, Error> {
        // The hub is trusted (its certificate is pinned); a withheld event's id cannot be checked.
        if let Some(bad) = events
            .iter()
            .find(|e| e.withheld.is_none() && !e.is_sealed())
        {
            return Err(Error::Invalid(format!(
                "event {}: its id does not match its content",
                bad.id
            )));
        }
        self.insert_events(events, false)
    }

    fn insert_events(&mut self, events: &[Event], local: bool) -> Result<usize, Error> {
        let tx = self.conn.transaction()?;
        let mut new = 0;
        for e in events {
            if store::insert_event(&tx, e, local)?.is_some() {
                new += 1;
            }
        }
        tx.commit()?;
        Ok(new)
    }

    /// Every event the ledger holds, as an EPCIS 2.0 JSON-LD document: an event imported from
    /// a standard document as it came (every field, extensions included), the others as the
    /// ledger writes them, then the imported events it keeps without judging.
    pub fn export_epcis(&self, now: DateTime<FixedOffset>) -> Result<serde_json::Value, Error> {
        let events: Vec<Event> = store::events_after(&self.conn, 0, usize::MAX, false)?
            .into_iter()
            .map(|(_, e)| e)
            .collect();
        let mut as_they_came: std::collections::HashMap<String, Vec<serde_json::Value>> =
            std::collections::HashMap::new();
        let mut unjudged = Vec::new();
        for (judged, json) in store::epcis_kept(&self.conn)? {
            let value: serde_json::Value = serde_json::from_str(&json)?;
            match judged {
                Some(id) => as_they_came.entry(id).or_default().push(value),
                None => unjudged.push(value),
            }
        }
        Ok(epcis::export_with(
            &events,
            now,
            |e| as_they_came.remove(&e.id.0),
            unjudged,
        ))
    }

    /// Stores every event of an EPCIS 2.0 document, all or nothing (see [`epcis`] for what is
    /// refused): each as it came, and those the ledger judges also as its own events; `now` is
    /// this device's clock, which bounds their times. Events without a recorder are attributed
    /// to `external/import`.
    pub fn import_epcis(
        &mut self,
        doc: &serde_json::Value,
        now: DateTime<FixedOffset>,
    ) -> Result<Imported, Error> {
        let fallback = Recorder {
            org: "external".into(),
            site: "external".into(),
            device: "import".into(),
        };
        let read = epcis::read(doc, &fallback, now).map_err(|e| Error::Invalid(e.to_string()))?;
        if let Some(bad) = read.events.iter().find(|e| !e.is_sealed()) {
            return Err(Error::Invalid(format!(
                "event {}: its id does not match its content",
                bad.id
            )));
        }
        let tx = self.conn.transaction()?;
        let mut new = 0;
        for (json, judged) in &read.kept {
            let judged = judged.map(|i| &read.events[i]);
            let fresh_event = match judged {
                Some(e) => store::insert_event(&tx, e, false)?.is_some(),
                None => false,
            };
            let fresh_json = store::insert_epcis(&tx, json, judged.map(|e| &e.id))?;
            if fresh_event || (judged.is_none() && fresh_json) {
                new += 1;
            }
        }
        tx.commit()?;
        Ok(Imported {
            events: read.kept.len(),
            new,
            notes: read.notes,
        })
    }

    /// Imports an ASN from CSV (see [`csv_manifest`]), all or nothing; returns (events, new).
    /// Its organisations are checked against the registry extract when the device holds one,
    /// and its shipping time against `now`, this device's clock. An order (see [`order`]) is
    /// imported with [`Ledger::import_orders_csv`] instead.
    pub fn import_csv_manifest(
        &mut self,
        text: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<(usize, usize), Error> {
        let recorder = Recorder {
            org: "external".into(),
            site: "external".into(),
            device: "import".into(),
        };
        let extract = self.extract()?;
        let events = csv_manifest::import(text, &recorder, extract.as_ref(), now)?;
        let new = self.store_events(&events, false)?;
        Ok((events.len(), new))
    }

    /// Events recorded on this device after `after` (a sequence number), oldest first.
    pub fn local_events_after(&self, after: i64, limit: usize) -> Result<Vec<(i64, Event)>, Error> {
        store::events_after(&self.conn, after, limit, true)
    }

    /// As [`Ledger::local_events_after`], each event as it is stored (its JSON), for uploading.
    pub fn local_events_after_as_stored(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Box<serde_json::value::RawValue>)>, Error> {
        store::events_after_as_stored(&self.conn, after, limit, true)
    }

    /// How many events recorded on this device come after `after`, without reading them.
    pub fn local_events_after_count(&self, after: i64) -> Result<usize, Error> {
        store::local_events_after_count(&self.conn, after)
    }

    pub fn event_count(&self) -> Result<i64, Error> {
        store::event_count(&self.conn)
    }

    /// The sequence number of the newest event held (0 when none): a bound for "what was there
    /// when this began".
    pub fn last_seq(&self) -> Result<i64, Error> {
        Ok(self
            .conn
            .prepare_cached("SELECT coalesce(max(seq), 0) FROM events")?
            .query_row([], |r| r.get(0))?)
    }

    /// Every manifest (ASN) the ledger holds a shipment for, with its progress.
    pub fn manifests(&self) -> Result<Vec<Manifest>, Error> {
        store::transaction_ids(&self.conn, manifest::ASN)?
            .iter()
            .filter_map(|id| {
                self.manifest(id)
                    .map(Some)
                    .or_else(|e| {
                        if matches!(e, Error::NotFound(_)) {
                            Ok(None)
                        } else {
                            Err(e)
                        }
                    })
                    .transpose()
            })
            .collect()
    }

    /// The open receipt `code` (a logistic unit or a unit) was last shipped under, so that
    /// scanning a pallet's SSCC picks its ASN. `None` when the ledger knows no open shipment
    /// of it, or does not know the code.
    pub fn open_manifest_of(
        &self,
        code: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<Option<String>, Error> {
        let history = match self.history(code, now) {
            Ok(h) => h,
            Err(Error::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let shipping = BizStep::Shipping.as_str();
        for link in history.custody.chain.iter().rev() {
            let Some(asn) = link
                .transaction
                .as_deref()
                .filter(|_| link.step == shipping)
            else {
                continue;
            };
            match self.manifest(asn) {
                Ok(m) if m.status == ManifestStatus::Open => return Ok(Some(m.id)),
                Ok(_) | Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    pub fn manifest(&self, id: &str) -> Result<Manifest, Error> {
        let view = ManifestView::load(&self.conn, id)?
            .ok_or_else(|| Error::NotFound(format!("manifest {id}")))?;
        let state = self
            .doc(&view.doc_id())?
            .map(|d| docs::read_manifest_state(&d))
            .unwrap_or_default();
        let closes: Vec<manifest::Close> = state
            .closes
            .into_iter()
            .map(|c| manifest::Close {
                by: c.by,
                org: c.org,
                at: c.at,
                note: c.note,
                // A document from elsewhere with an unreadable record shows no unit-by-unit
                // list; the note in words still stands.
                discrepancies: c.discrepancies.and_then(|d| serde_json::from_value(d).ok()),
            })
            .collect();
        let (after_close, review) = view.after_close(&closes);
        let first = closes.first().cloned();
        Ok(Manifest {
            id: view.id.clone(),
            source: view.source.clone(),
            destination: view.destination.clone(),
            shipped_at: view.shipped_at.clone(),
            logistic_units: view.expected_logistic.len(),
            status: state.status,
            closed_by: first.as_ref().map(|c| c.by.clone()),
            closed_at: first.as_ref().map(|c| c.at.clone()),
            closing_note: first.as_ref().and_then(|c| c.note.clone()),
            discrepancies: first.and_then(|c| c.discrepancies),
            progress: view.progress_against(self.extract()?.as_ref()),
            closes,
            after_close,
            review,
        })
    }

    /// Closes a receipt: records its discrepancies (if any) in the manifest's working document,
    /// in words and unit by unit, for every partner that shares the document.
    pub fn close_manifest(
        &mut self,
        id: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<Manifest, Error> {
        let recorder = self.recorder()?;
        let doc_id = ManifestView::load(&self.conn, id)?
            .ok_or_else(|| Error::NotFound(format!("manifest {id}")))?
            .doc_id();
        let mut doc = self.doc(&doc_id)?.ok_or_else(|| {
            Error::Invalid(format!(
                "manifest {id} has no working document yet: sync with the hub, then close it"
            ))
        })?;
        let progress = self.manifest(id)?.progress;
        docs::close_manifest(
            &mut doc,
            &docs::ManifestClose {
                by: recorder.device,
                org: Some(recorder.org),
                at: now.to_rfc3339(),
                note: Some(progress.discrepancy_note()),
                discrepancies: Some(serde_json::to_value(&progress)?),
            },
        )?;
        self.save_doc(&doc_id, &mut doc)?;
        self.manifest(id)
    }

    /// Flags the hub raised for this device's organisation.
    pub fn flags(&self) -> Result<Vec<Flag>, Error> {
        let org = self.recorder()?.org;
        let mut flags = Vec::new();
        for id in self.flags_doc_ids(&org)? {
            if let Some(doc) = self.doc(&id)? {
                flags.extend(docs::read_flags(&doc));
            }
        }
        flags.sort_by(|a, b| a.raised_at.cmp(&b.raised_at).then(a.id.cmp(&b.id)));
        Ok(flags)
    }

    /// The ids of `org`'s flags documents this ledger holds, one per month flags were raised
    /// in ([`docs::flags_month_doc_id`]).
    fn flags_doc_ids(&self, org: &str) -> Result<Vec<String>, Error> {
        Ok(self
            .doc_ids()?
            .into_iter()
            .filter(|id| docs::is_flags_doc(id, org))
            .collect())
    }

    /// The units flag `id` lists (a flag stands for one cause: a receipt, a shipment, an
    /// event), as far as the hub has sent them.
    pub fn flag_units(&self, id: &str) -> Result<Vec<docs::FlagUnit>, Error> {
        store::flag_units(&self.conn, id)
    }

    /// Stores the listed units a sync brought, in one transaction.
    pub fn store_flag_units(&mut self, units: &[docs::FlagUnit]) -> Result<(), Error> {
        if units.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        store::store_flag_units(&tx, units)?;
        tx.commit()?;
        Ok(())
    }

    /// Moves a flag along its lifecycle (`seen`, `under_investigation`, `escalated`, `closed`),
    /// now, with no note. Escalating and closing need a note: use [`Ledger::move_flag`].
    pub fn set_flag_status(&mut self, id: &str, status: &str) -> Result<(), Error> {
        self.move_flag(id, status, None, chrono::Local::now().fixed_offset())
            .map(|_| ())
    }

    /// Moves a flag along its lifecycle as this device, at `at`, saying why in `note` (required
    /// to escalate or close). The move is appended to the flag's history, which syncs to the
    /// hub and the organisation's other devices; returns the flag as it now stands.
    pub fn move_flag(
        &mut self,
        id: &str,
        status: &str,
        note: Option<&str>,
        at: DateTime<FixedOffset>,
    ) -> Result<Flag, Error> {
        let status = docs::FlagStatus::parse(status)?;
        // A note travels to the hub and every device of the organisation: as long as any other
        // text a person enters, and no longer.
        if let Some(n) = note
            && n.trim().chars().count() > event::Text::MAX
        {
            return Err(Error::Invalid(format!(
                "the note is longer than {} characters: say why in fewer words",
                event::Text::MAX
            )));
        }
        let recorder = self.recorder()?;
        // The flag is in the document of the month it was raised in.
        let mut found = None;
        for doc_id in self.flags_doc_ids(&recorder.org)? {
            if let Some(doc) = self.doc(&doc_id)?
                && docs::flag_status(&doc, id).is_some()
            {
                found = Some((doc_id, doc));
                break;
            }
        }
        let (doc_id, mut doc) = found.ok_or_else(|| Error::NotFound(format!("flag {id}")))?;
        let step = docs::FlagStep {
            status,
            at: at.to_rfc3339(),
            by: recorder.device.clone(),
            org: Some(recorder.org.clone()),
            note: note.map(str::to_string),
        };
        let flag = docs::move_flag(&mut doc, id, &step)?;
        self.save_doc(&doc_id, &mut doc)?;
        Ok(flag)
    }

    /// A unit's biography from what this ledger holds. `code` is anything a scanner sends.
    pub fn history(&self, code: &str, now: DateTime<FixedOffset>) -> Result<History, Error> {
        let (scan, epc) = self.identify(code)?;
        self.history_of(&scan, &epc, now)
    }

    // --- Automerge documents, for the sync protocol ---

    pub fn doc_ids(&self) -> Result<Vec<String>, Error> {
        store::doc_ids(&self.conn)
    }

    pub fn doc(&self, id: &str) -> Result<Option<AutoCommit>, Error> {
        store::doc_bytes(&self.conn, id)?
            .map(|b| AutoCommit::load(&b).map_err(Error::from))
            .transpose()
    }

    pub fn save_doc(&self, id: &str, doc: &mut AutoCommit) -> Result<(), Error> {
        store::save_doc_bytes(&self.conn, id, &doc.save())
    }

    pub fn sync_state(&self, doc: &str, peer: &str) -> Result<Option<Vec<u8>>, Error> {
        store::sync_state(&self.conn, doc, peer)
    }

    pub fn save_sync_state(&self, doc: &str, peer: &str, state: &[u8]) -> Result<(), Error> {
        store::save_sync_state(&self.conn, doc, peer, state)
    }
}

/// One scan as it arrived: the raw scanner text, what the user was doing, the manifest it is
/// checked against, and when.
#[derive(Clone, Copy, Debug)]
pub struct ScanInput<'a> {
    pub raw: &'a str,
    pub step: Step,
    pub manifest: Option<&'a str>,
    pub now: DateTime<FixedOffset>,
}

/// What the scan path derives from the database and reuses between scans: manifest views and
/// the parsed registry extract.
///
/// **Invariant:** the cache describes the database as of the last `committed` call. It is
/// dropped whenever anything else wrote: another connection (SQLite's `data_version` moves) or
/// this one outside the scan path (its `total_changes` moved). A scan updates the views it
/// touched itself, so a long receipt never re-reads its whole manifest per scan.
#[derive(Default)]
struct Cache {
    data_version: i64,
    total_changes: u64,
    views: std::collections::HashMap<String, ManifestView>,
    extract: Option<Option<std::sync::Arc<RegistryExtract>>>,
}

impl Cache {
    fn validate(&mut self, conn: &Connection) -> Result<(), Error> {
        let version: i64 = conn.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        if version != self.data_version || conn.total_changes() != self.total_changes {
            *self = Cache {
                data_version: version,
                total_changes: conn.total_changes(),
                ..Cache::default()
            };
        }
        Ok(())
    }

    fn committed(&mut self, conn: &Connection) -> Result<(), Error> {
        self.data_version = conn.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        self.total_changes = conn.total_changes();
        Ok(())
    }

    fn view(&mut self, conn: &Connection, id: &str) -> Result<&mut ManifestView, Error> {
        if !self.views.contains_key(id) {
            let view = ManifestView::load(conn, id)?.ok_or_else(|| {
                Error::NotFound(format!("manifest {id} (import it or sync first)"))
            })?;
            self.views.insert(id.to_string(), view);
        }
        self.views
            .get_mut(id)
            .ok_or_else(|| Error::NotFound(format!("manifest {id}")))
    }
}

/// Judges one scan and records it (its event, if it is a fact, and its log entry) in `tx`.
/// A receipt recorded against a manifest is applied to its cached view at once.
fn record_scan(
    tx: &Connection,
    recorder: &Recorder,
    extract: Option<&RegistryExtract>,
    view: Option<&mut ManifestView>,
    input: &ScanInput<'_>,
) -> Result<Verdict, Error> {
    let ScanInput {
        raw,
        step,
        manifest,
        now,
    } = *input;
    let mut verdict = Verdict {
        verdict: VerdictKind::Unreadable,
        reason: String::new(),
        provisional: false,
        epc: None,
        label: None,
        product: None,
        manifest: manifest.map(str::to_string),
        event: None,
    };
    let parsed = extract::read(extract, raw);
    let epc = match &parsed {
        Err(e) => {
            verdict.reason = e.to_string();
            None
        }
        Ok(scan) => match scan.identity().as_ref().and_then(Epc::from_identity) {
            Some(epc) => Some(epc),
            None => {
                verdict.reason =
                    "the code names a product but no serial: scan the unit's serialised code"
                        .into();
                None
            }
        },
    };
    if let (Ok(scan), Some(epc)) = (&parsed, epc) {
        let contents = match &epc {
            Epc::Logistic(_) => store::contents(tx, &epc)?,
            Epc::Unit { .. } | Epc::Proprietary { .. } => Vec::new(),
        };
        let sold = is_sold(tx, &epc)?;
        let held = quarantine::current(tx, &epc)?;
        let facts = verdict::Facts {
            scan,
            epc: &epc,
            step,
            extract,
            manifest: view.as_deref(),
            contents: &contents,
            sold,
            quarantine: held.as_ref(),
            today: now.date_naive(),
        };
        let (kind, reason) = verdict::judge(&facts);
        verdict.verdict = kind;
        verdict.reason = reason;
        verdict.provisional = kind == VerdictKind::Provisional;
        verdict.label = Some(epc.label());
        verdict.product = extract
            .and_then(|x| x.product_of(&epc))
            .map(|p| p.name.clone());
        if kind.records_event() {
            let (biz_step, disposition) = kind.recorded_step(step).cbv();
            let mut body = EventBody {
                event_type: EventType::ObjectEvent,
                action: Action::Observe,
                biz_step,
                disposition: Some(disposition),
                event_time: now,
                epcs: vec![epc.clone()],
                parent: None,
                biz_transactions: Vec::new(),
                source: None,
                destination: None,
                recorder: recorder.clone(),
                extension: event::Extension {
                    lot: scan.lot().map(str::to_string),
                    expiry: scan.expiry(),
                    ..event::Extension::default()
                },
            };
            if let Some(m) = view.as_deref() {
                body.biz_transactions.push(BizTransaction {
                    kind: manifest::ASN.into(),
                    id: m.id.clone(),
                });
                if biz_step == BizStep::Receiving {
                    body.source = m.source.clone();
                    body.destination = Some(recorder.org.clone());
                }
            }
            let event = Event::new(body);
            if store::insert_event(tx, &event, true)?.is_some()
                && let Some(m) = view
            {
                m.note_event(tx, &event)?;
            }
            verdict.event = Some(event.id.0);
        }
        verdict.epc = Some(epc.uri());
    }
    tx.prepare_cached("INSERT INTO scans (at, step, raw, verdict) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![
            now.to_rfc3339(),
            step.as_str(),
            raw,
            serde_json::to_string(&verdict)?
        ])?;
    Ok(verdict)
}

/// Logs a scan whose text is longer than any barcode holds as unreadable, keeping only its
/// first [`LOGGED_OVERLONG_BYTES`] bytes: it is not parsed, and nothing of it becomes an event.
fn record_overlong(tx: &Connection, input: &ScanInput<'_>) -> Result<Verdict, Error> {
    let raw = input.raw;
    let cut = &raw[..raw.floor_char_boundary(LOGGED_OVERLONG_BYTES)];
    let verdict = Verdict {
        verdict: VerdictKind::Unreadable,
        reason: format!(
            "{} bytes arrived as one scan, more than any barcode holds ({MAX_SCAN_BYTES} at most): not a code, so not judged (it began {cut:?}); check that the scanner ends each scan with its terminator",
            raw.len()
        ),
        provisional: false,
        epc: None,
        label: None,
        product: None,
        manifest: input.manifest.map(str::to_string),
        event: None,
    };
    tx.prepare_cached("INSERT INTO scans (at, step, raw, verdict) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![
            input.now.to_rfc3339(),
            input.step.as_str(),
            format!("{cut}… ({} bytes)", raw.len()),
            serde_json::to_string(&verdict)?
        ])?;
    Ok(verdict)
}

/// Whether the ledger shows that `epc` left the channel: its life ended, or it was sold to a
/// consumer and not taken back since.
fn is_sold(conn: &Connection, epc: &Epc) -> Result<Option<verdict::Departure>, Error> {
    let one = std::slice::from_ref(epc);
    for step in [BizStep::Destroying, BizStep::Decommissioning] {
        if let Some(end) = store::last_with_step(conn, one, step, None)? {
            return Ok(Some(verdict::Departure::Ended(
                end.body.event_time.date_naive(),
            )));
        }
    }
    let Some(sale) = store::last_with_step(conn, one, BizStep::RetailSelling, None)? else {
        return Ok(None);
    };
    let back = store::last_with_step(conn, one, BizStep::Receiving, None)?;
    Ok(back
        .is_none_or(|r| r.body.event_time < sale.body.event_time)
        .then_some(verdict::Departure::Sold))
}
