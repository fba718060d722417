//! Reconciliation: every event that reaches the hub is stored once, made visible to the
//! organisations it concerns, and checked against what all partners have recorded. Flags are
//! raised once per fact (their id is derived from the fact), so a replayed upload or two
//! devices reporting the same thing never raise an alert twice.
//!
//! The checks: a receipt, sale or sighting outside a unit's channel (**diversion**, until the
//! unit is sold to a consumer); a unit that was never issued (**unknown serial**); any event on a
//! unit after it was scrapped or destroyed (**clone**); and warranty claims that the ledger's
//! claim validation rejects for being on an unsold, unregistered unit, out of period, a duplicate
//! of an accepted claim for the same defect, or over the product's claim threshold
//! (**warranty**, to the claiming organisation and to the manufacturer). An error declaration is
//! shared like the event it declares and checked for nothing.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use custodian_ledger::event::{BizStep, Detail, EventType};
use custodian_ledger::warranty::{self, ClaimOutcome, Genuineness};
use custodian_ledger::{Epc, Event, docs, store};
use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};

use crate::HubError;
use crate::registry::{HUB_DEVICE, HubFlag, Registry};

/// Stores `event` (a no-op if held) and, when it is new, shares it and reconciles it.
/// Returns the flags it raised.
pub fn record(
    conn: &Connection,
    event: &Event,
    now: DateTime<Utc>,
) -> Result<Vec<HubFlag>, HubError> {
    record_corrected(conn, event, now, 0)
}

/// As [`record`], for an event from a device whose clock runs `clock_offset_ms` ahead of the
/// hub's: the event is ordered by its corrected time, so a wrong clock raises no false flag.
pub fn record_corrected(
    conn: &Connection,
    event: &Event,
    now: DateTime<Utc>,
    clock_offset_ms: i64,
) -> Result<Vec<HubFlag>, HubError> {
    let Some(seq) = store::insert_event_corrected(conn, event, true, clock_offset_ms)? else {
        return Ok(Vec::new());
    };
    share(conn, event, seq, &event.body.recorder.org)?;
    if event.body.biz_step == BizStep::Shipping
        && let Some(dest) = &event.body.destination
    {
        share(conn, event, seq, dest)?;
        share_contents(conn, event, dest)?;
        if let Some(asn) = event.transaction(custodian_ledger::manifest::ASN) {
            open_manifest_doc(
                conn,
                asn,
                &[dest.as_str(), event.body.recorder.org.as_str()],
            )?;
        }
    }
    reconcile(conn, event, now)
}

fn share(conn: &Connection, _event: &Event, seq: i64, org: &str) -> Result<(), HubError> {
    conn.execute(
        "INSERT OR IGNORE INTO audience (org, seq) VALUES (?1, ?2)",
        params![org, seq],
    )?;
    Ok(())
}

/// A shipment's recipient needs to know what its logistic units contain.
fn share_contents(conn: &Connection, shipment: &Event, org: &str) -> Result<(), HubError> {
    let mut stack: Vec<Epc> = shipment
        .body
        .epcs
        .iter()
        .filter(|e| matches!(e, Epc::Logistic(_)))
        .cloned()
        .collect();
    let mut seen = BTreeSet::new();
    while let Some(parent) = stack.pop() {
        if !seen.insert(parent.clone()) {
            continue;
        }
        for e in store::events_naming(conn, &parent)? {
            if e.body.event_type == EventType::AggregationEvent
                && e.body.parent.as_ref() == Some(&parent)
            {
                if let Some(seq) = store::event_seq(conn, &e.id.0)? {
                    share(conn, &e, seq, org)?;
                }
                stack.extend(
                    e.body
                        .epcs
                        .iter()
                        .filter(|c| matches!(c, Epc::Logistic(_)))
                        .cloned(),
                );
            }
        }
    }
    Ok(())
}

