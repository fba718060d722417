//! `custodian`: the scriptable face of the hub and of a device ledger (see `--help`).
//!
//! Every reporting subcommand takes `--json` and then prints JSON (one object per line where it
//! reports per input line). Errors go to stderr as one clear line with a non-zero exit.

/// `println!` that ends the process quietly when standard output's reader went away
/// (`custodian flags | head`) instead of panicking; see [`written`].
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = $crate::written(writeln!(std::io::stdout().lock(), $($arg)*)) {
            panic!("failed writing to standard output: {e}");
        }
    }};
}

mod aftersales;
mod bench;
mod capture;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use custodian_hub::registry::IssueOptions;
use custodian_ledger::import::Import;
use custodian_ledger::{Imported, Step};
use custodian_sync::{Closed, Device, Taken};
use serde::Serialize;

#[derive(Parser)]
#[command(
    name = "custodian",
    version,
    about = "Serial tracking for channel partners: hub, device ledger and tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Data {
    /// The data directory (a hub's registry or a device's ledger).
    #[arg(long)]
    data: PathBuf,
}

#[derive(Args, Clone, Copy)]
struct Output {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// `custodian flags [--data DIR] [--json]` lists; `custodian flags move ID STATUS --note TEXT`
/// moves one. `--data` and `--json` go before or after `move`.
#[derive(Args)]
struct FlagsArgs {
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
enum FlagsCommand {
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

/// The most scans recorded in one group commit.
const SCAN_BATCH_MAX: usize = 1024;

#[derive(Subcommand)]
enum Command {
    /// The manufacturer's registry service.
    #[command(subcommand)]
    Hub(HubCommand),
    /// Enrolls a device ledger with the hub named in TOKEN.
    Enroll {
        #[command(flatten)]
        data: Data,
        token: String,
        /// A name for this device, as the hub lists it.
        #[arg(long, default_value = "handheld")]
        name: String,
        #[command(flatten)]
        out: Output,
    },
    /// Syncs with the hub: uploads new scans, downloads what concerns this site, and flags.
    Sync {
        #[command(flatten)]
        data: Data,
        /// Retry transient failures this many times (exponential backoff with jitter).
        #[arg(long, default_value_t = 0)]
        retries: u32,
        /// Keep syncing in the background until stopped: every --interval seconds while the hub
        /// is reachable, and with exponential backoff and jitter (up to 10 s) while it is not.
        #[arg(long)]
        watch: bool,
        /// Seconds between syncs with --watch.
        #[arg(long, default_value_t = 20, requires = "watch")]
        interval: u64,
        /// The most events one round carries each way (1 to 10000): smaller rounds suit a link
        /// that drops long transfers.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        round_events: u32,
        /// Seeds the retry jitter, so that a run against the same faults replays exactly.
        #[arg(long)]
        seed: Option<u64>,
        #[command(flatten)]
        out: Output,
    },
    /// This device: enrollment, last sync, events waiting.
    Status {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        out: Output,
    },
    /// Manifests (ASNs) and their live progress.
    #[command(subcommand)]
    Manifest(ManifestCommand),
    /// Records scans: each input line is raw scanner output; prints one verdict per line.
    ///
    /// Scans can also come from serial-port scanners and cameras at the same time as the input
    /// lines; they are recorded in the order they arrive. A source that fails (a camera absent,
    /// busy or unplugged, a scanner disconnected) is reported on one line and the others go on.
    /// The session ends when every source has ended (a serial port or camera runs until it is
    /// unplugged or the command is interrupted); it fails if any source failed.
    Scan {
        #[command(flatten)]
        data: Data,
        /// receiving, shipping, retail_selling, inspecting, repairing, returning.
        #[arg(long)]
        step: String,
        /// The ASN / order the scans are checked against.
        #[arg(long)]
        manifest: Option<String>,
        /// The keyboard layout of the host a US-layout scanner types into: us, qwertz (de),
        /// azerty (fr), or auto (mapped back only when the text as typed is not a valid code).
        #[arg(long, default_value = "us")]
        layout: custodian_scanner::HostLayout,
        /// A file of scans, or - (the default) for standard input.
        input: Option<PathBuf>,
        /// Also read scans from the serial-port scanner at PORT (/dev/ttyACM0, /dev/rfcomm0,
        /// COM3); repeat for several.
        #[arg(long, value_name = "PORT")]
        serial: Vec<String>,
        /// The serial ports' baud rate (USB and Bluetooth scanners ignore it).
        #[arg(long, default_value_t = 9600)]
        baud: u32,
        /// Also read codes from camera INDEX (0 when omitted; see `custodian cameras`). Needs a
        /// custodian built with the `camera` feature.
        #[arg(long, value_name = "INDEX", num_args = 0..=1, default_missing_value = "0")]
        camera: Vec<u32>,
        #[command(flatten)]
        out: Output,
    },
    /// Lists the cameras `scan --camera` can use: index, name, device.
    Cameras {
        #[command(flatten)]
        out: Output,
    },
    /// Warranty registration and claims.
    #[command(subcommand)]
    Warranty(aftersales::WarrantyCommand),
    /// Records a repair of a unit with the parts fitted and removed, each a serialised part.
    Repair(aftersales::RepairArgs),
    /// Reports a unit counterfeit, with a note and optionally a photo.
    ReportCounterfeit(aftersales::ReportArgs),
    /// Takes a unit back and marks it refurbished or scrapped.
    Return(aftersales::ReturnArgs),
    /// Declares an event this organisation recorded erroneous (an EPCIS error declaration).
    Correct(aftersales::CorrectArgs),
    /// Puts a suspect unit in quarantine, with the reason: scans warn it is not to be sold or
    /// shipped until it is released.
    Quarantine(aftersales::QuarantineArgs),
    /// Releases a unit from quarantine, with a note of what was found.
    Release(aftersales::ReleaseArgs),
    /// A unit's biography: custody chain, owner, warranty and claims, repairs and parts,
    /// reports, corrections, flags.
    History {
        #[command(flatten)]
        data: Data,
        code: String,
        #[command(flatten)]
        out: Output,
    },
    /// Flags known to this device, with their status and history; `flags move` moves one.
    Flags(FlagsArgs),
    /// EPCIS 2.0 JSON-LD export and import of the ledger's events.
    #[command(subcommand)]
    Epcis(EpcisCommand),
    /// Runs a named benchmark on generated data and prints its figures (sync, ingest, decode,
    /// verify).
    Bench {
        name: String,
        /// How many events the benchmark generates.
        #[arg(long, default_value_t = 50_000)]
        events: usize,
        /// The label corpus `decode` reads (a directory with a manifest.tsv); defaults to the
        /// workspace's fixtures/labels.
        #[arg(long)]
        labels: Option<PathBuf>,
        /// `verify`: issued serials the registry holds in all (the missing ones are issued,
        /// signed, before the run).
        #[arg(long, default_value_t = 10_000_000)]
        serials: usize,
        /// `verify`: the registry to build, or reuse from an earlier run (created if absent); a
        /// temporary one when omitted.
        #[arg(long)]
        data: Option<PathBuf>,
        /// `verify`: seconds of each measured phase.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// `verify`: verifications a second in the paced phase, where latency is measured.
        #[arg(long, default_value_t = 10_000.0)]
        rate: f64,
        /// `verify`: client connections of the load generator.
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// `sync`: the events are receipts of units the hub has no shipment for, every one out
        /// of sequence (a flag storm).
        #[arg(long)]
        flag_storm: bool,
        #[command(flatten)]
        out: Output,
    },
    /// Decodes every barcode in each image (PNG, JPEG, WebP, GIF, BMP, TIFF, HEIC): one line per
    /// symbol. At the live camera's settings unless --thorough.
    Decode {
        #[arg(required = true)]
        images: Vec<PathBuf>,
        /// Look harder (TryHarder: every row of 1D codes, a second pass over the whole image)
        /// for small, blurred or damaged codes; several times slower.
        #[arg(long)]
        thorough: bool,
        #[command(flatten)]
        out: Output,
    },
    /// Parses scanner output, element strings, bracketed AIs or Digital Link URIs.
    Parse {
        #[arg(required = true)]
        text: Vec<String>,
        /// The keyboard layout of the host a US-layout scanner typed the text into: its
        /// characters are mapped back first (us, qwertz, azerty, or auto).
        #[arg(long, default_value = "us")]
        layout: custodian_scanner::HostLayout,
        #[command(flatten)]
        out: Output,
    },
}

#[derive(Subcommand)]
enum HubCommand {
    /// Runs the hub over HTTPS on DIR; prints the URL it listens on.
    Serve {
        #[command(flatten)]
        data: Data,
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: SocketAddr,
        /// Seed the demo data set on first start.
        #[arg(long)]
        demo: bool,
        /// The most events a device may upload in one sync round (1 to 10000): a round is one
        /// transaction, which other devices' rounds wait for. Devices sending more send fewer.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        round_events: u32,
    },
    /// Prints a one-time enrollment token for a device of ORG at SITE.
    Token {
        #[command(flatten)]
        data: Data,
        #[arg(long)]
        org: String,
        #[arg(long)]
        site: String,
        /// Hours until the token expires (the older spelling of --valid-for).
        #[arg(long, conflicts_with = "valid_for")]
        hours: Option<i64>,
        /// How long the token stays valid: a number with s, m, h or d (90s, 15m, 24h, 7d).
        /// Default 24h.
        #[arg(long, value_parser = parse_validity)]
        valid_for: Option<chrono::Duration>,
        /// The URL devices reach the hub at, when it differs from where it listens (a proxy,
        /// a public name); defaults to the listening URL.
        #[arg(long)]
        url: Option<String>,
    },
    /// Counts: organisations, products, serials, devices, events, flags.
    Status {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        out: Output,
    },
    /// Issues N signed serials; one JSON line each.
    Issue {
        #[command(flatten)]
        data: Data,
        #[arg(long)]
        gtin: String,
        #[arg(long)]
        count: usize,
        #[arg(long)]
        lot: Option<String>,
        /// Expiry date, YYMMDD or YYYY-MM-DD.
        #[arg(long)]
        expiry: Option<String>,
        /// Intended markets, ISO 3166 codes separated by commas.
        #[arg(long, value_delimiter = ',')]
        market: Vec<String>,
    },
    /// A unit's custody across all partners.
    History {
        #[command(flatten)]
        data: Data,
        code: String,
        #[command(flatten)]
        out: Output,
    },
    /// Every flag the hub has raised.
    Flags {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        out: Output,
    },
    /// The units a flag lists (a flag stands for one cause and lists its units), with those
    /// found accounted for and why.
    FlagUnits {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        out: Output,
        /// The flag's id (`custodian hub flags --json` lists them).
        id: String,
    },
    /// Publishes a recall of a GTIN (one lot, or every lot), or withdraws it; devices learn of
    /// it with their next sync.
    Recall {
        #[command(flatten)]
        data: Data,
        #[arg(long)]
        gtin: String,
        /// The lot recalled; without it, every lot.
        #[arg(long)]
        lot: Option<String>,
        /// Why, in words (required unless --withdraw).
        #[arg(long, required_unless_present = "withdraw")]
        reason: Option<String>,
        /// Withdraw the recall instead.
        #[arg(long)]
        withdraw: bool,
    },
    /// Puts a unit on the counterfeit alert list, or clears it (--clear) once it was found
    /// genuine; devices learn of it with their next sync.
    Alert {
        #[command(flatten)]
        data: Data,
        /// The unit: element string, bracketed text or Digital Link.
        code: String,
        /// Why, in words (required unless --clear).
        #[arg(long, required_unless_present = "clear")]
        reason: Option<String>,
        /// Take the unit off the list instead.
        #[arg(long)]
        clear: bool,
        /// What the investigation found (required with --clear).
        #[arg(long, required_if_eq("clear", "true"))]
        note: Option<String>,
    },
    /// The counterfeit alert list: each unit, who reported it and when.
    Alerts {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        out: Output,
    },
    /// Revokes a device: its next sync is refused.
    Revoke {
        #[command(flatten)]
        data: Data,
        device: String,
    },
    /// Writes the demo data set's files (what `serve --demo` seeds) to DIR.
    DemoData {
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum EpcisCommand {
    /// Prints every event of the ledger as one EPCIS 2.0 JSON-LD document.
    Export {
        #[command(flatten)]
        data: Data,
    },
    /// Stores every event of an EPCIS 2.0 JSON-LD document, all or nothing.
    Import {
        #[command(flatten)]
        data: Data,
        file: PathBuf,
        #[command(flatten)]
        out: Output,
    },
}

#[derive(Subcommand)]
enum ManifestCommand {
    /// Imports an ASN: an EPCIS 2.0 JSON-LD document of its shipping and packing events, or a
    /// JSON array of events in the ledger's own format (fixtures/demo/asn-0001.events.json).
    Import {
        #[command(flatten)]
        data: Data,
        file: PathBuf,
        #[command(flatten)]
        out: Output,
    },
    /// Manifests held, with progress.
    List {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        out: Output,
    },
    /// One manifest with what is missing, unexpected, wrong or duplicated.
    Show {
        #[command(flatten)]
        data: Data,
        id: String,
        #[command(flatten)]
        out: Output,
    },
    /// The open manifest a scanned pallet, case or unit was shipped under (to receive against
    /// it): its id, or nothing when no open shipment of it is known here.
    Find {
        #[command(flatten)]
        data: Data,
        /// The scanned code (raw scanner output, an element string or a Digital Link URI).
        code: String,
        #[command(flatten)]
        out: Output,
    },
    /// Closes a receipt, recording its discrepancies.
    Close {
        #[command(flatten)]
        data: Data,
        id: String,
        #[command(flatten)]
        out: Output,
    },
    /// Prints a shipment's outbound manifest as an EPCIS 2.0 JSON-LD document: its shipping
    /// events and the packing of its logistic units.
    Export {
        #[command(flatten)]
        data: Data,
        id: String,
    },
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli.command) {
        let mut chain = e.to_string();
        for cause in e.chain().skip(1) {
            chain.push_str(": ");
            chain.push_str(&cause.to_string());
        }
        eprintln!("custodian: {chain}");
        std::process::exit(1);
    }
}

/// The exit status when standard output's reader went away: what a shell reports for a tool
/// that SIGPIPE ended.
const READER_GONE: i32 = 141;

/// Passes a write's result on, except that a reader gone away (a closed pipe) ends the process
/// quietly, as SIGPIPE ends a Unix tool: whatever was recorded before stays recorded.
fn written(result: std::io::Result<()>) -> std::io::Result<()> {
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(READER_GONE),
        other => other,
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn now() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::Local::now().fixed_offset()
}

fn flags(args: FlagsArgs) -> Result<()> {
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

fn print_sync(report: &custodian_sync::SyncReport, json: bool) -> Result<()> {
    if json {
        return print_json(report);
    }
    if !report.converged {
        outln!("{}", unfinished(report));
    }
    outln!(
        "synced in {} round(s): {} events up ({} new to the hub), {} down, {} bytes sent, {} received",
        report.rounds,
        report.uploaded,
        report.stored_by_hub,
        report.downloaded,
        report.bytes_sent,
        report.bytes_received
    );
    for f in &report.new_flags {
        outln!("new flag {}: {}", f.kind, f.reason);
    }
    for f in &report.moved_flags {
        outln!("flag {} ({}) is now {}", f.id, f.kind, f.status);
    }
    Ok(())
}

/// What a sync that stopped short left: said plainly, for a person and a script alike.
fn unfinished(report: &custodian_sync::SyncReport) -> String {
    format!(
        "sync stopped unfinished after {} rounds, {}",
        report.rounds,
        report.left().unwrap_or_default()
    )
}

/// `custodian sync --watch`: syncs every `interval` seconds while the hub answers (at once again
/// while a sync stopped unfinished), backs off (exponentially, with jitter, up to 10 s) while it
/// cannot be reached, and stops cleanly at Ctrl-C or SIGTERM, in a sync as between syncs: a
/// round cut short is sent again next time and stores nothing twice. A refusal ends it: it
/// would be refused again. Each sync that moved something is reported, and so is each change
/// between online and offline.
async fn watch_sync(device: &Device, interval: u64, json: bool) -> Result<()> {
    let stop = shutdown_signal()?;
    tokio::pin!(stop);
    let mut failures: u32 = 0;
    loop {
        let result = tokio::select! {
            () = &mut stop => return Ok(()),
            result = device.sync() => result,
        };
        let delay = match result {
            Ok(report) if !report.converged => {
                print_sync(&report, json)?;
                failures = 0;
                std::time::Duration::ZERO
            }
            Ok(report) => {
                if report.moved() || failures > 0 {
                    print_sync(&report, json)?;
                }
                failures = 0;
                std::time::Duration::from_secs(interval.max(1))
            }
            Err(e) if e.is_transient() => {
                if failures == 0 {
                    if json {
                        print_json(&serde_json::json!({ "offline": e.to_string() }))?;
                    } else {
                        outln!("offline: {e}");
                    }
                }
                failures = failures.saturating_add(1);
                let backoff = device.backoff(failures);
                backoff.max(std::time::Duration::from_millis(200))
            }
            Err(e) => return Err(e.into()),
        };
        let _ = std::io::stdout().flush();
        tokio::select! {
            () = &mut stop => return Ok(()),
            () = tokio::time::sleep(delay) => {}
        }
    }
}

fn print_json<T: Serialize>(value: &T) -> Result<()> {
    outln!("{}", serde_json::to_string(value)?);
    Ok(())
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Hub(hub) => run_hub(hub),
        Command::Enroll {
            data,
            token,
            name,
            out,
        } => {
            let device = Device::open(&data.data)?;
            let status = runtime()?.block_on(device.enroll(&token, &name))?;
            if out.json {
                print_json(&status)
            } else {
                outln!(
                    "enrolled as {} for {} / {} with {}",
                    status.device.unwrap_or_default(),
                    status.org.unwrap_or_default(),
                    status.site.unwrap_or_default(),
                    status.hub.unwrap_or_default()
                );
                Ok(())
            }
        }
        Command::Sync {
            data,
            retries,
            watch,
            interval,
            round_events,
            seed,
            out,
        } => {
            let mut device = Device::open(&data.data)?
                .with_round_events(usize::try_from(round_events).unwrap_or(usize::MAX));
            if let Some(seed) = seed {
                device = device.with_jitter_seed(seed);
            }
            if watch {
                return runtime()?.block_on(watch_sync(&device, interval, out.json));
            }
            let report = runtime()?.block_on(device.sync_with_retry(retries))?;
            print_sync(&report, out.json)?;
            if !report.converged {
                bail!("{}", unfinished(&report));
            }
            Ok(())
        }
        Command::Status { data, out } => {
            let status = Device::open(&data.data)?.status()?;
            if out.json {
                return print_json(&status);
            }
            if status.enrolled {
                outln!(
                    "device {} of {} / {}, hub {}\nlast sync {}, {} events waiting, {} events held",
                    status.device.unwrap_or_default(),
                    status.org.unwrap_or_default(),
                    status.site.unwrap_or_default(),
                    status.hub.unwrap_or_default(),
                    status.last_sync.unwrap_or_else(|| "never".into()),
                    status.waiting,
                    status.events
                );
            } else {
                outln!("not enrolled");
            }
            Ok(())
        }
        Command::Manifest(m) => run_manifest(m),
        Command::Epcis(e) => run_epcis(e),
        Command::Scan {
            data,
            step,
            manifest,
            layout,
            input,
            serial,
            baud,
            camera,
            out,
        } => {
            let step = Step::parse(&step).with_context(|| {
                format!("unknown step {step:?}: use one of receiving, shipping, retail_selling, inspecting, repairing, returning")
            })?;
            let mut sources = vec![capture::Source::lines(input.as_deref())?];
            for path in serial {
                sources.push(capture::Source::serial(path, baud)?);
            }
            for index in camera {
                sources.push(capture::Source::camera(index)?);
            }
            let device = Device::open(&data.data)?;
            let mut stdout = std::io::stdout().lock();
            let total = sources.len();
            let (mut running, mut failed) = (total, 0);
            let events = capture::start(sources);
            // An event taken from the channel while gathering a batch, handled next.
            let mut held: Option<capture::Event> = None;
            while running > 0 {
                let event = match held.take() {
                    Some(event) => event,
                    None => events
                        .recv()
                        .context("every scan source stopped without a word")?,
                };
                match event {
                    capture::Event::Scan(raw) => {
                        // Group commit (see `Device::scan_taken`): the scans that queued up
                        // while the previous batch was being made durable are recorded
                        // together, each with the moment it was taken off the queue.
                        let mut batch = vec![Taken {
                            typed: raw,
                            at: now(),
                        }];
                        while batch.len() < SCAN_BATCH_MAX {
                            match events.try_recv() {
                                Ok(capture::Event::Scan(raw)) => batch.push(Taken {
                                    typed: raw,
                                    at: now(),
                                }),
                                Ok(other) => {
                                    held = Some(other);
                                    break;
                                }
                                Err(_) => break,
                            }
                        }
                        let verdicts =
                            device.scan_taken(&batch, step, manifest.as_deref(), layout)?;
                        for verdict in &verdicts {
                            if out.json {
                                written(writeln!(stdout, "{}", serde_json::to_string(verdict)?))?;
                            } else {
                                written(writeln!(
                                    stdout,
                                    "{:<20} {}",
                                    verdict.verdict.as_str().to_uppercase(),
                                    verdict.reason
                                ))?;
                            }
                        }
                        written(stdout.flush())?;
                    }
                    capture::Event::Warning(warning) => eprintln!("custodian: {warning}"),
                    capture::Event::Ended(end) => {
                        running -= 1;
                        if let Err(error) = end {
                            failed += 1;
                            eprintln!("custodian: {error}");
                        }
                    }
                }
            }
            if failed > 0 {
                bail!(
                    "{failed} of {total} scan sources failed (see above); every verdict printed was recorded"
                );
            }
            Ok(())
        }
        Command::Cameras { out } => capture::print_cameras(out.json),
        Command::History { data, code, out } => {
            let history = Device::open(&data.data)?.history(&code, now())?;
            if out.json {
                return print_json(&history);
            }
            aftersales::print_history(&history);
            Ok(())
        }
        Command::Warranty(w) => aftersales::warranty(w),
        Command::Repair(args) => aftersales::repair(args),
        Command::ReportCounterfeit(args) => aftersales::report_counterfeit(args),
        Command::Return(args) => aftersales::take_back(args),
        Command::Correct(args) => aftersales::correct(args),
        Command::Quarantine(args) => aftersales::quarantine(args),
        Command::Release(args) => aftersales::release(args),
        Command::Flags(args) => flags(args),
        Command::Bench {
            name,
            events,
            labels,
            serials,
            data,
            seconds,
            rate,
            connections,
            flag_storm,
            out,
        } => {
            let verify = bench::verify::Options {
                serials,
                data,
                seconds,
                rate,
                connections,
            };
            let figures = bench::run(&name, events, labels.as_deref(), &verify, flag_storm)?;
            if out.json {
                print_json(&figures)
            } else {
                for (k, v) in figures.as_object().into_iter().flatten() {
                    outln!("{k:<28} {v}");
                }
                Ok(())
            }
        }
        Command::Decode {
            images,
            thorough,
            out,
        } => {
            let options = if thorough {
                custodian_scanner::DecodeOptions::thorough()
            } else {
                custodian_scanner::DecodeOptions::default()
            };
            let mut failed = false;
            for image in images {
                let file = image.display().to_string();
                match custodian_scanner::decode::decode_image_file_with(&image, &options) {
                    Ok(found) if found.is_empty() => {
                        failed = true;
                        eprintln!("custodian: {file}: no barcode found");
                    }
                    Ok(found) => {
                        for d in found {
                            let parsed = custodian_scanner::parse(&d.scan_text());
                            if out.json {
                                print_json(&serde_json::json!({
                                    "file": file,
                                    "format": format!("{:?}", d.format),
                                    "aim": d.aim,
                                    "text": d.text,
                                    "valid": parsed.is_ok(),
                                    "error": parsed.err().map(|e| e.to_string()),
                                }))?;
                            } else {
                                let verdict = parsed
                                    .err()
                                    .map(|e| format!("  (invalid: {e})"))
                                    .unwrap_or_default();
                                outln!(
                                    "{file}: {:?} {} {}{verdict}",
                                    d.format,
                                    d.aim,
                                    d.text.replace('\u{1d}', "[GS]")
                                );
                            }
                        }
                    }
                    Err(e) => {
                        failed = true;
                        eprintln!("custodian: {e}");
                    }
                }
            }
            if failed {
                std::process::exit(2);
            }
            Ok(())
        }
        Command::Parse { text, layout, out } => {
            let mut failed = false;
            for t in text {
                match custodian_scanner::parse(&layout.us_text(&t)) {
                    Ok(scan) => {
                        if out.json {
                            print_json(&scan_json(&t, &scan))?;
                        } else {
                            outln!("{t}: {scan:?}");
                        }
                    }
                    Err(e) => {
                        failed = true;
                        if out.json {
                            print_json(
                                &serde_json::json!({ "input": t, "ok": false, "error": e.to_string(), "kind": e.kind.code(), "position": e.position }),
                            )?;
                        } else {
                            outln!("{t}: invalid: {e}");
                        }
                    }
                }
            }
            if failed {
                std::process::exit(2);
            }
            Ok(())
        }
    }
}

/// The fields of a parse an integrator needs, as JSON.
fn scan_json(input: &str, scan: &custodian_scanner::Scan) -> serde_json::Value {
    // The YYMMDD AIs as dates (a day of 00 is the month's last), like the expiry (AI 17).
    let date = |ai: &str| scan.date(ai).map(|d| d.to_string());
    serde_json::json!({
        "input": input,
        "ok": true,
        "symbology": scan.symbology,
        "form": scan.form,
        "elements": scan.elements,
        "gtin": scan.gtin().map(ToString::to_string),
        "serial": scan.serial(),
        "sscc": scan.sscc().map(ToString::to_string),
        "lot": scan.lot(),
        "expiry": scan.expiry().map(|d| d.to_string()),
        "production_date": date("11"),
        "due_date": date("12"),
        "packaging_date": date("13"),
        "best_before": date("15"),
        "sell_by": date("16"),
        "signature_bytes": scan.signature().map(<[u8]>::len),
        // An AI 8030 that is GS1 text but no signature (it does not decode): the scan is read,
        // and the code is to be treated as one whose signature does not verify.
        "signature_valid": scan.get("8030").map(|_| scan.signature().is_some()),
    })
}

fn print_chain(chain: &[custodian_ledger::custody::Link]) {
    for l in chain {
        let to = l
            .destination
            .as_ref()
            .map(|d| format!(" → {d}"))
            .unwrap_or_default();
        let via = l
            .via
            .as_ref()
            .map(|v| format!(" (via {v})"))
            .unwrap_or_default();
        let tx = l
            .transaction
            .as_ref()
            .map(|t| format!(" [{t}]"))
            .unwrap_or_default();
        let detail = l
            .detail
            .as_ref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        outln!(
            "  {}  {:<14} {}/{}{to}{tx}{via}{detail}",
            l.time,
            l.step,
            l.org,
            l.site
        );
    }
}

fn run_manifest(command: ManifestCommand) -> Result<()> {
    match command {
        ManifestCommand::Import { data, file, out } => {
            let text = read_import_file(&file, MAX_MANIFEST_FILE_BYTES)?;
            let imported = Device::open(&data.data)?
                .import(&text, now())
                .map_err(|e| anyhow::anyhow!("{}: {e}; nothing was imported", file.display()))?;
            match imported {
                Import::Events(imported) => report_import(&file, &imported, out),
                Import::Orders { orders } => {
                    if out.json {
                        for o in &orders {
                            print_json(o)?;
                        }
                        return Ok(());
                    }
                    for o in &orders {
                        outln!("order {} to {}: {} units to pick", o.id, o.to, o.left);
                    }
                    Ok(())
                }
            }
        }
        ManifestCommand::List { data, out } => {
            let device = Device::open(&data.data)?;
            let manifests = device.manifests()?;
            let orders = device.orders()?;
            if out.json {
                for m in &manifests {
                    print_json(m)?;
                }
                for o in &orders {
                    print_json(o)?;
                }
                return Ok(());
            }
            if manifests.is_empty() && orders.is_empty() {
                outln!("no manifests: sync with the hub or import one");
            }
            for o in &orders {
                print_order(o);
            }
            for m in manifests {
                let p = &m.progress;
                outln!(
                    "{:<12} {:<7} from {:<14} expected {:>4}  scanned {:>4}  missing {:>4}  unexpected {:>3}  duplicates {:>3}",
                    m.id,
                    m.status,
                    m.source.as_deref().unwrap_or("?"),
                    p.expected,
                    p.scanned,
                    p.missing.len(),
                    p.unexpected.len() + p.wrong_product.len(),
                    p.duplicates.len()
                );
            }
            Ok(())
        }
        ManifestCommand::Find { data, code, out } => {
            let found = Device::open(&data.data)?.open_manifest_of(&code, now())?;
            if out.json {
                return print_json(&found);
            }
            match found {
                Some(id) => outln!("{id}"),
                None => outln!("no open manifest here ships {code}"),
            }
            Ok(())
        }
        ManifestCommand::Show { data, id, out } => {
            let device = Device::open(&data.data)?;
            if let Ok(order) = device.order(&id) {
                if out.json {
                    return print_json(&order);
                }
                print_order(&order);
                for u in &order.units {
                    outln!("  picked: {u}");
                }
                return Ok(());
            }
            let m = device.manifest(&id)?;
            if out.json {
                return print_json(&m);
            }
            let p = &m.progress;
            outln!(
                "{} ({}) from {} to {}",
                m.id,
                m.status,
                m.source.as_deref().unwrap_or("?"),
                m.destination.as_deref().unwrap_or("?")
            );
            outln!(
                "expected {}, scanned {}: {}",
                p.expected,
                p.scanned,
                p.discrepancy_note()
            );
            print_closes(&m);
            for (what, list) in [
                ("missing", &p.missing),
                ("unexpected", &p.unexpected),
                ("wrong product", &p.wrong_product),
                ("duplicate", &p.duplicates),
                ("expired", &p.expired),
                ("recalled", &p.recalled),
            ] {
                for epc in list {
                    outln!("  {what}: {epc}");
                }
            }
            Ok(())
        }
        ManifestCommand::Export { data, id } => {
            let doc = Device::open(&data.data)?.manifest_epcis(&id, now())?;
            outln!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(())
        }
        ManifestCommand::Close { data, id, out } => {
            match Device::open(&data.data)?.close(&id, now())? {
                Closed::Order(shipped) => {
                    if out.json {
                        return print_json(&shipped);
                    }
                    print_order(&shipped.order);
                    outln!(
                        "shipped: the outbound manifest is in {}",
                        shipped.manifest_file.display()
                    );
                    Ok(())
                }
                Closed::Receipt(m) => {
                    if out.json {
                        return print_json(&m);
                    }
                    outln!("{} closed: {}", m.id, m.progress.discrepancy_note());
                    print_closes(&m);
                    Ok(())
                }
            }
        }
    }
}

/// Every close of a receipt (two devices may have closed it offline), and what waits for
/// review: units received that no close counted, or closes that saw different receipts.
fn print_closes(m: &custodian_ledger::Manifest) {
    for c in &m.closes {
        let org = c
            .org
            .as_deref()
            .map(|o| format!(" ({o})"))
            .unwrap_or_default();
        let note = c.note.as_deref().unwrap_or("no note");
        outln!("  closed by {}{org} at {}: {note}", c.by, c.at);
    }
    for r in &m.review {
        outln!("  review: {r}");
    }
}

fn print_order(o: &custodian_ledger::Picking) {
    let lines: Vec<String> = o
        .lines
        .iter()
        .map(|l| {
            format!(
                "{} {}/{}",
                l.product.as_deref().unwrap_or(&l.gtin),
                l.picked,
                l.quantity
            )
        })
        .collect();
    outln!(
        "{:<12} {:<7} order to {:<14} {} left  ({})",
        o.id,
        o.status,
        o.to,
        o.left,
        lines.join(", ")
    );
}

/// The largest file `manifest import` reads: the largest of an EPCIS document, an ASN CSV and
/// an order CSV (each kind is then held to its own bound).
const MAX_MANIFEST_FILE_BYTES: usize = {
    let (a, b, c) = (
        custodian_ledger::epcis::MAX_DOCUMENT_BYTES,
        custodian_ledger::csv_manifest::MAX_FILE_BYTES,
        custodian_ledger::order::MAX_FILE_BYTES,
    );
    let ab = if a > b { a } else { b };
    if ab > c { ab } else { c }
};

/// Reads an import file of at most `limit` bytes. A larger one is refused by its size before
/// it is read, and a file that grows while it is read is never read past the limit.
fn read_import_file(file: &Path, limit: usize) -> Result<String> {
    use std::io::Read;
    let refuse = |size: String| {
        anyhow::anyhow!(
            "{}: {size}; an import file holds at most {limit} bytes: split it; nothing was imported",
            file.display()
        )
    };
    let f = std::fs::File::open(file).with_context(|| format!("reading {}", file.display()))?;
    let size = f
        .metadata()
        .with_context(|| format!("reading {}", file.display()))?
        .len();
    if usize::try_from(size).map_or(true, |s| s > limit) {
        return Err(refuse(format!("{size} bytes")));
    }
    let mut text = String::new();
    f.take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_string(&mut text)
        .with_context(|| format!("reading {}", file.display()))?;
    if text.len() > limit {
        return Err(refuse("more bytes than its size said".into()));
    }
    Ok(text)
}

/// What an import of `file` stored; the notes (what the reader could not confirm) go to
/// standard error.
fn report_import(file: &Path, imported: &Imported, out: Output) -> Result<()> {
    for note in &imported.notes {
        eprintln!("custodian: {}: {note}", file.display());
    }
    let (total, new) = (imported.events, imported.new);
    if out.json {
        print_json(&serde_json::json!({ "events": total, "new": new }))
    } else {
        outln!("imported {total} events ({new} new)");
        Ok(())
    }
}

fn run_epcis(command: EpcisCommand) -> Result<()> {
    match command {
        EpcisCommand::Export { data } => {
            let doc = Device::open(&data.data)?.export_epcis(now())?;
            outln!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(())
        }
        EpcisCommand::Import { data, file, out } => {
            let text = read_import_file(&file, custodian_ledger::epcis::MAX_DOCUMENT_BYTES)?;
            let imported = Device::open(&data.data)?
                .import_epcis(&text, now())
                .map_err(|e| anyhow::anyhow!("{}: {e}; nothing was imported", file.display()))?;
            report_import(&file, &imported, out)
        }
    }
}

fn run_hub(command: HubCommand) -> Result<()> {
    match command {
        HubCommand::Serve {
            data,
            listen,
            demo,
            round_events,
        } => {
            let options = custodian_hub::server::ServeOptions {
                data: data.data,
                listen,
                demo,
                public: custodian_hub::verify::PublicOptions::default(),
                round_events: usize::try_from(round_events).unwrap_or(usize::MAX),
            };
            runtime()?.block_on(async {
                let stop = shutdown_signal()?;
                custodian_hub::server::serve(
                    options,
                    |url| {
                        outln!("custodian hub listening on {url}");
                        let _ = std::io::stdout().flush();
                    },
                    stop,
                )
                .await
            })
        }
        HubCommand::Status { data, out } => {
            let counts = custodian_hub::Registry::open(&data.data)?.counts()?;
            if out.json {
                return print_json(&counts);
            }
            // Alphabetically, as the JSON's keys sort.
            let named = serde_json::to_value(counts)?;
            for (k, v) in named.as_object().into_iter().flatten() {
                outln!("{k:<14} {v}");
            }
            Ok(())
        }
        HubCommand::Token {
            data,
            org,
            site,
            hours,
            valid_for,
            url: advertised,
        } => {
            let (url, ca) = custodian_hub::server::hub_address(&data.data)?;
            let url = advertised.unwrap_or(url);
            let registry = custodian_hub::Registry::open(&data.data)?;
            let valid_for = valid_for
                .or(hours.map(chrono::Duration::hours))
                .unwrap_or_else(|| chrono::Duration::hours(24));
            outln!(
                "{}",
                registry.create_token_at(&org, &site, &url, &ca, valid_for, chrono::Utc::now())?
            );
            Ok(())
        }
        HubCommand::Recall {
            data,
            gtin,
            lot,
            reason,
            withdraw,
        } => {
            let registry = custodian_hub::Registry::open(&data.data)?;
            let which = lot.as_deref().map_or_else(
                || format!("{gtin}, every lot"),
                |l| format!("{gtin} lot {l}"),
            );
            if withdraw {
                registry.withdraw_recall(&gtin, lot.as_deref())?;
                outln!("withdrew the recall of {which}");
            } else {
                registry.add_recall(&custodian_ledger::extract::Recall {
                    gtin: gtin.clone(),
                    lot: lot.clone(),
                    reason: reason.unwrap_or_default(),
                })?;
                outln!("recalled {which}");
            }
            Ok(())
        }
        HubCommand::Alert {
            data,
            code,
            reason,
            clear,
            note,
        } => {
            let registry = custodian_hub::Registry::open(&data.data)?;
            if clear {
                registry.clear_alert(&code, note.as_deref().unwrap_or_default(), now())?;
                outln!("cleared {code} from the counterfeit alert list");
            } else {
                registry.add_alert_for(&code, reason.as_deref().unwrap_or_default())?;
                outln!("put {code} on the counterfeit alert list");
            }
            Ok(())
        }
        HubCommand::Alerts { data, out } => {
            let alerts = custodian_hub::Registry::open(&data.data)?.alerts()?;
            if out.json {
                return print_json(&alerts);
            }
            if alerts.is_empty() {
                outln!("no alerts");
            }
            for a in alerts {
                if a.reported_by.is_none() {
                    outln!("{}: {}", a.epc, a.reason);
                } else {
                    outln!("{}: {} report(s)", a.epc, a.reports.len());
                }
                for r in &a.reports {
                    outln!(
                        "  reported by {} at {}: {} ({})",
                        r.reported_by,
                        r.reported_at,
                        r.note,
                        r.event
                    );
                }
            }
            Ok(())
        }
        HubCommand::Issue {
            data,
            gtin,
            count,
            lot,
            expiry,
            market,
        } => {
            if count == 0 {
                bail!("--count must be at least 1");
            }
            let expiry = expiry.map(|e| normalise_date(&e)).transpose()?;
            let registry = custodian_hub::Registry::open(&data.data)?;
            let options = IssueOptions {
                lot,
                expiry,
                markets: market,
                facility: "hub".into(),
                line: "cli".into(),
            };
            let issued = registry.issue(&gtin, count, &options, now(), &mut rand::rngs::OsRng)?;
            for s in issued {
                print_json(&s)?;
            }
            Ok(())
        }
        HubCommand::History { data, code, out } => {
            let custody = custodian_hub::Registry::open(&data.data)?.custody(&code)?;
            if out.json {
                return print_json(&custody);
            }
            outln!(
                "{}: {:?}, custodian {}",
                custody.epc,
                custody.state,
                custody.custodian.as_deref().unwrap_or("unknown")
            );
            if let Some(q) = &custody.quarantine {
                outln!("{}", q.describe());
            }
            print_chain(&custody.chain);
            Ok(())
        }
        HubCommand::Flags { data, out } => {
            let flags = custodian_hub::Registry::open(&data.data)?.flags()?;
            if out.json {
                return print_json(&flags);
            }
            for f in flags {
                outln!(
                    "{} {} [{}, {}] {}",
                    f.raised_at,
                    f.kind,
                    f.org,
                    f.status,
                    f.reason
                );
            }
            Ok(())
        }
        HubCommand::FlagUnits { data, out, id } => {
            let units = custodian_hub::Registry::open(&data.data)?.flag_units(&id)?;
            if out.json {
                return print_json(&units);
            }
            for u in units {
                match &u.resolved {
                    Some(why) => outln!("{} accounted for ({why})", u.epc),
                    None => outln!("{} open (listed by {})", u.epc, u.event),
                }
            }
            Ok(())
        }
        HubCommand::Revoke { data, device } => {
            custodian_hub::Registry::open(&data.data)?.revoke(&device)?;
            outln!("revoked {device}");
            Ok(())
        }
        HubCommand::DemoData { out } => {
            let scratch = tempdir_in_target()?;
            let registry =
                custodian_hub::Registry::open_with_key(&scratch, custodian_hub::demo::issuer_key)?;
            let data = custodian_hub::demo::seed(&registry)?;
            data.write(&out)?;
            drop(registry);
            let _ = std::fs::remove_dir_all(&scratch);
            outln!("wrote the demo data set to {}", out.display());
            Ok(())
        }
    }
}

/// A validity such as `90s`, `15m`, `24h` or `7d`.
fn parse_validity(s: &str) -> Result<chrono::Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{s:?}: give a unit, e.g. 90s, 15m, 24h or 7d"))?;
    let (n, unit) = s.split_at(split);
    let n: i64 = n
        .parse()
        .map_err(|_| format!("{s:?}: expected a number followed by s, m, h or d"))?;
    if n <= 0 {
        return Err(format!("{s:?}: the validity must be positive"));
    }
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        other => return Err(format!("{s:?}: unknown unit {other:?}; use s, m, h or d")),
    };
    n.checked_mul(seconds)
        .filter(|&secs| secs <= 366 * 86_400)
        .map(chrono::Duration::seconds)
        .ok_or_else(|| format!("{s:?}: a token is valid for at most a year"))
}

/// `YYMMDD` as given, or `YYYY-MM-DD` turned into it.
fn normalise_date(s: &str) -> Result<String> {
    if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(s.to_string());
    }
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .with_context(|| format!("date {s:?}: use YYMMDD or YYYY-MM-DD"))?;
    Ok(d.format("%y%m%d").to_string())
}

fn tempdir_in_target() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("custodian-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(dir)
}

/// Ctrl-C or SIGTERM, listened for from the moment this is called rather than from the first
/// time the future is polled: a signal that comes during the first sync of `sync --watch`
/// stops it cleanly instead of killing the process. Call it inside the runtime.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).context("listening for Ctrl-C")?;
        let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {},
                _ = terminate.recv() => {},
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
