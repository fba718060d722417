//! The hub's flags: one type ([`HubFlag`]), kept in each organisation's flags documents. A
//! flag is raised from a draft or for a cause that lists its units ([`crate::listing`]); the
//! flags one transaction raises are gathered in a [`FlagDocs`] and written into each
//! organisation's documents (one per month they were raised in) with one load and one save
//! ([`FlagDocs::write`]). A flag's id derives from its fact (`flag_id`), so a fact is flagged
//! once however often the events that reveal it arrive.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use automerge::AutoCommit;
use automerge::ReadDoc;
use automerge::transaction::Transactable;
use chrono::{DateTime, Utc};
use custodian_ledger::sql::{AsDb, OptionalExtension, params};
use custodian_ledger::{Epc, Event, FlagKind, docs, store};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{HUB_DEVICE, HubError};

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

/// Makes sure `org`'s flags document `id` exists and is in its scope.
fn ensure_flags_doc(conn: impl AsDb, org: &str, id: &str) -> Result<(), HubError> {
    let conn = conn.db();
    // The existence check does not read the document.
    let held: i64 = conn.query_row("SELECT count(*) FROM docs WHERE id = ?1", [id], |r| {
        r.get(0)
    })?;
    if held == 0 {
        let mut doc = docs::new_flags_doc(org, HUB_DEVICE.as_bytes())?;
        store::save_doc_bytes(conn, id, &doc.save())?;
    }
    conn.execute(
        "INSERT OR IGNORE INTO doc_scope (doc, org) VALUES (?1, ?2)",
        [id, org],
    )?;
    Ok(())
}

/// One flag per fact: a kind of problem with one unit at one organisation. Seeing the same
/// diverted unit again, or the same event replayed, raises nothing new.
pub(crate) fn flag_id(kind: &FlagKind, epc: &Epc, org_fact: &str) -> String {
    let digest = Sha256::new()
        .chain_update(kind.as_str())
        .chain_update("\u{1d}")
        .chain_update(epc.uri())
        .chain_update("\u{1d}")
        .chain_update(org_fact)
        .finalize();
    format!("flag-{}", hex::encode(&digest[..12]))
}

/// The placeholder a flag's summary holds for its count of units (see [`crate::listing`]).
pub const UNITS: &str = "{units}";

pub(crate) fn new_flag(
    id: String,
    kind: FlagKind,
    org: &str,
    unit: &Epc,
    reason: String,
    event: Option<&Event>,
    now: DateTime<Utc>,
) -> HubFlag {
    HubFlag {
        org: org.into(),
        flag: docs::Flag {
            id,
            kind,
            epc: unit.uri(),
            reason,
            event: event.map(|e| e.id.0.clone()).unwrap_or_default(),
            raised_at: now.to_rfc3339(),
            status: docs::FlagStatus::New,
            history: Vec::new(),
            units: 1,
            open_units: 1,
        },
    }
}

/// The flags raised in one transaction, on their way into their organisations' documents.
///
/// Each organisation's document is loaded at its first flag and saved once by [`FlagDocs::write`],
/// however many flags the transaction raises for it (a pallet received outside its channel
/// raises one per unit). The flags table row is written at once, so a flag's id still decides
/// whether it is new within the batch.
#[derive(Default)]
#[must_use = "flags reach their organisations' documents only through FlagDocs::write"]
pub struct FlagDocs {
    /// Flags document id → the document with this batch's additions, and its organisation.
    docs: BTreeMap<String, (String, AutoCommit)>,
    /// The documents this batch changed (only those are saved).
    changed: BTreeSet<String>,
    /// Listing flags whose units changed, by organisation: their reasons and counts are
    /// restated from the flags table once, when the batch is written.
    touched: BTreeMap<String, BTreeSet<String>>,
    /// Flags known closed or open in this batch, by id (a batch lists thousands of units under
    /// one flag; its document is read once for it).
    closed: BTreeMap<String, bool>,
    /// The document each flag this batch met is in, by id.
    homes: BTreeMap<String, String>,
    /// The manufacturer's organisation, read once per batch (checks ask for it per unit).
    maker: Option<Option<String>>,
    /// The open listing flag each cause met in this batch lists its units under, by cause (a
    /// receipt of thousands of units finds its flag once); forgotten when the flag closes.
    open_by_cause: BTreeMap<String, String>,
    /// Units listed in this batch under each flag, by id, not yet counted in the flags table:
    /// counted once per flag when the counts are read ([`FlagDocs::count_listed`]), not with
    /// an update per unit.
    listed: BTreeMap<String, i64>,
}

