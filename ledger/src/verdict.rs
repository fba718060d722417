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

/// What the public verification of a code says (the hub's `/verify`): the label-level findings
/// of [`judge_label`], which the device's verdicts share, and what only the registry knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    /// Issued, its signature verifies, and nothing is known against it.
    Genuine,
    /// Issued and nothing is known against it, but the code carries no signature, so it does
    /// not show that the label is genuine.
    Unsigned,
    /// Never issued: counterfeit.
    UnknownSerial,
    /// Not a product of the registry.
    UnknownProduct,
    /// The code's AI 8030 signature does not verify: counterfeit.
    SignatureInvalid,
    /// An element of the code (its lot, its expiry) is not what was issued: counterfeit.
    LabelMismatch,
    ReportedCounterfeit,
    Recalled,
    /// Held by a partner: not to be sold until released.
    Quarantined,
    Expired,
    /// The code names no serialised unit.
    Unreadable,
}

impl VerificationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VerificationStatus::Genuine => "genuine",
            VerificationStatus::Unsigned => "unsigned",
            VerificationStatus::UnknownSerial => "unknown_serial",
            VerificationStatus::UnknownProduct => "unknown_product",
            VerificationStatus::SignatureInvalid => "signature_invalid",
            VerificationStatus::LabelMismatch => "label_mismatch",
            VerificationStatus::ReportedCounterfeit => "reported_counterfeit",
            VerificationStatus::Recalled => "recalled",
            VerificationStatus::Quarantined => "quarantined",
            VerificationStatus::Expired => "expired",
            VerificationStatus::Unreadable => "unreadable",
        }
    }
}

impl std::fmt::Display for VerificationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
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

/// A code's AI 8030 signature, as far as it was checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureCheck {
    /// The code carries no signature, or there was no key to check a decodable one with.
    Absent,
    /// The code's signature verifies.
    Verified,
    /// The code carries an AI 8030 that does not verify or cannot be decoded: counterfeit.
    Invalid,
}

impl SignatureCheck {
    /// Checks the signature `scan` carries with `verifies`, which is given its decoded bytes
    /// (the rule is [`crate::extract::signature_verifies`]). An AI 8030 that yielded no signature
    /// is invalid: the code carries one, and it does not verify.
    pub fn of(scan: &Scan, verifies: impl FnOnce(&[u8]) -> bool) -> SignatureCheck {
        match (scan.signature(), scan.get("8030")) {
            (Some(signature), _) => {
                if verifies(signature) {
                    SignatureCheck::Verified
                } else {
                    SignatureCheck::Invalid
                }
            }
            (None, Some(_)) => SignatureCheck::Invalid,
            (None, None) => SignatureCheck::Absent,
        }
    }

    /// The signature `scan` carries, with no key to check it with (no registry extract on
    /// the device): an AI 8030 that yielded no signature is invalid all the same, since no key
    /// verifies what does not decode (the hub judges it so); any other is absent.
    pub fn without_key(scan: &Scan) -> SignatureCheck {
        match (scan.signature(), scan.get("8030")) {
            (None, Some(_)) => SignatureCheck::Invalid,
            _ => SignatureCheck::Absent,
        }
    }
}

/// An element of a code that differs from what the registry issued for its unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mismatch<'a> {
    /// The AI, e.g. `"10"`.
    pub ai: &'static str,
    /// What the code says.
    pub on_label: &'a str,
}

impl Mismatch<'_> {
    /// The element in words: `lot (AI 10)`.
    pub fn element(&self) -> String {
        let name = match self.ai {
            "10" => "lot",
            "17" => "expiry date",
            "11" => "production date",
            _ => "element",
        };
        format!("{name} (AI {})", self.ai)
    }
}

/// What the label-level checks consider: what the code says about itself and what is known
/// against its unit. The device ([`judge`]) and the hub's public verification both decide on
/// these with [`judge_label`], so a code gets the same finding, in the same order, from both.
#[derive(Clone, Copy, Debug)]
pub struct LabelFacts<'a> {
    pub signature: SignatureCheck,
    /// An element of the code that differs from what was issued. Only the hub knows what was
    /// issued for each serial; the device passes `None`.
    pub mismatch: Option<Mismatch<'a>>,
    /// Why the unit is on the counterfeit alert list.
    pub alert: Option<&'a str>,
    /// Why the unit's product, or its lot, is recalled.
    pub recall: Option<&'a str>,
    /// The unit is in a quarantine that stops what is being done with it.
    pub held: bool,
    /// The unit's expiry date: the code's AI 17, or what was issued when the code has none.
    pub expiry: Option<NaiveDate>,
    pub today: NaiveDate,
}

