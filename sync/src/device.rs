//! The device the app and the CLI share: its ledger (a writing and a reading connection), its
//! enrollment and its syncs with the hub. What a person does with it is in [`crate::actions`].
//!
//! Ledger work happens under a short lock that is never held across an `.await`: a sync builds
//! its request under the lock, sends it unlocked, and applies the response under the lock again.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use custodian_ledger::{Ledger, Recorder};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::identity::{self, EnrollRequest, EnrollResponse, EnrollmentToken};
use crate::protocol::{self, MAX_EVENTS_PER_ROUND};
use crate::session::{KV_LAST_SYNC, KV_UPLOAD_CURSOR, Session, SyncReport};
use crate::transport::HubClient;

const KV_IDENTITY: &str = "identity";

/// What a device keeps about its enrollment (in its ledger's key-value table).
#[derive(Clone, Serialize, Deserialize)]
struct Identity {
    device: String,
    hub: String,
    ca: String,
    /// The device's Ed25519 secret key, base64. It never leaves the device.
    key: String,
    counter: u64,
}

/// What `status` reports.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Status {
    pub enrolled: bool,
    pub device: Option<String>,
    pub org: Option<String>,
    pub site: Option<String>,
    pub hub: Option<String>,
    pub last_sync: Option<String>,
    /// Events recorded here that the hub has not acknowledged yet.
    pub waiting: usize,
    pub events: i64,
}

/// A device: its ledger, and (once enrolled) its hub.
pub struct Device {
    ledger: Mutex<Ledger>,
    /// A second connection to the same ledger for reads a screen makes on its own (status,
    /// manifest progress, flags, biographies): in WAL mode they read a committed snapshot
    /// without waiting behind scans, and scans never wait behind them.
    reader: Mutex<Ledger>,
    /// Added to the real clock in what the device tells the hub (to exercise skew handling).
    clock_skew_ms: i64,
    /// One sync at a time: two interleaved syncs could save cursors and document sync states
    /// out of order.
    syncing: tokio::sync::Mutex<()>,
    /// The most events one round carries each way ([`Device::with_round_events`]).
    round_events: usize,
    /// Draws the retry jitter: from the OS by default, from a seed to replay a run
    /// ([`Device::with_jitter_seed`]).
    jitter: Mutex<rand::rngs::StdRng>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device").finish_non_exhaustive()
    }
}

impl Device {
    pub fn open(dir: &Path) -> Result<Device, Error> {
        Ok(Device {
            ledger: Mutex::new(Ledger::open(dir)?),
            reader: Mutex::new(Ledger::open(dir)?),
            clock_skew_ms: 0,
            syncing: tokio::sync::Mutex::new(()),
            round_events: MAX_EVENTS_PER_ROUND,
            jitter: Mutex::new(rand::SeedableRng::from_entropy()),
        })
    }

    /// Draws the retry jitter from `seed`: the same faults then bring the same delays, so a
    /// failing run replays.
    pub fn with_jitter_seed(self, seed: u64) -> Device {
        *self
            .jitter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            rand::SeedableRng::seed_from_u64(seed);
        self
    }

