//! The device's doors: an enrollment token as a person pastes it, and a sync response body as
//! it arrives from the hub (zstd-compressed JSON).
//!
//! Shared, unchanged, by the fuzz targets and by the sync crate's replay of the seed corpus and
//! of every input a fuzz run ever broke (`sync/tests/fuzz_inputs.rs`). It needs the ledger
//! harness beside it as `crate::ledger_harness`.

#![allow(dead_code, reason = "each fuzz target uses one entry point")]

use std::collections::BTreeMap;

use automerge::AutoCommit;
use automerge::sync::{State, SyncDoc};
use custodian_sync::identity::EnrollmentToken;
use custodian_sync::protocol::{self, SyncResponse};
use custodian_sync::transport::HubClient;

use crate::ledger_harness;

/// A token's text, as `custodian enroll` and the app take it, through everything the device
/// does before it contacts the hub: decode, the expiry check (at a fixed clock), the pinned
/// certificate, and a client that trusts only that certificate.
pub fn token(data: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(data).map_err(|e| format!("not UTF-8: {e}"))?;
    let token = EnrollmentToken::decode(text).map_err(|e| e.to_string())?;
    assert_eq!(
        EnrollmentToken::decode(&token.encode()).as_ref(),
        Ok(&token),
        "a token read does not survive its own encoding"
    );
    token
        .check_expiry(ledger_harness::now().to_utc())
        .map_err(|e| e.to_string())?;
    let ca = token.ca_der().map_err(|e| e.to_string())?;
    HubClient::pinned(&token.hub, &ca).map_err(|e| e.to_string())?;
    Ok(())
}

/// A device ledger that receives sync responses, with the sync states it keeps per document.
pub struct Device {
    pub device: ledger_harness::Device,
    states: BTreeMap<String, State>,
}

impl Default for Device {
    fn default() -> Device {
        Device::new()
    }
}

impl Device {
    pub fn new() -> Device {
        Device {
            device: ledger_harness::Device::new(),
            states: BTreeMap::new(),
        }
    }

    /// A sync response's bytes, as `Device::sync` takes them: `protocol::decode`, then what
    /// its `apply_response` does with each part (the hub's events, the extract whole or as a
    /// delta, each document's Automerge sync message), then the screens' reads of what was
    /// received (flags, manifests). Events the ledger refuses leave it as it was.
    pub fn sync_response(&mut self, data: &[u8]) -> Result<(), String> {
        let response: SyncResponse = protocol::decode(data).map_err(|e| {
            assert!(
                matches!(
                    e,
                    protocol::Error::Malformed(_) | protocol::Error::TooLarge(_)
                ),
                "{e:?}"
            );
            e.to_string()
        })?;
        let ledger = &mut self.device.ledger;
        let before = ledger.event_count().expect("the ledger counts its events");
        match ledger.store_shared_events(&response.events) {
            Ok(new) => assert_eq!(
                ledger.event_count().expect("the ledger counts its events"),
                before + new as i64
            ),
            Err(e) => {
                assert_eq!(
                    ledger.event_count().expect("the ledger counts its events"),
                    before,
                    "refused events were stored: {e}"
                );
                return Err(e.to_string());
            }
        }
        if let Some(extract) = &response.extract {
            ledger.set_extract(extract).map_err(|e| e.to_string())?;
        }
        if let Some(delta) = &response.extract_delta
            && let Some(mut extract) = ledger.extract().map_err(|e| e.to_string())?
        {
            if extract.apply(delta).is_err() {
                extract.version = 0;
            }
            ledger.set_extract(&extract).map_err(|e| e.to_string())?;
        }
        let mut result = Ok(());
        for m in &response.docs {
            let message = match m.decode() {
                Ok(message) => message,
                Err(e) => {
                    result = Err(e.to_string());
                    break;
                }
            };
            let mut doc = ledger
                .doc(&m.doc)
                .map_err(|e| e.to_string())?
                .unwrap_or_else(AutoCommit::new);
            let state = self.states.entry(m.doc.clone()).or_default();
            if let Err(e) = doc.sync().receive_sync_message(state, message) {
                result = Err(e.to_string());
                break;
            }
            if let Err(e) = ledger.save_doc(&m.doc, &mut doc) {
                result = Err(e.to_string());
                break;
            }
        }
        // What the screens read next must not fail on whatever the hub's documents hold.
        let _ = ledger.flags();
        let _ = ledger.manifests();
        let _ = ledger.orders();
        result
    }
}
