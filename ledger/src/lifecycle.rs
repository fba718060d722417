//! What happens to a unit after it leaves the channel, recorded and read back: warranty
//! registrations and claims, repairs with parts in and out, counterfeit reports, returns
//! (refurbished or scrapped) and corrections, and the unit's whole history. Quarantine and
//! release are in [`crate::quarantine`].
//!
//! Every record is a real event, written in one fsynced transaction and uploaded on the next
//! sync like a scan. Nothing is refused for what the ledger judges about the unit (a claim on an
//! unsold unit is recorded and judged invalid, so the hub can flag it too); only input that names
//! nothing, or a repair that contradicts what the ledger knows of its parts, is refused.

use chrono::{DateTime, FixedOffset};
use custodian_scanner::Scan;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::custody::State;
use crate::event::{
    Action, BizStep, BizTransaction, Defect, Detail, Disposition, ErrorDeclaration, ErrorReason,
    EventType, Extension, Photo, Text,
};
use crate::warranty::{self, ClaimValidation, Genuineness};
use crate::{
    Custody, Epc, Error, Event, EventBody, History, Ledger, Recorder, RegistryExtract, epcis,
    manifest, repair, store,
};

/// The largest photo [`Ledger::keep_photo`] keeps: a phone camera's full-resolution JPEG fits.
pub const MAX_PHOTO_BYTES: usize = 16 * 1024 * 1024;

/// The file extension of a JPEG, PNG or WebP image, told by its first bytes.
fn photo_extension(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("jpg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("webp")
    } else {
        None
    }
}

/// What a returned unit becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnOutcome {
    /// Repaired and fit to be sold again (`repairing`, `sellable_accessible`).
    Refurbished,
    /// Scrapped (`destroying`, `destroyed`): the end of its life.
    Scrapped,
}

impl ReturnOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ReturnOutcome::Refurbished => "refurbished",
            ReturnOutcome::Scrapped => "scrapped",
        }
    }

    pub fn parse(s: &str) -> Option<ReturnOutcome> {
        [ReturnOutcome::Refurbished, ReturnOutcome::Scrapped]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// Events recorded for a unit, and its history afterwards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub events: Vec<String>,
    pub history: History,
}

/// A warranty claim recorded, with its validation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRecorded {
    pub event: String,
    pub validation: ClaimValidation,
    pub history: History,
}

/// A counterfeit report in a unit's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterfeitNote {
    pub event: String,
    pub time: String,
    pub org: String,
    pub site: String,
    pub note: String,
    pub photo: Option<String>,
    pub photo_sha256: Option<String>,
}

/// An event declared erroneous.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correction {
    /// The erroneous event.
    pub declared: String,
    /// The declaration.
    pub event: String,
    pub step: String,
    pub time: String,
    pub declared_at: String,
    pub declared_by: String,
    pub reason: Option<String>,
    pub corrective: Vec<String>,
}

impl Correction {
    fn of(declaration: &Event) -> Option<Correction> {
        let d = declaration.body.extension.error_declaration.as_ref()?;
        Some(Correction {
            declared: declaration.declared_id()?.0,
            event: declaration.id.0.clone(),
            step: declaration.body.biz_step.as_str().into(),
            time: declaration.body.event_time.to_rfc3339(),
            declared_at: d.declaration_time.to_rfc3339(),
            declared_by: format!("{}/{}", d.declared_by.org, d.declared_by.device),
            reason: d.reason.map(|r| r.as_str().to_string()),
            corrective: d.corrective_event_ids.iter().map(|i| i.0.clone()).collect(),
        })
    }
}

impl Ledger {
    /// Parses what a scanner sent into the instance it names, reading it as scans are read
    /// ([`crate::extract::read`]: GS1, or a serial pattern of the cached extract).
    pub(crate) fn identify(&self, code: &str) -> Result<(Scan, Epc), Error> {
        let extract = self.extract()?;
        let scan = crate::extract::read(extract.as_ref(), code)
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let epc = scan
            .identity()
            .as_ref()
            .and_then(Epc::from_identity)
            .ok_or_else(|| Error::Invalid("the code names a product but no serial".into()))?;
        Ok((scan, epc))
    }

    /// As [`Ledger::identify`], for what must be one serialised unit (not a pallet or case).
    pub(crate) fn unit(&self, code: &str, what: &str) -> Result<(Scan, Epc), Error> {
        let (scan, epc) = self.identify(code)?;
        if !epc.is_unit() {
            return Err(Error::Invalid(format!(
                "{what} {}: a logistic unit, not a serialised unit",
                epc.label()
            )));
        }
        Ok((scan, epc))
    }
}

