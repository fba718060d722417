//! What a person does with the device, one method each. The app's commands and the CLI's
//! subcommands are adapters over these, so the two front ends cannot do one action two ways.
//!
//! Every method takes the clock as an argument (`now`), never reads it: a test replays an action
//! at any time, and a batch of scans keeps the moments they were taken. Writes go through the
//! writing connection, reads a screen makes through the reading one (see [`Device`]); the
//! [`Ledger`] behind them is not handed out.

use std::path::PathBuf;

use chrono::{DateTime, FixedOffset};
use custodian_ledger::docs::FlagUnit;
use custodian_ledger::event::ErrorReason;
use custodian_ledger::import::Import;
use custodian_ledger::{
    ClaimRecorded, Correction, Flag, History, Imported, LoggedScan, Manifest, Picking, Recorded,
    ReturnOutcome, ScanInput, Step, Verdict,
};
use custodian_scanner::HostLayout;
use serde::Serialize;

use crate::{Device, Error};

/// One scan as it was taken off a scanner's queue: what the scanner typed, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taken {
    pub typed: String,
    pub at: DateTime<FixedOffset>,
}

/// An order closed: what shipped, its outbound manifest (the shipment as an EPCIS 2.0
/// document) and the file it was written to for the carrier or the recipient's system.
#[derive(Clone, Debug, Serialize)]
pub struct Shipped {
    pub order: Picking,
    pub manifest: serde_json::Value,
    pub manifest_file: PathBuf,
}

/// What closing by id closed: an order to pick (it shipped) or a receipt.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Closed {
    Order(Box<Shipped>),
    Receipt(Box<Manifest>),
}

/// `Some(text)` unless it is missing or blank: a front end's empty field is no note.
fn given(text: Option<&str>) -> Option<&str> {
    text.filter(|t| !t.trim().is_empty())
}

impl Device {
    /// Records one scan and judges it. `typed` is what the scanner typed, read back under the
    /// host's keyboard `layout`.
    pub fn scan(
        &self,
        typed: &str,
        step: Step,
        manifest: Option<&str>,
        layout: HostLayout,
        now: DateTime<FixedOffset>,
    ) -> Result<Verdict, Error> {
        let raw = layout.us_text(typed);
        Ok(self.ledger().scan(&raw, step, given(manifest), now)?)
    }

    /// Records scans that queued up while earlier ones were being made durable, in one
    /// transaction (a group commit), each judged in order. Each keeps the moment it was taken,
    /// made strictly increasing: two reads of one unit in a batch stay two events.
    pub fn scan_taken(
        &self,
        scans: &[Taken],
        step: Step,
        manifest: Option<&str>,
        layout: HostLayout,
    ) -> Result<Vec<Verdict>, Error> {
        let mut times: Vec<DateTime<FixedOffset>> = Vec::with_capacity(scans.len());
        for scan in scans {
            let at = match times.last() {
                Some(last) if scan.at <= *last => *last + chrono::Duration::microseconds(1),
                _ => scan.at,
            };
            times.push(at);
        }
        let raws: Vec<_> = scans.iter().map(|s| layout.us_text(&s.typed)).collect();
        let manifest = given(manifest);
        let inputs: Vec<ScanInput<'_>> = raws
            .iter()
            .zip(&times)
            .map(|(raw, at)| ScanInput {
                raw,
                step,
                manifest,
                now: *at,
            })
            .collect();
        Ok(self.ledger().scan_batch(&inputs)?)
    }

    /// The latest `limit` scans, newest first, whatever their verdict.
    pub fn recent_scans(&self, limit: usize) -> Result<Vec<LoggedScan>, Error> {
        Ok(self.reader().recent_scans(limit)?)
    }

    /// Every receipt the device knows.
    pub fn manifests(&self) -> Result<Vec<Manifest>, Error> {
        Ok(self.reader().manifests()?)
    }

