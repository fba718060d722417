//! Warranty from the serial alone: cover, registration and claims, derived from a unit's live
//! events and its product's policy. No receipt is needed: the sale or the registration is in the
//! ledger.
//!
//! Pure: the same fold runs on a device (which judges a claim on the spot, provisionally when it
//! cannot confirm the unit genuine) and on the hub (which raises the warranty flags). Each claim
//! is judged as of its own time, over the events before it, so every replica that holds the same
//! events judges every claim the same way.
//!
//! The checks run in order; the first that fails decides:
//! 1. genuine: not a counterfeit (signature, alert list, or never issued);
//! 2. the unit's life has not ended (scrapped or destroyed);
//! 3. the product has a warranty policy;
//! 4. the unit was sold to a consumer or registered;
//! 5. in period: before the end of cover (from the sale or registration);
//! 6. not a second accepted claim for the same defect under the same cover;
//! 7. the unit's claim count (this one included) is within the product's threshold.
//!
//! **Returned, refurbished and sold again.** Cover runs from the first sale or registration (the
//! earlier of the two) of the unit's current consumer life. A unit taken back from its consumer
//! (a return, `receiving` + `returned`, or a refurbishment, `repairing` + `sellable_accessible`)
//! and then sold or registered again starts a new consumer life: a new cover of the product's
//! full period from that resale (or registration), and the earlier owner's registration no longer
//! stands. Until the resale the last cover stands (a refurbished unit still in stock is shown
//! with it). The claims stay with the serial: every claim is listed and judged as of its own
//! time, and the claim count behind the product's threshold (a quality alert about the unit)
//! counts them all; a defect accepted under the earlier cover may be claimed again under the new.

use chrono::{DateTime, FixedOffset, Months};
use serde::{Deserialize, Serialize};

use crate::event::{BizStep, Defect, Detail, Disposition, Epc, Event};
use crate::extract::Product;

/// What the warranty period starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Start {
    Sale,
    Registration,
    Manufacture,
}

impl Start {
    pub fn as_str(self) -> &'static str {
        match self {
            Start::Sale => "sale",
            Start::Registration => "registration",
            Start::Manufacture => "manufacture",
        }
    }
}

impl std::fmt::Display for Start {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A unit's warranty cover as of a moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warranty {
    pub months: u32,
    pub starts_at: Start,
    pub start: String,
    pub end: String,
    pub in_period: bool,
    /// Whole days of cover left; 0 once it ended.
    pub remaining_days: i64,
    /// The owner a warranty registration named.
    pub registered_owner: Option<String>,
    /// When the unit was taken back from an earlier consumer (returned or refurbished, RFC
    /// 3339) before the resale or registration this cover starts from: the cover is a new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewed_after: Option<String>,
    /// Claims a unit may make before further ones are referred (0: no limit).
    pub claim_threshold: u32,
}

/// Whether the unit is known to be genuine, as far as the judge can tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Genuineness {
    /// Its signature verified, or it is known to have been issued.
    Confirmed,
    /// Nothing against it, nothing for it: a device that holds neither a signature nor the
    /// unit's issuance. The judgement is provisional until the hub confirms it.
    Unconfirmed,
    /// Counterfeit, with why.
    Counterfeit(String),
}

/// The outcome of validating a claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimOutcome {
    /// Covered.
    Valid,
    /// The unit is counterfeit.
    NotGenuine,
    /// The unit was scrapped or destroyed before the claim.
    Ended,
    /// No warranty policy is known for the product.
    NoPolicy,
    /// Never sold to a consumer nor registered.
    NotSoldOrRegistered,
    /// The claim came after the end of cover.
    OutOfPeriod,
    /// The same defect was already claimed and accepted.
    DuplicateDefect,
    /// More claims on this unit than the product's threshold: a quality alert.
    OverThreshold,
}

impl ClaimOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimOutcome::Valid => "valid",
            ClaimOutcome::NotGenuine => "not_genuine",
            ClaimOutcome::Ended => "ended",
            ClaimOutcome::NoPolicy => "no_policy",
            ClaimOutcome::NotSoldOrRegistered => "not_sold_or_registered",
            ClaimOutcome::OutOfPeriod => "out_of_period",
            ClaimOutcome::DuplicateDefect => "duplicate_defect",
            ClaimOutcome::OverThreshold => "over_threshold",
        }
    }

    pub fn accepted(self) -> bool {
        self == ClaimOutcome::Valid
    }
}