pub(crate) fn text(value: &str, what: &str) -> Result<Text, Error> {
    Text::parse(value).map_err(|e| Error::Invalid(format!("the {what} {e}")))
}

/// An object event about `epcs` with what the scanned label carried.
pub(crate) fn object(
    recorder: &Recorder,
    step: BizStep,
    disposition: Option<Disposition>,
    epcs: Vec<Epc>,
    scan: Option<&Scan>,
    now: DateTime<FixedOffset>,
) -> EventBody {
    EventBody {
        event_type: EventType::ObjectEvent,
        action: Action::Observe,
        biz_step: step,
        disposition,
        event_time: now,
        epcs,
        parent: None,
        biz_transactions: Vec::new(),
        source: None,
        destination: None,
        recorder: recorder.clone(),
        extension: Extension {
            lot: scan.and_then(Scan::lot).map(str::to_string),
            expiry: scan.and_then(Scan::expiry),
            ..Extension::default()
        },
    }
}

impl Ledger {
    /// Stores events recorded on this device in one durable transaction.
    pub(crate) fn record_local(&mut self, events: &[Event]) -> Result<Vec<String>, Error> {
        let tx = self.conn.transaction()?;
        for e in events {
            store::insert_event(&tx, e, true)?;
        }
        tx.commit()?;
        Ok(events.iter().map(|e| e.id.0.clone()).collect())
    }