    pub fn manifest(&self, id: &str) -> Result<Manifest, Error> {
        Ok(self.reader().manifest(id)?)
    }

    /// The open receipt `code` (a pallet's SSCC, or a unit) was last shipped under, if any.
    pub fn open_manifest_of(
        &self,
        code: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<Option<String>, Error> {
        Ok(self.reader().open_manifest_of(code, now)?)
    }

    /// Closes a receipt, recording its discrepancies for every partner that shares it.
    pub fn close_manifest(&self, id: &str, now: DateTime<FixedOffset>) -> Result<Manifest, Error> {
        Ok(self.ledger().close_manifest(id, now)?)
    }

    /// A receipt as an EPCIS 2.0 document.
    pub fn manifest_epcis(
        &self,
        id: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<serde_json::Value, Error> {
        Ok(self.reader().manifest_epcis(id, now)?)
    }

    /// Outbound orders, with what has been picked.
    pub fn orders(&self) -> Result<Vec<Picking>, Error> {
        Ok(self.reader().orders()?)
    }

    pub fn order(&self, id: &str) -> Result<Picking, Error> {
        Ok(self.reader().order(id)?)
    }

    /// Closes an order: what was picked ships, and its outbound manifest is written to
    /// `outbound/ORDER.epcis.json` in the data directory (a `/` or `\` in the order's id
    /// becomes `_`). The shipment is recorded even when the file cannot be written; the error
    /// then says so.
    pub fn close_order(&self, id: &str, now: DateTime<FixedOffset>) -> Result<Shipped, Error> {
        let mut ledger = self.ledger();
        let (order, manifest) = ledger.close_order(id, now)?;
        let dir = ledger.dir().join("outbound");
        drop(ledger);
        let file = dir.join(format!("{}.epcis.json", id.replace(['/', '\\'], "_")));
        let bytes = serde_json::to_vec_pretty(&manifest).map_err(custodian_ledger::Error::from)?;
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&file, bytes))
            .map_err(|e| {
                custodian_ledger::Error::Invalid(format!(
                    "order {id} shipped, but writing its manifest to {}: {e}",
                    file.display()
                ))
            })?;
        Ok(Shipped {
            order,
            manifest,
            manifest_file: file,
        })
    }