    /// The delay before retry `attempt` (0-based): [`backoff`] drawn from this device's jitter.
    pub fn backoff(&self, attempt: u32) -> std::time::Duration {
        backoff(
            attempt,
            &mut *self
                .jitter
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Moves at most `events` events each way per round (1 to [`MAX_EVENTS_PER_ROUND`], the
    /// default): smaller rounds suit a link that drops long transfers, at the cost of more
    /// round trips.
    pub fn with_round_events(mut self, events: usize) -> Device {
        self.round_events = events.clamp(1, MAX_EVENTS_PER_ROUND);
        self
    }

    /// Makes this device's clock run `ms` milliseconds off real time in what it tells the hub,
    /// as a device with a wrong clock does. For tests and demonstrations of skew correction.
    pub fn with_clock_skew(mut self, ms: i64) -> Device {
        self.clock_skew_ms = ms;
        self
    }

    /// The ledger's writing connection. Do not hold it across an await.
    pub(crate) fn ledger(&self) -> MutexGuard<'_, Ledger> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back), so
        // the ledger is still usable: recover the guard.
        self.ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The ledger for reading only, on its own connection: what a screen refreshes (status,
    /// manifests, flags, biographies) sees everything committed so far and does not hold up a
    /// scan. Never write through it: writes belong to [`Device::ledger`].
    pub(crate) fn reader(&self) -> MutexGuard<'_, Ledger> {
        self.reader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn identity(&self) -> Result<Option<Identity>, Error> {
        Ok(self
            .ledger()
            .kv_get(KV_IDENTITY)?
            .map(|j| serde_json::from_str(&j))
            .transpose()
            .map_err(custodian_ledger::Error::from)?)
    }

    pub fn status(&self) -> Result<Status, Error> {
        let ledger = self.reader();
        let id: Option<Identity> = ledger
            .kv_get(KV_IDENTITY)?
            .map(|j| serde_json::from_str(&j))
            .transpose()
            .map_err(custodian_ledger::Error::from)?;
        let recorder = ledger.recorder().ok();
        let cursor: i64 = ledger
            .kv_get(KV_UPLOAD_CURSOR)?
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let waiting = ledger.local_events_after_count(cursor)?;
        Ok(Status {
            enrolled: id.is_some(),
            device: id.as_ref().map(|i| i.device.clone()),
            org: recorder.as_ref().map(|r| r.org.clone()),
            site: recorder.as_ref().map(|r| r.site.clone()),
            hub: id.as_ref().map(|i| i.hub.clone()),
            last_sync: ledger.kv_get(KV_LAST_SYNC)?,
            waiting,
            events: ledger.event_count()?,
        })
    }

    /// Enrolls this device with the hub named in `token`, then runs a first sync.
    pub async fn enroll(&self, token: &str, name: &str) -> Result<Status, Error> {
        if self.identity()?.is_some() {
            return Err(Error::AlreadyEnrolled);
        }
        let token = EnrollmentToken::decode(token)?;
        token.check_expiry(chrono::Utc::now())?;
        let ca = token.ca_der()?;
        let client = HubClient::pinned(&token.hub, &ca)?;
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let request = EnrollRequest {
            secret: token.secret.clone(),
            public_key: STANDARD.encode(key.verifying_key().to_bytes()),
            name: name.to_string(),
        };
        let body = serde_json::to_vec(&request).map_err(custodian_ledger::Error::from)?;
        let answer = client
            .post(
                "/v1/enroll",
                body,
                &[("content-type", "application/json".into())],
            )
            .await?;
        let answer: EnrollResponse = serde_json::from_slice(&answer).map_err(|e| {
            Error::Protocol(protocol::Error::Malformed(format!(
                "enrollment answer: {e}"
            )))
        })?;
        let identity = Identity {
            device: answer.device.clone(),
            hub: token.hub,
            ca: token.ca,
            key: STANDARD.encode(key.to_bytes()),
            counter: 0,
        };
        {
            let ledger = self.ledger();
            ledger.set_recorder(&Recorder {
                org: answer.org,
                site: answer.site,
                device: answer.device,
            })?;
            ledger.kv_set(
                KV_IDENTITY,
                &serde_json::to_string(&identity).map_err(custodian_ledger::Error::from)?,
            )?;
        }
        self.sync().await?;
        self.status()
    }

    /// Syncs, retrying transient failures (unreachable hub, cut connection, hub-side error) up to
    /// `retries` times with exponential backoff and full jitter. A refusal (4xx) is not retried:
    /// it would be refused again. Every attempt resumes from the persisted cursors and states.
    pub async fn sync_with_retry(&self, retries: u32) -> Result<SyncReport, Error> {
        let mut attempt = 0;
        loop {
            match self.sync().await {
                Ok(mut report) => {
                    report.retries = attempt;
                    return Ok(report);
                }
                Err(e) if attempt < retries && e.is_transient() => {
                    let delay = self.backoff(attempt);
                    attempt += 1;
                    tokio::time::sleep(delay).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Exchanges events and working documents with the hub until both sides have everything.
    /// The rounds are a [`Session`]'s; this drives it over HTTPS, signing each request.
    pub async fn sync(&self) -> Result<SyncReport, Error> {
        let _one_at_a_time = self.syncing.lock().await;
        let identity = self.identity()?.ok_or(Error::NotEnrolled)?;
        let ca = STANDARD
            .decode(&identity.ca)
            .map_err(|_| Error::Trust("pinned hub certificate is damaged".into()))?;
        let client = HubClient::pinned(&identity.hub, &ca)?;
        let key_bytes = STANDARD
            .decode(&identity.key)
            .ok()
            .and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok());
        let key = SigningKey::from_bytes(
            &key_bytes.ok_or_else(|| Error::Trust("device key is damaged: enroll again".into()))?,
        );
        let mut session = Session::begin(&self.reader(), self.round_events)?;
        let mut round_seconds = Vec::new();
        // Gathering an upload reads only (a batch of events can take milliseconds on a large
        // ledger): on the reader, so scans meanwhile do not wait for it.
        loop {
            let next = session.next_request(&self.reader())?;
            let Some(body) = next else { break };
            let counter = next_counter(&self.ledger())?;
            let clock_ms = (chrono::Utc::now()
                + chrono::Duration::milliseconds(self.clock_skew_ms))
            .timestamp_millis();
            let auth = identity::RequestAuth::sign(
                &key,
                &identity.device,
                counter,
                clock_ms,
                "POST",
                "/v1/sync",
                &body,
            );
            let mut headers = vec![("content-type", "application/octet-stream".to_string())];
            headers.extend(auth.headers());
            let sent = std::time::Instant::now();
            match client.post("/v1/sync", body, &headers).await {
                Err(Error::Refused { status: 413, .. }) if session.can_shrink() => {
                    session.shrink();
                }
                answer => {
                    let mut ledger = self.ledger();
                    session.answered(&mut ledger, &answer?, chrono::Utc::now())?;
                    ledger.kv_set(crate::session::KV_ANSWERED, &counter.to_string())?;
                }
            }
            round_seconds.push(sent.elapsed().as_secs_f64());
        }
        let mut report = session.finish(&self.ledger(), chrono::Utc::now())?;
        report.round_seconds = round_seconds;
        Ok(report)
    }
}

/// Exponential backoff with full jitter: uniform in [0, min(10 s, 100 ms · 2^attempt)].
pub fn backoff(attempt: u32, rng: &mut impl rand::Rng) -> std::time::Duration {
    let cap_ms = 100u64.saturating_mul(1 << attempt.min(16)).min(10_000);
    std::time::Duration::from_millis(rng.gen_range(0..=cap_ms))
}

fn next_counter(ledger: &Ledger) -> Result<u64, Error> {
    let json = ledger.kv_get(KV_IDENTITY)?.ok_or(Error::NotEnrolled)?;
    let mut id: Identity = serde_json::from_str(&json).map_err(custodian_ledger::Error::from)?;
    id.counter += 1;
    ledger.kv_set(
        KV_IDENTITY,
        &serde_json::to_string(&id).map_err(custodian_ledger::Error::from)?,
    )?;
    Ok(id.counter)
}