/// What the label-level checks found: the first of them that found something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelFinding<'a> {
    /// The code carries an AI 8030 signature that does not verify.
    SignatureInvalid,
    /// An element of the code is not what was issued for the unit.
    LabelMismatch(Mismatch<'a>),
    /// On the counterfeit alert list, for this reason.
    ReportedCounterfeit(&'a str),
    /// Recalled, for this reason.
    Recalled(&'a str),
    /// In quarantine.
    Quarantined,
    /// Expired on this day.
    Expired(NaiveDate),
}

impl LabelFinding<'_> {
    /// What the public verification says for the finding.
    pub fn status(&self) -> VerificationStatus {
        match self {
            LabelFinding::SignatureInvalid => VerificationStatus::SignatureInvalid,
            LabelFinding::LabelMismatch(_) => VerificationStatus::LabelMismatch,
            LabelFinding::ReportedCounterfeit(_) => VerificationStatus::ReportedCounterfeit,
            LabelFinding::Recalled(_) => VerificationStatus::Recalled,
            LabelFinding::Quarantined => VerificationStatus::Quarantined,
            LabelFinding::Expired(_) => VerificationStatus::Expired,
        }
    }

    /// The device's verdict for it. A label whose elements differ from what was issued is as
    /// forged as one whose signature does not verify; the device never finds one (it does not
    /// know what was issued per serial), and it would say so in those words.
    pub fn kind(&self) -> VerdictKind {
        match self {
            LabelFinding::SignatureInvalid | LabelFinding::LabelMismatch(_) => {
                VerdictKind::SignatureInvalid
            }
            LabelFinding::ReportedCounterfeit(_) => VerdictKind::ReportedCounterfeit,
            LabelFinding::Recalled(_) => VerdictKind::Recalled,
            LabelFinding::Quarantined => VerdictKind::Quarantined,
            LabelFinding::Expired(_) => VerdictKind::Expired,
        }
    }

    /// Whether the finding says the label itself is not genuine (as opposed to a genuine unit
    /// that is recalled, held or expired).
    pub fn is_counterfeit(&self) -> bool {
        matches!(
            self,
            LabelFinding::SignatureInvalid
                | LabelFinding::LabelMismatch(_)
                | LabelFinding::ReportedCounterfeit(_)
        )
    }
}

/// The label-level part of a verdict, in the order the checks run, the first that finds
/// something deciding: the signature the code carries, the code's other elements against what
/// was issued, the counterfeit alert list, the recall list, quarantine, expiry. A code that
/// carries no signature is not judged on one: a missing signature finds nothing here.
pub fn judge_label<'a>(f: &LabelFacts<'a>) -> Option<LabelFinding<'a>> {
    if f.signature == SignatureCheck::Invalid {
        return Some(LabelFinding::SignatureInvalid);
    }
    if let Some(m) = f.mismatch {
        return Some(LabelFinding::LabelMismatch(m));
    }
    if let Some(reason) = f.alert {
        return Some(LabelFinding::ReportedCounterfeit(reason));
    }
    if let Some(reason) = f.recall {
        return Some(LabelFinding::Recalled(reason));
    }
    if f.held {
        return Some(LabelFinding::Quarantined);
    }
    match f.expiry {
        Some(expiry) if expiry < f.today => Some(LabelFinding::Expired(expiry)),
        _ => None,
    }
}