    /// Closes `id`: an order to pick when the device holds one by that id, else a receipt.
    pub fn close(&self, id: &str, now: DateTime<FixedOffset>) -> Result<Closed, Error> {
        match self.reader().order(id) {
            Ok(_) => {}
            Err(custodian_ledger::Error::NotFound(_)) => {
                return Ok(Closed::Receipt(Box::new(self.close_manifest(id, now)?)));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(Closed::Order(Box::new(self.close_order(id, now)?)))
    }

    /// Imports a file's contents as what it is (events, an EPCIS document, orders or an ASN),
    /// all or nothing.
    pub fn import(&self, text: &str, now: DateTime<FixedOffset>) -> Result<Import, Error> {
        Ok(self.ledger().import_file(text, now)?)
    }

    /// Imports `text` as an EPCIS 2.0 document, all or nothing.
    pub fn import_epcis(&self, text: &str, now: DateTime<FixedOffset>) -> Result<Imported, Error> {
        Ok(self.ledger().import_epcis_text(text, now)?)
    }

    /// Every event the ledger holds, as an EPCIS 2.0 document.
    pub fn export_epcis(&self, now: DateTime<FixedOffset>) -> Result<serde_json::Value, Error> {
        Ok(self.reader().export_epcis(now)?)
    }

    /// The flags the hub raised for this device's organisation.
    pub fn flags(&self) -> Result<Vec<Flag>, Error> {
        Ok(self.reader().flags()?)
    }

    /// The units flag `id` lists, as far as the hub has sent them.
    pub fn flag_units(&self, id: &str) -> Result<Vec<FlagUnit>, Error> {
        let ledger = self.reader();
        if !ledger.flags()?.iter().any(|f| f.id == id) {
            return Err(custodian_ledger::Error::NotFound(format!("flag {id}")).into());
        }
        Ok(ledger.flag_units(id)?)
    }

    /// Moves a flag along its lifecycle as this device, saying why in `note` (required to
    /// escalate or close; a blank note is none).
    pub fn move_flag(
        &self,
        id: &str,
        status: &str,
        note: Option<&str>,
        now: DateTime<FixedOffset>,
    ) -> Result<Flag, Error> {
        Ok(self.ledger().move_flag(id, status, given(note), now)?)
    }

    /// A unit's (or logistic unit's) biography: custody, warranty, service, flags.
    pub fn history(&self, code: &str, now: DateTime<FixedOffset>) -> Result<History, Error> {
        Ok(self.reader().history(code, now)?)
    }

    pub fn register_warranty(
        &self,
        code: &str,
        owner: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<Recorded, Error> {
        Ok(self.ledger().register_warranty(code, owner, now)?)
    }

    pub fn claim_warranty(
        &self,
        code: &str,
        defect: &str,
        note: Option<&str>,
        now: DateTime<FixedOffset>,
    ) -> Result<ClaimRecorded, Error> {
        Ok(self
            .ledger()
            .claim_warranty(code, defect, given(note), now)?)
    }

    /// A repair with the parts fitted and removed, under a work order (one is made up when
    /// `order` is blank).
    pub fn record_repair(
        &self,
        code: &str,
        parts_in: &[String],
        parts_out: &[String],
        order: Option<&str>,
        now: DateTime<FixedOffset>,
    ) -> Result<Recorded, Error> {
        Ok(self
            .ledger()
            .record_repair(code, parts_in, parts_out, given(order), now)?)
    }

    /// Reports a unit counterfeit with a note and, optionally, a photo: its bytes are kept in
    /// the data directory under their hash (`photos/SHA256.jpg`), and the event records that
    /// name and the hash.
    pub fn report_counterfeit(
        &self,
        code: &str,
        note: &str,
        photo: Option<&[u8]>,
        now: DateTime<FixedOffset>,
    ) -> Result<Recorded, Error> {
        let mut ledger = self.ledger();
        let photo = photo.map(|bytes| ledger.keep_photo(bytes)).transpose()?;
        Ok(ledger.report_counterfeit(code, note, photo, now)?)
    }

    /// Takes a unit back, refurbished or scrapped.
    pub fn return_unit(
        &self,
        code: &str,
        outcome: ReturnOutcome,
        now: DateTime<FixedOffset>,
    ) -> Result<Recorded, Error> {
        Ok(self.ledger().return_unit(code, outcome, now)?)
    }

    /// Puts a unit in quarantine for `reason` (required): scans warn not to sell or ship it.
    pub fn quarantine(
        &self,
        code: &str,
        reason: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<Recorded, Error> {
        Ok(self.ledger().quarantine(code, reason, now)?)
    }

    /// Releases a unit from quarantine with a `note` (required) of what was found.
    pub fn release(
        &self,
        code: &str,
        note: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<Recorded, Error> {
        Ok(self.ledger().release(code, note, now)?)
    }

    /// Declares event `event` erroneous, naming the events recorded to replace it.
    pub fn declare_error(
        &self,
        event: &str,
        reason: Option<ErrorReason>,
        corrective: &[String],
        now: DateTime<FixedOffset>,
    ) -> Result<Correction, Error> {
        Ok(self
            .ledger()
            .declare_error(event, reason, corrective, now)?)
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use custodian_ledger::extract::{Org, RegistryExtract};
    use custodian_ledger::{Recorder, VerdictKind};
    use custodian_scanner::{Layout, check_digit, element_string};

    use super::*;

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn gtin() -> String {
        let d = "0401234500001";
        format!("{d}{}", check_digit(d))
    }

    fn code(serial: &str) -> String {
        element_string(&[("01", &gtin()), ("21", serial)])
    }

    fn org(id: &str) -> Org {
        Org {
            id: id.into(),
            name: id.into(),
            role: "retailer".into(),
            market: "DE".into(),
            gln: "4012345000009".into(),
        }
    }

    /// A device of distributor A, as enrollment leaves it (without a hub to sync with).
    fn device(dir: &std::path::Path) -> Device {
        let device = Device::open(dir).unwrap();
        let ledger = device.ledger();
        ledger
            .set_recorder(&Recorder {
                org: "dist-a".into(),
                site: "dc".into(),
                device: "dist-a-1".into(),
            })
            .unwrap();
        ledger
            .set_extract(&RegistryExtract {
                version: 1,
                orgs: vec![org("acme"), org("dist-a"), org("retail-c")],
                ..RegistryExtract::default()
            })
            .unwrap();
        drop(ledger);
        device
    }

    #[test]
    fn scans_taken_at_one_moment_stay_distinct_events_in_the_order_taken() {
        let tmp = tempfile::tempdir().unwrap();
        let d = device(tmp.path());
        let at = t("2026-11-02T10:00:00+01:00");
        let taken: Vec<Taken> = ["A1", "A1", "A2"]
            .iter()
            .map(|s| Taken { typed: code(s), at })
            .collect();
        let verdicts = d
            .scan_taken(&taken, Step::Inspecting, None, HostLayout::default())
            .unwrap();
        assert_eq!(verdicts.len(), 3);
        let logged = d.recent_scans(10).unwrap();
        let mut times: Vec<DateTime<FixedOffset>> =
            logged.iter().map(|s| t(&s.at)).collect::<Vec<_>>();
        times.reverse();
        assert_eq!(times[0], at);
        assert!(times[0] < times[1] && times[1] < times[2], "{times:?}");
        // Both reads of A1 are in its history.
        let history = d.history(&code("A1"), at).unwrap();
        assert_eq!(history.custody.chain.len(), 2);
    }

    #[test]
    fn a_scan_is_read_back_under_the_host_keyboard_layout() {
        let tmp = tempfile::tempdir().unwrap();
        let d = device(tmp.path());
        let meant = format!("https://id.example.com/01/{}/21/ABC123", gtin());
        let typed: String = meant
            .chars()
            .map(|c| Layout::Azerty.host_char(c).unwrap())
            .collect();
        let at = t("2026-11-02T10:00:00+01:00");
        let as_typed = d
            .scan(&typed, Step::Inspecting, None, HostLayout::default(), at)
            .unwrap();
        assert_eq!(
            as_typed.verdict,
            VerdictKind::Unreadable,
            "{}",
            as_typed.reason
        );
        for (i, layout) in [HostLayout::Fixed(Layout::Azerty), HostLayout::Auto]
            .into_iter()
            .enumerate()
        {
            let at = at + chrono::Duration::seconds(i64::try_from(i).unwrap() + 1);
            let v = d.scan(&typed, Step::Inspecting, None, layout, at).unwrap();
            assert_ne!(
                v.verdict,
                VerdictKind::Unreadable,
                "{layout:?}: {}",
                v.reason
            );
        }
        assert_eq!(d.history(&meant, at).unwrap().custody.chain.len(), 2);
    }

    #[test]
    fn a_counterfeit_photo_is_kept_under_its_hash_and_anything_else_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let d = device(tmp.path());
        let at = t("2026-11-02T10:00:00+01:00");
        let jpeg = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../fixtures/photos/formats/qrcode-4-01.jpg"),
        )
        .unwrap();
        let r = d
            .report_counterfeit(&code("C1"), "hologram missing", Some(&jpeg), at)
            .unwrap();
        let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&jpeg));
        let name = format!("photos/{hash}.jpg");
        let report = &r.history.counterfeit_reports[0];
        assert_eq!(report.photo.as_deref(), Some(name.as_str()));
        assert_eq!(report.photo_sha256.as_deref(), Some(hash.as_str()));
        assert_eq!(std::fs::read(tmp.path().join(&name)).unwrap(), jpeg);

        let err = d
            .report_counterfeit(&code("C2"), "wrong font", Some(b"not a photo"), at)
            .unwrap_err();
        assert!(err.to_string().contains("not a JPEG, PNG or WebP"), "{err}");
        // Nothing was recorded for the refused report.
        let history = d.history(&code("C2"), at);
        assert!(
            history.is_err() || history.unwrap().counterfeit_reports.is_empty(),
            "a refused report left a record"
        );
    }

    #[test]
    fn closing_an_order_ships_it_and_writes_its_outbound_manifest() {
        let tmp = tempfile::tempdir().unwrap();
        let d = device(tmp.path());
        let at = t("2026-11-02T10:00:00+01:00");
        let csv = format!("order,to,gtin,quantity\nSO/7,retail-c,{},2\n", gtin());
        let Import::Orders { orders } = d.import(&csv, at).unwrap() else {
            panic!("an order CSV imported as something else");
        };
        assert_eq!(orders[0].id, "SO/7");
        for s in ["P1", "P2"] {
            let v = d
                .scan(
                    &code(s),
                    Step::Shipping,
                    Some("SO/7"),
                    HostLayout::default(),
                    at,
                )
                .unwrap();
            assert_eq!(v.verdict, VerdictKind::Ok, "{}", v.reason);
        }
        let Closed::Order(shipped) = d.close("SO/7", t("2026-11-02T11:00:00+01:00")).unwrap()
        else {
            panic!("an order closed as a receipt");
        };
        assert_eq!(shipped.order.status, custodian_ledger::OrderStatus::Shipped);
        assert_eq!(
            shipped.manifest_file,
            tmp.path().join("outbound/SO_7.epcis.json")
        );
        let written: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&shipped.manifest_file).unwrap()).unwrap();
        assert_eq!(written, shipped.manifest);
        assert_eq!(
            written["epcisBody"]["eventList"].as_array().unwrap().len(),
            2
        );
        // A receipt's id closes the receipt; an id the device does not hold is not found.
        assert!(matches!(
            d.close("NO-SUCH", at),
            Err(Error::Ledger(custodian_ledger::Error::NotFound(_)))
        ));
    }

