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
//! (**warranty**, to the claiming organisation and to the manufacturer). A receipt with no
//! shipment on record, or a shipment by an organisation that never held the unit, is **out of
//! sequence** (to the recorder, the shipment's destination and the holder on record); when the
//! missing shipment or receipt arrives late, the hub closes those flags itself, saying which
//! event arrived. A counterfeit report puts the unit on the counterfeit alert list (the registry
//! extract carries it to every device, with every report behind it) and raises **counterfeit**
//! for the reporter, the manufacturer, the holder on record and, while the unit is in transit,
//! its destination; a listed unit shipped raises it for the destination. An error declaration
//! is shared like the event it declares and checked for nothing (a counterfeit report declared
//! erroneous is withdrawn from the list).
//!
//! The flags one transaction raises are gathered in a [`FlagDocs`] (see [`crate::flags`]).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use custodian_ledger::event::{BizStep, Detail, Disposition, EventType};
use custodian_ledger::sql::{AsDb, Batched, OptionalExtension, params};
use custodian_ledger::warranty::{self, ClaimOutcome, Genuineness};
use custodian_ledger::{Custody, Epc, Event, FlagKind, docs, store};

use crate::HUB_DEVICE;
use crate::HubError;
use crate::flags::HubFlag;
use crate::flags::{FlagDocs, flag_id};
use crate::listing::{self, Draft, Listed, Words, raise_draft};
use crate::round::Round;

/// Stores `event` (a no-op if held) and, when it is new, shares it and reconciles it.
/// Returns the flags it raised; `None` for an event held before.
///
/// The event is a round of its own ([`Round::read`]): what its checks ask about its units is
/// read in a few statements for all of them, which for an event naming thousands (a
/// commissioning, a shipment from the hub's own systems) is most of its cost.
pub fn record(
    conn: impl AsDb,
    flags: &mut FlagDocs,
    event: &Event,
    now: DateTime<Utc>,
) -> Result<Option<Vec<HubFlag>>, HubError> {
    let conn = conn.db();
    let prepared = store::Prepared::of(event, 0)?;
    let round = Round::read(conn, std::slice::from_ref(event))?;
    let recorded = record_prepared(conn, flags, &round, event, &prepared, now)?;
    round.finish(conn)?;
    Ok(recorded)
}

/// As [`record`], for an event from a device whose clock runs ahead of the hub's, with its
/// stored columns `prepared` for its corrected time ([`store::Prepared::of`]): the event is
/// ordered by its corrected time, so a wrong clock raises no false flag. `round` holds what the
/// round's checks read once for the round ([`Round::read`]).
pub fn record_prepared(
    conn: impl AsDb,
    flags: &mut FlagDocs,
    round: &Round,
    event: &Event,
    prepared: &store::Prepared,
    now: DateTime<Utc>,
) -> Result<Option<Vec<HubFlag>>, HubError> {
    let conn = conn.db();
    let Some(seq) = round.store(conn, event, prepared)? else {
        return Ok(None);
    };
    share(conn, event, seq, &event.body.recorder.org)?;
    if event.body.biz_step == BizStep::Shipping
        && let Some(dest) = &event.body.destination
    {
        share(conn, event, seq, dest)?;
        let disclosed = crate::access::disclosed_by_shipment(conn, event)?;
        share_contents(conn, &disclosed, dest)?;
        crate::quarantine::share_with_recipient(conn, &disclosed, dest)?;
        if let Some(asn) = event.transaction(custodian_ledger::manifest::ASN) {
            open_manifest_doc(conn, &event.body.recorder.org, asn, dest)?;
        }
    }
    crate::quarantine::on_event(conn, event, seq)?;
    let until = prepared.until(event);
    reconcile(conn, flags, round, event, &until, now).map(Some)
}

/// Lets `org` see `event` (stored at `seq`). Its row names the device that recorded the event
/// when that device is `org`'s: the device holds it already and is not sent it back.
fn share(conn: impl AsDb, event: &Event, seq: i64, org: &str) -> Result<(), HubError> {
    let conn = conn.db();
    let recorder = &event.body.recorder;
    let device = (recorder.org == org).then_some(recorder.device.as_str());
    static AUDIENCE: Batched = Batched {
        sql: "INSERT OR IGNORE INTO audience (org, seq, device) VALUES (?1, ?2, ?3)",
        types: &["text", "int8", "text"],
    };
    conn.insert_later(&AUDIENCE, params![org, seq, device])?;
    Ok(())
}

/// A shipment's recipient needs to know what its logistic units contain: the packing events of
/// the logistic units the shipment discloses (see [`crate::access`]), and no others.
fn share_contents(conn: impl AsDb, disclosed: &BTreeSet<Epc>, org: &str) -> Result<(), HubError> {
    let conn = conn.db();
    for parent in disclosed.iter().filter(|e| matches!(e, Epc::Logistic(_))) {
        for e in store::events_naming(conn, parent)? {
            if e.body.event_type == EventType::AggregationEvent
                && e.body.parent.as_ref() == Some(parent)
                && let Some(seq) = store::event_seq(conn, &e.id.0)?
            {
                share(conn, &e, seq, org)?;
            }
        }
    }
    Ok(())
}