impl FlagDocs {
    pub fn new() -> FlagDocs {
        FlagDocs::default()
    }

    /// The manufacturer's organisation ([`crate::catalog::manufacturer_id`]), read once per batch.
    pub(crate) fn maker(&mut self, conn: impl AsDb) -> Result<Option<String>, HubError> {
        let conn = conn.db();
        if let Some(maker) = &self.maker {
            return Ok(maker.clone());
        }
        let maker = crate::catalog::manufacturer_id(conn)?;
        self.maker = Some(maker.clone());
        Ok(maker)
    }

    /// The open listing flag of `cause` this batch met, if any.
    pub(crate) fn open_for_cause(&self, cause: &str) -> Option<&str> {
        self.open_by_cause.get(cause).map(String::as_str)
    }

    /// Notes that listing flag `id` is the open one of `cause`.
    pub(crate) fn set_open_for_cause(&mut self, cause: &str, id: &str) {
        self.open_by_cause.insert(cause.to_string(), id.to_string());
    }

    /// Notes that flag `id` of `org` lists one unit more (see [`crate::listing`]).
    pub(crate) fn listed(&mut self, org: &str, id: &str) {
        *self.listed.entry(id.to_string()).or_default() += 1;
        self.touch(org, id);
    }

    /// Counts the units listed in this batch into the flags table (`units`, `open_units`):
    /// before anything reads those counts.
    pub(crate) fn count_listed(&mut self, conn: impl AsDb) -> Result<(), HubError> {
        let conn = conn.db();
        let mut update = conn.prepare_cached(
            "UPDATE flags SET units = units + ?2, open_units = open_units + ?2 WHERE id = ?1",
        )?;
        for (id, n) in std::mem::take(&mut self.listed) {
            update.execute(params![id, n])?;
        }
        Ok(())
    }

    /// Notes that listing flag `id` of `org` changed its units (see [`crate::listing`]).
    pub(crate) fn touch(&mut self, org: &str, id: &str) {
        self.touched
            .entry(org.to_string())
            .or_default()
            .insert(id.to_string());
    }

    /// Whether flag `id` of `org` is closed, as its document says.
    pub(crate) fn is_closed(
        &mut self,
        conn: impl AsDb,
        org: &str,
        id: &str,
    ) -> Result<bool, HubError> {
        let conn = conn.db();
        if let Some(closed) = self.closed.get(id) {
            return Ok(*closed);
        }
        let doc = self.doc_of(conn, org, id)?;
        let closed = docs::flag_status(doc, id) == Some(docs::FlagStatus::Closed);
        self.closed.insert(id.to_string(), closed);
        Ok(closed)
    }

    /// Records `flag` unless one with its id was raised before; returns it when it is new. It
    /// goes into its organisation's document for the month it is raised in.
    pub(crate) fn store(
        &mut self,
        conn: impl AsDb,
        flag: HubFlag,
    ) -> Result<Option<HubFlag>, HubError> {
        let conn = conn.db();
        let home = docs::flags_month_doc_id(&flag.org, &flag.raised_at);
        let inserted = conn.execute(
            "INSERT OR IGNORE INTO flags (id, kind, org, epc, reason, event, raised_at, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![flag.id, flag.kind.as_str(), flag.org, flag.epc, flag.reason, flag.event, flag.raised_at, home],
        )?;
        if inserted == 0 {
            return Ok(None);
        }
        self.homes.insert(flag.id.clone(), home.clone());
        self.changed.insert(home.clone());
        let doc = self.doc(conn, &flag.org, &home)?;
        docs::add_flag(doc, &flag.flag)?;
        Ok(Some(flag))
    }

