//! `custodian flags`: a device's flags, one flag's units, and moving a flag along its lifecycle.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use custodian_sync::Device;

use crate::{now, print_json};

/// `custodian flags [--data DIR] [--json]` lists; `custodian flags move ID STATUS --note TEXT`
/// moves one. `--data` and `--json` go before or after `move`.
#[derive(Args)]
pub(crate) struct FlagsArgs {
    /// The device's data directory.
    #[arg(long, global = true)]
    data: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    action: Option<FlagsCommand>,
}

#[derive(Subcommand)]
pub(crate) enum FlagsCommand {
    /// Moves a flag along its lifecycle (new → seen → under_investigation → escalated →
    /// closed; forward only, steps may be skipped) as this device, now. The move syncs to the
    /// hub and the organisation's other devices.
    Move {
        /// The flag's id (`custodian flags --json` lists them).
        id: String,
        /// seen, under_investigation, escalated or closed.
        status: String,
        /// Why: required to escalate or close.
        #[arg(long)]
        note: Option<String>,
    },
    /// Lists the units a flag lists (a flag stands for one cause, such as a receipt with no
    /// shipment on record, and lists every unit of it), with those the hub found accounted for.
    Units {
        /// The flag's id.
        id: String,
    },
}

pub(crate) fn flags(args: FlagsArgs) -> Result<()> {
    let Some(data) = args.data else {
        bail!("--data DIR is required: the device's data directory");
    };
    let device = Device::open(&data)?;
    if let Some(FlagsCommand::Move { id, status, note }) = args.action {
        let flag = device.move_flag(&id, &status, note.as_deref(), now())?;
        if args.json {
            return print_json(&flag);
        }
        outln!("{} is {}", flag.id, flag.status);
        return Ok(());
    }
    if let Some(FlagsCommand::Units { id }) = args.action {
        let units = match device.flag_units(&id) {
            Err(custodian_sync::Error::Ledger(custodian_ledger::Error::NotFound(_))) => {
                bail!("no flag {id} on this device: `custodian flags` lists them")
            }
            units => units?,
        };
        if args.json {
            return print_json(&units);
        }
        for u in units {
            match &u.resolved {
                Some(why) => outln!("{} accounted for ({why})", u.epc),
                None => outln!("{} open (listed by {})", u.epc, u.event),
            }
        }
        return Ok(());
    }
    let flags = device.flags()?;
    if args.json {
        return print_json(&flags);
    }
    if flags.is_empty() {
        outln!("no flags");
    }
    for f in flags {
        let units = if f.units > 1 {
            format!(
                " ({} units, {} open: `custodian flags units {}`)",
                f.units, f.open_units, f.id
            )
        } else {
            String::new()
        };
        outln!("{} {} [{}] {}{units}", f.id, f.kind, f.status, f.reason);
        for step in &f.history {
            outln!(
                "  {} {} by {}{}",
                step.at,
                step.status,
                step.by,
                step.note
                    .as_deref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}