/// Decides a verdict and its reason in words. The checks run in this order, the first that
/// finds something deciding: the label-level checks of [`judge_label`] (signature, counterfeit
/// alert, recall, quarantine — unless the unit's life ended, which the clone check below says
/// better —, expiry), then end of life, sale, then the manifest.
pub fn judge(f: &Facts<'_>) -> (VerdictKind, String) {
    let label = f.epc.label();
    let (signature, alert, recall) = match (f.extract, f.epc) {
        (Some(x), Epc::Unit { gtin, serial }) => (
            SignatureCheck::of(f.scan, |sig| x.signature_valid(gtin.as_str(), serial, sig)),
            x.alert(&f.epc.uri()).map(|a| a.reason.as_str()),
            x.recall(gtin.as_str(), f.scan.lot())
                .map(|r| r.reason.as_str()),
        ),
        // A proprietary label carries no AI 8030 and no lot: the alert list applies, and a
        // recall of its product's every lot.
        (Some(x), Epc::Proprietary { .. }) => (
            SignatureCheck::without_key(f.scan),
            x.alert(&f.epc.uri()).map(|a| a.reason.as_str()),
            x.product_of(f.epc)
                .and_then(|p| x.recall(&p.gtin, None))
                .map(|r| r.reason.as_str()),
        ),
        _ => (SignatureCheck::without_key(f.scan), None, None),
    };
    let held = f
        .quarantine
        .filter(|_| f.step.stopped_by_quarantine() && !matches!(f.sold, Some(Departure::Ended(_))));
    let facts = LabelFacts {
        signature,
        mismatch: None,
        alert,
        recall,
        held: held.is_some(),
        expiry: f.scan.expiry(),
        today: f.today,
    };
    if let Some(finding) = judge_label(&facts) {
        let reason = match finding {
            LabelFinding::SignatureInvalid => {
                format!("{label}: the AI 8030 signature does not verify — treat as counterfeit")
            }
            LabelFinding::LabelMismatch(m) => format!(
                "{label}: its {} {} is not what was issued — treat as counterfeit",
                m.element(),
                m.on_label
            ),
            LabelFinding::ReportedCounterfeit(reason) => {
                format!("{label} is on the counterfeit alert list: {reason}")
            }
            LabelFinding::Recalled(reason) => format!("{label} is recalled: {reason}"),
            LabelFinding::Quarantined => format!(
                "{label} is {} — do not sell or ship",
                held.map(Quarantine::describe).unwrap_or_default()
            ),
            LabelFinding::Expired(expiry) => format!("{label} expired on {expiry}"),
        };
        return (finding.kind(), reason);
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
    let known = f.extract.and_then(|x| x.product_of(f.epc));
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
            let units: Vec<&Epc> = f.contents.iter().filter(|c| c.is_unit()).collect();
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
        Epc::Unit { .. } | Epc::Proprietary { .. } if m.received.contains_key(f.epc) => (
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
        Epc::Proprietary { .. } if m.expected_units.contains(f.epc) => {
            (VerdictKind::Ok, format!("{label} is on {}", m.id))
        }
        // Manifest lines name GTINs; a proprietary unit not shipped under the ASN is simply
        // not on it.
        Epc::Proprietary { .. } => (
            VerdictKind::NotOnManifest,
            format!("{label} is not on {}", m.id),
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn facts() -> LabelFacts<'static> {
        LabelFacts {
            signature: SignatureCheck::Verified,
            mismatch: None,
            alert: None,
            recall: None,
            held: false,
            expiry: Some(day("2029-12-31")),
            today: day("2026-12-01"),
        }
    }

    /// `change` applied to facts where every check finds something, and the finding's name.
    fn check(change: impl Fn(&mut LabelFacts<'static>), expect: Option<&str>) {
        let mut f = LabelFacts {
            signature: SignatureCheck::Invalid,
            mismatch: Some(Mismatch {
                ai: "10",
                on_label: "L9",
            }),
            alert: Some("copied"),
            recall: Some("overheats"),
            held: true,
            expiry: Some(day("2025-01-31")),
            ..facts()
        };
        change(&mut f);
        assert_eq!(judge_label(&f).map(|x| x.status().as_str()), expect);
    }

    #[test]
    fn label_checks_run_signature_first_then_elements_alert_recall_quarantine_expiry() {
        check(|_| {}, Some("signature_invalid"));
        check(
            |f| f.signature = SignatureCheck::Absent,
            Some("label_mismatch"),
        );
        check(|f| clean(f, 0), Some("reported_counterfeit"));
        check(|f| clean(f, 1), Some("recalled"));
        check(|f| clean(f, 2), Some("quarantined"));
        check(|f| clean(f, 3), Some("expired"));
        check(
            |f| {
                clean(f, 4);
                f.expiry = Some(f.today);
            },
            None,
        );
        assert_eq!(judge_label(&facts()), None);
        assert_eq!(
            judge_label(&LabelFacts {
                signature: SignatureCheck::Absent,
                ..facts()
            }),
            None,
            "a missing signature finds nothing by itself"
        );
    }

    /// Verifies the signature, agrees with the registry, and clears the first `n` of alert,
    /// recall, hold and expiry.
    fn clean(f: &mut LabelFacts<'static>, n: usize) {
        f.signature = SignatureCheck::Verified;
        f.mismatch = None;
        if n > 0 {
            f.alert = None;
        }
        if n > 1 {
            f.recall = None;
        }
        if n > 2 {
            f.held = false;
        }
        if n > 3 {
            f.expiry = None;
        }
    }

    #[test]
    fn findings_are_named_as_the_devices_verdicts() {
        let m = Mismatch {
            ai: "17",
            on_label: "301231",
        };
        for (finding, status, kind, counterfeit) in [
            (
                LabelFinding::SignatureInvalid,
                "signature_invalid",
                VerdictKind::SignatureInvalid,
                true,
            ),
            (
                LabelFinding::LabelMismatch(m),
                "label_mismatch",
                VerdictKind::SignatureInvalid,
                true,
            ),
            (
                LabelFinding::ReportedCounterfeit("x"),
                "reported_counterfeit",
                VerdictKind::ReportedCounterfeit,
                true,
            ),
            (
                LabelFinding::Recalled("x"),
                "recalled",
                VerdictKind::Recalled,
                false,
            ),
            (
                LabelFinding::Quarantined,
                "quarantined",
                VerdictKind::Quarantined,
                false,
            ),
            (
                LabelFinding::Expired(day("2025-01-31")),
                "expired",
                VerdictKind::Expired,
                false,
            ),
        ] {
            assert_eq!(
                (
                    finding.status().as_str(),
                    finding.kind(),
                    finding.is_counterfeit()
                ),
                (status, kind, counterfeit),
                "{finding:?}"
            );
        }
        assert_eq!(m.element(), "expiry date (AI 17)");
    }

    #[test]
    fn a_signature_is_checked_only_when_the_code_carries_one() {
        let signed =
            custodian_scanner::parse(&format!("(01)09506000134352(21)A1(8030){}", "A".repeat(86)))
                .unwrap();
        let unsigned = custodian_scanner::parse("(01)09506000134352(21)A1").unwrap();
        assert_eq!(
            SignatureCheck::of(&signed, |_| true),
            SignatureCheck::Verified
        );
        assert_eq!(
            SignatureCheck::of(&signed, |_| false),
            SignatureCheck::Invalid
        );
        assert_eq!(
            SignatureCheck::of(&signed, |sig| sig.len() == 64
                && sig.iter().all(|&b| b == 0)),
            SignatureCheck::Verified,
            "the check is given the decoded bytes"
        );
        let mut asked = false;
        assert_eq!(
            SignatureCheck::of(&unsigned, |_| {
                asked = true;
                true
            }),
            SignatureCheck::Absent
        );
        assert!(!asked);
    }

    /// Without a registry extract there is no key: a signature that decodes cannot be checked
    /// and the verdict is provisional, but an AI 8030 that does not decode (85 characters:
    /// no whole number of bytes) is judged as the hub judges it, signature invalid.
    #[test]
    fn an_undecodable_signature_is_invalid_without_a_registry_extract() {
        let judged = |signature: &str| {
            let scan =
                custodian_scanner::parse(&format!("(01)09506000134352(21)A1(8030){signature}"))
                    .unwrap();
            let epc = Epc::from_identity(&scan.identity().unwrap()).unwrap();
            let facts = Facts {
                scan: &scan,
                epc: &epc,
                step: Step::Receiving,
                extract: None,
                manifest: None,
                contents: &[],
                sold: None,
                quarantine: None,
                today: day("2026-01-01"),
            };
            (SignatureCheck::without_key(&scan), judge(&facts).0)
        };
        assert_eq!(
            judged(&"A".repeat(85)),
            (SignatureCheck::Invalid, VerdictKind::SignatureInvalid)
        );
        assert_eq!(
            judged(&"A".repeat(86)),
            (SignatureCheck::Absent, VerdictKind::Provisional)
        );
    }
}