    /// Registers a unit's warranty to `owner` (a name or customer reference). Cover starts here
    /// unless the unit was sold earlier.
    pub fn register_warranty(
        &mut self,
        code: &str,
        owner: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<Recorded, Error> {
        let recorder = self.recorder()?;
        let (scan, epc) = self.unit(code, "unit")?;
        let mut body = object(
            &recorder,
            BizStep::Other,
            None,
            vec![epc.clone()],
            Some(&scan),
            now,
        );
        body.extension.detail = Some(Detail::WarrantyRegistration {
            owner: text(owner, "owner")?,
        });
        let events = self.record_local(&[Event::new(body)])?;
        Ok(Recorded {
            events,
            history: self.history_of(&scan, &epc, now)?,
        })
    }

    /// Records a warranty claim for one defect and validates it (see [`crate::warranty`]).
    /// The claim is recorded whatever the outcome.
    pub fn claim_warranty(
        &mut self,
        code: &str,
        defect: &str,
        note: Option<&str>,
        now: DateTime<FixedOffset>,
    ) -> Result<ClaimRecorded, Error> {
        let recorder = self.recorder()?;
        let (scan, epc) = self.unit(code, "unit")?;
        let defect = Defect::parse(defect).map_err(|e| Error::Invalid(e.to_string()))?;
        let note = note.map(|n| text(n, "note")).transpose()?;
        let mut body = object(
            &recorder,
            BizStep::Inspecting,
            None,
            vec![epc.clone()],
            Some(&scan),
            now,
        );
        body.extension.detail = Some(Detail::WarrantyClaim { defect, note });
        let event = Event::new(body);
        let id = event.id.0.clone();
        self.record_local(&[event])?;
        let history = self.history_of(&scan, &epc, now)?;
        let validation = history
            .claims
            .iter()
            .find(|c| c.event == id)
            .map(|c| c.validation.clone())
            .ok_or_else(|| Error::NotFound(format!("the claim just recorded ({id})")))?;
        Ok(ClaimRecorded {
            event: id,
            validation,
            history,
        })
    }

    /// Records a repair of `unit_code`: the parts fitted (`parts_in`) and taken out
    /// (`parts_out`), each a serialised part, under one repair order (`order`, or one derived
    /// from the unit, the time and this device).
    pub fn record_repair(
        &mut self,
        unit_code: &str,
        parts_in: &[String],
        parts_out: &[String],
        order: Option<&str>,
        now: DateTime<FixedOffset>,
    ) -> Result<Recorded, Error> {
        let recorder = self.recorder()?;
        let (scan, epc) = self.unit(unit_code, "unit")?;
        let parse_parts = |codes: &[String]| -> Result<Vec<Epc>, Error> {
            let mut out: Vec<Epc> = Vec::new();
            for c in codes {
                let (_, p) = self.unit(c, "part")?;
                if p == epc {
                    return Err(Error::Invalid(format!(
                        "{} cannot be a part of itself",
                        p.label()
                    )));
                }
                if !out.contains(&p) {
                    out.push(p);
                }
            }
            Ok(out)
        };
        let fitted = parse_parts(parts_in)?;
        let removed = parse_parts(parts_out)?;
        if let Some(p) = fitted.iter().find(|p| removed.contains(p)) {
            return Err(Error::Invalid(format!(
                "{} is both fitted and removed in one repair",
                p.label()
            )));
        }
        for p in &fitted {
            let custody = Custody::derive(p, &store::events_touching(&self.conn, p)?);
            if let Some(host) = custody.installed_in {
                let where_ = if host == epc.uri() {
                    "already fitted in this unit".to_string()
                } else {
                    format!("fitted in {host}: record its removal there first")
                };
                return Err(Error::Invalid(format!("part {} is {where_}", p.label())));
            }
        }
        let order = match order {
            Some(o) => text(o, "repair order")?.to_string(),
            None => {
                let digest = Sha256::digest(
                    format!(
                        "{}\u{1d}{}\u{1d}{}",
                        epc.uri(),
                        now.to_rfc3339(),
                        recorder.device
                    )
                    .as_bytes(),
                );
                format!("R-{}", &hex::encode(digest)[..12])
            }
        };
        let bt = BizTransaction {
            kind: repair::REPAIR.into(),
            id: order,
        };
        let mut events = Vec::new();
        let mut repairing = object(
            &recorder,
            BizStep::Repairing,
            Some(Disposition::InProgress),
            vec![epc.clone()],
            Some(&scan),
            now,
        );
        repairing.biz_transactions.push(bt.clone());
        events.push(Event::new(repairing));
        for (parts, step, action) in [
            (removed, BizStep::Removing, Action::Delete),
            (fitted, BizStep::Installing, Action::Add),
        ] {
            if parts.is_empty() {
                continue;
            }
            let mut body = object(&recorder, step, None, parts, None, now);
            body.event_type = EventType::AggregationEvent;
            body.action = action;
            body.parent = Some(epc.clone());
            body.biz_transactions.push(bt.clone());
            events.push(Event::new(body));
        }
        let events = self.record_local(&events)?;
        Ok(Recorded {
            events,
            history: self.history_of(&scan, &epc, now)?,
        })
    }

    /// Keeps a photo taken as evidence in the ledger's `photos/` directory under the SHA-256
    /// of its bytes (`photos/HASH.jpg`), and returns its record for an event. The same photo
    /// kept twice is one file. Only JPEG, PNG and WebP images of at most [`MAX_PHOTO_BYTES`]
    /// are kept.
    pub fn keep_photo(&self, bytes: &[u8]) -> Result<Photo, Error> {
        if bytes.len() > MAX_PHOTO_BYTES {
            return Err(Error::Invalid(format!(
                "the photo is {} bytes, more than the {MAX_PHOTO_BYTES} a photo may have",
                bytes.len()
            )));
        }
        let extension = photo_extension(bytes)
            .ok_or_else(|| Error::Invalid("the photo is not a JPEG, PNG or WebP image".into()))?;
        let hash = hex::encode(Sha256::digest(bytes));
        let name = format!("photos/{hash}.{extension}");
        let path = self.dir().join(&name);
        if !path.exists() {
            let dir = self.dir().join("photos");
            let io = |source| Error::Io {
                path: dir.clone(),
                source,
            };
            std::fs::create_dir_all(&dir).map_err(io)?;
            // Written aside and renamed, so a cut never leaves a partial photo under its hash.
            let partial = dir.join(format!("{hash}.partial"));
            std::fs::write(&partial, bytes)
                .and_then(|()| std::fs::File::open(&partial)?.sync_all())
                .and_then(|()| std::fs::rename(&partial, &path))
                .map_err(io)?;
        }
        let reference = Text::parse(&name).map_err(|e| Error::Invalid(e.to_string()))?;
        Ok(Photo::of_bytes(reference, bytes))
    }

    /// Reports a unit counterfeit, with a note and optionally a photo's record.
    pub fn report_counterfeit(
        &mut self,
        code: &str,
        note: &str,
        photo: Option<Photo>,
        now: DateTime<FixedOffset>,
    ) -> Result<Recorded, Error> {
        let recorder = self.recorder()?;
        let (scan, epc) = self.unit(code, "unit")?;
        let mut body = object(
            &recorder,
            BizStep::Inspecting,
            Some(Disposition::NonSellableOther),
            vec![epc.clone()],
            Some(&scan),
            now,
        );
        body.extension.detail = Some(Detail::CounterfeitReport {
            note: text(note, "note")?,
            photo,
        });
        let events = self.record_local(&[Event::new(body)])?;
        Ok(Recorded {
            events,
            history: self.history_of(&scan, &epc, now)?,
        })
    }

    /// Takes a unit back (CBV `receiving` + `returned`, unless this organisation already holds
    /// it as returned) and records what it becomes: refurbished (`repairing` +
    /// `sellable_accessible`: it keeps its serial and genealogy) or scrapped (`destroying` +
    /// `destroyed`: its life ends).
    pub fn return_unit(
        &mut self,
        code: &str,
        outcome: ReturnOutcome,
        now: DateTime<FixedOffset>,
    ) -> Result<Recorded, Error> {
        let recorder = self.recorder()?;
        let (scan, epc) = self.unit(code, "unit")?;
        let custody = Custody::derive(&epc, &store::events_touching(&self.conn, &epc)?);
        let mut events = Vec::new();
        if !(custody.state == State::Returned && custody.custodian.as_ref() == Some(&recorder.org))
        {
            events.push(Event::new(object(
                &recorder,
                BizStep::Receiving,
                Some(Disposition::Returned),
                vec![epc.clone()],
                Some(&scan),
                now,
            )));
        }
        let (step, disposition) = match outcome {
            ReturnOutcome::Refurbished => (BizStep::Repairing, Disposition::SellableAccessible),
            ReturnOutcome::Scrapped => (BizStep::Destroying, Disposition::Destroyed),
        };
        events.push(Event::new(object(
            &recorder,
            step,
            Some(disposition),
            vec![epc.clone()],
            Some(&scan),
            now,
        )));
        let events = self.record_local(&events)?;
        Ok(Recorded {
            events,
            history: self.history_of(&scan, &epc, now)?,
        })
    }

    /// Declares an event this organisation recorded erroneous (EPCIS error declaration).
    /// Derived views ignore it from then on; `corrective` names events recorded to replace it.
    pub fn declare_error(
        &mut self,
        event_id: &str,
        reason: Option<ErrorReason>,
        corrective: &[String],
        now: DateTime<FixedOffset>,
    ) -> Result<Correction, Error> {
        let recorder = self.recorder()?;
        let original = store::event_by_id(&self.conn, event_id)?
            .ok_or_else(|| Error::NotFound(format!("event {event_id}")))?;
        if original.body.extension.error_declaration.is_some() {
            return Err(Error::Invalid(format!(
                "event {event_id} is itself an error declaration"
            )));
        }
        if original.body.recorder.org != recorder.org {
            return Err(Error::Invalid(format!(
                "event {event_id} was recorded by {}: only that organisation can declare it erroneous",
                original.body.recorder.org
            )));
        }
        if store::is_declared(&self.conn, event_id)? {
            return Err(Error::Invalid(format!(
                "event {event_id} is already declared erroneous"
            )));
        }
        let mut corrective_ids = Vec::new();
        for c in corrective {
            let e = store::event_by_id(&self.conn, c)?
                .ok_or_else(|| Error::NotFound(format!("corrective event {c}")))?;
            corrective_ids.push(e.id);
        }
        let declaration = Event::declaring_error(
            &original,
            ErrorDeclaration {
                declaration_time: now,
                reason,
                corrective_event_ids: corrective_ids,
                declared_by: recorder,
            },
        );
        self.record_local(std::slice::from_ref(&declaration))?;
        Correction::of(&declaration)
            .ok_or_else(|| Error::Invalid("the declaration carries no declaration".into()))
    }

    /// The outbound manifest of shipment `id` (an ASN) as an EPCIS 2.0 document: its shipping
    /// events and the aggregation events that say what its logistic units contain, as far as
    /// they happened before it left.
    pub fn manifest_epcis(
        &self,
        id: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<serde_json::Value, Error> {
        let shipments: Vec<Event> = store::events_in_transaction(&self.conn, manifest::ASN, id)?
            .into_iter()
            .filter(|e| e.body.biz_step == BizStep::Shipping)
            .collect();
        let Some(left) = shipments.iter().map(|e| e.body.event_time).max() else {
            return Err(Error::NotFound(format!("shipment {id}")));
        };
        let mut events = shipments.clone();
        let mut stack: Vec<Epc> = shipments
            .iter()
            .flat_map(|e| e.body.epcs.iter())
            .filter(|e| matches!(e, Epc::Logistic(_)))
            .cloned()
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        while let Some(parent) = stack.pop() {
            if !seen.insert(parent.clone()) {
                continue;
            }
            for e in store::events_naming(&self.conn, &parent)? {
                if e.body.event_type == EventType::AggregationEvent
                    && e.body.parent.as_ref() == Some(&parent)
                    && e.body.event_time <= left
                    && !events.iter().any(|x| x.id == e.id)
                {
                    stack.extend(
                        e.body
                            .epcs
                            .iter()
                            .filter(|c| matches!(c, Epc::Logistic(_)))
                            .cloned(),
                    );
                    events.push(e);
                }
            }
        }
        events.sort_by(Event::fold_order);
        Ok(epcis::export(&events, now))
    }

    /// How far this ledger can tell that the unit is genuine.
    fn genuineness(
        scan: &Scan,
        epc: &Epc,
        extract: Option<&RegistryExtract>,
        events: &[Event],
    ) -> Genuineness {
        if let Some(x) = extract {
            if let (Epc::Unit { gtin, serial }, Some(sig)) = (epc, scan.signature()) {
                if !x.signature_valid(gtin.as_str(), serial, sig) {
                    return Genuineness::Counterfeit(
                        "the AI 8030 signature does not verify".into(),
                    );
                }
                return Genuineness::Confirmed;
            }
            if epc.is_unit()
                && let Some(a) = x.alert(&epc.uri())
            {
                return Genuineness::Counterfeit(format!(
                    "on the counterfeit alert list ({})",
                    a.reason
                ));
            }
        }
        if events
            .iter()
            .any(|e| e.body.biz_step == BizStep::Commissioning)
        {
            Genuineness::Confirmed
        } else {
            Genuineness::Unconfirmed
        }
    }

    /// A unit's biography: custody, warranty and claims, repairs and parts, reports,
    /// corrections and flags.
    pub(crate) fn history_of(
        &self,
        scan: &Scan,
        epc: &Epc,
        now: DateTime<FixedOffset>,
    ) -> Result<History, Error> {
        let events = store::events_touching(&self.conn, epc)?;
        let own: Vec<Event> = events.iter().filter(|e| e.names(epc)).cloned().collect();
        let custody = Custody::derive(epc, &events);
        let extract = self.extract()?;
        let product = extract.as_ref().and_then(|x| x.product_of(epc));
        let genuine = Self::genuineness(scan, epc, extract.as_ref(), &events);
        let flags = match self.flags() {
            Ok(all) => all.into_iter().filter(|f| f.epc == epc.uri()).collect(),
            Err(Error::NotEnrolled) => Vec::new(),
            Err(e) => return Err(e),
        };
        let counterfeit_reports = own
            .iter()
            .filter_map(|e| match e.detail() {
                Some(Detail::CounterfeitReport { note, photo }) => Some(CounterfeitNote {
                    event: e.id.0.clone(),
                    time: e.body.event_time.to_rfc3339(),
                    org: e.body.recorder.org.clone(),
                    site: e.body.recorder.site.clone(),
                    note: note.to_string(),
                    photo: photo.as_ref().map(|p| p.reference.to_string()),
                    photo_sha256: photo.as_ref().map(|p| p.sha256.as_str().to_string()),
                }),
                _ => None,
            })
            .collect();
        let mut corrections: Vec<Correction> = store::declarations_naming(&self.conn, epc)?
            .iter()
            .filter_map(Correction::of)
            .collect();
        // The order the declarations arrived in differs between devices; the history must not.
        corrections
            .sort_by(|a, b| (&a.declared_at, &a.declared).cmp(&(&b.declared_at, &b.declared)));
        Ok(History {
            label: epc.label(),
            epc: epc.uri(),
            product: product.map(|p| p.name.clone()),
            warranty: warranty::status(product, &own, now),
            claims: warranty::claims(epc, product, &genuine, &own),
            service: repair::service_history(epc, &own),
            parts: repair::current_parts(epc, &own),
            fitted_into: repair::fittings(epc, &own),
            counterfeit_reports,
            quarantines: crate::hold::holds(&own),
            corrections,
            contents: store::contents(&self.conn, epc)?
                .iter()
                .map(Epc::uri)
                .collect(),
            custody,
            flags,
        })
    }
}