/// A claim's validation: the outcome and its reason in words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimValidation {
    pub outcome: ClaimOutcome,
    pub accepted: bool,
    pub reason: String,
    /// Judged without confirmation that the unit is genuine.
    pub provisional: bool,
}

/// A claim in a unit's history, with its validation as of its time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub event: String,
    pub time: String,
    pub org: String,
    pub site: String,
    pub defect: String,
    pub note: Option<String>,
    pub validation: ClaimValidation,
}

/// What the fold over a unit's life knows at a point in time.
#[derive(Default)]
struct Life {
    made: Option<DateTime<FixedOffset>>,
    /// The first sale and registration of the current consumer life.
    sold: Option<DateTime<FixedOffset>>,
    registered: Option<(DateTime<FixedOffset>, String)>,
    /// When the unit was taken back before the current consumer life began.
    renewed_after: Option<DateTime<FixedOffset>>,
    /// When the unit was taken back from the current consumer life, if it was: the next sale or
    /// registration starts a new one.
    taken_back: Option<DateTime<FixedOffset>>,
    ended: Option<DateTime<FixedOffset>>,
    claims: u32,
    /// Defects claimed and accepted under the current cover.
    accepted: Vec<(Defect, DateTime<FixedOffset>)>,
}

impl Life {
    fn note(&mut self, e: &Event) {
        let t = e.body.event_time;
        let registration = match e.detail() {
            Some(Detail::WarrantyRegistration { owner }) => Some(owner.to_string()),
            _ => None,
        };
        if (e.body.biz_step == BizStep::RetailSelling || registration.is_some())
            && let Some(back) = self.taken_back.take()
        {
            // With a consumer again after it was taken back: a new cover.
            self.sold = None;
            self.registered = None;
            self.accepted.clear();
            self.renewed_after = Some(back);
        }
        let disposition = e.body.disposition;
        let taken_back = match e.body.biz_step {
            BizStep::Receiving => disposition == Some(Disposition::Returned),
            BizStep::Repairing => disposition == Some(Disposition::SellableAccessible),
            _ => false,
        };
        if taken_back && self.consumer_start().is_some() {
            self.taken_back.get_or_insert(t);
        }
        match e.body.biz_step {
            BizStep::Commissioning => {
                self.made.get_or_insert(t);
            }
            BizStep::RetailSelling => {
                self.sold.get_or_insert(t);
            }
            BizStep::Destroying | BizStep::Decommissioning => {
                self.ended.get_or_insert(t);
            }
            _ => {}
        }
        if let Some(owner) = registration
            && self.registered.is_none()
        {
            self.registered = Some((t, owner));
        }
    }

    /// Cover starts at the first of sale and registration.
    fn consumer_start(&self) -> Option<(Start, DateTime<FixedOffset>)> {
        let sale = self.sold.map(|t| (Start::Sale, t));
        let reg = self
            .registered
            .as_ref()
            .map(|(t, _)| (Start::Registration, *t));
        match (sale, reg) {
            (Some(s), Some(r)) => Some(if r.1 < s.1 { r } else { s }),
            (s, r) => s.or(r),
        }
    }

    fn start(&self) -> Option<(Start, DateTime<FixedOffset>)> {
        self.consumer_start()
            .or_else(|| self.made.map(|t| (Start::Manufacture, t)))
    }
}

fn end_of(start: DateTime<FixedOffset>, months: u32) -> Option<DateTime<FixedOffset>> {
    start.checked_add_months(Months::new(months))
}

/// The unit's cover as of `now`, from its live events (in fold order). `None` without a policy
/// or when no start is known (neither sale, registration nor manufacture).
pub fn status(
    product: Option<&Product>,
    events: &[Event],
    now: DateTime<FixedOffset>,
) -> Option<Warranty> {
    let product = product?;
    let mut life = Life::default();
    for e in events {
        life.note(e);
    }
    let (starts_at, start) = life.start()?;
    let end = end_of(start, product.warranty_months)?;
    let in_period = now < end && life.ended.is_none_or(|t| t > now);
    Some(Warranty {
        months: product.warranty_months,
        starts_at,
        start: start.to_rfc3339(),
        end: end.to_rfc3339(),
        in_period,
        remaining_days: if in_period { (end - now).num_days() } else { 0 },
        registered_owner: life.registered.map(|(_, o)| o),
        renewed_after: life.renewed_after.map(|t| t.to_rfc3339()),
        claim_threshold: product.claim_threshold,
    })
}