fn open_manifest_doc(conn: &Connection, asn: &str, orgs: &[&str]) -> Result<(), HubError> {
    let id = docs::manifest_doc_id(asn);
    if store::doc_bytes(conn, &id)?.is_none() {
        let mut doc = docs::new_manifest_doc(asn, HUB_DEVICE.as_bytes())?;
        store::save_doc_bytes(conn, &id, &doc.save())?;
    }
    for org in orgs {
        conn.execute(
            "INSERT OR IGNORE INTO doc_scope (doc, org) VALUES (?1, ?2)",
            [&id, *org],
        )?;
    }
    Ok(())
}

/// Makes sure an organisation's flags document exists and is in its scope.
pub fn ensure_flags_doc(conn: &Connection, org: &str) -> Result<(), HubError> {
    let id = docs::flags_doc_id(org);
    if store::doc_bytes(conn, &id)?.is_none() {
        let mut doc = docs::new_flags_doc(org, HUB_DEVICE.as_bytes())?;
        store::save_doc_bytes(conn, &id, &doc.save())?;
    }
    conn.execute(
        "INSERT OR IGNORE INTO doc_scope (doc, org) VALUES (?1, ?2)",
        [&id, org],
    )?;
    Ok(())
}

/// One flag per fact: a kind of problem with one unit at one organisation. Seeing the same
/// diverted unit again, or the same event replayed, raises nothing new.
fn flag_id(kind: &str, epc: &Epc, org: &str) -> String {
    let digest = Sha256::digest(format!("{kind}\u{1d}{}\u{1d}{org}", epc.uri()).as_bytes());
    format!("flag-{}", &hex::encode(digest)[..24])
}

/// Checks a new event against everything the hub holds.
fn reconcile(
    conn: &Connection,
    event: &Event,
    now: DateTime<Utc>,
) -> Result<Vec<HubFlag>, HubError> {
    let b = &event.body;
    if b.recorder.device == HUB_DEVICE || b.extension.error_declaration.is_some() {
        return Ok(Vec::new());
    }
    let mut raised = seen_after_end(conn, event, now)?;
    if !matches!(
        b.biz_step,
        BizStep::Receiving | BizStep::RetailSelling | BizStep::Inspecting
    ) {
        return Ok(raised);
    }
    let mut units = BTreeSet::new();
    for epc in &b.epcs {
        match epc {
            Epc::Unit { .. } => {
                units.insert(epc.clone());
            }
            Epc::Logistic(_) => units.extend(
                store::contents(conn, epc)?
                    .into_iter()
                    .filter(|c| matches!(c, Epc::Unit { .. })),
            ),
        }
    }
    let org = &b.recorder.org;
    for unit in &units {
        let Epc::Unit { gtin, serial } = unit else {
            continue;
        };
        if Registry::is_product(conn, gtin.as_str())?
            && !Registry::is_issued(conn, gtin.as_str(), serial)?
        {
            let reason = format!(
                "{} was never issued by the manufacturer: counterfeit",
                unit.label()
            );
            raised.extend(raise(
                conn,
                "unknown_serial",
                unit,
                event,
                org,
                reason,
                now,
            )?);
            continue;
        }
        // After-sales events are not channel movements, and a unit sold to a consumer has left
        // the channel: whoever services or takes it back is not diverting it.
        if event.detail().is_some()
            || store::last_with_step(
                conn,
                std::slice::from_ref(unit),
                BizStep::RetailSelling,
                Some(event),
            )?
            .is_some()
        {
            continue;
        }
        let mut path = vec![unit.clone()];
        path.extend(store::containers(conn, unit)?);
        let last_shipment = store::last_with_step(conn, &path, BizStep::Shipping, Some(event))?;
        if let Some(shipment) = last_shipment
            && let Some(dest) = &shipment.body.destination
            && dest != org
        {
            let via = shipment
                .transaction(custodian_ledger::manifest::ASN)
                .map(|a| format!(" on {a}"))
                .unwrap_or_default();
            let reason = format!(
                "{} was shipped to {}{via} but {} by {}: outside its authorised channel",
                unit.label(),
                Registry::org_name(conn, dest),
                match b.biz_step {
                    BizStep::RetailSelling => "sold",
                    BizStep::Inspecting => "seen",
                    _ => "received",
                },
                Registry::org_name(conn, org),
            );
            raised.extend(raise(conn, "diversion", unit, event, org, reason, now)?);
        }
    }
    if let Some(Detail::WarrantyClaim { .. }) = event.detail() {
        raised.extend(check_claim(conn, event, now)?);
    }
    Ok(raised)
}

