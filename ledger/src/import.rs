//! Importing a file a person hands the device: whatever its format, all or nothing.
//!
//! The format is told by the text itself: a JSON array is events in the ledger's own format, a
//! JSON object an EPCIS 2.0 document (and XML, 2.0 or 1.2, one too), a CSV with an order header orders to pick (see
//! [`crate::order`]), any other CSV an ASN (see [`crate::csv_manifest`]). Every time an import
//! stores is bounded by the device's clock the same way, so what is stored can be exported
//! and read back.

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use crate::epcis::{WindowError, check_expiry, check_time};
use crate::{Error, Event, Imported, Ledger, Picking};

/// What a file turned out to be, and what importing it stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Import {
    /// Events: the ledger's own JSON, an EPCIS document or an ASN.
    Events(Imported),
    /// Orders to pick, as imported.
    Orders { orders: Vec<Picking> },
}

impl Ledger {
    /// Imports `text`, a file's contents, as what it is; `now` is this device's clock.
    /// Nothing is stored when any part of it is refused.
    pub fn import_file(&mut self, text: &str, now: DateTime<FixedOffset>) -> Result<Import, Error> {
        let first = text
            .trim_start_matches('\u{feff}')
            .trim_start()
            .chars()
            .next();
        match first {
            Some('[') => {
                let events = crate::event::events_from_json(text)?;
                check_event_times(&events, now)?;
                let new = self.store_events(&events, false)?;
                Ok(Import::Events(Imported {
                    events: events.len(),
                    new,
                    notes: Vec::new(),
                }))
            }
            Some('{' | '<') => Ok(Import::Events(self.import_epcis_text(text, now)?)),
            _ if crate::order::is_order_csv(text) => Ok(Import::Orders {
                orders: self.import_orders_csv(text)?,
            }),
            _ => {
                let (events, new) = self.import_csv_manifest(text, now)?;
                Ok(Import::Events(Imported {
                    events,
                    new,
                    notes: Vec::new(),
                }))
            }
        }
    }

    /// Imports `text` as an EPCIS document (see [`Ledger::import_epcis`]): JSON-LD, or XML
    /// (2.0 or 1.2, read into the JSON-LD it stands for by [`crate::epcis::xml::read`]).
    pub fn import_epcis_text(
        &mut self,
        text: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<Imported, Error> {
        let body = text.trim_start_matches('\u{feff}').trim_start();
        let doc: serde_json::Value = if body.starts_with('<') {
            let max = crate::epcis::xml::MAX_DOCUMENT_BYTES;
            if body.len() > max {
                return Err(Error::Invalid(format!(
                    "{} bytes of XML; an EPCIS XML document holds at most {max}: split it",
                    body.len()
                )));
            }
            crate::epcis::xml::read(body).map_err(|e| Error::Invalid(format!("XML: {e}")))?
        } else {
            let max = crate::epcis::MAX_DOCUMENT_BYTES;
            if text.len() > max {
                return Err(Error::Invalid(format!(
                    "{} bytes of JSON; an EPCIS JSON-LD document holds at most {max}: split it",
                    text.len()
                )));
            }
            serde_json::from_str(text).map_err(|e| Error::Invalid(format!("not JSON ({e})")))?
        };
        self.import_epcis(&doc, now)
    }
}

/// An event of an imported file whose time or expiry date lies outside what the ledger takes
/// (see [`WindowError`]): the file is refused, naming the event (`index`, from 0) and its field,
/// e.g. `[2].event_time: 1990-01-01T00:00:00+00:00 is before 2000-01-01T00:00:00Z, …`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("[{index}].{field}: {window}")]
pub struct EventTimeError {
    /// The event's place in the file, from 0.
    pub index: usize,
    /// The field at fault: `event_time`, `extension.error_declaration.declaration_time` or
    /// `extension.expiry`.
    pub field: &'static str,
    /// How the time or date misses the window.
    pub window: WindowError,
}

/// An event out of the ledger's time window is input the ledger does not accept.
impl From<EventTimeError> for Error {
    fn from(e: EventTimeError) -> Error {
        Error::Invalid(e.to_string())
    }
}

/// Every time and expiry of `events` in the window an EPCIS import takes.
fn check_event_times(events: &[Event], now: DateTime<FixedOffset>) -> Result<(), EventTimeError> {
    for (index, e) in events.iter().enumerate() {
        let x = &e.body.extension;
        let at = |field| {
            move |window| EventTimeError {
                index,
                field,
                window,
            }
        };
        check_time(e.body.event_time, now).map_err(at("event_time"))?;
        if let Some(d) = &x.error_declaration {
            check_time(d.declaration_time, now)
                .map_err(at("extension.error_declaration.declaration_time"))?;
        }
        if let Some(expiry) = x.expiry {
            check_expiry(expiry).map_err(at("extension.expiry"))?;
        }
    }
    Ok(())
}