/// Every claim among the unit's live events (in fold order), each validated over the events
/// before it.
pub fn claims(
    epc: &Epc,
    product: Option<&Product>,
    genuine: &Genuineness,
    events: &[Event],
) -> Vec<Claim> {
    let mut life = Life::default();
    let mut out = Vec::new();
    for e in events {
        if let Some(Detail::WarrantyClaim { defect, note }) = e.detail() {
            let validation = judge(epc, product, genuine, &life, defect, e.body.event_time);
            life.claims += 1;
            if validation.accepted {
                life.accepted.push((defect.clone(), e.body.event_time));
            }
            out.push(Claim {
                event: e.id.0.clone(),
                time: e.body.event_time.to_rfc3339(),
                org: e.body.recorder.org.clone(),
                site: e.body.recorder.site.clone(),
                defect: defect.to_string(),
                note: note.as_ref().map(ToString::to_string),
                validation,
            });
        }
        life.note(e);
    }
    out
}

fn judge(
    epc: &Epc,
    product: Option<&Product>,
    genuine: &Genuineness,
    life: &Life,
    defect: &Defect,
    at: DateTime<FixedOffset>,
) -> ClaimValidation {
    let label = epc.label();
    let provisional = *genuine == Genuineness::Unconfirmed;
    let verdict = |outcome: ClaimOutcome, reason: String| ClaimValidation {
        outcome,
        accepted: outcome.accepted(),
        reason,
        provisional,
    };
    if let Genuineness::Counterfeit(why) = genuine {
        return verdict(
            ClaimOutcome::NotGenuine,
            format!("{label}: {why} — no warranty for a counterfeit"),
        );
    }
    if let Some(t) = life.ended {
        return verdict(
            ClaimOutcome::Ended,
            format!(
                "{label} was scrapped or destroyed on {} — a unit with this code is not covered",
                t.date_naive()
            ),
        );
    }
    let Some(product) = product else {
        return verdict(
            ClaimOutcome::NoPolicy,
            format!("{label}: no warranty policy is known for this product"),
        );
    };
    let Some((starts_at, start)) = life.consumer_start() else {
        return verdict(
            ClaimOutcome::NotSoldOrRegistered,
            format!(
                "{label} was never sold to a consumer nor registered: register it with proof of purchase before claiming"
            ),
        );
    };
    let Some(end) = end_of(start, product.warranty_months) else {
        return verdict(
            ClaimOutcome::OutOfPeriod,
            format!("{label}: the warranty period cannot be computed from {start}"),
        );
    };
    if at >= end {
        return verdict(
            ClaimOutcome::OutOfPeriod,
            format!(
                "{label}: the warranty ended on {} ({} months from the {} on {}{})",
                end.date_naive(),
                product.warranty_months,
                starts_at.as_str(),
                start.date_naive(),
                life.renewed_after
                    .map(|t| format!(", after it was taken back on {}", t.date_naive()))
                    .unwrap_or_default()
            ),
        );
    }
    if let Some((_, when)) = life.accepted.iter().find(|(d, _)| d == defect) {
        return verdict(
            ClaimOutcome::DuplicateDefect,
            format!(
                "{label}: \"{defect}\" was already claimed on {} — a second claim for the same defect",
                when.date_naive()
            ),
        );
    }
    let count = life.claims + 1;
    if product.claim_threshold > 0 && count > product.claim_threshold {
        return verdict(
            ClaimOutcome::OverThreshold,
            format!(
                "{label}: this is claim {count} on this unit, over the product's threshold of {}: refer it to the manufacturer (quality alert)",
                product.claim_threshold
            ),
        );
    }
    verdict(
        ClaimOutcome::Valid,
        format!(
            "{label}: \"{defect}\" is covered until {} (claim {count} on this unit)",
            end.date_naive()
        ),
    )
}
