//! Manifests (ASNs): what a shipment is expected to hold, and how far its receipt has come.
//!
//! A manifest is not a separate record: it is the shipping events of one business transaction
//! (`desadv` = the ASN number) and the aggregation events that say what their logistic units
//! contain. Its progress is derived from the receiving events of the same transaction, whichever
//! device recorded them, so two devices working one ASN offline converge by merging events.
//!
//! A receipt also records the lot and expiry its scanned label carried (`cust:lot`,
//! `cust:expiry`), so progress counts what arrived expired (AI 17 before the day of receipt) or
//! recalled (by the registry extract's recall list) the same way on every device.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::event::{BizStep, Epc, Event};
use crate::extract::RegistryExtract;
use crate::{Error, store};

pub use crate::event::ASN;

/// What one ASN expects and what has been received against it.
#[derive(Clone, Debug, Default)]
pub struct ManifestView {
    pub id: String,
    /// The organisation whose shipment opened this ASN (the first, in time order): only its
    /// shipments under the number are expected. Another organisation shipping under the same
    /// number is not part of this manifest.
    pub owner: Option<String>,
    pub source: Option<String>,
    pub destination: Option<String>,
    pub shipped_at: Option<String>,
    /// Units expected (leaves of the logistic-unit hierarchy).
    pub expected_units: BTreeSet<Epc>,
    /// Logistic units expected (pallets, cases).
    pub expected_logistic: BTreeSet<Epc>,
    pub gtins: BTreeSet<String>,
    /// How many receiving events touched each unit.
    pub received: BTreeMap<Epc, u32>,
    pub received_logistic: BTreeSet<Epc>,
    /// What the labels scanned at receipt said about each unit: lots, and whether it was
    /// expired on the day it was received.
    pub labels: BTreeMap<Epc, Label>,
    /// Who received each unit and when, one entry per receiving event.
    pub receipts: BTreeMap<Epc, Vec<Receipt>>,
}

/// One receipt of a unit: the device that scanned it, and when.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Receipt {
    pub by: String,
    /// RFC 3339, with the device's offset.
    pub at: String,
}

/// What the labels scanned at receipt said about a unit. Sets and minimums, so the order the
/// receipts are applied in does not matter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Label {
    pub lots: BTreeSet<String>,
    /// The earliest expiry date that had passed on the day of its receipt.
    pub expired: Option<NaiveDate>,
}

impl ManifestView {
    /// The id of this manifest's working document (see [`crate::docs::manifest_doc_id`]).
    pub fn doc_id(&self) -> String {
        crate::docs::manifest_doc_id(self.owner.as_deref().unwrap_or_default(), &self.id)
    }

    /// Builds the view of `asn` from the events held. `Ok(None)` when no shipment has that ASN.
    pub fn load(conn: &Connection, asn: &str) -> Result<Option<ManifestView>, Error> {
        let events = store::events_in_transaction(conn, ASN, asn)?;
        if !events.iter().any(|e| e.body.biz_step == BizStep::Shipping) {
            return Ok(None);
        }
        let mut view = ManifestView {
            id: asn.to_string(),
            ..ManifestView::default()
        };
        for e in &events {
            view.note_event(conn, e)?;
        }
        Ok(Some(view))
    }

