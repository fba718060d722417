//! Custody of one unit, derived from the events that bear on it (its own, its containers' while
//! it was inside them, and for a part, the unit's while it was fitted).
//!
//! Pure: the caller gathers the live events (see [`crate::store::events_touching`]); the same
//! derivation runs on a device over its partial view and on the hub over everyone's.
//!
//! The life of a unit: issued → in transit → held by partner → sold to consumer → in service →
//! returned → refurbished, or destroyed. A destroyed unit's life has ended: a later event does not
//! bring it back, it is listed in [`Custody::after_end`] (its code is being used by another
//! unit). A part fitted into a unit is [`State::Installed`] and follows that unit until removed.
//!
//! Quarantine is not a state of its own: a unit in quarantine is still where its life has taken
//! it (held by a partner, returned, …), by the same custodian; [`Custody::quarantine`] says
//! that it is held, since when, by whom and why. Its release clears it, and so does the end of
//! its life.

use serde::{Deserialize, Serialize};

use crate::event::{Action, BizStep, Detail, Disposition, Epc, Event, EventType};
use crate::hold::Quarantine;

/// Where a unit is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Nothing known yet.
    Unknown,
    Issued,
    InTransit,
    HeldByPartner,
    SoldToConsumer,
    /// Being repaired or serviced.
    InService,
    /// Received back from a consumer or a partner.
    Returned,
    /// Repaired after a return and fit to be sold again.
    Refurbished,
    /// A part fitted into another unit ([`Custody::installed_in`]).
    Installed,
    /// Scrapped, destroyed or decommissioned: the end of its life.
    Destroyed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Unknown => "unknown",
            State::Issued => "issued",
            State::InTransit => "in_transit",
            State::HeldByPartner => "held_by_partner",
            State::SoldToConsumer => "sold_to_consumer",
            State::InService => "in_service",
            State::Returned => "returned",
            State::Refurbished => "refurbished",
            State::Installed => "installed",
            State::Destroyed => "destroyed",
        }
    }
}

/// One step of the chain of custody.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub event: String,
    pub time: String,
    pub step: String,
    pub disposition: Option<String>,
    pub org: String,
    pub site: String,
    pub source: Option<String>,
    pub destination: Option<String>,
    pub transaction: Option<String>,
    /// The container this event named, when it reached the unit through one.
    pub via: Option<String>,
    /// For a packing, unpacking, fitting or removal of this unit: what it went into or came
    /// out of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// `warranty_registration`, `warranty_claim`, `counterfeit_report`, `quarantine` or
    /// `release`, when the event is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Custody {
    pub epc: String,
    pub state: State,
    /// The organisation holding the unit (or the consumer after a sale).
    pub custodian: Option<String>,
    pub site: Option<String>,
    /// The owning party: the maker, then whoever a transfer's destination names, the consumer
    /// after a sale, or the owner its warranty registration names.
    #[serde(default)]
    pub owner: Option<String>,
    /// Where the last shipment sent it.
    pub shipped_to: Option<String>,
    /// For a part: the unit it is fitted into now.
    #[serde(default)]
    pub installed_in: Option<String>,
    /// The event that ended its life (destroying, decommissioning).
    #[serde(default)]
    pub ended_by: Option<String>,
    /// Events recorded after its life ended: its code is on something else.
    #[serde(default)]
    pub after_end: Vec<String>,
    /// The hold it is under, if it is in quarantine now.
    #[serde(default)]
    pub quarantine: Option<Quarantine>,
    pub chain: Vec<Link>,
}