/// A unit named by an event after its life ended (scrapped, destroyed, decommissioned): the
/// code is on something else.
fn seen_after_end(
    conn: &Connection,
    event: &Event,
    now: DateTime<Utc>,
) -> Result<Vec<HubFlag>, HubError> {
    let b = &event.body;
    let mut raised = Vec::new();
    for unit in b.epcs.iter().filter(|e| matches!(e, Epc::Unit { .. })) {
        let one = std::slice::from_ref(unit);
        let mut ends = Vec::new();
        for step in [BizStep::Destroying, BizStep::Decommissioning] {
            ends.extend(store::last_with_step(conn, one, step, Some(event))?);
        }
        // Only an end that comes first: the return receipt recorded with a scrapping, at the
        // same instant, is part of the scrapping.
        let Some(end) = ends
            .into_iter()
            .filter(|end| Event::fold_order(end, event).is_lt())
            .min_by_key(|e| e.body.event_time)
        else {
            continue;
        };
        let reason = format!(
            "{} was {} by {} on {}, yet {} recorded {} on {}: its code is on another unit",
            unit.label(),
            if end.body.biz_step == BizStep::Destroying {
                "destroyed"
            } else {
                "decommissioned"
            },
            Registry::org_name(conn, &end.body.recorder.org),
            end.body.event_time.date_naive(),
            Registry::org_name(conn, &b.recorder.org),
            b.biz_step.as_str(),
            b.event_time.date_naive(),
        );
        raised.extend(raise(
            conn,
            "clone",
            unit,
            event,
            &b.recorder.org,
            reason,
            now,
        )?);
    }
    Ok(raised)
}

/// Validates a warranty claim over everyone's events, as the ledger does on a device, and
/// raises a warranty flag for each rejection the product brief names. The fact a flag stands
/// for is the unit and the kind of rejection (and the defect, for a duplicate).
fn check_claim(
    conn: &Connection,
    event: &Event,
    now: DateTime<Utc>,
) -> Result<Vec<HubFlag>, HubError> {
    let mut raised = Vec::new();
    for unit in &event.body.epcs {
        let Epc::Unit { gtin, serial } = unit else {
            continue;
        };
        let product = Registry::product(conn, gtin.as_str())?;
        let genuine = if Registry::is_issued(conn, gtin.as_str(), serial)? {
            Genuineness::Confirmed
        } else if product.is_some() {
            Genuineness::Counterfeit("never issued by the manufacturer".into())
        } else {
            Genuineness::Unconfirmed
        };
        let own: Vec<Event> = store::events_touching(conn, unit)?
            .into_iter()
            .filter(|e| e.body.epcs.contains(unit) || e.body.parent.as_ref() == Some(unit))
            .collect();
        let claims = warranty::claims(unit, product.as_ref(), &genuine, &own);
        let Some(claim) = claims.iter().find(|c| c.event == event.id.0) else {
            continue;
        };
        let fact = match claim.validation.outcome {
            ClaimOutcome::NotSoldOrRegistered => "unsold".to_string(),
            ClaimOutcome::OutOfPeriod => "out_of_period".to_string(),
            ClaimOutcome::DuplicateDefect => format!("duplicate\u{1d}{}", claim.defect),
            ClaimOutcome::OverThreshold => "over_threshold".to_string(),
            _ => continue,
        };
        let reason = format!(
            "warranty claim by {}: {}",
            Registry::org_name(conn, &event.body.recorder.org),
            claim.validation.reason
        );
        let mut orgs = vec![event.body.recorder.org.clone()];
        if let Some(maker) = own
            .iter()
            .find(|e| e.body.biz_step == BizStep::Commissioning)
            .map(|e| e.body.recorder.org.clone())
            && !orgs.contains(&maker)
        {
            orgs.push(maker);
        }
        for org in &orgs {
            raised.extend(raise_about(
                conn,
                "warranty",
                unit,
                &fact,
                Some(event),
                org,
                reason.clone(),
                now,
            )?);
        }
    }
    Ok(raised)
}