    #[test]
    fn the_units_of_a_flag_the_device_does_not_hold_are_not_found() {
        let tmp = tempfile::tempdir().unwrap();
        let d = device(tmp.path());
        assert!(matches!(
            d.flag_units("flag-0000"),
            Err(Error::Ledger(custodian_ledger::Error::NotFound(_)))
        ));
    }

    /// A screen's reads go through the device's reader connection: they see every committed
    /// scan and answer while a scan (or a sync) holds the ledger.
    #[test]
    fn status_answers_while_the_ledger_is_held_and_sees_committed_scans() {
        let tmp = tempfile::tempdir().unwrap();
        let device = Arc::new(device(tmp.path()));
        let now = t("2026-11-02T10:00:00+01:00");
        for i in 0..3 {
            device
                .scan(
                    &code(&format!("S{i}")),
                    Step::Inspecting,
                    None,
                    HostLayout::default(),
                    now,
                )
                .unwrap();
        }

        // Something holds the ledger (a long scan batch, a sync applying a download).
        let held = device.ledger();
        let (tx, rx) = std::sync::mpsc::channel();
        let d = device.clone();
        std::thread::spawn(move || tx.send(d.status().map(|s| (s.events, s.waiting))));
        let answer = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("status waited for the ledger instead of reading on its own connection");
        drop(held);
        assert_eq!(answer.unwrap(), (3, 3));

        // And the reader sees a scan committed after it last read.
        device
            .scan(
                &code("S9"),
                Step::Inspecting,
                None,
                HostLayout::default(),
                now,
            )
            .unwrap();
        assert_eq!(device.status().unwrap().events, 4);
        assert_eq!(device.recent_scans(10).unwrap().len(), 4);
    }
}
