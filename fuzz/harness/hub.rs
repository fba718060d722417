//! The hub's doors: a sync request body as it arrives at `POST /v1/sync` (zstd-compressed
//! JSON), and a `POST /verify/batch` body, each on a registry holding the demo data set.
//!
//! Shared, unchanged, by the fuzz targets and by the hub's replay of the seed corpus and of
//! every input a fuzz run ever broke (`hub/tests/fuzz_inputs.rs`). Each entry point panics only
//! when an invariant breaks: bad input gets a 4xx answer (never a 500 nor, for a request its
//! device signed, a refusal of its signature) and stores nothing.

#![allow(dead_code, reason = "each fuzz target uses one entry point")]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use custodian_hub::verify::{self, BatchCode, BatchReport, MAX_BATCH_CODES, Source, Verifier};
use custodian_hub::{HubError, Registry, demo, exchange};
use custodian_sync::identity::{EnrollmentToken, RequestAuth};
use custodian_sync::protocol::{self, SyncResponse};
use ed25519_dalek::SigningKey;

/// The enrolled device every sync request comes from: a distributor's handheld at the site the
/// demo ASN ships to. Its id is fixed, so uploads recorded by it authorise in every run.
pub const DEVICE: &str = "dev-f0220000000000000000";
pub const DEVICE_ORG: &str = demo::DISTRIBUTOR_A;
pub const DEVICE_SITE: &str = "dc-hamburg";
/// The device's signing key.
pub const DEVICE_KEY: [u8; 32] = [0x5a; 32];

/// The hub's clock in every entry point.
pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
        .expect("a valid time")
        .to_utc()
}

/// A temporary directory, in memory where the system has one: a commit's sync to disk would
/// otherwise cost more than the input it stores. Under `CUSTODIAN_FUZZ_SCRATCH` when set
/// (`scripts/fuzz.sh` sets it and removes it afterwards: a fuzz run's end drops no fixture).
fn scratch_dir() -> tempfile::TempDir {
    let scratch = std::env::var_os("CUSTODIAN_FUZZ_SCRATCH").map(std::path::PathBuf::from);
    let shm = scratch.unwrap_or_else(|| "/dev/shm".into());
    if shm.is_dir()
        && let Ok(dir) = tempfile::Builder::new()
            .prefix("custodian-fuzz")
            .tempdir_in(&shm)
    {
        return dir;
    }
    tempfile::tempdir().expect("a temporary directory")
}

/// A hub with the demo data set, [`DEVICE`] enrolled, and public verification running.
pub struct Hub {
    pub registry: Arc<Registry>,
    verifier: Verifier,
    runtime: tokio::runtime::Runtime,
    key: SigningKey,
    counter: u64,
    _dir: tempfile::TempDir,
}

impl Default for Hub {
    fn default() -> Hub {
        Hub::new()
    }
}

impl Hub {
    pub fn new() -> Hub {
        let dir = scratch_dir();
        let key = SigningKey::from_bytes(&DEVICE_KEY);
        {
            let registry =
                Registry::open_with_key(dir.path(), demo::issuer_key).expect("a registry opens");
            demo::seed(&registry).expect("the demo data set seeds");
            let token = registry
                .create_token(DEVICE_ORG, DEVICE_SITE, "https://127.0.0.1:1", b"ca", 1)
                .expect("a token");
            let token = EnrollmentToken::decode(&token).expect("the hub's own token reads");
            let enrolled = registry
                .enroll(
                    &token.secret,
                    &STANDARD.encode(key.verifying_key().to_bytes()),
                    "fuzz",
                )
                .expect("the device enrolls");
            drop(registry);
            // Enrollment draws a random id; the fixed one lets the seed corpus's uploads name it.
            let conn = custodian_ledger::store::open(&dir.path().join("hub.sqlite"))
                .expect("the registry's file opens");
            conn.execute(
                "UPDATE devices SET id = ?1 WHERE id = ?2",
                [DEVICE, enrolled.id.as_str()],
            )
            .expect("the device is renamed");
            conn.execute(
                "UPDATE tokens SET used_by = ?1 WHERE used_by = ?2",
                [DEVICE, enrolled.id.as_str()],
            )
            .expect("its token follows");
        }
        let registry = Arc::new(
            Registry::open_with_key(dir.path(), demo::issuer_key).expect("the registry reopens"),
        );
        let verifier = Verifier::start(registry.clone(), 1).expect("verification starts");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        Hub {
            registry,
            verifier,
            runtime,
            key,
            counter: 0,
            _dir: dir,
        }
    }

    /// A sync request's body, signed by [`DEVICE`] as its transport signs it (each with the
    /// next counter, its clock reading the hub's), through `exchange::handle_at`: decompress
    /// within the bound, parse, authorise, store and reconcile, answer. The answer must be a
    /// response the device reads; a refusal must store nothing.
    pub fn sync_request(&mut self, data: &[u8]) -> Result<SyncResponse, HubError> {
        self.counter += 1;
        let auth = RequestAuth::sign(
            &self.key,
            DEVICE,
            self.counter,
            now().timestamp_millis(),
            "POST",
            "/v1/sync",
            data,
        );
        let before = self.registry.counts().expect("the registry counts");
        match exchange::handle_at(&self.registry, &auth, data, now()) {
            Ok(body) => Ok(protocol::decode::<SyncResponse>(&body)
                .unwrap_or_else(|e| panic!("the hub's answer does not read: {e}"))),
            Err(e) => {
                assert!(
                    matches!(
                        e,
                        HubError::BadRequest(_)
                            | HubError::Forbidden(_)
                            | HubError::TooLarge(_)
                            | HubError::NotFound(_)
                    ),
                    "bad input must be answered 4xx (and a signed request is no 401), not {e:?}"
                );
                assert_eq!(
                    self.registry.counts().expect("the registry counts"),
                    before,
                    "a refused request changed the registry: {e}"
                );
                Err(e)
            }
        }
    }

    /// A `POST /verify/batch` body: `verify::read_batch` (at the largest batch), then the
    /// verifier, as the server calls them. Every code of a readable batch is answered, in
    /// order, and the summary counts them all.
    pub fn verify_batch(&mut self, data: &[u8]) -> Result<BatchReport, HubError> {
        let codes = verify::read_batch(data, MAX_BATCH_CODES).inspect_err(|e| {
            assert!(
                matches!(e, HubError::BadRequest(_) | HubError::TooLarge(_)),
                "{e:?}"
            );
        })?;
        let sent: Vec<Option<String>> = codes
            .iter()
            .map(|c| match c {
                BatchCode::Text(text) => Some(text.clone()),
                BatchCode::Key { .. } => None,
            })
            .collect();
        let report = self
            .runtime
            .block_on(
                self.verifier
                    .verify_batch(codes, Source::address(IpAddr::V4(Ipv4Addr::LOCALHOST))),
            )
            .unwrap_or_else(|e| panic!("a readable batch must be answered code by code: {e:?}"));
        assert_eq!(report.results.len(), sent.len());
        assert_eq!(report.summary.values().sum::<usize>(), sent.len());
        for (item, sent) in report.results.iter().zip(&sent) {
            assert_eq!(&item.code, sent);
            assert!(
                !item.genuine
                    || matches!(
                        item.status.as_str(),
                        "genuine" | "recalled" | "quarantined" | "expired"
                    ),
                "{item:?}"
            );
            assert_eq!(
                item.status.as_str() == "unreadable",
                item.gtin.is_none(),
                "{item:?}"
            );
        }
        Ok(report)
    }
}
