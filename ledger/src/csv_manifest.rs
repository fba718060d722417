//! ASNs as CSV, for partners whose ERP exports a spreadsheet rather than EPCIS.
//!
//! One row per identifier on the shipment, with a header row:
//!
//! ```text
//! asn,from,to,shipped_at,parent,code
//! ASN-0002,acme,dist-a,2026-11-05T10:00:00+01:00,,(00)140123450000000044
//! ASN-0002,acme,dist-a,2026-11-05T10:00:00+01:00,(00)140123450000000044,(01)04012345000016(21)ABC
//! ```
//!
//! `code` and `parent` take anything a scanner reads (element string, bracketed AIs, Digital
//! Link). A row without `parent` is shipped as is (a pallet, or a loose unit); a row with one is
//! packed into it. Fields may be quoted (`"a,b"`, `""` for a quote). The import yields the
//! packing events and one shipping event: the same shape as an EPCIS ASN.
//!
//! Bounds: a file of at most [`MAX_FILE_BYTES`] and [`MAX_ROWS`] rows (a full truck of small
//! goods is some tens of thousands of units, each a row with its signature of about 250
//! bytes); `shipped_at` in the window of [`crate::epcis::check_time`]; `from` and `to`
//! organisations of the registry extract when the device holds one (a device that never
//! synced has none to check against). A file past any of them is refused whole, naming the
//! line.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};

use crate::event::{
    Action, BizStep, BizTransaction, Disposition, Epc, Event, EventBody, EventType, Extension,
    Recorder,
};
use crate::extract::RegistryExtract;
use crate::manifest::ASN;

const COLUMNS: [&str; 6] = ["asn", "from", "to", "shipped_at", "parent", "code"];

/// The largest ASN file imported, in bytes.
pub const MAX_FILE_BYTES: usize = 32 << 20;
/// The most rows (header and blank lines not counted) an ASN file may hold.
pub const MAX_ROWS: usize = 100_000;

/// Splits one CSV line into fields (RFC 4180 quoting): ASN and order files alike.
pub(crate) fn fields(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut started = true;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, ',') => {
                out.push(std::mem::take(&mut field));
                started = true;
                continue;
            }
            (false, '"') if started && field.is_empty() => quoted = true,
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (_, c) => field.push(c),
        }
        started = false;
    }
    if quoted {
        return Err("a quoted field is not closed".into());
    }
    out.push(field);
    Ok(out)
}

fn epc(text: &str, line: usize, column: &str) -> Result<Epc, String> {
    let scan = custodian_scanner::parse(text).map_err(|e| format!("line {line}, {column}: {e}"))?;
    scan.identity().as_ref().and_then(Epc::from_identity).ok_or_else(|| {
        format!("line {line}, {column}: {text:?} names a product, not a unit or logistic unit (lines by GTIN and quantity are not supported)")
    })
}

