//! Holds, read from events alone: the quarantine a `holding` event puts a unit under, and the
//! holds among a unit's events with their releases. Pure, so the custody fold, a unit's
//! biography and the scan path read holds one way; recording them is [`crate::quarantine`]'s.

use serde::{Deserialize, Serialize};

use crate::event::{BizStep, Detail, Disposition, Event};

/// The hold a unit is under.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantine {
    /// The quarantine event.
    pub event: String,
    /// When the hold began (RFC 3339, the recording device's offset).
    pub since: String,
    /// The organisation and site that put it in quarantine.
    pub org: String,
    pub site: String,
    pub reason: String,
}

impl Quarantine {
    /// The hold a `holding` event leaves its units under: a quarantine for `non_sellable_other`
    /// (with its reason, or a note that the recorder gave none, for events from other EPCIS
    /// systems), none for any other disposition, which lifts a hold.
    pub fn of(e: &Event) -> Option<Quarantine> {
        let b = &e.body;
        if b.biz_step != BizStep::Holding || b.disposition != Some(Disposition::NonSellableOther) {
            return None;
        }
        let reason = match e.detail() {
            Some(Detail::Quarantine { reason }) => reason.to_string(),
            _ => "no reason recorded".into(),
        };
        Some(Quarantine {
            event: e.id.0.clone(),
            since: b.event_time.to_rfc3339(),
            org: b.recorder.org.clone(),
            site: b.recorder.site.clone(),
            reason,
        })
    }

    /// The day the hold began, `YYYY-MM-DD`.
    pub fn date(&self) -> &str {
        self.since.get(..10).unwrap_or(&self.since)
    }

    /// "in quarantine since 2026-11-20 (by dist-a): the reason".
    pub fn describe(&self) -> String {
        format!(
            "in quarantine since {} (by {}): {}",
            self.date(),
            self.org,
            self.reason
        )
    }
}

/// A hold in a unit's history, and its release if it was released.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    #[serde(flatten)]
    pub quarantine: Quarantine,
    pub released: Option<Release>,
}

/// The release of a hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub event: String,
    pub at: String,
    pub org: String,
    pub site: String,
    pub note: Option<String>,
}

/// The holds among a unit's own live events (in fold order), oldest first.
pub fn holds(events: &[Event]) -> Vec<Hold> {
    let mut out: Vec<Hold> = Vec::new();
    for e in events
        .iter()
        .filter(|e| e.body.biz_step == BizStep::Holding)
    {
        if let Some(q) = Quarantine::of(e) {
            // A second quarantine while held (by another device, offline) starts no new hold.
            if out.last().is_none_or(|h| h.released.is_some()) {
                out.push(Hold {
                    quarantine: q,
                    released: None,
                });
            }
        } else if let Some(open) = out.last_mut().filter(|h| h.released.is_none()) {
            open.released = Some(Release {
                event: e.id.0.clone(),
                at: e.body.event_time.to_rfc3339(),
                org: e.body.recorder.org.clone(),
                site: e.body.recorder.site.clone(),
                note: match e.detail() {
                    Some(Detail::Release { note }) => Some(note.to_string()),
                    _ => None,
                },
            });
        }
    }
    out
}
