//! Quarantine: a suspect unit held until someone releases it, in CBV words.
//!
//! A quarantine is an ObjectEvent `OBSERVE`, `holding` + `non_sellable_other`, with the reason
//! in `cust:quarantine`; its release is `holding` + `sellable_accessible` with a note in
//! `cust:release`. Both steps being `holding`, **the latest live `holding` event of a unit says
//! whether it is held**: one indexed lookup ([`current`]), as cheap as the "already sold" check,
//! never a fold over the unit's history. The custody fold ([`crate::Custody`]) reads the same
//! events the same way, so the verdict and the biography agree.
//!
//! Events are content-addressed, so a quarantine recorded twice (a replayed upload, an EPCIS
//! file imported again) is one event. A quarantined unit stays with its custodian; the
//! verdict warns whoever receives, ships, sells or inspects it, and what they then do is
//! recorded as usual.

use crate::sql::AsDb;
use chrono::{DateTime, FixedOffset};

use crate::custody::State;
use crate::event::{BizStep, Detail, Disposition, Event};
pub use crate::hold::{Hold, Quarantine, Release, holds};
use crate::lifecycle::{Recorded, object, text};
use crate::{Custody, Epc, Error, Ledger, store};

/// The hold `epc` is under now: its latest live `holding` event, found by index
/// ([`store::last_with_step`]), if that event is a quarantine.
pub fn current(conn: impl AsDb, epc: &Epc) -> Result<Option<Quarantine>, Error> {
    let conn = conn.db();
    Ok(last_holding(conn, epc)?.and_then(|e| Quarantine::of(&e)))
}

fn last_holding(conn: impl AsDb, epc: &Epc) -> Result<Option<Event>, Error> {
    let conn = conn.db();
    store::last_with_step(conn, std::slice::from_ref(epc), BizStep::Holding, None)
}

impl Ledger {
    /// Puts a unit in quarantine, for `reason`, as this device's organisation and site. Refused,
    /// with nothing recorded, for a code that names no serialised unit, an empty reason, a unit
    /// already in quarantine or one whose life has ended.
    pub fn quarantine(
        &mut self,
        code: &str,
        reason: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<Recorded, Error> {
        let recorder = self.recorder()?;
        let (scan, epc) = self.unit(code, "unit")?;
        let reason = text(reason, "reason")?;
        self.refuse_ended(&epc, "put in quarantine")?;
        let last = last_holding(&self.conn, &epc)?;
        if let Some(q) = last.as_ref().and_then(Quarantine::of) {
            return Err(Error::Invalid(format!(
                "{} is already {}; release it first",
                epc.label(),
                q.describe()
            )));
        }
        refuse_before(last.as_ref(), now, "was last released")?;
        let mut body = object(
            &recorder,
            BizStep::Holding,
            Some(Disposition::NonSellableOther),
            vec![epc.clone()],
            Some(&scan),
            now,
        );
        body.extension.detail = Some(Detail::Quarantine { reason });
        let events = self.record_local(&[Event::new(body)])?;
        Ok(Recorded {
            events,
            history: self.history_of(&scan, &epc, now)?,
        })
    }

    /// Releases a unit from quarantine, saying what was found in `note`. Refused, with nothing
    /// recorded, for a code that names no serialised unit, an empty note, a unit not in
    /// quarantine or one whose life has ended.
    pub fn release(
        &mut self,
        code: &str,
        note: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<Recorded, Error> {
        let recorder = self.recorder()?;
        let (scan, epc) = self.unit(code, "unit")?;
        let note = text(note, "note")?;
        self.refuse_ended(&epc, "released")?;
        let last = last_holding(&self.conn, &epc)?;
        if last.as_ref().and_then(Quarantine::of).is_none() {
            return Err(Error::Invalid(format!(
                "{} is not in quarantine: there is nothing to release",
                epc.label()
            )));
        }
        refuse_before(last.as_ref(), now, "was put in quarantine")?;
        let mut body = object(
            &recorder,
            BizStep::Holding,
            Some(Disposition::SellableAccessible),
            vec![epc.clone()],
            Some(&scan),
            now,
        );
        body.extension.detail = Some(Detail::Release { note });
        let events = self.record_local(&[Event::new(body)])?;
        Ok(Recorded {
            events,
            history: self.history_of(&scan, &epc, now)?,
        })
    }

    /// Refuses a hold or release of a unit whose life has ended: nothing can hold it any more,
    /// and a unit carrying its code is a clone.
    fn refuse_ended(&self, epc: &Epc, what: &str) -> Result<(), Error> {
        let custody = Custody::derive(epc, &store::events_touching(&self.conn, epc)?);
        if custody.state != State::Destroyed {
            return Ok(());
        }
        let when = custody
            .ended_by
            .as_ref()
            .and_then(|id| custody.chain.iter().find(|l| &l.event == id))
            .map(|l| format!(" on {}", l.time.get(..10).unwrap_or(&l.time)))
            .unwrap_or_default();
        Err(Error::Invalid(format!(
            "{}'s life ended{when} (scrapped or destroyed): it cannot be {what}; a unit with this code is a clone",
            epc.label()
        )))
    }
}

/// A new `holding` event must come after the last one, or the latest would not be the one
/// that counts: refuses when this device's clock says otherwise.
fn refuse_before(
    last: Option<&Event>,
    now: DateTime<FixedOffset>,
    what: &str,
) -> Result<(), Error> {
    match last {
        Some(e) if e.body.event_time >= now => Err(Error::Invalid(format!(
            "the unit {what} at {}, which is not before this device's clock ({}): check the clock",
            e.body.event_time.to_rfc3339(),
            now.to_rfc3339()
        ))),
        _ => Ok(()),
    }
}