/// Reads a CSV ASN into events, all or nothing; errors name the line and column. `extract`,
/// when held, must know both organisations; `now` is the device's clock.
pub fn import(
    text: &str,
    recorder: &Recorder,
    extract: Option<&RegistryExtract>,
    now: DateTime<FixedOffset>,
) -> Result<Vec<Event>, String> {
    if text.len() > MAX_FILE_BYTES {
        return Err(format!(
            "the file is {} bytes; an ASN file holds at most {MAX_FILE_BYTES} bytes ({MAX_ROWS} rows): split it",
            text.len()
        ));
    }
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or("the file is empty: expected a header row")?;
    let header: Vec<String> = fields(header.trim_start_matches('\u{feff}'))?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    if header != COLUMNS {
        return Err(format!(
            "line 1: the header must be {}, found {}",
            COLUMNS.join(","),
            header.join(",")
        ));
    }
    let mut shipment: Option<(String, String, String, DateTime<FixedOffset>)> = None;
    let mut top = Vec::new();
    let mut packed: BTreeMap<Epc, Vec<Epc>> = BTreeMap::new();
    // Counted before any row is read, so an oversized file costs no parsing.
    if let Some((i, _)) = lines.clone().nth(MAX_ROWS) {
        return Err(format!(
            "line {}: more than {MAX_ROWS} rows; an ASN file holds at most {MAX_ROWS}: split it",
            i + 1
        ));
    }
    for (i, line) in lines {
        let n = i + 1;
        let f = fields(line).map_err(|e| format!("line {n}: {e}"))?;
        if f.len() != COLUMNS.len() {
            return Err(format!(
                "line {n}: {} fields, expected {}",
                f.len(),
                COLUMNS.len()
            ));
        }
        let at = DateTime::parse_from_rfc3339(f[3].trim()).map_err(|e| {
            format!(
                "line {n}, shipped_at: {:?} is not an RFC 3339 date-time: {e}",
                f[3]
            )
        })?;
        let this = (
            f[0].trim().to_string(),
            f[1].trim().to_string(),
            f[2].trim().to_string(),
            at,
        );
        if this.0.is_empty() || this.1.is_empty() || this.2.is_empty() {
            return Err(format!("line {n}: asn, from and to must not be empty"));
        }
        if [&this.0, &this.1, &this.2]
            .iter()
            .any(|f| f.chars().count() > crate::epcis::MAX_NAME_CHARS)
        {
            return Err(format!(
                "line {n}: asn, from and to have at most {} characters each",
                crate::epcis::MAX_NAME_CHARS
            ));
        }
        match &shipment {
            None => {
                crate::epcis::check_time(at, now)
                    .map_err(|e| format!("line {n}, shipped_at: {e}"))?;
                if let Some(x) = extract {
                    for (column, org) in [("from", &this.1), ("to", &this.2)] {
                        if x.org(org).is_none() {
                            return Err(format!(
                                "line {n}, {column}: {org:?} is no organisation of the registry: check the id (or sync, if it joined since)"
                            ));
                        }
                    }
                }
                shipment = Some(this);
            }
            Some(s) if *s != this => {
                return Err(format!(
                    "line {n}: every row must describe the same shipment as line 2 ({} from {} to {})",
                    s.0, s.1, s.2
                ));
            }
            Some(_) => {}
        }
        let code = epc(f[5].trim(), n, "code")?;
        if f[4].trim().is_empty() {
            top.push(code);
        } else {
            let parent = epc(f[4].trim(), n, "parent")?;
            if !matches!(parent, Epc::Logistic(_)) {
                return Err(format!(
                    "line {n}, parent: a unit can only be packed into an SSCC"
                ));
            }
            packed.entry(parent).or_default().push(code);
        }
    }
    let (asn, from, to, at) = shipment.ok_or("no rows after the header")?;
    if top.is_empty() {
        return Err("no row without a parent: nothing is shipped".into());
    }
    let body = |event_type,
                action,
                biz_step,
                disposition,
                epcs,
                parent,
                bt: Vec<BizTransaction>,
                src: Option<String>,
                dst: Option<String>| EventBody {
        event_type,
        action,
        biz_step,
        disposition: Some(disposition),
        event_time: at,
        epcs,
        parent,
        biz_transactions: bt,
        source: src,
        destination: dst,
        recorder: recorder.clone(),
        extension: Extension::default(),
    };
    let mut events: Vec<Event> = packed
        .into_iter()
        .map(|(parent, children)| {
            Event::new(body(
                EventType::AggregationEvent,
                Action::Add,
                BizStep::Packing,
                Disposition::InProgress,
                children,
                Some(parent),
                vec![],
                None,
                None,
            ))
        })
        .collect();
    events.push(Event::new(body(
        EventType::ObjectEvent,
        Action::Observe,
        BizStep::Shipping,
        Disposition::InTransit,
        top,
        None,
        vec![BizTransaction {
            kind: ASN.into(),
            id: asn,
        }],
        Some(from),
        Some(to),
    )));
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields() {
        assert_eq!(
            fields(r#"a,"b,c","d""e",,"#).unwrap(),
            ["a", "b,c", "d\"e", "", ""]
        );
        assert!(fields(r#"a,"b"#).is_err());
    }
}