    /// Rewrites the reason of flag `id` of `org` (the hub alone writes reasons).
    pub(crate) fn restate(
        &mut self,
        conn: impl AsDb,
        org: &str,
        id: &str,
        reason: &str,
    ) -> Result<(), HubError> {
        let conn = conn.db();
        conn.execute(
            "UPDATE flags SET reason = ?2 WHERE id = ?1",
            params![id, reason],
        )?;
        let home = self.home(conn, org, id)?;
        let doc = self.doc(conn, org, &home)?;
        if let Some((automerge::Value::Object(automerge::ObjType::Map), entry)) = doc
            .get(automerge::ROOT, id)
            .map_err(custodian_ledger::Error::from)?
        {
            doc.put(&entry, "reason", reason)
                .map_err(custodian_ledger::Error::from)?;
            doc.commit();
            self.changed.insert(home);
        }
        Ok(())
    }

    /// Closes flag `id` of `org` as the hub, saying why, unless it is closed already. Returns
    /// whether it closed it.
    pub(crate) fn close(
        &mut self,
        conn: impl AsDb,
        org: &str,
        id: &str,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, HubError> {
        let conn = conn.db();
        let home = self.home(conn, org, id)?;
        let doc = self.doc(conn, org, &home)?;
        let step = docs::FlagStep {
            status: docs::FlagStatus::Closed,
            at: now.to_rfc3339(),
            by: HUB_DEVICE.into(),
            org: None,
            note: Some(note.to_string()),
        };
        let moved = docs::move_flag(doc, id, &step);
        self.closed.remove(id);
        self.open_by_cause.retain(|_, open| open != id);
        match moved {
            Ok(_) => {
                self.changed.insert(home);
                Ok(true)
            }
            // Closed already, or not in the document: nothing to do.
            Err(custodian_ledger::Error::Invalid(_) | custodian_ledger::Error::NotFound(_)) => {
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The id of the document flag `id` of `org` is in: its month's, or the organisation's
    /// document from before flags were kept by month.
    fn home(&mut self, conn: impl AsDb, org: &str, id: &str) -> Result<String, HubError> {
        let conn = conn.db();
        if let Some(home) = self.homes.get(id) {
            return Ok(home.clone());
        }
        let home = flag_home(conn, org, id)?;
        self.homes.insert(id.to_string(), home.clone());
        Ok(home)
    }

    /// The document flag `id` of `org` is in, as this batch has it.
    fn doc_of(
        &mut self,
        conn: impl AsDb,
        org: &str,
        id: &str,
    ) -> Result<&mut AutoCommit, HubError> {
        let conn = conn.db();
        let home = self.home(conn, org, id)?;
        self.doc(conn, org, &home)
    }

    /// `org`'s flags document `id` as this batch has it, loaded (or created) at first use.
    fn doc(&mut self, conn: impl AsDb, org: &str, id: &str) -> Result<&mut AutoCommit, HubError> {
        let conn = conn.db();
        Ok(match self.docs.entry(id.to_string()) {
            Entry::Occupied(e) => &mut e.into_mut().1,
            Entry::Vacant(e) => {
                ensure_flags_doc(conn, org, id)?;
                &mut e.insert((org.to_string(), load_flags_doc(conn, id)?)).1
            }
        })
    }

    /// Saves every document this batch changed, each once, in the caller's transaction.
    pub fn write(mut self, conn: impl AsDb) -> Result<(), HubError> {
        let conn = conn.db();
        self.count_listed(conn)?;
        for (org, ids) in std::mem::take(&mut self.touched) {
            for id in ids {
                // A flag listing more than one unit says how many in its reason.
                let (reason, units, open): (String, i64, i64) = conn
                    .prepare_cached(
                        "UPDATE flags SET reason = replace(summary, ?2, CAST(units AS TEXT))
                         WHERE id = ?1 AND units > 1 AND summary IS NOT NULL",
                    )?
                    .execute(params![id, UNITS])
                    .and_then(|_| {
                        conn.prepare_cached(
                            "SELECT reason, units, open_units FROM flags WHERE id = ?1",
                        )
                    })?
                    .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                let count = |n: i64| u64::try_from(n).unwrap_or(0);
                let home = self.home(conn, &org, &id)?;
                let doc = self.doc(conn, &org, &home)?;
                if docs::restate_listing(doc, &id, &reason, count(units), count(open))? {
                    self.changed.insert(home);
                }
            }
        }
        for (id, (_, mut doc)) in self.docs {
            if !self.changed.contains(&id) {
                continue;
            }
            store::save_doc_bytes(conn, &id, &doc.save())?;
        }
        Ok(())
    }
}

/// The id of the document flag `id` of `org` is in (see [`FlagDocs::home`]).
fn flag_home(conn: impl AsDb, org: &str, id: &str) -> Result<String, HubError> {
    let conn = conn.db();
    let home: Option<Option<String>> = conn
        .prepare_cached("SELECT doc FROM flags WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    Ok(home.flatten().unwrap_or_else(|| docs::flags_doc_id(org)))
}

/// The ids of `org`'s flags documents, oldest month first (the one from before flags were kept
/// by month before them all).
pub(crate) fn flags_docs_of(conn: impl AsDb, org: &str) -> Result<Vec<String>, HubError> {
    let conn = conn.db();
    let mut stmt = conn.prepare_cached("SELECT doc FROM doc_scope WHERE org = ?1 ORDER BY doc")?;
    let ids = stmt.query_map([org], |r| r.get::<_, String>(0))?;
    let mut docs = Vec::new();
    for id in ids {
        let id = id?;
        if docs::is_flags_doc(&id, org) {
            docs.push(id);
        }
    }
    Ok(docs)
}

fn load_flags_doc(conn: impl AsDb, id: &str) -> Result<AutoCommit, HubError> {
    let conn = conn.db();
    let bytes =
        store::doc_bytes(conn, id)?.ok_or_else(|| HubError::Internal(format!("{id} vanished")))?;
    Ok(AutoCommit::load(&bytes).map_err(custodian_ledger::Error::from)?)
}

/// Gives the flags of documents written before flags kept a history their history list, once
/// per registry, so devices can move them (only the hub creates containers).
pub fn add_missing_histories(conn: impl AsDb) -> Result<(), HubError> {
    let conn = conn.db();
    const DONE: &str = "flag-histories";
    if store::kv_get(conn, DONE)?.is_some() {
        return Ok(());
    }
    for id in store::doc_ids(conn)? {
        if !id.starts_with("flags/") {
            continue;
        }
        let Some(bytes) = store::doc_bytes(conn, &id)? else {
            continue;
        };
        let mut doc = AutoCommit::load(&bytes).map_err(custodian_ledger::Error::from)?;
        if docs::add_missing_histories(&mut doc)? {
            store::save_doc_bytes(conn, &id, &doc.save())?;
        }
    }
    store::kv_set(conn, DONE, "1")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "tests fail loudly on any unexpected error"
    )]

    use super::*;

    /// Flag ids are stored (as flags' ids and listed units' keys), so how one is derived never
    /// changes: the first 96 bits of SHA-256 over kind, unit URI and fact, separated by U+001D.
    #[test]
    fn a_flag_id_is_derived_as_it_always_was() {
        let unit = Epc::Unit {
            gtin: custodian_scanner::Gtin::parse("04012345000016").unwrap(),
            serial: "A/1%".into(),
        };
        let text = "out_of_sequence\u{1d}https://id.gs1.org/01/04012345000016/21/A%2F1%25\u{1d}dist-a\u{1d}received";
        let expected = format!(
            "flag-{}",
            &hex::encode(Sha256::digest(text.as_bytes()))[..24]
        );
        assert_eq!(
            unit.uri(),
            "https://id.gs1.org/01/04012345000016/21/A%2F1%25"
        );
        assert_eq!(
            flag_id(&FlagKind::OutOfSequence, &unit, "dist-a\u{1d}received"),
            expected
        );
    }
}