impl Custody {
    /// Folds live events (in [`Event::fold_order`]) into the unit's custody.
    pub fn derive(epc: &Epc, events: &[Event]) -> Custody {
        let mut c = Custody {
            epc: epc.uri(),
            state: State::Unknown,
            custodian: None,
            site: None,
            owner: None,
            shipped_to: None,
            installed_in: None,
            ended_by: None,
            after_end: Vec::new(),
            quarantine: None,
            chain: Vec::new(),
        };
        for e in events {
            let b = &e.body;
            if b.event_type == EventType::AggregationEvent && b.parent.as_ref() == Some(epc) {
                // Packing things into this unit, or fitting parts, does not move it.
                continue;
            }
            let direct = b.epcs.contains(epc);
            let via = if direct {
                None
            } else {
                b.parent.as_ref().or(b.epcs.first()).map(Epc::uri)
            };
            let parent = (direct && b.event_type == EventType::AggregationEvent)
                .then(|| b.parent.as_ref().map(Epc::uri))
                .flatten();
            c.chain.push(Link {
                event: e.id.0.clone(),
                time: b.event_time.to_rfc3339(),
                step: b.biz_step.as_str().into(),
                disposition: b.disposition.map(|d| d.as_str().to_string()),
                org: b.recorder.org.clone(),
                site: b.recorder.site.clone(),
                source: b.source.clone(),
                destination: b.destination.clone(),
                transaction: b.biz_transactions.first().map(|t| t.id.clone()),
                via,
                parent,
                detail: e.detail().map(|d| detail_name(d).to_string()),
            });
            if c.state == State::Destroyed {
                c.after_end.push(e.id.0.clone());
                continue;
            }
            c.apply(e, direct);
        }
        c
    }

    fn apply(&mut self, e: &Event, direct: bool) {
        let b = &e.body;
        let org = Some(b.recorder.org.clone());
        let site = Some(b.recorder.site.clone());
        // A fitted part follows its unit's custodian and owner but stays installed; only its
        // own removal, or the end of the unit, changes its state.
        let fitted = self.installed_in.is_some() && !direct;
        let mut state = None;
        match b.biz_step {
            BizStep::Commissioning => {
                state = Some(State::Issued);
                self.custodian.clone_from(&org);
                self.site = site;
                self.owner = org;
            }
            BizStep::Shipping => {
                state = Some(State::InTransit);
                self.shipped_to.clone_from(&b.destination);
            }
            BizStep::Receiving => {
                let returned = b.disposition == Some(Disposition::Returned);
                state = Some(if returned {
                    State::Returned
                } else {
                    State::HeldByPartner
                });
                self.owner = if returned {
                    org.clone()
                } else {
                    b.destination.clone().or(self.owner.take())
                };
                self.custodian = org;
                self.site = site;
            }
            BizStep::RetailSelling => {
                state = Some(State::SoldToConsumer);
                self.custodian = Some("consumer".into());
                self.site = None;
                if !matches!(e.detail(), Some(Detail::WarrantyRegistration { .. })) {
                    self.owner = Some("consumer".into());
                }
            }
            BizStep::Repairing => {
                state = Some(if b.disposition == Some(Disposition::SellableAccessible) {
                    State::Refurbished
                } else {
                    State::InService
                });
                self.custodian = org;
                self.site = site;
            }
            BizStep::Installing if direct => {
                self.installed_in = b.parent.as_ref().map(Epc::uri);
                state = Some(State::Installed);
                self.custodian = org;
                self.site = site;
            }
            BizStep::Removing if direct => {
                self.installed_in = None;
                state = Some(State::HeldByPartner);
                self.custodian = org;
                self.site = site;
            }
            BizStep::Destroying | BizStep::Decommissioning => {
                state = Some(State::Destroyed);
                self.custodian = org;
                self.site = site;
            }
            // A hold is the unit's own: a quarantined pallet does not hold what was packed in it
            // (the verdict reads a unit's own latest hold the same way).
            BizStep::Holding if direct => {
                self.quarantine = Quarantine::of(e);
            }
            BizStep::Other
            | BizStep::Holding
            | BizStep::Packing
            | BizStep::Unpacking
            | BizStep::Inspecting
            | BizStep::Installing
            | BizStep::Removing => {}
        }
        if let Some(Detail::WarrantyRegistration { owner }) = e.detail() {
            self.owner = Some(owner.to_string());
        }
        if b.event_type == EventType::ObjectEvent && b.action == Action::Delete {
            state = Some(State::Destroyed);
        }
        if let Some(s) = state {
            if s == State::Destroyed {
                self.ended_by = Some(e.id.0.clone());
                self.state = s;
                self.quarantine = None;
            } else if !fitted {
                self.state = s;
            }
        }
    }
}

/// The name of an after-sales detail, as the chain and the CLI show it.
pub fn detail_name(d: &Detail) -> &'static str {
    match d {
        Detail::WarrantyRegistration { .. } => "warranty_registration",
        Detail::WarrantyClaim { .. } => "warranty_claim",
        Detail::CounterfeitReport { .. } => "counterfeit_report",
        Detail::Quarantine { .. } => "quarantine",
        Detail::Release { .. } => "release",
    }
}
