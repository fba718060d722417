//! `custodian manifest` (receipts and orders) and `custodian epcis` (whole-ledger EPCIS files).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use custodian_ledger::Imported;
use custodian_ledger::import::Import;
use custodian_sync::{Closed, Device};

use crate::{Data, Output, now, print_json};

#[derive(Subcommand)]
pub(crate) enum EpcisCommand {
    /// Prints every event of the ledger as one EPCIS 2.0 document: JSON-LD, or XML.
    Export {
        #[command(flatten)]
        data: Data,
        /// `json-ld` (EPCIS 2.0 JSON-LD), `xml` (EPCIS 2.0 XML) or `xml-1.2` (EPCIS 1.2 XML,
        /// refused naming the first event that holds what 1.2 cannot say).
        #[arg(long, value_enum, default_value_t = EpcisFormat::JsonLd)]
        format: EpcisFormat,
    },
    /// Stores every event of an EPCIS document (2.0 JSON-LD, or XML 2.0 or 1.2), all or
    /// nothing: each as it came, those the verdicts act on judged.
    Import {
        #[command(flatten)]
        data: Data,
        file: PathBuf,
        #[command(flatten)]
        out: Output,
    },
}

/// The binding an EPCIS document is written in.
#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum EpcisFormat {
    JsonLd,
    Xml,
    #[value(name = "xml-1.2")]
    Xml12,
}

#[derive(Subcommand)]
pub(crate) enum ManifestCommand {
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

pub(crate) fn run_manifest(command: ManifestCommand) -> Result<()> {
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
pub(crate) fn print_closes(m: &custodian_ledger::Manifest) {
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

pub(crate) fn print_order(o: &custodian_ledger::Picking) {
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

/// Reads an import file of at most `limit` bytes. A larger one is refused by its size before
/// it is read, and a file that grows while it is read is never read past the limit.
pub(crate) fn read_import_file(file: &Path, limit: usize) -> Result<String> {
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
pub(crate) fn report_import(file: &Path, imported: &Imported, out: Output) -> Result<()> {
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

pub(crate) fn run_epcis(command: EpcisCommand) -> Result<()> {
    match command {
        EpcisCommand::Export { data, format } => {
            let doc = Device::open(&data.data)?.export_epcis(now())?;
            match format {
                EpcisFormat::JsonLd => outln!("{}", serde_json::to_string_pretty(&doc)?),
                EpcisFormat::Xml => {
                    let xml = custodian_ledger::epcis::xml::write(&doc)
                        .map_err(|e| anyhow::anyhow!("{e}; nothing was exported"))?;
                    outln!("{}", xml.trim_end());
                }
                EpcisFormat::Xml12 => {
                    let xml = custodian_ledger::epcis::xml::write_as(
                        &doc,
                        custodian_ledger::epcis::xml::Version::V1_2,
                    )
                    .map_err(|e| anyhow::anyhow!("{e}; nothing was exported"))?;
                    outln!("{}", xml.trim_end());
                }
            }
            Ok(())
        }
        EpcisCommand::Import { data, file, out } => {
            // The larger of the two bindings' bounds; the import holds each to its own.
            let text = read_import_file(&file, custodian_ledger::epcis::xml::MAX_DOCUMENT_BYTES)?;
            let imported = Device::open(&data.data)?
                .import_epcis(&text, now())
                .map_err(|e| anyhow::anyhow!("{}: {e}; nothing was imported", file.display()))?;
            report_import(&file, &imported, out)
        }
    }
}

/// The largest file `manifest import` reads: the largest of an EPCIS document, an ASN CSV and
/// an order CSV (each kind is then held to its own bound).
const MAX_MANIFEST_FILE_BYTES: usize = {
    let (a, b, c) = (
        custodian_ledger::epcis::xml::MAX_DOCUMENT_BYTES,
        custodian_ledger::csv_manifest::MAX_FILE_BYTES,
        custodian_ledger::order::MAX_FILE_BYTES,
    );
    let ab = if a > b { a } else { b };
    if ab > c { ab } else { c }
};
