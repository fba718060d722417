//! Custody of one unit, derived from the events that bear on it (its own and its containers').
//!
//! Pure: the caller gathers the events (see [`crate::store::events_touching`]); the same
//! derivation runs on a device over its partial view and on the hub over everyone's.

use serde::{Deserialize, Serialize};

use crate::event::{Action, BizStep, Disposition, Epc, Event, EventType};

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
    InService,
    Returned,
    Destroyed,
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
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Custody {
    pub epc: String,
    pub state: State,
    /// The organisation holding the unit (or the consumer after a sale).
    pub custodian: Option<String>,
    pub site: Option<String>,
    /// Where the last shipment sent it.
    pub shipped_to: Option<String>,
    pub chain: Vec<Link>,
}

impl Custody {
    /// Folds events (in event-time order) into the unit's custody.
    pub fn derive(epc: &Epc, events: &[Event]) -> Custody {
        let mut c = Custody {
            epc: epc.uri(),
            state: State::Unknown,
            custodian: None,
            site: None,
            shipped_to: None,
            chain: Vec::new(),
        };
        for e in events {
            let b = &e.body;
            let via = if b.epcs.contains(epc) {
                None
            } else {
                b.parent.as_ref().or(b.epcs.first()).map(Epc::uri)
            };
            if b.event_type == EventType::AggregationEvent && b.parent.as_ref() == Some(epc) {
                // Packing things into this unit does not move it.
                continue;
            }
            let actor = Some(b.recorder.org.clone());
            match b.biz_step {
                BizStep::Commissioning => {
                    c.state = State::Issued;
                    c.custodian = actor;
                    c.site = Some(b.recorder.site.clone());
                }
                BizStep::Shipping => {
                    c.state = State::InTransit;
                    c.shipped_to = b.destination.clone();
                }
                BizStep::Receiving => {
                    c.state = if b.disposition == Some(Disposition::Returned) {
                        State::Returned
                    } else {
                        State::HeldByPartner
                    };
                    c.custodian = actor;
                    c.site = Some(b.recorder.site.clone());
                }
                BizStep::RetailSelling => {
                    c.state = State::SoldToConsumer;
                    c.custodian = Some("consumer".into());
                }
                BizStep::Repairing => c.state = State::InService,
                BizStep::Destroying | BizStep::Decommissioning => c.state = State::Destroyed,
                BizStep::Packing | BizStep::Unpacking | BizStep::Inspecting => {}
            }
            if b.event_type == EventType::ObjectEvent && b.action == Action::Delete {
                c.state = State::Destroyed;
            }
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
            });
        }
        c
    }
}