    /// Applies one event of this ASN to the view: a shipment adds to what is expected, a
    /// receipt to what was received. [`ManifestView::load`] is this over every event of the
    /// ASN, so a view kept up to date event by event equals a fresh load.
    pub fn note_event(&mut self, conn: &Connection, e: &Event) -> Result<(), Error> {
        match e.body.biz_step {
            BizStep::Shipping => {
                let shipper = &e.body.recorder.org;
                match &self.owner {
                    Some(owner) if owner != shipper => return Ok(()),
                    Some(_) => {}
                    None => self.owner = Some(shipper.clone()),
                }
                self.source = self.source.take().or_else(|| e.body.source.clone());
                self.destination = self
                    .destination
                    .take()
                    .or_else(|| e.body.destination.clone());
                self.shipped_at
                    .get_or_insert_with(|| e.body.event_time.to_rfc3339());
                for epc in &e.body.epcs {
                    self.add_expected(conn, epc, e)?;
                }
            }
            BizStep::Receiving => {
                let mut units = BTreeSet::new();
                for epc in &e.body.epcs {
                    match epc {
                        Epc::Unit { .. } | Epc::Proprietary { .. } => {
                            units.insert(epc.clone());
                        }
                        Epc::Logistic(_) => {
                            self.received_logistic.insert(epc.clone());
                            for c in store::contents_at(conn, epc, e)? {
                                if c.is_unit() {
                                    units.insert(c);
                                } else {
                                    self.received_logistic.insert(c);
                                }
                            }
                        }
                    }
                }
                let x = &e.body.extension;
                let received_on = e.body.event_time.date_naive();
                let receipt = Receipt {
                    by: e.body.recorder.device.clone(),
                    at: e.body.event_time.to_rfc3339(),
                };
                for u in units {
                    *self.received.entry(u.clone()).or_default() += 1;
                    self.receipts
                        .entry(u.clone())
                        .or_default()
                        .push(receipt.clone());
                    let label = self.labels.entry(u).or_default();
                    label.lots.extend(x.lot.iter().cloned());
                    if let Some(expiry) = x.expiry.filter(|d| *d < received_on) {
                        label.expired = Some(label.expired.map_or(expiry, |e| e.min(expiry)));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Adds what `shipment` names to what is expected: a logistic unit's contents as they were
    /// when it shipped, whatever was unpacked or repacked since.
    fn add_expected(
        &mut self,
        conn: &Connection,
        epc: &Epc,
        shipment: &Event,
    ) -> Result<(), Error> {
        match epc {
            Epc::Unit { gtin, .. } => {
                self.gtins.insert(gtin.to_string());
                self.expected_units.insert(epc.clone());
            }
            // A proprietary unit has no GTIN: it is expected, and no manifest line by GTIN
            // can say it is the wrong product.
            Epc::Proprietary { .. } => {
                self.expected_units.insert(epc.clone());
            }
            Epc::Logistic(_) => {
                self.expected_logistic.insert(epc.clone());
                for c in store::contents_at(conn, epc, shipment)? {
                    if let Epc::Unit { gtin, .. } = &c {
                        self.gtins.insert(gtin.to_string());
                        self.expected_units.insert(c);
                    } else if c.is_unit() {
                        self.expected_units.insert(c);
                    } else {
                        self.expected_logistic.insert(c);
                    }
                }
            }
        }
        Ok(())
    }

    /// Units of a logistic unit on this manifest (empty for a unit or an unknown SSCC).
    pub fn units_in(&self, conn: &Connection, epc: &Epc) -> Result<Vec<Epc>, Error> {
        Ok(store::contents(conn, epc)?
            .into_iter()
            .filter(Epc::is_unit)
            .collect())
    }

    /// Progress without a recall list (nothing counts as recalled).
    pub fn progress(&self) -> Progress {
        self.progress_against(None)
    }

    /// Progress, with received units on the extract's recall list counted as recalled.
    pub fn progress_against(&self, extract: Option<&RegistryExtract>) -> Progress {
        let scanned: Vec<&Epc> = self
            .expected_units
            .iter()
            .filter(|u| self.received.contains_key(*u))
            .collect();
        let missing: Vec<String> = self
            .expected_units
            .iter()
            .filter(|u| !self.received.contains_key(*u))
            .map(Epc::uri)
            .collect();
        let mut unexpected = Vec::new();
        let mut wrong_product = Vec::new();
        for u in self
            .received
            .keys()
            .filter(|u| !self.expected_units.contains(*u))
        {
            let wrong = u.gtin().is_some_and(|g| !self.gtins.contains(g.as_str()));
            if wrong {
                wrong_product.push(u.uri())
            } else {
                unexpected.push(u.uri())
            }
        }
        let duplicates: Vec<String> = self
            .received
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(u, _)| u.uri())
            .collect();
        let expired = self
            .labels
            .iter()
            .filter(|(_, l)| l.expired.is_some())
            .map(|(u, _)| u.uri())
            .collect();
        let recalled = self
            .received
            .keys()
            .filter(|u| {
                let Some((g, x)) = u.gtin().zip(extract) else {
                    return false;
                };
                let lots = self.labels.get(*u).map(|l| &l.lots);
                // Recalled in every lot, or in a lot one of its labels named.
                x.recall(g.as_str(), None).is_some()
                    || lots
                        .into_iter()
                        .flatten()
                        .any(|lot| x.recall(g.as_str(), Some(lot)).is_some())
            })
            .map(Epc::uri)
            .collect();
        Progress {
            expected: self.expected_units.len(),
            scanned: scanned.len(),
            missing,
            unexpected,
            wrong_product,
            duplicates,
            expired,
            recalled,
        }
    }
}

/// Live progress of a receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub expected: usize,
    pub scanned: usize,
    pub missing: Vec<String>,
    pub unexpected: Vec<String>,
    pub wrong_product: Vec<String>,
    pub duplicates: Vec<String>,
    /// Received with an expiry date (AI 17) already past.
    #[serde(default)]
    pub expired: Vec<String>,
    /// Received although on the recall list.
    #[serde(default)]
    pub recalled: Vec<String>,
}

impl Progress {
    /// True when nothing is missing, unexpected, wrong, duplicated, expired or recalled.
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty()
            && self.unexpected.is_empty()
            && self.wrong_product.is_empty()
            && self.duplicates.is_empty()
            && self.expired.is_empty()
            && self.recalled.is_empty()
    }

    /// The discrepancies in words, for a closing note.
    pub fn discrepancy_note(&self) -> String {
        if self.is_clean() {
            return "no discrepancy".into();
        }
        let mut parts = Vec::new();
        for (n, what) in [
            (self.missing.len(), "missing"),
            (self.unexpected.len(), "unexpected"),
            (self.wrong_product.len(), "wrong product"),
            (self.duplicates.len(), "duplicate"),
            (self.expired.len(), "expired"),
            (self.recalled.len(), "recalled"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        parts.join(", ")
    }
}

/// A manifest as a user sees it: the shipment, its working state and its progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub id: String,
    pub source: Option<String>,
    pub destination: Option<String>,
    pub shipped_at: Option<String>,
    pub logistic_units: usize,
    /// Closed once any device closed the receipt.
    pub status: crate::docs::ManifestStatus,
    /// The first close's device ([`Manifest::closes`] holds every close).
    pub closed_by: Option<String>,
    #[serde(default)]
    pub closed_at: Option<String>,
    pub closing_note: Option<String>,
    /// The progress as it stood when the receipt was first closed: the discrepancies accepted,
    /// unit by unit.
    #[serde(default)]
    pub discrepancies: Option<Progress>,
    pub progress: Progress,
    /// Every close, earliest first: one per device that closed the receipt. Two devices that
    /// closed offline both show.
    #[serde(default)]
    pub closes: Vec<Close>,
    /// Units received that no close counted: scanned on a device that had not yet seen the
    /// receipt closed (or after it). They are recorded like any receipt and wait for review.
    #[serde(default)]
    pub after_close: Vec<AfterClose>,
    /// What a person should look at, in words: each unit received after the receipt was closed,
    /// or closes that saw different receipts. Empty when the receipt is open, or when one close
    /// counted everything received. Closing again, having seen it all, settles it.
    #[serde(default)]
    pub review: Vec<String>,
}

/// One device's close of a receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Close {
    /// The device that closed it.
    pub by: String,
    /// Its organisation (closes written before closes were kept per device name none).
    #[serde(default)]
    pub org: Option<String>,
    /// RFC 3339, with the device's offset.
    pub at: String,
    /// The discrepancies it accepted, in words.
    pub note: Option<String>,
    /// The progress as this device saw it when it closed, unit by unit (none when the record
    /// cannot be read).
    pub discrepancies: Option<Progress>,
}

/// A unit received that no close of its receipt counted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AfterClose {
    /// The unit (EPC URI).
    pub epc: String,
    /// Every receipt of it, earliest first.
    pub receipts: Vec<Receipt>,
}

/// What one close counted as received: units received once, and units received more than once.
struct Counted<'a> {
    received: BTreeSet<&'a str>,
    duplicates: BTreeSet<&'a str>,
    /// Expected units it found missing.
    missing: BTreeSet<&'a str>,
}

