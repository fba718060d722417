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

use crate::epcis::{MAX_NAME_CHARS, WindowError};
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

/// Why a CSV file (an ASN, or an order: see [`crate::order`]) was refused, all of it: where
/// in the file the first problem is, and what it is. The user is shown its text, which names
/// the line and the column to fix, e.g. `line 3, quantity: "0" is not a whole number above 0`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{problem}", place(.line, .column))]
pub struct CsvError {
    /// The line of the file (counted from 1) the problem is on; none when it is the file as a
    /// whole (too large, empty, or without rows).
    pub line: Option<usize>,
    /// The column to correct on that line (`shipped_at`, `gtin`…), when one is to blame.
    pub column: Option<&'static str>,
    /// What is wrong there.
    pub problem: CsvProblem,
}

/// `line 3, quantity: `, `line 3: ` or nothing: where a [`CsvError`] is.
fn place(line: &Option<usize>, column: &Option<&'static str>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!("line {line}, {column}: "),
        (Some(line), None) => format!("line {line}: "),
        (None, Some(column)) => format!("{column}: "),
        (None, None) => String::new(),
    }
}

impl CsvError {
    /// The problem `problem` on line `line`.
    pub(crate) fn on_line(line: usize, problem: CsvProblem) -> CsvError {
        CsvError {
            line: Some(line),
            column: None,
            problem,
        }
    }

    /// The problem `problem` in column `column` of line `line`.
    pub(crate) fn in_cell(line: usize, column: &'static str, problem: CsvProblem) -> CsvError {
        CsvError {
            line: Some(line),
            column: Some(column),
            problem,
        }
    }

    /// This error, placed on line `line` (for a problem found in a line before its number
    /// was known, such as an unclosed quote).
    pub(crate) fn at_line(self, line: usize) -> CsvError {
        CsvError {
            line: Some(line),
            ..self
        }
    }
}

impl From<CsvProblem> for CsvError {
    /// A problem of the file as a whole, on no line in particular.
    fn from(problem: CsvProblem) -> CsvError {
        CsvError {
            line: None,
            column: None,
            problem,
        }
    }
}

/// A CSV file refused is input the ledger does not accept.
impl From<CsvError> for crate::Error {
    fn from(e: CsvError) -> crate::Error {
        crate::Error::Invalid(e.to_string())
    }
}

/// Which kind of CSV file was read: it sets the columns and the bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsvFile {
    /// An ASN: the units and pallets of one shipment (this module).
    Asn,
    /// Orders to pick (see [`crate::order`]).
    Order,
}

impl CsvFile {
    /// The header the file must have.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            CsvFile::Asn => &COLUMNS,
            CsvFile::Order => &crate::order::COLUMNS,
        }
    }

    /// The largest file taken, in bytes.
    pub fn max_bytes(self) -> usize {
        match self {
            CsvFile::Asn => MAX_FILE_BYTES,
            CsvFile::Order => crate::order::MAX_FILE_BYTES,
        }
    }

    /// The most rows a file may hold.
    pub fn max_rows(self) -> usize {
        match self {
            CsvFile::Asn => MAX_ROWS,
            CsvFile::Order => crate::order::MAX_ROWS,
        }
    }
}

impl std::fmt::Display for CsvFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CsvFile::Asn => "ASN",
            CsvFile::Order => "order",
        })
    }
}