fn raise(
    conn: &Connection,
    kind: &str,
    unit: &Epc,
    event: &Event,
    org: &str,
    reason: String,
    now: DateTime<Utc>,
) -> Result<Option<HubFlag>, HubError> {
    let flag = HubFlag {
        id: flag_id(kind, unit, org),
        kind: kind.into(),
        org: org.into(),
        epc: unit.uri(),
        reason,
        event: event.id.0.clone(),
        raised_at: now.to_rfc3339(),
    };
    store_flag(conn, flag)
}

/// Raises a flag about a fact that is not one event (`fact` distinguishes it, e.g. a day),
/// once, into `org`'s flags document.
pub fn raise_fact(
    conn: &Connection,
    kind: &str,
    unit: &Epc,
    fact: &str,
    org: &str,
    reason: String,
    now: DateTime<Utc>,
) -> Result<Option<HubFlag>, HubError> {
    raise_about(conn, kind, unit, fact, None, org, reason, now)
}

/// As [`raise_fact`], naming the event that revealed the fact.
#[allow(
    clippy::too_many_arguments,
    reason = "a flag is its kind, unit, fact, event, organisation, reason and time"
)]
fn raise_about(
    conn: &Connection,
    kind: &str,
    unit: &Epc,
    fact: &str,
    event: Option<&Event>,
    org: &str,
    reason: String,
    now: DateTime<Utc>,
) -> Result<Option<HubFlag>, HubError> {
    let flag = HubFlag {
        id: flag_id(kind, unit, &format!("{org}\u{1d}{fact}")),
        kind: kind.into(),
        org: org.into(),
        epc: unit.uri(),
        reason,
        event: event.map(|e| e.id.0.clone()).unwrap_or_default(),
        raised_at: now.to_rfc3339(),
    };
    store_flag(conn, flag)
}

fn store_flag(conn: &Connection, flag: HubFlag) -> Result<Option<HubFlag>, HubError> {
    let org = flag.org.as_str();
    let inserted = conn.execute(
        "INSERT OR IGNORE INTO flags (id, kind, org, epc, reason, event, raised_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![flag.id, flag.kind, flag.org, flag.epc, flag.reason, flag.event, flag.raised_at],
    )?;
    if inserted == 0 {
        return Ok(None);
    }
    ensure_flags_doc(conn, org)?;
    let id = docs::flags_doc_id(org);
    let bytes =
        store::doc_bytes(conn, &id)?.ok_or_else(|| HubError::Internal(format!("{id} vanished")))?;
    let mut doc = automerge::AutoCommit::load(&bytes).map_err(custodian_ledger::Error::from)?;
    docs::add_flag(
        &mut doc,
        &docs::Flag {
            id: flag.id.clone(),
            kind: flag.kind.clone(),
            epc: flag.epc.clone(),
            reason: flag.reason.clone(),
            raised_at: flag.raised_at.clone(),
            event: flag.event.clone(),
            status: "new".into(),
        },
    )?;
    store::save_doc_bytes(conn, &id, &doc.save())?;
    Ok(Some(flag))
}