impl<'a> Counted<'a> {
    fn of(p: &'a Progress) -> Counted<'a> {
        let set = |l: &'a [String]| l.iter().map(String::as_str).collect::<BTreeSet<_>>();
        let mut received = set(&p.unexpected);
        received.extend(set(&p.wrong_product));
        Counted {
            received,
            duplicates: set(&p.duplicates),
            missing: set(&p.missing),
        }
    }

    /// Whether this close counted `unit`'s receipts: received at all (an expected unit it did
    /// not find missing, or an unexpected one it listed), and a second time if it was.
    fn counts(&self, unit: &str, expected: bool, times: u32) -> bool {
        let received = if expected {
            !self.missing.contains(unit)
        } else {
            self.received.contains(unit)
        };
        received && (times <= 1 || self.duplicates.contains(unit))
    }
}

impl ManifestView {
    /// What of this receipt no close counted, and what needs a person's review, in words (see
    /// [`Manifest::after_close`] and [`Manifest::review`]). Derived from the events and the
    /// closes alone, with no clock: a device's clock may be hours off, and every device that
    /// holds the same events and closes derives the same review.
    pub fn after_close(&self, closes: &[Close]) -> (Vec<AfterClose>, Vec<String>) {
        if closes.is_empty() {
            return (Vec::new(), Vec::new());
        }
        // A close whose record cannot be read counts everything: nothing can be said against it.
        let counted: Vec<Option<Counted<'_>>> = closes
            .iter()
            .map(|c| c.discrepancies.as_ref().map(Counted::of))
            .collect();
        let mut late = Vec::new();
        let mut review = Vec::new();
        let mut counted_by = vec![true; closes.len()];
        for (unit, times) in &self.received {
            let uri = unit.uri();
            let expected = self.expected_units.contains(unit);
            let by: Vec<bool> = counted
                .iter()
                .map(|c| c.as_ref().is_none_or(|c| c.counts(&uri, expected, *times)))
                .collect();
            for (all, this) in counted_by.iter_mut().zip(&by) {
                *all &= *this;
            }
            if by.iter().any(|b| *b) {
                continue;
            }
            let mut receipts = self.receipts.get(unit).cloned().unwrap_or_default();
            receipts.sort_by(|a, b| {
                let instant = |r: &Receipt| chrono::DateTime::parse_from_rfc3339(&r.at).ok();
                instant(a).cmp(&instant(b)).then_with(|| a.cmp(b))
            });
            let seen_once = counted
                .iter()
                .flatten()
                .any(|c| c.counts(&uri, expected, 1));
            let scans: Vec<String> = receipts
                .iter()
                .map(|r| format!("{} at {}", r.by, r.at))
                .collect();
            review.push(format!(
                "{} was received {}after the receipt was closed ({}): no close counted it",
                unit.label(),
                if seen_once { "again " } else { "" },
                scans.join(", ")
            ));
            late.push(AfterClose { epc: uri, receipts });
        }
        if late.is_empty() && !counted_by.iter().any(|c| *c) {
            let each: Vec<String> = closes
                .iter()
                .map(|c| {
                    let scanned = c
                        .discrepancies
                        .as_ref()
                        .map_or_else(|| "?".to_string(), |p| p.scanned.to_string());
                    format!("{} at {} with {scanned} scanned", c.by, c.at)
                })
                .collect();
            review.push(format!(
                "closed on {} devices that had seen different receipts ({}), and {} of {} scanned now: close again to record the receipt as it stands",
                closes.len(),
                each.join("; "),
                self.expected_units
                    .iter()
                    .filter(|u| self.received.contains_key(*u))
                    .count(),
                self.expected_units.len(),
            ));
        }
        (late, review)
    }
}
