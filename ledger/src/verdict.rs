//! The verdict at the moment of scanning, decided from what the device holds: the manifest, the
//! ledger and the cached registry extract. Pure: every fact comes in through [`Facts`].

use chrono::NaiveDate;
use custodian_scanner::Scan;
use serde::{Deserialize, Serialize};

use crate::event::{BizStep, Disposition, Epc};
use crate::extract::RegistryExtract;
use crate::manifest::ManifestView;
use crate::quarantine::Quarantine;

/// What the user is doing when they scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Receiving,
    Shipping,
    RetailSelling,
    Inspecting,
    Repairing,
    /// Recorded as CBV `receiving` with disposition `returned` (the CBV has no returning step).
    Returning,
}

impl Step {
    pub const ALL: [Step; 6] = [
        Step::Receiving,
        Step::Shipping,
        Step::RetailSelling,
        Step::Inspecting,
        Step::Repairing,
        Step::Returning,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Receiving => "receiving",
            Step::Shipping => "shipping",
            Step::RetailSelling => "retail_selling",
            Step::Inspecting => "inspecting",
            Step::Repairing => "repairing",
            Step::Returning => "returning",
        }
    }

    pub fn parse(s: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|step| step.as_str() == s)
    }

    /// The CBV business step and disposition this step records.
    pub fn cbv(self) -> (BizStep, Disposition) {
        match self {
            Step::Receiving => (BizStep::Receiving, Disposition::InProgress),
            Step::Shipping => (BizStep::Shipping, Disposition::InTransit),
            Step::RetailSelling => (BizStep::RetailSelling, Disposition::RetailSold),
            Step::Inspecting => (BizStep::Inspecting, Disposition::Active),
            Step::Repairing => (BizStep::Repairing, Disposition::InProgress),
            Step::Returning => (BizStep::Receiving, Disposition::Returned),
        }
    }
}

/// The verdicts of the product brief.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    Ok,
    NotOnManifest,
    Duplicate,
    WrongProduct,
    Expired,
    Recalled,
    ReportedCounterfeit,
    SignatureInvalid,
    AlreadySold,
    /// Held in quarantine: not to be sold or shipped until released.
    Quarantined,
    Unreadable,
    Provisional,
}

impl VerdictKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Ok => "ok",
            VerdictKind::NotOnManifest => "not_on_manifest",
            VerdictKind::Duplicate => "duplicate",
            VerdictKind::WrongProduct => "wrong_product",
            VerdictKind::Expired => "expired",
            VerdictKind::Recalled => "recalled",
            VerdictKind::ReportedCounterfeit => "reported_counterfeit",
            VerdictKind::SignatureInvalid => "signature_invalid",
            VerdictKind::AlreadySold => "already_sold",
            VerdictKind::Quarantined => "quarantined",
            VerdictKind::Unreadable => "unreadable",
            VerdictKind::Provisional => "provisional",
        }
    }

    /// Whether the scan is recorded as an event. An unreadable code names nothing, and a
    /// duplicate adds no fact; everything else physically happened and is kept, verdict and all
    /// (a quarantined unit shipped or sold despite the warning too).
    pub fn records_event(self) -> bool {
        !matches!(self, VerdictKind::Unreadable | VerdictKind::Duplicate)
    }

    /// What a scan with this verdict records, done as `step`. At the till, a verdict that says
    /// not to sell (recalled, expired, reported counterfeit, a signature that does not verify,
    /// in quarantine) stops the sale: the scan is kept as the unit seen there (`inspecting`),
    /// not as a sale that did not happen. A code already sold is recorded as the sale it was
    /// offered for, which is how the hub sees a clone sold twice.
    pub fn recorded_step(self, step: Step) -> Step {
        match (step, self) {
            (
                Step::RetailSelling,
                VerdictKind::Recalled
                | VerdictKind::Expired
                | VerdictKind::ReportedCounterfeit
                | VerdictKind::SignatureInvalid
                | VerdictKind::Quarantined,
            ) => Step::Inspecting,
            _ => step,
        }
    }
}

/// How a unit left the channel, as far as the ledger knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Departure {
    /// Sold to a consumer and not taken back.
    Sold,
    /// Scrapped, destroyed or decommissioned on that day: nothing may carry its code again.
    Ended(NaiveDate),
}

/// Everything a verdict depends on.
pub struct Facts<'a> {
    pub scan: &'a Scan,
    pub epc: &'a Epc,
    pub step: Step,
    pub extract: Option<&'a RegistryExtract>,
    pub manifest: Option<&'a ManifestView>,
    /// For a logistic unit: the units it contains, as far as the ledger knows.
    pub contents: &'a [Epc],
    /// The ledger shows the unit already left the channel: sold to a consumer (and not taken
    /// back since), or its life ended.
    pub sold: Option<Departure>,
    /// The hold the unit is under, if it is in quarantine.
    pub quarantine: Option<&'a Quarantine>,
    pub today: NaiveDate,
}