/// What is wrong with a CSV file, or with the line or field a [`CsvError`] points at.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CsvProblem {
    /// A field opens a quote it never closes, so the line cannot be split into fields.
    #[error("a quoted field is not closed")]
    UnclosedQuote,
    /// The file is larger than the device takes in one import: it must be split.
    #[error(
        "the file is {bytes} bytes; an {file} file holds at most {} bytes ({} rows): split it",
        .file.max_bytes(),
        .file.max_rows()
    )]
    TooLarge { file: CsvFile, bytes: usize },
    /// The file holds nothing, not even its header.
    #[error("the file is empty: expected a header row")]
    Empty,
    /// The first line is not the header this kind of file has.
    #[error("the header must be {}, found {}", .file.columns().join(","), .found.join(","))]
    Header { file: CsvFile, found: Vec<String> },
    /// The file has more rows than the device takes in one import: it must be split.
    #[error(
        "more than {max} rows; an {file} file holds at most {max}: split it",
        max = .file.max_rows()
    )]
    TooManyRows { file: CsvFile },
    /// A line has more or fewer fields than the header names.
    #[error("{found} fields, expected {expected}")]
    FieldCount { found: usize, expected: usize },
    /// The header is all there is.
    #[error("no rows after the header")]
    NoRows,
    /// A date-time that is not written as RFC 3339 (`2026-11-05T10:00:00+01:00`).
    #[error("{text:?} is not an RFC 3339 date-time: {error}")]
    NotADateTime {
        text: String,
        error: chrono::ParseError,
    },
    /// A time before the ledger's first or too far past the device's clock.
    #[error("{0}")]
    OutOfWindow(WindowError),
    /// An ASN row without its shipment number, sender or receiver.
    #[error("asn, from and to must not be empty")]
    EmptyShipment,
    /// An ASN row whose shipment number, sender or receiver is too long to be one.
    #[error("asn, from and to have at most {MAX_NAME_CHARS} characters each")]
    LongShipment,
    /// An ASN's sender or receiver that the registry does not know.
    #[error(
        "{org:?} is no organisation of the registry: check the id (or sync, if it joined since)"
    )]
    UnknownOrganisation { org: String },
    /// An ASN row of another shipment than the first row's: one file is one shipment.
    #[error("every row must describe the same shipment as line 2 ({asn} from {from} to {to})")]
    OtherShipment {
        asn: String,
        from: String,
        to: String,
    },
    /// A code (or a GTIN) that does not read as a GS1 identifier.
    #[error("{0}")]
    Unreadable(custodian_scanner::ParseError),
    /// A code naming a product rather than one unit or pallet: ASNs list serials, not
    /// quantities.
    #[error(
        "{text:?} names a product, not a unit or logistic unit (lines by GTIN and quantity are not supported)"
    )]
    NotAThing { text: String },
    /// A parent that is a unit: only a pallet or case (an SSCC) holds others.
    #[error("a unit can only be packed into an SSCC")]
    ParentNotSscc,
    /// Every row names a parent, so nothing is shipped as it stands.
    #[error("no row without a parent: nothing is shipped")]
    NothingShipped,
    /// An order row without its order number or customer.
    #[error("order and to must not be empty")]
    EmptyOrder,
    /// An order number too long to be one.
    #[error("an order number has at most {MAX_NAME_CHARS} characters")]
    LongOrderNumber,
    /// A quantity that is not a whole number of units, at least one.
    #[error("{text:?} is not a whole number above 0")]
    NotAQuantity { text: String },
    /// One order line asks for more units than a line may.
    #[error(
        "{quantity} units on one line; a line asks for at most {}",
        crate::order::MAX_LINE_QUANTITY
    )]
    LineTooLarge { quantity: u64 },
    /// The device has no registry extract to check a customer against: it must sync first.
    #[error(
        "this device holds no registry extract yet to check {org:?} against: sync with the hub, then import the order"
    )]
    NoExtract { org: String },
    /// An order's customer that the registry does not know.
    #[error(
        "{org:?} is no organisation of the registry: check the customer's id (or sync, if it joined since)"
    )]
    UnknownCustomer { org: String },
    /// Rows of one order naming two customers: an order goes to one.
    #[error("order {order} goes to {first}, not {to}: one customer per order")]
    OtherCustomer {
        order: String,
        first: String,
        to: String,
    },
    /// An order asking for more units, over its lines, than an order may.
    #[error(
        "order {order} asks for {quantity} units with this line; an order asks for at most {}: split it",
        crate::order::MAX_ORDER_QUANTITY
    )]
    OrderTooLarge { order: String, quantity: u64 },
}

/// Splits one CSV line into fields (RFC 4180 quoting): ASN and order files alike.
pub(crate) fn fields(line: &str) -> Result<Vec<String>, CsvError> {
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
        return Err(CsvProblem::UnclosedQuote.into());
    }
    out.push(field);
    Ok(out)
}