/// Opens the working document of `owner`'s ASN and lets `owner` and `receiver` edit it. The
/// document is named by its owner as well as its number, and only the owner's own shipment
/// adds an organisation to it: a partner that ships under the same number opens a document of
/// its own, never joins this one.
fn open_manifest_doc(
    conn: impl AsDb,
    owner: &str,
    asn: &str,
    receiver: &str,
) -> Result<(), HubError> {
    let conn = conn.db();
    let id = docs::manifest_doc_id(owner, asn);
    if store::doc_bytes(conn, &id)?.is_none() {
        let mut doc = docs::new_manifest_doc(asn, HUB_DEVICE.as_bytes())?;
        store::save_doc_bytes(conn, &id, &doc.save())?;
    }
    for org in [owner, receiver] {
        conn.execute(
            "INSERT OR IGNORE INTO doc_scope (doc, org) VALUES (?1, ?2)",
            [&id, org],
        )?;
    }
    Ok(())
}

/// Renames ASN documents kept under their number alone to their owner-scoped ids (see
/// `store::scope_manifest_docs`), and keeps in each one's access list only its owner and the
/// organisations the owner shipped to under that number: an organisation that joined by
/// shipping under the same number loses it.
pub fn scope_manifest_docs(conn: impl AsDb) -> Result<(), HubError> {
    let conn = conn.db();
    let tx = conn.transaction()?;
    let conn = &*tx;
    for (old, new) in store::scope_manifest_docs(conn)? {
        let Some(asn) = docs::unscoped_manifest_asn(&old) else {
            continue;
        };
        let shipments: Vec<Event> =
            store::events_in_transaction(conn, custodian_ledger::manifest::ASN, asn)?
                .into_iter()
                .filter(|e| e.body.biz_step == BizStep::Shipping)
                .collect();
        let Some(owner) = shipments.first().map(|e| e.body.recorder.org.clone()) else {
            continue;
        };
        let mut allowed: BTreeSet<String> = shipments
            .iter()
            .filter(|e| e.body.recorder.org == owner)
            .filter_map(|e| e.body.destination.clone())
            .collect();
        allowed.insert(owner);
        let scope: Vec<String> = {
            let mut stmt = conn.prepare("SELECT org FROM doc_scope WHERE doc = ?1")?;
            stmt.query_map([&old], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        for org in scope.iter().filter(|o| allowed.contains(*o)) {
            conn.execute(
                "INSERT OR IGNORE INTO doc_scope (doc, org) VALUES (?1, ?2)",
                [&new, org],
            )?;
        }
        conn.execute("DELETE FROM doc_scope WHERE doc = ?1", [&old])?;
        conn.execute("DELETE FROM doc_current WHERE doc = ?1", [&old])?;
        conn.execute("DELETE FROM doc_versions WHERE doc = ?1", [&old])?;
    }
    tx.commit()?;
    Ok(())
}

/// **Out of sequence** in time: an event dated, after correcting its device's clock, outside the
/// window the hub believes (see `exchange::event_offset`). It was ordered as received; the
/// recorder and the manufacturer hear of it once per unit and event.
pub fn implausible_time(
    conn: impl AsDb,
    flags: &mut FlagDocs,
    event: &Event,
    clock_offset_ms: i64,
    now: DateTime<Utc>,
) -> Result<Vec<HubFlag>, HubError> {
    let conn = conn.db();
    let b = &event.body;
    let reason_for = |units: &str| {
        format!(
            "{units} {} recorded by {} as {} at {} (the device's clock {}), which the hub does not believe: it was ordered as received at {}; check the device's clock",
            if units.contains(listing::UNITS) {
                "were"
            } else {
                "was"
            },
            crate::catalog::org_name(conn, &b.recorder.org),
            b.biz_step.as_str(),
            b.event_time.to_rfc3339(),
            if clock_offset_ms == 0 {
                "read like the hub's, or too far off to correct".to_string()
            } else {
                format!("{:+} s off the hub's", clock_offset_ms / 1000)
            },
            now.to_rfc3339(),
        )
    };
    let fact = format!("time\u{1d}{}", event.id);
    let maker = flags.maker(conn)?;
    let mut raised = Vec::new();
    for unit in b.epcs.iter().chain(b.parent.iter()) {
        for org in concerned(&b.recorder.org, &[maker.as_deref()]) {
            // One flag per event for each organisation told, listing the event's units.
            let reason = reason_for(&unit.label());
            let summary = reason_for(&format!("{} units", listing::UNITS));
            raised.extend(listing::raise(
                conn,
                flags,
                Listed {
                    kind: FlagKind::OutOfSequence,
                    org: &org,
                    unit,
                    key: flag_id(
                        &FlagKind::OutOfSequence,
                        unit,
                        &format!("{org}\u{1d}{fact}"),
                    ),
                    cause: Some(fact.clone()),
                    event: Some(event),
                    words: &|| {
                        Ok(Words {
                            reason: reason.clone(),
                            summary: summary.clone(),
                        })
                    },
                },
                now,
            )?);
        }
    }
    Ok(raised)
}

/// Checks a new event against everything the hub holds; `until` bounds it (its stored time).
fn reconcile(
    conn: impl AsDb,
    flags: &mut FlagDocs,
    round: &Round,
    event: &Event,
    until: &store::Until,
    now: DateTime<Utc>,
) -> Result<Vec<HubFlag>, HubError> {
    let conn = conn.db();
    let b = &event.body;
    if b.extension.error_declaration.is_some() {
        // A counterfeit report declared erroneous is withdrawn: its unit leaves the alert list
        // when no other report remains, and the unit's counterfeit flags say what remains.
        if let Some(declared) = event.declared_id()
            && let Some(epc) = crate::reports::remove(conn, &declared.0)?
        {
            restate_counterfeit_flags(conn, flags, &epc)?;
        }
        return Ok(Vec::new());
    }
    // What arrives late may be what an out-of-sequence flag found missing.
    resolve_out_of_sequence(conn, flags, round, event, now)?;
    if b.recorder.device == HUB_DEVICE {
        return Ok(Vec::new());
    }
    let mut raised = seen_after_end(conn, flags, round, event, until, now)?;
    if let Some(Detail::CounterfeitReport { note, .. }) = event.detail() {
        raised.extend(reported_counterfeit(
            conn,
            flags,
            event,
            note.as_str(),
            now,
        )?);
    }
    if b.biz_step == BizStep::Shipping && event.detail().is_none() {
        raised.extend(shipped_without_receipt(conn, flags, round, event, now)?);
        raised.extend(listed_unit_shipped(conn, flags, event, now)?);
    }
    if !matches!(
        b.biz_step,
        BizStep::Receiving | BizStep::RetailSelling | BizStep::Inspecting
    ) {
        return Ok(raised);
    }
    let units = store::units_at(conn, event)?;
    let org = &b.recorder.org;
    let maker = flags.maker(conn)?;
    raised.extend(claimed_logistic_units(conn, flags, event, now)?);
    for unit in &units {
        if !unit.is_unit() {
            continue;
        }
        // The recorder hears about the units it named and those it holds; a unit it reached
        // only through a pallet it does not hold is the manufacturer's to hear about.
        let told = b.epcs.contains(unit) || crate::access::held_by(conn, unit, org)?;
        let Some(to) = (if told { Some(org) } else { maker.as_ref() }) else {
            continue;
        };
        let (issued, never_issued) = round.issuance(conn, unit)?;
        if never_issued {
            // A carton of fakes is one problem: one flag per occasion (an ASN, else a day) and
            // step lists every unit of it the manufacturer never issued.
            let (occasion, when) = occasion(event);
            let verb = match b.biz_step {
                BizStep::RetailSelling => "sold",
                BizStep::Inspecting => "seen",
                _ => "received",
            };
            let name = crate::catalog::org_name(conn, org);
            raised.extend(listing::raise(
                conn,
                flags,
                Listed {
                    kind: FlagKind::UnknownSerial,
                    org: to,
                    unit,
                    key: flag_id(&FlagKind::UnknownSerial, unit, to),
                    cause: Some(format!("{}\u{1d}{org}\u{1d}{occasion}", b.biz_step.as_str())),
                    event: Some(event),
                    words: &|| {
                        Ok(Words {
                            reason: format!(
                                "{} was never issued by the manufacturer: counterfeit",
                                unit.label()
                            ),
                            summary: format!(
                                "{} units {verb} by {name} {when} were never issued by the manufacturer: counterfeit",
                                listing::UNITS,
                            ),
                        })
                    },
                },
                now,
            )?);
            continue;
        }
        // After-sales events are not channel movements, and a unit sold to a consumer has left
        // the channel: whoever services or takes it back is not diverting it.
        if event.detail().is_some()
            || round
                .last_naming(conn, unit, BizStep::RetailSelling, until)?
                .is_some()
        {
            continue;
        }
        let last_shipment = round.last_touching(conn, unit, BizStep::Shipping, until)?;
        if let Some(shipment) = &last_shipment
            && let Some(dest) = &shipment.body.destination
            && dest != org
        {
            // The flag goes to the organisation that has the unit, which is told the unit was
            // not shipped to it, not where it was shipped: that is another partner's business.
            // One flag per occasion (an ASN, else a day) and step lists every such unit.
            let name = crate::catalog::org_name(conn, org);
            let verb = match b.biz_step {
                BizStep::RetailSelling => "sold",
                BizStep::Inspecting => "seen",
                _ => "received",
            };
            let (occasion, when) = occasion(event);
            let (via, via_many) = if told {
                (String::new(), String::new())
            } else {
                let dest = crate::catalog::org_name(conn, dest);
                (
                    format!(" (it was shipped to {dest} and reached through a logistic unit)"),
                    format!(" (they were shipped to {dest} and reached through a logistic unit)"),
                )
            };
            let cause = format!(
                "{}\u{1d}{occasion}\u{1d}{}",
                b.biz_step.as_str(),
                if told { "" } else { dest.as_str() }
            );
            raised.extend(listing::raise(
                conn,
                flags,
                Listed {
                    kind: FlagKind::Diversion,
                    org: to,
                    unit,
                    key: flag_id(&FlagKind::Diversion, unit, to),
                    cause: Some(cause),
                    event: Some(event),
                    words: &|| {
                        Ok(Words {
                            reason: format!(
                                "{} was not shipped to {name}, yet {verb} by it: outside its authorised channel{via}",
                                unit.label(),
                            ),
                            summary: format!(
                                "{} units were not shipped to {name}, yet {verb} by it {when}: outside its authorised channel{via_many}",
                                listing::UNITS,
                            ),
                        })
                    },
                },
                now,
            )?);
        } else if last_shipment.is_none()
            && issued
            && b.biz_step == BizStep::Receiving
            && b.disposition != Some(Disposition::Returned)
        {
            raised.extend(received_without_shipment(
                conn, flags, round, unit, event, told, now,
            )?);
        }
    }
    if let Some(Detail::WarrantyClaim { .. }) = event.detail() {
        raised.extend(check_claim(conn, flags, event, now)?);
    }
    Ok(raised)
}

/// **Out of sequence**: a receipt, sale or sighting of a logistic unit its recorder does not
/// hold (no holder shipped it there, see [`crate::access`]). The recorder is told once per
/// pallet, and told nothing of what the pallet holds; what its units' checks find goes to the
/// units' holders and the manufacturer. When the shipment to the recorder arrives late, the
/// flag is closed like a receipt's ([`resolve_out_of_sequence`]).
fn claimed_logistic_units(
    conn: impl AsDb,
    flags: &mut FlagDocs,
    event: &Event,
    now: DateTime<Utc>,
) -> Result<Vec<HubFlag>, HubError> {
    let conn = conn.db();
    let b = &event.body;
    let org = b.recorder.org.as_str();
    let mut raised = Vec::new();
    for pallet in b.epcs.iter().filter(|e| matches!(e, Epc::Logistic(_))) {
        if crate::access::held_by(conn, pallet, org)? {
            continue;
        }
        let reason = format!(
            "{} was {} by {} on {}, but it was never shipped to {} on record: out of sequence; nothing about its contents was disclosed",
            pallet.label(),
            match b.biz_step {
                BizStep::RetailSelling => "sold",
                BizStep::Inspecting => "seen",
                _ => "received",
            },
            crate::catalog::org_name(conn, org),
            b.event_time.date_naive(),
            crate::catalog::org_name(conn, org),
        );
        raised.extend(raise_draft(
            conn,
            flags,
            Draft {
                kind: FlagKind::OutOfSequence,
                unit: pallet,
                fact: format!("received\u{1d}{org}"),
                event: Some(event),
                org,
                reason,
            },
            now,
        )?);
    }
    Ok(raised)
}

/// A unit named by an event after its life ended (scrapped, destroyed, decommissioned): the
/// code is on something else.
fn seen_after_end(
    conn: impl AsDb,
    flags: &mut FlagDocs,
    round: &Round,
    event: &Event,
    until: &store::Until,
    now: DateTime<Utc>,
) -> Result<Vec<HubFlag>, HubError> {
    let conn = conn.db();
    let b = &event.body;
    let mut raised = Vec::new();
    for unit in b.epcs.iter().filter(|e| e.is_unit()) {
        let mut ends = Vec::new();
        for step in [BizStep::Destroying, BizStep::Decommissioning] {
            ends.extend(round.last_naming(conn, unit, step, until)?);
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
            crate::catalog::org_name(conn, &end.body.recorder.org),
            end.body.event_time.date_naive(),
            crate::catalog::org_name(conn, &b.recorder.org),
            b.biz_step.as_str(),
            b.event_time.date_naive(),
        );
        // A carton of clones is one problem: one flag per occasion (an ASN, else a day) and
        // step lists every unit of it whose life had ended.
        let (occasion, when) = occasion(event);
        let org = b.recorder.org.as_str();
        let verb = match b.biz_step {
            BizStep::RetailSelling => "sold",
            BizStep::Receiving => "received",
            BizStep::Shipping => "shipped",
            BizStep::Inspecting => "seen",
            _ => "recorded",
        };
        raised.extend(listing::raise(
            conn,
            flags,
            Listed {
                kind: FlagKind::Clone,
                org,
                unit,
                key: flag_id(&FlagKind::Clone, unit, org),
                cause: Some(format!("{}\u{1d}{occasion}", b.biz_step.as_str())),
                event: Some(event),
                words: &|| {
                    Ok(Words {
                        reason: reason.clone(),
                        summary: format!(
                            "{} units destroyed or decommissioned before were {verb} by {} {when}: their codes are on other units",
                            listing::UNITS,
                            crate::catalog::org_name(conn, org),
                        ),
                    })
                },
            },
            now,
        )?);
    }
    Ok(raised)
}

/// **Counterfeit**: a partner reported a unit counterfeit. The unit goes on the counterfeit
/// alert list, which reaches every device with its next registry extract, and the reporter,
/// the manufacturer, the holder on record and, while the unit is in transit, the organisation
/// it was shipped to each get one flag for the unit, however many reports follow. Every report
/// is kept: each flag on the unit says who reported it, when and why, for all of them.
fn reported_counterfeit(
    conn: impl AsDb,
    flags: &mut FlagDocs,
    event: &Event,
    note: &str,
    now: DateTime<Utc>,
) -> Result<Vec<HubFlag>, HubError> {
    let conn = conn.db();
    let b = &event.body;
    let reporter = b.recorder.org.as_str();
    let maker_org = flags.maker(conn)?;
    let mut raised = Vec::new();
    for unit in b.epcs.iter().filter(|e| e.is_unit()) {
        if maker_org.as_deref() != Some(reporter) && !crate::access::held_by(conn, unit, reporter)?
        {
            raised.extend(report_for_review(
                conn,
                flags,
                event,
                unit,
                note,
                maker_org.as_deref(),
                now,
            )?);
            continue;
        }
        let recorded = crate::reports::add(conn, event, unit, note)?;
        let (custody, before) = custody_before(conn, &Round::none(), unit, event)?;
        let maker = match before
            .iter()
            .find(|e| e.body.biz_step == BizStep::Commissioning)
        {
            Some(c) => Some(c.body.recorder.org.clone()),
            None if crate::catalog::is_product_of(conn, unit)? => maker_org.clone(),
            None => None,
        };
        let reports = crate::reports::of(conn, &unit.uri())?;
        let listed = reports.iter().any(|r| r.event == event.id.0);
        let reason_for = |org: &str| -> Result<String, HubError> {
            Ok(if listed {
                counterfeit_reason(conn, unit, &reports, org)?
            } else {
                // Not on the list (cleared after it was made, or withdrawn): this report alone.
                let note = if org == reporter || maker_org.as_deref() == Some(org) {
                    format!(": {note}")
                } else {
                    String::new()
                };
                format!(
                    "{} was reported counterfeit by {} on {}{note}",
                    unit.label(),
                    crate::catalog::org_name(conn, reporter),
                    b.event_time.date_naive(),
                )
            })
        };
        let in_transit_to = (custody.state == custodian_ledger::custody::State::InTransit)
            .then_some(custody.shipped_to.as_deref())
            .flatten();
        for org in concerned(
            &b.recorder.org,
            &[
                maker.as_deref(),
                custody.custodian.as_deref(),
                in_transit_to,
            ],
        ) {
            let reason = reason_for(&org)?;
            raised.extend(raise_draft(
                conn,
                flags,
                Draft {
                    kind: FlagKind::Counterfeit,
                    unit,
                    fact: "reported".to_string(),
                    event: Some(event),
                    org: &org,
                    reason,
                },
                now,
            )?);
        }
        if recorded {
            // Flags raised by earlier reports name this one too.
            restate_counterfeit_flags(conn, flags, &unit.uri())?;
        }
    }
    Ok(raised)
}

/// **Counterfeit**, for review: a partner reported a unit it never held on record. Anyone can
/// type a code, so such a report does not put the unit on the alert list (nor change what
/// public verification answers); the manufacturer is flagged to review it (and lists the unit
/// with `hub alert` if it agrees), and the reporter is told where its report went. The note
/// stays between the two.
fn report_for_review(
    conn: impl AsDb,
    flags: &mut FlagDocs,
    event: &Event,
    unit: &Epc,
    note: &str,
    maker: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<HubFlag>, HubError> {
    let conn = conn.db();
    let b = &event.body;
    let reporter = crate::catalog::org_name(conn, &b.recorder.org);
    let day = b.event_time.date_naive();
    let mut raised = Vec::new();
    if let Some(maker) = maker {
        let reason = format!(
            "{} was reported counterfeit by {reporter} on {day}: {note}. {reporter} never held the unit on record, so the report awaits your review: list the unit with `custodian hub alert` if you agree",
            unit.label()
        );
        raised.extend(raise_draft(
            conn,
            flags,
            Draft {
                kind: FlagKind::Counterfeit,
                unit,
                fact: "review".to_string(),
                event: Some(event),
                org: maker,
                reason,
            },
            now,
        )?);
    }
    let reason = format!(
        "your report of {} as counterfeit ({day}: {note}) went to the manufacturer for review: the unit was never in your custody on record, so it is not on the alert list unless the manufacturer lists it",
        unit.label()
    );
    raised.extend(raise_draft(
        conn,
        flags,
        Draft {
            kind: FlagKind::Counterfeit,
            unit,
            fact: "review".to_string(),
            event: Some(event),
            org: &b.recorder.org,
            reason,
        },
        now,
    )?);
    Ok(raised)
}

/// A counterfeit flag's reason for `reader`: every report standing behind the unit's alert.
/// Each report's note is given only to its reporter and the manufacturer.
fn counterfeit_reason(
    conn: impl AsDb,
    unit: &Epc,
    reports: &[crate::reports::AlertReport],
    reader: &str,
) -> Result<String, HubError> {
    let conn = conn.db();
    if reports.is_empty() {
        return Ok(format!(
            "{} was reported counterfeit, but every report was withdrawn as erroneous",
            unit.label()
        ));
    }
    let reporters: BTreeSet<&str> = reports.iter().map(|r| r.reported_by.as_str()).collect();
    let count = if reports.len() == 1 {
        String::new()
    } else {
        format!(
            " {} times by {} organisation{}:",
            reports.len(),
            reporters.len(),
            if reporters.len() == 1 { "" } else { "s" }
        )
    };
    Ok(format!(
        "{} was reported counterfeit{count} {}",
        unit.label(),
        crate::reports::in_words(conn, reports, Some(reader))?
    ))
}

/// Rewrites the reason of every counterfeit flag on `epc` to name the reports that stand now.
fn restate_counterfeit_flags(
    conn: impl AsDb,
    flags: &mut FlagDocs,
    epc: &str,
) -> Result<(), HubError> {
    let conn = conn.db();
    let unit = Epc::parse(epc).map_err(|e| HubError::Internal(format!("{epc}: {e}")))?;
    let reports = crate::reports::of(conn, epc)?;
    let held: Vec<(String, String, String, String)> = {
        let mut stmt = conn.prepare_cached(
            "SELECT id, org, reason, event FROM flags WHERE kind = 'counterfeit' AND epc = ?1",
        )?;
        stmt.query_map(params![epc], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<Result<_, _>>()?
    };
    for (id, org, old, _) in held {
        if id == flag_id(&FlagKind::Counterfeit, &unit, &format!("{org}\u{1d}review")) {
            // A report under review stands alone: it is not on the list.
            continue;
        }
        let reason = counterfeit_reason(conn, &unit, &reports, &org)?;
        if reason != old {
            flags.restate(conn, &org, &id, &reason)?;
        }
    }
    Ok(())
}

/// **Counterfeit**, on the way: a unit on the alert list shipped to an organisation, which hears
/// of it before the unit arrives (one flag per unit, the same a report would raise for it).
fn listed_unit_shipped(
    conn: impl AsDb,
    flags: &mut FlagDocs,
    event: &Event,
    now: DateTime<Utc>,
) -> Result<Vec<HubFlag>, HubError> {
    let conn = conn.db();
    let b = &event.body;
    let Some(dest) = b.destination.as_deref() else {
        return Ok(Vec::new());
    };
    if dest == "consumer" || dest == b.recorder.org {
        return Ok(Vec::new());
    }
    let mut raised = Vec::new();
    for unit in units_of(conn, event)? {
        let listed: Option<String> = conn
            .query_row(
                "SELECT reason FROM alerts WHERE epc = ?1",
                [unit.uri()],
                |r| r.get(0),
            )
            .optional()?;
        let Some(listed) = listed else {
            continue;
        };
        let reports = crate::reports::of(conn, &unit.uri())?;
        let reason = if reports.is_empty() {
            format!(
                "{} is on the counterfeit alert list ({listed}) and was shipped to {} by {}",
                unit.label(),
                crate::catalog::org_name(conn, dest),
                crate::catalog::org_name(conn, &b.recorder.org),
            )
        } else {
            format!(
                "{}; it was shipped to {} by {}",
                counterfeit_reason(conn, &unit, &reports, dest)?,
                crate::catalog::org_name(conn, dest),
                crate::catalog::org_name(conn, &b.recorder.org),
            )
        };
        raised.extend(raise_draft(
            conn,
            flags,
            Draft {
                kind: FlagKind::Counterfeit,
                unit: &unit,
                fact: "reported".to_string(),
                event: Some(event),
                org: dest,
                reason,
            },
            now,
        )?);
    }
    Ok(raised)
}

/// **Counterfeit**, on the way: the manufacturer put a unit on the alert list while it was in
/// transit; the organisation it was shipped to is flagged (the same flag a report raises).
pub(crate) fn listed_in_transit(
    conn: impl AsDb,
    flags: &mut FlagDocs,
    unit: &Epc,
    listed: &str,
    now: DateTime<Utc>,
) -> Result<Option<HubFlag>, HubError> {
    let conn = conn.db();
    let custody = Custody::derive(unit, &store::events_touching(conn, unit)?);
    if custody.state != custodian_ledger::custody::State::InTransit {
        return Ok(None);
    }
    let Some(dest) = custody.shipped_to.as_deref().filter(|d| *d != "consumer") else {
        return Ok(None);
    };
    let reason = format!(
        "{} was put on the counterfeit alert list ({listed}) while on its way to {}",
        unit.label(),
        crate::catalog::org_name(conn, dest),
    );
    raise_draft(
        conn,
        flags,
        Draft {
            kind: FlagKind::Counterfeit,
            unit,
            fact: "reported".to_string(),
            event: None,
            org: dest,
            reason,
        },
        now,
    )
}

/// The units an event names, directly or inside the logistic units it names as they were
/// packed when it happened.
fn units_of(conn: impl AsDb, event: &Event) -> Result<BTreeSet<Epc>, HubError> {
    let conn = conn.db();
    Ok(store::units_at(conn, event)?)
}

/// The unit's custody as it stood just before `event`: who held it, and everything before.
fn custody_before(
    conn: impl AsDb,
    round: &Round,
    unit: &Epc,
    event: &Event,
) -> Result<(Custody, Vec<Event>), HubError> {
    let conn = conn.db();
    let others = round.events_touching_except(conn, unit, &event.id)?;
    let before: Vec<Event> = others
        .into_iter()
        .filter(|e| Event::fold_order(e, event).is_lt())
        .collect();
    Ok((Custody::derive(unit, &before), before))
}

/// The organisations an out-of-sequence event concerns: the recorder, the party the event says
/// the unit went to, and whoever held it on record (unless that is the consumer), each once.
fn concerned(recorder: &str, also: &[Option<&str>]) -> Vec<String> {
    let mut orgs = vec![recorder.to_string()];
    for org in also.iter().flatten() {
        if *org != "consumer" && !orgs.iter().any(|o| o == org) {
            orgs.push((*org).to_string());
        }
    }
    orgs
}

/// Whether `org` may be told who holds a unit on record: the holder itself and the
/// manufacturer. Other partners learn that a unit is out of sequence, never where it is.
fn may_know_holder(maker: Option<&str>, org: &str, holder: Option<&str>) -> bool {
    holder == Some(org) || maker == Some(org)
}

/// " (on record it is with X)" for those who may know it, else nothing.
fn holder_phrase(
    conn: impl AsDb,
    maker: Option<&str>,
    org: &str,
    holder: Option<&str>,
) -> Result<String, HubError> {
    let conn = conn.db();
    Ok(match holder {
        Some(h) if may_know_holder(maker, org, holder) => {
            format!(
                " (on record it is with {})",
                crate::catalog::org_name(conn, h)
            )
        }
        _ => String::new(),
    })
}

/// What units an event names came under, for a flag standing for them: the ASN it names, else
/// its day (as a cause, and in words).
fn occasion(event: &Event) -> (String, String) {
    match event.transaction(custodian_ledger::manifest::ASN) {
        Some(asn) => (format!("asn\u{1d}{asn}"), format!("under {asn}")),
        None => {
            let day = event.body.event_time.date_naive();
            (format!("day\u{1d}{day}"), format!("on {day}"))
        }
    }
}

/// **Out of sequence**: a unit received with no shipment on record (by the hub's corrected
/// order), from a holder other than the receiver. The fact is the unit received by that
/// organisation: however many receipts or replays, it is listed once for the receiver, the
/// holder and the manufacturer. The cause is the receipt: the units one organisation received
/// from one holder under one manifest (or on one day, without a manifest) share one flag. Only
/// the holder and the manufacturer are told who holds the units.
fn received_without_shipment(
    conn: impl AsDb,
    flags: &mut FlagDocs,
    round: &Round,
    unit: &Epc,
    event: &Event,
    told: bool,
    now: DateTime<Utc>,
) -> Result<Vec<HubFlag>, HubError> {
    let conn = conn.db();
    let b = &event.body;
    let (custody, _) = custody_before(conn, round, unit, event)?;
    let holder = custody.custodian.as_deref();
    if holder == Some(b.recorder.org.as_str()) {
        // Moving stock between one's own sites is not a transfer.
        return Ok(Vec::new());
    }
    let fact = format!("received\u{1d}{}", b.recorder.org);
    let day = b.event_time.date_naive();
    let (occasion, when) = occasion(event);
    let cause = format!("{fact}\u{1d}{}\u{1d}{occasion}", holder.unwrap_or(""));
    let maker = flags.maker(conn)?;
    // Reached through a pallet the recorder does not hold, the recorder hears of the pallet.
    let orgs: Vec<String> = concerned(&b.recorder.org, &[holder, maker.as_deref()])
        .into_iter()
        .filter(|org| told || *org != b.recorder.org)
        .collect();
    let words: Vec<_> = orgs
        .iter()
        .map(|org| {
            let (maker, when) = (maker.as_deref(), &when);
            move || -> Result<Words, HubError> {
                let receiver = crate::catalog::org_name(conn, &b.recorder.org);
                let held = holder_phrase(conn, maker, org, holder)?;
                Ok(Words {
                    reason: format!(
                        "{} was received by {receiver} on {day} with no shipment on record{held}: out of sequence",
                        unit.label(),
                    ),
                    summary: format!(
                        "{} units were received by {receiver} {when} with no shipment on record{held}: out of sequence",
                        listing::UNITS,
                    ),
                })
            }
        })
        .collect();
    let listed = orgs
        .iter()
        .zip(&words)
        .map(|(org, words)| Listed {
            kind: FlagKind::OutOfSequence,
            org,
            unit,
            key: flag_id(
                &FlagKind::OutOfSequence,
                unit,
                &format!("{org}\u{1d}{fact}"),
            ),
            cause: Some(cause.clone()),
            event: Some(event),
            words,
        })
        .collect();
    listing::raise_all(conn, flags, listed, round.never_listed(unit), now)
}

/// **Out of sequence**: a unit shipped by an organisation that never held it (never
/// commissioned, received, repaired or had it fitted or removed there). The fact is the unit
/// shipped by that organisation. The holder on record and the manufacturer hear of every such
/// unit, with who holds it. The shipper and the destination hear only of what the shipment
/// named itself: a unit it names, and a logistic unit the shipper does not hold (one flag for
/// it, never the units inside it, which the hub does not disclose to them).
fn shipped_without_receipt(
    conn: impl AsDb,
    flags: &mut FlagDocs,
    round: &Round,
    event: &Event,
    now: DateTime<Utc>,
) -> Result<Vec<HubFlag>, HubError> {
    let conn = conn.db();
    let b = &event.body;
    let shipper = b.recorder.org.as_str();
    let units = store::units_at(conn, event)?;
    let maker = flags.maker(conn)?;
    let fact = format!("shipped\u{1d}{shipper}");
    let sent_to = b
        .destination
        .as_deref()
        .map(|d| format!(" to {}", crate::catalog::org_name(conn, d)))
        .unwrap_or_default();
    let mut raised = Vec::new();
    for unit in &units {
        let Epc::Unit { gtin, serial } = unit else {
            continue;
        };
        if !crate::catalog::is_issued(conn, gtin.as_str(), serial)? {
            continue;
        }
        let (custody, before) = custody_before(conn, round, unit, event)?;
        let held = before
            .iter()
            .any(|e| e.body.recorder.org == shipper && holds(e.body.biz_step));
        if held {
            continue;
        }
        let holder = custody.custodian.as_deref();
        let named = b.epcs.contains(unit);
        let mut orgs = Vec::new();
        for org in concerned(
            shipper,
            &[b.destination.as_deref(), holder, maker.as_deref()],
        ) {
            if named || may_know_holder(maker.as_deref(), &org, holder) {
                orgs.push(org);
            }
        }
        // One flag per shipment (and holder on record) for each organisation told.
        let cause = format!("{fact}\u{1d}{}\u{1d}{}", event.id, holder.unwrap_or(""));
        for org in orgs {
            let held = holder_phrase(conn, maker.as_deref(), &org, holder)?;
            let name = crate::catalog::org_name(conn, shipper);
            let day = b.event_time.date_naive();
            raised.extend(listing::raise(
                conn,
                flags,
                Listed {
                    kind: FlagKind::OutOfSequence,
                    org: &org,
                    unit,
                    key: flag_id(&FlagKind::OutOfSequence, unit, &format!("{org}\u{1d}{fact}")),
                    cause: Some(cause.clone()),
                    event: Some(event),
                    words: &|| {
                        Ok(Words {
                            reason: format!(
                                "{} was shipped by {name}{sent_to} on {day}, but {name} never received it{held}: out of sequence",
                                unit.label(),
                            ),
                            summary: format!(
                                "{} units were shipped by {name}{sent_to} on {day}, but {name} never received them{held}: out of sequence",
                                listing::UNITS,
                            ),
                        })
                    },
                },
                now,
            )?);
        }
    }
    for pallet in b.epcs.iter().filter(|e| matches!(e, Epc::Logistic(_))) {
        if crate::access::held_by(conn, pallet, shipper)? {
            continue;
        }
        let reason = format!(
            "{} was shipped by {}{sent_to} on {}, but {} never held it: out of sequence; nothing about it was disclosed",
            pallet.label(),
            crate::catalog::org_name(conn, shipper),
            b.event_time.date_naive(),
            crate::catalog::org_name(conn, shipper),
        );
        for org in concerned(shipper, &[b.destination.as_deref()]) {
            raised.extend(raise_draft(
                conn,
                flags,
                Draft {
                    kind: FlagKind::OutOfSequence,
                    unit: pallet,
                    fact: fact.to_string(),
                    event: Some(event),
                    org: &org,
                    reason: reason.clone(),
                },
                now,
            )?);
        }
    }
    Ok(raised)
}

/// The steps by which an organisation comes to hold a unit it may then ship.
fn holds(step: BizStep) -> bool {
    matches!(
        step,
        BizStep::Commissioning
            | BizStep::Receiving
            | BizStep::Repairing
            | BizStep::Installing
            | BizStep::Removing
    )
}

/// Closes the out-of-sequence flags that `event`, arriving late, shows to be unfounded: a
/// shipment that precedes a receipt flagged "received without a matching shipment" (to the
/// receiver), or a receipt (or another holding step) that precedes a shipment flagged "shipped
/// by a party that never received it" by that party. The closing is a step in the flag's
/// history, by the hub, that names the event; a flag closed already (by the hub or by people)
/// is left as it is, so replays close nothing twice.
fn resolve_out_of_sequence(
    conn: impl AsDb,
    flags: &mut FlagDocs,
    round: &Round,
    event: &Event,
    now: DateTime<Utc>,
) -> Result<(), HubError> {
    let conn = conn.db();
    let b = &event.body;
    let shipment =
        b.biz_step == BizStep::Shipping && b.destination.is_some() && event.detail().is_none();
    if !shipment && !holds(b.biz_step) {
        return Ok(());
    }
    let mut units = units_of(conn, event)?;
    if let Some(parent @ Epc::Unit { .. }) = &b.parent {
        units.insert(parent.clone());
    }
    // A receipt of a pallet is flagged on the pallet itself when its recorder did not hold it.
    units.extend(
        b.epcs
            .iter()
            .filter(|e| matches!(e, Epc::Logistic(_)))
            .cloned(),
    );
    for unit in &units {
        for listing in round.open_listings(conn, &FlagKind::OutOfSequence, unit)? {
            if listing.event == event.id.0 {
                continue;
            }
            let Some(flagged) = store::event_by_id(conn, &listing.event)? else {
                continue;
            };
            let by = flagged.body.recorder.org.as_str();
            let org = listing.org.as_str();
            let is = |fact: &str| {
                listing.key
                    == flag_id(
                        &FlagKind::OutOfSequence,
                        unit,
                        &format!("{org}\u{1d}{fact}\u{1d}{by}"),
                    )
            };
            let note = if shipment && flagged.body.biz_step == BizStep::Receiving && is("received")
            {
                // The receipt now has a shipment to it before it.
                match store::last_with_step_touching(conn, unit, BizStep::Shipping, Some(&flagged))?
                {
                    Some(s) if s.body.destination.as_deref() == Some(by) => {
                        format!("matching shipment arrived: {}", s.id)
                    }
                    _ => continue,
                }
            } else if holds(b.biz_step)
                && b.recorder.org == by
                && flagged.body.biz_step == BizStep::Shipping
                && is("shipped")
                && Event::fold_order(event, &flagged).is_lt()
            {
                let what = if b.biz_step == BizStep::Receiving {
                    "receipt".to_string()
                } else {
                    b.biz_step.as_str().to_string()
                };
                format!("matching {what} arrived: {}", event.id)
            } else {
                continue;
            };
            listing::account_for(conn, flags, &listing, &note, now)?;
        }
    }
    Ok(())
}

/// Validates a warranty claim over everyone's events, as the ledger does on a device, and
/// raises a warranty flag for each rejection the product brief names. The fact a flag stands
/// for is the unit and the kind of rejection (and the defect, for a duplicate).
fn check_claim(
    conn: impl AsDb,
    flags: &mut FlagDocs,
    event: &Event,
    now: DateTime<Utc>,
) -> Result<Vec<HubFlag>, HubError> {
    let conn = conn.db();
    let mut raised = Vec::new();
    for unit in &event.body.epcs {
        if !unit.is_unit() {
            continue;
        }
        let product = crate::catalog::product_of(conn, unit)?;
        let (issued, never_issued) = crate::catalog::issuance(conn, unit)?;
        let genuine = if issued {
            Genuineness::Confirmed
        } else if never_issued {
            Genuineness::Counterfeit("never issued by the manufacturer".into())
        } else {
            Genuineness::Unconfirmed
        };
        let own: Vec<Event> = store::events_touching(conn, unit)?
            .into_iter()
            .filter(|e| e.names(unit))
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
            crate::catalog::org_name(conn, &event.body.recorder.org),
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
            raised.extend(raise_draft(
                conn,
                flags,
                Draft {
                    kind: FlagKind::Warranty,
                    unit,
                    fact: fact.to_string(),
                    event: Some(event),
                    org,
                    reason: reason.clone(),
                },
                now,
            )?);
        }
    }
    Ok(raised)
}