impl Step {
    /// Whether a quarantine stops this step: receiving, shipping, selling and inspecting a held
    /// unit are warned; a repair or a return is what a held unit may need.
    fn stopped_by_quarantine(self) -> bool {
        matches!(
            self,
            Step::Receiving | Step::Shipping | Step::RetailSelling | Step::Inspecting
        )
    }
}

/// Decides a verdict and its reason in words. The checks run in this order, the first that
/// finds something deciding: signature, counterfeit alert, recall, quarantine (unless the
/// unit's life ended, which the clone check below says better), expiry, end of life, sale,
/// then the manifest.
pub fn judge(f: &Facts<'_>) -> (VerdictKind, String) {
    let label = f.epc.label();
    if let (Some(x), Epc::Unit { gtin, serial }) = (f.extract, f.epc) {
        if let Some(sig) = f.scan.signature()
            && !x.signature_valid(gtin.as_str(), serial, sig)
        {
            return (
                VerdictKind::SignatureInvalid,
                format!("{label}: the AI 8030 signature does not verify — treat as counterfeit"),
            );
        }
        if let Some(a) = x.alert(&f.epc.uri()) {
            return (
                VerdictKind::ReportedCounterfeit,
                format!("{label} is on the counterfeit alert list: {}", a.reason),
            );
        }
        if let Some(r) = x.recall(gtin.as_str(), f.scan.lot()) {
            return (
                VerdictKind::Recalled,
                format!("{label} is recalled: {}", r.reason),
            );
        }
    }
    if let Some(q) = f.quarantine
        && f.step.stopped_by_quarantine()
        && !matches!(f.sold, Some(Departure::Ended(_)))
    {
        return (
            VerdictKind::Quarantined,
            format!("{label} is {} — do not sell or ship", q.describe()),
        );
    }
    if let Some(expiry) = f.scan.expiry()
        && expiry < f.today
    {
        return (VerdictKind::Expired, format!("{label} expired on {expiry}"));
    }
    if let Some(Departure::Ended(on)) = f.sold {
        return (
            VerdictKind::AlreadySold,
            format!(
                "{label} was scrapped or destroyed on {on}: its life has ended — a unit with this code is a clone"
            ),
        );
    }
    if f.sold == Some(Departure::Sold) && !matches!(f.step, Step::Returning | Step::Repairing) {
        return (
            VerdictKind::AlreadySold,
            format!(
                "{label} was already sold to a consumer — a second unit with this code is a clone"
            ),
        );
    }
    if let Some(m) = f.manifest {
        return judge_against_manifest(f, m, &label);
    }
    let known = f
        .epc
        .gtin()
        .and_then(|g| f.extract.and_then(|x| x.product(g.as_str())));
    let reason = match (known, f.scan.signature()) {
        (Some(p), Some(_)) => format!(
            "{label}: {} — signature verified; awaiting confirmation by the hub",
            p.name
        ),
        (Some(p), None) => format!(
            "{label}: {} — nothing known against it; awaiting confirmation by the hub",
            p.name
        ),
        (None, _) if matches!(f.epc, Epc::Logistic(_)) => {
            format!("{label}: nothing known against it; awaiting confirmation by the hub")
        }
        (None, _) => format!(
            "{label}: product not in the registry extract; awaiting confirmation by the hub"
        ),
    };
    (VerdictKind::Provisional, reason)
}

fn judge_against_manifest(f: &Facts<'_>, m: &ManifestView, label: &str) -> (VerdictKind, String) {
    match f.epc {
        Epc::Logistic(_) if m.expected_logistic.contains(f.epc) => {
            let units: Vec<&Epc> = f
                .contents
                .iter()
                .filter(|c| matches!(c, Epc::Unit { .. }))
                .collect();
            let all_in = !units.is_empty() && units.iter().all(|u| m.received.contains_key(*u));
            if m.received_logistic.contains(f.epc) || all_in {
                (
                    VerdictKind::Duplicate,
                    format!("{label} was already received on {}", m.id),
                )
            } else {
                (
                    VerdictKind::Ok,
                    format!("{label} on {}: {} units received", m.id, units.len()),
                )
            }
        }
        Epc::Logistic(_) => (
            VerdictKind::NotOnManifest,
            format!("{label} is not on {}", m.id),
        ),
        Epc::Unit { .. } if m.received.contains_key(f.epc) => (
            VerdictKind::Duplicate,
            format!("{label} was already scanned on {}", m.id),
        ),
        Epc::Unit { gtin, .. } => {
            if m.expected_units.contains(f.epc) {
                (VerdictKind::Ok, format!("{label} is on {}", m.id))
            } else if !m.gtins.contains(gtin.as_str()) {
                let expected: Vec<&str> = m.gtins.iter().map(String::as_str).collect();
                (
                    VerdictKind::WrongProduct,
                    format!(
                        "GTIN {gtin} is not on {} (it lists {})",
                        m.id,
                        expected.join(", ")
                    ),
                )
            } else {
                (
                    VerdictKind::NotOnManifest,
                    format!("{label} is not on {}", m.id),
                )
            }
        }
    }
}
