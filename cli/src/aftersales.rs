//! `custodian warranty register|claim`, `repair`, `report-counterfeit`, `return`, `correct`,
//! `quarantine`, `release`: after-sales work on a device ledger, and the text form of a unit's
//! history. Each records real events that the next `custodian sync` uploads like scans.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use custodian_ledger::event::ErrorReason;
use custodian_ledger::{History, ReturnOutcome};
use custodian_sync::Device;

use crate::{Data, Output, now, print_chain, print_json};

#[derive(Subcommand)]
pub enum WarrantyCommand {
    /// Registers a unit's warranty to its owner; cover starts now unless it was sold earlier.
    Register {
        #[command(flatten)]
        data: Data,
        /// The unit, as a scanner sends it.
        code: String,
        /// The owner: a name or a customer reference.
        #[arg(long)]
        owner: String,
        #[command(flatten)]
        out: Output,
    },
    /// Records a warranty claim for one defect and prints its validation.
    Claim {
        #[command(flatten)]
        data: Data,
        code: String,
        /// The defect claimed ("battery fault"); the same defect twice is a duplicate.
        #[arg(long)]
        defect: String,
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        out: Output,
    },
}

#[derive(Args)]
pub struct RepairArgs {
    #[command(flatten)]
    data: Data,
    /// The unit repaired.
    #[arg(long)]
    unit: String,
    /// A part fitted (its serialised code); repeat for several.
    #[arg(long = "part-in", value_name = "CODE")]
    part_in: Vec<String>,
    /// A part taken out; repeat for several.
    #[arg(long = "part-out", value_name = "CODE")]
    part_out: Vec<String>,
    /// The repair order (one is derived when omitted).
    #[arg(long)]
    order: Option<String>,
    #[command(flatten)]
    out: Output,
}

#[derive(Args)]
pub struct ReportArgs {
    #[command(flatten)]
    data: Data,
    code: String,
    /// What makes it suspect.
    #[arg(long)]
    note: String,
    /// A photo of it: the event keeps its file name and SHA-256, not the image.
    #[arg(long)]
    photo: Option<PathBuf>,
    #[command(flatten)]
    out: Output,
}

#[derive(Args)]
pub struct ReturnArgs {
    #[command(flatten)]
    data: Data,
    code: String,
    /// refurbished (fit to sell again) or scrapped (its life ends).
    #[arg(long)]
    outcome: String,
    #[command(flatten)]
    out: Output,
}

#[derive(Args)]
pub struct QuarantineArgs {
    #[command(flatten)]
    data: Data,
    /// The unit, as a scanner sends it.
    code: String,
    /// Why it is held, in words.
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    out: Output,
}

#[derive(Args)]
pub struct ReleaseArgs {
    #[command(flatten)]
    data: Data,
    /// The unit, as a scanner sends it.
    code: String,
    /// What was found: why it may be sold and shipped again.
    #[arg(long)]
    note: String,
    #[command(flatten)]
    out: Output,
}

#[derive(Args)]
pub struct CorrectArgs {
    #[command(flatten)]
    data: Data,
    /// The id of the erroneous event (`ni:///sha-256;…`, as `history --json` shows it).
    event: String,
    /// did_not_occur or incorrect_data.
    #[arg(long)]
    reason: Option<String>,
    /// An event recorded to replace it; repeat for several.
    #[arg(long = "corrected-by", value_name = "EVENT")]
    corrective: Vec<String>,
    #[command(flatten)]
    out: Output,
}

pub fn warranty(command: WarrantyCommand) -> Result<()> {
    match command {
        WarrantyCommand::Register {
            data,
            code,
            owner,
            out,
        } => {
            let r = Device::open(&data.data)?.register_warranty(&code, &owner, now())?;
            if out.json {
                return print_json(&r);
            }
            outln!("{}: registered to {owner}", r.history.label);
            print_cover(&r.history);
            Ok(())
        }
        WarrantyCommand::Claim {
            data,
            code,
            defect,
            note,
            out,
        } => {
            let r =
                Device::open(&data.data)?.claim_warranty(&code, &defect, note.as_deref(), now())?;
            if out.json {
                return print_json(&r);
            }
            {
                outln!(
                    "{:<20} {}{}",
                    r.validation.outcome.as_str().to_uppercase(),
                    r.validation.reason,
                    if r.validation.provisional {
                        " (provisional: the unit is not confirmed genuine yet)"
                    } else {
                        ""
                    }
                );
            }
            Ok(())
        }
    }
}

pub fn repair(args: RepairArgs) -> Result<()> {
    let r = Device::open(&args.data.data)?.record_repair(
        &args.unit,
        &args.part_in,
        &args.part_out,
        args.order.as_deref(),
        now(),
    )?;
    if args.out.json {
        return print_json(&r);
    }
    if let Some(last) = r.history.service.last() {
        outln!(
            "{}: repair {} recorded ({} part(s) in, {} out)",
            r.history.label,
            last.order,
            last.parts_in.len(),
            last.parts_out.len()
        );
    }
    print_parts(&r.history);
    Ok(())
}

pub fn report_counterfeit(args: ReportArgs) -> Result<()> {
    let photo = args
        .photo
        .as_ref()
        .map(|path| read_photo(path))
        .transpose()?;
    let r = Device::open(&args.data.data)?.report_counterfeit(
        &args.code,
        &args.note,
        photo.as_deref(),
        now(),
    )?;
    if args.out.json {
        return print_json(&r);
    }
    outln!("{}: reported counterfeit", r.history.label);
    Ok(())
}