fn epc(text: &str, line: usize, column: &'static str) -> Result<Epc, CsvError> {
    let scan = custodian_scanner::parse(text)
        .map_err(|e| CsvError::in_cell(line, column, CsvProblem::Unreadable(e)))?;
    scan.identity()
        .as_ref()
        .and_then(Epc::from_identity)
        .ok_or_else(|| {
            CsvError::in_cell(
                line,
                column,
                CsvProblem::NotAThing {
                    text: text.to_string(),
                },
            )
        })
}

/// Reads a CSV ASN into events, all or nothing; errors name the line and column. `extract`,
/// when held, must know both organisations; `now` is the device's clock.
pub fn import(
    text: &str,
    recorder: &Recorder,
    extract: Option<&RegistryExtract>,
    now: DateTime<FixedOffset>,
) -> Result<Vec<Event>, CsvError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(CsvProblem::TooLarge {
            file: CsvFile::Asn,
            bytes: text.len(),
        }
        .into());
    }
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or(CsvProblem::Empty)?;
    let header: Vec<String> = fields(header.trim_start_matches('\u{feff}'))?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    if header != COLUMNS {
        return Err(CsvError::on_line(
            1,
            CsvProblem::Header {
                file: CsvFile::Asn,
                found: header,
            },
        ));
    }
    let mut shipment: Option<(String, String, String, DateTime<FixedOffset>)> = None;
    let mut top = Vec::new();
    let mut packed: BTreeMap<Epc, Vec<Epc>> = BTreeMap::new();
    // Counted before any row is read, so an oversized file costs no parsing.
    if let Some((i, _)) = lines.clone().nth(MAX_ROWS) {
        return Err(CsvError::on_line(
            i + 1,
            CsvProblem::TooManyRows { file: CsvFile::Asn },
        ));
    }
    for (i, line) in lines {
        let n = i + 1;
        let f = fields(line).map_err(|e| e.at_line(n))?;
        if f.len() != COLUMNS.len() {
            return Err(CsvError::on_line(
                n,
                CsvProblem::FieldCount {
                    found: f.len(),
                    expected: COLUMNS.len(),
                },
            ));
        }
        let at = DateTime::parse_from_rfc3339(f[3].trim()).map_err(|error| {
            CsvError::in_cell(
                n,
                "shipped_at",
                CsvProblem::NotADateTime {
                    text: f[3].clone(),
                    error,
                },
            )
        })?;
        let this = (
            f[0].trim().to_string(),
            f[1].trim().to_string(),
            f[2].trim().to_string(),
            at,
        );
        if this.0.is_empty() || this.1.is_empty() || this.2.is_empty() {
            return Err(CsvError::on_line(n, CsvProblem::EmptyShipment));
        }
        if [&this.0, &this.1, &this.2]
            .iter()
            .any(|f| f.chars().count() > MAX_NAME_CHARS)
        {
            return Err(CsvError::on_line(n, CsvProblem::LongShipment));
        }
        match &shipment {
            None => {
                crate::epcis::check_time(at, now)
                    .map_err(|e| CsvError::in_cell(n, "shipped_at", CsvProblem::OutOfWindow(e)))?;
                if let Some(x) = extract {
                    for (column, org) in [("from", &this.1), ("to", &this.2)] {
                        if x.org(org).is_none() {
                            return Err(CsvError::in_cell(
                                n,
                                column,
                                CsvProblem::UnknownOrganisation { org: org.clone() },
                            ));
                        }
                    }
                }
                shipment = Some(this);
            }
            Some(s) if *s != this => {
                return Err(CsvError::on_line(
                    n,
                    CsvProblem::OtherShipment {
                        asn: s.0.clone(),
                        from: s.1.clone(),
                        to: s.2.clone(),
                    },
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
                return Err(CsvError::in_cell(n, "parent", CsvProblem::ParentNotSscc));
            }
            packed.entry(parent).or_default().push(code);
        }
    }
    let (asn, from, to, at) = shipment.ok_or(CsvProblem::NoRows)?;
    if top.is_empty() {
        return Err(CsvProblem::NothingShipped.into());
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
