//! Importing a file a person hands the device: whatever its format, all or nothing.
//!
//! The format is told by the text itself: a JSON array is events in the ledger's own format, a
//! JSON object an EPCIS 2.0 document, a CSV with an order header orders to pick (see
//! [`crate::order`]), any other CSV an ASN (see [`crate::csv_manifest`]). Every time an import
//! stores is bounded by the device's clock the same way, so what is stored can be exported
//! and read back.

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use crate::epcis::{check_expiry, check_time};
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
                let events = crate::event::events_from_json(text).map_err(Error::Invalid)?;
                check_event_times(&events, now).map_err(Error::Invalid)?;
                let new = self.store_events(&events, false)?;
                Ok(Import::Events(Imported {
                    events: events.len(),
                    new,
                    notes: Vec::new(),
                }))
            }
            Some('{') => Ok(Import::Events(self.import_epcis_text(text, now)?)),
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

    /// Imports `text` as an EPCIS 2.0 document (see [`Ledger::import_epcis`]).
    pub fn import_epcis_text(
        &mut self,
        text: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<Imported, Error> {
        let doc: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::Invalid(format!("not JSON ({e})")))?;
        self.import_epcis(&doc, now)
    }
}

/// Every time and expiry of `events` in the window an EPCIS import takes.
fn check_event_times(events: &[Event], now: DateTime<FixedOffset>) -> Result<(), String> {
    for (i, e) in events.iter().enumerate() {
        let x = &e.body.extension;
        check_time(e.body.event_time, now).map_err(|m| format!("[{i}].event_time: {m}"))?;
        if let Some(d) = &x.error_declaration {
            check_time(d.declaration_time, now)
                .map_err(|m| format!("[{i}].extension.error_declaration.declaration_time: {m}"))?;
        }
        if let Some(expiry) = x.expiry {
            check_expiry(expiry).map_err(|m| format!("[{i}].extension.expiry: {m}"))?;
        }
    }
    Ok(())
}