/// A photo file's bytes, read no further than a photo may be long.
fn read_photo(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| {
            f.take(custodian_ledger::MAX_PHOTO_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
        })
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(bytes)
}

pub fn take_back(args: ReturnArgs) -> Result<()> {
    let outcome = ReturnOutcome::parse(&args.outcome).with_context(|| {
        format!(
            "unknown outcome {:?}: use refurbished or scrapped",
            args.outcome
        )
    })?;
    let r = Device::open(&args.data.data)?.return_unit(&args.code, outcome, now())?;
    if args.out.json {
        return print_json(&r);
    }
    outln!(
        "{}: returned and {} — now {}",
        r.history.label,
        outcome.as_str(),
        r.history.custody.state.as_str()
    );
    Ok(())
}

pub fn quarantine(args: QuarantineArgs) -> Result<()> {
    let r = Device::open(&args.data.data)?.quarantine(&args.code, &args.reason, now())?;
    if args.out.json {
        return print_json(&r);
    }
    match &r.history.custody.quarantine {
        Some(q) => outln!("{}: {}", r.history.label, q.describe()),
        None => outln!("{}: put in quarantine", r.history.label),
    }
    Ok(())
}

pub fn release(args: ReleaseArgs) -> Result<()> {
    let r = Device::open(&args.data.data)?.release(&args.code, &args.note, now())?;
    if args.out.json {
        return print_json(&r);
    }
    outln!(
        "{}: released from quarantine — {}",
        r.history.label,
        args.note.trim()
    );
    Ok(())
}

pub fn correct(args: CorrectArgs) -> Result<()> {
    let reason = args
        .reason
        .as_deref()
        .map(|r| {
            ErrorReason::parse(r).with_context(|| {
                format!("unknown reason {r:?}: use did_not_occur or incorrect_data")
            })
        })
        .transpose()?;
    let c = Device::open(&args.data.data)?.declare_error(
        &args.event,
        reason,
        &args.corrective,
        now(),
    )?;
    if args.out.json {
        return print_json(&c);
    }
    outln!(
        "{} event {} declared erroneous{}",
        c.step,
        c.declared,
        c.reason.map(|r| format!(" ({r})")).unwrap_or_default()
    );
    Ok(())
}

fn print_cover(h: &History) {
    match &h.warranty {
        Some(w) if w.in_period => outln!(
            "warranty: {} months from the {} on {}, until {} — {} days left",
            w.months,
            w.starts_at,
            &w.start[..10],
            &w.end[..10],
            w.remaining_days
        ),
        Some(w) => outln!(
            "warranty: {} months from the {} on {}, ended {}",
            w.months,
            w.starts_at,
            &w.start[..10],
            &w.end[..10]
        ),
        None => outln!("warranty: no policy known for this product"),
    }
}

fn print_parts(h: &History) {
    for p in &h.parts {
        outln!("  part {} fitted {}", p.label, &p.since[..10]);
    }
}

/// A unit's biography as text.
pub fn print_history(h: &History) {
    outln!(
        "{}{}",
        h.label,
        h.product
            .as_ref()
            .map(|p| format!(" — {p}"))
            .unwrap_or_default()
    );
    let c = &h.custody;
    outln!(
        "state: {}, custodian: {}, owner: {}{}",
        c.state.as_str(),
        c.custodian.as_deref().unwrap_or("unknown"),
        c.owner.as_deref().unwrap_or("unknown"),
        c.installed_in
            .as_ref()
            .map(|u| format!(", fitted in {u}"))
            .unwrap_or_default()
    );
    if let Some(q) = &c.quarantine {
        outln!("{} — do not sell or ship", q.describe());
    }
    print_chain(&c.chain);
    if !c.after_end.is_empty() {
        outln!(
            "{} event(s) after its life ended: its code is on another unit",
            c.after_end.len()
        );
    }
    if h.warranty.is_some() || !h.claims.is_empty() {
        print_cover(h);
    }
    for claim in &h.claims {
        outln!(
            "  claim {} \"{}\": {}",
            &claim.time[..10],
            claim.defect,
            claim.validation.reason
        );
    }
    for r in &h.service {
        outln!(
            "repair {} {} by {}{}: {} in, {} out",
            r.order,
            &r.time[..10],
            r.org,
            if r.refurbished { " (refurbished)" } else { "" },
            r.parts_in.len(),
            r.parts_out.len()
        );
    }
    print_parts(h);
    for f in &h.fitted_into {
        outln!(
            "fitted into {} from {}{}",
            f.label,
            &f.installed[..10],
            f.removed
                .as_ref()
                .map(|r| format!(" until {}", &r[..10]))
                .unwrap_or_default()
        );
    }
    for r in &h.counterfeit_reports {
        outln!(
            "reported counterfeit {} by {}: {}",
            &r.time[..10],
            r.org,
            r.note
        );
    }
    for hold in &h.quarantines {
        let q = &hold.quarantine;
        let released = hold.released.as_ref().map_or_else(
            || " — still held".to_string(),
            |r| {
                format!(
                    "; released {} by {}{}",
                    r.at.get(..10).unwrap_or(&r.at),
                    r.org,
                    r.note
                        .as_ref()
                        .map(|n| format!(": {n}"))
                        .unwrap_or_default()
                )
            },
        );
        outln!(
            "quarantined {} by {}: {}{released}",
            q.date(),
            q.org,
            q.reason
        );
    }
    for c in &h.corrections {
        outln!(
            "corrected: {} of {} declared erroneous by {}",
            c.step,
            &c.time[..10],
            c.declared_by
        );
    }
    for f in &h.flags {
        outln!("flag {} [{}]: {}", f.kind, f.status, f.reason);
    }
}
